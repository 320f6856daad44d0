//! The capability check: before anything is written to the token, every
//! mechanism the script's key steps need must be in the module's list.
//!
//! SoftHSM2's `slots.mechanisms` setting narrows what it offers, which makes
//! it a real module that lacks EdDSA — the check is proven against it, not
//! against a mock.

mod ceremony_support;

use std::path::{Path, PathBuf};

use ceremony_support::*;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Everything the P-384 root ceremony uses; no Edwards curve mechanisms.
const WITHOUT_EDDSA: &str = "CKM_EC_KEY_PAIR_GEN,CKM_ECDSA,CKM_ECDSA_SHA256,CKM_ECDSA_SHA384,\
CKM_SHA256,CKM_SHA384,CKM_AES_KEY_GEN,CKM_AES_KEY_WRAP,CKM_AES_KEY_WRAP_PAD,CKM_AES_GCM";

/// A SoftHSM2 configuration offering only `mechanisms`, and bindings that
/// name the module by path (so the run uses this configuration instead of
/// writing the embedded one).
fn restricted_hsm(dir: &Path, mechanisms: &str) -> (PathBuf, PathBuf) {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
             slots.mechanisms = {mechanisms}\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let text = std::fs::read_to_string(bindings()).expect("bindings");
    let text = text.replacen("hsm:\n", &format!("hsm:\n  module: {SOFTHSM}\n"), 1);
    let path = dir.join("bindings.yaml");
    std::fs::write(&path, text).expect("bindings");
    (conf, path)
}

fn run_with(script: &Path, bindings: &Path, conf: &Path, dir: &Path) -> std::process::Output {
    let answers = write_answers(dir, "");
    keyceremony()
        .arg("run")
        .arg(script)
        .arg("--bindings")
        .arg(bindings)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("the binary runs")
}

fn token_is_uninitialized(conf: &Path) -> bool {
    let out = std::process::Command::new("pkcs11-tool")
        .args(["--module", SOFTHSM, "--list-token-slots"])
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("pkcs11-tool runs");
    String::from_utf8_lossy(&out.stdout).contains("uninitialized")
}

#[test]
fn a_key_the_module_cannot_make_stops_the_ceremony_before_the_token_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (conf, bindings) = restricted_hsm(dir.path(), WITHOUT_EDDSA);
    let script = dir.path().join("ed25519-root.yaml");
    let text = std::fs::read_to_string(ceremony_support::script()).expect("script");
    assert!(text.contains("algorithm: ec-p384"));
    std::fs::write(
        &script,
        text.replace("algorithm: ec-p384", "algorithm: ed25519"),
    )
    .expect("write script");

    let out = run_with(&script, &bindings, &conf, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step `generate-root-key`"), "{stderr}");
    assert!(stderr.contains("CKM_EC_EDWARDS_KEY_PAIR_GEN"), "{stderr}");
    assert!(stderr.contains("CKM_EDDSA"), "{stderr}");
    assert!(
        stderr.contains("not in the token's mechanism list"),
        "{stderr}"
    );
    assert!(
        token_is_uninitialized(&conf),
        "nothing was written to the token"
    );
    // The transcript holds no split, no initialization.
    let transcript = transcript_in(&dir.path().join("out"));
    let kinds: Vec<String> = entries(&transcript)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !kinds
            .iter()
            .any(|k| k == "split-secret" || k == "init-token")
    );
}

#[test]
fn the_check_hsm_entry_records_the_mechanisms_found_for_each_key_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (conf, bindings) = restricted_hsm(dir.path(), WITHOUT_EDDSA);
    let out = run_with(&ceremony_support::script(), &bindings, &conf, dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let transcript = transcript_in(&dir.path().join("out"));
    let check = entries(&transcript)
        .into_iter()
        .find(|e| e["kind"] == "check-hsm")
        .expect("a check-hsm entry");
    let checked = &check["body"]["capabilities"]["checked"];
    assert_eq!(checked[0]["step"], "generate-root-key", "{check}");
    assert_eq!(checked[0]["algorithm"], "ec-p384");
    assert_eq!(checked[0]["usage"], "sign");
    let mechanisms = checked[0]["mechanisms"].to_string();
    assert!(mechanisms.contains("CKM_EC_KEY_PAIR_GEN"), "{mechanisms}");
    assert!(mechanisms.contains("CKM_ECDSA"), "{mechanisms}");
}
