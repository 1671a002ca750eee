//! A request's URL as the runtime wrote it: absolute and already normalized (the WHATWG
//! serialization), so its parts are found by position. Parsing it again with the `url` crate was
//! about a tenth of the gateway's own work on `/health` (measured in workerd's profiler).

use std::borrow::Cow;

/// An absolute request URL; its parts are slices of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl(String);

impl RequestUrl {
    /// `url` when it is absolute (`<scheme>://...`), as every request URL from the runtime is.
    pub fn new(url: &str) -> Option<Self> {
        let (scheme, _) = url.split_once("://")?;
        let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let clean = !url.contains(|c: char| c.is_whitespace() || c.is_control());
        (valid_scheme && clean).then(|| RequestUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn scheme(&self) -> &str {
        self.0.split_once("://").map_or("", |(scheme, _)| scheme)
    }

    /// The path, percent-encoded as received ("/" when there is none).
    pub fn path(&self) -> &str {
        path_of(&self.0)
    }

    /// The query without its `?`: None without one, `Some("")` for a bare `?`.
    pub fn query(&self) -> Option<&str> {
        query_of(&self.0)
    }

    /// The query's name and value pairs, decoded.
    pub fn query_pairs(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        url::form_urlencoded::parse(self.query().unwrap_or("").as_bytes())
    }
}

impl From<url::Url> for RequestUrl {
    fn from(url: url::Url) -> Self {
        RequestUrl(url.into())
    }
}

impl std::fmt::Display for RequestUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The path of an absolute URL (up to its query or fragment), without parsing the whole URL.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    // The authority ends at the first '/', '?' or '#'; a path, if any, starts there.
    let rest = &after_scheme[after_scheme.find(['/', '?', '#']).unwrap_or(after_scheme.len())..];
    match rest.strip_prefix('/') {
        Some(_) => &rest[..rest.find(['?', '#']).unwrap_or(rest.len())],
        None => "/",
    }
}

/// The query of a URL, without its `?` or fragment.
pub fn query_of(url: &str) -> Option<&str> {
    let before_fragment = url.split('#').next().unwrap_or(url);
    let (_, query) = before_fragment.split_once('?')?;
    Some(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_by_position() {
        let url = RequestUrl::new("https://gw.example:8443/pi/x/system?token=1&a=b%20c").unwrap();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.path(), "/pi/x/system");
        assert_eq!(url.query(), Some("token=1&a=b%20c"));
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(n, v)| (n.into(), v.into())).collect();
        assert_eq!(pairs, [("token".into(), "1".into()), ("a".into(), "b c".into())]);
        assert_eq!(url.as_str(), "https://gw.example:8443/pi/x/system?token=1&a=b%20c");
    }

    #[test]
    fn parts_match_the_url_crate_on_serialized_urls() {
        for text in [
            "http://127.0.0.1:8787",
            "http://h/",
            "http://h/a#f",
            "http://h/a?",
            "http://h?x=/a",
            "http://h/%2e%2e/a?q=%2F#frag?",
            "http://user:pw@h/a/b/?q",
        ] {
            let parsed = url::Url::parse(text).unwrap();
            let url = RequestUrl::from(parsed.clone());
            assert_eq!(
                (url.path(), url.query(), url.scheme()),
                (parsed.path(), parsed.query(), parsed.scheme()),
                "{text}"
            );
            let ours = RequestUrl::new(parsed.as_str()).unwrap();
            assert_eq!((ours.path(), ours.query()), (parsed.path(), parsed.query()), "{text}");
        }
        // Unserialized forms, which no runtime hands over, are still read sensibly.
        assert_eq!(path_of("http://h?x=/a"), "/");
        assert_eq!(query_of("http://h#a?b"), None);
    }

    #[test]
    fn only_absolute_urls_without_spaces_are_taken() {
        for bad in ["/relative", "", "://h/", "1http://h/", "http://h/a b", "http://h/\n", "ht tp://h/"] {
            assert_eq!(RequestUrl::new(bad), None, "{bad:?}");
        }
        assert!(RequestUrl::new("web+app://h/").is_some());
    }
}
