//! Participants' keys, one act at a time.
//!
//! An act (a sign-in, a confirmation, a share, an attestation, a
//! cosignature) is signed by its person at that moment: they present their
//! key — their key file, or their SSH agent — the session checks it is
//! their roster key, signs that one entry, and drops it. Only a script that
//! says `keys: held-for-session` keeps keys in memory from sign-in to the
//! close, and the transcript says so.

use std::path::{Path, PathBuf};

use super::Session;
use crate::identity::agent::AgentKey;
use crate::identity::{ActKey, SigningIdentity};
use crate::runner::RunError;
use crate::script::KeyCustody;

/// Where a person's key comes from for one act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Their OpenSSH ed25519 private key file, read for this act only.
    File(PathBuf),
    /// Their key, held by the SSH agent at `$SSH_AUTH_SOCK` (a hardware
    /// key behind an agent asks for its touch there).
    Agent,
    /// The key they signed in with, still in memory: only when the script
    /// says `keys: held-for-session`.
    Held,
}

impl KeySource {
    /// For messages: where the key came from.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Agent => "the SSH agent".into(),
            KeySource::Held => "the key held since sign-in".into(),
        }
    }
}

/// A person's key for the act at hand. No Debug: it may hold a private key.
pub(super) struct Present {
    pub identity: ActKey,
    /// The key file, when it came from one: it also opens the person's
    /// age-sealed share files.
    pub key_file: Option<PathBuf>,
}

impl Session {
    /// Loads `participant`'s key from `source` and checks it is the one the
    /// roster gives them: a role acts only through its roster key. A held
    /// key is taken out of the session for the act and must be given back
    /// with [`Session::after_act`].
    pub(super) fn key_for_act(
        &mut self,
        participant: &str,
        source: &KeySource,
    ) -> Result<Present, RunError> {
        let person = self
            .ceremony
            .participant(participant)
            .ok_or_else(|| RunError::Refused(format!("{participant} is not on the roster")))?;
        let roster_key = person.identity.clone();
        let present = match source {
            KeySource::Held => {
                if self.key_custody() != KeyCustody::HeldForSession {
                    return Err(RunError::Refused(format!(
                        "{participant} must present their key for this act (their key file, or their SSH agent): this ceremony keeps no key between acts"
                    )));
                }
                return self.present.remove(participant).ok_or_else(|| {
                    RunError::Refused(format!("{participant} must sign in with their key first"))
                });
            }
            KeySource::File(path) => Present {
                identity: ActKey::File(load_file(path)?),
                key_file: Some(path.clone()),
            },
            KeySource::Agent => Present {
                identity: ActKey::Agent(
                    AgentKey::find(&roster_key, None)
                        .map_err(|e| RunError::Refused(format!("{participant}: {e}")))?,
                ),
                key_file: None,
            },
        };
        if present.identity.public() != &roster_key {
            return Err(RunError::Refused(format!(
                "{} holds key {}, but the roster gives {participant} key {}: this is not {participant}'s key",
                source.describe(),
                present.identity.public().fingerprint(),
                roster_key.fingerprint()
            )));
        }
        Ok(present)
    }

    /// Whether `source` holds `participant`'s roster key, without acting: a
    /// front end asks before it spends what the person typed for the act.
    pub fn check_key(&mut self, participant: &str, source: &KeySource) -> Result<(), RunError> {
        let present = self.key_for_act(participant, source)?;
        if *source == KeySource::Held {
            self.present.insert(participant.to_string(), present);
        }
        Ok(())
    }

    /// After an act: a held key goes back into the session; any other key
    /// is dropped here (and so zeroized).
    pub(super) fn after_act(&mut self, participant: &str, present: Present) {
        if self.key_custody() == KeyCustody::HeldForSession && !self.engine.is_finished() {
            self.present.insert(participant.to_string(), present);
        }
    }

    pub fn key_custody(&self) -> KeyCustody {
        self.ceremony.script.value.keys
    }
}

fn load_file(path: &Path) -> Result<SigningIdentity, RunError> {
    SigningIdentity::load(path).map_err(|e| RunError::Refused(format!("{}: {e}", path.display())))
}
