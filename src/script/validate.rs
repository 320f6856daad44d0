//! Meaning checks that the YAML schema cannot express: references between
//! steps, quorum arithmetic, separation of duties, and whether the bindings
//! fill the roles the script asks for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{
    Action, Bindings, Loaded, LoginRole, Mode, Problem, Role, SCRIPT_FORMAT, Script, ScriptError,
    YamlPath, load_script, load_yaml,
};
use crate::ca::{CaError, CaKeyUsage, CertProfile};
use crate::hsm::{Backup, KeyAlgorithm, KeyUsage};
use crate::identity::PublicIdentity;

/// PKCS#11 token labels are 32 bytes; SoftHSM2 cuts longer ones silently.
const MAX_TOKEN_LABEL: usize = 32;
const MAX_KEY_LABEL: usize = 64;

fn usage_fits(algorithm: KeyAlgorithm, usage: KeyUsage) -> bool {
    use KeyAlgorithm::*;
    match usage {
        KeyUsage::Sign => !matches!(algorithm, Aes256),
        KeyUsage::Encrypt => matches!(algorithm, Aes256 | Rsa3072 | Rsa4096),
    }
}

/// The CA module's own profile check, run at load so that `lint` and `run`
/// refuse the script before a ceremony starts. The error names the field
/// relative to the profile's parent (`under`), which is where it points.
fn check_profile(
    profile: &CertProfile,
    under: &YamlPath,
    here: &str,
    out: &mut Vec<(YamlPath, String)>,
) {
    if let Err(error) = profile.check() {
        let at = match &error {
            CaError::Profile { field, .. } => field.split('.').fold(under.clone(), |p, k| p.key(k)),
            _ => under.clone(),
        };
        out.push((at, format!("{here}: {error}")));
    }
}

/// A key label names the files of its public key and backup blob, so it
/// must be a file name as well as fit a PKCS#11 label.
fn key_label(label: &str) -> Result<(), String> {
    if label.is_empty() || label.len() > MAX_KEY_LABEL {
        return Err(format!("a key label is 1 to {MAX_KEY_LABEL} bytes"));
    }
    crate::file_name::file_name(label)
        .map(|_| ())
        .map_err(|e| format!("key label {e}"))
}

