//! `run --record FILE` where it cannot be honest or cannot be written: with
//! `--headless` (no screen to record), with `--resume` (the recording would
//! miss everything before the crash, yet the close would declare it as the
//! ceremony's), and onto a file that exists (never overwritten). Each is
//! refused before a transcript exists, exit 2. The recorded run itself is
//! in tests/tui_tmux.rs.

mod ceremony_support;

use std::path::Path;
use std::process::Output;

use ceremony_support::*;

fn run(dir: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    keyceremony()
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn no_transcript(out: &Path) -> bool {
    std::fs::read_dir(out).map_or(true, |entries| {
        entries
            .map(|e| e.expect("entry").path())
            .all(|p| p.extension().is_none_or(|x| x != "jsonl"))
    })
}

#[test]
fn a_headless_run_refuses_to_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cast = dir.path().join("run.cast");
    let out = dir.path().join("out");
    let output = run(
        dir.path(),
        &[
            "--out".as_ref(),
            out.as_os_str(),
            "--headless".as_ref(),
            "--answers".as_ref(),
            answers().as_os_str(),
            "--record".as_ref(),
            cast.as_os_str(),
        ],
    );
    let stderr = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--record records the terminal UI's screen, and a --headless run has none"),
        "{stderr}"
    );
    assert!(!cast.exists());
    assert!(no_transcript(&out));
}

#[test]
fn a_resumed_run_refuses_to_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cast = dir.path().join("run.cast");
    // Refused before the transcript is even read.
    let transcript = dir.path().join("crashed.jsonl");
    let output = run(
        dir.path(),
        &[
            "--resume".as_ref(),
            transcript.as_os_str(),
            "--record".as_ref(),
            cast.as_os_str(),
        ],
    );
    let stderr = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--record cannot be used with --resume")
            && stderr.contains("would miss everything before the crash"),
        "{stderr}"
    );
    assert!(!cast.exists());
}

#[test]
fn an_existing_recording_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cast = dir.path().join("earlier.cast");
    std::fs::write(&cast, "an earlier ceremony's recording\n").expect("write");
    let out = dir.path().join("out");
    let output = run(
        dir.path(),
        &[
            "--out".as_ref(),
            out.as_os_str(),
            "--record".as_ref(),
            cast.as_os_str(),
        ],
    );
    let stderr = output_text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already exists: a recording is never overwritten"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&cast).expect("read"),
        "an earlier ceremony's recording\n"
    );
    assert!(no_transcript(&out));
}
