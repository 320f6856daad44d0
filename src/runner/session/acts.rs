//! The acts of people: each one is made by its person, with their key
//! presented for that act ([`KeySource`]), and becomes one signed entry.
//! Nothing here acts for anyone but the person named.

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::keys::{KeySource, Present};
use super::{Session, ShareInput};
use crate::engine::{Checks, Exception, Input, Need};
use crate::quorum::{self, Presented, SecretName, Share};
use crate::runner::RunError;

impl Session {
    /// `participant` signs in: their key must be the roster's.
    pub fn sign_in(&mut self, participant: &str, key: &KeySource) -> Result<(), RunError> {
        if self.engine.is_signed_in(participant) {
            return Err(RunError::Refused(format!(
                "{participant} has already signed in"
            )));
        }
        if *key == KeySource::Held {
            return Err(RunError::Refused(format!(
                "{participant} signs in with their key file or their SSH agent"
            )));
        }
        let present = self.key_for_act(participant, key)?;
        let result = self.feed_signed(
            Input::SignedIn {
                participant: participant.to_string(),
            },
            &present,
        );
        if result.is_ok() {
            self.after_act(participant, present);
        }
        result
    }

    /// An identity-check step: `participant` presents their key now, even
    /// if it is held since their sign-in.
    pub fn identify(&mut self, participant: &str, key: &KeySource) -> Result<(), RunError> {
        if *key == KeySource::Held {
            return Err(RunError::Refused(format!(
                "an identity check needs {participant}'s key presented now, not one held in memory"
            )));
        }
        let present = self.key_for_act(participant, key)?;
        let result = self.feed_signed(
            Input::Identified {
                participant: participant.to_string(),
            },
            &present,
        );
        if result.is_ok() {
            // A key held for the session is replaced by the one just shown.
            self.present.remove(participant);
            self.after_act(participant, present);
        }
        result
    }

    /// `participant` confirms the step (as its performer or witness, or an
    /// exception as the witness); `typed` is the confirmation word of an
    /// irreversible step.
    pub fn confirm(
        &mut self,
        participant: &str,
        typed: Option<&str>,
        checks: Checks,
        key: &KeySource,
    ) -> Result<(), RunError> {
        self.act(
            participant,
            key,
            Input::Confirmed {
                participant: participant.to_string(),
                typed: typed.map(String::from),
                checks,
            },
        )?;
        self.dispatch();
        Ok(())
    }

    /// The administrator records a deviation from the script; the witness
    /// confirms it next.
    pub fn record_exception(
        &mut self,
        by: &str,
        exception: Exception,
        key: &KeySource,
    ) -> Result<(), RunError> {
        self.act(
            by,
            key,
            Input::Exception {
                by: by.to_string(),
                exception,
            },
        )
    }

    /// The administrator retries a failed step after recording an exception.
    pub fn retry(&mut self, by: &str, key: &KeySource) -> Result<(), RunError> {
        self.act(by, key, Input::Retry { by: by.to_string() })?;
        self.vault.take_presented();
        self.dispatch();
        Ok(())
    }

    pub fn attest(&mut self, participant: &str, key: &KeySource) -> Result<(), RunError> {
        self.act(
            participant,
            key,
            Input::Attested {
                participant: participant.to_string(),
            },
        )
    }

    /// Aborts the ceremony: by the administrator, with their key, or by the
    /// tool itself when no administrator can act (`by` None).
    pub fn abort(&mut self, by: Option<(&str, &KeySource)>, reason: &str) -> Result<(), RunError> {
        match by {
            Some((who, key)) => self.act(
                who,
                key,
                Input::Abort {
                    by: Some(who.to_string()),
                    reason: reason.to_string(),
                },
            ),
            None => self.feed(Input::Abort {
                by: None,
                reason: reason.to_string(),
            }),
        }
    }

