//! OIDC access tokens, validated as the FastAPI model service does: RS256 or ES256 by `kid` from
//! the issuer's JWKS, `iss` equal to the issuer, `aud` containing the audience, `exp` required.

use jwt_compact::{Claims, UntrustedToken};

use super::access_claims::AccessClaims;
use super::jwks::KeySet;
use super::token_times::Leeway;
use super::Identity;
use crate::config::OidcConfig;
use crate::error::Result;
use crate::platform::Platform;

pub struct OidcVerifier {
    pub config: OidcConfig,
    leeway: Leeway,
}

/// What a token needs from the key set before it can be checked.
pub struct KeyNeed {
    pub kid: Option<String>,
    pub alg: String,
}

impl OidcVerifier {
    /// The verifier of `auth.oidc`, or a configuration error naming the field at fault.
    pub fn from_config(config: OidcConfig) -> Result<Self> {
        let leeway = Leeway::from_config("auth.oidc.leeway", config.leeway)?;
        Ok(OidcVerifier { config, leeway })
    }

    /// The `kid` and algorithm a token names, when it is an algorithm OIDC accepts.
    pub fn key_need(token: &str) -> Option<KeyNeed> {
        let untrusted = UntrustedToken::new(token).ok()?;
        let alg = untrusted.algorithm().to_string();
        matches!(alg.as_str(), "RS256" | "ES256").then(|| KeyNeed { kid: untrusted.header().key_id.clone(), alg })
    }

    /// Verifies `token` with `keys`; `None` when no key fits or any check fails.
    /// A token verified with the same set before is not verified again while its times hold.
    pub async fn verify<P: Platform>(&self, token: &str, keys: &KeySet, platform: &P) -> Option<Identity> {
        let verify = || async {
            let need = Self::key_need(token)?;
            let key = keys.find(need.kid.as_deref(), &need.alg)?;
            let claims: Claims<AccessClaims> = key.verify(token, platform, self.leeway, true).await.ok()?;
            let access = &claims.custom;
            let issuer_ok = access.iss.as_deref() == Some(self.config.issuer.as_str());
            (issuer_ok && access.has_audience(&self.config.audience)).then_some(claims)
        };
        let claims = keys.verified.get_or_verify(token, platform.now(), self.leeway, true, verify).await?;
        let access = &claims.custom;
        Some(Identity::Client { subject: access.sub.clone().unwrap_or_default(), scopes: access.scopes() })
    }

    /// Whether a key set has a key for this token (else the set may need a refetch).
    pub fn has_key(keys: &KeySet, need: &KeyNeed) -> bool {
        keys.find(need.kid.as_deref(), &need.alg).is_some()
    }
}
