//! Crash recovery: the transcript is the write-ahead log.
//!
//! `Session::resume` verifies an unfinished transcript, replays it into a
//! fresh engine, compares the token with what the transcript recorded
//! (before anything is written), then hands the transcript to a new
//! ceremony key (the old one died with the crashed process) under the
//! administrator's signature, and carries on under the same ceremony id.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::{EntryNote, PreparedHsm, Present, Session, now};
use crate::engine::{Effect, Engine, Record};
use crate::hsm::FoundPublicKey;
use crate::identity::SigningIdentity;
use crate::quorum::SplitRecord;
use crate::runner::RunError;
use crate::runner::vault::{Holder, Vault};
use crate::runner::worker::Worker;
use crate::script::{Ceremony, Role};
use crate::transcript::{
    self, CeremonyKey, Outcome, ParticipantSignature, Purpose, TranscriptWriter,
};

/// One verified entry, as the replay and the restore need it.
struct Logged {
    seq: u64,
    time: String,
    kind: String,
    actor: String,
    body: Value,
    hash: String,
}

fn refused(message: impl Into<String>) -> RunError {
    RunError::Refused(message.into())
}

impl Session {
    /// Resumes the ceremony of `transcript`. `administrator_key` authorizes
    /// the new ceremony key; it must be the administrator's roster key.
    pub fn resume(
        ceremony: Ceremony,
        hsm: &PreparedHsm,
        transcript: &Path,
        administrator_key: &Path,
    ) -> Result<Session, RunError> {
        let (logged, summary) = read_verified(transcript)?;
        let genesis = &summary.genesis;
        if genesis.script.sha256 != ceremony.script.sha256_hex() {
            return Err(refused(format!(
                "{} was written for script {} (SHA-256 {}), not {}: resume with the same script",
                transcript.display(),
                genesis.script.id,
                genesis.script.sha256,
                ceremony.script.path.display()
            )));
        }
        if genesis.bindings_sha256 != ceremony.bindings.sha256_hex() {
            return Err(refused(format!(
                "{} was written with other bindings (SHA-256 {}): resume with the same bindings",
                transcript.display(),
                genesis.bindings_sha256
            )));
        }

        let mut engine = Engine::new(&ceremony);
        for e in logged.iter().skip(1) {
            engine
                .replay(&e.kind, &e.actor, &e.body)
                .map_err(|err| refused(format!("line {}: {err}", e.seq + 1)))?;
        }
        if engine.is_finished() {
            return Err(refused("the ceremony already ended; nothing to resume"));
        }

        let admin = ceremony
            .holders(Role::Administrator)
            .first()
            .map(|p| p.name.clone())
            .ok_or_else(|| refused("the roster has no administrator"))?;
        let admin_identity = SigningIdentity::load(administrator_key)
            .map_err(|e| refused(format!("{}: {e}", administrator_key.display())))?;
        if Some(admin_identity.public()) != ceremony.participant(&admin).map(|p| &p.identity) {
            return Err(refused(format!(
                "{} is not the administrator {admin}'s roster key: only the administrator resumes a ceremony",
                administrator_key.display()
            )));
        }

        let restored = Restored::from(&logged)?;
        // Compare the token with the transcript before writing anything: a
        // recorded key that is missing or different stops the resume.
        let mut worker = Worker::spawn(hsm.module.clone());
        let reconciliation = reconcile(&mut worker, &restored)?;

        let writer = TranscriptWriter::resume(transcript, CeremonyKey::generate(), now(), &|m| {
            vec![ParticipantSignature::new(
                &admin,
                Purpose::Resume,
                &admin_identity.sign(m),
            )]
        })
        .map_err(|e| RunError::Output(e.to_string()))?;

        let artifacts_dir = transcript
            .parent()
            .unwrap_or(Path::new("."))
            .join(&genesis.ceremony_id);
        let original = super::load_original(&ceremony)?;
        let mut key_fingerprints = original
            .as_ref()
            .map(|o| o.fingerprints())
            .unwrap_or_default();
        key_fingerprints.extend(restored.keys.clone());
        let mut certificates = original
            .as_ref()
            .map(|o| o.certificates.clone())
            .unwrap_or_default();
        let transcript_dir = transcript.parent().unwrap_or(Path::new("."));
        for (key, (file, sha256)) in &restored.certificates {
            let path = transcript_dir.join(file);
            let pem = std::fs::read_to_string(&path)
                .map_err(|e| refused(format!("the certificate {}: {e}", path.display())))?;
            let der = pem_der(&pem)
                .filter(|der| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(der)) == *sha256)
                .ok_or_else(|| {
                    refused(format!(
                        "{} is not the certificate the transcript recorded",
                        path.display()
                    ))
                })?;
            certificates.insert(key.clone(), der);
        }
        let mut vault = Vault::default();
        if let Some(original) = &original {
            super::seed_vault(&mut vault, &ceremony, original);
        }
        if let Some(length) = restored.pin_length {
            vault.set_pin_length(length);
        }
        for (name, (record, holders)) in restored.splits {
            vault.restore_split(&name, record, holders);
        }
        // In transcript order: a replacement forgets an earlier seal.
        for fact in restored.sealed_pins {
            vault.observe_sealed(fact);
        }
        let mut session = Session {
            ceremony_id: genesis.ceremony_id.clone(),
            ceremony,
            engine,
            writer: Some(writer),
            transcript_path: transcript.to_path_buf(),
            artifacts_dir,
            present: BTreeMap::<String, Present>::new(),
            vault,
            worker,
            dispatched: None,
            notes: logged
                .iter()
                .map(|e| EntryNote {
                    seq: e.seq,
                    time: e.time.clone(),
                    kind: e.kind.clone(),
                    actor: e.actor.clone(),
                    hash_hex: e.hash.clone(),
                })
                .collect(),
            outcome: None,
            started: summary.started,
            token_serial: restored.serial,
            redo_step: None,
            durations: Vec::new(),
            checkpoint: None,
            // The keys and certificates recorded before the crash, beside
            // the original's: a CA step after the resume finds them.
            key_fingerprints,
            certificates,
            original,
        };
        session.note_head("resume", "keyceremony");
        session.write(Record {
            actor: "keyceremony".into(),
            kind: "reconcile",
            body: reconciliation,
            signers: vec![],
        })?;
        let interrupted = session.engine.restart();
        if !interrupted.is_empty() {
            session.redo_step = Some(session.engine.current().number);
        }
        for effect in interrupted {
            if let Effect::Record(record) = effect {
                session.write(record)?;
            }
        }
        Ok(session)
    }
}

