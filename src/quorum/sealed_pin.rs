//! A PIN the ceremony did not derive — one set with the HSM vendor's tool —
//! kept under a ceremony secret so that only a quorum can use it.
//!
//! Shamir shares must carry a uniformly random secret (see the module
//! docs), so an existing PIN is never split itself: a fresh 256-bit secret
//! is split as usual and the PIN is sealed under a key derived from it with
//! ChaCha20-Poly1305. The sealed PIN is public (it goes into the transcript,
//! where later ceremonies find it); k custodians recombine the secret, and
//! the secret opens the PIN.
//!
//! The plaintext is padded to a fixed size, so the transcript does not
//! reveal the PIN's length. The associated data binds the sealed PIN to the
//! secret's name and to the role it logs in as: an SO PIN cannot be passed
//! off as a user PIN.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CeremonySecret, QuorumError, SecretName};
use crate::secret::Pin;

const DOMAIN_SEAL: &[u8] = b"keyceremony/secret/v1/sealed-pin";

/// The longest PIN that can be sealed, in bytes. PKCS#11 modules allow at
/// most 255, and real ones far less; CloudHSM's `user:password` fits.
pub const MAX_SEALED_PIN_LEN: usize = 127;

/// Plaintext size: one length byte, then the PIN, then zeros.
const PADDED_LEN: usize = MAX_SEALED_PIN_LEN + 1;

/// The algorithm name recorded with every sealed PIN.
pub const SEAL_AEAD: &str = "chacha20poly1305";

/// A PIN sealed under a ceremony secret: public, safe to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPin {
    pub secret_name: String,
    /// `security-officer` or `user`: the login the PIN opens.
    pub role: String,
    pub aead: String,
    /// 12 bytes, hex.
    pub nonce: String,
    /// The padded PIN with its 16-byte tag, hex.
    pub ciphertext: String,
}

impl CeremonySecret {
    /// Seals `pin` (which opens `role`) under this secret. The nonce is
    /// random; each secret seals at most a handful of PINs.
    pub fn seal_pin(
        &self,
        name: &SecretName,
        role: &str,
        pin: &Pin,
    ) -> Result<SealedPin, QuorumError> {
        let bytes = pin.expose().as_bytes();
        if bytes.is_empty() {
            return Err(QuorumError::EmptyPin);
        }
        if bytes.len() > MAX_SEALED_PIN_LEN {
            return Err(QuorumError::PinTooLong {
                max: MAX_SEALED_PIN_LEN,
            });
        }
        let mut padded = Zeroizing::new([0u8; PADDED_LEN]);
        padded[0] = bytes.len() as u8;
        padded[1..=bytes.len()].copy_from_slice(bytes);
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| QuorumError::OsRandom(e.to_string()))?;
        let ciphertext = self
            .sealing_cipher(name)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: padded.as_slice(),
                    aad: &associated_data(name, role),
                },
            )
            .map_err(|_| QuorumError::SealedPin("encryption failed".into()))?;
        Ok(SealedPin {
            secret_name: name.as_str().to_string(),
            role: role.to_string(),
            aead: SEAL_AEAD.into(),
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ciphertext),
        })
    }

    /// Opens a PIN sealed under this secret. Fails when the secret, the
    /// name or the role is not the one it was sealed with, or the sealed
    /// text was altered.
    pub fn unseal_pin(&self, name: &SecretName, sealed: &SealedPin) -> Result<Pin, QuorumError> {
        let refused = |why: &str| QuorumError::SealedPin(why.into());
        if sealed.aead != SEAL_AEAD {
            return Err(refused("unknown sealing algorithm"));
        }
        if sealed.secret_name != name.as_str() {
            return Err(refused("it was sealed under another secret"));
        }
        let nonce = hex::decode(&sealed.nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or_else(|| refused("its nonce is not 12 bytes of hex"))?;
        let ciphertext =
            hex::decode(&sealed.ciphertext).map_err(|_| refused("its ciphertext is not hex"))?;
        let padded = Zeroizing::new(
            self.sealing_cipher(name)
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &associated_data(name, &sealed.role),
                    },
                )
                .map_err(|_| {
                    refused("it does not open with this secret (altered, or another ceremony's)")
                })?,
        );
        if padded.len() != PADDED_LEN {
            return Err(refused("its padding is malformed"));
        }
        let len = usize::from(padded[0]);
        if len == 0 || len > MAX_SEALED_PIN_LEN {
            return Err(refused("its padding is malformed"));
        }
        let text = std::str::from_utf8(&padded[1..=len]).map_err(|_| refused("it is not text"))?;
        Ok(Pin::new(Zeroizing::new(text.to_string())))
    }

    fn sealing_cipher(&self, name: &SecretName) -> ChaCha20Poly1305 {
        let hkdf = Hkdf::<Sha256>::new(Some(DOMAIN_SEAL), self.bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        if hkdf
            .expand(name.as_str().as_bytes(), key.as_mut_slice())
            .is_err()
        {
            unreachable!("32 bytes are within HKDF-SHA256's limit");
        }
        ChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
    }
}

