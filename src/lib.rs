//! An edge gateway for chatbots, ML models and Raspberry Pi devices.
//!
//! The modules are floors; each imports only from the floors below it:
//!
//! 1. [`error`], [`http`], [`platform`]: the error type, plain HTTP values, and what the core needs
//!    from the runtime (with the in-memory platform the tests use);
//! 2. [`config`]: `GATEWAY_CONFIG`, parsed and validated once;
//! 3. [`auth`] (who is calling, and may they), [`cache`] (keys and tiers), [`redact`] (secrets
//!    removed from answers) and [`resilience`] (retries, fallback origins, circuit breakers);
//! 4. [`dialog`] (MaxBot templates with `rest_call`), [`proxy`] (forwarding to origins) and
//!    [`limits`] (rate limits and quotas on the runtime's counters);
//! 5. [`chat`]: the Rasa REST channel, on the dialog or forwarded;
//! 6. [`gateway`]: the request pipeline that ties them together;
//! 7. [`edge`]: the Worker adapter, the only code that knows it runs in a Worker.

pub mod error;
pub mod http;
pub mod platform;

pub mod config;

pub mod auth;
pub mod cache;
pub mod redact;
pub mod resilience;

pub mod dialog;
pub mod limits;
pub mod proxy;

pub mod chat;

pub mod gateway;

pub mod edge;

/// MaxBot's rest cases, one data file each under `tests/rest_cases/`, through the whole gateway.
#[cfg(test)]
mod rest_cases;
