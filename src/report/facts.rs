//! Facts gathered from a transcript's entries as they verify, one pass.
//!
//! Facts come only from entries that verified; the verdict says whether the
//! whole transcript can be trusted. What is kept grows with the ceremony's
//! steps, keys and people, never with the number of plain entries.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::transcript::{Purpose, Role, ScreenRecording, VerifiedEntry};

/// A key whose public part the transcript records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFact {
    pub label: String,
    pub algorithm: String,
    /// Hex SHA-256 of the DER SubjectPublicKeyInfo: the key's fingerprint.
    pub spki_sha256: String,
    pub file: Option<String>,
    pub line: u64,
    pub time: DateTime<Utc>,
}

/// A person's first sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInFact {
    pub name: String,
    pub role: Role,
    pub time: DateTime<Utc>,
    pub line: u64,
}

/// A confirmation of a step by its performer or its witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAct {
    pub number: u64,
    pub step: String,
    pub actor: String,
    /// `performer`, `witness` or `exception-witness`.
    pub capacity: String,
    pub time: DateTime<Utc>,
    pub line: u64,
}

/// What the HSM said about itself (check-hsm, init-token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmFact {
    pub step: String,
    pub line: u64,
    /// `token.serial`, `module.manufacturer`, ... as recorded.
    pub fields: Vec<(String, String)>,
}

/// An attestation entry: who cosigned which head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationFact {
    pub line: u64,
    pub time: DateTime<Utc>,
    /// The head they signed: the hash of the line before.
    pub head_hex: String,
    pub signers: Vec<(String, Role)>,
}

/// A deviation an auditor must read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub line: u64,
    pub time: DateTime<Utc>,
    pub text: String,
}

/// A file the transcript names with its hash (`file` + `file_sha256`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    pub line: u64,
    pub file: String,
    pub sha256: String,
}

/// The screen recording the close entry declares (`run --record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFact {
    /// The close entry's line.
    pub line: u64,
    pub recording: ScreenRecording,
}

/// What happened, as the verified entries tell it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// (number, step id, witness) of every step a witness confirmed.
    pub steps: Vec<(u64, String, String)>,
    pub acts: Vec<StepAct>,
    pub keys: Vec<KeyFact>,
    pub sign_ins: Vec<SignInFact>,
    pub hsm: Vec<HsmFact>,
    /// Who cosigned the head at attestation steps.
    pub attested_by: Vec<String>,
    pub attestations: Vec<AttestationFact>,
    /// Failed steps, refused shares, aborts: deviations an auditor must read.
    pub incidents: Vec<String>,
    pub incident_log: Vec<Incident>,
    pub artifacts: Vec<ArtifactRef>,
    /// Witnesses and auditors who signed in at any point: each of them
    /// must cosign the checkpoint (a resume does not excuse anyone, or the
    /// administrator could resume a cut transcript to shed them).
    pub cosigners_present: BTreeSet<String>,
    /// The screen recording the close declares, if any.
    pub recording: Option<RecordingFact>,
    /// Each material of a materials check, as its performer signed it:
    /// (line, step, direction, material id, number checked, new seal).
    pub materials: Vec<MaterialFact>,
    last_hash_hex: String,
    /// Who signed the last pin-typed entry, until an adopted PIN uses it.
    pin_typist: Option<String>,
}

/// One material at a materials check, from the performer's signed
/// confirmation: the number it was checked under, and going out, the
/// number of the new seal it left under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialFact {
    pub line: u64,
    pub step: String,
    pub direction: String,
    pub id: String,
    pub number: String,
    pub sealed: Option<String>,
}

