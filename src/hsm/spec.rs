//! What a ceremony script asks for: an algorithm, a usage and a backup
//! policy.
//!
//! The usage decides which PKCS#11 usage flags are true; every other flag is
//! set false explicitly, because SoftHSM2 turns unspecified flags on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::HsmError;

/// A key to generate, as written in a ceremony script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KeySpec {
    pub algorithm: KeyAlgorithm,
    pub usage: KeyUsage,
    /// Absent in a script means `none`: the key never leaves the HSM.
    #[serde(default)]
    pub backup: Backup,
}

/// Whether a key may ever leave the HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backup {
    /// CKA_EXTRACTABLE=false: the key dies with the HSM.
    #[default]
    None,
    /// CKA_EXTRACTABLE=true with CKA_WRAP_WITH_TRUSTED=true: the key leaves
    /// the HSM only wrapped under a key the security officer marked trusted.
    /// This trades non-extractability for recoverability.
    Wrapped,
}

/// The key algorithms the tool generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "ec-p256")]
    EcP256,
    #[serde(rename = "ec-p384")]
    EcP384,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    #[serde(rename = "aes-256")]
    Aes256,
}

/// What the key is for. It decides the usage flags set true; all others are
/// false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyUsage {
    /// Private key: CKA_SIGN; public key: CKA_VERIFY.
    Sign,
    /// Secret key: CKA_ENCRYPT + CKA_DECRYPT; RSA private key: CKA_DECRYPT,
    /// public key: CKA_ENCRYPT.
    Encrypt,
}

impl KeyAlgorithm {
    pub const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::EcP256,
        KeyAlgorithm::EcP384,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::Aes256,
    ];

    /// The name used in scripts, the transcript and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcP256 => "ec-p256",
            KeyAlgorithm::EcP384 => "ec-p384",
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa3072 => "rsa-3072",
            KeyAlgorithm::Rsa4096 => "rsa-4096",
            KeyAlgorithm::Aes256 => "aes-256",
        }
    }

    /// True for algorithms with a public half (everything but AES).
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, KeyAlgorithm::Aes256)
    }

    /// The usages this algorithm supports in this tool.
    pub fn supports(self, usage: KeyUsage) -> bool {
        match (self, usage) {
            (KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 | KeyAlgorithm::Ed25519, usage) => {
                usage == KeyUsage::Sign
            }
            (KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096, _) => true,
            (KeyAlgorithm::Aes256, usage) => usage == KeyUsage::Encrypt,
        }
    }

    /// RSA modulus size in bits.
    pub(crate) fn rsa_bits(self) -> Option<u64> {
        match self {
            KeyAlgorithm::Rsa3072 => Some(3072),
            KeyAlgorithm::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// The curve's name as [`super::der::curve_name`] reports it.
    pub(crate) fn curve(self) -> Option<&'static str> {
        match self {
            KeyAlgorithm::EcP256 => Some("P-256"),
            KeyAlgorithm::EcP384 => Some("P-384"),
            KeyAlgorithm::Ed25519 => Some("Ed25519"),
            _ => None,
        }
    }

    /// The PKCS#11 key type name (CKK_*).
    pub(crate) fn key_type_name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => "CKK_EC",
            KeyAlgorithm::Ed25519 => "CKK_EC_EDWARDS",
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => "CKK_RSA",
            KeyAlgorithm::Aes256 => "CKK_AES",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = HsmError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = KeyAlgorithm::ALL.iter().map(|a| a.name()).collect();
                HsmError::InvalidInput(format!(
                    "unknown key algorithm {text:?}; known: {}",
                    known.join(", ")
                ))
            })
    }
}

impl Backup {
    /// The name used in scripts and the transcript.
    pub fn name(self) -> &'static str {
        match self {
            Backup::None => "none",
            Backup::Wrapped => "wrapped",
        }
    }
}

impl fmt::Display for Backup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl KeyUsage {
    pub fn name(self) -> &'static str {
        match self {
            KeyUsage::Sign => "sign",
            KeyUsage::Encrypt => "encrypt",
        }
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyUsage {
    type Err = HsmError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "sign" => Ok(KeyUsage::Sign),
            "encrypt" => Ok(KeyUsage::Encrypt),
            _ => Err(HsmError::InvalidInput(format!(
                "unknown key usage {text:?}; known: sign, encrypt"
            ))),
        }
    }
}

impl KeySpec {
    /// A spec without backup ([`Backup::None`]).
    pub fn new(algorithm: KeyAlgorithm, usage: KeyUsage) -> Self {
        KeySpec {
            algorithm,
            usage,
            backup: Backup::None,
        }
    }

    pub fn with_backup(self, backup: Backup) -> KeySpec {
        KeySpec { backup, ..self }
    }

