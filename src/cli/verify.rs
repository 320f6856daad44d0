//! `keyceremony verify`: the auditor's one command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use keyceremony::report::{self, Status, VerifyOptions};

use super::{FAILED, OK, USAGE};

#[derive(Args)]
pub struct VerifyArgs {
    /// The transcript (.jsonl).
    pub transcript: PathBuf,
    /// The reviewed script: check its hash, the order of the steps, the roles and quorums.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// The checkpoint note; by default <ceremony-id>.checkpoint beside the transcript, if present.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Print the verdict as JSON (docs/transcript.md section 10).
    #[arg(long)]
    pub json: bool,
    /// The transcript of the ceremony this one continues (a restore, a rotation): check the link.
    #[arg(long)]
    pub original: Option<PathBuf>,
}

pub fn verify(args: VerifyArgs) -> ExitCode {
    let options = VerifyOptions {
        checkpoint: args.checkpoint,
        script: args.script,
    };
    match report::verify_with(&args.transcript, &options) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
        Ok(verdict) => {
            let mut valid = verdict.status() == Status::Valid;
            let link = args
                .original
                .as_deref()
                .map(|original| report::original_link(&args.transcript, original));
            if args.json {
                let mut json = report::json::verdict_json(&verdict);
                if let Some(link) = &link {
                    json["original"] = match link {
                        Ok(text) => serde_json::json!({ "linked": true, "detail": text }),
                        Err(e) => serde_json::json!({ "linked": false, "detail": e }),
                    };
                }
                println!("{json:#}");
            } else {
                print!("{}", report::verify_summary(&verdict).0);
                match &link {
                    Some(Ok(text)) => println!("original: {text}"),
                    Some(Err(e)) => println!("original: NOT LINKED: {e}"),
                    None => {}
                }
            }
            if matches!(link, Some(Err(_))) {
                valid = false;
            }
            ExitCode::from(if valid { OK } else { FAILED })
        }
    }
}
