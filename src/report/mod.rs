//! What an auditor reads: facts gathered from a transcript while it is
//! verified ([`facts`]), the checks beyond the chain ([`checks`]), the
//! verdict `keyceremony verify` prints as text or JSON ([`verdict`],
//! [`json`]), and the ceremony report ([`render`]).
//!
//! Facts come only from entries that verified; the verdict says whether the
//! whole transcript can be trusted, so a report of a tampered transcript
//! shows the violation, never the facts.

pub mod anchors;
pub mod checks;
pub mod facts;
pub mod json;
pub mod recording;
pub mod render;
pub mod verdict;

use std::fmt::Write as _;
use std::path::Path;

pub use checks::{ArtifactCheck, ArtifactStatus};
pub use facts::{Facts, KeyFact, RecordingFact};
pub use recording::{RecordingCheck, check_recording};
pub use verdict::{CheckpointStatus, Status, Verdict, VerifyError, VerifyOptions, verify_with};

use crate::shown::{shown, shown_lines};
use crate::transcript::{CloseOutcome, Outcome, Rule, pgp_words};

/// Verifies a transcript with the default options (the checkpoint beside
/// it, if any; no script).
pub fn verify(path: &Path) -> Result<Verdict, VerifyError> {
    verify_with(path, &VerifyOptions::default())
}

/// The verdict as `keyceremony verify` prints it, and whether it is valid.
pub fn verify_summary(verdict: &Verdict) -> (String, bool) {
    let (text, valid) = verdict_text(verdict);
    (shown_lines(&text).into_owned(), valid)
}

