//! The engine's state and its transitions.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::plan::{self, StepPlan, Work};
use super::{
    Capacity, Checks, Effect, EngineError, Exception, Input, Need, Outcome, Purpose, Record,
    StepStatus, describe, items_to_tick, seals_materials,
};
use crate::script::{Ceremony, Role};

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// The performer confirms the step.
    Performer,
    /// Identity check: these participants have proved their identity.
    Identify {
        done: Vec<String>,
    },
    /// A recombine step: custodians present shares.
    Shares {
        presented: Vec<String>,
    },
    /// A secret the step's work needs is not in memory (after a restart):
    /// custodians present shares to recover it, then the work runs.
    Recover {
        secret: String,
        presented: Vec<String>,
        working: bool,
    },
    /// The performer types an existing PIN the work adopts.
    TypePin,
    /// The runner is doing the step's work.
    Working,
    /// After an on-screen split: these custodians still receive their share.
    Deliver {
        remaining: Vec<String>,
    },
    /// The witness confirms the step.
    Witness,
    Attest {
        attested: Vec<String>,
    },
    Failed {
        error: String,
        excused: bool,
    },
    /// The transcript is closed; these witnesses and auditors still cosign
    /// its checkpoint, in roster order.
    Cosign {
        remaining: Vec<String>,
        outcome: Outcome,
    },
    Finished(Outcome),
}

#[derive(Clone)]
pub struct Engine {
    steps: Vec<StepPlan>,
    /// (name, role) in roster order.
    roster: Vec<(String, Role)>,
    threshold: usize,
    signed_in: BTreeSet<String>,
    /// Everyone who signed in at any point, across restarts: the witnesses
    /// and auditors among them cosign the checkpoint.
    ever_signed_in: BTreeSet<String>,
    /// Secrets the runner holds in memory, by name. Only names: the engine
    /// never sees a secret.
    in_memory: BTreeSet<String>,
    current: usize,
    phase: Phase,
    /// An exception recorded by the administrator awaits the witness.
    exception_pending: bool,
}

const TOOL: &str = "keyceremony";

