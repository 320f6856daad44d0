//! Participants' identities: OpenSSH ed25519 keys.
//!
//! Every participant is named in the genesis roster by an `ssh-ed25519` public
//! key, the one they already have in `~/.ssh/id_ed25519.pub`. They prove their
//! presence by signing with the matching private key. Only Ed25519 is
//! accepted: one algorithm, no parameters to get wrong, and deterministic
//! signatures that need no good randomness on an air-gapped laptop.
//!
//! Signatures are checked with `verify_strict` only, which also refuses
//! small-order keys and non-canonical signatures; keys of small order are
//! refused outright when parsed, because a signature by such a key proves
//! nothing about who made it.

pub mod agent;

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;
use ssh_key::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

/// The SSH algorithm name of the only key type keyceremony accepts.
const ED25519_ALGORITHM: &str = "ssh-ed25519";

/// Why a key could not be used as a participant identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The text is not an OpenSSH key at all.
    #[error("not a valid OpenSSH key: {0}")]
    Parse(#[from] ssh_key::Error),
    /// An RSA, ECDSA, certificate or other non-Ed25519 key.
    #[error("unsupported key type {found:?}: only ssh-ed25519 keys can be participant identities")]
    UnsupportedKeyType { found: String },
    /// A small-order Ed25519 public key: anyone can make "valid" signatures for it.
    #[error("weak (small-order) Ed25519 key refused: signatures by it prove nothing")]
    WeakKey,
    /// 32 bytes that are not a point on the curve.
    #[error("the Ed25519 public key is not a valid curve point")]
    InvalidPoint,
    /// The private key file is protected by a passphrase.
    #[error(
        "the private key is encrypted with a passphrase: ask its owner for the passphrase \
         and load it with SigningIdentity::load_with_passphrase"
    )]
    Encrypted,
    /// Decryption with the given passphrase failed.
    #[error("could not decrypt the private key (wrong passphrase?): {0}")]
    Decrypt(ssh_key::Error),
    /// The public key stored in the private key file does not belong to its secret half.
    #[error("the private key file is inconsistent: its public key does not match the secret key")]
    Inconsistent,
    /// The key file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A signature did not verify under this identity's key.
    #[error("signature does not verify")]
    BadSignature,
    /// No OpenSSH agent to ask: SSH_AUTH_SOCK is not set.
    #[error(
        "no SSH agent: SSH_AUTH_SOCK is not set (start ssh-agent and ssh-add your key, or give your key file)"
    )]
    NoAgent,
    /// The agent runs but does not hold this person's roster key.
    #[error(
        "the SSH agent does not hold the roster key {fingerprint}: add it with ssh-add, or give the key file"
    )]
    NotInAgent { fingerprint: String },
    /// The agent failed, refused, or answered something that is not a valid signature.
    #[error("SSH agent: {0}")]
    Agent(String),
}

/// A participant's public key, as named in the genesis roster.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicIdentity {
    key: VerifyingKey,
}

impl PublicIdentity {
    /// Parses one line of an OpenSSH `.pub` file: `ssh-ed25519 AAAA... [comment]`.
    /// The comment is dropped: it is not part of the identity.
    pub fn from_openssh(line: &str) -> Result<Self, IdentityError> {
        let public = PublicKey::from_openssh(line.trim())?;
        Self::from_key_data(public.key_data())
    }

    /// The raw 32-byte key, refusing small-order keys.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, IdentityError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| IdentityError::InvalidPoint)?;
        if key.is_weak() {
            return Err(IdentityError::WeakKey);
        }
        Ok(PublicIdentity { key })
    }

    fn from_key_data(key_data: &KeyData) -> Result<Self, IdentityError> {
        match key_data {
            KeyData::Ed25519(public) => Self::from_bytes(&public.0),
            other => Err(IdentityError::UnsupportedKeyType {
                found: other.algorithm().as_str().to_owned(),
            }),
        }
    }

    /// `ssh-ed25519 AAAA...` without a comment: the one spelling the roster uses,
    /// so that a key cannot appear in two forms.
    pub fn to_openssh(&self) -> String {
        format!("{ED25519_ALGORITHM} {}", STANDARD.encode(self.wire_blob()))
    }

    /// `SHA256:...` exactly as `ssh-keygen -lf` prints it, for people to compare.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.wire_blob());
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Checks `signature` over `message` with `verify_strict` (no weak keys, no
    /// malleable signatures).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), IdentityError> {
        self.key
            .verify_strict(message, signature)
            .map_err(|_| IdentityError::BadSignature)
    }

    /// The SSH wire encoding `string "ssh-ed25519" || string key`, which both the
    /// `.pub` text and the fingerprint are computed from.
    pub(crate) fn wire_blob(&self) -> Vec<u8> {
        let mut blob = Vec::with_capacity(4 + ED25519_ALGORITHM.len() + 4 + 32);
        for field in [ED25519_ALGORITHM.as_bytes(), self.key.as_bytes()] {
            let length = u32::try_from(field.len()).unwrap_or(u32::MAX);
            blob.extend_from_slice(&length.to_be_bytes());
            blob.extend_from_slice(field);
        }
        blob
    }
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PublicIdentity")
            .field(&self.fingerprint())
            .finish()
    }
}

