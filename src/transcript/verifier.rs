//! The streaming verifier: feed it lines, it keeps only the chain state.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::body::{check_act, check_close, check_participant_signatures, check_resume};
use super::canonical::{canonical_bytes, check_line_text, parse_canonical};
use super::entry::{RawEntry, decode_signature, entry_signing_message, is_identifier, parse_time};
use super::error::{Rule, Violation};
use super::genesis::{CheckedGenesis, Genesis, Role, check_genesis};
use super::merkle::{MerkleTree, leaf_hash};
use super::writer::CloseOutcome;
use super::{
    CLOSE_KIND, FORMAT_VERSION, GENESIS_KIND, GENESIS_PREV, Head, Purpose, RESUME_KIND, TOOL_ACTOR,
};
use crate::identity::PublicIdentity;

/// One line that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEntry {
    /// 1-based line number (= seq + 1).
    pub line: u64,
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub actor: String,
    pub kind: String,
    pub body: Map<String, Value>,
    /// The chain head after this line.
    pub head: Head,
    /// The participant signatures of the body, all verified.
    pub signatures: Vec<VerifiedSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub participant: String,
    pub role: Role,
    pub purpose: Purpose,
}

/// What a chain of verified lines amounts to.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub genesis: Genesis,
    /// Number of lines verified, genesis and close included.
    pub entries: u64,
    /// How the ceremony ended; None if the transcript has no close entry.
    pub closed: Option<CloseOutcome>,
    pub head: Head,
    pub started: DateTime<Utc>,
    pub last_time: DateTime<Utc>,
    /// The key that signed the last line: the genesis key, or the key of
    /// the last resume entry. It signs the checkpoint.
    pub ceremony_key: VerifyingKey,
    /// RFC 6962 Merkle tree hash over the lines (the checkpoint's root).
    pub tree_root: [u8; 32],
}

/// Sans-I/O streaming verifier. Memory is bounded by the genesis (roster),
/// never by the number of entries. After a violation it refuses every
/// further line with that same violation. Cloning forks it: both copies go
/// on from the same chain state.
#[derive(Debug, Clone)]
pub struct Verifier {
    chain: Option<Chain>,
    failed: Option<Violation>,
}

#[derive(Debug, Clone)]
struct Chain {
    checked: CheckedGenesis,
    /// The key entries are signed with: the genesis key, or the key of the
    /// last resume entry.
    key: VerifyingKey,
    entries: u64,
    head: Head,
    started: DateTime<Utc>,
    last_time: DateTime<Utc>,
    closed: Option<CloseOutcome>,
    tree: MerkleTree,
}

/// A line that passed every check, and what it changes in the chain.
pub(crate) struct Accepted {
    entry: VerifiedEntry,
    genesis: Option<CheckedGenesis>,
    closed: Option<CloseOutcome>,
    /// A resume entry hands the chain to this key.
    new_key: Option<VerifyingKey>,
    /// RFC 6962 leaf hash of the line.
    leaf: [u8; 32],
}

