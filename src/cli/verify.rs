//! `keyceremony verify`: the auditor's one command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keyceremony::report::{self, Status, VerifyOptions};
use keyceremony::shown::shown;

use super::{FAILED, OK, USAGE};

#[derive(Args)]
pub struct VerifyArgs {
    /// The transcript (.jsonl).
    pub transcript: PathBuf,
    #[command(flatten)]
    pub against: Against,
    /// Print the verdict as JSON (docs/transcript.md section 10).
    #[arg(long)]
    pub json: bool,
    /// The transcript of the ceremony this one continues (a restore, a rotation): check the link.
    #[arg(long)]
    pub original: Option<PathBuf>,
    /// The screen recording of the run (`run --record`): check its SHA-256 against the one the close entry declares.
    #[arg(long, value_name = "FILE")]
    pub recording: Option<PathBuf>,
}

/// What a transcript is checked against, beyond itself (verify and report).
#[derive(Args)]
pub struct Against {
    /// The reviewed script: check its hash, the order of the steps, the roles and quorums.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// The checkpoint note; by default <ceremony-id>.checkpoint beside the transcript.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Accept a closed transcript without its checkpoint (the verdict says that its end was not checked).
    #[arg(long, conflicts_with = "checkpoint")]
    pub no_checkpoint: bool,
    /// The reviewed bindings: check their SHA-256 against the genesis, and that every roster key is the one they name.
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    /// Keys you trust, in authorized_keys form (`ssh-ed25519 AAAA... name`): every roster key must be among them.
    #[arg(long)]
    pub roster: Option<PathBuf>,
}

impl Against {
    pub fn options(self) -> VerifyOptions {
        VerifyOptions {
            checkpoint: self.checkpoint,
            no_checkpoint: self.no_checkpoint,
            script: self.script,
            bindings: self.bindings,
            roster: self.roster,
        }
    }
}

pub fn verify(args: VerifyArgs) -> ExitCode {
    let options = args.against.options();
    match report::verify_with(&args.transcript, &options) {
        Err(e) => {
            eprintln!("error: {}", shown(&e.to_string()));
            ExitCode::from(USAGE)
        }
        Ok(verdict) => {
            let mut valid = verdict.status() == Status::Valid;
            let link = args
                .original
                .as_deref()
                .map(|original| report::original_link(&args.transcript, original));
            let recording = match args
                .recording
                .as_deref()
                .map(|path| report::check_recording(&verdict.facts, path).map_err(|e| (path, e)))
                .transpose()
            {
                Ok(check) => check,
                Err((path, e)) => {
                    eprintln!(
                        "error: cannot read the recording {}: {e}",
                        shown(&path.display().to_string())
                    );
                    return ExitCode::from(USAGE);
                }
            };
            if matches!(link, Some(Err(_))) || recording.as_ref().is_some_and(|r| !r.matches()) {
                valid = false;
            }
            if args.json {
                let mut json = report::json::verdict_json(&verdict);
                if let Some(link) = &link {
                    json["original"] = match link {
                        Ok(text) => serde_json::json!({ "linked": true, "detail": text }),
                        Err(e) => serde_json::json!({ "linked": false, "detail": e }),
                    };
                }
                if let Some(check) = &recording {
                    json["recording_check"] = check.json();
                }
                json["exit_code"] = serde_json::Value::from(if valid { OK } else { FAILED });
                println!("{json:#}");
            } else {
                print!("{}", report::verify_summary(&verdict).0);
                match &link {
                    Some(Ok(text)) => println!("original: {}", shown(text)),
                    Some(Err(e)) => println!("original: NOT LINKED: {}", shown(e)),
                    None => {}
                }
                if let Some(check) = &recording {
                    println!("{}", check.line());
                }
            }
            ExitCode::from(if valid { OK } else { FAILED })
        }
    }
}
