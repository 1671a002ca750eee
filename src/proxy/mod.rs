//! Proxying to registered origins, in Pingora-like phases, the same for every proxied route: the
//! service's path rules → [`limit_body`] → [`lookup`] → (one request per miss: [`coalesce`]) →
//! [`upstream_request`] → [`send`] → ([`stale`] when the origin failed) → [`filter_response`] →
//! [`store`].
//!
//! Request bodies are streamed, never buffered (except for opt-in POST caching of inference, whose
//! key needs the body's digest). Responses stream too, unless they must be redacted, or are shared
//! with identical requests waiting for them.
//!
//! The service's timeout bounds the whole exchange: the answer's headers, and a body read for
//! redaction (or for sharing), by one deadline. A body streamed to the client may take as long as
//! it needs, but is cut when the origin stalls for longer than the timeout; a small one (a declared
//! length up to [`SMALL_ANSWER_BYTES`](crate::http::SMALL_ANSWER_BYTES)) is read whole by the same
//! deadline.

mod coalesce;
mod failover;
mod headers;
mod target;
mod upstream;

pub use coalesce::{InFlightAnswers, SharedAnswer, MAX_SHARED_BYTES};
pub use headers::CREDENTIAL_PARAMETERS;
pub use target::upstream_url;
pub use upstream::Upstream;

use crate::cache::{CacheKey, CacheStatus, TieredCache, Turn};
use crate::config::Exposure;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{
    is_origin_failure_status, is_small_answer, public_text, Body, BodyError, FetchFailure, GatewayRequest,
    GatewayResponse, Headers, OutboundRequest, SMALL_ANSWER_BYTES,
};
use crate::platform::{Deadline, Platform};
use crate::redact::Redacted;
use coalesce::Waited;

/// Largest JSON answer read for redaction.
const MAX_REDACTED_BYTES: usize = 8 * 1024 * 1024;

/// One proxied request: the service, the path below its base URL, and who may share its answers.
pub struct ProxyCall<'a> {
    pub upstream: &'a Upstream,
    /// Below the service's base URL, still percent-encoded.
    pub path: &'a str,
    /// Distinguishes callers whose answers must never be shared (open gateway vs authorized).
    pub access_class: &'a str,
    /// The consumer calling, whose name the origin receives (`x-gateway-consumer`).
    pub consumer: Option<&'a str>,
    pub cache: &'a TieredCache,
    /// The isolate's cache misses at the origin, shared by identical requests (`None`: this
    /// caller's requests are never shared, as a forwarded chat message's).
    pub in_flight: Option<&'a InFlightAnswers>,
}

