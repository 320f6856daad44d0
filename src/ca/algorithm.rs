//! Key and signature algorithms: which key an SPKI holds, which signature
//! algorithm an issuer uses, the throwaway software key of the rehearsal,
//! and the verification of a CSR's own signature.

use const_oid::ObjectIdentifier;
use der::asn1::ObjectIdentifier as Oid;
use der::{Any, Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::{Signer, Verifier};
use rand::rngs::OsRng;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha1::{Digest, Sha1};
use sha2_010::{Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::CaError;
use crate::hsm::KeyAlgorithm;

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(crate) const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_WITH_SHA384: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// RSASSA-PSS-params (RFC 4055) for what the HSM signs RSA with
/// (`LoggedIn::sign`): SHA-256, MGF1 with SHA-256, a 32-byte salt, trailer
/// 1 (the default, so absent). Byte for byte the encoding the CA/Browser
/// Forum Baseline Requirements (7.1.3.2.1) prescribe for this algorithm,
/// with NULL hash parameters, as openssl writes it too: relying parties
/// such as Chromium and webpki accept only these exact bytes.
const PSS_SHA256_PARAMS: [u8; 54] = [
    0x30, 0x34, // SEQUENCE
    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, // [0] hashAlgorithm sha256, NULL
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30,
    0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, // [1] maskGenAlgorithm mgf1(sha256, NULL)
    0xa2, 0x03, 0x02, 0x01, 0x20, // [2] saltLength 32
];

/// The signature algorithm an issuer of `algorithm` signs with: the one
/// the HSM signs with, so RSA issuers sign RSASSA-PSS (the tool never
/// enables PKCS#1 v1.5 signing on a key it generates).
pub(crate) fn signature_algorithm(
    algorithm: KeyAlgorithm,
) -> Result<AlgorithmIdentifierOwned, CaError> {
    let (oid, parameters) = match algorithm {
        KeyAlgorithm::EcP256 => (ECDSA_WITH_SHA256, None),
        KeyAlgorithm::EcP384 => (ECDSA_WITH_SHA384, None),
        KeyAlgorithm::Ed25519 => (ID_ED25519, None),
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let parameters =
                Any::from_der(&PSS_SHA256_PARAMS).map_err(|error| CaError::Encoding {
                    object: "RSASSA-PSS parameters",
                    detail: error.to_string(),
                })?;
            (RSASSA_PSS, Some(parameters))
        }
        KeyAlgorithm::Aes256 => return Err(CaError::UnsupportedIssuer(algorithm)),
    };
    Ok(AlgorithmIdentifierOwned { oid, parameters })
}

/// The key type an SPKI holds, RSA sized to the tool's two sizes.
pub(crate) fn key_algorithm(spki: &SubjectPublicKeyInfoOwned) -> Result<KeyAlgorithm, String> {
    let parameters = &spki.algorithm.parameters;
    match spki.algorithm.oid {
        ID_EC_PUBLIC_KEY => {
            let curve = parameters
                .as_ref()
                .and_then(|any| any.decode_as::<Oid>().ok())
                .ok_or("an EC key without a named curve")?;
            match curve {
                SECP256R1 => Ok(KeyAlgorithm::EcP256),
                SECP384R1 => Ok(KeyAlgorithm::EcP384),
                other => Err(format!("an EC key on curve {other}, not P-256 or P-384")),
            }
        }
        ID_ED25519 if parameters.is_none() => Ok(KeyAlgorithm::Ed25519),
        RSA_ENCRYPTION => {
            let der = spki.to_der().map_err(|error| error.to_string())?;
            let key = rsa::RsaPublicKey::from_public_key_der(&der)
                .map_err(|error| format!("an unreadable RSA key: {error}"))?;
            match key.size() * 8 {
                3072 => Ok(KeyAlgorithm::Rsa3072),
                4096 => Ok(KeyAlgorithm::Rsa4096),
                bits => Err(format!("an RSA-{bits} key, not RSA-3072 or RSA-4096")),
            }
        }
        other => Err(format!(
            "a key of algorithm {other}, which this tool does not know"
        )),
    }
}

/// RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's
/// bytes.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

/// Decodes an SPKI and checks it holds an `expected` key; errors name `field`.
pub(crate) fn read_spki(
    spki_der: &[u8],
    expected: KeyAlgorithm,
    field: &str,
) -> Result<SubjectPublicKeyInfoOwned, CaError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(|error| {
        CaError::profile(field, format!("not a DER SubjectPublicKeyInfo: {error}"))
    })?;
    let found = key_algorithm(&spki).map_err(|reason| CaError::profile(field, reason))?;
    if found != expected {
        return Err(CaError::profile(
            field,
            format!("holds an {found} key, not the {expected} key named"),
        ));
    }
    Ok(spki)
}

/// A software key of the issuer's algorithm that signs the rehearsal and is
/// then dropped: it proves the assembled object parses and verifies without
/// touching the HSM. It signs in the same forms the HSM callback returns.
pub(crate) enum Throwaway {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// RSASSA-PSS, SHA-256, salt of the digest's length (32 bytes).
    Rsa(Box<rsa::pss::SigningKey<Sha256>>),
}

