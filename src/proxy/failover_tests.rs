//! Retries, fallbacks and circuits of proxied requests, through the whole gateway on the in-memory
//! platform: what reached which origin, and what the client was told.

use std::cell::Cell;
use std::rc::Rc;

use serde_json::{json, Value};

use crate::error::Result;
use crate::gateway::{serve, test_support, Gateway};
use crate::http::{FetchFailure, GatewayResponse};
use crate::platform::memory::{block_on, json_of, Answer, MemoryPlatform, MemoryStream};

const TOKEN: &str = "t0ken";
const AUTH: (&str, &str) = ("access_token", TOKEN);

fn gateway() -> Result<Gateway> {
    let config = json!({
        "auth": {"token": TOKEN},
        "extensions": {"rest": {"services": [
            {"name": "model", "base_url": "http://model.local/v1/", "expose": "inference", "timeout": 2,
             "parameters": {"key": "model-key-123"}, "headers": {"x-api-key": "header-secret-456"},
             "retries": {"attempts": 3, "backoff": 0.1}, "fallback_urls": ["http://backup.local/v1/"]},
            {"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry",
             "circuit": {"failures": 2, "cooldown": 1}},
            {"name": "plain", "base_url": "http://plain.local/", "expose": "inference"}
        ]}}
    });
    Gateway::load(config, &|_| None)
}

fn send(
    gateway: &Result<Gateway>,
    platform: &MemoryPlatform,
    method: &str,
    path: &str,
) -> GatewayResponse<MemoryStream> {
    let body: &[u8] = if method == "POST" { b"{\"n\": 1}" } else { b"" };
    test_support::send(gateway, platform, method, path, &[AUTH], body)
}

