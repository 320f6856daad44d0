//! `keyceremony verify`'s whole judgment: the chain, then the checkpoint,
//! the script and the files, in one streaming pass over the transcript.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::anchors::{Anchor, AnchorError, check_bindings, check_roster};
use super::checks::{ArtifactCheck, QuorumCheck, ScriptCheck, check_artifacts, check_script_hash};
use super::facts::Facts;
use crate::script::{Loaded, Script, ScriptError, load_script};
use crate::transcript::{
    self, CheckedCheckpoint, CheckpointExpectation, Outcome, Role, Summary, TranscriptError,
    Violation, verify_checkpoint,
};

/// What to check besides the transcript itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The checkpoint note; by default `<transcript dir>/<ceremony-id>.checkpoint`.
    pub checkpoint: Option<PathBuf>,
    /// The auditor accepts a closed transcript without its checkpoint (the
    /// verdict then says that the tail was not checked).
    pub no_checkpoint: bool,
    /// The reviewed script: its hash, its order of steps, its roles.
    pub script: Option<PathBuf>,
    /// The reviewed bindings: their hash, and the roster's keys.
    pub bindings: Option<PathBuf>,
    /// Keys the auditor trusts (authorized_keys form): every roster key
    /// must be among them.
    pub roster: Option<PathBuf>,
}

/// Why nothing could be judged (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Transcript(#[from] TranscriptError),
    #[error("cannot read the checkpoint {path}: {source}")]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Script(#[from] ScriptError),
    #[error("{0}")]
    Anchor(#[from] AnchorError),
}

/// Whether, and how, the checkpoint was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointStatus {
    /// None given, and none beside the transcript.
    NotFound { looked_for: Option<PathBuf> },
    /// The transcript failed before the checkpoint could be checked.
    NotChecked { path: Option<PathBuf> },
    /// None found, and the auditor said `--no-checkpoint`.
    Skipped,
    Checked {
        path: PathBuf,
        checked: CheckedCheckpoint,
    },
    /// It failed: the verdict's violation says why.
    Failed { path: PathBuf },
}

/// The three verdicts, as the exit code and `--json` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Valid,
    Incomplete,
    Tampered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Incomplete => "incomplete",
            Status::Tampered => "tampered",
        }
    }
}

/// Everything `verify` found.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub transcript: PathBuf,
    /// The chain's own verdict.
    pub outcome: Outcome,
    pub facts: Facts,
    /// The first problem: of the chain, or else of the script, checkpoint
    /// or files (the earliest line among those).
    pub violation: Option<Violation>,
    pub checkpoint: CheckpointStatus,
    /// The script checked, and its SHA-256.
    pub script: Option<(PathBuf, String)>,
    pub artifacts: Vec<ArtifactCheck>,
    /// The trust anchors checked (and passed, unless `violation` says).
    pub anchors: Vec<Anchor>,
}

impl Verdict {
    pub fn status(&self) -> Status {
        match (&self.violation, &self.outcome) {
            (Some(_), _) | (None, Outcome::Tampered(_)) => Status::Tampered,
            (None, Outcome::Incomplete(..)) => Status::Incomplete,
            (None, Outcome::Valid(_)) => Status::Valid,
        }
    }

    /// The chain's summary, unless the chain itself is broken.
    pub fn summary(&self) -> Option<&Summary> {
        match &self.outcome {
            Outcome::Valid(s) | Outcome::Incomplete(s, _) => Some(s),
            Outcome::Tampered(_) => None,
        }
    }
}

