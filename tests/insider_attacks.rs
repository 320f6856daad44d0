//! Issue 14: what one insider can do to the record, as a reviewer did it.
//! Each test is the attack; it must be refused by name.
//!
//! The insider here is the administrator: they hold their own roster key
//! (alice's demo key), the laptop, and the committed evidence of a
//! completed ceremony; they can make any ceremony key they like. They do
//! not hold the witness's or the auditor's key.

mod ceremony_support;
mod insider_support;

use std::path::Path;

use ceremony_support::{demo_key, keyceremony, output_text, repo};
use ed25519_dalek::SigningKey;
use insider_support::*;
use serde_json::{Value, json};

fn verify(args: &[&Path]) -> (i32, String) {
    let out = keyceremony()
        .arg("verify")
        .args(args)
        .output()
        .expect("verify runs");
    (out.status.code().expect("exit code"), output_text(&out))
}

fn root_script() -> std::path::PathBuf {
    repo().join("ceremonies/root-key-generation.yaml")
}

/// The administrator cuts the example before `cut_kind` at `cut_step`,
/// resumes it under a ceremony key of their own with their signature
/// alone, and replays the rest of the ceremony with a key of their choice:
/// entries by others lose their signatures (the insider cannot make them),
/// entries by the administrator are re-signed.
fn rewrite_from(dir: &Path, cut_kind: &str, cut_step: &str) -> std::path::PathBuf {
    let transcript = copy_example("example-root-rehearsal", dir);
    let original = parsed_lines(&transcript);
    let cut = line_of(&original, cut_kind, cut_step) - 1;
    let alice = demo_signing_key(&demo_key("alice"));
    let new_key = SigningKey::from_bytes(&[42; 32]);
    let mut forged = Rewrite::cut(&transcript, cut, new_key.clone());
    use base64::Engine as _;
    let public =
        base64::engine::general_purpose::STANDARD.encode(new_key.verifying_key().as_bytes());
    forged.push_signed(
        "keyceremony",
        "resume",
        json!({"ceremony_key": public}),
        &[("alice", &alice, "resume")],
    );
    let attacker_spki = "ee".repeat(32);
    for entry in original.iter().skip(cut) {
        let kind = entry["kind"].as_str().expect("kind");
        if kind == "close" {
            break;
        }
        if kind == "share-presented" || kind == "recombine" {
            // No custodian would present a share to the insider.
            continue;
        }
        let actor = entry["actor"].as_str().expect("actor");
        let mut body = entry["body"].clone();
        let signers: Vec<(String, String)> = body["signatures"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        (
                            s["participant"].as_str().expect("p").to_string(),
                            s["purpose"].as_str().expect("purpose").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        body.as_object_mut().expect("object").remove("signatures");
        if let Some(pk) = body.get_mut("public_key") {
            pk["spki_sha256"] = json!(attacker_spki);
        }
        let own: Vec<(&str, &SigningKey, &str)> = signers
            .iter()
            .filter(|(who, _)| who == "alice")
            .map(|(who, purpose)| (who.as_str(), &alice, purpose.as_str()))
            .collect();
        forged.push_signed(actor, kind, body, &own);
    }
    let entries = forged.next_seq() + 1;
    forged.push(
        "keyceremony",
        "close",
        json!({"entries": entries, "outcome": "completed"}),
    );
    forged.write(&transcript);
    // The witnesses' copies of the checkpoint would betray the rewrite:
    // the insider removes the one beside the transcript.
    let id = original[0]["ceremony"].as_str().expect("id");
    let _ = std::fs::remove_file(dir.join(format!("{id}.checkpoint")));
    transcript
}

#[test]
fn the_administrator_alone_cannot_rewrite_a_completed_transcript_from_generate_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = rewrite_from(dir.path(), "confirm", "generate-root-key");
    let (code, report) = verify(&[&transcript, Path::new("--script"), &root_script()]);
    assert_eq!(code, 1, "the rewrite must not verify:\n{report}");
    assert!(
        report.contains("resume-invalid"),
        "the resume signed by one person is named:\n{report}"
    );
    assert!(!report.starts_with("VALID"), "{report}");
}

#[test]
fn a_rewrite_cannot_show_prove_so_pin_witnessed_without_shares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = rewrite_from(dir.path(), "share-presented", "prove-so-pin");
    let (code, report) = verify(&[&transcript, Path::new("--script"), &root_script()]);
    assert_eq!(code, 1, "{report}");
    assert!(!report.contains("VALID"), "{report}");
}

