//! The attacks of notes/transcript.md that apply without checkpoints, each
//! asserting the rule the verifier names.
//!
//! Transcripts here are built by `Forger`, a second implementation of the
//! format written from docs/transcript.md alone, holding the ceremony key: it
//! proves the document is precise enough, and that each rule is enforced on
//! its own, even on lines carrying a valid ceremony-key signature.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, TimeZone, Utc};
use ed25519_dalek::{Signer, SigningKey};
use keyceremony::transcript::{
    Incompleteness, Outcome, Rule, Summary, Verifier, Violation, verify_file,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Writes transcripts by the book, or not, as told.
struct Forger {
    key: SigningKey,
    ceremony: String,
    people: Vec<(String, String, SigningKey)>,
    lines: Vec<Vec<u8>>,
    seconds: i64,
}

fn ssh_ed25519(public: &[u8; 32]) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(public);
    format!("ssh-ed25519 {}", STANDARD.encode(blob))
}

fn canonical(value: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("canonical")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Adds the group order L to the S half of a signature: same signature
/// mathematically, non-canonical encoding.
fn with_s_plus_l(signature: &[u8; 64]) -> [u8; 64] {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    let mut out = *signature;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(signature[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits since S < L");
    out
}

impl Forger {
    fn new(ceremony: &str, seed: u8) -> Self {
        let people = [
            ("Ada Admin", "administrator"),
            ("Wim Witness", "witness"),
            ("Cleo Custodian", "custodian"),
        ]
        .iter()
        .enumerate()
        .map(|(index, (name, role))| {
            let secret = [seed.wrapping_add(u8::try_from(index).expect("small") + 1); 32];
            (
                (*name).to_owned(),
                (*role).to_owned(),
                SigningKey::from_bytes(&secret),
            )
        })
        .collect();
        Forger {
            key: SigningKey::from_bytes(&[seed; 32]),
            ceremony: ceremony.to_owned(),
            people,
            lines: Vec::new(),
            seconds: 0,
        }
    }

    fn genesis_body(&self) -> Value {
        let roster: Vec<Value> = self
            .people
            .iter()
            .map(|(name, role, key)| {
                json!({"name": name, "role": role,
                       "ssh_key": ssh_ed25519(key.verifying_key().as_bytes())})
            })
            .collect();
        json!({
            "ceremony_id": self.ceremony,
            "nonce": "00112233445566778899aabbccddeeff",
            "script": {"id": "root-key-generation", "version": "3", "title": "Root key",
                       "sha256": "ab".repeat(32)},
            "bindings_sha256": "cd".repeat(32),
            "tool": {"name": "keyceremony", "version": "0.1.0", "binary_sha256": "ef".repeat(32)},
            "mode": "rehearsal",
            "roster": roster,
            "secrets": [{"name": "so-pin", "k": 2, "n": 3}],
            "participant_keys": "per-act",
            "ceremony_key": STANDARD.encode(self.key.verifying_key().as_bytes()),
        })
    }

    fn time(&self) -> String {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 26, 23, 57, 28)
            .single()
            .expect("time");
        (start + Duration::seconds(self.seconds))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    fn next_seq(&self) -> u64 {
        self.lines.len() as u64
    }

    fn head(&self) -> String {
        self.lines
            .last()
            .map_or_else(|| "0".repeat(64), |line| sha256_hex(line))
    }

    /// An unsigned entry at the next position, by the book.
    fn entry(&self, actor: &str, kind: &str, body: Value) -> Value {
        json!({"v": 2, "ceremony": self.ceremony, "seq": self.next_seq(), "time": self.time(),
               "actor": actor, "kind": kind, "body": body, "prev": self.head()})
    }

    /// Signs with `domain` || canonical(entry without sig), returns the line.
    fn sign_with_domain(&self, mut entry: Value, domain: &[u8]) -> Vec<u8> {
        let mut message = domain.to_vec();
        message.extend_from_slice(&canonical(&entry));
        let signature = self.key.sign(&message);
        entry["sig"] = json!(STANDARD.encode(signature.to_bytes()));
        canonical(&entry)
    }

    fn sign(&self, entry: Value) -> Vec<u8> {
        self.sign_with_domain(entry, b"keyceremony/v2/entry\n")
    }

    fn push_entry(&mut self, entry: Value) {
        let line = self.sign(entry);
        self.lines.push(line);
        self.seconds += 1;
    }

    fn push(&mut self, actor: &str, kind: &str, body: Value) {
        let entry = self.entry(actor, kind, body);
        self.push_entry(entry);
    }

    fn genesis(&mut self) {
        let body = self.genesis_body();
        self.push("keyceremony", "genesis", body);
    }

    /// A participant signature over the next entry, which will have this
    /// actor, kind and body (its `signatures` aside), by the book.
    fn signature_over(
        &self,
        who: usize,
        purpose: &str,
        actor: &str,
        kind: &str,
        body: &Value,
    ) -> Value {
        let mut unsigned = body.clone();
        if let Some(map) = unsigned.as_object_mut() {
            map.remove("signatures");
        }
        let mut message = format!(
            "keyceremony/v2/{purpose}\n{}\n{}\n{}\n{actor}\n{kind}\n",
            self.ceremony,
            self.next_seq(),
            self.head()
        )
        .into_bytes();
        message.extend_from_slice(&canonical(&unsigned));
        let (name, _, key) = &self.people[who];
        json!({"participant": name, "purpose": purpose,
               "signature": STANDARD.encode(key.sign(&message).to_bytes())})
    }

    /// A signature by `who` over an act of their own with an empty body.
    fn participant_signature(&self, who: usize, purpose: &str) -> Value {
        let kind = match purpose {
            "sign-in" => "sign-in",
            "attest" => "attestation",
            _ => "confirm",
        };
        self.signature_over(who, purpose, &self.people[who].0, kind, &json!({}))
    }

    /// `who`'s act, signed by them, by the book.
    fn act(&mut self, who: usize, kind: &str, purpose: &str, mut body: Value) {
        let actor = self.people[who].0.clone();
        let signature = self.signature_over(who, purpose, &actor, kind, &body);
        body["signatures"] = json!([signature]);
        self.push(&actor, kind, body);
    }

    fn close(&mut self) {
        let body = json!({"entries": self.next_seq() + 1, "outcome": "completed"});
        self.push("keyceremony", "close", body);
    }

    /// genesis, a sign-in, a step's result, its witness's confirmation,
    /// close.
    fn ceremony(ceremony: &str, seed: u8) -> Self {
        let mut forger = Forger::new(ceremony, seed);
        forger.genesis();
        forger.act(0, "sign-in", "sign-in", json!({}));
        forger.push("keyceremony", "hsm.generate-key", json!({"label": "root"}));
        forger.act(
            1,
            "confirm",
            "confirm",
            json!({"as": "witness", "text": "all fine"}),
        );
        forger.close();
        forger
    }
}

fn verify_lines(lines: &[Vec<u8>]) -> Result<Summary, Violation> {
    let mut verifier = Verifier::new();
    for line in lines {
        verifier.push_line(line)?;
    }
    verifier.finish()
}

fn violation(lines: &[Vec<u8>]) -> Violation {
    match verify_lines(lines) {
        Ok(summary) => panic!("expected a violation, got {summary:?}"),
        Err(violation) => violation,
    }
}

fn file_outcome(bytes: &[u8]) -> Outcome {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    std::fs::write(&path, bytes).expect("write");
    verify_file(&path).expect("read")
}

fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|line| line.iter().copied().chain([b'\n']))
        .collect()
}

fn tampered_rule(bytes: &[u8]) -> (u64, Rule) {
    match file_outcome(bytes) {
        Outcome::Tampered(violation) => (violation.line, violation.rule),
        other => panic!("expected tampered, got {other:?}"),
    }
}

fn replace_in_line(line: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(line).expect("utf8");
    assert!(text.contains(from), "{from} not in {text}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn the_forger_follows_the_documented_format() {
    let forger = Forger::ceremony("kc-a", 10);
    let summary = verify_lines(&forger.lines).expect("valid");
    assert_eq!(summary.entries, 5);
    assert!(matches!(
        file_outcome(&joined(&forger.lines)),
        Outcome::Valid(_)
    ));
}

// 1. One byte changed anywhere.
#[test]
fn attack_01_one_byte_changed() {
    let forger = Forger::ceremony("kc-a", 10);
    let changed = replace_in_line(&forger.lines[3], "all fine", "all fina");
    let mut lines = forger.lines.clone();
    lines[3] = changed;
    let found = violation(&lines);
    assert_eq!(
        (found.line, found.rule),
        (4, Rule::EntrySignature),
        "{found}"
    );
    assert!(found.to_string().starts_with("line 4: "), "{found}");

    // Its successor then no longer chains to it, even if the tamperer could re-sign.
    let mut forger = Forger::ceremony("kc-a", 10);
    forger.lines.truncate(3);
    forger.act(
        1,
        "confirm",
        "confirm",
        json!({"as": "witness", "text": "all fina"}),
    );
    let honest = Forger::ceremony("kc-a", 10);
    forger.lines.push(honest.lines[4].clone());
    assert_eq!(violation(&forger.lines).rule, Rule::PrevMismatch);

    // Every single-byte change is caught: all bytes of the note line and its
    // newline, every 11th byte elsewhere (debug-build Ed25519 is slow). Lines
    // before the change are verified once, and the verifier forked from there.
    let lines = Forger::ceremony("kc-a", 10).lines;
    let mut prefixes = vec![Verifier::new()];
    for line in &lines {
        let mut next = prefixes.last().expect("at least one").clone();
        next.push_line(line).expect("valid");
        prefixes.push(next);
    }
    let mut checked = 0;
    for (index, line) in lines.iter().enumerate() {
        let mut with_newline = line.clone();
        with_newline.push(b'\n');
        for position in (0..with_newline.len()).filter(|&p| index == 3 || p % 11 == 0) {
            let mut tail = with_newline.clone();
            tail[position] ^= 0x01;
            for later in &lines[index + 1..] {
                tail.extend_from_slice(later);
                tail.push(b'\n');
            }
            let outcome = verify_bytes_from(prefixes[index].clone(), &tail);
            assert!(
                !matches!(outcome, Outcome::Valid(_)),
                "flipping byte {position} of line {} went unnoticed",
                index + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked}");
}

/// Like verify_file, in memory and from a verifier already fed a prefix.
fn verify_bytes_from(mut verifier: Verifier, bytes: &[u8]) -> Outcome {
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        if let Err(violation) = verifier.push_line(&rest[..end]) {
            return Outcome::Tampered(violation);
        }
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() && verifier.is_closed() {
        return Outcome::Tampered(verifier.push_line(rest).expect_err("after close"));
    }
    match verifier.finish() {
        Err(violation) => Outcome::Tampered(violation),
        Ok(summary) if !rest.is_empty() => Outcome::Incomplete(
            summary,
            Incompleteness::UnterminatedLastLine { bytes: rest.len() },
        ),
        Ok(summary) if summary.closed.is_some() => Outcome::Valid(summary),
        Ok(summary) => Outcome::Incomplete(summary, Incompleteness::NoClose),
    }
}

// 2. A middle entry, the first entry, or the genesis entry deleted.
#[test]
fn attack_02_entries_deleted() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    for deleted in [1, 2, 3] {
        let mut cut = lines.clone();
        cut.remove(deleted);
        let found = violation(&cut);
        assert_eq!(
            (found.line, found.rule),
            (deleted as u64 + 1, Rule::Sequence),
            "{found}"
        );
    }
    let found = violation(&lines[1..]);
    assert_eq!(
        (found.line, found.rule),
        (1, Rule::GenesisNotFirst),
        "{found}"
    );
}

// 3. The tail cut (unsigned: the cutter does not hold the ceremony key).
#[test]
fn attack_03_tail_cut() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    for kept in 1..lines.len() {
        match file_outcome(&joined(&lines[..kept])) {
            Outcome::Incomplete(summary, Incompleteness::NoClose) => {
                assert_eq!(summary.entries, kept as u64)
            }
            other => panic!("cut to {kept} lines: expected incomplete, got {other:?}"),
        }
    }
    // Cut inside the close line: its fragment is never trusted.
    let bytes = joined(&lines);
    match file_outcome(&bytes[..bytes.len() - 10]) {
        Outcome::Incomplete(summary, Incompleteness::UnterminatedLastLine { bytes }) => {
            assert_eq!(summary.entries, 4);
            assert_eq!(bytes, lines[4].len() - 9);
        }
        other => panic!("expected incomplete, got {other:?}"),
    }
    // Only the final newline cut: still not valid.
    assert!(matches!(
        file_outcome(&bytes[..bytes.len() - 1]),
        Outcome::Incomplete(_, Incompleteness::UnterminatedLastLine { .. })
    ));
    // A close made up without the key for the shorter transcript.
    let mut cut = lines[..3].to_vec();
    cut.push(replace_in_line(&lines[4], "\"entries\":5", "\"entries\":4"));
    assert_eq!(violation(&cut).rule, Rule::Sequence);
}

// 4. Two entries swapped, or one duplicated.
#[test]
fn attack_04_swapped_or_duplicated() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    let found = violation(&swapped);
    assert_eq!((found.line, found.rule), (3, Rule::Sequence), "{found}");

    let mut duplicated = lines.clone();
    duplicated.insert(3, lines[2].clone());
    let found = violation(&duplicated);
    assert_eq!((found.line, found.rule), (4, Rule::Sequence), "{found}");

    let mut genesis_twice = lines.clone();
    genesis_twice.insert(1, lines[0].clone());
    assert_eq!(violation(&genesis_twice).rule, Rule::Sequence);
}

// 5. An entry spliced in from another ceremony.
#[test]
fn attack_05_spliced_from_another_ceremony() {
    let ours = Forger::ceremony("kc-a", 10);
    let theirs = Forger::ceremony("kc-b", 50);

    // As is.
    let mut spliced = ours.lines[..3].to_vec();
    spliced.push(theirs.lines[3].clone());
    let found = violation(&spliced);
    assert_eq!((found.line, found.rule), (4, Rule::CeremonyId), "{found}");

    // prev recomputed, and re-signed with the other ceremony's key.
    let mut other = Forger::ceremony("kc-b", 50);
    other.lines = ours.lines[..3].to_vec();
    other.push("Wim Witness", "note", json!({"text": "spliced"}));
    let found = violation(&other.lines);
    assert_eq!((found.line, found.rule), (4, Rule::CeremonyId), "{found}");

    // ... and with our ceremony id written in: the signature gives it away.
    other.lines.truncate(3);
    other.ceremony = "kc-a".to_owned();
    other.push("Wim Witness", "note", json!({"text": "spliced"}));
    let found = violation(&other.lines);
    assert_eq!(
        (found.line, found.rule),
        (4, Rule::EntrySignature),
        "{found}"
    );

    // Another ceremony with the same id but another key: its entries fail too.
    let same_id = Forger::ceremony("kc-a", 90);
    let mut spliced = ours.lines[..3].to_vec();
    spliced.push(same_id.lines[3].clone());
    assert_eq!(violation(&spliced).rule, Rule::PrevMismatch);
}

// 8. A bad signature from a known key; a signature from an unknown key.
#[test]
fn attack_08_bad_or_unknown_participant_signatures() {
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut signature = forger.participant_signature(0, "sign-in");
    let mut bytes = STANDARD
        .decode(signature["signature"].as_str().expect("string"))
        .expect("base64");
    bytes[5] ^= 0x40;
    signature["signature"] = json!(STANDARD.encode(&bytes));
    forger.push("Ada Admin", "sign-in", json!({"signatures": [signature]}));
    let found = violation(&forger.lines);
    assert_eq!(
        (found.line, found.rule),
        (2, Rule::ParticipantSignature),
        "{found}"
    );

    // A known name, signed with someone else's key.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut signature = forger.participant_signature(1, "sign-in");
    signature["participant"] = json!("Ada Admin");
    forger.push("Ada Admin", "sign-in", json!({"signatures": [signature]}));
    assert_eq!(violation(&forger.lines).rule, Rule::ParticipantSignature);

    // A name not in the roster: rejected, never counted.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut signature = forger.participant_signature(1, "sign-in");
    signature["participant"] = json!("Mallory");
    forger.push("Ada Admin", "sign-in", json!({"signatures": [signature]}));
    let found = violation(&forger.lines);
    assert_eq!(found.rule, Rule::UnknownParticipant, "{found}");
    assert!(found.detail.contains("Mallory"), "{found}");

    // A purpose that does not exist, or extra fields: not a participant signature.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut signature = forger.participant_signature(1, "sign-in");
    signature["purpose"] = json!("approve");
    forger.push("Ada Admin", "sign-in", json!({"signatures": [signature]}));
    assert_eq!(violation(&forger.lines).rule, Rule::Malformed);
}

// 9. The same signer counted twice.
#[test]
fn attack_09_same_signer_twice() {
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let once = forger.participant_signature(2, "confirm");
    forger.push(
        "Cleo Custodian",
        "confirm",
        json!({"signatures": [once.clone(), once]}),
    );
    let found = violation(&forger.lines);
    assert_eq!(
        (found.line, found.rule),
        (2, Rule::DuplicateParticipantSignature),
        "{found}"
    );

    // One act, one signature: a second purpose by the same person is not
    // a second act.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let confirm = forger.participant_signature(2, "confirm");
    let attest = forger.signature_over(2, "attest", "Cleo Custodian", "confirm", &json!({}));
    forger.push(
        "Cleo Custodian",
        "confirm",
        json!({"signatures": [confirm, attest]}),
    );
    let found = violation(&forger.lines);
    assert_eq!((found.line, found.rule), (2, Rule::ActSignature), "{found}");
}

const SMALL_ORDER_POINT: [u8; 32] = {
    let mut point = [0u8; 32];
    point[0] = 1;
    point
};

// 11. A weak (small-order) Ed25519 key in the roster.
#[test]
fn attack_11_weak_key_in_roster() {
    let mut forger = Forger::new("kc-a", 10);
    let mut body = forger.genesis_body();
    body["roster"][2]["ssh_key"] = json!(ssh_ed25519(&SMALL_ORDER_POINT));
    forger.push("keyceremony", "genesis", body);
    let found = violation(&forger.lines);
    assert_eq!(
        (found.line, found.rule),
        (1, Rule::WeakRosterKey),
        "{found}"
    );

    let mut forger = Forger::new("kc-a", 10);
    let mut body = forger.genesis_body();
    body["ceremony_key"] = json!(STANDARD.encode(SMALL_ORDER_POINT));
    forger.push("keyceremony", "genesis", body);
    assert_eq!(violation(&forger.lines).rule, Rule::WeakRosterKey);
}

// 12. A non-canonical signature S value.
#[test]
fn attack_12_non_canonical_s() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    let mut entry: Value = serde_json::from_slice(&lines[3]).expect("json");
    let sig: [u8; 64] = STANDARD
        .decode(entry["sig"].as_str().expect("sig"))
        .expect("base64")
        .try_into()
        .expect("64 bytes");
    entry["sig"] = json!(STANDARD.encode(with_s_plus_l(&sig)));
    let mut malleated = lines.clone();
    malleated[3] = canonical(&entry);
    let found = violation(&malleated);
    assert_eq!(
        (found.line, found.rule),
        (4, Rule::EntrySignature),
        "{found}"
    );

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut signature = forger.participant_signature(0, "sign-in");
    let bytes: [u8; 64] = STANDARD
        .decode(signature["signature"].as_str().expect("string"))
        .expect("base64")
        .try_into()
        .expect("64 bytes");
    signature["signature"] = json!(STANDARD.encode(with_s_plus_l(&bytes)));
    forger.push("Ada Admin", "sign-in", json!({"signatures": [signature]}));
    assert_eq!(violation(&forger.lines).rule, Rule::ParticipantSignature);
}

