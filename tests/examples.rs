//! The committed example transcripts (`make example` regenerates them): each
//! of the five ceremonies verifies against its script, and the restore is
//! linked to the ceremony it restores from.

mod ceremony_support;

use std::path::PathBuf;

use ceremony_support::*;

fn example(name: &str) -> PathBuf {
    repo().join("transcripts").join(format!("{name}.jsonl"))
}

fn verify_with(args: &[&str]) -> (i32, String) {
    let out = keyceremony()
        .arg("verify")
        .args(args)
        .output()
        .expect("verify runs");
    (
        out.status.code().expect("exit code"),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_example_verifies_against_its_script_and_checkpoint() {
    for (name, script) in [
        ("example-root-rehearsal", "root-key-generation"),
        (
            "example-root-backup-rehearsal",
            "root-key-generation-backup",
        ),
        ("example-dr-restore-rehearsal", "dr-restore-rehearsal"),
        ("example-custodian-rotation", "custodian-rotation"),
        ("example-intermediate-ca", "intermediate-ca"),
    ] {
        let transcript = example(name);
        let script = repo().join("ceremonies").join(format!("{script}.yaml"));
        let (code, report) = verify_with(&[
            transcript.to_str().expect("utf-8"),
            "--script",
            script.to_str().expect("utf-8"),
        ]);
        assert_eq!(code, 0, "{name}:\n{report}");
        assert!(
            report.starts_with("VALID: ceremony completed"),
            "{name}:\n{report}"
        );
        assert!(report.contains("checkpoint:"), "{name}:\n{report}");
        assert!(
            report.contains(" checked: "),
            "{name}: the checkpoint was checked\n{report}"
        );
    }
}

#[test]
fn the_example_restore_is_linked_to_the_example_backup_ceremony() {
    let restore = example("example-dr-restore-rehearsal");
    let (code, report) = verify_with(&[
        restore.to_str().expect("utf-8"),
        "--original",
        example("example-root-backup-rehearsal")
            .to_str()
            .expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("original: continues ceremony root-key-generation-backup-"),
        "{report}"
    );
    // The restored key is the original key.
    let fingerprint = |name: &str, kind: &str| {
        entries(&example(name))
            .into_iter()
            .find(|e| e["kind"] == kind)
            .expect(kind)["body"]["public_key"]["spki_sha256"]
            .clone()
    };
    assert_eq!(
        fingerprint("example-dr-restore-rehearsal", "export-public-key"),
        fingerprint("example-root-backup-rehearsal", "export-public-key")
    );
    // A restore is not linked to a ceremony it does not continue.
    let (code, report) = verify_with(&[
        restore.to_str().expect("utf-8"),
        "--original",
        example("example-root-rehearsal").to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("NOT LINKED"), "{report}");
}

#[test]
fn the_example_intermediate_certificate_chains_to_the_example_root() {
    let file = |name: &str, kind: &str| {
        let entry = entries(&example(name))
            .into_iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{name}: no {kind}"));
        repo()
            .join("transcripts")
            .join(entry["body"]["file"].as_str().expect("file"))
    };
    let root = file("example-root-rehearsal", "root-certificate");
    let intermediate = file("example-intermediate-ca", "sign-csr");
    let crl = file("example-intermediate-ca", "crl");
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg(&intermediate)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("openssl")
        .args(["crl", "-noout", "-verify", "-CAfile"])
        .arg(&root)
        .arg("-in")
        .arg(&crl)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
