//! Data-driven dialog cases after MaxBot's rest-extension tests: a configuration, what the fake
//! origin answers, then the request that reached it and the reply (or the error) the client got.
//! They run through the whole gateway (`serve`) on the in-memory platform.

use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::http::{Body, FetchFailure};
use crate::platform::memory::{block_on, Answer, MemoryPlatform, Received};

fn gateway(rest: Value, response: &str) -> Gateway {
    let config = json!({"extensions": {"rest": rest}, "dialog": [{"condition": "true", "response": response}]});
    Gateway::load(config, &|_| None).unwrap()
}

fn json_answer(status: u16, body: Value) -> Answer {
    Ok((status, vec![("content-type", "application/json".to_string())], body.to_string().into_bytes()))
}

/// Posts `text` to the webhook; (status, body).
fn say(gateway: &Gateway, platform: &MemoryPlatform, text: &str) -> (u16, Value) {
    let body = json!({"sender": "u1", "message": text}).to_string();
    let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body.as_bytes());
    let response = block_on(serve(&Ok(gateway_ref(gateway)), request, platform));
    let bytes = match response.body {
        Body::Bytes(b) | Body::Stream(b) => b,
        Body::Empty => Vec::new(),
    };
    (response.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

// `serve` takes the isolate's `Result<Gateway>`; tests build a fresh one from the same config.
fn gateway_ref(gateway: &Gateway) -> Gateway {
    Gateway::from_config(gateway.config.clone()).unwrap()
}

fn reply_text(reply: &Value) -> String {
    reply[0]["text"].as_str().unwrap_or_default().to_string()
}

fn only_request(platform: &MemoryPlatform) -> Received {
    let sent = platform.sent();
    assert_eq!(sent.len(), 1, "expected exactly one outbound request, got {sent:#?}");
    sent[0].clone()
}

#[test]
fn every_tag_sends_its_method() {
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let gateway = gateway(json!({}), &format!("{{% {method} \"http://127.0.0.1/endpoint\" %}}test"));
        let platform = MemoryPlatform::answering_json(json!({}));
        let (status, reply) = say(&gateway, &platform, "hey bot");
        assert_eq!((status, reply_text(&reply)), (200, "test".to_string()), "{method}");
        let sent = only_request(&platform);
        assert_eq!((sent.method.as_str(), sent.url.as_str()), (method, "http://127.0.0.1/endpoint"));
    }
}

/// (rest config, template, expected method, expected URL)
#[test]
fn services_urls_and_methods() {
    let service = |base: &str| json!({"services": [{"name": "my_service", "base_url": base}]});
    let service_method =
        json!({"services": [{"name": "my_service", "base_url": "http://127.0.0.1/", "method": "put"}]});
    let cases = [
        (
            service("http://127.0.0.1/endpoint"),
            "{% set _ = rest_call(service='my_service') %}",
            "GET",
            "http://127.0.0.1/endpoint",
        ),
        (
            service("http://127.0.0.1/endpoint"),
            "{% set _ = rest_call(service='mY_seRVICe') %}",
            "GET",
            "http://127.0.0.1/endpoint",
        ),
        (service("http://127.0.0.1"), "{% GET \"my_service://endpoint\" %}", "GET", "http://127.0.0.1/endpoint"),
        (service("http://127.0.0.1"), "{% GET \"My_SERVICe://endpoint\" %}", "GET", "http://127.0.0.1/endpoint"),
        (service("http://127.0.0.1/api"), "{% GET \"my_service://endpoint\" %}", "GET", "http://127.0.0.1/endpoint"),
        (
            service("http://127.0.0.1/api/"),
            "{% GET \"my_service://endpoint\" %}",
            "GET",
            "http://127.0.0.1/api/endpoint",
        ),
        (service("http://127.0.0.1/api/"), "{% GET \"my_service://\" %}", "GET", "http://127.0.0.1/api/"),
        (
            service("http://127.0.0.1/"),
            "{% set _ = rest_call(service='my_service', url='endpoint') %}",
            "GET",
            "http://127.0.0.1/endpoint",
        ),
        (json!({}), "{% set _ = rest_call(url='http://127.0.0.1/endpoint') %}", "GET", "http://127.0.0.1/endpoint"),
        (
            json!({}),
            "{% set _ = rest_call(url='http://127.0.0.1/endpoint', body={'a': 1}) %}",
            "POST",
            "http://127.0.0.1/endpoint",
        ),
        (
            service_method.clone(),
            "{% set _ = rest_call(url='my_service://endpoint') %}",
            "PUT",
            "http://127.0.0.1/endpoint",
        ),
        (
            service_method,
            "{% set _ = rest_call(url='my_service://endpoint', method='delete') %}",
            "DELETE",
            "http://127.0.0.1/endpoint",
        ),
    ];
    for (rest, template, method, url) in cases {
        let gateway = gateway(rest, &format!("{template}test"));
        let platform = MemoryPlatform::answering_json(json!({}));
        let (status, _) = say(&gateway, &platform, "hey");
        assert_eq!(status, 200, "{template}");
        let sent = only_request(&platform);
        assert_eq!((sent.method.as_str(), sent.url.as_str()), (method, url), "{template}");
    }
}