// 13. An attestation moved to another entry, even by the ceremony key holder.
#[test]
fn attack_13_attestation_moved() {
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let attest = forger.participant_signature(1, "attest");
    forger.push("keyceremony", "step", json!({"n": 1}));
    forger.push(
        "keyceremony",
        "step",
        json!({"n": 2, "signatures": [attest]}),
    );
    let found = violation(&forger.lines);
    assert_eq!(
        (found.line, found.rule),
        (3, Rule::ParticipantSignature),
        "{found}"
    );

    // Moved to another ceremony at the same position, by the same person.
    let donor = Forger::ceremony("kc-b", 10);
    let moved: Value = serde_json::from_slice(&donor.lines[3]).expect("json");
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push("keyceremony", "step", json!({}));
    forger.push("keyceremony", "step", json!({}));
    forger.push("Wim Witness", "confirm", moved["body"].clone());
    assert_eq!(violation(&forger.lines).rule, Rule::ParticipantSignature);
}

// 14. Non-canonical JSON.
#[test]
fn attack_14_non_canonical_json() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    let line = &lines[3];
    let text = std::str::from_utf8(line).expect("utf8");
    assert!(text.ends_with(",\"v\":2}"), "{text}");
    let reordered = format!("{{\"v\":2,{}}}", &text[1..text.len() - 7]);
    let variants = [
        replace_in_line(line, "\"kind\":", "\"kind\": "),
        replace_in_line(line, "{", "{ "),
        reordered.into_bytes(),
        replace_in_line(line, "\"Wim Witness\"", "\"\\u0057im Witness\""),
        replace_in_line(line, "\"v\":2}", "\"v\":2.0}"),
        replace_in_line(line, "\"v\":2}", "\"v\":2,\"v\":2}"),
        replace_in_line(line, "\"v\":2}", "\"v\":2e0}"),
        replace_in_line(line, "\"all fine\"", "9007199254740992"),
        replace_in_line(line, "\"all fine\"", "null"),
        replace_in_line(line, "\"all fine\"", "-3"),
        replace_in_line(line, "\"all fine\"", "0.5"),
    ];
    for variant in variants {
        let mut tampered = lines.clone();
        tampered[3] = variant.clone();
        let found = violation(&tampered);
        assert_eq!(
            (found.line, found.rule),
            (4, Rule::NotCanonical),
            "{}: {found}",
            String::from_utf8_lossy(&variant)
        );
    }

    // Signed by the key holder, a too large integer is still refused.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push(
        "keyceremony",
        "step",
        json!({"n": 9_007_199_254_740_992_u64}),
    );
    let found = violation(&forger.lines);
    assert_eq!(found.rule, Rule::NotCanonical, "{found}");
    assert!(found.detail.contains("$.body.n"), "{found}");

    // Not JSON, or JSON but not an entry.
    let mut tampered = lines.clone();
    tampered[3] = b"{\"v\":2".to_vec();
    assert_eq!(violation(&tampered).rule, Rule::Malformed);
    let mut tampered = lines.clone();
    tampered[3] = replace_in_line(line, "\"v\":2}", "\"v\":2,\"zz\":true}");
    assert_eq!(violation(&tampered).rule, Rule::Malformed);
}

