//! The `keyceremony` command: parses arguments and dispatches to the
//! library. Exit codes: 0 success, 1 verification failed or ceremony
//! aborted, 2 usage or input error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use keyceremony::engine::Outcome;
use keyceremony::report;
use keyceremony::runner::{self, Answers, Session};
use keyceremony::script::Ceremony;

#[derive(Parser)]
#[command(
    name = "keyceremony",
    version,
    about = "Multi-person key ceremonies: Shamir-split HSM PINs, keys born inside the HSM, a signed transcript"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a ceremony script in the terminal UI (or headless from an answers file).
    Run {
        /// The reviewed ceremony script (YAML).
        script: PathBuf,
        /// Which HSM, which people, where outputs go.
        #[arg(long)]
        bindings: PathBuf,
        /// Where the transcript and artifacts go [default: the bindings' outputs.dir, else transcripts/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Working state: the embedded SoftHSM2's configuration and tokens.
        #[arg(long, default_value = ".keyceremony")]
        state_dir: PathBuf,
        /// Run without a terminal, answering every turn from --answers.
        #[arg(long, requires = "answers")]
        headless: bool,
        /// The answers file for --headless.
        #[arg(long)]
        answers: Option<PathBuf>,
    },
    /// Verify a transcript offline: chain, canonical form, every signature, the close.
    Verify { transcript: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            script,
            bindings,
            out,
            state_dir,
            headless,
            answers,
        } => run(
            &script,
            &bindings,
            out,
            &state_dir,
            headless,
            answers.as_deref(),
        ),
        Command::Verify { transcript } => verify(&transcript),
    }
}

const OK: u8 = 0;
const FAILED: u8 = 1;
const USAGE: u8 = 2;

fn run(
    script: &Path,
    bindings: &Path,
    out: Option<PathBuf>,
    state_dir: &Path,
    headless: bool,
    answers: Option<&Path>,
) -> ExitCode {
    // Everything that can be wrong with the inputs is found before any HSM
    // call and before a transcript exists.
    let ceremony = match Ceremony::load(script, bindings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(USAGE);
        }
    };
    let answers = match answers
        .map(|a| {
            Answers::load(a, &ceremony.script.value.id)
                .and_then(|ans| ans.check(&ceremony).map(|()| ans))
        })
        .transpose()
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(USAGE);
        }
    };
    let hsm = match runner::prepare_hsm(&ceremony, state_dir) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if let Some(conf) = &hsm.softhsm_conf {
        export_softhsm_conf(conf);
    }
    let out_dir = out.unwrap_or_else(|| default_out_dir(&ceremony));
    let mut session = match Session::start(ceremony, &hsm, &out_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let result = match (headless, &answers) {
        (true, Some(answers)) => {
            eprintln!(
                "ceremony {} (headless): transcript {}",
                session.ceremony_id(),
                session.transcript_path().display()
            );
            runner::headless::run(&mut session, answers, &mut std::io::stderr())
        }
        _ => run_terminal(&mut session),
    };
    finish(&session, result)
}

#[cfg(feature = "tui")]
fn run_terminal(session: &mut Session) -> Result<Outcome, runner::RunError> {
    keyceremony::tui::run(session)
}

#[cfg(not(feature = "tui"))]
fn run_terminal(_session: &mut Session) -> Result<Outcome, runner::RunError> {
    Err(runner::RunError::Setup(
        "this build has no terminal UI (built without the `tui` feature): use --headless --answers FILE".into(),
    ))
}

fn finish(session: &Session, result: Result<Outcome, runner::RunError>) -> ExitCode {
    let path = session.transcript_path().display();
    match result {
        Ok(Outcome::Completed) => {
            eprintln!("ceremony {} completed.", session.ceremony_id());
            eprintln!("transcript: {path}");
            eprintln!("artifacts:  {}", session.artifacts_dir().display());
            eprintln!("verify it:  keyceremony verify {path}");
            ExitCode::from(OK)
        }
        Ok(Outcome::Aborted { reason }) => {
            eprintln!("ceremony {} ABORTED: {reason}", session.ceremony_id());
            eprintln!("transcript (closed as aborted): {path}");
            ExitCode::from(FAILED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "the transcript {path} is left unfinished: it records everything up to this point"
            );
            ExitCode::from(USAGE)
        }
    }
}

fn default_out_dir(ceremony: &Ceremony) -> PathBuf {
    match &ceremony.bindings.value.outputs {
        Some(o) => ceremony
            .bindings
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&o.dir),
        None => PathBuf::from("transcripts"),
    }
}

/// SoftHSM2 reads SOFTHSM2_CONF when the module is initialized; the
/// embedded HSM's configuration lives in the state directory, never in
/// /etc, so the process points SoftHSM2 at it.
#[allow(unsafe_code)]
fn export_softhsm_conf(conf: &Path) {
    // SAFETY: called from `run` before the session starts the HSM worker or
    // any other thread; no other thread can be reading the environment.
    unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
}

fn verify(path: &Path) -> ExitCode {
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
