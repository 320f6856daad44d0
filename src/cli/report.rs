//! `keyceremony report`: the ceremony report auditors sign, from a
//! verified transcript only.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use keyceremony::report::render::{self, Format};
use keyceremony::report::{self, Status};
use keyceremony::shown::shown;

use super::{FAILED, OK, USAGE};

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
}

#[derive(Args)]
pub struct ReportArgs {
    /// The transcript (.jsonl); it is verified first.
    pub transcript: PathBuf,
    #[arg(long, value_enum)]
    pub format: ReportFormat,
    /// Write here (a new file, never overwritten) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Checked as `verify` checks them.
    #[command(flatten)]
    pub against: super::verify::Against,
}

pub fn report(args: ReportArgs) -> ExitCode {
    let options = args.against.options();
    let verdict = match report::verify_with(&args.transcript, &options) {
        Ok(verdict) => verdict,
        Err(e) => {
            eprintln!("error: {}", shown(&e.to_string()));
            return ExitCode::from(USAGE);
        }
    };
    let format = match args.format {
        ReportFormat::Md => Format::Markdown,
        ReportFormat::Html => Format::Html,
    };
    let text = match render::render(&verdict, format) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {}", shown(&e.to_string()));
            return ExitCode::from(FAILED);
        }
    };
    if verdict.status() == Status::Incomplete {
        eprintln!("warning: the transcript is INCOMPLETE; the report says so at its top");
    }
    let written = match &args.out {
        Some(path) => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => ExitCode::from(OK),
        Err(e) => {
            eprintln!("error: {}", shown(&e.to_string()));
            ExitCode::from(USAGE)
        }
    }
}