/// Proxies `request` to the call's origin; the answer and how the cache took part in it.
pub async fn proxy<P: Platform>(
    call: ProxyCall<'_>,
    request: GatewayRequest<P::Stream>,
    platform: &P,
) -> Result<(GatewayResponse<P::Stream>, CacheStatus)> {
    let GatewayRequest { method, url: client_url, headers: client_headers, body } = request;
    // The service's path rules, before anything is read or sent.
    if !call.upstream.service.forwards(call.path) {
        return Err(GatewayError::not_found("The path is not allowed by this gateway."));
    }
    let body = limit_body(&call, &method, &client_headers, body, platform).await?;
    let service = &call.upstream.service;
    let base_url = service.base().ok_or_else(|| GatewayError::config("invalid base_url"))?;
    let query = headers::upstream_query(client_url.query(), service);
    let url = target::upstream_url(&base_url, call.path, Some(&query))?;
    let key = cache_key(&call, &method, url.as_str(), &body);
    // `no-cache` skips the stored copy and refreshes it (CONTRACT section 4).
    let refresh = client_headers.get("cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"));
    if let (Some(key), false) = (&key, refresh) {
        if let Some(mut hit) = lookup(call.cache, key, client_headers.get("if-none-match"), platform).await {
            if method == "HEAD" {
                hit.body = Body::Empty;
            }
            return Ok((hit, CacheStatus::Hit));
        }
    }
    // One origin request per miss: a plain GET waits for the identical one at the origin.
    let mut lead = None;
    let joins = key.as_ref().zip(call.in_flight).filter(|_| coalesce::takes_part(&method, &client_headers, refresh));
    if let Some((key, in_flight)) = joins {
        match in_flight.join(key.as_str()) {
            Turn::Lead(leading) => lead = Some(leading),
            Turn::Wait(wait) => match coalesce::wait(wait, call.upstream.longest_exchange_ms(), platform).await {
                Waited::Shared(Ok(shared)) => return Ok(shared.into_response()),
                Waited::Shared(Err(error)) => return Err(error),
                Waited::TimedOut => {
                    let if_none_match = client_headers.get("if-none-match");
                    return match stale(&call, Some(key), if_none_match, platform).await {
                        Some(stale) => Ok((stale, CacheStatus::Stale)),
                        None => Err(timed_out(&call)),
                    };
                }
                // The leader had nothing to share: this request goes on its own.
                Waited::Alone => {}
            },
        }
    }
    let status = match (&key, refresh) {
        (Some(_), false) => CacheStatus::Miss,
        _ => CacheStatus::Bypass,
    };
    let outbound = upstream_request(&call, method, url, &client_headers, client_url.scheme(), body);
    let (outcome, deadline) = exchange(&call, key, status, outbound, &query, &client_headers, platform).await;
    match lead {
        Some(lead) if lead.waiting() > 0 => coalesce::share(lead, outcome, shareable, deadline, platform).await,
        _ => outcome,
    }
}

/// The origin's part: [`send`], then a stale copy if the origin (and its fallbacks) failed, else
/// [`filter_response`] and [`store`]; with the deadline by which the answer's body is read.
async fn exchange<P: Platform>(
    call: &ProxyCall<'_>,
    key: Option<CacheKey>,
    status: CacheStatus,
    outbound: OutboundRequest<P::Stream>,
    query: &str,
    client_headers: &Headers,
    platform: &P,
) -> (Result<(GatewayResponse<P::Stream>, CacheStatus)>, Deadline) {
    let is_head = outbound.method == "HEAD";
    let (sent, deadline) = send(call, outbound, query, platform).await;
    if origin_failed(&sent) {
        if let Some(stale) = stale(call, key.as_ref(), client_headers.get("if-none-match"), platform).await {
            return (Ok((stale, CacheStatus::Stale)), deadline);
        }
    }
    let filtered = match sent {
        Ok(response) => filter_response(call, response, deadline, platform).await,
        Err(error) => Err(error),
    };
    let answer = match (filtered, key) {
        (Err(error), _) => Err(error),
        // A HEAD may be answered from a stored GET, but its own answer has no body to store.
        (Ok(response), Some(key)) if !is_head => Ok((store(call, key, response, platform).await, status)),
        (Ok(response), _) => Ok((response, status)),
    };
    (answer, deadline)
}

/// Phase 1: the body limit. A declared length over the limit is refused at once; a stream without
/// one is counted while it is sent. POST caching of inference needs the body's digest, so only
/// then is the body read here.
async fn limit_body<P: Platform>(
    call: &ProxyCall<'_>,
    method: &str,
    client_headers: &Headers,
    body: Body<P::Stream>,
    platform: &P,
) -> Result<Body<P::Stream>> {
    let limit = call.upstream.max_body_bytes;
    let declared_length = client_headers.content_length();
    if declared_length.is_some_and(|length| length > limit) {
        return Err(payload_too_large(limit));
    }
    Ok(match body {
        Body::Stream(stream) if caches_posts(call) && method == "POST" => {
            let bytes = platform.read(Body::Stream(stream), limit as usize).await.map_err(|e| match e {
                BodyError::TooLarge => payload_too_large(limit),
                BodyError::TimedOut => GatewayError::bad_request("request body: not received in time"),
                BodyError::Broken(why) => GatewayError::bad_request(format!("request body: {why}")),
            })?;
            Body::Bytes(bytes)
        }
        Body::Stream(stream) if declared_length.is_none() => Body::Stream(platform.limit(stream, limit)),
        other => other,
    })
}