/// Verifies a transcript file and gathers its facts in one pass, then
/// checks the checkpoint, the script and the files as `options` say.
pub fn verify_with(path: &Path, options: &VerifyOptions) -> Result<Verdict, VerifyError> {
    let script: Option<Loaded<Script>> = options.script.as_deref().map(load_script).transpose()?;
    let mut facts = Facts::default();
    let mut quorum = QuorumCheck::default();
    let mut order = script.as_ref().map(ScriptCheck::new);
    let mut context: Option<(BTreeMap<String, Role>, BTreeMap<String, u8>)> = None;
    let outcome = transcript::verify_file_visiting(path, &mut |e| {
        if e.kind == transcript::GENESIS_KIND {
            context = genesis_context(e);
        }
        facts.observe(e);
        if let Some((roles, thresholds)) = &context {
            quorum.observe(e, thresholds);
            if let Some(order) = &mut order {
                order.observe(e, roles);
            }
        }
    })?;
    let mut verdict = Verdict {
        transcript: path.to_path_buf(),
        violation: None,
        checkpoint: CheckpointStatus::NotChecked {
            path: options.checkpoint.clone(),
        },
        script: None,
        artifacts: Vec::new(),
        anchors: Vec::new(),
        facts,
        outcome,
    };
    let Some(summary) = verdict.summary().cloned() else {
        return Ok(verdict);
    };
    let mut problems = Vec::new();
    if let Some(script) = &script {
        problems.extend(check_script_hash(script, &summary));
        if let Some(order) = &mut order {
            order.finish(&summary);
            problems.extend(order.problem.clone());
        }
        verdict.script = Some((script.path.clone(), script.sha256_hex()));
    }
    problems.extend(quorum.problem);
    if let Some(path) = &options.bindings {
        problems.extend(check_bindings(path, &summary.genesis)?);
        verdict.anchors.push(Anchor::Bindings {
            path: path.clone(),
            sha256: summary.genesis.bindings_sha256.clone(),
        });
    }
    if let Some(path) = &options.roster {
        problems.extend(check_roster(path, &summary.genesis)?);
        verdict.anchors.push(Anchor::Roster { path: path.clone() });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    verdict.checkpoint = check_checkpoint(base, &summary, &verdict.facts, options, &mut problems)?;
    let (artifacts, problem) = check_artifacts(base, &verdict.facts.artifacts);
    verdict.artifacts = artifacts;
    problems.extend(problem);
    verdict.violation = problems.into_iter().min_by_key(|v| v.line);
    Ok(verdict)
}

/// Roster roles and secret thresholds, from the genesis body.
fn genesis_context(
    genesis: &transcript::VerifiedEntry,
) -> Option<(BTreeMap<String, Role>, BTreeMap<String, u8>)> {
    let genesis: transcript::Genesis =
        serde_json::from_value(serde_json::Value::Object(genesis.body.clone())).ok()?;
    Some((
        genesis
            .roster
            .into_iter()
            .map(|p| (p.name, p.role))
            .collect(),
        genesis.secrets.into_iter().map(|s| (s.name, s.k)).collect(),
    ))
}

fn check_checkpoint(
    base: &Path,
    summary: &Summary,
    facts: &Facts,
    options: &VerifyOptions,
    problems: &mut Vec<Violation>,
) -> Result<CheckpointStatus, VerifyError> {
    let path = match &options.checkpoint {
        Some(given) => given.clone(),
        None => {
            // The ceremony id is the transcript's own: one that cannot be
            // a file name has no checkpoint beside it.
            let beside = crate::file_name::join(
                base,
                &format!("{}.checkpoint", summary.genesis.ceremony_id),
            )
            .ok();
            let Some(beside) = beside.clone().filter(|p| p.exists()) else {
                let shown_path = beside.as_ref().map_or_else(
                    || "(none: the ceremony id is not a file name)".to_string(),
                    |p| p.display().to_string(),
                );
                // The checkpoint is what makes a cut-and-rewritten tail show:
                // a closed transcript without it is not evidence of its end.
                if summary.closed.is_some() {
                    if options.no_checkpoint {
                        return Ok(CheckpointStatus::Skipped);
                    }
                    problems.push(Violation::new(
                        summary.entries,
                        transcript::Rule::CheckpointMissing,
                        format!(
                            "the transcript is closed, but its checkpoint {} is not beside it: give it with --checkpoint, or pass --no-checkpoint to accept a tail that nothing vouches for",
                            crate::shown::shown(&shown_path)
                        ),
                    ));
                }
                return Ok(CheckpointStatus::NotFound { looked_for: beside });
            };
            beside
        }
    };
    let bytes =
        crate::input::read_capped(&path, crate::input::MAX_SMALL_FILE_BYTES).map_err(|source| {
            VerifyError::Checkpoint {
                path: path.clone(),
                source,
            }
        })?;
    let required: Vec<String> = facts.cosigners_present.iter().cloned().collect();
    let expect = CheckpointExpectation {
        genesis: &summary.genesis,
        ceremony_key: &summary.ceremony_key,
        lines: summary.entries,
        root: summary.tree_root,
        required_cosigners: &required,
    };
    Ok(match verify_checkpoint(&bytes, &expect) {
        Ok(checked) => CheckpointStatus::Checked { path, checked },
        Err(violation) => {
            problems.push(violation);
            CheckpointStatus::Failed { path }
        }
    })
}
