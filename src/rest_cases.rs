//! MaxBot's rest cases as data: every `tests/rest_cases/*.json` is one case (a configuration, the
//! messages sent, the origin's answers, the requests that must reach the origin and the replies the
//! client must get), run through the whole gateway on the in-memory platform by the one test below.
//! The format is described in `tests/rest_cases/README.md`; a new case is a new file.
//!
//! Every failing case is reported, by file name, with what differs and what happened.
//! `REST_CASE=name` (the file name, `.json` optional; several separated by commas) runs only those.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::gateway::{serve, Gateway};
use crate::http::{Body, FetchFailure};
use crate::platform::memory::{block_on, Answer, MemoryPlatform, MemoryStream, Received, STALLS};

const WEBHOOK: &str = "https://gw.example/webhooks/rest/webhook";

/// One case file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    /// The whole gateway configuration ...
    config: Option<Value>,
    /// ... or the shorthand: `extensions.rest` and one dialog node that always answers `template`.
    rest: Option<Value>,
    template: Option<String>,
    /// One gateway (one isolate, one memory cache) serves every message; by default each message
    /// gets a freshly loaded one, so only the platform's Cache API outlives a message.
    #[serde(default)]
    same_isolate: bool,
    messages: Vec<Message>,
    /// One answer for every request, or a list answered in order (a request past its end fails the case).
    #[serde(default)]
    origin: Origin,
    expected: Expected,
}

/// A chat message posted to the webhook; a bare string is a message with that text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageFields {
    text: String,
    #[serde(default = "default_sender")]
    sender: String,
    metadata: Option<Value>,
    /// Headers of the webhook request.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The platform clock moves on this much before the message is sent.
    #[serde(default)]
    advance_seconds: f64,
    /// The message is served on a new platform (an empty Cache API; the clock and the origin carry on).
    #[serde(default)]
    empty_cache_api: bool,
}

struct Message(MessageFields);

fn default_sender() -> String {
    "u1".into()
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = match Value::deserialize(deserializer)? {
            Value::String(text) => json!({ "text": text }),
            other => other,
        };
        serde_json::from_value(fields).map(Message).map_err(D::Error::custom)
    }
}

/// What the fake origin answers: a response, or a failure to fetch.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(deny_unknown_fields)]
struct OriginAnswer {
    /// 200 unless given.
    status: Option<u16>,
    /// Replace the default headers (`content-type: application/json` with `json`, none otherwise).
    headers: Option<BTreeMap<String, String>>,
    json: Option<Value>,
    text: Option<String>,
    failure: Option<Failure>,
    /// The network failure's message.
    message: Option<String>,
    /// The origin sends the body, then goes silent without ending it.
    #[serde(default)]
    stalls: bool,
}

#[derive(Deserialize, Clone, Copy, Debug)]
#[serde(rename_all = "snake_case")]
enum Failure {
    Timeout,
    Network,
    BodyTooLarge,
}

#[derive(Clone)]
enum Origin {
    Every(OriginAnswer),
    InOrder(Vec<OriginAnswer>),
}

impl Default for Origin {
    /// 200 with the JSON `{}`.
    fn default() -> Self {
        Origin::Every(OriginAnswer { json: Some(json!({})), ..Default::default() })
    }
}

impl<'de> Deserialize<'de> for Origin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Array(answers) => {
                let answers = answers.into_iter().map(serde_json::from_value).collect::<Result<_, _>>();
                answers.map(Origin::InOrder).map_err(D::Error::custom)
            }
            answer => serde_json::from_value(answer).map(Origin::Every).map_err(D::Error::custom),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    /// Every request that reached the origin, in order.
    requests: Vec<ExpectedRequest>,
    /// One per message.
    replies: Vec<ExpectedReply>,
}

/// Only the fields given are compared.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRequest {
    /// The index of the message whose turn sent it.
    message: Option<usize>,
    method: Option<String>,
    url: Option<String>,
    /// Looked up case-insensitively; `null` means the header must be absent.
    #[serde(default)]
    headers: BTreeMap<String, Option<String>>,
    /// The body as text, exactly.
    body: Option<String>,
    /// The body parsed as JSON, exactly.
    json: Option<Value>,
    timeout_ms: Option<u64>,
}

/// Only the fields given are compared.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedReply {
    status: Option<u16>,
    /// The whole reply body, exactly.
    json: Option<Value>,
    /// The `text` of the reply's first message.
    text: Option<String>,
    /// The error body's fields.
    reason: Option<String>,
    message: Option<String>,
    message_starts_with: Option<String>,
    message_contains: Option<String>,
    details: Option<Value>,
}

