//! A validated script turned into the owned, numbered plan the engine walks.

use serde_json::{Value, json};

use crate::hsm::{Backup, KeyAlgorithm, KeyUsage};
use crate::script::{Action, Ceremony, LoginRole, Role};

/// What the tool does in a step, with everything it needs from the script.
/// `Identify`, `Attest` and `Close` are carried out by the engine itself
/// (they are acts of people); the runner receives the others as
/// `Need::Work`.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    CheckHsm,
    Split {
        secret: String,
        show_on_screen: bool,
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
    /// An init-token or set-user-pin step on a token whose PINs were set
    /// with the vendor's tool (`hsm.existing-pins`): the performer types the
    /// existing PIN of `role`; one login checks it, and it is sealed under
    /// `secret`.
    AdoptPin {
        role: LoginRole,
        secret: String,
    },
    GenerateKey {
        label: String,
        algorithm: KeyAlgorithm,
        usage: KeyUsage,
        user_pin: String,
        backup: Backup,
    },
    ExportPublicKey {
        label: String,
        user_pin: String,
    },
    ListObjects {
        user_pin: String,
    },
    /// The SO creates the trusted backup KEK from `secret`.
    ImportKek {
        secret: String,
        so_pin: String,
        label: String,
    },
    /// `label` wrapped under the KEK `kek`, written to the backup directory.
    BackupKey {
        label: String,
        kek: String,
        user_pin: String,
        /// No later step uses the KEK: it is destroyed after the wrap.
        destroy_kek_after: bool,
    },
    /// The original ceremony's backup of `label` unwrapped under `kek`.
    RestoreKey {
        label: String,
        kek: String,
        user_pin: String,
        /// No later step uses the KEK: it is destroyed after the unwrap.
        destroy_kek_after: bool,
    },
    /// The recombined `secret` moved to this roster's custodians: replaced
    /// by a new one (the token's PIN changed to match) unless `keep_secret`.
    Reshare {
        secret: String,
        /// The same secret split again (the old shares stay valid), instead
        /// of a new one that replaces the token's PIN.
        keep_secret: bool,
    },
    /// `key` signs a fresh test challenge, checked in software.
    SignChallenge {
        key: String,
        user_pin: String,
    },
    /// A certificate or CRL signed by `key` inside the HSM; the profile is
    /// the step's, read from the script by `step` (its id).
    Sign {
        step: String,
        kind: &'static str,
        key: String,
        user_pin: String,
    },
    Identify {
        roles: Vec<Role>,
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
            Work::Split { secret, .. } => format!("generating and splitting `{secret}`"),
            Work::InitToken { label, .. } => format!("initializing token `{label}`"),
            Work::Recombine { secret, .. } => format!("recombining `{secret}`"),
            Work::SetUserPin { .. } => "setting the user PIN".into(),
            Work::AdoptPin { role, secret } => format!(
                "checking the existing {} PIN and sealing it under `{secret}`",
                login_name(*role)
            ),
            Work::GenerateKey {
                label, algorithm, ..
            } => format!("generating {algorithm} key `{label}` inside the HSM"),
            Work::ExportPublicKey { label, .. } => format!("exporting the public key of `{label}`"),
            Work::ListObjects { .. } => "listing every object on the token".into(),
            Work::ImportKek { label, .. } => format!("creating the trusted backup KEK `{label}`"),
            Work::BackupKey { label, kek, .. } => {
                format!("wrapping `{label}` under the backup KEK `{kek}`")
            }
            Work::RestoreKey { label, .. } => {
                format!("restoring `{label}` from its backup and proving it")
            }
            Work::Reshare {
                secret,
                keep_secret: true,
            } => {
                format!("splitting `{secret}` afresh for the new custodians")
            }
            Work::Reshare { secret, .. } => {
                format!(
                    "changing the token's PIN to a new `{secret}` and splitting it for the new custodians"
                )
            }
            Work::SignChallenge { key, .. } => {
                format!("signing a test challenge with `{key}` inside the HSM")
            }
            Work::Sign { kind, key, .. } => {
                format!("signing the {kind} with `{key}` inside the HSM")
            }
            Work::Identify { .. } => "checking identities".into(),
            Work::Attest { .. } => "collecting attestations".into(),
            Work::Close => "closing".into(),
        }
    }

    /// The secrets this work needs in memory (to derive a PIN).
    pub fn needs(&self) -> Vec<&str> {
        match self {
            Work::InitToken { so_pin, .. } => vec![so_pin],
            Work::SetUserPin { so_pin, user_pin } => vec![so_pin, user_pin],
            Work::GenerateKey { user_pin, .. }
            | Work::ExportPublicKey { user_pin, .. }
            | Work::BackupKey { user_pin, .. }
            | Work::RestoreKey { user_pin, .. }
            | Work::Sign { user_pin, .. }
            | Work::SignChallenge { user_pin, .. }
            | Work::ListObjects { user_pin } => vec![user_pin],
            Work::ImportKek { secret, so_pin, .. } => vec![secret, so_pin],
            Work::Reshare { secret, .. } | Work::AdoptPin { secret, .. } => vec![secret],
            _ => vec![],
        }
    }

    /// The secret this work brings into memory, if any.
    pub fn brings(&self) -> Option<&str> {
        match self {
            Work::Split { secret, .. } | Work::Recombine { secret, .. } => Some(secret),
            _ => None,
        }
    }

    /// Work the runner carries out (as opposed to acts of people).
    pub fn is_for_runner(&self) -> bool {
        !matches!(
            self,
            Work::Identify { .. } | Work::Attest { .. } | Work::Close
        )
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
    /// What the performer confirms, beyond the instructions: a checklist's
    /// items, the materials with their numbers. Recorded with the
    /// performer's confirmation.
    pub details: Option<Value>,
}

