//! An exposed service as the proxy reaches it: its configuration, with the limits that apply to
//! every request sent to it resolved once, when the configuration loads.

use std::sync::Arc;

use crate::config::{Config, ServiceConfig};
use crate::resilience::{Resilience, ServicePolicy};

#[derive(Debug, Clone)]
pub struct Upstream {
    pub service: ServiceConfig,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    /// Seconds a stored answer may answer after it expired, when the origin fails.
    pub stale_if_error: Option<f64>,
    /// Retries, fallbacks and circuit, shared with every other sender to this service; `None`
    /// for a service without them, which is sent to once.
    pub policy: Option<Arc<ServicePolicy>>,
}

impl Upstream {
    pub fn new(service: &ServiceConfig, config: &Config, resilience: &Resilience) -> Upstream {
        Upstream {
            service: service.clone(),
            timeout_ms: config.extensions.rest.timeout_ms(service),
            max_body_bytes: config.max_body_bytes(service),
            stale_if_error: service.stale_if_error_seconds(),
            policy: resilience.policy(&service.name).cloned(),
        }
    }

    /// The longest an exchange with the service takes: its timeout, or with retries and fallbacks
    /// every try and backoff (an identical request waiting for this one's answer waits that long).
    pub fn longest_exchange_ms(&self) -> u64 {
        self.policy.as_ref().map_or(self.timeout_ms, |policy| policy.longest_ms(self.timeout_ms))
    }

    pub fn name(&self) -> &str {
        &self.service.name
    }
}