impl Throwaway {
    pub(crate) fn generate(algorithm: KeyAlgorithm) -> Result<Self, CaError> {
        Ok(match algorithm {
            KeyAlgorithm::EcP256 => Throwaway::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::EcP384 => Throwaway::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::Ed25519 => {
                Throwaway::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
            // Of the issuer's size, so the rehearsal's signature is as long
            // as the HSM's. A second or so of software key generation.
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = if algorithm == KeyAlgorithm::Rsa3072 {
                    3072
                } else {
                    4096
                };
                let key = rsa::RsaPrivateKey::new(&mut OsRng, bits).map_err(|error| {
                    CaError::Encoding {
                        object: "throwaway RSA key",
                        detail: error.to_string(),
                    }
                })?;
                Throwaway::Rsa(Box::new(rsa::pss::SigningKey::new(key)))
            }
            KeyAlgorithm::Aes256 => return Err(CaError::UnsupportedIssuer(algorithm)),
        })
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Throwaway::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            Throwaway::P384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            Throwaway::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            Throwaway::Rsa(key) => {
                use rsa::signature::{RandomizedSigner, SignatureEncoding};
                key.sign_with_rng(&mut OsRng, message).to_vec()
            }
        }
    }

    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Throwaway::P256(key) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| key.verifying_key().verify(message, &signature).is_ok()),
            Throwaway::P384(key) => p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| key.verifying_key().verify(message, &signature).is_ok()),
            Throwaway::Ed25519(key) => {
                ed25519_dalek::Signature::from_slice(signature).is_ok_and(|signature| {
                    key.verifying_key()
                        .verify_strict(message, &signature)
                        .is_ok()
                })
            }
            Throwaway::Rsa(key) => {
                use rsa::signature::Keypair;
                rsa::pss::Signature::try_from(signature)
                    .is_ok_and(|signature| key.verifying_key().verify(message, &signature).is_ok())
            }
        }
    }
}

/// Verifies a CSR's self-signature with the algorithm the CSR names, which
/// need not be the one this tool signs with (openssl signs P-384 requests
/// with SHA-256 by default).
pub(crate) fn verify_self_signature(
    spki: &SubjectPublicKeyInfoOwned,
    key: KeyAlgorithm,
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    let unsupported = || {
        format!(
            "signature algorithm {} with an {key} key is not supported",
            algorithm.oid
        )
    };
    let absent_or_null = match &algorithm.parameters {
        None => true,
        Some(any) => any == &Any::null(),
    };
    let point = spki.subject_public_key.raw_bytes();
    let digest = |oid| -> Option<Vec<u8>> {
        Some(match oid {
            ECDSA_WITH_SHA256 | SHA256_WITH_RSA => Sha256::digest(message).to_vec(),
            ECDSA_WITH_SHA384 | SHA384_WITH_RSA => Sha384::digest(message).to_vec(),
            ECDSA_WITH_SHA512 | SHA512_WITH_RSA => Sha512::digest(message).to_vec(),
            _ => return None,
        })
    };
    match key {
        KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
            if !matches!(
                algorithm.oid,
                ECDSA_WITH_SHA256 | ECDSA_WITH_SHA384 | ECDSA_WITH_SHA512
            ) || algorithm.parameters.is_some()
            {
                return Err(unsupported());
            }
            let prehash = digest(algorithm.oid).ok_or_else(unsupported)?;
            let invalid = |error: p256::ecdsa::Error| format!("an invalid EC public key: {error}");
            Ok(if key == KeyAlgorithm::EcP256 {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(invalid)?;
                p256::ecdsa::DerSignature::try_from(signature)
                    .is_ok_and(|signature| key.verify_prehash(&prehash, &signature).is_ok())
            } else {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(invalid)?;
                p384::ecdsa::DerSignature::try_from(signature)
                    .is_ok_and(|signature| key.verify_prehash(&prehash, &signature).is_ok())
            })
        }
        KeyAlgorithm::Ed25519 => {
            if algorithm.oid != ID_ED25519 || algorithm.parameters.is_some() {
                return Err(unsupported());
            }
            let bytes: [u8; 32] = point
                .try_into()
                .map_err(|_| format!("an Ed25519 key of {} bytes", point.len()))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|error| format!("an invalid Ed25519 public key: {error}"))?;
            Ok(ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok()))
        }
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let scheme = match algorithm.oid {
                SHA256_WITH_RSA => rsa::Pkcs1v15Sign::new::<Sha256>(),
                SHA384_WITH_RSA => rsa::Pkcs1v15Sign::new::<Sha384>(),
                SHA512_WITH_RSA => rsa::Pkcs1v15Sign::new::<Sha512>(),
                _ => return Err(unsupported()),
            };
            if !absent_or_null {
                return Err(unsupported());
            }
            let prehash = digest(algorithm.oid).ok_or_else(unsupported)?;
            let der = spki.to_der().map_err(|error| error.to_string())?;
            let key = rsa::RsaPublicKey::from_public_key_der(&der)
                .map_err(|error| format!("an unreadable RSA key: {error}"))?;
            Ok(key.verify(scheme, &prehash, signature).is_ok())
        }
        KeyAlgorithm::Aes256 => Err(unsupported()),
    }
}
