//! Data-driven dialog cases after MaxBot's rest-extension tests: a configuration, what the fake
//! origin answers, then the request that reached it and the reply (or the error) the client got.
//! They run through the whole gateway (`serve`) on the in-memory platform.

use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::http::Body;
use crate::platform::memory::{block_on, MemoryPlatform, Received};

fn gateway(rest: Value, response: &str) -> Gateway {
    let config = json!({"extensions": {"rest": rest}, "dialog": [{"condition": "true", "response": response}]});
    Gateway::load(config, &|_| None).unwrap()
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

/// The cache key's identity text is written field by field; it must stay the `json.dumps` (sorted
/// keys) of the identity object, byte for byte, or entries stored by earlier versions are lost.
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
    for call in calls {
        let auth = call.auth.as_ref().map(|a| json!([a.user, a.password]));
        let tree = json!({"m": call.method, "u": call.url, "h": call.headers, "p": call.parameters, "b": call.body, "a": auth});
        let expected = crate::cache::CacheKey::new("rest", &[python_json::dumps(&tree, true).as_bytes()]);
        assert_eq!(call.cache_key(), expected);
    }
}
