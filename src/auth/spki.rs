//! Public keys as DER SubjectPublicKeyInfo, the one form both the Workers runtime (Web Crypto
//! `importKey("spki")`) and the native tests accept. PEM keys from the configuration (SPKI or
//! PKCS#1) and JWKS keys (RSA `n`/`e`, P-256 `x`/`y`) are all turned into it here, so signature
//! checks for RS256 and ES256 run in the runtime's native crypto instead of bignum code in wasm.

use base64ct::{Base64, Encoding};

use crate::platform::SignatureAlgorithm;

const RSA_ENCRYPTION_OID: [u8; 11] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

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

fn der_unsigned_integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

fn bit_string(content: &[u8]) -> Vec<u8> {
    let mut with_unused_bits = vec![0u8];
    with_unused_bits.extend_from_slice(content);
    der(0x03, &with_unused_bits)
}

/// SPKI of an RSA key given as a PKCS#1 `RSAPublicKey` structure.
fn rsa_spki_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let algorithm = der(0x30, &[&RSA_ENCRYPTION_OID[..], &[0x05, 0x00]].concat());
    der(0x30, &[algorithm, bit_string(pkcs1)].concat())
}

/// SPKI of an RSA key from its modulus and exponent (big-endian bytes).
pub fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    rsa_spki_from_pkcs1(&der(0x30, &[der_unsigned_integer(n), der_unsigned_integer(e)].concat()))
}

/// SPKI of a P-256 key from its coordinates (32 bytes each).
pub fn p256_spki(x: &[u8], y: &[u8]) -> Option<Vec<u8>> {
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let algorithm = der(0x30, &[&EC_PUBLIC_KEY_OID[..], &P256_OID[..]].concat());
    let point = [&[4u8][..], x, y].concat();
    Some(der(0x30, &[algorithm, bit_string(&point)].concat()))
}

/// The SPKI of a PEM public key ("PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") for `algorithm`.
pub fn spki_from_pem(pem: &str, algorithm: SignatureAlgorithm) -> Result<Vec<u8>, String> {
    let pem = pem.trim();
    let (label, body) =
        pem.strip_prefix("-----BEGIN ").and_then(|rest| rest.split_once("-----")).ok_or("not a PEM block")?;
    let end_marker = format!("-----END {label}-----");
    let body = body.trim().strip_suffix(&end_marker).ok_or("the PEM block is not closed")?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der_bytes = Base64::decode_vec(&base64).map_err(|_| "the PEM body is not base64")?;
    let spki = match label {
        "PUBLIC KEY" => der_bytes,
        "RSA PUBLIC KEY" if algorithm == SignatureAlgorithm::Rs256 => rsa_spki_from_pkcs1(&der_bytes),
        other => return Err(format!("a '{other}' PEM block is not a public key for {algorithm:?}")),
    };
    let contains = |needle: &[u8]| spki.windows(needle.len()).any(|w| w == needle);
    let fits = match algorithm {
        SignatureAlgorithm::Rs256 => contains(&RSA_ENCRYPTION_OID),
        SignatureAlgorithm::Es256 => contains(&EC_PUBLIC_KEY_OID) && contains(&P256_OID),
    };
    if !fits {
        return Err(format!(
            "the key is not a {} key",
            if algorithm == SignatureAlgorithm::Rs256 { "RSA" } else { "P-256" }
        ));
    }
    Ok(spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        assert_eq!(der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(der_unsigned_integer(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(der_unsigned_integer(&[0, 0, 1]), vec![0x02, 1, 1]);
    }

    #[test]
    fn pem_errors() {
        assert!(spki_from_pem("nope", SignatureAlgorithm::Rs256).is_err());
        assert!(spki_from_pem("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----", SignatureAlgorithm::Rs256)
            .is_err());
        assert!(spki_from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            SignatureAlgorithm::Rs256
        )
        .is_err());
    }
}
