//! Who is calling ([`Identity`], from [`authenticate`](Authenticator::authenticate)) and whether
//! they may use a route ([`authorize`], the single decision every route goes through).
//!
//! The decision order is Rasa's `requires_auth`: a valid token passes; else a valid JWT passes when
//! its role is `admin`, or `user` with the route's conversation id equal to its username, and is
//! otherwise refused with 403; anything else is 401. OIDC access tokens pass only on exposed
//! services whose `scope` they hold. A public chat webhook checks nothing, as Rasa's REST channel.
//! A consumer (`auth.consumers`, a key presented as the token is) may call exactly what its `allow`
//! names, and is refused with 403 everywhere else.

mod access_claims;
mod authenticator;
mod credentials;
mod jwks;
mod jwt;
mod oidc;
pub mod spki;
mod token;
mod token_times;
mod verified;

pub use authenticator::Authenticator;
pub use credentials::{Credentials, CLIENT_CREDENTIAL_HEADERS};
pub use jwks::{JwksCache, JWKS_REFETCH_SECONDS};
pub use jwt::{JwtVerifier, RasaClaims, VerificationKey};
pub use oidc::OidcVerifier;
pub use token_times::Leeway;

use std::sync::Arc;

use crate::config::{Exposure, Grant};
use crate::error::{GatewayError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No `auth` section: every route is open, as in Rasa.
    Open,
    /// No credentials, or none that verified.
    Anonymous,
    /// The shared token, or a Rasa JWT with role `admin`.
    Admin,
    /// A Rasa JWT with any other role.
    User { username: String, role: String },
    /// An OIDC access token.
    Client { subject: String, scopes: Vec<String> },
    /// A consumer's key (shared by every request of that consumer, built once per isolate).
    Consumer(Arc<Consumer>),
}

/// A named caller of `auth.consumers`, without its key.
#[derive(Debug, PartialEq, Eq)]
pub struct Consumer {
    pub name: String,
    pub allow: Vec<Grant>,
}

impl Identity {
    /// The consumer's name, when a consumer is calling.
    pub fn consumer(&self) -> Option<&str> {
        match self {
            Identity::Consumer(consumer) => Some(&consumer.name),
            _ => None,
        }
    }
}

/// What a route demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    Public,
    /// Rasa's routes; the id is the route's conversation id when it has one.
    Rasa {
        conversation_id: Option<&'a str>,
    },
    /// The chat webhook: open to everyone unless `auth.webhook` is `required`; then Rasa's rules
    /// apply with `sender` as the conversation id.
    Webhook {
        sender: &'a str,
        required: bool,
    },
    /// An exposed service; OIDC clients need `scope` (and only inference services accept them);
    /// consumers need an `allow` entry that covers it.
    Service {
        exposure: Exposure,
        name: &'a str,
        scope: Option<&'a str>,
    },
    /// `GET /pi/`: the list of telemetry services (a consumer sees only its own).
    TelemetryList,
    /// The operator's routes (`/admin/…`): the token or an admin JWT, nobody else.
    Admin,
}

/// The one authorization decision of the gateway.
pub fn authorize(identity: &Identity, access: Access<'_>) -> Result<()> {
    let owns = |id: Option<&str>| match identity {
        Identity::User { username, role } => role == "user" && id == Some(username.as_str()),
        _ => false,
    };
    match (identity, access) {
        (Identity::Open, _) | (_, Access::Public) | (Identity::Admin, _) => Ok(()),
        // A public webhook is Rasa's REST channel, whose route has no `requires_auth` at all: Rasa
        // never looks at the caller's credentials there, so every caller (anonymous, an invalid
        // token, an OIDC client, a JWT of any role, a `user` JWT whose username is not `sender`)
        // is answered as an anonymous one. The contract's "a JWT with role `user` must match
        // `sender`" is `requires_auth`'s conversation-id rule, so it applies only where Rasa would
        // run `requires_auth`: with `auth.webhook: "required"`. Refusing a mismatched user JWT on a
        // public webhook would protect nothing, as the same caller may drop the header and send
        // as any `sender`.
        (_, Access::Webhook { required: false, .. }) => Ok(()),
        (Identity::Anonymous, _) => Err(GatewayError::not_authenticated()),
        (Identity::Consumer(consumer), access) if consumer_may(consumer, access) => Ok(()),
        (_, Access::Rasa { conversation_id }) if owns(conversation_id) => Ok(()),
        (_, Access::Webhook { sender, required: true }) if owns(Some(sender)) => Ok(()),
        (
            Identity::Client { scopes, .. },
            Access::Service { exposure: Exposure::Inference, scope: Some(scope), .. },
        ) => {
            if scopes.iter().any(|s| s == scope) {
                Ok(())
            } else {
                // Rasa's 403 body, message and reason unchanged; the details name the scope.
                Err(GatewayError::not_authorized().with_details(serde_json::json!({ "required_scope": scope })))
            }
        }
        _ => Err(GatewayError::not_authorized()),
    }
}

/// What a consumer's `allow` names: the required webhook with `"webhook"`, a service with an entry
/// that covers it, the list of telemetry services with any `pi/` entry. Nothing else.
fn consumer_may(consumer: &Consumer, access: Access<'_>) -> bool {
    let allow = &consumer.allow;
    match access {
        Access::Webhook { required: true, .. } => allow.contains(&Grant::Webhook),
        Access::Service { exposure, name, .. } => allow.iter().any(|grant| grant.covers(exposure, name)),
        Access::TelemetryList => {
            allow.iter().any(|grant| matches!(grant, Grant::Service { exposure: Exposure::Telemetry, .. }))
        }
        Access::Public | Access::Webhook { required: false, .. } | Access::Rasa { .. } | Access::Admin => false,
    }
}

#[cfg(test)]
mod tests;
