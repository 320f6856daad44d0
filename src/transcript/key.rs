//! The ceremony key: signs every line of one transcript, then disappears.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::rngs::OsRng;

/// An Ed25519 key generated for one ceremony. It lives only in memory: never
/// written, never printed (no Debug), zeroized on drop (ed25519-dalek's
/// `zeroize` feature). Its public half is in the genesis.
///
/// It proves the lines were written by the process that wrote the genesis; it
/// cannot by itself prove the tail was not cut and re-signed while the key
/// existed, which is why the close is later cosigned by witnesses.
pub struct CeremonyKey {
    signing: SigningKey,
}

impl CeremonyKey {
    /// A fresh key from the operating system's random generator.
    pub fn generate() -> Self {
        CeremonyKey {
            signing: SigningKey::generate(&mut OsRng),
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Standard base64 of the public key, as the genesis `ceremony_key` holds it.
    pub fn public_base64(&self) -> String {
        STANDARD.encode(self.signing.verifying_key().as_bytes())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }
}
