//! One origin request per cache miss, through the whole gateway: requests run together on the
//! in-memory platform while the origin is held, then the origin is let go.

use serde_json::{json, Value};

use super::MAX_SHARED_BYTES;
use crate::error::Result;
use crate::gateway::{serve, Gateway};
use crate::platform::memory::{bytes_of, run_together, Answer, MemoryPlatform};

fn gateway(stale_if_error: Option<u64>) -> Result<Gateway> {
    let mut pi =
        json!({"name": "pi", "base_url": "http://pi.local/", "expose": "inference", "cache": 10, "timeout": 1});
    if let Some(seconds) = stale_if_error {
        pi["stale_if_error"] = json!(seconds);
    }
    let plain = json!({"name": "plain", "base_url": "http://pi.local/", "expose": "inference"});
    Gateway::load(json!({"extensions": {"rest": {"services": [pi, plain]}}}), &|_| None)
}

fn reading(request: &crate::platform::memory::Received) -> Answer {
    let path = request.url.clone();
    Ok((200, vec![("content-type", "application/json".into())], json!({"path": path}).to_string().into_bytes()))
}

const NO_HEADERS: &[(&str, &str)] = &[];

/// What one client got: status, `x-cache-status`, body.
type Got = (u16, Option<String>, Value);

/// Sends `requests` (path, headers) together while the origin is held for a few rounds.
fn together(gateway: &Result<Gateway>, platform: &MemoryPlatform, requests: &[(&str, &[(&str, &str)])]) -> Vec<Got> {
    platform.origin_held.set(true);
    let futures = requests
        .iter()
        .map(|(path, headers)| {
            let request = MemoryPlatform::request("GET", &format!("https://gw.example{path}"), headers, b"");
            async move {
                let response = serve(gateway, request, platform).await;
                let body = serde_json::from_slice(&bytes_of(response.body)).unwrap_or(Value::Null);
                (response.status, response.headers.get("x-cache-status").map(str::to_string), body)
            }
        })
        .collect();
    run_together(futures, |round| platform.origin_held.set(round < 3))
}

fn miss(path: &str) -> Got {
    (200, Some("MISS".into()), json!({"path": format!("http://pi.local/{path}")}))
}

#[test]
fn identical_misses_share_one_origin_request() {
    let platform = MemoryPlatform::new(reading);
    let gateway = gateway(None);
    let got = together(&gateway, &platform, &[("/models/pi/system", NO_HEADERS); 5]);
    assert_eq!(got, vec![miss("system"); 5]);
    assert_eq!(platform.sent().len(), 1, "one request reached the origin");
    // Afterwards the stored answer serves, and nothing is left in flight.
    assert!(gateway.as_ref().unwrap().in_flight_is_empty());
    let got = together(&gateway, &platform, &[("/models/pi/system", NO_HEADERS)]);
    assert_eq!(got[0].1.as_deref(), Some("HIT"));
    assert_eq!(platform.sent().len(), 1);
}

#[test]
fn only_identical_plain_gets_of_cached_services_share() {
    let platform = MemoryPlatform::new(reading);
    let gateway = gateway(None);
    let requests: [(&str, &[(&str, &str)]); 8] = [
        ("/models/pi/system", &[]),
        ("/models/pi/system", &[]),
        ("/models/pi/system?x=1", &[]),
        ("/models/pi/other", &[]),
        ("/models/plain/system", &[]),
        ("/models/pi/system", &[("cache-control", "no-cache")]),
        ("/models/pi/system", &[("range", "bytes=0-1")]),
        ("/models/pi/system", &[("if-none-match", "\"x\"")]),
    ];
    let got = together(&gateway, &platform, &requests);
    assert!(got.iter().all(|(status, ..)| *status == 200), "{got:?}");
    assert_eq!(platform.sent().len(), 7, "only the second request waited for the first");
}

#[test]
fn a_failed_origin_is_one_failure_for_all_or_one_stale_answer_for_all() {
    let platform = MemoryPlatform::new(reading);
    platform.origin_down.set(true);
    let got = together(&gateway(None), &platform, &[("/models/pi/system", NO_HEADERS); 3]);
    assert!(got.iter().all(|(status, _, body)| *status == 502 && body["reason"] == "BadGateway"), "{got:?}");
    // (a failure sends nothing: the origin received none)
    assert_eq!(platform.sent().len(), 0);

    let platform = MemoryPlatform::new(reading);
    let gateway = gateway(Some(60));
    together(&gateway, &platform, &[("/models/pi/system", NO_HEADERS)]);
    platform.advance(11.0);
    platform.origin_down.set(true);
    let got = together(&gateway, &platform, &[("/models/pi/system", NO_HEADERS); 3]);
    assert_eq!(got, vec![(200, Some("STALE".into()), json!({"path": "http://pi.local/system"})); 3]);
}

#[test]
fn an_answer_that_may_not_be_shared_sends_each_waiting_request_on_its_own() {
    for (headers, body) in [
        (vec![("set-cookie", "session=1".to_string())], b"{}".to_vec()),
        (vec![("cache-control", "private".to_string())], b"{}".to_vec()),
        (vec![("vary", "accept-language".to_string())], b"{}".to_vec()),
        (vec![], vec![b' '; MAX_SHARED_BYTES + 1]),
    ] {
        let platform = MemoryPlatform::new(move |_| Ok((200, headers.clone(), body.clone())));
        let got = together(&gateway(None), &platform, &[("/models/pi/system", NO_HEADERS); 3]);
        assert!(got.iter().all(|(status, ..)| *status == 200));
        assert_eq!(platform.sent().len(), 3);
    }
}

#[test]
fn a_waiting_request_gives_up_after_the_services_timeout() {
    let platform = MemoryPlatform::new(reading);
    let gateway = gateway(None);
    platform.origin_held.set(true);
    let done = [std::cell::Cell::new(false), std::cell::Cell::new(false)];
    let futures = done
        .iter()
        .map(|done| {
            let request = MemoryPlatform::request("GET", "https://gw.example/models/pi/system", &[], b"");
            let gateway = &gateway;
            let platform = &platform;
            async move {
                let response = serve(gateway, request, platform).await;
                done.set(true);
                response
            }
        })
        .collect();
    let started = platform.clock.get();
    let got = run_together(futures, |_| {
        // The origin answers once the waiting request has given up.
        if done[1].get() {
            platform.origin_held.set(false);
        }
    });
    assert_eq!((got[0].status, got[1].status), (200, 504));
    let waited = platform.clock.get() - started;
    assert!((0.99..1.05).contains(&waited), "it waited {waited} s of the service's 1 s");
    assert_eq!(platform.sent().len(), 1);
}
