//! The root-key ceremony, run headless by the real binary on the embedded
//! SoftHSM2, then checked by independent tools: pkcs11-tool (OpenSC) reads
//! the token, openssl checks a signature the HSM made against the exported
//! PEM, and `keyceremony verify` judges the transcript and tampered copies.

mod ceremony_support;

use std::process::Command;
use std::sync::OnceLock;

use ceremony_support::*;
use keyceremony::quorum::{self, Presented};
use sha2::{Digest, Sha256};

/// One completed rehearsal shared by the tests that only read it.
fn completed() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = run_root_shared("root_ceremony");
        assert_eq!(
            run.code(),
            Some(0),
            "the rehearsal completes:\n{}",
            run.stderr()
        );
        run
    })
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_completed_transcript_verifies_and_names_the_key() {
    let run = completed();
    let (code, report) = verify(&run.transcript());
    assert_eq!(code, 0, "{report}");
    assert!(report.starts_with("VALID: ceremony completed"), "{report}");
    let fingerprint = run.body("export-public-key")["public_key"]["spki_sha256"]
        .as_str()
        .expect("fingerprint recorded")
        .to_string();
    assert!(report.contains(&fingerprint), "{report}");
    assert!(report.contains("attested by: bob, heidi"), "{report}");
    assert_eq!(run.entries().last().expect("entries")["kind"], "close");
}

#[test]
fn the_root_private_key_is_sensitive_and_not_extractable_as_pkcs11_tool_sees_it() {
    let run = completed();
    // Any three custodians other than those who presented in the run.
    let pin = run.pin("user-pin", &["dave", "frank", "carol"]);
    let listing = tool(
        run,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--token-label",
            "root-ca",
            "--login",
            "--pin",
            &pin,
            "--list-objects",
            "--type",
            "privkey",
        ],
    );
    let text = stdout(&listing);
    assert!(
        listing.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    assert!(text.contains("Private Key Object; EC"), "{text}");
    assert!(text.contains("label:      root-ca-key"), "{text}");
    assert!(
        text.contains("Access:     sensitive, always sensitive, never extractable, local"),
        "{text}"
    );
    assert!(text.contains("Usage:      sign"), "{text}");
    assert!(
        !text.contains("decrypt") && !text.contains("unwrap"),
        "{text}"
    );
}

#[test]
fn openssl_verifies_a_signature_the_hsm_made_against_the_exported_pem() {
    let run = completed();
    let pin = run.pin("user-pin", &["erin", "grace", "frank"]);
    let body = run.body("export-public-key");
    let pem_path = run
        .out()
        .join(body["public_key"]["file"].as_str().expect("file"));
    let pem = std::fs::read(&pem_path).expect("PEM exported");
    assert_eq!(
        hex::encode(Sha256::digest(&pem)),
        body["public_key"]["file_sha256"]
            .as_str()
            .expect("hash recorded")
    );

    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let digest = work.path().join("digest");
    let sig = work.path().join("sig");
    std::fs::write(&data, b"keyceremony test challenge").expect("write");
    std::fs::write(&digest, sha2::Sha384::digest(b"keyceremony test challenge")).expect("write");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8 path").to_string();
    let signed = tool(
        run,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--token-label",
            "root-ca",
            "--login",
            "--pin",
            &pin,
            "--sign",
            "--mechanism",
            "ECDSA",
            "--label",
            "root-ca-key",
            "--input-file",
            &path(&digest),
            "--output-file",
            &path(&sig),
            "--signature-format",
            "openssl",
        ],
    );
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );

    let openssl_verify = |file: &std::path::Path| {
        Command::new("openssl")
            .args(["dgst", "-sha384", "-verify"])
            .arg(&pem_path)
            .arg("-signature")
            .arg(&sig)
            .arg(file)
            .output()
            .expect("openssl runs")
    };
    let ok = openssl_verify(&data);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("Verified OK"));
    let other = work.path().join("other");
    std::fs::write(&other, b"keyceremony test challengf").expect("write");
    let bad = openssl_verify(&other);
    assert!(
        !bad.status.success(),
        "a signature over other data must not verify"
    );
}

#[test]
fn any_three_of_five_so_pin_shares_recover_the_pin_that_logs_in() {
    let run = completed();
    let custodians = ["carol", "dave", "erin", "frank", "grace"];
    let mut pins = Vec::new();
    for a in 0..5 {
        for b in a + 1..5 {
            for c in b + 1..5 {
                pins.push(run.pin("so-pin", &[custodians[a], custodians[b], custodians[c]]));
            }
        }
    }
    assert_eq!(pins.len(), 10);
    assert!(
        pins.iter().all(|p| p == &pins[0]),
        "every 3-subset gives the same PIN"
    );
    // The SO can log in with it (SoftHSM2 refuses an SO login beside a
    // read-only session, hence --session-rw).
    let login = tool(
        run,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--token-label",
            "root-ca",
            "--session-rw",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &pins[0],
            "--list-objects",
        ],
    );
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
}

