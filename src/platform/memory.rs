//! An in-memory [`Platform`] for native tests: a scripted origin that records every request, a
//! cache with a settable clock, and real RS256/ES256 verification with pure-Rust crypto.
//!
//! Bodies are [`MemoryStream`]s, which know how they end, so that tests see what the runtime's
//! streams do: an origin's answer may stall mid-body ([`STALLS`]), a read by a deadline then gives
//! up at it (moving the clock there) while a read without one never ends; a stream under a
//! [`limit`](Platform::limit) it passes is never sent whole.
//!
//! Time passes only when told: a sleep moves the clock on at once (and is recorded), and so does a
//! timed-out fetch, by its timeout, when [`timeouts_take_time`](MemoryPlatform::timeouts_take_time)
//! is set: tests of backoffs, cooldowns and deadlines run instantly.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use super::{
    AnalyticsUnavailable, Batch, ConversationLease, ConversationStore, CounterCharge, Deadline, Platform,
    RequestRecord, SignatureAlgorithm, Spent, Window,
};
use crate::http::{Body, BodyError, FetchFailure, GatewayRequest, GatewayResponse, Headers, OutboundRequest};

/// Runs a future whose awaits all complete without outside events (everything here is in memory):
/// polled until done, so an await that yields once (a sleep, say) is no hang.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..10_000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
    panic!("a test future waited on something that never completes")
}