// 15. CRLF, BOM, invalid UTF-8, control characters, trailing junk.
#[test]
fn attack_15_encoding_and_trailing_junk() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    let bytes = joined(&lines);

    let crlf: Vec<u8> = lines
        .iter()
        .flat_map(|line| line.iter().copied().chain(*b"\r\n"))
        .collect();
    assert_eq!(tampered_rule(&crlf), (1, Rule::CarriageReturn));

    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&bytes);
    assert_eq!(tampered_rule(&bom), (1, Rule::ByteOrderMark));

    let mut tampered = lines.clone();
    let at = lines[3]
        .windows(8)
        .position(|window| window == b"all fine")
        .expect("text");
    tampered[3][at] = 0xFF;
    assert_eq!(tampered_rule(&joined(&tampered)), (4, Rule::NotUtf8));

    let mut tampered = lines.clone();
    tampered[3] = replace_in_line(&lines[3], "all fine", "all\tfine");
    assert_eq!(
        tampered_rule(&joined(&tampered)),
        (4, Rule::ControlCharacter)
    );

    let mut junk = bytes.clone();
    junk.extend_from_slice(b"junk");
    assert_eq!(tampered_rule(&junk), (6, Rule::AfterClose));
    let mut junk = bytes.clone();
    junk.extend_from_slice(b"\n");
    assert_eq!(tampered_rule(&junk), (6, Rule::AfterClose));

    let mut blank = lines.clone();
    blank.insert(2, Vec::new());
    assert_eq!(tampered_rule(&joined(&blank)), (3, Rule::Malformed));

    let mut huge = lines.clone();
    huge[2] = vec![b' '; keyceremony::transcript::MAX_LINE_BYTES + 1];
    assert_eq!(tampered_rule(&joined(&huge)), (3, Rule::LineTooLong));
}

