//! Writer -> file -> verifier, and everything the writer refuses to write.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keyceremony::identity::SigningIdentity;
use keyceremony::transcript::{
    CeremonyKey, CloseOutcome, EntryDraft, Genesis, Incompleteness, KeyCustody, Mode, Outcome,
    ParticipantSignature, Purpose, Role, RosterEntry, Rule, ScreenRecording, ScriptRef,
    SecretPolicy, ToolRef, TranscriptError, TranscriptWriter, Verifier, verify_file,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{LineEnding, PrivateKey};

fn participant(seed: u8) -> SigningIdentity {
    let keypair = Ed25519Keypair::from_seed(&[seed; 32]);
    let text = PrivateKey::from(keypair)
        .to_openssh(LineEnding::LF)
        .expect("encode key");
    SigningIdentity::from_openssh_private(&text).expect("load key")
}

fn roster() -> Vec<(&'static str, Role, SigningIdentity)> {
    vec![
        ("Ada Admin", Role::Administrator, participant(1)),
        ("Wim Witness", Role::Witness, participant(2)),
        ("Cleo Custodian", Role::Custodian, participant(3)),
    ]
}

fn genesis(key: &CeremonyKey, people: &[(&str, Role, SigningIdentity)]) -> Genesis {
    Genesis {
        ceremony_id: "kc-2026-test".to_owned(),
        nonce: Genesis::fresh_nonce(),
        script: ScriptRef {
            id: "root-key-generation".to_owned(),
            version: "1".to_owned(),
            title: "Root key generation".to_owned(),
            sha256: "11".repeat(32),
        },
        bindings_sha256: "22".repeat(32),
        tool: ToolRef {
            name: "keyceremony".to_owned(),
            version: "0.1.0".to_owned(),
            binary_sha256: "33".repeat(32),
        },
        mode: Mode::Rehearsal,
        roster: people
            .iter()
            .map(|(name, role, identity)| RosterEntry {
                name: (*name).to_owned(),
                role: *role,
                ssh_key: identity.public().to_openssh(),
            })
            .collect(),
        secrets: vec![SecretPolicy {
            name: "so-pin".to_owned(),
            k: 2,
            n: 3,
        }],
        participant_keys: KeyCustody::PerAct,
        ceremony_key: key.public_base64(),
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 23, 57, 28)
        .single()
        .expect("valid time")
}

fn draft(actor: &str, kind: &str, body: serde_json::Value) -> EntryDraft {
    EntryDraft {
        actor: actor.to_owned(),
        kind: kind.to_owned(),
        body,
    }
}

/// `name`'s act: `body` signed by them, over the next entry.
fn act(
    writer: &TranscriptWriter,
    name: &str,
    identity: &SigningIdentity,
    kind: &str,
    mut body: serde_json::Value,
    purpose: Purpose,
) -> EntryDraft {
    let message = writer
        .act_message(purpose, name, kind, body.as_object().expect("object"))
        .expect("canonical");
    body["signatures"] = json!([ParticipantSignature::new(
        name,
        purpose,
        &identity.sign(&message)
    )]);
    draft(name, kind, body)
}

fn new_writer(path: &Path) -> (TranscriptWriter, Vec<(&'static str, Role, SigningIdentity)>) {
    let people = roster();
    let key = CeremonyKey::generate();
    let genesis = genesis(&key, &people);
    let writer = TranscriptWriter::create(path, key, &genesis, start()).expect("create");
    (writer, people)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn a_full_ceremony_verifies_and_heads_match_the_file() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("transcript.jsonl");
    let (mut writer, people) = new_writer(&path);
    assert_eq!(writer.next_seq(), 1);
    assert_eq!(writer.ceremony_id(), "kc-2026-test");

    // Everyone signs in, each in their own entry.
    for (name, _, identity) in &people {
        let entry = act(
            &writer,
            name,
            identity,
            "sign-in",
            json!({}),
            Purpose::SignIn,
        );
        writer
            .append(entry, start() + Duration::seconds(5))
            .expect("sign-in");
    }
    assert_eq!(writer.next_seq(), 4);

    // A step's result, then its witness's confirmation (same second as
    // before: allowed).
    writer
        .append(
            draft(
                "keyceremony",
                "hsm.generate-key",
                json!({"label": "root-2026", "attributes": {"sensitive": true, "extractable": false},
                       "bits": 4096}),
            ),
            start() + Duration::milliseconds(5_900),
        )
        .expect("step");
    let confirm = act(
        &writer,
        "Wim Witness",
        &people[1].2,
        "confirm",
        json!({"as": "witness"}),
        Purpose::Confirm,
    );
    writer
        .append(confirm, start() + Duration::seconds(6))
        .expect("confirm");
    let before_close = writer.head();
    let close = writer
        .close(CloseOutcome::Completed, start() + Duration::minutes(3))
        .expect("close");
    assert_eq!(close.seq, 6);

    let text = std::fs::read(&path).expect("read transcript");
    assert!(text.ends_with(b"\n"));
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(before_close.hex(), sha256_hex(lines[5]));
    assert_eq!(close.hex(), sha256_hex(lines[6]));
    let last: serde_json::Value = serde_json::from_slice(lines[6]).expect("json");
    assert_eq!(last["body"], json!({"entries": 7, "outcome": "completed"}));
    assert_eq!(last["prev"], json!(before_close.hex()));
    let step: serde_json::Value = serde_json::from_slice(lines[4]).expect("json");
    assert_eq!(step["time"], json!("2026-11-26T23:57:33Z"));

    let Outcome::Valid(summary) = verify_file(&path).expect("read") else {
        panic!("a written transcript must verify");
    };
    assert_eq!(summary.entries, 7);
    assert_eq!(summary.closed, Some(CloseOutcome::Completed));
    assert_eq!(summary.head, close);
    assert_eq!(summary.genesis.roster.len(), 3);
    assert_eq!(summary.started, start());
    assert_eq!(summary.last_time, start() + Duration::minutes(3));

    // The streaming verifier reports each entry's verified signatures.
    let mut verifier = Verifier::new();
    let entries: Vec<_> = lines
        .iter()
        .map(|line| verifier.push_line(line).expect("verifies"))
        .collect();
    assert_eq!(entries[1].signatures.len(), 1);
    assert_eq!(entries[1].signatures[0].participant, "Ada Admin");
    assert!(
        entries[4].signatures.is_empty(),
        "a tool entry carries none"
    );
    assert_eq!(entries[5].signatures[0].participant, "Wim Witness");
    assert_eq!(entries[5].signatures[0].role, Role::Witness);
    assert_eq!(entries[5].signatures[0].purpose, Purpose::Confirm);
    assert_eq!(entries[6].kind, "close");
}

#[test]
fn an_aborted_ceremony_is_valid_and_keeps_its_reason() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let (writer, _) = new_writer(&path);
    let outcome = CloseOutcome::Aborted {
        reason: "custodian 2 absent".to_owned(),
    };
    writer.close(outcome.clone(), start()).expect("close");
    match verify_file(&path).expect("read") {
        Outcome::Valid(summary) => {
            assert_eq!(summary.closed, Some(outcome));
            assert_eq!(summary.entries, 2);
        }
        other => panic!("expected valid, got {other:?}"),
    }
}

/// `run --record`: the close names the screen recording (file name,
/// SHA-256, length); the verifier accepts a well-formed one and the writer
/// refuses to write one it would not accept.
#[test]
fn the_close_records_the_screen_recording() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let (writer, _) = new_writer(&path);
    let recording = ScreenRecording {
        file: "ceremony.cast".to_owned(),
        sha256: "ab".repeat(32),
        bytes: 1234,
        error: None,
    };
    writer
        .close_with_checkpoint(CloseOutcome::Completed, Some(&recording), start())
        .expect("close");
    assert!(matches!(
        verify_file(&path).expect("read"),
        Outcome::Valid(_)
    ));
    let text = std::fs::read_to_string(&path).expect("read");
    let close: serde_json::Value =
        serde_json::from_str(text.lines().last().expect("close")).expect("json");
    assert_eq!(
        close["body"]["recording"],
        json!({"file": "ceremony.cast", "sha256": "ab".repeat(32), "bytes": 1234})
    );

    for bad in [
        ScreenRecording {
            sha256: "AB".repeat(32),
            ..recording.clone()
        },
        ScreenRecording {
            sha256: "ab".repeat(31),
            ..recording.clone()
        },
        ScreenRecording {
            file: "../ceremony.cast".to_owned(),
            ..recording.clone()
        },
    ] {
        let path = directory.path().join("bad.jsonl");
        let _ = std::fs::remove_file(&path);
        let (writer, _) = new_writer(&path);
        let refused = writer.close_with_checkpoint(CloseOutcome::Completed, Some(&bad), start());
        assert!(refused.is_err(), "{bad:?} was written");
        assert!(!matches!(
            verify_file(&path).expect("read"),
            Outcome::Valid(_)
        ));
    }
}

