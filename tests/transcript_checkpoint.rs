//! The checkpoint attacks of notes/transcript.md (6, 7, 8 and 9 as they
//! apply to the note, 10, and a cut tail re-signed with the ceremony key),
//! and the `--script` checks, each asserting the rule and the reason.
//!
//! Transcripts and checkpoints are written here by a small forger holding
//! every key, from docs/transcript.md and the C2SP specs alone; the example
//! checkpoint is checked by a few lines of independent C2SP code.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use keyceremony::report::{self, CheckpointStatus, Status, Verdict, VerifyOptions};
use keyceremony::transcript::Rule;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MINI_SCRIPT: &str = r#"format: keyceremony-script/1
id: mini
version: "1"
title: Mini
purpose: A tiny script for verifier tests.
roles:
  administrator: { count: 1 }
  witness: { count: 1 }
  custodian: { count: 2, threshold: 2 }
secrets: []
steps:
  - id: open
    title: Open
    performer: administrator
    witness: witness
  - id: check
    title: Check
    performer: administrator
    witness: witness
  - id: close
    title: Close
    performer: administrator
    witness: witness
    close: {}
"#;

const ADA: usize = 0;
const WIM: usize = 1;

struct Forger {
    key: SigningKey,
    ceremony: String,
    script_sha256: String,
    people: Vec<(&'static str, &'static str, SigningKey)>,
    lines: Vec<Vec<u8>>,
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

impl Forger {
    fn new(ceremony: &str, seed: u8) -> Self {
        let people = [
            ("Ada Admin", "administrator"),
            ("Wim Witness", "witness"),
            ("Cleo Custodian", "custodian"),
            ("Carl Custodian", "custodian"),
        ]
        .into_iter()
        .zip(1u8..)
        .map(|((name, role), i)| (name, role, SigningKey::from_bytes(&[seed + i; 32])))
        .collect();
        Forger {
            key: SigningKey::from_bytes(&[seed; 32]),
            ceremony: ceremony.into(),
            script_sha256: hex::encode(Sha256::digest(MINI_SCRIPT)),
            people,
            lines: Vec::new(),
        }
    }

    fn head(&self) -> String {
        self.lines
            .last()
            .map_or_else(|| "0".repeat(64), |l| hex::encode(Sha256::digest(l)))
    }

    fn push(&mut self, actor: &str, kind: &str, body: Value) {
        let mut entry = json!({"v": 2, "ceremony": self.ceremony, "seq": self.lines.len(),
            "time": format!("2026-11-26T23:{:02}:00Z", self.lines.len()),
            "actor": actor, "kind": kind, "body": body, "prev": self.head()});
        let mut message = b"keyceremony/v2/entry\n".to_vec();
        message.extend_from_slice(&canonical(&entry));
        entry["sig"] = json!(STANDARD.encode(self.key.sign(&message).to_bytes()));
        self.lines.push(canonical(&entry));
    }

    /// `who`'s signature over their own act of `kind` with `body`.
    fn signature(&self, who: usize, purpose: &str, kind: &str, body: &Value) -> Value {
        let (name, _, key) = &self.people[who];
        let mut message = format!(
            "keyceremony/v2/{purpose}\n{}\n{}\n{}\n{name}\n{kind}\n",
            self.ceremony,
            self.lines.len(),
            self.head()
        )
        .into_bytes();
        message.extend_from_slice(&canonical(body));
        json!({"participant": name, "purpose": purpose,
               "signature": STANDARD.encode(key.sign(&message).to_bytes())})
    }

    fn genesis(&mut self) {
        let roster: Vec<Value> = self
            .people
            .iter()
            .map(|(name, role, key)| {
                json!({"name": name, "role": role,
                "ssh_key": ssh_ed25519(key.verifying_key().as_bytes())})
            })
            .collect();
        let body = json!({
            "ceremony_id": self.ceremony, "nonce": "00112233445566778899aabbccddeeff",
            "script": {"id": "mini", "version": "1", "title": "Mini", "sha256": self.script_sha256},
            "bindings_sha256": "cd".repeat(32),
            "tool": {"name": "keyceremony", "version": "0.1.0", "binary_sha256": "ef".repeat(32)},
            "mode": "rehearsal", "roster": roster,
            "secrets": [{"name": "so-pin", "k": 2, "n": 2}],
            "participant_keys": "per-act",
            "ceremony_key": STANDARD.encode(self.key.verifying_key().as_bytes()),
        });
        self.push("keyceremony", "genesis", body);
        for who in 0..self.people.len() {
            let signature = self.signature(who, "sign-in", "sign-in", &json!({}));
            let name = self.people[who].0;
            self.push(name, "sign-in", json!({"signatures": [signature]}));
        }
    }