// 16. Timestamps going backwards; a changed format version or domain string.
#[test]
fn attack_16_time_version_and_domain() {
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.seconds = -5;
    forger.push("keyceremony", "step", json!({}));
    let found = violation(&forger.lines);
    assert_eq!(
        (found.line, found.rule),
        (2, Rule::TimeBackwards),
        "{found}"
    );

    for bad_time in [
        "2026-11-26T23:57:29.5Z",
        "2026-11-26T23:57:29+01:00",
        "yesterday",
    ] {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        let mut entry = forger.entry("keyceremony", "step", json!({}));
        entry["time"] = json!(bad_time);
        forger.push_entry(entry);
        assert_eq!(
            violation(&forger.lines).rule,
            Rule::TimeFormat,
            "{bad_time}"
        );
    }

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut entry = forger.entry("keyceremony", "step", json!({}));
    entry["v"] = json!(3);
    forger.push_entry(entry);
    let found = violation(&forger.lines);
    assert_eq!((found.line, found.rule), (2, Rule::Version), "{found}");

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let entry = forger.entry("keyceremony", "step", json!({}));
    let line = forger.sign_with_domain(entry, b"keyceremony/v1/entry\n");
    forger.lines.push(line);
    assert_eq!(violation(&forger.lines).rule, Rule::EntrySignature);

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    // A participant signature in the version 1 form (over the chain
    // position only, not the act): refused.
    let message = format!("keyceremony/v1/confirm\nkc-a\n1\n{}\n", forger.head());
    let signature = STANDARD.encode(forger.people[1].2.sign(message.as_bytes()).to_bytes());
    forger.push(
        "Wim Witness",
        "confirm",
        json!({"signatures": [{"participant": "Wim Witness", "purpose": "confirm", "signature": signature}]}),
    );
    assert_eq!(violation(&forger.lines).rule, Rule::ParticipantSignature);
}

