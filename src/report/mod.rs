//! What an auditor reads: facts gathered from a transcript while it is
//! verified, and the short verdict `keyceremony verify` prints.
//!
//! Facts come only from entries that verified; the verdict says whether the
//! whole transcript can be trusted, so a report of a tampered transcript
//! shows the violation, never the facts.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::transcript::{self, CloseOutcome, Outcome, TranscriptError, VerifiedEntry, pgp_words};

/// A key whose public part the transcript records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFact {
    pub label: String,
    pub algorithm: String,
    pub spki_sha256: String,
    pub file: Option<String>,
}

/// What happened, as the verified entries tell it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// (number, step id, witness) of every step a witness confirmed.
    pub steps: Vec<(u64, String, String)>,
    pub keys: Vec<KeyFact>,
    /// Who cosigned the head at attestation steps.
    pub attested_by: Vec<String>,
    /// Failed steps, refused shares, aborts: deviations an auditor must read.
    pub incidents: Vec<String>,
}

impl Facts {
    pub fn observe(&mut self, e: &VerifiedEntry) {
        let text = |k: &str| e.body.get(k).and_then(Value::as_str).unwrap_or("");
        match e.kind.as_str() {
            "confirm" if text("as") == "witness" => {
                let number = e.body.get("number").and_then(Value::as_u64).unwrap_or(0);
                self.steps
                    .push((number, text("step").into(), e.actor.clone()));
            }
            "attestation" => {
                self.attested_by
                    .extend(e.signatures.iter().map(|s| s.participant.clone()));
            }
            "step-failed" => self.incidents.push(format!(
                "line {}: step `{}` failed: {}",
                e.line,
                text("step"),
                text("error")
            )),
            "share-rejected" => self.incidents.push(format!(
                "line {}: a share presented by {} was refused: {}",
                e.line,
                text("custodian"),
                text("reason")
            )),
            "exception" => self.incidents.push(format!(
                "line {}: exception at step `{}`, recorded by {}: expected {}; happened {}; decision {}",
                e.line,
                text("step"),
                e.actor,
                text("expected"),
                text("happened"),
                text("decision")
            )),
            "retry" => self
                .incidents
                .push(format!("line {}: step `{}` retried by {}", e.line, text("step"), e.actor)),
            "resume" => self.incidents.push(format!(
                "line {}: resumed after a crash under a new ceremony key",
                e.line
            )),
            "interrupted" => self.incidents.push(format!(
                "line {}: step `{}` was interrupted ({}) and is redone",
                e.line,
                text("step"),
                text("reason")
            )),
            "abort" => self.incidents.push(format!(
                "line {}: aborted by {} at step `{}`: {}",
                e.line,
                e.actor,
                text("step"),
                text("reason")
            )),
            _ => {}
        }
        if let Some(pk) = e.body.get("public_key").and_then(Value::as_object) {
            let get = |k: &str| pk.get(k).and_then(Value::as_str).map(String::from);
            let fact = KeyFact {
                label: text("label").to_string(),
                algorithm: get("algorithm").unwrap_or_default(),
                spki_sha256: get("spki_sha256").unwrap_or_default(),
                file: get("file"),
            };
            // The export step repeats the key the generate step recorded;
            // keep one line per key, with the file once it exists.
            match self
                .keys
                .iter_mut()
                .find(|k| k.label == fact.label && k.spki_sha256 == fact.spki_sha256)
            {
                Some(known) => {
                    if known.file.is_none() {
                        known.file = fact.file;
                    }
                }
                None => self.keys.push(fact),
            }
        }
    }
}

/// Verifies a transcript file and gathers its facts in one pass.
pub fn verify(path: &Path) -> Result<(Outcome, Facts), TranscriptError> {
    let mut facts = Facts::default();
    let outcome = transcript::verify_file_visiting(path, &mut |e| facts.observe(e))?;
    Ok((outcome, facts))
}

/// Free text from a transcript may hold control characters; never let it
/// drive the auditor's terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// The verdict as `keyceremony verify` prints it, and whether it is valid.
pub fn verify_summary(outcome: &Outcome, facts: &Facts) -> (String, bool) {
    let mut out = String::new();
    let summary = match outcome {
        Outcome::Tampered(v) => {
            let _ = writeln!(out, "TAMPERED: {}", clean(&v.to_string()));
            let _ = writeln!(
                out,
                "The transcript is not what the ceremony wrote; nothing in it can be trusted."
            );
            return (out, false);
        }
        Outcome::Incomplete(summary, why) => {
            let _ = writeln!(out, "INCOMPLETE: {why}");
            let _ = writeln!(
                out,
                "Every line present verifies, but the ceremony never closed: it crashed, is still running, or its end was cut off."
            );
            summary
        }
        Outcome::Valid(summary) => {
            let how = match &summary.closed {
                Some(CloseOutcome::Aborted { reason }) => {
                    format!("VALID, ceremony ABORTED: {}", clean(reason))
                }
                _ => "VALID: ceremony completed".into(),
            };
            let _ = writeln!(out, "{how}");
            summary
        }
    };
    let g = &summary.genesis;
    let _ = writeln!(out, "ceremony:   {} ({})", g.ceremony_id, g.mode);
    let _ = writeln!(
        out,
        "script:     {} version {} \"{}\"",
        g.script.id,
        clean(&g.script.version),
        clean(&g.script.title)
    );
    let _ = writeln!(out, "            sha256 {}", g.script.sha256);
    let _ = writeln!(
        out,
        "entries:    {} from {} to {}",
        summary.entries,
        summary.started.format("%Y-%m-%dT%H:%M:%SZ"),
        summary.last_time.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let _ = writeln!(
        out,
        "roster:     {}",
        g.roster
            .iter()
            .map(|p| format!("{} ({})", p.name, p.role))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "steps witnessed: {}", facts.steps.len());
    for (number, id, witness) in &facts.steps {
        let _ = writeln!(out, "  {number:>2}. {id} (witness: {witness})");
    }
    if !facts.keys.is_empty() {
        let _ = writeln!(out, "keys:");
    }
    for k in &facts.keys {
        let _ = writeln!(out, "  {} {}", clean(&k.label), clean(&k.algorithm));
        let _ = writeln!(out, "    SPKI SHA-256 {}", k.spki_sha256);
        if let Ok(bytes) = hex::decode(&k.spki_sha256) {
            let _ = writeln!(out, "    in words: {}", pgp_words(&bytes));
        }
        if let Some(f) = &k.file {
            let _ = writeln!(out, "    file: {}", clean(f));
        }
    }
    if !facts.attested_by.is_empty() {
        let _ = writeln!(out, "attested by: {}", facts.attested_by.join(", "));
    }
    for i in &facts.incidents {
        let _ = writeln!(out, "incident: {}", clean(i));
    }
    let _ = writeln!(
        out,
        "final head: {} (entry {})",
        summary.head.hex(),
        summary.head.seq
    );
    (out, matches!(outcome, Outcome::Valid(_)))
}
