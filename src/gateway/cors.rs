//! CORS per `cors.allow_origins`: preflights are answered here, never forwarded.

use crate::config::CorsConfig;
use crate::http::GatewayResponse;

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "Authorization, Content-Type, access_token, Cache-Control, If-None-Match";

fn allowed<'a>(config: &CorsConfig, origin: Option<&'a str>) -> Option<&'a str> {
    let origin = origin?;
    config.allow_origins.iter().any(|allowed| allowed == "*" || allowed == origin).then_some(origin)
}

/// The answer to an `OPTIONS` request.
pub fn preflight<B>(config: &CorsConfig, origin: Option<&str>) -> GatewayResponse<B> {
    let mut response = GatewayResponse::empty(204);
    if let Some(origin) = allowed(config, origin) {
        response.headers.set("access-control-allow-origin", origin);
        response.headers.set("access-control-allow-methods", ALLOW_METHODS);
        response.headers.set("access-control-allow-headers", ALLOW_HEADERS);
        response.headers.set("access-control-max-age", "86400");
    }
    response.headers.set("vary", "Origin");
    response
}

/// Adds the CORS headers of an actual request's answer.
pub fn decorate<B>(config: &CorsConfig, origin: Option<&str>, response: &mut GatewayResponse<B>) {
    if let Some(origin) = allowed(config, origin) {
        response.headers.set("access-control-allow-origin", origin);
        response.headers.set("access-control-expose-headers", "x-cache-status, etag");
        response.headers.append("vary", "Origin");
    }
}
