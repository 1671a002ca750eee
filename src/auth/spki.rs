//! Public keys as DER SubjectPublicKeyInfo, the one form both the Workers runtime (Web Crypto
//! `importKey("spki")`) and the native tests accept. PEM keys from the configuration (SPKI or
//! PKCS#1) and JWKS keys (RSA `n`/`e`, P-256 `x`/`y`) are all turned into it here, so signature
//! checks for RS256 and ES256 run in the runtime's native crypto instead of bignum code in wasm.
//!
//! A configured key is parsed all the way down (the SPKI, its algorithm, the key inside) when the
//! configuration loads: a key the runtime would refuse must fail there, naming the field, and not
//! on every request. Every SPKI handed out is re-encoded from the parsed key, so it is canonical.

use pkcs1::RsaPublicKey;
use spki::der::asn1::{AnyRef, BitStringRef, UintRef};
use spki::der::{Decode, Encode, Tag};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::platform::SignatureAlgorithm;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// RFC 7468's line width, and what the PEM decoder assumes unless told otherwise.
const PEM_LINE_WIDTH: usize = 64;

fn encode_spki(algorithm: AlgorithmIdentifierRef<'_>, key: &[u8]) -> Option<Vec<u8>> {
    let subject_public_key = BitStringRef::from_bytes(key).ok()?;
    SubjectPublicKeyInfoRef { algorithm, subject_public_key }.to_der().ok()
}

fn rsa_key_spki(key: &RsaPublicKey<'_>) -> Result<Vec<u8>, String> {
    // The DER decoder already refuses negative integers; zero would only fail later, in the runtime.
    let positive = |n: &UintRef<'_>| n.as_bytes().iter().any(|b| *b != 0);
    if !positive(&key.modulus) || !positive(&key.public_exponent) {
        return Err("the RSA modulus and exponent must be positive".into());
    }
    let pkcs1 = key.to_der().map_err(|_| "the RSA key does not encode")?;
    let algorithm = AlgorithmIdentifierRef { oid: RSA_ENCRYPTION, parameters: Some(AnyRef::NULL) };
    encode_spki(algorithm, &pkcs1).ok_or_else(|| "the RSA key does not encode".into())
}

/// SPKI of a P-256 key given as its SEC1 point; only the uncompressed form (65 bytes, 0x04 first)
/// is taken, since decompressing needs the curve arithmetic the gateway leaves to the runtime.
fn p256_point_spki(point: &[u8]) -> Option<Vec<u8>> {
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    let algorithm = AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY, parameters: Some(p256_parameters()?) };
    encode_spki(algorithm, point)
}

/// The named-curve parameters of a P-256 key, built from the OID's bytes and compared as they are:
/// the crate's own conversion from an OID has a panic path that links in all of its error
/// formatting (about 2 KB of gzipped wasm, measured).
fn p256_parameters() -> Option<AnyRef<'static>> {
    AnyRef::new(Tag::ObjectIdentifier, P256.as_bytes()).ok()
}

/// SPKI of an RSA key from its modulus and exponent (big-endian bytes); `None` when either is zero.
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    let key = RsaPublicKey { modulus: UintRef::new(n).ok()?, public_exponent: UintRef::new(e).ok()? };
    rsa_key_spki(&key).ok()
}

/// SPKI of a P-256 key from its coordinates (32 bytes each).
pub fn p256_spki(x: &[u8], y: &[u8]) -> Option<Vec<u8>> {
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    p256_point_spki(&[&[0x04][..], x, y].concat())
}

/// The label and DER of a PEM block. The decoder's strict grammar wants every base64 line but the
/// last to have one width; keys wrapped at 76 columns or not at all are common in configurations,
/// so the width is the first line's rather than a fixed 64.
fn decode_pem(pem: &str) -> Result<(&str, Vec<u8>), String> {
    // The decoder would skip text before the block, and report an empty one as a bad preamble.
    if !pem.starts_with("-----BEGIN ") {
        return Err("not a PEM block (it must start with a -----BEGIN line)".into());
    }
    let width = pem.lines().nth(1).map_or(PEM_LINE_WIDTH, |line| line.trim_end().len());
    let invalid = |_| "not a valid PEM block (boundaries, base64 or line widths)";
    let mut decoder = pem_rfc7468::Decoder::new_wrapped(pem.as_bytes(), width).map_err(invalid)?;
    let mut der = Vec::new();
    decoder.decode_to_end(&mut der).map_err(invalid)?;
    Ok((decoder.type_label(), der))
}

