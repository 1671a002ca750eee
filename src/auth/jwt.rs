//! JWT verification with a pinned algorithm: a token whose header names another algorithm than
//! its key's (`none`, or HS256 "signed" with an RSA public key) is refused before any key is used.
//! HMAC tokens are checked by jwt-compact; RS256/ES256 signatures by the platform (Web Crypto in a
//! Worker) with the key's SPKI, then the claims are read.

use jwt_compact::alg::{Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::{AlgorithmExt, Claims, UntrustedToken};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::spki::spki_from_pem;
use super::token_times::{check_times, Leeway};
use super::verified::VerifiedTokens;
use crate::config::{JwtAlgorithm, JwtConfig};
use crate::error::{GatewayError, Result};
use crate::platform::Platform;
use crate::platform::SignatureAlgorithm;

/// The claims Rasa reads: `user.username` and `user.role` (top-level ones do not count).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RasaClaims {
    #[serde(default)]
    pub user: Option<RasaUser>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RasaUser {
    pub username: Option<String>,
    pub role: Option<String>,
}

/// A key that verifies tokens of exactly one algorithm.
pub enum VerificationKey {
    Hs256(Hs256Key),
    Hs384(Hs384Key),
    Hs512(Hs512Key),
    Public(SignatureAlgorithm, Vec<u8>),
}

impl VerificationKey {
    pub fn algorithm_name(&self) -> &'static str {
        match self {
            VerificationKey::Hs256(_) => "HS256",
            VerificationKey::Hs384(_) => "HS384",
            VerificationKey::Hs512(_) => "HS512",
            VerificationKey::Public(SignatureAlgorithm::Rs256, _) => "RS256",
            VerificationKey::Public(SignatureAlgorithm::Es256, _) => "ES256",
        }
    }

    /// Checks the signature with this key's algorithm only, then `exp` (always when
    /// `require_exp`, else when present) and `nbf` when present, with `leeway` seconds.
    pub async fn verify<T: DeserializeOwned + Clone, P: Platform>(
        &self,
        token: &str,
        platform: &P,
        leeway: Leeway,
        require_exp: bool,
    ) -> std::result::Result<Claims<T>, String> {
        let untrusted = UntrustedToken::new(token).map_err(|e| e.to_string())?;
        if untrusted.algorithm() != self.algorithm_name() {
            return Err(format!("algorithm {} is not accepted", untrusted.algorithm()));
        }
        let hmac = |result: std::result::Result<jwt_compact::Token<T>, jwt_compact::ValidationError>| {
            result.map(|t| t.claims().clone()).map_err(|e| e.to_string())
        };
        let claims = match self {
            VerificationKey::Hs256(key) => hmac(Hs256.validator::<T>(key).validate(&untrusted))?,
            VerificationKey::Hs384(key) => hmac(Hs384.validator::<T>(key).validate(&untrusted))?,
            VerificationKey::Hs512(key) => hmac(Hs512.validator::<T>(key).validate(&untrusted))?,
            VerificationKey::Public(algorithm, spki) => {
                let signed = &token[..token.rfind('.').unwrap_or(0)];
                if !platform.verify_signature(*algorithm, spki, signed.as_bytes(), untrusted.signature_bytes()).await {
                    return Err("invalid signature".into());
                }
                untrusted.deserialize_claims_unchecked::<T>().map_err(|e| e.to_string())?
            }
        };
        check_times(&claims, platform.now(), leeway, require_exp)?;
        Ok(claims)
    }
}

/// Verifies Rasa JWTs per `auth.jwt`; a token it verified is not verified again while it holds
/// (see `verified`).
pub struct JwtVerifier {
    key: VerificationKey,
    leeway: Leeway,
    verified: VerifiedTokens<RasaClaims>,
}

impl JwtVerifier {
    pub fn from_config(config: &JwtConfig) -> Result<Self> {
        let secret = || config.secret.clone().unwrap_or_default().into_bytes();
        let public = |algorithm: SignatureAlgorithm| -> Result<VerificationKey> {
            let pem = config.public_key.as_deref().unwrap_or_default();
            let spki = spki_from_pem(pem, algorithm).map_err(|message| {
                GatewayError::config(format!("auth.jwt.public_key: {message}"))
                    .with_details(serde_json::json!({ "field": "auth.jwt.public_key" }))
            })?;
            Ok(VerificationKey::Public(algorithm, spki))
        };
        let key = match config.algorithm {
            JwtAlgorithm::HS256 => VerificationKey::Hs256(Hs256Key::new(secret())),
            JwtAlgorithm::HS384 => VerificationKey::Hs384(Hs384Key::new(secret())),
            JwtAlgorithm::HS512 => VerificationKey::Hs512(Hs512Key::new(secret())),
            JwtAlgorithm::RS256 => public(SignatureAlgorithm::Rs256)?,
            JwtAlgorithm::ES256 => public(SignatureAlgorithm::Es256)?,
        };
        let leeway = Leeway::from_config("auth.jwt.leeway", config.leeway)?;
        Ok(JwtVerifier { key, leeway, verified: VerifiedTokens::default() })
    }

    /// The token's `user` claim, or `None` when the token does not verify.
    pub async fn verify<P: Platform>(&self, token: &str, platform: &P) -> Option<RasaUser> {
        let verify = || async { self.key.verify(token, platform, self.leeway, false).await.ok() };
        let claims = self.verified.get_or_verify(token, platform.now(), self.leeway, false, verify).await?;
        Some(claims.custom.user.unwrap_or_default())
    }

    /// How many verified tokens this verifier holds.
    pub fn verified_tokens(&self) -> usize {
        self.verified.held()
    }
}
