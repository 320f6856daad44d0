//! Reading a SubjectPublicKeyInfo back into the parts PKCS#11 and the
//! software verifiers need, for exactly the key types the tool makes.
//!
//! Parsing is strict the simple way: the parts are re-encoded with the
//! builders in `der.rs` and must give back the very same bytes, so only the
//! one DER encoding of each key is accepted.

use super::der::{self, next_tlv};
use super::{HsmError, KeyAlgorithm};

/// The public key inside an SPKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKeyParts {
    /// P-256 or P-384: the uncompressed SEC1 point (04 || x || y).
    Ec { point: Vec<u8> },
    /// The 32-byte Ed25519 public key.
    Ed25519 { point: Vec<u8> },
    /// Big-endian modulus and public exponent, without leading zeros.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
}

const TAG_SEQUENCE: u8 = 0x30;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_INTEGER: u8 = 0x02;

/// The parts of `spki_der`, which must hold a key of `algorithm`.
pub(crate) fn parse(spki_der: &[u8], algorithm: KeyAlgorithm) -> Result<PublicKeyParts, HsmError> {
    let refuse = |reason: &str| {
        HsmError::InvalidInput(format!(
            "the public key is not a DER SubjectPublicKeyInfo of a {algorithm} key: {reason}"
        ))
    };
    let (_, bit_string) =
        outer(spki_der).ok_or_else(|| refuse("not a SEQUENCE of an algorithm and a BIT STRING"))?;
    let key = bit_string
        .strip_prefix(&[0])
        .ok_or_else(|| refuse("the BIT STRING has unused bits"))?;
    let (parts, rebuilt) = match algorithm {
        KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
            let (oid, length) = if algorithm == KeyAlgorithm::EcP256 {
                (der::OID_P256, 65)
            } else {
                (der::OID_P384, 97)
            };
            if key.len() != length || key[0] != 0x04 {
                return Err(refuse("not an uncompressed point of the curve's size"));
            }
            let parts = PublicKeyParts::Ec {
                point: key.to_vec(),
            };
            (parts, der::spki_ec(oid, key))
        }
        KeyAlgorithm::Ed25519 => {
            if key.len() != 32 {
                return Err(refuse("an Ed25519 key has 32 bytes"));
            }
            let parts = PublicKeyParts::Ed25519 {
                point: key.to_vec(),
            };
            (parts, der::spki_ed25519(key))
        }
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let (modulus, exponent) =
                rsa_public_key(key).ok_or_else(|| refuse("not an RSAPublicKey"))?;
            let bits = der::bit_length(&modulus);
            if Some(bits) != algorithm.rsa_bits() {
                return Err(refuse(&format!("the modulus has {bits} bits")));
            }
            let rebuilt = der::spki_rsa(&modulus, &exponent);
            (PublicKeyParts::Rsa { modulus, exponent }, rebuilt)
        }
        KeyAlgorithm::Aes256 => {
            return Err(HsmError::WrongKeyKind {
                operation: "reading a public key".into(),
                algorithm: algorithm.to_string(),
            });
        }
    };
    // Another algorithm, curve, parameters or a non-canonical encoding all
    // end up here.
    if rebuilt != spki_der {
        return Err(refuse("its algorithm or encoding differs"));
    }
    Ok(parts)
}

/// The algorithm identifier and the BIT STRING content of an SPKI.
fn outer(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = next_tlv(spki)?;
    if tag != TAG_SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, algorithm, after) = next_tlv(body)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let (tag, bits, rest) = next_tlv(after)?;
    (tag == TAG_BIT_STRING && rest.is_empty()).then_some((algorithm, bits))
}

/// Modulus and exponent of an RSAPublicKey, leading zeros removed.
fn rsa_public_key(data: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (tag, body, rest) = next_tlv(data)?;
    if tag != TAG_SEQUENCE || !rest.is_empty() {
        return None;
    }
    let (tag, modulus, after) = next_tlv(body)?;
    let (tag2, exponent, rest) = next_tlv(after)?;
    if tag != TAG_INTEGER || tag2 != TAG_INTEGER || !rest.is_empty() {
        return None;
    }
    let trim = |value: &[u8]| -> Vec<u8> {
        let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
        value[first..].to_vec()
    };
    Some((trim(modulus), trim(exponent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p256_point() -> Vec<u8> {
        let mut point = vec![0x04];
        point.extend_from_slice(&[0x11; 64]);
        point
    }

    #[test]
    fn each_key_type_round_trips() {
        let spki = der::spki_ec(der::OID_P256, &p256_point());
        assert_eq!(
            parse(&spki, KeyAlgorithm::EcP256).expect("p256"),
            PublicKeyParts::Ec {
                point: p256_point()
            }
        );
        let spki = der::spki_ed25519(&[7; 32]);
        assert_eq!(
            parse(&spki, KeyAlgorithm::Ed25519).expect("ed25519"),
            PublicKeyParts::Ed25519 { point: vec![7; 32] }
        );
        let mut modulus = vec![0xc5; 384];
        modulus[383] = 0x01;
        let spki = der::spki_rsa(&modulus, &[0x01, 0x00, 0x01]);
        assert_eq!(
            parse(&spki, KeyAlgorithm::Rsa3072).expect("rsa"),
            PublicKeyParts::Rsa {
                modulus,
                exponent: vec![0x01, 0x00, 0x01]
            }
        );
    }

    #[test]
    fn another_algorithm_or_a_damaged_encoding_is_refused() {
        let p256 = der::spki_ec(der::OID_P256, &p256_point());
        let error = parse(&p256, KeyAlgorithm::EcP384).expect_err("not P-384");
        assert!(error.to_string().contains("ec-p384"), "{error}");
        let mut on_p384_oid = der::spki_ec(der::OID_P384, &p256_point());
        assert!(parse(&on_p384_oid, KeyAlgorithm::EcP256).is_err());
        on_p384_oid.push(0);
        assert!(parse(&on_p384_oid, KeyAlgorithm::EcP256).is_err());
        assert!(parse(&p256[..p256.len() - 1], KeyAlgorithm::EcP256).is_err());
        let ed = der::spki_ed25519(&[7; 32]);
        assert!(parse(&ed, KeyAlgorithm::EcP256).is_err());
        assert!(parse(&p256, KeyAlgorithm::Rsa4096).is_err());
        let short = der::spki_rsa(&[0xc5; 256], &[3]);
        assert!(
            parse(&short, KeyAlgorithm::Rsa3072)
                .expect_err("2048 bits")
                .to_string()
                .contains("2048 bits")
        );
        assert!(parse(&[], KeyAlgorithm::Ed25519).is_err());
    }
}
