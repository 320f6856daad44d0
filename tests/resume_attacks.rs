//! Issue 14, attack 5: `run --resume` must never be a way to destroy or
//! replace the root key of a ceremony. A completed transcript cut back is
//! not a crash; and the redo of interrupted work destroys only the object
//! that work made, found by the CKA_ID recorded before it was made.

mod ceremony_support;

use std::path::Path;
use std::process::Output;

use ceremony_support::*;
use serde_json::Value;

fn resume(dir: &Path, transcript: &Path) -> Output {
    keyceremony()
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--resume")
        .arg(transcript)
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs")
}

/// The token's public key objects as pkcs11-tool lists them: (label, id).
fn token_public_keys(run: &Run) -> Vec<(String, String)> {
    let listing = tool(
        run,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--token-label",
            "root-ca",
            "--list-objects",
            "--type",
            "pubkey",
        ],
    );
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    let mut keys = Vec::new();
    let mut label = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(l) = line.strip_prefix("label:") {
            label = l.trim().to_string();
        }
        if let Some(id) = line.strip_prefix("ID:") {
            keys.push((label.clone(), id.trim().to_string()));
        }
    }
    keys
}

fn root_key_id(entries: &[Value]) -> String {
    entries
        .iter()
        .find(|e| e["kind"] == "generate-key")
        .expect("generate-key entry")["body"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Keeps the first `lines` lines of the transcript (a cut, not a crash).
fn cut_to(transcript: &Path, lines: usize) {
    let text = std::fs::read_to_string(transcript).expect("read");
    let kept: String = text.lines().take(lines).map(|l| format!("{l}\n")).collect();
    std::fs::write(transcript, kept).expect("write");
}

fn the_line_after_the_generate_confirmation(entries: &[Value]) -> usize {
    entries
        .iter()
        .position(|e| {
            e["kind"] == "confirm"
                && e["body"]["step"] == "generate-root-key"
                && e["body"]["as"] == "performer"
        })
        .expect("performer confirmation")
        + 1
}

fn assert_root_key_untouched(run: &Run, id: &str, out: &Output) {
    let keys = token_public_keys(run);
    assert_eq!(
        keys,
        vec![("root-ca-key".to_string(), id.to_string())],
        "the token holds the original root key, and only it, after:\n{}",
        output_text(out)
    );
}

#[test]
fn resuming_a_completed_transcript_cut_before_generate_key_is_refused_and_the_key_stays() {
    let run = run_root(&answers());
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let entries = run.entries();
    let id = root_key_id(&entries);
    cut_to(
        &run.transcript(),
        the_line_after_the_generate_confirmation(&entries),
    );
    let out = resume(run.dir.path(), &run.transcript());
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checkpoint"),
        "the refusal names the checkpoint: {}",
        output_text(&out)
    );
    assert_root_key_untouched(&run, &id, &out);
}

#[test]
fn resuming_a_cut_completed_transcript_is_refused_even_without_its_checkpoint() {
    let run = run_root(&answers());
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let entries = run.entries();
    let id = root_key_id(&entries);
    cut_to(
        &run.transcript(),
        the_line_after_the_generate_confirmation(&entries),
    );
    std::fs::remove_file(run.transcript().with_extension("checkpoint")).expect("checkpoint");
    let out = resume(run.dir.path(), &run.transcript());
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this transcript was cut, not interrupted"),
        "the refusal names a file later steps wrote: {}",
        output_text(&out)
    );
    assert_root_key_untouched(&run, &id, &out);
}