#[test]
fn maxbot_error_messages() {
    let cases = [
        (json!({}), "{% set _ = rest_call(service='my_service') %}", "Unknown REST service \"my_service\""),
        (json!({}), "{% set _ = rest_call() %}", "URL is not specified"),
        (
            json!({}),
            "{% GET \"http://127.0.0.1/endpoint\" on_error \"try_again\" %}",
            "on_error invalid value: try_again",
        ),
        (
            json!({"services": [{"name": "my_service1", "base_url": "http://127.0.0.1"}]}),
            "{% GET \"my_service2://endpoint\" %}{{ rest.ok }}",
            "Unknown schema ('my_service2') in URL 'my_service2://endpoint'\nMust be one of: http, https, my_service1",
        ),
    ];
    for (rest, template, message) in cases {
        let gateway = gateway(rest, template);
        let platform = MemoryPlatform::answering_json(json!({}));
        let (status, body) = say(&gateway, &platform, "hey");
        assert_eq!(status, 500, "{template}");
        assert_eq!(body["message"], message, "{template}");
        assert_eq!(body["reason"], "TemplateError");
        assert!(platform.sent().is_empty(), "nothing may be sent for {template}");
    }
}

#[test]
fn headers_parameters_and_auth_merge_with_the_argument_winning() {
    let rest = json!({"services": [{"name": "my_service", "base_url": "http://127.0.0.1/",
        "headers": {"a": "a", "b": "1"}, "parameters": {"a": "a", "b": "1"}, "auth": {"user": "myuser", "password": "mypassword"}}]});
    let template = "{% GET \"my_service://endpoint?q=1\" headers {\"b\": \"2\", \"c\": \"3\"} parameters {\"b\": \"2\", \"c\": \"3\"} %}test";
    let platform = MemoryPlatform::answering_json(json!({}));
    say(&gateway(rest.clone(), template), &platform, "hey");
    let sent = only_request(&platform);
    assert_eq!(sent.url, "http://127.0.0.1/endpoint?q=1&a=a&b=2&c=3");
    assert_eq!(
        (sent.headers.get("a"), sent.headers.get("b"), sent.headers.get("c")),
        (Some("a"), Some("2"), Some("3"))
    );
    assert_eq!(sent.headers.get("authorization"), Some("Basic bXl1c2VyOm15cGFzc3dvcmQ="));

    let platform = MemoryPlatform::answering_json(json!({}));
    say(
        &gateway(
            rest,
            "{% GET \"my_service://endpoint\" auth {\"user\": \"myuser2\", \"password\": \"mypassword2\"} %}",
        ),
        &platform,
        "hey",
    );
    assert_eq!(only_request(&platform).headers.get("authorization"), Some("Basic bXl1c2VyMjpteXBhc3N3b3JkMg=="));
}

