//! The shared token, compared in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured token, kept as its digest: presented tokens are compared digest to digest, so a
/// length difference does not end the comparison early either, and the configured token's digest
/// is computed once per isolate instead of once per request.
pub struct SharedToken([u8; 32]);

impl SharedToken {
    pub fn new(token: &str) -> Self {
        SharedToken(Sha256::digest(token.as_bytes()).into())
    }

    /// True when `presented` is the token. The time taken depends only on the presented length.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&presented).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_and_unequal_tokens() {
        let token = SharedToken::new("secret");
        assert!(token.matches("secret"));
        assert!(!token.matches("secreT"));
        assert!(!token.matches("secret "));
        assert!(!token.matches(""));
        assert!(SharedToken::new("").matches(""));
    }
}