impl OriginAnswer {
    fn answer(&self) -> Answer {
        if let Some(failure) = self.failure {
            return Err(match failure {
                Failure::Timeout => FetchFailure::Timeout,
                Failure::Network => {
                    FetchFailure::Network(self.message.clone().unwrap_or_else(|| "connection refused".into()))
                }
                Failure::BodyTooLarge => FetchFailure::BodyTooLarge,
            });
        }
        let (mut headers, body) = match (&self.json, &self.text) {
            (Some(json), _) => (vec![("content-type", "application/json".to_string())], json.to_string().into_bytes()),
            (None, Some(text)) => (Vec::new(), text.clone().into_bytes()),
            (None, None) => (Vec::new(), Vec::new()),
        };
        if let Some(given) = &self.headers {
            // The platform's answers name their headers with static strings; a case's few names live
            // as long as the test.
            headers = given.iter().map(|(name, value)| (&*name.clone().leak(), value.clone())).collect();
        }
        if self.stalls {
            headers.push((STALLS, String::new()));
        }
        Ok((self.status.unwrap_or(200), headers, body))
    }

    fn format_errors(&self, at: &str, errors: &mut Vec<String>) {
        if self.json.is_some() && self.text.is_some() {
            errors.push(format!("{at}: `json` and `text` exclude each other"));
        }
        let response = self.status.is_some() || self.headers.is_some() || self.json.is_some() || self.text.is_some();
        if self.failure.is_some() && response {
            errors.push(format!("{at}: a `failure` has no status, headers or body"));
        }
        if self.message.is_some() && !matches!(self.failure, Some(Failure::Network)) {
            errors.push(format!("{at}: `message` belongs to a network failure"));
        }
    }
}

impl Case {
    fn config(&self) -> Value {
        match (&self.config, &self.template) {
            (Some(config), _) => config.clone(),
            (None, template) => json!({
                "extensions": {"rest": self.rest.clone().unwrap_or(json!({}))},
                "dialog": [{"condition": "true", "response": template.clone().unwrap_or_default()}],
            }),
        }
    }

    /// Mistakes in the case itself (the file parsed, but does not say one clear thing).
    fn format_errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match (&self.config, &self.rest, &self.template) {
            (Some(_), None, None) | (None, _, Some(_)) => {}
            (Some(_), _, _) => errors.push("`config` excludes the shorthand `rest` and `template`".into()),
            (None, _, None) => errors.push("give `config`, or `template` (and `rest`)".into()),
        }
        if self.description.trim().is_empty() {
            errors.push("`description` is empty".into());
        }
        if self.messages.is_empty() {
            errors.push("`messages` is empty".into());
        }
        if self.expected.replies.len() != self.messages.len() {
            errors.push(format!(
                "`expected.replies` has {} entries for {} messages (one per message)",
                self.expected.replies.len(),
                self.messages.len()
            ));
        }
        match &self.origin {
            Origin::Every(answer) => answer.format_errors("origin", &mut errors),
            Origin::InOrder(answers) => {
                for (index, answer) in answers.iter().enumerate() {
                    answer.format_errors(&format!("origin[{index}]"), &mut errors);
                }
            }
        }
        for (index, reply) in self.expected.replies.iter().enumerate() {
            let error_fields = [&reply.reason, &reply.message, &reply.message_starts_with, &reply.message_contains];
            let others = reply.text.is_some() || reply.details.is_some() || error_fields.iter().any(|f| f.is_some());
            if reply.json.is_some() && others {
                errors.push(format!("expected.replies[{index}]: `json` is the whole body; give no other body field"));
            }
        }
        errors
    }
}

/// What a case did.
#[derive(Default)]
struct Run {
    /// (index of the message, request) in the order they reached the origin.
    requests: Vec<(usize, Received)>,
    /// (status, body) per message.
    replies: Vec<(u16, Vec<u8>)>,
    /// Requests the case had no answer for.
    unanswered: Vec<String>,
}

