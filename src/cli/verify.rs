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
            let valid = verdict.status() == Status::Valid;
            if args.json {
                println!("{:#}", report::json::verdict_json(&verdict));
            } else {
                print!("{}", report::verify_summary(&verdict).0);
            }
            ExitCode::from(if valid { OK } else { FAILED })
        }
    }
}
