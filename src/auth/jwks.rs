//! An issuer's JSON Web Key Set: parsing, key choice by `kid`, and the refetch policy.
//!
//! Keys are kept per isolate and in the Cache API (by the authenticator). A token naming a `kid`
//! the set lacks may be a key rotation, so the set is fetched again, but at most once per
//! [`JWKS_REFETCH_SECONDS`]: a flood of random kids cannot hammer the issuer.

use std::cell::RefCell;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;

use super::jwt::VerificationKey;
use super::spki::{p256_spki, rsa_spki};
use crate::platform::SignatureAlgorithm;

pub const JWKS_REFETCH_SECONDS: f64 = 60.0;
/// How long a fetched key set is trusted without a refetch.
pub const JWKS_TTL_SECONDS: u64 = 3600;

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Verification keys by `kid`; the algorithm of each is fixed by its type (RSA: RS256, P-256: ES256).
pub struct KeySet {
    keys: Vec<(Option<String>, VerificationKey)>,
}

impl KeySet {
    /// Parses a JWKS document, skipping keys it cannot use (encryption keys, other curves).
    pub fn parse(document: &[u8]) -> Option<KeySet> {
        let parsed: JwkSetDocument = serde_json::from_slice(document).ok()?;
        let keys = parsed
            .keys
            .into_iter()
            .filter(|jwk| jwk.usage.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|jwk| Some((jwk.kid.clone(), to_key(&jwk)?)))
            .collect();
        Some(KeySet { keys })
    }

    /// The key for `kid` whose algorithm is `alg` (an RSA key never verifies an ES256 token).
    pub fn find(&self, kid: Option<&str>, alg: &str) -> Option<&VerificationKey> {
        self.keys.iter().find_map(|(key_id, key)| {
            let alg_fits = key.algorithm_name() == alg;
            let kid_fits = kid.is_none() || key_id.as_deref() == kid;
            (alg_fits && kid_fits).then_some(key)
        })
    }
}

fn decode(part: &Option<String>) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(part.as_deref()?).ok()
}

fn to_key(jwk: &Jwk) -> Option<VerificationKey> {
    match jwk.kty.as_str() {
        "RSA" => {
            let spki = rsa_spki(&decode(&jwk.n)?, &decode(&jwk.e)?)?;
            Some(VerificationKey::Public(SignatureAlgorithm::Rs256, spki))
        }
        "EC" if jwk.crv.as_deref() == Some("P-256") => {
            let spki = p256_spki(&decode(&jwk.x)?, &decode(&jwk.y)?)?;
            Some(VerificationKey::Public(SignatureAlgorithm::Es256, spki))
        }
        _ => None,
    }
}

/// The isolate's copy of the key set, when it was fetched, and when a fetch was last tried.
#[derive(Default)]
pub struct JwksCache {
    state: RefCell<Option<(std::rc::Rc<KeySet>, f64)>>,
    last_attempt: std::cell::Cell<Option<f64>>,
}

impl JwksCache {
    pub fn current(&self, now: f64) -> Option<std::rc::Rc<KeySet>> {
        let state = self.state.borrow();
        let (keys, fetched_at) = state.as_ref()?;
        (now - fetched_at < JWKS_TTL_SECONDS as f64).then(|| keys.clone())
    }

    /// True when the set was fetched too recently to fetch it again for an unknown `kid`.
    pub fn recently_fetched(&self, now: f64) -> bool {
        self.last_attempt.get().is_some_and(|at| now - at < JWKS_REFETCH_SECONDS)
    }

    pub fn mark_attempt(&self, now: f64) {
        self.last_attempt.set(Some(now));
    }

    pub fn store(&self, keys: KeySet, fetched_at: f64) -> std::rc::Rc<KeySet> {
        let keys = std::rc::Rc::new(keys);
        *self.state.borrow_mut() = Some((keys.clone(), fetched_at));
        keys
    }
}