/// What the fake origin received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl Received {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The origin's answer to one request.
pub type Answer = Result<(u16, Vec<(&'static str, String)>, Vec<u8>), FetchFailure>;

/// A header an origin's answer may carry (it is not passed on): the origin sends the body's bytes,
/// then goes silent without ending it.
pub const STALLS: &str = "x-memory-platform-stalls";

/// A body in memory: its bytes, and how it ends after them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStream {
    pub bytes: Vec<u8>,
    pub end: StreamEnd,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamEnd {
    #[default]
    Complete,
    /// Nothing more ever comes, and the stream does not end.
    Stalls,
    /// The stream fails: a stalled answer cut by [`Platform::cut_when_idle`].
    Fails,
    /// It is longer than the limit put on it ([`Platform::limit`]): sending it fails.
    OverLimit,
    /// The core writes it while it is sent ([`Platform::open_body`]): what it wrote is in
    /// [`MemoryPlatform::written`].
    Written,
}

impl From<Vec<u8>> for MemoryStream {
    fn from(bytes: Vec<u8>) -> Self {
        MemoryStream { bytes, end: StreamEnd::Complete }
    }
}

/// A stored response: status, headers, body, and when it expires (platform clock).
type CachedEntry = (u16, Headers, Vec<u8>, f64);

pub struct MemoryPlatform {
    pub clock: Cell<f64>,
    origin: Box<dyn Fn(&Received) -> Answer>,
    pub received: RefCell<Vec<Received>>,
    cache: RefCell<HashMap<String, CachedEntry>>,
    pub logs: RefCell<Vec<String>>,
    /// Rate-limit counters by name, as the Worker's Durable Objects hold them.
    counters: RefCell<HashMap<String, Window>>,
    /// Every charge a counter received, in order.
    pub charges: RefCell<Vec<CounterCharge>>,
    /// When set, no counter can be reached (as a Durable Object that errors or times out).
    pub counters_unreachable: Cell<bool>,
    /// When set, the origin cannot be reached: every fetch fails, and nothing is received.
    pub origin_down: Cell<bool>,
    /// While set, a fetch waits (its request not yet received): requests are in flight together.
    pub origin_held: Cell<bool>,
    /// The conversations, as the Worker's Durable Objects hold them.
    pub conversations: RefCell<ConversationStore>,
    /// When set, no conversation can be reached.
    pub conversations_unreachable: Cell<bool>,
    /// Every sleep, in milliseconds, in order.
    pub slept: RefCell<Vec<u64>>,
    /// When set, a fetch that times out moves the clock on by its timeout.
    pub timeouts_take_time: Cell<bool>,
    /// Analytics as stored, every recorded request at once (the Worker's Durable Object storage).
    pub analytics: RefCell<Batch>,
    /// When set, analytics storage is not bound (as a Worker without the binding).
    pub analytics_off: Cell<bool>,
    /// What the core wrote to bodies it opened, in order, each with how many requests the origin
    /// had received by then.
    pub written: RefCell<Vec<(usize, String)>>,
    /// Whether the core ended the body it opened.
    pub body_ended: Cell<bool>,
    /// How many signatures were checked (RS256/ES256, as Web Crypto would).
    pub signatures_checked: Cell<usize>,
}

impl MemoryPlatform {
    pub fn new(origin: impl Fn(&Received) -> Answer + 'static) -> Self {
        MemoryPlatform {
            clock: Cell::new(1_800_000_000.0),
            origin: Box::new(origin),
            received: RefCell::new(Vec::new()),
            cache: RefCell::new(HashMap::new()),
            logs: RefCell::new(Vec::new()),
            counters: RefCell::new(HashMap::new()),
            charges: RefCell::new(Vec::new()),
            counters_unreachable: Cell::new(false),
            origin_down: Cell::new(false),
            origin_held: Cell::new(false),
            conversations: RefCell::new(ConversationStore::default()),
            conversations_unreachable: Cell::new(false),
            slept: RefCell::new(Vec::new()),
            timeouts_take_time: Cell::new(false),
            analytics: RefCell::new(Batch::default()),
            analytics_off: Cell::new(false),
            written: RefCell::new(Vec::new()),
            body_ended: Cell::new(false),
            signatures_checked: Cell::new(0),
        }
    }

    /// An origin that fails its first `times` requests with `failure`, then answers with `then`.
    pub fn failing_first(
        times: usize,
        failure: impl Fn() -> Answer + 'static,
        then: impl Fn(&Received) -> Answer + 'static,
    ) -> Self {
        let seen = Cell::new(0);
        Self::new(move |received| {
            seen.set(seen.get() + 1);
            if seen.get() <= times {
                failure()
            } else {
                then(received)
            }
        })
    }

    /// An origin that answers every request with 200 and `json`.
    pub fn answering_json(json: serde_json::Value) -> Self {
        Self::new(move |_| {
            Ok((200, vec![("content-type", "application/json".to_string())], json.to_string().into_bytes()))
        })
    }

    pub fn advance(&self, seconds: f64) {
        self.clock.set(self.clock.get() + seconds);
    }

    /// The keys of the Cache API's entries, in no order.
    pub fn cache_keys(&self) -> Vec<String> {
        self.cache.borrow().keys().cloned().collect()
    }

    /// A header of the Cache API's copy of `key`.
    pub fn cached_header(&self, key: &str, name: &str) -> Option<String> {
        self.cache.borrow().get(key).and_then(|(_, headers, _, _)| headers.get(name).map(str::to_string))
    }

    /// Everything the core wrote to the bodies it opened.
    pub fn written_text(&self) -> String {
        self.written.borrow().iter().map(|(_, text)| text.as_str()).collect()
    }

    /// Empties the Cache API (the isolate's memory tier keeps what it holds).
    pub fn clear_cache(&self) {
        self.cache.borrow_mut().clear();
    }

    pub fn sent(&self) -> Vec<Received> {
        self.received.borrow().clone()
    }

    pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> GatewayRequest<MemoryStream> {
        GatewayRequest {
            method: method.to_string(),
            // Normalized as the runtime would have.
            url: url::Url::parse(url).expect("test URL").into(),
            headers: headers.iter().copied().collect(),
            body: if body.is_empty() { Body::Empty } else { Body::Stream(body.to_vec().into()) },
        }
    }
}

/// An answer's body as JSON (`Null` when it is not JSON), without consuming it.
pub fn json_of(response: &GatewayResponse<MemoryStream>) -> serde_json::Value {
    match &response.body {
        Body::Empty => serde_json::Value::Null,
        Body::Bytes(bytes) | Body::Stream(MemoryStream { bytes, .. }) => {
            serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// The bytes of a body, however it ends.
pub fn bytes_of(body: Body<MemoryStream>) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) | Body::Stream(MemoryStream { bytes, .. }) => bytes,
    }
}

impl MemoryPlatform {
    /// A read's outcome once the body has ended, as it ends: `None` when it never does.
    fn read_to_end(body: Body<MemoryStream>, limit: usize) -> Option<Result<Vec<u8>, BodyError>> {
        let stream = match body {
            Body::Stream(stream) => stream,
            other => MemoryStream::from(bytes_of(other)),
        };
        if stream.bytes.len() > limit {
            return Some(Err(BodyError::TooLarge));
        }
        match stream.end {
            StreamEnd::Complete | StreamEnd::Written => Some(Ok(stream.bytes)),
            StreamEnd::Stalls => None,
            StreamEnd::Fails => Some(Err(BodyError::Broken("the origin stalled".into()))),
            StreamEnd::OverLimit => Some(Err(BodyError::TooLarge)),
        }
    }
}

impl Platform for MemoryPlatform {
    type Stream = MemoryStream;
    type Writer = ();

    fn now(&self) -> f64 {
        self.clock.get()
    }

    async fn fetch(
        &self,
        request: OutboundRequest<MemoryStream>,
        timeout_ms: u64,
    ) -> Result<GatewayResponse<MemoryStream>, FetchFailure> {
        // As the Worker's platform does: an invalid request never reaches the origin, nor does one
        // whose body passes its limit (the runtime aborts it before it ends).
        request.check().map_err(FetchFailure::InvalidRequest)?;
        while self.origin_held.get() {
            yield_once().await;
        }
        if self.origin_down.get() {
            return Err(FetchFailure::Network("connection refused".into()));
        }
        if matches!(&request.body, Body::Stream(stream) if stream.end == StreamEnd::OverLimit) {
            return Err(FetchFailure::BodyTooLarge);
        }
        let received = Received {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: bytes_of(request.body),
            timeout_ms,
        };
        let answer = (self.origin)(&received);
        self.received.borrow_mut().push(received);
        if self.timeouts_take_time.get() && matches!(answer, Err(FetchFailure::Timeout)) {
            self.advance(timeout_ms as f64 / 1000.0);
        }
        let (status, headers, bytes) = answer?;
        let mut headers: Headers = headers.into_iter().collect();
        let end = match headers.get(STALLS) {
            Some(_) => StreamEnd::Stalls,
            None => StreamEnd::Complete,
        };
        headers.remove(STALLS);
        Ok(GatewayResponse { status, headers, body: Body::Stream(MemoryStream { bytes, end }) })
    }

    async fn read(&self, body: Body<MemoryStream>, limit: usize) -> Result<Vec<u8>, BodyError> {
        match Self::read_to_end(body, limit) {
            Some(outcome) => outcome,
            None => std::future::pending().await,
        }
    }

    async fn read_by(&self, body: Body<MemoryStream>, limit: usize, deadline: Deadline) -> Result<Vec<u8>, BodyError> {
        Self::read_to_end(body, limit).unwrap_or_else(|| {
            // The wait for the rest of the body lasted until the deadline.
            self.clock.set(self.clock.get().max(deadline.seconds()));
            Err(BodyError::TimedOut)
        })
    }

    fn limit(&self, stream: MemoryStream, limit: u64) -> MemoryStream {
        if stream.bytes.len() as u64 > limit {
            return MemoryStream { end: StreamEnd::OverLimit, ..stream };
        }
        stream
    }

    fn cut_when_idle(&self, stream: MemoryStream, _idle_ms: u64) -> MemoryStream {
        match stream.end {
            StreamEnd::Stalls => MemoryStream { end: StreamEnd::Fails, ..stream },
            _ => stream,
        }
    }

    fn tee(&self, stream: MemoryStream) -> (MemoryStream, MemoryStream) {
        (stream.clone(), stream)
    }

    fn open_body(&self) -> ((), MemoryStream) {
        ((), MemoryStream { bytes: Vec::new(), end: StreamEnd::Written })
    }

    fn write_body(&self, _: &(), text: &str) {
        self.written.borrow_mut().push((self.received.borrow().len(), text.to_string()));
    }

    fn end_body(&self, _: ()) {
        self.body_ended.set(true);
    }

    async fn cache_get(&self, key: &str) -> Option<GatewayResponse<MemoryStream>> {
        let cache = self.cache.borrow();
        let (status, headers, body, expires) = cache.get(key)?;
        (self.now() < *expires).then(|| GatewayResponse {
            status: *status,
            headers: headers.clone(),
            body: Body::Stream(body.clone().into()),
        })
    }

    async fn cache_put(&self, key: &str, response: GatewayResponse<MemoryStream>, ttl_seconds: u64) {
        // As the Cache API: a body that never ends, or fails, is never stored.
        let Some(Ok(bytes)) = Self::read_to_end(response.body, usize::MAX) else { return };
        let expires = self.now() + ttl_seconds as f64;
        let entry = (response.status, response.headers, bytes, expires);
        self.cache.borrow_mut().insert(key.to_string(), entry);
    }

    async fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        spki: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.signatures_checked.set(self.signatures_checked.get() + 1);
        use p256::pkcs8::DecodePublicKey;
        match algorithm {
            SignatureAlgorithm::Rs256 => {
                use rsa::signature::Verifier;
                let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) else { return false };
                let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key);
                let Ok(signature) = rsa::pkcs1v15::Signature::try_from(signature) else { return false };
                verifier.verify(message, &signature).is_ok()
            }
            SignatureAlgorithm::Es256 => {
                use p256::ecdsa::signature::Verifier;
                let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki) else { return false };
                let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else { return false };
                key.verify(message, &signature).is_ok()
            }
        }
    }

    async fn spend(&self, charges: &[CounterCharge], _: u64) -> Vec<Option<Spent>> {
        self.charges.borrow_mut().extend(charges.iter().cloned());
        if self.counters_unreachable.get() {
            return vec![None; charges.len()];
        }
        let mut counters = self.counters.borrow_mut();
        let now = self.clock.get();
        charges
            .iter()
            .map(|charge| {
                Some(counters.entry(charge.counter.clone()).or_default().spend(now, charge.requests, charge.period))
            })
            .collect()
    }

    fn give_back(&self, counted: Vec<(String, f64)>) {
        let mut counters = self.counters.borrow_mut();
        for (counter, counted_at) in counted {
            if let Some(window) = counters.get_mut(&counter) {
                window.give_back(counted_at);
            }
        }
    }

    async fn sleep(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
        self.advance(ms as f64 / 1000.0);
        yield_once().await;
    }

    async fn conversation_begin(&self, id: &str) -> Result<(ConversationLease, Option<String>), String> {
        if self.conversations_unreachable.get() {
            return Err("unreachable".into());
        }
        self.conversations.borrow_mut().begin(id, self.now())
    }

    async fn conversation_commit(&self, lease: &ConversationLease, record: &str, retention_seconds: u64) -> bool {
        let expires = self.now() + retention_seconds as f64;
        self.conversations.borrow_mut().commit(lease, record, expires)
    }

    fn conversation_abort(&self, lease: ConversationLease) {
        self.conversations.borrow_mut().abort(&lease);
    }

    async fn conversation_read(&self, id: &str) -> Result<Option<String>, String> {
        if self.conversations_unreachable.get() {
            return Err("unreachable".into());
        }
        Ok(self.conversations.borrow().read(id, self.now()))
    }

    fn record_analytics(&self, record: RequestRecord) {
        if !self.analytics_off.get() {
            self.analytics.borrow_mut().add(&record);
        }
    }

    async fn read_analytics(&self, from: i64, to: i64) -> Result<Batch, AnalyticsUnavailable> {
        if self.analytics_off.get() {
            return Err(AnalyticsUnavailable::Off);
        }
        Ok(self.analytics.borrow().within(from, to))
    }

    fn log(&self, line: &str) {
        self.logs.borrow_mut().push(line.to_string());
    }
}

/// Pending once, then ready: lets the other futures of a test run (see [`run_together`]).
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |context| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        context.waker().wake_by_ref();
        std::task::Poll::Pending
    })
}

/// Runs futures together, in turns, until all are done: requests in flight at the same time.
/// `between` runs after each round (a test releasing a held origin, say).
pub fn run_together<F: Future>(futures: Vec<F>, mut between: impl FnMut(usize)) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for round in 0..10_000 {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()).filter(|(_, o)| o.is_none()) {
            if let std::task::Poll::Ready(done) = future.as_mut().poll(&mut context) {
                *output = Some(done);
            }
        }
        if outputs.iter().all(Option::is_some) {
            return outputs.into_iter().flatten().collect();
        }
        between(round);
    }
    panic!("futures run together did not finish");
}