    /// A confirmation of step `number` `step` by Ada (performer) or Wim (witness).
    fn confirm(&mut self, who: usize, number: u64, step: &str) {
        let capacity = if who == WIM { "witness" } else { "performer" };
        let mut body = json!({"as": capacity, "number": number, "step": step});
        let signature = self.signature(who, "confirm", "confirm", &body);
        body["signatures"] = json!([signature]);
        let name = self.people[who].0;
        self.push(name, "confirm", body);
    }

    fn close(&mut self) {
        let body = json!({"entries": self.lines.len() + 1, "outcome": "completed"});
        self.push("keyceremony", "close", body);
    }

    /// The mini script run by the book, `steps` being (who, number, id).
    fn run(ceremony: &str, seed: u8, steps: &[(usize, u64, &str)]) -> Self {
        let mut forger = Forger::new(ceremony, seed);
        forger.genesis();
        for (who, number, step) in steps {
            forger.confirm(*who, *number, step);
        }
        forger.close();
        forger
    }

    fn complete(ceremony: &str, seed: u8) -> Self {
        Self::run(
            ceremony,
            seed,
            &[
                (ADA, 1, "open"),
                (WIM, 1, "open"),
                (ADA, 2, "check"),
                (WIM, 2, "check"),
                (ADA, 3, "close"),
            ],
        )
    }

    fn ceremony_signer(&self) -> (String, SigningKey) {
        (format!("keyceremony/{}", self.ceremony), self.key.clone())
    }