#[test]
fn an_unclosed_transcript_is_incomplete_not_valid() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let (mut writer, _) = new_writer(&path);
    writer
        .append(
            draft("keyceremony", "note", json!({"text": "hello"})),
            start(),
        )
        .expect("append");
    drop(writer);
    match verify_file(&path).expect("read") {
        Outcome::Incomplete(summary, Incompleteness::NoClose) => assert_eq!(summary.entries, 2),
        other => panic!("expected incomplete, got {other:?}"),
    }
}

#[test]
fn create_never_overwrites() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    std::fs::write(&path, b"precious\n").expect("write");
    let people = roster();
    let key = CeremonyKey::generate();
    let genesis = genesis(&key, &people);
    let error = TranscriptWriter::create(&path, key, &genesis, start())
        .err()
        .expect("must refuse");
    assert!(
        matches!(error, TranscriptError::AlreadyExists(_)),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), b"precious\n");
}

#[test]
fn create_refuses_a_genesis_for_another_key_or_with_a_bad_roster() {
    let directory = tempfile::tempdir().expect("tempdir");
    let people = roster();
    let key = CeremonyKey::generate();
    let other = CeremonyKey::generate();
    let error = TranscriptWriter::create(
        &directory.path().join("a"),
        key,
        &genesis(&other, &people),
        start(),
    )
    .err()
    .expect("key mismatch");
    assert!(
        matches!(error, TranscriptError::CeremonyKeyMismatch),
        "{error}"
    );
    assert!(!directory.path().join("a").exists(), "nothing is created");

    let key = CeremonyKey::generate();
    let mut duplicated = genesis(&key, &people);
    duplicated.roster[1].name = duplicated.roster[0].name.clone();
    let error = TranscriptWriter::create(&directory.path().join("b"), key, &duplicated, start())
        .err()
        .expect("duplicate name");
    assert!(error.to_string().contains("appears twice"), "{error}");

    let key = CeremonyKey::generate();
    let mut same_key = genesis(&key, &people);
    same_key.roster[1].ssh_key = same_key.roster[0].ssh_key.clone();
    let error = TranscriptWriter::create(&directory.path().join("c"), key, &same_key, start())
        .err()
        .expect("duplicate key");
    assert!(error.to_string().contains("same key"), "{error}");

    let key = CeremonyKey::generate();
    let mut policy = genesis(&key, &people);
    policy.secrets[0].k = 4;
    let error = TranscriptWriter::create(&directory.path().join("d"), key, &policy, start())
        .err()
        .expect("k > n");
    assert!(error.to_string().contains("4 of 3"), "{error}");
}

