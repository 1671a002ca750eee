//! The top of the core: the [`Gateway`] built once per isolate from the configuration, and the
//! [`pipeline`] every request takes through it, in named phases:
//! route → authenticate → resolve → authorize → limit → handle → respond (CORS) → log (and count,
//! see [`analytics`]).

mod analytics;
mod context;
mod cors;
mod log;
mod pipeline;
pub mod route;
mod target;

#[cfg(test)]
mod analytics_tests;
#[cfg(test)]
mod consumer_tests;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

use crate::auth::Authenticator;
use crate::cache::TieredCache;
use crate::chat::ChatChannel;
use crate::config::{Config, Exposure};
use crate::error::Result;
use crate::limits::Limits;
use crate::proxy::{InFlightAnswers, Upstream};
use crate::resilience::Resilience;

pub use pipeline::{serve, serve_streamed, Served};

/// Everything built from the configuration, once per isolate.
pub struct Gateway {
    pub config: Config,
    /// `None` when the configuration has no `auth` section: every route is open.
    auth: Option<Authenticator>,
    chat: ChatChannel,
    /// The exposed services, in configuration order.
    upstreams: Vec<Upstream>,
    /// The isolate's cache tiers (memory in front of the Cache API).
    cache: Arc<TieredCache>,
    /// The proxied cache misses at their origins, which identical requests wait for.
    in_flight: InFlightAnswers,
    /// Rate limits and quotas (their counts live in the runtime's counters).
    limits: Limits,
}

impl Gateway {
    pub fn from_config(config: Config) -> Result<Gateway> {
        let auth = Authenticator::from_config(config.auth.as_ref())?;
        let cache = Arc::new(TieredCache::default());
        // One per isolate: every sender to a service sees the same circuits.
        let resilience = Resilience::new(&config.extensions.rest);
        let chat = ChatChannel::new(&config, cache.clone(), &resilience)?;
        let upstreams = config
            .extensions
            .rest
            .services
            .iter()
            .filter(|service| service.expose.is_some())
            .map(|service| Upstream::new(service, &config, &resilience))
            .collect();
        let limits = Limits::new(config.limits.clone());
        Ok(Gateway { config, auth, chat, upstreams, cache, in_flight: InFlightAnswers::default(), limits })
    }

    /// Parses and builds a gateway from `GATEWAY_CONFIG` (text or already-parsed JSON).
    pub fn load(raw: Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Gateway> {
        let config = match raw {
            Value::String(text) => Config::parse_str(&text, lookup)?,
            other => Config::parse(other, lookup)?,
        };
        Gateway::from_config(config)
    }

    /// The startup warning of an open gateway (CONTRACT: logged once per start).
    pub fn warnings(&self) -> Vec<&'static str> {
        if self.auth.is_none() {
            vec!["no 'auth' section: every route of this gateway is open"]
        } else {
            vec![]
        }
    }

    /// The chat channel (the edge checks at load that kept conversations have their binding).
    pub fn chat(&self) -> &ChatChannel {
        &self.chat
    }

    /// The rate limits (the edge checks at load that limits have their binding).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether no proxied request is at its origin (the in-flight map holds nothing else).
    #[cfg(test)]
    pub fn in_flight_is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The exposed services of one kind, in configuration order.
    pub(crate) fn exposed(&self, exposure: Exposure) -> impl Iterator<Item = &Upstream> {
        self.upstreams.iter().filter(move |upstream| upstream.service.expose == Some(exposure))
    }
}
