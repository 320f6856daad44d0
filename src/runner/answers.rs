//! The answers file of a headless run: who is sitting at the keyboard at
//! each turn, as a file. It holds key file paths and typed words, never a
//! secret: shares come from the custodians' sealed share files, and a PIN
//! set with the vendor's tool from a file the answers only name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::SigningIdentity;
use crate::script::{Ceremony, Loaded, Role, ScriptError, YamlPath, load_yaml};

pub const ANSWERS_FORMAT: &str = "keyceremony-answers/1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnswersFile {
    pub format: String,
    pub script: String,
    /// Each participant's private key file, relative to the answers file.
    pub identities: BTreeMap<String, PathBuf>,
    /// The word typed at each irreversible step, by step id.
    #[serde(default)]
    pub confirm: BTreeMap<String, String>,
    /// The custodians who present shares, in order, by recombine step id.
    #[serde(default)]
    pub shares: BTreeMap<String, Vec<String>>,
    /// Share files a custodian brings instead of the one this ceremony wrote
    /// for them, by recombine step id and custodian, relative to the answers
    /// file (a restore from another ceremony's shares, or a test).
    #[serde(default)]
    pub share_files: BTreeMap<String, BTreeMap<String, PathBuf>>,
    /// Files holding the code a custodian types instead of opening a share
    /// file (the paper copy, the disaster-recovery fallback), by recombine
    /// step id and custodian, relative to the answers file. Those files are
    /// secrets; a rehearsal convenience, as `existing-pins` is.
    #[serde(default)]
    pub share_codes: BTreeMap<String, BTreeMap<String, PathBuf>>,
    /// The custodians who present shares when a secret must be recovered
    /// after a restart, by secret name.
    #[serde(default)]
    pub recover: BTreeMap<String, Vec<String>>,
    /// Deviations the administrator records when a step is reached (the
    /// witness confirms each), by step id.
    #[serde(default)]
    pub exceptions: BTreeMap<String, ExceptionAnswer>,
    /// Stop the ceremony at a step, as an administrator would.
    #[serde(default)]
    pub abort: Option<AbortAnswer>,
    /// Files holding the PINs set with the vendor's tool (bindings
    /// `hsm.existing-pins`), by role (`security-officer`, `user`), relative
    /// to the answers file: the performer who would type each. The files
    /// are secrets; a rehearsal convenience.
    #[serde(default)]
    pub existing_pins: BTreeMap<String, PathBuf>,
    /// The number of each new seal a materials check going out records,
    /// by step id and material id: what the performer reads off each new
    /// tamper-evident bag.
    #[serde(default)]
    pub seals: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExceptionAnswer {
    pub expected: String,
    pub happened: String,
    pub decision: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AbortAnswer {
    /// The id of the step at which to abort, before it is performed.
    pub at: String,
    pub by: String,
    pub reason: String,
}

/// A loaded answers file, with paths resolved.
#[derive(Debug, Clone)]
pub struct Answers {
    pub file: Loaded<AnswersFile>,
}

impl Answers {
    pub fn load(path: &Path, script_id: &str) -> Result<Answers, ScriptError> {
        let file = load_yaml::<AnswersFile>(path)?;
        let root = YamlPath::root();
        let mut problems = Vec::new();
        if file.value.format != ANSWERS_FORMAT {
            problems.push(file.problem(
                &root.key("format"),
                format!(
                    "unsupported answers format `{}`; this version reads `{ANSWERS_FORMAT}`",
                    file.value.format
                ),
            ));
        }
        if file.value.script != script_id {
            problems.push(file.problem(
                &root.key("script"),
                format!(
                    "these answers are for script `{}`, not `{script_id}`",
                    file.value.script
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(ScriptError::Invalid { problems });
        }
        Ok(Answers { file })
    }

    /// Checks before the ceremony starts that the answers cover every turn
    /// (a missing answer halfway would leave an unfinished transcript).
    pub fn check(&self, ceremony: &Ceremony) -> Result<(), ScriptError> {
        let root = YamlPath::root();
        let a = &self.file.value;
        let mut problems = Vec::new();
        for p in &ceremony.roster {
            if p.role != Role::Observer && !a.identities.contains_key(&p.name) {
                problems.push(self.file.problem(
                    &root.key("identities"),
                    format!(
                        "no key file for {} ({}), who acts in this ceremony",
                        p.name, p.role
                    ),
                ));
            }
        }
        // A key that is not the person's roster key would be refused at
        // their first act; find it before the ceremony starts.
        for (name, path) in &a.identities {
            let at = root.key("identities").key(name);
            let Some(person) = ceremony.participant(name) else {
                problems.push(
                    self.file
                        .problem(&at, format!("{name} is not on the roster")),
                );
                continue;
            };
            match SigningIdentity::load(&self.base().join(path)) {
                Ok(key) if key.public() == &person.identity => {}
                Ok(key) => problems.push(self.file.problem(
                    &at,
                    format!(
                        "{} is key {}, not {name}'s roster key {}",
                        path.display(),
                        key.public().fingerprint(),
                        person.identity.fingerprint()
                    ),
                )),
                Err(e) => problems.push(self.file.problem(&at, format!("{}: {e}", path.display()))),
            }
        }
        let (k, _) = ceremony.quorum();
        let planned = crate::engine::Engine::new(ceremony);
        for (step, plan) in ceremony.script.value.steps.iter().zip(planned.steps()) {
            if plan.word.is_some() && !a.confirm.contains_key(&step.id) {
                problems.push(self.file.problem(
                    &root.key("confirm"),
                    format!("step `{}` needs a typed confirmation word", step.id),
                ));
            }
            if step.recombine.is_some() {
                let listed = a.shares.get(&step.id).map_or(0, Vec::len);
                if listed < usize::from(k) {
                    problems.push(self.file.problem(
                        &root.key("shares"),
                        format!(
                            "step `{}` needs {k} custodians to present shares; {listed} listed",
                            step.id
                        ),
                    ));
                }
            }
        }
        // A PIN in a file at rest is a rehearsal convenience; in production
        // the performer types it.
        if ceremony.bindings.value.mode == crate::script::Mode::Production
            && !a.existing_pins.is_empty()
        {
            problems.push(self.file.problem(
                &root.key("existing-pins"),
                "production mode reads no PIN from a file: the performer types the existing PIN in the terminal UI".to_string(),
            ));
        }
        for role in &ceremony.bindings.value.hsm.existing_pins {
            let name = role.as_str();
            if !a.existing_pins.contains_key(name) {
                problems.push(self.file.problem(
                    &root.key("existing-pins"),
                    format!(
                        "the bindings say the {name} PIN was set with the vendor's tool: name the file holding it under `existing-pins: {{{name}: FILE}}`"
                    ),
                ));
            }
        }
        for name in a.existing_pins.keys() {
            if !["security-officer", "user"].contains(&name.as_str()) {
                problems.push(self.file.problem(
                    &root.key("existing-pins").key(name),
                    format!("`{name}` is not a PIN role (security-officer, user)"),
                ));
            }
        }
        for (step, codes) in &a.share_codes {
            for name in codes.keys() {
                if ceremony.participant(name).map(|p| p.role) != Some(Role::Custodian) {
                    problems.push(self.file.problem(
                        &root.key("share-codes").key(step),
                        format!("{name} is not a custodian of this ceremony"),
                    ));
                }
            }
        }
        for (step, names) in &a.shares {
            for name in names {
                if ceremony.participant(name).map(|p| p.role) != Some(Role::Custodian) {
                    problems.push(self.file.problem(
                        &root.key("shares").key(step),
                        format!("{name} is not a custodian of this ceremony"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ScriptError::Invalid { problems })
        }
    }

    fn base(&self) -> &Path {
        self.file.path.parent().unwrap_or(Path::new("."))
    }

    pub fn identity(&self, participant: &str) -> Option<PathBuf> {
        self.file
            .value
            .identities
            .get(participant)
            .map(|p| self.base().join(p))
    }

    pub fn word(&self, step: &str) -> Option<&str> {
        self.file.value.confirm.get(step).map(String::as_str)
    }

    pub fn seal(&self, step: &str, material: &str) -> Option<String> {
        self.file.value.seals.get(step)?.get(material).cloned()
    }

    pub fn custodians(&self, step: &str) -> &[String] {
        self.file
            .value
            .shares
            .get(step)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Who presents shares to recover `secret` after a restart: the
    /// `recover` list for it, else the first recombine step's custodians.
    pub fn recovery_custodians(&self, secret: &str) -> &[String] {
        let a = &self.file.value;
        a.recover
            .get(secret)
            .or_else(|| a.shares.values().next())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn share_file(&self, step: &str, custodian: &str) -> Option<PathBuf> {
        self.file
            .value
            .share_files
            .get(step)
            .and_then(|m| m.get(custodian))
            .map(|p| self.base().join(p))
    }

    /// The code `custodian` types at `step`, read from the file the answers
    /// name (surrounding whitespace dropped), if they name one.
    pub fn share_code(
        &self,
        step: &str,
        custodian: &str,
    ) -> Option<Result<zeroize::Zeroizing<String>, String>> {
        let path = self
            .file
            .value
            .share_codes
            .get(step)
            .and_then(|m| m.get(custodian))
            .map(|p| self.base().join(p))?;
        Some(
            crate::input::read_capped_text(&path, crate::input::MAX_SMALL_FILE_BYTES)
                .map(|text| {
                    let text = zeroize::Zeroizing::new(text);
                    zeroize::Zeroizing::new(text.trim().to_string())
                })
                .map_err(|e| format!("{}: {e}", path.display())),
        )
    }

    /// The PIN of `role` set with the vendor's tool, read from its file
    /// (one trailing line end dropped).
    pub fn existing_pin(
        &self,
        role: crate::script::LoginRole,
    ) -> Result<crate::secret::Pin, String> {
        let name = role.as_str();
        let path = self
            .file
            .value
            .existing_pins
            .get(name)
            .map(|p| self.base().join(p))
            .ok_or_else(|| format!("the answers name no file for the existing {name} PIN"))?;
        let text = zeroize::Zeroizing::new(
            crate::input::read_capped_text(&path, crate::input::MAX_SMALL_FILE_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        );
        let pin = text
            .strip_suffix('\n')
            .map(|t| t.strip_suffix('\r').unwrap_or(t))
            .unwrap_or(&text);
        Ok(crate::secret::Pin::new(zeroize::Zeroizing::new(
            pin.to_string(),
        )))
    }

    pub fn exception_at(&self, step: &str) -> Option<&ExceptionAnswer> {
        self.file.value.exceptions.get(step)
    }

    pub fn abort_at(&self, step: &str) -> Option<&AbortAnswer> {
        self.file.value.abort.as_ref().filter(|a| a.at == step)
    }
}