/// Identical inference POSTs of a service with `cache` are answered from the cache.
fn caches_posts(call: &ProxyCall<'_>) -> bool {
    call.upstream.service.expose == Some(Exposure::Inference) && call.upstream.service.cache_seconds().is_some()
}

/// The cache entry this request may be answered from and stored as, when the service caches.
fn cache_key<B>(call: &ProxyCall<'_>, method: &str, url: &str, body: &Body<B>) -> Option<CacheKey> {
    let service = &call.upstream.service;
    service.cache_seconds()?;
    let name = service.name.to_lowercase();
    let identity = [name.as_bytes(), b"GET", url.as_bytes(), call.access_class.as_bytes()];
    match body {
        Body::Empty if method == "GET" || method == "HEAD" => Some(CacheKey::new("proxy", &identity)),
        Body::Bytes(bytes) if caches_posts(call) && method == "POST" => {
            let [name, _, url, class] = identity;
            Some(CacheKey::new("proxy", &[name, b"POST", url, class, bytes]))
        }
        _ => None,
    }
}

/// Phase 2: the cache lookup; a stored answer whose ETag the client already has is a 304.
async fn lookup<P: Platform>(
    cache: &TieredCache,
    key: &CacheKey,
    if_none_match: Option<&str>,
    platform: &P,
) -> Option<GatewayResponse<P::Stream>> {
    let cached = cache.get(platform, key.as_str()).await?;
    Some(not_modified(cached, if_none_match))
}

/// A stored answer whose ETag the client already has becomes a 304 (keeping its `Age`).
fn not_modified<B>(stored: GatewayResponse<B>, if_none_match: Option<&str>) -> GatewayResponse<B> {
    let Some(etag) = stored.headers.get("etag").filter(|etag| etag_matches(if_none_match, etag)) else { return stored };
    let mut not_modified = GatewayResponse::empty(304);
    not_modified.headers.set("etag", etag);
    if let Some(age) = stored.headers.get("age") {
        not_modified.headers.set("age", age);
    }
    not_modified
}

/// The stored answer for a failed origin, when the service has `stale_if_error` and one expired at
/// most that long ago (RFC 5861), with its `Age`; a 304 when the client has its ETag.
async fn stale<P: Platform>(
    call: &ProxyCall<'_>,
    key: Option<&CacheKey>,
    if_none_match: Option<&str>,
    platform: &P,
) -> Option<GatewayResponse<P::Stream>> {
    let window = call.upstream.stale_if_error?;
    let stored = call.cache.get_stale(platform, key?.as_str(), window).await?;
    Some(not_modified(stored, if_none_match))
}

/// Whether the send phase's outcome is an origin failure in CONTRACT section 7's sense: the errors
/// [`send`] makes of [`FetchFailure::is_origin_failure`] failures (and of an open circuit), or an
/// answer of [`is_origin_failure_status`].
fn origin_failed<B>(sent: &Result<GatewayResponse<B>>) -> bool {
    match sent {
        Ok(response) => is_origin_failure_status(response.status),
        Err(error) => {
            matches!(error.kind, ErrorKind::BadGateway | ErrorKind::GatewayTimeout | ErrorKind::ServiceUnavailable)
        }
    }
}

/// Phase 3: the request the origin receives: the client's, less its credentials and hop-by-hop
/// headers, plus the service's own headers, parameters and auth.
fn upstream_request<B>(
    call: &ProxyCall<'_>,
    method: String,
    url: String,
    client_headers: &Headers,
    client_scheme: &str,
    body: Body<B>,
) -> OutboundRequest<B> {
    let client_ip = client_headers.get("cf-connecting-ip");
    let mut headers = headers::upstream_headers(client_headers, &call.upstream.service, client_ip, client_scheme);
    if let Some(consumer) = call.consumer {
        headers.set(headers::CONSUMER_HEADER, consumer);
    }
    OutboundRequest { method, url, headers, body }
}

