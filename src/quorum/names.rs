//! The public, validated facts a split is about: which secret, which
//! ceremony, which quorum.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::QuorumError;

/// The longest secret name: the name is hashed into every share code and
/// shown in every header line, so it stays short.
pub const MAX_SECRET_NAME_LEN: usize = 32;

/// The longest ceremony id, in bytes.
pub const MAX_CEREMONY_ID_LEN: usize = 100;

/// The most shares one split may have.
pub const MAX_SHARES: u8 = 16;

/// The name of a ceremony secret, such as `so-pin`: `[a-z][a-z0-9-]{0,31}`.
///
/// The name is the purpose: it is the domain string of the PIN derivation and
/// is bound into every share, so a share of one secret is never taken for a
/// share of another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = QuorumError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| QuorumError::InvalidSecretName {
            name: name.chars().take(MAX_SECRET_NAME_LEN + 8).collect(),
            reason,
        };
        let mut chars = name.chars();
        match chars.next() {
            None => return Err(invalid("it is empty")),
            Some(first) if !first.is_ascii_lowercase() => {
                return Err(invalid("it must start with a lowercase letter a-z"));
            }
            Some(_) => {}
        }
        if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(invalid(
                "it may contain only lowercase letters a-z, digits and '-'",
            ));
        }
        if name.len() > MAX_SECRET_NAME_LEN {
            return Err(invalid("it is longer than 32 characters"));
        }
        Ok(SecretName(name.to_owned()))
    }
}

impl TryFrom<String> for SecretName {
    type Error = QuorumError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        name.parse()
    }
}

impl From<SecretName> for String {
    fn from(name: SecretName) -> String {
        name.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks a ceremony id before it is bound into shares and header lines.
///
/// The id is chosen by the script, so only what the share text needs is
/// enforced: it fits on a header line and survives being written and read
/// back (no control characters, no surrounding spaces).
pub fn validate_ceremony_id(ceremony_id: &str) -> Result<(), QuorumError> {
    let reason = if ceremony_id.is_empty() {
        Some("it is empty")
    } else if ceremony_id.len() > MAX_CEREMONY_ID_LEN {
        Some("it is longer than 100 bytes")
    } else if ceremony_id.chars().any(char::is_control) {
        Some("it contains a control character (such as a newline or tab)")
    } else if ceremony_id.trim() != ceremony_id {
        Some("it starts or ends with whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(QuorumError::InvalidCeremonyId { reason }),
        None => Ok(()),
    }
}

/// How many shares a secret is split into (`n`) and how many recover it (`k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPolicy", into = "RawPolicy")]
pub struct QuorumPolicy {
    k: u8,
    n: u8,
}

impl QuorumPolicy {
    /// Accepts 2 <= k <= n <= 16.
    pub fn new(k: u8, n: u8) -> Result<QuorumPolicy, QuorumError> {
        if k < 2 {
            return Err(QuorumError::ThresholdTooLow { k });
        }
        if n > MAX_SHARES {
            return Err(QuorumError::TooManyShares { n, max: MAX_SHARES });
        }
        if k > n {
            return Err(QuorumError::ThresholdAboveShares { k, n });
        }
        Ok(QuorumPolicy { k, n })
    }

    /// The threshold: how many shares recover the secret.
    pub fn k(&self) -> u8 {
        self.k
    }

    /// How many shares exist.
    pub fn n(&self) -> u8 {
        self.n
    }
}

impl fmt::Display for QuorumPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "any {} of {}", self.k, self.n)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    k: u8,
    n: u8,
}

impl TryFrom<RawPolicy> for QuorumPolicy {
    type Error = QuorumError;

    fn try_from(raw: RawPolicy) -> Result<Self, Self::Error> {
        QuorumPolicy::new(raw.k, raw.n)
    }
}

impl From<QuorumPolicy> for RawPolicy {
    fn from(policy: QuorumPolicy) -> RawPolicy {
        RawPolicy {
            k: policy.k,
            n: policy.n,
        }
    }
}
