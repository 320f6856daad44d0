//! The ceremony transcript: a hash-chained, signed JSON Lines file that an
//! auditor verifies offline. docs/transcript.md is the format's specification;
//! this module is its reference implementation.
//!
//! - [`TranscriptWriter`] appends entries, fsyncing after each, and runs every
//!   line it is about to write through the same checks as the [`Verifier`], so
//!   it cannot produce a transcript its own verifier rejects.
//! - [`Verifier`] is sans-I/O and streaming: it keeps the chain head, the
//!   genesis and the roster, never the entries, so memory stays flat however
//!   long the transcript. [`verify_file`] drives it over a file.
//!
//! - [`checkpoint`]: at the close, an RFC 6962 Merkle root over the exact
//!   line bytes ([`merkle`]) in a C2SP signed note ([`note`]), signed by the
//!   ceremony key and cosigned by the witness and the auditor.

mod body;
mod canonical;
pub mod checkpoint;
mod entry;
mod error;
mod file;
mod genesis;
mod key;
pub mod merkle;
pub mod note;
mod verifier;
pub mod words;
mod writer;

pub use checkpoint::{CheckedCheckpoint, Checkpoint, CheckpointExpectation, verify_checkpoint};
pub use entry::{ParticipantSignature, Purpose, act_message};
pub use error::{Rule, TranscriptError, Violation};
pub use file::{Incompleteness, Outcome, verify_file, verify_file_visiting};
pub use genesis::{
    Genesis, KeyCustody, Mode, Role, RosterEntry, ScriptRef, SecretPolicy, ToolRef, UnknownName,
};
pub use key::CeremonyKey;
pub use verifier::{Summary, VerifiedEntry, VerifiedSignature, Verifier};
pub use words::pgp_words;
pub use writer::{CloseOutcome, EntryDraft, ScreenRecording, TranscriptWriter};

/// The `v` field of every entry this code writes and accepts. Version 1
/// (participant signatures over the chain position only, not over what the
/// entry says) is refused: its acts could be rewritten by whoever held the
/// ceremony key.
pub const FORMAT_VERSION: u64 = 2;

/// Prefix of the message the ceremony key signs for each entry. The domain
/// string keeps an entry signature from ever being valid as anything else.
pub const ENTRY_SIGNATURE_DOMAIN: &[u8] = b"keyceremony/v2/entry\n";

/// The `actor` of entries written by the tool itself (genesis, close, HSM results).
pub const TOOL_ACTOR: &str = "keyceremony";

/// `kind` of the first entry.
pub const GENESIS_KIND: &str = "genesis";

/// `kind` of the entry that hands the transcript to a new ceremony key after
/// a crash (the old key died with the process's memory).
pub const RESUME_KIND: &str = "resume";

/// `kind` of the last entry.
pub const CLOSE_KIND: &str = "close";

/// Kinds that are always the act of a person, never of the tool: their
/// actor is a roster name whose signature the entry carries. (`abort` may
/// be the tool's, when no administrator is signed in.)
pub const PERSON_KINDS: &[&str] = &[
    "sign-in",
    "identity-check",
    "confirm",
    "share-presented",
    "share-rejected",
    "share-delivered",
    "pin-typed",
    "exception",
    "retry",
    "attestation",
];

/// The `prev` of the genesis entry: there is no previous line.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Integers must stay below 2^53 so that every JSON implementation (and the
/// RFC 8785 number serialization, which goes through IEEE 754 doubles) reads
/// them exactly.
pub const INTEGER_LIMIT: u64 = 1 << 53;

/// Longest line accepted, without its newline. A bound per line keeps a
/// hostile file from making the streaming verifier allocate without limit.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The chain head after an entry: its sequence number and the SHA-256 of its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl Head {
    /// Lower-case hex of the hash, as the next entry's `prev` holds it.
    pub fn hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The hash in PGP words, for people to compare aloud.
    pub fn words(&self) -> String {
        pgp_words(&self.hash)
    }
}