/// Phase 4: the send, within the service's timeout, and with its retries, fallbacks and circuit
/// when it has them ([`failover`]). A request the core may not send (an invalid header) is refused
/// here, before it reaches the platform. The outcome comes with its exchange's deadline: the
/// service's timeout from when the try that answered was sent.
async fn send<P: Platform>(
    call: &ProxyCall<'_>,
    outbound: OutboundRequest<P::Stream>,
    query: &str,
    platform: &P,
) -> (Result<GatewayResponse<P::Stream>>, Deadline) {
    let deadline = Deadline::after(platform.now(), call.upstream.timeout_ms);
    if let Err(why) = outbound.check() {
        return (Err(fetch_error(call, FetchFailure::InvalidRequest(why))), deadline);
    }
    let Some(policy) = &call.upstream.policy else {
        let sent = platform.fetch(outbound, call.upstream.timeout_ms).await;
        return (sent.map_err(|failure| fetch_error(call, failure)), deadline);
    };
    failover::send(call, policy, outbound, query, platform).await
}

/// The error of a send that produced no response.
fn fetch_error(call: &ProxyCall<'_>, failure: FetchFailure) -> GatewayError {
    let Upstream { max_body_bytes, .. } = *call.upstream;
    match failure {
        FetchFailure::BodyTooLarge => payload_too_large(max_body_bytes),
        FetchFailure::Timeout => timed_out(call),
        FetchFailure::Network(why) => GatewayError::new(
            ErrorKind::BadGateway,
            format!("The service '{}' could not be reached.", call.upstream.name()),
        )
        .with_details(serde_json::json!({ "error": public_text(&why, call.upstream.service.secret_values()) })),
        // The client's headers come through the runtime, which holds no invalid ones: this is the
        // service's own configuration (a header or a secret with a line break).
        FetchFailure::InvalidRequest(why) => {
            GatewayError::config(format!("The request to the service '{}' was not sent: {why}.", call.upstream.name()))
        }
    }
}

/// The error of an answer whose body could not be read by the exchange's deadline (`purpose` says
/// what it was read for, as " to remove its secrets").
fn unread_answer(call: &ProxyCall<'_>, error: BodyError, purpose: &str) -> GatewayError {
    match error {
        BodyError::TimedOut => timed_out(call),
        _ => GatewayError::new(ErrorKind::BadGateway, format!("The service's answer could not be read{purpose}.")),
    }
}

/// The error of an exchange that passed its deadline.
fn timed_out(call: &ProxyCall<'_>) -> GatewayError {
    let Upstream { timeout_ms, .. } = *call.upstream;
    GatewayError::new(
        ErrorKind::GatewayTimeout,
        format!("The service '{}' did not answer within {timeout_ms} ms.", call.upstream.name()),
    )
}

/// Phase 5: the response filter: hop-by-hop and CORS headers dropped, secrets redacted (the body
/// read by the exchange's `deadline`), a streamed body cut should the origin stall. A service
/// with redaction keys has every answer read and checked, whatever its Content-Type claims
/// (`text/plain` can hold the same JSON).
async fn filter_response<P: Platform>(
    call: &ProxyCall<'_>,
    response: GatewayResponse<P::Stream>,
    deadline: Deadline,
    platform: &P,
) -> Result<GatewayResponse<P::Stream>> {
    let response = GatewayResponse {
        status: response.status,
        headers: headers::downstream_headers(&response.headers),
        body: response.body,
    };
    let keys = call.upstream.service.redacted_keys();
    if !keys.is_empty() {
        return redact_body(call, response, &keys, deadline, platform).await;
    }
    let body = match response.body {
        // A small answer not read with its head (it comes as bytes when it was), or one whose read
        // with its head failed: this read fails the same way.
        Body::Stream(stream) if is_small_answer(&response.headers) => {
            let read = platform.read_by(Body::Stream(stream), SMALL_ANSWER_BYTES as usize, deadline).await;
            Body::Bytes(read.map_err(|error| unread_answer(call, error, ""))?)
        }
        Body::Stream(stream) => Body::Stream(platform.cut_when_idle(stream, call.upstream.timeout_ms)),
        other => other,
    };
    Ok(GatewayResponse { body, ..response })
}

