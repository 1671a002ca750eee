use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::auth::{Consumer, Identity};
use crate::config::Exposure;
use crate::platform::memory::{block_on, MemoryPlatform};

fn limits(config: serde_json::Value) -> Limits {
    Limits::new(serde_json::from_value(config).expect("limits"))
}

fn model() -> LimitedRoute {
    LimitedRoute::Service { exposure: Exposure::Inference, name: "catsdogs".into() }
}

fn facts<'a>(route: &'a LimitedRoute, identity: &'a Identity, ip: &'a str) -> RequestFacts<'a> {
    RequestFacts { route, identity, client_ip: Some(ip), sender: None }
}

fn header<'a>(verdict: &'a Verdict, name: &str) -> Option<&'a str> {
    verdict.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

#[test]
fn a_request_matching_no_limit_asks_no_counter() {
    let limits = limits(json!([{ "name": "chat", "routes": ["webhook"], "key": "ip", "requests": 1, "period": 60 }]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let verdict = block_on(limits.check(&facts(&model(), &Identity::Admin, "1.1.1.1"), false, &platform));
    assert!(verdict.headers.is_empty() && verdict.refusal.is_none());
    assert!(platform.charges.borrow().is_empty());
}

#[test]
fn the_limit_refuses_past_its_budget_with_429_and_the_wait() {
    let limits =
        limits(json!([{ "name": "model", "routes": ["models/catsdogs"], "key": "ip", "requests": 2, "period": 60 }]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let route = model();
    let check = |ip| block_on(limits.check(&facts(&route, &Identity::Admin, ip), false, &platform));
    let first = check("1.1.1.1");
    assert_eq!(header(&first, "ratelimit-limit"), Some("2"));
    assert_eq!(header(&first, "ratelimit-remaining"), Some("1"));
    assert!(check("1.1.1.1").refusal.is_none());
    let third = check("1.1.1.1");
    let refusal = third.refusal.as_ref().expect("refused");
    assert_eq!(refusal.status(), 429);
    assert_eq!(refusal.body()["reason"], "TooManyRequests");
    assert_eq!(refusal.details["limit"], "model");
    let retry_after: u64 = refusal.headers.iter().find(|(n, _)| *n == "retry-after").unwrap().1.parse().unwrap();
    assert!((1..=61).contains(&retry_after));
    assert_eq!(header(&third, "ratelimit-remaining"), Some("0"));
    assert_eq!(header(&third, "ratelimit-reset"), Some(retry_after.to_string().as_str()));
    // Another key has its own budget.
    assert!(check("2.2.2.2").refusal.is_none());
}

#[test]
fn several_limits_are_asked_at_once_and_the_fewest_remaining_is_reported() {
    let limits = limits(json!([
        { "name": "wide", "key": "ip", "requests": 100, "period": 60 },
        { "name": "narrow", "routes": ["models/*"], "key": "identity", "requests": 3, "period": 3600 },
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let route = model();
    let verdict = block_on(limits.check(&facts(&route, &Identity::Admin, "1.1.1.1"), false, &platform));
    assert_eq!(platform.charges.borrow().len(), 2);
    assert_eq!(header(&verdict, "ratelimit-limit"), Some("3"));
    assert_eq!(header(&verdict, "ratelimit-remaining"), Some("2"));
}

#[test]
fn a_refused_request_spends_nothing_from_the_other_limits() {
    let limits = limits(json!([
        { "name": "per-ip", "key": "ip", "requests": 5, "period": 60 },
        { "name": "model", "routes": ["models/catsdogs"], "key": "ip", "requests": 1, "period": 60 },
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let route = model();
    let identity = Identity::Admin;
    for _ in 0..4 {
        block_on(limits.check(&facts(&route, &identity, "1.1.1.1"), false, &platform));
    }
    // One allowed, three refused by "model": "per-ip" counted only the first.
    let other = LimitedRoute::Webhook;
    let verdict = block_on(limits.check(&facts(&other, &identity, "1.1.1.1"), false, &platform));
    assert_eq!(header(&verdict, "ratelimit-remaining"), Some("3"));
}

#[test]
fn a_refused_caller_spends_only_from_ip_keyed_limits() {
    let limits = limits(json!([
        { "name": "per-ip", "key": "ip", "requests": 5, "period": 60 },
        { "name": "who", "key": "identity", "requests": 5, "period": 60 },
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let route = model();
    block_on(limits.check(&facts(&route, &Identity::Anonymous, "1.1.1.1"), true, &platform));
    let charged: Vec<String> = platform.charges.borrow().iter().map(|c| c.counter.clone()).collect();
    assert_eq!(charged.len(), 1);
    assert!(charged[0].starts_with("per-ip:"));
}

#[test]
fn consumers_and_keys_decide_whose_budget_is_spent() {
    let limits = limits(json!([
        { "name": "shop", "consumers": ["Shop"], "key": "consumer", "requests": 1, "period": 86400 },
        { "name": "chat", "routes": ["webhook"], "key": "sender", "requests": 1, "period": 60 },
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let shop = Identity::Consumer(Arc::new(Consumer { name: "shop".into(), allow: vec![] }));
    let route = model();
    assert!(block_on(limits.check(&facts(&route, &shop, "1.1.1.1"), false, &platform)).refusal.is_none());
    // The same consumer from elsewhere: the same budget.
    assert!(block_on(limits.check(&facts(&route, &shop, "9.9.9.9"), false, &platform)).refusal.is_some());
    // The admin is not the shop: no limit matches.
    assert!(block_on(limits.check(&facts(&route, &Identity::Admin, "1.1.1.1"), false, &platform)).headers.is_empty());
    // Senders: each its own budget; a webhook request without a sender spends nothing.
    let webhook = LimitedRoute::Webhook;
    let sender = |name| RequestFacts { route: &webhook, identity: &Identity::Anonymous, client_ip: None, sender: name };
    assert!(block_on(limits.check(&sender(Some("alice")), false, &platform)).refusal.is_none());
    assert!(block_on(limits.check(&sender(Some("alice")), false, &platform)).refusal.is_some());
    assert!(block_on(limits.check(&sender(Some("bob")), false, &platform)).refusal.is_none());
    let before = platform.charges.borrow().len();
    assert!(block_on(limits.check(&sender(None), false, &platform)).headers.is_empty());
    assert_eq!(platform.charges.borrow().len(), before);
}

#[test]
fn counters_hold_no_key_in_the_clear() {
    let limits = limits(json!([{ "name": "chat", "key": "sender", "requests": 1, "period": 60 }]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let route = LimitedRoute::Webhook;
    let request =
        RequestFacts { route: &route, identity: &Identity::Anonymous, client_ip: None, sender: Some("alice") };
    block_on(limits.check(&request, false, &platform));
    let counter = platform.charges.borrow()[0].counter.clone();
    assert!(counter.starts_with("chat:") && !counter.contains("alice"));
    assert_eq!(counter.len(), "chat:".len() + 32);
}

#[test]
fn an_unreachable_counter_fails_open_with_a_log_line_or_closed_with_503() {
    let platform = MemoryPlatform::answering_json(json!({}));
    platform.counters_unreachable.set(true);
    let route = model();
    let open = limits(json!([{ "name": "soft", "key": "ip", "requests": 1, "period": 60 }]));
    let verdict = block_on(open.check(&facts(&route, &Identity::Admin, "1.1.1.1"), false, &platform));
    assert!(verdict.refusal.is_none() && verdict.headers.is_empty());
    assert_eq!(platform.logs.borrow().last().unwrap(), r#"{"event":"limit_unavailable","limit":"soft","fail":"open"}"#);
    let closed = limits(json!([{ "name": "hard", "key": "ip", "requests": 1, "period": 60, "fail": "closed" }]));
    let verdict = block_on(closed.check(&facts(&route, &Identity::Admin, "1.1.1.1"), false, &platform));
    let refusal = verdict.refusal.expect("refused");
    assert_eq!((refusal.status(), refusal.details["limit"].clone()), (503, json!("hard")));
}
