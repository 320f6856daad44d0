//! A validated script turned into the owned, numbered plan the engine walks.

use crate::hsm::{KeyAlgorithm, KeyUsage};
use crate::script::{Action, LoginRole, Role, Script};

/// What the tool does in a step, with everything it needs from the script.
/// `Attest` and `Close` are carried out by the engine itself; the runner
/// receives the others as `Need::Work`.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    CheckHsm,
    Split {
        secret: String,
    },
    InitToken {
        so_pin: String,
        label: String,
    },
    /// `custodians` are filled in, in order, as they present their shares.
    Recombine {
        secret: String,
        login: Option<LoginRole>,
        custodians: Vec<String>,
    },
    SetUserPin {
        so_pin: String,
        user_pin: String,
    },
    GenerateKey {
        label: String,
        algorithm: KeyAlgorithm,
        usage: KeyUsage,
        user_pin: String,
    },
    ExportPublicKey {
        label: String,
        user_pin: String,
    },
    Attest {
        roles: Vec<Role>,
    },
    Close,
}

impl Work {
    pub fn describe(&self) -> String {
        match self {
            Work::CheckHsm => "reading the token's identity".into(),
            Work::Split { secret } => format!("generating and splitting `{secret}`"),
            Work::InitToken { label, .. } => format!("initializing token `{label}`"),
            Work::Recombine { secret, .. } => format!("recombining `{secret}`"),
            Work::SetUserPin { .. } => "setting the user PIN".into(),
            Work::GenerateKey {
                label, algorithm, ..
            } => format!("generating {algorithm} key `{label}` inside the HSM"),
            Work::ExportPublicKey { label, .. } => format!("exporting the public key of `{label}`"),
            Work::Attest { .. } => "collecting attestations".into(),
            Work::Close => "closing".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    /// 1-based, as people read it from the paper script.
    pub number: usize,
    pub id: String,
    pub title: String,
    pub instructions: String,
    pub kind: &'static str,
    pub performer: Role,
    pub witness: Role,
    pub word: Option<&'static str>,
    pub work: Option<Work>,
}

pub(super) fn plan(script: &Script) -> Vec<StepPlan> {
    script
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let action = step.action();
            let work = match action {
                Action::Instruction => None,
                Action::CheckHsm(_) => Some(Work::CheckHsm),
                Action::SplitSecret(a) => Some(Work::Split {
                    secret: a.secret.clone(),
                }),
                Action::InitToken(a) => Some(Work::InitToken {
                    so_pin: a.so_pin.clone(),
                    label: a.label.clone(),
                }),
                Action::Recombine(a) => Some(Work::Recombine {
                    secret: a.secret.clone(),
                    login: a.login,
                    custodians: Vec::new(),
                }),
                Action::SetUserPin(a) => Some(Work::SetUserPin {
                    so_pin: a.so_pin.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::GenerateKey(a) => Some(Work::GenerateKey {
                    label: a.label.clone(),
                    algorithm: a.algorithm,
                    usage: a.usage,
                    user_pin: a.user_pin.clone(),
                }),
                Action::ExportPublicKey(a) => Some(Work::ExportPublicKey {
                    label: a.label.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::Attest(a) => Some(Work::Attest {
                    roles: a.roles.clone(),
                }),
                Action::Close(_) => Some(Work::Close),
            };
            StepPlan {
                number: i + 1,
                id: step.id.clone(),
                title: step.title.clone(),
                instructions: step.instructions.clone(),
                kind: action.kind(),
                performer: step.performer,
                witness: step.witness,
                word: action.confirm_word(),
                work,
            }
        })
        .collect()
}
