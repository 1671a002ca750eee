//! [`Platform`] for a Worker: Fetch, the Cache API, `Date.now()`, `setTimeout`, `console.log`, the
//! Durable Objects (rate-limit counters, conversations) and the analytics store (see `analytics`).

use wasm_bindgen::{JsCast, JsValue};

use super::tasks::{awaited, spawn};
use super::{analytics, runtime, wire};
use crate::http::{Body, BodyError, FetchFailure, GatewayResponse, OutboundRequest, SMALL_ANSWER_BYTES};

/// How long a turn waits for its sender's previous turn: a little more than a turn may hold the
/// conversation (`TURN_HOLD_MS` in conversation.mjs).
const CONVERSATION_BEGIN_TIMEOUT_MS: f64 = 65_000.0;
use crate::platform::{
    AnalyticsUnavailable, Batch, ConversationLease, CounterCharge, Deadline, Platform, RequestRecord,
    SignatureAlgorithm, Spent,
};

pub struct WorkerPlatform<'a> {
    pub ctx: &'a worker::worker_sys::Context,
    /// The Worker's bindings, looked up when a request needs one (most need none).
    env: &'a worker::Env,
}

/// The binding of the rate-limit counters' Durable Object namespace.
pub const COUNTERS_BINDING: &str = "RATE_LIMITS";
/// The binding of the conversations' Durable Object namespace.
pub const CONVERSATIONS_BINDING: &str = "CONVERSATIONS";

/// A binding of the Worker's, when it is bound.
pub fn env_binding(env: &worker::Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined())
}

impl<'a> WorkerPlatform<'a> {
    pub fn new(ctx: &'a worker::worker_sys::Context, env: &'a worker::Env) -> Self {
        WorkerPlatform { ctx, env }
    }

    fn conversations(&self) -> Result<JsValue, String> {
        env_binding(self.env, CONVERSATIONS_BINDING).ok_or_else(|| "no conversations binding".to_string())
    }

    /// [`Platform::read`] within `timeout_ms` (infinite: no deadline).
    async fn read_within(
        &self,
        body: Body<web_sys::ReadableStream>,
        limit: usize,
        timeout_ms: f64,
    ) -> Result<Vec<u8>, BodyError> {
        let stream = match body {
            Body::Empty => return Ok(Vec::new()),
            Body::Bytes(bytes) if bytes.len() > limit => return Err(BodyError::TooLarge),
            Body::Bytes(bytes) => return Ok(bytes),
            Body::Stream(stream) => stream,
        };
        match awaited(runtime::read_limited(&stream, limit as f64, timeout_ms)).await {
            Ok(bytes) => Ok(bytes.unchecked_into::<js_sys::Uint8Array>().to_vec()),
            Err(error) => match error.as_string().as_deref() {
                Some("too_large") => Err(BodyError::TooLarge),
                Some("timeout") => Err(BodyError::TimedOut),
                other => Err(BodyError::Broken(other.unwrap_or_default().to_string())),
            },
        }
    }
}

/// A body as the JavaScript value `fetch`, `Response` and the cache accept.
pub fn body_to_js(body: Body<web_sys::ReadableStream>) -> JsValue {
    match body {
        Body::Empty => JsValue::NULL,
        Body::Bytes(bytes) => js_sys::Uint8Array::from(bytes.as_slice()).into(),
        Body::Stream(stream) => stream.into(),
    }
}

/// An answer from `runtime.js` (`send`, `cacheGet`): `[status, headers, body]`, the headers in
/// `wire`'s form, the body a `Uint8Array` (read with the head), a `ReadableStream` or null.
fn answer_from_js(answer: js_sys::Array) -> GatewayResponse<web_sys::ReadableStream> {
    let body = answer.get(2);
    let body = if body.is_null() {
        Body::Empty
    } else {
        match body.dyn_into::<js_sys::Uint8Array>() {
            Ok(bytes) => Body::Bytes(bytes.to_vec()),
            Err(stream) => Body::Stream(stream.unchecked_into()),
        }
    };
    GatewayResponse {
        status: answer.get(0).as_f64().unwrap_or_default() as u16,
        headers: wire::from_js(&answer.get(1).as_string().unwrap_or_default()),
        body,
    }
}

