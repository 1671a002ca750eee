//! The shared token and the consumers' keys, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// A configured token, kept as its digest: presented tokens are compared digest to digest, so a
/// length difference does not end the comparison early either, and the configured token's digest
/// is computed once per isolate instead of once per request.
pub struct SharedToken([u8; 32]);

impl SharedToken {
    pub fn new(token: &str) -> Self {
        SharedToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether a presented token's digest is this token's, in constant time.
    fn matches_digest(&self, presented: &[u8; 32]) -> subtle::Choice {
        self.0.ct_eq(presented)
    }
}

fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

/// Every key the gateway accepts as a token (the shared token and each consumer's), each with
/// its owner. A presented token is digested once and compared with every key, all of them, whatever
/// matched: the time taken depends on the presented length and the number of keys, never on which
/// key (if any) it is.
pub struct KeyRing<T> {
    keys: Vec<(SharedToken, T)>,
}

impl<T> KeyRing<T> {
    pub fn new(keys: impl IntoIterator<Item = (SharedToken, T)>) -> Self {
        KeyRing { keys: keys.into_iter().collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The owner of the key `presented` is.
    pub fn owner(&self, presented: &str) -> Option<&T> {
        let presented = digest(presented);
        // 0 for none, else the index of the match plus one (keys are distinct: one match at most).
        let mut found = 0u32;
        for (index, (key, _)) in self.keys.iter().enumerate() {
            found.conditional_assign(&(index as u32 + 1), key.matches_digest(&presented));
        }
        found.checked_sub(1).map(|index| &self.keys[index as usize].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_and_unequal_tokens() {
        let matches =
            |token: &str, presented: &str| KeyRing::new([(SharedToken::new(token), ())]).owner(presented).is_some();
        assert!(matches("secret", "secret"));
        assert!(!matches("secret", "secreT"));
        assert!(!matches("secret", "secret "));
        assert!(!matches("secret", ""));
        assert!(matches("", ""));
    }

    #[test]
    fn a_key_ring_names_the_owner_of_a_key() {
        let ring = KeyRing::new([("admin", 'a'), ("shop", 's'), ("wall", 'w')].map(|(k, o)| (SharedToken::new(k), o)));
        assert_eq!(ring.owner("admin"), Some(&'a'));
        assert_eq!(ring.owner("shop"), Some(&'s'));
        assert_eq!(ring.owner("wall"), Some(&'w'));
        assert_eq!(ring.owner("Shop"), None);
        assert_eq!(ring.owner(""), None);
        assert!(KeyRing::<char>::new([]).owner("admin").is_none());
    }
}
