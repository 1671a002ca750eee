//! The body-first phase of a chat message. An asynchronous handler costs a Worker more than a
//! cached chat turn itself, so the entry module reads a webhook's (declared, bounded) body first and
//! offers the whole request here: it is served at once when nothing in it needs I/O (no auth check
//! needing the network, every rest_call answered from the isolate's memory), else the request goes
//! to the asynchronous handler, which does everything again with I/O allowed.
//!
//! "Nothing needs I/O" is found out by polling [`serve`] once over a platform whose I/O never
//! completes and never starts: a turn that would send a request stops at its first await, before
//! anything left the isolate, so no POST is ever sent twice.

use crate::chat::{wants_stream, MAX_WEBHOOK_BYTES};
use crate::error::Result;
use crate::gateway::route::{route, GuardedRoute, Route};
use crate::gateway::{serve, Gateway};
use crate::http::{Body, BodyError, FetchFailure, GatewayRequest, GatewayResponse, OutboundRequest};
use crate::platform::{
    poll_once, AnalyticsUnavailable, Batch, ConversationLease, CounterCharge, Deadline, Platform, RequestRecord,
    SignatureAlgorithm, Spent,
};

/// The byte limit under which the entry module should read the body first, or `None` when this
/// request should go straight to the asynchronous handler: not a chat message, a chat that always
/// needs the network (forwarded to Rasa, NLU, or a rate limit's counter), or a streamed reply
/// (which the asynchronous handler can send while its turn still runs).
pub fn body_first_limit(gateway: &Result<Gateway>, method: &str, path: &str, query: Option<&str>) -> Option<usize> {
    let Ok(gateway) = gateway else { return None };
    // A rate-limited chat message always waits for its counters.
    let eligible = route(method, path) == Route::Guarded(GuardedRoute::Webhook)
        && !gateway.chat().always_needs_network()
        && !gateway.limits().cover_webhook()
        && !wants_stream(query);
    eligible.then_some(MAX_WEBHOOK_BYTES)
}

/// Serves `request` (its body in hand, as bytes) if that needs no I/O. A request with an
/// Authorization header is always handed over: a bearer token's check may need the issuer's keys,
/// and a JWKS fetch is recorded before it is made.
pub fn serve_if_ready<P: Platform>(
    gateway: &Result<Gateway>,
    request: GatewayRequest<P::Stream>,
    platform: &P,
) -> Option<GatewayResponse<P::Stream>> {
    if request.headers.get("authorization").is_some() {
        return None;
    }
    poll_once(serve(gateway, request, &WithoutIo(platform)))
}

/// The platform with its I/O switched off: whatever would reach the network or the cache waits
/// forever instead, before starting. Clock, logging, analytics counting (in memory; its flush is the
/// inner platform's, in the background) and bodies already in memory still work.
struct WithoutIo<'a, P>(&'a P);

