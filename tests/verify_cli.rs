//! `keyceremony verify` on the committed example transcript and on tampered
//! copies of it: exit 0 when valid, 1 when tampered or incomplete (naming
//! the first bad line), 2 when the file cannot be read.

mod ceremony_support;

use std::path::{Path, PathBuf};

use ceremony_support::{entries, keyceremony, repo, verify};
use sha2::{Digest, Sha256};

fn example() -> PathBuf {
    repo().join("transcripts/example-root-rehearsal.jsonl")
}

fn lines() -> Vec<String> {
    std::fs::read_to_string(example())
        .expect("the example transcript is committed")
        .lines()
        .map(String::from)
        .collect()
}

/// Writes `lines` (each with its newline) to a temporary file and verifies it.
fn verify_lines(lines: &[String]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    verify(&path)
}

fn verify_bytes(bytes: &[u8]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, bytes).expect("write");
    verify(&path)
}

#[test]
fn the_committed_example_verifies_and_its_public_key_file_matches() {
    let (code, report) = verify(&example());
    assert_eq!(code, 0, "{report}");
    assert!(report.starts_with("VALID: ceremony completed"), "{report}");
    let export = entries(&example())
        .into_iter()
        .find(|e| e["kind"] == "export-public-key")
        .expect("an export entry")["body"]["public_key"]
        .clone();
    let pem = std::fs::read(
        repo()
            .join("transcripts")
            .join(export["file"].as_str().expect("file")),
    )
    .expect("the exported PEM is committed beside the transcript");
    assert_eq!(hex::encode(Sha256::digest(&pem)), export["file_sha256"]);
    assert_eq!(String::from_utf8(pem).expect("PEM"), export["pem"]);
}

#[test]
fn one_changed_byte_anywhere_is_tampering() {
    let original = std::fs::read(example()).expect("example");
    // Every line, at several places in each: its start, middle and end.
    let mut positions = Vec::new();
    let mut start = 0;
    for (i, b) in original.iter().enumerate() {
        if *b == b'\n' {
            positions.extend([start, (start + i) / 2, i.saturating_sub(1), i]);
            start = i + 1;
        }
    }
    for at in positions {
        let mut bytes = original.clone();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let (code, report) = verify_bytes(&bytes);
        assert_eq!(code, 1, "byte {at} changed, yet: {report}");
        assert!(
            report.starts_with("TAMPERED") || report.starts_with("INCOMPLETE"),
            "byte {at}: {report}"
        );
    }
}

#[test]
fn a_deleted_line_is_tampering_and_names_the_line() {
    let all = lines();
    for i in 0..all.len() - 1 {
        let mut cut = all.clone();
        cut.remove(i);
        let (code, report) = verify_lines(&cut);
        assert_eq!(code, 1, "line {} deleted, yet: {report}", i + 1);
        assert!(
            report.starts_with("TAMPERED: line "),
            "line {} deleted: {report}",
            i + 1
        );
    }
}

#[test]
fn swapped_lines_are_tampering() {
    let all = lines();
    for i in 0..all.len() - 1 {
        let mut swapped = all.clone();
        swapped.swap(i, i + 1);
        let (code, report) = verify_lines(&swapped);
        assert_eq!(
            code,
            1,
            "lines {} and {} swapped, yet: {report}",
            i + 1,
            i + 2
        );
        assert!(report.starts_with("TAMPERED"), "{report}");
    }
}

#[test]
fn a_removed_last_line_makes_the_transcript_incomplete() {
    let mut all = lines();
    all.pop();
    let (code, report) = verify_lines(&all);
    assert_eq!(code, 1, "{report}");
    assert!(report.starts_with("INCOMPLETE: no close entry"), "{report}");
}