fn read_verified(path: &Path) -> Result<(Vec<Logged>, transcript::Summary), RunError> {
    let mut logged = Vec::new();
    let outcome = transcript::verify_file_visiting(path, &mut |e| {
        logged.push(Logged {
            seq: e.seq,
            time: e.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            body: Value::Object(e.body.clone()),
            hash: e.head.hex(),
        })
    })
    .map_err(|e| RunError::Setup(e.to_string()))?;
    match outcome {
        Outcome::Tampered(v) => Err(refused(format!(
            "{} does not verify ({v}): a tampered transcript cannot be resumed",
            path.display()
        ))),
        Outcome::Valid(_) => Err(refused(format!(
            "{} is closed: the ceremony ended, there is nothing to resume",
            path.display()
        ))),
        Outcome::Incomplete(summary, _) => Ok((logged, summary)),
    }
}

/// What the runner knew before the crash, from the transcript's public
/// facts: splits and who holds which share, the PIN length, the token.
#[derive(Default)]
struct Restored {
    splits: BTreeMap<String, (SplitRecord, Vec<Holder>)>,
    sealed_pins: Vec<super::super::vault::SealedPinFact>,
    pin_length: Option<usize>,
    serial: Option<String>,
    /// Keys the transcript says were made: label -> SPKI SHA-256.
    keys: BTreeMap<String, String>,
    /// Root certificates made: key label -> (file, SHA-256 of the DER).
    certificates: BTreeMap<String, (String, String)>,
}

