//! `rest_call(...)` as MaxBot's `rest` extension defines it: from the call's arguments and the
//! extension's configuration to one prepared request ([`RestCall`]), and from the origin's answer
//! to the template's `rest` value. Every message here is MaxBot's, with URLs and values shortened
//! to what a public chat client may see ([`public_text`](crate::http::public_text)).
//!
//! One deliberate difference from MaxBot: a service's `auth`, `headers` and `parameters` (and its
//! base URL's userinfo) are sent only to the service's own origin. MaxBot's urljoin lets an absolute
//! or scheme-relative `url` replace the base, and MaxBot would then send the service's credentials
//! to that other host too; here, as browsers drop credentials on a cross-origin redirect, only the
//! call's own arguments go there.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::python_json;
use crate::cache::CacheKey;
use crate::config::{services::DEFAULT_TIMEOUT_SECONDS, BasicAuth, RestConfig, ServiceConfig};
use crate::http::{is_origin_failure_status, percent_decode, public_text, public_url, FetchFailure};

/// The arguments `rest_call` accepts.
pub const ARGUMENTS: [&str; 11] =
    ["service", "url", "path", "method", "auth", "body", "headers", "parameters", "timeout", "on_error", "cache"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    BreakFlow,
    Continue,
}

/// A request ready to send, with everything that decides its fate.
#[derive(Debug, Clone, PartialEq)]
pub struct RestCall {
    /// Lower-case, as MaxBot keys its cache.
    pub method: String,
    /// The joined URL, before `parameters` are merged in, without userinfo (that became `auth`).
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub body: Option<Value>,
    pub auth: Option<BasicAuth>,
    pub timeout_seconds: f64,
    pub on_error: OnError,
    pub cache_seconds: Option<f64>,
    /// The service's `stale_if_error`: how long after `cache_seconds` a stored result still
    /// answers when the origin fails.
    pub stale_if_error: Option<f64>,
    /// JSON keys removed from the result: those of the service the call names (a Pi's secrets).
    pub redact: Vec<String>,
    /// The service the call names, when it has retries, fallbacks or a circuit: they apply to the
    /// call when it is sent below the service's base URL. Not part of the cache key.
    pub service: Option<String>,
}

/// A truthy argument, as Python's `args.get(name) or ...` sees it.
fn truthy<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    args.get(name).filter(|value| match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    })
}

fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// The Python type name of a value: error messages name the type of a wrong argument, never its
/// value (it may be a secret).
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn string_map(value: Option<&Value>, name: &str) -> Result<BTreeMap<String, String>, String> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => Ok(map.iter().map(|(k, v)| (k.clone(), python_str(v))).collect()),
        Some(other) => Err(format!("{name} must be a dict, got {}", python_type(other))),
    }
}

/// `url` parsed, with its userinfo taken out as Basic credentials (httpx sends a URL's
/// `user:password@` as Basic auth when no `auth` is given; the request line never carries it).
fn split_userinfo(url: &str) -> (String, Option<url::Url>, Option<BasicAuth>) {
    let Ok(mut parsed) = url::Url::parse(url) else { return (url.to_string(), None, None) };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return (url.to_string(), Some(parsed), None);
    }
    let auth = BasicAuth {
        user: percent_decode(parsed.username()),
        password: percent_decode(parsed.password().unwrap_or_default()),
    };
    // Both succeed on an http(s) URL; another scheme is refused later, by `final_url`.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    (parsed.to_string(), Some(parsed), Some(auth))
}

