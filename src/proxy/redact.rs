//! Removal of secrets from JSON answers (a Pi's `wpa_passphrase`, DDNS `password`, ...), at any depth.

use serde_json::Value;

/// Removes every key in `keys` (case-insensitive), wherever it appears (CONTRACT: "JSON keys
/// removed from its responses").
pub fn redact(value: &mut Value, keys: &[String]) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !keys.iter().any(|k| k.eq_ignore_ascii_case(key)));
            map.values_mut().for_each(|item| redact(item, keys));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, keys)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let mut value = json!({"ssid": "pi", "wpa_passphrase": "hunter22",
            "nested": [{"Password": "x", "ok": 1}], "ddns": {"password": {"deep": "y"}}});
        redact(&mut value, &["wpa_passphrase".into(), "password".into()]);
        assert_eq!(value, json!({"ssid": "pi", "nested": [{"ok": 1}], "ddns": {}}));
    }
}
