//! Reading the PKCS#10 certificate request a user uploads or pastes (R14).
//!
//! Only the public key is taken: the subject, attributes and requested extensions of the request
//! are ignored, because what a certificate says is decided by the portal (R13). The request's
//! self-signature is checked all the same: it proves the user holds the private key.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::oid_registry::{
    Oid, OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;

use super::{KeyAlgorithm, PublicKey};

/// The DER AlgorithmIdentifiers S/MIME BR §7.1.3.1.1 prescribes byte for byte; the portal
/// re-encodes every accepted key with them.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const P256_ALGORITHM: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
const P384_ALGORITHM: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];

pub use domain::certificate::{CsrError, MAX_RSA_BITS, MIN_RSA_BITS};

/// Reads a PKCS#10 request, PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`, with any
/// surrounding whitespace or text) or DER, checks its key and its self-signature, and returns its
/// public key in the encoding S/MIME certificates require.
pub fn parse_csr(input: &[u8]) -> Result<PublicKey, CsrError> {
    let der = request_der(input)?;
    let csr = match X509CertificationRequest::from_der(&der) {
        Ok(([], csr)) => csr,
        _ => return Err(CsrError::NotACsr),
    };
    let spki = &csr.certification_request_info.subject_pki;
    // The key is judged before the signature: a too-short RSA key should be reported as such,
    // not as a signature the verifier (which refuses short keys) cannot check.
    let key = accepted_key(spki)?;
    csr.verify_signature().map_err(|e| match e {
        X509Error::SignatureUnsupportedAlgorithm => CsrError::UnsupportedSignature,
        _ => CsrError::BadSignature,
    })?;
    Ok(key)
}

/// The DER of the request in `input`.
fn request_der(input: &[u8]) -> Result<Vec<u8>, CsrError> {
    let text_start = input.iter().position(|b| !b.is_ascii_whitespace());
    let looks_like_pem = text_start.is_some_and(|i| {
        // PEM may follow explanatory text (`openssl req -text`), DER never starts with '-'.
        input[i] != 0x30 && input.windows(11).any(|w| w == b"-----BEGIN ")
    });
    if !looks_like_pem {
        return Ok(input.to_vec());
    }
    // Pasted text may come with CRLF line ends and indented lines, which the PEM reader does not
    // expect.
    let normalized = String::from_utf8_lossy(input)
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n");
    let mut private_key_seen = false;
    for pem in Pem::iter_from_buffer(normalized.as_bytes()) {
        let Ok(pem) = pem else { break };
        match pem.label.as_str() {
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => return Ok(pem.contents),
            label if label.ends_with("PRIVATE KEY") => private_key_seen = true,
            _ => {}
        }
    }
    Err(if private_key_seen {
        CsrError::PrivateKey
    } else {
        CsrError::NotACsr
    })
}

fn accepted_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<PublicKey, CsrError> {
    let algorithm = &spki.algorithm.algorithm;
    let key_bits = spki.subject_public_key.data.as_ref();
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        let Ok(ParsedKey::RSA(rsa)) = spki.parsed() else {
            return Err(CsrError::NotACsr);
        };
        let bits = bit_length(rsa.modulus);
        if bits < MIN_RSA_BITS {
            return Err(CsrError::RsaTooShort { bits });
        }
        if bits > MAX_RSA_BITS {
            return Err(CsrError::RsaTooLong { bits });
        }
        if !bits.is_multiple_of(8) {
            return Err(CsrError::RsaOddLength { bits });
        }
        let exponent_ok =
            bit_length(rsa.exponent) >= 2 && rsa.exponent.last().is_some_and(|low| low & 1 == 1);
        if !exponent_ok {
            return Err(CsrError::RsaExponent);
        }
        return Ok(PublicKey {
            spki_der: spki_der(RSA_ALGORITHM, key_bits),
            algorithm: KeyAlgorithm::Rsa { bits },
        });
    }
    if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let (algorithm_der, algorithm, coordinate_bytes) = match &curve {
            Some(c) if *c == OID_EC_P256 => (P256_ALGORITHM, KeyAlgorithm::EcP256, 32),
            Some(c) if *c == OID_NIST_EC_P384 => (P384_ALGORITHM, KeyAlgorithm::EcP384, 48),
            Some(c) => {
                return Err(CsrError::EcCurve {
                    curve: curve_name(c),
                })
            }
            None => {
                return Err(CsrError::EcCurve {
                    curve: "with explicit parameters".into(),
                })
            }
        };
        if key_bits.len() != 1 + 2 * coordinate_bytes || key_bits[0] != 0x04 {
            return Err(CsrError::EcPointFormat);
        }
        return Ok(PublicKey {
            spki_der: spki_der(algorithm_der, key_bits),
            algorithm,
        });
    }
    Err(CsrError::KeyAlgorithm {
        algorithm: algorithm_name(algorithm),
    })
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
fn spki_der(algorithm_der: &[u8], key_bits: &[u8]) -> Vec<u8> {
    yasna::construct_der(|writer| {
        writer.write_sequence(|writer| {
            writer.next().write_der(algorithm_der);
            writer
                .next()
                .write_bitvec_bytes(key_bits, key_bits.len() * 8);
        })
    })
}

/// Bits of a big-endian unsigned integer, leading zeros ignored.
fn bit_length(bytes: &[u8]) -> u32 {
    let significant: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    let len = u32::try_from(significant.len()).unwrap_or(u32::MAX / 8);
    len * 8 - significant[0].leading_zeros()
}

fn curve_name(curve: &Oid<'_>) -> String {
    match curve.to_id_string().as_str() {
        "1.3.132.0.35" => "P-521".into(),
        "1.3.132.0.10" => "secp256k1".into(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".into(),
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1".into(),
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1".into(),
        other => other.into(),
    }
}

fn algorithm_name(algorithm: &Oid<'_>) -> String {
    match algorithm.to_id_string().as_str() {
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        "1.2.840.113549.1.1.10" => "RSA-PSS".into(),
        other => format!("OID {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0x00, 0x01]), 17);
        assert_eq!(bit_length(&[0x03]), 2);
        assert_eq!(bit_length(&[0, 0]), 0);
    }

    #[test]
    fn r14_garbage_and_empty_input_are_not_requests() {
        assert_eq!(parse_csr(b""), Err(CsrError::NotACsr));
        assert_eq!(parse_csr(b"hello"), Err(CsrError::NotACsr));
        assert_eq!(
            parse_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n-----END CERTIFICATE REQUEST-----\n"),
            Err(CsrError::NotACsr)
        );
        assert_eq!(
            parse_csr(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(CsrError::PrivateKey)
        );
    }
}