/// How the transcript and the screens name a login role.
pub fn login_name(role: LoginRole) -> &'static str {
    match role {
        LoginRole::SecurityOfficer => "SO",
        LoginRole::User => "user",
    }
}

pub(super) fn plan(ceremony: &Ceremony) -> Vec<StepPlan> {
    let script = &ceremony.script.value;
    let numbers = &ceremony.bindings.value.materials;
    let hsm = &ceremony.bindings.value.hsm;
    script
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let action = step.action();
            let details = match action {
                Action::Checklist(c) => Some(json!({ "items": c.items })),
                Action::MaterialsCheck(m) => Some(json!({
                    "direction": m.direction.as_str(),
                    "materials": script.materials.iter().map(|item| json!({
                        "id": item.id,
                        "description": item.description,
                        "number": numbers.get(&item.id).cloned().unwrap_or_default(),
                    })).collect::<Vec<_>>(),
                })),
                _ => None,
            };
            let work = match action {
                Action::Instruction | Action::Checklist(_) | Action::MaterialsCheck(_) => None,
                Action::IdentityCheck(a) => Some(Work::Identify {
                    roles: a.roles.clone(),
                }),
                Action::ListObjects(a) => Some(Work::ListObjects {
                    user_pin: a.user_pin.clone(),
                }),
                Action::CheckHsm(_) => Some(Work::CheckHsm),
                Action::SplitSecret(a) => Some(Work::Split {
                    secret: a.secret.clone(),
                    show_on_screen: a.show_on_screen,
                }),
                Action::InitToken(a) if hsm.existing_pin(LoginRole::SecurityOfficer) => {
                    Some(Work::AdoptPin {
                        role: LoginRole::SecurityOfficer,
                        secret: a.so_pin.clone(),
                    })
                }
                Action::InitToken(a) => Some(Work::InitToken {
                    so_pin: a.so_pin.clone(),
                    label: a.label.clone(),
                }),
                Action::Recombine(a) => Some(Work::Recombine {
                    secret: a.secret.clone(),
                    login: a.login,
                    custodians: Vec::new(),
                }),
                // Without an SO PIN the step can only adopt (validation
                // requires bindings that say so).
                Action::SetUserPin(a) => match &a.so_pin {
                    Some(so) if !hsm.existing_pin(LoginRole::User) => Some(Work::SetUserPin {
                        so_pin: so.clone(),
                        user_pin: a.user_pin.clone(),
                    }),
                    _ => Some(Work::AdoptPin {
                        role: LoginRole::User,
                        secret: a.user_pin.clone(),
                    }),
                },
                Action::GenerateKey(a) => Some(Work::GenerateKey {
                    label: a.label.clone(),
                    algorithm: a.algorithm,
                    usage: a.usage,
                    user_pin: a.user_pin.clone(),
                    backup: a.backup,
                }),
                Action::ExportPublicKey(a) => Some(Work::ExportPublicKey {
                    label: a.label.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::ImportKek(a) => Some(Work::ImportKek {
                    secret: a.secret.clone(),
                    so_pin: a.so_pin.clone(),
                    label: a.label.clone(),
                }),
                Action::BackupKey(a) => Some(Work::BackupKey {
                    label: a.label.clone(),
                    kek: a.kek.clone(),
                    user_pin: a.user_pin.clone(),
                    destroy_kek_after: !kek_used_after(&script.steps[i + 1..], &a.kek),
                }),
                Action::RestoreKey(a) => Some(Work::RestoreKey {
                    label: a.label.clone(),
                    kek: a.kek.clone(),
                    user_pin: a.user_pin.clone(),
                    destroy_kek_after: !kek_used_after(&script.steps[i + 1..], &a.kek),
                }),
                Action::Reshare(a) => Some(Work::Reshare {
                    secret: a.secret.clone(),
                    keep_secret: a.keep_secret,
                }),
                Action::SignChallenge(a) => Some(Work::SignChallenge {
                    key: a.key.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::RootCertificate(a) => Some(Work::Sign {
                    step: step.id.clone(),
                    kind: "root-certificate",
                    key: a.key.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::SignCsr(a) => Some(Work::Sign {
                    step: step.id.clone(),
                    kind: "sign-csr",
                    key: a.key.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::Crl(a) => Some(Work::Sign {
                    step: step.id.clone(),
                    kind: "crl",
                    key: a.key.clone(),
                    user_pin: a.user_pin.clone(),
                }),
                Action::Attest(a) => Some(Work::Attest {
                    roles: a.roles.clone(),
                }),
                Action::Close(_) => Some(Work::Close),
            };
            // The script's instructions describe initializing or setting;
            // the performer confirms, on the record, what happens instead.
            let details = match &work {
                Some(Work::AdoptPin { role, secret }) => Some(json!({
                    "note": format!(
                        "These bindings say the token was initialized with the vendor's tool (hsm.existing-pins): this step does not initialize the token. The performer types the existing {} PIN; one login checks it; {}",
                        login_name(*role),
                        if hsm.keep_existing_pins {
                            format!("it is kept, sealed under `{secret}` (whoever set it may still know it).")
                        } else {
                            format!("it is then replaced by the PIN derived from `{secret}`.")
                        }
                    ),
                })),
                _ => details,
            };
            StepPlan {
                number: i + 1,
                id: step.id.clone(),
                title: step.title.clone(),
                instructions: step.instructions.clone(),
                kind: action.kind(),
                performer: step.performer,
                witness: step.witness,
                // Adopting a PIN erases nothing: no word to type.
                word: match work {
                    Some(Work::AdoptPin { .. }) => None,
                    _ => action.confirm_word(),
                },
                work,
                details,
            }
        })
        .collect()
}

/// Whether one of `steps` wraps or unwraps under the KEK `kek`. After its
/// last use the KEK is destroyed: a KEK left on a token is a public object
/// (the security officer cannot make private ones), whose value SoftHSM2
/// stores unencrypted in the token file, and whose holder with a blob has
/// the key. The custodians' shares of its secret are what a restore needs.
fn kek_used_after(steps: &[crate::script::Step], kek: &str) -> bool {
    steps.iter().any(|s| match s.action() {
        Action::BackupKey(a) => a.kek == kek,
        Action::RestoreKey(a) => a.kek == kek,
        _ => false,
    })
}
