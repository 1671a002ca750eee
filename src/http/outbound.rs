//! What the gateway sends to an origin, and why a send can produce no response.

use super::{Body, Headers};

/// A request the gateway sends to an origin.
#[derive(Debug)]
pub struct OutboundRequest<B> {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Body<B>,
}

/// Why an outbound request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    Timeout,
    /// The streamed request body passed its limit while being sent.
    BodyTooLarge,
    Network(String),
}