    /// One act of `participant`, signed with the key they present for it.
    fn act(&mut self, participant: &str, key: &KeySource, input: Input) -> Result<(), RunError> {
        let present = self.key_for_act(participant, key)?;
        let result = self.feed_signed(input, &present);
        self.after_act(participant, present);
        result
    }

    /// A custodian presents their share for the current recombine step. It
    /// is checked at once — format, ceremony, secret, and the commitment
    /// recorded at the split — so a wrong share is named before any PIN
    /// exists. A refused share is recorded in the transcript, signed by the
    /// custodian who presented it.
    pub fn present_share(
        &mut self,
        custodian: &str,
        input: ShareInput,
        key: &KeySource,
    ) -> Result<(), RunError> {
        let Need::Share { secret, .. } = self.engine.need() else {
            return Err(RunError::Refused("no share is asked for now".into()));
        };
        if !self.engine.is_signed_in(custodian) {
            return Err(RunError::Refused(format!(
                "{custodian} must sign in with their key before presenting a share"
            )));
        }
        let present = self.key_for_act(custodian, key)?;
        let result = match self.check_share(custodian, &secret, input, &present) {
            Ok((share, details)) => self
                .feed_signed(
                    Input::SharePresented {
                        custodian: custodian.to_string(),
                        details,
                    },
                    &present,
                )
                .map(|()| {
                    self.vault.add_presented(Presented {
                        custodian: custodian.to_string(),
                        share,
                    });
                }),
            Err(reason) => self
                .feed_signed(
                    Input::ShareRejected {
                        custodian: custodian.to_string(),
                        reason: reason.clone(),
                    },
                    &present,
                )
                .and(Err(RunError::Refused(reason))),
        };
        self.after_act(custodian, present);
        result?;
        self.dispatch();
        Ok(())
    }

    /// The performer types the existing PIN an adopting step asks for. It
    /// stays in memory only, until the step's work checks it with one login
    /// and seals it; the transcript records who typed it, never the PIN.
    pub fn type_existing_pin(
        &mut self,
        participant: &str,
        pin: crate::secret::Pin,
        key: &KeySource,
    ) -> Result<(), RunError> {
        match self.engine.need() {
            Need::ExistingPin { participant: p, .. } if p == participant => {}
            need => {
                return Err(RunError::Refused(format!(
                    "no PIN is asked of {participant} now: {}",
                    crate::engine::describe(&need)
                )));
            }
        }
        if pin.is_empty() {
            return Err(RunError::Refused("the PIN is empty".into()));
        }
        self.act(
            participant,
            key,
            Input::PinTyped {
                participant: participant.to_string(),
            },
        )?;
        self.vault.hold_typed_pin(pin);
        self.dispatch();
        Ok(())
    }

    /// On-screen delivery: the share text for `custodian` to see, alone.
    /// Only while the engine waits for exactly this custodian's delivery.
    pub fn share_to_show(&self, custodian: &str) -> Result<Zeroizing<String>, RunError> {
        match self.engine.need() {
            Need::DeliverShare { custodian: c, .. } if c == custodian => {}
            _ => {
                return Err(RunError::Refused(format!(
                    "no share is to be shown to {custodian} now"
                )));
            }
        }
        self.vault
            .delivering(custodian)
            .map(|share| share.to_text())
            .ok_or_else(|| {
                RunError::Refused(format!("{custodian}'s share is not held for delivery"))
            })
    }

