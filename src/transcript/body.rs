//! Rules on entry bodies: participant signatures (any entry) and the close.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::entry::{Purpose, RawEntry, decode_signature, participant_message, resume_message};
use super::error::{Rule, Violation};
use super::genesis::Role;
use super::verifier::VerifiedSignature;
use super::writer::CloseOutcome;
use super::{ParticipantSignature, RESUME_KIND, TOOL_ACTOR};
use crate::identity::PublicIdentity;

pub(crate) fn check_participant_signatures(
    raw: &RawEntry,
    line: u64,
    ceremony_id: &str,
    roster: &BTreeMap<String, (PublicIdentity, Role)>,
) -> Result<Vec<VerifiedSignature>, Violation> {
    let Some(listed) = raw.body.get("signatures") else {
        return Ok(Vec::new());
    };
    let fail = |rule, detail: String| Violation::new(line, rule, detail);
    let listed: Vec<ParticipantSignature> =
        serde_json::from_value(listed.clone()).map_err(|error| {
            fail(
                Rule::Malformed,
                format!("body.signatures is not a list of participant signatures: {error}"),
            )
        })?;
    let mut seen = BTreeSet::new();
    let mut verified = Vec::with_capacity(listed.len());
    for signature in listed {
        let (identity, role) = roster.get(&signature.participant).ok_or_else(|| {
            fail(
                Rule::UnknownParticipant,
                format!(
                    "signature by {:?}, who is not in the roster",
                    signature.participant
                ),
            )
        })?;
        if !seen.insert((signature.participant.clone(), signature.purpose)) {
            return Err(fail(
                Rule::DuplicateParticipantSignature,
                format!(
                    "{:?} signs {:?} twice in one entry",
                    signature.participant,
                    signature.purpose.as_str()
                ),
            ));
        }
        let message = if signature.purpose == Purpose::Resume {
            if raw.kind != RESUME_KIND {
                return Err(fail(
                    Rule::ResumeInvalid,
                    format!("a resume signature in a {:?} entry", raw.kind),
                ));
            }
            let key = raw
                .body
                .get("ceremony_key")
                .and_then(Value::as_str)
                .unwrap_or_default();
            resume_message(ceremony_id, raw.seq, &raw.prev, key)
        } else {
            participant_message(signature.purpose, ceremony_id, raw.seq, &raw.prev)
        };
        let valid = decode_signature(&signature.signature)
            .is_some_and(|decoded| identity.verify(&message, &decoded).is_ok());
        if !valid {
            return Err(fail(
                Rule::ParticipantSignature,
                format!(
                    "the {:?} signature of {:?} does not verify for this entry",
                    signature.purpose.as_str(),
                    signature.participant
                ),
            ));
        }
        verified.push(VerifiedSignature {
            participant: signature.participant,
            role: *role,
            purpose: signature.purpose,
        });
    }
    Ok(verified)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    entries: u64,
    outcome: OutcomeName,
    #[serde(default)]
    reason: Option<String>,
    // Checked by check_participant_signatures; allowed here as in any body.
    #[serde(default, rename = "signatures")]
    _signatures: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum OutcomeName {
    Completed,
    Aborted,
}

pub(crate) fn check_close(raw: &RawEntry, line: u64) -> Result<CloseOutcome, Violation> {
    let invalid = |detail: String| Violation::new(line, Rule::CloseInvalid, detail);
    if raw.actor != TOOL_ACTOR {
        return Err(invalid(format!(
            "the close actor is {:?}, not {TOOL_ACTOR:?}",
            raw.actor
        )));
    }
    let body: CloseBody = serde_json::from_value(Value::Object(raw.body.clone()))
        .map_err(|error| invalid(format!("close body: {error}")))?;
    let outcome = match (body.outcome, body.reason) {
        (OutcomeName::Completed, None) => CloseOutcome::Completed,
        (OutcomeName::Aborted, Some(reason)) if !reason.trim().is_empty() => {
            CloseOutcome::Aborted { reason }
        }
        (OutcomeName::Completed, Some(_)) => {
            return Err(invalid("a completed close has no reason".to_owned()));
        }
        (OutcomeName::Aborted, _) => {
            return Err(invalid("an aborted close must give a reason".to_owned()));
        }
    };
    if body.entries != line {
        return Err(Violation::new(
            line,
            Rule::CloseCount,
            format!(
                "the close entry counts {} entries but is line {line}",
                body.entries
            ),
        ));
    }
    Ok(outcome)
}

/// The new ceremony key a resume entry hands the transcript to. The entry
/// must be the tool's, name a valid (not small-order) Ed25519 key, and carry
/// a resume signature (over that key) by the administrator or the witness:
/// without one, anyone who truncated the file could continue it with a key
/// of their own.
pub(crate) fn check_resume(
    raw: &RawEntry,
    line: u64,
    signatures: &[VerifiedSignature],
) -> Result<ed25519_dalek::VerifyingKey, Violation> {
    let invalid = |detail: String| Violation::new(line, Rule::ResumeInvalid, detail);
    if raw.actor != TOOL_ACTOR {
        return Err(invalid(format!(
            "the resume actor is {:?}, not {TOOL_ACTOR:?}",
            raw.actor
        )));
    }
    let text = raw
        .body
        .get("ceremony_key")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("a resume entry names no ceremony_key".to_owned()))?;
    let key = super::genesis::decode_ceremony_key(text)
        .map_err(|(_, detail)| invalid(format!("resume: {detail}")))?;
    let authorized = signatures.iter().any(|s| {
        s.purpose == Purpose::Resume && matches!(s.role, Role::Administrator | Role::Witness)
    });
    if !authorized {
        return Err(invalid(
            "no resume signature by the administrator or the witness authorizes the new key"
                .to_owned(),
        ));
    }
    Ok(key)
}
