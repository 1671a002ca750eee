//! What a client presented: the shared token (Rasa's `?token=`, RaspAP's `access_token` header)
//! and a bearer token. Parsing is strict: anything malformed counts as no valid credential (401),
//! never as a 400 or a 500.

use crate::http::Headers;

/// Headers that carry the client's credentials; they never reach an origin.
pub const CLIENT_CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "access_token"];

/// Longest bearer token accepted; real JWTs are far shorter.
pub const MAX_BEARER_LEN: usize = 8 * 1024;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// Every token presented by query parameter or header (a duplicate counts twice).
    pub tokens: Vec<String>,
    /// The bearer token, when the `Authorization` header is well formed.
    pub bearer: Option<String>,
    /// True when an `Authorization` header was sent but could not be read.
    pub malformed_authorization: bool,
}

impl Credentials {
    pub fn from_request(query_tokens: Vec<String>, headers: &Headers) -> Self {
        let mut tokens = query_tokens;
        tokens.extend(headers.get_all("access_token").map(str::to_string));
        let authorizations: Vec<&str> = headers.get_all("authorization").collect();
        let bearer = match authorizations.as_slice() {
            [single] => parse_bearer(single),
            _ => None,
        };
        Credentials { tokens, malformed_authorization: !authorizations.is_empty() && bearer.is_none(), bearer }
    }
}

/// `Bearer <jwt>` with exactly one space, the scheme spelled as Rasa's clients send it, and a
/// token of three base64url parts.
fn parse_bearer(value: &str) -> Option<String> {
    let token = value.strip_prefix("Bearer ")?;
    let well_formed = !token.is_empty()
        && token.len() <= MAX_BEARER_LEN
        && token.split('.').count() == 3
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    well_formed.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> Option<String> {
        let headers: Headers = [("Authorization", value)].into_iter().collect();
        Credentials::from_request(vec![], &headers).bearer
    }

    #[test]
    fn only_well_formed_bearer_headers_are_read() {
        assert_eq!(bearer("Bearer a.b.c"), Some("a.b.c".into()));
        for bad in
            ["bearer a.b.c", "Token a.b.c", "Bearer a b", "Bearer ", "Bearer  a.b.c", "Bearer a.b", "Bearer a.b.c.d"]
        {
            assert_eq!(bearer(bad), None, "{bad}");
        }
        assert_eq!(bearer(&format!("Bearer a.{}.c", "x".repeat(10 * 1024))), None);
    }

    #[test]
    fn tokens_come_from_query_and_header() {
        let headers: Headers = [("access_token", "h")].into_iter().collect();
        let credentials = Credentials::from_request(vec!["q".into()], &headers);
        assert_eq!(credentials.tokens, vec!["q", "h"]);
    }
}
