//! Sends a prepared [`RestCall`] through the platform's Fetch, with MaxBot's caching in the Cache
//! API: the key is the call's identity, the entry records when it was made, and the caller's
//! `cache` seconds decide whether it is still fresh. Entries live for the longer of that (plus the
//! service's `stale_if_error`, during which an expired result answers when the origin fails) and
//! `garbage_collector_timeout`. Only successful JSON results are stored.
//!
//! A call's timeout covers its whole exchange, the answer's body included, and never reaches past
//! the message's deadline: a call cut short by that deadline ends the message, whatever its
//! `on_error`.
//!
//! A call to a service with retries, fallbacks or a circuit goes through [`resilience`]: a GET is
//! tried again and moved to a fallback as the service says, a POST is still sent exactly once.

use std::sync::Arc;

use minijinja::Value;
use serde_json::{json, Value as Json};

use super::prepared::PreparedCall;
use super::replay::{CallError, CallExecutor, Recall};
use super::rest_call::{is_cacheable, rest_result, RestCall, RestOutcome};
use crate::cache::TieredCache;
use crate::http::{basic_authorization, Body, BodyError, FetchFailure, GatewayResponse, Headers, OutboundRequest};
use crate::platform::{Deadline, Platform};
use crate::resilience::{self, Bounds, Resilience, RetryBudget, Sent, TryFailure};

/// Largest answer read for a template.
pub const MAX_REST_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// The result in a stored entry, when it is at most `fresh_for` seconds old: MaxBot lets each
/// caller's `cache` decide freshness, whatever the entry was stored with.
fn fresh_result(entry: &Json, fresh_for: f64, now: f64) -> Option<&Json> {
    is_fresh(created_at(entry)?, fresh_for, now).then(|| &entry["result"])
}

/// When a stored entry's call was made (seconds since the Unix epoch).
fn created_at(entry: &Json) -> Option<f64> {
    entry.get("created")?.as_f64()
}

fn is_fresh(created: f64, fresh_for: f64, now: f64) -> bool {
    now <= created + fresh_for
}

/// A stored result found for a call.
enum Stored {
    Fresh(Json),
    /// Expired, within the service's `stale_if_error`: it answers if the origin fails.
    Stale(Json),
}

/// How a call's exchange with its origin (or origins) went.
struct Exchange {
    outcome: RestOutcome,
    /// The URL of the last try, when that was another than the call's (a fallback's).
    last_url: Option<String>,
    /// The message's deadline, not the call's own timeout, cut the last try short.
    out_of_time: bool,
}

pub struct PlatformExecutor<'a, P: Platform> {
    pub platform: &'a P,
    pub cache: &'a TieredCache,
    pub garbage_collector_seconds: f64,
    /// The message's deadline.
    pub deadline: Deadline,
    pub resilience: &'a Resilience,
    /// The extra tries the message's calls may still make, all together.
    pub budget: RetryBudget,
}

impl<P: Platform> CallExecutor for PlatformExecutor<'_, P> {
    async fn execute(&self, PreparedCall { call, key }: &PreparedCall) -> Result<Json, CallError> {
        let url = call.final_url().map_err(CallError::Failed)?;
        let mut stale = None;
        if let Some(fresh_for) = call.cache_seconds {
            match self.cached(key.as_str(), fresh_for, call.stale_if_error).await {
                Some(Stored::Fresh(hit)) => return Ok(hit),
                Some(Stored::Stale(result)) => stale = Some(result),
                None => {}
            }
        }
        let now = self.platform.now();
        if self.deadline.has_passed(now) {
            return Err(CallError::OutOfTime);
        }
        let own = Deadline::after(now, (call.timeout_seconds * 1000.0).ceil() as u64);
        let exchange = self.send(call, &url, own).await;
        if exchange.out_of_time && exchange.outcome == RestOutcome::Failed(FetchFailure::Timeout) {
            return Err(CallError::OutOfTime);
        }
        let outcome = exchange.outcome;
        if let (Some(result), true) = (stale, outcome.is_origin_failure()) {
            return Ok(result);
        }
        let result =
            rest_result(call, exchange.last_url.as_deref().unwrap_or(&url), &outcome).map_err(CallError::Failed)?;
        if let (Some(seconds), true) = (call.cache_seconds, is_cacheable(&outcome)) {
            let entry = json!({ "created": self.platform.now(), "result": result });
            let mut stored = GatewayResponse::json(200, &entry);
            stored.headers.set("content-type", "application/json");
            let kept = seconds + call.stale_if_error.unwrap_or(0.0);
            let ttl = kept.max(self.garbage_collector_seconds).ceil() as u64;
            self.cache.put(self.platform, key.as_str(), stored, ttl).await;
        }
        Ok(result)
    }
}

