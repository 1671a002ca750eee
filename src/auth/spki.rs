//! Public keys as DER SubjectPublicKeyInfo, the one form both the Workers runtime (Web Crypto
//! `importKey("spki")`) and the native tests accept. PEM keys from the configuration (SPKI or
//! PKCS#1) and JWKS keys (RSA `n`/`e`, P-256 `x`/`y`) are all turned into it here, so signature
//! checks for RS256 and ES256 run in the runtime's native crypto instead of bignum code in wasm.
//!
//! A configured key is parsed all the way down (the SPKI, its algorithm, the key inside) when the
//! configuration loads: a key the runtime would refuse must fail there, naming the field, and not
//! on every request. Every SPKI handed out is re-encoded from the parsed key, so it is canonical.
//!
//! The DER and PEM are read and written here, not by the RustCrypto crates (`der`, `spki`, `pkcs1`,
//! `pem-rfc7468`): measured against the OID search this replaced, those grew the gzipped wasm by
//! 10 KB, this strict reader by 1.6 KB, for the three fixed shapes a public key has. The tests
//! check it against those crates.

use base64ct::{Base64, Encoding};

use crate::platform::SignatureAlgorithm;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: [u8; 2] = [0x05, 0x00];
/// The contents of the OIDs rsaEncryption, id-ecPublicKey and prime256v1.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: [u8; 8] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Reads DER strictly: definite lengths in their shortest form (at most two length bytes: no public
/// key is 64 KB), the expected tags in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The contents of the next element, which must be a `tag`.
    fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let [found, first, rest @ ..] = self.0 else { return None };
        let (len, rest) = match *first {
            short @ 0..=0x7f => (short as usize, rest),
            0x81 => match rest {
                [len @ 0x80..=0xff, rest @ ..] => (*len as usize, rest),
                _ => return None,
            },
            0x82 => match rest {
                [high @ 1..=0xff, low, rest @ ..] => ((*high as usize) << 8 | *low as usize, rest),
                _ => return None,
            },
            _ => return None,
        };
        if *found != tag || rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.0 = after;
        Some(content)
    }

    /// The contents of the only element of `input`, a `tag`.
    fn only(input: &'a [u8], tag: u8) -> Option<&'a [u8]> {
        let mut reader = Reader(input);
        let content = reader.take(tag)?;
        reader.0.is_empty().then_some(content)
    }
}

/// A positive INTEGER's magnitude, big-endian without leading zeros; `None` for zero, negative
/// and non-minimal encodings.
fn positive_integer(content: &[u8]) -> Option<&[u8]> {
    match content {
        [0, rest @ ..] => rest.first().filter(|b| **b >= 0x80).map(|_| rest),
        [first, ..] if *first != 0 && *first < 0x80 => Some(content),
        _ => None,
    }
}

/// `(n, e)` of a PKCS#1 RSAPublicKey, both positive.
fn rsa_public_key(pkcs1: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut key = Reader(Reader::only(pkcs1, SEQUENCE)?);
    let n = positive_integer(key.take(INTEGER)?)?;
    let e = positive_integer(key.take(INTEGER)?)?;
    key.0.is_empty().then_some((n, e))
}

fn der_unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(INTEGER, &content)
}

fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let bit_string = der(BIT_STRING, &[&[0u8][..], key].concat());
    der(SEQUENCE, &[der(SEQUENCE, algorithm), bit_string].concat())
}

/// SPKI of an RSA key from its modulus and exponent (big-endian bytes); `None` when either is zero.
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Option<Vec<u8>> {
    if !n.iter().any(|b| *b != 0) || !e.iter().any(|b| *b != 0) {
        return None;
    }
    let pkcs1 = der(SEQUENCE, &[der_unsigned_integer(n), der_unsigned_integer(e)].concat());
    Some(spki(&[der(OID, &RSA_ENCRYPTION), NULL.to_vec()].concat(), &pkcs1))
}

/// SPKI of a P-256 key given as its SEC1 point; only the uncompressed form (65 bytes, 0x04 first)
/// is taken, since decompressing needs the curve arithmetic the gateway leaves to the runtime.
fn p256_point_spki(point: &[u8]) -> Option<Vec<u8>> {
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    Some(spki(&[der(OID, &EC_PUBLIC_KEY), der(OID, &P256)].concat(), point))
}

/// SPKI of a P-256 key from its coordinates (32 bytes each).
pub fn p256_spki(x: &[u8], y: &[u8]) -> Option<Vec<u8>> {
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    p256_point_spki(&[&[0x04][..], x, y].concat())
}

/// The label and DER of a PEM block; the base64 may be wrapped at any width.
fn decode_pem(pem: &str) -> Result<(&str, Vec<u8>), String> {
    let (label, body) = pem
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .ok_or("not a PEM block (it must start with a -----BEGIN line)")?;
    let body = body.trim().strip_suffix(&format!("-----END {label}-----")).ok_or("the PEM block is not closed")?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = Base64::decode_vec(&base64).map_err(|_| "the PEM body is not base64")?;
    Ok((label, der))
}

