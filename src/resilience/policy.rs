//! One service's resilience, resolved once when the configuration loads: how often to try, the
//! origins to try in order (its base URL, then each fallback), and each origin's circuit.

use std::sync::{Mutex, MutexGuard};

use url::Url;

use super::circuit::{Circuit, CircuitPolicy};
use super::retry::RetryPolicy;
use crate::config::ServiceConfig;

/// One origin of a service: a base URL and, with `circuit`, what the isolate knows of its health.
#[derive(Debug)]
pub struct Origin {
    /// Without userinfo (a base URL's credentials become the request's Basic auth).
    pub base: Url,
    /// Scheme, host and port: what a log line may name.
    pub public: String,
    circuit: Mutex<Circuit>,
}

impl Origin {
    fn new(mut base: Url) -> Origin {
        // Both succeed on an http(s) URL, which validation guarantees.
        let _ = base.set_username("");
        let _ = base.set_password(None);
        Origin { public: base.origin().ascii_serialization(), base, circuit: Mutex::new(Circuit::default()) }
    }

    pub(super) fn circuit(&self) -> MutexGuard<'_, Circuit> {
        self.circuit.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The base URL up to its last `/`: what a relative URL joined to it keeps.
    fn directory(&self) -> &str {
        let text = &self.base.as_str()[..self.base.as_str().find(['?', '#']).unwrap_or(self.base.as_str().len())];
        &text[..text.rfind('/').map_or(text.len(), |at| at + 1)]
    }
}

#[derive(Debug)]
pub struct ServicePolicy {
    /// The service's name as configured, for log lines and errors.
    pub service: String,
    pub retry: RetryPolicy,
    pub circuit: Option<CircuitPolicy>,
    /// The base URL first, then the fallbacks, in order.
    pub origins: Vec<Origin>,
}

impl ServicePolicy {
    /// The policy of a service with any resilience field (and, as validation requires then, a
    /// base URL), else `None`: such a service is sent to once, as before.
    pub fn of(service: &ServiceConfig) -> Option<ServicePolicy> {
        if !service.is_resilient() {
            return None;
        }
        let base = service.base()?.into_owned();
        let fallbacks = service.fallback_urls.iter().filter_map(|url| Url::parse(url).ok());
        let retry = service.retries.map_or_else(RetryPolicy::default, |retries| RetryPolicy {
            attempts: retries.attempts.max(1),
            backoff_ms: (retries.backoff * 1000.0).round() as u64,
        });
        let circuit = service
            .circuit
            .map(|circuit| CircuitPolicy { failures: circuit.failures.max(1), cooldown_seconds: circuit.cooldown });
        Some(ServicePolicy {
            service: service.name.clone(),
            retry,
            circuit,
            origins: std::iter::once(base).chain(fallbacks).map(Origin::new).collect(),
        })
    }

    /// The longest an exchange under this policy takes when each try has `timeout_ms`: every
    /// origin's tries and backoffs (the answer's body included, read within its try's timeout).
    pub fn longest_ms(&self, timeout_ms: u64) -> u64 {
        self.retry.bound_ms(timeout_ms).saturating_mul(self.origins.len() as u64)
    }

    /// Whether `url` is below the base URL, where the policy applies.
    pub fn covers(&self, url: &str) -> bool {
        self.origins.first().is_some_and(|base| url.starts_with(base.directory()))
    }

    /// `url` (a request below the base URL) moved onto the origin `onto`: the same path below it
    /// and the same query, as a relative URL joined to each base would give. `None` when `url` is not
    /// below the base URL (a template may name any URL): such a request goes to its one URL only.
    pub fn rebase(&self, url: &str, onto: &Origin) -> Option<String> {
        let below = url.strip_prefix(self.origins.first()?.directory())?;
        Some(format!("{}{below}", onto.directory()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(base: &str, fallbacks: &[&str]) -> ServicePolicy {
        let service: ServiceConfig = serde_json::from_value(json!({
            "name": "pi", "base_url": base, "fallback_urls": fallbacks,
        }))
        .unwrap();
        ServicePolicy::of(&service).unwrap()
    }

    #[test]
    fn fallbacks_come_after_the_base_in_order() {
        let policy = policy("http://u:p@pi.local:8081/api/", &["http://b1:1/", "https://b2/v2/"]);
        let public: Vec<&str> = policy.origins.iter().map(|o| o.public.as_str()).collect();
        assert_eq!(public, ["http://pi.local:8081", "http://b1:1", "https://b2"]);
        assert_eq!(policy.retry, RetryPolicy::default());
        assert_eq!(policy.circuit, None);
        assert_eq!(policy.longest_ms(2000), 3 * 2000);
    }

    #[test]
    fn a_url_below_the_base_moves_with_its_path_and_query() {
        let policy = policy("http://pi.local:8081/api/", &["http://b1:1/", "https://b2/v2/x"]);
        let url = "http://pi.local:8081/api/system/load?a=1&b=2";
        assert!(policy.covers(url));
        assert_eq!(policy.rebase(url, &policy.origins[0]).as_deref(), Some(url));
        assert_eq!(policy.rebase(url, &policy.origins[1]).as_deref(), Some("http://b1:1/system/load?a=1&b=2"));
        // As a relative URL joined to "https://b2/v2/x" would: the last segment is replaced.
        assert_eq!(policy.rebase(url, &policy.origins[2]).as_deref(), Some("https://b2/v2/system/load?a=1&b=2"));
        for elsewhere in ["http://pi.local:8081/other", "http://pi.local:80810/api/x", "http://evil/api/x"] {
            assert_eq!(policy.rebase(elsewhere, &policy.origins[1]), None, "{elsewhere}");
            assert!(!policy.covers(elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn a_base_without_a_trailing_slash_keeps_its_directory() {
        let policy = policy("http://h:1/api", &["http://b:2/api"]);
        assert_eq!(policy.rebase("http://h:1/status", &policy.origins[1]).as_deref(), Some("http://b:2/status"));
        let bare = self::policy("http://h:1", &["http://b:2"]);
        assert_eq!(bare.rebase("http://h:1/x?q", &bare.origins[1]).as_deref(), Some("http://b:2/x?q"));
    }

    #[test]
    fn a_service_without_the_fields_has_no_policy() {
        let service: ServiceConfig = serde_json::from_value(json!({"name": "a", "base_url": "http://a/"})).unwrap();
        assert!(ServicePolicy::of(&service).is_none());
    }
}
