//! The genesis entry: everything the rest of the transcript is bound to.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use super::entry::{is_identifier, is_person_name};
use super::error::Rule;
use crate::identity::{IdentityError, PublicIdentity};

/// Shamir policy limits of keyceremony (DESIGN: 2 <= k <= n <= 16).
const MIN_THRESHOLD: u8 = 2;
const MAX_SHARES: u8 = 16;

/// The body of the genesis entry. Unknown fields are refused at every level:
/// a verifier that ignored a field would let it say anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub ceremony_id: String,
    /// 16 random bytes, lower-case hex: two ceremonies never share a genesis hash.
    pub nonce: String,
    pub script: ScriptRef,
    /// Lower-case hex SHA-256 of the bindings file.
    pub bindings_sha256: String,
    pub tool: ToolRef,
    pub mode: Mode,
    pub roster: Vec<RosterEntry>,
    pub secrets: Vec<SecretPolicy>,
    /// Whether participants' keys were presented for each act, or kept in
    /// the laptop's memory from sign-in to the close.
    pub participant_keys: KeyCustody,
    /// Standard base64 of the 32-byte Ed25519 public key that signs every line.
    pub ceremony_key: String,
}

/// Where a participant's private key is between their acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KeyCustody {
    /// Each act (sign-in, confirmation, share, attestation, cosignature)
    /// needs its person to present their key; the tool drops it after.
    #[default]
    PerAct,
    /// Keys stay in memory from sign-in to the close: whoever holds the
    /// laptop meanwhile can sign for everyone signed in. The script must
    /// say so (`keys: held-for-session`), and verify states it.
    HeldForSession,
}

impl KeyCustody {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyCustody::PerAct => "per-act",
            KeyCustody::HeldForSession => "held-for-session",
        }
    }
}

/// The reviewed script this ceremony runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptRef {
    pub id: String,
    pub version: String,
    pub title: String,
    /// Lower-case hex SHA-256 of the script file's bytes.
    pub sha256: String,
}

/// The program that wrote the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRef {
    pub name: String,
    pub version: String,
    /// Lower-case hex SHA-256 of the running executable.
    pub binary_sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Rehearsal,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Administrator,
    Witness,
    Custodian,
    Auditor,
    Observer,
}

/// One person of the ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosterEntry {
    pub name: String,
    pub role: Role,
    /// `ssh-ed25519 AAAA...` without a comment (see [`PublicIdentity::to_openssh`]).
    pub ssh_key: String,
}

/// A ceremony secret and its k-of-n split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretPolicy {
    pub name: String,
    pub k: u8,
    pub n: u8,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rehearsal => "rehearsal",
            Mode::Production => "production",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [Mode::Rehearsal, Mode::Production]
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| UnknownName(text.to_owned()))
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Witness => "witness",
            Role::Custodian => "custodian",
            Role::Auditor => "auditor",
            Role::Observer => "observer",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            Role::Administrator,
            Role::Witness,
            Role::Custodian,
            Role::Auditor,
            Role::Observer,
        ]
        .into_iter()
        .find(|role| role.as_str() == text)
        .ok_or_else(|| UnknownName(text.to_owned()))
    }
}

/// A mode or role name that is not one of the defined ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

impl Genesis {
    /// A fresh random nonce (16 bytes from the OS, hex).
    pub fn fresh_nonce() -> String {
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        hex::encode(nonce)
    }
}

/// A genesis whose constraints hold, with its keys decoded for verification.
#[derive(Debug, Clone)]
pub(crate) struct CheckedGenesis {
    pub genesis: Genesis,
    pub ceremony_key: VerifyingKey,
    /// Roster name -> key and role.
    pub roster: BTreeMap<String, (PublicIdentity, Role)>,
}

/// Checks every constraint of docs/transcript.md on a genesis body; the error
/// says which rule it breaks and why.
pub(crate) fn check_genesis(genesis: Genesis) -> Result<CheckedGenesis, (Rule, String)> {
    let invalid = |detail: String| Err((Rule::GenesisInvalid, detail));
    if !is_identifier(&genesis.ceremony_id) {
        return invalid(format!(
            "ceremony_id {:?} must be 1 to 64 of A-Z a-z 0-9 . _ -",
            genesis.ceremony_id
        ));
    }
    if !is_lower_hex(&genesis.nonce, 16) {
        return invalid("nonce must be 32 lower-case hex digits (16 bytes)".to_owned());
    }
    for (field, digest) in [
        ("script.sha256", &genesis.script.sha256),
        ("bindings_sha256", &genesis.bindings_sha256),
        ("tool.binary_sha256", &genesis.tool.binary_sha256),
    ] {
        if !is_lower_hex(digest, 32) {
            return invalid(format!("{field} must be 64 lower-case hex digits"));
        }
    }
    for (field, text) in [
        ("script.id", &genesis.script.id),
        ("script.version", &genesis.script.version),
        ("script.title", &genesis.script.title),
        ("tool.name", &genesis.tool.name),
        ("tool.version", &genesis.tool.version),
    ] {
        if text.is_empty() || text.chars().any(char::is_control) {
            return invalid(format!(
                "{field} must be non-empty, without control characters"
            ));
        }
    }
    let ceremony_key = decode_ceremony_key(&genesis.ceremony_key)?;
    let roster = check_roster(&genesis.roster)?;
    check_secrets(&genesis.secrets)?;
    Ok(CheckedGenesis {
        genesis,
        ceremony_key,
        roster,
    })
}

