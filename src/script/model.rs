//! The ceremony script: what was reviewed and approved, independent of any
//! HSM or person. Field names are kebab-case in YAML; every struct denies
//! unknown fields, so a typo is an error with its line and column, never a
//! silently ignored instruction.

use serde::Deserialize;

use crate::hsm::{Backup, KeyAlgorithm, KeyUsage};
pub use crate::transcript::{KeyCustody, Role};

/// The only script format this version understands.
pub const SCRIPT_FORMAT: &str = "keyceremony-script/1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Script {
    pub format: String,
    pub id: String,
    pub version: String,
    pub title: String,
    pub purpose: String,
    #[serde(default)]
    pub approval: Option<Approval>,
    pub roles: Roles,
    /// Physical items checked in at the start and out at the end: the HSM,
    /// tamper-evident bags, media. The bindings give each one's number.
    #[serde(default)]
    pub materials: Vec<Material>,
    pub secrets: Vec<SecretDecl>,
    pub steps: Vec<Step>,
    /// Exceptions to production safeguards, for scripts that need them.
    #[serde(default)]
    pub allow: Allow,
    /// Where participants' keys are between their acts. By default each
    /// act needs its person to present their key; `held-for-session` keeps
    /// every key in memory from sign-in to the close, which the transcript,
    /// `verify` and the report then state.
    #[serde(default)]
    pub keys: KeyCustody,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Material {
    pub id: String,
    pub description: String,
}

/// Production refuses what only belongs in a rehearsal unless the reviewed
/// script says otherwise, in writing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Allow {
    /// Let a production run use SoftHSM2 (for example, a software-only CA
    /// whose risk was accepted).
    #[serde(default)]
    pub softhsm_in_production: bool,
    /// Let a production run use the DEMO-ONLY rehearsal identities.
    #[serde(default)]
    pub demo_identities_in_production: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Approval {
    pub approved_by: Vec<String>,
    pub date: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Roles {
    pub administrator: RoleCount,
    pub witness: RoleCount,
    pub custodian: CustodianRole,
    #[serde(default)]
    pub auditor: Option<RoleCount>,
    #[serde(default)]
    pub observer: Option<RoleCount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RoleCount {
    pub count: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CustodianRole {
    /// n: how many custodians receive a share of each secret.
    pub count: u8,
    /// k: how many of them must present their shares to recover a secret.
    pub threshold: u8,
}

/// A ceremony secret: 256 random bits, split among the custodians (k of n as
/// the custodian role says), from which a PIN is derived.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SecretDecl {
    pub name: String,
    pub description: String,
    /// `original`: the secret was split in an earlier ceremony (the
    /// bindings' `original` transcript); its custodians bring those shares.
    #[serde(default)]
    pub from: Option<SecretOrigin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretOrigin {
    Original,
}

/// One numbered step. What the step does is given by at most one of the
/// action keys (`check-hsm`, `split-secret`, ...); a step with none is an
/// instruction that people carry out and confirm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Step {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub instructions: String,
    pub performer: Role,
    pub witness: Role,
    #[serde(default)]
    pub checklist: Option<Checklist>,
    #[serde(default)]
    pub identity_check: Option<IdentityCheck>,
    #[serde(default)]
    pub materials_check: Option<MaterialsCheck>,
    #[serde(default)]
    pub check_hsm: Option<CheckHsm>,
    #[serde(default)]
    pub split_secret: Option<SplitSecret>,
    #[serde(default)]
    pub init_token: Option<InitToken>,
    #[serde(default)]
    pub recombine: Option<Recombine>,
    #[serde(default)]
    pub set_user_pin: Option<SetUserPin>,
    #[serde(default)]
    pub generate_key: Option<GenerateKey>,
    #[serde(default)]
    pub export_public_key: Option<ExportPublicKey>,
    #[serde(default)]
    pub list_objects: Option<ListObjects>,
    #[serde(default)]
    pub import_kek: Option<ImportKek>,
    #[serde(default)]
    pub backup_key: Option<BackupKey>,
    #[serde(default)]
    pub restore_key: Option<RestoreKey>,
    #[serde(default)]
    pub reshare: Option<Reshare>,
    #[serde(default)]
    pub sign_challenge: Option<SignChallenge>,
    #[serde(default)]
    pub root_certificate: Option<RootCertificate>,
    #[serde(default)]
    pub sign_csr: Option<SignCsr>,
    #[serde(default)]
    pub crl: Option<Crl>,
    #[serde(default)]
    pub attest: Option<Attest>,
    #[serde(default)]
    pub close: Option<Close>,
}

/// Items the performer checks one by one; the witness confirms them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Checklist {
    pub items: Vec<String>,
}

/// Each person holding one of `roles` proves, now, that they hold their
/// roster key by loading it and signing a fresh challenge (the chain head).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IdentityCheck {
    pub roles: Vec<Role>,
}