// 17. An empty transcript, a genesis alone, no close entry.
#[test]
fn attack_17_empty_or_unclosed() {
    assert_eq!(tampered_rule(b""), (1, Rule::Empty));
    let found = Verifier::new().finish().expect_err("empty");
    assert_eq!(found.rule, Rule::Empty);

    let lines = Forger::ceremony("kc-a", 10).lines;
    assert!(matches!(
        file_outcome(&joined(&lines[..1])),
        Outcome::Incomplete(_, Incompleteness::NoClose)
    ));
    // A cut genesis leaves no complete entry at all.
    assert_eq!(tampered_rule(&lines[0][..100]), (1, Rule::Empty));
}

#[test]
fn entries_after_close_and_wrong_close_counts_are_caught_even_when_signed() {
    let mut forger = Forger::ceremony("kc-a", 10);
    forger.push("keyceremony", "step", json!({}));
    let found = violation(&forger.lines);
    assert_eq!((found.line, found.rule), (6, Rule::AfterClose), "{found}");

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push("keyceremony", "step", json!({}));
    forger.push(
        "keyceremony",
        "close",
        json!({"entries": 2, "outcome": "completed"}),
    );
    let found = violation(&forger.lines);
    assert_eq!((found.line, found.rule), (3, Rule::CloseCount), "{found}");

    for body in [
        json!({"entries": 2, "outcome": "aborted"}),
        json!({"entries": 2, "outcome": "completed", "reason": "why not"}),
        json!({"entries": 2, "outcome": "done"}),
        json!({"entries": 2, "outcome": "completed", "extra": 1}),
    ] {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        forger.push("keyceremony", "close", body.clone());
        assert_eq!(violation(&forger.lines).rule, Rule::CloseInvalid, "{body}");
    }
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push(
        "Ada Admin",
        "close",
        json!({"entries": 2, "outcome": "completed"}),
    );
    assert_eq!(violation(&forger.lines).rule, Rule::CloseInvalid);
}