fn is_name(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a parsed script; an empty result means it can run.
pub(super) fn script(loaded: &Loaded<Script>) -> Vec<Problem> {
    let s = &loaded.value;
    let root = YamlPath::root();
    let mut out = Vec::new();
    let mut bad = |path: YamlPath, msg: String| out.push(loaded.problem(&path, msg));

    if s.format != SCRIPT_FORMAT {
        bad(
            root.key("format"),
            format!(
                "unsupported script format `{}`; this version reads `{SCRIPT_FORMAT}`",
                s.format
            ),
        );
    }
    if !is_name(&s.id, 48) {
        bad(
            root.key("id"),
            format!(
                "script id `{}` must be 1-48 characters of a-z, 0-9 and '-', starting with a letter",
                s.id
            ),
        );
    }

    let roles = root.key("roles");
    if s.roles.administrator.count != 1 {
        bad(
            roles.key("administrator").key("count"),
            "a ceremony has exactly one administrator".into(),
        );
    }
    if s.roles.witness.count != 1 {
        bad(
            roles.key("witness").key("count"),
            "a ceremony has exactly one internal witness".into(),
        );
    }
    let (k, n) = (s.roles.custodian.threshold, s.roles.custodian.count);
    if k < 2 {
        bad(
            roles.key("custodian").key("threshold"),
            format!(
                "threshold {k}: a threshold below 2 puts the whole secret in every share; use 2 or more"
            ),
        );
    }
    if k > n {
        bad(
            roles.key("custodian").key("threshold"),
            format!(
                "threshold {k} is more than the {n} custodians: the secret could never be recovered"
            ),
        );
    }
    if n > 16 {
        bad(
            roles.key("custodian").key("count"),
            format!("{n} custodians: at most 16 are supported"),
        );
    }
    if let Some(a) = &s.roles.auditor
        && a.count > 1
    {
        bad(
            roles.key("auditor").key("count"),
            "at most one auditor".into(),
        );
    }

    let mut secrets = BTreeSet::new();
    for (i, d) in s.secrets.iter().enumerate() {
        let p = root.key("secrets").index(i).key("name");
        if !is_name(&d.name, 32) {
            bad(
                p,
                format!(
                    "secret name `{}` must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
                    d.name
                ),
            );
        } else if !secrets.insert(d.name.as_str()) {
            bad(p, format!("secret `{}` is declared twice", d.name));
        }
    }

    let mut material_ids = BTreeSet::new();
    for (i, m) in s.materials.iter().enumerate() {
        let p = root.key("materials").index(i).key("id");
        if !is_name(&m.id, 32) {
            bad(
                p,
                format!(
                    "material id `{}` must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
                    m.id
                ),
            );
        } else if !material_ids.insert(m.id.as_str()) {
            bad(p, format!("material `{}` is listed twice", m.id));
        }
    }

    let role_count = |r: Role| -> u8 {
        match r {
            Role::Administrator => s.roles.administrator.count,
            Role::Witness => s.roles.witness.count,
            Role::Custodian => s.roles.custodian.count,
            Role::Auditor => s.roles.auditor.as_ref().map_or(0, |a| a.count),
            Role::Observer => s.roles.observer.as_ref().map_or(0, |a| a.count),
        }
    };

    let mut ids = BTreeSet::new();
    // A secret from the original ceremony was split there.
    let mut split: BTreeSet<&str> = s
        .secrets
        .iter()
        .filter(|d| d.from.is_some())
        .map(|d| d.name.as_str())
        .collect();
    let from_original = split.clone();
    let mut recombined: BTreeSet<&str> = BTreeSet::new();
    let mut keks: BTreeSet<&str> = BTreeSet::new();
    // Keys restored from the original ceremony's backup; their algorithm is
    // known only from the original transcript, at run time.
    let mut restored: BTreeSet<&str> = BTreeSet::new();
    let mut wrapped_keys: BTreeSet<&str> = BTreeSet::new();
    // Keys with a CA certificate made earlier in this script: the step that
    // made it and its key usages.
    let mut certified: BTreeMap<&str, (&str, &[CaKeyUsage])> = BTreeMap::new();
    // A script continuing an earlier ceremony may use that ceremony's keys
    // and certificates; the run checks them against its transcript.
    let continues = !from_original.is_empty();
    let mut hsm_checked = false;
    let mut so_pin: Option<&str> = None;
    let mut user_pin: Option<&str> = None;
    let mut keys: BTreeMap<&str, KeyAlgorithm> = BTreeMap::new();
    // Generated with `usage: sign`: an RSA encryption key cannot sign.
    let mut signing_keys: BTreeSet<&str> = BTreeSet::new();
    if s.steps.is_empty() {
        bad(root.key("steps"), "the script has no steps".into());
    }
    for (i, step) in s.steps.iter().enumerate() {
        let sp = root.key("steps").index(i);
        let here = format!("step {} `{}`", i + 1, step.id);
        if !is_name(&step.id, 48) {
            bad(
                sp.key("id"),
                format!(
                    "step id `{}` must be 1-48 characters of a-z, 0-9 and '-', starting with a letter",
                    step.id
                ),
            );
        } else if !ids.insert(step.id.as_str()) {
            bad(sp.key("id"), format!("step id `{}` is used twice", step.id));
        }
        let keys_here = step.action_keys();
        if keys_here.len() > 1 {
            bad(
                sp.key(keys_here[1]),
                format!(
                    "{here} has several actions ({}); give each its own step",
                    keys_here.join(", ")
                ),
            );
        }
        for (field, role) in [("performer", step.performer), ("witness", step.witness)] {
            if role_count(role) == 0 {
                bad(
                    sp.key(field),
                    format!("{here}: the script declares no {role} to act as {field}"),
                );
            }
            if role == Role::Observer {
                bad(
                    sp.key(field),
                    format!("{here}: an observer only watches; it cannot be the {field}"),
                );
            }
        }
        if step.performer == step.witness {
            bad(
                sp.key("witness"),
                format!("{here}: the {} cannot witness their own step", step.witness),
            );
        }
        if step.witness == Role::Administrator {
            bad(
                sp.key("witness"),
                format!("{here}: the administrator never witnesses; the internal witness does"),
            );
        }
        let action = step.action();
        let performed_by_custodians = step.performer == Role::Custodian;
        let is_recombine = matches!(action, Action::Recombine(_));
        if performed_by_custodians != is_recombine {
            bad(
                sp.key("performer"),
                if is_recombine {
                    format!(
                        "{here}: shares are presented by custodians; set `performer: custodian`"
                    )
                } else {
                    format!(
                        "{here}: custodians act together only to present shares (a recombine step)"
                    )
                },
            );
        }
        let need_split = |name: &str, field: YamlPath, out: &mut Vec<(YamlPath, String)>| {
            if !secrets.contains(name) {
                out.push((
                    field,
                    format!("{here}: secret `{name}` is not declared under `secrets`"),
                ));
            } else if !split.contains(name) {
                out.push((
                    field,
                    format!(
                        "{here}: secret `{name}` is used before a split-secret step creates it"
                    ),
                ));
            }
        };
        // Every step that logs in as user names the secret an earlier
        // set-user-pin installed; `at` is the step's action.
        let installed_user_pin = |pin: &str, at: &YamlPath, out: &mut Vec<(YamlPath, String)>| {
            if user_pin != Some(pin) {
                out.push((
                    at.key("user-pin"),
                    format!(
                        "{here}: `{pin}` is not the user PIN an earlier set-user-pin step installed"
                    ),
                ));
            }
        };
        let signing_key =
            |key: &str, pin: &str, p: &YamlPath, out: &mut Vec<(YamlPath, String)>| {
                let known = signing_keys.contains(key) || restored.contains(key) || continues;
                if !known {
                    out.push((
                        p.key("key"),
                        format!("{here}: no earlier step makes a signing key `{key}`"),
                    ));
                }
                // CA steps may also use the user PIN of the original ceremony.
                if !from_original.contains(pin) {
                    installed_user_pin(pin, p, out);
                }
            };
        let needs_certificate = |key: &str, p: &YamlPath, out: &mut Vec<(YamlPath, String)>| {
            if !certified.contains_key(key) && !continues {
                out.push((
                    p.key("key"),
                    format!("{here}: `{key}` has no CA certificate yet: a root-certificate step must come first"),
                ));
            }
        };
        let mut refs: Vec<(YamlPath, String)> = Vec::new();
        let touches_hsm = matches!(
            action,
            Action::SplitSecret(_)
                | Action::InitToken(_)
                | Action::Recombine(_)
                | Action::SetUserPin(_)
                | Action::GenerateKey(_)
                | Action::ExportPublicKey(_)
                | Action::ListObjects(_)
                | Action::ImportKek(_)
                | Action::BackupKey(_)
                | Action::RestoreKey(_)
                | Action::SignChallenge(_)
                | Action::RootCertificate(_)
                | Action::SignCsr(_)
                | Action::Crl(_)
        );
        if touches_hsm && !hsm_checked {
            refs.push((
                sp.key(action.kind()),
                format!("{here}: a check-hsm step must come first: no HSM work before the token's identity is checked"),
            ));
        }
        if matches!(action, Action::CheckHsm(_)) {
            hsm_checked = true;
        }
        match action {
            Action::Instruction | Action::CheckHsm(_) => {}
            Action::Checklist(c) => {
                if c.items.is_empty() || c.items.iter().any(|i| i.trim().is_empty()) {
                    refs.push((
                        sp.key("checklist").key("items"),
                        format!("{here}: a checklist needs items, none of them empty"),
                    ));
                }
            }
            Action::IdentityCheck(a) => {
                let p = sp.key("identity-check").key("roles");
                if a.roles.is_empty() {
                    refs.push((
                        p.clone(),
                        format!("{here}: name the roles whose identities are checked"),
                    ));
                }
                for r in &a.roles {
                    if role_count(*r) == 0 {
                        refs.push((p.clone(), format!("{here}: the script declares no {r}")));
                    }
                }
            }
            Action::MaterialsCheck(_) => {
                if s.materials.is_empty() {
                    refs.push((
                        sp.key("materials-check"),
                        format!(
                            "{here}: a materials check needs materials; list them under `materials`"
                        ),
                    ));
                }
            }
            Action::ListObjects(a) => {
                installed_user_pin(&a.user_pin, &sp.key("list-objects"), &mut refs);
            }
            Action::SplitSecret(a) => {
                let p = sp.key("split-secret").key("secret");
                if !secrets.contains(a.secret.as_str()) {
                    refs.push((
                        p,
                        format!(
                            "{here}: secret `{}` is not declared under `secrets`",
                            a.secret
                        ),
                    ));
                } else if from_original.contains(a.secret.as_str()) {
                    refs.push((
                        p,
                        format!(
                            "{here}: secret `{}` comes from the original ceremony; to give it new custodians, recombine it and reshare it",
                            a.secret
                        ),
                    ));
                } else if !split.insert(a.secret.as_str()) {
                    refs.push((p, format!("{here}: secret `{}` is split twice", a.secret)));
                }
            }
            Action::InitToken(a) => {
                let p = sp.key("init-token");
                need_split(&a.so_pin, p.key("so-pin"), &mut refs);
                if so_pin.is_some() {
                    refs.push((p.clone(), format!("{here}: the token is initialized twice")));
                }
                so_pin = Some(&a.so_pin);
                if a.label.is_empty() || a.label.len() > MAX_TOKEN_LABEL {
                    refs.push((
                        p.key("label"),
                        format!(
                            "{here}: a token label is 1 to {MAX_TOKEN_LABEL} bytes (PKCS#11); `{}` is {}",
                            a.label,
                            a.label.len()
                        ),
                    ));
                }
            }
            Action::Recombine(a) => {
                let p = sp.key("recombine");
                need_split(&a.secret, p.key("secret"), &mut refs);
                recombined.insert(a.secret.as_str());
                let installed = match a.login {
                    None => None,
                    Some(LoginRole::SecurityOfficer) => Some((so_pin, "init-token")),
                    Some(LoginRole::User) => Some((user_pin, "set-user-pin")),
                };
                // A secret of the original ceremony was installed there.
                if let Some((pin, by)) = installed
                    && pin != Some(a.secret.as_str())
                    && !from_original.contains(a.secret.as_str())
                {
                    refs.push((
                            p.key("login"),
                            format!(
                                "{here}: no earlier {by} step installs `{}` as that PIN, so a login would fail",
                                a.secret
                            ),
                        ));
                }
            }
            Action::SetUserPin(a) => {
                let p = sp.key("set-user-pin");
                need_split(&a.user_pin, p.key("user-pin"), &mut refs);
                if let Some(so) = &a.so_pin
                    && so_pin != Some(so.as_str())
                {
                    refs.push((
                        p.key("so-pin"),
                        format!(
                            "{here}: `{so}` is not the SO PIN an earlier init-token step installed"
                        ),
                    ));
                }
                // One secret, one PIN: a secret sealing the SO PIN cannot
                // also seal (or derive) the user PIN.
                if a.so_pin.as_ref() == Some(&a.user_pin) || so_pin == Some(a.user_pin.as_str()) {
                    refs.push((
                        p.key("user-pin"),
                        format!("{here}: the user PIN must be a different secret from the SO PIN"),
                    ));
                }
                user_pin = Some(&a.user_pin);
            }
            Action::GenerateKey(a) => {
                let p = sp.key("generate-key");
                installed_user_pin(&a.user_pin, &p, &mut refs);
                if let Err(why) = key_label(&a.label) {
                    refs.push((p.key("label"), format!("{here}: {why}")));
                } else if keys.insert(&a.label, a.algorithm).is_some() {
                    refs.push((
                        p.key("label"),
                        format!("{here}: key label `{}` is generated twice", a.label),
                    ));
                }
                if a.backup == Backup::Wrapped {
                    wrapped_keys.insert(&a.label);
                }
                if a.usage == KeyUsage::Sign {
                    signing_keys.insert(&a.label);
                }
                if !usage_fits(a.algorithm, a.usage) {
                    refs.push((
                        p.key("usage"),
                        format!(
                            "{here}: a {} key cannot be used to {}",
                            a.algorithm, a.usage
                        ),
                    ));
                }
            }
            Action::ExportPublicKey(a) => {
                let p = sp.key("export-public-key");
                match keys.get(a.label.as_str()) {
                    None if restored.contains(a.label.as_str()) => {}
                    None => refs.push((
                        p.key("label"),
                        format!(
                            "{here}: no earlier generate-key step makes key `{}`",
                            a.label
                        ),
                    )),
                    Some(KeyAlgorithm::Aes256) => refs.push((
                        p.key("label"),
                        format!(
                            "{here}: `{}` is a secret (AES) key; it has no public key",
                            a.label
                        ),
                    )),
                    Some(_) => {}
                }
                installed_user_pin(&a.user_pin, &p, &mut refs);
            }
            Action::ImportKek(a) => {
                let p = sp.key("import-kek");
                need_split(&a.secret, p.key("secret"), &mut refs);
                if so_pin != Some(a.so_pin.as_str()) {
                    refs.push((
                        p.key("so-pin"),
                        format!(
                            "{here}: `{}` is not the SO PIN an earlier init-token step installed",
                            a.so_pin
                        ),
                    ));
                }
                if so_pin == Some(a.secret.as_str()) || user_pin == Some(a.secret.as_str()) {
                    refs.push((
                        p.key("secret"),
                        format!(
                            "{here}: the backup KEK must come from its own secret, not a PIN's"
                        ),
                    ));
                }
                if let Err(why) = key_label(&a.label) {
                    refs.push((p.key("label"), format!("{here}: {why}")));
                } else if !keks.insert(a.label.as_str()) || keys.contains_key(a.label.as_str()) {
                    refs.push((
                        p.key("label"),
                        format!("{here}: label `{}` is already used on the token", a.label),
                    ));
                }
            }
            Action::BackupKey(a) => {
                let p = sp.key("backup-key");
                if !keys.contains_key(a.label.as_str()) {
                    refs.push((
                        p.key("label"),
                        format!(
                            "{here}: no earlier generate-key step makes key `{}`",
                            a.label
                        ),
                    ));
                } else if !wrapped_keys.contains(a.label.as_str()) {
                    refs.push((
                        p.key("label"),
                        format!(
                            "{here}: key `{}` is generated with `backup: none`: it can never leave the HSM, so it cannot be backed up (set `backup: wrapped` on its generate-key step)",
                            a.label
                        ),
                    ));
                }
                if !keks.contains(a.kek.as_str()) {
                    refs.push((
                        p.key("kek"),
                        format!("{here}: no earlier import-kek step creates KEK `{}`", a.kek),
                    ));
                }
                installed_user_pin(&a.user_pin, &p, &mut refs);
            }
            Action::RestoreKey(a) => {
                let p = sp.key("restore-key");
                if !keks.contains(a.kek.as_str()) {
                    refs.push((
                        p.key("kek"),
                        format!("{here}: no earlier import-kek step creates KEK `{}`", a.kek),
                    ));
                }
                installed_user_pin(&a.user_pin, &p, &mut refs);
                if let Err(why) = key_label(&a.label) {
                    refs.push((p.key("label"), format!("{here}: {why}")));
                } else if keys.contains_key(a.label.as_str()) || !restored.insert(&a.label) {
                    refs.push((
                        p.key("label"),
                        format!("{here}: key label `{}` is used twice", a.label),
                    ));
                }
            }
            Action::Reshare(a) => {
                let p = sp.key("reshare").key("secret");
                if !recombined.contains(a.secret.as_str()) {
                    refs.push((
                        p.clone(),
                        format!(
                            "{here}: secret `{}` must be recombined by an earlier step before it is reshared",
                            a.secret
                        ),
                    ));
                }
                // Without keep-secret the reshare draws a new secret and
                // changes the token's PIN to the one derived from it: the
                // secret must be a PIN, and which one must be known.
                if !a.keep_secret {
                    let (pins, keks) = secret_uses(s);
                    if keks.contains(a.secret.as_str()) {
                        refs.push((
                            p,
                            format!(
                                "{here}: `{}` gives the backup KEK (import-kek): a new secret would give another KEK and orphan every blob wrapped under this one. Reshare it with `keep-secret: true` (the old shares then stay valid)",
                                a.secret
                            ),
                        ));
                    } else if !pins.contains_key(a.secret.as_str()) {
                        refs.push((
                            p,
                            format!(
                                "{here}: `{}` is not used as a PIN in this script, so the reshare cannot change the token's PIN to void the old shares: recombine it with `login: security-officer` or `login: user` first, or reshare it with `keep-secret: true`",
                                a.secret
                            ),
                        ));
                    }
                }
            }
            Action::SignChallenge(a) => {
                signing_key(&a.key, &a.user_pin, &sp.key("sign-challenge"), &mut refs);
            }
            Action::RootCertificate(a) => {
                let p = sp.key("root-certificate");
                signing_key(&a.key, &a.user_pin, &p, &mut refs);
                check_profile(&a.profile, &p, &here, &mut refs);
                certified.insert(&a.key, (&step.id, &a.profile.key_usage));
            }
            Action::SignCsr(a) => {
                let p = sp.key("sign-csr");
                signing_key(&a.key, &a.user_pin, &p, &mut refs);
                needs_certificate(&a.key, &p, &mut refs);
                check_profile(&a.policy.profile, &p.key("policy"), &here, &mut refs);
                if a.policy.allowed_keys.is_empty() {
                    refs.push((
                        p.key("policy").key("allowed-keys"),
                        format!("{here}: list the key types a CSR may carry"),
                    ));
                }
            }
            Action::Crl(a) => {
                let p = sp.key("crl");
                signing_key(&a.key, &a.user_pin, &p, &mut refs);
                needs_certificate(&a.key, &p, &mut refs);
                // A certificate from an original ceremony is checked for
                // cRLSign at run time, before the HSM signs (ca::crl).
                if let Some((made_by, usages)) = certified.get(a.key.as_str())
                    && !usages.contains(&CaKeyUsage::CrlSign)
                {
                    refs.push((
                        p.key("key"),
                        format!(
                            "{here}: the certificate step `{made_by}` made for `{}` has no crl-sign in its profile.key-usage, so it cannot sign CRLs",
                            a.key
                        ),
                    ));
                }
            }
            Action::Attest(a) => {
                let p = sp.key("attest").key("roles");
                if a.roles.is_empty() {
                    refs.push((p.clone(), format!("{here}: name the roles that attest")));
                }
                for r in &a.roles {
                    if role_count(*r) == 0 || *r == Role::Observer {
                        refs.push((
                            p.clone(),
                            format!("{here}: no {r} can attest in this script"),
                        ));
                    }
                }
            }
            Action::Close(_) => {
                if i + 1 != s.steps.len() {
                    refs.push((
                        sp.key("close"),
                        format!("{here}: close must be the last step"),
                    ));
                }
            }
        }
        for (p, m) in refs {
            bad(p, m);
        }
    }
    if !s.steps.iter().any(|st| st.close.is_some()) {
        bad(
            root.key("steps"),
            "the last step must be a close step: without it the transcript never ends".into(),
        );
    }
    out
}

/// How the script uses each secret: as which PIN (the role that logs in
/// with the PIN derived from it), and which secrets give a backup KEK. A
/// reshare that replaces a secret must know the PIN it changes.
pub fn secret_uses(s: &Script) -> (BTreeMap<&str, LoginRole>, BTreeSet<&str>) {
    let mut pins = BTreeMap::new();
    let mut keks = BTreeSet::new();
    let so = LoginRole::SecurityOfficer;
    let user = LoginRole::User;
    for step in &s.steps {
        let mut uses: Vec<(&str, LoginRole)> = Vec::new();
        match step.action() {
            Action::InitToken(a) => uses.push((&a.so_pin, so)),
            Action::Recombine(a) => {
                if let Some(role) = a.login {
                    uses.push((&a.secret, role));
                }
            }
            Action::SetUserPin(a) => {
                if let Some(p) = &a.so_pin {
                    uses.push((p, so));
                }
                uses.push((&a.user_pin, user));
            }
            Action::ImportKek(a) => {
                uses.push((&a.so_pin, so));
                keks.insert(a.secret.as_str());
            }
            Action::GenerateKey(a) => uses.push((&a.user_pin, user)),
            Action::ExportPublicKey(a) => uses.push((&a.user_pin, user)),
            Action::ListObjects(a) => uses.push((&a.user_pin, user)),
            Action::BackupKey(a) => uses.push((&a.user_pin, user)),
            Action::RestoreKey(a) => uses.push((&a.user_pin, user)),
            Action::SignChallenge(a) => uses.push((&a.user_pin, user)),
            Action::RootCertificate(a) => uses.push((&a.user_pin, user)),
            Action::SignCsr(a) => uses.push((&a.user_pin, user)),
            Action::Crl(a) => uses.push((&a.user_pin, user)),
            _ => {}
        }
        for (secret, role) in uses {
            pins.entry(secret).or_insert(role);
        }
    }
    (pins, keks)
}

/// What a reviewer must see but that does not stop a script: choices that
/// trade a guarantee away.
pub fn warnings(script: &Loaded<Script>) -> Vec<Problem> {
    let mut out = Vec::new();
    for (i, step) in script.value.steps.iter().enumerate() {
        if let Some(reshare) = &step.reshare
            && reshare.keep_secret
        {
            out.push(script.problem(
                &YamlPath::root().key("steps").index(i).key("reshare").key("keep-secret"),
                format!(
                    "warning: `keep-secret: true`: `{}` keeps its value, so the old shares stay mathematically valid and still recover it; they are void only by the record (`shares check`, and ceremonies that list this one under `original.rotations`). Have their custodians destroy them under witness",
                    reshare.secret
                ),
            ));
        }
        let profile = match (&step.root_certificate, &step.sign_csr) {
            (Some(root), _) => Some(("root-certificate", &root.profile)),
            (None, Some(csr)) => Some(("sign-csr", &csr.policy.profile)),
            _ => None,
        };
        if let Some((kind, profile)) = profile
            && !profile.key_usage.contains(&CaKeyUsage::CrlSign)
        {
            out.push(script.problem(
                &YamlPath::root().key("steps").index(i).key(kind),
                "warning: the CA certificate lacks crl-sign: it can sign no CRL, and the CA/Browser Forum Baseline Requirements require cRLSign in CA certificates".to_string(),
            ));
        }
        if let Some(set) = &step.set_user_pin
            && set.so_pin.is_none()
        {
            out.push(script.problem(
                &YamlPath::root().key("steps").index(i).key("set-user-pin"),
                "warning: no so-pin: this step only adopts a user PIN set with the vendor's tool, so it runs only with bindings that list user under hsm.existing-pins; whoever set that PIN may still know it".to_string(),
            ));
        }
        let Some(g) = &step.generate_key else {
            continue;
        };
        if g.backup != Backup::Wrapped {
            continue;
        }
        let at = YamlPath::root()
            .key("steps")
            .index(i)
            .key("generate-key")
            .key("backup");
        out.push(script.problem(
            &at,
            format!(
                "warning: `backup: wrapped` trades non-extractability for recoverability: key `{}` is created extractable (only under a trusted KEK). Anyone who gets k custodians' KEK shares and the wrapped blob can restore it into another HSM",
                g.label
            ),
        ));
        if g.algorithm == KeyAlgorithm::Ed25519 {
            out.push(script.problem(
                &at,
                "warning: SoftHSM2 2.6 refuses to wrap Ed25519 keys (CKR_KEY_NOT_WRAPPABLE) even under a trusted KEK; rehearse the backup on the production HSM before relying on it".to_string(),
            ));
        }
    }
    out
}

/// A person of the roster, with their key checked.
#[derive(Debug, Clone)]
pub struct Participant {
    pub name: String,
    pub role: Role,
    pub identity: PublicIdentity,
    /// Where the private key is usually found (absolute), if the bindings say.
    pub key_file: Option<PathBuf>,
}

/// A script and bindings that have been checked against each other: what a
/// ceremony runs.
#[derive(Debug, Clone)]
pub struct Ceremony {
    pub script: Loaded<Script>,
    pub bindings: Loaded<Bindings>,
    pub roster: Vec<Participant>,
}

impl Ceremony {
    /// Loads, parses and checks both files; nothing here touches an HSM.
    pub fn load(script_path: &Path, bindings_path: &Path) -> Result<Ceremony, ScriptError> {
        let script = load_script(script_path)?;
        let bindings = load_yaml::<Bindings>(bindings_path)?;
        let (roster, problems) = check_bindings(&script, &bindings);
        if !problems.is_empty() {
            return Err(ScriptError::Invalid { problems });
        }
        Ok(Ceremony {
            script,
            bindings,
            roster,
        })
    }

    /// The original ceremony's transcript, resolved against the bindings'
    /// directory.
    pub fn original_transcript(&self) -> Option<PathBuf> {
        let base = self.bindings.path.parent().unwrap_or(Path::new("."));
        self.bindings
            .value
            .original
            .as_ref()
            .map(|o| base.join(&o.transcript))
    }

    /// The rotation transcripts the bindings list after the original
    /// (`original.rotations`), oldest first, resolved against the bindings'
    /// directory.
    pub fn rotation_transcripts(&self) -> Vec<PathBuf> {
        let base = self.bindings.path.parent().unwrap_or(Path::new("."));
        self.bindings
            .value
            .original
            .as_ref()
            .map(|o| o.rotations.iter().map(|r| base.join(r)).collect())
            .unwrap_or_default()
    }

    /// The file the bindings give for the input `name`, resolved against
    /// the bindings' directory.
    pub fn input(&self, name: &str) -> Option<PathBuf> {
        let base = self.bindings.path.parent().unwrap_or(Path::new("."));
        self.bindings.value.inputs.get(name).map(|p| base.join(p))
    }

    /// The role that logs in with the PIN derived from `secret`, as the
    /// script uses it; None for a secret that gives no PIN (a KEK secret).
    pub fn pin_role(&self, secret: &str) -> Option<LoginRole> {
        let (pins, keks) = secret_uses(&self.script.value);
        if keks.contains(secret) {
            return None;
        }
        pins.get(secret).copied()
    }

    /// Whether `secret` was split in the original ceremony.
    pub fn from_original(&self, secret: &str) -> bool {
        self.script
            .value
            .secrets
            .iter()
            .any(|d| d.name == secret && d.from.is_some())
    }

    pub fn participant(&self, name: &str) -> Option<&Participant> {
        self.roster.iter().find(|p| p.name == name)
    }

    /// The people holding `role`, in roster order.
    pub fn holders(&self, role: Role) -> Vec<&Participant> {
        self.roster.iter().filter(|p| p.role == role).collect()
    }

    /// (k, n) for every split secret.
    pub fn quorum(&self) -> (u8, u8) {
        let c = &self.script.value.roles.custodian;
        (c.threshold, c.count)
    }
}

/// `hsm.existing-pins`: the token must be named (the default token is the
/// module's uninitialized one), and a script that initializes the token
/// must adopt the SO PIN instead: an initialized token cannot be
/// initialized without erasing it.
fn check_existing_pins(s: &Script, b: &Bindings, bad: &mut impl FnMut(YamlPath, String)) {
    let path = YamlPath::root().key("hsm").key("existing-pins");
    let pins = &b.hsm.existing_pins;
    let adopt_only = s
        .steps
        .iter()
        .any(|step| matches!(step.action(), Action::SetUserPin(a) if a.so_pin.is_none()));
    if adopt_only && !b.hsm.existing_pin(LoginRole::User) {
        bad(
            YamlPath::root().key("hsm"),
            "the script's set-user-pin names no so-pin, so it can only adopt a user PIN set with the vendor's tool: list user under hsm.existing-pins".into(),
        );
    }
    if pins.is_empty() {
        if b.hsm.keep_existing_pins {
            bad(
                YamlPath::root().key("hsm").key("keep-existing-pins"),
                "keep-existing-pins without existing-pins keeps nothing: list the PINs set with the vendor's tool under hsm.existing-pins".into(),
            );
        }
        return;
    }
    if pins.len()
        != pins
            .iter()
            .map(|r| r.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    {
        bad(path.clone(), "a role is listed twice".into());
    }
    if b.hsm.token.is_none() {
        bad(
            path.clone(),
            "a token whose PINs already exist must be named: give its serial or label under hsm.token".into(),
        );
    }
    let initializes = s
        .steps
        .iter()
        .any(|step| matches!(step.action(), Action::InitToken(_)));
    let sets_user_pin = s
        .steps
        .iter()
        .any(|step| matches!(step.action(), Action::SetUserPin(_)));
    if b.hsm.existing_pin(LoginRole::User) && !sets_user_pin {
        bad(
            path.clone(),
            "user is listed, but the script has no set-user-pin step to adopt the existing user PIN".into(),
        );
    }
    if !initializes && b.hsm.existing_pin(LoginRole::SecurityOfficer) {
        bad(
            path.clone(),
            "security-officer is listed, but the script has no init-token step to adopt the existing SO PIN".into(),
        );
    }
    if initializes && !b.hsm.existing_pin(LoginRole::SecurityOfficer) {
        bad(
            path,
            "the script initializes the token (init-token), but these bindings say it was initialized with the vendor's tool: list security-officer so that step adopts the existing SO PIN".into(),
        );
    }
}

fn check_bindings(
    script: &Loaded<Script>,
    loaded: &Loaded<Bindings>,
) -> (Vec<Participant>, Vec<Problem>) {
    let b = &loaded.value;
    let s = &script.value;
    let root = YamlPath::root();
    let mut out = Vec::new();
    let mut bad = |path: YamlPath, msg: String| out.push(loaded.problem(&path, msg));

    if b.format != super::BINDINGS_FORMAT {
        bad(
            root.key("format"),
            format!(
                "unsupported bindings format `{}`; this version reads `{}`",
                b.format,
                super::BINDINGS_FORMAT
            ),
        );
    }
    if b.script != s.id {
        bad(
            root.key("script"),
            format!(
                "these bindings are for script `{}`, not `{}`",
                b.script, s.id
            ),
        );
    }
    if b.mode == Mode::Production && b.hsm.module.is_none() {
        bad(
            root.key("mode"),
            "production mode needs a real HSM: name its PKCS#11 module under hsm.module (the embedded SoftHSM2 is for rehearsals)".into(),
        );
    }
    if let Some(t) = &b.hsm.token
        && t.serial.is_some() == t.label.is_some()
    {
        bad(
            root.key("hsm").key("token"),
            "give the token's serial or its label, not both and not neither".into(),
        );
    }

    check_existing_pins(s, b, &mut bad);

    for m in &s.materials {
        match b.materials.get(&m.id) {
            Some(number) if !number.trim().is_empty() => {}
            _ => bad(
                root.key("materials"),
                format!(
                    "the script lists material `{}` ({}); give its number under `materials`",
                    m.id, m.description
                ),
            ),
        }
    }
    for id in b.materials.keys() {
        if !s.materials.iter().any(|m| &m.id == id) {
            bad(
                root.key("materials").key(id),
                format!("the script lists no material `{id}`"),
            );
        }
    }
    let production = b.mode == Mode::Production;
    if production
        && !s.allow.softhsm_in_production
        && let Some(module) = &b.hsm.module
        && module.to_string_lossy().to_lowercase().contains("softhsm")
    {
        bad(
                    root.key("hsm").key("module"),
                    "production mode refuses SoftHSM2: it keeps keys in files on this computer. A script may allow it with `allow: { softhsm-in-production: true }`".into(),
                );
    }

    let base = loaded.path.parent().unwrap_or(Path::new("."));
    let mut roster = Vec::new();
    let mut names = BTreeSet::new();
    let mut keys = BTreeMap::new();
    for (i, person) in b.roster.iter().enumerate() {
        let p = root.key("roster").index(i);
        if !is_name(&person.name, 32) {
            bad(
                p.key("name"),
                format!(
                    "name `{}` must be 1-32 characters of a-z, 0-9 and '-', starting with a letter (it names files and transcript actors)",
                    person.name
                ),
            );
            continue;
        }
        if !names.insert(person.name.clone()) {
            bad(
                p.key("name"),
                format!(
                    "`{}` appears twice: one person holds one role, so no one can witness their own act",
                    person.name
                ),
            );
            continue;
        }
        let identity = match PublicIdentity::from_openssh(&person.ssh_key) {
            Ok(id) => id,
            Err(e) => {
                bad(p.key("ssh-key"), format!("{}: {e}", person.name));
                continue;
            }
        };
        if production && !s.allow.demo_identities_in_production && super::demo::is_demo(&identity) {
            bad(
                p.key("ssh-key"),
                format!(
                    "{} has a DEMO-ONLY rehearsal key, whose private key is public: production mode refuses it",
                    person.name
                ),
            );
            continue;
        }
        if let Some(other) = keys.insert(identity.to_openssh(), person.name.clone()) {
            bad(
                p.key("ssh-key"),
                format!(
                    "{} has the same key as {other}: two roles held by one key are one person",
                    person.name
                ),
            );
            continue;
        }
        roster.push(Participant {
            name: person.name.clone(),
            role: person.role,
            identity,
            key_file: person.key_file.as_ref().map(|f| base.join(f)),
        });
    }

    let wanted = [
        (Role::Administrator, s.roles.administrator.count),
        (Role::Witness, s.roles.witness.count),
        (Role::Custodian, s.roles.custodian.count),
        (
            Role::Auditor,
            s.roles.auditor.as_ref().map_or(0, |r| r.count),
        ),
        (
            Role::Observer,
            s.roles.observer.as_ref().map_or(0, |r| r.count),
        ),
    ];
    for (role, count) in wanted {
        let have = b.roster.iter().filter(|p| p.role == role).count();
        if have != usize::from(count) {
            bad(
                root.key("roster"),
                format!("the script needs {count} {role}(s); the roster has {have}"),
            );
        }
    }
    for (i, step) in s.steps.iter().enumerate() {
        if let Some(a) = &step.sign_csr
            && !b.inputs.contains_key(&a.csr)
        {
            bad(
                root.key("inputs"),
                format!(
                    "step {} `{}` signs the CSR `{}`: name its file under `inputs`",
                    i + 1,
                    step.id,
                    a.csr
                ),
            );
        }
    }
    let needs_original = s.secrets.iter().any(|d| d.from.is_some())
        || s.steps.iter().any(|st| st.restore_key.is_some());
    if needs_original && b.original.is_none() {
        bad(
            root.clone(),
            "the script continues an earlier ceremony (secrets `from: original` or a restore-key step): name its transcript under `original: { transcript: ... }`".into(),
        );
    }
    (roster, out)
}