fn verdict_text(verdict: &Verdict) -> (String, bool) {
    let mut out = String::new();
    if let Some(v) = &verdict.violation {
        let _ = writeln!(out, "TAMPERED: {}", shown(&v.to_string()));
        let why = match v.rule {
            Rule::ScriptHash | Rule::StepOrder | Rule::RoleMissing => {
                "The transcript does not follow the script given: it is not the record of that reviewed ceremony."
            }
            Rule::Artifact => "A file beside the transcript is not the one the ceremony recorded.",
            Rule::BindingsMismatch | Rule::RosterMismatch => {
                "The transcript's roster keys are not the keys you trust: it may be a whole ceremony signed by other people under these names."
            }
            Rule::CheckpointMissing => {
                "Without its checkpoint, nothing shows that this is the transcript's real end: it may have been cut and rewritten."
            }
            _ => "The transcript is not what the ceremony wrote; nothing in it can be trusted.",
        };
        let _ = writeln!(out, "{why}");
    }
    let summary = match &verdict.outcome {
        Outcome::Tampered(v) => {
            let _ = writeln!(out, "TAMPERED: {}", shown(&v.to_string()));
            let _ = writeln!(
                out,
                "The transcript is not what the ceremony wrote; nothing in it can be trusted."
            );
            return (out, false);
        }
        Outcome::Incomplete(summary, why) => {
            if verdict.violation.is_none() {
                let _ = writeln!(out, "INCOMPLETE: {why}");
                let _ = writeln!(
                    out,
                    "Every line present verifies, but the ceremony never closed: it crashed, is still running, or its end was cut off."
                );
            }
            summary
        }
        Outcome::Valid(summary) => {
            if verdict.violation.is_none() {
                let how = match &summary.closed {
                    Some(CloseOutcome::Aborted { reason }) => {
                        format!("VALID, ceremony ABORTED: {}", shown(reason))
                    }
                    _ => "VALID: ceremony completed".into(),
                };
                let _ = writeln!(out, "{how}");
            }
            summary
        }
    };
    let facts = &verdict.facts;
    let g = &summary.genesis;
    let _ = writeln!(out, "ceremony:   {} ({})", shown(&g.ceremony_id), g.mode);
    let _ = writeln!(
        out,
        "script:     {} version {} \"{}\"",
        shown(&g.script.id),
        shown(&g.script.version),
        shown(&g.script.title)
    );
    let _ = writeln!(out, "            sha256 {}", g.script.sha256);
    match &verdict.script {
        Some((path, _)) if verdict.violation.is_none() => {
            let _ = writeln!(
                out,
                "            checked against {}: same hash, steps in order, required roles and quorums present",
                path.display()
            );
        }
        Some(_) => {}
        None => {
            let _ = writeln!(
                out,
                "            (no --script given: order of steps not checked)"
            );
        }
    }
    let _ = writeln!(
        out,
        "entries:    {} from {} to {}",
        summary.entries,
        summary.started.format("%Y-%m-%dT%H:%M:%SZ"),
        summary.last_time.format("%Y-%m-%dT%H:%M:%SZ")
    );
    // The keys are what ties the record to people: printed as ssh-keygen
    // -lf prints them, for the auditor to compare with keys they trust.
    let _ = writeln!(out, "roster:");
    for p in &g.roster {
        let fingerprint = crate::identity::PublicIdentity::from_openssh(&p.ssh_key)
            .map(|k| k.fingerprint())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<24} {:<13} {fingerprint}",
            shown(&p.name),
            p.role.as_str()
        );
    }
    let _ = writeln!(out, "{}", anchor_line(verdict));
    let _ = writeln!(out, "keys held:  {}", key_custody(g.participant_keys));
    let _ = writeln!(out, "steps witnessed: {}", facts.steps.len());
    for (number, id, witness) in &facts.steps {
        let _ = writeln!(
            out,
            "  {number:>2}. {} (witness: {})",
            shown(id),
            shown(witness)
        );
    }
    if !facts.keys.is_empty() {
        let _ = writeln!(out, "keys:");
    }
    for k in &facts.keys {
        let _ = writeln!(out, "  {} {}", shown(&k.label), shown(&k.algorithm));
        let _ = writeln!(out, "    SPKI SHA-256 {}", shown(&k.spki_sha256));
        if let Ok(bytes) = hex::decode(&k.spki_sha256) {
            let _ = writeln!(out, "    in words: {}", pgp_words(&bytes));
        }
        if let Some(f) = &k.file {
            let _ = writeln!(out, "    file: {}", shown(f));
        }
    }
    // A PIN set outside the ceremony is a fact the auditor must not miss.
    for h in &facts.hsm {
        for (key, value) in &h.fields {
            if key == "pin" {
                let _ = writeln!(
                    out,
                    "adopted PIN: step {}: {}",
                    shown(&h.step),
                    shown(value)
                );
            }
        }
    }
    if !facts.attested_by.is_empty() {
        let _ = writeln!(out, "attested by: {}", shown(&facts.attested_by.join(", ")));
    }
    for i in &facts.incidents {
        let _ = writeln!(out, "incident: {}", shown(i));
    }
    let _ = writeln!(
        out,
        "final head: {} (line {})",
        summary.head.hex(),
        summary.head.seq + 1
    );
    let _ = writeln!(out, "{}", checkpoint_line(&verdict.checkpoint));
    if let Some(recording) = &facts.recording {
        let _ = writeln!(out, "{}", recording::declared_lines(recording));
    }
    let count = |status: fn(&ArtifactStatus) -> bool| {
        verdict
            .artifacts
            .iter()
            .filter(|a| status(&a.status))
            .count()
    };
    if !verdict.artifacts.is_empty() {
        let _ = writeln!(
            out,
            "files:      {} match their recorded SHA-256, {} differ, {} not beside the transcript (not checked)",
            count(|s| *s == ArtifactStatus::Matches),
            count(|s| matches!(s, ArtifactStatus::Differs { .. })),
            count(|s| *s == ArtifactStatus::Missing),
        );
    }
    (out, verdict.status() == Status::Valid)
}

fn anchor_line(verdict: &Verdict) -> String {
    if verdict.anchors.is_empty() {
        return "trust:      NO trust anchor given: these keys are the transcript's own claim; compare the fingerprints with keys you trust, or pass --bindings FILE or --roster FILE".into();
    }
    let checked: Vec<String> = verdict
        .anchors
        .iter()
        .map(|a| match a {
            anchors::Anchor::Bindings { path, .. } => format!("the bindings {}", path.display()),
            anchors::Anchor::Roster { path } => format!("the key list {}", path.display()),
        })
        .collect();
    let failed = verdict
        .violation
        .as_ref()
        .is_some_and(|v| matches!(v.rule, Rule::BindingsMismatch | Rule::RosterMismatch));
    format!(
        "trust:      roster keys checked against {}{}",
        checked.join(" and "),
        if failed {
            ": MISMATCH (see above)"
        } else {
            ": they match"
        }
    )
}

