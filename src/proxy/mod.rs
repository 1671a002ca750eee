//! Proxying to registered origins, in Pingora-like phases, once for every proxied route:
//! body limit → cache lookup → upstream request → send → response filter (redaction) → store.
//!
//! Request bodies are streamed, never buffered (except for opt-in POST caching of inference, whose
//! key needs the body's digest). Responses stream too, unless they must be redacted.

mod headers;
mod redact;
mod target;

pub use headers::CREDENTIAL_PARAMETERS;
pub use target::upstream_url;

use crate::cache::{CacheKey, TieredCache};
use crate::config::{Exposure, ServiceConfig};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{Body, FetchFailure, GatewayRequest, GatewayResponse, OutboundRequest};
use crate::platform::Platform;

/// Largest JSON answer read for redaction.
const MAX_REDACTED_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Bypass => "BYPASS",
        }
    }
}

/// One proxied request: the service, the path below its base URL, and the limits that apply.
pub struct ProxyCall<'a> {
    pub service: &'a ServiceConfig,
    pub path: &'a str,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    /// Distinguishes callers whose answers must never be shared (open gateway vs authorized).
    pub access_class: &'a str,
    pub cache: &'a TieredCache,
}

pub async fn proxy<P: Platform>(
    call: ProxyCall<'_>,
    mut request: GatewayRequest<P::Stream>,
    platform: &P,
) -> Result<(GatewayResponse<P::Stream>, CacheStatus)> {
    let service = call.service;
    let declared_length = request.headers.get("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > call.max_body_bytes) {
        return Err(payload_too_large(call.max_body_bytes));
    }
    let base_url = service.base().ok_or_else(|| GatewayError::config("invalid base_url"))?;
    let query = headers::upstream_query(request.url.query(), service);
    let url = target::upstream_url(&base_url, call.path, Some(&query))?;
    let proto = request.url.scheme().to_string();
    let headers = headers::upstream_headers(&request.headers, service, request.client_ip(), &proto);
    let method = request.method.clone();

    // Phase: body. POST caching of inference needs the body's digest, so only then is it read.
    let cache_ttl = service.cache_seconds().map(|s| s.ceil() as u64);
    let cacheable_post = method == "POST" && service.expose == Some(Exposure::Inference) && cache_ttl.is_some();
    let body = match std::mem::replace(&mut request.body, Body::Empty) {
        Body::Stream(stream) if cacheable_post => {
            let limit = call.max_body_bytes as usize;
            let bytes = platform.read(Body::Stream(stream), limit).await.map_err(|e| match e {
                crate::http::BodyError::TooLarge => payload_too_large(call.max_body_bytes),
                crate::http::BodyError::Broken(why) => {
                    GatewayError::bad_request(format!("request body: {why}"))
                }
            })?;
            Body::Bytes(bytes)
        }
        // Without a declared length the limit is counted while streaming.
        Body::Stream(stream) if declared_length.is_none() => Body::Stream(platform.limit(stream, call.max_body_bytes)),
        other => other,
    };

    // Phase: cache lookup.
    let key = match (&body, cache_ttl) {
        (Body::Empty, Some(_)) if method == "GET" || method == "HEAD" => Some(CacheKey::new(
            "proxy",
            &[service.name.to_lowercase().as_bytes(), b"GET", url.as_str().as_bytes(), call.access_class.as_bytes()],
        )),
        (Body::Bytes(bytes), Some(_)) => Some(CacheKey::new(
            "proxy",
            &[
                service.name.to_lowercase().as_bytes(),
                b"POST",
                url.as_str().as_bytes(),
                call.access_class.as_bytes(),
                bytes,
            ],
        )),
        _ => None,
    };
    let refresh = request.headers.get("cache-control").is_some_and(|v| v.to_ascii_lowercase().contains("no-cache"));
    if let (Some(key), false) = (&key, refresh) {
        if let Some(cached) = call.cache.get(platform, key.as_str()).await {
            if let Some(etag) = cached.headers.get("etag").map(str::to_string) {
                if etag_matches(request.headers.get("if-none-match"), &etag) {
                    let mut not_modified = GatewayResponse::empty(304);
                    not_modified.headers.set("etag", etag);
                    return Ok((not_modified, CacheStatus::Hit));
                }
            }
            return Ok((cached, CacheStatus::Hit));
        }
    }

    // Phase: send.
    let outbound = OutboundRequest { method: method.clone(), url: url.to_string(), headers, body };
    let response = platform.fetch(outbound, call.timeout_ms).await.map_err(|failure| match failure {
        FetchFailure::BodyTooLarge => payload_too_large(call.max_body_bytes),
        FetchFailure::Timeout => GatewayError::new(
            ErrorKind::GatewayTimeout,
            format!("The service '{}' did not answer within {} ms.", service.name, call.timeout_ms),
        ),
        FetchFailure::Network(why) => {
            GatewayError::new(ErrorKind::BadGateway, format!("The service '{}' could not be reached.", service.name))
                .with_details(serde_json::json!({ "error": why }))
        }
    })?;

    // Phase: response filter.
    let mut response = GatewayResponse {
        status: response.status,
        headers: headers::downstream_headers(&response.headers),
        body: response.body,
    };
    let keys = service.redacted_keys();
    let is_json = response.headers.get("content-type").is_some_and(|t| t.contains("json"));
    if !keys.is_empty() && is_json {
        response = redact_body(response, &keys, platform).await?;
    }

    // Phase: store.
    let status = if key.is_some() { CacheStatus::Miss } else { CacheStatus::Bypass };
    if let (Some(key), Some(ttl)) = (key, cache_ttl) {
        let storable = (200..300).contains(&response.status)
            && response.status != 206
            && response.headers.get("set-cookie").is_none()
            && !response.headers.get("cache-control").is_some_and(|v| v.contains("no-store") || v.contains("private"))
            && !response.headers.get("vary").is_some_and(|v| v.contains('*'));
        if storable {
            response = store(response, key.as_str(), ttl, call.cache, platform).await;
        }
    }
    Ok((response, status))
}

