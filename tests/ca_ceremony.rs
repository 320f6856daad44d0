//! CA operations inside ceremonies, with the real binary on SoftHSM2: the
//! root ceremony's self-signed certificate, then an intermediate ceremony
//! that signs a CSR and a CRL with the root key found by its recorded public
//! key — each checked by openssl — and profile errors that stop a ceremony
//! before the HSM signs anything.

mod ceremony_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ceremony_support::*;
use serde_json::Value;

fn root() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = run_root_shared("ca_ceremony");
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        run
    })
}

fn rehearsal(file: &str) -> PathBuf {
    repo().join("ceremonies/rehearsal").join(file)
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

fn file_of(run_out: &Path, body: &Value) -> PathBuf {
    run_out.join(body["file"].as_str().expect("file"))
}

/// Runs `script` (a path) as the intermediate ceremony on the root's token,
/// with the CSR `csr`; returns (output, out dir, tempdir).
fn intermediate(script: &Path, csr: &Path) -> (Output, PathBuf, tempfile::TempDir) {
    // These runs share the root token; SoftHSM2's file store is not safe for
    // several processes at once (a run failed now and then when they
    // overlapped), as it would not be in a real ceremony room either.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let run = root();
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = std::fs::read_to_string(rehearsal("intermediate-ca.bindings.yaml"))
        .expect("bindings")
        .replace(
            "../../transcripts/example-root-rehearsal.jsonl",
            &run.transcript().display().to_string(),
        )
        .replace("inputs/intermediate-ca.csr.pem", &csr.display().to_string());
    let bindings_path = dir.path().join("bindings.yaml");
    std::fs::write(&bindings_path, bindings).expect("write");
    let answers = std::fs::read_to_string(rehearsal("intermediate-ca.answers.yaml"))
        .expect("answers")
        .replace(": keys/", &format!(": {}/", rehearsal("keys").display()));
    let answers_path = dir.path().join("answers.yaml");
    std::fs::write(&answers_path, answers).expect("write");
    let out_dir = dir.path().join("out");
    let output = keyceremony()
        .arg("run")
        .arg(script)
        .arg("--bindings")
        .arg(&bindings_path)
        .arg("--state-dir")
        .arg(run.state())
        .arg("--out")
        .arg(&out_dir)
        .arg("--headless")
        .arg("--answers")
        .arg(&answers_path)
        .output()
        .expect("runs");
    (output, out_dir, dir)
}

#[test]
fn the_root_certificate_is_self_signed_by_the_hsm_with_the_scripts_profile() {
    let run = root();
    let cert = body_of(&run.transcript(), "root-certificate");
    let pem = file_of(&run.out(), &cert);
    let pem_text = pem.to_str().expect("utf-8");
    let shown = openssl(&["x509", "-in", pem_text, "-noout", "-text"]);
    let shown = output_text(&shown);
    assert!(
        // RFC 4514 writes the RDNs last-first; openssl prints them in DER order.
        shown.contains("Subject: C = NL, O = Example Rehearsal, CN = Example Rehearsal Root CA"),
        "{shown}"
    );
    assert!(shown.contains("CA:TRUE, pathlen:1"), "{shown}");
    assert!(shown.contains("X509v3 Key Usage: critical"), "{shown}");
    assert!(shown.contains("Certificate Sign, CRL Sign"), "{shown}");
    assert!(shown.contains("ecdsa-with-SHA384"), "{shown}");
    let verified = openssl(&["verify", "-CAfile", pem_text, pem_text]);
    assert!(verified.status.success(), "{}", output_text(&verified));
    // The certificate's key is the root key the ceremony generated.
    let from_cert = openssl(&["x509", "-in", pem_text, "-noout", "-pubkey"]);
    let exported = body_of(&run.transcript(), "export-public-key")["public_key"]["pem"]
        .as_str()
        .expect("pem")
        .to_string();
    assert_eq!(String::from_utf8_lossy(&from_cert.stdout), exported);
}

/// An RSA root: the HSM signs with RSASSA-PSS, the certificate says so,
/// and openssl accepts it.
#[test]
fn an_rsa_root_key_signs_its_certificate_with_pss_inside_the_hsm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("rsa-root.yaml");
    let text = std::fs::read_to_string(ceremony_support::script()).expect("script");
    assert!(text.contains("algorithm: ec-p384"));
    std::fs::write(
        &script,
        text.replace("algorithm: ec-p384", "algorithm: rsa-3072"),
    )
    .expect("write");
    let run = run_root_script(&script, &answers());
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let pem = file_of(&run.out(), &body_of(&run.transcript(), "root-certificate"));
    let pem_text = pem.to_str().expect("utf-8");
    let shown = output_text(&openssl(&["x509", "-in", pem_text, "-noout", "-text"]));
    for expected in [
        "Signature Algorithm: rsassaPss",
        "Mask Algorithm: mgf1 with sha256",
        "Salt Length: 0x20",
        "Public-Key: (3072 bit)",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
    let verified = openssl(&["verify", "-CAfile", pem_text, pem_text]);
    assert!(verified.status.success(), "{}", output_text(&verified));
}

#[test]
fn an_intermediate_ceremony_signs_the_csr_and_a_crl_that_openssl_accepts() {
    let run = root();
    let (out, out_dir, _dir) = intermediate(
        &repo().join("ceremonies/intermediate-ca.yaml"),
        &rehearsal("inputs/intermediate-ca.csr.pem"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = transcript_in(&out_dir);
    let (code, report) = verify(&transcript);
    assert_eq!(code, 0, "{report}");

    let root_pem = file_of(&run.out(), &body_of(&run.transcript(), "root-certificate"));
    let root_pem = root_pem.to_str().expect("utf-8");
    let signed = body_of(&transcript, "sign-csr");
    assert!(signed["csr_sha256"].is_string());
    let cert = file_of(&out_dir, &signed);
    let cert = cert.to_str().expect("utf-8");
    let verified = openssl(&["verify", "-CAfile", root_pem, cert]);
    assert!(verified.status.success(), "{}", output_text(&verified));
    let shown = output_text(&openssl(&["x509", "-in", cert, "-noout", "-text"]));
    assert!(
        shown.contains(
            "Subject: C = NL, O = Example Rehearsal, CN = Example Rehearsal Intermediate CA"
        ),
        "{shown}"
    );
    assert!(shown.contains("CA:TRUE, pathlen:0"), "{shown}");
    assert!(
        shown.contains("Issuer: C = NL, O = Example Rehearsal, CN = Example Rehearsal Root CA"),
        "{shown}"
    );

    let crl = file_of(&out_dir, &body_of(&transcript, "crl"));
    let crl = crl.to_str().expect("utf-8");
    let crl_check = openssl(&[
        "crl", "-in", crl, "-CAfile", root_pem, "-verify", "-noout", "-text",
    ]);
    let crl_text = output_text(&crl_check);
    assert!(crl_check.status.success(), "{crl_text}");
    assert!(crl_text.contains("verify OK"), "{crl_text}");
    assert!(crl_text.contains("X509v3 CRL Number"), "{crl_text}");
}

#[test]
fn a_validity_past_the_issuers_stops_the_step_before_the_hsm_signs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("intermediate-too-long.yaml");
    std::fs::write(
        &script,
        std::fs::read_to_string(repo().join("ceremonies/intermediate-ca.yaml"))
            .expect("script")
            .replace("validity-days: 1826", "validity-days: 9000"),
    )
    .expect("write");
    let (out, out_dir, _dir) = intermediate(&script, &rehearsal("inputs/intermediate-ca.csr.pem"));
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("validity"), "{shown}");
    let transcript = transcript_in(&out_dir);
    assert!(
        !entries(&transcript).iter().any(|e| e["kind"] == "sign-csr"),
        "nothing was signed"
    );
    assert!(
        entries(&transcript)
            .iter()
            .any(|e| e["kind"] == "step-failed"),
        "the failure is on the record"
    );
}

#[test]
fn a_csr_with_a_bad_signature_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Flip one bit in the CSR's signature (its last bytes).
    let pem = std::fs::read_to_string(rehearsal("inputs/intermediate-ca.csr.pem")).expect("csr");
    let der = openssl(&[
        "req",
        "-in",
        rehearsal("inputs/intermediate-ca.csr.pem")
            .to_str()
            .expect("utf-8"),
        "-outform",
        "DER",
    ])
    .stdout;
    assert!(pem.contains("BEGIN CERTIFICATE REQUEST"));
    let mut bad = der.clone();
    let last = bad.len() - 3;
    bad[last] ^= 0x01;
    let bad_path = dir.path().join("bad.csr.der");
    std::fs::write(&bad_path, &bad).expect("write");
    let (out, out_dir, _dir) =
        intermediate(&repo().join("ceremonies/intermediate-ca.yaml"), &bad_path);
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.to_lowercase().contains("csr"), "{shown}");
    assert!(shown.contains("signature"), "{shown}");
    assert!(
        !entries(&transcript_in(&out_dir))
            .iter()
            .any(|e| e["kind"] == "sign-csr")
    );
}