    /// Refuses combinations the tool does not generate (an EC encryption
    /// key, an AES signing key).
    pub fn validate(&self) -> Result<(), HsmError> {
        if self.algorithm.supports(self.usage) {
            Ok(())
        } else {
            Err(HsmError::UnsupportedSpec {
                spec: self.to_string(),
                reason: format!("{} keys cannot be used to {}", self.algorithm, self.usage),
            })
        }
    }

    /// The usage flags of the private (or secret) key.
    pub fn private_usage(&self) -> UsageFlags {
        let mut flags = UsageFlags::default();
        match (self.usage, self.algorithm.is_asymmetric()) {
            (KeyUsage::Sign, _) => flags.sign = true,
            (KeyUsage::Encrypt, true) => flags.decrypt = true,
            (KeyUsage::Encrypt, false) => {
                flags.encrypt = true;
                flags.decrypt = true;
            }
        }
        flags
    }

    /// The usage flags of the public key.
    pub fn public_usage(&self) -> UsageFlags {
        let mut flags = UsageFlags::default();
        match self.usage {
            KeyUsage::Sign => flags.verify = true,
            KeyUsage::Encrypt => flags.encrypt = true,
        }
        flags
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} key", self.algorithm, self.usage)?;
        if self.backup == Backup::Wrapped {
            f.write_str(" with wrapped backup")?;
        }
        Ok(())
    }
}

/// The nine PKCS#11 usage flags, all false unless the usage needs them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageFlags {
    pub encrypt: bool,
    pub decrypt: bool,
    pub sign: bool,
    pub sign_recover: bool,
    pub verify: bool,
    pub verify_recover: bool,
    pub wrap: bool,
    pub unwrap: bool,
    pub derive: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip_through_text_and_serde() {
        for algorithm in KeyAlgorithm::ALL {
            assert_eq!(
                algorithm.name().parse::<KeyAlgorithm>().ok(),
                Some(algorithm)
            );
            let yaml = serde_yaml::to_string(&algorithm).expect("serialize");
            assert_eq!(yaml.trim(), algorithm.name());
        }
        assert!("rsa3072".parse::<KeyAlgorithm>().is_err());
    }

    #[test]
    fn spec_reads_from_kebab_case_yaml_and_refuses_unknown_fields() {
        let spec: KeySpec =
            serde_yaml::from_str("algorithm: ec-p384\nusage: sign\n").expect("parse");
        assert_eq!(spec, KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign));
        assert!(
            serde_yaml::from_str::<KeySpec>("algorithm: ec-p384\nusage: sign\nx: 1\n").is_err()
        );
    }

    #[test]
    fn backup_reads_from_yaml_and_defaults_to_none() {
        let spec: KeySpec =
            serde_yaml::from_str("algorithm: ed25519\nusage: sign\nbackup: wrapped\n")
                .expect("parse");
        assert_eq!(
            spec,
            KeySpec::new(KeyAlgorithm::Ed25519, KeyUsage::Sign).with_backup(Backup::Wrapped)
        );
        assert_eq!(spec.to_string(), "ed25519 sign key with wrapped backup");
        let plain: KeySpec =
            serde_yaml::from_str("algorithm: ed25519\nusage: sign\n").expect("parse");
        assert_eq!(plain.backup, Backup::None);
        assert_eq!(plain.to_string(), "ed25519 sign key");
        assert!(
            serde_yaml::from_str::<KeySpec>("algorithm: ed25519\nusage: sign\nbackup: yes\n")
                .is_err()
        );
        assert_eq!(Backup::Wrapped.to_string(), "wrapped");
        assert_eq!(Backup::None.to_string(), "none");
        assert_eq!(
            serde_yaml::to_string(&Backup::Wrapped)
                .expect("yaml")
                .trim(),
            "wrapped"
        );
    }

    #[test]
    fn usage_decides_the_true_flags() {
        let sign = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
        assert_eq!(
            sign.private_usage(),
            UsageFlags {
                sign: true,
                ..UsageFlags::default()
            }
        );
        let aes = KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt);
        assert!(aes.private_usage().encrypt && aes.private_usage().decrypt);
        assert!(!aes.private_usage().wrap && !aes.private_usage().unwrap);
        let rsa = KeySpec::new(KeyAlgorithm::Rsa3072, KeyUsage::Encrypt);
        assert!(rsa.private_usage().decrypt && !rsa.private_usage().encrypt);
        assert!(rsa.public_usage().encrypt && !rsa.public_usage().verify);
    }

    #[test]
    fn unsupported_combinations_are_refused() {
        let error = KeySpec::new(KeyAlgorithm::EcP256, KeyUsage::Encrypt)
            .validate()
            .expect_err("EC encryption is not offered");
        assert!(
            error
                .to_string()
                .contains("ec-p256 keys cannot be used to encrypt")
        );
        assert!(
            KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Sign)
                .validate()
                .is_err()
        );
        assert!(
            KeySpec::new(KeyAlgorithm::Rsa4096, KeyUsage::Encrypt)
                .validate()
                .is_ok()
        );
    }
}
