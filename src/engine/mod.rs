//! The ceremony engine: a sans-I/O state machine.
//!
//! Like rustls, the engine performs no I/O: no terminal, no HSM, no files,
//! no clock, no secrets. Its caller asks what it `needs` next (a person to
//! sign in, a confirmation, shares, HSM work), feeds it `Input`s, and carries
//! out the `Effect`s it returns (transcript entries to write, the close). The
//! terminal UI, the headless runner and the tests all drive this one type, so
//! the rules below — who may act when, in what order — hold for all of them.

mod plan;

use std::collections::BTreeSet;

use serde_json::{Value, json};

pub use plan::{StepPlan, Work};

use crate::script::{Ceremony, Role};

/// Why a participant signs an entry. Each purpose is a separate signing
/// domain, so a sign-in signature can never be replayed as an attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Confirm,
    Attest,
}

/// A transcript entry the engine wants written. `signers` must sign the
/// entry (over the chain head it extends) with their roster keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub actor: String,
    pub kind: &'static str,
    pub body: Value,
    pub signers: Vec<(String, Purpose)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Record(Record),
    /// Write the close entry and seal the transcript.
    Close(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Aborted { reason: String },
}

/// In which capacity a person confirms a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Performer,
    Witness,
}

impl Capacity {
    fn as_str(self) -> &'static str {
        match self {
            Capacity::Performer => "performer",
            Capacity::Witness => "witness",
        }
    }
}

/// What the engine waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Need {
    /// `participant` must identify with their key before they can act.
    SignIn {
        participant: String,
        role: Role,
    },
    /// `participant` confirms the current step; `word`, when present, must be
    /// typed exactly (irreversible actions).
    Confirm {
        participant: String,
        capacity: Capacity,
        word: Option<&'static str>,
    },
    /// One more custodian must present a share; `presented` have already.
    Share {
        secret: String,
        candidates: Vec<String>,
        presented: Vec<String>,
        needed: usize,
    },
    /// The runner must carry out this work and report the result.
    Work(Work),
    /// `participant` must cosign the chain head.
    Attest {
        participant: String,
    },
    /// The step failed; the ceremony can only be aborted, with a reason.
    Failed {
        error: String,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone)]
pub enum Input {
    /// The runner checked that `participant` holds their roster key.
    SignedIn {
        participant: String,
    },
    Confirmed {
        participant: String,
        typed: Option<String>,
    },
    /// The runner checked the share against its commitment; `details` are
    /// public facts about it (index, commitment) for the transcript.
    SharePresented {
        custodian: String,
        details: Value,
    },
    /// The runner refused a share; the attempt is evidence and is recorded.
    ShareRejected {
        custodian: String,
        reason: String,
    },
    WorkDone {
        result: Value,
    },
    WorkFailed {
        error: String,
    },
    Attested {
        participant: String,
    },
    Abort {
        by: Option<String>,
        reason: String,
    },
}

/// A caller fed an input the engine cannot accept now. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("{0} is not on the roster of this ceremony")]
    NotOnRoster(String),
    #[error("{0} has already signed in")]
    AlreadySignedIn(String),
    #[error("{0} must sign in with their key first")]
    NotSignedIn(String),
    #[error("it is not {who}'s turn: {expected}")]
    NotTheirTurn { who: String, expected: String },
    #[error("type `{expected}` exactly to confirm this step")]
    WrongWord { expected: &'static str },
    #[error("{0} has already presented a share in this step")]
    AlreadyPresented(String),
    #[error("{0} is not a custodian")]
    NotACustodian(String),
    #[error("no work is running; this result has nowhere to go")]
    NoWorkRunning,
    #[error("an abort needs a reason")]
    AbortWithoutReason,
    #[error("the ceremony is over")]
    Finished,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Performer,
    Shares { presented: Vec<String> },
    Working,
    Witness,
    Attest { attested: Vec<String> },
    Failed { error: String },
    Finished(Outcome),
}

/// Shown per step in a UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Current,
    Pending,
    Failed,
}

pub struct Engine {
    steps: Vec<StepPlan>,
    /// (name, role) in roster order.
    roster: Vec<(String, Role)>,
    threshold: usize,
    signed_in: BTreeSet<String>,
    current: usize,
    phase: Phase,
}

impl Engine {
    pub fn new(ceremony: &Ceremony) -> Engine {
        let steps = plan::plan(&ceremony.script.value);
        let phase = Self::entry_phase(&steps[0]);
        Engine {
            steps,
            roster: ceremony
                .roster
                .iter()
                .map(|p| (p.name.clone(), p.role))
                .collect(),
            threshold: usize::from(ceremony.quorum().0),
            signed_in: BTreeSet::new(),
            current: 0,
            phase,
        }
    }

