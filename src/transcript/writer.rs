//! The transcript writer: append-only, fsynced, self-verifying.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::canonical::{canonical_bytes, domain_problem};
use super::checkpoint::{self, Checkpoint};
use super::entry::{
    act_message, entry_signing_message, format_time, truncate_to_seconds, unsigned_entry,
};
use super::error::TranscriptError;
use super::genesis::{Genesis, check_genesis};
use super::key::CeremonyKey;
use super::note::{Note, NoteSignature};
use super::verifier::Verifier;
use super::{CLOSE_KIND, GENESIS_KIND, GENESIS_PREV, Head, Purpose, RESUME_KIND, TOOL_ACTOR};

/// A proposed entry; the writer adds `v`, `ceremony`, `seq`, `time`, `prev` and `sig`.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryDraft {
    /// A roster name, or `keyceremony` for the tool's own entries.
    pub actor: String,
    pub kind: String,
    /// A JSON object; may hold `signatures` (see [`super::ParticipantSignature`]).
    pub body: Value,
}

/// Signs the resume entry's message for its authorizers (the
/// administrator and the witness), or says why they cannot.
pub type Authorize<'a> = dyn Fn(&[u8]) -> Result<Vec<super::ParticipantSignature>, String> + 'a;

/// How a ceremony ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    Completed,
    /// Aborting is a valid ending; the reason is recorded.
    Aborted {
        reason: String,
    },
}

/// The screen recording of the run that closes the transcript (`run
/// --record FILE`), as the close entry's `recording` member names it: the
/// auditor checks the file against it with `verify --recording FILE`. The
/// recording ends before the close is written, so its hash can be in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenRecording {
    /// The file's name as given to `--record` (its last component): a
    /// name to look for, not a path the verifier opens.
    pub file: String,
    /// Hex SHA-256 of the whole file, as written.
    pub sha256: String,
    /// Its length in bytes.
    pub bytes: u64,
    /// Why the recording stopped before the close (a write failed): it
    /// covers the ceremony only up to there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ScreenRecording {
    /// What is wrong with a recorded `recording` member, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.file.is_empty() || self.file.contains('/') {
            return Some(format!(
                "the recording's file {:?} is not a file name",
                self.file
            ));
        }
        let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if self.sha256.len() != 64 || !self.sha256.chars().all(hex) {
            return Some(format!(
                "the recording's sha256 {:?} is not 64 lowercase hex digits",
                self.sha256
            ));
        }
        None
    }
}

/// Appends entries to one transcript file. No Debug: it holds the ceremony key.
pub struct TranscriptWriter {
    file: File,
    path: PathBuf,
    key: CeremonyKey,
    ceremony_id: String,
    /// Every line passes through it before being written.
    verifier: Verifier,
    /// Set when a write or fsync failed: the file's tail is then unknown.
    poisoned: bool,
}

impl TranscriptWriter {
    /// Creates the file with O_EXCL (never overwrite), writes genesis, fsyncs the
    /// file and its directory.
    pub fn create(
        path: &Path,
        key: CeremonyKey,
        genesis: &Genesis,
        now: DateTime<Utc>,
    ) -> Result<Self, TranscriptError> {
        let checked = check_genesis(genesis.clone())
            .map_err(|(_, detail)| TranscriptError::InvalidGenesis(detail))?;
        if checked.ceremony_key != key.verifying_key() {
            return Err(TranscriptError::CeremonyKeyMismatch);
        }
        let body = match serde_json::to_value(genesis) {
            Ok(Value::Object(body)) => body,
            _ => {
                return Err(TranscriptError::InvalidGenesis(
                    "does not serialize to a JSON object".to_owned(),
                ));
            }
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| match source.kind() {
                ErrorKind::AlreadyExists => TranscriptError::AlreadyExists(path.to_path_buf()),
                _ => TranscriptError::io("cannot create", path, source),
            })?;
        let mut writer = TranscriptWriter {
            file,
            path: path.to_path_buf(),
            key,
            ceremony_id: genesis.ceremony_id.clone(),
            verifier: Verifier::new(),
            poisoned: false,
        };
        writer.write_entry(TOOL_ACTOR, GENESIS_KIND, body, GENESIS_PREV, now)?;
        sync_parent_directory(path)?;
        Ok(writer)
    }

