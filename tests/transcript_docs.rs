//! docs/transcript.md is a specification: its example must verify with the
//! verifier, and its signatures with an independent Ed25519 (OpenSSL), using
//! messages built exactly as the page describes.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyceremony::transcript::{CloseOutcome, Verifier};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/transcript.md");
    std::fs::read_to_string(path).expect("docs/transcript.md")
}

/// The lines of the fenced block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn block(text: &str, name: &str) -> Vec<String> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let start = text.find(&begin).expect("begin marker") + begin.len();
    let stop = text.find(&end).expect("end marker");
    text[start..stop]
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

/// Verifies a raw Ed25519 signature with `openssl pkeyutl`, not with ed25519-dalek.
fn openssl_verifies(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let directory = tempfile::tempdir().expect("tempdir");
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410): fixed prefix + 32 key bytes.
    let mut der = hex::decode("302a300506032b6570032100").expect("hex");
    der.extend_from_slice(public_key);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&der)
    );
    let files = [
        ("key.pem", pem.as_bytes()),
        ("message", message),
        ("signature", signature),
    ];
    for (name, bytes) in files {
        std::fs::write(directory.path().join(name), bytes).expect("write");
    }
    let status = Command::new("openssl")
        .current_dir(directory.path())
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin",
        ])
        .args(["-in", "message", "-sigfile", "signature"])
        .output()
        .expect("openssl runs");
    status.status.success()
}

fn base64(value: &Value) -> Vec<u8> {
    STANDARD
        .decode(value.as_str().expect("string"))
        .expect("base64")
}

#[test]
fn the_documented_example_verifies() {
    let text = docs();
    let lines = block(&text, "example-transcript");
    let hashes = block(&text, "example-hashes");
    assert_eq!(lines.len(), 5);
    let mut verifier = Verifier::new();
    for (line, hash) in lines.iter().zip(&hashes) {
        let entry = verifier
            .push_line(line.as_bytes())
            .expect("documented line verifies");
        assert_eq!(&entry.head.hex(), hash);
    }
    let summary = verifier.finish().expect("summary");
    assert_eq!(summary.closed, Some(CloseOutcome::Completed));
    assert_eq!(summary.entries, 5);
}

#[test]
fn openssl_agrees_with_the_documented_messages() {
    let lines = block(&docs(), "example-transcript");
    let entries: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("json"))
        .collect();
    let genesis = &entries[0]["body"];
    let ceremony_key = base64(&genesis["ceremony_key"]);
    let mut checked = 0;
    for (index, entry) in entries.iter().enumerate() {
        let mut unsigned = entry.clone();
        let sig = unsigned
            .as_object_mut()
            .expect("object")
            .remove("sig")
            .expect("sig");
        let mut message = b"keyceremony/v2/entry\n".to_vec();
        message.extend(serde_json_canonicalizer::to_vec(&unsigned).expect("jcs"));
        assert!(
            openssl_verifies(&ceremony_key, &message, &base64(&sig)),
            "line {}",
            index + 1
        );
        if index > 0 {
            let previous = hex::encode(Sha256::digest(lines[index - 1].as_bytes()));
            assert_eq!(entry["prev"], Value::from(previous));
        }
        for signature in entry["body"]["signatures"].as_array().into_iter().flatten() {
            let member = genesis["roster"]
                .as_array()
                .expect("roster")
                .iter()
                .find(|member| member["name"] == signature["participant"])
                .expect("in roster");
            let blob = STANDARD
                .decode(
                    member["ssh_key"]
                        .as_str()
                        .expect("key")
                        .trim_start_matches("ssh-ed25519 "),
                )
                .expect("base64");
            let mut body = entry["body"].clone();
            body.as_object_mut().expect("object").remove("signatures");
            let message = format!(
                "keyceremony/v2/{}\n{}\n{}\n{}\n{}\n{}\n{}",
                signature["purpose"].as_str().expect("purpose"),
                entry["ceremony"].as_str().expect("ceremony"),
                entry["seq"],
                entry["prev"].as_str().expect("prev"),
                entry["actor"].as_str().expect("actor"),
                entry["kind"].as_str().expect("kind"),
                String::from_utf8(serde_json_canonicalizer::to_vec(&body).expect("jcs"))
                    .expect("utf-8"),
            );
            assert!(openssl_verifies(
                &blob[blob.len() - 32..],
                message.as_bytes(),
                &base64(&signature["signature"])
            ));
            // The same signature is not valid for the next seq.
            let moved = message.replacen(&format!("\n{}\n", entry["seq"]), "\n99\n", 1);
            assert!(!openssl_verifies(
                &blob[blob.len() - 32..],
                moved.as_bytes(),
                &base64(&signature["signature"])
            ));
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "a sign-in and a confirmation");
}