    fn witness_signer(&self) -> (String, SigningKey) {
        (
            format!("keyceremony/{}/witness/Wim%20Witness", self.ceremony),
            self.people[WIM].2.clone(),
        )
    }
}

// An independent RFC 6962 tree hash and C2SP note writer and checker.

fn mth(lines: &[Vec<u8>]) -> [u8; 32] {
    if lines.len() == 1 {
        return Sha256::digest([&[0u8][..], &lines[0]].concat()).into();
    }
    let mut k = 1;
    while k * 2 < lines.len() {
        k *= 2;
    }
    Sha256::digest([&[1u8][..], &mth(&lines[..k]), &mth(&lines[k..])].concat()).into()
}

fn key_id(name: &str, key: &VerifyingKey) -> Vec<u8> {
    Sha256::digest([name.as_bytes(), b"\n\x01", key.as_bytes()].concat())[..4].to_vec()
}

fn signature_line(name: &str, key: &SigningKey, text: &str) -> String {
    let blob = [
        key_id(name, &key.verifying_key()),
        key.sign(text.as_bytes()).to_bytes().to_vec(),
    ]
    .concat();
    format!("\u{2014} {name} {}\n", STANDARD.encode(blob))
}

fn note(origin: &str, size: usize, root: &[u8; 32], signers: &[(String, SigningKey)]) -> String {
    let text = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
    let mut out = format!("{text}\n");
    for (name, key) in signers {
        out.push_str(&signature_line(name, key, &text));
    }
    out
}

fn checkpoint_of(forger: &Forger, lines: &[Vec<u8>], signers: &[(String, SigningKey)]) -> String {
    note(
        &format!("keyceremony/{}", forger.ceremony),
        lines.len(),
        &mth(lines),
        signers,
    )
}

struct Case {
    _dir: tempfile::TempDir,
    transcript: PathBuf,
    checkpoint: PathBuf,
    script: PathBuf,
}

fn case(lines: &[Vec<u8>], checkpoint: &str) -> Case {
    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = dir.path().join("t.jsonl");
    let mut bytes: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    if lines.is_empty() {
        bytes.clear();
    }
    std::fs::write(&transcript, bytes).expect("write");
    let checkpoint_path = dir.path().join("given.checkpoint");
    std::fs::write(&checkpoint_path, checkpoint).expect("write");
    let script = dir.path().join("mini.yaml");
    std::fs::write(&script, MINI_SCRIPT).expect("write");
    Case {
        transcript,
        checkpoint: checkpoint_path,
        script,
        _dir: dir,
    }
}

fn judge(case: &Case, with_script: bool) -> Verdict {
    report::verify_with(
        &case.transcript,
        &VerifyOptions {
            checkpoint: Some(case.checkpoint.clone()),
            script: with_script.then(|| case.script.clone()),
            ..VerifyOptions::default()
        },
    )
    .expect("readable")
}

fn assert_fails(verdict: &Verdict, rule: Rule, reason: &str) {
    assert_eq!(verdict.status(), Status::Tampered, "{verdict:?}");
    let violation = verdict.violation.as_ref().expect("a violation");
    assert_eq!(violation.rule, rule, "{violation}");
    assert!(violation.detail.contains(reason), "{violation}");
}

fn both_signers(forger: &Forger) -> Vec<(String, SigningKey)> {
    vec![forger.ceremony_signer(), forger.witness_signer()]
}

#[test]
fn a_checkpoint_written_from_the_specs_alone_verifies() {
    let forger = Forger::complete("kc-a", 10);
    let checkpoint = checkpoint_of(&forger, &forger.lines, &both_signers(&forger));
    let verdict = judge(&case(&forger.lines, &checkpoint), true);
    assert_eq!(verdict.status(), Status::Valid, "{verdict:?}");
    let CheckpointStatus::Checked { checked, .. } = &verdict.checkpoint else {
        panic!("checked: {:?}", verdict.checkpoint)
    };
    assert_eq!(checked.cosigned_by, ["Wim Witness"]);
    assert_eq!(checked.checkpoint.size, 11);
}

// 6. An older valid checkpoint presented as final; a size that differs.
#[test]
fn attack_06_older_checkpoint_or_wrong_size() {
    let forger = Forger::complete("kc-a", 10);
    let signers = both_signers(&forger);
    let older = checkpoint_of(&forger, &forger.lines[..7], &signers);
    assert_fails(
        &judge(&case(&forger.lines, &older), false),
        Rule::CheckpointSize,
        "tree size 7 but the transcript has 11 lines",
    );
    let wrong_size = note("keyceremony/kc-a", 12, &mth(&forger.lines), &signers);
    assert_fails(
        &judge(&case(&forger.lines, &wrong_size), false),
        Rule::CheckpointSize,
        "tree size 12",
    );
    // The unsigned cut tail, with the final checkpoint beside it: no longer
    // merely incomplete, the checkpoint proves lines are missing.
    let final_checkpoint = checkpoint_of(&forger, &forger.lines, &signers);
    let verdict = judge(&case(&forger.lines[..6], &final_checkpoint), false);
    assert_fails(
        &verdict,
        Rule::CheckpointSize,
        "tree size 11 but the transcript has 6",
    );
}

// 7. A checkpoint or cosignature from another ceremony; an interim head
// that is not a prefix.
#[test]
fn attack_07_checkpoint_or_cosignature_from_another_ceremony() {
    let ours = Forger::complete("kc-a", 10);
    let theirs = Forger::complete("kc-b", 10);
    let foreign = checkpoint_of(&theirs, &theirs.lines, &both_signers(&theirs));
    assert_fails(
        &judge(&case(&ours.lines, &foreign), false),
        Rule::CheckpointOrigin,
        "origin \"keyceremony/kc-b\" is not this ceremony's",
    );
    // Wim's cosignature made for kc-b, pasted under our checkpoint: its key
    // name is kc-b's, unknown here, so ignored, and Wim's is missing.
    let text_ours = checkpoint_of(&ours, &ours.lines, &[ours.ceremony_signer()]);
    let their_line = foreign.lines().last().expect("a line").to_owned();
    let spliced = format!("{text_ours}{their_line}\n");
    assert_fails(
        &judge(&case(&ours.lines, &spliced), false),
        Rule::CheckpointUnsigned,
        "Wim Witness signed in during the ceremony but did not cosign",
    );
    // The right size and valid signatures, over other lines (the ceremony
    // key's holder rewrote a line nobody cosigned): the root tells.
    let mut rewritten = Forger::new("kc-a", 10);
    rewritten.genesis();
    rewritten.confirm(ADA, 1, "open");
    rewritten.confirm(WIM, 1, "open");
    rewritten.confirm(ADA, 2, "check");
    rewritten.push("keyceremony", "note", json!({"text": "rewritten"}));
    rewritten.confirm(ADA, 3, "close");
    rewritten.close();
    let not_a_prefix = checkpoint_of(&rewritten, &rewritten.lines, &both_signers(&rewritten));
    assert_fails(
        &judge(&case(&ours.lines, &not_a_prefix), false),
        Rule::CheckpointRoot,
        "is not the Merkle root of the lines",
    );
}

// 8 and 9 for the note: a bad signature by a known key rejects, an unknown
// key is ignored, a signer twice counts once.
#[test]
fn attack_08_09_checkpoint_signatures() {
    let forger = Forger::complete("kc-a", 10);
    let good = checkpoint_of(&forger, &forger.lines, &both_signers(&forger));
    let wim_line = good.lines().last().expect("line").to_owned();
    let (name, blob) = wim_line
        .trim_start_matches("\u{2014} ")
        .split_once(' ')
        .expect("name and signature");
    let mut bytes = STANDARD.decode(blob).expect("base64");
    bytes[10] ^= 1;
    let bad = good.replace(
        &wim_line,
        &format!("\u{2014} {name} {}", STANDARD.encode(&bytes)),
    );
    assert_fails(
        &judge(&case(&forger.lines, &bad), false),
        Rule::CheckpointSignature,
        "the signature by known key keyceremony/kc-a/witness/Wim%20Witness does not verify",
    );
    let stranger = SigningKey::from_bytes(&[99; 32]);
    let text = good.split("\n\n").next().expect("text").to_owned() + "\n";
    let with_unknown = format!(
        "{good}{}{wim_line}\n",
        signature_line("witness.example/other", &stranger, &text)
    );
    let verdict = judge(&case(&forger.lines, &with_unknown), false);
    assert_eq!(verdict.status(), Status::Valid, "{verdict:?}");
    let CheckpointStatus::Checked { checked, .. } = &verdict.checkpoint else {
        panic!("checked")
    };
    assert_eq!(checked.cosigned_by, ["Wim Witness"], "counted once");
    assert_eq!(checked.ignored, ["witness.example/other (unknown key)"]);
}

// 10. A wrong key id for a key name.
#[test]
fn attack_10_wrong_key_id() {
    let forger = Forger::complete("kc-a", 10);
    let good = checkpoint_of(&forger, &forger.lines, &both_signers(&forger));
    for (index, reason) in [
        (
            0,
            "no valid signature by the ceremony key (keyceremony/kc-a)",
        ),
        (
            1,
            "Wim Witness signed in during the ceremony but did not cosign",
        ),
    ] {
        let line = good
            .split("\n\n")
            .nth(1)
            .expect("signatures")
            .lines()
            .nth(index)
            .expect("line");
        let (name, blob) = line
            .trim_start_matches("\u{2014} ")
            .split_once(' ')
            .expect("name and signature");
        let mut bytes = STANDARD.decode(blob).expect("base64");
        bytes[0] ^= 0x80;
        let forged = good.replace(
            line,
            &format!("\u{2014} {name} {}", STANDARD.encode(&bytes)),
        );
        let verdict = judge(&case(&forger.lines, &forged), false);
        assert_fails(&verdict, Rule::CheckpointUnsigned, reason);
    }
}

// 3. The tail cut, then re-signed with the ceremony key: the chain alone
// cannot tell, the checkpoint can.
#[test]
fn attack_03_cut_tail_resigned_with_the_ceremony_key() {
    let original = Forger::complete("kc-a", 10);
    let final_checkpoint = checkpoint_of(&original, &original.lines, &both_signers(&original));
    let mut cut = Forger::new("kc-a", 10);
    cut.genesis();
    cut.confirm(ADA, 1, "open");
    cut.confirm(WIM, 1, "open");
    cut.close();
    let without = report::verify_with(
        &case(&cut.lines, "").transcript,
        &VerifyOptions {
            no_checkpoint: true,
            ..VerifyOptions::default()
        },
    )
    .expect("readable");
    assert_eq!(
        without.status(),
        Status::Valid,
        "the known limit of the chain alone, which --no-checkpoint accepts"
    );
    assert_fails(
        &judge(&case(&cut.lines, &final_checkpoint), false),
        Rule::CheckpointSize,
        "tree size 11 but the transcript has 8 lines",
    );
    let resigned = checkpoint_of(&cut, &cut.lines, &[cut.ceremony_signer()]);
    assert_fails(
        &judge(&case(&cut.lines, &resigned), false),
        Rule::CheckpointUnsigned,
        "Wim Witness signed in during the ceremony but did not cosign",
    );
}

#[test]
fn script_order_skips_and_early_close_are_caught() {
    let signers = |f: &Forger| checkpoint_of(f, &f.lines, &both_signers(f));
    let good = Forger::complete("kc-a", 10);
    assert_eq!(
        judge(&case(&good.lines, &signers(&good)), true).status(),
        Status::Valid
    );
    for (steps, line, reason) in [
        (
            vec![(ADA, 2, "check"), (WIM, 2, "check")],
            6,
            "an entry of step 2 `check` where step 1 was due",
        ),
        (
            vec![(ADA, 1, "open"), (WIM, 1, "open"), (ADA, 3, "close")],
            8,
            "an entry of step 3 `close` where step 2 was due",
        ),
        (
            vec![(ADA, 1, "check")],
            6,
            "step 1 is `open` in the script, not `check`",
        ),
        (
            vec![(2, 1, "open")],
            6,
            "Cleo Custodian confirmed step 1 as performer, but the script gives that to the administrator",
        ),
        (
            vec![(ADA, 1, "open"), (WIM, 1, "open")],
            8,
            "closed as completed after 1 of the script's 2 steps before its close",
        ),
    ] {
        let forger = Forger::run("kc-a", 10, &steps);
        let verdict = judge(&case(&forger.lines, &signers(&forger)), true);
        assert_fails(&verdict, Rule::StepOrder, reason);
        assert_eq!(
            verdict.violation.as_ref().map(|v| v.line),
            Some(line),
            "{reason}"
        );
        // Without the script the same transcript is a valid chain.
        assert_eq!(
            judge(&case(&forger.lines, &signers(&forger)), false).status(),
            Status::Valid
        );
    }
}

#[test]
fn another_script_is_refused_at_the_genesis() {
    let forger = Forger::complete("kc-a", 10);
    let c = case(
        &forger.lines,
        &checkpoint_of(&forger, &forger.lines, &both_signers(&forger)),
    );
    std::fs::write(
        &c.script,
        MINI_SCRIPT.replace("title: Check", "title: Look"),
    )
    .expect("write");
    assert_fails(&judge(&c, true), Rule::ScriptHash, "but the genesis binds");
}

/// The example's checkpoint checked with a few lines of C2SP code: the
/// note syntax, Ed25519 key ids, signatures by the ceremony key, the
/// witness and the auditor, and the RFC 6962 root over the lines.
#[test]
fn the_example_checkpoint_passes_an_independent_c2sp_check() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let transcript =
        std::fs::read(repo.join("transcripts/example-root-rehearsal.jsonl")).expect("example");
    let lines: Vec<Vec<u8>> = transcript
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let genesis: Value = serde_json::from_slice(&lines[0]).expect("genesis");
    let id = genesis["body"]["ceremony_id"].as_str().expect("id");
    let note = std::fs::read_to_string(repo.join(format!("transcripts/{id}.checkpoint")))
        .expect("the example's checkpoint is committed");
    let (text, signatures) = note.rsplit_once("\n\n").expect("blank line");
    let text = format!("{text}\n");
    assert_eq!(
        text,
        format!(
            "keyceremony/{id}\n{}\n{}\n",
            lines.len(),
            STANDARD.encode(mth(&lines))
        )
    );
    // The keys this checker trusts: the ceremony key (no resume in the
    // example) and the witness's and auditor's roster keys.
    let raw = |ssh: &str| -> VerifyingKey {
        let blob = STANDARD
            .decode(ssh.trim_start_matches("ssh-ed25519 "))
            .expect("blob");
        VerifyingKey::from_bytes(&blob[19..51].try_into().expect("32 bytes")).expect("key")
    };
    let mut trusted = vec![(
        format!("keyceremony/{id}"),
        VerifyingKey::from_bytes(
            &STANDARD
                .decode(genesis["body"]["ceremony_key"].as_str().expect("key"))
                .expect("b64")
                .try_into()
                .expect("32"),
        )
        .expect("key"),
    )];
    for person in genesis["body"]["roster"].as_array().expect("roster") {
        let role = person["role"].as_str().expect("role");
        if role == "witness" || role == "auditor" {
            let name = person["name"].as_str().expect("name");
            trusted.push((
                format!("keyceremony/{id}/{role}/{name}"),
                raw(person["ssh_key"].as_str().expect("key")),
            ));
        }
    }
    let mut verified = Vec::new();
    for line in signatures.lines() {
        let (name, blob) = line
            .strip_prefix("\u{2014} ")
            .expect("em dash")
            .split_once(' ')
            .expect("two fields");
        let blob = STANDARD.decode(blob).expect("base64");
        let Some((_, key)) = trusted
            .iter()
            .find(|(n, k)| n == name && key_id(n, k) == blob[..4])
        else {
            continue;
        };
        let signature = Signature::from_bytes(&blob[4..].try_into().expect("64 bytes"));
        key.verify_strict(text.as_bytes(), &signature)
            .expect("a known key's signature verifies");
        verified.push(name.to_owned());
    }
    assert_eq!(
        verified,
        [
            format!("keyceremony/{id}"),
            format!("keyceremony/{id}/witness/bob"),
            format!("keyceremony/{id}/auditor/heidi")
        ]
    );
}
