//! The entry envelope, timestamps, and participant signatures.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The envelope of every line, as parsed by the verifier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntry {
    pub v: u64,
    pub ceremony: String,
    pub seq: u64,
    pub time: String,
    pub actor: String,
    pub kind: String,
    pub body: Map<String, Value>,
    pub prev: String,
    pub sig: String,
}

/// Builds the entry object without `sig`; its canonical form is what the
/// ceremony key signs.
pub(crate) fn unsigned_entry(
    ceremony: &str,
    seq: u64,
    time: &str,
    actor: &str,
    kind: &str,
    body: Map<String, Value>,
    prev: &str,
) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("v".into(), Value::from(super::FORMAT_VERSION));
    entry.insert("ceremony".into(), Value::from(ceremony));
    entry.insert("seq".into(), Value::from(seq));
    entry.insert("time".into(), Value::from(time));
    entry.insert("actor".into(), Value::from(actor));
    entry.insert("kind".into(), Value::from(kind));
    entry.insert("body".into(), Value::Object(body));
    entry.insert("prev".into(), Value::from(prev));
    entry
}

/// `"keyceremony/v2/entry\n" || canonical(entry without sig)`.
pub(crate) fn entry_signing_message(unsigned_canonical: &[u8]) -> Vec<u8> {
    let mut message = super::ENTRY_SIGNATURE_DOMAIN.to_vec();
    message.extend_from_slice(unsigned_canonical);
    message
}

/// The one accepted time format: RFC 3339, UTC, whole seconds.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Formats a time the way entries hold it, dropping fractions of a second.
pub(crate) fn format_time(time: DateTime<Utc>) -> String {
    time.format(TIME_FORMAT).to_string()
}

/// Parses an entry time, accepting only the exact form [`format_time`] writes
/// (so one instant has one spelling), and no leap seconds.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let parsed = NaiveDateTime::parse_from_str(text, TIME_FORMAT).ok()?;
    let time = parsed.and_utc();
    (time.nanosecond() == 0 && format_time(time) == text).then_some(time)
}

/// Drops fractions of a second: the writer compares times as it writes them.
pub(crate) fn truncate_to_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_nanosecond(0).unwrap_or(time)
}

/// Why a participant signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// "I am present": signing in, or proving one's key at an identity check.
    SignIn,
    /// "I did, or saw, what this entry says": every other act of a person.
    Confirm,
    /// "I attest to the ceremony's record up to here" (auditor, witnesses).
    Attest,
    /// "After the crash, this new ceremony key continues the transcript":
    /// the administrator and the witness, in a resume entry only.
    Resume,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign-in",
            Purpose::Confirm => "confirm",
            Purpose::Attest => "attest",
            Purpose::Resume => "resume",
        }
    }

    /// The purpose a person's signature must have in an entry of `kind`
    /// they act in (docs/transcript.md section 5).
    pub fn for_kind(kind: &str) -> Purpose {
        match kind {
            "sign-in" | "identity-check" => Purpose::SignIn,
            "attestation" => Purpose::Attest,
            super::RESUME_KIND => Purpose::Resume,
            _ => Purpose::Confirm,
        }
    }
}

/// The exact bytes a participant signs for the entry at position `seq`
/// whose `prev` is `prev_hex` (the chain head before it):
///
/// ```text
/// "keyceremony/v2/<purpose>\n<ceremony_id>\n<seq>\n<prev_hex>\n<actor>\n<kind>\n"
///     || JCS(body without its "signatures" member)
/// ```
///
/// Binding seq and prev pins the signature to one place in one ceremony's
/// chain; binding actor, kind and body makes it a signature of what the
/// entry says, so the holder of the ceremony key cannot keep a person's
/// signature and change their act. Fails only for a body that is not in
/// the transcript's value domain.
pub fn act_message(
    purpose: Purpose,
    ceremony_id: &str,
    seq: u64,
    prev_hex: &str,
    actor: &str,
    kind: &str,
    body: &Map<String, Value>,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut unsigned = body.clone();
    unsigned.remove("signatures");
    let mut message = format!(
        "keyceremony/v2/{}\n{ceremony_id}\n{seq}\n{prev_hex}\n{actor}\n{kind}\n",
        purpose.as_str()
    )
    .into_bytes();
    message.extend_from_slice(&super::canonical::canonical_bytes(&Value::Object(
        unsigned,
    ))?);
    Ok(message)
}

/// One element of a body's `signatures` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantSignature {
    /// The signer's roster name.
    pub participant: String,
    pub purpose: Purpose,
    /// Standard base64 (with padding) of the 64-byte raw Ed25519 signature.
    pub signature: String,
}

impl ParticipantSignature {
    pub fn new(participant: &str, purpose: Purpose, signature: &Signature) -> Self {
        ParticipantSignature {
            participant: participant.to_owned(),
            purpose,
            signature: STANDARD.encode(signature.to_bytes()),
        }
    }
}

/// Decodes a base64 Ed25519 signature, accepting only its one canonical
/// spelling (padded standard alphabet, zero trailing bits).
pub(crate) fn decode_signature(text: &str) -> Option<Signature> {
    let bytes = STANDARD.decode(text).ok()?;
    let bytes: [u8; 64] = bytes.try_into().ok()?;
    (STANDARD.encode(bytes) == text).then(|| Signature::from_bytes(&bytes))
}

/// Identifiers (ceremony id, kind, secret names): short, printable ASCII
/// without spaces, so they read the same on paper, screen and in a message.
pub(crate) fn is_identifier(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Person names: 1 to 64 characters, no control characters, no surrounding
/// whitespace (two names that look the same must be the same).
pub(crate) fn is_person_name(text: &str) -> bool {
    let length = text.chars().count();
    (1..=64).contains(&length)
        && text.trim() == text
        && !text.chars().any(char::is_control)
        && text != super::TOOL_ACTOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_act_message_is_the_documented_bytes() {
        let mut body = Map::new();
        body.insert("b".into(), Value::from(1));
        body.insert("a".into(), Value::from("x"));
        body.insert("signatures".into(), Value::Array(vec![]));
        let message = act_message(
            Purpose::SignIn,
            "kc-2026-01",
            3,
            "ab",
            "Ada",
            "sign-in",
            &body,
        )
        .expect("canonical");
        assert_eq!(
            message,
            b"keyceremony/v2/sign-in\nkc-2026-01\n3\nab\nAda\nsign-in\n{\"a\":\"x\",\"b\":1}"
        );
    }

    #[test]
    fn only_one_spelling_of_a_time_parses() {
        assert!(parse_time("2026-11-26T23:57:28Z").is_some());
        for bad in [
            "2026-11-26T23:57:28.000Z",
            "2026-11-26T23:57:28+00:00",
            "2026-11-26 23:57:28Z",
            "2026-11-26T23:57:60Z",
            "2026-02-30T00:00:00Z",
            "2026-11-26t23:57:28z",
            " 2026-11-26T23:57:28Z",
        ] {
            assert!(parse_time(bad).is_none(), "{bad} must be refused");
        }
    }

    #[test]
    fn signatures_have_one_base64_spelling() {
        let canonical = STANDARD.encode([0u8; 64]);
        assert!(decode_signature(&canonical).is_some());
        assert!(decode_signature(canonical.trim_end_matches('=')).is_none());
        assert!(decode_signature(&STANDARD.encode([0u8; 63])).is_none());
    }
}
