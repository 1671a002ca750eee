//! The send loop on the in-memory platform: what reached which origin, in what order, after which
//! waits, and what the circuits said.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::{json, Value};

use super::*;
use crate::config::ServiceConfig;
use crate::http::{Body, FetchFailure, GatewayResponse, Headers, OutboundRequest};
use crate::platform::memory::{block_on, Answer, MemoryPlatform, MemoryStream, Received};
use crate::platform::Deadline;

const TIMEOUT_MS: u64 = 1000;

fn policy(fields: Value) -> ServicePolicy {
    let mut service = json!({"name": "pi", "base_url": "http://pi.local/api/"});
    service.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    ServicePolicy::of(&serde_json::from_value::<ServiceConfig>(service).unwrap()).unwrap()
}

fn request(method: &str, body: Body<MemoryStream>) -> OutboundRequest<MemoryStream> {
    OutboundRequest {
        method: method.into(),
        url: "http://pi.local/api/system?x=1".into(),
        headers: Headers::new(),
        body,
    }
}

fn send_with(
    platform: &MemoryPlatform,
    policy: &ServicePolicy,
    request: OutboundRequest<MemoryStream>,
    budget: &RetryBudget,
    until: Option<Deadline>,
) -> Sent<MemoryStream> {
    let first = request.url.clone();
    let url_on = |origin: &Origin| policy.rebase(&first, origin);
    block_on(send(platform, policy, request, url_on, Bounds { timeout_ms: TIMEOUT_MS, until, budget }))
}

fn get(platform: &MemoryPlatform, policy: &ServicePolicy) -> Sent<MemoryStream> {
    send_with(platform, policy, request("GET", Body::Empty), &RetryBudget::default(), None)
}

fn status(code: u16) -> Answer {
    Ok((code, vec![], b"{}".to_vec()))
}

fn refused() -> Answer {
    Err(FetchFailure::Network("connection refused".into()))
}

fn urls(platform: &MemoryPlatform) -> Vec<String> {
    platform.sent().into_iter().map(|r| r.url).collect()
}

fn answered(sent: &Sent<MemoryStream>) -> Option<u16> {
    match sent {
        Sent::Done { result: Ok(GatewayResponse { status, .. }), .. } => Some(*status),
        _ => None,
    }
}

