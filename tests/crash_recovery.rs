//! Crash recovery: the headless root ceremony is killed with SIGKILL at
//! every step boundary and in the middle of every kind of HSM work; each
//! time `run --resume` finishes the ceremony, the transcript verifies, and
//! the token holds exactly one root key, whose public key is the one the
//! transcript records.
//!
//! The kill points are the test-only environment variables documented in
//! src/runner/session/test_hooks.rs.

mod ceremony_support;

use std::path::Path;
use std::process::Output;

use ceremony_support::*;

fn run_with(env: (&str, &str), dir: &Path) -> Output {
    keyceremony()
        .env(env.0, env.1)
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs")
}

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

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

/// Crashes a run at `env`, resumes it, and checks the result.
fn crash_and_resume(env: (&str, &str)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let crashed = run_with(env, dir.path());
    assert!(
        killed(&crashed),
        "{env:?}: the run was not killed: {}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    let found: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    let transcript = &found[0];
    let (code, report) = verify(transcript);
    assert_eq!(
        code, 1,
        "{env:?}: a crashed transcript is not valid: {report}"
    );
    assert!(report.starts_with("INCOMPLETE"), "{env:?}: {report}");

    let resumed = resume(dir.path(), transcript);
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{env:?}: resume failed:\n{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let (code, report) = verify(transcript);
    assert_eq!(code, 0, "{env:?}: {report}");
    assert!(
        report.starts_with("VALID: ceremony completed"),
        "{env:?}: {report}"
    );
    // A resumed transcript still follows its script, and its checkpoint
    // (cosigned after the resume) covers every line.
    let against_script = keyceremony()
        .arg("verify")
        .arg(transcript)
        .arg("--script")
        .arg(script())
        .arg("--checkpoint")
        .arg(transcript.with_extension("checkpoint"))
        .output()
        .expect("verify runs");
    let shown = output_text(&against_script);
    assert_eq!(against_script.status.code(), Some(0), "{env:?}: {shown}");
    assert!(
        shown.contains("same hash, steps in order, required roles and quorums present"),
        "{env:?}: {shown}"
    );

    // Exactly one root key on the token, and it is the recorded one.
    let entries = entries(transcript);
    let recorded: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "generate-key")
        .filter_map(|e| e["body"]["public_key"]["spki_sha256"].as_str())
        .collect();
    assert_eq!(recorded.len(), 1, "{env:?}: one key generation recorded");
    let conf = dir.path().join("state/softhsm2.conf");
    let listing = std::process::Command::new("pkcs11-tool")
        .args([
            "--module",
            SOFTHSM,
            "--token-label",
            "root-ca",
            "--list-objects",
            "--type",
            "pubkey",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("pkcs11-tool");
    let text = String::from_utf8_lossy(&listing.stdout);
    assert_eq!(
        text.matches("Public Key Object").count(),
        1,
        "{env:?}: exactly one key on the token:\n{text}"
    );
    let pem_entry = entries
        .iter()
        .find(|e| e["kind"] == "export-public-key")
        .expect("export recorded");
    assert_eq!(
        pem_entry["body"]["public_key"]["spki_sha256"], recorded[0],
        "{env:?}: the exported key is the recorded key"
    );
    // The exported file is the one the transcript hashes.
    let file = transcript.parent().expect("dir").join(
        pem_entry["body"]["public_key"]["file"]
            .as_str()
            .expect("file"),
    );
    let pem = std::fs::read(file).expect("pem");
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&pem)),
        pem_entry["body"]["public_key"]["file_sha256"]
    );
}

#[test]
fn killed_at_every_step_boundary_the_ceremony_resumes_and_completes() {
    let full = run_root(&answers());
    assert_eq!(full.code(), Some(0), "{}", full.stderr());
    // The last entry of every step but the close: its witness confirmation,
    // or the attestation. And the genesis.
    let mut boundaries = vec![0];
    for e in full.entries() {
        let witness = e["kind"] == "confirm" && e["body"]["as"] == "witness";
        if witness || e["kind"] == "attestation" {
            boundaries.push(e["seq"].as_u64().expect("seq"));
        }
    }
    assert!(boundaries.len() >= 14, "{boundaries:?}");
    for seq in boundaries {
        crash_and_resume(("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", &seq.to_string()));
    }
}

