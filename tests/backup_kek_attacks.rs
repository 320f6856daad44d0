//! Issue 14, attack 1: the holder of the token and of a backup blob, with
//! no PIN, tries to get the root key's value through the trusted KEK. Made
//! with an independent PKCS#11 client (tests/tools/no_login_unwrap.py,
//! PyKCS11), on fresh backup rehearsals on the real SoftHSM2.
//!
//! Before the fix a public session unwrapped the blob into an extractable
//! session object and read CKA_VALUE (the root key's P-384 scalar), the
//! blob was 0644, and the KEK's value sat in the clear in the token file.

mod ceremony_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ceremony_support::*;
use keyceremony::quorum::{self, Presented, SplitRecord};

/// A headless backup rehearsal in `dir`; `crash_after` kills it right after
/// that entry is written.
fn rehearse(dir: &Path, crash_after: Option<u64>) -> Output {
    let rehearsal = repo().join("ceremonies/rehearsal");
    let mut command = keyceremony();
    command
        .arg("run")
        .arg(repo().join("ceremonies/root-key-generation-backup.yaml"))
        .arg("--bindings")
        .arg(rehearsal.join("root-key-generation-backup.bindings.yaml"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(rehearsal.join("root-key-generation-backup.answers.yaml"));
    if let Some(seq) = crash_after {
        command.env("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", seq.to_string());
    }
    command.output().expect("runs")
}

/// The independent client's attack; its exit code and what it printed.
fn attack(state: &Path, kek_label: &str, blob: &str, key_type: &str) -> (Option<i32>, String) {
    let out = Command::new("/usr/bin/python3")
        .arg(repo().join("tests/tools/no_login_unwrap.py"))
        .arg(SOFTHSM)
        .arg("root-ca")
        .arg(kek_label)
        .arg(blob)
        .arg(key_type)
        .env("SOFTHSM2_CONF", state.join("softhsm2.conf"))
        .output()
        .expect("python3 runs");
    let said = output_text(&out);
    assert!(
        !said.contains("No module named 'PyKCS11'"),
        "the independent client needs PyKCS11: apt-get install python3-pykcs11"
    );
    (out.status.code(), said)
}

/// The KEK's value, as the custodians' shares of its secret give it.
fn kek_value(transcript: &Path) -> [u8; 32] {
    let split = entries(transcript)
        .into_iter()
        .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == "backup-kek")
        .expect("the KEK secret's split")["body"]
        .clone();
    let record: SplitRecord = serde_json::from_value(split["split"].clone()).expect("record");
    let dir = transcript.parent().expect("dir");
    let presented: Vec<Presented> = split["holders"]
        .as_array()
        .expect("holders")
        .iter()
        .take(3)
        .map(|h| {
            let custodian = h["custodian"].as_str().expect("name");
            let key = std::fs::read_to_string(demo_key(custodian)).expect("key");
            let sealed = std::fs::read(dir.join(h["file"].as_str().expect("file"))).expect("share");
            Presented {
                custodian: custodian.to_string(),
                share: quorum::delivery::open(&key, &sealed).expect("opens"),
            }
        })
        .collect();
    *quorum::combine(&record, &presented)
        .expect("recombines")
        .derive_key(&"backup-kek".parse().expect("name"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_kek_yields_no_root_key_without_a_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = rehearse(dir.path(), None);
    assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
    let out = dir.path().join("out");
    let transcript = transcript_in(&out);
    let backup = body_of(&transcript, "backup-key");
    let blob = out.join(backup["file"].as_str().expect("file"));
    let kek_label = backup["kek_label"].as_str().expect("kek label");

    let (code, said) = attack(
        &dir.path().join("state"),
        kek_label,
        blob.to_str().expect("utf-8"),
        "ec",
    );
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("REFUSED"), "{said}");

    let mode = std::fs::metadata(&blob).expect("blob").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup blob is the owner's alone");

    // After its last use no token holds the KEK: not as an object, and not
    // as bytes in SoftHSM2's files (a public object is stored in the clear).
    let value = kek_value(&transcript);
    for file in files_under(&dir.path().join("state")) {
        let bytes = std::fs::read(&file).expect("read");
        assert!(
            !bytes.windows(value.len()).any(|w| w == value),
            "the KEK's value is in {}",
            file.display()
        );
    }
    assert_eq!(backup["kek_destroyed"], true, "{backup}");
    assert!(said.contains("no KEK"), "{said}");
}

/// While the KEK exists (between its import and the backup, in the room),
/// its CKA_UNWRAP_TEMPLATE stops the same attack: the client wraps a key of
/// its own under the KEK with no login and cannot unwrap it readable.
#[test]
fn while_it_exists_the_kek_unwraps_nothing_readable() {
    let full = tempfile::tempdir().expect("tempdir");
    let run = rehearse(full.path(), None);
    assert_eq!(run.status.code(), Some(0), "{}", output_text(&run));
    let transcript = transcript_in(&full.path().join("out"));
    let import = entries(&transcript)
        .into_iter()
        .find(|e| e["kind"] == "import-kek")
        .expect("import-kek");
    let template = &import["body"]["kek_object"]["unwrap_template"];
    assert_eq!(template["private"], true, "{template}");
    assert_eq!(template["sensitive"], true, "{template}");
    assert_eq!(template["extractable"], false, "{template}");
    assert_eq!(
        template["weak_unwrap_refused"], "CKR_TEMPLATE_INCONSISTENT",
        "{template}"
    );

    // The same rehearsal again, cut right after the KEK's import.
    let cut = tempfile::tempdir().expect("tempdir");
    let seq = import["seq"].as_u64().expect("seq");
    let run = rehearse(cut.path(), Some(seq));
    assert_ne!(run.status.code(), Some(0), "{}", output_text(&run));
    let cut_import = entries(&transcript_in(&cut.path().join("out")))
        .into_iter()
        .last()
        .expect("entries");
    assert_eq!(cut_import["kind"], "import-kek", "cut where planned");
    let label = import["body"]["label"].as_str().expect("label");
    let (code, said) = attack(&cut.path().join("state"), label, "-", "aes");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("REFUSED"), "{said}");
    assert!(said.contains("CKR_TEMPLATE_INCONSISTENT"), "{said}");
}