impl RestCall {
    /// Prepares a call the way MaxBot's `_rest_call` does, in the same order of checks.
    pub fn prepare(args: &Map<String, Value>, rest: &RestConfig) -> Result<RestCall, String> {
        if let Some(unknown) = args.keys().find(|name| !ARGUMENTS.contains(&name.as_str())) {
            return Err(format!("rest_call() got an unexpected keyword argument '{unknown}'"));
        }
        let mut url_arg = truthy(args, "url").or_else(|| truthy(args, "path")).map(python_str);
        let service = match truthy(args, "service") {
            Some(name) => {
                let name = python_str(name);
                Some(rest.service(&name).ok_or_else(|| format!("Unknown REST service \"{name}\""))?)
            }
            None => match url_arg.clone().as_deref().and_then(|url| url.split_once("://")) {
                Some((scheme, tail)) => match rest.service(scheme) {
                    Some(service) => {
                        url_arg = Some(tail.to_string()).filter(|t| !t.is_empty());
                        Some(service)
                    }
                    None if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") => None,
                    None => {
                        let mut one_of = vec!["http".to_string(), "https".to_string()];
                        one_of.extend(rest.services.iter().map(|s| s.name.to_lowercase()));
                        return Err(format!(
                            "Unknown schema ('{scheme}') in URL '{}'\nMust be one of: {}",
                            public_url(&url_arg.unwrap_or_default()),
                            one_of.join(", ")
                        ));
                    }
                },
                None => None,
            },
        };

        let default_method = if args.contains_key("body") { "post" } else { "get" };
        let method = truthy(args, "method")
            .map(python_str)
            .or_else(|| service.and_then(|s| s.method.clone()))
            .unwrap_or_else(|| default_method.to_string())
            .to_lowercase();

        let base_url = service.and_then(|s| s.base_url.as_deref());
        let url = match (base_url, url_arg.as_deref()) {
            (Some(base), Some(relative)) => {
                let joined = match service.and_then(ServiceConfig::base) {
                    Some(parsed) => parsed.join(relative),
                    None => url::Url::parse(base).and_then(|base| base.join(relative)), // for its error
                };
                joined.map(String::from).map_err(|e| format!("Invalid URL '{}': {e}", public_url(relative)))?
            }
            (Some(base), None) => base.to_string(),
            (None, Some(url)) => url.to_string(),
            (None, None) => return Err("URL is not specified".into()),
        };

        let (url, target, userinfo) = split_userinfo(&url);
        // The service's credentials go to its own origin only (see the top of this file). A service
        // without a base URL names no origin: its credentials go wherever its calls are sent.
        let credentials = service.filter(|service| match (service.base(), &target) {
            (Some(base), Some(target)) => base.origin() == target.origin(),
            (Some(_), None) => false,
            (None, _) => true,
        });

        let mut headers = credentials.map(|s| s.headers.clone()).unwrap_or_default();
        headers.extend(string_map(args.get("headers"), "headers")?);
        let mut parameters = credentials.map(|s| s.parameters.clone()).unwrap_or_default();
        parameters.extend(string_map(args.get("parameters"), "parameters")?);

        let auth = match truthy(args, "auth") {
            Some(Value::Object(auth)) => Some(BasicAuth {
                user: auth.get("user").map(python_str).ok_or("auth needs 'user' and 'password'")?,
                password: auth.get("password").map(python_str).ok_or("auth needs 'user' and 'password'")?,
            }),
            Some(other) => {
                return Err(format!("auth must be a dict with 'user' and 'password', got {}", python_type(other)))
            }
            None => credentials.and_then(|s| s.auth.clone()).or(userinfo),
        };

        let cache_seconds = match args.get("cache").filter(|v| !v.is_null()) {
            Some(value) => Some(
                value
                    .as_f64()
                    .ok_or_else(|| format!("cache must be a number of seconds, got {}", python_type(value)))?,
            ),
            None => service.and_then(|s| s.cache.map(|c| c.as_seconds())),
        }
        .filter(|seconds| *seconds > 0.0);

        let timeout_seconds = match truthy(args, "timeout") {
            Some(value) => value
                .as_f64()
                .ok_or_else(|| format!("timeout must be a number of seconds, got {}", python_type(value)))?,
            None => service
                .and_then(|s| s.timeout)
                .or(rest.timeout)
                .map(|t| t.seconds())
                .filter(|s| *s > 0.0)
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        };

        let on_error = match args.get("on_error").map(python_str).as_deref() {
            None | Some("break_flow") => OnError::BreakFlow,
            Some("continue") => OnError::Continue,
            Some(other) => return Err(format!("on_error invalid value: {other}")),
        };

        Ok(RestCall {
            method,
            url,
            headers,
            parameters,
            body: args.get("body").filter(|b| !b.is_null()).cloned(),
            auth,
            timeout_seconds,
            on_error,
            cache_seconds,
            stale_if_error: service.and_then(ServiceConfig::stale_if_error_seconds),
            redact: service.map(ServiceConfig::redacted_keys).unwrap_or_default(),
            service: service.filter(|service| service.is_resilient()).map(|service| service.name.clone()),
        })
    }

