//! Turns a request's credentials into an [`Identity`]: token first (the shared token or a
//! consumer's key), then a bearer token as a Rasa JWT, then as an OIDC access token (whose keys may
//! need a JWKS fetch).

use std::rc::Rc;
use std::sync::Arc;

use super::credentials::Credentials;
use super::jwks::{Backoff, JwksCache, KeySet, JWKS_MAX_STALE_SECONDS, JWKS_TTL_SECONDS};
use super::jwt::JwtVerifier;
use super::oidc::OidcVerifier;
use super::token::{KeyRing, SharedToken};
use super::{Consumer, Identity};
use crate::cache::CacheKey;
use crate::config::AuthConfig;
use crate::error::Result;
use crate::http::{Body, BodyError, FetchFailure, GatewayResponse, Headers, OutboundRequest};
use crate::platform::{Deadline, Platform};

/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const JWKS_TIMEOUT_MS: u64 = 5_000;
const JWKS_TIMEOUT_SECONDS: f64 = 5.0;
/// The header of a cached key set that says when the issuer gave it.
const FETCHED_AT_HEADER: &str = "x-jwks-fetched-at";

/// Whose key a presented token is.
enum KeyOwner {
    Admin,
    Consumer(Arc<Consumer>),
}

pub struct Authenticator {
    /// `auth.token` and the consumers' keys.
    keys: KeyRing<KeyOwner>,
    jwt: Option<JwtVerifier>,
    oidc: Option<OidcVerifier>,
    jwks: JwksCache,
}

impl Authenticator {
    /// `None` when the configuration has no `auth` section (every route open).
    pub fn from_config(config: Option<&AuthConfig>) -> Result<Option<Self>> {
        let Some(config) = config else { return Ok(None) };
        let admin = config.token.as_deref().map(|token| (SharedToken::new(token), KeyOwner::Admin));
        let consumers = config.consumers.iter().map(|consumer| {
            let owner = Consumer { name: consumer.name.clone(), allow: consumer.allow.clone() };
            (SharedToken::new(&consumer.key), KeyOwner::Consumer(Arc::new(owner)))
        });
        Ok(Some(Authenticator {
            keys: KeyRing::new(admin.into_iter().chain(consumers)),
            jwt: config.jwt.as_ref().map(JwtVerifier::from_config).transpose()?,
            oidc: config.oidc.clone().map(OidcVerifier::from_config).transpose()?,
            jwks: JwksCache::default(),
        }))
    }

    pub async fn authenticate<P: Platform>(&self, credentials: &Credentials, platform: &P) -> Identity {
        match self.token_owner(credentials) {
            Some(KeyOwner::Admin) => return Identity::Admin,
            Some(KeyOwner::Consumer(consumer)) => return Identity::Consumer(consumer.clone()),
            None => {}
        }
        let Some(bearer) = credentials.bearer.as_deref() else { return Identity::Anonymous };
        let user = match &self.jwt {
            Some(jwt) => jwt.verify(bearer, platform).await,
            None => None,
        };
        if let Some(user) = user {
            let role = user.role.unwrap_or_default();
            if role == "admin" {
                return Identity::Admin;
            }
            return Identity::User { username: user.username.unwrap_or_default(), role };
        }
        match &self.oidc {
            Some(oidc) => self.verify_oidc(oidc, bearer, platform).await.unwrap_or(Identity::Anonymous),
            None => Identity::Anonymous,
        }
    }

    /// The owner of the presented tokens. Every presented token must be a key of the same owner: a
    /// second, different token (in the query and a header, or twice) makes the request ambiguous,
    /// and ambiguity never authenticates. Each token is digested once, whatever the number of keys.
    fn token_owner(&self, credentials: &Credentials) -> Option<&KeyOwner> {
        if self.keys.is_empty() {
            return None;
        }
        let mut owners = credentials.tokens.iter().map(|token| self.keys.owner(token));
        let first = owners.next()??;
        owners.all(|owner| owner.is_some_and(|owner| std::ptr::eq(owner, first))).then_some(first)
    }

    async fn verify_oidc<P: Platform>(&self, oidc: &OidcVerifier, bearer: &str, platform: &P) -> Option<Identity> {
        let need = OidcVerifier::key_need(bearer)?;
        let now = platform.now();
        let mut keys = match self.jwks.fresh(now) {
            Some(keys) => Some(keys),
            None => self.refresh_jwks(oidc, platform, Refresh::Expired).await,
        };
        let known = keys.as_ref().is_some_and(|k| OidcVerifier::has_key(k, &need));
        if !known && !self.jwks.recently_fetched(now) && self.jwks.may_fetch(now) {
            // Maybe the issuer rotated its keys: refetch, bypassing the shared cache. Should that
            // fail, the set at hand stays in use.
            keys = self.refresh_jwks(oidc, platform, Refresh::UnknownKid).await.or(keys);
        }
        oidc.verify(bearer, keys.as_deref()?, platform).await
    }

