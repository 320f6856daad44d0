//! The final checkpoint: a C2SP tlog-checkpoint (origin, tree size, RFC 6962
//! root over the lines) in a C2SP signed note, signed by the ceremony key
//! and cosigned by the internal witness and the auditor with their roster
//! keys. Witnesses take it away; whoever later holds a transcript can prove
//! it is the one they signed, to the last line.
//!
//! Key names (docs/transcript.md section 8):
//! - the ceremony key signs as the origin, `keyceremony/<ceremony-id>`;
//! - a cosigner signs as `keyceremony/<ceremony-id>/<role>/<name>`, the
//!   roster name percent-encoded where the spec forbids a character.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;

use super::error::{Rule, Violation};
use super::genesis::{Genesis, Role};
use super::note::{Note, NoteError, NoteKey};
use crate::identity::PublicIdentity;

/// The body of a checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    /// The number of lines, the close included.
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// `"<origin>\n<size>\n<base64 root>\n"`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses a note text as a checkpoint body. Extension lines (allowed by
    /// tlog-checkpoint) are refused: this tool never writes any, and a
    /// signed line nobody reads is a line that can say anything.
    pub fn parse_body(text: &str) -> Result<Checkpoint, String> {
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .unwrap_or(text)
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(format!(
                "the checkpoint has {} lines, not the three of origin, size and root",
                lines.len()
            ));
        };
        let size_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size.len() == 1 || !size.starts_with('0'));
        let size = size_ok
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| format!("tree size {size:?} is not a decimal number"))?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .filter(|bytes| STANDARD.encode(bytes) == *root)
            .ok_or_else(|| format!("root {root:?} is not the base64 of 32 bytes"))?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
        })
    }
}

/// The origin line, and the ceremony key's name.
pub fn origin(ceremony_id: &str) -> String {
    format!("keyceremony/{ceremony_id}")
}

/// The key name a roster member cosigns under.
pub fn cosigner_key_name(ceremony_id: &str, role: Role, name: &str) -> String {
    let mut encoded = String::new();
    for c in name.chars() {
        if c.is_whitespace() || c == '+' || c == '%' || c == '/' {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        } else {
            encoded.push(c);
        }
    }
    format!("{}/{}/{encoded}", origin(ceremony_id), role.as_str())
}

/// Roles whose members cosign the checkpoint.
pub fn is_cosigner_role(role: Role) -> bool {
    matches!(role, Role::Witness | Role::Auditor)
}

/// A known checkpoint key: who it belongs to, and its note key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointKey {
    /// None for the ceremony key, else the roster name.
    pub participant: Option<String>,
    pub key: NoteKey,
}

/// The keys a verifier knows for a ceremony's checkpoint: the ceremony key
/// that signed the last line, then every witness and auditor of the roster.
pub fn checkpoint_keys(
    genesis: &Genesis,
    ceremony_key: &VerifyingKey,
) -> Result<Vec<CheckpointKey>, String> {
    let mut keys = vec![CheckpointKey {
        participant: None,
        key: NoteKey::new(origin(&genesis.ceremony_id), *ceremony_key)
            .map_err(|e| e.to_string())?,
    }];
    for person in genesis.roster.iter().filter(|p| is_cosigner_role(p.role)) {
        let identity = PublicIdentity::from_openssh(&person.ssh_key)
            .map_err(|e| format!("{}: {e}", person.name))?;
        let name = cosigner_key_name(&genesis.ceremony_id, person.role, &person.name);
        keys.push(CheckpointKey {
            participant: Some(person.name.clone()),
            key: NoteKey::new(name, *identity.verifying_key()).map_err(|e| e.to_string())?,
        });
    }
    Ok(keys)
}

/// What a checkpoint that passed proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedCheckpoint {
    pub checkpoint: Checkpoint,
    /// Roster names of the witnesses and auditors who cosigned.
    pub cosigned_by: Vec<String>,
    /// Witnesses and auditors who did not cosign, and were not required to
    /// (they never signed in).
    pub not_cosigned: Vec<String>,
    /// Signatures ignored: unknown key names, or a known name with a key id
    /// that is not its key's.
    pub ignored: Vec<String>,
}

/// What a checkpoint is checked against, from the verified transcript.
pub struct CheckpointExpectation<'a> {
    pub genesis: &'a Genesis,
    /// The key that signed the last line (the genesis key, or a resume key).
    pub ceremony_key: &'a VerifyingKey,
    /// The number of lines verified.
    pub lines: u64,
    /// RFC 6962 root over those lines.
    pub root: [u8; 32],
    /// Witnesses and auditors who signed in at any point: their
    /// cosignature is required.
    pub required_cosigners: &'a [String],
}

