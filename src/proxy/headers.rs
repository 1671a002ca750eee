//! Header and query rules between client, gateway and origin: what is dropped (hop-by-hop headers,
//! the client's credentials), what is added (the service's own headers, parameters and Basic auth,
//! `X-Forwarded-*`).

use crate::config::ServiceConfig;
use crate::http::{basic_authorization, Headers};

/// RFC 9110 hop-by-hop headers, plus what only the edge may set.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The consumer's name, for the origin. Only the gateway sets it: a client's copy is dropped.
pub const CONSUMER_HEADER: &str = "x-gateway-consumer";

/// Headers of the client's that never reach an origin.
const CLIENT_ONLY: [&str; 5] = ["authorization", "access_token", "cookie", "x-real-ip", CONSUMER_HEADER];

/// Query parameters that carry the client's credentials.
pub const CREDENTIAL_PARAMETERS: [&str; 2] = ["token", "access_token"];

/// The headers sent to the origin for a client request with `client` headers.
pub fn upstream_headers(client: &Headers, service: &ServiceConfig, client_ip: Option<&str>, proto: &str) -> Headers {
    let listed_in_connection: Vec<String> =
        client.get_all("connection").flat_map(|v| v.split(',')).map(|name| name.trim().to_ascii_lowercase()).collect();
    let mut headers = client.clone();
    headers.retain(|name, _| {
        !HOP_BY_HOP.contains(&name)
            && !CLIENT_ONLY.contains(&name)
            && !name.starts_with("cf-")
            && !name.starts_with("x-forwarded-")
            && !listed_in_connection.iter().any(|listed| listed == name)
    });
    if let Some(ip) = client_ip {
        headers.set("x-forwarded-for", ip);
    }
    headers.set("x-forwarded-proto", proto);
    for (name, value) in &service.headers {
        headers.set(name, value.clone());
    }
    if let Some(auth) = &service.auth {
        headers.set("authorization", basic_authorization(&auth.user, &auth.password));
    }
    headers
}

/// The client's query without its credentials, plus the service's parameters (which win).
pub fn upstream_query(client_query: Option<&str>, service: &ServiceConfig) -> String {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(client_query.unwrap_or("").as_bytes())
        .filter(|(name, _)| !CREDENTIAL_PARAMETERS.contains(&name.as_ref()))
        .filter(|(name, _)| !service.parameters.contains_key(name.as_ref()))
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    pairs.extend(service.parameters.iter().map(|(n, v)| (n.clone(), v.clone())));
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Response headers that must not pass from origin to client: hop-by-hop ones, and the origin's
/// CORS headers (only the gateway's `cors` policy decides which sites may read an answer).
pub fn downstream_headers(origin: &Headers) -> Headers {
    let mut headers = origin.clone();
    headers.retain(|name, _| {
        (!HOP_BY_HOP.contains(&name) || name == "content-length") && !name.starts_with("access-control-")
    });
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BasicAuth;

    fn service() -> ServiceConfig {
        ServiceConfig {
            name: "pi".into(),
            headers: [("access_token".to_string(), "pi-key".to_string())].into(),
            parameters: [("token".to_string(), "rasa-token".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn client_credentials_never_reach_the_origin() {
        let client: Headers = [
            ("Authorization", "Bearer a.b.c"),
            ("access_token", "client"),
            ("Cookie", "s=1"),
            ("Connection", "close, x-secret"),
            ("X-Secret", "1"),
            ("CF-Connecting-IP", "1.2.3.4"),
            ("Accept", "application/json"),
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Gateway-Consumer", "admin"),
        ]
        .into_iter()
        .collect();
        let headers = upstream_headers(&client, &service(), Some("1.2.3.4"), "https");
        assert_eq!(headers.get("access_token"), Some("pi-key"));
        assert_eq!(headers.get("authorization"), None);
        assert_eq!(headers.get("cookie"), None);
        assert_eq!(headers.get("x-gateway-consumer"), None);
        assert_eq!(headers.get("x-secret"), None);
        assert_eq!(headers.get("cf-connecting-ip"), None);
        assert_eq!(headers.get("accept"), Some("application/json"));
        assert_eq!(headers.get("x-forwarded-for"), Some("1.2.3.4"));
        assert_eq!(headers.get("x-forwarded-proto"), Some("https"));
    }

    #[test]
    fn basic_auth_is_added() {
        let service =
            ServiceConfig { auth: Some(BasicAuth { user: "u".into(), password: "p".into() }), ..Default::default() };
        let headers = upstream_headers(&Headers::new(), &service, None, "http");
        assert_eq!(headers.get("authorization"), Some("Basic dTpw"));
    }

    #[test]
    fn query_loses_client_token_and_gains_service_parameters() {
        let query = upstream_query(Some("token=client&access_token=x&q=cats&token=again"), &service());
        assert_eq!(query, "q=cats&token=rasa-token");
    }
}