impl Restored {
    fn from(logged: &[Logged]) -> Result<Restored, RunError> {
        let mut r = Restored::default();
        for e in logged {
            let b = &e.body;
            if let Some(fact) = super::super::vault::sealed_pin_in(b).map_err(refused)? {
                r.sealed_pins.push(fact);
            }
            if let Some(serial) = b["token"]["serial"].as_str().filter(|s| !s.is_empty()) {
                r.serial = Some(serial.to_string());
            }
            if e.kind == "check-hsm"
                && let (Some(min), Some(max)) = (
                    b["token"]["min_pin_len"].as_u64(),
                    b["token"]["max_pin_len"].as_u64(),
                )
            {
                r.pin_length = crate::quorum::pin_length(min as usize, max as usize).ok();
            }
            if e.kind == "split-secret"
                && let Ok(record) = serde_json::from_value::<SplitRecord>(b["split"].clone())
            {
                if let Some(length) = b["pin_length"].as_u64() {
                    r.pin_length = Some(length as usize);
                }
                let holders = b["holders"]
                    .as_array()
                    .map(|hs| {
                        hs.iter()
                            .filter_map(|h| {
                                Some(Holder {
                                    custodian: h["custodian"].as_str()?.to_string(),
                                    index: u8::try_from(h["index"].as_u64()?).ok()?,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                r.splits
                    .insert(record.secret.as_str().to_string(), (record, holders));
            }
            if e.kind == "root-certificate"
                && let (Some(key), Some(file), Some(sha)) =
                    (b["key"].as_str(), b["file"].as_str(), b["sha256"].as_str())
            {
                r.certificates
                    .insert(key.to_string(), (file.to_string(), sha.to_string()));
            }
            if e.kind == "restore-key"
                && let (Some(label), Some(sha)) = (b["label"].as_str(), b["spki_sha256"].as_str())
            {
                r.keys.insert(label.to_string(), sha.to_string());
            }
            if e.kind == "generate-key"
                && let (Some(label), Some(sha)) =
                    (b["label"].as_str(), b["public_key"]["spki_sha256"].as_str())
            {
                r.keys.insert(label.to_string(), sha.to_string());
            }
        }
        Ok(r)
    }
}

/// Reads the token's public keys and compares them with the transcript.
fn reconcile(
    worker: &mut Worker<super::jobs::Done>,
    restored: &Restored,
) -> Result<Value, RunError> {
    let Some(serial) = restored.serial.clone() else {
        // Nothing was done to a token yet.
        return Ok(json!({ "token": "none chosen yet" }));
    };
    let found: Result<Vec<FoundPublicKey>, String> = {
        let (tx, rx) = std::sync::mpsc::channel();
        let s = serial.clone();
        worker.submit("reading the token's public keys".into(), move |state| {
            let result = state
                .ensure_token(Some(&s), None)
                .and_then(|()| state.token()?.public_keys().map_err(|e| e.to_string()));
            let _ = tx.send(result);
            Ok(super::jobs::Done::Nothing)
        });
        let _ = worker.wait_result();
        rx.recv()
            .unwrap_or_else(|_| Err("the HSM worker stopped".into()))
    };
    let found = found.map_err(|e| refused(format!("cannot read token {serial}: {e}")))?;
    let mut recorded = Vec::new();
    for (label, sha) in &restored.keys {
        let present = found
            .iter()
            .any(|k| &k.label == label && &k.public.sha256_hex == sha);
        if !present {
            return Err(refused(format!(
                "the transcript records key `{label}` (SPKI SHA-256 {sha}), but token {serial} does not hold it: this is not the ceremony's token, or the key was removed. Nothing was written; stop and investigate"
            )));
        }
        recorded.push(json!({ "label": label, "spki_sha256": sha, "present": true }));
    }
    let unrecorded: Vec<Value> = found
        .iter()
        .filter(|k| !restored.keys.contains_key(&k.label))
        .map(|k| {
            json!({
                "label": k.label,
                "id": k.id_hex,
                "spki_sha256": k.public.sha256_hex,
            })
        })
        .collect();
    Ok(json!({
        "token": serial,
        "recorded_keys": recorded,
        // Made after the last entry (a crash mid-generation): reported here,
        // never adopted; a redone generation removes it.
        "unrecorded_keys": unrecorded,
    }))
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
