//! A running ceremony: the engine, the transcript, the secrets in memory and
//! the HSM worker, behind the few calls a front end makes (sign in, confirm,
//! present a share, attest, abort, poll).
//!
//! The session carries out the engine's effects: it signs participant acts
//! with the keys they signed in with, writes every entry before the next
//! input is accepted (the transcript is the write-ahead log), and runs HSM
//! work on the worker thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

mod acts;
mod checkpoint;
mod keys;
mod resume;
mod test_hooks;

pub use checkpoint::WrittenCheckpoint;
pub use keys::KeySource;
use keys::Present;

use super::RunError;
use super::artifacts;
use super::jobs::{self, Done};
use super::original::Original;
use super::vault::Vault;
use super::worker::Worker;
use crate::engine::{Effect, Engine, Input, Need, Outcome, Purpose, Work};

use crate::script::{Ceremony, Role};
use crate::transcript::{
    self, CeremonyKey, CloseOutcome, EntryDraft, Genesis, Head, TranscriptWriter,
};

/// How a custodian hands over a share.
pub enum ShareInput {
    /// The code typed (or pasted) on the keyboard.
    Code(Zeroizing<String>),
    /// Their age-encrypted share file, opened with the key file they
    /// present for this act.
    SealedFile(PathBuf),
}

/// A short line about a written entry, for a live transcript tail.
#[derive(Debug, Clone)]
pub struct EntryNote {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub hash_hex: String,
    /// The entry's body (public, as every body is): what the screen and
    /// the headless log show people to compare.
    pub body: Value,
}

pub struct Session {
    ceremony: Ceremony,
    engine: Engine,
    ceremony_id: String,
    writer: Option<TranscriptWriter>,
    transcript_path: PathBuf,
    artifacts_dir: PathBuf,
    /// Keys held between acts: only with `keys: held-for-session`.
    present: BTreeMap<String, Present>,
    vault: Vault,
    worker: Worker<Done>,
    /// The work the worker is doing, if any.
    dispatched: Option<Work>,
    notes: Vec<EntryNote>,
    outcome: Option<Outcome>,
    started: DateTime<Utc>,
    /// The serial of the token this ceremony works on, once known.
    token_serial: Option<String>,
    /// The number of a step whose work a crash interrupted: its work is
    /// redone after reconciling what may already have happened.
    redo_step: Option<usize>,
    /// The CKA_ID the interrupted generation had planned (its work-started
    /// entry): a redo destroys objects with this id, and no other.
    orphan_key_id: Option<String>,
    /// The CKA_ID the running generation was given, recorded before the
    /// HSM was asked.
    planned_key_id: Option<String>,
    durations: Vec<(String, std::time::Duration)>,
    /// After the close: the checkpoint written, and its note while the
    /// witnesses and auditors cosign it.
    checkpoint: Option<checkpoint::Cosigning>,
    /// The earlier ceremony this one continues (a restore, a rotation).
    original: Option<Original>,
    /// Signing keys as the transcript recorded them (label -> SPKI SHA-256)
    /// and their CA certificates (label -> DER), this ceremony's and the
    /// original's: a CA step finds its key by this public key.
    key_fingerprints: BTreeMap<String, String>,
    certificates: BTreeMap<String, Vec<u8>>,
    /// The screen recording (`run --record`), until the close ends it.
    recording: Option<crate::recording::Recorder>,
    /// What the close recorded of it.
    recorded: Option<transcript::ScreenRecording>,
}

/// Where the HSM is: the module to load, and for the embedded SoftHSM2 the
/// configuration file that the process must export as SOFTHSM2_CONF before
/// any thread starts.
#[derive(Debug, Clone)]
pub struct PreparedHsm {
    pub module: PathBuf,
    pub softhsm_conf: Option<PathBuf>,
}

