//! The public-key signature algorithms the platform verifies (JWS names).

/// The signature algorithms verified with a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    Rs256,
    Es256,
}

impl SignatureAlgorithm {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(SignatureAlgorithm::Rs256),
            "ES256" => Some(SignatureAlgorithm::Es256),
            _ => None,
        }
    }
}