/// The canonical SPKI of a DER SubjectPublicKeyInfo, when it holds a key for `algorithm`.
fn checked_spki(der: &[u8], algorithm: SignatureAlgorithm) -> Result<Vec<u8>, String> {
    let not_spki = "the PUBLIC KEY block is not a DER SubjectPublicKeyInfo";
    let mut spki = Reader(Reader::only(der, SEQUENCE).ok_or(not_spki)?);
    let mut algorithm_identifier = Reader(spki.take(SEQUENCE).ok_or(not_spki)?);
    let key = match spki.take(BIT_STRING).ok_or(not_spki)? {
        [0, key @ ..] if spki.0.is_empty() => key,
        _ => return Err(not_spki.into()),
    };
    let oid = algorithm_identifier.take(OID).ok_or(not_spki)?;
    let parameters = algorithm_identifier.0;
    match algorithm {
        SignatureAlgorithm::Rs256 => {
            if oid != RSA_ENCRYPTION || !(parameters.is_empty() || parameters == NULL) {
                return Err("RS256 needs an RSA key (rsaEncryption)".into());
            }
            let (n, e) = rsa_public_key(key).ok_or("the RSA key is not a DER RSAPublicKey of two positive integers")?;
            rsa_spki(n, e).ok_or_else(|| "the RSA key does not encode".into())
        }
        SignatureAlgorithm::Es256 => {
            if oid != EC_PUBLIC_KEY || Reader::only(parameters, OID) != Some(&P256[..]) {
                return Err("ES256 needs a P-256 key (id-ecPublicKey on prime256v1)".into());
            }
            p256_point_spki(key).ok_or_else(|| "the P-256 key is not an uncompressed point".into())
        }
    }
}

/// The SPKI of a PEM public key ("PUBLIC KEY", or PKCS#1 "RSA PUBLIC KEY" for RS256) for
/// `algorithm`. Errors describe the structure only, never the key's bytes.
pub fn spki_from_pem(pem: &str, algorithm: SignatureAlgorithm) -> Result<Vec<u8>, String> {
    let (label, der) = decode_pem(pem.trim())?;
    match (label, algorithm) {
        ("PUBLIC KEY", _) => checked_spki(&der, algorithm),
        ("RSA PUBLIC KEY", SignatureAlgorithm::Rs256) => {
            let (n, e) = rsa_public_key(&der)
                .ok_or("the RSA PUBLIC KEY block is not a DER RSAPublicKey of two positive integers")?;
            rsa_spki(n, e).ok_or_else(|| "the RSA key does not encode".into())
        }
        ("RSA PUBLIC KEY", SignatureAlgorithm::Es256) => Err("ES256 needs a P-256 key, not an RSA key".into()),
        // Named only when it looks like a label: the BEGIN line could hold anything pasted there.
        (other, _) if other.len() <= 40 && other.bytes().all(|b| b.is_ascii_uppercase() || b == b' ') => {
            Err(format!("a {other} PEM block is not a public key"))
        }
        _ => Err("the PEM block is not a public key".into()),
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

    use rsa::pkcs8::spki::der::asn1::{AnyRef, BitStringRef};
    use rsa::pkcs8::spki::der::{Decode, Encode};
    use rsa::pkcs8::spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

    use super::*;
    use SignatureAlgorithm::{Es256, Rs256};

    const RSA_ENCRYPTION_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    const EC_PUBLIC_KEY_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

    /// An SPKI as the RustCrypto crates encode it, whatever `key` holds.
    fn encode_spki(algorithm: AlgorithmIdentifierRef<'_>, key: &[u8]) -> Option<Vec<u8>> {
        let subject_public_key = BitStringRef::from_bytes(key).ok()?;
        SubjectPublicKeyInfoRef { algorithm, subject_public_key }.to_der().ok()
    }

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
        let verifies = rsa::RsaPublicKey::try_from(SubjectPublicKeyInfoRef::from_der(&spki).unwrap());
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
        let algorithm = AlgorithmIdentifierRef { oid: RSA_ENCRYPTION_OID, parameters: Some(AnyRef::NULL) };
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
        let algorithm = AlgorithmIdentifierRef { oid: RSA_ENCRYPTION_OID, parameters: Some(AnyRef::NULL) };
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
        let algorithm = AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY_OID, parameters: Some(AnyRef::from(&p384)) };
        let other_curve = encode_spki(algorithm, &[[4u8].as_slice(), &[7; 96]].concat()).unwrap();
        assert!(spki_from_pem(&public_key_pem(&other_curve), Es256).is_err());
    }

    #[test]
    fn malformed_key_values_are_refused() {
        let point = p256_key().to_encoded_point(true);
        let algorithm = AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY_OID, parameters: Some(AnyRef::from(&P256_OID)) };
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
    fn der_that_is_not_canonical_is_refused() {
        let p256 = p256_key().to_public_key_der().unwrap().into_vec();
        assert_eq!(p256[..2], [0x30, 0x59]);
        let trailing = [&p256[..], &[0]].concat();
        let long_length = [&[0x30, 0x81, 0x59][..], &p256[2..]].concat();
        let indefinite_length = [&[0x30, 0x80][..], &p256[2..], &[0, 0]].concat();
        for der in [trailing, long_length, indefinite_length] {
            assert!(spki_from_pem(&public_key_pem(&der), Es256).is_err());
        }
        // RSAPublicKey { n: 1 with a needless leading zero, e: 65537 }.
        let padded_integer = [0x30, 0x09, 0x02, 0x02, 0x00, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01];
        assert!(spki_from_pem(&pem("RSA PUBLIC KEY", &padded_integer, 64), Rs256).is_err());
        let minimal = [0x30, 0x08, 0x02, 0x01, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01];
        assert!(spki_from_pem(&pem("RSA PUBLIC KEY", &minimal, 64), Rs256).is_ok());
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