fn associated_data(name: &SecretName, role: &str) -> Vec<u8> {
    let mut aad = DOMAIN_SEAL.to_vec();
    for field in [name.as_str(), role] {
        aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> CeremonySecret {
        CeremonySecret::from_bytes(super::super::SecretBytes::copy_of(&[byte; 32]))
    }

    fn name(s: &str) -> SecretName {
        s.parse().expect("valid name")
    }

    fn pin(s: &str) -> Pin {
        Pin::new(Zeroizing::new(s.to_string()))
    }

    #[test]
    fn a_sealed_pin_opens_with_its_secret_name_and_role() {
        let sealed = secret(1)
            .seal_pin(
                &name("so-pin"),
                "security-officer",
                &pin("crypto-user:Vendor PIN 1"),
            )
            .expect("seals");
        let opened = secret(1)
            .unseal_pin(&name("so-pin"), &sealed)
            .expect("opens");
        assert_eq!(opened.expose(), "crypto-user:Vendor PIN 1");
        assert!(!sealed.ciphertext.contains(&hex::encode("Vendor")));
    }

    #[test]
    fn the_sealed_length_does_not_depend_on_the_pin() {
        let short = secret(1)
            .seal_pin(&name("so-pin"), "user", &pin("1"))
            .unwrap();
        let long = secret(1)
            .seal_pin(
                &name("so-pin"),
                "user",
                &pin(&"x".repeat(MAX_SEALED_PIN_LEN)),
            )
            .unwrap();
        assert_eq!(short.ciphertext.len(), long.ciphertext.len());
        assert_eq!(short.ciphertext.len(), 2 * (PADDED_LEN + 16));
    }

    #[test]
    fn another_secret_role_name_or_an_altered_byte_does_not_open_it() {
        let sealed = secret(1)
            .seal_pin(&name("so-pin"), "security-officer", &pin("123456"))
            .unwrap();
        let fails = |s: &CeremonySecret, n: &str, sealed: &SealedPin| {
            s.unseal_pin(&name(n), sealed).err().map(|e| e.to_string())
        };
        assert!(
            fails(&secret(2), "so-pin", &sealed)
                .unwrap()
                .contains("does not open")
        );
        assert!(
            fails(&secret(1), "user-pin", &sealed)
                .unwrap()
                .contains("another secret")
        );
        let as_user = SealedPin {
            role: "user".into(),
            ..sealed.clone()
        };
        assert!(
            fails(&secret(1), "so-pin", &as_user)
                .unwrap()
                .contains("does not open")
        );
        let mut altered = sealed.clone();
        let flipped = if altered.ciphertext.starts_with('0') {
            "1"
        } else {
            "0"
        };
        altered.ciphertext.replace_range(0..1, flipped);
        assert!(
            fails(&secret(1), "so-pin", &altered)
                .unwrap()
                .contains("does not open")
        );
    }

    #[test]
    fn empty_and_overlong_pins_are_refused() {
        let s = secret(1);
        assert!(matches!(
            s.seal_pin(&name("so-pin"), "user", &pin("")),
            Err(QuorumError::EmptyPin)
        ));
        assert!(matches!(
            s.seal_pin(&name("so-pin"), "user", &pin(&"x".repeat(128))),
            Err(QuorumError::PinTooLong { max: 127 })
        ));
    }
}