/// What a line is checked against: its number and the genesis it must match.
struct Context<'a> {
    line: u64,
    ceremony_id: &'a str,
    ceremony_key: &'a VerifyingKey,
    roster: &'a BTreeMap<String, (PublicIdentity, Role)>,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Verifier {
            chain: None,
            failed: None,
        }
    }

    /// Verifies one line: the bytes between two newlines, without the newline.
    pub fn push_line(&mut self, line: &[u8]) -> Result<VerifiedEntry, Violation> {
        if let Some(violation) = &self.failed {
            return Err(violation.clone());
        }
        match self.check_line(line) {
            Ok(accepted) => Ok(self.commit(accepted)),
            Err(violation) => {
                self.failed = Some(violation.clone());
                Err(violation)
            }
        }
    }

    /// The verdict once every line is pushed. An empty transcript is a
    /// violation: it holds no genesis, so it is evidence of nothing.
    pub fn finish(self) -> Result<Summary, Violation> {
        if let Some(violation) = self.failed {
            return Err(violation);
        }
        let chain = self.chain.ok_or_else(|| {
            Violation::new(1, Rule::Empty, "the transcript holds no complete entry")
        })?;
        Ok(Summary {
            genesis: chain.checked.genesis,
            entries: chain.entries,
            closed: chain.closed,
            head: chain.head,
            started: chain.started,
            last_time: chain.last_time,
            ceremony_key: chain.key,
            tree_root: chain.tree.root(),
        })
    }

    /// The RFC 6962 root over the lines verified so far.
    pub fn tree_root(&self) -> Option<[u8; 32]> {
        self.chain.as_ref().map(|chain| chain.tree.root())
    }

    /// The 1-based number of the next line.
    pub fn next_line_number(&self) -> u64 {
        self.chain.as_ref().map_or(1, |chain| chain.entries + 1)
    }

    pub fn head(&self) -> Option<Head> {
        self.chain.as_ref().map(|chain| chain.head)
    }

    /// The time of the last verified entry.
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.chain.as_ref().map(|chain| chain.last_time)
    }

    /// Whether `name` is in the genesis roster.
    pub fn knows_participant(&self, name: &str) -> bool {
        self.chain
            .as_ref()
            .is_some_and(|chain| chain.checked.roster.contains_key(name))
    }

    pub fn is_closed(&self) -> bool {
        self.chain
            .as_ref()
            .is_some_and(|chain| chain.closed.is_some())
    }

    /// Checks a line without changing any state (the writer checks each line
    /// before writing it, and commits only once it is on disk).
    pub(crate) fn check_line(&self, line: &[u8]) -> Result<Accepted, Violation> {
        let number = self.next_line_number();
        if self.is_closed() {
            return Err(Violation::new(
                number,
                Rule::AfterClose,
                format!("nothing may follow the close entry (line {})", number - 1),
            ));
        }
        let text = check_line_text(line, number)?;
        let value = parse_canonical(text, number)?;
        let raw: RawEntry = serde_json::from_value(value).map_err(|error| {
            Violation::new(number, Rule::Malformed, format!("not an entry: {error}"))
        })?;
        if raw.v != FORMAT_VERSION {
            return Err(Violation::new(
                number,
                Rule::Version,
                format!(
                    "format version v={} is not the supported {FORMAT_VERSION}",
                    raw.v
                ),
            ));
        }
        let hash: [u8; 32] = Sha256::digest(line).into();
        let mut accepted = match &self.chain {
            None => check_genesis_line(raw, hash),
            Some(chain) => check_next_line(chain, raw, hash, number),
        }?;
        accepted.leaf = leaf_hash(line);
        Ok(accepted)
    }

    pub(crate) fn commit(&mut self, accepted: Accepted) -> VerifiedEntry {
        let entry = accepted.entry;
        match (&mut self.chain, accepted.genesis) {
            (None, Some(checked)) => {
                let mut tree = MerkleTree::new();
                tree.push_leaf_hash(accepted.leaf);
                self.chain = Some(Chain {
                    tree,
                    key: checked.ceremony_key,
                    checked,
                    entries: 1,
                    head: entry.head,
                    started: entry.time,
                    last_time: entry.time,
                    closed: None,
                });
            }
            (Some(chain), _) => {
                chain.entries += 1;
                chain.head = entry.head;
                chain.last_time = entry.time;
                chain.closed = accepted.closed;
                chain.tree.push_leaf_hash(accepted.leaf);
                if let Some(key) = accepted.new_key {
                    chain.key = key;
                }
            }
            // check_line yields a genesis exactly when there is no chain yet.
            (None, None) => {}
        }
        entry
    }
}

fn check_genesis_line(raw: RawEntry, hash: [u8; 32]) -> Result<Accepted, Violation> {
    let line = 1;
    let fail = |rule, detail: String| Err(Violation::new(line, rule, detail));
    if raw.kind != GENESIS_KIND {
        return fail(
            Rule::GenesisNotFirst,
            format!("the first line is a {:?} entry, not the genesis", raw.kind),
        );
    }
    if raw.seq != 0 {
        return fail(
            Rule::Sequence,
            format!("the genesis has seq {}, not 0", raw.seq),
        );
    }
    if raw.actor != TOOL_ACTOR {
        return fail(
            Rule::GenesisInvalid,
            format!("the genesis actor is {:?}, not {TOOL_ACTOR:?}", raw.actor),
        );
    }
    if raw.prev != GENESIS_PREV {
        return fail(
            Rule::PrevMismatch,
            "the genesis prev is not 64 zeros".to_owned(),
        );
    }
    let time = parse_entry_time(&raw.time, line)?;
    let genesis: Genesis = serde_json::from_value(Value::Object(raw.body.clone()))
        .map_err(|error| Violation::new(line, Rule::GenesisInvalid, error.to_string()))?;
    let checked =
        check_genesis(genesis).map_err(|(rule, detail)| Violation::new(line, rule, detail))?;
    let context = Context {
        line,
        ceremony_id: &checked.genesis.ceremony_id,
        ceremony_key: &checked.ceremony_key,
        roster: &checked.roster,
    };
    if raw.ceremony != context.ceremony_id {
        return fail(
            Rule::CeremonyId,
            format!(
                "ceremony {:?} differs from the genesis ceremony_id {:?}",
                raw.ceremony, context.ceremony_id
            ),
        );
    }
    check_entry_signature(&raw, &context)?;
    let entry = VerifiedEntry {
        line,
        seq: 0,
        time,
        actor: raw.actor,
        kind: raw.kind,
        body: raw.body,
        head: Head { seq: 0, hash },
        signatures: Vec::new(),
    };
    Ok(Accepted {
        entry,
        genesis: Some(checked),
        closed: None,
        new_key: None,
        leaf: [0; 32],
    })
}

