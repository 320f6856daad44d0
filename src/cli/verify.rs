//! `keyceremony verify`: the auditor's one command.

use std::path::Path;
use std::process::ExitCode;

use keyceremony::report;

use super::{FAILED, OK, USAGE};

pub fn verify(path: &Path) -> ExitCode {
    match report::verify(path) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
        Ok((outcome, facts)) => {
            let (text, valid) = report::verify_summary(&outcome, &facts);
            print!("{text}");
            ExitCode::from(if valid { OK } else { FAILED })
        }
    }
}