#[test]
fn timeouts_come_from_argument_service_extension_or_default() {
    let cases = [
        (json!({"services": [{"name": "s", "base_url": "http://h/"}]}), "{% GET \"s://x\" %}", 5_000),
        (json!({"timeout": 5.5, "services": [{"name": "s", "base_url": "http://h/"}]}), "{% GET \"s://x\" %}", 5_500),
        (
            json!({"timeout": {"default": 2, "read": 3}, "services": [{"name": "s", "base_url": "http://h/"}]}),
            "{% GET \"s://x\" %}",
            3_000,
        ),
        (
            json!({"timeout": 5.5, "services": [{"name": "s", "base_url": "http://h/", "timeout": 6}]}),
            "{% GET \"s://x\" %}",
            6_000,
        ),
        (
            json!({"timeout": 5.5, "services": [{"name": "s", "base_url": "http://h/", "timeout": 6}]}),
            "{% GET \"s://x\" timeout 7 %}",
            7_000,
        ),
        (
            json!({"services": [{"name": "s", "base_url": "http://h/", "timeout": 6}]}),
            "{% GET \"s://x\" timeout 0 %}",
            6_000,
        ),
    ];
    for (rest, template, timeout_ms) in cases {
        let platform = MemoryPlatform::answering_json(json!({}));
        say(&gateway(rest, template), &platform, "hey");
        assert_eq!(only_request(&platform).timeout_ms, timeout_ms, "{template}");
    }
}

#[test]
fn bodies_are_sent_as_maxbot_sends_them() {
    let cases = [
        ("{% POST \"http://h/e\" body {\"k\": \"v\"}|urlencode %}", "k=v", None),
        ("{% POST \"http://h/e\" body {\"k\": \"v\"} headers {'Content-Type': 'application/x-www-form-urlencoded'} %}", "k=v", Some("application/x-www-form-urlencoded")),
        ("{% POST \"http://h/e\"\n    body {\"k\": \"v\"}\n%}", "{\"k\": \"v\"}", Some("application/json")),
        ("{% POST \"http://h/e\" body \"k|v\" %}", "k|v", None),
    ];
    for (template, body, content_type) in cases {
        let platform = MemoryPlatform::answering_json(json!({}));
        let (status, _) = say(&gateway(json!({}), template), &platform, "hey");
        assert_eq!(status, 200, "{template}");
        let sent = only_request(&platform);
        assert_eq!(sent.body_text(), body, "{template}");
        if let Some(content_type) = content_type {
            assert_eq!(sent.headers.get("content-type"), Some(content_type), "{template}");
        }
    }
}

#[test]
fn results_as_the_template_sees_them() {
    let template = "{% GET \"http://127.0.0.1/endpoint\" on_error \"continue\" %}{{ rest.ok|tojson }}|{{ rest.status_code }}|{{ rest.json.success|tojson }}";
    let cases: Vec<(Answer, &str)> = vec![
        (json_answer(200, json!({"success": 1})), "true|200|1"),
        (Ok((200, vec![], b"not json".to_vec())), "true|200|null"),
        (json_answer(500, json!({"success": 1})), "false|500|null"),
        (json_answer(302, json!({})), "false|302|null"),
    ];
    for (answer, expected) in cases {
        let platform = MemoryPlatform::new(move |_| answer.clone());
        let (_, reply) = say(&gateway(json!({}), template), &platform, "hey");
        assert_eq!(reply_text(&reply), expected);
    }
    // Jinja2 prints Python's booleans.
    let platform = MemoryPlatform::new(|_| Err(FetchFailure::Network("connection refused".into())));
    let (_, reply) = say(
        &gateway(json!({}), "{% GET \"http://127.0.0.1/endpoint\" on_error \"continue\" %}{{ rest.ok }}"),
        &platform,
        "hey",
    );
    assert_eq!(reply_text(&reply), "False");
}

#[test]
fn break_flow_fails_the_message_after_one_request() {
    for on_error in ["", "on_error \"break_flow\""] {
        let platform = MemoryPlatform::new(|_| json_answer(500, json!({})));
        let template = format!("{{% GET \"http://127.0.0.1/endpoint\" {on_error} %}}{{{{ rest.ok }}}}");
        let (status, body) = say(&gateway(json!({}), &template), &platform, "hey");
        assert_eq!(status, 500);
        assert_eq!(body["reason"], "RestCallFailed", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("REST call failed: Server error '500 Internal Server Error'"), "{message}");
        assert_eq!(platform.sent().len(), 1);
    }
    let platform = MemoryPlatform::new(|_| Err(FetchFailure::Timeout));
    let (status, body) = say(&gateway(json!({}), "{% GET \"http://127.0.0.1/endpoint\" %}"), &platform, "hey");
    assert_eq!((status, body["reason"].as_str()), (500, Some("RestCallFailed")));
    assert!(body["message"].as_str().unwrap().contains("REST call failed:"));
}

