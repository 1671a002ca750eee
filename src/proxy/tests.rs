//! Proxy behaviour through the whole gateway on the in-memory platform: what reaches the origin,
//! what the client gets back, caching, redaction and failures.

use serde_json::{json, Value};

use crate::gateway::{serve, test_support, Gateway};
use crate::http::{Body, FetchFailure, GatewayResponse};
use crate::platform::memory::{block_on, json_of, Answer, MemoryPlatform, MemoryStream, StreamEnd, STALLS};

const TOKEN: &str = "t0ken";

fn gateway() -> Gateway {
    let config = json!({
        "auth": {"token": TOKEN},
        "proxy": {"max_body_bytes": 1000},
        "extensions": {"rest": {"services": [
            {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference", "timeout": 30},
            {"name": "cachedmodel", "base_url": "http://127.0.0.1:8080/", "expose": "inference", "cache": 60},
            {"name": "livingroom", "base_url": "http://pi.local:8081/", "expose": "telemetry",
             "headers": {"access_token": "pi-key"}, "cache": 10, "redact": ["serial"]},
            {"name": "rasa", "base_url": "http://127.0.0.1:5005/", "expose": "rasa", "parameters": {"token": "rasa-token"}},
            {"name": "hidden", "base_url": "http://127.0.0.1:9/"}
        ]}}
    });
    Gateway::load(config, &|_| None).unwrap()
}

fn send(
    platform: &MemoryPlatform,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> GatewayResponse<MemoryStream> {
    test_support::send(&Ok(gateway()), platform, method, path, headers, body)
}

fn ok_json(body: Value) -> Answer {
    Ok((
        200,
        vec![("content-type", "application/json".into()), ("etag", "\"v1\"".into())],
        body.to_string().into_bytes(),
    ))
}

const AUTH: (&str, &str) = ("access_token", TOKEN);

#[test]
fn the_origin_gets_the_request_with_its_own_credentials_only() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({"prediction": "Cat"})));
    let response = send(
        &platform,
        "POST",
        "/models/catsdogs/upload?token=t0ken&v=2",
        &[
            ("authorization", "Bearer a.b.c"),
            ("content-type", "multipart/form-data; boundary=x"),
            ("cf-connecting-ip", "203.0.113.9"),
            ("cookie", "s=1"),
        ],
        b"--x\r\ncontent\r\n--x--",
    );
    assert_eq!(response.status, 200);
    assert_eq!(json_of(&response)["prediction"], "Cat");
    let sent = &platform.sent()[0];
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", "http://127.0.0.1:8080/upload?v=2"));
    assert_eq!(sent.body, b"--x\r\ncontent\r\n--x--");
    assert_eq!(sent.headers.get("content-type"), Some("multipart/form-data; boundary=x"));
    assert_eq!(sent.headers.get("authorization"), None);
    assert_eq!(sent.headers.get("cookie"), None);
    assert_eq!(sent.headers.get("x-forwarded-for"), Some("203.0.113.9"));
    assert_eq!(sent.headers.get("x-forwarded-proto"), Some("https"));
    assert_eq!(sent.timeout_ms, 30_000);
}

#[test]
fn telemetry_gets_the_pis_key_and_secrets_are_removed() {
    let platform = MemoryPlatform::new(|_| {
        ok_json(json!({"ssid": "pi", "wpa_passphrase": "hunter22", "serial": "X1",
        "ddns": [{"password": "p", "host": "h"}]}))
    });
    let response = send(&platform, "GET", "/pi/livingroom/ap", &[("access_token", TOKEN)], b"");
    assert_eq!(json_of(&response), json!({"ssid": "pi", "ddns": [{"host": "h"}]}));
    assert_eq!(platform.sent()[0].headers.get("access_token"), Some("pi-key"));
}

