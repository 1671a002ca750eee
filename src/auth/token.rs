//! The shared token, compared in constant time.

use subtle::ConstantTimeEq;

/// True when `presented` equals `expected`. The time taken depends only on the lengths.
pub fn token_matches(expected: &str, presented: &str) -> bool {
    // Compare digests so that a length difference does not end the comparison early either.
    use sha2::{Digest, Sha256};
    let expected = Sha256::digest(expected.as_bytes());
    let presented = Sha256::digest(presented.as_bytes());
    expected.ct_eq(&presented).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_and_unequal_tokens() {
        assert!(token_matches("secret", "secret"));
        assert!(!token_matches("secret", "secreT"));
        assert!(!token_matches("secret", "secret "));
        assert!(!token_matches("secret", ""));
    }
}