impl<P: Platform> PlatformExecutor<'_, P> {
    async fn cached(&self, key: &str, fresh_for: f64, stale_if_error: Option<f64>) -> Option<Stored> {
        let response = self.cache.get(self.platform, key).await?;
        let bytes = self.platform.read(response.body, MAX_REST_RESPONSE_BYTES).await.ok()?;
        let entry = serde_json::from_slice(&bytes).ok()?;
        let now = self.platform.now();
        if let Some(fresh) = fresh_result(&entry, fresh_for, now) {
            return Some(Stored::Fresh(fresh.clone()));
        }
        fresh_result(&entry, fresh_for + stale_if_error?, now).cloned().map(Stored::Stale)
    }

    /// Sends the call to `url` and reads its answer: by `own` (the call's timeout from now) and
    /// the message's deadline, or, for a service with retries, fallbacks or a circuit, try by try.
    async fn send(&self, call: &RestCall, url: &str, own: Deadline) -> Exchange {
        let mut headers: Headers = call.headers.iter().collect();
        let body = match call.encoded_body() {
            Some((bytes, content_type)) => {
                if let (Some(content_type), None) = (content_type, headers.get("content-type")) {
                    headers.set("content-type", content_type);
                }
                Body::Bytes(bytes)
            }
            None => Body::Empty,
        };
        if let Some(auth) = &call.auth {
            headers.set("authorization", basic_authorization(&auth.user, &auth.password));
        }
        let request = OutboundRequest { method: call.method.to_uppercase(), url: url.to_string(), headers, body };
        // A header built from the message or its metadata may hold a line break: such a call is an
        // error of its own (on_error decides, as for any failed call), and nothing is sent.
        if let Err(why) = request.check() {
            let failure = FetchFailure::InvalidRequest(format!("{why}; the request was not sent"));
            return Exchange { outcome: RestOutcome::Failed(failure), last_url: None, out_of_time: false };
        }
        let Some(policy) =
            call.service.as_deref().and_then(|name| self.resilience.policy(name)).filter(|p| p.covers(url))
        else {
            let deadline = own.min(self.deadline);
            let fetched = self.platform.fetch(request, deadline.remaining_ms(self.platform.now())).await;
            let outcome = self.answer(fetched, deadline).await;
            return Exchange { out_of_time: deadline < own, outcome, last_url: None };
        };
        let timeout_ms = (call.timeout_seconds * 1000.0).ceil() as u64;
        let url_on = |origin: &resilience::Origin| policy.rebase(url, origin);
        let bounds = Bounds { timeout_ms, until: Some(self.deadline), budget: &self.budget };
        let (outcome, last_url, out_of_time) = match resilience::send(self.platform, policy, request, url_on, bounds)
            .await
        {
            Sent::Done { result, url, started } => {
                // The answer's body is read by the same bound as a single try's.
                let own = Deadline::after(started, timeout_ms);
                let deadline = own.min(self.deadline);
                (self.answer(result, deadline).await, url, deadline < own)
            }
            // Every try failed: the last one's failure is the call's, as a single failed try's would be.
            Sent::Failed { failure, url, cut_short, .. } => {
                let outcome = match failure {
                    TryFailure::Status(status) => RestOutcome::Answered { status, body: Vec::new() },
                    TryFailure::Timeout => RestOutcome::Failed(FetchFailure::Timeout),
                    TryFailure::Unreachable(why) => RestOutcome::Failed(FetchFailure::Network(why)),
                };
                (outcome, url, cut_short)
            }
            Sent::Unavailable { retry_after_seconds } => {
                let why = format!(
                    "the service '{}' is unavailable: it failed repeatedly and is not asked again for {retry_after_seconds} s",
                    policy.service
                );
                (RestOutcome::Failed(FetchFailure::Network(why)), url.to_string(), false)
            }
        };
        Exchange { outcome, out_of_time, last_url: Some(last_url).filter(|last| last != url) }
    }

    /// The outcome of a fetch, its answer read by `deadline`.
    async fn answer(
        &self,
        fetched: Result<GatewayResponse<P::Stream>, FetchFailure>,
        deadline: Deadline,
    ) -> RestOutcome {
        match fetched {
            Ok(response) => match self.platform.read_by(response.body, MAX_REST_RESPONSE_BYTES, deadline).await {
                Ok(body) => RestOutcome::Answered { status: response.status, body },
                Err(BodyError::TooLarge) => RestOutcome::Failed(FetchFailure::Network(format!(
                    "the answer is larger than {MAX_REST_RESPONSE_BYTES} bytes"
                ))),
                // A body that stops coming is a timeout, as httpx's read timeout is for MaxBot.
                Err(BodyError::TimedOut) => RestOutcome::Failed(FetchFailure::Timeout),
                Err(BodyError::Broken(why)) => RestOutcome::Failed(FetchFailure::Network(why)),
            },
            Err(failure) => RestOutcome::Failed(failure),
        }
    }
}

