//! `keyceremony verify --json`: the verdict for machines. The fields are
//! documented in docs/transcript.md section 10 and only ever added to;
//! `format` names the version of this shape.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::checks::ArtifactStatus;
use super::verdict::{CheckpointStatus, Status, Verdict};
use crate::transcript::{CloseOutcome, Incompleteness, Outcome};

/// The version of the JSON shape.
pub const VERDICT_FORMAT: &str = "keyceremony-verdict/1";

pub fn verdict_json(verdict: &Verdict) -> Value {
    let status = verdict.status();
    let violation = verdict
        .violation
        .as_ref()
        .or(match &verdict.outcome {
            Outcome::Tampered(v) => Some(v),
            _ => None,
        })
        .map(|v| json!({ "line": v.line, "rule": v.rule.name(), "detail": v.detail }));
    let incomplete = match &verdict.outcome {
        Outcome::Incomplete(_, why) => Some(match why {
            Incompleteness::NoClose => "no-close",
            Incompleteness::UnterminatedLastLine { .. } => "unterminated-last-line",
        }),
        _ => None,
    };
    let ceremony = verdict.summary().map(|s| {
        let (outcome, reason) = match &s.closed {
            Some(CloseOutcome::Completed) => (Some("completed"), None),
            Some(CloseOutcome::Aborted { reason }) => (Some("aborted"), Some(reason.clone())),
            None => (None, None),
        };
        json!({
            "id": s.genesis.ceremony_id,
            "mode": s.genesis.mode.to_string(),
            "script_id": s.genesis.script.id,
            "script_version": s.genesis.script.version,
            "script_sha256": s.genesis.script.sha256,
            "entries": s.entries,
            "started": s.started.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "last_time": s.last_time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "outcome": outcome,
            "abort_reason": reason,
            "head": s.head.hex(),
            "tree_root": STANDARD.encode(s.tree_root),
            "steps_witnessed": verdict.facts.steps.len(),
            "attested_by": verdict.facts.attested_by,
            "keys": verdict.facts.keys.iter().map(|k| json!({
                "label": k.label, "algorithm": k.algorithm, "spki_sha256": k.spki_sha256,
            })).collect::<Vec<_>>(),
            "participant_keys": s.genesis.participant_keys.as_str(),
            "roster": s.genesis.roster.iter().map(|p| json!({
                "name": p.name,
                "role": p.role.as_str(),
                "fingerprint": crate::identity::PublicIdentity::from_openssh(&p.ssh_key)
                    .map(|k| k.fingerprint())
                    .unwrap_or_default(),
            })).collect::<Vec<_>>(),
        })
    });
    let checkpoint = match &verdict.checkpoint {
        CheckpointStatus::Skipped => json!({ "status": "skipped" }),
        CheckpointStatus::NotFound { .. } => json!({ "status": "not-found" }),
        CheckpointStatus::NotChecked { path } => {
            json!({ "status": "not-checked", "path": path.as_ref().map(|p| p.display().to_string()) })
        }
        CheckpointStatus::Failed { path } => {
            json!({ "status": "failed", "path": path.display().to_string() })
        }
        CheckpointStatus::Checked { path, checked } => json!({
            "status": "checked",
            "path": path.display().to_string(),
            "origin": checked.checkpoint.origin,
            "tree_size": checked.checkpoint.size,
            "root": STANDARD.encode(checked.checkpoint.root),
            "cosigned_by": checked.cosigned_by,
            "not_cosigned": checked.not_cosigned,
            "ignored_signatures": checked.ignored,
        }),
    };
    let script = verdict
        .script
        .as_ref()
        .map(|(path, sha256)| json!({ "path": path.display().to_string(), "sha256": sha256 }));
    let artifacts: Vec<Value> = verdict
        .artifacts
        .iter()
        .map(|a| {
            let status = match &a.status {
                ArtifactStatus::Matches => "matches",
                ArtifactStatus::Missing => "missing",
                ArtifactStatus::Differs { .. } => "differs",
            };
            json!({ "line": a.artifact.line, "file": a.artifact.file, "sha256": a.artifact.sha256, "status": status })
        })
        .collect();
    json!({
        "format": VERDICT_FORMAT,
        "transcript": verdict.transcript.display().to_string(),
        "verdict": status.as_str(),
        "exit_code": if status == Status::Valid { 0 } else { 1 },
        "violation": violation,
        "incomplete": incomplete,
        "ceremony": ceremony,
        "checkpoint": checkpoint,
        "script": script,
        "artifacts": artifacts,
        "recording": super::recording::declared_json(&verdict.facts),
        "trust_anchors": verdict.anchors.iter().map(|a| match a {
            super::anchors::Anchor::Bindings { path, sha256 } => {
                json!({ "kind": "bindings", "path": path.display().to_string(), "sha256": sha256 })
            }
            super::anchors::Anchor::Roster { path } => {
                json!({ "kind": "roster", "path": path.display().to_string() })
            }
        }).collect::<Vec<_>>(),
    })
}
