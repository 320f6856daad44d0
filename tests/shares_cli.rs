//! `keyceremony shares inspect|check` as a custodian uses them, on the
//! committed example's share files (sealed to the DEMO-ONLY keys).

mod ceremony_support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ceremony_support::{demo_key, entries, keyceremony, repo};

fn example() -> PathBuf {
    repo().join("transcripts/example-root-rehearsal.jsonl")
}

fn share_file(custodian: &str, secret: &str) -> PathBuf {
    let id = entries(&example())[0]["ceremony"]
        .as_str()
        .expect("id")
        .to_string();
    repo()
        .join("transcripts")
        .join(id)
        .join("shares")
        .join(format!("{custodian}.{secret}.age"))
}

/// Runs keyceremony with `stdin`; returns (exit code, stdout, stderr).
fn run(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = keyceremony()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().expect("code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The share text as stock `age -d -i KEY FILE` prints it.
fn age_decrypt(custodian: &str, secret: &str) -> Vec<u8> {
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(demo_key(custodian))
        .arg(share_file(custodian, secret))
        .output()
        .expect("age runs (apt-get install age)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The code's groups, to make sure none is ever printed.
fn code_groups(text: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(text);
    let code_at = text.find("kc1").expect("the text holds a code");
    text[code_at + 3..]
        .split_whitespace()
        .filter(|g| g.len() == 5)
        .map(String::from)
        .collect()
}

#[test]
fn what_stock_age_decrypts_is_a_share_inspect_accepts_and_never_repeats() {
    let text = age_decrypt("carol", "so-pin");
    let (code, out, err) = run(&["shares", "inspect", "-"], &text);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("share 1 of 5 (any 3 recover)"), "{out}");
    assert!(out.contains("secret:   so-pin"), "{out}");
    assert!(out.contains("checksum: OK"), "{out}");
    for group in code_groups(&text) {
        assert!(
            !out.contains(&group) && !err.contains(&group),
            "printed a code group"
        );
    }
}

#[test]
fn inspect_opens_a_sealed_file_with_the_custodians_key_only() {
    let file = share_file("erin", "user-pin");
    let file = file.to_str().expect("utf-8");
    let key = demo_key("erin");
    let (code, out, _) = run(
        &[
            "shares",
            "inspect",
            file,
            "-i",
            key.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("share 3 of 5") && out.contains("user-pin"),
        "{out}"
    );

    let other = demo_key("frank");
    let (code, _, err) = run(
        &[
            "shares",
            "inspect",
            file,
            "-i",
            other.to_str().expect("utf-8"),
        ],
        b"",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not decrypt"), "{err}");

    let (code, _, err) = run(&["shares", "inspect", file], b"");
    assert_eq!(code, 2);
    assert!(err.contains("give your private key with -i"), "{err}");
}

#[test]
fn check_names_the_custodian_and_the_transcript_line() {
    let text = age_decrypt("dave", "so-pin");
    let t = example();
    let (code, out, err) = run(
        &[
            "shares",
            "check",
            "--transcript",
            t.to_str().expect("utf-8"),
        ],
        &text,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("OK: intact and matches the commitment"),
        "{out}"
    );
    assert!(out.contains("issued to dave"), "{out}");
}

#[test]
fn check_takes_a_bare_typed_code_and_catches_one_wrong_character() {
    let text = age_decrypt("grace", "user-pin");
    let text = String::from_utf8(text).expect("utf-8");
    let code_line: String = text[text.find("kc1").expect("code")..].to_string();
    let t = example();
    let t = t.to_str().expect("utf-8");
    let (code, out, err) = run(
        &["shares", "check", "--transcript", t],
        code_line.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("issued to grace"), "{out}");

    // Change the last character of the code (a different letter of the alphabet).
    let trimmed = code_line.trim_end();
    let last = trimmed.chars().last().expect("a character");
    let wrong = format!(
        "{}{}",
        &trimmed[..trimmed.len() - 1],
        if last == 'q' { 'p' } else { 'q' }
    );
    let (code, _, err) = run(&["shares", "check", "--transcript", t], wrong.as_bytes());
    assert_eq!(code, 1);
    assert!(err.to_lowercase().contains("checksum"), "{err}");
}

#[test]
fn check_refuses_a_share_against_a_tampered_transcript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tampered = dir.path().join("t.jsonl");
    let text = std::fs::read_to_string(example()).expect("example");
    std::fs::write(&tampered, text.replacen("\"k\":3", "\"k\":2", 1)).expect("write");
    let (code, _, err) = run(
        &[
            "shares",
            "check",
            "--transcript",
            tampered.to_str().expect("utf-8"),
        ],
        &age_decrypt("dave", "so-pin"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("does not verify"), "{err}");
}