/// Stores a copy of `response` and gives back one to answer with.
async fn store<P: Platform>(
    response: GatewayResponse<P::Stream>,
    key: &str,
    ttl: u64,
    cache: &TieredCache,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let GatewayResponse { status, headers, body } = response;
    let (client, stored) = match body {
        Body::Stream(stream) => {
            let (a, b) = platform.tee(stream);
            (Body::Stream(a), Body::Stream(b))
        }
        Body::Bytes(bytes) => (Body::Bytes(bytes.clone()), Body::Bytes(bytes)),
        Body::Empty => (Body::Empty, Body::Empty),
    };
    cache.put(platform, key, GatewayResponse { status, headers: headers.clone(), body: stored }, ttl).await;
    GatewayResponse { status, headers, body: client }
}

async fn redact_body<P: Platform>(
    response: GatewayResponse<P::Stream>,
    keys: &[String],
    platform: &P,
) -> Result<GatewayResponse<P::Stream>> {
    let GatewayResponse { status, mut headers, body } = response;
    let bytes = platform
        .read(body, MAX_REDACTED_BYTES)
        .await
        .map_err(|_| GatewayError::new(ErrorKind::BadGateway, "The service's answer could not be read."))?;
    // The body was read decoded, and may change length below.
    headers.remove("content-length");
    headers.remove("content-encoding");
    if redact::cannot_contain(&bytes, keys) {
        return Ok(GatewayResponse { status, headers, body: Body::Bytes(bytes) });
    }
    let mut value = serde_json::from_slice::<serde_json::Value>(&bytes)
        // Not JSON after all: nothing can be located to redact, so nothing is passed on.
        .map_err(|_| GatewayError::new(ErrorKind::BadGateway, "The service answered invalid JSON."))?;
    redact::redact(&mut value, keys);
    headers.remove("etag");
    Ok(GatewayResponse { status, headers, body: Body::Bytes(value.to_string().into_bytes()) })
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
mod tests;
