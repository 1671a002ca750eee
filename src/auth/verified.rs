//! Access tokens and JWTs this isolate has verified, so that a client presenting the same token
//! again is not verified again (the HMAC, or the RSA/ECDSA signature through Web Crypto, and the
//! claims' decoding), as Envoy's `jwt_cache_config` does. `auth.jwt`'s verifier holds the tokens
//! it verified (its key is the configuration's); for OIDC, the key set a token was verified with
//! holds it, so that once the issuer withdraws a key, a set fetched anew verifies its tokens again
//! (and refuses them).
//!
//! A token is found by its SHA-256 digest: how long a lookup takes depends on digests, which tell
//! nothing of the tokens held (whether a token is held shows, as it must: it answers sooner). `exp`
//! and `nbf` are checked again on every use, the entry dropped once it fails.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use jwt_compact::Claims;
use sha2::{Digest, Sha256};

use super::token_times::{check_times, Leeway};

/// The most tokens held; past it, all are dropped (a client whose token is dropped has it verified
/// once more). With the longest token held, bounds the isolate's memory (about 4 MB at most)
/// whatever the number of clients.
pub const MAX_VERIFIED_TOKENS: usize = 1024;

/// The longest token held; a longer one is verified on every use.
pub const MAX_HELD_TOKEN_BYTES: usize = 4096;

pub struct VerifiedTokens<T> {
    by_digest: RefCell<HashMap<[u8; 32], Claims<T>>>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        VerifiedTokens { by_digest: RefCell::new(HashMap::new()) }
    }
}

impl<T: Clone> VerifiedTokens<T> {
    /// The claims of `token`: held ones when its times still hold at `now`, else those `verify`
    /// gives, held from then on. The token is digested once; nothing is borrowed while `verify`
    /// runs.
    pub async fn get_or_verify<F: Future<Output = Option<Claims<T>>>>(
        &self,
        token: &str,
        now: f64,
        leeway: Leeway,
        require_exp: bool,
        verify: impl FnOnce() -> F,
    ) -> Option<Claims<T>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.held_claims(&digest, now, leeway, require_exp) {
            return Some(claims);
        }
        let claims = verify().await?;
        if token.len() <= MAX_HELD_TOKEN_BYTES {
            let mut by_digest = self.by_digest.borrow_mut();
            if by_digest.len() >= MAX_VERIFIED_TOKENS {
                by_digest.clear();
            }
            by_digest.insert(digest, claims.clone());
        }
        Some(claims)
    }

    /// A held token's claims while its times hold; one whose times fail is dropped.
    fn held_claims(&self, digest: &[u8; 32], now: f64, leeway: Leeway, require_exp: bool) -> Option<Claims<T>> {
        let mut by_digest = self.by_digest.borrow_mut();
        let claims = by_digest.get(digest)?;
        if check_times(claims, now, leeway, require_exp).is_err() {
            by_digest.remove(digest);
            return None;
        }
        Some(claims.clone())
    }

    /// How many tokens are held.
    pub fn held(&self) -> usize {
        self.by_digest.borrow().len()
    }
}