    /// A key set when the isolate's will not do: the shared cache's when fresh, else the
    /// issuer's (unless it failed too recently, or another request is asking it), else the last
    /// good set while it is not too old.
    async fn refresh_jwks<P: Platform>(&self, oidc: &OidcVerifier, platform: &P, why: Refresh) -> Option<Rc<KeySet>> {
        let now = platform.now();
        let url = oidc.config.jwks_url();
        let keys_key = CacheKey::new("jwks", &[url.as_bytes()]);
        let backoff_key = CacheKey::new("jwks", &[url.as_bytes(), b"backoff"]);
        if why == Refresh::Expired && self.jwks.may_fetch(now) {
            if let Some((keys, fetched_at)) = read_shared_keys(platform, keys_key.as_str(), now).await {
                self.jwks.store(keys, fetched_at);
                if let Some(fresh) = self.jwks.fresh(now) {
                    return Some(fresh);
                }
            }
            // Another isolate may have found the issuer failing.
            if let Some(backoff) = read_shared_backoff(platform, backoff_key.as_str()).await {
                self.jwks.adopt(backoff);
            }
        }
        let last_good = self.jwks.last_good(now);
        let waiting_for_another = last_good.is_some() && self.jwks.fetch_in_flight(now, JWKS_TIMEOUT_SECONDS);
        if !self.jwks.may_fetch(now) || waiting_for_another {
            return last_good;
        }
        self.jwks.begin_fetch(now);
        let fetched = fetch_jwks(&url, platform).await;
        self.jwks.end_fetch();
        // The answer's time: a timeout's backoff starts when the timeout ended, not before.
        let now = platform.now();
        match fetched {
            Ok((keys, document)) => {
                self.jwks.succeeded();
                let mut stored = GatewayResponse::json(200, &serde_json::Value::Null);
                stored.body = Body::Bytes(document);
                stored.headers.set(FETCHED_AT_HEADER, now.to_string());
                platform.cache_put(keys_key.as_str(), stored, JWKS_MAX_STALE_SECONDS).await;
                Some(self.jwks.store(keys, now))
            }
            Err(result) => {
                let backoff = self.jwks.failed(now);
                let retry_in = (backoff.retry_at - now).max(1.0).ceil();
                let line = serde_json::json!({"event": "jwks_fetch_failed", "result": result,
                                              "failures": backoff.failures, "retry_in_seconds": retry_in});
                platform.log(&line.to_string());
                platform.cache_put(backoff_key.as_str(), GatewayResponse::json(200, &backoff), retry_in as u64).await;
                last_good
            }
        }
    }
}

/// Why the key set is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// The isolate's set is missing or no longer fresh: the shared cache may hold a fresh one.
    Expired,
    /// A token names a `kid` the fresh set lacks: only the issuer can tell of a rotation.
    UnknownKid,
}

/// Asks the issuer for its key set: the set and the document, or what went wrong (a status or a
/// kind of failure; never a body, which is not ours to log). The timeout covers the document too.
async fn fetch_jwks<P: Platform>(url: &str, platform: &P) -> std::result::Result<(KeySet, Vec<u8>), String> {
    let mut headers = Headers::new();
    headers.set("accept", "application/json");
    let request = OutboundRequest { method: "GET".into(), url: url.to_string(), headers, body: Body::Empty };
    let deadline = Deadline::after(platform.now(), JWKS_TIMEOUT_MS);
    let response = platform.fetch(request, JWKS_TIMEOUT_MS).await.map_err(|failure| match failure {
        FetchFailure::Timeout => "timeout".to_string(),
        FetchFailure::BodyTooLarge => "request body too large".to_string(),
        FetchFailure::Network(message) => format!("network error: {message}"),
        FetchFailure::InvalidRequest(why) => format!("request not sent: {why}"),
    })?;
    if response.status != 200 {
        return Err(format!("status {}", response.status));
    }
    let document = platform.read_by(response.body, MAX_JWKS_BYTES, deadline).await.map_err(|error| match error {
        BodyError::TooLarge => format!("document larger than {MAX_JWKS_BYTES} bytes"),
        BodyError::TimedOut => "timeout".to_string(),
        BodyError::Broken(_) => "document unreadable".to_string(),
    })?;
    let keys = KeySet::parse(&document).ok_or_else(|| "no usable key in the document".to_string())?;
    Ok((keys, document))
}

/// The key set in the shared cache and when the issuer gave it.
async fn read_shared_keys<P: Platform>(platform: &P, key: &str, now: f64) -> Option<(KeySet, f64)> {
    let cached = platform.cache_get(key).await?;
    // An entry stored without the time is at most one TTL old: stale, but still a good set.
    let fetched_at = cached
        .headers
        .get(FETCHED_AT_HEADER)
        .and_then(|value| value.parse::<f64>().ok())
        .filter(|at| at.is_finite())
        .map_or(now - JWKS_TTL_SECONDS as f64, |at| at.min(now));
    let document = platform.read(cached.body, MAX_JWKS_BYTES).await.ok()?;
    Some((KeySet::parse(&document)?, fetched_at))
}

/// A failing issuer's backoff recorded in the shared cache.
async fn read_shared_backoff<P: Platform>(platform: &P, key: &str) -> Option<Backoff> {
    let cached = platform.cache_get(key).await?;
    let document = platform.read(cached.body, 1024).await.ok()?;
    serde_json::from_slice::<Backoff>(&document).ok().filter(|backoff| backoff.retry_at.is_finite())
}
