//! `keyceremony report`: renders for the committed example, its key
//! fingerprints are those of the exported PEM files, hostile text from a
//! transcript is escaped, and a tampered transcript gets no report.

mod ceremony_support;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ceremony_support::{entries, keyceremony, repo};
use chrono::{TimeZone, Utc};
use keyceremony::report::render::{Format, RenderError, render};
use keyceremony::report::{self, Status};
use keyceremony::transcript::{
    CeremonyKey, CloseOutcome, EntryDraft, Genesis, Mode, Role, RosterEntry, ScriptRef,
    SecretPolicy, ToolRef, TranscriptWriter, pgp_words,
};
use serde_json::json;
use sha2::{Digest, Sha256};

fn example() -> PathBuf {
    repo().join("transcripts/example-root-rehearsal.jsonl")
}

fn report_cli(args: &[&str]) -> (i32, String, String) {
    let out = keyceremony()
        .arg("report")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// SHA-256 of the DER inside each exported PEM file, decoded here.
fn pem_fingerprints() -> Vec<String> {
    entries(&example())
        .iter()
        .filter_map(|e| e["body"]["public_key"]["file"].as_str().map(String::from))
        .map(|file| {
            let pem = std::fs::read_to_string(repo().join("transcripts").join(file)).expect("PEM");
            let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            hex::encode(Sha256::digest(STANDARD.decode(base64).expect("base64 DER")))
        })
        .collect()
}

#[test]
fn the_example_report_renders_in_both_formats_with_the_pem_fingerprints() {
    let fingerprints = pem_fingerprints();
    assert!(!fingerprints.is_empty());
    let example = example();
    let (code, md, stderr) = report_cli(&[example.to_str().expect("path"), "--format", "md"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, html, stderr) = report_cli(&[example.to_str().expect("path"), "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    for fingerprint in &fingerprints {
        let words = pgp_words(&hex::decode(fingerprint).expect("hex"));
        for text in [&md, &html] {
            assert!(text.contains(fingerprint.as_str()), "{fingerprint} missing");
            assert!(text.contains(&words), "{words} missing");
        }
    }
    let serial = entries(&example)
        .iter()
        .find(|e| e["kind"] == "init-token")
        .expect("init-token")["body"]["token"]["serial"]
        .as_str()
        .expect("serial")
        .to_owned();
    for text in [&md, &html] {
        assert!(text.contains(&serial), "HSM serial {serial} missing");
        assert!(
            text.contains("cosigned by bob, heidi"),
            "checkpoint missing"
        );
        for person in ["alice", "bob", "carol", "heidi"] {
            assert!(text.contains(person), "{person} missing");
        }
    }
    assert_eq!(
        md.matches("Signature: ____").count(),
        8,
        "a block per person"
    );
    assert!(
        md.contains("| 10 | generate-root-key | witness | bob |"),
        "{md}"
    );
    // One self-contained file: no scripts, nothing fetched.
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in ["<script", "src=", "href=", "http://", "https://", "@import"] {
        assert!(!html.contains(forbidden), "{forbidden} in the HTML");
    }
    assert!(html.contains("@media print"));
}

#[test]
fn the_report_can_go_to_a_new_file_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.html");
    let example = example();
    let args = [
        example.to_str().expect("path"),
        "--format",
        "html",
        "--out",
        out.to_str().expect("path"),
    ];
    let (code, stdout, stderr) = report_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        std::fs::read_to_string(&out)
            .expect("written")
            .contains("Key ceremony report")
    );
    let (code, _, stderr) = report_cli(&args);
    assert_eq!(code, 2, "refuses to overwrite: {stderr}");
}

#[test]
fn a_tampered_transcript_gets_no_report_and_an_incomplete_one_a_banner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(example()).expect("example");
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, text.replacen("\"alice\"", "\"alicia\"", 1)).expect("write");
    let (code, stdout, stderr) = report_cli(&[path.to_str().expect("path"), "--format", "md"]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("refusing to report on a transcript that does not verify"),
        "{stderr}"
    );

    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let (code, stdout, stderr) = report_cli(&[path.to_str().expect("path"), "--format", "html"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("<p class=\"banner\">INCOMPLETE TRANSCRIPT"),
        "{stdout}"
    );
    assert!(stderr.contains("INCOMPLETE"));
}