#[test]
fn the_writer_refuses_values_outside_the_canonical_domain() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (mut writer, _) = new_writer(&directory.path().join("t.jsonl"));
    for (body, location) in [
        (json!({"x": 1.5}), "body.x"),
        (json!({"list": [1, null]}), "body.list[1]"),
        (json!({"big": 9_007_199_254_740_992_u64}), "body.big"),
        (json!({"neg": -1}), "body.neg"),
    ] {
        let error = writer
            .append(draft("Ada Admin", "note", body), start())
            .expect_err("must refuse");
        match error {
            TranscriptError::NonCanonicalValue {
                location: found, ..
            } => {
                assert_eq!(found, location)
            }
            other => panic!("unexpected {other}"),
        }
    }
    let error = writer
        .append(draft("Ada Admin", "note", json!([1])), start())
        .expect_err("array body");
    assert!(matches!(error, TranscriptError::BodyNotObject));
    // Refusals write nothing: the chain goes on from the genesis.
    assert_eq!(writer.next_seq(), 1);
    writer
        .append(
            draft(
                "keyceremony",
                "note",
                json!({"x": 9_007_199_254_740_991_u64}),
            ),
            start(),
        )
        .expect("2^53 - 1 is fine");
}

#[test]
fn the_writer_refuses_time_going_backwards_reserved_kinds_and_strangers() {
    let directory = tempfile::tempdir().expect("tempdir");
    let (mut writer, _) = new_writer(&directory.path().join("t.jsonl"));
    let error = writer
        .append(
            draft("Ada Admin", "note", json!({})),
            start() - Duration::seconds(1),
        )
        .expect_err("backwards");
    assert!(
        error
            .to_string()
            .contains("earlier than the previous entry's 2026-11-26T23:57:28Z"),
        "{error}"
    );
    for kind in ["genesis", "close"] {
        let error = writer
            .append(draft("keyceremony", kind, json!({})), start())
            .expect_err("reserved");
        assert!(matches!(error, TranscriptError::ReservedKind(_)), "{error}");
    }
    let error = writer
        .append(draft("Mallory", "note", json!({})), start())
        .expect_err("stranger");
    assert!(matches!(error, TranscriptError::UnknownActor(_)), "{error}");
    let error = writer
        .append(draft("Ada Admin", "bad kind!", json!({})), start())
        .expect_err("kind");
    assert!(
        matches!(&error, TranscriptError::Rejected(v) if v.rule == Rule::Malformed),
        "{error}"
    );
    assert_eq!(writer.next_seq(), 1);
}

