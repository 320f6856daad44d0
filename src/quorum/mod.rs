//! Ceremony secrets and their custodians' shares.
//!
//! A ceremony secret is 256 random bits per purpose (SO PIN, user PIN, ...);
//! PINs are derived from it, never split themselves. The secret is split k of
//! n with Shamir's scheme (blahaj over GF(256)); each share travels as a
//! self-describing, checksummed text (docs/shares.md) that a person can copy
//! by hand and read aloud, or as an age file sealed to the custodian's SSH key.
//!
//! At split time the transcript records a [`SplitRecord`]: one commitment per
//! share and a check value of the secret. When shares come back, [`combine`]
//! refuses anything that does not belong to that split, naming the share and
//! the custodian, before any arithmetic, and confirms the result against the
//! check value before a PIN can be derived. That ordering matters: a real
//! HSM locks or zeroizes after a few wrong SO logins.

mod ceremony_secret;
mod codec;
mod combine;
pub mod delivery;
mod error;
mod names;
mod sealed_pin;
mod secret_bytes;
mod share;
mod split;

pub use ceremony_secret::{
    CeremonySecret, MIN_HSM_RANDOM_LEN, MIN_STRONG_PIN_LEN, PIN_ALPHABET, PREFERRED_PIN_LEN,
    SECRET_LEN, pin_length,
};
pub use codec::{CHARSET, CODE_LEN, FORMAT_VERSION, HRP, TypingStatus, typing_status};
pub use combine::{Presented, check_one, combine};
pub use error::{CombineError, QuorumError, ShareError, ShareRef};
pub use names::{
    MAX_CEREMONY_ID_LEN, MAX_SECRET_NAME_LEN, MAX_SHARES, QuorumPolicy, SecretName,
    validate_ceremony_id,
};
pub use sealed_pin::{MAX_SEALED_PIN_LEN, SealedPin};
use secret_bytes::SecretBytes;
pub use share::{Share, ShareMetadata, TEXT_MAGIC};
pub use split::{SplitRecord, split};

/// Feeds a variable-length field into a hash unambiguously: its length as a
/// 4-byte big-endian integer, then its bytes.
fn hash_field(hasher: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    // Fields here are at most a few hundred bytes.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}
