//! JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators, non-ASCII escaped),
//! which is what MaxBot sends as a request body; with sorted keys it is also the canonical text of
//! rest_call cache keys, so dict order never matters.

use serde_json::Value;

pub fn dumps(value: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    write(value, sort_keys, &mut out);
    out
}

/// Appends `value` as [`dumps`] writes it.
pub fn write(value: &Value, sort_keys: bool, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, sort_keys, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            write_entries(entries, out, |item, out| write(item, sort_keys, out));
        }
    }
}

/// Appends a string map as `dumps(..., sort_keys=True)` writes it (a `BTreeMap` is already sorted).
pub fn write_string_map(map: &std::collections::BTreeMap<String, String>, out: &mut String) {
    write_entries(map, out, |value, out| write_string(value, out));
}

/// `{"key": value, ...}` in the given order, each value written by `write_value`.
fn write_entries<'a, V>(
    entries: impl IntoIterator<Item = (&'a String, V)>,
    out: &mut String,
    write_value: impl Fn(V, &mut String),
) {
    out.push('{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(key, out);
        out.push_str(": ");
        write_value(value, out);
    }
    out.push('}');
}

/// Appends a JSON string literal, non-ASCII escaped as Python does.
pub fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        assert_eq!(dumps(&json!({"k": "v"}), false), r#"{"k": "v"}"#);
        assert_eq!(dumps(&json!([1, "é", null, true]), false), r#"[1, "\u00e9", null, true]"#);
        assert_eq!(
            dumps(&json!({"b": 1, "a": {"d": 2, "c": "😀"}}), true),
            r#"{"a": {"c": "\ud83d\ude00", "d": 2}, "b": 1}"#
        );
    }
}
