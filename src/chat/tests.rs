//! Conversations through the whole gateway (CONTRACT section 8): state in templates, followups,
//! what a turn stores and when, and the tracker, on the in-memory platform.

use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::platform::memory::{block_on, bytes_of, MemoryPlatform};

type Loaded = crate::error::Result<Gateway>;

fn load(dialog: Value, chat: Value) -> Loaded {
    let config = json!({
        "extensions": {"rest": {"services": [{"name": "api", "base_url": "http://api.example/"}]}},
        "chat": chat,
        "dialog": dialog,
    });
    Gateway::load(config, &|_| None)
}

fn gateway(dialog: Value) -> Loaded {
    let loaded = load(dialog, json!({}));
    assert!(loaded.is_ok(), "{:?}", loaded.as_ref().err());
    loaded
}

fn send(gateway: &Loaded, platform: &MemoryPlatform, method: &str, path: &str, body: &str) -> (u16, Value) {
    let url = format!("https://gw.example{path}");
    let request = MemoryPlatform::request(method, &url, &[], body.as_bytes());
    let response = block_on(serve(gateway, request, platform));
    let bytes = bytes_of(response.body);
    (response.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The texts of the reply to `text` from `sender`, or the error body.
fn say_as(gateway: &Loaded, platform: &MemoryPlatform, sender: &str, text: &str) -> Result<Vec<String>, Value> {
    let body = json!({"sender": sender, "message": text}).to_string();
    let (status, reply) = send(gateway, platform, "POST", "/webhooks/rest/webhook", &body);
    if status != 200 {
        return Err(reply);
    }
    Ok(reply.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap_or_default().to_string()).collect())
}

fn say(gateway: &Loaded, platform: &MemoryPlatform, text: &str) -> Result<Vec<String>, Value> {
    say_as(gateway, platform, "u1", text)
}

fn tracker(gateway: &Loaded, platform: &MemoryPlatform, sender: &str) -> Value {
    let (status, body) = send(gateway, platform, "GET", &format!("/conversations/{sender}/tracker"), "");
    assert_eq!(status, 200, "{body}");
    body
}

fn node(condition: &str, response: &str) -> Value {
    json!({"condition": condition, "response": response})
}

#[test]
fn slots_and_user_are_set_read_and_deleted() {
    let gateway = gateway(json!([
        node("message.text == 'name'", "{% set user.name = 'Ann' %}{% set slots.topic = {'a': [1, 2]} %}Hi {{ user.name }}, {{ slots.topic.a[1] }}."),
        node("message.text == 'forget'", "{% delete user.name %}{% delete user.never %}{{ user.name is defined }}"),
        node("true", "{{ user.name | default('nobody') }} {{ slots.topic is defined }} {{ user | list }}"),
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    // A value set reads back in the same render, JSON values included.
    assert_eq!(say(&gateway, &platform, "name").unwrap(), ["Hi Ann, 2."]);
    // `user` is kept; `slots` ended with the turn (no followup was waiting).
    assert_eq!(say(&gateway, &platform, "?").unwrap(), ["Ann False ['name']"]);
    assert_eq!(say(&gateway, &platform, "forget").unwrap(), ["False"]);
    assert_eq!(say(&gateway, &platform, "?").unwrap(), ["nobody False []"]);
    // Another sender has a conversation of its own.
    say(&gateway, &platform, "name").unwrap();
    assert_eq!(say_as(&gateway, &platform, "u2", "?").unwrap(), ["nobody False []"]);
}

#[test]
fn followups_are_matched_first_and_keep_slots_until_the_topic_ends() {
    let gateway = gateway(json!([
        {"condition": "message.text == 'book'", "response": "{% set slots.what = 'table' %}For how many?",
         "followup": [
            {"condition": "message.text in ['1', '2', '3', '4']",
             "response": "{% set slots.people = message.text|int %}A {{ slots.what }} for {{ slots.people }}. Confirm?",
             "followup": [node("message.text == 'yes'", "Booked a {{ slots.what }} for {{ slots.people }}.")]},
            node("true", "Please say a number.")
         ]},
        node("message.text == '2'", "Two what?"),
        node("true", "{{ slots.what | default('no topic') }}"),
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    assert_eq!(say(&gateway, &platform, "book").unwrap(), ["For how many?"]);
    // The followup wins over the top-level node that also matches "2".
    assert_eq!(say(&gateway, &platform, "2").unwrap(), ["A table for 2. Confirm?"]);
    assert_eq!(say(&gateway, &platform, "yes").unwrap(), ["Booked a table for 2."]);
    // That node has no followups: the topic ended, its slots with it, and "2" is top-level again.
    assert_eq!(say(&gateway, &platform, "2").unwrap(), ["Two what?"]);
    assert_eq!(say(&gateway, &platform, "?").unwrap(), ["no topic"]);
    // The catch-all followup answers; it has no followups, so the topic ends.
    say(&gateway, &platform, "book").unwrap();
    assert_eq!(say(&gateway, &platform, "x").unwrap(), ["Please say a number."]);
    assert_eq!(say(&gateway, &platform, "?").unwrap(), ["no topic"]);
    // A followup that does not match falls through to the top level.
    let gateway_without_catch_all = self::gateway(json!([
        {"condition": "message.text == 'book'", "response": "{% set slots.what = 'table' %}How many?",
         "followup": [node("message.text == '3'", "Three.")]},
        node("true", "Top: {{ slots.what | default('none') }}"),
    ]));
    say(&gateway_without_catch_all, &platform, "book").unwrap();
    assert_eq!(say(&gateway_without_catch_all, &platform, "4").unwrap(), ["Top: table"]);
    assert_eq!(say(&gateway_without_catch_all, &platform, "4").unwrap(), ["Top: none"]);
}

#[test]
fn a_replayed_render_sets_once_and_a_post_is_sent_once() {
    let gateway = gateway(json!([node(
        "true",
        "{% set user.visits = (user.visits or 0) + 1 %}{% POST \"api://log\" body {\"n\": user.visits} %}\
         {% GET \"api://weather\" %}{% set user.visits = user.visits + 10 %}Visit {{ user.visits }}, {{ rest.json.t }}."
    )]));
    let platform = MemoryPlatform::answering_json(json!({"t": 20}));
    // Two calls: three renders, each from the turn's starting state.
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), ["Visit 11, 20."]);
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), ["Visit 22, 20."]);
    let posts: Vec<String> = platform.sent().iter().filter(|r| r.method == "POST").map(|r| r.body_text()).collect();
    assert_eq!(posts, [r#"{"n": 1}"#, r#"{"n": 12}"#]);
    assert_eq!(platform.sent().len(), 4);
}

#[test]
fn a_failed_turn_stores_nothing() {
    let gateway = gateway(json!([
        node("message.text == 'fail'", "{% set user.n = 99 %}{% POST \"api://x\" %}{% GET \"api://broken\" %}never"),
        node("message.text == 'oops'", "{% set user.n = 98 %}{{ 1 / 0 }}"),
        node("true", "{% set user.n = (user.n or 0) + 1 %}{{ user.n }}"),
    ]));
    let platform = MemoryPlatform::new(|received| {
        let status = if received.url.ends_with("/broken") { 500 } else { 200 };
        Ok((status, vec![("content-type", "application/json".to_string())], b"{}".to_vec()))
    });
    assert_eq!(say(&gateway, &platform, "count").unwrap(), ["1"]);
    let before = tracker(&gateway, &platform, "u1");
    let error = say(&gateway, &platform, "fail").unwrap_err();
    assert_eq!(error["reason"], "RestCallFailed");
    assert_eq!(say(&gateway, &platform, "oops").unwrap_err()["reason"], "TemplateError");
    // Neither turn's state nor its events were stored; the conversation is free for the next turn.
    assert_eq!(tracker(&gateway, &platform, "u1"), before);
    assert!(!platform.conversations.borrow().in_turn("u1"));
    assert_eq!(say(&gateway, &platform, "count").unwrap(), ["2"]);
    // The POST made before the failure was sent once.
    assert_eq!(platform.sent().iter().filter(|r| r.method == "POST").count(), 1);
}

#[test]
fn an_unreachable_conversation_is_a_503_and_sends_nothing() {
    let gateway = gateway(json!([node("true", "{% POST \"api://x\" %}done")]));
    let platform = MemoryPlatform::answering_json(json!({}));
    platform.conversations_unreachable.set(true);
    let error = say(&gateway, &platform, "hi").unwrap_err();
    assert_eq!((error["code"].as_u64(), error["reason"].as_str()), (Some(503), Some("ServiceUnavailable")));
    assert!(platform.sent().is_empty());
}

#[test]
fn a_turn_that_cannot_commit_is_not_answered() {
    let gateway = gateway(json!([node("true", "{% set user.n = 1 %}ok")]));
    let platform = MemoryPlatform::answering_json(json!({}));
    // Another turn of the sender holds the conversation: this one waits in a Worker; here it fails.
    let (lease, _) = platform.conversations.borrow_mut().begin("u1", 0.0).unwrap();
    assert_eq!(say(&gateway, &platform, "hi").unwrap_err()["code"], 503);
    platform.conversations.borrow_mut().abort(&lease);
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), ["ok"]);
}

#[test]
fn the_tracker_has_rasa_s_shape() {
    let gateway = gateway(json!([
        node("message.text == 'hi'", "{% set slots.a = 1 %}{% set slots.b = 'x' %}Hello!\n\n<image url=\"https://img.example/a.png\"/>"),
        {"condition": "message.text == 'menu'", "response": "{% set slots.a = 2 %}Pick:<button payload=\"/one\">One</button>",
         "followup": [node("true", "{% delete slots.a %}Picked {{ message.text }}.")]},
    ]));
    let platform = MemoryPlatform::answering_json(json!({}));
    let empty = tracker(&gateway, &platform, "nobody");
    assert_eq!((&empty["sender_id"], &empty["events"], &empty["slots"]), (&json!("nobody"), &json!([]), &json!({})));
    let now = platform.clock.get();
    say(&gateway, &platform, "hi").unwrap();
    say(&gateway, &platform, "menu").unwrap();
    let tracker = tracker(&gateway, &platform, "u1");
    assert_eq!(tracker["sender_id"], "u1");
    // The menu's followup waits: its slot is current.
    assert_eq!(tracker["slots"], json!({"a": 2}));
    assert_eq!(tracker["latest_message"], json!({"text": "menu"}));
    let events = tracker["events"].as_array().unwrap();
    let shape: Vec<Value> =
        events.iter().map(|e| json!([e["event"], e.get("text"), e.get("name"), e.get("value")])).collect();
    assert_eq!(
        shape,
        [
            json!(["user", "hi", null, null]),
            // The turn ended with no followup waiting: its slots were set, then cleared.
            json!(["bot", "Hello!", null, null]),
            json!(["bot", null, null, null]),
            json!(["user", "menu", null, null]),
            json!(["slot", null, "a", 2]),
            json!(["bot", "Pick:", null, null]),
        ]
    );
    assert_eq!(events[0]["parse_data"], json!({"text": "hi"}));
    assert_eq!(events[0]["timestamp"], json!(now));
    assert_eq!(events[2]["data"], json!({"image": "https://img.example/a.png"}));
    assert_eq!(events[5]["data"], json!({"buttons": [{"title": "One", "payload": "/one"}]}));
    say(&gateway, &platform, "one").unwrap();
    let tracker = self::tracker(&gateway, &platform, "u1");
    assert_eq!(tracker["slots"], json!({}));
    let last: Vec<Value> = tracker["events"].as_array().unwrap()[6..].iter().map(|e| e["event"].clone()).collect();
    assert_eq!(last, ["user", "slot", "bot"]);
    assert_eq!(tracker["events"][7], json!({"event": "slot", "timestamp": now, "name": "a", "value": null}));
}

#[test]
fn the_tracker_keeps_the_last_turns_and_the_retention_forgets() {
    let gateway =
        load(json!([node("true", "{% set user.n = (user.n or 0) + 1 %}{{ user.n }}")]), json!({"retention": 60}));
    let platform = MemoryPlatform::answering_json(json!({}));
    for _ in 0..super::MAX_TURNS + 5 {
        say(&gateway, &platform, "hi").unwrap();
    }
    let events = tracker(&gateway, &platform, "u1")["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2 * super::MAX_TURNS);
    assert_eq!(events.last().unwrap()["text"], json!((super::MAX_TURNS + 5).to_string()));
    platform.advance(59.0);
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), [(super::MAX_TURNS + 6).to_string()]);
    platform.advance(61.0);
    assert_eq!(tracker(&gateway, &platform, "u1")["events"], json!([]));
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), ["1"]);
}