#[test]
fn rasa_routes_keep_their_path_and_get_the_rasa_token() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({"ok": 1})));
    send(&platform, "GET", "/conversations/u1/tracker?token=t0ken&include_events=ALL", &[], b"");
    assert_eq!(
        platform.sent()[0].url,
        "http://127.0.0.1:5005/conversations/u1/tracker?include_events=ALL&token=rasa-token"
    );
}

#[test]
fn unknown_unexposed_and_escaping_requests_never_leave() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({})));
    for path in [
        "/models/nope/x",
        "/models/hidden/x",
        "/pi/catsdogs/system",
        "/models/catsdogs/../hidden",
        "/models/catsdogs/%2e%2e/admin",
        "/models/catsdogs//evil.example/x",
        "/models/catsdogs/a%5c..%5cb",
        "/models/catsdogs/..;/admin",
        "/models/catsdogs/%252e%252e/admin",
    ] {
        let response = send(&platform, "GET", path, &[AUTH], b"");
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(json_of(&response)["reason"], "NotFound", "{path}");
    }
    assert!(platform.sent().is_empty());
    send(&platform, "GET", "/models/catsdogs/@evil.example/x", &[AUTH], b"");
    assert!(platform.sent()[0].url.starts_with("http://127.0.0.1:8080/"));
    send(&platform, "GET", "/models/catsdogs/v1;jsessionid=x/a..b", &[AUTH], b"");
    assert_eq!(platform.sent()[1].url, "http://127.0.0.1:8080/v1;jsessionid=x/a..b");
}

#[test]
fn authentication_comes_first() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({})));
    assert_eq!(send(&platform, "GET", "/pi/livingroom/system", &[], b"").status, 401);
    assert_eq!(send(&platform, "GET", "/pi/livingroom/system", &[("access_token", "wrong")], b"").status, 401);
    assert!(platform.sent().is_empty());
}

#[test]
fn bodies_over_the_limit_are_refused_before_sending() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({})));
    let big = vec![b'x'; 2000];
    let response = send(&platform, "POST", "/models/catsdogs/upload", &[AUTH, ("content-length", "2000")], &big);
    assert_eq!(response.status, 413);
    assert_eq!(json_of(&response)["reason"], "PayloadTooLarge");
    assert!(platform.sent().is_empty());
}

#[test]
fn a_streamed_body_without_a_declared_length_obeys_the_limit_and_is_never_sent_whole() {
    // No Content-Length (a chunked upload): the body is counted as it is sent.
    let platform = MemoryPlatform::new(|_| ok_json(json!({})));
    let response = send(&platform, "POST", "/models/catsdogs/upload", &[AUTH], &[b'x'; 1001]);
    assert_eq!(response.status, 413);
    let error = json_of(&response);
    assert_eq!((error["reason"].as_str(), error["status"].as_str()), (Some("PayloadTooLarge"), Some("failure")));
    assert_eq!(error["details"]["max_body_bytes"], 1000);
    assert!(platform.sent().is_empty(), "the origin never got the request whole, nor answered it");
    // At the limit, it streams through whole.
    let response = send(&platform, "POST", "/models/catsdogs/upload", &[AUTH], &[b'x'; 1000]);
    assert_eq!(response.status, 200);
    assert_eq!(platform.sent()[0].body.len(), 1000);
}

/// An origin that sends half of a JSON answer, then nothing more.
fn stalling(json: Value) -> MemoryPlatform {
    MemoryPlatform::new(move |_| {
        let text = json.to_string();
        let half = text.as_bytes()[..text.len() / 2].to_vec();
        Ok((200, vec![("content-type", "application/json".to_string()), (STALLS, String::new())], half))
    })
}

