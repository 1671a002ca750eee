//! An issuer's JSON Web Key Set: parsing, key choice by `kid`, and the refetch policy.
//!
//! Keys are kept per isolate and in the Cache API (by the authenticator). A set is fresh for
//! [`JWKS_TTL_SECONDS`]. A token naming a `kid` the set lacks may be a key rotation, so the set is
//! fetched again, but at most once per [`JWKS_REFETCH_SECONDS`]: a flood of random kids cannot
//! hammer the issuer.
//!
//! An issuer that fails (an error status, a timeout, a document without a usable key) is not asked
//! again before its backoff has passed ([`backoff_seconds`]: 5 s after the first failure, doubling
//! up to 5 minutes), whatever the reason for the fetch; meanwhile the last good set stays in use for
//! up to [`JWKS_MAX_STALE_SECONDS`] after it was fetched.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};

use super::access_claims::AccessClaims;
use super::jwt::VerificationKey;
use super::spki::{p256_spki, rsa_spki};
use super::verified::VerifiedTokens;
use crate::platform::SignatureAlgorithm;

pub const JWKS_REFETCH_SECONDS: f64 = 60.0;
/// How long a fetched key set is trusted without a refetch.
pub const JWKS_TTL_SECONDS: u64 = 3600;
/// How long after its fetch a key set is still used while the issuer fails to give a new one.
pub const JWKS_MAX_STALE_SECONDS: u64 = 24 * 3600;
/// The wait after the first failed fetch; it doubles with every further failure in a row.
pub const JWKS_FIRST_BACKOFF_SECONDS: f64 = 5.0;
/// The longest wait between two fetches of a failing issuer.
pub const JWKS_MAX_BACKOFF_SECONDS: f64 = 300.0;

/// Seconds to wait after `failures` failed fetches in a row (none after none).
pub fn backoff_seconds(failures: u32) -> f64 {
    if failures == 0 {
        return 0.0;
    }
    let doublings = (failures - 1).min(16);
    (JWKS_FIRST_BACKOFF_SECONDS * f64::from(1u32 << doublings)).min(JWKS_MAX_BACKOFF_SECONDS)
}

#[derive(Deserialize)]
struct JwkSetDocument {
    /// Read one by one: a key of a shape this gateway does not know is skipped, not fatal.
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Verification keys by `kid`; the algorithm of each is fixed by its type (RSA: RS256, P-256: ES256).
/// The access tokens verified with them are held with the set (see `verified`): a set fetched anew
/// holds none, so a key the issuer withdrew verifies nothing held.
pub struct KeySet {
    keys: Vec<(Option<String>, VerificationKey)>,
    pub verified: VerifiedTokens<AccessClaims>,
}

impl KeySet {
    /// Parses a JWKS document, skipping keys it cannot use (encryption keys, other curves, keys
    /// whose `alg` names another algorithm than the one their type verifies here). `None` when the
    /// document is no key set or has no usable key: such an answer counts as a failed fetch.
    pub fn parse(document: &[u8]) -> Option<KeySet> {
        let parsed: JwkSetDocument = serde_json::from_slice(document).ok()?;
        let keys: Vec<_> = parsed
            .keys
            .into_iter()
            .filter_map(|jwk| serde_json::from_value::<Jwk>(jwk).ok())
            .filter(|jwk| jwk.usage.as_deref().is_none_or(|u| u == "sig"))
            .filter_map(|jwk| Some((jwk.kid.clone(), to_key(&jwk)?)))
            .collect();
        (!keys.is_empty()).then_some(KeySet { keys, verified: VerifiedTokens::default() })
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
    let key = match jwk.kty.as_str() {
        "RSA" => {
            let spki = rsa_spki(&decode(&jwk.n)?, &decode(&jwk.e)?)?;
            VerificationKey::Public(SignatureAlgorithm::Rs256, spki)
        }
        "EC" if jwk.crv.as_deref() == Some("P-256") => {
            let spki = p256_spki(&decode(&jwk.x)?, &decode(&jwk.y)?)?;
            VerificationKey::Public(SignatureAlgorithm::Es256, spki)
        }
        _ => return None,
    };
    // A key published for another algorithm (an RSA key for PS256 or RS512) verifies nothing here.
    jwk.alg.as_deref().is_none_or(|alg| alg == key.algorithm_name()).then_some(key)
}

/// The isolate's copy of the key set and when the issuer gave it, when a fetch was last tried,
/// and the backoff of a failing issuer.
#[derive(Default)]
pub struct JwksCache {
    keys: RefCell<Option<(Rc<KeySet>, f64)>>,
    last_attempt: Cell<Option<f64>>,
    /// When the fetch under way started (requests of an isolate run concurrently).
    in_flight_since: Cell<Option<f64>>,
    failures: Cell<u32>,
    retry_at: Cell<Option<f64>>,
}

/// A failing issuer's backoff, as shared with other isolates through the Cache API.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// Failed fetches in a row.
    pub failures: u32,
    /// No fetch before this time.
    pub retry_at: f64,
}

impl JwksCache {
    /// The key set while it is fresh.
    pub fn fresh(&self, now: f64) -> Option<Rc<KeySet>> {
        self.within(now, JWKS_TTL_SECONDS)
    }