#[test]
fn chain_and_roster_rules_hold_for_signed_lines() {
    // prev pointing elsewhere.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let mut entry = forger.entry("keyceremony", "step", json!({}));
    entry["prev"] = json!("0".repeat(64));
    forger.push_entry(entry);
    let found = violation(&forger.lines);
    assert_eq!(
        found.to_string(),
        "line 2: prev does not match the hash of line 1 [prev-mismatch]"
    );

    // An actor from outside the roster.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push("Mallory", "step", json!({}));
    assert_eq!(violation(&forger.lines).rule, Rule::UnknownActor);

    // A genesis missing a field, or with an extra one, or duplicate names.
    for edit in ["missing", "extra", "duplicate", "comment"] {
        let mut forger = Forger::new("kc-a", 10);
        let mut body = forger.genesis_body();
        match edit {
            "missing" => {
                body.as_object_mut()
                    .expect("object")
                    .remove("bindings_sha256");
            }
            "extra" => body["script"]["url"] = json!("https://example.org"),
            "duplicate" => body["roster"][1]["name"] = json!("Ada Admin"),
            _ => {
                let key = body["roster"][0]["ssh_key"]
                    .as_str()
                    .expect("key")
                    .to_owned();
                body["roster"][0]["ssh_key"] = json!(format!("{key} ada@laptop"));
            }
        }
        forger.push("keyceremony", "genesis", body);
        let found = violation(&forger.lines);
        assert_eq!(
            (found.line, found.rule),
            (1, Rule::GenesisInvalid),
            "{edit}: {found}"
        );
    }

    // A second genesis later on.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let body = forger.genesis_body();
    forger.push("keyceremony", "genesis", body);
    assert_eq!(violation(&forger.lines).rule, Rule::GenesisNotFirst);

    // The genesis's own ceremony field must match its body.
    let mut forger = Forger::new("kc-a", 10);
    let body = forger.genesis_body();
    let mut entry = forger.entry("keyceremony", "genesis", body);
    entry["ceremony"] = json!("kc-other");
    forger.push_entry(entry);
    assert_eq!(violation(&forger.lines).rule, Rule::CeremonyId);
}

