//! Analytics through `serve`, on the in-memory platform: what each request adds to the stored
//! minutes, and what `GET /admin/analytics` answers and to whom.

use serde_json::{json, Value};

use super::{test_support, Gateway};
use crate::error::Result;
use crate::http::GatewayResponse;
use crate::platform::memory::{json_of, MemoryPlatform, MemoryStream};

const ADMIN: &str = "admin-token";

fn gateway(extra: Value) -> Result<Gateway> {
    let mut config = json!({
        "auth": {"token": ADMIN, "consumers": [{"name": "shop", "key": "shop-key", "allow": ["models/catsdogs"]}]},
        "extensions": {"rest": {"services": [
            {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference"},
            {"name": "LivingRoom", "base_url": "http://127.0.0.1:8081/", "expose": "telemetry", "cache": 10}
        ]}},
        "dialog": [{"condition": "true", "response": "hi"}],
        "limits": [{"name": "chat", "routes": ["webhook"], "key": "sender", "requests": 1, "period": 60}]
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    Gateway::load(config, &|_| None)
}

fn send(
    gateway: &Result<Gateway>,
    platform: &MemoryPlatform,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> GatewayResponse<MemoryStream> {
    let body: &[u8] = if method == "POST" { br#"{"sender": "u1", "message": "hi"}"# } else { b"" };
    test_support::send(gateway, platform, method, path, headers, body)
}

fn analytics(gateway: &Result<Gateway>, platform: &MemoryPlatform, query: &str) -> GatewayResponse<MemoryStream> {
    send(gateway, platform, "GET", &format!("/admin/analytics{query}"), &[("access_token", ADMIN)])
}

#[test]
fn every_request_counts_under_its_route_with_status_cache_limited_and_duration() {
    let gateway = gateway(json!({}));
    let platform = MemoryPlatform::answering_json(json!({"ok": true}));
    let admin = [("access_token", ADMIN)];
    send(&gateway, &platform, "GET", "/pi/livingroom/system", &admin); // MISS
    send(&gateway, &platform, "GET", "/pi/LIVINGROOM/system", &admin); // HIT, same route
    send(&gateway, &platform, "GET", "/models/catsdogs/health", &[("access_token", "shop-key")]);
    send(&gateway, &platform, "GET", "/models/catsdogs/health", &[]); // 401
    send(&gateway, &platform, "GET", "/models/made-up/health", &admin); // 404, not a route of its own
    send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[]);
    assert_eq!(send(&gateway, &platform, "POST", "/webhooks/rest/webhook", &[]).status, 429);
    send(&gateway, &platform, "GET", "/health", &[]);

    let answer = analytics(&gateway, &platform, "?minutes=1");
    assert_eq!(answer.status, 200);
    let body = json_of(&answer);
    let minutes = body["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 1);
    let routes = &minutes[0]["routes"];
    let names: Vec<&str> = routes.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, ["models/catsdogs", "other", "pi/LivingRoom", "webhook"]);
    assert_eq!(
        routes["pi/LivingRoom"],
        json!({"requests": 2, "statuses": {"2xx": 2, "3xx": 0, "4xx": 0, "5xx": 0},
               "cache": {"HIT": 1, "MISS": 1, "BYPASS": 0, "STALE": 0}, "limited": 0,
               "duration_ms": {"p50": 0.5, "p95": 0.5}})
    );
    assert_eq!(routes["models/catsdogs"]["statuses"], json!({"2xx": 1, "3xx": 0, "4xx": 1, "5xx": 0}));
    assert_eq!(routes["webhook"]["requests"], 2);
    assert_eq!(routes["webhook"]["limited"], 1);
    assert_eq!(routes["other"]["requests"], 2, "the made-up service and /health");
}

#[test]
fn minutes_come_oldest_first_each_with_its_own_requests_and_durations() {
    let gateway = gateway(json!({}));
    let platform = MemoryPlatform::answering_json(json!({}));
    platform.clock.set(60.0 * 30_000_000.0 + 10.0);
    send(&gateway, &platform, "GET", "/health", &[]);
    platform.advance(120.0);
    send(&gateway, &platform, "GET", "/health", &[]);
    send(&gateway, &platform, "GET", "/version", &[]);
    let body = json_of(&analytics(&gateway, &platform, "?minutes=3"));
    let minutes = body["minutes"].as_array().unwrap();
    let starts: Vec<&str> = minutes.iter().map(|m| m["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2027-01-15T08:00:00Z", "2027-01-15T08:01:00Z", "2027-01-15T08:02:00Z"]);
    let requests: Vec<Value> = minutes.iter().map(|m| m["routes"]["other"]["requests"].clone()).collect();
    assert_eq!(requests, [json!(1), Value::Null, json!(2)]);
    // The default is the last hour.
    assert_eq!(json_of(&analytics(&gateway, &platform, ""))["minutes"].as_array().unwrap().len(), 60);
}

#[test]
fn only_the_token_or_an_admin_reads_analytics_and_a_bad_range_is_a_400() {
    let gateway = gateway(json!({}));
    let platform = MemoryPlatform::answering_json(json!({}));
    let get = |headers: &[(&str, &str)], query: &str| {
        send(&gateway, &platform, "GET", &format!("/admin/analytics{query}"), headers)
    };
    assert_eq!(get(&[], "").status, 401);
    assert_eq!(get(&[("access_token", "shop-key")], "").status, 403);
    assert_eq!(get(&[("access_token", "wrong")], "").status, 401);
    let bad = get(&[("access_token", ADMIN)], "?minutes=0");
    assert_eq!(bad.status, 400);
    assert_eq!(json_of(&bad)["reason"], "BadRequest");
    assert_eq!(get(&[("access_token", ADMIN)], "?minutes=1441").status, 400);
    assert_eq!(get(&[("access_token", ADMIN)], "?minutes=1440").status, 200);
}

#[test]
fn switched_off_nothing_is_counted_and_the_route_is_a_404() {
    let gateway = gateway(json!({"analytics": {"enabled": false}}));
    let platform = MemoryPlatform::answering_json(json!({}));
    send(&gateway, &platform, "GET", "/health", &[]);
    assert!(platform.analytics.borrow().is_empty());
    assert_eq!(analytics(&gateway, &platform, "").status, 404);
    // On in the configuration, but no storage bound: off too.
    let gateway = self::gateway(json!({}));
    platform.analytics_off.set(true);
    assert_eq!(analytics(&gateway, &platform, "").status, 404);
    assert_eq!(Gateway::load(json!({"analytics": {"enable": true}}), &|_| None).err().unwrap().kind.status(), 500);
}
