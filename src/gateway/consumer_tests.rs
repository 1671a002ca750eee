//! Consumers through `serve`, on the in-memory platform: what each may call, what its origin
//! learns of it, and what the list of telemetry services shows it.

use serde_json::{json, Value};

use super::test_support::send;
use super::Gateway;
use crate::error::Result;
use crate::platform::memory::{json_of, MemoryPlatform};

const ADMIN: &str = "admin-token";
const SHOP: &str = "shop-key";
const WALL: &str = "wall-key";

fn gateway(webhook: &str) -> Result<Gateway> {
    Gateway::load(
        json!({
            "auth": {"token": ADMIN, "webhook": webhook, "consumers": [
                {"name": "shop", "key": SHOP, "allow": ["webhook", "models/catsdogs"]},
                {"name": "wall-display", "key": WALL, "allow": ["pi/livingroom"]}
            ]},
            "extensions": {"rest": {"services": [
                {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference"},
                {"name": "other", "base_url": "http://127.0.0.1:8081/", "expose": "inference"},
                {"name": "livingroom", "base_url": "http://pi.local:8081/", "expose": "telemetry",
                 "paths": ["/system"]},
                {"name": "kitchen", "base_url": "http://pi2.local:8081/", "expose": "telemetry"},
                {"name": "rasa", "base_url": "http://127.0.0.1:5005/", "expose": "rasa"}
            ]}},
            "dialog": [{"condition": "true", "response": "hello"}]
        }),
        &|_| None,
    )
}

#[test]
fn a_consumer_calls_exactly_what_it_is_allowed() {
    let gateway = gateway("public");
    let platform = MemoryPlatform::answering_json(json!({"ok": true}));
    let shop = ("access_token", SHOP);
    let ok = send(&gateway, &platform, "POST", "/models/catsdogs/upload", &[shop], b"x");
    assert_eq!(ok.status, 200);
    assert_eq!(send(&gateway, &platform, "GET", "/models/CatsDogs/info?token=shop-key", &[], b"").status, 200);
    assert_eq!(platform.sent().len(), 2);
    for (method, path) in [
        ("GET", "/models/other/info"),
        ("GET", "/pi/livingroom/system"),
        ("GET", "/pi/kitchen/system"),
        ("GET", "/pi/"),
        ("GET", "/status"),
        ("POST", "/model/parse"),
        ("GET", "/conversations/shop/tracker"),
    ] {
        let refused = send(&gateway, &platform, method, path, &[shop], b"{}");
        assert_eq!(refused.status, 403, "{method} {path}");
        let body = json_of(&refused);
        assert_eq!(
            (body["message"].as_str(), body["reason"].as_str()),
            (Some("User has insufficient permissions."), Some("NotAuthorized"))
        );
    }
    assert_eq!(platform.sent().len(), 2, "nothing refused reaches an origin");
    // An unknown service is refused like a known one: a consumer learns nothing of the others.
    assert_eq!(send(&gateway, &platform, "GET", "/models/nope/x", &[shop], b"").status, 403);
    // Keys of two owners in one request are ambiguous, and ambiguity never authenticates.
    let both = send(&gateway, &platform, "GET", "/models/catsdogs/x?token=admin-token", &[shop], b"");
    assert_eq!(both.status, 401);
}

#[test]
fn the_origin_learns_the_consumer_and_never_a_clients_claim() {
    let gateway = gateway("public");
    let platform = MemoryPlatform::answering_json(json!({"ok": true}));
    let forged = ("x-gateway-consumer", "wall-display");
    send(&gateway, &platform, "GET", "/models/catsdogs/x", &[("access_token", SHOP), forged], b"");
    send(&gateway, &platform, "GET", "/models/catsdogs/x", &[("access_token", ADMIN), forged], b"");
    let sent = platform.sent();
    assert_eq!(sent[0].headers.get_all("x-gateway-consumer").collect::<Vec<_>>(), ["shop"]);
    assert_eq!(sent[0].headers.get("access_token"), None);
    assert_eq!(sent[1].headers.get("x-gateway-consumer"), None);
    let lines = platform.logs.borrow().clone();
    let line: Value = serde_json::from_str(lines.iter().rev().nth(1).unwrap()).unwrap();
    assert_eq!(line["consumer"], "shop");
    let admin_line: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(admin_line["consumer"], Value::Null);
}

#[test]
fn the_list_of_pis_shows_a_consumer_only_its_own() {
    let gateway = gateway("public");
    let platform = MemoryPlatform::answering_json(json!({}));
    let list = |key: &str| json_of(&send(&gateway, &platform, "GET", "/pi/", &[("access_token", key)], b""));
    assert_eq!(list(WALL), json!({"services": ["livingroom"]}));
    assert_eq!(list(ADMIN), json!({"services": ["livingroom", "kitchen"]}));
    let wall = ("access_token", WALL);
    assert_eq!(send(&gateway, &platform, "GET", "/pi/livingroom/system", &[wall], b"").status, 200);
    assert_eq!(send(&gateway, &platform, "GET", "/pi/kitchen/system", &[wall], b"").status, 403);
    // Its path rules hold for a consumer as for anyone: nothing is sent.
    let outside = send(&gateway, &platform, "GET", "/pi/livingroom/openvpn/client", &[wall], b"");
    assert_eq!((outside.status, json_of(&outside)["reason"].as_str()), (404, Some("NotFound")));
    assert_eq!(platform.sent().len(), 1);
}

#[test]
fn a_required_webhook_admits_only_consumers_allowed_it() {
    let message = br#"{"sender": "u1", "message": "hi"}"#;
    for (webhook, key, status) in [
        ("required", SHOP, 200),
        ("required", WALL, 403),
        ("required", "wrong", 401),
        ("required", ADMIN, 200),
        ("public", WALL, 200),
        ("public", SHOP, 200),
    ] {
        let gateway = gateway(webhook);
        let platform = MemoryPlatform::answering_json(json!({}));
        let response = send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[("access_token", key)], message);
        assert_eq!(response.status, status, "{webhook} {key}");
    }
}