fn circuit_lines(platform: &MemoryPlatform) -> Vec<(String, String)> {
    let lines = platform.logs.borrow();
    let parsed = lines.iter().filter_map(|line| serde_json::from_str::<Value>(line).ok());
    parsed
        .filter(|line| line["event"] == "circuit")
        .map(|line| (line["origin"].as_str().unwrap().to_string(), line["state"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_get_is_tried_again_with_doubling_waits_until_it_succeeds() {
    let platform = MemoryPlatform::failing_first(2, || status(503), |_| status(200));
    let policy = policy(json!({"retries": {"attempts": 4, "backoff": 0.2}}));
    let sent = get(&platform, &policy);
    assert_eq!(answered(&sent), Some(200));
    assert_eq!(platform.sent().len(), 3);
    assert_eq!(*platform.slept.borrow(), [200, 400]);
}

#[test]
fn every_failure_a_retry_answers_and_no_other() {
    let retried: [fn() -> Answer; 5] =
        [|| status(502), || status(503), || status(504), refused, || Err(FetchFailure::Timeout)];
    for failure in retried {
        let platform = MemoryPlatform::new(move |_| failure());
        let sent = get(&platform, &policy(json!({"retries": {"attempts": 3}})));
        assert!(matches!(sent, Sent::Failed { tries: 3, .. }), "{:?} {sent:?}", failure());
        assert_eq!(platform.sent().len(), 3);
    }
    let final_answers: [fn() -> Answer; 5] = [
        || status(200),
        || status(404),
        || status(500),
        || Err(FetchFailure::BodyTooLarge),
        || Err(FetchFailure::InvalidRequest("bad header".into())),
    ];
    for answer in final_answers {
        let platform = MemoryPlatform::new(move |_| answer());
        let sent = get(&platform, &policy(json!({"retries": {"attempts": 3}})));
        assert!(matches!(sent, Sent::Done { .. }), "{:?}", answer());
        assert_eq!(platform.sent().len(), 1, "{:?}", answer());
    }
}

#[test]
fn a_post_or_patch_is_sent_once_whatever_happens() {
    let policy = policy(json!({"retries": {"attempts": 5}, "fallback_urls": ["http://backup/"]}));
    for method in ["POST", "PATCH", "post"] {
        for failure in [status(503), refused(), Err(FetchFailure::Timeout)] {
            let answer = failure.clone();
            let platform = MemoryPlatform::new(move |_| answer.clone());
            let body = Body::Bytes(b"{\"n\": 1}".to_vec());
            let sent = send_with(&platform, &policy, request(method, body), &RetryBudget::default(), None);
            assert!(matches!(sent, Sent::Failed { tries: 1, .. }), "{method} {failure:?}");
            assert_eq!(urls(&platform), ["http://pi.local/api/system?x=1"], "{method} {failure:?}");
            assert!(platform.slept.borrow().is_empty());
        }
    }
}

#[test]
fn a_streamed_body_is_sent_once_and_a_body_in_hand_each_time() {
    let policy = policy(json!({"retries": {"attempts": 3}, "fallback_urls": ["http://backup/"]}));
    let platform = MemoryPlatform::new(|_| status(503));
    let streamed = request("PUT", Body::Stream(b"upload".to_vec().into()));
    assert!(matches!(send_with(&platform, &policy, streamed, &RetryBudget::default(), None), Sent::Failed { .. }));
    assert_eq!(platform.sent().len(), 1);

    let platform = MemoryPlatform::failing_first(2, || status(503), |_| status(201));
    let in_hand = request("PUT", Body::Bytes(b"{\"on\": true}".to_vec()));
    assert_eq!(answered(&send_with(&platform, &policy, in_hand, &RetryBudget::default(), None)), Some(201));
    let bodies: Vec<String> = platform.sent().iter().map(Received::body_text).collect();
    assert_eq!(bodies, ["{\"on\": true}"; 3]);
}

#[test]
fn fallbacks_are_tried_in_order_each_with_the_retries() {
    let platform = MemoryPlatform::new(|r| match r.url.split('/').nth(2) {
        Some("pi.local") => refused(),
        Some("b1:8080") => status(503),
        _ => status(200),
    });
    let policy = policy(json!({"retries": {"attempts": 2, "backoff": 0.1},
                               "fallback_urls": ["http://b1:8080/v1/", "https://b2/"]}));
    assert_eq!(answered(&get(&platform, &policy)), Some(200));
    assert_eq!(
        urls(&platform),
        [
            "http://pi.local/api/system?x=1",
            "http://pi.local/api/system?x=1",
            "http://b1:8080/v1/system?x=1",
            "http://b1:8080/v1/system?x=1",
            "https://b2/system?x=1",
        ]
    );
    // Each origin starts afresh: a wait between its own tries only.
    assert_eq!(*platform.slept.borrow(), [100, 100]);
}

#[test]
fn the_last_failure_is_reported_with_its_url() {
    let platform = MemoryPlatform::new(|r| if r.url.contains("pi.local") { status(503) } else { refused() });
    let sent = get(&platform, &policy(json!({"fallback_urls": ["http://b1/"]})));
    match sent {
        Sent::Failed { failure, url, tries, cut_short } => {
            assert_eq!(failure, TryFailure::Unreachable("connection refused".into()));
            assert_eq!((url.as_str(), tries, cut_short), ("http://b1/system?x=1", 2, false));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tries_and_waits_stay_within_attempts_times_timeout_plus_the_backoffs() {
    let platform = MemoryPlatform::new(|_| Err(FetchFailure::Timeout));
    platform.timeouts_take_time.set(true);
    let policy = policy(json!({"retries": {"attempts": 3, "backoff": 0.5}}));
    let start = platform.clock.get();
    assert!(matches!(get(&platform, &policy), Sent::Failed { failure: TryFailure::Timeout, tries: 3, .. }));
    let took_ms = ((platform.clock.get() - start) * 1000.0).round() as u64;
    assert_eq!(took_ms, policy.retry.bound_ms(TIMEOUT_MS));
    assert_eq!(took_ms, 3 * TIMEOUT_MS + 500 + 1000);
    assert!(platform.sent().iter().all(|r| r.timeout_ms == TIMEOUT_MS));
}

#[test]
fn nothing_starts_past_the_exchange_deadline_and_no_try_runs_past_it() {
    let platform = MemoryPlatform::new(|_| Err(FetchFailure::Timeout));
    platform.timeouts_take_time.set(true);
    let policy = policy(json!({"retries": {"attempts": 5, "backoff": 0.1}}));
    let until = Deadline::after(platform.clock.get(), 2500);
    let sent = send_with(&platform, &policy, request("GET", Body::Empty), &RetryBudget::default(), Some(until));
    assert!(matches!(sent, Sent::Failed { tries: 3, cut_short: true, .. }), "{sent:?}");
    let timeouts: Vec<u64> = platform.sent().iter().map(|r| r.timeout_ms).collect();
    // 1 s, then 0.1 s wait and 1 s, then 0.2 s wait and the 0.2 s left.
    assert_eq!(timeouts, [1000, 1000, 200]);
    assert!(platform.clock.get() <= until.seconds() + 1e-9);
}

#[test]
fn the_budget_bounds_the_extra_tries() {
    let platform = MemoryPlatform::new(|_| status(503));
    let policy =
        policy(json!({"retries": {"attempts": 10}, "fallback_urls": ["http://b1/", "http://b2/", "http://b3/"]}));
    let budget = RetryBudget::new(4);
    assert!(matches!(send_with(&platform, &policy, request("GET", Body::Empty), &budget, None), Sent::Failed { .. }));
    assert_eq!(platform.sent().len(), 5);
    // The budget is shared: the next request (of the same chat message) gets one try only.
    platform.received.borrow_mut().clear();
    send_with(&platform, &policy, request("GET", Body::Empty), &budget, None);
    assert_eq!(platform.sent().len(), 1);
}

#[test]
fn a_circuit_opens_short_circuits_then_one_request_probes_and_closes_it() {
    let failing = Rc::new(Cell::new(true));
    let origin = failing.clone();
    let platform = MemoryPlatform::new(move |_| if origin.get() { refused() } else { status(200) });
    let policy = policy(json!({"circuit": {"failures": 2, "cooldown": 1}}));
    assert!(matches!(get(&platform, &policy), Sent::Failed { tries: 1, .. }));
    assert!(circuit_lines(&platform).is_empty());
    assert!(matches!(get(&platform, &policy), Sent::Failed { tries: 1, .. }));
    assert_eq!(circuit_lines(&platform), [("http://pi.local".to_string(), "opened".to_string())]);
    // Open: nothing is sent, and the answer says when to come back.
    assert!(matches!(get(&platform, &policy), Sent::Unavailable { retry_after_seconds: 1 }));
    assert_eq!(platform.sent().len(), 2);
    // After the cooldown one request probes; it succeeds and closes the circuit.
    failing.set(false);
    platform.advance(1.0);
    assert_eq!(answered(&get(&platform, &policy)), Some(200));
    let states: Vec<String> = circuit_lines(&platform).into_iter().map(|(_, state)| state).collect();
    assert_eq!(states, ["opened", "probing", "closed"]);
    assert_eq!(answered(&get(&platform, &policy)), Some(200));
    assert_eq!(platform.sent().len(), 4);
}

#[test]
fn a_failed_probe_opens_the_circuit_again() {
    let platform = MemoryPlatform::new(|_| status(503));
    let policy = policy(json!({"retries": {"attempts": 3}, "circuit": {"failures": 3, "cooldown": 30}}));
    assert!(matches!(get(&platform, &policy), Sent::Failed { tries: 3, .. }));
    platform.advance(30.0);
    // The probe is one try: its failure opens the circuit again at once, with no retry.
    assert!(matches!(get(&platform, &policy), Sent::Failed { tries: 1, .. }));
    assert!(matches!(get(&platform, &policy), Sent::Unavailable { retry_after_seconds: 30 }));
    let states: Vec<String> = circuit_lines(&platform).into_iter().map(|(_, state)| state).collect();
    assert_eq!(states, ["opened", "probing", "opened"]);
    assert_eq!(platform.sent().len(), 4);
}

#[test]
fn an_open_circuit_sends_requests_to_the_fallback_even_a_post() {
    let platform = MemoryPlatform::new(|r| if r.url.contains("pi.local") { refused() } else { status(200) });
    let policy = policy(json!({"fallback_urls": ["http://backup/"], "circuit": {"failures": 1, "cooldown": 60}}));
    assert_eq!(answered(&get(&platform, &policy)), Some(200));
    platform.received.borrow_mut().clear();
    let post = request("POST", Body::Bytes(b"{}".to_vec()));
    assert_eq!(answered(&send_with(&platform, &policy, post, &RetryBudget::default(), None)), Some(200));
    assert_eq!(urls(&platform), ["http://backup/system?x=1"], "the POST went once, to the fallback");
    // A success on the fallback does not touch the base's circuit.
    assert_eq!(circuit_lines(&platform), [("http://pi.local".to_string(), "opened".to_string())]);
}
