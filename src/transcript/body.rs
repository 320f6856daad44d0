//! Rules on entry bodies: participant signatures, who may sign what, the
//! resume and the close.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use super::entry::{Purpose, RawEntry, act_message, decode_signature};
use super::error::{Rule, Violation};
use super::genesis::Role;
use super::verifier::VerifiedSignature;
use super::writer::{CloseOutcome, ScreenRecording};
use super::{PERSON_KINDS, ParticipantSignature, RESUME_KIND, TOOL_ACTOR};
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
        let message = act_message(
            signature.purpose,
            ceremony_id,
            raw.seq,
            &raw.prev,
            &raw.actor,
            &raw.kind,
            &raw.body,
        )
        .map_err(|error| fail(Rule::NotCanonical, format!("the body: {error}")))?;
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

/// Who may sign what. An entry whose actor is a person is that person's
/// act: it carries exactly one signature, theirs, with the purpose its kind
/// needs, and a participant its body names is that person. An entry of the
/// tool carries no participant signature (a resume carries the resume
/// signatures [`check_resume`] checks). So no act counts without its
/// person, and no signature sits where it attests to nothing.
pub(crate) fn check_act(
    raw: &RawEntry,
    line: u64,
    signatures: &[VerifiedSignature],
) -> Result<(), Violation> {
    let fail = |detail: String| Err(Violation::new(line, Rule::ActSignature, detail));
    if raw.actor == TOOL_ACTOR {
        if PERSON_KINDS.contains(&raw.kind.as_str()) {
            return fail(format!(
                "a {:?} entry is the act of a person, but its actor is {TOOL_ACTOR:?}",
                raw.kind
            ));
        }
        if raw.kind != RESUME_KIND && !signatures.is_empty() {
            return fail(format!(
                "the tool's {:?} entry carries a signature by {:?}: a participant signs only their own acts",
                raw.kind, signatures[0].participant
            ));
        }
        return Ok(());
    }
    let purpose = Purpose::for_kind(&raw.kind);
    match signatures {
        [only] if only.participant == raw.actor && only.purpose == purpose => {}
        [] => {
            return fail(format!(
                "{:?}'s {:?} is not signed by {:?}: an act counts only with its person's signature",
                raw.actor, raw.kind, raw.actor
            ));
        }
        _ => {
            return fail(format!(
                "{:?}'s {:?} must carry exactly one signature, {:?}'s for {:?}; it carries {}",
                raw.actor,
                raw.kind,
                raw.actor,
                purpose.as_str(),
                signatures
                    .iter()
                    .map(|s| format!("{:?} ({})", s.participant, s.purpose.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    for field in ["participant", "custodian"] {
        if let Some(named) = raw.body.get(field)
            && named.as_str() != Some(raw.actor.as_str())
        {
            return fail(format!(
                "{:?}'s {:?} names {field} {named}: a person acts only for themselves",
                raw.actor, raw.kind
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    entries: u64,
    outcome: OutcomeName,
    #[serde(default)]
    reason: Option<String>,
    /// The screen recording of the run that closed (`run --record`).
    #[serde(default)]
    recording: Option<ScreenRecording>,
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
    if let Some(problem) = body.recording.as_ref().and_then(ScreenRecording::problem) {
        return Err(invalid(problem));
    }
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
/// resume signatures (over the entry, so over that key and the chain head
/// it continues) by an administrator AND a witness, and no other: the
/// administrator alone, who holds the laptop, could otherwise cut a
/// finished transcript and write it anew under a key of their own.
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
    if let Some(other) = signatures.iter().find(|s| {
        s.purpose != Purpose::Resume || !matches!(s.role, Role::Administrator | Role::Witness)
    }) {
        return Err(invalid(format!(
            "a resume carries only the administrator's and the witness's resume signatures, not {:?}'s {:?}",
            other.participant,
            other.purpose.as_str()
        )));
    }
    for role in [Role::Administrator, Role::Witness] {
        if !signatures.iter().any(|s| s.role == role) {
            return Err(invalid(format!(
                "no resume signature by the {} authorizes the new key: a resume needs both the administrator and the witness",
                role.as_str()
            )));
        }
    }
    Ok(key)
}