fn run(case: &Case) -> Run {
    let config = case.config();
    let origin = Rc::new(case.origin.clone());
    let answered = Rc::new(Cell::new(0usize));
    let unanswered = Rc::new(RefCell::new(Vec::new()));
    let new_platform = || {
        let (origin, answered, unanswered) = (origin.clone(), answered.clone(), unanswered.clone());
        MemoryPlatform::new(move |request: &Received| {
            let index = answered.get();
            answered.set(index + 1);
            match &*origin {
                Origin::Every(answer) => answer.answer(),
                Origin::InOrder(answers) => answers.get(index).map(OriginAnswer::answer).unwrap_or_else(|| {
                    let request = format!("request {index} ({} {})", request.method, request.url);
                    unanswered.borrow_mut().push(format!("origin: no answer for {request}"));
                    Err(FetchFailure::Network("the case gives no answer for this request".into()))
                }),
            }
        })
    };
    let load = || Gateway::load(config.clone(), &|_| None);
    let shared = case.same_isolate.then(load);
    let mut platform = new_platform();
    let mut done = Run::default();
    for (index, Message(message)) in case.messages.iter().enumerate() {
        if message.empty_cache_api {
            let fresh = new_platform();
            fresh.clock.set(platform.clock.get());
            platform = fresh;
        }
        platform.advance(message.advance_seconds);
        let mut body = json!({"sender": message.sender, "message": message.text});
        if let Some(metadata) = &message.metadata {
            body["metadata"] = metadata.clone();
        }
        let body = body.to_string();
        let headers: Vec<(&str, &str)> = message.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let request = MemoryPlatform::request("POST", WEBHOOK, &headers, body.as_bytes());
        let fresh;
        let gateway = match &shared {
            Some(gateway) => gateway,
            None => {
                fresh = load();
                &fresh
            }
        };
        let before = platform.sent().len();
        let response = block_on(serve(gateway, request, &platform));
        done.requests.extend(platform.sent().into_iter().skip(before).map(|request| (index, request)));
        let bytes = match response.body {
            Body::Bytes(bytes) | Body::Stream(MemoryStream { bytes, .. }) => bytes,
            Body::Empty => Vec::new(),
        };
        done.replies.push((response.status, bytes));
    }
    done.unanswered = unanswered.take();
    done
}

/// `expected` against `got`, path by path: (path, what differs).
fn json_diff(path: &str, expected: &Value, got: &Value, out: &mut Vec<String>) {
    match (expected, got) {
        (Value::Object(expected), Value::Object(got)) => {
            for (key, value) in expected {
                match got.get(key) {
                    Some(found) => json_diff(&format!("{path}.{key}"), value, found, out),
                    None => out.push(format!("{path}.{key}: expected {value}, missing")),
                }
            }
            for (key, value) in got.iter().filter(|(key, _)| !expected.contains_key(*key)) {
                out.push(format!("{path}.{key}: not expected, got {value}"));
            }
        }
        (Value::Array(expected), Value::Array(got)) => {
            for (index, (value, found)) in expected.iter().zip(got).enumerate() {
                json_diff(&format!("{path}[{index}]"), value, found, out);
            }
            for (index, value) in expected.iter().enumerate().skip(got.len()) {
                out.push(format!("{path}[{index}]: expected {value}, missing"));
            }
            for (index, value) in got.iter().enumerate().skip(expected.len()) {
                out.push(format!("{path}[{index}]: not expected, got {value}"));
            }
        }
        _ if expected != got => out.push(format!("{path}: expected {expected}, got {got}")),
        _ => {}
    }
}

fn same<T: PartialEq + std::fmt::Debug>(path: String, expected: Option<T>, got: T, out: &mut Vec<String>) {
    if let Some(expected) = expected {
        if expected != got {
            out.push(format!("{path}: expected {expected:?}, got {got:?}"));
        }
    }
}

fn shown(text: Option<&str>) -> String {
    text.map_or("none".to_string(), |text| format!("{text:?}"))
}

/// `same` for text that may be absent ("none" when it is).
fn same_text(path: String, expected: Option<&str>, got: Option<&str>, out: &mut Vec<String>) {
    if let Some(expected) = expected {
        if Some(expected) != got {
            out.push(format!("{path}: expected {expected:?}, got {}", shown(got)));
        }
    }
}

fn check_request(at: &str, expected: &ExpectedRequest, (message, got): &(usize, Received), out: &mut Vec<String>) {
    same(format!("{at}.message"), expected.message, *message, out);
    same(format!("{at}.method"), expected.method.as_deref(), got.method.as_str(), out);
    same(format!("{at}.url"), expected.url.as_deref(), got.url.as_str(), out);
    for (name, value) in &expected.headers {
        match value {
            Some(value) => same_text(format!("{at}.headers.{name}"), Some(value), got.headers.get(name), out),
            None => {
                if let Some(found) = got.headers.get(name) {
                    out.push(format!("{at}.headers.{name}: expected none, got {found:?}"));
                }
            }
        }
    }
    same(format!("{at}.body"), expected.body.as_deref(), got.body_text().as_str(), out);
    if let Some(json) = &expected.json {
        match serde_json::from_slice::<Value>(&got.body) {
            Ok(body) => json_diff(&format!("{at}.json"), json, &body, out),
            Err(_) => out.push(format!("{at}.json: the body is not JSON: {:?}", got.body_text())),
        }
    }
    same(format!("{at}.timeout_ms"), expected.timeout_ms, got.timeout_ms, out);
}

