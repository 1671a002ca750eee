//! Credentials and JWT parsing on any header values: never a panic, and a bearer token is only
//! ever accepted in its strict form.
#![no_main]
use edge_gateway::auth::{Credentials, OidcVerifier};
use edge_gateway::http::Headers;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (authorization, token) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let headers: Headers = [("authorization", authorization), ("access_token", token)].into_iter().collect();
    let credentials = Credentials::from_request(vec![token.to_string()], &headers);
    if let Some(bearer) = &credentials.bearer {
        assert!(authorization.starts_with("Bearer ") && bearer.split('.').count() == 3);
        let _ = OidcVerifier::key_need(bearer);
    }
});