#[test]
fn a_verifier_stays_failed_after_a_violation() {
    let lines = Forger::ceremony("kc-a", 10).lines;
    let mut verifier = Verifier::new();
    verifier.push_line(&lines[0]).expect("genesis");
    let first = verifier.push_line(&lines[2]).expect_err("skipped a line");
    let again = verifier.push_line(&lines[1]).expect_err("still failed");
    assert_eq!(first, again);
    assert_eq!(verifier.finish().expect_err("failed"), first);
}

// Issue 14, attack 3: an act counts only with its person's signature, and
// that signature covers what the act says.
#[test]
fn a_witness_confirmation_without_the_witness_signature_is_refused() {
    let witness_act = json!({"as": "witness", "step": "open", "number": 1});
    let refused = |push: &dyn Fn(&mut Forger)| {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        push(&mut forger);
        violation(&forger.lines)
    };
    // The holder of the ceremony key writes the witness's act, unsigned.
    let found = refused(&|f| f.push("Wim Witness", "confirm", witness_act.clone()));
    assert_eq!((found.line, found.rule), (2, Rule::ActSignature), "{found}");
    assert!(found.detail.contains("not signed by"), "{found}");
    // ... or signed by the administrator instead of the witness.
    let found = refused(&|f| {
        let mut body = witness_act.clone();
        body["signatures"] =
            json!([f.signature_over(0, "confirm", "Wim Witness", "confirm", &witness_act)]);
        f.push("Wim Witness", "confirm", body);
    });
    assert_eq!(found.rule, Rule::ActSignature, "{found}");
    // ... or as the tool's own entry, with no person at all.
    let found = refused(&|f| f.push("keyceremony", "confirm", witness_act.clone()));
    assert_eq!(found.rule, Rule::ActSignature, "{found}");
    // An attestation without its attester's signature.
    let found = refused(&|f| f.push("Wim Witness", "attestation", json!({})));
    assert_eq!(found.rule, Rule::ActSignature, "{found}");
    // A person's signature on an entry of the tool: it attests to nothing.
    let found = refused(&|f| {
        let signature = f.signature_over(1, "confirm", "keyceremony", "step", &json!({}));
        f.push("keyceremony", "step", json!({"signatures": [signature]}));
    });
    assert_eq!(found.rule, Rule::ActSignature, "{found}");
    // A sign-in signature on a confirmation (the purpose the kind needs).
    let found = refused(&|f| {
        let mut body = witness_act.clone();
        body["signatures"] =
            json!([f.signature_over(1, "sign-in", "Wim Witness", "confirm", &witness_act)]);
        f.push("Wim Witness", "confirm", body);
    });
    assert_eq!(found.rule, Rule::ActSignature, "{found}");
}

#[test]
fn the_ceremony_key_holder_cannot_keep_a_signature_and_change_the_act() {
    let witnessed = json!({"as": "witness", "step": "open", "number": 1});
    for (field, value) in [
        ("step", json!("generate-root-key")),
        ("as", json!("performer")),
        ("number", json!(10)),
    ] {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        let signature = forger.signature_over(1, "confirm", "Wim Witness", "confirm", &witnessed);
        let mut changed = witnessed.clone();
        changed[field] = value;
        changed["signatures"] = json!([signature]);
        forger.push("Wim Witness", "confirm", changed);
        let found = violation(&forger.lines);
        assert_eq!(
            (found.line, found.rule),
            (2, Rule::ParticipantSignature),
            "{field}: {found}"
        );
    }
    // The kind changed under a kept signature.
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    let signature = forger.signature_over(1, "confirm", "Wim Witness", "confirm", &json!({}));
    forger.push(
        "Wim Witness",
        "exception",
        json!({"signatures": [signature]}),
    );
    assert_eq!(violation(&forger.lines).rule, Rule::ParticipantSignature);
}

#[test]
fn a_person_acts_only_for_themselves() {
    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.act(
        2,
        "share-presented",
        "confirm",
        json!({"custodian": "Ada Admin"}),
    );
    let found = violation(&forger.lines);
    assert_eq!((found.line, found.rule), (2, Rule::ActSignature), "{found}");
    assert!(found.detail.contains("only for themselves"), "{found}");
}

// Issue 14, attack 2: a resume hands the chain to a new key only with the
// administrator's AND the witness's signatures over it.
#[test]
fn a_resume_needs_the_administrator_and_the_witness() {
    let resume = |signers: &[(usize, &str)]| {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        forger.act(0, "sign-in", "sign-in", json!({}));
        forger.key = SigningKey::from_bytes(&[77; 32]);
        let mut body =
            json!({"ceremony_key": STANDARD.encode(forger.key.verifying_key().as_bytes())});
        let signatures: Vec<Value> = signers
            .iter()
            .map(|(who, purpose)| {
                forger.signature_over(*who, purpose, "keyceremony", "resume", &body)
            })
            .collect();
        body["signatures"] = json!(signatures);
        forger.push("keyceremony", "resume", body);
        forger.close();
        verify_lines(&forger.lines)
    };
    resume(&[(0, "resume"), (1, "resume")]).expect("administrator and witness");
    for (signers, missing) in [
        (vec![(0, "resume")], "witness"),
        (vec![(1, "resume")], "administrator"),
        (vec![(0, "resume"), (2, "resume")], "Cleo Custodian"),
        (vec![(0, "resume"), (1, "confirm")], "confirm"),
    ] {
        let found = resume(&signers).expect_err("refused");
        assert_eq!(
            (found.line, found.rule),
            (3, Rule::ResumeInvalid),
            "{found}"
        );
        assert!(found.detail.contains(missing), "{missing}: {found}");
    }
}

