//! The request that reached the gateway, the response it gives back, and their bodies. `B` is the
//! runtime's streaming body, opaque to the core.

use super::{Headers, RequestUrl};
use crate::error::GatewayError;

/// A request as it reached the gateway.
#[derive(Debug)]
pub struct GatewayRequest<B> {
    pub method: String,
    pub url: RequestUrl,
    pub headers: Headers,
    pub body: Body<B>,
}

impl<B> GatewayRequest<B> {
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    pub fn client_ip(&self) -> Option<&str> {
        self.headers.get("cf-connecting-ip")
    }
}

/// A body the core hands back to the edge.
#[derive(Debug)]
pub enum Body<B> {
    Empty,
    Bytes(Vec<u8>),
    /// A runtime stream passed through without being read (proxied bodies).
    Stream(B),
}

/// The rest of an answer sent before its body was complete (a streamed chat reply): the work that
/// writes the body, to run once the answer is on its way. It ends with the error that cut the body
/// short (already written into it, for the client), if any.
pub type BodyWriting<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Option<GatewayError>> + 'a>>;

#[derive(Debug)]
pub struct GatewayResponse<B> {
    pub status: u16,
    pub headers: Headers,
    pub body: Body<B>,
}

impl<B> GatewayResponse<B> {
    /// A JSON answer, serialized straight from `value` (no intermediate JSON tree).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let mut headers = Headers::new();
        headers.set("content-type", "application/json");
        GatewayResponse { status, headers, body: Body::Bytes(serde_json::to_vec(value).unwrap_or_default()) }
    }

    pub fn empty(status: u16) -> Self {
        GatewayResponse { status, headers: Headers::new(), body: Body::Empty }
    }
}

impl<B> From<GatewayError> for GatewayResponse<B> {
    fn from(error: GatewayError) -> Self {
        let mut response = GatewayResponse::json(error.status(), &error.body());
        for (name, value) in error.headers {
            response.headers.set(name, value);
        }
        response
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The body had not ended by its deadline.
    TimedOut,
    Broken(String),
}
