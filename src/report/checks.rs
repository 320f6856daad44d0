//! Checks beyond the chain: that the transcript followed the reviewed script
//! (its hash, its order, its roles), that every recombination had a quorum,
//! and that the files it names are the files on disk.
//!
//! They run on entries as they verify, keeping only the first problem, so
//! the verifier still streams.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::facts::ArtifactRef;
use crate::script::{Loaded, Script};
use crate::transcript::{CloseOutcome, Purpose, Role, Rule, Summary, VerifiedEntry, Violation};

/// Keeps the earliest problem found.
fn keep_first(slot: &mut Option<Violation>, found: Violation) {
    if slot.as_ref().is_none_or(|v| found.line < v.line) {
        *slot = Some(found);
    }
}

/// Every recombination used shares of at least k distinct custodians, each
/// presented and signed by that custodian. Needs only the genesis.
#[derive(Debug, Default)]
pub struct QuorumCheck {
    /// (step number, custodian) of every share presented and signed for.
    presented: BTreeSet<(u64, String)>,
    pub problem: Option<Violation>,
}

impl QuorumCheck {
    pub fn observe(&mut self, e: &VerifiedEntry, thresholds: &BTreeMap<String, u8>) {
        let number = e.body.get("number").and_then(Value::as_u64).unwrap_or(0);
        match e.kind.as_str() {
            "share-presented" => {
                let signed_by_custodian = e
                    .signatures
                    .iter()
                    .any(|s| s.participant == e.actor && s.role == Role::Custodian);
                if signed_by_custodian {
                    self.presented.insert((number, e.actor.clone()));
                }
            }
            "recombine" => {
                let secret = e
                    .body
                    .get("secret_name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let custodians: BTreeSet<&str> = e
                    .body
                    .get("custodians")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let k = thresholds.get(secret).copied().unwrap_or(u8::MAX);
                let fail = |detail: String| Violation::new(e.line, Rule::Quorum, detail);
                if let Some(absent) = custodians
                    .iter()
                    .find(|c| !self.presented.contains(&(number, (**c).to_owned())))
                {
                    keep_first(
                        &mut self.problem,
                        fail(format!(
                            "`{secret}` recombined with {absent}'s share, but {absent} never presented and signed for one at this step"
                        )),
                    );
                } else if custodians.len() < usize::from(k) {
                    keep_first(
                        &mut self.problem,
                        fail(format!(
                            "`{secret}` recombined from {} distinct custodians; its policy needs {k}",
                            custodians.len()
                        )),
                    );
                }
            }
            _ => {}
        }
    }
}

/// The steps ran in the script's order, none skipped, each confirmed by
/// the roles the script names; the roles it requires acted.
pub struct ScriptCheck<'a> {
    script: &'a Loaded<Script>,
    /// Steps done so far (confirmed by their witness, or attested): the
    /// next entry belongs to step `confirmed + 1`.
    confirmed: u64,
    close_confirmed: bool,
    acted: HashSet<Role>,
    /// The step in which the performer last typed an existing PIN, not yet
    /// used by an adopting result.
    pin_typed: Option<u64>,
    /// Who attested so far in the attest step in progress.
    attested: BTreeSet<String>,
    pub problem: Option<Violation>,
}

impl<'a> ScriptCheck<'a> {
    pub fn new(script: &'a Loaded<Script>) -> Self {
        ScriptCheck {
            script,
            confirmed: 0,
            close_confirmed: false,
            acted: HashSet::new(),
            pin_typed: None,
            attested: BTreeSet::new(),
            problem: None,
        }
    }

