//! What the pipeline's phases share about one request, as Pingora's per-request context: filled
//! in as the phases run, read by the last two (respond and log).

use crate::auth::Identity;
use crate::cache::CacheStatus;
use crate::http::GatewayRequest;

use super::route::{route, Route};

/// What the log line and the CORS headers need from the request, taken before it is consumed.
pub struct RequestSummary {
    pub method: String,
    pub path: String,
    pub origin: Option<String>,
    pub client_ip: Option<String>,
    /// Seconds since the Unix epoch.
    pub started: f64,
}

impl RequestSummary {
    pub fn of<B>(request: &GatewayRequest<B>, started: f64) -> Self {
        RequestSummary {
            method: request.method.clone(),
            path: request.url.path().to_string(),
            origin: request.headers.get("origin").map(str::to_string),
            client_ip: request.client_ip().map(str::to_string),
            started,
        }
    }
}

/// One request's way through the pipeline.
pub struct RequestContext {
    pub summary: RequestSummary,
    /// Phase route: what the method and path name.
    pub route: Route,
    /// Phase authenticate: who is calling (anonymous until then).
    pub identity: Identity,
    /// Phase limit: the `RateLimit-*` headers every answer of a limited route carries.
    pub rate_limit_headers: Vec<(&'static str, String)>,
    /// Phase handle: how the cache took part in a proxied answer.
    pub cache_status: Option<CacheStatus>,
}

impl RequestContext {
    pub fn new(summary: RequestSummary) -> Self {
        let route = route(&summary.method, &summary.path);
        RequestContext {
            summary,
            route,
            identity: Identity::Anonymous,
            rate_limit_headers: Vec::new(),
            cache_status: None,
        }
    }
}