impl Platform for WorkerPlatform<'_> {
    type Stream = web_sys::ReadableStream;
    /// A `WritableStreamDefaultWriter`.
    type Writer = JsValue;

    fn now(&self) -> f64 {
        js_sys::Date::now() / 1000.0
    }

    async fn fetch(
        &self,
        request: OutboundRequest<Self::Stream>,
        timeout_ms: u64,
    ) -> Result<GatewayResponse<Self::Stream>, FetchFailure> {
        // The core refuses such requests itself first; nothing invalid is ever handed to Fetch.
        request.check().map_err(FetchFailure::InvalidRequest)?;
        let (headers, _) = wire::to_js(&request.headers);
        let body = body_to_js(request.body);
        let promise = runtime::send(
            &request.method,
            &request.url,
            &headers.text,
            &headers.ends,
            &body,
            timeout_ms as f64,
            SMALL_ANSWER_BYTES as f64,
        );
        match awaited(promise).await {
            Ok(answer) => Ok(answer_from_js(answer.unchecked_into())),
            Err(error) => match error.as_string().as_deref() {
                Some("timeout") => Err(FetchFailure::Timeout),
                Some("too_large") => Err(FetchFailure::BodyTooLarge),
                Some(other) => Err(FetchFailure::Network(other.trim_start_matches("network: ").to_string())),
                None => Err(FetchFailure::Network("fetch failed".into())),
            },
        }
    }

    async fn read(&self, body: Body<Self::Stream>, limit: usize) -> Result<Vec<u8>, BodyError> {
        self.read_within(body, limit, f64::INFINITY).await
    }

    async fn read_by(&self, body: Body<Self::Stream>, limit: usize, deadline: Deadline) -> Result<Vec<u8>, BodyError> {
        self.read_within(body, limit, deadline.remaining_ms(self.now()) as f64).await
    }

    fn limit(&self, stream: Self::Stream, limit: u64) -> Self::Stream {
        runtime::limit_stream(&stream, limit as f64)
    }

    fn cut_when_idle(&self, stream: Self::Stream, idle_ms: u64) -> Self::Stream {
        runtime::cut_when_idle(&stream, idle_ms as f64)
    }

    fn tee(&self, stream: Self::Stream) -> (Self::Stream, Self::Stream) {
        let pair = runtime::tee(&stream);
        (pair.get(0).unchecked_into(), pair.get(1).unchecked_into())
    }

    fn open_body(&self) -> (JsValue, Self::Stream) {
        let pair = runtime::open_body();
        (pair.get(0), pair.get(1).unchecked_into())
    }

    fn write_body(&self, writer: &JsValue, text: &str) {
        runtime::write_body(writer, text);
    }

    fn end_body(&self, writer: JsValue) {
        runtime::end_body(&writer);
    }

    async fn cache_get(&self, key: &str) -> Option<GatewayResponse<Self::Stream>> {
        let found = awaited(runtime::cache_get(key)).await.ok()?;
        (!found.is_null()).then(|| answer_from_js(found.unchecked_into()))
    }

    async fn cache_put(&self, key: &str, response: GatewayResponse<Self::Stream>, ttl_seconds: u64) {
        // Stored after the answer is sent: the client never waits for the cache.
        let (headers, _) = wire::to_js(&response.headers);
        let promise = runtime::cache_put(
            key,
            response.status,
            &headers.text,
            &headers.ends,
            &body_to_js(response.body),
            ttl_seconds as f64,
        );
        let key = key.to_string();
        spawn(self.ctx, async move {
            if let Err(error) = awaited(promise).await {
                let why =
                    error.as_string().or_else(|| js_sys::Error::from(error).message().as_string()).unwrap_or_default();
                worker::console_log!("{}", serde_json::json!({"event": "cache_put_failed", "key": key, "error": why}));
            }
        });
    }

    async fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        spki: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let name = match algorithm {
            SignatureAlgorithm::Rs256 => "RS256",
            SignatureAlgorithm::Es256 => "ES256",
        };
        let promise = runtime::verify_signature(name, spki, message, signature);
        awaited(promise).await.map(|v| v.is_truthy()).unwrap_or(false)
    }

    async fn spend(&self, charges: &[CounterCharge], timeout_ms: u64) -> Vec<Option<Spent>> {
        // The edge refuses to load limits without the binding; unbound, every counter is unreachable.
        let Some(namespace) = env_binding(self.env, COUNTERS_BINDING) else { return vec![None; charges.len()] };
        let names = counter_names(charges.iter().map(|charge| charge.counter.as_str()));
        let requests: Vec<u32> = charges.iter().map(|charge| charge.requests).collect();
        let periods: Vec<u32> = charges.iter().map(|charge| charge.period).collect();
        let promise = runtime::spend_limits(&namespace, &names, &requests, &periods, timeout_ms as f64);
        let Ok(flat) = awaited(promise).await else { return vec![None; charges.len()] };
        let flat = js_sys::Float64Array::new(&flat).to_vec();
        let answers = flat.chunks_exact(4).map(|answer| {
            (!answer.iter().any(|n| n.is_nan())).then(|| Spent {
                allowed: answer[0] == 1.0,
                remaining: answer[1] as u32,
                reset: answer[2] as u64,
                counted_at: answer[3],
            })
        });
        let mut answers: Vec<Option<Spent>> = answers.collect();
        answers.resize(charges.len(), None);
        answers
    }

    fn give_back(&self, counted: Vec<(String, f64)>) {
        let Some(namespace) = env_binding(self.env, COUNTERS_BINDING) else { return };
        let names = counter_names(counted.iter().map(|(name, _)| name.as_str()));
        let counted_at: Vec<f64> = counted.iter().map(|&(_, at)| at).collect();
        let promise = runtime::give_back(&namespace, &names, &counted_at);
        spawn(self.ctx, async move {
            if awaited(promise).await.is_err() {
                worker::console_log!("{}", serde_json::json!({"event": "limit_give_back_failed"}));
            }
        });
    }

    async fn sleep(&self, ms: u64) {
        // A timer of this request's own: nothing of another request runs in it.
        let _ = awaited(runtime::sleep(ms as f64)).await;
    }

    async fn conversation_begin(&self, id: &str) -> Result<(ConversationLease, Option<String>), String> {
        let promise = runtime::conversation_begin(&self.conversations()?, id, CONVERSATION_BEGIN_TIMEOUT_MS);
        let answer = awaited(promise).await.map_err(|_| "the conversation did not answer".to_string())?;
        let answer = js_sys::Array::from(&answer);
        let token = answer.get(0).as_string().ok_or("the conversation answered no token")?;
        Ok((ConversationLease { id: id.to_string(), token }, answer.get(1).as_string()))
    }

    async fn conversation_commit(&self, lease: &ConversationLease, record: &str, retention_seconds: u64) -> bool {
        let Ok(namespace) = self.conversations() else { return false };
        let promise =
            runtime::conversation_commit(&namespace, &lease.id, &lease.token, record, retention_seconds as f64);
        awaited(promise).await.is_ok_and(|stored| stored.is_truthy())
    }

    fn conversation_abort(&self, lease: ConversationLease) {
        let Ok(namespace) = self.conversations() else { return };
        let promise = runtime::conversation_abort(&namespace, &lease.id, &lease.token);
        spawn(self.ctx, async move {
            if awaited(promise).await.is_err() {
                worker::console_log!("{}", serde_json::json!({"event": "conversation_abort_failed"}));
            }
        });
    }

    async fn conversation_read(&self, id: &str) -> Result<Option<String>, String> {
        let promise = runtime::conversation_read(&self.conversations()?, id);
        let record = awaited(promise).await.map_err(|_| "the conversation did not answer".to_string())?;
        Ok(record.as_string())
    }

    fn record_analytics(&self, record: RequestRecord) {
        analytics::record(self.env, self.ctx, record);
    }

    async fn read_analytics(&self, from: i64, to: i64) -> Result<Batch, AnalyticsUnavailable> {
        analytics::read(self.env, from, to).await
    }

    fn log(&self, line: &str) {
        worker::console_log!("{line}");
    }
}

/// Counter names as `runtime.js` takes them: one string, joined by "\n" (which no name holds).
fn counter_names<'n>(names: impl Iterator<Item = &'n str>) -> String {
    names.collect::<Vec<_>>().join("\n")
}
