//! Removal of secrets from JSON answers (a Pi's `wpa_passphrase`, DDNS `password`, ...), at any depth.

use serde_json::Value;

/// True when `json` text cannot hold any of `keys`: none appears in it (ignoring ASCII case) and it
/// has no `\u` escape that could spell one. Most telemetry answers hold no secret, and this check
/// spares them a parse and a re-serialisation.
pub fn cannot_contain(json: &[u8], keys: &[String]) -> bool {
    if json.windows(2).any(|w| w == b"\\u") {
        return false;
    }
    let lower = json.to_ascii_lowercase();
    keys.iter().all(|key| {
        let key = key.to_ascii_lowercase();
        key.is_empty() || !lower.windows(key.len()).any(|w| w == key.as_bytes())
    })
}

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
    fn the_fast_path_only_skips_answers_without_the_keys() {
        let keys = ["wpa_passphrase".to_string(), "password".to_string()];
        assert!(cannot_contain(br#"{"hostname": "pi", "uptime": 3}"#, &keys));
        assert!(!cannot_contain(br#"{"PassWord": "x"}"#, &keys));
        assert!(!cannot_contain(br#"{"p\u0061ssword": "x"}"#, &keys));
    }

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let mut value = json!({"ssid": "pi", "wpa_passphrase": "hunter22",
            "nested": [{"Password": "x", "ok": 1}], "ddns": {"password": {"deep": "y"}}});
        redact(&mut value, &["wpa_passphrase".into(), "password".into()]);
        assert_eq!(value, json!({"ssid": "pi", "nested": [{"ok": 1}], "ddns": {}}));
    }
}
