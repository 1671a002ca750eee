//! Turns a request's credentials into an [`Identity`]: token first, then a bearer token as a Rasa
//! JWT, then as an OIDC access token (whose keys may need a JWKS fetch).

use super::credentials::Credentials;
use super::jwks::{JwksCache, KeySet, JWKS_TTL_SECONDS};
use super::jwt::JwtVerifier;
use super::oidc::OidcVerifier;
use super::token::SharedToken;
use super::Identity;
use crate::config::AuthConfig;
use crate::error::Result;
use crate::http::{Body, Headers, OutboundRequest};
use crate::platform::Platform;

/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const JWKS_TIMEOUT_MS: u64 = 5_000;

pub struct Authenticator {
    token: Option<SharedToken>,
    jwt: Option<JwtVerifier>,
    oidc: Option<OidcVerifier>,
    jwks: JwksCache,
}

impl Authenticator {
    /// `None` when the configuration has no `auth` section (every route open).
    pub fn from_config(config: Option<&AuthConfig>) -> Result<Option<Self>> {
        let Some(config) = config else { return Ok(None) };
        Ok(Some(Authenticator {
            token: config.token.as_deref().map(SharedToken::new),
            jwt: config.jwt.as_ref().map(JwtVerifier::from_config).transpose()?,
            oidc: config.oidc.clone().map(OidcVerifier::from_config).transpose()?,
            jwks: JwksCache::default(),
        }))
    }

    pub async fn authenticate<P: Platform>(&self, credentials: &Credentials, platform: &P) -> Identity {
        if self.token_is_valid(credentials) {
            return Identity::Admin;
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

    /// Every presented token must be the configured one: a second, different token (in the query
    /// and a header, or twice) makes the request ambiguous, and ambiguity never authenticates.
    fn token_is_valid(&self, credentials: &Credentials) -> bool {
        let Some(expected) = &self.token else { return false };
        !credentials.tokens.is_empty() && credentials.tokens.iter().all(|t| expected.matches(t))
    }

    async fn verify_oidc<P: Platform>(&self, oidc: &OidcVerifier, bearer: &str, platform: &P) -> Option<Identity> {
        let need = OidcVerifier::key_need(bearer)?;
        let now = platform.now();
        let mut keys = match self.jwks.current(now) {
            Some(keys) => Some(keys),
            None => self.load_jwks(oidc, platform, true).await,
        };
        let known = keys.as_ref().is_some_and(|k| OidcVerifier::has_key(k, &need));
        if !known && !self.jwks.recently_fetched(now) {
            // Maybe the issuer rotated its keys: refetch, bypassing the shared cache.
            keys = self.load_jwks(oidc, platform, false).await.or(keys);
        }
        oidc.verify(bearer, keys.as_deref()?, platform).await
    }

    async fn load_jwks<P: Platform>(
        &self,
        oidc: &OidcVerifier,
        platform: &P,
        use_cache: bool,
    ) -> Option<std::rc::Rc<KeySet>> {
        let url = oidc.config.jwks_url();
        let cache_key = crate::cache::CacheKey::new("jwks", &[url.as_bytes()]);
        let cache_key = cache_key.as_str();
        let now = platform.now();
        if use_cache {
            if let Some(cached) = platform.cache_get(cache_key).await {
                if let Ok(bytes) = platform.read(cached.body, MAX_JWKS_BYTES).await {
                    if let Some(keys) = KeySet::parse(&bytes) {
                        return Some(self.jwks.store(keys, now));
                    }
                }
            }
        }
        let mut headers = Headers::new();
        headers.set("accept", "application/json");
        let request = OutboundRequest { method: "GET".into(), url, headers, body: Body::Empty };
        // Record the attempt before it is made, so a dead issuer is not asked on every request.
        self.jwks.mark_attempt(now);
        let response = match platform.fetch(request, JWKS_TIMEOUT_MS).await {
            Ok(response) if response.status == 200 => response,
            other => {
                let status = other.map(|r| r.status.to_string()).unwrap_or_else(|e| format!("{e:?}"));
                platform.log(&serde_json::json!({"event": "jwks_fetch_failed", "result": status}).to_string());
                return None;
            }
        };
        let bytes = platform.read(response.body, MAX_JWKS_BYTES).await.ok()?;
        let keys = KeySet::parse(&bytes)?;
        let mut stored = crate::http::GatewayResponse::json(200, &serde_json::Value::Null);
        stored.body = Body::Bytes(bytes);
        platform.cache_put(cache_key, stored, JWKS_TTL_SECONDS).await;
        Some(self.jwks.store(keys, now))
    }
}