/// The canonical SPKI of a DER SubjectPublicKeyInfo, when it holds a key for `algorithm`.
fn checked_spki(der: &[u8], algorithm: SignatureAlgorithm) -> Result<Vec<u8>, String> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(der).map_err(|_| "the PUBLIC KEY block is not a DER SubjectPublicKeyInfo")?;
    let key = spki.subject_public_key.as_bytes().ok_or("the public key is not a whole number of bytes")?;
    match algorithm {
        SignatureAlgorithm::Rs256 => {
            let null_parameters = spki.algorithm.parameters.is_none_or(|p| p.is_null());
            if spki.algorithm.oid != RSA_ENCRYPTION || !null_parameters {
                return Err("RS256 needs an RSA key (rsaEncryption)".into());
            }
            let key = RsaPublicKey::from_der(key).map_err(|_| "the RSA key is not a DER RSAPublicKey")?;
            rsa_key_spki(&key)
        }
        SignatureAlgorithm::Es256 => {
            if spki.algorithm.oid != EC_PUBLIC_KEY || spki.algorithm.parameters != p256_parameters() {
                return Err("ES256 needs a P-256 key (id-ecPublicKey on prime256v1)".into());
            }
            p256_point_spki(key).ok_or_else(|| "the P-256 key is not an uncompressed point".into())
        }
    }
}