#[test]
fn a_redacted_answer_that_stalls_is_a_504_by_the_services_timeout() {
    // Without a deadline the read would wait for ever (the test platform would say so).
    let platform = stalling(json!({"hostname": "pi", "serial": "s3cr3t"}));
    let started = platform.clock.get();
    let response = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
    assert_eq!(response.status, 504);
    let error = json_of(&response);
    assert_eq!(error["reason"], "GatewayTimeout");
    assert!(!error.to_string().contains("s3cr3t"));
    // One deadline for the headers and the body: the service's 5 s (the extension's default).
    assert_eq!(platform.clock.get() - started, 5.0);
}

#[test]
fn a_streamed_answer_that_stalls_fails_for_the_client() {
    let platform = stalling(json!({"prediction": "Cat", "values": [0.93, 0.07]}));
    let response = send(&platform, "GET", "/models/catsdogs/predict", &[AUTH], b"");
    assert_eq!(response.status, 200);
    let Body::Stream(stream) = response.body else { panic!("a proxied answer streams") };
    assert_eq!(stream.end, StreamEnd::Fails, "cut, not left waiting nor ended as if complete");
}

#[test]
fn a_small_answer_of_declared_length_is_read_whole_by_the_deadline() {
    let answer = json!({"prediction": "Cat", "values": [0.93, 0.07]}).to_string();
    let length = answer.len().to_string();
    let platform = MemoryPlatform::new(move |_| {
        Ok((
            200,
            vec![("content-type", "application/json".into()), ("content-length", length.clone())],
            answer.clone().into_bytes(),
        ))
    });
    let response = send(&platform, "GET", "/models/catsdogs/predict", &[AUTH], b"");
    assert_eq!(response.status, 200);
    let Body::Bytes(bytes) = response.body else { panic!("a small answer is passed on as bytes") };
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap()["prediction"], "Cat");

    // One that stalls halfway is a 504 by the service's timeout, before anything reached the client.
    let stalled = json!({"prediction": "Cat"}).to_string();
    let length = stalled.len().to_string();
    let platform = MemoryPlatform::new(move |_| {
        let half = stalled.as_bytes()[..stalled.len() / 2].to_vec();
        Ok((200, vec![("content-length", length.clone()), (STALLS, String::new())], half))
    });
    let started = platform.clock.get();
    let response = send(&platform, "GET", "/models/catsdogs/predict", &[AUTH], b"");
    assert_eq!((response.status, json_of(&response)["reason"].as_str()), (504, Some("GatewayTimeout")));
    assert_eq!(platform.clock.get() - started, 30.0, "the catsdogs service's timeout");
}

#[test]
fn failing_origins_give_502_and_504() {
    for (failure, status, reason) in [
        (FetchFailure::Timeout, 504, "GatewayTimeout"),
        (FetchFailure::Network("connection refused".into()), 502, "BadGateway"),
    ] {
        let platform = MemoryPlatform::new(move |_| Err(failure.clone()));
        let response = send(&platform, "GET", "/models/catsdogs/health", &[AUTH], b"");
        assert_eq!((response.status, json_of(&response)["reason"].as_str()), (status, Some(reason)));
    }
}

#[test]
fn get_responses_are_cached_per_service_and_query() {
    let platform = MemoryPlatform::new(|request| ok_json(json!({"url": request.url})));
    let status = |path: &str, headers: &[(&str, &str)]| {
        let response = send(&platform, "GET", path, headers, b"");
        response.headers.get("x-cache-status").unwrap_or("").to_string()
    };
    assert_eq!(status("/pi/livingroom/system", &[AUTH]), "MISS");
    assert_eq!(status("/pi/livingroom/system", &[AUTH]), "HIT");
    assert_eq!(status("/pi/livingroom/system?x=1", &[AUTH]), "MISS");
    assert_eq!(status("/pi/livingroom/system", &[AUTH, ("cache-control", "no-cache")]), "BYPASS");
    assert_eq!(platform.sent().len(), 3);
    // The refreshed copy was stored.
    assert_eq!(status("/pi/livingroom/system", &[AUTH]), "HIT");
    platform.advance(11.0);
    assert_eq!(status("/pi/livingroom/system", &[AUTH]), "MISS");
    assert_eq!(status("/models/catsdogs/health", &[AUTH]), "BYPASS");
}

