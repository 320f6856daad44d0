//! Signing, encryption and decryption with keys on the token. The mechanism
//! follows from the key's algorithm, so a script never chooses a weak one.

use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectClass;
use sha2::{Digest, Sha256, Sha384};
use zeroize::Zeroizing;

use super::der::{ecdsa_signature_from_der, ecdsa_signature_to_der};
use super::error::During;
use super::{HsmError, KeyAlgorithm, KeyRef, LoggedIn};

/// AES-GCM nonce length: 96 bits, the size GCM is specified for.
pub const GCM_IV_BYTES: usize = 12;
/// AES-GCM tag length in bits (appended to the ciphertext).
const GCM_TAG_BITS: u64 = 128;
/// RSA-PSS salt length: the digest length of SHA-256.
pub const PSS_SALT_BYTES: u64 = 32;

fn pss_sha256() -> Mechanism<'static> {
    Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: PSS_SALT_BYTES.into(),
    })
}

/// RSA-OAEP with SHA-1 and MGF1-SHA-1 and an empty label: the one OAEP
/// variant every PKCS#11 module offers (SoftHSM2 2.6 refuses any other hash
/// with CKR_ARGUMENTS_BAD), so a rehearsal and production use the same
/// scheme. OAEP's security rests on the hash as a random oracle, not on its
/// collision resistance, so SHA-1's collisions do not weaken it.
fn oaep_sha1() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
}

/// The RSA encryption scheme of [`LoggedIn::encrypt`], for the record.
pub const RSA_ENCRYPTION_SCHEME: &str = "RSAES-OAEP, SHA-1, MGF1-SHA-1, empty label";