/// Works out which module the bindings name; for the embedded SoftHSM2,
/// writes its configuration inside `state_dir`. Touches no HSM.
pub fn prepare_hsm(ceremony: &Ceremony, state_dir: &Path) -> Result<PreparedHsm, RunError> {
    match &ceremony.bindings.value.hsm.module {
        Some(module) => Ok(PreparedHsm {
            module: module.clone(),
            softhsm_conf: None,
        }),
        None => {
            let module = std::env::var_os("KEYCEREMONY_SOFTHSM_MODULE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(crate::hsm::softhsm::DEFAULT_MODULE));
            if !module.exists() {
                return Err(RunError::Setup(format!(
                    "the embedded HSM needs SoftHSM2, and {} does not exist. Install it with: apt-get install -y softhsm2 (as root), or set KEYCEREMONY_SOFTHSM_MODULE to libsofthsm2.so",
                    module.display()
                )));
            }
            let conf = crate::hsm::softhsm::prepare(state_dir)
                .map_err(|e| RunError::Setup(e.to_string()))?;
            Ok(PreparedHsm {
                module,
                softhsm_conf: Some(conf),
            })
        }
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Session {
    /// Creates the transcript (never overwriting one) and its artifacts
    /// directory, writes the genesis entry, and starts the HSM worker. The
    /// HSM is not touched until the first HSM step.
    pub fn start(
        ceremony: Ceremony,
        hsm: &PreparedHsm,
        out_dir: &Path,
    ) -> Result<Session, RunError> {
        // Before anything is written: a restore of a key without a backup,
        // or shares the original never made, stop here.
        let original = load_original(&ceremony)?;
        let started = now();
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let script = &ceremony.script.value;
        let ceremony_id = format!(
            "{}-{}-{}",
            script.id,
            started.format("%Y%m%d"),
            hex::encode(&nonce[..3])
        );
        std::fs::create_dir_all(out_dir)
            .map_err(|e| RunError::Output(format!("{}: {e}", out_dir.display())))?;
        let refused = |e: crate::file_name::FileNameError| RunError::Refused(e.to_string());
        let transcript_path =
            crate::file_name::join(out_dir, &format!("{ceremony_id}.jsonl")).map_err(refused)?;
        let artifacts_dir = crate::file_name::join(out_dir, &ceremony_id).map_err(refused)?;
        artifacts::create_dir_new(&artifacts_dir)?;

        let key = CeremonyKey::generate();
        let (k, n) = ceremony.quorum();
        let genesis = Genesis {
            ceremony_id: ceremony_id.clone(),
            nonce: hex::encode(nonce),
            script: transcript::ScriptRef {
                id: script.id.clone(),
                version: script.version.clone(),
                title: script.title.clone(),
                sha256: ceremony.script.sha256_hex(),
            },
            bindings_sha256: ceremony.bindings.sha256_hex(),
            tool: transcript::ToolRef {
                name: env!("CARGO_PKG_NAME").into(),
                version: env!("CARGO_PKG_VERSION").into(),
                binary_sha256: binary_sha256()?,
            },
            mode: ceremony.bindings.value.mode,
            roster: ceremony
                .roster
                .iter()
                .map(|p| transcript::RosterEntry {
                    name: p.name.clone(),
                    role: p.role,
                    ssh_key: p.identity.to_openssh(),
                })
                .collect(),
            secrets: script
                .secrets
                .iter()
                .map(|s| transcript::SecretPolicy {
                    name: s.name.clone(),
                    k,
                    n,
                })
                .collect(),
            participant_keys: script.keys,
            ceremony_key: key.public_base64(),
        };
        let writer = TranscriptWriter::create(&transcript_path, key, &genesis, started)
            .map_err(|e| RunError::Output(e.to_string()))?;
        let engine = Engine::new(&ceremony);
        let mut vault = Vault::default();
        if let Some(original) = &original {
            seed_vault(&mut vault, &ceremony, original);
        }
        let mut session = Session {
            ceremony,
            engine,
            ceremony_id,
            writer: Some(writer),
            transcript_path,
            artifacts_dir,
            present: BTreeMap::new(),
            vault,
            worker: Worker::spawn(hsm.module.clone()),
            dispatched: None,
            notes: Vec::new(),
            outcome: None,
            started,
            token_serial: None,
            redo_step: None,
            orphan_key_id: None,
            planned_key_id: None,
            durations: Vec::new(),
            checkpoint: None,
            key_fingerprints: original
                .as_ref()
                .map(|o| o.fingerprints())
                .unwrap_or_default(),
            certificates: original
                .as_ref()
                .map(|o| o.certificates.clone())
                .unwrap_or_default(),
            original,
            recording: None,
            recorded: None,
        };
        session.note_head("genesis", "keyceremony", Value::Null);
        test_hooks::crash_after_entry(0);
        if let Some(original) = &session.original {
            let body = original.record();
            session.write_tool_entry("original-ceremony", body)?;
        }
        Ok(session)
    }

    pub fn ceremony(&self) -> &Ceremony {
        &self.ceremony
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn ceremony_id(&self) -> &str {
        &self.ceremony_id
    }

    pub fn transcript_path(&self) -> &Path {
        &self.transcript_path
    }

    pub fn artifacts_dir(&self) -> &Path {
        &self.artifacts_dir
    }

    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// The entries written so far, oldest first.
    pub fn notes(&self) -> &[EntryNote] {
        &self.notes
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn need(&self) -> Need {
        self.engine.need()
    }

    /// What the worker is doing and since when.
    pub fn running(&self) -> Option<(&str, std::time::Instant)> {
        self.worker.running()
    }

    /// Where a custodian's sealed share of `secret` is written.
    pub fn share_file(&self, custodian: &str, secret: &str) -> Result<PathBuf, RunError> {
        // Shares of the original ceremony's secrets are where the ceremony
        // that made their current split wrote them (the original, or the
        // latest rotation), until this ceremony reshares them.
        let dir = match &self.original {
            Some(original)
                if self.ceremony.from_original(secret) && !self.vault.reshared(secret) =>
            {
                original
                    .split(secret)
                    .map_or(&original.artifacts_dir, |s| &s.artifacts_dir)
            }
            _ => &self.artifacts_dir,
        };
        crate::file_name::join(&dir.join("shares"), &format!("{custodian}.{secret}.age"))
            .map_err(|e| RunError::Refused(e.to_string()))
    }

    pub fn original(&self) -> Option<&Original> {
        self.original.as_ref()
    }

    /// Records the screen (`run --record`): at the close the recording is
    /// ended first, and its SHA-256 written into the close entry.
    pub fn record_screen(&mut self, recorder: crate::recording::Recorder) {
        self.recording = Some(recorder);
    }

    /// The screen recording as the close entry records it, once closed.
    pub fn recorded(&self) -> Option<&transcript::ScreenRecording> {
        self.recorded.as_ref()
    }

    /// Collects a finished HSM job without blocking. Returns true when the
    /// ceremony's state changed (the screen should redraw).
    pub fn poll(&mut self) -> Result<bool, RunError> {
        let started = self.worker.running().map(|(_, at)| at);
        match self.worker.try_result() {
            Some(result) => {
                self.time_work(started);
                self.finish_work(result).map(|()| true)
            }
            None => Ok(false),
        }
    }

    /// How long each piece of HSM work took, in order: for progress
    /// estimates and the benchmark.
    pub fn work_durations(&self) -> &[(String, std::time::Duration)] {
        &self.durations
    }

    fn time_work(&mut self, started: Option<std::time::Instant>) {
        if let (Some(at), Some(work)) = (started, &self.dispatched) {
            self.durations.push((work.describe(), at.elapsed()));
        }
    }

    /// Blocks until the running HSM job finishes (the headless runner).
    pub fn wait(&mut self) -> Result<(), RunError> {
        self.dispatch();
        let started = self.worker.running().map(|(_, at)| at);
        match self.worker.wait_result() {
            Some(result) => {
                self.time_work(started);
                self.finish_work(result)
            }
            None => Ok(()),
        }
    }

    /// Starts the engine's work on the worker if it wants some and nothing
    /// is running.
    fn dispatch(&mut self) {
        if self.dispatched.is_some() {
            return;
        }
        let Need::Work(work) = self.engine.need() else {
            return;
        };
        if !work.is_for_runner() {
            return;
        }
        if let Work::GenerateKey { label, .. } = &work
            && let Err(error) = self.plan_key_id(label)
        {
            let _ = self.feed(Input::WorkFailed {
                error: error.to_string(),
            });
            return;
        }
        let job = jobs::prepare(self, &work);
        match job {
            Ok(job) => {
                let job = test_hooks::crash_in_work(&work, job);
                let job = test_hooks::slow_work(&work, job);
                self.worker.submit(work.describe(), job);
                self.dispatched = Some(work);
            }
            Err(error) => {
                // Nothing reached the HSM; the step fails with the reason.
                let _ = self.feed(Input::WorkFailed { error });
            }
        }
    }

    fn finish_work(&mut self, result: Result<Done, String>) -> Result<(), RunError> {
        let Some(work) = self.dispatched.take() else {
            return Ok(());
        };
        let input = match result.and_then(|done| jobs::record(self, &work, done)) {
            Ok(result) => Input::WorkDone { result },
            Err(error) => Input::WorkFailed { error },
        };
        self.feed(input)?;
        self.dispatch();
        Ok(())
    }

    /// Hands one input that no person signs (the tool's own: work results,
    /// an abort with no administrator) to the engine, and carries out its
    /// effects.
    fn feed(&mut self, input: Input) -> Result<(), RunError> {
        self.feed_as(input, None)
    }

    /// Hands one person's act to the engine; `present` is their key, which
    /// signs the entry the act becomes.
    fn feed_signed(&mut self, input: Input, present: &Present) -> Result<(), RunError> {
        self.feed_as(input, Some(present))
    }

    /// The engine's state changes only once the act's entry is signed: the
    /// input is tried on a copy, the one entry a person signs is signed
    /// (an agent may refuse, a hardware key may not be touched), and only
    /// then is the copy kept and the entries written.
    fn feed_as(&mut self, input: Input, present: Option<&Present>) -> Result<(), RunError> {
        let mut next = self.engine.clone();
        let effects = next
            .handle(input)
            .map_err(|e| RunError::Refused(e.to_string()))?;
        let mut signatures = Vec::new();
        for effect in &effects {
            if let Effect::Record(record) = effect
                && !record.signers.is_empty()
            {
                if !signatures.is_empty() {
                    // Each act is one entry; a second signed entry could
                    // not be signed before the first is written.
                    return Err(RunError::Refused(
                        "internal: one act produced two signed entries".into(),
                    ));
                }
                signatures = self.sign_record(record, present)?;
            }
        }
        self.engine = next;
        for effect in effects {
            match effect {
                Effect::Record(record) => {
                    let signed = if record.signers.is_empty() {
                        None
                    } else {
                        Some(std::mem::take(&mut signatures))
                    };
                    self.write(record, signed)?
                }
                Effect::Close(outcome) => self.close(outcome)?,
            }
        }
        if self
            .redo_step
            .is_some_and(|n| n != self.engine.current().number)
        {
            self.redo_step = None;
        }
        Ok(())
    }

    /// The participant signatures of `record`, the next entry: by the key
    /// presented for this act, which must be the one person it names.
    fn sign_record(
        &self,
        record: &crate::engine::Record,
        present: Option<&Present>,
    ) -> Result<Vec<Value>, RunError> {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| RunError::Refused("the transcript is closed".into()))?;
        let Value::Object(body) = &record.body else {
            return Err(RunError::Refused(
                "internal: a body that is not an object".into(),
            ));
        };
        let mut signatures = Vec::new();
        for (name, purpose) in &record.signers {
            let present = present
                .filter(|p| {
                    self.ceremony
                        .participant(name)
                        .is_some_and(|person| &person.identity == p.identity.public())
                })
                .ok_or_else(|| {
                    RunError::Refused(format!("{name} must present their key for this act"))
                })?;
            let purpose = match purpose {
                Purpose::SignIn => transcript::Purpose::SignIn,
                Purpose::Confirm => transcript::Purpose::Confirm,
                Purpose::Attest => transcript::Purpose::Attest,
            };
            let message = writer
                .act_message(purpose, &record.actor, record.kind, body)
                .map_err(|e| RunError::Output(e.to_string()))?;
            let signature = present
                .identity
                .sign(&message)
                .map_err(|e| RunError::Refused(format!("{name}: {e}")))?;
            signatures.push(json!({
                "participant": name,
                "purpose": purpose.as_str(),
                "signature": base64_encode(&signature.to_bytes()),
            }));
        }
        Ok(signatures)
    }

    fn write(
        &mut self,
        record: crate::engine::Record,
        signatures: Option<Vec<Value>>,
    ) -> Result<(), RunError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| RunError::Refused("the transcript is closed".into()))?;
        let mut body = record.body;
        if let Some(signatures) = signatures {
            body["signatures"] = Value::Array(signatures);
        }
        let kind = record.kind.to_string();
        let actor = record.actor.clone();
        writer
            .append(
                EntryDraft {
                    actor: record.actor,
                    kind: kind.clone(),
                    body: body.clone(),
                },
                now(),
            )
            .map_err(|e| RunError::Output(e.to_string()))?;
        self.note_head(&kind, &actor, body);
        test_hooks::crash_after_entry(self.notes.last().map_or(0, |n| n.seq));
        Ok(())
    }

    /// Writes an entry of the tool's own (no participant signs it).
    pub(in crate::runner) fn write_tool_entry(
        &mut self,
        kind: &'static str,
        body: Value,
    ) -> Result<(), RunError> {
        self.write(
            crate::engine::Record {
                actor: transcript::TOOL_ACTOR.into(),
                kind,
                body,
                signers: vec![],
            },
            None,
        )
    }

    fn close(&mut self, outcome: Outcome) -> Result<(), RunError> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| RunError::Refused("the transcript is already closed".into()))?;
        let close = match &outcome {
            Outcome::Completed => CloseOutcome::Completed,
            Outcome::Aborted { reason } => CloseOutcome::Aborted {
                reason: reason.clone(),
            },
        };
        // The recording ends before the close is written, so the close can
        // hold its hash; what the screen shows after (the cosigning of the
        // checkpoint) is not in it.
        let recorded = self.recording.take().and_then(|recorder| {
            recorder.end("the transcript closes, and its close entry records this file's SHA-256")
        });
        let (head, note) = writer
            .close_with_checkpoint(close, recorded.as_ref(), now())
            .map_err(|e| RunError::Output(e.to_string()))?;
        self.notes.push(EntryNote {
            seq: head.seq,
            time: now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            kind: "close".into(),
            actor: "keyceremony".into(),
            hash_hex: head.hex(),
            body: Value::Null,
        });
        // The ceremony's secrets are no longer needed; keys held for the
        // session stay until their holders have cosigned.
        self.vault = Vault::default();
        self.outcome = Some(outcome);
        self.recorded = recorded;
        let path = self
            .transcript_path
            .with_file_name(format!("{}.checkpoint", self.ceremony_id));
        self.checkpoint = Some(checkpoint::Cosigning::start(path, note)?);
        Ok(())
    }

    /// The checkpoint written at the close, once the ceremony has closed.
    pub fn checkpoint(&self) -> Option<WrittenCheckpoint> {
        self.checkpoint.as_ref().map(|c| c.written(&self.engine))
    }

    fn note_head(&mut self, kind: &str, actor: &str, body: Value) {
        if let Some(w) = &self.writer {
            let head: Head = w.head();
            self.notes.push(EntryNote {
                seq: head.seq,
                time: now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                kind: kind.to_string(),
                actor: actor.to_string(),
                hash_hex: head.hex(),
                body,
            });
        }
    }

    /// Draws the CKA_ID of the key about to be generated and records it
    /// (a `work-started` entry) before the HSM is asked: after a crash, the
    /// redo finds what this generation made by that id, and nothing else.
    fn plan_key_id(&mut self, label: &str) -> Result<(), RunError> {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let id = hex::encode(id);
        let step = self.engine.current();
        let body = json!({
            "step": step.id,
            "number": step.number,
            "work": "generate-key",
            "label": label,
            "key_id": id,
        });
        self.write_tool_entry("work-started", body)?;
        self.planned_key_id = Some(id);
        Ok(())
    }

    pub(in crate::runner) fn planned_key_id(&self) -> Option<&str> {
        self.planned_key_id.as_deref()
    }

    pub(in crate::runner) fn orphan_key_id(&self) -> Option<String> {
        self.orphan_key_id.clone()
    }

    /// A generation's result is in the transcript: nothing of it is an
    /// orphan any more.
    pub(in crate::runner) fn generation_recorded(&mut self) {
        self.planned_key_id = None;
        self.orphan_key_id = None;
    }

    // Accessors for the job preparation and recording code in `jobs`.
    pub(in crate::runner) fn key_fingerprint(&self, label: &str) -> Option<&str> {
        self.key_fingerprints.get(label).map(String::as_str)
    }

    pub(in crate::runner) fn remember_key(&mut self, label: &str, spki_sha256: &str) {
        self.key_fingerprints
            .insert(label.to_string(), spki_sha256.to_string());
    }

    pub(in crate::runner) fn certificate(&self, label: &str) -> Option<&[u8]> {
        self.certificates.get(label).map(Vec::as_slice)
    }

    pub(in crate::runner) fn remember_certificate(&mut self, label: &str, der: Vec<u8>) {
        self.certificates.insert(label.to_string(), der);
    }

    pub(in crate::runner) fn vault(&self) -> &Vault {
        &self.vault
    }

    pub(in crate::runner) fn vault_mut(&mut self) -> &mut Vault {
        &mut self.vault
    }

    /// Whether the work about to run redoes work a crash interrupted.
    pub(in crate::runner) fn redoing(&self) -> bool {
        self.redo_step == Some(self.engine.current().number)
    }

    pub(in crate::runner) fn token_serial(&self) -> Option<&str> {
        self.token_serial.as_deref()
    }

    pub(in crate::runner) fn set_token_serial(&mut self, serial: &str) {
        if !serial.trim().is_empty() {
            self.token_serial = Some(serial.trim().to_string());
        }
    }

    pub(in crate::runner) fn holders_for_split(&self) -> Vec<(String, String)> {
        self.ceremony
            .holders(Role::Custodian)
            .iter()
            .map(|p| (p.name.clone(), p.identity.to_openssh()))
            .collect()
    }
}