#[test]
fn errors_are_not_cached() {
    let platform = MemoryPlatform::new(|_| Ok((500, vec![], b"boom".to_vec())));
    for _ in 0..2 {
        let response = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
        assert_eq!(response.status, 500);
    }
    assert_eq!(platform.sent().len(), 2);
}

#[test]
fn if_none_match_is_answered_from_the_cache_or_forwarded() {
    let platform = MemoryPlatform::new(|request| {
        if request.headers.get("if-none-match") == Some("\"v1\"") {
            Ok((304, vec![("etag", "\"v1\"".into())], vec![]))
        } else {
            ok_json(json!({"model": "bytes"}))
        }
    });
    // Forwarded when nothing is cached (Rasa pulling a model through an uncached service).
    let response = send(&platform, "GET", "/models/catsdogs/model.tar.gz", &[AUTH, ("if-none-match", "\"v1\"")], b"");
    assert_eq!(response.status, 304);
    assert_eq!(platform.sent()[0].headers.get("if-none-match"), Some("\"v1\""));
    // Answered from the cache when the cached ETag matches.
    send(&platform, "GET", "/models/cachedmodel/model.tar.gz", &[AUTH], b"");
    let response =
        send(&platform, "GET", "/models/cachedmodel/model.tar.gz", &[AUTH, ("if-none-match", "\"v1\"")], b"");
    assert_eq!((response.status, response.headers.get("etag")), (304, Some("\"v1\"")));
    assert_eq!(platform.sent().len(), 2);
}

#[test]
fn identical_inference_posts_may_be_cached() {
    let platform = MemoryPlatform::new(|_| ok_json(json!({"prediction": "Dog"})));
    let post = |body: &[u8]| {
        send(&platform, "POST", "/models/cachedmodel/upload", &[AUTH], body)
            .headers
            .get("x-cache-status")
            .unwrap()
            .to_string()
    };
    assert_eq!(post(b"image-1"), "MISS");
    assert_eq!(post(b"image-1"), "HIT");
    assert_eq!(post(b"image-2"), "MISS");
    assert_eq!(platform.sent().len(), 2);
}

