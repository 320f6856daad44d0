//! Crash recovery: the transcript is the write-ahead log.
//!
//! `Session::resume` verifies an unfinished transcript, replays it into a
//! fresh engine, compares the token with what the transcript recorded
//! (before anything is written), then hands the transcript to a new
//! ceremony key (the old one died with the crashed process) under the
//! administrator's and the witness's signatures, and carries on under the
//! same ceremony id.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::{EntryNote, KeySource, PreparedHsm, Present, Session, now};
use crate::engine::{Effect, Engine, Work};
use crate::hsm::FoundPublicKey;
use crate::identity::agent::AgentKey;
use crate::identity::{ActKey, SigningIdentity};
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
    /// Resumes the ceremony of `transcript`. The administrator AND the
    /// witness authorize the new ceremony key, each with the key they
    /// present now: the administrator alone, who holds the laptop, cannot
    /// continue a transcript under a key of their own.
    ///
    /// Refused before anything is written: a transcript that does not
    /// verify or is closed; one whose checkpoint exists (the ceremony ended
    /// and its transcript was cut); one already resumed over this same cut,
    /// or resumed further than it now goes (the resume ledger beside it);
    /// one whose artifacts directory holds files no entry records and the
    /// interrupted work could not have written (later steps ran); a token
    /// that lacks a key the transcript records.
    pub fn resume(
        ceremony: Ceremony,
        hsm: &PreparedHsm,
        transcript: &Path,
        administrator: &KeySource,
        witness: &KeySource,
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
        let transcript_dir = transcript.parent().unwrap_or(Path::new("."));
        // The ceremony id is the transcript's, which anyone may have written.
        let id = crate::file_name::file_name(&genesis.ceremony_id)
            .map_err(|e| refused(format!("the transcript's ceremony id: {e}")))?;
        let checkpoint = transcript_dir.join(format!("{id}.checkpoint"));
        if checkpoint.exists() {
            return Err(refused(format!(
                "the ceremony {} closed: its checkpoint is at {}. A transcript whose checkpoint exists was cut after its close; it is never resumed. Verify it with its checkpoint instead",
                genesis.ceremony_id,
                checkpoint.display()
            )));
        }
        let ledger = ResumeLedger::beside(transcript, id);
        ledger.check(summary.entries, &summary.head.hex())?;

        let mut engine = Engine::new(&ceremony);
        for e in logged.iter().skip(1) {
            engine
                .replay(&e.kind, &e.actor, &e.body)
                .map_err(|err| refused(format!("line {}: {err}", e.seq + 1)))?;
        }
        if engine.ended().is_some() {
            return Err(refused("the ceremony already ended; nothing to resume"));
        }
        let artifacts_dir = transcript_dir.join(id);
        let interrupted = engine
            .is_working()
            .then(|| engine.current().work.clone())
            .flatten();
        check_artifacts(
            &artifacts_dir,
            transcript_dir,
            &logged,
            interrupted.as_ref(),
        )?;

        let restored = Restored::from(&logged, engine.current().number)?;
        // Compare the token with the transcript before writing anything: a
        // recorded key that is missing or different stops the resume.
        let mut worker = Worker::spawn(hsm.module.clone());
        let reconciliation = reconcile(&mut worker, &restored)?;

        let signers = [
            (Role::Administrator, administrator),
            (Role::Witness, witness),
        ]
        .into_iter()
        .map(|(role, source)| {
            let person = ceremony
                .holders(role)
                .first()
                .map(|p| (p.name.clone(), p.identity.clone()))
                .ok_or_else(|| refused(format!("the roster has no {}", role.as_str())))?;
            let key = load_authorizer(&person.0, &person.1, source)?;
            Ok((person.0, key))
        })
        .collect::<Result<Vec<_>, RunError>>()?;
        let writer = TranscriptWriter::resume(transcript, CeremonyKey::generate(), now(), &|m| {
            signers
                .iter()
                .map(|(name, key)| {
                    key.sign(m)
                        .map(|signature| {
                            ParticipantSignature::new(name, Purpose::Resume, &signature)
                        })
                        .map_err(|e| format!("{name}: {e}"))
                })
                .collect()
        })
        .map_err(|e| RunError::Output(e.to_string()))?;
        drop(signers);
        ledger.record(summary.entries, &summary.head.hex())?;

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
        for (key, (file, sha256)) in &restored.certificates {
            let path = transcript_dir.join(
                crate::file_name::relative_path(file)
                    .map_err(|e| refused(format!("the certificate's recorded file: {e}")))?,
            );
            let pem = crate::input::read_capped_text(&path, crate::input::MAX_SMALL_FILE_BYTES)
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
            // A secret this ceremony reshared is recovered from the shares
            // of its reshare, found in this ceremony's directory: after a
            // rotation the old shares give a PIN the token no longer takes.
            if restored.reshared.contains(&name) {
                vault.store_reshare(&name, record, holders);
            } else {
                vault.restore_split(&name, record, holders);
            }
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
                    body: e.body.clone(),
                })
                .collect(),
            outcome: None,
            started: summary.started,
            token_serial: restored.serial,
            redo_step: None,
            orphan_key_id: restored.orphan_key_id,
            planned_key_id: None,
            durations: Vec::new(),
            checkpoint: None,
            // The keys and certificates recorded before the crash, beside
            // the original's: a CA step after the resume finds them.
            key_fingerprints,
            certificates,
            original,
            // `run --resume` refuses `--record`: a recording of this part
            // alone would be declared as if it were the ceremony's.
            recording: None,
            recorded: None,
        };
        session.note_head("resume", "keyceremony", Value::Null);
        session.write_tool_entry("reconcile", reconciliation)?;
        let interrupted = session.engine.restart();
        if !interrupted.is_empty() {
            session.redo_step = Some(session.engine.current().number);
        }
        for effect in interrupted {
            if let Effect::Record(record) = effect {
                session.write(record, None)?;
            }
        }
        Ok(session)
    }
}

