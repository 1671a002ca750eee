//! What the gateway sends to an origin, and why a send can produce no response.

use super::headers::is_token;
use super::{Body, Headers};

/// A request the gateway sends to an origin.
#[derive(Debug)]
pub struct OutboundRequest<B> {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Body<B>,
}

impl<B> OutboundRequest<B> {
    /// Why this request may not be sent, if it may not: a method that is not an RFC 9110 token, or
    /// a header that is not valid (see [`Headers::validate`]). The message names the method or the
    /// header, never a header's value.
    pub fn check(&self) -> Result<(), String> {
        if !is_token(&self.method) {
            let method: String = self.method.chars().take(32).flat_map(char::escape_debug).collect();
            return Err(format!("the method '{method}' is not a valid HTTP token"));
        }
        self.headers.validate().map_err(|invalid| invalid.to_string())
    }
}

/// Answers up to this declared length are read whole by their exchange's deadline, natively in one
/// read, never streamed: the platform's [`fetch`](crate::platform::Platform::fetch) may read them
/// together with the head, and the proxy passes them on as bytes. Longer ones (and those of
/// undeclared length) stream. Measured on a token GET of a small JSON answer: copying it chunk by
/// chunk through the Worker's own code was a quarter of the isolate's time per request. At 64 KiB,
/// whole reads of 64 KB answers under load left the process's memory at 564 MB against 249 streamed.
pub const SMALL_ANSWER_BYTES: u64 = 16 * 1024;

/// Whether an answer declares a length of at most [`SMALL_ANSWER_BYTES`], uncompressed (a body the
/// runtime decodes on reading would no longer match its headers).
pub fn is_small_answer(headers: &Headers) -> bool {
    headers.get("content-encoding").is_none() && headers.content_length().is_some_and(|n| n <= SMALL_ANSWER_BYTES)
}

/// Why an outbound request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    Timeout,
    /// The streamed request body passed its limit while being sent.
    BodyTooLarge,
    Network(String),
    /// The request was refused before anything was sent (a header that may not be sent, say why).
    InvalidRequest(String),
}

/// The origin failures CONTRACT section 7 answers with another try, a fallback origin or a stale
/// copy: the origin was unreachable or did not answer in time. A request the gateway refused to
/// send, or whose body was too large, is not the origin's failure.
impl FetchFailure {
    pub fn is_origin_failure(&self) -> bool {
        matches!(self, FetchFailure::Timeout | FetchFailure::Network(_))
    }
}

/// An answer that says the origin failed, in the same sense as [`FetchFailure::is_origin_failure`]:
/// 502, 503 or 504 (a proxy in front of it, or the origin itself, could not serve).
pub fn is_origin_failure_status(status: u16) -> bool {
    matches!(status, 502..=504)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_failures_are_unreachable_late_or_502_to_504() {
        assert!(FetchFailure::Network("refused".into()).is_origin_failure());
        assert!(FetchFailure::Timeout.is_origin_failure());
        assert!(!FetchFailure::BodyTooLarge.is_origin_failure());
        assert!(!FetchFailure::InvalidRequest("bad header".into()).is_origin_failure());
        let failing: Vec<u16> = (100..600).filter(|status| is_origin_failure_status(*status)).collect();
        assert_eq!(failing, [502, 503, 504]);
    }
}