/// The witness checks every material's number against the bindings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaterialsCheck {
    pub direction: Direction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Taken out of storage and inspected at the start.
    In,
    /// Sealed and returned to storage at the end.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CheckHsm {}

/// Records the token's whole inventory in the transcript.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListObjects {
    pub user_pin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SplitSecret {
    pub secret: String,
    /// Besides the sealed share files: show each custodian their share on
    /// screen, one at a time, and have them type it back to prove their
    /// copy before the ceremony moves on.
    #[serde(default)]
    pub show_on_screen: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InitToken {
    /// The secret the SO PIN is derived from.
    pub so_pin: String,
    /// The label the token gets (at most 32 bytes).
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Recombine {
    pub secret: String,
    /// Prove the recombined PIN by logging in with it.
    #[serde(default)]
    pub login: Option<LoginRole>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoginRole {
    SecurityOfficer,
    User,
}

impl LoginRole {
    /// As scripts, bindings and answers write it.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginRole::SecurityOfficer => "security-officer",
            LoginRole::User => "user",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SetUserPin {
    /// The SO PIN that sets the user PIN. Absent: the step can only adopt a
    /// user PIN set with the vendor's tool (bindings `hsm.existing-pins:
    /// [user]`), as on modules without a PKCS#11 SO.
    #[serde(default)]
    pub so_pin: Option<String>,
    pub user_pin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GenerateKey {
    pub label: String,
    pub algorithm: KeyAlgorithm,
    pub usage: KeyUsage,
    pub user_pin: String,
    /// `none` (default): the key can never leave the HSM. `wrapped`: it can
    /// leave only wrapped under a trusted KEK (a backup-key step).
    #[serde(default)]
    pub backup: Backup,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExportPublicKey {
    pub label: String,
    pub user_pin: String,
}

/// The SO creates the backup key-encryption key on the token as a trusted
/// AES key, from a quorum secret: the only key a wrapped-backup key may
/// leave the HSM under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImportKek {
    /// The quorum secret the KEK is derived from.
    pub secret: String,
    pub so_pin: String,
    /// The KEK's label on the token.
    pub label: String,
}

/// The key, wrapped under the trusted KEK, written to the backup directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BackupKey {
    pub label: String,
    /// The label of the KEK an import-kek step created.
    pub kek: String,
    pub user_pin: String,
}

/// The original ceremony's backup of `label`, unwrapped under the KEK into
/// this token as a non-extractable key, and proven to be the same key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RestoreKey {
    pub label: String,
    pub kek: String,
    pub user_pin: String,
}

/// A recombined secret moved to this ceremony's custodians; every one
/// proves their copy, and the old shares are recorded as void.
///
/// By default a secret that gives a PIN is replaced: a new secret is drawn,
/// the token's PIN changed to the one derived from it (C_SetPIN, proven by a
/// login), and the new secret split, so that the old shares no longer open
/// the token. Shamir shares cannot be revoked, only made useless.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Reshare {
    pub secret: String,
    /// Split the same secret again: the old shares stay mathematically
    /// valid and are void only by the record. Needed for a secret that must
    /// not change (a KEK secret: existing blobs are wrapped under its KEK).
    #[serde(default)]
    pub keep_secret: bool,
}

/// The key signs a fresh, domain-separated test challenge; the signature is
/// verified in software against the public key the transcript recorded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignChallenge {
    pub key: String,
    pub user_pin: String,
}

/// The key's self-signed CA certificate, signed inside the HSM.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RootCertificate {
    /// The signing key's label; the key is found by the public key the
    /// transcript recorded for it.
    pub key: String,
    pub user_pin: String,
    pub profile: crate::ca::CertProfile,
}

/// A CA certificate for a CSR (an input named in the bindings), signed by
/// `key` under the policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignCsr {
    pub key: String,
    pub user_pin: String,
    /// The name of the CSR file under the bindings' `inputs`.
    pub csr: String,
    pub policy: crate::ca::CsrPolicy,
}

