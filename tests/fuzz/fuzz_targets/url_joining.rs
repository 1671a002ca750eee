//! URL joining, both kinds: the proxy's (which must never leave the service's origin) and
//! rest_call's (RFC 3986 resolution against a service's base URL).
#![no_main]
use edge_gateway::config::RestConfig;
use edge_gateway::dialog::rest_call::RestCall;
use libfuzzer_sys::fuzz_target;

const BASE: &str = "http://127.0.0.1:8080/api/";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    let base = url::Url::parse(BASE).unwrap();
    if let Ok(joined) = edge_gateway::proxy::upstream_url(&base, path, Some(query)) {
        // Already what a parse gives: sent as it is, it names the URL checked here.
        let url = url::Url::parse(&joined).unwrap();
        assert_eq!(url.as_str(), joined);
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{url}");
        assert_eq!(url.port(), Some(8080), "{url}");
        assert!(url.path().starts_with("/api/") || url.path() == "/api", "{url}");
    }
    let rest: RestConfig = serde_json::from_value(serde_json::json!({
        "services": [{"name": "svc", "base_url": BASE, "parameters": {"k": "v"}}]
    }))
    .unwrap();
    let mut args = serde_json::Map::new();
    args.insert("url".into(), serde_json::Value::String(format!("svc://{text}")));
    if let Ok(call) = RestCall::prepare(&args, &rest) {
        let _ = call.final_url();
        let _ = call.cache_key();
    }
});
