//! An exposed service as the proxy reaches it: its configuration, with the limits that apply to
//! every request sent to it resolved once, when the configuration loads.

use crate::config::{Config, ServiceConfig};

#[derive(Debug, Clone)]
pub struct Upstream {
    pub service: ServiceConfig,
    pub timeout_ms: u64,
    pub max_body_bytes: u64,
    /// Seconds a stored answer may answer after it expired, when the origin fails.
    pub stale_if_error: Option<f64>,
}

impl Upstream {
    pub fn new(service: &ServiceConfig, config: &Config) -> Upstream {
        Upstream {
            service: service.clone(),
            timeout_ms: config.extensions.rest.timeout_ms(service),
            max_body_bytes: config.max_body_bytes(service),
            stale_if_error: service.stale_if_error_seconds(),
        }
    }

    pub fn name(&self) -> &str {
        &self.service.name
    }
}