/// Checks a checkpoint note against the transcript. Failures are violations
/// at the transcript's last line (the one the checkpoint vouches for).
pub fn verify_checkpoint(
    note_bytes: &[u8],
    expect: &CheckpointExpectation<'_>,
) -> Result<CheckedCheckpoint, Violation> {
    let line = expect.lines.max(1);
    let fail = |rule, detail: String| Violation::new(line, rule, format!("checkpoint: {detail}"));
    let note =
        Note::parse(note_bytes).map_err(|e| fail(Rule::CheckpointMalformed, e.to_string()))?;
    let checkpoint =
        Checkpoint::parse_body(&note.text).map_err(|e| fail(Rule::CheckpointMalformed, e))?;
    let keys = checkpoint_keys(expect.genesis, expect.ceremony_key)
        .map_err(|e| fail(Rule::CheckpointMalformed, e))?;
    let note_keys: Vec<NoteKey> = keys.iter().map(|k| k.key.clone()).collect();
    let signed = note.verify(&note_keys).map_err(|e| match e {
        NoteError::BadSignature { name } => fail(
            Rule::CheckpointSignature,
            format!("the signature by known key {name} does not verify"),
        ),
        other => fail(Rule::CheckpointMalformed, other.to_string()),
    })?;
    let ignored = note
        .signatures
        .iter()
        .filter(|s| {
            !note_keys
                .iter()
                .any(|k| k.name == s.name && k.key_id() == s.key_id)
        })
        .map(|s| {
            if note_keys.iter().any(|k| k.name == s.name) {
                format!(
                    "{} (key id {} is not that key's)",
                    s.name,
                    hex::encode(s.key_id)
                )
            } else {
                format!("{} (unknown key)", s.name)
            }
        })
        .collect();
    let expected_origin = origin(&expect.genesis.ceremony_id);
    if checkpoint.origin != expected_origin {
        return Err(fail(
            Rule::CheckpointOrigin,
            format!(
                "origin {:?} is not this ceremony's {expected_origin:?}",
                checkpoint.origin
            ),
        ));
    }
    if !signed.contains(&expected_origin) {
        return Err(fail(
            Rule::CheckpointUnsigned,
            format!("no valid signature by the ceremony key ({expected_origin})"),
        ));
    }
    let cosigned_by: Vec<String> = keys
        .iter()
        .filter(|k| signed.contains(&k.key.name))
        .filter_map(|k| k.participant.clone())
        .collect();
    if let Some(missing) = expect
        .required_cosigners
        .iter()
        .find(|name| !cosigned_by.contains(name))
    {
        return Err(fail(
            Rule::CheckpointUnsigned,
            format!("{missing} signed in during the ceremony but did not cosign"),
        ));
    }
    if checkpoint.size != expect.lines {
        return Err(fail(
            Rule::CheckpointSize,
            format!(
                "tree size {} but the transcript has {} lines",
                checkpoint.size, expect.lines
            ),
        ));
    }
    if checkpoint.root != expect.root {
        return Err(fail(
            Rule::CheckpointRoot,
            format!(
                "root {} is not the Merkle root of the lines ({})",
                STANDARD.encode(checkpoint.root),
                STANDARD.encode(expect.root)
            ),
        ));
    }
    let not_cosigned = keys
        .iter()
        .filter_map(|k| k.participant.clone())
        .filter(|name| !cosigned_by.contains(name))
        .collect();
    Ok(CheckedCheckpoint {
        checkpoint,
        cosigned_by,
        not_cosigned,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_refuses_other_spellings() {
        let checkpoint = Checkpoint {
            origin: "keyceremony/kc-1".into(),
            size: 50,
            root: [9; 32],
        };
        assert_eq!(
            Checkpoint::parse_body(&checkpoint.body()),
            Ok(checkpoint.clone())
        );
        let body = checkpoint.body();
        for bad in [
            body.replace("\n50\n", "\n050\n"),
            body.replace("\n50\n", "\n+50\n"),
            format!("{body}extension\n"),
            body.replace("CQk=\n", "CQl=\n"),
        ] {
            assert!(Checkpoint::parse_body(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cosigner_names_are_valid_key_names() {
        let name = cosigner_key_name("kc-1", Role::Witness, "Wim de Wit+1/2%");
        assert_eq!(name, "keyceremony/kc-1/witness/Wim%20de%20Wit%2B1%2F2%25");
        assert!(super::super::note::is_key_name(&name));
    }
}
