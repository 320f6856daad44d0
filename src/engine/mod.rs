//! The ceremony engine: a sans-I/O state machine.
//!
//! Like rustls, the engine performs no I/O: no terminal, no HSM, no files,
//! no clock, no secrets. Its caller asks what it `needs` next (a person to
//! sign in, a confirmation, shares, HSM work), feeds it `Input`s, and carries
//! out the `Effect`s it returns (transcript entries to write, the close). The
//! terminal UI, the headless runner and the tests all drive this one type, so
//! the rules — who may act when, in what order — hold for all of them.
//!
//! The transcript is the engine's write-ahead log: every input that changes
//! the state produces an entry, and `replay` turns those entries back into
//! the same state after a crash.

mod machine;
mod plan;
mod replay;

use serde_json::Value;

pub use machine::Engine;
pub use plan::{StepPlan, Work, login_name};

use crate::script::{LoginRole, Role};

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

/// In which capacity a person confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    /// Performs the current step.
    Performer,
    /// Confirms the step happened as recorded.
    Witness,
    /// Confirms an exception the administrator recorded.
    ExceptionWitness,
}

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::Performer => "performer",
            Capacity::Witness => "witness",
            Capacity::ExceptionWitness => "exception-witness",
        }
    }

    fn parse(s: &str) -> Option<Capacity> {
        [
            Capacity::Performer,
            Capacity::Witness,
            Capacity::ExceptionWitness,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
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
    /// An identity-check step: `participant` proves, now, that they hold
    /// their roster key (loading it again, even if signed in).
    Identify {
        participant: String,
        role: Role,
    },
    /// `participant` confirms; `word`, when present, must be typed exactly
    /// (irreversible actions).
    Confirm {
        participant: String,
        capacity: Capacity,
        word: Option<&'static str>,
    },
    /// One more custodian must present a share of `secret`; `presented`
    /// have already. `recovering`: the secret is needed again after a
    /// restart (it was lost with the process's memory).
    Share {
        secret: String,
        candidates: Vec<String>,
        presented: Vec<String>,
        needed: usize,
        recovering: bool,
    },
    /// On-screen delivery after a split: `custodian` sees their share alone,
    /// then types it back to prove their copy.
    DeliverShare {
        custodian: String,
        secret: String,
    },
    /// `participant` types the existing PIN of `role` (set with the vendor's
    /// tool) for sealing under `secret`. The PIN goes to the runner only.
    ExistingPin {
        participant: String,
        role: LoginRole,
        secret: String,
    },
    /// The runner must carry out this work and report the result.
    Work(Work),
    /// `participant` must attest the chain head.
    Attest {
        participant: String,
    },
    /// The transcript is closed; `participant`, a witness or auditor who
    /// signed in, cosigns its checkpoint.
    Cosign {
        participant: String,
    },
    /// The step failed. The administrator may abort, or record an exception
    /// (confirmed by the witness) and then retry the step.
    Failed {
        error: String,
        may_retry: bool,
    },
    Finished(Outcome),
}

/// An exception: a deviation from the script, as the administrator states
/// it. Recorded as written, never edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub expected: String,
    pub happened: String,
    pub decision: String,
}

/// What a performer checked, item by item, before confirming a checklist
/// or a materials check: each item ticked, with the time it was ticked,
/// and, when materials go out, the number of each new seal. Recorded in
/// the performer's signed confirmation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checks {
    /// (item, RFC 3339 time), in the order ticked.
    pub ticked: Vec<(String, String)>,
    /// Material id → the number of the seal it leaves under.
    pub sealed: std::collections::BTreeMap<String, String>,
}

impl Checks {
    /// Every item of `items` ticked now: the headless run, whose performer
    /// is the answers file.
    pub fn all(items: &[String], at: &str) -> Checks {
        Checks {
            ticked: items.iter().map(|i| (i.clone(), at.to_string())).collect(),
            sealed: Default::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ticked.is_empty() && self.sealed.is_empty()
    }

    pub(super) fn to_body(&self) -> (Value, Value) {
        (
            Value::Array(
                self.ticked
                    .iter()
                    .map(|(item, at)| serde_json::json!({ "item": item, "at": at }))
                    .collect(),
            ),
            serde_json::json!(self.sealed),
        )
    }

    /// Read back from a recorded confirmation (a resume's replay).
    pub fn from_body(body: &Value) -> Checks {
        let text = |v: &Value| v.as_str().unwrap_or("").to_string();
        Checks {
            ticked: body["ticked"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| (text(&t["item"]), text(&t["at"])))
                        .collect()
                })
                .unwrap_or_default(),
            sealed: body["sealed"]
                .as_object()
                .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default(),
        }
    }
}

