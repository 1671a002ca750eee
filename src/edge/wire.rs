//! Headers across the boundary between Rust and `runtime.js`, in one string each way, structured so
//! that no name or value can ever be read as more than one header (a line-based form let a value
//! holding a line break become a header of its own).
//!
//! - To JavaScript: the names and values laid end to end in one string, plus where each ends, in
//!   UTF-16 units (what JavaScript's `slice` counts), as one `Uint32Array`. There is no separator to
//!   forge. Headers the core must not send are left out, and the first is reported.
//! - From JavaScript: each name and value preceded by its length in UTF-16 units and a colon
//!   (`4:host9:127.0.0.1`), read back by length, never by searching for a separator. Pairs that are not
//!   valid headers (a runtime's `Headers` never holds one) are dropped.
//!
//! Plain Rust, tested natively; the JavaScript halves are `headersFrom` and `headerText` (and
//! `requestHead`, which writes a request's method and URL before its headers).

use crate::http::{check_header, is_token, value_scan, Headers, InvalidHeader};

/// Headers on their way to JavaScript.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ToJs {
    /// Every name and value, end to end.
    pub text: String,
    /// Where each name, then its value, ends in `text`, in UTF-16 units.
    pub ends: Vec<u32>,
}

/// Headers for JavaScript; invalid ones are left out and the first is returned beside them.
pub fn to_js(headers: &Headers) -> (ToJs, Option<InvalidHeader>) {
    let bytes = headers.iter().map(|(name, value)| name.len() + value.len()).sum();
    let mut wire = ToJs { text: String::with_capacity(bytes), ends: Vec::with_capacity(2 * headers.len()) };
    let mut first_invalid = None;
    let mut units = 0u32;
    for (name, value) in headers.iter() {
        // One pass over each value: its validity and whether it is ASCII (then bytes are units).
        let (valid, ascii) = value_scan(value);
        if !is_token(name) || !valid {
            first_invalid.get_or_insert_with(|| check_header(name, value).expect_err("invalid"));
            continue;
        }
        wire.text.push_str(name);
        units += name.len() as u32; // a token is ASCII
        wire.ends.push(units);
        wire.text.push_str(value);
        units += if ascii { value.len() } else { value.chars().map(char::len_utf16).sum() } as u32;
        wire.ends.push(units);
    }
    (wire, first_invalid)
}

fn utf16_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().map(char::len_utf16).sum()
    }
}

/// Headers from JavaScript's length-prefixed form. Reading stops at the first malformed field (which
/// `headerText` never writes); what came before it is kept.
pub fn from_js(text: &str) -> Headers {
    let ascii = text.is_ascii();
    let mut rest = text;
    let mut headers = Headers::new();
    while !rest.is_empty() {
        let Some(name) = take_field(&mut rest, ascii) else { break };
        let Some(value) = take_field(&mut rest, ascii) else { break };
        if is_token(name) && value_scan(value).0 {
            headers.append(name, value);
        }
    }
    headers
}

/// Reads `<length>:<field>` from the front of `rest`, the length in UTF-16 units.
fn take_field<'a>(rest: &mut &'a str, ascii: bool) -> Option<&'a str> {
    let bytes = rest.as_bytes();
    let (mut units, mut digits) = (0usize, 0usize);
    loop {
        match bytes.get(digits)? {
            digit @ b'0'..=b'9' if digits < 9 => units = units * 10 + usize::from(digit - b'0'),
            b':' if digits > 0 => break,
            _ => return None,
        }
        digits += 1;
    }
    let after = &rest[digits + 1..];
    let length = if ascii { units } else { byte_len_of_units(after, units)? };
    let field = after.get(..length)?;
    *rest = &after[length..];
    Some(field)
}

/// A request's head as `requestHead` writes it, "<method> <url> <headers>": the method, the URL and
/// the headers' text (for [`from_js`]). None when either space is missing.
pub fn split_head(head: &str) -> Option<(&str, &str, &str)> {
    let (method, rest) = head.split_once(' ')?;
    let (url, headers) = rest.split_once(' ')?;
    Some((method, url, headers))
}

