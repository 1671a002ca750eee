//! The send of a request to a service with a [`ServicePolicy`]: each origin in order (the base URL,
//! then the fallbacks), each asked up to `attempts` times with backoff between tries, skipping an
//! origin whose circuit is open, until one answers without failing.
//!
//! What may be sent more than once: a request with an idempotent method and a body in hand (none,
//! or bytes already read). A POST or PATCH, and a request whose body is a stream (a proxied upload
//! is streamed, never buffered, so it cannot be replayed), are sent once, to the first origin whose
//! circuit lets them through. The proxy and `rest_call` both send through here.

use serde_json::json;

use super::circuit::{Admission, Change};
use super::policy::{Origin, ServicePolicy};
use super::retry::{is_idempotent, RetryBudget, TryFailure};
use crate::http::{Body, FetchFailure, GatewayResponse, OutboundRequest};
use crate::platform::{Deadline, Platform};

/// What bounds one exchange besides the policy.
pub struct Bounds<'a> {
    /// Each try's timeout.
    pub timeout_ms: u64,
    /// When the whole exchange must be over: no try or wait runs past it.
    pub until: Option<Deadline>,
    /// Extra tries the request (or the chat message) may still make.
    pub budget: &'a RetryBudget,
}

/// How the exchange ended.
#[derive(Debug)]
pub enum Sent<S> {
    /// The answer (a success, or one a retry would not change), or a request the runtime would not
    /// send ([`FetchFailure::BodyTooLarge`], [`FetchFailure::InvalidRequest`]); with the URL it went
    /// to and when that try started (its answer's body is to be read by its own timeout after that).
    Done { result: Result<GatewayResponse<S>, FetchFailure>, url: String, started: f64 },
    /// Every try failed in a way a retry answers: the last try's failure, its URL, and the tries
    /// made. `cut_short`: the last try had less than its timeout, or none was left for a try at
    /// all, because `until` came first.
    Failed { failure: TryFailure, url: String, tries: u32, cut_short: bool },
    /// Nothing was sent: every origin's circuit is open, the first to close in this many seconds.
    Unavailable { retry_after_seconds: u64 },
}

/// Sends `request` (its URL on the service's base URL) under `policy`. `url_on` gives the request's
/// URL on another origin, `None` when it may not go there.
pub async fn send<P: Platform>(
    platform: &P,
    policy: &ServicePolicy,
    request: OutboundRequest<P::Stream>,
    url_on: impl Fn(&Origin) -> Option<String>,
    bounds: Bounds<'_>,
) -> Sent<P::Stream> {
    let replayable = is_idempotent(&request.method) && !matches!(request.body, Body::Stream(_));
    let attempts = if replayable { policy.retry.attempts } else { 1 };
    let first_url = request.url.clone();
    let mut once = Some(request);
    let mut last = None;
    let mut tries = 0;
    let mut reopens = f64::INFINITY;
    let mut out_of_time = false;
    'origins: for (index, origin) in policy.origins.iter().enumerate() {
        if tries > 0 && !replayable {
            break;
        }
        let Some(url) = (if index == 0 { Some(first_url.clone()) } else { url_on(origin) }) else { continue };
        for attempt in 1..=attempts {
            // Every try after the request's first is an extra subrequest.
            if tries > 0 && !bounds.budget.take() {
                break 'origins;
            }
            let wait = if attempt > 1 { policy.retry.delay_before(attempt) } else { 0 };
            if bounds.until.is_some_and(|until| until.has_passed(platform.now() + wait as f64 / 1000.0)) {
                out_of_time = true;
                break 'origins;
            }
            if wait > 0 {
                platform.sleep(wait).await;
            }
            let now = platform.now();
            if policy.circuit.is_some() {
                let (admission, change) = origin.circuit().admit(now, bounds.timeout_ms as f64 / 1000.0);
                log_change(platform, policy, origin, change);
                if let Admission::Refuse { until } = admission {
                    reopens = reopens.min(until);
                    continue 'origins;
                }
            }
            let timeout_ms =
                bounds.until.map_or(bounds.timeout_ms, |until| bounds.timeout_ms.min(until.remaining_ms(now)));
            out_of_time = timeout_ms < bounds.timeout_ms;
            let Some(outgoing) = next_request(&mut once, replayable, &url) else { break 'origins };
            tries += 1;
            let result = platform.fetch(outgoing, timeout_ms).await;
            let failure = match &result {
                Ok(response) => TryFailure::of_status(response.status),
                Err(failure) => TryFailure::of_fetch(failure),
            };
            let Some(failure) = failure else {
                // A request the runtime refused says nothing of the origin's health.
                if result.is_ok() && policy.circuit.is_some() {
                    let change = origin.circuit().succeeded();
                    log_change(platform, policy, origin, change);
                }
                return Sent::Done { result, url, started: now };
            };
            platform.log(
                &json!({"event": "try_failed", "service": policy.service, "origin": origin.public,
                        "try": tries, "failure": failure.label()})
                .to_string(),
            );
            let opened = match &policy.circuit {
                Some(circuit) => {
                    let change = origin.circuit().failed(platform.now(), circuit);
                    log_change(platform, policy, origin, change);
                    origin.circuit().is_open()
                }
                None => false,
            };
            last = Some((failure, url.clone()));
            if opened {
                continue 'origins;
            }
        }
    }
    match last {
        Some((failure, url)) => Sent::Failed { failure, url, tries, cut_short: out_of_time },
        // No time was left for a first try.
        None if out_of_time => Sent::Failed { failure: TryFailure::Timeout, url: first_url, tries, cut_short: true },
        None => {
            let wait = (reopens - platform.now()).ceil();
            Sent::Unavailable { retry_after_seconds: if wait.is_finite() { wait.max(1.0) as u64 } else { 1 } }
        }
    }
}

/// The request for the next try at `url`: a copy while it may be sent again, else the one request
/// (`None` once it was sent).
fn next_request<S>(once: &mut Option<OutboundRequest<S>>, replayable: bool, url: &str) -> Option<OutboundRequest<S>> {
    let request = match (replayable, once.as_ref()) {
        (true, Some(request)) => OutboundRequest {
            method: request.method.clone(),
            url: String::new(),
            headers: request.headers.clone(),
            body: match &request.body {
                Body::Bytes(bytes) => Body::Bytes(bytes.clone()),
                _ => Body::Empty,
            },
        },
        _ => once.take()?,
    };
    Some(OutboundRequest { url: url.to_string(), ..request })
}

fn log_change<P: Platform>(platform: &P, policy: &ServicePolicy, origin: &Origin, change: Option<Change>) {
    if let Some(change) = change {
        let line = json!({"event": "circuit", "service": policy.service, "origin": origin.public,
                          "state": change.as_str()});
        platform.log(&line.to_string());
    }
}