/// A participant's private key, loaded to sign in or confirm a step.
///
/// No Debug: the secret half must not reach a log. `SigningKey` zeroizes itself
/// on drop (ed25519-dalek's `zeroize` feature).
pub struct SigningIdentity {
    secret: SigningKey,
    public: PublicIdentity,
}

impl SigningIdentity {
    /// Loads an unencrypted OpenSSH private key file (`~/.ssh/id_ed25519`).
    /// An encrypted one yields [`IdentityError::Encrypted`]; use
    /// [`SigningIdentity::load_with_passphrase`] for it.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        Self::from_openssh_private(&read_key_file(path)?)
    }

    /// Loads a passphrase-protected OpenSSH private key file. An unencrypted file
    /// is accepted too: the passphrase is then unused.
    pub fn load_with_passphrase(
        path: &Path,
        passphrase: &SecretString,
    ) -> Result<Self, IdentityError> {
        Self::from_openssh_private_with_passphrase(&read_key_file(path)?, passphrase)
    }

    /// Parses the text of an unencrypted OpenSSH private key
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    pub fn from_openssh_private(text: &str) -> Result<Self, IdentityError> {
        let private = PrivateKey::from_openssh(text)?;
        if private.is_encrypted() {
            return Err(IdentityError::Encrypted);
        }
        Self::from_private_key(&private)
    }

    /// Parses and decrypts the text of an OpenSSH private key.
    pub fn from_openssh_private_with_passphrase(
        text: &str,
        passphrase: &SecretString,
    ) -> Result<Self, IdentityError> {
        let private = PrivateKey::from_openssh(text)?;
        if !private.is_encrypted() {
            return Self::from_private_key(&private);
        }
        let decrypted = private
            .decrypt(passphrase.expose_secret().as_bytes())
            .map_err(IdentityError::Decrypt)?;
        Self::from_private_key(&decrypted)
    }

    fn from_private_key(private: &PrivateKey) -> Result<Self, IdentityError> {
        let keypair = match private.key_data() {
            KeypairData::Ed25519(keypair) => keypair,
            other => {
                return Err(IdentityError::UnsupportedKeyType {
                    found: other
                        .algorithm()
                        .map(|algorithm| algorithm.as_str().to_owned())
                        .unwrap_or_else(|_| "unknown".to_owned()),
                });
            }
        };
        let seed = Zeroizing::new(keypair.private.to_bytes());
        let secret = SigningKey::from_bytes(&seed);
        let public = PublicIdentity::from_bytes(&keypair.public.0)?;
        // The file carries the public key twice; trust neither copy blindly.
        if secret.verifying_key() != public.key {
            return Err(IdentityError::Inconsistent);
        }
        Ok(SigningIdentity { secret, public })
    }

    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// A raw Ed25519 signature over `message` (no SSH signature envelope).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.secret.sign(message)
    }
}

/// A person's key for one act: read from their key file (and dropped, so
/// zeroized, with this value), or held by their SSH agent.
pub enum ActKey {
    File(SigningIdentity),
    Agent(agent::AgentKey),
}

impl ActKey {
    pub fn public(&self) -> &PublicIdentity {
        match self {
            ActKey::File(identity) => identity.public(),
            ActKey::Agent(key) => key.public(),
        }
    }

    pub fn sign(&self, message: &[u8]) -> Result<Signature, IdentityError> {
        match self {
            ActKey::File(identity) => Ok(identity.sign(message)),
            ActKey::Agent(key) => key.sign(message),
        }
    }
}

fn read_key_file(path: &Path) -> Result<Zeroizing<String>, IdentityError> {
    crate::input::read_capped_text(path, crate::input::MAX_SMALL_FILE_BYTES)
        .map(Zeroizing::new)
        .map_err(|source| IdentityError::Io {
            path: path.display().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    #[test]
    fn openssh_round_trip_drops_the_comment() {
        let key = SigningKey::from_bytes(&SEED).verifying_key();
        let identity = PublicIdentity::from_bytes(key.as_bytes()).expect("valid key");
        let line = format!("{} alice@laptop\n", identity.to_openssh());
        let parsed = PublicIdentity::from_openssh(&line).expect("parses");
        assert_eq!(parsed, identity);
        assert!(!parsed.to_openssh().contains("alice"));
        assert!(
            parsed
                .to_openssh()
                .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")
        );
    }

    #[test]
    fn the_identity_point_is_refused_as_weak() {
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert!(matches!(
            PublicIdentity::from_bytes(&identity_point),
            Err(IdentityError::WeakKey)
        ));
    }
}