#[test]
fn a_closed_transcript_without_its_checkpoint_does_not_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = copy_example("example-root-rehearsal", dir.path());
    let id = parsed_lines(&transcript)[0]["ceremony"]
        .as_str()
        .expect("id")
        .to_string();
    std::fs::remove_file(dir.path().join(format!("{id}.checkpoint"))).expect("remove");
    let (code, report) = verify(&[&transcript]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("checkpoint-missing"), "{report}");
}

/// Re-signs every line of `transcript` with fresh roster keys under the
/// same names and a fresh ceremony key: a whole ceremony made up.
fn resign_with_fresh_keys(transcript: &Path) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let entries = parsed_lines(transcript);
    let mut fresh: std::collections::BTreeMap<String, SigningKey> = Default::default();
    let mut genesis = entries[0].clone();
    for (i, person) in genesis["body"]["roster"]
        .as_array_mut()
        .expect("roster")
        .iter_mut()
        .enumerate()
    {
        let key = SigningKey::from_bytes(&[100 + i as u8; 32]);
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(key.verifying_key().as_bytes());
        person["ssh_key"] = json!(format!("ssh-ed25519 {}", b64.encode(blob)));
        fresh.insert(person["name"].as_str().expect("name").to_string(), key);
    }
    let ceremony_key = SigningKey::from_bytes(&[99; 32]);
    genesis["body"]["ceremony_key"] = json!(b64.encode(ceremony_key.verifying_key().as_bytes()));
    let mut forged = Rewrite {
        lines: Vec::new(),
        ceremony: genesis["ceremony"].as_str().expect("id").to_string(),
        key: ceremony_key,
        time: genesis["time"].as_str().expect("time").to_string(),
    };
    // The genesis has no prev to chain to: build it by hand.
    let mut entry = genesis.clone();
    entry.as_object_mut().expect("object").remove("sig");
    entry["v"] = genesis["v"].clone();
    let domain: &[u8] = if genesis["v"] == 1 {
        b"keyceremony/v1/entry\n"
    } else {
        b"keyceremony/v2/entry\n"
    };
    let mut message = domain.to_vec();
    message.extend_from_slice(&canonical(&entry));
    use ed25519_dalek::Signer as _;
    entry["sig"] = json!(b64.encode(forged.key.sign(&message).to_bytes()));
    forged.lines.push(canonical(&entry));
    for e in entries.iter().skip(1) {
        forged.time = e["time"].as_str().expect("time").to_string();
        let actor = e["actor"].as_str().expect("actor");
        let kind = e["kind"].as_str().expect("kind");
        let mut body = e["body"].clone();
        let signers: Vec<(String, String)> = body["signatures"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|s| {
                        (
                            s["participant"].as_str().expect("p").to_string(),
                            s["purpose"].as_str().expect("purpose").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(map) = body.as_object_mut() {
            map.remove("signatures");
        }
        let signing: Vec<(&str, &SigningKey, &str)> = signers
            .iter()
            .map(|(who, purpose)| (who.as_str(), &fresh[who], purpose.as_str()))
            .collect();
        forged.push_signed(actor, kind, body, &signing);
    }
    forged.write(transcript);
}

#[test]
fn a_ceremony_re_signed_with_fresh_keys_under_the_same_names_fails_against_the_bindings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = copy_example("example-root-rehearsal", dir.path());
    let id = parsed_lines(&transcript)[0]["ceremony"]
        .as_str()
        .expect("id")
        .to_string();
    std::fs::remove_file(dir.path().join(format!("{id}.checkpoint"))).expect("remove");
    resign_with_fresh_keys(&transcript);
    let bindings = repo().join("ceremonies/rehearsal/root-key-generation.bindings.yaml");
    let (code, report) = verify(&[&transcript, Path::new("--bindings"), &bindings]);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("bindings-mismatch"), "{report}");
}

#[test]
fn verify_prints_every_participants_key_fingerprint() {
    let transcript = repo().join("transcripts/example-root-rehearsal.jsonl");
    let (code, report) = verify(&[&transcript]);
    assert_eq!(code, 0, "{report}");
    for name in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let public = std::fs::read_to_string(demo_key(name).with_extension("pub")).expect("pub");
        let fingerprint = keyceremony::identity::PublicIdentity::from_openssh(&public)
            .expect("key")
            .fingerprint();
        assert!(
            report.contains(&fingerprint),
            "{name}'s {fingerprint} is printed:\n{report}"
        );
    }
    let _ = Value::Null;
}