    /// The last good key set, fresh or not, while it is not too old to stand in for a new one.
    pub fn last_good(&self, now: f64) -> Option<Rc<KeySet>> {
        self.within(now, JWKS_MAX_STALE_SECONDS)
    }

    fn within(&self, now: f64, seconds: u64) -> Option<Rc<KeySet>> {
        let state = self.keys.borrow();
        let (keys, fetched_at) = state.as_ref()?;
        (now - fetched_at < seconds as f64).then(|| keys.clone())
    }

    /// True when the set was fetched too recently to fetch it again for an unknown `kid`.
    pub fn recently_fetched(&self, now: f64) -> bool {
        self.last_attempt.get().is_some_and(|at| now - at < JWKS_REFETCH_SECONDS)
    }

    /// False while a failing issuer's backoff lasts.
    pub fn may_fetch(&self, now: f64) -> bool {
        self.retry_at.get().is_none_or(|at| now >= at)
    }

    /// A fetch starts: it counts as an attempt, and as under way until [`Self::end_fetch`] (or
    /// for at most `timeout` seconds, should the request that started it be dropped).
    pub fn begin_fetch(&self, now: f64) {
        self.last_attempt.set(Some(now));
        self.in_flight_since.set(Some(now));
    }

    pub fn end_fetch(&self) {
        self.in_flight_since.set(None);
    }

    /// True while another request's fetch is under way (started less than `timeout` seconds ago).
    pub fn fetch_in_flight(&self, now: f64, timeout: f64) -> bool {
        self.in_flight_since.get().is_some_and(|since| now - since < timeout)
    }

    /// Keeps `keys`, given by the issuer at `fetched_at`, unless the isolate holds a newer set
    /// (the shared cache may hold an older one). Returns the set kept.
    pub fn store(&self, keys: KeySet, fetched_at: f64) -> Rc<KeySet> {
        let mut state = self.keys.borrow_mut();
        if let Some((current, current_at)) = state.as_ref() {
            if *current_at > fetched_at {
                return current.clone();
            }
        }
        let keys = Rc::new(keys);
        *state = Some((keys.clone(), fetched_at));
        keys
    }

    /// The issuer answered: its backoff is over.
    pub fn succeeded(&self) {
        self.failures.set(0);
        self.retry_at.set(None);
    }

    /// The issuer failed at `now`: the next fetch waits for the backoff, which is returned.
    pub fn failed(&self, now: f64) -> Backoff {
        let failures = self.failures.get().saturating_add(1);
        let backoff = Backoff { failures, retry_at: now + backoff_seconds(failures) };
        self.failures.set(failures);
        self.retry_at.set(Some(backoff.retry_at));
        backoff
    }

    /// Takes over a backoff that another isolate recorded, when it lasts longer than this one's.
    pub fn adopt(&self, backoff: Backoff) {
        if self.retry_at.get().is_none_or(|at| backoff.retry_at > at) {
            self.failures.set(self.failures.get().max(backoff.failures));
            self.retry_at.set(Some(backoff.retry_at));
        }
    }
}