/// A CRL signed by `key`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Crl {
    pub key: String,
    pub user_pin: String,
    pub profile: crate::ca::CrlProfile,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Attest {
    /// Every person holding one of these roles cosigns the chain head.
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Close {}

/// What a step does, resolved from its action key.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Instruction,
    Checklist(&'a Checklist),
    IdentityCheck(&'a IdentityCheck),
    MaterialsCheck(&'a MaterialsCheck),
    CheckHsm(&'a CheckHsm),
    SplitSecret(&'a SplitSecret),
    InitToken(&'a InitToken),
    Recombine(&'a Recombine),
    SetUserPin(&'a SetUserPin),
    GenerateKey(&'a GenerateKey),
    ExportPublicKey(&'a ExportPublicKey),
    ListObjects(&'a ListObjects),
    ImportKek(&'a ImportKek),
    BackupKey(&'a BackupKey),
    RestoreKey(&'a RestoreKey),
    Reshare(&'a Reshare),
    SignChallenge(&'a SignChallenge),
    RootCertificate(&'a RootCertificate),
    SignCsr(&'a SignCsr),
    Crl(&'a Crl),
    Attest(&'a Attest),
    Close(&'a Close),
}

impl Step {
    /// Every action key present on this step, by YAML name. Validation
    /// refuses more than one, so `action()` can take the first.
    pub fn action_keys(&self) -> Vec<&'static str> {
        self.actions().into_iter().map(|a| a.kind()).collect()
    }

    fn actions(&self) -> Vec<Action<'_>> {
        let mut found = Vec::new();
        if let Some(a) = &self.checklist {
            found.push(Action::Checklist(a));
        }
        if let Some(a) = &self.identity_check {
            found.push(Action::IdentityCheck(a));
        }
        if let Some(a) = &self.materials_check {
            found.push(Action::MaterialsCheck(a));
        }
        if let Some(a) = &self.check_hsm {
            found.push(Action::CheckHsm(a));
        }
        if let Some(a) = &self.split_secret {
            found.push(Action::SplitSecret(a));
        }
        if let Some(a) = &self.init_token {
            found.push(Action::InitToken(a));
        }
        if let Some(a) = &self.recombine {
            found.push(Action::Recombine(a));
        }
        if let Some(a) = &self.set_user_pin {
            found.push(Action::SetUserPin(a));
        }
        if let Some(a) = &self.generate_key {
            found.push(Action::GenerateKey(a));
        }
        if let Some(a) = &self.export_public_key {
            found.push(Action::ExportPublicKey(a));
        }
        if let Some(a) = &self.list_objects {
            found.push(Action::ListObjects(a));
        }
        if let Some(a) = &self.import_kek {
            found.push(Action::ImportKek(a));
        }
        if let Some(a) = &self.backup_key {
            found.push(Action::BackupKey(a));
        }
        if let Some(a) = &self.restore_key {
            found.push(Action::RestoreKey(a));
        }
        if let Some(a) = &self.reshare {
            found.push(Action::Reshare(a));
        }
        if let Some(a) = &self.sign_challenge {
            found.push(Action::SignChallenge(a));
        }
        if let Some(a) = &self.root_certificate {
            found.push(Action::RootCertificate(a));
        }
        if let Some(a) = &self.sign_csr {
            found.push(Action::SignCsr(a));
        }
        if let Some(a) = &self.crl {
            found.push(Action::Crl(a));
        }
        if let Some(a) = &self.attest {
            found.push(Action::Attest(a));
        }
        if let Some(a) = &self.close {
            found.push(Action::Close(a));
        }
        found
    }

    pub fn action(&self) -> Action<'_> {
        self.actions()
            .into_iter()
            .next()
            .unwrap_or(Action::Instruction)
    }
}

impl Action<'_> {
    /// The step kind's name, as written in the script and the transcript.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Instruction => "instruction",
            Action::Checklist(_) => "checklist",
            Action::IdentityCheck(_) => "identity-check",
            Action::MaterialsCheck(_) => "materials-check",
            Action::CheckHsm(_) => "check-hsm",
            Action::SplitSecret(_) => "split-secret",
            Action::InitToken(_) => "init-token",
            Action::Recombine(_) => "recombine",
            Action::SetUserPin(_) => "set-user-pin",
            Action::GenerateKey(_) => "generate-key",
            Action::ExportPublicKey(_) => "export-public-key",
            Action::ListObjects(_) => "list-objects",
            Action::ImportKek(_) => "import-kek",
            Action::BackupKey(_) => "backup-key",
            Action::RestoreKey(_) => "restore-key",
            Action::Reshare(_) => "reshare",
            Action::SignChallenge(_) => "sign-challenge",
            Action::RootCertificate(_) => "root-certificate",
            Action::SignCsr(_) => "sign-csr",
            Action::Crl(_) => "crl",
            Action::Attest(_) => "attest",
            Action::Close(_) => "close",
        }
    }

    /// Irreversible actions need a word typed in full, as IANA's ceremony
    /// tooling asks for "Yes": a stray Enter must not initialize a token.
    pub fn confirm_word(&self) -> Option<&'static str> {
        match self {
            Action::InitToken(_) => Some("initialize"),
            Action::GenerateKey(_) => Some("generate"),
            Action::RestoreKey(_) => Some("restore"),
            Action::RootCertificate(_) | Action::SignCsr(_) | Action::Crl(_) => Some("sign"),
            _ => None,
        }
    }
}