#[test]
fn an_unreadable_transcript_is_a_usage_error() {
    let out = keyceremony()
        .arg("verify")
        .arg(Path::new("/nonexistent/transcript.jsonl"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/transcript.jsonl"));
}

/// A transcript above the documented 64 MiB cap is refused unread (a
/// sparse file: nothing of it is ever read), exit 2, naming the limit.
#[test]
fn a_transcript_above_the_size_cap_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.jsonl");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len((64 << 20) + 1).expect("sparse");
    let started = std::time::Instant::now();
    let out = keyceremony()
        .arg("verify")
        .arg(&path)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("huge.jsonl"), "{err}");
    assert!(
        err.contains("larger than 64 MiB, the most this file may be"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

fn verify_args(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = keyceremony()
        .arg("verify")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The example, its checkpoint and its public key file, copied to a
/// temporary folder (the share files stay behind, as custodians take theirs).
fn example_copy() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let entries = entries(&example());
    let id = entries[0]["body"]["ceremony_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let transcript = dir.path().join("example.jsonl");
    std::fs::copy(example(), &transcript).expect("copy");
    let checkpoint = format!("{id}.checkpoint");
    std::fs::copy(
        repo().join("transcripts").join(&checkpoint),
        dir.path().join(&checkpoint),
    )
    .expect("the example's checkpoint is committed");
    std::fs::create_dir(dir.path().join(&id)).expect("mkdir");
    let pem = format!("{id}/root-ca-key.pub.pem");
    std::fs::copy(repo().join("transcripts").join(&pem), dir.path().join(&pem)).expect("copy");
    (dir, transcript, id)
}

#[test]
fn json_verdict_of_the_example_with_its_script_and_checkpoint() {
    let script = repo().join("ceremonies/root-key-generation.yaml");
    let (code, stdout, stderr) = verify_args(&[
        example().as_os_str(),
        "--script".as_ref(),
        script.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let verdict: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(verdict["format"], "keyceremony-verdict/1");
    assert_eq!(verdict["verdict"], "valid");
    assert_eq!(verdict["exit_code"], 0);
    assert_eq!(verdict["violation"], serde_json::Value::Null);
    assert_eq!(verdict["ceremony"]["outcome"], "completed");
    assert_eq!(verdict["checkpoint"]["status"], "checked");
    assert_eq!(
        verdict["checkpoint"]["cosigned_by"],
        serde_json::json!(["bob", "heidi"])
    );
    assert_eq!(
        verdict["checkpoint"]["tree_size"],
        verdict["ceremony"]["entries"]
    );
    let sha = hex::encode(Sha256::digest(std::fs::read(&script).expect("script")));
    assert_eq!(verdict["script"]["sha256"], sha.as_str());
    assert!(
        verdict["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .all(|a| a["status"] == "matches"),
        "{stdout}"
    );
}

#[test]
fn the_example_says_its_checkpoint_was_checked() {
    let (code, report) = verify(&example());
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains(&format!("checked: {} lines", lines().len()))
            && report.contains("cosigned by bob, heidi"),
        "{report}"
    );
    let (dir, transcript, id) = example_copy();
    std::fs::remove_file(dir.path().join(format!("{id}.checkpoint"))).expect("rm");
    // A closed transcript without its checkpoint: its end is unproven.
    let (code, report) = verify(&transcript);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("[checkpoint-missing]"), "{report}");
    // ... unless the auditor says so, and then the verdict says it too.
    let (code, report, _) = verify_args(&[transcript.as_os_str(), "--no-checkpoint".as_ref()]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("checkpoint: NOT checked (--no-checkpoint)"),
        "{report}"
    );
    assert!(
        report.contains("1 match their recorded SHA-256, 0 differ, 11 not beside"),
        "{report}"
    );
}

#[test]
fn a_changed_public_key_file_or_checkpoint_or_a_cut_close_fails() {
    let (dir, transcript, id) = example_copy();
    let pem = dir.path().join(format!("{id}/root-ca-key.pub.pem"));
    let original = std::fs::read(&pem).expect("pem");
    std::fs::write(&pem, [&original[..], b"\n"].concat()).expect("write");
    let (code, report) = verify(&transcript);
    assert_eq!(code, 1, "{report}");
    let export = lines()
        .iter()
        .position(|l| l.contains("\"kind\":\"export-public-key\""))
        .expect("export line")
        + 1;
    assert!(
        report.starts_with(&format!("TAMPERED: line {export}: ")),
        "{report}"
    );
    assert!(
        report.contains("root-ca-key.pub.pem has SHA-256") && report.contains("[artifact]"),
        "{report}"
    );
    std::fs::write(&pem, &original).expect("restore");

    let checkpoint = dir.path().join(format!("{id}.checkpoint"));
    let note = std::fs::read_to_string(&checkpoint).expect("note");
    let size = lines().len();
    std::fs::write(
        &checkpoint,
        note.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size - 1), 1),
    )
    .expect("write");
    let (code, report) = verify(&transcript);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("does not verify [checkpoint-signature]"),
        "{report}"
    );
    std::fs::write(&checkpoint, &note).expect("restore");

    let mut cut = lines();
    cut.pop();
    let left = cut.len();
    std::fs::write(&transcript, cut.join("\n") + "\n").expect("write");
    let (code, report) = verify(&transcript);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.starts_with(&format!(
            "TAMPERED: line {left}: checkpoint: tree size {size} but the transcript has {left} lines [checkpoint-size]"
        )),
        "{report}"
    );
}

#[test]
fn a_missing_checkpoint_or_script_given_is_a_usage_error() {
    for option in ["--checkpoint", "--script"] {
        let (code, _, stderr) = verify_args(&[
            example().as_os_str(),
            option.as_ref(),
            "/nonexistent/file".as_ref(),
        ]);
        assert_eq!(code, 2, "{option}: {stderr}");
        assert!(stderr.contains("/nonexistent/file"), "{stderr}");
    }
}

/// `verify --recording FILE` on a transcript whose close declares no screen
/// recording: nothing to check the file against, so it is not a pass
/// (exit 1, saying so); a recording that cannot be read is a usage error.
#[test]
fn a_recording_checked_against_a_transcript_that_declares_none_fails() {
    let (dir, transcript, _) = example_copy();
    let cast = dir.path().join("some.cast");
    std::fs::write(&cast, "{\"version\":2,\"width\":80,\"height\":24}\n").expect("write");
    let (code, stdout, _) = verify_args(&[
        transcript.as_os_str(),
        "--recording".as_ref(),
        cast.as_os_str(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("recording:  NOT CHECKED: the transcript declares no screen recording"),
        "{stdout}"
    );
    // Without --recording, nothing is said of one.
    let (code, stdout) = verify(&transcript);
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains("recording:"), "{stdout}");
    // The JSON verdict says the same, and its exit code is the process's.
    let (code, json, _) = verify_args(&[
        transcript.as_os_str(),
        "--json".as_ref(),
        "--recording".as_ref(),
        cast.as_os_str(),
    ]);
    assert_eq!(code, 1, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["recording"], serde_json::Value::Null);
    assert_eq!(json["recording_check"]["declared"], false);
    assert_eq!(json["recording_check"]["matches"], false);
    assert_eq!(json["exit_code"], 1);

    let missing = dir.path().join("missing.cast");
    let (code, _, stderr) = verify_args(&[
        transcript.as_os_str(),
        "--recording".as_ref(),
        missing.as_os_str(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read the recording") && stderr.contains("missing.cast"),
        "{stderr}"
    );
}