/// The items a performer ticks at a step, from its details: a
/// checklist's items, or the materials by id.
pub fn items_to_tick(details: Option<&Value>) -> Vec<String> {
    let Some(d) = details else {
        return Vec::new();
    };
    if let Some(items) = d["items"].as_array() {
        return items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect();
    }
    d["materials"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|i| i["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the performer gives each material's new seal number.
pub fn seals_materials(details: Option<&Value>) -> bool {
    details.is_some_and(|d| d["direction"] == "out")
}

#[derive(Debug, Clone)]
pub enum Input {
    /// The runner checked that `participant` holds their roster key.
    SignedIn {
        participant: String,
    },
    /// The runner checked a freshly loaded key (identity-check step).
    Identified {
        participant: String,
    },
    Confirmed {
        participant: String,
        typed: Option<String>,
        checks: Checks,
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
    /// `participant` typed the existing PIN; the runner holds it.
    PinTyped {
        participant: String,
    },
    /// The runner checked the copy `custodian` typed back after seeing
    /// their share; `details` are public facts (index, commitment).
    ShareDelivered {
        custodian: String,
        details: Value,
    },
    WorkFailed {
        error: String,
    },
    Attested {
        participant: String,
    },
    /// `participant` cosigned the checkpoint.
    Cosigned {
        participant: String,
    },
    /// `participant` is not there to cosign: the checkpoint goes out
    /// without them, and verify will say so.
    CosignerAbsent {
        participant: String,
    },
    Exception {
        by: String,
        exception: Exception,
    },
    /// Retry the failed step, after an exception was recorded for it.
    Retry {
        by: String,
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
    #[error(
        "only the administrator records exceptions, retries and aborts; {0} is not the administrator"
    )]
    NotAdministrator(String),
    #[error("an exception needs what was expected, what happened and the decision")]
    IncompleteException,
    #[error("the witness must first confirm the exception already recorded")]
    ExceptionPending,
    #[error(
        "record an exception (what was expected, what happened, the decision) before retrying a failed step"
    )]
    RetryWithoutException,
    #[error("only a failed step can be retried")]
    NothingToRetry,
    #[error("the HSM is working; wait for its result, which must be recorded")]
    WorkRunning,
    #[error("an abort needs a reason")]
    AbortWithoutReason,
    #[error("the transcript cannot be replayed: {0}")]
    Replay(String),
    #[error("tick every item before confirming: `{0}` is not ticked")]
    NotTicked(String),
    #[error("the items ticked are not this step's: {0}")]
    WrongTicks(String),
    #[error("give the number of the new seal on `{0}` before confirming")]
    SealMissing(String),
    #[error("the ceremony is over")]
    Finished,
    #[error("the transcript is closed: only the checkpoint's cosignatures remain")]
    Closed,
}

/// Shown per step in a UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    Done,
    Current,
    Pending,
    Failed,
}

/// A short description of a need, for error messages.
pub fn describe(need: &Need) -> String {
    match need {
        Need::SignIn { participant, role } => {
            format!("{role} {participant} must sign in with their key")
        }
        Need::Identify { participant, role } => {
            format!("{role} {participant} must prove their identity with their key")
        }
        Need::Confirm {
            participant,
            capacity,
            ..
        } => format!("{participant} must confirm as {}", capacity.as_str()),
        Need::Share {
            secret,
            presented,
            needed,
            ..
        } => format!(
            "a custodian must present a share of `{secret}` ({} of {needed} presented)",
            presented.len()
        ),
        Need::DeliverShare { custodian, secret } => {
            format!("custodian {custodian} must receive their share of `{secret}`")
        }
        Need::ExistingPin {
            participant, role, ..
        } => format!(
            "{participant} must type the existing {} PIN",
            plan::login_name(*role)
        ),
        Need::Work(w) => format!("the tool is working: {}", w.describe()),
        Need::Attest { participant } => format!("{participant} must attest"),
        Need::Cosign { participant } => format!("{participant} must cosign the checkpoint"),
        Need::Failed { error, .. } => format!("the step failed ({error})"),
        Need::Finished(_) => "the ceremony is over".into(),
    }
}

#[cfg(test)]
mod tests;