pub(in crate::runner) fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn binary_sha256() -> Result<String, RunError> {
    let exe = std::env::current_exe()
        .map_err(|e| RunError::Setup(format!("cannot locate the running binary: {e}")))?;
    // Streamed: a debug build is over 100 MB, and reading it whole was the
    // largest allocation of a ceremony.
    let unreadable = |e: std::io::Error| RunError::Setup(format!("{}: {e}", exe.display()));
    let mut file = std::fs::File::open(&exe).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer).map_err(unreadable)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the original ceremony the bindings name, and checks that it has
/// what this script will ask of it: every `from: original` secret split,
/// and a backup of every key a restore-key step restores.
pub(super) fn load_original(ceremony: &Ceremony) -> Result<Option<Original>, RunError> {
    let Some(path) = ceremony.original_transcript() else {
        return Ok(None);
    };
    let mut original = Original::load(&path)?;
    // Each rotation verified and applied in order: the latest split of a
    // secret is the one whose shares count.
    for rotation in ceremony.rotation_transcripts() {
        original.apply_rotation(Original::load(&rotation)?)?;
    }
    // The key's backup first: without one, no share matters.
    for step in &ceremony.script.value.steps {
        if let Some(restore) = &step.restore_key {
            let (_, wrapped) = original.backup(&restore.label).map_err(RunError::Setup)?;
            if !wrapped.file.is_file() {
                return Err(RunError::Setup(format!(
                    "the backup of `{}` should be at {}, and is not: bring the original ceremony's backup directory",
                    restore.label,
                    wrapped.file.display()
                )));
            }
        }
    }
    for secret in ceremony
        .script
        .value
        .secrets
        .iter()
        .filter(|d| d.from.is_some())
    {
        original.split(&secret.name).map_err(RunError::Setup)?;
    }
    Ok(Some(original))
}

/// The original's splits, as if they had been made here: the custodians
/// recombine them with their original shares.
pub(super) fn seed_vault(vault: &mut Vault, ceremony: &Ceremony, original: &Original) {
    for secret in ceremony
        .script
        .value
        .secrets
        .iter()
        .filter(|d| d.from.is_some())
    {
        if let Ok(split) = original.split(&secret.name) {
            vault.restore_split(&secret.name, split.record.clone(), split.holders.clone());
            if let Some(length) = split.pin_length {
                vault.fix_pin_length(&secret.name, length);
            }
        }
        if let Some(sealed) = original.sealed_pins.get(&secret.name) {
            vault.store_sealed(sealed.clone());
        }
    }
}