    pub fn steps(&self) -> &[StepPlan] {
        &self.steps
    }

    /// The step being worked on (the last one once finished).
    pub fn current(&self) -> &StepPlan {
        &self.steps[self.current.min(self.steps.len() - 1)]
    }

    pub fn status(&self, index: usize) -> StepStatus {
        use std::cmp::Ordering::*;
        match (index.cmp(&self.current), &self.phase) {
            (Less, _) => StepStatus::Done,
            (Equal, Phase::Failed { .. }) => StepStatus::Failed,
            (Equal, Phase::Finished(Outcome::Completed)) => StepStatus::Done,
            (Equal, Phase::Finished(_)) => StepStatus::Failed,
            (Equal, _) => StepStatus::Current,
            (Greater, _) => StepStatus::Pending,
        }
    }

    pub fn is_signed_in(&self, name: &str) -> bool {
        self.signed_in.contains(name)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }

    fn holder(&self, role: Role) -> &str {
        // Validation guarantees exactly one holder for the roles that
        // perform or witness a step alone.
        self.roster
            .iter()
            .find(|(_, r)| *r == role)
            .map(|(n, _)| n.as_str())
            .unwrap_or("")
    }

    fn role_of(&self, name: &str) -> Option<Role> {
        self.roster.iter().find(|(n, _)| n == name).map(|(_, r)| *r)
    }

    fn sign_in_first(&self, name: &str) -> Option<Need> {
        (!self.signed_in.contains(name)).then(|| Need::SignIn {
            participant: name.to_string(),
            role: self.role_of(name).unwrap_or(Role::Observer),
        })
    }

    fn entry_phase(step: &StepPlan) -> Phase {
        match step.work {
            Some(Work::Attest { .. }) => Phase::Attest {
                attested: Vec::new(),
            },
            Some(Work::Recombine { .. }) => Phase::Shares {
                presented: Vec::new(),
            },
            _ => Phase::Performer,
        }
    }

    /// What must happen next.
    pub fn need(&self) -> Need {
        let step = self.current();
        match &self.phase {
            Phase::Performer => {
                let who = self.holder(step.performer);
                self.sign_in_first(who).unwrap_or(Need::Confirm {
                    participant: who.to_string(),
                    capacity: Capacity::Performer,
                    word: step.word,
                })
            }
            Phase::Shares { presented } => {
                let Some(Work::Recombine { secret, .. }) = &step.work else {
                    unreachable!("share phase only for recombine steps")
                };
                Need::Share {
                    secret: secret.clone(),
                    candidates: self
                        .roster
                        .iter()
                        .filter(|(n, r)| *r == Role::Custodian && !presented.contains(n))
                        .map(|(n, _)| n.clone())
                        .collect(),
                    presented: presented.clone(),
                    needed: self.threshold,
                }
            }
            Phase::Working => Need::Work(
                step.work
                    .clone()
                    .expect("only steps with work enter the working phase"),
            ),
            Phase::Witness => {
                let who = self.holder(step.witness);
                self.sign_in_first(who).unwrap_or(Need::Confirm {
                    participant: who.to_string(),
                    capacity: Capacity::Witness,
                    word: None,
                })
            }
            Phase::Attest { attested } => {
                let Some(Work::Attest { roles }) = &step.work else {
                    unreachable!("attest phase only for attest steps")
                };
                let attesters: Vec<&str> = self
                    .roster
                    .iter()
                    .filter(|(_, r)| roles.contains(r))
                    .map(|(n, _)| n.as_str())
                    .collect();
                // Everyone signs in before anyone attests, so that all
                // attestations cover the same head.
                if let Some(need) = attesters.iter().find_map(|n| self.sign_in_first(n)) {
                    return need;
                }
                match attesters.iter().find(|n| !attested.iter().any(|a| a == *n)) {
                    Some(n) => Need::Attest {
                        participant: n.to_string(),
                    },
                    None => unreachable!("the attestation is recorded when the last one signs"),
                }
            }
            Phase::Failed { error } => Need::Failed {
                error: error.clone(),
            },
            Phase::Finished(o) => Need::Finished(o.clone()),
        }
    }