pub(crate) fn decode_ceremony_key(text: &str) -> Result<VerifyingKey, (Rule, String)> {
    let invalid = || {
        (
            Rule::GenesisInvalid,
            "ceremony_key must be the padded standard base64 of a 32-byte Ed25519 public key"
                .to_owned(),
        )
    };
    let bytes: [u8; 32] = STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(invalid)?;
    if STANDARD.encode(bytes) != text {
        return Err(invalid());
    }
    match PublicIdentity::from_bytes(&bytes) {
        Ok(identity) => Ok(*identity.verifying_key()),
        Err(IdentityError::WeakKey) => Err((
            Rule::WeakRosterKey,
            "ceremony_key is a weak (small-order) key".to_owned(),
        )),
        Err(_) => Err(invalid()),
    }
}

fn check_roster(
    roster: &[RosterEntry],
) -> Result<BTreeMap<String, (PublicIdentity, Role)>, (Rule, String)> {
    let invalid = |detail: String| Err((Rule::GenesisInvalid, detail));
    if roster.is_empty() {
        return invalid("the roster is empty".to_owned());
    }
    let mut by_name = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for member in roster {
        if !is_person_name(&member.name) {
            return invalid(format!(
                "roster name {:?} must be 1 to 64 characters, no control characters or \
                 surrounding spaces, and not \"keyceremony\"",
                member.name
            ));
        }
        let identity = match PublicIdentity::from_openssh(&member.ssh_key) {
            Ok(identity) => identity,
            Err(IdentityError::WeakKey) => {
                return Err((
                    Rule::WeakRosterKey,
                    format!(
                        "roster member {:?} has a weak (small-order) key",
                        member.name
                    ),
                ));
            }
            Err(error) => return invalid(format!("roster member {:?}: {error}", member.name)),
        };
        if identity.to_openssh() != member.ssh_key {
            return invalid(format!(
                "roster member {:?}: ssh_key must be written exactly as \"ssh-ed25519 <base64>\" \
                 without a comment",
                member.name
            ));
        }
        if !keys.insert(*identity.verifying_key().as_bytes()) {
            return invalid(format!(
                "roster member {:?} has the same key as another member",
                member.name
            ));
        }
        if by_name
            .insert(member.name.clone(), (identity, member.role))
            .is_some()
        {
            return invalid(format!("roster name {:?} appears twice", member.name));
        }
    }
    Ok(by_name)
}

fn check_secrets(secrets: &[SecretPolicy]) -> Result<(), (Rule, String)> {
    let mut names = BTreeSet::new();
    for secret in secrets {
        let invalid = |detail: String| Err((Rule::GenesisInvalid, detail));
        if !is_identifier(&secret.name) {
            return invalid(format!(
                "secret name {:?} must be 1 to 64 of A-Z a-z 0-9 . _ -",
                secret.name
            ));
        }
        if !names.insert(secret.name.as_str()) {
            return invalid(format!("secret {:?} appears twice", secret.name));
        }
        if !(MIN_THRESHOLD <= secret.k && secret.k <= secret.n && secret.n <= MAX_SHARES) {
            return invalid(format!(
                "secret {:?}: {} of {} breaks {MIN_THRESHOLD} <= k <= n <= {MAX_SHARES}",
                secret.name, secret.k, secret.n
            ));
        }
    }
    Ok(())
}

fn is_lower_hex(text: &str, bytes: usize) -> bool {
    text.len() == bytes * 2 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for role in [
            "administrator",
            "witness",
            "custodian",
            "auditor",
            "observer",
        ] {
            let parsed: Role = role.parse().expect("known role");
            assert_eq!(parsed.as_str(), role);
            assert_eq!(serde_json::to_value(parsed).expect("json"), role);
        }
        for mode in ["rehearsal", "production"] {
            let parsed: Mode = mode.parse().expect("known mode");
            assert_eq!(serde_json::to_value(parsed).expect("json"), mode);
        }
        assert_eq!(
            "Witness".parse::<Role>(),
            Err(UnknownName("Witness".to_owned()))
        );
    }
}
