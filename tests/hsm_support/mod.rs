//! Shared helpers of the HSM integration tests: independent verifiers
//! (openssl, pkcs11-tool) run as child processes on temporary files.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::{Command, Output};

/// How openssl must check a signature.
pub enum Scheme {
    EcdsaSha256,
    EcdsaSha384,
    Ed25519,
    RsaPssSha256Salt32,
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Verifies `signature` over `message` with openssl against `public_pem`;
/// returns whether openssl accepted it, and its output.
pub fn openssl_verify(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
    scheme: Scheme,
) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write temporary file");
        path
    };
    let key = write("public.pem", public_pem.as_bytes());
    let data = write("message", message);
    let sig = write("signature", signature);
    let mut command = Command::new("openssl");
    match scheme {
        Scheme::EcdsaSha256 | Scheme::EcdsaSha384 => {
            let digest = if matches!(scheme, Scheme::EcdsaSha256) {
                "-sha256"
            } else {
                "-sha384"
            };
            command.args(["dgst", digest, "-verify"]).arg(&key);
            command.arg("-signature").arg(&sig).arg(&data);
        }
        Scheme::RsaPssSha256Salt32 => {
            command.args(["dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss"]);
            command.args([
                "-sigopt",
                "rsa_pss_saltlen:32",
                "-sigopt",
                "rsa_mgf1_md:sha256",
            ]);
            command
                .arg("-verify")
                .arg(&key)
                .arg("-signature")
                .arg(&sig)
                .arg(&data);
        }
        Scheme::Ed25519 => {
            command
                .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
                .arg(&key);
            command.arg("-in").arg(&data).arg("-sigfile").arg(&sig);
        }
    }
    let output = run(&mut command);
    (output.status.success(), text(&output))
}

/// `openssl pkey -pubin -text` on a PEM public key.
pub fn openssl_describe_public_key(public_pem: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let key = dir.path().join("public.pem");
    std::fs::write(&key, public_pem).expect("write key");
    let output = run(Command::new("openssl")
        .args(["pkey", "-pubin", "-noout", "-text", "-in"])
        .arg(&key));
    (output.status.success(), text(&output))
}

/// pkcs11-tool's object listing of the token labelled `token_label` (it
/// cannot select by serial), logged in as user.
pub fn pkcs11_tool_list_objects(conf: &Path, token_label: &str, pin: &str) -> (bool, String) {
    let output = run(Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", conf)
        .args(["--module", keyceremony::hsm::softhsm::DEFAULT_MODULE])
        .args(["--token-label", token_label])
        .args(["--list-objects", "--login", "--pin", pin]));
    (output.status.success(), text(&output))
}