/// Cached calls answered from the isolate's memory tier during the render, as of the turn's clock.
pub struct MemoryRecall {
    pub cache: Arc<TieredCache>,
    pub now: f64,
}

impl Recall for MemoryRecall {
    fn recall(&self, PreparedCall { call, key }: &PreparedCall) -> Option<Value> {
        let fresh_for = call.cache_seconds?;
        let entry = self.cache.peek_parsed(key.as_str(), self.now, RecalledEntry::parse)?;
        is_fresh(entry.created, fresh_for, self.now).then(|| entry.result.clone())
    }
}

/// A stored result as the memory tier keeps it for recalls: converted into template values once per
/// entry, not once per message (measured natively: a tenth of a message with two cached calls).
struct RecalledEntry {
    created: f64,
    result: Value,
}

impl RecalledEntry {
    fn parse(body: &[u8]) -> Option<RecalledEntry> {
        let entry: Json = serde_json::from_slice(body).ok()?;
        Some(RecalledEntry {
            created: created_at(&entry)?,
            result: Value::from(minijinja::value::Serde(&entry["result"])),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::gateway::{serve, Gateway};
    use crate::platform::memory::{block_on, bytes_of, MemoryPlatform};

    fn say(response: &str, message: Value, platform: &MemoryPlatform) -> (u16, Value) {
        let config = json!({
            "extensions": {"rest": {"services": [{"name": "api", "base_url": "http://api.example/", "headers": {"x-key": "k"}}]}},
            "dialog": [{"condition": "true", "response": response}],
        });
        let gateway = Gateway::load(config, &|_| None);
        let body = message.to_string();
        let request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body.as_bytes());
        let answer = block_on(serve(&gateway, request, platform));
        let bytes = bytes_of(answer.body);
        (answer.status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    const INJECTED: &str = "hi\r\nAuthorization: Bearer evil";

    #[test]
    fn a_header_with_a_line_break_is_a_rest_call_error_and_nothing_is_sent() {
        // From the message text, the metadata, as a value or as a name; CR, LF and NUL alike.
        let cases = [
            (r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#, INJECTED, "x-note"),
            (r#"{% GET "api://x" headers {"x-note": metadata.note} %}{{ rest.ok }}"#, "fine", "x-note"),
            (r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#, "a\nb", "x-note"),
            (r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#, "a\rb", "x-note"),
            (r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#, "a\0b", "x-note"),
            (r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#, "trailing\r\n", "x-note"),
            (
                r#"{{ rest_call(url="api://x", headers={message.text: "1"}).ok }}"#,
                "x\r\nAuthorization",
                "x\\r\\nauthorization",
            ),
            (r#"{{ rest_call(url="api://x", headers={message.text: "1"}).ok }}"#, "x y", "x y"),
        ];
        for (template, text, named) in cases {
            let platform = MemoryPlatform::answering_json(json!({}));
            let message = json!({"sender": "u1", "message": text, "metadata": {"note": INJECTED}});
            let (status, body) = say(template, message.clone(), &platform);
            assert_eq!((status, body["reason"].as_str()), (500, Some("RestCallFailed")), "{template} {text:?}: {body}");
            let error = body["message"].as_str().unwrap();
            assert!(error.starts_with("REST call failed: "), "{error}");
            assert!(error.contains(&format!("'{named}'")), "{error}");
            assert!(!error.contains("evil") && !error.contains('\n'), "the value is not shown: {error}");
            assert!(platform.sent().is_empty(), "{template} {text:?}: nothing is sent");
            // With on_error "continue", the template goes on with a failed result; still nothing sent.
            let continuing =
                template.replace("%}{{", "on_error \"continue\" %}{{").replace("}).ok", "}, on_error=\"continue\").ok");
            let (status, body) = say(&continuing, message, &platform);
            assert_eq!((status, body[0]["text"].as_str()), (200, Some("False")), "{continuing}: {body}");
            assert!(platform.sent().is_empty());
        }
    }

    #[test]
    fn a_method_that_is_not_a_token_is_refused_the_same_way() {
        let platform = MemoryPlatform::answering_json(json!({}));
        let template = r#"{{ rest_call(url="api://x", method=message.text).ok }}"#;
        let (status, body) = say(template, json!({"message": "GET /admin HTTP/1.1\r\nX: y"}), &platform);
        assert_eq!((status, body["reason"].as_str()), (500, Some("RestCallFailed")), "{body}");
        assert!(body["message"].as_str().unwrap().contains("method"));
        assert!(platform.sent().is_empty());
    }

    #[test]
    fn retries_stay_within_the_message_deadline() {
        // 30 s for the message: the second try gets the 10 s left, and being cut short by the
        // message's deadline ends the message with 504 (on_error continue or not).
        let config = json!({
            "extensions": {"rest": {"services": [{"name": "api", "base_url": "http://api.example/", "timeout": 20,
                                                  "retries": {"attempts": 5}}]}},
            "dialog": [{"condition": "true", "response": "{% GET \"api://x\" on_error \"continue\" %}{{ rest.ok }}"}],
        });
        let gateway = Gateway::load(config, &|_| None);
        let platform = MemoryPlatform::new(|_| Err(crate::http::FetchFailure::Timeout));
        platform.timeouts_take_time.set(true);
        let request =
            MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], br#"{"message": "hi"}"#);
        let answer = block_on(serve(&gateway, request, &platform));
        let body: Value = serde_json::from_slice(&bytes_of(answer.body)).unwrap();
        assert_eq!((answer.status, body["reason"].as_str()), (504, Some("GatewayTimeout")), "{body}");
        let timeouts: Vec<u64> = platform.sent().iter().map(|r| r.timeout_ms).collect();
        assert_eq!(timeouts, [20_000, 10_000]);
    }

    #[test]
    fn valid_headers_are_sent_as_they_are() {
        let platform = MemoryPlatform::answering_json(json!({}));
        let template = r#"{% GET "api://x" headers {"x-note": message.text} %}{{ rest.ok }}"#;
        let (status, body) = say(template, json!({"message": "a: b, c\td café"}), &platform);
        assert_eq!((status, body[0]["text"].as_str()), (200, Some("True")), "{body}");
        let sent = platform.sent();
        assert_eq!(sent[0].headers.get("x-note"), Some("a: b, c\td café"));
        assert_eq!(sent[0].headers.get("x-key"), Some("k"));
        assert_eq!(sent[0].headers.get("authorization"), None);
    }
}