#[test]
fn cors_preflight_and_headers() {
    let config = json!({"cors": {"allow_origins": ["https://shop.example"]}});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::new(|_| ok_json(json!({})));
    let request = MemoryPlatform::request(
        "OPTIONS",
        "https://gw.example/webhooks/rest/webhook",
        &[("origin", "https://shop.example"), ("access-control-request-method", "POST")],
        b"",
    );
    let response = block_on(serve(&Ok(gateway), request, &platform));
    assert_eq!(response.status, 204);
    assert_eq!(response.headers.get("access-control-allow-origin"), Some("https://shop.example"));
    let allowed = response.headers.get("access-control-allow-headers").unwrap();
    for name in ["Authorization", "Content-Type", "access_token"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    let gateway = Gateway::load(json!({"cors": {"allow_origins": ["https://shop.example"]}}), &|_| None).unwrap();
    let request =
        MemoryPlatform::request("GET", "https://gw.example/health", &[("origin", "https://evil.example")], b"");
    let response = block_on(serve(&Ok(gateway), request, &platform));
    assert_eq!(response.headers.get("access-control-allow-origin"), None);
    assert!(platform.sent().is_empty());
}

#[test]
fn a_head_is_answered_from_a_stored_get_but_never_stored() {
    let platform = MemoryPlatform::new(|request| {
        let body = if request.method == "HEAD" { Vec::new() } else { br#"{"cpu": 1}"#.to_vec() };
        Ok((200, vec![("content-type", "application/json".to_string())], body))
    });
    let head = send(&platform, "HEAD", "/pi/livingroom/system", &[AUTH], b"");
    assert_eq!(head.headers.get("x-cache-status"), Some("MISS"));
    // The HEAD's empty answer was not stored as the GET's.
    let get = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
    assert_eq!((get.headers.get("x-cache-status"), json_of(&get)["cpu"].as_i64()), (Some("MISS"), Some(1)));
    let head = send(&platform, "HEAD", "/pi/livingroom/system", &[AUTH], b"");
    assert_eq!(head.headers.get("x-cache-status"), Some("HIT"));
    assert!(matches!(head.body, Body::Empty));
    assert_eq!(platform.sent().len(), 2);
}

#[test]
fn answers_that_vary_by_a_request_header_are_not_stored() {
    for (vary, stored) in [("Accept", false), ("accept-encoding, Accept-Language", false), ("Accept-Encoding", true)] {
        let platform = MemoryPlatform::new(move |_| {
            Ok((
                200,
                vec![("content-type", "application/json".to_string()), ("vary", vary.to_string())],
                b"{}".to_vec(),
            ))
        });
        send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
        let second = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
        let expected = if stored { "HIT" } else { "MISS" };
        assert_eq!(second.headers.get("x-cache-status"), Some(expected), "Vary: {vary}");
    }
}

#[test]
fn an_origins_cors_headers_never_reach_the_client() {
    let platform = MemoryPlatform::new(|_| {
        let headers = vec![
            ("content-type", "application/json".to_string()),
            ("access-control-allow-origin", "*".to_string()),
            ("Access-Control-Allow-Credentials", "true".to_string()),
            ("access-control-expose-headers", "x-secret".to_string()),
        ];
        Ok((200, headers, b"{}".to_vec()))
    });
    let response = send(&platform, "GET", "/models/catsdogs/x", &[AUTH, ("origin", "https://evil.example")], b"");
    assert_eq!(response.status, 200);
    assert!(response.headers.iter().all(|(name, _)| !name.starts_with("access-control-")), "{:?}", response.headers);
}

#[test]
fn a_forwarded_chat_message_is_never_answered_from_a_cache() {
    let config = json!({
        "extensions": {"rest": {"services": [
            {"name": "rasa", "base_url": "http://127.0.0.1:5005/", "expose": "rasa", "cache": 60}
        ]}},
        "chat": {"upstream": "rasa"}
    });
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::answering_json(json!([{"recipient_id": "u1", "text": "hi"}]));
    let gateway = Ok(gateway);
    for _ in 0..3 {
        let body = br#"{"sender": "u1", "message": "hello"}"#;
        let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body);
        let response = block_on(serve(&gateway, request, &platform));
        assert_eq!(response.status, 200);
    }
    assert_eq!(platform.sent().len(), 3);
}

#[test]
fn anonymous_callers_cannot_tell_known_services_from_unknown_ones() {
    let platform = MemoryPlatform::answering_json(json!({}));
    for path in ["/models/catsdogs/x", "/models/nosuch/x", "/pi/livingroom/system", "/pi/nosuch/system", "/status"] {
        let response = send(&platform, "GET", path, &[], b"");
        assert_eq!((response.status, json_of(&response)["reason"].as_str()), (401, Some("NotAuthenticated")), "{path}");
    }
    assert!(platform.sent().is_empty());
}

#[test]
fn redaction_fails_closed_whatever_the_content_type_says() {
    let secret = r#"{"ssid": "pi", "wpa_passphrase": "hunter22"}"#;
    for content_type in
        ["Application/JSON; charset=UTF-8", "application/vnd.raspap+json", "text/plain", "", "TEXT/HTML"]
    {
        let platform = MemoryPlatform::new(move |_| {
            let headers =
                if content_type.is_empty() { vec![] } else { vec![("content-type", content_type.to_string())] };
            Ok((200, headers, secret.as_bytes().to_vec()))
        });
        let response = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
        assert_eq!(response.status, 200, "{content_type}");
        assert_eq!(json_of(&response), json!({"ssid": "pi"}), "{content_type}");
    }
    // Not JSON, yet it may hold a secret: a 502 that says why, and nothing of the body.
    let platform =
        MemoryPlatform::new(|_| Ok((200, vec![("content-type", "text/plain".into())], b"password=hunter22".to_vec())));
    let response = send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"");
    let body = json_of(&response);
    assert_eq!((response.status, body["reason"].as_str()), (502, Some("BadGateway")));
    assert!(body["message"].as_str().unwrap().contains("not JSON"), "{body}");
    assert!(!body.to_string().contains("hunter22"));
    // An encoding the runtime could not decode is no proof of absence.
    let platform = MemoryPlatform::new(|_| {
        let headers = vec![("content-type", "application/json".into()), ("content-encoding", "x-unknown".into())];
        Ok((200, headers, vec![0x1f, 0x8b, 0x08, 0x00, 0x12, 0x34]))
    });
    assert_eq!(send(&platform, "GET", "/pi/livingroom/system", &[AUTH], b"").status, 502);
}