#[test]
fn hostile_text_is_escaped_in_both_formats() {
    let hostile = "<script>alert(1)</script> | `x` & \"q\"";
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    let key = CeremonyKey::generate();
    let person = |seed: u8| {
        keyceremony::identity::PublicIdentity::from_bytes(
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
                .verifying_key()
                .as_bytes(),
        )
        .expect("key")
        .to_openssh()
    };
    let genesis = Genesis {
        ceremony_id: "kc-hostile".into(),
        nonce: Genesis::fresh_nonce(),
        script: ScriptRef {
            id: "s".into(),
            version: "1".into(),
            title: hostile.into(),
            sha256: "11".repeat(32),
        },
        bindings_sha256: "22".repeat(32),
        tool: ToolRef {
            name: "keyceremony".into(),
            version: "0.1.0".into(),
            binary_sha256: "33".repeat(32),
        },
        mode: Mode::Rehearsal,
        roster: vec![
            RosterEntry {
                name: "<b>Ada</b>".into(),
                role: Role::Administrator,
                ssh_key: person(1),
            },
            RosterEntry {
                name: "Wim".into(),
                role: Role::Witness,
                ssh_key: person(2),
            },
        ],
        secrets: vec![SecretPolicy {
            name: "so-pin".into(),
            k: 2,
            n: 2,
        }],
        participant_keys: keyceremony::transcript::KeyCustody::PerAct,
        ceremony_key: key.public_base64(),
    };
    let now = Utc
        .with_ymd_and_hms(2026, 11, 26, 23, 0, 0)
        .single()
        .expect("time");
    let mut writer = TranscriptWriter::create(&path, key, &genesis, now).expect("create");
    // Ada's own act, signed by her.
    let mut body = json!({"step": "open", "expected": hostile, "happened": "<img src=x onerror=alert(1)>", "decision": "go on"});
    let message = writer
        .act_message(
            keyceremony::transcript::Purpose::Confirm,
            "<b>Ada</b>",
            "exception",
            body.as_object().expect("object"),
        )
        .expect("canonical");
    use ed25519_dalek::Signer as _;
    let signature = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).sign(&message);
    body["signatures"] = json!([keyceremony::transcript::ParticipantSignature::new(
        "<b>Ada</b>",
        keyceremony::transcript::Purpose::Confirm,
        &signature
    )]);
    writer
        .append(
            EntryDraft {
                actor: "<b>Ada</b>".into(),
                kind: "exception".into(),
                body,
            },
            now,
        )
        .expect("append");
    writer
        .close(
            CloseOutcome::Aborted {
                reason: hostile.into(),
            },
            now,
        )
        .expect("close");
    // Written without its checkpoint: the auditor accepts that here.
    let verdict = report::verify_with(
        &path,
        &report::VerifyOptions {
            no_checkpoint: true,
            ..Default::default()
        },
    )
    .expect("readable");
    assert_eq!(verdict.status(), Status::Valid);
    let html = render(&verdict, Format::Html).expect("renders");
    for raw in ["<script>", "<img", "<b>"] {
        assert!(!html.contains(raw), "{raw} unescaped in the HTML");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; | `x` &amp; &quot;q&quot;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let md = render(&verdict, Format::Markdown).expect("renders");
    // Every markup character from the transcript is backslash-escaped (the
    // table pipes and the list syntax are the report's own).
    for (i, c) in md.char_indices() {
        if matches!(c, '<' | '>' | '`' | '&') {
            assert!(md[..i].ends_with('\\'), "unescaped {c:?} at {i} in {md}");
        }
    }
    assert!(
        md.contains("\\<script\\>alert(1)\\</script\\> \\| \\`x\\` \\& \"q\""),
        "{md}"
    );
}

#[test]
fn render_refuses_a_tampered_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, "not a transcript\n").expect("write");
    let verdict = report::verify(&path).expect("readable");
    assert!(matches!(
        render(&verdict, Format::Markdown),
        Err(RenderError::NotVerified(_))
    ));
}

/// Issue 15: the materials as their performer signed them: the number each
/// was checked in under and, going out, the new seal it left under.
#[test]
fn the_report_lists_each_material_with_its_new_seal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = ceremony_support::write_answers(dir.path(), "");
    let run = ceremony_support::run_root(&answers);
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let transcript = run.transcript();
    let (code, out, err) = report_cli(&[transcript.to_str().expect("utf-8"), "--format", "md"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("## Materials"), "{out}");
    let row = out
        .lines()
        .find(|l| l.contains("materials-out") && l.contains("| hsm |"))
        .unwrap_or_else(|| panic!("no materials-out row for hsm:\n{out}"));
    assert!(row.contains("TE-000101"), "{row}");
    let check_in = out
        .lines()
        .find(|l| l.contains("materials-in") && l.contains("| hsm-bag |"))
        .unwrap_or_else(|| panic!("no materials-in row:\n{out}"));
    assert!(check_in.contains("REHEARSAL-BAG-0001"), "{check_in}");
}
