//! Signature verification in software, outside any HSM: how a restore
//! rehearsal shows that the restored key is the original one, by checking
//! its signature against the public key recorded in the original ceremony.

use p256::ecdsa::signature::Verifier as _;

use super::spki::{self, PublicKeyParts};
use super::{HsmError, KeyAlgorithm};

/// Verifies `signature`, as [`LoggedIn::sign`](super::LoggedIn::sign)
/// returns it, over `message` against `spki_der` (DER
/// SubjectPublicKeyInfo):
/// - EC P-256 / P-384: ECDSA over SHA-256 / SHA-384, DER signature;
/// - Ed25519: pure EdDSA (RFC 8032), strict verification;
/// - RSA: RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
///
/// `Ok(false)` when the signature does not verify (or is not even well
/// formed); an error when the public key is not a key of `algorithm`.
pub fn verify_with_spki(
    spki_der: &[u8],
    algorithm: KeyAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, HsmError> {
    let invalid_key = |detail: String| {
        HsmError::InvalidInput(format!("the {algorithm} public key is not valid: {detail}"))
    };
    Ok(match spki::parse(spki_der, algorithm)? {
        PublicKeyParts::Ec { point } if algorithm == KeyAlgorithm::EcP256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|error| invalid_key(error.to_string()))?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok())
        }
        PublicKeyParts::Ec { point } => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                .map_err(|error| invalid_key(error.to_string()))?;
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok())
        }
        PublicKeyParts::Ed25519 { point } => {
            let bytes: [u8; 32] = point
                .as_slice()
                .try_into()
                .map_err(|_| invalid_key(format!("{} bytes", point.len())))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|error| invalid_key(error.to_string()))?;
            ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify_strict(message, &signature).is_ok())
        }
        PublicKeyParts::Rsa { modulus, exponent } => {
            let key = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(&modulus),
                rsa::BigUint::from_bytes_be(&exponent),
            )
            .map_err(|error| invalid_key(error.to_string()))?;
            // new() takes the salt length from the digest: 32 bytes, as
            // LoggedIn::sign uses.
            let key = rsa::pss::VerifyingKey::<sha2_010::Sha256>::new(key);
            rsa::pss::Signature::try_from(signature)
                .is_ok_and(|signature| key.verify(message, &signature).is_ok())
        }
    })
}
