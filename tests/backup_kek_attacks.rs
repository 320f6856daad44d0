//! Issue 14, attack 1: the holder of the token and of a backup blob, with
//! no PIN, tries to get the root key's value through the trusted KEK. Made
//! with an independent PKCS#11 client (tests/tools/no_login_unwrap.py,
//! PyKCS11), on a fresh backup rehearsal on the real SoftHSM2.
//!
//! Before the fix a public session unwrapped the blob into an extractable
//! session object and read CKA_VALUE: the root key's scalar.

mod ceremony_support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use ceremony_support::*;

#[test]
fn the_kek_yields_no_root_key_without_a_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let rehearsal = repo().join("ceremonies/rehearsal");
    let run = keyceremony()
        .arg("run")
        .arg(repo().join("ceremonies/root-key-generation-backup.yaml"))
        .arg("--bindings")
        .arg(rehearsal.join("root-key-generation-backup.bindings.yaml"))
        .arg("--state-dir")
        .arg(&state)
        .arg("--out")
        .arg(&out)
        .arg("--headless")
        .arg("--answers")
        .arg(rehearsal.join("root-key-generation-backup.answers.yaml"))
        .output()
        .expect("runs");
    assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
    let transcript = transcript_in(&out);

    let backup = body_of(&transcript, "backup-key");
    let blob = out.join(backup["file"].as_str().expect("file"));

    let attack = Command::new("/usr/bin/python3")
        .arg(repo().join("tests/tools/no_login_unwrap.py"))
        .arg(SOFTHSM)
        .arg("root-ca")
        .arg(backup["kek_label"].as_str().expect("kek label"))
        .arg(&blob)
        .arg("ec")
        .env("SOFTHSM2_CONF", state.join("softhsm2.conf"))
        .output()
        .expect("python3 runs (apt-get install python3-pykcs11)");
    let said = output_text(&attack);
    assert!(
        !said.contains("No module named 'PyKCS11'"),
        "the independent client needs PyKCS11: apt-get install python3-pykcs11"
    );
    assert_eq!(attack.status.code(), Some(0), "{said}");
    assert!(said.starts_with("REFUSED"), "{said}");
    let mode = std::fs::metadata(&blob).expect("blob").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup blob is the owner's alone");

    // The transcript says what protects the blob, and that the module was
    // seen to enforce it.
    let kek = &body_of(&transcript, "import-kek")["kek_object"]["unwrap_template"];
    assert_eq!(kek["private"], true, "{kek}");
    assert_eq!(kek["sensitive"], true, "{kek}");
    assert_eq!(kek["extractable"], false, "{kek}");
    assert_eq!(
        kek["weak_unwrap_refused"], "CKR_TEMPLATE_INCONSISTENT",
        "{kek}"
    );
}
