//! Header lists as the core handles them: ordered, repeatable, looked up case-insensitively; and
//! what may be sent: names that are RFC 9110 tokens, values without CR, LF or NUL.

/// An ordered header list with case-insensitive lookup (names are stored lower-case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (a header sent twice yields two values).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body length `Content-Length` declares, when it is one: digits only (RFC 9110's
    /// `1*DIGIT`, with the spaces or tabs HTTP allows around a value), as runtime.js reads it; Rust's
    /// own parse would also take "+5".
    pub fn content_length(&self) -> Option<u64> {
        let value = self.get("content-length")?.trim_matches([' ', '\t']);
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.parse().ok()
    }

    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.append(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.append(name.as_ref(), value);
        }
        headers
    }
}

impl Headers {
    /// The first header that may not be sent (see [`check_header`]), if any.
    pub fn validate(&self) -> Result<(), InvalidHeader> {
        self.iter().try_for_each(|(name, value)| check_header(name, value))
    }
}

/// Why a header cannot be sent. Only the header's name is kept, never its value (a value may be a
/// credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidHeader {
    /// The name is not an RFC 9110 token (empty, or with a separator, space, control character or
    /// non-ASCII character).
    Name(String),
    /// The value of this header contains CR, LF or NUL: sent as is, the rest of the value would
    /// become a header of its own.
    Value(String),
}

impl InvalidHeader {
    /// The header's name as given (possibly the offending one).
    pub fn name(&self) -> &str {
        match self {
            InvalidHeader::Name(name) | InvalidHeader::Value(name) => name,
        }
    }
}

/// Longest name quoted in an error message.
const QUOTED_NAME_CHARS: usize = 64;

impl std::fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Escaped, so a name with a line break cannot break a log line or an error body either.
        let mut quoted: String = self.name().chars().take(QUOTED_NAME_CHARS).flat_map(char::escape_debug).collect();
        if self.name().chars().count() > QUOTED_NAME_CHARS {
            quoted.push('…');
        }
        match self {
            InvalidHeader::Name(_) => write!(f, "the header name '{quoted}' is not a valid HTTP token"),
            InvalidHeader::Value(_) => write!(f, "the value of header '{quoted}' contains CR, LF or NUL"),
        }
    }
}

/// True for an RFC 9110 token (`1*tchar`), the only valid header name.
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| TCHAR[byte as usize])
}

/// `tchar`: `!#$%&'*+-.^_`|~`, digits and letters, as a table (headers are checked on every request).
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        byte += 1;
    }
    table
};

/// True when a header value may be sent: it has no CR, LF or NUL (RFC 9110 section 5.5 calls such
/// values invalid and dangerous; a runtime that joins header lines would read the rest as a header).
pub fn is_valid_value(value: &str) -> bool {
    value_scan(value).0
}

/// (valid, ASCII only) of a value, in one pass without branches per byte.
pub fn value_scan(value: &str) -> (bool, bool) {
    let (mut bad, mut high) = (false, 0u8);
    for &byte in value.as_bytes() {
        bad |= (byte == b'\r') | (byte == b'\n') | (byte == 0);
        high |= byte;
    }
    (!bad, high < 0x80)
}

/// Checks one header before it is sent or handed to the runtime.
pub fn check_header(name: &str, value: &str) -> Result<(), InvalidHeader> {
    if !is_token(name) {
        return Err(InvalidHeader::Name(name.to_string()));
    }
    if !is_valid_value(value) {
        return Err(InvalidHeader::Value(name.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_length_is_digits_only() {
        let declaring = |value: &str| {
            let mut headers = Headers::new();
            headers.set("content-length", value);
            headers.content_length()
        };
        assert_eq!(declaring("128"), Some(128));
        assert_eq!(declaring(" 7\t"), Some(7), "spaces and tabs around a value are not part of it");
        for invalid in ["+5", "-1", "", "1e3", "0x10", "5 5", "5\u{a0}", "99999999999999999999999"] {
            assert_eq!(declaring(invalid), None, "{invalid:?}");
        }
        assert_eq!(Headers::new().content_length(), None);
    }

    #[test]
    fn names_must_be_tokens() {
        for name in ["content-type", "X-Api-Key", "access_token", "a!#$%&'*+-.^_`|~9"] {
            assert!(is_token(name), "{name}");
        }
        for name in ["", "x y", "x:y", "x\r\ny", "x\ny", "x\0", "(x)", "x/y", "ключ", "x\t", "\"x\"", "x@y", "x=y"]
        {
            assert!(!is_token(name), "{name:?}");
        }
    }

    #[test]
    fn values_may_not_hold_line_breaks_or_nul() {
        for value in ["", "Bearer abc.def", "a, b; q=0.5", "tab\there", " padded ", "café €", "\u{1}"] {
            assert!(is_valid_value(value), "{value:?}");
        }
        for value in ["a\r\nAuthorization: x", "a\nb", "a\rb", "a\0b", "trailing\n", "\r\nX: y"] {
            assert!(!is_valid_value(value), "{value:?}");
        }
    }

    #[test]
    fn errors_name_the_header_never_the_value() {
        let headers: Headers = [("x-ok", "1"), ("x-note", "hi\r\nAuthorization: Bearer secret")].into_iter().collect();
        let error = headers.validate().unwrap_err();
        assert_eq!(error, InvalidHeader::Value("x-note".into()));
        let message = error.to_string();
        assert!(message.contains("'x-note'") && !message.contains("secret"), "{message}");
        // A bad name is quoted escaped: the message stays on one line.
        let message = InvalidHeader::Name("x\r\nAuthorization".into()).to_string();
        assert_eq!(message, "the header name 'x\\r\\nAuthorization' is not a valid HTTP token");
        assert!(!message.contains('\n'));
        let long = InvalidHeader::Name("x".repeat(500)).to_string();
        assert!(long.len() < 200, "{long}");
    }
}