#[test]
fn the_writer_refuses_participant_signatures_that_do_not_verify() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let (mut writer, people) = new_writer(&path);
    // Signed for the wrong seq: the verifier inside the writer catches it.
    let stale = people[0].2.sign(
        &keyceremony::transcript::act_message(
            Purpose::SignIn,
            writer.ceremony_id(),
            7,
            &writer.head().hex(),
            "Ada Admin",
            "sign-in",
            &serde_json::Map::new(),
        )
        .expect("canonical"),
    );
    let body =
        json!({"signatures": [ParticipantSignature::new("Ada Admin", Purpose::SignIn, &stale)]});
    let error = writer
        .append(draft("Ada Admin", "sign-in", body), start())
        .expect_err("refused");
    assert!(
        matches!(&error, TranscriptError::Rejected(v) if v.rule == Rule::ParticipantSignature),
        "{error}"
    );
    // Signed for another body: the same.
    let signed = act(
        &writer,
        "Ada Admin",
        &people[0].2,
        "sign-in",
        json!({"role": "administrator"}),
        Purpose::SignIn,
    );
    let mut altered = signed.body.clone();
    altered["role"] = json!("witness");
    let error = writer
        .append(draft("Ada Admin", "sign-in", altered), start())
        .expect_err("refused");
    assert!(
        matches!(&error, TranscriptError::Rejected(v) if v.rule == Rule::ParticipantSignature),
        "{error}"
    );
    // The refusals wrote nothing, and the writer goes on.
    writer.append(signed, start()).expect("valid signature");
    writer
        .close(CloseOutcome::Completed, start())
        .expect("close");
    assert!(matches!(
        verify_file(&path).expect("read"),
        Outcome::Valid(_)
    ));
}

#[test]
fn a_long_transcript_streams() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let (mut writer, _) = new_writer(&path);
    for step in 0..300_u64 {
        writer
            .append(
                draft("keyceremony", "progress", json!({"step": step})),
                start() + Duration::seconds(i64::try_from(step).expect("small")),
            )
            .expect("append");
    }
    let head = writer
        .close(CloseOutcome::Completed, start() + Duration::hours(1))
        .expect("close");
    match verify_file(&path).expect("read") {
        Outcome::Valid(summary) => {
            assert_eq!(summary.entries, 302);
            assert_eq!(summary.head, head);
        }
        other => panic!("expected valid, got {other:?}"),
    }
}
