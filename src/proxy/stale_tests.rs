//! `stale_if_error` through the whole gateway on the in-memory platform: a stored answer answers
//! for a failed origin, with `STALE` and its `Age`, until its window ends; a good answer replaces it.

use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::http::{FetchFailure, GatewayResponse};
use crate::platform::memory::{block_on, bytes_of, MemoryPlatform};

/// The configuration of one Pi cached 10 s, with `stale_if_error` when given.
fn config(stale_if_error: Option<u64>) -> Value {
    let mut pi = json!({"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry", "cache": 10});
    if let Some(seconds) = stale_if_error {
        pi["stale_if_error"] = json!(seconds);
    }
    json!({"extensions": {"rest": {"services": [pi]}}})
}

/// An origin whose answer the test sets: a temperature, a status, or unreachable.
struct Pi {
    platform: MemoryPlatform,
}

#[derive(Clone, Copy)]
enum Answer {
    Reading(u32),
    Status(u16),
    Down,
    TimesOut,
}

thread_local! {
    static ANSWER: std::cell::Cell<Answer> = const { std::cell::Cell::new(Answer::Reading(40)) };
}

impl Pi {
    fn new() -> Pi {
        let platform = MemoryPlatform::new(|_| match ANSWER.get() {
            Answer::Reading(t) => Ok((
                200,
                vec![("content-type", "application/json".into()), ("etag", format!("\"{t}\""))],
                json!({"t": t}).to_string().into_bytes(),
            )),
            Answer::Status(status) => Ok((status, vec![], b"{}".to_vec())),
            Answer::Down => Err(FetchFailure::Network("connection refused".into())),
            Answer::TimesOut => Err(FetchFailure::Timeout),
        });
        ANSWER.set(Answer::Reading(40));
        Pi { platform }
    }

    /// A GET through a new isolate (its memory empty: the answer comes from the Cache API).
    fn get(&self, config: &Value, headers: &[(&str, &str)]) -> (u16, Option<String>, Option<String>, Value) {
        let request = MemoryPlatform::request("GET", "https://gw.example/pi/pi/system", headers, b"");
        let response = block_on(serve(&Gateway::load(config.clone(), &|_| None), request, &self.platform));
        let GatewayResponse { status, headers, body } = response;
        let json = serde_json::from_slice(&bytes_of(body)).unwrap_or(Value::Null);
        (status, headers.get("x-cache-status").map(str::to_string), headers.get("age").map(str::to_string), json)
    }
}

fn stale(age: &str, t: u32) -> (u16, Option<String>, Option<String>, Value) {
    (200, Some("STALE".into()), Some(age.into()), json!({"t": t}))
}

#[test]
fn a_failed_origin_is_answered_with_the_stored_answer_and_its_age() {
    let pi = Pi::new();
    let gateway = config(Some(60));
    assert_eq!(pi.get(&gateway, &[]).1.as_deref(), Some("MISS"));
    pi.platform.advance(5.0);
    assert_eq!(pi.get(&gateway, &[]).1.as_deref(), Some("HIT"), "fresh: answered as before");
    pi.platform.advance(10.0);
    for failure in [Answer::Down, Answer::TimesOut, Answer::Status(502), Answer::Status(503), Answer::Status(504)] {
        ANSWER.set(failure);
        assert_eq!(pi.get(&gateway, &[]), stale("15", 40));
    }
    // Other answers are the origin's, not failures: they pass through.
    ANSWER.set(Answer::Status(500));
    assert_eq!(pi.get(&gateway, &[]).0, 500);
    ANSWER.set(Answer::Status(404));
    assert_eq!(pi.get(&gateway, &[]).0, 404);
    // The stored ETag makes the stale answer a 304 for a client that has it.
    ANSWER.set(Answer::Down);
    let (status, cache, age, _) = pi.get(&gateway, &[("if-none-match", "\"40\"")]);
    assert_eq!((status, cache.as_deref(), age.as_deref()), (304, Some("STALE"), Some("15")));
    // A good answer replaces the stored one.
    ANSWER.set(Answer::Reading(41));
    assert_eq!(pi.get(&gateway, &[]), (200, Some("MISS".into()), None, json!({"t": 41})));
    ANSWER.set(Answer::Down);
    pi.platform.advance(12.0);
    assert_eq!(pi.get(&gateway, &[]), stale("12", 41));
}

#[test]
fn the_window_ends_stale_if_error_seconds_after_freshness() {
    let pi = Pi::new();
    let gateway = config(Some(60));
    pi.get(&gateway, &[]);
    ANSWER.set(Answer::Down);
    pi.platform.advance(69.0);
    assert_eq!(pi.get(&gateway, &[]), stale("69", 40));
    pi.platform.advance(2.0);
    let (status, cache, age, body) = pi.get(&gateway, &[]);
    assert_eq!((status, cache.as_deref(), age, body["reason"].as_str()), (502, None, None, Some("BadGateway")));
}

#[test]
fn a_client_asking_for_a_fresh_answer_gets_the_stored_one_when_the_origin_fails() {
    // As the dashboard does: `no-cache` skips a fresh copy, but a stored answer beats an error.
    let pi = Pi::new();
    let gateway = config(Some(60));
    pi.get(&gateway, &[]);
    pi.platform.advance(3.0);
    ANSWER.set(Answer::Down);
    assert_eq!(pi.get(&gateway, &[("cache-control", "no-cache")]), stale("3", 40));
    ANSWER.set(Answer::Reading(42));
    let (status, cache, _, body) = pi.get(&gateway, &[("cache-control", "no-cache")]);
    assert_eq!((status, cache.as_deref(), body), (200, Some("BYPASS"), json!({"t": 42})));
}

#[test]
fn without_stale_if_error_a_failure_is_an_error_and_entries_die_fresh() {
    let pi = Pi::new();
    let gateway = config(None);
    pi.get(&gateway, &[]);
    ANSWER.set(Answer::Down);
    assert_eq!(pi.get(&gateway, &[("cache-control", "no-cache")]).0, 502);
    pi.platform.advance(10.0);
    assert_eq!(pi.get(&gateway, &[]).0, 502);
    // The stored copy carries one number, as before stale answers existed.
    ANSWER.set(Answer::Reading(40));
    pi.get(&gateway, &[]);
    let expires = pi.platform.cached_header(&pi.platform.cache_keys()[0], "x-gateway-expires").unwrap();
    assert!(!expires.contains(' '), "{expires}");
}

#[test]
fn the_memory_tier_keeps_a_stale_entry_for_its_window_only() {
    // One gateway (one isolate): the entry is answered from memory, fresh then stale.
    let pi = Pi::new();
    let gateway = Gateway::load(config(Some(60)), &|_| None);
    let get = |headers: &[(&str, &str)]| {
        let request = MemoryPlatform::request("GET", "https://gw.example/pi/pi/system", headers, b"");
        let response = block_on(serve(&gateway, request, &pi.platform));
        (response.headers.get("x-cache-status").map(str::to_string), response.headers.get("age").map(str::to_string))
    };
    get(&[]);
    pi.platform.clear_cache(); // only the isolate's memory holds it now
    assert_eq!(get(&[]), (Some("HIT".into()), None));
    pi.platform.advance(30.0);
    ANSWER.set(Answer::Down);
    assert_eq!(get(&[]), (Some("STALE".into()), Some("30".into())));
    pi.platform.advance(41.0);
    assert_eq!(get(&[]), (None, None), "past its window: the failure is the answer");
}