    /// Feeds one input; returns the effects to carry out, in order.
    pub fn handle(&mut self, input: Input) -> Result<Vec<Effect>, EngineError> {
        if let Phase::Finished(_) = self.phase {
            return Err(EngineError::Finished);
        }
        match input {
            Input::SignedIn { participant } => self.on_signed_in(participant),
            Input::Confirmed { participant, typed } => self.on_confirmed(participant, typed),
            Input::SharePresented { custodian, details } => self.on_share(custodian, details),
            Input::ShareRejected { custodian, reason } => {
                self.expect_share_from(&custodian)?;
                Ok(vec![Effect::Record(Record {
                    actor: custodian.clone(),
                    kind: "share-rejected",
                    body: json!({
                        "step": self.current().id,
                        "custodian": custodian,
                        "reason": reason,
                    }),
                    signers: vec![(custodian, Purpose::Confirm)],
                })])
            }
            Input::WorkDone { result } => self.on_work_done(result),
            Input::WorkFailed { error } => {
                if self.phase != Phase::Working {
                    return Err(EngineError::NoWorkRunning);
                }
                self.phase = Phase::Failed {
                    error: error.clone(),
                };
                Ok(vec![Effect::Record(Record {
                    actor: "keyceremony".into(),
                    kind: "step-failed",
                    body: json!({
                        "step": self.current().id,
                        "number": self.current().number,
                        "error": error,
                    }),
                    signers: vec![],
                })])
            }
            Input::Attested { participant } => self.on_attested(participant),
            Input::Abort { by, reason } => self.on_abort(by, reason),
        }
    }

    fn on_signed_in(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let role = self
            .role_of(&participant)
            .ok_or_else(|| EngineError::NotOnRoster(participant.clone()))?;
        if !self.signed_in.insert(participant.clone()) {
            return Err(EngineError::AlreadySignedIn(participant));
        }
        Ok(vec![Effect::Record(Record {
            actor: participant.clone(),
            kind: "sign-in",
            body: json!({ "participant": participant, "role": role.as_str() }),
            signers: vec![(participant, Purpose::SignIn)],
        })])
    }

    fn expect_turn(&self, who: &str, need: &Need) -> Result<(), EngineError> {
        let expected = match need {
            Need::Confirm { participant, .. } | Need::Attest { participant } => participant,
            Need::SignIn { participant, .. } => {
                return Err(EngineError::NotSignedIn(participant.clone()));
            }
            other => {
                return Err(EngineError::NotTheirTurn {
                    who: who.to_string(),
                    expected: describe(other),
                });
            }
        };
        if expected != who {
            return Err(EngineError::NotTheirTurn {
                who: who.to_string(),
                expected: describe(need),
            });
        }
        Ok(())
    }

