//! Cache keys. The Cache API keys entries by URL, so every key is an `https://` URL on a host that
//! never resolves, built from a digest of what identifies the entry: two services, two query
//! strings or two callers' access classes can never share an entry.

mod memory;

pub use memory::TieredCache;

use sha2::{Digest, Sha256};

/// The host of every cache key URL; it is never fetched.
const KEY_HOST: &str = "https://cache.gateway.internal";


/// A Cache API key for one kind of entry (`proxy`, `rest`, `jwks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    /// `parts` are joined unambiguously (length-prefixed) before hashing.
    pub fn new(kind: &str, parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        // Keys are URLs: the Cache API accepts nothing else.
        CacheKey(format!("{KEY_HOST}/{kind}/{digest}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_their_parts() {
        let a = CacheKey::new("proxy", &[b"ab", b"c"]);
        let b = CacheKey::new("proxy", &[b"a", b"bc"]);
        assert_ne!(a, b);
        assert_ne!(CacheKey::new("rest", &[b"x"]), CacheKey::new("proxy", &[b"x"]));
        assert!(a.as_str().starts_with("https://cache.gateway.internal/proxy/"));
    }
}
