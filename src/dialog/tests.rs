//! What the rest cases cannot say: the dialog's cases that reach the network are data, one file
//! each under `tests/rest_cases/` (run by `crate::rest_cases`); what stays here asserts on the
//! dialog's own structures.

use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::http::{Body, FetchFailure};
use crate::platform::memory::{block_on, Answer, MemoryPlatform, MemoryStream, Received};

fn gateway(rest: Value, response: &str) -> Gateway {
    let config = json!({"extensions": {"rest": rest}, "dialog": [{"condition": "true", "response": response}]});
    Gateway::load(config, &|_| None).unwrap()
}

fn json_answer(status: u16, body: Value) -> Answer {
    Ok((status, vec![("content-type", "application/json".to_string())], body.to_string().into_bytes()))
}

/// Posts `text` to the webhook of a gateway built from `gateway`'s configuration; (status, body).
fn say(gateway: &Gateway, platform: &MemoryPlatform, text: &str) -> (u16, Value) {
    let body = json!({"sender": "u1", "message": text}).to_string();
    let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body.as_bytes());
    let isolate = Gateway::from_config(gateway.config.clone());
    let response = block_on(serve(&isolate, request, platform));
    let bytes = match response.body {
        Body::Bytes(b) | Body::Stream(MemoryStream { bytes: b, .. }) => b,
        Body::Empty => Vec::new(),
    };
    (response.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn reply_text(reply: &Value) -> String {
    reply[0]["text"].as_str().unwrap_or_default().to_string()
}

fn only_request(platform: &MemoryPlatform) -> Received {
    let sent = platform.sent();
    assert_eq!(sent.len(), 1, "expected exactly one outbound request, got {sent:#?}");
    sent[0].clone()
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
            stale_if_error: None,
            redact: vec![],
            service: None,
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
            stale_if_error: None,
            redact: vec![],
            service: None,
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

fn service_with_secrets() -> Value {
    json!({"services": [{"name": "svc", "base_url": "http://s3cret-user:s3cret-pass@127.0.0.1:8080/api/",
        "headers": {"x-api-key": "s3cret-header"}, "parameters": {"api_key": "s3cret-param"}}]})
}

/// MaxBot's urljoin lets the call's URL replace the service's base; the service's credentials
/// then stay home, and the call's own arguments still go.
#[test]
fn service_credentials_stay_on_their_origin() {
    let foreign = [
        "http://elsewhere.example/x",
        "//elsewhere.example/x",
        "http://127.0.0.1:9090/api/x",
        "https://127.0.0.1:8080/api/x",
        "http://s3cret-user:s3cret-pass@elsewhere.example/x",
    ];
    for url in foreign {
        for template in [
            format!("{{% GET \"svc://{url}\" headers {{\"x-own\": \"1\"}} parameters {{\"own\": \"1\"}} %}}"),
            format!("{{% set rest = rest_call(service='svc', url='{url}', headers={{'x-own': '1'}}, parameters={{'own': '1'}}) %}}"),
        ] {
            let platform = MemoryPlatform::answering_json(json!({}));
            let (status, _) = say(&gateway(service_with_secrets(), &template), &platform, "hey");
            assert_eq!(status, 200, "{template}");
            let sent = only_request(&platform);
            assert!(!sent.url.contains("s3cret-param") && sent.url.ends_with("/x?own=1"), "{template}: {}", sent.url);
            assert_eq!(sent.headers.get("x-api-key"), None, "{template}");
            assert_eq!(sent.headers.get("x-own"), Some("1"), "{template}");
            // The URL's own userinfo is the call's: sent as Basic auth, as httpx does.
            let userinfo = url.contains('@').then(|| crate::http::basic_authorization("s3cret-user", "s3cret-pass"));
            assert_eq!(sent.headers.get("authorization"), userinfo.as_deref(), "{template}");
        }
    }
    // The call's own auth goes anywhere; an absolute URL on the service's own origin gets everything.
    let platform = MemoryPlatform::answering_json(json!({}));
    let template = "{% GET \"svc://http://elsewhere.example/x\" auth {\"user\": \"u\", \"password\": \"p\"} %}\
                    {% GET \"svc://HTTP://127.0.0.1:8080/other\" %}";
    say(&gateway(service_with_secrets(), template), &platform, "hey");
    let sent = platform.sent();
    assert_eq!(sent[0].headers.get("authorization"), Some(crate::http::basic_authorization("u", "p").as_str()));
    assert_eq!(sent[1].url, "http://127.0.0.1:8080/other?api_key=s3cret-param");
    assert_eq!(sent[1].headers.get("x-api-key"), Some("s3cret-header"));
}

/// Every spelling of another origin that the URL parser accepts counts as another origin.
#[test]
fn other_origins_however_spelled_get_no_service_credentials() {
    use crate::dialog::rest_call::RestCall;
    let rest: crate::config::RestConfig = serde_json::from_value(service_with_secrets()).unwrap();
    for url in [
        "http:\\\\elsewhere.example\\x",
        "/\\elsewhere.example/x",
        "HTTP://ELSEWHERE.example:80/x",
        "http://127.0.0.1:80/x",
    ] {
        let args = json!({"service": "svc", "url": url});
        let call = RestCall::prepare(args.as_object().unwrap(), &rest).unwrap();
        assert!(call.headers.is_empty() && call.parameters.is_empty() && call.auth.is_none(), "{url}: {call:?}");
    }
    // The base URL's userinfo is part of the URL: a relative URL keeps it (as Basic auth), an
    // absolute one replaces it, as in MaxBot.
    for (url, userinfo) in
        [("x", true), ("/x", true), ("HTTP://127.0.0.1:8080/x", false), ("//127.0.0.1:8080/x", false)]
    {
        let args = json!({"service": "svc", "url": url});
        let call = RestCall::prepare(args.as_object().unwrap(), &rest).unwrap();
        assert!(!call.headers.is_empty() && !call.parameters.is_empty(), "{url}: {call:?}");
        assert_eq!(call.auth.is_some(), userinfo, "{url}: {call:?}");
        assert!(!call.url.contains('@'), "{url}: {call:?}");
    }
}

/// The cache key covers what is sent: a foreign call through a service is the same call as the
/// plain URL, so the second message is answered from the cache.
#[test]
fn a_foreign_call_through_a_service_has_the_plain_calls_cache_key() {
    let config = json!({
    "extensions": {"rest": service_with_secrets()},
    "dialog": [
        {"condition": "message.text == '1'", "response": "{% GET \"svc://http://elsewhere.example/x\" cache 60 %}"},
        {"condition": "true", "response": "{% GET \"http://elsewhere.example/x\" cache 60 %}"},
    ]});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let platform = MemoryPlatform::answering_json(json!({}));
    say(&gateway, &platform, "1");
    say(&gateway, &platform, "2");
    assert_eq!(platform.sent().len(), 1);
}

/// Secrets a service holds, and where each one could leak.
const SECRETS: [&str; 4] = ["s3cret-user", "s3cret-pass", "s3cret-header", "s3cret-param"];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS.iter().chain(&["s3cret-query", "s3cret-arg"]) {
        assert!(!text.contains(secret), "{what} shows {secret}: {text}");
    }
}

/// What the client got and what the log holds, checked for every secret.
fn say_and_check(rest: Value, template: &str, platform: &MemoryPlatform) -> Value {
    let (status, body) = say(&gateway(rest, template), platform, "hey");
    assert_eq!(status, 500, "{template}: {body}");
    assert_no_secret("the answer", &body.to_string());
    assert_no_secret("the log", &platform.logs.borrow().join("\n"));
    body
}

#[test]
fn a_failed_call_shows_neither_the_query_nor_the_userinfo_nor_any_secret() {
    let platform = MemoryPlatform::new(|_| json_answer(404, json!({"detail": "Not Found"})));
    let body = say_and_check(service_with_secrets(), "{% GET \"svc://missing?q=s3cret-query\" %}", &platform);
    assert_eq!(
        body["message"],
        "REST call failed: Client error '404 Not Found' for url 'http://127.0.0.1:8080/api/missing'\n\
         For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404"
    );
    // The origin itself got every credential.
    let sent = only_request(&platform);
    assert_eq!(sent.url, "http://127.0.0.1:8080/api/missing?q=s3cret-query&api_key=s3cret-param");
    assert_eq!(sent.headers.get("x-api-key"), Some("s3cret-header"));
    assert_eq!(
        sent.headers.get("authorization"),
        Some(crate::http::basic_authorization("s3cret-user", "s3cret-pass").as_str())
    );

    // The runtime's own failure text may quote the URL, or a header.
    let platform = MemoryPlatform::new(|request| {
        Err(FetchFailure::Network(format!("Fetch API cannot load: {} (x-api-key: s3cret-header)", request.url)))
    });
    let body = say_and_check(service_with_secrets(), "{% GET \"svc://x?q=s3cret-query\" %}", &platform);
    assert_eq!(
        body["message"],
        "REST call failed: Fetch API cannot load: http://127.0.0.1:8080/api/x (x-api-key: [redacted])"
    );
}

#[test]
fn call_errors_name_types_and_short_urls_never_values() {
    let platform = MemoryPlatform::answering_json(json!({}));
    let cases = [
        ("{% GET \"svc://x\" headers \"s3cret-arg\" %}", "headers must be a dict, got str"),
        ("{% GET \"svc://x\" parameters [\"s3cret-arg\"] %}", "parameters must be a dict, got list"),
        ("{% GET \"svc://x\" auth \"s3cret-arg\" %}", "auth must be a dict with 'user' and 'password', got str"),
        ("{% GET \"svc://x\" cache \"s3cret-arg\" %}", "cache must be a number of seconds, got str"),
        ("{% GET \"svc://x\" timeout \"s3cret-arg\" %}", "timeout must be a number of seconds, got str"),
        (
            "{% GET \"nope://u:s3cret-arg@h/x?k=s3cret-query\" %}",
            "Unknown schema ('nope') in URL 'nope://h/x'\nMust be one of: http, https, svc",
        ),
        (
            "{% GET \"svc://http://u:s3cret-arg@[::1/x?s3cret-query\" %}",
            "Invalid URL 'http://[::1/x': invalid IPv6 address",
        ),
        (
            "{% GET \"ftp://u:s3cret-arg@h/x?s3cret-query\" %}",
            "Unknown schema ('ftp') in URL 'ftp://h/x'\nMust be one of: http, https, svc",
        ),
    ];
    for (template, message) in cases {
        let body = say_and_check(service_with_secrets(), template, &platform);
        assert_eq!(body["message"], message, "{template}");
    }
    assert!(platform.sent().is_empty());
}

/// A template that does not compile is a configuration error; its text may hold a `${NAME}`
/// value, and the error names the node, not the text.
#[test]
fn template_errors_show_no_substituted_value() {
    for response in
        ["{% GET 'x' body {${SECRET}} %}", "{% GET ('x' ${SECRET}) %}", "{{ ${SECRET} }}", "{% if ${SECRET} %}"]
    {
        let config = json!({"dialog": [{"condition": "true", "response": response}]});
        let error = match Gateway::load(config, &|_| Some("\"s3cret-arg\" s3cret-query".to_string())) {
            Ok(_) => panic!("{response} compiled"),
            Err(error) => error,
        };
        assert_no_secret("the configuration error", &error.body().to_string());
        assert_eq!(error.details["field"], "dialog[0].response", "{response}");
    }
}

/// MaxBot's `intents`: `intents.<name>` only for the top intent, `ranking` most confident first,
/// `irrelevant` when no intent reaches the top threshold (0.5).
#[test]
fn only_the_top_intent_answers_to_its_name() {
    let config = json!({
    "extensions": {"rest": {"services": [{"name": "rasa", "base_url": "http://rasa:5005/", "expose": "rasa"}]}},
    "chat": {"nlu": "rasa"},
    "dialog": [
        {"condition": "intents.book_table", "response": "booking"},
        {"condition": "intents.greet", "response": "hello {{ intents.greet.confidence }}"},
        {"condition": "intents.irrelevant", "response": "irrelevant: {{ intents.top }} {{ intents.ranking|map(attribute='name')|join(',') }}"},
        {"condition": "true", "response": "catch-all: {{ intents.top.name }} {{ intents.book_table.confidence is undefined }} {{ intents.ranking|map(attribute='name')|join(',') }}"},
    ]});
    let gateway = Gateway::load(config, &|_| None).unwrap();
    let parse = |intent: Value, ranking: Value| {
        MemoryPlatform::answering_json(
            json!({"text": "t", "intent": intent, "intent_ranking": ranking, "entities": []}),
        )
    };
    let cases = [
        // The named intent ranked second: the catch-all answers.
        (
            parse(
                json!({"name": "order", "confidence": 0.8}),
                json!([{"name": "order", "confidence": 0.8}, {"name": "book_table", "confidence": 0.15}, {"name": "greet", "confidence": 0.05}]),
            ),
            "catch-all: order True order,book_table,greet",
        ),
        (parse(json!({"name": "greet", "confidence": 0.9}), json!([])), "hello 0.9"),
        // Below the threshold nothing is top, whatever the ranking.
        (
            parse(
                json!({"name": "greet", "confidence": 0.45}),
                json!([{"name": "book_table", "confidence": 0.4}, {"name": "greet", "confidence": 0.45}]),
            ),
            "irrelevant: None greet,book_table",
        ),
        (parse(Value::Null, json!([])), "irrelevant: None"),
        // The ranking is sorted by confidence whatever order Rasa sent it in.
        (
            parse(
                Value::Null,
                json!([{"name": "greet", "confidence": 0.2}, {"name": "book_table", "confidence": 0.7}]),
            ),
            "booking",
        ),
    ];
    for (platform, expected) in cases {
        let (status, reply) = say(&gateway, &platform, "t");
        assert_eq!((status, reply_text(&reply)), (200, expected.to_string()));
    }
}

/// A constant `true` condition answers without a render of its own, in its place among the nodes:
/// the nodes before it are still tried first, and those after it never.
#[test]
fn a_constant_true_condition_answers_in_its_place() {
    let nodes = |first: &str, catch_all: &str| {
        json!({"dialog": [
            {"condition": first, "response": "first"},
            {"condition": catch_all, "response": "catch-all"},
            {"condition": "true", "response": "never"},
        ]})
    };
    let platform = MemoryPlatform::answering_json(json!({}));
    for catch_all in ["true", " True ", "true and true", "1 == 1"] {
        for (first, expected) in [("message.text == 'hi'", "first"), ("false", "catch-all")] {
            let gateway = Gateway::load(nodes(first, catch_all), &|_| None).unwrap();
            let (status, reply) = say(&gateway, &platform, "hi");
            assert_eq!((status, reply_text(&reply)), (200, expected.to_string()), "{first} / {catch_all}");
        }
    }
    // Not the constant: a condition that only starts with it is rendered, and holds or not.
    let gateway = Gateway::load(nodes("false", "true and message.text == 'no'"), &|_| None).unwrap();
    assert_eq!(reply_text(&say(&gateway, &platform, "hi").1), "never");
}

/// A cached call answered from the isolate's memory is fresh for its own `cache` seconds, however
/// long the entry is kept (`garbage_collector_timeout`): past them the call goes to the origin again.
#[test]
fn a_call_answered_from_memory_keeps_its_own_freshness() {
    let config = gateway(
        json!({"garbage_collector_timeout": 3600, "services": [{"name": "api", "base_url": "http://api.example/"}]}),
        r#"{% GET "api://t" cache 10 %}{{ rest.json.n }}"#,
    )
    .config;
    let isolate = Gateway::from_config(config); // one isolate, one memory tier, for every message
    let platform = MemoryPlatform::answering_json(json!({"n": 1}));
    let message = || {
        let body = br#"{"message": "hi"}"#;
        let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body);
        assert_eq!(block_on(serve(&isolate, request, &platform)).status, 200);
        platform.sent().len()
    };
    assert_eq!(message(), 1);
    platform.advance(9.0);
    assert_eq!(message(), 1, "within its 10 s, from memory");
    platform.advance(2.0);
    assert_eq!(message(), 2, "past them, from the origin, though memory still holds the entry");
}
