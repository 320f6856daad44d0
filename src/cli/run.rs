//! `keyceremony run`: check the inputs, prepare the HSM, start a session and
//! hand it to the terminal UI or the headless runner.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use keyceremony::engine::Outcome;
use keyceremony::recording::RecordingFile;
use keyceremony::runner::{self, Answers, KeySource, Session};
use keyceremony::script::{Ceremony, Role};
use keyceremony::shown::shown;

use super::{FAILED, OK, USAGE};

#[derive(Args)]
pub struct RunArgs {
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
    /// Continue the unfinished ceremony of this transcript (after a crash or power cut).
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// The administrator's key, which with the witness's authorizes a resume: a key file, or `agent` [default: from the answers file, else the bindings' key-file].
    #[arg(long, requires = "resume")]
    admin_key: Option<PathBuf>,
    /// The witness's key, which with the administrator's authorizes a resume: a key file, or `agent` [default: from the answers file, else the bindings' key-file].
    #[arg(long, requires = "resume")]
    witness_key: Option<PathBuf>,
    /// Record what the screen shows to this new file (asciicast v2, for `asciinema play`; never keystrokes, never a share shown on screen); its SHA-256 goes into the close entry.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> ExitCode {
    let RunArgs {
        script,
        bindings,
        out,
        state_dir,
        headless,
        answers,
        resume,
        admin_key,
        witness_key,
        record,
    } = args;
    if let Some(problem) = record_refused(record.is_some(), headless, resume.is_some()) {
        eprintln!("error: {problem}");
        return ExitCode::from(USAGE);
    }
    let (script, bindings, state_dir, answers) = (
        script.as_path(),
        bindings.as_path(),
        state_dir.as_path(),
        answers.as_deref(),
    );
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
        super::export_env("SOFTHSM2_CONF", conf);
    }
    // Created before the transcript: a recording that cannot be written
    // (it exists, say) stops the run before anything is recorded.
    let record = match record.as_deref().map(RecordingFile::create).transpose() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let started = match &resume {
        Some(transcript) => {
            // The person's key for this act: given on the command line, else
            // the answers file's, else the bindings' hint.
            let key_of = |role: Role, given: Option<PathBuf>| {
                let person = ceremony
                    .holders(role)
                    .first()
                    .map(|p| (p.name.clone(), p.key_file.clone()));
                given
                    .or_else(|| {
                        let (name, hint) = person?;
                        answers.as_ref().and_then(|a| a.identity(&name)).or(hint)
                    })
                    .map(|path| {
                        if path == Path::new("agent") {
                            KeySource::Agent
                        } else {
                            KeySource::File(path)
                        }
                    })
            };
            match (
                key_of(Role::Administrator, admin_key),
                key_of(Role::Witness, witness_key),
            ) {
                (Some(admin), Some(witness)) => {
                    Session::resume(ceremony, &hsm, transcript, &admin, &witness)
                }
                _ => Err(runner::RunError::Setup(
                    "resuming needs the administrator's and the witness's keys: give them with --admin-key and --witness-key (a key file, or agent)".into(),
                )),
            }
        }
        None => {
            let out_dir = out.unwrap_or_else(|| default_out_dir(&ceremony));
            Session::start(ceremony, &hsm, &out_dir)
        }
    };
    let mut session = match started {
        Ok(s) => s,
        Err(e) => {
            if let Some(record) = record {
                record.discard();
            }
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
        _ => run_terminal(&mut session, record),
    };
    finish(&session, result)
}

/// Why `--record` cannot be used in this run, if it cannot.
fn record_refused(record: bool, headless: bool, resume: bool) -> Option<&'static str> {
    if !record {
        return None;
    }
    if headless {
        // Nothing is drawn: the headless log on stderr is already the
        // plain-text record of what the run said.
        return Some(
            "--record records the terminal UI's screen, and a --headless run has none: its log on stderr is already plain text (keep it with 2> FILE)",
        );
    }
    if resume {
        // The close would declare a recording of the resumed part alone as
        // the ceremony's; the crashed run's recording, if any, was never
        // declared (it never reached a close) and cannot be checked.
        return Some(
            "--record cannot be used with --resume: a recording covers one run from the genesis to the close, and this one would miss everything before the crash. Resume without --record (the crashed run's recording, if there was one, stays as it is, undeclared by the transcript)",
        );
    }
    None
}

#[cfg(feature = "tui")]
fn run_terminal(
    session: &mut Session,
    record: Option<RecordingFile>,
) -> Result<Outcome, runner::RunError> {
    keyceremony::tui::run(session, record)
}

#[cfg(not(feature = "tui"))]
fn run_terminal(
    _session: &mut Session,
    _record: Option<RecordingFile>,
) -> Result<Outcome, runner::RunError> {
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
            recording_lines(session);
            eprintln!("verify it:  keyceremony verify {path}");
            ExitCode::from(OK)
        }
        Ok(Outcome::Aborted { reason }) => {
            eprintln!("ceremony {} ABORTED: {reason}", session.ceremony_id());
            eprintln!("transcript (closed as aborted): {path}");
            recording_lines(session);
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

/// The screen recording the close recorded, and how to check it.
fn recording_lines(session: &Session) {
    if let Some(recorded) = session.recorded() {
        eprintln!(
            "recording:  {} ({} bytes, SHA-256 {}), recorded in the close entry",
            shown(&recorded.file),
            recorded.bytes,
            recorded.sha256
        );
        if let Some(error) = &recorded.error {
            eprintln!("            INCOMPLETE: {}", shown(error));
        }
        eprintln!(
            "check it:   keyceremony verify {} --recording {}",
            session.transcript_path().display(),
            shown(&recorded.file)
        );
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
