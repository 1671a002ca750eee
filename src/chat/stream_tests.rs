//! Streamed replies (`?stream=true`) through the whole gateway on the in-memory platform: what
//! goes out before a REST call is sent, the answer's head before the turn ends, errors before and
//! after the first line, and what the conversation keeps.

use serde_json::{json, Value};

use crate::gateway::{serve, serve_streamed, Gateway, Served};
use crate::http::{Body, GatewayResponse};
use crate::platform::memory::{block_on, bytes_of, MemoryPlatform, MemoryStream, StreamEnd};

type Loaded = crate::error::Result<Gateway>;

const LOOKUP: &str = "Let me look.\n\n{% GET \"api://t\" %}It is {{ rest.json.t }}.\n\nAnything else?";

fn gateway(response: &str, chat: Value) -> Loaded {
    let config = json!({
        "extensions": {"rest": {"services": [{"name": "api", "base_url": "http://api.example/"}]}},
        "chat": chat,
        "dialog": [{"condition": "true", "response": response}],
    });
    let loaded = Gateway::load(config, &|_| None);
    assert!(loaded.is_ok(), "{:?}", loaded.as_ref().err());
    loaded
}

fn message(text: &str, query: &str) -> crate::http::GatewayRequest<MemoryStream> {
    let body = json!({"sender": "u1", "message": text}).to_string();
    MemoryPlatform::request("POST", &format!("https://gw.example/webhooks/rest/webhook{query}"), &[], body.as_bytes())
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap_or(Value::Null)).collect()
}

fn texts(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|line| line["text"].as_str().unwrap_or("?")).collect()
}

fn is_event_stream(response: &GatewayResponse<MemoryStream>) -> bool {
    response.headers.get("content-type") == Some("text/event-stream")
}