    /// On-screen delivery: `custodian` proves their copy by typing it back
    /// (or, headless, by opening their share file), and signs that they
    /// did. A mistyped copy is not evidence of anything: it is refused
    /// without a record, to try again.
    pub fn prove_copy(
        &mut self,
        custodian: &str,
        input: ShareInput,
        key: &KeySource,
    ) -> Result<(), RunError> {
        let Need::DeliverShare { secret, .. } = self.engine.need() else {
            return Err(RunError::Refused("no share delivery is under way".into()));
        };
        let issued = self.vault.delivering(custodian).ok_or_else(|| {
            RunError::Refused(format!("{custodian}'s share is not held for delivery"))
        })?;
        let (index, commitment) = (issued.metadata().index, issued.commitment());
        let present = self.key_for_act(custodian, key)?;
        let result = self
            .check_share(custodian, &secret, input, &present)
            .map_err(|e| RunError::Refused(format!("that is not the share shown: {e}")))
            .and_then(|(copy, _)| {
                if copy.commitment() != commitment {
                    return Err(RunError::Refused(
                        "that is not the share shown: check your copy and type it again".into(),
                    ));
                }
                self.feed_signed(
                    Input::ShareDelivered {
                        custodian: custodian.to_string(),
                        details: json!({ "index": index, "commitment": hex::encode(commitment) }),
                    },
                    &present,
                )
            });
        self.after_act(custodian, present);
        result?;
        self.vault.delivered(custodian);
        Ok(())
    }

    fn check_share(
        &self,
        custodian: &str,
        secret: &str,
        input: ShareInput,
        present: &Present,
    ) -> Result<(Share, Value), String> {
        let name: SecretName = secret.parse().map_err(|e| format!("{e}"))?;
        let (record, holders) = self.vault.split(secret)?;
        let share = match input {
            // A code carries only a tag of its ceremony: it is read against
            // the ceremony of the split it belongs to (for a secret `from:
            // original`, the original's or the latest rotation's), or else
            // of a split a rotation voided, so that such a share is named
            // as voided below rather than as foreign.
            ShareInput::Code(code) => {
                let voided: Vec<&str> = self
                    .original
                    .iter()
                    .flat_map(|o| o.voided.iter())
                    .filter(|v| v.secret == secret)
                    .map(|v| v.ceremony.as_str())
                    .collect();
                match Share::from_code(&code, &record.ceremony_id, &name) {
                    Ok(share) => share,
                    Err(e) => voided
                        .iter()
                        .find_map(|id| Share::from_code(&code, id, &name).ok())
                        .ok_or_else(|| format!("{custodian}'s share: {e}"))?,
                }
            }
            ShareInput::SealedFile(path) => {
                // age opens the file with the private key itself; an agent
                // signs but never hands its key out.
                let key_file = present.key_file.as_ref().ok_or_else(|| {
                    format!(
                        "{custodian}'s share file opens only with their key file; with a key in the SSH agent, type the share's code"
                    )
                })?;
                let key = Zeroizing::new(
                    crate::input::read_capped_text(key_file, crate::input::MAX_SMALL_FILE_BYTES)
                        .map_err(|e| format!("{}: {e}", key_file.display()))?,
                );
                let sealed = crate::input::read_capped(&path, crate::input::MAX_SMALL_FILE_BYTES)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                quorum::delivery::open(&key, &sealed)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        // A share of a split that a listed rotation voided is refused by
        // name, before it counts towards anything: the token no longer
        // takes the PIN it gives, and trying it would cost a login.
        let commitment = hex::encode(share.commitment());
        if let Some(void) = self
            .original
            .as_ref()
            .and_then(|o| o.voided_by(secret, &commitment))
        {
            return Err(format!(
                "{custodian}'s share {} of `{secret}` was voided by rotation `{}`: present the share that ceremony gave you",
                share.metadata().index,
                void.voided_by
            ));
        }
        quorum::check_one(record, &share).map_err(|e| format!("{custodian}'s share: {e}"))?;
        let index = share.metadata().index;
        match holders.iter().find(|h| h.index == index) {
            Some(h) if h.custodian != custodian => {
                return Err(format!(
                    "share {index} of `{secret}` was issued to {}, not to {custodian}: each custodian presents their own share",
                    h.custodian
                ));
            }
            _ => {}
        }
        let details = json!({
            "secret_name": secret,
            "index": index,
            "commitment": record.commitments[usize::from(index) - 1],
            "commitment_matches": true,
        });
        Ok((share, details))
    }
}