#[test]
fn a_network_failure_shows_no_url_query_and_no_service_secret() {
    let platform = MemoryPlatform::new(|request| {
        Err(FetchFailure::Network(format!("could not connect to {} with access_token pi-key", request.url)))
    });
    let response = send(&platform, "GET", "/pi/livingroom/system?x=1", &[AUTH], b"");
    let body = json_of(&response).to_string();
    assert_eq!(response.status, 502);
    assert!(!body.contains("pi-key") && !body.contains("x=1"), "{body}");
}

#[test]
fn paths_outside_a_services_rules_answer_404_and_are_never_sent() {
    let config = json!({
        "auth": {"token": TOKEN},
        "extensions": {"rest": {"services": [
            {"name": "livingroom", "base_url": "http://pi.local:8081/", "expose": "telemetry",
             "paths": ["/system", "/clients/*", "/dns/**"]},
            {"name": "rasa", "base_url": "http://127.0.0.1:5005/", "expose": "rasa", "paths": ["/status"]}
        ]}}
    });
    let gateway = Ok(Gateway::load(config, &|_| None).unwrap());
    let platform = MemoryPlatform::new(|_| ok_json(json!({"ok": true})));
    let get = |path: &str| {
        let request = MemoryPlatform::request("GET", &format!("https://gw.example{path}"), &[AUTH], b"");
        block_on(serve(&gateway, request, &platform))
    };
    for path in [
        "/pi/livingroom/openvpn/client",
        "/pi/livingroom/dns",
        "/pi/livingroom/system/",
        "/pi/livingroom/clients/wlan0%2F..%2F..%2Fopenvpn",
        "/pi/livingroom/clients/wlan0/x",
        "/pi/livingroom/",
        "/domain",
        "/conversations/u1/tracker",
    ] {
        let response = get(path);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(json_of(&response)["reason"], "NotFound", "{path}");
        assert!(platform.sent().is_empty(), "{path}");
    }
    for (path, url) in [
        ("/pi/livingroom/system", "http://pi.local:8081/system"),
        ("/pi/livingroom/sys%74em", "http://pi.local:8081/sys%74em"),
        ("/pi/livingroom/clients/wlan0", "http://pi.local:8081/clients/wlan0"),
        ("/pi/livingroom/dns/hosts/1", "http://pi.local:8081/dns/hosts/1"),
        ("/status", "http://127.0.0.1:5005/status"),
    ] {
        assert_eq!(get(path).status, 200, "{path}");
        assert_eq!(platform.sent().last().unwrap().url, url);
    }
    // Unauthenticated callers are refused before the path is looked at.
    let request = MemoryPlatform::request("GET", "https://gw.example/pi/livingroom/openvpn", &[], b"");
    assert_eq!(block_on(serve(&gateway, request, &platform)).status, 401);
}