/// Phase 6: the store: a cacheable answer is kept while a copy goes to the client.
async fn store<P: Platform>(
    call: &ProxyCall<'_>,
    key: CacheKey,
    response: GatewayResponse<P::Stream>,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let Some(ttl) = call.upstream.service.cache_seconds().map(|s| s.ceil() as u64) else { return response };
    let kept = call.upstream.stale_if_error.map_or(0, |s| s.ceil() as u64);
    if !storable(&response) {
        return response;
    }
    let GatewayResponse { status, headers, body } = response;
    let (client, stored) = match body {
        Body::Stream(stream) => {
            let (a, b) = platform.tee(stream);
            (Body::Stream(a), Body::Stream(b))
        }
        Body::Bytes(bytes) => (Body::Bytes(bytes.clone()), Body::Bytes(bytes)),
        Body::Empty => (Body::Empty, Body::Empty),
    };
    let stored = GatewayResponse { status, headers: headers.clone(), body: stored };
    call.cache.put_kept(platform, key.as_str(), stored, ttl, kept).await;
    GatewayResponse { status, headers, body: client }
}

/// Answers that are stored: successful ones that may be shared.
fn storable<B>(response: &GatewayResponse<B>) -> bool {
    (200..300).contains(&response.status) && shareable(response)
}

/// What the Cache API would refuse or must not share with other requests: partial, not-modified,
/// cookie-setting, private answers, and answers that vary by a request header. The entries are
/// keyed by URL and caller only, so an answer chosen by `Accept` or `Accept-Language` would be
/// served to clients that asked for another; only `Accept-Encoding`, which the runtime negotiates
/// itself, is let through.
fn shareable<B>(response: &GatewayResponse<B>) -> bool {
    let headers = &response.headers;
    let cache_control = headers.get("cache-control").unwrap_or_default().to_ascii_lowercase();
    let varies = headers
        .get_all("vary")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|name| !name.is_empty() && !name.eq_ignore_ascii_case("accept-encoding"));
    response.status != 206
        && response.status != 304
        && headers.get("set-cookie").is_none()
        && !cache_control.contains("no-store")
        && !cache_control.contains("private")
        && !varies
}

async fn redact_body<P: Platform>(
    call: &ProxyCall<'_>,
    response: GatewayResponse<P::Stream>,
    keys: &[String],
    deadline: Deadline,
    platform: &P,
) -> Result<GatewayResponse<P::Stream>> {
    let GatewayResponse { status, mut headers, body } = response;
    let unreadable = |why: &str| GatewayError::new(ErrorKind::BadGateway, format!("The service's answer {why}."));
    let bytes = platform
        .read_by(body, MAX_REDACTED_BYTES, deadline)
        .await
        .map_err(|error| unread_answer(call, error, " to remove its secrets"))?;
    let body = match crate::redact::redact_body(&bytes, headers.get("content-encoding"), keys) {
        Redacted::Unchanged => bytes,
        Redacted::Rewritten(text) => {
            headers.remove("etag");
            headers.set("content-type", "application/json");
            text
        }
        Redacted::Unreadable => return Err(unreadable("is not JSON, so its secrets cannot be removed")),
    };
    // The body was read decoded, and may have changed length.
    headers.remove("content-length");
    headers.remove("content-encoding");
    Ok(GatewayResponse { status, headers, body: Body::Bytes(body) })
}

fn etag_matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let weak = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    if_none_match.is_some_and(|value| value.trim() == "*" || value.split(',').any(|tag| weak(tag) == weak(etag)))
}

fn payload_too_large(limit: u64) -> GatewayError {
    GatewayError::new(ErrorKind::PayloadTooLarge, format!("The request body is larger than {limit} bytes."))
        .with_details(serde_json::json!({ "max_body_bytes": limit }))
}

#[cfg(test)]
mod coalesce_tests;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod stale_tests;
#[cfg(test)]
mod tests;
