//! What a client and the log may be told about an outbound request: its URL without userinfo,
//! query or fragment (a service's `parameters` and a base URL's `user:password@` live there), and
//! the runtime's own failure text with every URL in it shortened the same way and the request's
//! secret values (headers, parameters, auth) masked. MaxBot prints httpx's messages whole; the
//! gateway keeps their wording and drops only these parts, because its errors reach public clients.

/// Stands in for a masked value.
const MASK: &str = "[redacted]";

/// Values shorter than this are not masked: they cannot be secrets worth the name, and masking
/// them would garble every message that happens to contain the same letters.
const MIN_MASKED_LEN: usize = 3;

/// `url` without userinfo, query and fragment. Works on text, so it also shortens what does not
/// parse (a template's malformed URL): the authority ends where WHATWG's parser ends it.
pub fn public_url(url: &str) -> String {
    let without_query = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    let authority_start = match without_query.find("://") {
        Some(at) => at + 3,
        None if without_query.starts_with("//") => 2,
        None => return without_query.to_string(),
    };
    let rest = &without_query[authority_start..];
    let authority_end = rest.find(['/', '\\']).unwrap_or(rest.len());
    let host_start = rest[..authority_end].rfind('@').map_or(0, |at| at + 1);
    format!("{}{}", &without_query[..authority_start], &rest[host_start..])
}

/// Free text from the runtime (a network error) made fit for a client: every URL in it goes
/// through [`public_url`], and every value of `secrets` is masked.
pub fn public_text<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at].rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c))).map_or(0, |i| i + 1);
        let end = at + rest[at..].find(|c: char| c.is_whitespace() || "'\"<>`".contains(c)).unwrap_or(rest.len() - at);
        out.push_str(&rest[..start]);
        out.push_str(&public_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    let mut secrets: Vec<&str> = secrets.into_iter().filter(|s| s.chars().count() >= MIN_MASKED_LEN).collect();
    // The longest first, so that a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_query_and_fragment() {
        let cases = [
            ("http://h:8080/missing?api_key=s3cret&b=2", "http://h:8080/missing"),
            ("https://user:pa%40ss@h/p/q#frag", "https://h/p/q"),
            ("http://u:p@h", "http://h"),
            ("http://u@h?x=1", "http://h"),
            ("//u:p@h/x?y", "//h/x"),
            ("relative/path?token=t", "relative/path"),
            ("svc://u:p@h\\x", "svc://h\\x"),
            ("http://h/users/@me?k=v", "http://h/users/@me"),
            ("not a url", "not a url"),
            ("", ""),
        ];
        for (url, public) in cases {
            assert_eq!(public_url(url), public, "{url}");
        }
    }

    #[test]
    fn runtime_text_loses_url_secrets_and_secret_values() {
        let text = "Fetch API cannot load: http://u:pw@h/x?api_key=k-123. (header x: Bearer tok-9)";
        assert_eq!(
            public_text(text, ["Bearer tok-9", "k-123", "ab"]),
            "Fetch API cannot load: http://h/x (header x: [redacted])"
        );
        let quoted = "bad 'https://a:b@h/?q=1' and \"http://h2/p?z\"";
        assert_eq!(public_text(quoted, []), "bad 'https://h/' and \"http://h2/p\"");
        // Short values are left alone: masking them would garble the text.
        assert_eq!(public_text("connection refused", ["on", "e"]), "connection refused");
    }
}