/// Runs the keyceremony binary; its exit code and standard output.
fn keyceremony(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_keyceremony"))
        .args(args)
        .output()
        .expect("run keyceremony");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// No byte of `text` can move the cursor, erase, reorder or hide what the
/// auditor reads: newlines only where the tool put them.
fn assert_inert(text: &str, what: &str) {
    let driving = text.chars().find(|&c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    assert_eq!(
        driving, None,
        "{what}: a terminal-driving character reached the output:\n{text:?}"
    );
}

// Issue 14, attack 10: a step id or label written by whoever holds the
// ceremony key reaches the auditor's terminal. An escape sequence could
// move up and overwrite the TAMPERED line with VALID; a newline could print
// a verdict line of its own.
#[test]
fn terminal_escapes_in_a_transcript_never_reach_the_auditors_terminal() {
    let directory = tempfile::tempdir().expect("tempdir");
    for payload in [
        "open\u{1b}[1A\u{1b}[2K\rVALID: ceremony completed",
        "open\nVALID: ceremony completed",
        "open\u{202e}deretla",
    ] {
        let mut forger = Forger::new("kc-a", 10);
        forger.genesis();
        forger.act(0, "sign-in", "sign-in", json!({}));
        forger.push(
            "keyceremony",
            "hsm.generate-key",
            json!({"step": payload, "label": payload, "public_key": {
                "algorithm": payload, "spki_sha256": payload, "file": payload}}),
        );
        forger.act(
            1,
            "confirm",
            "confirm",
            json!({"as": "witness", "step": payload, "number": 1}),
        );
        forger.close();
        let path = directory.path().join("t.jsonl");
        std::fs::write(&path, joined(&forger.lines)).expect("write");

        // Closed without its checkpoint: TAMPERED, and nothing after may
        // pretend otherwise.
        let (code, out) = keyceremony(&["verify".as_ref(), path.as_os_str()]);
        assert_eq!(code, 1, "{out}");
        assert_inert(&out, "verify");
        assert!(out.starts_with("TAMPERED: "), "{out}");
        assert!(!out.lines().any(|l| l.starts_with("VALID")), "{out}");

        let (code, out) = keyceremony(&[
            "verify".as_ref(),
            "--no-checkpoint".as_ref(),
            path.as_os_str(),
        ]);
        assert_eq!(code, 0, "{out}");
        assert_inert(&out, "verify --no-checkpoint");
        assert_eq!(
            out.lines().filter(|l| l.starts_with("VALID")).count(),
            1,
            "{out}"
        );
        for format in ["md", "html"] {
            let (code, out) = keyceremony(&[
                "report".as_ref(),
                "--no-checkpoint".as_ref(),
                "--format".as_ref(),
                format.as_ref(),
                path.as_os_str(),
            ]);
            assert_eq!(code, 0, "{format}: {out}");
            assert_inert(&out, format);
            assert!(!out.lines().any(|l| l.starts_with("VALID")), "{out}");
        }
    }
}

// Issue 14 acceptance, as the auditor runs it: `verify` exits 1 and names
// the line and the rule, for a witness confirmation the witness did not
// sign and for a resume signed by one person.
#[test]
fn verify_names_the_line_and_rule_of_an_unsigned_act_or_a_one_person_resume() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("t.jsonl");
    let verify = |lines: &[Vec<u8>]| {
        std::fs::write(&path, joined(lines)).expect("write");
        keyceremony(&[
            "verify".as_ref(),
            path.as_os_str(),
            "--no-checkpoint".as_ref(),
        ])
    };

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.push(
        "Wim Witness",
        "confirm",
        json!({"as": "witness", "step": "open", "number": 1}),
    );
    forger.close();
    let (code, out) = verify(&forger.lines);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("TAMPERED: line 2"), "{out}");
    assert!(out.contains("act-signature"), "{out}");

    let mut forger = Forger::new("kc-a", 10);
    forger.genesis();
    forger.act(0, "sign-in", "sign-in", json!({}));
    forger.key = SigningKey::from_bytes(&[77; 32]);
    let mut body = json!({"ceremony_key": STANDARD.encode(forger.key.verifying_key().as_bytes())});
    let alone = forger.signature_over(0, "resume", "keyceremony", "resume", &body);
    body["signatures"] = json!([alone]);
    forger.push("keyceremony", "resume", body);
    forger.close();
    let (code, out) = verify(&forger.lines);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("TAMPERED: line 3"), "{out}");
    assert!(out.contains("resume"), "{out}");
    assert!(out.contains("witness"), "{out}");
}
