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
