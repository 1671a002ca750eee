//! The pipeline's own answers through `serve`, on the in-memory platform.

use serde_json::json;

use super::{serve, Gateway};
use crate::http::{Body, GatewayResponse};
use crate::platform::memory::{block_on, MemoryPlatform, MemoryStream};

fn send(method: &str, path: &str) -> GatewayResponse<MemoryStream> {
    let gateway = Gateway::load(json!({"auth": {"token": "t"}}), &|_| None);
    let platform = MemoryPlatform::answering_json(json!({}));
    block_on(serve(
        &gateway,
        MemoryPlatform::request(method, &format!("https://gw.example{path}"), &[], b""),
        &platform,
    ))
}

#[test]
fn a_405_names_the_methods_the_path_allows() {
    for (method, path, allow) in [
        ("POST", "/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/version", "GET, HEAD, OPTIONS"),
        ("GET", "/webhooks/rest/webhook", "POST, OPTIONS"),
        ("PUT", "/pi/livingroom/system", "GET, HEAD, OPTIONS"),
        ("GET", "/model/parse", "POST, OPTIONS"),
    ] {
        let response = send(method, path);
        assert_eq!((response.status, response.headers.get("allow")), (405, Some(allow)), "{method} {path}");
        let Body::Bytes(body) = &response.body else { panic!("an error has a JSON body") };
        let body: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(body["reason"], "MethodNotAllowed");
    }
}

#[test]
fn every_request_is_logged_but_health_probes() {
    let gateway = Gateway::load(json!({"auth": {"token": "t"}}), &|_| None);
    let platform = MemoryPlatform::answering_json(json!({}));
    for path in ["/health", "/version", "/nowhere", "/health"] {
        let request = MemoryPlatform::request("GET", &format!("https://gw.example{path}"), &[], b"");
        block_on(serve(&gateway, request, &platform));
    }
    let paths: Vec<String> = platform
        .logs
        .borrow()
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["path"].as_str().unwrap().to_string())
        .collect();
    // Health probes are still counted in analytics (analytics_tests).
    assert_eq!(paths, ["/version", "/nowhere"]);
}