    fn on_confirmed(
        &mut self,
        participant: String,
        typed: Option<String>,
    ) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        self.expect_turn(&participant, &need)?;
        let Need::Confirm { capacity, word, .. } = need else {
            return Err(EngineError::NotTheirTurn {
                who: participant,
                expected: describe(&need),
            });
        };
        if let Some(w) = word
            && typed.as_deref().map(str::trim) != Some(w)
        {
            return Err(EngineError::WrongWord { expected: w });
        }
        let step = self.current().clone();
        let mut body = json!({
            "step": step.id,
            "number": step.number,
            "as": capacity.as_str(),
        });
        if let Some(w) = word {
            body["typed"] = json!(w);
        }
        let mut effects = vec![Effect::Record(Record {
            actor: participant.clone(),
            kind: "confirm",
            body,
            signers: vec![(participant, Purpose::Confirm)],
        })];
        match capacity {
            Capacity::Performer => {
                self.phase = if matches!(step.work, Some(Work::Close)) {
                    effects.push(Effect::Close(Outcome::Completed));
                    Phase::Finished(Outcome::Completed)
                } else if step.work.is_some() {
                    Phase::Working
                } else {
                    Phase::Witness
                };
            }
            Capacity::Witness => self.advance(),
        }
        Ok(effects)
    }

    fn expect_share_from(&self, custodian: &str) -> Result<(), EngineError> {
        let Phase::Shares { presented } = &self.phase else {
            return Err(EngineError::NotTheirTurn {
                who: custodian.to_string(),
                expected: describe(&self.need()),
            });
        };
        if self.role_of(custodian) != Some(Role::Custodian) {
            return Err(EngineError::NotACustodian(custodian.to_string()));
        }
        if !self.signed_in.contains(custodian) {
            return Err(EngineError::NotSignedIn(custodian.to_string()));
        }
        if presented.iter().any(|p| p == custodian) {
            return Err(EngineError::AlreadyPresented(custodian.to_string()));
        }
        Ok(())
    }

    fn on_share(&mut self, custodian: String, details: Value) -> Result<Vec<Effect>, EngineError> {
        self.expect_share_from(&custodian)?;
        let step_id = self.current().id.clone();
        let threshold = self.threshold;
        let Phase::Shares { presented } = &mut self.phase else {
            unreachable!("checked by expect_share_from")
        };
        presented.push(custodian.clone());
        let mut body = json!({ "step": step_id, "custodian": custodian });
        if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), details) {
            obj.extend(extra);
        }
        if presented.len() == threshold {
            let custodians = presented.clone();
            if let Some(Work::Recombine { custodians: c, .. }) = &mut self.steps[self.current].work
            {
                *c = custodians;
            }
            self.phase = Phase::Working;
        }
        Ok(vec![Effect::Record(Record {
            actor: custodian.clone(),
            kind: "share-presented",
            body,
            signers: vec![(custodian, Purpose::Confirm)],
        })])
    }

    fn on_work_done(&mut self, result: Value) -> Result<Vec<Effect>, EngineError> {
        if self.phase != Phase::Working {
            return Err(EngineError::NoWorkRunning);
        }
        let step = self.current().clone();
        let mut body = json!({ "step": step.id, "number": step.number });
        if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), result) {
            obj.extend(extra);
        }
        self.phase = Phase::Witness;
        Ok(vec![Effect::Record(Record {
            actor: "keyceremony".into(),
            kind: step.kind,
            body,
            signers: vec![],
        })])
    }

    fn on_attested(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        self.expect_turn(&participant, &need)?;
        let Phase::Attest { attested } = &mut self.phase else {
            unreachable!("an Attest need comes only from the attest phase")
        };
        attested.push(participant);
        let step = self.current().clone();
        let Some(Work::Attest { roles }) = &step.work else {
            unreachable!("attest phase only for attest steps")
        };
        let total = self
            .roster
            .iter()
            .filter(|(_, r)| roles.contains(r))
            .count();
        let Phase::Attest { attested } = &self.phase else {
            unreachable!()
        };
        if attested.len() < total {
            return Ok(vec![]);
        }
        // One entry carries every attestation, all over the same head.
        let record = Record {
            actor: "keyceremony".into(),
            kind: "attestation",
            body: json!({
                "step": step.id,
                "number": step.number,
                "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
            signers: attested
                .iter()
                .map(|n| (n.clone(), Purpose::Attest))
                .collect(),
        };
        self.advance();
        Ok(vec![Effect::Record(record)])
    }

    fn on_abort(&mut self, by: Option<String>, reason: String) -> Result<Vec<Effect>, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::AbortWithoutReason);
        }
        if let Some(who) = &by {
            if self.role_of(who).is_none() {
                return Err(EngineError::NotOnRoster(who.clone()));
            }
            if !self.signed_in.contains(who) {
                return Err(EngineError::NotSignedIn(who.clone()));
            }
        }
        let step = self.current().clone();
        let outcome = Outcome::Aborted {
            reason: reason.clone(),
        };
        self.phase = Phase::Finished(outcome.clone());
        Ok(vec![
            Effect::Record(Record {
                actor: by.clone().unwrap_or_else(|| "keyceremony".into()),
                kind: "abort",
                body: json!({ "step": step.id, "number": step.number, "reason": reason }),
                signers: by.into_iter().map(|n| (n, Purpose::Confirm)).collect(),
            }),
            Effect::Close(outcome),
        ])
    }

    fn advance(&mut self) {
        self.current += 1;
        self.phase = match self.steps.get(self.current) {
            Some(step) => Self::entry_phase(step),
            // Validation puts a close step last, which finishes the
            // ceremony itself; running past it cannot happen.
            None => Phase::Finished(Outcome::Completed),
        };
    }
}

/// A short description of a need, for error messages.
pub fn describe(need: &Need) -> String {
    match need {
        Need::SignIn { participant, role } => {
            format!("{role} {participant} must sign in with their key")
        }
        Need::Confirm {
            participant,
            capacity,
            ..
        } => format!("{participant} must confirm as {}", capacity.as_str()),
        Need::Share {
            presented, needed, ..
        } => format!(
            "a custodian must present a share ({} of {needed} presented)",
            presented.len()
        ),
        Need::Work(w) => format!("the tool is working: {}", w.describe()),
        Need::Attest { participant } => format!("{participant} must attest"),
        Need::Failed { error } => {
            format!("the step failed ({error}); the ceremony can only be aborted")
        }
        Need::Finished(_) => "the ceremony is over".into(),
    }
}

#[cfg(test)]
mod tests;