    /// The URL actually requested: `parameters` merged into the URL's own query (they win).
    pub fn final_url(&self) -> Result<String, String> {
        let mut url =
            url::Url::parse(&self.url).map_err(|e| format!("Invalid URL '{}': {e}", public_url(&self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("Unknown schema ('{}') in URL '{}'", url.scheme(), public_url(&self.url)));
        }
        if !self.parameters.is_empty() {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| !self.parameters.contains_key(k.as_ref()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut().clear().extend_pairs(kept).extend_pairs(&self.parameters);
        }
        Ok(url.into())
    }

    /// The body bytes and the Content-Type they imply (a dict is JSON unless the headers ask for a form).
    pub fn encoded_body(&self) -> Option<(Vec<u8>, Option<&'static str>)> {
        let body = self.body.as_ref()?;
        let content_type =
            self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.as_str());
        Some(match body {
            Value::String(text) => (text.clone().into_bytes(), None),
            Value::Object(map)
                if content_type
                    .is_some_and(|t| t.trim().to_lowercase().starts_with("application/x-www-form-urlencoded")) =>
            {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(map.iter().map(|(k, v)| (k, python_str(v))))
                    .finish();
                (form.into_bytes(), Some("application/x-www-form-urlencoded"))
            }
            other => (python_json::dumps_value(other, false).into_bytes(), Some("application/json")),
        })
    }

    /// MaxBot's cache key: method, URL, merged headers and parameters, body and auth, dict order
    /// irrelevant; timeout and on_error excluded.
    pub fn cache_key(&self) -> CacheKey {
        key_of(&self.identity(), &self.redact)
    }

    /// What identifies the call in the cache: `{"a": auth, "b": body, "h": headers, "m": method,
    /// "p": parameters, "u": url}` in `json.dumps` form with sorted keys. Serialized from borrowed
    /// fields: every cached call computes it, and a JSON tree of copies only to print it showed in
    /// profiles.
    pub(super) fn identity(&self) -> String {
        /// The fields are declared in sorted order, as `sort_keys=True` writes them.
        #[derive(Serialize)]
        struct Identity<'a> {
            a: Option<(&'a str, &'a str)>,
            b: Option<python_json::Json<'a>>,
            h: &'a BTreeMap<String, String>,
            m: &'a str,
            p: &'a BTreeMap<String, String>,
            u: &'a str,
        }
        python_json::dumps(&Identity {
            a: self.auth.as_ref().map(|auth| (auth.user.as_str(), auth.password.as_str())),
            b: self.body.as_ref().map(|value| python_json::Json { value, sort_keys: true }),
            h: &self.headers,
            m: &self.method,
            p: &self.parameters,
            u: &self.url,
        })
    }

    /// The values that must never reach a client: header and parameter values and the credentials.
    fn secrets(&self) -> impl Iterator<Item = &str> {
        let auth = self.auth.iter().flat_map(|auth| [auth.user.as_str(), auth.password.as_str()]);
        self.headers.values().chain(self.parameters.values()).map(String::as_str).chain(auth)
    }
}

/// The cache key of a call whose [`RestCall::identity`] is `identity` and whose result loses the
/// `redact` keys: a redacted result and an unredacted one of the same request never share an entry.
pub(super) fn key_of(identity: &str, redact: &[String]) -> CacheKey {
    if redact.is_empty() {
        CacheKey::new("rest", &[identity.as_bytes()])
    } else {
        CacheKey::new("rest", &[identity.as_bytes(), redact.join("\n").as_bytes()])
    }
}

/// What came back from the origin.
#[derive(Debug, Clone, PartialEq)]
pub enum RestOutcome {
    Answered { status: u16, body: Vec<u8> },
    Failed(FetchFailure),
}

impl RestOutcome {
    /// Whether the origin failed in CONTRACT section 7's sense (a stale result may answer).
    pub fn is_origin_failure(&self) -> bool {
        match self {
            RestOutcome::Answered { status, .. } => is_origin_failure_status(*status),
            RestOutcome::Failed(failure) => failure.is_origin_failure(),
        }
    }
}

/// The `rest` value, or the error that breaks the flow.
pub fn rest_result(call: &RestCall, url: &str, outcome: &RestOutcome) -> Result<Value, String> {
    let (result, reason) = match outcome {
        RestOutcome::Answered { status, body } if (200..300).contains(status) => {
            // Not JSON: MaxBot's empty `json`, so redaction cannot fail open here.
            let mut parsed = serde_json::from_slice::<Value>(body).unwrap_or_else(|_| json!({}));
            crate::redact::redact(&mut parsed, &call.redact);
            return Ok(json!({"ok": true, "status_code": status, "json": parsed}));
        }
        RestOutcome::Answered { status, .. } => {
            (json!({"ok": false, "status_code": status, "json": {}}), http_error_message(*status, &public_url(url)))
        }
        RestOutcome::Failed(FetchFailure::Timeout) => {
            (json!({"ok": false}), format!("timed out after {} s", call.timeout_seconds))
        }
        RestOutcome::Failed(FetchFailure::Network(why) | FetchFailure::InvalidRequest(why)) => {
            (json!({"ok": false}), public_text(why, call.secrets()))
        }
        RestOutcome::Failed(FetchFailure::BodyTooLarge) => (json!({"ok": false}), "request body too large".into()),
    };
    match call.on_error {
        OnError::Continue => Ok(result),
        OnError::BreakFlow => Err(format!("REST call failed: {reason}")),
    }
}

/// True when a result may be stored: only successful JSON results are.
pub fn is_cacheable(outcome: &RestOutcome) -> bool {
    matches!(outcome, RestOutcome::Answered { status, body } if (200..300).contains(status) && serde_json::from_slice::<Value>(body).is_ok())
}

/// httpx's wording for a status error.
fn http_error_message(status: u16, url: &str) -> String {
    let kind = match status {
        100..=199 => "Informational response",
        300..=399 => "Redirect response",
        400..=499 => "Client error",
        500..=599 => "Server error",
        _ => "Invalid status code",
    };
    format!(
        "{kind} '{status} {}' for url '{url}'\nFor more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/{status}",
        reason_phrase(status)
    )
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}
