//! Resilience (CONTRACT section 7): retries with backoff, fallback origins and a circuit breaker,
//! for every request the gateway sends to a service that asks for them, proxied or made by a
//! template's `rest_call`.
//!
//! - [`retry`]: which methods and failures are tried again, the backoff schedule, the budget;
//! - [`circuit`]: one origin's circuit breaker, a pure state machine;
//! - [`policy`]: a service's settings and origins, resolved once;
//! - [`send`]: the loop that sends a request under them.
//!
//! The [`Resilience`] of an isolate is built once, with the gateway: the proxy and the dialog share
//! it, so an origin's circuit opens for both. A service without `retries`, `fallback_urls` or
//! `circuit` has no policy and is sent to once, exactly as before.

pub mod circuit;
pub mod policy;
pub mod retry;
pub mod send;

use std::sync::Arc;

pub use policy::{Origin, ServicePolicy};
pub use retry::{RetryBudget, TryFailure};
pub use send::{send, Bounds, Sent};

use crate::config::RestConfig;

/// The policies of the services that have one, by name; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Resilience {
    policies: Arc<Vec<Arc<ServicePolicy>>>,
}

impl Resilience {
    pub fn new(rest: &RestConfig) -> Resilience {
        let policies = rest.services.iter().filter_map(ServicePolicy::of).map(Arc::new).collect();
        Resilience { policies: Arc::new(policies) }
    }

    /// The policy of the service named `name` (case-insensitively, as services are named).
    pub fn policy(&self, name: &str) -> Option<&Arc<ServicePolicy>> {
        self.policies.iter().find(|policy| policy.service.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests;