#[test]
fn two_shares_a_corrupted_share_and_a_foreign_share_are_refused_by_name() {
    let run = completed();
    let record = run.split_record("so-pin");
    let present = |custodian: &str| Presented {
        custodian: custodian.into(),
        share: run.open_share(custodian, "so-pin"),
    };

    let two = quorum::combine(&record, &[present("carol"), present("dave")]);
    let err = two.err().expect("two shares recover nothing").to_string();
    assert!(err.contains("3"), "{err}");

    // One character of a code changed: the checksum catches it.
    let code = run.open_share("erin", "so-pin").code();
    let mut chars: Vec<char> = code.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'q' { 'p' } else { 'q' };
    let corrupted: String = chars.into_iter().collect();
    let err = quorum::Share::from_code(
        &corrupted,
        &run.ceremony_id(),
        &"so-pin".parse().expect("name"),
    )
    .err()
    .expect("a corrupted code is refused")
    .to_string();
    assert!(err.to_lowercase().contains("checksum"), "{err}");

    // A share of the same secret name from another ceremony.
    let foreign_secret = quorum::CeremonySecret::generate_os_only().expect("secret");
    let foreign = quorum::split(
        &foreign_secret,
        "root-key-generation-20990101-ffffff",
        &"so-pin".parse().expect("name"),
        quorum::QuorumPolicy::new(3, 5).expect("policy"),
    )
    .expect("split");
    let err = quorum::check_one(&record, &foreign[0])
        .expect_err("a foreign share is refused")
        .to_string();
    assert!(err.contains("ceremony"), "{err}");
}

/// Runs the ceremony with `erin` bringing `share_file` for the SO PIN.
fn run_with_erins_share(share_file: &std::path::Path) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = write_answers(
        dir.path(),
        &format!(
            "share-files:\n  prove-so-pin:\n    erin: {}\n",
            share_file.display()
        ),
    );
    run_root(&answers)
}

fn token_flags(run: &Run) -> String {
    let slots = tool(run, "pkcs11-tool", &["--module", SOFTHSM, "-L"]);
    stdout(&slots)
}

#[test]
fn a_share_file_from_another_ceremony_stops_the_run_before_any_login() {
    let other = completed();
    let run = run_with_erins_share(&other.share_file("erin", "so-pin"));
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let stderr = run.stderr();
    assert!(stderr.contains("REFUSED: erin's share"), "{stderr}");
    assert!(stderr.contains("ceremony"), "{stderr}");
    let kinds: Vec<String> = run
        .entries()
        .iter()
        .map(|e| e["kind"].as_str().expect("kind").to_string())
        .collect();
    assert!(kinds.contains(&"share-rejected".to_string()), "{kinds:?}");
    assert!(
        !kinds.contains(&"recombine".to_string()),
        "no recombination: {kinds:?}"
    );
    let (code, report) = verify(&run.transcript());
    assert_eq!(
        code, 0,
        "an aborted ceremony is a valid, closed transcript: {report}"
    );
    assert!(report.contains("ABORTED"), "{report}");
    assert!(
        report.contains("a share presented by erin was refused"),
        "{report}"
    );
    // SoftHSM2 raises "SO PIN count low" after a failed SO login.
    let flags = token_flags(&run);
    assert!(flags.contains("token label        : root-ca"), "{flags}");
    assert!(
        !flags.to_lowercase().contains("so pin count low"),
        "{flags}"
    );
}

#[test]
fn a_corrupted_share_file_stops_the_run_before_any_login() {
    let other = completed();
    let mut sealed = std::fs::read_to_string(other.share_file("erin", "so-pin")).expect("share");
    // Change one base64 character inside the armored body.
    let at = sealed.len() / 2;
    let replacement = if &sealed[at..at + 1] == "A" { "B" } else { "A" };
    sealed.replace_range(at..at + 1, replacement);
    let dir = tempfile::tempdir().expect("tempdir");
    let corrupted = dir.path().join("erin.so-pin.age");
    std::fs::write(&corrupted, sealed).expect("write");
    let run = run_with_erins_share(&corrupted);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains("REFUSED"), "{}", run.stderr());
    let flags = token_flags(&run);
    assert!(
        !flags.to_lowercase().contains("so pin count low"),
        "{flags}"
    );
}
