//! Cache keys. The Cache API keys entries by URL, so every key is an `https://` URL on a host that
//! never resolves, built from a digest of what identifies the entry: two services, two query
//! strings or two callers' access classes can never share an entry.

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
        // Keys are URLs: the Cache API accepts nothing else. Built by hand: this runs for every
        // rest_call and cached proxy request, and per-byte formatting showed in profiles.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut key = String::with_capacity(KEY_HOST.len() + kind.len() + 2 + 64);
        key.push_str(KEY_HOST);
        key.push('/');
        key.push_str(kind);
        key.push('/');
        for byte in hasher.finalize() {
            key.push(HEX[usize::from(byte >> 4)] as char);
            key.push(HEX[usize::from(byte & 15)] as char);
        }
        CacheKey(key)
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
        // SHA-256 of the length-prefixed empty part list is that of zero bytes.
        assert_eq!(
            CacheKey::new("rest", &[]).as_str(),
            "https://cache.gateway.internal/rest/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