fn status(code: u16) -> Answer {
    Ok((code, vec![("content-type", "application/json".into())], br#"{"detail": "origin says"}"#.to_vec()))
}

fn count(platform: &MemoryPlatform, host: &str) -> usize {
    platform.sent().iter().filter(|r| r.url.contains(host)).count()
}

fn no_secret_in(body: &Value) {
    let text = body.to_string();
    for secret in ["model-key-123", "header-secret-456", "?", "backup.local", "model.local"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[test]
fn a_get_is_retried_and_the_client_sees_only_the_success() {
    let platform = MemoryPlatform::failing_first(2, || status(503), |_| status(200));
    let response = send(&gateway(), &platform, "GET", "/models/model/health?x=1");
    assert_eq!(response.status, 200);
    assert_eq!(count(&platform, "model.local"), 3);
    assert!(platform.sent().iter().all(|r| r.url == "http://model.local/v1/health?x=1&key=model-key-123"));
}

#[test]
fn when_every_try_fails_the_error_says_how_the_last_one_did() {
    type Case = (fn() -> Answer, u16, &'static str, &'static str);
    let cases: [Case; 4] = [
        (|| status(503), 503, "ServiceUnavailable", "answered 503 Service Unavailable (6 tries)"),
        (|| status(502), 502, "BadGateway", "answered 502 Bad Gateway (6 tries)"),
        (|| Err(FetchFailure::Timeout), 504, "GatewayTimeout", "did not answer within 2000 ms (6 tries)"),
        (
            || Err(FetchFailure::Network("refused: http://u:p@backup.local/v1/x?key=model-key-123".into())),
            502,
            "BadGateway",
            "could not be reached (6 tries)",
        ),
    ];
    for (answer, code, reason, message) in cases {
        let platform = MemoryPlatform::new(move |_| answer());
        let response = send(&gateway(), &platform, "GET", "/models/model/x?q=1");
        let body = json_of(&response);
        assert_eq!((response.status, body["reason"].as_str()), (code, Some(reason)), "{body}");
        assert_eq!(body["message"], format!("The service 'model' {message}."));
        assert_eq!(body["details"]["tries"], 6);
        assert_eq!((count(&platform, "model.local"), count(&platform, "backup.local")), (3, 3));
        if let Some(error) = body["details"]["error"].as_str() {
            assert_eq!(error, "refused: http://backup.local/v1/x");
        } else {
            no_secret_in(&body);
        }
    }
}

#[test]
fn the_fallback_gets_the_same_path_query_and_credentials() {
    let platform = MemoryPlatform::new(|r| if r.url.contains("model.local") { status(504) } else { status(200) });
    let response = send(&gateway(), &platform, "GET", "/models/model/predict/a%20b?top=3");
    assert_eq!(response.status, 200);
    let last = platform.sent().pop().unwrap();
    assert_eq!(last.url, "http://backup.local/v1/predict/a%20b?top=3&key=model-key-123");
    assert_eq!(last.headers.get("x-api-key"), Some("header-secret-456"));
    assert_eq!(*platform.slept.borrow(), [100, 200]);
}

#[test]
fn a_post_is_sent_once_and_its_failure_is_the_answer() {
    let platform = MemoryPlatform::new(|_| status(503));
    let response = send(&gateway(), &platform, "POST", "/models/model/upload");
    assert_eq!(response.status, 503);
    assert_eq!(json_of(&response)["details"]["tries"], 1);
    assert_eq!(platform.sent().len(), 1);
    assert!(platform.slept.borrow().is_empty());
}

#[test]
fn an_open_circuit_answers_503_at_once_then_one_request_probes() {
    let gateway = gateway();
    let down = Rc::new(Cell::new(true));
    let origin = down.clone();
    let platform = MemoryPlatform::new(move |_| {
        if origin.get() {
            Err(FetchFailure::Network("connection refused".into()))
        } else {
            status(200)
        }
    });
    for _ in 0..2 {
        assert_eq!(send(&gateway, &platform, "GET", "/pi/pi/system").status, 502);
    }
    let refused = send(&gateway, &platform, "GET", "/pi/pi/system");
    let body = json_of(&refused);
    assert_eq!((refused.status, body["reason"].as_str()), (503, Some("ServiceUnavailable")));
    assert_eq!(refused.headers.get("retry-after"), Some("1"));
    assert!(body["message"].as_str().unwrap().starts_with("The service 'pi' is unavailable"));
    assert_eq!(platform.sent().len(), 2, "an open circuit sends nothing");
    down.set(false);
    platform.advance(1.0);
    assert_eq!(send(&gateway, &platform, "GET", "/pi/pi/system").status, 200);
    assert_eq!(send(&gateway, &platform, "GET", "/pi/pi/system").status, 200);
    assert_eq!(platform.sent().len(), 4);
    let lines: Vec<Value> = platform.logs.borrow().iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let circuit: Vec<&Value> = lines.iter().filter(|l| l["event"] == "circuit").collect();
    assert_eq!(circuit.len(), 3);
    for (line, state) in circuit.iter().zip(["opened", "probing", "closed"]) {
        assert_eq!(**line, json!({"event": "circuit", "service": "pi", "origin": "http://pi.local", "state": state}));
    }
}

#[test]
fn a_service_without_the_fields_passes_a_503_through_once() {
    let platform = MemoryPlatform::new(|_| status(503));
    let response = send(&gateway(), &platform, "GET", "/models/plain/x");
    assert_eq!(response.status, 503);
    assert_eq!(json_of(&response), json!({"detail": "origin says"}));
    assert_eq!(platform.sent().len(), 1);
    assert!(platform.logs.borrow().iter().all(|line| !line.contains("try_failed")));
}

#[test]
fn after_every_try_failed_or_with_the_circuit_open_a_stale_copy_answers() {
    let config = json!({"extensions": {"rest": {"services": [
        {"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry", "cache": 10, "stale_if_error": 3600,
         "retries": {"attempts": 2}, "circuit": {"failures": 2, "cooldown": 60}}
    ]}}});
    let gateway = Gateway::load(config, &|_| None);
    let down = Rc::new(Cell::new(false));
    let origin = down.clone();
    let platform = MemoryPlatform::new(move |_| if origin.get() { status(503) } else { status(200) });
    let get = || {
        let request = MemoryPlatform::request("GET", "https://gw.example/pi/pi/system", &[], b"");
        block_on(serve(&gateway, request, &platform))
    };
    assert_eq!(get().headers.get("x-cache-status"), Some("MISS"));
    down.set(true);
    platform.advance(20.0);
    // Both tries fail (and open the circuit): the stored answer is given, stale.
    let stale = get();
    assert_eq!((stale.status, stale.headers.get("x-cache-status")), (200, Some("STALE")));
    assert_eq!(platform.sent().len(), 3);
    // The circuit is open: nothing is sent, and the stale copy still answers.
    let short_circuited = get();
    assert_eq!((short_circuited.status, short_circuited.headers.get("x-cache-status")), (200, Some("STALE")));
    assert_eq!(platform.sent().len(), 3);
}