/// MaxBot sends a dict body as `json.dumps(body)`, and a Python dict keeps the order its keys
/// were written in: the body goes out in the template's order (nested dicts too, and a dict that
/// came from an earlier answer in that answer's order), while the cache key stays order-blind.
#[test]
fn body_keys_keep_the_order_the_template_wrote_them_in() {
    let form = "headers {'Content-Type': 'application/x-www-form-urlencoded'}";
    let cases = [
        (
            r#"{% POST "http://h/e" body {"z": 1, "a": {"y": [{"k2": 2, "k1": 1}], "b": {}}, "m": "é😀\n"} %}"#
                .to_string(),
            r#"{"z": 1, "a": {"y": [{"k2": 2, "k1": 1}], "b": {}}, "m": "\u00e9\ud83d\ude00\n"}"#,
        ),
        (format!(r#"{{% POST "http://h/e" body {{"z": "1", "a": "2"}} {form} %}}"#), "z=1&a=2"),
        (
            r#"{% GET "http://h/first" %}{% POST "http://h/e" body {"then": rest.json, "after": 0} %}"#.to_string(),
            r#"{"then": {"zulu": 1, "alpha": {"yankee": 2, "bravo": 3}}, "after": 0}"#,
        ),
    ];
    for (template, body) in cases {
        let platform =
            MemoryPlatform::new(|_| Ok((200, vec![], br#"{"zulu": 1, "alpha": {"yankee": 2, "bravo": 3}}"#.to_vec())));
        let (status, _) = say(&gateway(json!({}), &template), &platform, "hey");
        assert_eq!(status, 200, "{template}");
        assert_eq!(platform.sent().last().unwrap().body_text(), body, "{template}");
    }
}

/// Templates see dicts in the order they were written, as Jinja2 does (loops, printing), and
/// `tojson` still sorts keys, as Jinja2's does.
#[test]
fn dicts_keep_their_order_and_tojson_sorts_keys() {
    let template = concat!(
        r#"{% set d = {"b": 1, "a": {"y": 2, "x": [{"k2": 1, "k1": "é"}]}} %}"#,
        "{% for k in d %}{{ k }}{% endfor %}|{{ d }}|{{ d|tojson }}|{{ d.a|tojson(indent=2) }}"
    );
    let (status, reply) = say(&gateway(json!({}), template), &MemoryPlatform::answering_json(json!({})), "hey");
    assert_eq!(status, 200);
    let expected = [
        "ba",
        "{'b': 1, 'a': {'y': 2, 'x': [{'k2': 1, 'k1': 'é'}]}}",
        r#"{"a": {"x": [{"k1": "é", "k2": 1}], "y": 2}, "b": 1}"#,
        // The indentation is the reply's: its lines are stripped.
        "{\n\"x\": [\n{\n\"k1\": \"é\",\n\"k2\": 1\n}\n],\n\"y\": 2\n}",
    ];
    assert_eq!(reply_text(&reply), expected.join("|"));
}

#[test]
fn calls_are_sequential_and_each_is_sent_once() {
    // The second call depends on the first; the POST must go out exactly once.
    let template = "{% POST \"http://h/orders\" body {\"item\": message.text} %}{% set order = rest.json.id %}\
                    {% GET \"http://h/orders/\" ~ order %}Order {{ order }} is {{ rest.json.state }}.";
    let platform = MemoryPlatform::new(|request| {
        if request.method == "POST" {
            json_answer(201, json!({"id": 42}))
        } else {
            json_answer(200, json!({"state": "baking"}))
        }
    });
    let (status, reply) = say(&gateway(json!({}), template), &platform, "pizza");
    assert_eq!((status, reply_text(&reply)), (200, "Order 42 is baking.".to_string()));
    let sent = platform.sent();
    assert_eq!(
        sent.iter().map(|r| (r.method.as_str(), r.url.as_str())).collect::<Vec<_>>(),
        vec![("POST", "http://h/orders"), ("GET", "http://h/orders/42")]
    );
    assert_eq!(sent[0].body_text(), "{\"item\": \"pizza\"}");
}

#[test]
fn a_post_is_not_repeated_when_a_later_call_fails() {
    let template = "{% POST \"http://h/pay\" body {\"eur\": 5} %}{% GET \"http://h/receipt\" %}done";
    let platform = MemoryPlatform::new(|request| {
        if request.method == "POST" {
            json_answer(200, json!({}))
        } else {
            Err(FetchFailure::Network("reset".into()))
        }
    });
    let (status, _) = say(&gateway(json!({}), template), &platform, "hey");
    assert_eq!(status, 500);
    assert_eq!(platform.sent().iter().filter(|r| r.method == "POST").count(), 1);
}

/// MaxBot's cache cases: (template of message 1, template of message 2, clock advance, answer, hit?)
#[test]
fn rest_call_cache() {
    let get = |extra: &str| format!("{{% GET \"http://127.0.0.1/endpoint\" {extra} %}}");
    let gc = 3600.0;
    let cases: Vec<(String, String, f64, u16, bool)> = vec![
        (get("cache 1"), get("cache 1"), 0.0, 200, true),
        (get("cache 1"), get("cache 1"), 2.0, 200, false),
        (get(&format!("cache {}", gc + 2.0)), get(&format!("cache {}", gc + 2.0)), gc + 1.0, 200, true),
        (get("cache 1"), get("cache 1"), gc + 1.0, 200, false),
        (
            get("cache 1 headers {\"user\": \"v1\", \"password\": \"v2\"}"),
            get("cache 1 headers {\"password\": \"v2\", \"user\": \"v1\"}"),
            0.0,
            200,
            true,
        ),
        (
            get("cache 1 parameters {\"user\": \"v1\", \"password\": \"v2\"}"),
            get("cache 1 parameters {\"password\": \"v2\", \"user\": \"v1\"}"),
            0.0,
            200,
            true,
        ),
        (
            get("cache 1 body {\"user\": \"v1\", \"password\": \"v2\"}"),
            get("cache 1 body {\"password\": \"v2\", \"user\": \"v1\"}"),
            0.0,
            200,
            true,
        ),
        (
            get("cache 1 auth {\"user\": \"v1\", \"password\": \"v2\"}"),
            get("cache 1 auth {\"password\": \"v2\", \"user\": \"v1\"}"),
            0.0,
            200,
            true,
        ),
        (
            get("cache 1 auth {\"user\": \"v1\", \"password\": \"v2\"}"),
            get("cache 1 auth {\"user\": \"v1\", \"password\": \"MISMATCH\"}"),
            0.0,
            200,
            false,
        ),
        (get("cache 1 headers {\"user\": \"v1\"}"), get("cache 1 headers {\"user\": \"v2\"}"), 0.0, 200, false),
        (get("cache 1"), "{% GET \"http://127.0.0.1/endpoinX\" cache 1 %}".into(), 0.0, 200, false),
        (get("cache 1 on_error \"continue\""), get("cache 1 on_error \"break_flow\""), 0.0, 200, true),
        (get("cache 1 timeout 1"), get("cache 1 timeout 2"), 0.0, 200, true),
        (get("cache 1"), "{% POST \"http://127.0.0.1/endpoint\" cache 1 %}".into(), 0.0, 200, false),
        (get("cache 1 on_error \"continue\""), get("cache 1 on_error \"continue\""), 0.0, 500, false),
    ];
    for (first, second, advance, status, hit) in cases {
        let config = json!({"dialog": [
            {"condition": "message.text == '1'", "response": first},
            {"condition": "true", "response": second},
        ]});
        let gateway = Gateway::load(config, &|_| None).unwrap();
        let platform = MemoryPlatform::new(move |_| json_answer(status, json!({})));
        say(&gateway, &platform, "1");
        platform.advance(advance);
        say(&gateway, &platform, "2");
        assert_eq!(platform.sent().len(), if hit { 1 } else { 2 }, "{first} / {second} after {advance} s");
    }
}

#[test]
fn service_cache_and_url_forms_share_entries() {
    let config = json!({
    "extensions": {"rest": {"services": [{"name": "localhost", "base_url": "http://127.0.0.1/", "cache": 1}]}},
    "dialog": [
        {"condition": "message.text == '1'", "response": "{% GET \"http://127.0.0.1/endpoint\" cache 1 %}"},
        {"condition": "true", "response": "{% GET \"localhost://endpoint\" %}"},
    ]});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::answering_json(json!({}));
    say(&gateway, &platform, "1");
    say(&gateway, &platform, "2");
    assert_eq!(platform.sent().len(), 1);
}

#[test]
fn dialog_nodes_context_and_rasa_messages() {
    let config = json!({"dialog": [
        {"condition": "message.text == 'hi'", "response": "Hello {{ dialog.user_id }} on {{ dialog.channel_name }}!\n\nPick:\n<button payload=\"/a\">A</button>"},
        {"condition": "metadata.lang == 'fr'", "response": "Bonjour <image url=\"https://x/y.png\"/>"},
        {"condition": "true", "response": "{{ utc_time[:4] }}"},
    ]});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::answering_json(json!({}));
    let (_, reply) = say(&gateway, &platform, "hi");
    assert_eq!(
        reply,
        json!([
            {"recipient_id": "u1", "text": "Hello u1 on rest!"},
            {"recipient_id": "u1", "text": "Pick:", "buttons": [{"title": "A", "payload": "/a"}]},
        ])
    );
    let body = json!({"sender": "u1", "message": "?", "metadata": {"lang": "fr"}}).to_string();
    let request = MemoryPlatform::request(
        "POST",
        "https://gw.example/webhooks/rest/webhook",
        &[("content-type", "text/plain")],
        body.as_bytes(),
    );
    let response = block_on(serve(&Ok(gateway_ref(&gateway)), request, &platform));
    let Body::Bytes(bytes) = response.body else { panic!() };
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        reply,
        json!([{"recipient_id": "u1", "text": "Bonjour"}, {"recipient_id": "u1", "image": "https://x/y.png"}])
    );
    let (_, reply) = say(&gateway, &platform, "what year");
    assert_eq!(reply_text(&reply), "2027");
}

#[test]
fn template_errors_are_configuration_errors_naming_the_node() {
    for (node, field) in [
        (json!({"condition": "true", "response": "{% if %}"}), "dialog[0].response"),
        (json!({"condition": "a ==", "response": "x"}), "dialog[0].condition"),
        (json!({"condition": "true", "response": "{% GET 'x' method 'post' %}"}), "dialog[0].response"),
    ] {
        let error = Gateway::load(json!({"dialog": [node]}), &|_| None).err().unwrap();
        assert_eq!(error.details["field"], field);
        assert!(error.message.starts_with(field), "{}", error.message);
    }
}

#[test]
fn limits_give_clear_errors() {
    let platform = MemoryPlatform::answering_json(json!({}));
    let (status, body) = say(&gateway(json!({}), "{% for i in range(100000) %}{{ i }}{% endfor %}"), &platform, "x");
    assert_eq!(status, 500);
    assert!(body["message"].as_str().unwrap().contains("fuel"), "{body}");
    let (status, body) =
        say(&gateway(json!({}), "{% for i in range(100) %}{{ 'x' * 1000 }}{% endfor %}"), &platform, "x");
    assert_eq!((status, body["reason"].as_str()), (500, Some("LimitExceeded")));
    let many = "{% for i in range(30) %}{% GET \"http://h/\" ~ i %}{% endfor %}";
    let (status, body) = say(&gateway(json!({}), many), &platform, "x");
    assert_eq!((status, body["reason"].as_str()), (500, Some("LimitExceeded")));
    assert_eq!(platform.sent().len(), crate::dialog::MAX_CALLS_PER_MESSAGE);
}

#[test]
fn nlu_intents_and_entities_reach_conditions() {
    let config = json!({
    "extensions": {"rest": {"services": [{"name": "rasa", "base_url": "http://rasa:5005/", "expose": "rasa", "parameters": {"token": "rt"}}]}},
    "chat": {"nlu": "rasa"},
    "dialog": [
        {"condition": "intents.top.name == 'greet' and intents.top.confidence > 0.5", "response": "Hi {{ entities.name.value }}!"},
        {"condition": "true", "response": "?"},
    ]});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform =
        MemoryPlatform::answering_json(json!({"text": "hello Ann", "intent": {"name": "greet", "confidence": 0.97},
        "entities": [{"entity": "name", "value": "Ann", "start": 6, "end": 9}]}));
    let (_, reply) = say(&gateway, &platform, "hello Ann");
    assert_eq!(reply_text(&reply), "Hi Ann!");
    let sent = only_request(&platform);
    assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", "http://rasa:5005/model/parse?token=rt"));
    assert_eq!(serde_json::from_slice::<Value>(&sent.body).unwrap()["text"], "hello Ann");
}

#[test]
fn chat_upstream_forwards_to_rasa() {
    let config = json!({
        "extensions": {"rest": {"services": [{"name": "rasa", "base_url": "http://rasa:5005/", "expose": "rasa"}]}},
        "chat": {"upstream": "rasa"}});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::answering_json(json!([{"recipient_id": "u1", "text": "from rasa"}]));
    let (status, reply) = say(&gateway, &platform, "hi");
    assert_eq!((status, reply_text(&reply)), (200, "from rasa".to_string()));
    let sent = only_request(&platform);
    assert_eq!(sent.url, "http://rasa:5005/webhooks/rest/webhook");
    assert_eq!(serde_json::from_slice::<Value>(&sent.body).unwrap()["message"], "hi");
}

#[test]
fn cached_results_are_answered_from_the_isolates_memory() {
    let config = json!({"dialog": [{"condition": "true",
        "response": "{% GET \"http://h/a\" cache 60 %}{% set a = rest.json.n %}{% GET \"http://h/b\" cache 60 %}{{ a }}+{{ rest.json.n }}"}]});
    let gateway = Ok(Gateway::load(config, &|_| None).unwrap());
    let ask = |platform: &MemoryPlatform| {
        let body = json!({"sender": "u1", "message": "x"}).to_string();
        let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body.as_bytes());
        let response = block_on(serve(&gateway, request, platform));
        let Body::Bytes(bytes) = response.body else { panic!("no body") };
        reply_text(&serde_json::from_slice(&bytes).unwrap())
    };
    let first = MemoryPlatform::answering_json(json!({"n": 1}));
    assert_eq!(ask(&first), "1+1");
    assert_eq!(first.sent().len(), 2);
    // Another platform with an empty Cache API: only the isolate's memory can answer.
    let second = MemoryPlatform::answering_json(json!({"n": 2}));
    assert_eq!(ask(&second), "1+1");
    assert!(second.sent().is_empty());
}

/// The cache key's identity text is serialized from the call's fields; it must stay the
/// `json.dumps` (sorted keys) of the identity object, byte for byte, or entries stored by earlier
/// versions are lost.
#[test]
fn cache_identity_is_the_sorted_dumps_of_the_call() {
    use crate::config::BasicAuth;
    use crate::dialog::python_json;
    use crate::dialog::rest_call::{OnError, RestCall};
    let calls = [
        RestCall {
            method: "get".into(),
            url: "http://127.0.0.1/a?x=1".into(),
            headers: Default::default(),
            parameters: Default::default(),
            body: None,
            auth: None,
            timeout_seconds: 5.0,
            on_error: OnError::BreakFlow,
            cache_seconds: Some(60.0),
        },
        RestCall {
            method: "post".into(),
            url: "https://h/é \"q\"".into(),
            headers: [("X-B".to_string(), "2".to_string()), ("A".to_string(), "ü\n".to_string())].into(),
            parameters: [("k".to_string(), "v".to_string())].into(),
            body: Some(json!({"z": [1, 2.5, null, true], "a": {"y": "ß", "b": {}}})),
            auth: Some(BasicAuth { user: "u\"".into(), password: "p😀".into() }),
            timeout_seconds: 5.0,
            on_error: OnError::Continue,
            cache_seconds: Some(1.0),
        },
    ];
    let mut identities = Vec::new();
    for call in calls {
        let auth = call.auth.as_ref().map(|a| json!([a.user, a.password]));
        let tree = json!({"m": call.method, "u": call.url, "h": call.headers, "p": call.parameters, "b": call.body, "a": auth});
        let expected = crate::cache::CacheKey::new("rest", &[python_json::dumps_value(&tree, true).as_bytes()]);
        assert_eq!(call.cache_key(), expected);
        identities.push(call.identity());
    }
    // The text itself, as every version so far wrote it: keys stored in caches depend on it.
    assert_eq!(
        identities,
        [
            r#"{"a": null, "b": null, "h": {}, "m": "get", "p": {}, "u": "http://127.0.0.1/a?x=1"}"#,
            concat!(
                r#"{"a": ["u\"", "p\ud83d\ude00"], "b": {"a": {"b": {}, "y": "\u00df"}, "z": [1, 2.5, null, true]}, "#,
                r#""h": {"A": "\u00fc\n", "X-B": "2"}, "m": "post", "p": {"k": "v"}, "u": "https://h/\u00e9 \"q\""}"#
            ),
        ]
    );
}
