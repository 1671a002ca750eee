//! The ground floor's other half: what the core needs from the runtime (the network, the cache, a
//! clock and timers, bodies and signature checks), as one trait.
//!
//! The Worker implements it with Fetch, the Cache API and Web Crypto (`edge`); the native tests
//! implement it in memory ([`memory`]). Methods are `async` without `Send`: a Worker isolate is
//! single-threaded.

pub mod analytics;
mod conversation;
mod counter;
mod deadline;
#[cfg(test)]
pub mod memory;
mod signature;

pub use analytics::{AnalyticsUnavailable, Batch, RequestRecord};
pub use conversation::{ConversationLease, ConversationStore};
pub use counter::{CounterCharge, Spent, Window, BUCKETS_PER_PERIOD};
pub use deadline::Deadline;
pub use signature::SignatureAlgorithm;

use crate::http::{Body, BodyError, FetchFailure, GatewayResponse, OutboundRequest};

#[allow(async_fn_in_trait)]
pub trait Platform {
    /// A streaming body of the runtime (a `ReadableStream` in a Worker).
    type Stream;

    /// The end of a body the core writes while the body is sent ([`open_body`](Self::open_body)).
    type Writer;

    /// Seconds since the Unix epoch.
    fn now(&self) -> f64;

    /// Sends `request` without following redirects, giving up when the origin has not answered
    /// (its status and headers) within `timeout_ms`. The answer's body is the caller's to bound:
    /// [`read_by`](Self::read_by) the exchange's deadline, or [`cut_when_idle`](Self::cut_when_idle).
    /// A small answer ([`is_small_answer`](crate::http::is_small_answer)) may come with its body
    /// already read within the same `timeout_ms`, as bytes; when that read failed, the body fails
    /// [`read_by`](Self::read_by) the same way. Such an answer is returned once its body is in,
    /// whatever its status (a 503 whose body stalls is returned when the timeout passes).
    async fn fetch(
        &self,
        request: OutboundRequest<Self::Stream>,
        timeout_ms: u64,
    ) -> Result<GatewayResponse<Self::Stream>, FetchFailure>;

    /// Reads a whole body already at hand (the client's, the cache's), failing with
    /// [`BodyError::TooLarge`] past `limit` bytes.
    async fn read(&self, body: Body<Self::Stream>, limit: usize) -> Result<Vec<u8>, BodyError>;

    /// Reads a whole body coming from an origin, as [`read`](Self::read), failing with
    /// [`BodyError::TimedOut`] when it has not ended by `deadline` (the one the fetch was sent
    /// with); the origin's answer is then abandoned.
    async fn read_by(&self, body: Body<Self::Stream>, limit: usize, deadline: Deadline) -> Result<Vec<u8>, BodyError>;

    /// Puts a byte limit on a stream whose length was not declared; a fetch sending it fails with
    /// [`FetchFailure::BodyTooLarge`] once the limit is passed, and its request is aborted: the
    /// origin never sees it end.
    fn limit(&self, stream: Self::Stream, limit: u64) -> Self::Stream;

    /// Makes an origin's answer body, passed on to the client, fail when the origin sends nothing
    /// for `idle_ms` while it is read: the client sees the answer break off, never a short body
    /// ending as if complete, nor a wait without end.
    fn cut_when_idle(&self, stream: Self::Stream, idle_ms: u64) -> Self::Stream;

    /// Splits a stream in two, to store one copy while the other goes to the client.
    fn tee(&self, stream: Self::Stream) -> (Self::Stream, Self::Stream);

    /// A body written while it is sent (a streamed chat reply): the end the core writes to, and
    /// the stream the answer carries.
    fn open_body(&self) -> (Self::Writer, Self::Stream);

    /// Appends `text` to a body from [`open_body`](Self::open_body). Not awaited: writes queue in
    /// the stream, in order, however slowly the client reads; once the client has gone away they
    /// do nothing.
    fn write_body(&self, writer: &Self::Writer, text: &str);

    /// Ends a body from [`open_body`](Self::open_body): the client sees it complete.
    fn end_body(&self, writer: Self::Writer);

    /// Looks a response up in the cache by URL-shaped key.
    async fn cache_get(&self, key: &str) -> Option<GatewayResponse<Self::Stream>>;

    /// Stores a response for `ttl_seconds`. Failures are logged, never fatal.
    async fn cache_put(&self, key: &str, response: GatewayResponse<Self::Stream>, ttl_seconds: u64);

    /// Verifies a JWS signature (RS256: PKCS#1 v1.5; ES256: `r || s`) of `message` with a DER
    /// SubjectPublicKeyInfo key. A Worker uses Web Crypto, far faster than bignum code in wasm.
    async fn verify_signature(
        &self,
        algorithm: SignatureAlgorithm,
        spki: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool;

    /// Spends one request from each rate-limit counter, all at once (one Durable Object each in a
    /// Worker), each answer within `timeout_ms`. `None` for a counter that could not be reached.
    async fn spend(&self, charges: &[CounterCharge], timeout_ms: u64) -> Vec<Option<Spent>>;

    /// Gives back requests counted for a request that another limit refused, in the background:
    /// the refused answer does not wait for it.
    fn give_back(&self, counted: Vec<(String, f64)>);

    /// Resolves after `ms` milliseconds (a retry's backoff; a request waiting for another's answer
    /// checks on it so).
    async fn sleep(&self, ms: u64);

    /// Waits until the conversation `id` has no turn in progress, then holds it for this turn and
    /// answers its stored record (`None` for a new or forgotten conversation). `Err` when the
    /// conversation could not be reached.
    async fn conversation_begin(&self, id: &str) -> Result<(ConversationLease, Option<String>), String>;

    /// Stores the turn's record (kept `retention_seconds` after this turn) and ends the turn.
    /// False when it could not be stored: the turn's reply must not be sent.
    async fn conversation_commit(&self, lease: &ConversationLease, record: &str, retention_seconds: u64) -> bool;

    /// Ends a turn that stores nothing, in the background.
    fn conversation_abort(&self, lease: ConversationLease);

    /// The stored record, without waiting for a turn in progress.
    async fn conversation_read(&self, id: &str) -> Result<Option<String>, String>;

    /// Counts a finished request in the isolate's memory, synchronously; the counts reach shared
    /// storage within seconds, in the background (never delaying an answer).
    fn record_analytics(&self, record: RequestRecord);

    /// The stored analytics of the minutes `from..=to` (minutes since the Unix epoch), from every
    /// isolate.
    async fn read_analytics(&self, from: i64, to: i64) -> Result<Batch, AnalyticsUnavailable>;

    /// Writes one line to the log.
    fn log(&self, line: &str);
}
