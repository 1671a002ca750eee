//! Which requests a limit applies to, and the key whose budget each spends.

use crate::auth::Identity;
use crate::config::{Exposure, Grant, LimitConfig, LimitKey, RouteWord};

/// A guarded route as limits name it (`allow`'s words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitedRoute {
    Webhook,
    /// `models/<name>` or `pi/<name>`.
    Service {
        exposure: Exposure,
        name: String,
    },
    /// Rasa's routes and the list of Pis: only `"*"` names them.
    Other,
}

/// What a request offers the limits to match and key on.
pub struct RequestFacts<'a> {
    pub route: &'a LimitedRoute,
    pub identity: &'a Identity,
    pub client_ip: Option<&'a str>,
    /// The chat message's sender, or the conversation of a Rasa route.
    pub sender: Option<&'a str>,
}

/// Whether `limit`'s routes name `route`.
pub fn covers(limit: &LimitConfig, route: &LimitedRoute) -> bool {
    let Some(words) = &limit.routes else { return true };
    words.iter().any(|word| match (word, route) {
        (RouteWord::Every, _) => true,
        (RouteWord::Grant(Grant::Webhook), LimitedRoute::Webhook) => true,
        (RouteWord::Grant(grant), LimitedRoute::Service { exposure, name }) => grant.covers(*exposure, name),
        _ => false,
    })
}

/// Whether `limit` applies to the request: its routes and its consumers.
pub fn matches(limit: &LimitConfig, facts: &RequestFacts) -> bool {
    let consumer_matches = match &limit.consumers {
        None => true,
        Some(names) => facts.identity.consumer().is_some_and(|name| names.iter().any(|n| n.eq_ignore_ascii_case(name))),
    };
    consumer_matches && covers(limit, facts.route)
}

impl RequestFacts<'_> {
    /// The key whose budget the request spends from `limit`, kinds kept apart by a prefix; `None`
    /// when the request has no such key (a `sender` limit on a request without a sender).
    pub fn key_of(&self, limit: &LimitConfig) -> Option<String> {
        let ip = || format!("ip:{}", self.client_ip.unwrap_or("unknown"));
        Some(match limit.key {
            LimitKey::Ip => ip(),
            LimitKey::Sender => format!("sender:{}", self.sender?),
            LimitKey::Consumer => match self.identity {
                Identity::Consumer(consumer) => format!("consumer:{}", consumer.name.to_lowercase()),
                // The admin token and anonymous callers each count as one; so do other tokens.
                Identity::Admin => "admin".to_string(),
                Identity::User { .. } => "jwt".to_string(),
                Identity::Client { .. } => "oidc".to_string(),
                Identity::Open | Identity::Anonymous => "anonymous".to_string(),
            },
            LimitKey::Identity => match self.identity {
                Identity::Consumer(consumer) => format!("consumer:{}", consumer.name.to_lowercase()),
                Identity::User { username, .. } => format!("user:{username}"),
                Identity::Client { subject, .. } => format!("sub:{subject}"),
                Identity::Admin | Identity::Open | Identity::Anonymous => ip(),
            },
        })
    }
}