#[test]
fn a_message_goes_out_before_the_call_after_it_is_sent() {
    let gateway = gateway(LOOKUP, json!({}));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    // The origin holds the call: the answer goes out with the first line, the turn still running.
    platform.origin_held.set(true);
    let Served { response, writing } = block_on(serve_streamed(&gateway, message("hi", "?stream=true"), &platform));
    assert_eq!((response.status, is_event_stream(&response)), (200, true));
    assert!(matches!(response.body, Body::Stream(MemoryStream { end: StreamEnd::Written, .. })));
    assert!(platform.sent().is_empty(), "the call was not sent yet");
    assert_eq!(*platform.written.borrow(), [(0, "{\"recipient_id\":\"u1\",\"text\":\"Let me look.\"}\n".to_string())]);
    assert!(platform.logs.borrow().is_empty(), "the request is logged when its body is complete");
    platform.origin_held.set(false);
    block_on(writing.expect("the rest of the reply"));
    // The first line was written before the origin received anything, the rest after.
    let written = platform.written.borrow().clone();
    assert_eq!(written.iter().map(|(received, _)| *received).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(texts(&lines(&platform.written_text())), ["Let me look.", "It is 21.", "Anything else?"]);
    assert!(platform.body_ended.get());
    let log: Value = serde_json::from_str(&platform.logs.borrow()[0]).unwrap();
    assert_eq!((log["status"].as_u64(), &log["error"]), (Some(200), &Value::Null));
}

#[test]
fn the_streamed_messages_are_the_json_reply_s() {
    let gateway = gateway(LOOKUP, json!({}));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    let whole = serve(&gateway, message("hi", ""), &platform);
    let whole: Value = serde_json::from_slice(&bytes_of(block_on(whole).body)).unwrap();
    block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    assert_eq!(Value::from(lines(&platform.written_text())), whole);
}

#[test]
fn a_reply_complete_before_any_call_is_answered_whole() {
    let gateway = gateway("Hello.\n\nHow are you?", json!({}));
    let platform = MemoryPlatform::answering_json(json!({}));
    let Served { response, writing } = block_on(serve_streamed(&gateway, message("hi", "?stream=true"), &platform));
    assert!(writing.is_none());
    assert_eq!((response.status, is_event_stream(&response)), (200, true));
    let text = String::from_utf8(bytes_of(response.body)).unwrap();
    assert_eq!(texts(&lines(&text)), ["Hello.", "How are you?"]);
    assert!(platform.written.borrow().is_empty());
    assert_eq!(platform.logs.borrow().len(), 1);
}

#[test]
fn a_turn_that_fails_before_its_first_line_answers_its_error() {
    let gateway = gateway("{% GET \"api://t\" %}It is {{ rest.json.t }}.", json!({}));
    let platform = MemoryPlatform::new(|_| Ok((500, vec![], b"{}".to_vec())));
    let response = block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    let body: Value = serde_json::from_slice(&bytes_of(response.body)).unwrap();
    assert_eq!((response.status, body["reason"].as_str()), (500, Some("RestCallFailed")));
    assert!(platform.written.borrow().is_empty());
}

#[test]
fn a_turn_that_fails_after_a_line_ends_the_stream_with_its_error_and_stores_nothing() {
    let gateway =
        gateway("{% set user.n = 1 %}Let me look.\n\n{% GET \"api://t\" %}It is {{ rest.json.t }}.", json!({}));
    let platform = MemoryPlatform::new(|_| Ok((500, vec![], b"{}".to_vec())));
    let response = block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    assert_eq!(response.status, 200);
    let lines = lines(&platform.written_text());
    assert_eq!(lines[0]["text"], "Let me look.");
    assert_eq!(lines.len(), 2);
    let error = &lines[1];
    assert_eq!((error["status"].as_str(), error["reason"].as_str()), (Some("failure"), Some("RestCallFailed")));
    assert_eq!(error["code"], 500);
    assert!(error["message"].as_str().unwrap().starts_with("REST call failed: "), "{error}");
    assert!(platform.body_ended.get());
    // Nothing of the turn was stored, and the conversation is free for the next one.
    assert_eq!(platform.conversations.borrow().read("u1", platform.clock.get()), None);
    assert!(!platform.conversations.borrow().in_turn("u1"));
    let log: Value = serde_json::from_str(&platform.logs.borrow()[0]).unwrap();
    assert_eq!(log["status"], 200);
    assert!(log["error"].as_str().unwrap().starts_with("REST call failed"), "{log}");
}

#[test]
fn a_streamed_turn_commits_once_with_every_message() {
    let gateway = gateway(&format!("{{% set user.visits = (user.visits or 0) + 1 %}}{LOOKUP}"), json!({}));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    let record = platform.conversations.borrow().read("u1", platform.clock.get()).expect("stored");
    let conversation = crate::chat::Conversation::from_stored(Some(&record));
    // Set once, though the turn was rendered twice (before and after its call).
    assert_eq!(conversation.state.user["visits"], 1);
    let tracker = conversation.tracker("u1");
    let bots: Vec<&str> = tracker["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "bot")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(bots, ["Let me look.", "It is 21.", "Anything else?"]);
}

#[test]
fn buttons_after_a_call_form_a_message_of_their_own() {
    let template = "Pick one.\n\n{% GET \"api://t\" %}<button payload=\"/a\">{{ rest.json.t }}</button>";
    let gateway = gateway(template, json!({"conversations": "off"}));
    let platform = MemoryPlatform::answering_json(json!({"t": "A"}));
    block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    let streamed = lines(&platform.written_text());
    assert_eq!(
        Value::from(streamed),
        json!([{"recipient_id": "u1", "text": "Pick one."},
               {"recipient_id": "u1", "text": "", "buttons": [{"title": "A", "payload": "/a"}]}])
    );
    // Not streamed, the buttons join the text before them, as before.
    let whole = block_on(serve(&gateway, message("hi", ""), &platform));
    let whole: Value = serde_json::from_slice(&bytes_of(whole.body)).unwrap();
    assert_eq!(whole[0]["buttons"][0]["payload"], "/a");
}

#[test]
fn a_forwarded_message_streams_rasa_s_own_reply() {
    let config = json!({
        "extensions": {"rest": {"services": [{"name": "rasa", "base_url": "http://rasa.example/", "expose": "rasa"}]}},
        "chat": {"upstream": "rasa"},
    });
    let gateway = Gateway::load(config, &|_| None);
    let rasa_lines = "{\"recipient_id\":\"u1\",\"text\":\"one\"}\n{\"recipient_id\":\"u1\",\"text\":\"two\"}\n";
    let platform =
        MemoryPlatform::new(move |_| Ok((200, vec![("content-type", "text/event-stream".into())], rasa_lines.into())));
    let Served { response, writing } = block_on(serve_streamed(&gateway, message("hi", "?stream=true"), &platform));
    assert!(writing.is_none(), "the proxy passes Rasa's body on as it comes");
    assert!(is_event_stream(&response));
    assert_eq!(String::from_utf8(bytes_of(response.body)).unwrap(), rasa_lines);
    assert_eq!(platform.sent()[0].url, "http://rasa.example/webhooks/rest/webhook?stream=true");
}

#[test]
fn nothing_of_a_response_past_the_output_limit_goes_out() {
    let template = "{{ 'x' * 70000 }}\n\n{% GET \"api://t\" %}It is {{ rest.json.t }}.";
    let gateway = gateway(template, json!({"conversations": "off"}));
    let platform = MemoryPlatform::answering_json(json!({"t": 21}));
    let response = block_on(serve(&gateway, message("hi", "?stream=true"), &platform));
    let body: Value = serde_json::from_slice(&bytes_of(response.body)).unwrap();
    assert_eq!((response.status, body["reason"].as_str()), (500, Some("LimitExceeded")));
    assert!(platform.written.borrow().is_empty());
}
