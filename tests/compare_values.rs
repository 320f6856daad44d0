//! Issue 15 (the room sees what it attests), the values themselves: at the
//! step that asks people to read or compare a value, the run shows it.
//! Here the headless log, which prints the same list the screen shows
//! (`runner::compare`), checked against the transcript the run wrote.

mod ceremony_support;

use ceremony_support::*;
use sha2::Digest;

/// The lines of the headless log under the step `[n/N] id:`.
fn block<'a>(log: &'a str, id: &str) -> Vec<&'a str> {
    let mut lines = log
        .lines()
        .skip_while(|l| !l.contains(&format!("] {id}: ")));
    let mut out = vec![
        lines
            .next()
            .unwrap_or_else(|| panic!("step {id} in:\n{log}")),
    ];
    out.extend(lines.take_while(|l| l.starts_with("    ")));
    out
}

fn has(block: &[&str], text: &str) -> bool {
    block.iter().any(|l| l.trim_start() == text)
}

#[test]
fn each_step_shows_the_values_people_compare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = keyceremony()
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs");
    let log = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let transcript = transcript_in(&dir.path().join("out"));

    let script_hash = hex::encode(sha2::Sha256::digest(
        std::fs::read(script()).expect("script"),
    ));
    let open = block(&log, "open");
    assert!(
        has(&open, &format!("script SHA-256: {script_hash}")),
        "{open:#?}"
    );
    let words = keyceremony::transcript::pgp_words(&hex::decode(&script_hash).expect("hex"));
    assert!(has(&open, &format!("in words: {words}")), "{open:#?}");

    let check = block(&log, "check-hsm");
    assert!(
        has(&check, "model: SoftHSM v2   (bindings expect: SoftHSM v2)"),
        "{check:#?}"
    );
    assert!(
        check
            .iter()
            .any(|l| l.trim_start().starts_with("firmware: ")),
        "{check:#?}"
    );

    let prove = block(&log, "prove-so-pin");
    assert!(
        prove
            .iter()
            .any(|l| l.contains("check value matched; security-officer login succeeded")),
        "{prove:#?}"
    );

    let spki = body_of(&transcript, "export-public-key")["public_key"]["spki_sha256"]
        .as_str()
        .expect("spki")
        .to_string();
    let export = block(&log, "export-public-key");
    assert!(
        has(&export, &format!("public key (SPKI) SHA-256: {spki}")),
        "{export:#?}"
    );

    let certificate = body_of(&transcript, "root-certificate")["sha256"]
        .as_str()
        .expect("sha256")
        .to_string();
    let sign = block(&log, "root-certificate");
    assert!(
        has(&sign, &format!("root-certificate SHA-256: {certificate}")),
        "{sign:#?}"
    );

    let generate = block(&log, "generate-root-key");
    assert!(
        generate
            .iter()
            .any(|l| l.contains("sensitive=true extractable=false never_extractable=true")),
        "{generate:#?}"
    );
    let inventory = block(&log, "inventory");
    assert!(
        has(
            &inventory,
            "objects on the token: 2: CKO_PUBLIC_KEY root-ca-key, CKO_PRIVATE_KEY root-ca-key"
        ),
        "{inventory:#?}"
    );
    // Each value is shown before the witness confirms the step.
    let at = |needle: &str| {
        export
            .iter()
            .position(|l| l.contains(needle))
            .expect(needle)
    };
    assert!(at("public key (SPKI)") < at("witnessed by"));
}
