//! The send phase of a service with `retries`, `fallback_urls` or `circuit` (see
//! [`resilience`](crate::resilience)), and what the client is told when no origin answered: the
//! last try's failure (timeout, unreachable, or the status it answered) in the error shape, or 503
//! when every circuit is open. Every try happens before anything is answered, so the client never
//! sees a retry; an upload's streamed body is sent once.
//!
//! A fallback gets the request's path and query joined by the same no-escape rules as the base URL.

use serde_json::json;

use super::{fetch_error, target, ProxyCall};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{public_text, GatewayResponse, OutboundRequest};
use crate::platform::{Deadline, Platform};
use crate::resilience::{self, Bounds, Origin, RetryBudget, Sent, ServicePolicy, TryFailure};

pub(super) async fn send<P: Platform>(
    call: &ProxyCall<'_>,
    policy: &ServicePolicy,
    outbound: OutboundRequest<P::Stream>,
    query: &str,
    platform: &P,
) -> (Result<GatewayResponse<P::Stream>>, Deadline) {
    let url_on = |origin: &Origin| target::upstream_url(&origin.base, call.path, Some(query)).ok();
    let budget = RetryBudget::default();
    let timeout_ms = call.upstream.timeout_ms;
    let bounds = Bounds { timeout_ms, until: None, budget: &budget };
    let failed = match resilience::send(platform, policy, outbound, url_on, bounds).await {
        // The answer's body is read by the same bound as a single try's.
        Sent::Done { result, started, .. } => {
            return (result.map_err(|failure| fetch_error(call, failure)), Deadline::after(started, timeout_ms))
        }
        Sent::Failed { failure, tries, .. } => exhausted(call, failure, tries),
        Sent::Unavailable { retry_after_seconds } => GatewayError::new(
            ErrorKind::ServiceUnavailable,
            format!(
                "The service '{}' is unavailable: it failed repeatedly and is not asked again for {retry_after_seconds} s.",
                call.upstream.name()
            ),
        )
        .with_header("retry-after", retry_after_seconds.to_string()),
    };
    (Err(failed), Deadline::after(platform.now(), timeout_ms))
}

/// The error when every try failed: what the last one met, and how many there were.
fn exhausted(call: &ProxyCall<'_>, failure: TryFailure, tries: u32) -> GatewayError {
    let name = call.upstream.name();
    let after = if tries > 1 { format!(" ({tries} tries)") } else { String::new() };
    match failure {
        TryFailure::Timeout => GatewayError::new(
            ErrorKind::GatewayTimeout,
            format!("The service '{name}' did not answer within {} ms{after}.", call.upstream.timeout_ms),
        )
        .with_details(json!({ "tries": tries })),
        TryFailure::Unreachable(why) => {
            GatewayError::new(ErrorKind::BadGateway, format!("The service '{name}' could not be reached{after}."))
                .with_details(json!({
                    "error": public_text(&why, call.upstream.service.secret_values()),
                    "tries": tries,
                }))
        }
        TryFailure::Status(status) => {
            let (kind, text) = match status {
                502 => (ErrorKind::BadGateway, "Bad Gateway"),
                503 => (ErrorKind::ServiceUnavailable, "Service Unavailable"),
                _ => (ErrorKind::GatewayTimeout, "Gateway Timeout"),
            };
            GatewayError::new(kind, format!("The service '{name}' answered {status} {text}{after}."))
                .with_details(json!({ "status": status, "tries": tries }))
        }
    }
}