#[test]
fn killed_in_the_middle_of_hsm_work_the_ceremony_resumes_and_completes() {
    for work in [
        "check-hsm",
        "split-secret",
        "init-token",
        "recombine",
        "set-user-pin",
        "generate-key",
        "export-public-key",
        "list-objects",
    ] {
        crash_and_resume(("KEYCEREMONY_TEST_CRASH_IN_WORK", work));
    }
}

#[test]
fn a_key_made_before_the_crash_is_destroyed_not_adopted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crashed = run_with(
        ("KEYCEREMONY_TEST_CRASH_IN_WORK", "generate-key"),
        dir.path(),
    );
    assert!(killed(&crashed));
    let transcript = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript");
    let resumed = resume(dir.path(), &transcript);
    assert_eq!(resumed.status.code(), Some(0));
    let entries = entries(&transcript);
    let reconcile = entries
        .iter()
        .find(|e| e["kind"] == "reconcile")
        .expect("reconcile entry");
    let orphan = reconcile["body"]["unrecorded_keys"][0]["id"]
        .as_str()
        .expect("the unrecorded key is reported")
        .to_string();
    // The crashed generation recorded the key id it was about to use; the
    // redo destroyed exactly the object with that id.
    let planned = entries
        .iter()
        .find(|e| e["kind"] == "work-started")
        .expect("the first generation recorded its key id")["body"]["key_id"]
        .as_str()
        .expect("key id")
        .to_string();
    assert_eq!(orphan, planned, "the unrecorded key is the interrupted one");
    let generated = entries
        .iter()
        .find(|e| e["kind"] == "generate-key")
        .expect("generate entry");
    assert_eq!(
        generated["body"]["unrecorded_key_destroyed"]["id"], orphan,
        "the reported key is the destroyed one"
    );
    assert_eq!(
        generated["body"]["unrecorded_key_destroyed"]["objects_destroyed"], 2,
        "its private and public objects"
    );
    assert_ne!(generated["body"]["id"], orphan);
    assert!(entries.iter().any(|e| e["kind"] == "resume"));
    assert!(entries.iter().any(|e| e["kind"] == "interrupted"));
}

#[test]
fn a_closed_or_tampered_transcript_is_not_resumed() {
    let full = run_root(&answers());
    let out = resume(full.dir.path(), &full.transcript());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is closed"));

    let dir = tempfile::tempdir().expect("tempdir");
    let crashed = run_with(("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", "20"), dir.path());
    assert!(killed(&crashed));
    let transcript = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript");
    let text = std::fs::read_to_string(&transcript).expect("read");
    std::fs::write(&transcript, text.replacen("\"alice\"", "\"alicf\"", 1)).expect("write");
    let out = resume(dir.path(), &transcript);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 14, attack 2 variant: after a crash the administrator and the
/// witness resume once; cutting the transcript back to the same point and
/// resuming again would give a second, different record of one ceremony.
/// The resume ledger beside the transcript refuses it, and a cut shorter
/// than an earlier resume point too.
#[test]
fn the_same_cut_is_never_resumed_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crashed = run_with(("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", "20"), dir.path());
    assert!(killed(&crashed), "{}", output_text(&crashed));
    let transcript = transcript_in(&dir.path().join("out"));
    let cut = std::fs::read(&transcript).expect("read");

    // The first resume is killed too, before the close: no checkpoint yet.
    let resumed = keyceremony()
        .env("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", "30")
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--resume")
        .arg(&transcript)
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs");
    assert!(killed(&resumed), "{}", output_text(&resumed));
    assert!(!transcript.with_extension("checkpoint").exists());

    std::fs::write(&transcript, &cut).expect("cut back");
    let again = resume(dir.path(), &transcript);
    let said = output_text(&again);
    assert_ne!(again.status.code(), Some(0), "{said}");
    assert!(
        said.contains("this transcript was already resumed after line 21"),
        "{said}"
    );
    assert_eq!(
        std::fs::read(&transcript).expect("read"),
        cut,
        "nothing written"
    );

    let shorter: Vec<&[u8]> = cut.split_inclusive(|b| *b == b'\n').take(15).collect();
    std::fs::write(&transcript, shorter.concat()).expect("cut shorter");
    let again = resume(dir.path(), &transcript);
    let said = output_text(&again);
    assert_ne!(again.status.code(), Some(0), "{said}");
    assert!(said.contains("it was cut since"), "{said}");
}