#[test]
fn the_tracker_route_goes_to_rasa_when_it_is_exposed() {
    let config = json!({
        "extensions": {"rest": {"services": [{"name": "rasa", "base_url": "http://rasa.example/", "expose": "rasa"}]}},
        "dialog": [node("true", "hi")],
    });
    let gateway = Gateway::load(config, &|_| None);
    let platform = MemoryPlatform::answering_json(json!({"from": "rasa"}));
    let (status, body) = send(&gateway, &platform, "GET", "/conversations/u1/tracker", "");
    assert_eq!((status, body), (200, json!({"from": "rasa"})));
    assert_eq!(platform.sent()[0].url, "http://rasa.example/conversations/u1/tracker");
}

#[test]
fn the_tracker_follows_rasa_s_auth_rules() {
    let config = json!({
        "auth": {"token": "t0k", "jwt": {"secret": "s3cret-s3cret-s3cret-s3cret-s3cret"}},
        "dialog": [node("true", "{% set user.seen = true %}hi")],
    });
    let gateway = Gateway::load(config, &|_| None);
    let platform = MemoryPlatform::answering_json(json!({}));
    say(&gateway, &platform, "hi").unwrap();
    assert_eq!(send(&gateway, &platform, "GET", "/conversations/u1/tracker", "").0, 401);
    let (status, body) = send(&gateway, &platform, "GET", "/conversations/u1/tracker?token=t0k", "");
    assert_eq!((status, body["events"].as_array().map(Vec::len)), (200, Some(2)));
    // Other routes under /conversations/ still need Rasa.
    assert_eq!(send(&gateway, &platform, "POST", "/conversations/u1/tracker/events?token=t0k", "{}").0, 404);
    assert_eq!(send(&gateway, &platform, "GET", "/conversations/u1/story?token=t0k", "").0, 404);
}