#[test]
fn consumer_mistakes_are_configuration_errors_naming_the_field_never_the_key() {
    let load = |consumers: Value| {
        let config = json!({
            "auth": {"token": "the-admin-token", "consumers": consumers},
            "extensions": {"rest": {"services": [
                {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference"},
                {"name": "livingroom", "base_url": "http://pi.local/", "expose": "telemetry"},
                {"name": "plain", "base_url": "http://plain.local/"}
            ]}}
        });
        Gateway::load(config, &|_| None).map(|_| ()).unwrap_err()
    };
    let shop = |key: &str, allow: Value| json!({"name": "shop", "key": key, "allow": allow});
    let cases = [
        (json!([shop("", json!([]))]), "auth.consumers[0].key"),
        (json!([shop("the-admin-token", json!([]))]), "auth.consumers[0].key"),
        (json!([shop("k1", json!([])), {"name": "wall", "key": "k1"}]), "auth.consumers[1].key"),
        (json!([shop("k1", json!([])), {"name": "SHOP", "key": "k2"}]), "auth.consumers[1].name"),
        (json!([{"name": "", "key": "k1"}]), "auth.consumers[0].name"),
        (json!([{"name": "a shop", "key": "k1"}]), "auth.consumers[0].name"),
        (json!([shop("k1", json!(["webhook", "models/catsdogs", "status"]))]), "auth.consumers[0].allow[2]"),
        (json!([shop("k1", json!(["models/nope"]))]), "auth.consumers[0].allow[0]"),
        (json!([shop("k1", json!(["pi/catsdogs"]))]), "auth.consumers[0].allow[0]"),
        (json!([shop("k1", json!(["models/plain"]))]), "auth.consumers[0].allow[0]"),
        (json!([shop("k1", json!(["pi/*", "webhook", "pi/*"]))]), "auth.consumers[0].allow[2]"),
        (json!([{"name": "shop", "key": "k1", "allows": []}]), "auth.consumers[0].allows"),
        (json!([{"name": "shop"}]), "auth.consumers[0]"),
    ];
    for (consumers, field) in cases {
        let error = load(consumers.clone());
        let body = error.body();
        assert_eq!(body["details"]["field"], field, "{consumers}: {}", error.message);
        let text = body.to_string();
        for key in ["the-admin-token", "k1", "k2"] {
            assert!(!text.contains(key), "{consumers}: {text}");
        }
    }
    let ok = json!([shop("k1", json!(["webhook", "models/*", "pi/LivingRoom"])), {"name": "wall", "key": "k2"}]);
    let config = json!({"auth": {"consumers": ok}, "extensions": {"rest": {"services": [
        {"name": "livingroom", "base_url": "http://pi.local/", "expose": "telemetry"}]}}});
    assert!(Gateway::load(config, &|_| None).is_ok());
}