fn checkpoint_line(status: &CheckpointStatus) -> String {
    match status {
        CheckpointStatus::Skipped => {
            "checkpoint: NOT checked (--no-checkpoint): nothing vouches that the transcript ends where it does".into()
        }
        CheckpointStatus::NotFound { .. } => {
            "checkpoint: none given or found beside the transcript: NOT checked".into()
        }
        CheckpointStatus::NotChecked { .. } => "checkpoint: not checked".into(),
        CheckpointStatus::Failed { path } => {
            format!("checkpoint: {} FAILED (see above)", path.display())
        }
        CheckpointStatus::Checked { path, checked } => {
            let mut line = format!(
                "checkpoint: {} checked: {} lines, root {}, signed by the ceremony key",
                path.display(),
                checked.checkpoint.size,
                base64_of(&checked.checkpoint.root)
            );
            if !checked.cosigned_by.is_empty() {
                line.push_str(&format!(
                    ", cosigned by {}",
                    shown(&checked.cosigned_by.join(", "))
                ));
            }
            if !checked.not_cosigned.is_empty() {
                line.push_str(&format!(
                    "; not cosigned by {} (never signed in)",
                    shown(&checked.not_cosigned.join(", "))
                ));
            }
            line
        }
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Checks that `transcript` continues the ceremony of `original`: its
/// `original-ceremony` entry names that ceremony's id, final head, entry
/// count, Merkle root (what its checkpoint signs) and file hash, and the
/// original itself verifies and completed.
pub fn original_link(transcript: &Path, original: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let mut recorded = None;
    crate::transcript::verify_file_visiting(transcript, &mut |e| {
        if e.kind == "original-ceremony" && recorded.is_none() {
            recorded = Some(serde_json::Value::Object(e.body.clone()));
        }
    })
    .map_err(|e| e.to_string())?;
    let recorded = recorded.ok_or("this transcript records no original ceremony")?;
    let bytes = crate::input::read_capped(original, crate::input::MAX_TRANSCRIPT_BYTES)
        .map_err(|e| format!("{}: {e}", original.display()))?;
    let summary = match crate::transcript::verify_file(original).map_err(|e| e.to_string())? {
        Outcome::Valid(summary) => summary,
        Outcome::Incomplete(..) => return Err("the original transcript is incomplete".into()),
        Outcome::Tampered(v) => {
            return Err(format!("the original transcript does not verify: {v}"));
        }
    };
    let have = serde_json::json!({
        "ceremony": summary.genesis.ceremony_id,
        "head": summary.head.hex(),
        "entries": summary.entries,
        "tree_root": hex::encode(summary.tree_root),
        "transcript_sha256": hex::encode(Sha256::digest(&bytes)),
    });
    for field in [
        "ceremony",
        "head",
        "entries",
        "tree_root",
        "transcript_sha256",
    ] {
        if recorded[field] != have[field] {
            return Err(format!(
                "the recorded {field} is {}, the original's is {}",
                recorded[field], have[field]
            ));
        }
    }
    Ok(format!(
        "continues ceremony {} (final head {}, {} entries, Merkle root {})",
        summary.genesis.ceremony_id,
        summary.head.hex(),
        summary.entries,
        hex::encode(summary.tree_root)
    ))
}

/// Where the participants' keys were between their acts, in the words
/// `verify` and the report use.
pub(crate) fn key_custody(custody: crate::transcript::KeyCustody) -> &'static str {
    match custody {
        crate::transcript::KeyCustody::PerAct => {
            "per act: each person presented their key for each of their acts"
        }
        crate::transcript::KeyCustody::HeldForSession => {
            "HELD FOR THE SESSION (keys: held-for-session): keys stayed in the laptop's memory from sign-in to the close; whoever held the laptop could sign for anyone signed in"
        }
    }
}
