//! Removal of secrets from answers (a Pi's `wpa_passphrase`, DDNS `password`, ...): JSON keys at
//! any depth, for the proxy's answers and `rest_call` results alike. Redaction fails closed: an
//! answer is passed on unchanged only when it provably holds none of the keys, else it is parsed
//! and the keys removed, and an answer that can be neither is not passed on at all.

use serde_json::Value;

/// What became of an answer's body.
#[derive(Debug, PartialEq)]
pub enum Redacted {
    /// It holds none of the keys: pass the bytes on as they are.
    Unchanged,
    /// The keys were removed: the JSON text to pass on instead.
    Rewritten(Vec<u8>),
    /// It may hold a key but is not JSON, so nothing can be located to remove.
    Unreadable,
}

/// Redacts `body`, as its origin sent it with `content_encoding` (when the runtime could not
/// decode an encoding, the bytes are not the text, so no absence of a key can be read from them).
pub fn redact_body(body: &[u8], content_encoding: Option<&str>, keys: &[String]) -> Redacted {
    let plain = content_encoding.is_none_or(|coding| coding.trim().eq_ignore_ascii_case("identity"));
    if plain && std::str::from_utf8(body).is_ok() && cannot_contain(body, keys) {
        return Redacted::Unchanged;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact(&mut value, keys);
            Redacted::Rewritten(value.to_string().into_bytes())
        }
        Err(_) => Redacted::Unreadable,
    }
}

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
    fn bodies_fail_closed() {
        let keys = ["wpa_passphrase".to_string()];
        let plain = br#"{"ssid": "pi"}"#;
        assert_eq!(redact_body(plain, None, &keys), Redacted::Unchanged);
        // The same text under an encoding the runtime did not decode is parsed, not trusted.
        assert_eq!(redact_body(plain, Some("gzip"), &keys), Redacted::Rewritten(br#"{"ssid":"pi"}"#.to_vec()));
        assert_eq!(
            redact_body(br#"{"ssid": "pi", "WPA_passphrase": "x"}"#, None, &keys),
            Redacted::Rewritten(br#"{"ssid":"pi"}"#.to_vec())
        );
        // Text that may hold a key but is not JSON, and bytes that are not text, are not passed on.
        assert_eq!(redact_body(b"wpa_passphrase=hunter22", None, &keys), Redacted::Unreadable);
        assert_eq!(redact_body(&[0x1f, 0x8b, 0x08, 0x00, 0xff], Some("x-custom"), &keys), Redacted::Unreadable);
        assert_eq!(redact_body(&[0x1f, 0x8b, 0x08, 0x00, 0xff], None, &keys), Redacted::Unreadable);
        // A page without the keys passes.
        assert_eq!(redact_body(b"<h1>ok</h1>", None, &keys), Redacted::Unchanged);
    }

    #[test]
    fn secrets_are_hidden_at_any_depth() {
        let mut value = json!({"ssid": "pi", "wpa_passphrase": "hunter22",
            "nested": [{"Password": "x", "ok": 1}], "ddns": {"password": {"deep": "y"}}});
        redact(&mut value, &["wpa_passphrase".into(), "password".into()]);
        assert_eq!(value, json!({"ssid": "pi", "nested": [{"ok": 1}], "ddns": {}}));
    }
}
