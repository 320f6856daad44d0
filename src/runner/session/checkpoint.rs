//! The checkpoint after the close: written at once with the ceremony key's
//! signature, then cosigned by each witness and auditor who signed in at
//! any point, one at a time, each presenting their key for that
//! cosignature. The laptop never cosigns for anyone.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Session;
use super::keys::KeySource;
use crate::engine::{Engine, Input, Need};
use crate::runner::{RunError, artifacts};
use crate::transcript::checkpoint::cosigner_key_name;
use crate::transcript::note::{Note, NoteSignature};

/// The checkpoint note while its cosignatures come in.
pub(super) struct Cosigning {
    path: PathBuf,
    note: Note,
    cosigned_by: Vec<String>,
    absent: Vec<String>,
}

/// The checkpoint note written at the close: `<out>/<ceremony-id>.checkpoint`.
#[derive(Debug, Clone)]
pub struct WrittenCheckpoint {
    pub path: PathBuf,
    /// Witnesses and auditors who cosigned it.
    pub cosigned_by: Vec<String>,
    /// Witnesses and auditors who did not (yet): absent, or still to come.
    pub not_cosigned: Vec<String>,
}

impl Cosigning {
    /// Writes the note as the ceremony key signed it (O_EXCL): should the
    /// process die before the cosignatures, the checkpoint exists, and
    /// verify names who did not cosign.
    pub(super) fn start(path: PathBuf, note: Note) -> Result<Cosigning, RunError> {
        artifacts::write_new(&path, note.to_text().as_bytes())?;
        Ok(Cosigning {
            path,
            note,
            cosigned_by: Vec::new(),
            absent: Vec::new(),
        })
    }

    pub(super) fn written(&self, engine: &Engine) -> WrittenCheckpoint {
        WrittenCheckpoint {
            path: self.path.clone(),
            cosigned_by: self.cosigned_by.clone(),
            not_cosigned: engine
                .cosigners()
                .into_iter()
                .filter(|name| !self.cosigned_by.contains(name))
                .collect(),
        }
    }
}

impl Session {
    /// `participant`, a witness or auditor, cosigns the closed transcript's
    /// checkpoint with the key they present now.
    pub fn cosign(&mut self, participant: &str, key: &KeySource) -> Result<(), RunError> {
        match self.engine.need() {
            Need::Cosign { participant: p } if p == participant => {}
            need => {
                return Err(RunError::Refused(format!(
                    "{participant} cannot cosign now: {}",
                    crate::engine::describe(&need)
                )));
            }
        }
        let role = self
            .ceremony
            .participant(participant)
            .map(|p| p.role)
            .ok_or_else(|| RunError::Refused(format!("{participant} is not on the roster")))?;
        let present = self.key_for_act(participant, key)?;
        let result = (|| {
            let cosigning = self
                .checkpoint
                .as_mut()
                .ok_or_else(|| RunError::Refused("no checkpoint to cosign".into()))?;
            let signature = present
                .identity
                .sign(cosigning.note.text.as_bytes())
                .map_err(|e| RunError::Refused(format!("{participant}: {e}")))?;
            let mut note = cosigning.note.clone();
            note.signatures.push(NoteSignature::ed25519(
                &cosigner_key_name(&self.ceremony_id, role, participant),
                present.identity.public().verifying_key(),
                &signature,
            ));
            replace(&cosigning.path, note.to_text().as_bytes())?;
            cosigning.note = note;
            cosigning.cosigned_by.push(participant.to_string());
            Ok(())
        })();
        self.after_act(participant, present);
        result?;
        self.feed(Input::Cosigned {
            participant: participant.to_string(),
        })?;
        self.finish_if_done();
        Ok(())
    }

    /// `participant` is not there to cosign (they left the room). The
    /// checkpoint stays without their signature, and verify names them.
    pub fn cosigner_absent(&mut self, participant: &str) -> Result<(), RunError> {
        self.feed(Input::CosignerAbsent {
            participant: participant.to_string(),
        })?;
        if let Some(cosigning) = &mut self.checkpoint {
            cosigning.absent.push(participant.to_string());
        }
        self.finish_if_done();
        Ok(())
    }

    fn finish_if_done(&mut self) {
        if self.engine.is_finished() {
            // Nothing is signed after this: every held key goes.
            self.present.clear();
        }
    }
}

/// Replaces the checkpoint by the same note with one more signature:
/// written beside it, synced, then renamed over it, so a crash leaves one
/// whole note or the other, never a torn one.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let error = |e: std::io::Error| RunError::Output(format!("{}: {e}", path.display()));
    let partial = path.with_extension("checkpoint.partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&partial, path).map_err(error)?;
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(error)?;
    }
    Ok(())
}
