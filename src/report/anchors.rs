//! Trust anchors: what ties a transcript's roster to real people.
//!
//! A transcript proves that the keys of its own roster signed it, nothing
//! more: someone who re-signs a whole made-up ceremony with fresh keys
//! under the same names makes a transcript that verifies. The auditor
//! closes that gap with keys they trust from elsewhere: the reviewed
//! bindings (`--bindings`: their hash is in the genesis, and every roster
//! key must be the one they name), or a list of keys they brought
//! (`--roster`, in authorized_keys form).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::identity::PublicIdentity;
use crate::script::{Bindings, Loaded, load_yaml};
use crate::transcript::{Genesis, Rule, Violation};

/// An anchor that was checked, for the verdict to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    Bindings { path: PathBuf, sha256: String },
    Roster { path: PathBuf },
}

/// Why an anchor could not be read (exit 2), as opposed to not matching.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Bindings(#[from] crate::script::ScriptError),
    #[error("{}:{line}: {detail}", path.display())]
    Roster {
        path: PathBuf,
        line: usize,
        detail: String,
    },
}

fn mismatch(rule: Rule, detail: String) -> Violation {
    // The genesis holds the roster: line 1 is what the anchor contradicts.
    Violation::new(1, rule, detail)
}

/// The bindings file is the one the genesis binds (same SHA-256), and the
/// roster's people and keys are the ones it names.
pub fn check_bindings(path: &Path, genesis: &Genesis) -> Result<Option<Violation>, AnchorError> {
    let bytes = std::fs::read(path).map_err(|source| AnchorError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let bindings: Loaded<Bindings> = load_yaml(path)?;
    for person in &genesis.roster {
        let named = bindings.value.roster.iter().find(|p| p.name == person.name);
        let Some(named) = named else {
            return Ok(Some(mismatch(
                Rule::BindingsMismatch,
                format!(
                    "the transcript's roster names {}, whom {} does not",
                    person.name,
                    path.display()
                ),
            )));
        };
        let theirs = PublicIdentity::from_openssh(&named.ssh_key).ok();
        let ours = PublicIdentity::from_openssh(&person.ssh_key).ok();
        if theirs.is_none() || theirs != ours {
            return Ok(Some(mismatch(
                Rule::BindingsMismatch,
                format!(
                    "{}'s key in the transcript is {}, but {} gives {}: the roster was not signed by these people's keys",
                    person.name,
                    ours.map(|k| k.fingerprint()).unwrap_or_default(),
                    path.display(),
                    theirs
                        .map(|k| k.fingerprint())
                        .unwrap_or_else(|| "an unreadable key".into())
                ),
            )));
        }
    }
    if sha256 != genesis.bindings_sha256 {
        return Ok(Some(mismatch(
            Rule::BindingsMismatch,
            format!(
                "{} has SHA-256 {sha256}, but the genesis binds bindings {}",
                path.display(),
                genesis.bindings_sha256
            ),
        )));
    }
    Ok(None)
}

/// Every roster key is in the auditor's list (authorized_keys lines:
/// `ssh-ed25519 AAAA... [comment]`; blank lines and `#` comments ignored).
/// Where a line's comment is a roster name, the key must be that person's.
pub fn check_roster(path: &Path, genesis: &Genesis) -> Result<Option<Violation>, AnchorError> {
    let text = crate::input::read_capped_text(path, crate::input::MAX_SMALL_FILE_BYTES).map_err(
        |source| AnchorError::Read {
            path: path.to_path_buf(),
            source,
        },
    )?;
    let mut known = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = PublicIdentity::from_openssh(line).map_err(|e| AnchorError::Roster {
            path: path.to_path_buf(),
            line: number + 1,
            detail: e.to_string(),
        })?;
        let comment = line.splitn(3, ' ').nth(2).unwrap_or("").trim().to_string();
        known.push((identity, comment));
    }
    for person in &genesis.roster {
        let Ok(key) = PublicIdentity::from_openssh(&person.ssh_key) else {
            continue;
        };
        if let Some((other, _)) = known
            .iter()
            .find(|(k, comment)| *comment == person.name && *k != key)
        {
            return Ok(Some(mismatch(
                Rule::RosterMismatch,
                format!(
                    "{}'s key in the transcript is {}, but {} lists {} for {}",
                    person.name,
                    key.fingerprint(),
                    path.display(),
                    other.fingerprint(),
                    person.name
                ),
            )));
        }
        if !known.iter().any(|(k, _)| *k == key) {
            return Ok(Some(mismatch(
                Rule::RosterMismatch,
                format!(
                    "{}'s key {} is not in {}: the auditor's list does not vouch for it",
                    person.name,
                    key.fingerprint(),
                    path.display()
                ),
            )));
        }
    }
    Ok(None)
}
