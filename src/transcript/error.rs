//! What can go wrong: a [`Violation`] of a named [`Rule`] when verifying, a
//! [`TranscriptError`] when writing or reading a file.

use std::fmt;
use std::path::PathBuf;

/// The rules a transcript must follow, one variant each, so that tests and
/// auditors can tell exactly which rule a tampered file broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// The file holds no complete entry.
    Empty,
    /// A line is longer than [`super::MAX_LINE_BYTES`].
    LineTooLong,
    /// A line is not valid UTF-8.
    NotUtf8,
    /// A line starts with a UTF-8 byte order mark.
    ByteOrderMark,
    /// A line holds a carriage return (CRLF line ends).
    CarriageReturn,
    /// A line holds a raw control character (tab, NUL, ...).
    ControlCharacter,
    /// Not JSON, or not an entry: missing or unknown fields, wrong types.
    Malformed,
    /// Valid JSON but not its own RFC 8785 form, or a float, null, negative or
    /// too large integer somewhere.
    NotCanonical,
    /// `v` is not the supported format version.
    Version,
    /// `ceremony` differs from the genesis `ceremony_id`.
    CeremonyId,
    /// `seq` is not the line's position (0-based).
    Sequence,
    /// `prev` is not the hash of the previous line.
    PrevMismatch,
    /// `time` is not `YYYY-MM-DDTHH:MM:SSZ`.
    TimeFormat,
    /// `time` is earlier than the previous entry's.
    TimeBackwards,
    /// `sig` is not a valid strict Ed25519 signature by the ceremony key.
    EntrySignature,
    /// The first line is not a genesis entry, or a genesis entry appears later.
    GenesisNotFirst,
    /// The genesis body is missing fields or breaks a constraint.
    GenesisInvalid,
    /// A roster key (or the ceremony key) is of small order.
    WeakRosterKey,
    /// `actor` is neither a roster name nor `keyceremony`.
    UnknownActor,
    /// A participant signature does not verify under that participant's key.
    ParticipantSignature,
    /// The same participant signs for the same purpose twice in one entry.
    DuplicateParticipantSignature,
    /// A participant signature names someone not in the roster.
    UnknownParticipant,
    /// An act of a person without exactly its actor's signature (with the
    /// purpose its kind needs), a participant named in the body who is not
    /// the actor, a person's kind written by the tool, or a participant
    /// signature in an entry of the tool.
    ActSignature,
    /// A close entry with a wrong shape or actor.
    CloseInvalid,
    /// The close entry's `entries` differs from the number of lines.
    CloseCount,
    /// Anything after the close entry.
    AfterClose,
    /// A resume entry without a valid new key, or not authorized by both
    /// the administrator and the witness; or a resume signature elsewhere.
    ResumeInvalid,
    /// A closed transcript without its checkpoint (and no `--no-checkpoint`).
    CheckpointMissing,
    /// The checkpoint file is not a signed note holding a tlog-checkpoint.
    CheckpointMalformed,
    /// The checkpoint's origin is not this ceremony's.
    CheckpointOrigin,
    /// A known key's signature on the checkpoint does not verify.
    CheckpointSignature,
    /// The ceremony key, or a witness or auditor who signed in at any
    /// point, did not sign the checkpoint.
    CheckpointUnsigned,
    /// The checkpoint's tree size differs from the number of lines.
    CheckpointSize,
    /// The checkpoint's root is not the Merkle root of the lines.
    CheckpointRoot,
    /// The script given is not the one the genesis binds.
    ScriptHash,
    /// Steps ran out of the script's order, were skipped, or do not exist.
    StepOrder,
    /// A role the script requires never acted.
    RoleMissing,
    /// A secret was recombined from fewer than k distinct custodians' shares.
    Quorum,
    /// A file the transcript names differs from the hash it records.
    Artifact,
    /// The bindings given are not the ones the genesis binds, or name other
    /// keys than the roster's.
    BindingsMismatch,
    /// A roster key is not in the list of keys the auditor brought.
    RosterMismatch,
}