/// The byte length of the first `units` UTF-16 units of `text`.
fn byte_len_of_units(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (index, c) in text.char_indices() {
        if counted == units {
            return Some(index);
        }
        counted += c.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

/// `to_js`'s output as JavaScript's `headersFrom` reads it: the (name, value) pairs.
pub fn pairs_of(wire: &ToJs) -> Vec<(String, String)> {
    let units: Vec<u16> = wire.text.encode_utf16().collect();
    let mut pairs = Vec::new();
    let mut start = 0usize;
    for pair in wire.ends.chunks_exact(2) {
        let (middle, end) = (pair[0] as usize, pair[1] as usize);
        pairs.push((String::from_utf16_lossy(&units[start..middle]), String::from_utf16_lossy(&units[middle..end])));
        start = end;
    }
    pairs
}

/// What JavaScript's `headerText` writes for `pairs` (names and values given as JavaScript strings).
pub fn header_text_of(pairs: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        for part in [name, value] {
            text.push_str(&utf16_len(part).to_string());
            text.push(':');
            text.push_str(part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().copied().collect()
    }

    #[test]
    fn headers_reach_javascript_as_they_are_with_nothing_to_split_on() {
        let sent = headers(&[
            ("x-a", "1"),
            ("x-colons", "a:b:c"),
            ("x-latin", "café"),
            ("x-wide", "€ and 😀"),
            ("x-empty", ""),
        ]);
        let (wire, invalid) = to_js(&sent);
        assert_eq!(invalid, None);
        let expected: Vec<(String, String)> = sent.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(pairs_of(&wire), expected);
    }

    #[test]
    fn headers_that_may_not_be_sent_are_left_out_and_reported() {
        let sent = headers(&[
            ("x-note", "hi\r\nAuthorization: Bearer evil"),
            ("x-ok", "1"),
            ("x\r\nauthorization", "evil"),
            ("x-nul", "a\0b"),
        ]);
        let (wire, invalid) = to_js(&sent);
        assert_eq!(invalid, Some(InvalidHeader::Value("x-note".into())));
        assert_eq!(pairs_of(&wire), vec![("x-ok".to_string(), "1".to_string())]);
        assert!(!wire.text.contains('\n') && !wire.text.contains('\r'));
    }

    #[test]
    fn headers_from_javascript_are_read_by_length() {
        let pairs = [
            ("host", "127.0.0.1:8080"),
            ("x-list", "a:1, b:2"),
            ("x-latin", "café"),
            ("x-wide", "€😀"),
            ("x-empty", ""),
        ];
        let read = from_js(&header_text_of(&pairs));
        assert_eq!(read.iter().collect::<Vec<_>>(), pairs.to_vec());
    }

    #[test]
    fn a_request_head_splits_at_its_first_two_spaces() {
        let head = format!("GET https://gw.example/a?b=1 {}", header_text_of(&[("x-a", "1 2 3")]));
        let (method, url, headers) = split_head(&head).unwrap();
        assert_eq!((method, url), ("GET", "https://gw.example/a?b=1"));
        assert_eq!(from_js(headers).get("x-a"), Some("1 2 3"));
        assert_eq!(split_head("GET https://gw.example/ "), Some(("GET", "https://gw.example/", "")));
        assert_eq!(split_head("GET https://gw.example/"), None);
    }

    #[test]
    fn malformed_or_invalid_pairs_from_javascript_are_dropped() {
        // A pair that is not a valid header is skipped; framing errors end the reading.
        let text = header_text_of(&[("x-a", "1"), ("x b", "2"), ("x-c", "a\nb"), ("x-d", "4")]);
        assert_eq!(from_js(&text).iter().collect::<Vec<_>>(), vec![("x-a", "1"), ("x-d", "4")]);
        for broken in ["3:x-a", "3:x-a9:1", "x:x-a1:1", ":", "99999999999:x", "3:x-a1:1junk", "2:€", "1:😀1:a"] {
            let read = from_js(broken);
            assert!(read.iter().all(|(n, v)| n == "x-a" && v == "1"), "{broken:?}: {read:?}");
        }
        assert_eq!(from_js(""), Headers::new());
    }
}