impl Engine {
    pub fn new(ceremony: &Ceremony) -> Engine {
        let steps = plan::plan(ceremony);
        let mut engine = Engine {
            roster: ceremony
                .roster
                .iter()
                .map(|p| (p.name.clone(), p.role))
                .collect(),
            threshold: usize::from(ceremony.quorum().0),
            signed_in: BTreeSet::new(),
            ever_signed_in: BTreeSet::new(),
            in_memory: BTreeSet::new(),
            current: 0,
            phase: Phase::Performer,
            exception_pending: false,
            steps,
        };
        engine.phase = engine.entry_phase();
        engine
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
            (Equal, Phase::Finished(Outcome::Completed))
            | (
                Equal,
                Phase::Cosign {
                    outcome: Outcome::Completed,
                    ..
                },
            ) => StepStatus::Done,
            (Equal, Phase::Finished(_) | Phase::Cosign { .. }) => StepStatus::Failed,
            (Equal, _) => StepStatus::Current,
            (Greater, _) => StepStatus::Pending,
        }
    }

    pub fn is_signed_in(&self, name: &str) -> bool {
        self.signed_in.contains(name)
    }

    /// The ceremony is over and its checkpoint cosigned (or its cosigners
    /// absent): nothing more can happen.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished(_))
    }

    /// How the ceremony ended, once its transcript is closed (cosignatures
    /// may still be coming).
    pub fn ended(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Cosign { outcome, .. } | Phase::Finished(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// The witnesses and auditors who cosign the checkpoint: everyone of
    /// those roles who signed in at any point of the ceremony.
    pub fn cosigners(&self) -> Vec<String> {
        self.roster
            .iter()
            .filter(|(name, role)| {
                matches!(role, Role::Witness | Role::Auditor) && self.ever_signed_in.contains(name)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The phase after the close entry.
    fn after_close(&self, outcome: Outcome) -> Phase {
        let remaining = self.cosigners();
        if remaining.is_empty() {
            Phase::Finished(outcome)
        } else {
            Phase::Cosign { remaining, outcome }
        }
    }

    /// True while the runner is (or should be) doing HSM work: nothing may
    /// interrupt it, its result must be recorded.
    pub fn is_working(&self) -> bool {
        matches!(
            self.phase,
            Phase::Working | Phase::Recover { working: true, .. }
        )
    }

    pub fn administrator(&self) -> Option<&str> {
        self.holders(Role::Administrator).next()
    }

    fn holders(&self, role: Role) -> impl Iterator<Item = &str> {
        self.roster
            .iter()
            .filter(move |(_, r)| *r == role)
            .map(|(n, _)| n.as_str())
    }

    fn holder(&self, role: Role) -> &str {
        // Validation guarantees exactly one holder for the roles that
        // perform or witness a step alone.
        self.holders(role).next().unwrap_or("")
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

    /// The people whose roles an identity-check or attest step names.
    fn people_of(&self, roles: &[Role]) -> Vec<String> {
        self.roster
            .iter()
            .filter(|(_, r)| roles.contains(r))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn entry_phase(&self) -> Phase {
        match &self.current().work {
            Some(Work::Attest { .. }) => Phase::Attest {
                attested: Vec::new(),
            },
            Some(Work::Identify { .. }) => Phase::Identify { done: Vec::new() },
            Some(Work::Recombine { .. }) => Phase::Shares {
                presented: Vec::new(),
            },
            _ => Phase::Performer,
        }
    }

    /// Starts the current step's work, first recovering any secret it
    /// needs that is not in memory.
    fn start_work(&mut self) {
        let missing = self
            .current()
            .work
            .as_ref()
            .and_then(|w| w.needs().into_iter().find(|s| !self.in_memory.contains(*s)))
            .map(String::from);
        let adopts = matches!(self.current().work, Some(Work::AdoptPin { .. }));
        self.phase = match missing {
            Some(secret) => Phase::Recover {
                secret,
                presented: Vec::new(),
                working: false,
            },
            // A typed PIN lives only in the runner's memory: it is asked for
            // whenever the work is (re)started, never carried over.
            None if adopts => Phase::TypePin,
            None => Phase::Working,
        };
    }

    fn share_need(&self, secret: &str, presented: &[String], recovering: bool) -> Need {
        Need::Share {
            secret: secret.to_string(),
            candidates: self
                .holders(Role::Custodian)
                .filter(|n| !presented.iter().any(|p| p == n))
                .map(String::from)
                .collect(),
            presented: presented.to_vec(),
            needed: self.threshold,
            recovering,
        }
    }

    /// What must happen next.
    pub fn need(&self) -> Need {
        let step = self.current();
        if self.exception_pending {
            let witness = self.holder(Role::Witness);
            return self.sign_in_first(witness).unwrap_or(Need::Confirm {
                participant: witness.to_string(),
                capacity: Capacity::ExceptionWitness,
                word: None,
            });
        }
        match &self.phase {
            Phase::Performer => {
                let who = self.holder(step.performer);
                self.sign_in_first(who).unwrap_or(Need::Confirm {
                    participant: who.to_string(),
                    capacity: Capacity::Performer,
                    word: step.word,
                })
            }
            Phase::Identify { done } => {
                let Some(Work::Identify { roles }) = &step.work else {
                    unreachable!("identify phase only for identity-check steps")
                };
                match self
                    .people_of(roles)
                    .into_iter()
                    .find(|n| !done.contains(n))
                {
                    Some(participant) => Need::Identify {
                        role: self.role_of(&participant).unwrap_or(Role::Observer),
                        participant,
                    },
                    None => unreachable!("the step moves on when the last person identifies"),
                }
            }
            Phase::Shares { presented } => {
                let Some(Work::Recombine { secret, .. }) = &step.work else {
                    unreachable!("share phase only for recombine steps")
                };
                self.share_need(secret, presented, false)
            }
            Phase::Recover {
                secret,
                presented,
                working: false,
            } => self.share_need(secret, presented, true),
            Phase::Recover {
                secret,
                presented,
                working: true,
            } => Need::Work(Work::Recombine {
                secret: secret.clone(),
                login: None,
                custodians: presented.clone(),
            }),
            Phase::TypePin => {
                let who = self.holder(step.performer);
                let Some(Work::AdoptPin { role, secret }) = &step.work else {
                    unreachable!("the PIN phase only for adopting steps")
                };
                self.sign_in_first(who)
                    .unwrap_or_else(|| Need::ExistingPin {
                        participant: who.to_string(),
                        role: *role,
                        secret: secret.clone(),
                    })
            }
            Phase::Working => Need::Work(
                step.work
                    .clone()
                    .expect("only steps with work enter the working phase"),
            ),
            Phase::Deliver { remaining } => {
                let custodian = remaining.first().cloned().unwrap_or_default();
                let (Some(Work::Split { secret, .. }) | Some(Work::Reshare { secret, .. })) =
                    &step.work
                else {
                    unreachable!("delivery only after a split")
                };
                self.sign_in_first(&custodian)
                    .unwrap_or_else(|| Need::DeliverShare {
                        custodian,
                        secret: secret.clone(),
                    })
            }
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
                // One at a time, each over the head their attestation
                // extends (so the last attests to the earlier ones too).
                match self
                    .people_of(roles)
                    .into_iter()
                    .find(|n| !attested.contains(n))
                {
                    Some(participant) => self
                        .sign_in_first(&participant)
                        .unwrap_or(Need::Attest { participant }),
                    None => unreachable!("the step moves on when the last one attests"),
                }
            }
            Phase::Failed { error, excused } => Need::Failed {
                error: error.clone(),
                may_retry: *excused,
            },
            Phase::Cosign { remaining, .. } => Need::Cosign {
                participant: remaining.first().cloned().unwrap_or_default(),
            },
            Phase::Finished(o) => Need::Finished(o.clone()),
        }
    }

    /// Feeds one input; returns the effects to carry out, in order.
    pub fn handle(&mut self, input: Input) -> Result<Vec<Effect>, EngineError> {
        match (&self.phase, &input) {
            (Phase::Finished(_), _) => return Err(EngineError::Finished),
            (Phase::Cosign { .. }, Input::Cosigned { .. } | Input::CosignerAbsent { .. }) => {}
            (Phase::Cosign { .. }, _) => return Err(EngineError::Closed),
            (_, Input::Cosigned { participant } | Input::CosignerAbsent { participant }) => {
                return Err(EngineError::NotTheirTurn {
                    who: participant.clone(),
                    expected: describe(&self.need()),
                });
            }
            _ => {}
        }
        match input {
            Input::SignedIn { participant } => self.on_signed_in(participant),
            Input::Identified { participant } => self.on_identified(participant),
            Input::Confirmed {
                participant,
                typed,
                checks,
            } => self.on_confirmed(participant, typed, checks),
            Input::SharePresented { custodian, details } => self.on_share(custodian, details),
            Input::ShareRejected { custodian, reason } => {
                self.expect_share_from(&custodian)?;
                Ok(vec![self.record(
                    &custodian,
                    "share-rejected",
                    json!({ "custodian": custodian, "reason": reason }),
                    vec![(custodian.clone(), Purpose::Confirm)],
                )])
            }
            Input::WorkDone { result } => self.on_work_done(result),
            Input::PinTyped { participant } => self.on_pin_typed(participant),
            Input::ShareDelivered { custodian, details } => {
                self.on_share_delivered(custodian, details)
            }
            Input::WorkFailed { error } => self.on_work_failed(error),
            Input::Attested { participant } => self.on_attested(participant),
            Input::Cosigned { participant } | Input::CosignerAbsent { participant } => {
                self.on_cosign(participant)
            }
            Input::Exception { by, exception } => self.on_exception(by, exception),
            Input::Retry { by } => self.on_retry(by),
            Input::Abort { by, reason } => self.on_abort(by, reason),
        }
    }

    /// An entry about the current step: its id and number come first.
    fn record(
        &self,
        actor: &str,
        kind: &'static str,
        body: Value,
        signers: Vec<(String, Purpose)>,
    ) -> Effect {
        let step = self.current();
        let mut full = json!({ "step": step.id, "number": step.number });
        if let (Some(obj), Value::Object(extra)) = (full.as_object_mut(), body) {
            obj.extend(extra);
        }
        Effect::Record(Record {
            actor: actor.to_string(),
            kind,
            body: full,
            signers,
        })
    }

    fn on_signed_in(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let role = self
            .role_of(&participant)
            .ok_or_else(|| EngineError::NotOnRoster(participant.clone()))?;
        if !self.signed_in.insert(participant.clone()) {
            return Err(EngineError::AlreadySignedIn(participant));
        }
        self.ever_signed_in.insert(participant.clone());
        Ok(vec![Effect::Record(Record {
            actor: participant.clone(),
            kind: "sign-in",
            body: json!({ "participant": participant, "role": role.as_str() }),
            signers: vec![(participant, Purpose::SignIn)],
        })])
    }

    fn on_identified(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        match &need {
            Need::Identify { participant: p, .. } if *p == participant => {}
            _ => {
                return Err(EngineError::NotTheirTurn {
                    who: participant,
                    expected: describe(&need),
                });
            }
        }
        let Phase::Identify { done } = &mut self.phase else {
            unreachable!("an Identify need comes only from the identify phase")
        };
        done.push(participant.clone());
        let finished = {
            let Some(Work::Identify { roles }) = &self.current().work else {
                unreachable!("identify phase only for identity-check steps")
            };
            let Phase::Identify { done } = &self.phase else {
                unreachable!()
            };
            self.people_of(roles).iter().all(|n| done.contains(n))
        };
        // Proving one's key is also signing in.
        self.signed_in.insert(participant.clone());
        self.ever_signed_in.insert(participant.clone());
        let role = self.role_of(&participant).unwrap_or(Role::Observer);
        let effect = self.record(
            &participant,
            "identity-check",
            json!({ "participant": participant, "role": role.as_str() }),
            vec![(participant.clone(), Purpose::SignIn)],
        );
        if finished {
            self.phase = Phase::Witness;
        }
        Ok(vec![effect])
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
        checks: Checks,
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
        let mut body = json!({ "as": capacity.as_str() });
        if let Some(w) = word {
            body["typed"] = json!(w);
        }
        let ticks = if capacity == Capacity::Performer {
            items_to_tick(step.details.as_ref())
        } else {
            Vec::new()
        };
        check_ticks(
            &ticks,
            seals_materials(step.details.as_ref()) && capacity == Capacity::Performer,
            &checks,
        )?;
        if let (Capacity::Performer, Some(details)) = (capacity, &step.details) {
            body["details"] = details.clone();
            let (ticked, sealed) = checks.to_body();
            body["ticked"] = ticked;
            if seals_materials(Some(details)) {
                body["sealed"] = sealed;
            }
        }
        let mut effects = vec![self.record(
            &participant,
            "confirm",
            body,
            vec![(participant.clone(), Purpose::Confirm)],
        )];
        match capacity {
            Capacity::ExceptionWitness => self.exception_pending = false,
            Capacity::Performer => match &step.work {
                Some(Work::Close) => {
                    effects.push(Effect::Close(Outcome::Completed));
                    self.phase = self.after_close(Outcome::Completed);
                }
                Some(_) => self.start_work(),
                None => self.phase = Phase::Witness,
            },
            Capacity::Witness => self.advance(),
        }
        Ok(effects)
    }

    fn expect_share_from(&self, custodian: &str) -> Result<(), EngineError> {
        let presented = match &self.phase {
            Phase::Shares { presented }
            | Phase::Recover {
                presented,
                working: false,
                ..
            } if !self.exception_pending => presented,
            _ => {
                return Err(EngineError::NotTheirTurn {
                    who: custodian.to_string(),
                    expected: describe(&self.need()),
                });
            }
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
        let effect = self.record(
            &custodian,
            "share-presented",
            {
                let mut body = json!({ "custodian": custodian });
                if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), details) {
                    obj.extend(extra);
                }
                body
            },
            vec![(custodian.clone(), Purpose::Confirm)],
        );
        let threshold = self.threshold;
        let current = self.current;
        match &mut self.phase {
            Phase::Shares { presented } => {
                presented.push(custodian);
                if presented.len() == threshold {
                    let custodians = presented.clone();
                    if let Some(Work::Recombine { custodians: c, .. }) =
                        &mut self.steps[current].work
                    {
                        *c = custodians;
                    }
                    self.phase = Phase::Working;
                }
            }
            Phase::Recover {
                presented, working, ..
            } => {
                presented.push(custodian);
                *working = presented.len() == threshold;
            }
            _ => unreachable!("checked by expect_share_from"),
        }
        Ok(vec![effect])
    }

    fn on_work_done(&mut self, result: Value) -> Result<Vec<Effect>, EngineError> {
        match &self.phase {
            Phase::Working => {
                let step = self.current().clone();
                if let Some(secret) = step.work.as_ref().and_then(Work::brings) {
                    self.in_memory.insert(secret.to_string());
                }
                self.phase = match step.work {
                    // A reshare's new custodians always prove their copies:
                    // the old shares become void, so these must be right.
                    Some(Work::Split {
                        show_on_screen: true,
                        ..
                    })
                    | Some(Work::Reshare { .. }) => Phase::Deliver {
                        remaining: self.holders(Role::Custodian).map(String::from).collect(),
                    },
                    _ => Phase::Witness,
                };
                Ok(vec![self.record(TOOL, step.kind, result, vec![])])
            }
            Phase::Recover {
                secret,
                presented,
                working: true,
            } => {
                let body = {
                    let mut b = json!({ "secret_name": secret, "custodians": presented });
                    if let (Some(obj), Value::Object(extra)) = (b.as_object_mut(), result) {
                        obj.extend(extra);
                    }
                    b
                };
                self.in_memory.insert(secret.clone());
                let effect = self.record(TOOL, "recover-secret", body, vec![]);
                self.start_work();
                Ok(vec![effect])
            }
            _ => Err(EngineError::NoWorkRunning),
        }
    }

    fn on_pin_typed(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        let Need::ExistingPin {
            participant: p,
            role,
            secret,
        } = &need
        else {
            return Err(EngineError::NotTheirTurn {
                who: participant,
                expected: describe(&need),
            });
        };
        if *p != participant || self.exception_pending {
            return Err(EngineError::NotTheirTurn {
                who: participant,
                expected: describe(&need),
            });
        }
        let effect = self.record(
            &participant,
            "pin-typed",
            json!({
                "participant": participant,
                "role": plan::login_name(*role),
                "secret_name": secret,
            }),
            vec![(participant.clone(), Purpose::Confirm)],
        );
        self.phase = Phase::Working;
        Ok(vec![effect])
    }

    fn on_share_delivered(
        &mut self,
        custodian: String,
        details: Value,
    ) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        match &need {
            Need::DeliverShare { custodian: c, .. } if *c == custodian => {}
            _ => {
                return Err(EngineError::NotTheirTurn {
                    who: custodian,
                    expected: describe(&need),
                });
            }
        }
        let mut body = json!({ "custodian": custodian, "copy_proven": true });
        if let (Some(obj), Value::Object(extra)) = (body.as_object_mut(), details) {
            obj.extend(extra);
        }
        let effect = self.record(
            &custodian,
            "share-delivered",
            body,
            vec![(custodian.clone(), Purpose::Confirm)],
        );
        let Phase::Deliver { remaining } = &mut self.phase else {
            unreachable!("a DeliverShare need comes only from the deliver phase")
        };
        remaining.retain(|c| *c != custodian);
        if remaining.is_empty() {
            self.phase = Phase::Witness;
        }
        Ok(vec![effect])
    }

    fn on_work_failed(&mut self, error: String) -> Result<Vec<Effect>, EngineError> {
        if !self.is_working() {
            return Err(EngineError::NoWorkRunning);
        }
        self.phase = Phase::Failed {
            error: error.clone(),
            excused: false,
        };
        Ok(vec![self.record(
            TOOL,
            "step-failed",
            json!({ "error": error }),
            vec![],
        )])
    }

    fn on_attested(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let need = self.need();
        self.expect_turn(&participant, &need)?;
        let Some(Work::Attest { roles }) = self.current().work.clone() else {
            unreachable!("an Attest need comes only from attest steps")
        };
        let total = self.people_of(&roles).len();
        let effect = self.record(
            &participant,
            "attestation",
            json!({ "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>() }),
            vec![(participant.clone(), Purpose::Attest)],
        );
        let Phase::Attest { attested } = &mut self.phase else {
            unreachable!("an Attest need comes only from the attest phase")
        };
        attested.push(participant);
        if attested.len() == total {
            self.advance();
        }
        Ok(vec![effect])
    }

    fn on_cosign(&mut self, participant: String) -> Result<Vec<Effect>, EngineError> {
        let Phase::Cosign { remaining, outcome } = &mut self.phase else {
            unreachable!("checked by handle")
        };
        if remaining.first() != Some(&participant) {
            return Err(EngineError::NotTheirTurn {
                expected: format!(
                    "{} must cosign the checkpoint",
                    remaining.first().cloned().unwrap_or_default()
                ),
                who: participant,
            });
        }
        remaining.remove(0);
        if remaining.is_empty() {
            self.phase = Phase::Finished(outcome.clone());
        }
        Ok(vec![])
    }

    fn expect_administrator(&self, who: &str) -> Result<(), EngineError> {
        if self.role_of(who).is_none() {
            return Err(EngineError::NotOnRoster(who.to_string()));
        }
        if self.role_of(who) != Some(Role::Administrator) {
            return Err(EngineError::NotAdministrator(who.to_string()));
        }
        if !self.signed_in.contains(who) {
            return Err(EngineError::NotSignedIn(who.to_string()));
        }
        Ok(())
    }

    fn on_exception(&mut self, by: String, e: Exception) -> Result<Vec<Effect>, EngineError> {
        self.expect_administrator(&by)?;
        if self.is_working() {
            return Err(EngineError::WorkRunning);
        }
        if self.exception_pending {
            return Err(EngineError::ExceptionPending);
        }
        if [&e.expected, &e.happened, &e.decision]
            .iter()
            .any(|t| t.trim().is_empty())
        {
            return Err(EngineError::IncompleteException);
        }
        self.exception_pending = true;
        if let Phase::Failed { excused, .. } = &mut self.phase {
            *excused = true;
        }
        Ok(vec![self.record(
            &by,
            "exception",
            json!({ "expected": e.expected, "happened": e.happened, "decision": e.decision }),
            vec![(by.clone(), Purpose::Confirm)],
        )])
    }

    fn on_retry(&mut self, by: String) -> Result<Vec<Effect>, EngineError> {
        self.expect_administrator(&by)?;
        match &self.phase {
            Phase::Failed { excused: true, .. } if !self.exception_pending => {}
            Phase::Failed { .. } => return Err(EngineError::RetryWithoutException),
            _ => return Err(EngineError::NothingToRetry),
        }
        let effect = self.record(
            &by,
            "retry",
            json!({}),
            vec![(by.clone(), Purpose::Confirm)],
        );
        // The performer confirms again: a retried step is performed anew
        // (a recombination starts over with fresh shares).
        self.phase = self.entry_phase();
        Ok(vec![effect])
    }

    fn on_abort(&mut self, by: Option<String>, reason: String) -> Result<Vec<Effect>, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::AbortWithoutReason);
        }
        if self.is_working() {
            return Err(EngineError::WorkRunning);
        }
        if let Some(who) = &by {
            self.expect_administrator(who)?;
        }
        let outcome = Outcome::Aborted {
            reason: reason.clone(),
        };
        let effect = self.record(
            by.as_deref().unwrap_or(TOOL),
            "abort",
            json!({ "reason": reason }),
            by.iter().map(|n| (n.clone(), Purpose::Confirm)).collect(),
        );
        self.phase = self.after_close(outcome.clone());
        Ok(vec![effect, Effect::Close(outcome)])
    }

    fn advance(&mut self) {
        self.current += 1;
        self.phase = if self.current < self.steps.len() {
            self.entry_phase()
        } else {
            // Validation puts a close step last, which finishes the
            // ceremony itself; running past it cannot happen.
            Phase::Finished(Outcome::Completed)
        };
    }

    /// After a restart, what was only in the old process's memory is gone:
    /// who was signed in (their keys), the secrets, the shares presented so
    /// far, attestations not yet recorded. Work that was running may or may
    /// not have reached the HSM; it is redone once the runner has reconciled
    /// the token. Returns the "interrupted" record when a step was cut.
    pub fn restart(&mut self) -> Vec<Effect> {
        self.signed_in.clear();
        self.in_memory.clear();
        let interrupted = match &self.phase {
            Phase::Working | Phase::Recover { .. } => Some("its work was running"),
            Phase::Shares { presented } if !presented.is_empty() => {
                Some("shares presented so far must be presented again")
            }
            _ => None,
        };
        let redo_work = matches!(self.phase, Phase::Working | Phase::Recover { .. });
        let typing = matches!(self.phase, Phase::TypePin);
        self.phase = match &self.phase {
            Phase::Shares { .. } => self.entry_phase(),
            Phase::Working | Phase::Recover { .. } => {
                if matches!(self.current().work, Some(Work::Recombine { .. })) {
                    self.entry_phase()
                } else {
                    Phase::Working
                }
            }
            other => other.clone(),
        };
        // A PIN being typed was lost with the old process, and so was the
        // secret it would be sealed under.
        if (redo_work && self.phase == Phase::Working) || typing {
            self.start_work();
        }
        interrupted
            .map(|why| vec![self.record(TOOL, "interrupted", json!({ "reason": why }), vec![])])
            .unwrap_or_default()
    }

    /// Whether the current step's work was interrupted by a restart and is
    /// about to be redone (the runner reconciles the token first).
    pub fn redoing(&self) -> bool {
        self.is_working()
    }

    /// For replay: the capacity named in a confirm entry.
    pub(super) fn capacity(name: &str) -> Option<Capacity> {
        Capacity::parse(name)
    }
}

/// A performer's ticks must be the step's items, each once, in order (the
/// order the script reads them aloud); a materials check going out needs
/// every new seal's number. Nothing is ticked at a step without items.
fn check_ticks(items: &[String], seals: bool, checks: &Checks) -> Result<(), EngineError> {
    let ticked: Vec<&str> = checks.ticked.iter().map(|(i, _)| i.as_str()).collect();
    if let Some(missing) = items.iter().find(|i| !ticked.contains(&i.as_str())) {
        return Err(EngineError::NotTicked(missing.clone()));
    }
    if ticked != items.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(EngineError::WrongTicks(ticked.join(", ")));
    }
    if seals {
        for id in items {
            match checks.sealed.get(id) {
                Some(n) if !n.trim().is_empty() && !n.chars().any(char::is_control) => {}
                _ => return Err(EngineError::SealMissing(id.clone())),
            }
        }
        if checks.sealed.len() != items.len() {
            return Err(EngineError::WrongTicks(
                "a seal for a material this step does not list".into(),
            ));
        }
    } else if !checks.sealed.is_empty() {
        return Err(EngineError::WrongTicks(
            "seal numbers at a step that seals nothing".into(),
        ));
    }
    Ok(())
}
