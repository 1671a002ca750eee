//! An in-memory [`Platform`] for native tests: a scripted origin that records every request, a
//! cache with a settable clock, and real RS256/ES256 verification with pure-Rust crypto.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;

use super::{CounterCharge, Platform, SignatureAlgorithm, Spent, Window};
use crate::http::{Body, BodyError, FetchFailure, GatewayRequest, GatewayResponse, Headers, OutboundRequest};

/// Runs a future whose awaits all complete at once (everything here is in memory).
pub fn block_on<F: Future>(future: F) -> F::Output {
    super::poll_once(future).expect("a test future waited on something that never completes")
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
        }
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

    /// Empties the Cache API (the isolate's memory tier keeps what it holds).
    pub fn clear_cache(&self) {
        self.cache.borrow_mut().clear();
    }

    pub fn sent(&self) -> Vec<Received> {
        self.received.borrow().clone()
    }

    pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> GatewayRequest<Vec<u8>> {
        GatewayRequest {
            method: method.to_string(),
            url: url::Url::parse(url).expect("test URL"),
            headers: headers.iter().copied().collect(),
            body: if body.is_empty() { Body::Empty } else { Body::Stream(body.to_vec()) },
        }
    }
}

fn bytes_of(body: Body<Vec<u8>>) -> Vec<u8> {
    match body {
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) | Body::Stream(bytes) => bytes,
    }
}

impl Platform for MemoryPlatform {
    type Stream = Vec<u8>;

    fn now(&self) -> f64 {
        self.clock.get()
    }

    async fn fetch(
        &self,
        request: OutboundRequest<Vec<u8>>,
        timeout_ms: u64,
    ) -> Result<GatewayResponse<Vec<u8>>, FetchFailure> {
        // As the Worker's platform does: an invalid request never reaches the origin.
        request.check().map_err(FetchFailure::InvalidRequest)?;
        while self.origin_held.get() {
            yield_once().await;
        }
        if self.origin_down.get() {
            return Err(FetchFailure::Network("connection refused".into()));
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
        let (status, headers, body) = answer?;
        Ok(GatewayResponse { status, headers: headers.into_iter().collect(), body: Body::Stream(body) })
    }

    async fn read(&self, body: Body<Vec<u8>>, limit: usize) -> Result<Vec<u8>, BodyError> {
        let bytes = bytes_of(body);
        if bytes.len() > limit {
            return Err(BodyError::TooLarge);
        }
        Ok(bytes)
    }

    fn limit(&self, stream: Vec<u8>, _limit: u64) -> Vec<u8> {
        stream
    }

    fn tee(&self, stream: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        (stream.clone(), stream)
    }

    async fn cache_get(&self, key: &str) -> Option<GatewayResponse<Vec<u8>>> {
        let cache = self.cache.borrow();
        let (status, headers, body, expires) = cache.get(key)?;
        (self.now() < *expires).then(|| GatewayResponse {
            status: *status,
            headers: headers.clone(),
            body: Body::Stream(body.clone()),
        })
    }

    async fn cache_put(&self, key: &str, response: GatewayResponse<Vec<u8>>, ttl_seconds: u64) {
        let expires = self.now() + ttl_seconds as f64;
        let entry = (response.status, response.headers, bytes_of(response.body), expires);
        self.cache.borrow_mut().insert(key.to_string(), entry);
    }

    async fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        spki: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
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
        self.advance(ms as f64 / 1000.0);
        yield_once().await;
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
