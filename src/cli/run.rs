//! `keyceremony run`: check the inputs, prepare the HSM, start a session and
//! hand it to the terminal UI or the headless runner.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use keyceremony::engine::Outcome;
use keyceremony::runner::{self, Answers, Session};
use keyceremony::script::Ceremony;

use super::{FAILED, OK, USAGE};

pub fn run(
    script: &Path,
    bindings: &Path,
    out: Option<PathBuf>,
    state_dir: &Path,
    headless: bool,
    answers: Option<&Path>,
) -> ExitCode {
    if let Err(e) = keyceremony::secret::harden_process() {
        eprintln!("error: {e}");
        return ExitCode::from(USAGE);
    }
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
