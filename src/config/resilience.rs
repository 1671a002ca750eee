//! A service's resilience fields (CONTRACT section 7): `retries`, `fallback_urls` and `circuit`,
//! and the checks on them. What they do lives in [`crate::resilience`].

use serde::Deserialize;

use super::{origin_url, ServiceConfig};

/// The most tries one request makes on one origin.
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest first backoff, in seconds: it doubles before each further try.
pub const MAX_BACKOFF_SECONDS: f64 = 60.0;

/// `retries: { attempts, backoff }`: tries in all, and the seconds waited before the second.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetriesConfig {
    pub attempts: u32,
    #[serde(default)]
    pub backoff: f64,
}

/// `circuit: { failures, cooldown }`: consecutive failures that open it, and seconds it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitConfig {
    pub failures: u32,
    pub cooldown: f64,
}

impl ServiceConfig {
    /// Whether any resilience field is set: a service without them is sent to as before, once.
    pub fn is_resilient(&self) -> bool {
        self.retries.is_some() || !self.fallback_urls.is_empty() || self.circuit.is_some()
    }
}

/// The service's resilience fields, checked; the error names the field (below `field`, the
/// service's own path) and never shows a URL, which may hold a secret.
pub fn validate(service: &ServiceConfig, field: &str) -> Result<(), (String, String)> {
    let error = |name: &str, message: &str| Err((format!("{field}.{name}"), message.to_string()));
    if service.is_resilient() && service.base_url.is_none() {
        let name = match (service.retries, service.fallback_urls.is_empty()) {
            (Some(_), _) => "retries",
            (None, false) => "fallback_urls",
            (None, true) => "circuit",
        };
        return error(name, "needs the service's base_url: it applies to the requests sent below it");
    }
    if let Some(retries) = service.retries {
        if !(1..=MAX_ATTEMPTS).contains(&retries.attempts) {
            return error("retries.attempts", &format!("must be from 1 to {MAX_ATTEMPTS} (tries in all)"));
        }
        if !(retries.backoff.is_finite() && retries.backoff >= 0.0) {
            return error("retries.backoff", "must be a number of seconds, 0 or more");
        }
        if retries.backoff > MAX_BACKOFF_SECONDS {
            return error("retries.backoff", &format!("must be at most {MAX_BACKOFF_SECONDS} seconds"));
        }
    }
    for (index, fallback) in service.fallback_urls.iter().enumerate() {
        let name = format!("fallback_urls[{index}]");
        let Ok(parsed) = url::Url::parse(fallback) else { return error(&name, "not a valid URL") };
        if let Err(message) = origin_url::require_http(&parsed).and_then(|()| origin_url::refuse_userinfo(&parsed)) {
            return error(&name, message);
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return error(&name, "must not hold a query or fragment (use the service's parameters)");
        }
    }
    if let Some(circuit) = service.circuit {
        if circuit.failures == 0 {
            return error("circuit.failures", "must be a positive integer");
        }
        if !(circuit.cooldown.is_finite() && circuit.cooldown > 0.0) {
            return error("circuit.cooldown", "must be a positive number of seconds");
        }
    }
    Ok(())
}