fn check_next_line(
    chain: &Chain,
    raw: RawEntry,
    hash: [u8; 32],
    line: u64,
) -> Result<Accepted, Violation> {
    let fail = |rule, detail: String| Err(Violation::new(line, rule, detail));
    let context = Context {
        line,
        ceremony_id: &chain.checked.genesis.ceremony_id,
        ceremony_key: &chain.key,
        roster: &chain.checked.roster,
    };
    if raw.ceremony != context.ceremony_id {
        return fail(
            Rule::CeremonyId,
            format!(
                "ceremony {:?} is not this transcript's {:?}",
                raw.ceremony, context.ceremony_id
            ),
        );
    }
    if raw.seq != chain.entries {
        return fail(
            Rule::Sequence,
            format!(
                "seq {} where {} was expected (entries missing, repeated or reordered)",
                raw.seq, chain.entries
            ),
        );
    }
    if raw.kind == GENESIS_KIND {
        return fail(
            Rule::GenesisNotFirst,
            "a genesis entry after the first line".to_owned(),
        );
    }
    if raw.prev != chain.head.hex() {
        return fail(
            Rule::PrevMismatch,
            format!("prev does not match the hash of line {}", line - 1),
        );
    }
    let time = parse_entry_time(&raw.time, line)?;
    if time < chain.last_time {
        return fail(
            Rule::TimeBackwards,
            format!("time {} is earlier than line {}'s", raw.time, line - 1),
        );
    }
    // A resume entry is signed by the new key it introduces, which its
    // participant signatures authorize; every other entry by the current
    // key, checked first: a line the ceremony key did not sign is not the
    // tool's line, whatever its participant signatures say.
    let (signatures, new_key) = if raw.kind == RESUME_KIND {
        let signatures =
            check_participant_signatures(&raw, line, context.ceremony_id, context.roster)?;
        let key = check_resume(&raw, line, &signatures)?;
        check_entry_signature(
            &raw,
            &Context {
                ceremony_key: &key,
                ..context
            },
        )?;
        (signatures, Some(key))
    } else {
        check_entry_signature(&raw, &context)?;
        let signatures =
            check_participant_signatures(&raw, line, context.ceremony_id, context.roster)?;
        (signatures, None)
    };
    if raw.actor != TOOL_ACTOR && !context.roster.contains_key(&raw.actor) {
        return fail(
            Rule::UnknownActor,
            format!("actor {:?} is not in the roster", raw.actor),
        );
    }
    if !is_identifier(&raw.kind) {
        return fail(
            Rule::Malformed,
            format!("kind {:?} must be 1 to 64 of A-Z a-z 0-9 . _ -", raw.kind),
        );
    }
    let closed = if raw.kind == CLOSE_KIND {
        Some(check_close(&raw, line)?)
    } else {
        None
    };
    check_act(&raw, line, &signatures)?;
    let entry = VerifiedEntry {
        line,
        seq: raw.seq,
        time,
        actor: raw.actor,
        kind: raw.kind,
        body: raw.body,
        head: Head { seq: raw.seq, hash },
        signatures,
    };
    Ok(Accepted {
        entry,
        genesis: None,
        closed,
        new_key,
        leaf: [0; 32],
    })
}

fn parse_entry_time(text: &str, line: u64) -> Result<DateTime<Utc>, Violation> {
    parse_time(text).ok_or_else(|| {
        Violation::new(
            line,
            Rule::TimeFormat,
            format!("time {text:?} is not of the form 2026-11-26T23:57:28Z (UTC, whole seconds)"),
        )
    })
}

fn check_entry_signature(raw: &RawEntry, context: &Context<'_>) -> Result<(), Violation> {
    let bad = |detail: &str| Violation::new(context.line, Rule::EntrySignature, detail);
    let signature = decode_signature(&raw.sig)
        .ok_or_else(|| bad("sig is not the padded base64 of a 64-byte signature"))?;
    let unsigned = super::entry::unsigned_entry(
        &raw.ceremony,
        raw.seq,
        &raw.time,
        &raw.actor,
        &raw.kind,
        raw.body.clone(),
        &raw.prev,
    );
    let unsigned = canonical_bytes(&Value::Object(unsigned))
        .map_err(|error| bad(&format!("cannot canonicalize the entry: {error}")))?;
    context
        .ceremony_key
        .verify_strict(&entry_signing_message(&unsigned), &signature)
        .map_err(|_| bad("sig is not a valid signature by the ceremony key"))
}
