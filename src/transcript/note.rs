//! C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys: the
//! envelope of the checkpoint, so that witnesses can carry it away and any
//! implementation of the spec can check it.
//!
//! A note is a text ending in a newline, a blank line, then signature lines
//! `"— <key name> <base64(key id || signature)>\n"`. The signature covers the
//! text, its final newline included. Verification follows the spec: unknown
//! keys are ignored, a known key whose signature fails rejects the note, and
//! a key that signs twice counts once.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in key ids.
const ED25519_TYPE: u8 = 0x01;

/// Start of every signature line: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Notes longer than this are refused before parsing (the Go reference
/// implementation caps signatures at 100; a checkpoint is a few hundred bytes).
const MAX_NOTE_BYTES: usize = 64 * 1024;
const MAX_SIGNATURES: usize = 100;

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("not a signed note: {0}")]
    Malformed(String),
    #[error("the signature by known key {name:?} does not verify: the note is rejected")]
    BadSignature { name: String },
    #[error("key name {0:?} is empty or holds a space or a '+'")]
    BadKeyName(String),
}

/// A key name and its Ed25519 public key, as a verifier knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteKey {
    pub name: String,
    pub key: VerifyingKey,
}

impl NoteKey {
    pub fn new(name: impl Into<String>, key: VerifyingKey) -> Result<Self, NoteError> {
        let name = name.into();
        if !is_key_name(&name) {
            return Err(NoteError::BadKeyName(name));
        }
        Ok(NoteKey { name, key })
    }

    /// SHA-256(name || 0x0A || 0x01 || public key)[:4].
    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key)
    }
}

/// The C2SP key id of an Ed25519 key under `name`.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Key names: non-empty, no Unicode white space, no '+'.
pub fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// One signature line: the key name, the key id and the raw signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Signs `text` (which must be a valid note text) as `name`.
    pub fn ed25519(name: &str, key: &VerifyingKey, signature: &Signature) -> Self {
        NoteSignature {
            name: name.to_owned(),
            key_id: key_id(name, key),
            signature: signature.to_bytes().to_vec(),
        }
    }

    fn line(&self) -> String {
        let mut blob = self.key_id.to_vec();
        blob.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        )
    }
}

/// A parsed (not yet verified) note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// The note as written to a file.
    pub fn to_text(&self) -> String {
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.line());
        }
        out
    }

    /// Parses a signed note per the spec's syntax.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let bad = |why: &str| Err(NoteError::Malformed(why.to_owned()));
        if bytes.len() > MAX_NOTE_BYTES {
            return bad("longer than 64 KiB");
        }
        let Ok(all) = std::str::from_utf8(bytes) else {
            return bad("not UTF-8");
        };
        if all.chars().any(|c| c < ' ' && c != '\n') {
            return bad("holds a control character other than newline");
        }
        let Some(split) = all.rfind("\n\n") else {
            return bad("no blank line before the signatures");
        };
        let text = &all[..=split];
        let signature_block = &all[split + 2..];
        if text.len() < 2 || !signature_block.ends_with('\n') {
            return bad("the text or the signature block is empty or not newline-terminated");
        }
        let mut signatures = Vec::new();
        for line in signature_block[..signature_block.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return bad("more than 100 signatures");
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the signatures by `known` keys, ignoring all others. Returns
    /// the names of the known keys that signed, each once, in `known`'s order.
    pub fn verify(&self, known: &[NoteKey]) -> Result<Vec<String>, NoteError> {
        let mut signed = BTreeSet::new();
        for signature in &self.signatures {
            let Some(index) = known
                .iter()
                .position(|k| k.name == signature.name && k.key_id() == signature.key_id)
            else {
                continue;
            };
            let valid = <[u8; 64]>::try_from(signature.signature.as_slice())
                .map(|bytes| Signature::from_bytes(&bytes))
                .is_ok_and(|s| {
                    known[index]
                        .key
                        .verify_strict(self.text.as_bytes(), &s)
                        .is_ok()
                });
            if !valid {
                return Err(NoteError::BadSignature {
                    name: signature.name.clone(),
                });
            }
            signed.insert(index);
        }
        Ok(signed.into_iter().map(|i| known[i].name.clone()).collect())
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let bad = |why: String| NoteError::Malformed(why);
    let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
        bad(format!(
            "signature line {line:?} does not start with an em dash"
        ))
    })?;
    let (name, encoded) = rest
        .split_once(' ')
        .ok_or_else(|| bad(format!("signature line {line:?} has no signature")))?;
    if !is_key_name(name) {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    let blob = STANDARD
        .decode(encoded)
        .map_err(|_| bad(format!("the signature of {name:?} is not base64")))?;
    if blob.len() < 5 {
        return Err(bad(format!("the signature of {name:?} is too short")));
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: [blob[0], blob[1], blob[2], blob[3]],
        signature: blob[4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn a_signed_note_round_trips_and_verifies_only_for_known_keys() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let text = "example.org/log\n3\nAAAA\n".to_owned();
        let note = Note {
            signatures: vec![
                NoteSignature::ed25519("stranger", &other.verifying_key(), &other.sign(b"x")),
                NoteSignature::ed25519(
                    "example.org/log",
                    &key.verifying_key(),
                    &key.sign(text.as_bytes()),
                ),
            ],
            text,
        };
        let parsed = Note::parse(note.to_text().as_bytes()).expect("parses");
        assert_eq!(parsed, note);
        let known = [NoteKey::new("example.org/log", key.verifying_key()).expect("name")];
        assert_eq!(
            parsed.verify(&known).expect("verifies"),
            ["example.org/log"]
        );
        // The stranger's key is now known, and its signature is over other bytes.
        let known = [NoteKey::new("stranger", other.verifying_key()).expect("name")];
        assert_eq!(
            parsed.verify(&known),
            Err(NoteError::BadSignature {
                name: "stranger".into()
            })
        );
    }
}
