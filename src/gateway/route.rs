//! The route table of CONTRACT section 3, as a pure function of method and path.

use crate::config::Exposure;
use crate::http::percent_decode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    Version,
    WebhookStatus,
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
    Preflight,
    NotFound,
    MethodNotAllowed,
}

impl Route {
    /// True for the routes whose answer needs the network, a body or a credential check.
    pub fn needs_io(&self) -> bool {
        matches!(self, Route::Webhook | Route::Service { .. } | Route::Rasa { .. } | Route::TelemetryList)
    }
}

/// The path of an absolute request URL (up to the query), without parsing the whole URL.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

/// Matches a request. `path` is the URL path as received (percent-encoded).
pub fn route(method: &str, path: &str) -> Route {
    if method == "OPTIONS" {
        return Route::Preflight;
    }
    let is = |m: &str| method == m;
    let only =
        |m: &str, route: Route| if is(m) || (m == "GET" && is("HEAD")) { route } else { Route::MethodNotAllowed };
    match path {
        "/health" => return only("GET", Route::Health),
        "/version" => return only("GET", Route::Version),
        "/webhooks/rest" | "/webhooks/rest/" => return only("GET", Route::WebhookStatus),
        "/webhooks/rest/webhook" => return only("POST", Route::Webhook),
        "/status" | "/domain" => return only("GET", Route::Rasa { conversation_id: None }),
        "/model/parse" => return only("POST", Route::Rasa { conversation_id: None }),
        "/pi" | "/pi/" => return only("GET", Route::TelemetryList),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("/conversations/") {
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if !id.is_empty() && !tail.is_empty() {
            let id = percent_decode(id);
            return Route::Rasa { conversation_id: Some(id) };
        }
        return Route::NotFound;
    }
    for (prefix, exposure) in [("/models/", Exposure::Inference), ("/pi/", Exposure::Telemetry)] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let (service, tail) = rest.split_once('/').unwrap_or((rest, ""));
            if service.is_empty() {
                return Route::NotFound;
            }
            if exposure == Exposure::Telemetry && !(is("GET") || is("HEAD")) {
                return Route::MethodNotAllowed;
            }
            return Route::Service { exposure, service: percent_decode(service), path: tail.to_string() };
        }
    }
    Route::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let service = |exposure, service: &str, path: &str| Route::Service {
            exposure,
            service: service.into(),
            path: path.into(),
        };
        let cases = [
            ("GET", "/health", Route::Health),
            ("HEAD", "/health", Route::Health),
            ("POST", "/health", Route::MethodNotAllowed),
            ("GET", "/version", Route::Version),
            ("GET", "/webhooks/rest/", Route::WebhookStatus),
            ("POST", "/webhooks/rest/webhook", Route::Webhook),
            ("GET", "/webhooks/rest/webhook", Route::MethodNotAllowed),
            ("GET", "/status", Route::Rasa { conversation_id: None }),
            ("POST", "/model/parse", Route::Rasa { conversation_id: None }),
            ("GET", "/conversations/test%20user/tracker", Route::Rasa { conversation_id: Some("test user".into()) }),
            ("POST", "/conversations/u1/messages", Route::Rasa { conversation_id: Some("u1".into()) }),
            ("GET", "/conversations/u1", Route::NotFound),
            ("POST", "/models/catsdogs/upload", service(Exposure::Inference, "catsdogs", "upload")),
            ("GET", "/models/catsdogs", service(Exposure::Inference, "catsdogs", "")),
            ("GET", "/pi/", Route::TelemetryList),
            ("GET", "/pi/livingroom/clients/wlan0", service(Exposure::Telemetry, "livingroom", "clients/wlan0")),
            ("POST", "/pi/livingroom/system", Route::MethodNotAllowed),
            ("GET", "/models//x", Route::NotFound),
            ("OPTIONS", "/models/x/y", Route::Preflight),
            ("GET", "/nope", Route::NotFound),
        ];
        for (method, path, expected) in cases {
            assert_eq!(route(method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn paths_of_urls() {
        assert_eq!(path_of("https://gw.example/pi/x/system?token=1"), "/pi/x/system");
        assert_eq!(path_of("http://127.0.0.1:8787"), "/");
        assert_eq!(path_of("http://h/a#f"), "/a");
    }
}
