//! JSON text as Python's `json.dumps` writes it, as a serde_json formatter: `", "` and `": "`
//! separators, and everything outside printable ASCII escaped as `\uXXXX` (`ensure_ascii`, with
//! surrogate pairs beyond the BMP). MaxBot sends request bodies this way; with sorted keys it is
//! also the canonical text of rest_call cache keys, so dict order never changes a key.

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};
use serde_json::Value;

/// serde_json's compact output with Python's separators and escapes.
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonFormatter;

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    /// serde_json escapes `"`, `\` and the controls below 0x20 itself, and exactly as Python does
    /// (`\n`, `\u001f`); what it passes here unescaped, Python escapes from DEL up.
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut plain = 0;
        for (at, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[plain..at])?;
            for unit in c.encode_utf16(&mut [0; 2]) {
                let digit = |shift: u16| HEX[usize::from(*unit >> shift & 0xf)];
                writer.write_all(&[b'\\', b'u', digit(12), digit(8), digit(4), digit(0)])?;
            }
            plain = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[plain..])
    }
}

/// A JSON value to serialize with its objects' keys sorted (`sort_keys=True`) or in their own
/// order. Sorted here rather than trusting the map: with serde_json's `preserve_order` (which any
/// crate in the build may turn on) a map keeps its insertion order.
#[derive(Clone, Copy)]
pub struct Json<'a> {
    pub value: &'a Value,
    pub sort_keys: bool,
}

impl Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nested = |value| Json { value, sort_keys: self.sort_keys };
        match self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(text) => serializer.serialize_str(text),
            Value::Array(items) => serializer.collect_seq(items.iter().map(nested)),
            Value::Object(map) => {
                let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
                if self.sort_keys {
                    // Python compares str by code point, which is UTF-8's byte order.
                    keys.sort_unstable();
                }
                serializer.collect_map(keys.into_iter().filter_map(|key| Some((key, nested(map.get(key)?)))))
            }
        }
    }
}

/// `json.dumps(value)`, or with `sort_keys=True`.
pub fn dumps_value(value: &Value, sort_keys: bool) -> String {
    dumps(&Json { value, sort_keys })
}

/// `json.dumps` of anything serializable.
pub fn dumps<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(128);
    // Writing to a Vec cannot fail, and nothing serialized here has a non-string key.
    let _ = value.serialize(&mut Serializer::with_formatter(&mut out, PythonFormatter));
    // Only ASCII is ever written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_json_dumps() {
        assert_eq!(dumps_value(&json!({"k": "v"}), false), r#"{"k": "v"}"#);
        assert_eq!(dumps_value(&json!([1, "é", null, true, [], {}]), false), r#"[1, "\u00e9", null, true, [], {}]"#);
        assert_eq!(
            dumps_value(&json!({"b": 1, "a": {"d": 2, "c": "😀"}}), true),
            r#"{"a": {"c": "\ud83d\ude00", "d": 2}, "b": 1}"#
        );
    }

    /// Each expectation is what Python 3 prints for `json.dumps` of the same value.
    #[test]
    fn strings_are_escaped_as_ensure_ascii_does() {
        let cases = [
            // Controls: the short escapes, the rest as \u00XX; DEL and C1 controls too.
            ("\"\\/\n\r\t\u{8}\u{c}", r#""\"\\/\n\r\t\b\f""#),
            ("\u{0}\u{1}\u{1f}\u{7f}\u{80}\u{9f}", r#""\u0000\u0001\u001f\u007f\u0080\u009f""#),
            // Non-ASCII in the BMP, the line separators and a BOM.
            ("é ß ü \u{a0}€", r#""\u00e9 \u00df \u00fc \u00a0\u20ac""#),
            ("\u{2028}\u{2029}\u{feff}", r#""\u2028\u2029\ufeff""#),
            // Beyond the BMP: surrogate pairs.
            ("😀𝄞", r#""\ud83d\ude00\ud834\udd1e""#),
            ("a😀b", r#""a\ud83d\ude00b""#),
            // Printable ASCII as it is.
            (" ~azAZ09<>&'", r#"" ~azAZ09<>&'""#),
        ];
        for (text, expected) in cases {
            assert_eq!(dumps_value(&json!(text), false), expected, "{text:?}");
            assert_eq!(dumps_value(&json!({ text: text }), true), format!("{{{expected}: {expected}}}"));
        }
    }

    /// As the writer before this one wrote them, so cache keys stay the same; Python would write
    /// `1.5e-07`, but a float in a body is rare and a changed key loses the cached entry.
    #[test]
    fn numbers_are_written_as_before() {
        let numbers = json!([1e300, -0.0, 0.1, 1.0, 1e20, 12345678901234567890u64, i64::MIN, 1.5e-7, 3e20, 1e16]);
        assert_eq!(
            dumps_value(&numbers, false),
            "[1e+300, -0.0, 0.1, 1.0, 1e+20, 12345678901234567890, -9223372036854775808, 1.5e-7, 3e+20, 1e+16]"
        );
    }

    #[test]
    fn sorted_keys_sort_nested_objects_by_code_point() {
        let value = json!({"é": 1, "😀": 2, "\u{7f}": 3, "": [], "B": {}, "a": [[{"y": 1, "x": 2}]]});
        let expected = r#"{"": [], "B": {}, "a": [[{"x": 2, "y": 1}]], "\u007f": 3, "\u00e9": 1, "\ud83d\ude00": 2}"#;
        assert_eq!(dumps_value(&value, true), expected);
    }
}
