//! The route table of CONTRACT section 3, as a pure function of method and path. Routes come in
//! two kinds, so that each later phase matches only the kind it handles: the local ones the
//! gateway answers itself, and the guarded ones that go through authentication.

use crate::config::Exposure;
use crate::http::percent_decode;
use crate::limits::LimitedRoute;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answered by the gateway from what it knows: no credentials, no I/O.
    Local(LocalRoute),
    /// Authenticated and authorized, then usually sent on.
    Guarded(GuardedRoute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalRoute {
    Health,
    Version,
    WebhookStatus,
    Preflight,
    NotFound,
    /// The path exists; `allow` lists its methods (the `Allow` header RFC 9110 requires on a 405).
    MethodNotAllowed {
        allow: &'static str,
    },
}

/// The methods of the routes that answer GET (HEAD comes with it; OPTIONS is every path's).
const GET_METHODS: &str = "GET, HEAD, OPTIONS";
const POST_METHODS: &str = "POST, OPTIONS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedRoute {
    Webhook,
    /// `/models/{service}/{path}` and `/pi/{service}/{path}`; `path` is still percent-encoded.
    Service {
        exposure: Exposure,
        service: String,
        path: String,
    },
    /// Rasa's own routes, proxied to the `rasa` service with the request path unchanged.
    Rasa {
        conversation_id: Option<String>,
    },
    /// `GET /pi/`: the names of the telemetry services (for the dashboard).
    TelemetryList,
    /// `GET /admin/analytics`: the per-minute request statistics.
    Analytics,
}

impl GuardedRoute {
    /// Whether an anonymous caller may get past authentication (the public chat webhook; whether
    /// it is public is the access rule's to say).
    pub fn admits_anonymous(&self) -> bool {
        matches!(self, GuardedRoute::Webhook)
    }

    /// The route as rate limits name it.
    pub fn limited(&self) -> LimitedRoute {
        match self {
            GuardedRoute::Webhook => LimitedRoute::Webhook,
            GuardedRoute::Service { exposure, service, .. } => {
                LimitedRoute::Service { exposure: *exposure, name: service.clone() }
            }
            GuardedRoute::Rasa { .. } | GuardedRoute::TelemetryList | GuardedRoute::Analytics => LimitedRoute::Other,
        }
    }
}

/// Matches a request. `path` is the URL path as received (percent-encoded).
pub fn route(method: &str, path: &str) -> Route {
    use GuardedRoute::*;
    use LocalRoute::*;
    if method == "OPTIONS" {
        return Route::Local(Preflight);
    }
    let is = |m: &str| method == m;
    let only = |m: &str, route: Route| {
        if is(m) || (m == "GET" && is("HEAD")) {
            route
        } else {
            Route::Local(MethodNotAllowed { allow: if m == "GET" { GET_METHODS } else { POST_METHODS } })
        }
    };
    match path {
        "/health" => return only("GET", Route::Local(Health)),
        "/version" => return only("GET", Route::Local(Version)),
        "/webhooks/rest" | "/webhooks/rest/" => return only("GET", Route::Local(WebhookStatus)),
        "/webhooks/rest/webhook" => return only("POST", Route::Guarded(Webhook)),
        "/status" | "/domain" => return only("GET", Route::Guarded(Rasa { conversation_id: None })),
        "/model/parse" => return only("POST", Route::Guarded(Rasa { conversation_id: None })),
        "/pi" | "/pi/" => return only("GET", Route::Guarded(TelemetryList)),
        "/admin/analytics" => return only("GET", Route::Guarded(Analytics)),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/conversations/") {
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if !id.is_empty() && !tail.is_empty() {
            return Route::Guarded(Rasa { conversation_id: Some(percent_decode(id)) });
        }
        return Route::Local(NotFound);
    }
    for (prefix, exposure) in [("/models/", Exposure::Inference), ("/pi/", Exposure::Telemetry)] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
            if service.is_empty() {
                return Route::Local(NotFound);
            }
            if exposure == Exposure::Telemetry && !(is("GET") || is("HEAD")) {
                return Route::Local(MethodNotAllowed { allow: GET_METHODS });
            }
            return Route::Guarded(Service { exposure, service: percent_decode(service), path: tail.to_string() });
        }
    }
    Route::Local(NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use GuardedRoute::*;
    use LocalRoute::*;

    fn local(route: LocalRoute) -> Route {
        Route::Local(route)
    }

    fn guarded(route: GuardedRoute) -> Route {
        Route::Guarded(route)
    }

    #[test]
    fn table() {
        let service = |exposure, service: &str, path: &str| {
            guarded(Service { exposure, service: service.into(), path: path.into() })
        };
        let rasa = |id: Option<&str>| guarded(Rasa { conversation_id: id.map(str::to_string) });
        let cases = [
            ("GET", "/health", local(Health)),
            ("HEAD", "/health", local(Health)),
            ("POST", "/health", local(MethodNotAllowed { allow: GET_METHODS })),
            ("GET", "/version", local(Version)),
            ("GET", "/webhooks/rest/", local(WebhookStatus)),
            ("POST", "/webhooks/rest/webhook", guarded(Webhook)),
            ("GET", "/webhooks/rest/webhook", local(MethodNotAllowed { allow: POST_METHODS })),
            ("GET", "/status", rasa(None)),
            ("POST", "/model/parse", rasa(None)),
            ("GET", "/conversations/test%20user/tracker", rasa(Some("test user"))),
            ("POST", "/conversations/u1/messages", rasa(Some("u1"))),
            ("GET", "/conversations/u1", local(NotFound)),
            ("POST", "/models/catsdogs/upload", service(Exposure::Inference, "catsdogs", "upload")),
            ("GET", "/models/catsdogs", service(Exposure::Inference, "catsdogs", "")),
            ("GET", "/pi/", guarded(TelemetryList)),
            ("GET", "/admin/analytics", guarded(Analytics)),
            ("POST", "/admin/analytics", local(MethodNotAllowed { allow: GET_METHODS })),
            ("GET", "/pi/livingroom/clients/wlan0", service(Exposure::Telemetry, "livingroom", "clients/wlan0")),
            ("POST", "/pi/livingroom/system", local(MethodNotAllowed { allow: GET_METHODS })),
            ("GET", "/models//x", local(NotFound)),
            ("OPTIONS", "/models/x/y", local(Preflight)),
            ("GET", "/nope", local(NotFound)),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path), expected, "{method} {path}");
        }
    }
}