/// The SPKI of a PEM public key ("PUBLIC KEY", or PKCS#1 "RSA PUBLIC KEY" for RS256) for
/// `algorithm`. Errors describe the structure only, never the key's bytes, and are fixed sentences
/// rather than the crates' error texts: formatting those cost about 4 KB of gzipped wasm.
pub fn spki_from_pem(pem: &str, algorithm: SignatureAlgorithm) -> Result<Vec<u8>, String> {
    let (label, der) = decode_pem(pem.trim())?;
    match (label, algorithm) {
        ("PUBLIC KEY", _) => checked_spki(&der, algorithm),
        ("RSA PUBLIC KEY", SignatureAlgorithm::Rs256) => {
            let key = RsaPublicKey::from_der(&der).map_err(|_| "the RSA PUBLIC KEY block is not a DER RSAPublicKey")?;
            rsa_key_spki(&key)
        }
        ("RSA PUBLIC KEY", SignatureAlgorithm::Es256) => Err("ES256 needs a P-256 key, not an RSA key".into()),
        // The label passed the PEM grammar (printable ASCII) and says nothing about the key.
        (other, _) => Err(format!("a {other} PEM block is not a public key")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use base64ct::{Base64, Encoding};
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;

    use super::*;
    use SignatureAlgorithm::{Es256, Rs256};

    fn rsa_key() -> &'static rsa::RsaPublicKey {
        static KEY: OnceLock<rsa::RsaPublicKey> = OnceLock::new();
        KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap().to_public_key())
    }

    fn p256_key() -> p256::PublicKey {
        p256::SecretKey::random(&mut rand::thread_rng()).public_key()
    }

    /// A PEM block of `der` wrapped at `width` columns.
    fn pem(label: &str, der: &[u8], width: usize) -> String {
        let base64 = Base64::encode_string(der);
        let lines: Vec<&str> = base64.as_bytes().chunks(width).map(|l| std::str::from_utf8(l).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    fn public_key_pem(der: &[u8]) -> String {
        pem("PUBLIC KEY", der, 64)
    }

    #[test]
    fn real_rsa_keys_are_accepted_and_come_out_as_the_dev_crates_encode_them() {
        let key = rsa_key();
        let spki = key.to_public_key_der().unwrap().into_vec();
        let spki_pem = key.to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(spki_from_pem(&spki_pem, Rs256).unwrap(), spki);
        let pkcs1_pem = key.to_pkcs1_pem(LineEnding::CRLF).unwrap();
        assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        assert_eq!(spki_from_pem(&pkcs1_pem, Rs256).unwrap(), spki);
        assert_eq!(rsa_spki(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap(), spki);
        // Leading zero bytes (JWKS encoders differ) change nothing.
        assert_eq!(rsa_spki(&[&[0, 0][..], &key.n().to_bytes_be()].concat(), &key.e().to_bytes_be()).unwrap(), spki);
        // The configuration may carry the key indented by a YAML block, wrapped at 76 columns or not at all.
        assert_eq!(spki_from_pem(&format!("\n  {spki_pem}  \n"), Rs256).unwrap(), spki);
        assert_eq!(spki_from_pem(&pem("PUBLIC KEY", &spki, 76), Rs256).unwrap(), spki);
        assert_eq!(spki_from_pem(&pem("PUBLIC KEY", &spki, 4096), Rs256).unwrap(), spki);
        let verifies = rsa::RsaPublicKey::try_from(spki::SubjectPublicKeyInfoRef::from_der(&spki).unwrap());
        assert_eq!(&verifies.unwrap(), key);
    }

    #[test]
    fn real_p256_keys_are_accepted_and_come_out_as_the_dev_crates_encode_them() {
        for _ in 0..4 {
            let key = p256_key();
            let spki = key.to_public_key_der().unwrap().into_vec();
            assert_eq!(spki_from_pem(&key.to_public_key_pem(LineEnding::LF).unwrap(), Es256).unwrap(), spki);
            let point = key.to_encoded_point(false);
            assert_eq!(p256_spki(point.x().unwrap(), point.y().unwrap()).unwrap(), spki);
        }
    }

    #[test]
    fn junk_der_that_contains_the_rsa_oid_is_refused() {
        let oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        let junk = [&b"junk"[..], &oid, &[0x05, 0x00], b"more junk"].concat();
        assert!(spki_from_pem(&public_key_pem(&junk), Rs256).is_err());
        // A well-formed SPKI with the right algorithm but no RSAPublicKey inside.
        let algorithm = AlgorithmIdentifierRef { oid: RSA_ENCRYPTION, parameters: Some(AnyRef::NULL) };
        let hollow = encode_spki(algorithm, b"not a key").unwrap();
        assert!(spki_from_pem(&public_key_pem(&hollow), Rs256).is_err());
    }

    #[test]
    fn truncated_keys_are_refused() {
        let spki = rsa_key().to_public_key_der().unwrap().into_vec();
        for cut in [1, 10, spki.len() / 2] {
            assert!(spki_from_pem(&public_key_pem(&spki[..spki.len() - cut]), Rs256).is_err(), "cut {cut}");
        }
        // An SPKI that parses around an RSAPublicKey that does not.
        let pkcs1 = rsa_key().to_pkcs1_der().unwrap().into_vec();
        let algorithm = AlgorithmIdentifierRef { oid: RSA_ENCRYPTION, parameters: Some(AnyRef::NULL) };
        let wrapped = encode_spki(algorithm, &pkcs1[..pkcs1.len() - 3]).unwrap();
        assert!(spki_from_pem(&public_key_pem(&wrapped), Rs256).is_err());
        assert!(spki_from_pem(&pem("RSA PUBLIC KEY", &pkcs1[..pkcs1.len() - 3], 64), Rs256).is_err());
        let p256 = p256_key().to_public_key_der().unwrap().into_vec();
        assert!(spki_from_pem(&public_key_pem(&p256[..p256.len() - 1]), Es256).is_err());
    }

    #[test]
    fn keys_of_another_algorithm_are_refused() {
        let rsa_spki_pem = rsa_key().to_public_key_pem(LineEnding::LF).unwrap();
        let p256_spki_pem = p256_key().to_public_key_pem(LineEnding::LF).unwrap();
        assert!(spki_from_pem(&rsa_spki_pem, Es256).is_err());
        assert!(spki_from_pem(&p256_spki_pem, Rs256).is_err());
        assert!(spki_from_pem(&rsa_key().to_pkcs1_pem(LineEnding::LF).unwrap(), Es256).is_err());
        // id-ecPublicKey on another curve (P-384, a 97-byte point).
        let p384 = ObjectIdentifier::new_unwrap("1.3.132.0.34");
        let algorithm = AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY, parameters: Some(AnyRef::from(&p384)) };
        let other_curve = encode_spki(algorithm, &[[4u8].as_slice(), &[7; 96]].concat()).unwrap();
        assert!(spki_from_pem(&public_key_pem(&other_curve), Es256).is_err());
    }

    #[test]
    fn malformed_key_values_are_refused() {
        let point = p256_key().to_encoded_point(true);
        let algorithm = AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY, parameters: p256_parameters() };
        let compressed = encode_spki(algorithm, point.as_bytes()).unwrap();
        assert!(spki_from_pem(&public_key_pem(&compressed), Es256).is_err());
        assert_eq!(p256_spki(&[1; 31], &[1; 32]), None);
        // RSAPublicKey { n: 0, e: 65537 } and { n: -1, e: 65537 }.
        let zero_modulus = [0x30, 0x08, 0x02, 0x01, 0x00, 0x02, 0x03, 0x01, 0x00, 0x01];
        let negative_modulus = [0x30, 0x08, 0x02, 0x01, 0xff, 0x02, 0x03, 0x01, 0x00, 0x01];
        for pkcs1 in [&zero_modulus[..], &negative_modulus] {
            assert!(spki_from_pem(&pem("RSA PUBLIC KEY", pkcs1, 64), Rs256).is_err());
        }
        assert_eq!(rsa_spki(&[0, 0], &[1, 0, 1]), None);
        assert_eq!(rsa_spki(&[], &[1, 0, 1]), None);
    }

    #[test]
    fn pem_errors() {
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        for (pem, algorithm) in [
            ("", Rs256),
            ("nope", Rs256),
            ("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----", Rs256),
            ("-----BEGIN PUBLIC KEY-----\nMAA=\n-----END RSA PUBLIC KEY-----", Rs256),
            (private, Rs256),
            (private, Es256),
        ] {
            assert!(spki_from_pem(pem, algorithm).is_err(), "{pem:?}");
        }
    }

    #[test]
    fn errors_never_carry_the_key() {
        let spki = rsa_key().to_public_key_der().unwrap().into_vec();
        let base64 = Base64::encode_string(&spki);
        let bad_pems = [
            public_key_pem(&spki[..spki.len() - 1]),
            p256_key().to_public_key_pem(LineEnding::LF).unwrap(),
            pem("PUBLIC KEY", &spki, 64).replace("\n-----END", "!\n-----END"),
        ];
        for bad in bad_pems {
            let message = spki_from_pem(&bad, Rs256).unwrap_err();
            let body = bad.lines().filter(|line| !line.starts_with("-----")).collect::<String>();
            let echoes = body.as_bytes().windows(8).any(|w| message.contains(std::str::from_utf8(w).unwrap()));
            assert!(!echoes && !message.contains(&base64[..8]), "{message}");
        }
    }
}