impl<P: Platform> Platform for WithoutIo<'_, P> {
    type Stream = P::Stream;
    type Writer = P::Writer;

    fn now(&self) -> f64 {
        self.0.now()
    }

    async fn fetch(
        &self,
        _: OutboundRequest<P::Stream>,
        _: u64,
    ) -> std::result::Result<GatewayResponse<P::Stream>, FetchFailure> {
        std::future::pending().await
    }

    async fn read(&self, body: Body<P::Stream>, limit: usize) -> std::result::Result<Vec<u8>, BodyError> {
        match body {
            Body::Empty => Ok(Vec::new()),
            Body::Bytes(bytes) if bytes.len() > limit => Err(BodyError::TooLarge),
            Body::Bytes(bytes) => Ok(bytes),
            Body::Stream(_) => std::future::pending().await,
        }
    }

    async fn read_by(
        &self,
        body: Body<P::Stream>,
        limit: usize,
        _: Deadline,
    ) -> std::result::Result<Vec<u8>, BodyError> {
        self.read(body, limit).await
    }

    fn limit(&self, stream: P::Stream, limit: u64) -> P::Stream {
        self.0.limit(stream, limit)
    }

    fn cut_when_idle(&self, stream: P::Stream, idle_ms: u64) -> P::Stream {
        self.0.cut_when_idle(stream, idle_ms)
    }

    fn tee(&self, stream: P::Stream) -> (P::Stream, P::Stream) {
        self.0.tee(stream)
    }

    fn open_body(&self) -> (P::Writer, P::Stream) {
        self.0.open_body()
    }

    fn write_body(&self, writer: &P::Writer, text: &str) {
        self.0.write_body(writer, text);
    }

    fn end_body(&self, writer: P::Writer) {
        self.0.end_body(writer);
    }

    async fn cache_get(&self, _: &str) -> Option<GatewayResponse<P::Stream>> {
        std::future::pending().await
    }

    async fn cache_put(&self, _: &str, _: GatewayResponse<P::Stream>, _: u64) {
        std::future::pending().await
    }

    async fn verify_signature(&self, _: SignatureAlgorithm, _: &[u8], _: &[u8], _: &[u8]) -> bool {
        std::future::pending().await
    }

    async fn spend(&self, _: &[CounterCharge], _: u64) -> Vec<Option<Spent>> {
        std::future::pending().await
    }

    async fn sleep(&self, _: u64) {
        std::future::pending().await
    }

    fn give_back(&self, counted: Vec<(String, f64)>) {
        self.0.give_back(counted);
    }

    async fn conversation_begin(&self, _: &str) -> std::result::Result<(ConversationLease, Option<String>), String> {
        std::future::pending().await
    }

    async fn conversation_commit(&self, _: &ConversationLease, _: &str, _: u64) -> bool {
        std::future::pending().await
    }

    // Never reached: no turn begins without I/O.
    fn conversation_abort(&self, lease: ConversationLease) {
        self.0.conversation_abort(lease);
    }

    async fn conversation_read(&self, _: &str) -> std::result::Result<Option<String>, String> {
        std::future::pending().await
    }

    fn record_analytics(&self, record: RequestRecord) {
        self.0.record_analytics(record);
    }

    async fn read_analytics(&self, _: i64, _: i64) -> std::result::Result<Batch, AnalyticsUnavailable> {
        std::future::pending().await
    }

    fn log(&self, line: &str) {
        self.0.log(line);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::platform::memory::{block_on, MemoryPlatform, MemoryStream};

    /// A gateway whose chat keeps no conversations, unless `chat` says otherwise.
    fn gateway(mut chat: serde_json::Value) -> Result<Gateway> {
        if chat.get("conversations").is_none() {
            chat["conversations"] = json!("off");
        }
        Gateway::load(
            json!({
                "extensions": {"rest": {"services": [{"name": "api", "base_url": "http://api.example/"}]}},
                "dialog": [{"condition": "true", "response": "{% GET \"api://t\" cache 60 %}It is {{ rest.json.t }}."}],
                "chat": chat,
            }),
            &|_| None,
        )
    }

    fn message() -> GatewayRequest<MemoryStream> {
        let body = br#"{"sender": "u1", "message": "temperature?"}"#;
        let mut request = MemoryPlatform::request("POST", "https://gw.example/webhooks/rest/webhook", &[], body);
        request.body = Body::Bytes(body.to_vec());
        request
    }

    fn text(response: &GatewayResponse<MemoryStream>) -> String {
        match &response.body {
            Body::Bytes(bytes) | Body::Stream(MemoryStream { bytes, .. }) => {
                String::from_utf8_lossy(bytes).into_owned()
            }
            Body::Empty => String::new(),
        }
    }

    #[test]
    fn a_turn_is_served_at_once_only_when_it_needs_no_io() {
        let gateway = gateway(json!({}));
        let platform = MemoryPlatform::answering_json(json!({"t": 21}));
        // Not cached yet: the turn would fetch, so it is handed over, and nothing was sent.
        assert!(serve_if_ready(&gateway, message(), &platform).is_none());
        assert!(platform.sent().is_empty());
        let answered = block_on(serve(&gateway, message(), &platform));
        assert_eq!(platform.sent().len(), 1);
        // Now the call is in the isolate's memory: served at once, the same answer, nothing sent.
        let ready = serve_if_ready(&gateway, message(), &platform).expect("served without I/O");
        assert_eq!((ready.status, text(&ready)), (answered.status, text(&answered)));
        assert!(text(&ready).contains("It is 21."));
        assert_eq!(platform.sent().len(), 1);
    }

    #[test]
    fn a_turn_with_an_authorization_header_is_always_handed_over() {
        let gateway = gateway(json!({}));
        let platform = MemoryPlatform::answering_json(json!({"t": 21}));
        block_on(serve(&gateway, message(), &platform)); // the call is now in memory
        assert!(serve_if_ready(&gateway, message(), &platform).is_some());
        let mut with_token = message();
        with_token.headers.set("authorization", "Bearer x.y.z");
        assert!(serve_if_ready(&gateway, with_token, &platform).is_none());
    }

    #[test]
    fn only_chat_messages_without_upstreams_or_streams_are_read_first() {
        let plain = gateway(json!({}));
        assert_eq!(body_first_limit(&plain, "POST", "/webhooks/rest/webhook", None), Some(MAX_WEBHOOK_BYTES));
        assert_eq!(
            body_first_limit(&plain, "POST", "/webhooks/rest/webhook", Some("stream=false")),
            Some(MAX_WEBHOOK_BYTES)
        );
        assert_eq!(body_first_limit(&plain, "POST", "/webhooks/rest/webhook", Some("stream=true")), None);
        assert_eq!(body_first_limit(&plain, "GET", "/health", None), None);
        assert_eq!(body_first_limit(&plain, "POST", "/models/api/upload", None), None);
        let forwarding = gateway(json!({"upstream": "api"}));
        assert_eq!(body_first_limit(&forwarding, "POST", "/webhooks/rest/webhook", None), None);
    }

    #[test]
    fn a_turn_of_a_kept_conversation_is_always_handed_over() {
        let gateway = gateway(json!({"conversations": "on"}));
        assert_eq!(body_first_limit(&gateway, "POST", "/webhooks/rest/webhook", None), None);
        let platform = MemoryPlatform::answering_json(json!({"t": 21}));
        block_on(serve(&gateway, message(), &platform)); // the call is now in memory
                                                         // Even so the turn needs its conversation: handed over, and no turn was begun.
        assert!(serve_if_ready(&gateway, message(), &platform).is_none());
        assert!(!platform.conversations.borrow().in_turn("u1"));
        assert_eq!(platform.sent().len(), 1);
    }
}
