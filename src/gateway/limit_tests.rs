//! Rate limits through `serve`, on the in-memory platform's counters: what a limited request
//! answers, what it spends, and which routes are never limited.

use serde_json::{json, Value};

use super::{test_support, Gateway};
use crate::error::Result;
use crate::http::GatewayResponse;
use crate::platform::memory::{json_of, MemoryPlatform, MemoryStream};

const ADMIN: &str = "admin-token";

fn gateway(limits: Value) -> Result<Gateway> {
    Gateway::load(
        json!({
            "auth": {"token": ADMIN, "webhook": "public"},
            "cors": {"allow_origins": ["https://shop.example"]},
            "extensions": {"rest": {"services": [
                {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference"},
                {"name": "weather", "base_url": "http://127.0.0.1:8090/"}
            ]}},
            "dialog": [{"condition": "true", "response": "{% GET \"weather://now\" %}It is {{ rest.json.t }}."}],
            "limits": limits
        }),
        &|_| None,
    )
}

/// A request from one client address (the key of `ip` limits).
fn send(
    gateway: &Result<Gateway>,
    platform: &MemoryPlatform,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> GatewayResponse<MemoryStream> {
    let mut all = vec![("cf-connecting-ip", "203.0.113.7")];
    all.extend_from_slice(headers);
    test_support::send(gateway, platform, method, path, &all, body)
}

#[test]
fn past_its_budget_a_model_route_answers_429_and_sends_nothing() {
    let gateway = gateway(
        json!([{ "name": "model", "routes": ["models/catsdogs"], "key": "identity", "requests": 2, "period": 3600 }]),
    );
    let platform = MemoryPlatform::answering_json(json!({"label": "cat"}));
    let admin = ("access_token", ADMIN);
    let first = send(&gateway, &platform, "POST", "/models/catsdogs/upload", &[admin], b"img");
    assert_eq!(first.status, 200);
    assert_eq!(first.headers.get("ratelimit-limit"), Some("2"));
    assert_eq!(first.headers.get("ratelimit-remaining"), Some("1"));
    assert!(first.headers.get("ratelimit-reset").is_some());
    assert!(first.headers.get("retry-after").is_none());
    send(&gateway, &platform, "POST", "/models/catsdogs/upload", &[admin], b"img");
    let limited = send(
        &gateway,
        &platform,
        "POST",
        "/models/catsdogs/upload",
        &[admin, ("origin", "https://shop.example")],
        b"img",
    );
    assert_eq!(limited.status, 429);
    let body = json_of(&limited);
    assert_eq!(
        (body["reason"].clone(), body["details"]["limit"].clone(), body["code"].clone()),
        (json!("TooManyRequests"), json!("model"), json!(429))
    );
    let retry_after: u64 = limited.headers.get("retry-after").unwrap().parse().unwrap();
    assert!((1..=3660).contains(&retry_after));
    assert_eq!(limited.headers.get("ratelimit-remaining"), Some("0"));
    assert_eq!(limited.headers.get("ratelimit-reset"), Some(retry_after.to_string().as_str()));
    assert_eq!(limited.headers.get("access-control-allow-origin"), Some("https://shop.example"));
    assert_eq!(platform.sent().len(), 2, "the refused request never reached the origin");
    let log = platform.logs.borrow().last().unwrap().clone();
    assert!(log.contains(r#""status":429"#), "{log}");
}

#[test]
fn a_limited_chat_message_is_not_rendered() {
    let gateway =
        gateway(json!([{ "name": "chat", "routes": ["webhook"], "key": "sender", "requests": 1, "period": 60 }]));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    let message = |sender: &str| json!({"sender": sender, "message": "hi"}).to_string().into_bytes();
    let ok = send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[], &message("alice"));
    assert_eq!((ok.status, ok.headers.get("ratelimit-remaining")), (200, Some("0")));
    let limited = send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[], &message("alice"));
    assert_eq!(limited.status, 429);
    assert_eq!(platform.sent().len(), 1, "the template's rest_call ran once");
    let other = send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[], &message("bob"));
    assert_eq!(other.status, 200);
}

#[test]
fn refused_callers_spend_only_from_ip_limits_and_are_limited_by_them() {
    let gateway = gateway(json!([
        { "name": "per-ip", "key": "ip", "requests": 3, "period": 60 },
        { "name": "who", "key": "identity", "requests": 100, "period": 60 }
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let guess = ("access_token", "guess");
    for _ in 0..3 {
        assert_eq!(send(&gateway, &platform, "GET", "/models/catsdogs/x", &[guess], b"").status, 401);
    }
    assert!(platform.charges.borrow().iter().all(|charge| charge.counter.starts_with("per-ip:")));
    let fourth = send(&gateway, &platform, "GET", "/models/catsdogs/x", &[guess], b"");
    assert_eq!(fourth.status, 429, "guessing keys is limited too");
    // An unknown service is refused before the limits too: it spends from the address only.
    let unknown = send(&gateway, &platform, "GET", "/models/nothing/x", &[("access_token", ADMIN)], b"");
    assert_eq!(unknown.status, 429);
}

#[test]
fn health_version_preflight_and_unlimited_routes_ask_no_counter() {
    let gateway =
        gateway(json!([{ "name": "model", "routes": ["models/catsdogs"], "key": "ip", "requests": 1, "period": 60 }]));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    for (method, path) in [("GET", "/health"), ("GET", "/version"), ("GET", "/"), ("OPTIONS", "/models/catsdogs/x")] {
        let response = send(&gateway, &platform, method, path, &[("origin", "https://shop.example")], b"");
        assert!(response.headers.get("ratelimit-limit").is_none(), "{method} {path}");
    }
    let chat = send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[], br#"{"sender": "a", "message": "hi"}"#);
    assert_eq!(chat.status, 200);
    assert!(chat.headers.get("ratelimit-limit").is_none());
    assert!(platform.charges.borrow().is_empty());
}