    pub fn observe(&mut self, e: &VerifiedEntry, roles: &BTreeMap<String, Role>) {
        self.acted.extend(
            e.signatures
                .iter()
                .filter(|s| s.purpose != Purpose::SignIn)
                .map(|s| s.role),
        );
        if self.problem.is_some() {
            return;
        }
        let (Some(number), Some(step)) = (
            e.body.get("number").and_then(Value::as_u64),
            e.body.get("step").and_then(Value::as_str),
        ) else {
            return;
        };
        let steps = &self.script.value.steps;
        let fail = |detail: String| Some(Violation::new(e.line, Rule::StepOrder, detail));
        let expected = self.confirmed + 1;
        let Some(script_step) = usize::try_from(number)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| steps.get(i))
        else {
            self.problem = fail(format!("step {number} `{step}` is not in the script"));
            return;
        };
        if script_step.id != step {
            self.problem = fail(format!(
                "step {number} is `{}` in the script, not `{step}`",
                script_step.id
            ));
            return;
        }
        if number != expected {
            self.problem = fail(format!(
                "an entry of step {number} `{step}` where step {expected} was due: steps ran out of the script's order, or one was skipped"
            ));
            return;
        }
        if e.kind == "pin-typed" {
            // Only the performer types an existing PIN, and signs that.
            let signed = e
                .signatures
                .iter()
                .any(|s| s.participant == e.actor && s.purpose == Purpose::Confirm);
            if roles.get(&e.actor).copied() != Some(script_step.performer) || !signed {
                self.problem = fail(format!(
                    "{} typed the existing PIN at step {number}, but the script gives that step to the {}, whose signature it must carry",
                    e.actor,
                    script_step.performer.as_str()
                ));
                return;
            }
            self.pin_typed = Some(number);
            return;
        }
        if e.body.get("adopted").and_then(Value::as_bool) == Some(true)
            && self.pin_typed.take() != Some(number)
        {
            self.problem = fail(format!(
                "step {number} `{step}` records an adopted PIN that no one typed in that step"
            ));
            return;
        }
        if e.kind == "attestation" {
            let Some(attest) = &script_step.attest else {
                self.problem = fail(format!(
                    "an attestation at step {number} `{step}`, which is not an attest step"
                ));
                return;
            };
            if !roles
                .get(&e.actor)
                .is_some_and(|role| attest.roles.contains(role))
            {
                self.problem = fail(format!(
                    "{} attested at step {number} `{step}`, which asks only the {} to attest",
                    e.actor,
                    attest
                        .roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
                return;
            }
            self.attested.insert(e.actor.clone());
            // An attest step ends when everyone of its roles has attested;
            // no one confirms it.
            let everyone = roles
                .iter()
                .filter(|(_, role)| attest.roles.contains(role))
                .all(|(name, _)| self.attested.contains(name));
            if everyone {
                self.attested.clear();
                self.confirmed += 1;
            }
        } else if e.kind == "confirm" {
            let capacity = e.body.get("as").and_then(Value::as_str).unwrap_or("");
            let role = roles.get(&e.actor).copied();
            let due = match capacity {
                "performer" => Some(script_step.performer),
                "witness" => Some(script_step.witness),
                _ => None,
            };
            if let Some(due) = due
                && role != Some(due)
            {
                self.problem = fail(format!(
                    "{} confirmed step {number} as {capacity}, but the script gives that to the {}",
                    e.actor,
                    due.as_str()
                ));
                return;
            }
            match capacity {
                "witness" => self.confirmed += 1,
                "performer" if script_step.close.is_some() => self.close_confirmed = true,
                _ => {}
            }
        }
    }

    /// The end: a completed ceremony ran every step, and every role the
    /// script requires acted.
    pub fn finish(&mut self, summary: &Summary) {
        if self.problem.is_some() || summary.closed != Some(CloseOutcome::Completed) {
            return;
        }
        let steps = &self.script.value.steps;
        let line = summary.entries;
        let witnessed = steps.iter().filter(|s| s.close.is_none()).count() as u64;
        if self.confirmed != witnessed || !self.close_confirmed {
            self.problem = Some(Violation::new(
                line,
                Rule::StepOrder,
                format!(
                    "the ceremony closed as completed after {} of the script's {} steps before its close{}",
                    self.confirmed,
                    witnessed,
                    if self.close_confirmed {
                        ""
                    } else {
                        ", without its close step"
                    }
                ),
            ));
            return;
        }
        let mut required = Vec::new();
        for step in steps {
            if step.close.is_some() {
                required.push(step.performer);
            } else if let Some(attest) = &step.attest {
                required.extend(attest.roles.iter().copied());
            } else if step.recombine.is_some() {
                required.extend([Role::Custodian, step.witness]);
            } else {
                required.extend([step.performer, step.witness]);
            }
        }
        if let Some(role) = required.into_iter().find(|r| !self.acted.contains(r)) {
            self.problem = Some(Violation::new(
                line,
                Rule::RoleMissing,
                format!(
                    "the script gives the {} something to do, and no one of that role signed anything but a sign-in",
                    role.as_str()
                ),
            ));
        }
    }
}

/// The script file given is the one the genesis binds.
pub fn check_script_hash(script: &Loaded<Script>, summary: &Summary) -> Option<Violation> {
    let recorded = &summary.genesis.script.sha256;
    (script.sha256_hex() != *recorded).then(|| {
        Violation::new(
            1,
            Rule::ScriptHash,
            format!(
                "the script {} has SHA-256 {}, but the genesis binds {recorded}",
                script.path.display(),
                script.sha256_hex()
            ),
        )
    })
}

/// How a named file compares with its recorded hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactStatus {
    Matches,
    /// Not beside the transcript (custodians take their share files away).
    Missing,
    Differs {
        found: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCheck {
    pub artifact: ArtifactRef,
    pub status: ArtifactStatus,
}

/// Hashes every named file, relative to the transcript's directory. A path
/// that leaves that directory is a violation: the transcript must not make
/// the verifier read elsewhere. A missing file is reported, not a
/// violation; a different one is.
pub fn check_artifacts(
    base: &Path,
    artifacts: &[ArtifactRef],
) -> (Vec<ArtifactCheck>, Option<Violation>) {
    let mut checks = Vec::new();
    let mut problem = None;
    for artifact in artifacts {
        let Ok(relative) = crate::file_name::relative_path(&artifact.file) else {
            keep_first(
                &mut problem,
                Violation::new(
                    artifact.line,
                    Rule::Artifact,
                    format!(
                        "file {:?} is not a path inside the transcript's folder made of file names (a-z, 0-9, '.', '_', '-')",
                        artifact.file
                    ),
                ),
            );
            continue;
        };
        let status = match crate::input::read_capped(
            &base.join(relative),
            crate::input::MAX_SMALL_FILE_BYTES,
        ) {
            Err(_) => ArtifactStatus::Missing,
            Ok(bytes) => {
                let found = hex::encode(Sha256::digest(&bytes));
                if found == artifact.sha256 {
                    ArtifactStatus::Matches
                } else {
                    keep_first(
                        &mut problem,
                        Violation::new(
                            artifact.line,
                            Rule::Artifact,
                            format!(
                                "{} has SHA-256 {found}, but the transcript records {}",
                                artifact.file, artifact.sha256
                            ),
                        ),
                    );
                    ArtifactStatus::Differs { found }
                }
            }
        };
        checks.push(ArtifactCheck {
            artifact: artifact.clone(),
            status,
        });
    }
    (checks, problem)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::transcript::{Head, VerifiedSignature};

    fn script() -> Loaded<Script> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremonies/root-key-generation.yaml");
        crate::script::load_script(&path).expect("the shipped script loads")
    }

    fn entry(
        kind: &str,
        actor: &str,
        body: Value,
        signed: Option<(Role, Purpose)>,
    ) -> VerifiedEntry {
        VerifiedEntry {
            line: 1,
            seq: 0,
            time: chrono::Utc::now(),
            actor: actor.into(),
            kind: kind.into(),
            body: body.as_object().cloned().unwrap_or_default(),
            head: Head {
                seq: 0,
                hash: [0; 32],
            },
            signatures: signed
                .map(|(role, purpose)| VerifiedSignature {
                    participant: actor.into(),
                    role,
                    purpose,
                })
                .into_iter()
                .collect(),
        }
    }

    /// A check that has seen steps 1-5 witnessed, at step 6 (init-token).
    fn at_init_token<'a>(
        script: &'a Loaded<Script>,
        roles: &BTreeMap<String, Role>,
    ) -> ScriptCheck<'a> {
        let mut check = ScriptCheck::new(script);
        let ids = [
            "open",
            "identify",
            "materials-in",
            "check-hsm",
            "split-so-pin",
        ];
        for (i, id) in ids.into_iter().enumerate() {
            let body = json!({ "step": id, "number": i + 1, "as": "witness" });
            check.observe(
                &entry(
                    "confirm",
                    "bob",
                    body,
                    Some((Role::Witness, Purpose::Confirm)),
                ),
                roles,
            );
        }
        assert!(check.problem.is_none(), "{:?}", check.problem);
        check
    }

    fn roles() -> BTreeMap<String, Role> {
        [("alice", Role::Administrator), ("bob", Role::Witness)]
            .into_iter()
            .map(|(n, r)| (n.to_string(), r))
            .collect()
    }

    fn adopted() -> VerifiedEntry {
        entry(
            "init-token",
            "keyceremony",
            json!({ "step": "init-token", "number": 6, "adopted": true }),
            None,
        )
    }

    #[test]
    fn only_the_performer_types_an_existing_pin_and_every_adopted_pin_was_typed() {
        let script = script();
        let roles = roles();
        let typed = |actor: &str, role: Role| {
            entry(
                "pin-typed",
                actor,
                json!({ "step": "init-token", "number": 6 }),
                Some((role, Purpose::Confirm)),
            )
        };

        let mut check = at_init_token(&script, &roles);
        check.observe(&typed("alice", Role::Administrator), &roles);
        check.observe(&adopted(), &roles);
        assert!(check.problem.is_none(), "{:?}", check.problem);

        let mut check = at_init_token(&script, &roles);
        check.observe(&typed("bob", Role::Witness), &roles);
        let problem = check.problem.expect("the witness typed it").to_string();
        assert!(
            problem.contains("bob typed the existing PIN at step 6, but the script gives that step to the administrator"),
            "{problem}"
        );

        let mut check = at_init_token(&script, &roles);
        check.observe(&adopted(), &roles);
        let problem = check.problem.expect("nobody typed it").to_string();
        assert!(
            problem.contains("records an adopted PIN that no one typed in that step"),
            "{problem}"
        );

        // Unsigned: the entry claims alice, but carries no signature of hers.
        let mut check = at_init_token(&script, &roles);
        check.observe(
            &entry(
                "pin-typed",
                "alice",
                json!({ "step": "init-token", "number": 6 }),
                None,
            ),
            &roles,
        );
        assert!(check.problem.is_some());
    }
}
