//! The gateway's one error type.
//!
//! Every failure the contract names has an [`ErrorKind`]; [`GatewayError::body`] is the single place
//! that renders it in Rasa's error shape, so every route answers errors the same way.

use serde_json::{json, Value};

/// The crate version, reported by `/version` and in every error body (as Rasa does).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotAuthenticated,
    NotAuthorized,
    NotFound,
    MethodNotAllowed,
    BadRequest,
    PayloadTooLarge,
    TooManyRequests,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
    ConfigError,
    TemplateError,
    RestCallFailed,
    LimitExceeded,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::NotAuthenticated => 401,
            ErrorKind::NotAuthorized => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::BadRequest => 400,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::TooManyRequests => 429,
            ErrorKind::BadGateway => 502,
            ErrorKind::ServiceUnavailable => 503,
            ErrorKind::GatewayTimeout => 504,
            ErrorKind::ConfigError
            | ErrorKind::TemplateError
            | ErrorKind::RestCallFailed
            | ErrorKind::LimitExceeded
            | ErrorKind::Internal => 500,
        }
    }

    /// The `reason` field of the body.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::NotAuthenticated => "NotAuthenticated",
            ErrorKind::NotAuthorized => "NotAuthorized",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ErrorKind::BadRequest => "BadRequest",
            ErrorKind::PayloadTooLarge => "PayloadTooLarge",
            ErrorKind::TooManyRequests => "TooManyRequests",
            ErrorKind::BadGateway => "BadGateway",
            ErrorKind::ServiceUnavailable => "ServiceUnavailable",
            ErrorKind::GatewayTimeout => "GatewayTimeout",
            ErrorKind::ConfigError => "ConfigError",
            ErrorKind::TemplateError => "TemplateError",
            ErrorKind::RestCallFailed => "RestCallFailed",
            ErrorKind::LimitExceeded => "LimitExceeded",
            ErrorKind::Internal => "InternalError",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError {
    pub kind: ErrorKind,
    pub message: String,
    /// Boxed: errors travel in every `Result` of the core, and a JSON tree inline makes each large.
    pub details: Box<Value>,
    /// Headers the answer must carry besides the body (`Allow` on a 405, `Retry-After` on a 429).
    pub headers: Vec<(&'static str, String)>,
}

pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

impl GatewayError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        GatewayError { kind, message: message.into(), details: Box::new(json!({})), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Box::new(details);
        self
    }

    /// Rasa's 401 ("User is not authenticated.").
    pub fn not_authenticated() -> Self {
        Self::new(ErrorKind::NotAuthenticated, "User is not authenticated.")
    }

    /// Rasa's 403 ("User has insufficient permissions.").
    pub fn not_authorized() -> Self {
        Self::new(ErrorKind::NotAuthorized, "User has insufficient permissions.")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ConfigError, message)
    }

    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The JSON body in Rasa's error shape.
    pub fn body(&self) -> Value {
        json!({
            "version": VERSION,
            "status": "failure",
            "message": self.message,
            "reason": self.kind.reason(),
            "details": self.details,
            "help": null,
            "code": self.status(),
        })
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.reason(), self.message)
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_authenticated_has_rasas_exact_body() {
        let body = GatewayError::not_authenticated().body();
        assert_eq!(
            body,
            json!({"version": VERSION, "status": "failure", "message": "User is not authenticated.",
                   "reason": "NotAuthenticated", "details": {}, "help": null, "code": 401})
        );
    }

    #[test]
    fn not_authorized_is_403_with_rasas_message() {
        let body = GatewayError::not_authorized().body();
        assert_eq!(body["code"], 403);
        assert_eq!(body["reason"], "NotAuthorized");
        assert_eq!(body["message"], "User has insufficient permissions.");
    }

    #[test]
    fn every_kind_has_a_status_matching_its_code() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::PayloadTooLarge,
            ErrorKind::BadGateway,
            ErrorKind::GatewayTimeout,
            ErrorKind::ConfigError,
            ErrorKind::TemplateError,
        ] {
            let error = GatewayError::new(kind, "x");
            assert_eq!(error.body()["code"], error.status());
            assert_eq!(error.body()["reason"], kind.reason());
        }
    }
}