/// A resume authorizer's key, checked against the roster. Never a key held
/// in memory: there is no earlier process to have held it.
fn load_authorizer(
    name: &str,
    roster_key: &crate::identity::PublicIdentity,
    source: &KeySource,
) -> Result<ActKey, RunError> {
    let key = match source {
        KeySource::File(path) => ActKey::File(
            SigningIdentity::load(path)
                .map_err(|e| refused(format!("{name}: {}: {e}", path.display())))?,
        ),
        KeySource::Agent => ActKey::Agent(
            AgentKey::find(roster_key, None).map_err(|e| refused(format!("{name}: {e}")))?,
        ),
        KeySource::Held => {
            return Err(refused(format!(
                "{name} must present their key to authorize the resume"
            )));
        }
    };
    if key.public() != roster_key {
        return Err(refused(format!(
            "{} is not {name}'s roster key ({}): a resume is authorized by the administrator and the witness themselves",
            source.describe(),
            roster_key.fingerprint()
        )));
    }
    Ok(key)
}

/// `<out>/<ceremony-id>.resumes`: every cut a resume continued, one line
/// each (`<lines> <head hex>`). A second resume over the same cut would
/// make two different continuations of one record; a transcript shorter
/// than a cut it was once resumed at has been cut since. Both are refused.
/// (Whoever holds the laptop can delete this file: the real guard is that
/// a resume needs the witness's signature, and verify requires every
/// witness and auditor who ever signed in to cosign the checkpoint.)
struct ResumeLedger {
    path: std::path::PathBuf,
}

impl ResumeLedger {
    fn beside(transcript: &Path, ceremony_id: &str) -> ResumeLedger {
        ResumeLedger {
            path: transcript.with_file_name(format!("{ceremony_id}.resumes")),
        }
    }

    fn check(&self, lines: u64, head: &str) -> Result<(), RunError> {
        let Ok(text) =
            crate::input::read_capped_text(&self.path, crate::input::MAX_SMALL_FILE_BYTES)
        else {
            return Ok(());
        };
        for entry in text.lines() {
            let mut fields = entry.split(' ');
            let (Some(at), Some(at_head)) = (
                fields.next().and_then(|n| n.parse::<u64>().ok()),
                fields.next(),
            ) else {
                return Err(refused(format!(
                    "{} is not a resume ledger this tool wrote: stop and investigate",
                    self.path.display()
                )));
            };
            if at == lines && at_head == head {
                return Err(refused(format!(
                    "this transcript was already resumed after line {at} (see {}): resuming the same cut twice would make two different records of one ceremony",
                    self.path.display()
                )));
            }
            if at > lines {
                return Err(refused(format!(
                    "this transcript was resumed after line {at} before, and now has only {lines} lines: it was cut since (see {})",
                    self.path.display()
                )));
            }
        }
        Ok(())
    }

