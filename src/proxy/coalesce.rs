//! One origin request per cache miss (CONTRACT section 7): identical plain GETs that miss the
//! cache of a service with `cache` while one of them is at the origin wait for its answer instead
//! of sending their own, and each gets a copy.
//!
//! The answer crosses requests as bytes: a stream belongs to the request that opened it. So when
//! requests wait, the leader tees its answer's body and reads one branch, up to
//! [`MAX_SHARED_BYTES`]; a larger answer, or one that may not be shared (a cookie, a private
//! answer, one chosen by a request header), is not shared and each waiting request sends its own.
//! With nobody waiting the leader does nothing more than any miss.

use crate::cache::{CacheStatus, InFlight, Lead, Wait};
use std::task::Poll;

use crate::error::Result;
use crate::http::{Body, GatewayResponse, Headers};
use crate::platform::{Deadline, Platform};

/// Largest answer body shared with waiting requests. Cached services answer small documents
/// (a Pi's readings, a model's metadata); this bounds the copies an isolate holds per key.
pub const MAX_SHARED_BYTES: usize = 1024 * 1024;

/// How often a waiting request looks at the leader's slot (see [`InFlight`] for why it looks
/// rather than being woken). It delays a waiting request's answer at most this much.
const CHECK_EVERY_MS: u64 = 10;

/// Requests in flight, by cache key, with the outcome their waiters get.
pub type InFlightAnswers = InFlight<Result<SharedAnswer>>;

/// A leader's answer, as every waiting request gets a copy of it.
#[derive(Debug, Clone)]
pub struct SharedAnswer {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
    cache: CacheStatus,
}

impl SharedAnswer {
    pub fn into_response<B>(self) -> (GatewayResponse<B>, CacheStatus) {
        let body = if self.body.is_empty() { Body::Empty } else { Body::Bytes(self.body) };
        (GatewayResponse { status: self.status, headers: self.headers, body }, self.cache)
    }
}

/// Whether a request takes part: a GET without a body, range or condition, whose answer is the
/// same for every such request (a ranged or conditional one may get a 206 or 304 that others
/// must not), and that did not ask to skip the stored copy.
pub fn takes_part(method: &str, client_headers: &Headers, refresh: bool) -> bool {
    const PERSONAL: [&str; 6] =
        ["range", "if-range", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since"];
    method == "GET" && !refresh && !PERSONAL.iter().any(|name| client_headers.get(name).is_some())
}

/// How a wait for the leader ended.
pub enum Waited {
    /// A copy of the leader's outcome (its answer, its stale copy, or its error).
    Shared(Result<SharedAnswer>),
    /// The leader had nothing to share: this request goes on its own.
    Alone,
    /// The leader took longer than the service's timeout.
    TimedOut,
}

/// Waits for the leader, at most `timeout_ms` (the service's timeout, which bounds the leader's
/// own exchange).
pub async fn wait<P: Platform>(wait: Wait<Result<SharedAnswer>>, timeout_ms: u64, platform: &P) -> Waited {
    let checks = timeout_ms.div_ceil(CHECK_EVERY_MS);
    for check in 0..=checks {
        match wait.check() {
            Poll::Ready(Some(outcome)) => return Waited::Shared(outcome),
            Poll::Ready(None) => return Waited::Alone,
            Poll::Pending if check < checks => platform.sleep(CHECK_EVERY_MS).await,
            Poll::Pending => {}
        }
    }
    Waited::TimedOut
}

/// Gives the waiting requests a copy of the leader's outcome, when it may be shared (its body read
/// by the exchange's `deadline`); the leader's own answer goes on unchanged.
pub async fn share<P: Platform>(
    lead: Lead<'_, Result<SharedAnswer>>,
    outcome: Result<(GatewayResponse<P::Stream>, CacheStatus)>,
    shareable: impl Fn(&GatewayResponse<P::Stream>) -> bool,
    deadline: Deadline,
    platform: &P,
) -> Result<(GatewayResponse<P::Stream>, CacheStatus)> {
    let (response, cache) = match outcome {
        Ok(answer) if shareable(&answer.0) => answer,
        // Dropping the lead lets the waiting requests go on their own.
        Ok(answer) => return Ok(answer),
        Err(error) => {
            lead.finish(Err(error.clone()));
            return Err(error);
        }
    };
    let GatewayResponse { status, mut headers, body } = response;
    let (body, copy) = match body {
        Body::Stream(stream) => {
            let (own, other) = platform.tee(stream);
            (Body::Stream(own), platform.read_by(Body::Stream(other), MAX_SHARED_BYTES, deadline).await)
        }
        Body::Bytes(bytes) => (Body::Bytes(bytes.clone()), Ok(bytes)),
        Body::Empty => (Body::Empty, Ok(Vec::new())),
    };
    let response = GatewayResponse { status, headers: headers.clone(), body };
    if let Ok(bytes) = copy {
        // The copy was read decoded, and its length is that of the bytes.
        headers.remove("content-length");
        headers.remove("content-encoding");
        lead.finish(Ok(SharedAnswer { status, headers, body: bytes, cache }));
    }
    Ok((response, cache))
}