    /// Reopens an unclosed transcript after a crash, under a new ceremony key
    /// (the old one lived only in the crashed process's memory).
    ///
    /// Every complete line is verified first. A last line cut short by the
    /// crash (no newline) was never part of the transcript: it is removed,
    /// and its length and SHA-256 are recorded in the resume entry, which
    /// `authorize` — the administrator and the witness, each signing the
    /// [`act_message`] of the resume entry, so the new key and the head it
    /// continues — must sign.
    pub fn resume(
        path: &Path,
        key: CeremonyKey,
        now: DateTime<Utc>,
        authorize: &Authorize<'_>,
    ) -> Result<Self, TranscriptError> {
        let bytes = crate::input::read_capped(path, crate::input::MAX_TRANSCRIPT_BYTES)
            .map_err(|source| TranscriptError::io("cannot read", path, source))?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut verifier = Verifier::new();
        for line in bytes[..complete]
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            verifier
                .push_line(line)
                .map_err(TranscriptError::Rejected)?;
        }
        if verifier.is_closed() {
            return Err(TranscriptError::Resume(
                "the transcript is closed: the ceremony ended and cannot be resumed".into(),
            ));
        }
        let ceremony_id = match verifier.clone().finish() {
            Ok(summary) => summary.genesis.ceremony_id,
            Err(violation) => return Err(TranscriptError::Rejected(violation)),
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| TranscriptError::io("cannot open for appending", path, source))?;
        let mut body = Map::new();
        let cut = &bytes[complete..];
        if !cut.is_empty() {
            file.set_len(complete as u64)
                .and_then(|()| file.sync_all())
                .map_err(|source| {
                    TranscriptError::io("cannot remove the cut last line of", path, source)
                })?;
            body.insert("discarded_bytes".into(), Value::from(cut.len() as u64));
            body.insert(
                "discarded_sha256".into(),
                Value::from(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cut))),
            );
        }
        let mut writer = TranscriptWriter {
            file,
            path: path.to_path_buf(),
            ceremony_id,
            verifier,
            poisoned: false,
            key,
        };
        body.insert(
            "ceremony_key".into(),
            Value::from(writer.key.public_base64()),
        );
        let message = writer.act_message(Purpose::Resume, TOOL_ACTOR, RESUME_KIND, &body)?;
        let signatures = authorize(&message).map_err(TranscriptError::Resume)?;
        let signatures =
            serde_json::to_value(signatures).map_err(|e| TranscriptError::Resume(e.to_string()))?;
        body.insert("signatures".into(), signatures);
        let prev = writer.head().hex();
        writer.write_entry(TOOL_ACTOR, RESUME_KIND, body, &prev, now)?;
        Ok(writer)
    }

    /// The seq the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.verifier.next_line_number() - 1
    }

    pub fn head(&self) -> Head {
        // create() returns only after the genesis is committed.
        self.verifier.head().unwrap_or(Head {
            seq: 0,
            hash: [0; 32],
        })
    }

    pub fn ceremony_id(&self) -> &str {
        &self.ceremony_id
    }

    /// What a participant signs to put a `purpose` signature in the next
    /// entry, which will have this `actor`, `kind` and `body` (its
    /// `signatures` member, if any, aside).
    pub fn act_message(
        &self,
        purpose: Purpose,
        actor: &str,
        kind: &str,
        body: &Map<String, Value>,
    ) -> Result<Vec<u8>, TranscriptError> {
        act_message(
            purpose,
            &self.ceremony_id,
            self.next_seq(),
            &self.head().hex(),
            actor,
            kind,
            body,
        )
        .map_err(canonical_error)
    }

    /// Appends one line, fsync after each. Refuses a time earlier than the
    /// previous entry's, non-canonical values, the reserved kinds, an actor not
    /// in the roster, and participant signatures that do not verify.
    pub fn append(
        &mut self,
        draft: EntryDraft,
        now: DateTime<Utc>,
    ) -> Result<Head, TranscriptError> {
        if [GENESIS_KIND, CLOSE_KIND, RESUME_KIND].contains(&draft.kind.as_str()) {
            return Err(TranscriptError::ReservedKind(draft.kind));
        }
        let Value::Object(body) = draft.body else {
            return Err(TranscriptError::BodyNotObject);
        };
        let prev = self.head().hex();
        self.write_entry(&draft.actor, &draft.kind, body, &prev, now)
    }

    /// Writes the close entry; nothing can be appended after it. The ceremony
    /// key is dropped (and so zeroized) when this returns, whatever the result:
    /// if the close fails, the transcript stays unclosed and verifies as
    /// incomplete.
    pub fn close(
        mut self,
        outcome: CloseOutcome,
        now: DateTime<Utc>,
    ) -> Result<Head, TranscriptError> {
        self.close_entry(outcome, None, now)
    }

    fn close_entry(
        &mut self,
        outcome: CloseOutcome,
        recording: Option<&ScreenRecording>,
        now: DateTime<Utc>,
    ) -> Result<Head, TranscriptError> {
        let mut body = Map::new();
        body.insert("entries".into(), Value::from(self.next_seq() + 1));
        match outcome {
            CloseOutcome::Completed => {
                body.insert("outcome".into(), Value::from("completed"));
            }
            CloseOutcome::Aborted { reason } => {
                body.insert("outcome".into(), Value::from("aborted"));
                body.insert("reason".into(), Value::from(reason));
            }
        }
        if let Some(recording) = recording {
            let value = serde_json::to_value(recording)
                .map_err(|e| TranscriptError::InvalidRecording(e.to_string()))?;
            body.insert("recording".into(), value);
        }
        let prev = self.head().hex();
        self.write_entry(TOOL_ACTOR, CLOSE_KIND, body, &prev, now)
    }

    /// [`TranscriptWriter::close`], recording the screen recording's hash
    /// if there was one, then the checkpoint over every line (the close
    /// included) as a signed note carrying the ceremony key's signature,
    /// for the witnesses to cosign. The ceremony key signs nothing after
    /// this.
    pub fn close_with_checkpoint(
        mut self,
        outcome: CloseOutcome,
        recording: Option<&ScreenRecording>,
        now: DateTime<Utc>,
    ) -> Result<(Head, Note), TranscriptError> {
        self.close_entry(outcome, recording, now)?;
        let root = self.verifier.tree_root().unwrap_or_default();
        let checkpoint = Checkpoint {
            origin: checkpoint::origin(&self.ceremony_id),
            size: self.next_seq(),
            root,
        };
        let text = checkpoint.body();
        let signature = self.key.sign(text.as_bytes());
        let note = Note {
            signatures: vec![NoteSignature::ed25519(
                &checkpoint.origin,
                &self.key.verifying_key(),
                &signature,
            )],
            text,
        };
        Ok((self.head(), note))
    }

    fn write_entry(
        &mut self,
        actor: &str,
        kind: &str,
        body: Map<String, Value>,
        prev: &str,
        now: DateTime<Utc>,
    ) -> Result<Head, TranscriptError> {
        if self.poisoned {
            return Err(TranscriptError::Poisoned);
        }
        let body = Value::Object(body);
        if let Some(found) = domain_problem(&body, "body") {
            return Err(TranscriptError::NonCanonicalValue {
                location: found.location,
                problem: found.problem,
            });
        }
        let Value::Object(body) = body else {
            return Err(TranscriptError::BodyNotObject);
        };
        let now = truncate_to_seconds(now);
        if let Some(previous) = self.verifier.last_time()
            && now < previous
        {
            return Err(TranscriptError::TimeBackwards {
                previous: format_time(previous),
                now: format_time(now),
            });
        }
        if actor != TOOL_ACTOR && !self.verifier.knows_participant(actor) {
            return Err(TranscriptError::UnknownActor(actor.to_owned()));
        }
        let seq = self.next_seq();
        let mut entry = unsigned_entry(
            &self.ceremony_id,
            seq,
            &format_time(now),
            actor,
            kind,
            body,
            prev,
        );
        let unsigned = canonical_bytes(&Value::Object(entry.clone())).map_err(canonical_error)?;
        let signature = self.key.sign(&entry_signing_message(&unsigned));
        entry.insert(
            "sig".into(),
            Value::from(STANDARD.encode(signature.to_bytes())),
        );
        let mut line = canonical_bytes(&Value::Object(entry)).map_err(canonical_error)?;
        let accepted = self
            .verifier
            .check_line(&line)
            .map_err(TranscriptError::Rejected)?;
        line.push(b'\n');
        // Poisoned until proven written: a failure between here and the end
        // leaves the file's tail unknown.
        self.poisoned = true;
        self.file
            .write_all(&line)
            .map_err(|source| TranscriptError::io("cannot write", &self.path, source))?;
        self.file
            .sync_all()
            .map_err(|source| TranscriptError::io("cannot fsync", &self.path, source))?;
        self.poisoned = false;
        Ok(self.verifier.commit(accepted).head)
    }
}

fn canonical_error(error: serde_json::Error) -> TranscriptError {
    TranscriptError::NonCanonicalValue {
        location: "entry".to_owned(),
        problem: error.to_string(),
    }
}

/// The new directory entry must survive a crash too, not only the file's bytes.
fn sync_parent_directory(path: &Path) -> Result<(), TranscriptError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| TranscriptError::io("cannot fsync directory", parent, source))
}