    fn record(&self, lines: u64, head: &str) -> Result<(), RunError> {
        use std::io::Write as _;
        let error = |e: std::io::Error| RunError::Output(format!("{}: {e}", self.path.display()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(error)?;
        file.write_all(format!("{lines} {head}\n").as_bytes())
            .map_err(error)?;
        file.sync_all().map_err(error)
    }
}

/// Every file in the ceremony's artifacts directory must be one an entry
/// records, one a redo voided, or one the interrupted work may have
/// written just before the crash. Anything else was written by steps the
/// transcript no longer shows: it was cut, not crashed.
fn check_artifacts(
    artifacts_dir: &Path,
    transcript_dir: &Path,
    logged: &[Logged],
    interrupted: Option<&Work>,
) -> Result<(), RunError> {
    let mut recorded = std::collections::BTreeSet::new();
    for e in logged {
        collect_files(&e.body, &mut recorded);
    }
    let mut found = Vec::new();
    list_files(artifacts_dir, &mut found);
    found.sort();
    for path in found {
        let relative = crate::runner::artifacts::relative(transcript_dir, &path);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if recorded.contains(&relative) || name.contains(".void") {
            continue;
        }
        let within = crate::runner::artifacts::relative(artifacts_dir, &path);
        if interrupted.is_some_and(|work| may_have_written(work, &within)) {
            continue;
        }
        return Err(refused(format!(
            "{} exists, but no entry of this transcript records it and the interrupted work could not have written it: later steps ran, so this transcript was cut, not interrupted. It is not resumed",
            path.display()
        )));
    }
    Ok(())
}

fn collect_files(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(file)) = map.get("file") {
                out.insert(file.clone());
            }
            if let Some(Value::Array(files)) = map.get("voided_files") {
                out.extend(files.iter().filter_map(Value::as_str).map(String::from));
            }
            map.values().for_each(|v| collect_files(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_files(v, out)),
        _ => {}
    }
}

fn list_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The files (relative to the artifacts directory) `work` writes: a crash
/// can leave one of them without its entry.
fn may_have_written(work: &Work, relative: &str) -> bool {
    match work {
        Work::Split { secret, .. } | Work::Reshare { secret, .. } => relative
            .strip_prefix("shares/")
            .is_some_and(|name| name.ends_with(&format!(".{secret}.age"))),
        Work::ExportPublicKey { label, .. } => relative == format!("{label}.pub.pem"),
        Work::BackupKey { label, .. } => relative == format!("backup/{label}.wrapped"),
        Work::Sign { step, .. } => relative == format!("{step}.pem"),
        _ => false,
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
    /// Secrets whose latest split is a reshare of this ceremony.
    reshared: std::collections::BTreeSet<String>,
    sealed_pins: Vec<super::super::vault::SealedPinFact>,
    pin_length: Option<usize>,
    serial: Option<String>,
    /// Keys the transcript says were made: label -> SPKI SHA-256.
    keys: BTreeMap<String, String>,
    /// Root certificates made: key label -> (file, SHA-256 of the DER).
    certificates: BTreeMap<String, (String, String)>,
    /// The CKA_ID a key generation of the interrupted step planned, when
    /// no result followed it: the only object a redo may destroy.
    orphan_key_id: Option<String>,
}

impl Restored {
    fn from(logged: &[Logged], current_step: usize) -> Result<Restored, RunError> {
        let mut r = Restored::default();
        for e in logged {
            let b = &e.body;
            let in_current_step = b["number"].as_u64() == Some(current_step as u64);
            if e.kind == "work-started" && in_current_step {
                r.orphan_key_id = b["key_id"].as_str().map(String::from);
            }
            if e.kind == "generate-key" && in_current_step {
                r.orphan_key_id = None;
            }
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
            if (e.kind == "split-secret" || e.kind == "reshare")
                && let Ok(record) = serde_json::from_value::<SplitRecord>(b["split"].clone())
            {
                if e.kind == "reshare" {
                    r.reshared.insert(record.secret.as_str().to_string());
                }
                // A reshare keeps the length of the secret it replaces (the
                // original's, for a secret from there): it says nothing of
                // this token's default.
                if e.kind == "split-secret"
                    && let Some(length) = b["pin_length"].as_u64()
                {
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
            let interrupted = restored.orphan_key_id.as_deref() == Some(k.id_hex.as_str());
            json!({
                "label": k.label,
                "id": k.id_hex,
                "spki_sha256": k.public.sha256_hex,
                "made_by": if interrupted {
                    "the interrupted generation (its recorded key id): the redo destroys it"
                } else {
                    "no generation this transcript records: left untouched"
                },
            })
        })
        .collect();
    Ok(json!({
        "token": serial,
        "recorded_keys": recorded,
        // On the token but not in the transcript: reported, never adopted.
        // Only the one the interrupted generation made (found by the key id
        // it recorded before asking the HSM) is removed by its redo.
        "unrecorded_keys": unrecorded,
    }))
}

/// The DER inside a PEM block.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