#[test]
fn state_with_conversations_off_is_a_configuration_error_naming_the_field() {
    let off = json!({"conversations": "off"});
    let cases = [
        (json!([node("true", "{% set slots.a = 1 %}")]), "dialog[0].response"),
        (json!([node("true", "{% delete user.a %}")]), "dialog[0].response"),
        (json!([node("true", "hi"), node("user.name", "x")]), "dialog[1].condition"),
        (json!([node("true", "{{ slots.a }}")]), "dialog[0].response"),
        (json!([{"condition": "true", "response": "hi", "followup": [node("true", "x")]}]), "dialog[0].followup"),
    ];
    for (dialog, field) in cases {
        let error = load(dialog.clone(), off.clone()).map(|_| ()).unwrap_err();
        assert_eq!(error.details["field"], field, "{dialog}: {}", error.message);
        assert!(error.message.contains("chat.conversations"), "{}", error.message);
        assert!(load(dialog, json!({})).is_ok());
    }
    // A followup's own templates are named by their place.
    let nested = json!([{"condition": "true", "response": "hi", "followup": [node("true", "{% delete slots %}")]}]);
    let error = load(nested, json!({})).map(|_| ()).unwrap_err();
    assert_eq!(error.details["field"], "dialog[0].followup[0].response");
    for (chat, field) in
        [(json!({"conversations": "maybe"}), "chat.conversations"), (json!({"retention": 0}), "chat.retention")]
    {
        let error = load(json!([]), chat).map(|_| ()).unwrap_err();
        assert_eq!(error.details["field"], field, "{}", error.message);
    }
}

#[test]
fn with_conversations_off_nothing_is_kept() {
    let gateway = load(json!([node("true", "{{ message.text }}")]), json!({"conversations": "off"}));
    let platform = MemoryPlatform::answering_json(json!({}));
    platform.conversations_unreachable.set(true); // never asked
    assert_eq!(say(&gateway, &platform, "hi").unwrap(), ["hi"]);
    assert_eq!(send(&gateway, &platform, "GET", "/conversations/u1/tracker", "").0, 404);
}