impl Rule {
    /// A stable kebab-case name, shown in messages and usable in scripts.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Empty => "empty",
            Rule::LineTooLong => "line-too-long",
            Rule::NotUtf8 => "not-utf8",
            Rule::ByteOrderMark => "byte-order-mark",
            Rule::CarriageReturn => "carriage-return",
            Rule::ControlCharacter => "control-character",
            Rule::Malformed => "malformed",
            Rule::NotCanonical => "not-canonical",
            Rule::Version => "version",
            Rule::CeremonyId => "ceremony-id",
            Rule::Sequence => "sequence",
            Rule::PrevMismatch => "prev-mismatch",
            Rule::TimeFormat => "time-format",
            Rule::TimeBackwards => "time-backwards",
            Rule::EntrySignature => "entry-signature",
            Rule::GenesisNotFirst => "genesis-not-first",
            Rule::GenesisInvalid => "genesis-invalid",
            Rule::WeakRosterKey => "weak-roster-key",
            Rule::UnknownActor => "unknown-actor",
            Rule::ParticipantSignature => "participant-signature",
            Rule::DuplicateParticipantSignature => "duplicate-participant-signature",
            Rule::UnknownParticipant => "unknown-participant",
            Rule::ActSignature => "act-signature",
            Rule::CloseInvalid => "close-invalid",
            Rule::CloseCount => "close-count",
            Rule::AfterClose => "after-close",
            Rule::ResumeInvalid => "resume-invalid",
            Rule::CheckpointMissing => "checkpoint-missing",
            Rule::CheckpointMalformed => "checkpoint-malformed",
            Rule::CheckpointOrigin => "checkpoint-origin",
            Rule::CheckpointSignature => "checkpoint-signature",
            Rule::CheckpointUnsigned => "checkpoint-unsigned",
            Rule::CheckpointSize => "checkpoint-size",
            Rule::CheckpointRoot => "checkpoint-root",
            Rule::ScriptHash => "script-hash",
            Rule::StepOrder => "step-order",
            Rule::RoleMissing => "role-missing",
            Rule::Quorum => "quorum",
            Rule::Artifact => "artifact",
            Rule::BindingsMismatch => "bindings-mismatch",
            Rule::RosterMismatch => "roster-mismatch",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Evidence that a transcript is not what the ceremony wrote: which line
/// (1-based), which rule, and what exactly was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail} [{rule}]")]
pub struct Violation {
    pub line: u64,
    pub rule: Rule,
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(line: u64, rule: Rule, detail: impl Into<String>) -> Self {
        Violation {
            line,
            rule,
            detail: detail.into(),
        }
    }
}

/// Errors of the writer, and I/O errors of [`super::verify_file`]. A
/// transcript that reads fine but does not verify is not an error: it is an
/// [`super::Outcome`].
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    #[error("refusing to overwrite the existing file {0}: transcripts are never replaced")]
    AlreadyExists(PathBuf),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
    #[error("the genesis names a ceremony_key that is not the key given to the writer")]
    CeremonyKeyMismatch,
    #[error(
        "{location} holds {problem}: entries allow only strings, booleans, integers in [0, 2^53), arrays and objects"
    )]
    NonCanonicalValue { location: String, problem: String },
    #[error("the entry body must be a JSON object")]
    BodyNotObject,
    #[error(
        "time {now} is earlier than the previous entry's {previous}: transcript time never goes backwards"
    )]
    TimeBackwards { previous: String, now: String },
    #[error("kind {0:?} is reserved for the writer itself (use create or close)")]
    ReservedKind(String),
    #[error("actor {0:?} is neither a roster name nor \"keyceremony\"")]
    UnknownActor(String),
    #[error("the writer refused its own line: {0}")]
    Rejected(Violation),
    #[error(
        "an earlier write to this transcript failed; it must not be appended to (verify it, then start a new ceremony)"
    )]
    Poisoned,
    /// The transcript cannot be resumed (closed, or refused).
    #[error("cannot resume: {0}")]
    Resume(String),
    /// The screen recording's record cannot be written in the close.
    #[error("cannot record the screen recording in the close: {0}")]
    InvalidRecording(String),
}

impl TranscriptError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        TranscriptError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