impl LoggedIn {
    /// Signs `message` with the key's private half:
    /// - EC P-256 / P-384: ECDSA over SHA-256 / SHA-384, hashed here (SoftHSM2
    ///   has no combined mechanism), returned as DER ECDSA-Sig-Value;
    /// - Ed25519: pure EdDSA (RFC 8032), 64 bytes;
    /// - RSA: RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    pub fn sign(&self, key: &KeyRef, message: &[u8]) -> Result<Vec<u8>, HsmError> {
        let wrong_kind = || HsmError::WrongKeyKind {
            operation: "signing".into(),
            algorithm: key.algorithm.to_string(),
        };
        // A secret key has no CKO_PRIVATE_KEY object: say why, not "not found".
        if !key.algorithm.is_asymmetric() {
            return Err(wrong_kind());
        }
        let handle = self.handle(key, ObjectClass::PRIVATE_KEY)?;
        let operation = format!("signing with {:?}", key.label);
        match key.algorithm {
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
                let digest = if key.algorithm == KeyAlgorithm::EcP256 {
                    Sha256::digest(message).to_vec()
                } else {
                    Sha384::digest(message).to_vec()
                };
                let raw = self
                    .session
                    .sign(&Mechanism::Ecdsa, handle, &digest)
                    .during(operation)?;
                ecdsa_signature_to_der(&raw)
            }
            KeyAlgorithm::Ed25519 => self
                .session
                .sign(
                    &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                    handle,
                    message,
                )
                .during(operation),
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => self
                .session
                .sign(&pss_sha256(), handle, message)
                .during(operation),
            KeyAlgorithm::Aes256 => Err(wrong_kind()),
        }
    }

    /// Verifies `signature` (as [`LoggedIn::sign`] returns it) over
    /// `message` inside the HSM, with the key's public object. `Ok(false)`
    /// is the token's CKR_SIGNATURE_INVALID; any other refusal is an error.
    pub fn verify(&self, key: &KeyRef, message: &[u8], signature: &[u8]) -> Result<bool, HsmError> {
        let handle = self.handle(key, ObjectClass::PUBLIC_KEY)?;
        let operation = format!("verifying with {:?}", key.label);
        let outcome = match key.algorithm {
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
                let (digest, field) = if key.algorithm == KeyAlgorithm::EcP256 {
                    (Sha256::digest(message).to_vec(), 32)
                } else {
                    (Sha384::digest(message).to_vec(), 48)
                };
                let raw = match ecdsa_signature_from_der(signature, field) {
                    Ok(raw) => raw,
                    Err(_) => return Ok(false),
                };
                self.session
                    .verify(&Mechanism::Ecdsa, handle, &digest, &raw)
            }
            KeyAlgorithm::Ed25519 => self.session.verify(
                &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                handle,
                message,
                signature,
            ),
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                self.session
                    .verify(&pss_sha256(), handle, message, signature)
            }
            KeyAlgorithm::Aes256 => {
                return Err(HsmError::WrongKeyKind {
                    operation: "verifying".into(),
                    algorithm: key.algorithm.to_string(),
                });
            }
        };
        match outcome {
            Ok(()) => Ok(true),
            Err(cryptoki::error::Error::Pkcs11(
                RvError::SignatureInvalid | RvError::SignatureLenRange,
                _,
            )) => Ok(false),
            Err(error) => Err(error).during(operation),
        }
    }

    /// Encrypts `plaintext`:
    /// - AES-256: AES-GCM with a fresh 12-byte IV from the token's RNG and a
    ///   128-bit tag; returns IV || ciphertext || tag; `aad` is authenticated;
    /// - RSA: [`RSA_ENCRYPTION_SCHEME`] under the public key; `aad` must be
    ///   empty (OAEP labels are not offered).
    pub fn encrypt(&self, key: &KeyRef, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, HsmError> {
        let operation = format!("encrypting with {:?}", key.label);
        match key.algorithm {
            KeyAlgorithm::Aes256 => {
                let handle = self.private_handle(key)?;
                let iv = self
                    .session
                    .generate_random_vec(GCM_IV_BYTES as u32)
                    .during("drawing an AES-GCM IV from the token's RNG")?;
                let mut iv_for_call = iv.clone();
                let params = GcmParams::new(&mut iv_for_call, aad, GCM_TAG_BITS.into())
                    .during(operation.as_str())?;
                let sealed = self
                    .session
                    .encrypt(&Mechanism::AesGcm(params), handle, plaintext)
                    .during(operation)?;
                Ok([iv, sealed].concat())
            }
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                refuse_aad(aad)?;
                let handle = self.handle(key, ObjectClass::PUBLIC_KEY)?;
                self.session
                    .encrypt(&oaep_sha1(), handle, plaintext)
                    .during(operation)
            }
            _ => Err(HsmError::WrongKeyKind {
                operation: "encrypting".into(),
                algorithm: key.algorithm.to_string(),
            }),
        }
    }

    /// Reverses [`LoggedIn::encrypt`]. A wrong key, a wrong `aad` or an
    /// altered ciphertext is an error, never garbage.
    pub fn decrypt(
        &self,
        key: &KeyRef,
        ciphertext: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let operation = format!("decrypting with {:?}", key.label);
        match key.algorithm {
            KeyAlgorithm::Aes256 => {
                let handle = self.private_handle(key)?;
                if ciphertext.len() < GCM_IV_BYTES + (GCM_TAG_BITS / 8) as usize {
                    return Err(HsmError::InvalidInput(format!(
                        "{} bytes are too short for IV || ciphertext || tag",
                        ciphertext.len()
                    )));
                }
                let (iv, sealed) = ciphertext.split_at(GCM_IV_BYTES);
                let mut iv = iv.to_vec();
                let params =
                    GcmParams::new(&mut iv, aad, GCM_TAG_BITS.into()).during(operation.as_str())?;
                self.session
                    .decrypt(&Mechanism::AesGcm(params), handle, sealed)
                    .map(Zeroizing::new)
                    .during(operation)
            }
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                refuse_aad(aad)?;
                let handle = self.private_handle(key)?;
                self.session
                    .decrypt(&oaep_sha1(), handle, ciphertext)
                    .map(Zeroizing::new)
                    .during(operation)
            }
            _ => Err(HsmError::WrongKeyKind {
                operation: "decrypting".into(),
                algorithm: key.algorithm.to_string(),
            }),
        }
    }
}

fn refuse_aad(aad: &[u8]) -> Result<(), HsmError> {
    if aad.is_empty() {
        Ok(())
    } else {
        Err(HsmError::InvalidInput(
            "RSA-OAEP takes no associated data here; use an AES key to bind context".into(),
        ))
    }
}
