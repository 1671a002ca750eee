//! MaxBot's `extensions.rest` block, field for field, plus the gateway's own service fields
//! (`expose`, `scope`, `redact`, `max_body_bytes`, `paths`, `stale_if_error`, and the
//! [`resilience`](super::resilience) fields `retries`, `fallback_urls`, `circuit`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::paths::{self, PathPattern};
use super::resilience::{CircuitConfig, RetriesConfig};
use super::{TimeDelta, Timeout};

/// The timeout used when neither the call, the service nor the extension sets one (MaxBot's 5 s).
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 5.0;
/// MaxBot's default `garbage_collector_timeout`: one hour.
pub const DEFAULT_GARBAGE_COLLECTOR_SECONDS: f64 = 3600.0;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    pub timeout: Option<Timeout>,
    pub garbage_collector_timeout: Option<TimeDelta>,
    /// httpx pool limits: accepted for compatibility, meaningless in a Worker.
    pub limits: Option<Value>,
}

impl RestConfig {
    pub fn garbage_collector_seconds(&self) -> f64 {
        self.garbage_collector_timeout.map_or(DEFAULT_GARBAGE_COLLECTOR_SECONDS, |t| t.as_seconds())
    }

    /// A request's timeout for `service`: the service's, else the extension's, else MaxBot's 5 s
    /// (0 counts as unset), in whole milliseconds.
    pub fn timeout_ms(&self, service: &ServiceConfig) -> u64 {
        let seconds = service
            .timeout
            .or(self.timeout)
            .map(|t| t.seconds())
            .filter(|s| *s > 0.0)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        (seconds * 1000.0).ceil() as u64
    }

    /// The longest timeout the configuration gives a call (a call's own `timeout` argument aside):
    /// a service's, or the extension's for calls to no service, in whole milliseconds.
    pub fn longest_timeout_ms(&self) -> u64 {
        let no_service = self.timeout_ms(&ServiceConfig::default());
        self.services.iter().map(|service| self.timeout_ms(service)).fold(no_service, u64::max)
    }

    /// Finds a service by name, case-insensitively (as MaxBot does).
    pub fn service(&self, name: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    pub method: Option<String>,
    pub base_url: Option<String>,
    pub auth: Option<BasicAuth>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    pub timeout: Option<Timeout>,
    pub limits: Option<Value>,
    pub cache: Option<TimeDelta>,
    pub expose: Option<Exposure>,
    pub scope: Option<String>,
    #[serde(default)]
    pub redact: Vec<String>,
    pub max_body_bytes: Option<u64>,
    /// The paths below the service that the proxy forwards (all when unset; see [`paths`]).
    pub paths: Option<Vec<PathPattern>>,
    /// How long after its `cache` expired a stored answer may still answer when the origin fails
    /// (RFC 5861; needs `cache`).
    pub stale_if_error: Option<TimeDelta>,
    /// Tries in all, and the backoff between them, for failures a retry may cure.
    pub retries: Option<RetriesConfig>,
    /// Base URLs asked in order when the one before failed.
    #[serde(default)]
    pub fallback_urls: Vec<String>,
    /// When an origin that keeps failing is left alone for a while.
    pub circuit: Option<CircuitConfig>,
    /// `base_url` parsed, once at load (filled by [`Config::parse`](super::Config::parse) after
    /// validation): the proxy joins every request's path to it.
    #[serde(skip)]
    pub parsed_base_url: Option<url::Url>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

/// How the gateway proxies a service (CONTRACT section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    Inference,
    Telemetry,
    Rasa,
}

impl Exposure {
    pub fn as_str(self) -> &'static str {
        match self {
            Exposure::Inference => "inference",
            Exposure::Telemetry => "telemetry",
            Exposure::Rasa => "rasa",
        }
    }
}

impl ServiceConfig {
    /// `base_url` parsed: the copy made at load, or (for a configuration built without
    /// `Config::parse`) parsed now. `None` without a base URL or when it does not parse.
    pub fn base(&self) -> Option<std::borrow::Cow<'_, url::Url>> {
        match &self.parsed_base_url {
            Some(parsed) => Some(std::borrow::Cow::Borrowed(parsed)),
            None => url::Url::parse(self.base_url.as_deref()?).ok().map(std::borrow::Cow::Owned),
        }
    }

    /// Keys removed from JSON answers of this service; telemetry always hides Pi secrets.
    pub fn redacted_keys(&self) -> Vec<String> {
        let mut keys = self.redact.clone();
        if self.expose == Some(Exposure::Telemetry) {
            keys.extend(["wpa_passphrase".to_string(), "password".to_string()]);
        }
        keys
    }

    /// The values that must never reach a client or a log line: its headers', parameters' and
    /// Basic auth's.
    pub fn secret_values(&self) -> impl Iterator<Item = &str> {
        let auth = self.auth.iter().flat_map(|auth| [auth.user.as_str(), auth.password.as_str()]);
        self.headers.values().chain(self.parameters.values()).map(String::as_str).chain(auth)
    }

    /// Whether the proxy may forward `path` (below the service, percent-encoded) to this service.
    pub fn forwards(&self, path: &str) -> bool {
        paths::allows(self.paths.as_deref(), path)
    }

    pub fn cache_seconds(&self) -> Option<f64> {
        self.cache.map(|c| c.as_seconds()).filter(|s| *s > 0.0)
    }

    /// `stale_if_error` in seconds, when the service caches and sets one.
    pub fn stale_if_error_seconds(&self) -> Option<f64> {
        self.cache_seconds()?;
        self.stale_if_error.map(|s| s.as_seconds()).filter(|s| *s > 0.0)
    }
}