fn check_reply(at: &str, expected: &ExpectedReply, (status, bytes): &(u16, Vec<u8>), out: &mut Vec<String>) {
    same(format!("{at}.status"), expected.status, *status, out);
    let body: Option<Value> = serde_json::from_slice(bytes).ok();
    let wants_body = expected.json.is_some()
        || expected.text.is_some()
        || expected.reason.is_some()
        || expected.message.is_some()
        || expected.message_starts_with.is_some()
        || expected.message_contains.is_some()
        || expected.details.is_some();
    let Some(body) = body.filter(|_| wants_body) else {
        if wants_body {
            out.push(format!("{at}: the body is not JSON: {:?}", String::from_utf8_lossy(bytes)));
        }
        return;
    };
    if let Some(json) = &expected.json {
        json_diff(&format!("{at}.json"), json, &body, out);
    }
    let text = body.pointer("/0/text").and_then(Value::as_str);
    same_text(format!("{at}.text"), expected.text.as_deref(), text, out);
    same_text(format!("{at}.reason"), expected.reason.as_deref(), body["reason"].as_str(), out);
    let message = body["message"].as_str();
    same_text(format!("{at}.message"), expected.message.as_deref(), message, out);
    if let Some(start) = &expected.message_starts_with {
        if !message.is_some_and(|m| m.starts_with(start.as_str())) {
            out.push(format!("{at}.message: expected to start with {start:?}, got {}", shown(message)));
        }
    }
    if let Some(part) = &expected.message_contains {
        if !message.is_some_and(|m| m.contains(part.as_str())) {
            out.push(format!("{at}.message: expected to contain {part:?}, got {}", shown(message)));
        }
    }
    if let Some(details) = &expected.details {
        json_diff(&format!("{at}.details"), details, &body["details"], out);
    }
}

/// Every difference between what the case expects and what happened.
fn differences(case: &Case, done: &Run) -> Vec<String> {
    let mut out = done.unanswered.clone();
    let (expected, got) = (&case.expected.requests, &done.requests);
    if expected.len() != got.len() {
        out.push(format!("requests: expected {}, got {}", expected.len(), got.len()));
    }
    for (index, (expected, got)) in expected.iter().zip(got).enumerate() {
        check_request(&format!("requests[{index}]"), expected, got, &mut out);
    }
    for (index, (expected, got)) in case.expected.replies.iter().zip(&done.replies).enumerate() {
        check_reply(&format!("replies[{index}]"), expected, got, &mut out);
    }
    out
}

/// The requests and replies of a run, for a failure report.
fn happened(done: &Run) -> String {
    let mut text = String::new();
    for (index, (message, request)) in done.requests.iter().enumerate() {
        let (method, url, timeout) = (&request.method, &request.url, request.timeout_ms);
        let _ = write!(text, "\n    request {index} (message {message}): {method} {url} (timeout {timeout} ms)");
        let headers: Vec<String> = request.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
        if !headers.is_empty() {
            let _ = write!(text, "\n      headers: {}", headers.join(", "));
        }
        if !request.body.is_empty() {
            let _ = write!(text, "\n      body: {}", request.body_text());
        }
    }
    if done.requests.is_empty() {
        text.push_str("\n    no request reached the origin");
    }
    for (index, (status, body)) in done.replies.iter().enumerate() {
        let _ = write!(text, "\n    reply {index}: {status} {}", String::from_utf8_lossy(body));
    }
    text
}

fn case_files(directory: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(directory).unwrap_or_else(|e| panic!("{}: {e}", directory.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// Runs one case file: `Err` with the report of what is wrong.
fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("  unreadable: {e}"))?;
    let case: Case = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
        .map_err(|e| format!("  not a case: {e}"))?;
    let format_errors = case.format_errors();
    if !format_errors.is_empty() {
        return Err(format_errors.iter().map(|e| format!("  not a case: {e}")).collect::<Vec<_>>().join("\n"));
    }
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&case))).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        format!("  {}\n  panicked: {message}", case.description)
    })?;
    let differences = differences(&case, &done);
    if differences.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = differences.iter().map(|d| format!("  {d}")).collect();
    Err(format!("  {}\n{}\n  what happened:{}", case.description, lines.join("\n"), happened(&done)))
}

#[test]
fn rest_cases() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rest_cases");
    let mut files = case_files(&directory);
    assert!(!files.is_empty(), "no rest cases in {}", directory.display());
    let name = |path: &Path| path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    if let Some(only) = std::env::var("REST_CASE").ok().filter(|only| !only.trim().is_empty()) {
        let wanted: Vec<&str> = only.split(',').map(|n| n.trim().trim_end_matches(".json")).collect();
        let unknown: Vec<&&str> = wanted.iter().filter(|w| !files.iter().any(|f| name(f) == **w)).collect();
        assert!(unknown.is_empty(), "REST_CASE names no case: {unknown:?}");
        files.retain(|file| wanted.contains(&name(file).as_str()));
    }
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| run_file(file).err().map(|report| format!("--- {}.json\n{report}", name(file))))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rest cases failed (tests/rest_cases/README.md describes the format):\n\n{}\n",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