impl Facts {
    pub fn observe(&mut self, e: &VerifiedEntry) {
        let text = |k: &str| e.body.get(k).and_then(Value::as_str).unwrap_or("");
        let number = e.body.get("number").and_then(Value::as_u64).unwrap_or(0);
        match e.kind.as_str() {
            "confirm" => {
                if text("as") == "witness" {
                    self.steps
                        .push((number, text("step").into(), e.actor.clone()));
                }
                self.acts.push(StepAct {
                    number,
                    step: text("step").into(),
                    actor: e.actor.clone(),
                    capacity: text("as").into(),
                    time: e.time,
                    line: e.line,
                });
                let details = e.body.get("details").cloned().unwrap_or(Value::Null);
                for m in details["materials"].as_array().into_iter().flatten() {
                    let id = m["id"].as_str().unwrap_or("").to_string();
                    self.materials.push(MaterialFact {
                        line: e.line,
                        step: text("step").into(),
                        direction: details["direction"].as_str().unwrap_or("").into(),
                        number: m["number"].as_str().unwrap_or("").into(),
                        sealed: e
                            .body
                            .get("sealed")
                            .and_then(|s| s[&id].as_str())
                            .map(String::from),
                        id,
                    });
                }
            }
            "attestation" => {
                self.attested_by
                    .extend(e.signatures.iter().map(|s| s.participant.clone()));
                self.attestations.push(AttestationFact {
                    line: e.line,
                    time: e.time,
                    head_hex: self.last_hash_hex.clone(),
                    signers: e
                        .signatures
                        .iter()
                        .map(|s| (s.participant.clone(), s.role))
                        .collect(),
                });
            }
            "check-hsm" | "init-token" | "set-user-pin" => {
                let mut fields = Vec::new();
                // The token's PINs existed before this ceremony: whoever set
                // them with the vendor's tool may still know them.
                if e.body.get("adopted").and_then(Value::as_bool) == Some(true) {
                    // Who typed it: the signer of the pin-typed entry, not
                    // the tool's own note.
                    let became = if e.body.get("replaced").and_then(Value::as_bool) == Some(true) {
                        format!(
                            "then replaced by the PIN derived from `{}`, which no one knows",
                            text("secret_name")
                        )
                    } else {
                        format!(
                            "kept, sealed under `{}`: whoever set it may still know it",
                            text("secret_name")
                        )
                    };
                    fields.push((
                        "pin".to_string(),
                        format!(
                            "existing {} PIN, set outside this ceremony with the vendor's tool; typed by {}, checked by one login, {became}",
                            text("role"),
                            self.pin_typist.take().unwrap_or_else(|| "no one on record".into()),
                        ),
                    ));
                }
                for part in ["module", "token"] {
                    if let Some(Value::Object(map)) = e.body.get(part) {
                        flatten(part, map, &mut fields);
                    }
                }
                if !fields.is_empty() {
                    self.hsm.push(HsmFact {
                        step: text("step").into(),
                        line: e.line,
                        fields,
                    });
                }
            }
            "pin-typed" => self.pin_typist = Some(e.actor.clone()),
            crate::transcript::CLOSE_KIND => {
                // The verifier checked its shape before this entry got here.
                self.recording = e
                    .body
                    .get("recording")
                    .and_then(|r| serde_json::from_value(r.clone()).ok())
                    .map(|recording| RecordingFact {
                        line: e.line,
                        recording,
                    });
            }
            _ => {}
        }
        for s in &e.signatures {
            if s.purpose == Purpose::SignIn {
                if matches!(s.role, Role::Witness | Role::Auditor) {
                    self.cosigners_present.insert(s.participant.clone());
                }
                if !self.sign_ins.iter().any(|p| p.name == s.participant) {
                    self.sign_ins.push(SignInFact {
                        name: s.participant.clone(),
                        role: s.role,
                        time: e.time,
                        line: e.line,
                    });
                }
            }
        }
        if let Some(incident) = incident(e) {
            self.incidents.push(incident.clone());
            self.incident_log.push(Incident {
                line: e.line,
                time: e.time,
                text: incident,
            });
        }
        if let Some(pk) = e.body.get("public_key").and_then(Value::as_object) {
            let get = |k: &str| pk.get(k).and_then(Value::as_str).map(String::from);
            let fact = KeyFact {
                label: text("label").to_string(),
                algorithm: get("algorithm").unwrap_or_default(),
                spki_sha256: get("spki_sha256").unwrap_or_default(),
                file: get("file"),
                line: e.line,
                time: e.time,
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
        collect_artifacts(e.line, &e.body, &mut self.artifacts);
        self.last_hash_hex = e.head.hex();
    }
}

fn incident(e: &VerifiedEntry) -> Option<String> {
    let text = |k: &str| e.body.get(k).and_then(Value::as_str).unwrap_or("");
    Some(match e.kind.as_str() {
        "step-failed" => format!(
            "line {}: step `{}` failed: {}",
            e.line,
            text("step"),
            text("error")
        ),
        "share-rejected" => format!(
            "line {}: a share presented by {} was refused: {}",
            e.line,
            text("custodian"),
            text("reason")
        ),
        "exception" => format!(
            "line {}: exception at step `{}`, recorded by {}: expected {}; happened {}; decision {}",
            e.line,
            text("step"),
            e.actor,
            text("expected"),
            text("happened"),
            text("decision")
        ),
        "retry" => format!(
            "line {}: step `{}` retried by {}",
            e.line,
            text("step"),
            e.actor
        ),
        "resume" => format!(
            "line {}: resumed after a crash under a new ceremony key, authorized by {}",
            e.line,
            e.signatures
                .iter()
                .map(|s| format!("{} ({})", s.participant, s.role))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        "interrupted" => format!(
            "line {}: step `{}` was interrupted ({}) and is redone",
            e.line,
            text("step"),
            text("reason")
        ),
        "abort" => format!(
            "line {}: aborted by {} at step `{}`: {}",
            e.line,
            e.actor,
            text("step"),
            text("reason")
        ),
        _ => return None,
    })
}

/// `prefix.key` = value for the scalar members of `map`, one level down too.
fn flatten(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in map {
        let name = format!("{prefix}.{key}");
        match value {
            Value::String(s) => out.push((name, s.clone())),
            Value::Bool(b) => out.push((name, b.to_string())),
            Value::Number(n) => out.push((name, n.to_string())),
            Value::Object(inner) if !prefix.contains('.') => flatten(&name, inner, out),
            _ => {}
        }
    }
}

/// Every object anywhere in a body holding both `file` and `file_sha256`.
fn collect_artifacts(line: u64, body: &Map<String, Value>, out: &mut Vec<ArtifactRef>) {
    if let (Some(Value::String(file)), Some(Value::String(sha256))) =
        (body.get("file"), body.get("file_sha256"))
    {
        out.push(ArtifactRef {
            line,
            file: file.clone(),
            sha256: sha256.clone(),
        });
    }
    for value in body.values() {
        collect_in_value(line, value, out);
    }
}

fn collect_in_value(line: u64, value: &Value, out: &mut Vec<ArtifactRef>) {
    match value {
        Value::Object(map) => collect_artifacts(line, map, out),
        Value::Array(items) => items.iter().for_each(|v| collect_in_value(line, v, out)),
        _ => {}
    }
}
