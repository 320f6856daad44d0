//! An insider's forger: it rewrites the tail of a real transcript the way
//! one person who knows docs/transcript.md would, holding only their own
//! roster key (the administrator's demo key) and a ceremony key they made.
//! Written from the document alone, like the Forger of transcript_attacks.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn canonical(value: &Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value).expect("canonical")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The raw Ed25519 key inside a demo OpenSSH private key file.
pub fn demo_signing_key(path: &Path) -> SigningKey {
    let text = std::fs::read_to_string(path).expect("demo key");
    let private = ssh_key::PrivateKey::from_openssh(&text).expect("openssh key");
    match private.key_data() {
        ssh_key::private::KeypairData::Ed25519(pair) => {
            SigningKey::from_bytes(&pair.private.to_bytes())
        }
        _ => panic!("demo keys are ed25519"),
    }
}

/// The body without its `signatures`, as a participant signs it.
fn unsigned_body(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("signatures");
    }
    body
}

/// What a participant signs for an entry (docs/transcript.md section 5).
pub fn act_message(
    purpose: &str,
    ceremony: &str,
    seq: u64,
    prev: &str,
    actor: &str,
    kind: &str,
    body: &Value,
) -> Vec<u8> {
    let mut message =
        format!("keyceremony/v2/{purpose}\n{ceremony}\n{seq}\n{prev}\n{actor}\n{kind}\n")
            .into_bytes();
    message.extend_from_slice(&canonical(&unsigned_body(body)));
    message
}

/// A transcript being rewritten from some line on.
pub struct Rewrite {
    pub lines: Vec<Vec<u8>>,
    pub ceremony: String,
    /// The key that signs the lines the forger appends.
    pub key: SigningKey,
    pub time: String,
}

impl Rewrite {
    /// The first `keep` lines of `transcript`, to be continued under `key`.
    pub fn cut(transcript: &Path, keep: usize, key: SigningKey) -> Rewrite {
        let text = std::fs::read_to_string(transcript).expect("transcript");
        let lines: Vec<Vec<u8>> = text
            .lines()
            .take(keep)
            .map(|l| l.as_bytes().to_vec())
            .collect();
        let last: Value = serde_json::from_slice(lines.last().expect("a line")).expect("json");
        Rewrite {
            ceremony: last["ceremony"].as_str().expect("ceremony").to_string(),
            time: last["time"].as_str().expect("time").to_string(),
            lines,
            key,
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.lines.len() as u64
    }

    pub fn head(&self) -> String {
        sha256_hex(self.lines.last().expect("a line"))
    }

    /// A participant signature over the next entry.
    pub fn signature(
        &self,
        who: &str,
        key: &SigningKey,
        purpose: &str,
        actor: &str,
        kind: &str,
        body: &Value,
    ) -> Value {
        let message = act_message(
            purpose,
            &self.ceremony,
            self.next_seq(),
            &self.head(),
            actor,
            kind,
            body,
        );
        json!({"participant": who, "purpose": purpose,
               "signature": STANDARD.encode(key.sign(&message).to_bytes())})
    }

    /// Appends an entry, signed by the forger's ceremony key.
    pub fn push(&mut self, actor: &str, kind: &str, body: Value) {
        let mut entry = json!({"v": 2, "ceremony": self.ceremony, "seq": self.next_seq(),
            "time": self.time, "actor": actor, "kind": kind, "body": body,
            "prev": self.head()});
        let mut message = b"keyceremony/v2/entry\n".to_vec();
        message.extend_from_slice(&canonical(&entry));
        entry["sig"] = json!(STANDARD.encode(self.key.sign(&message).to_bytes()));
        self.lines.push(canonical(&entry));
    }

    /// Appends `body` by `actor`, signed by each of `signers` (name, key,
    /// purpose) over the entry.
    pub fn push_signed(
        &mut self,
        actor: &str,
        kind: &str,
        mut body: Value,
        signers: &[(&str, &SigningKey, &str)],
    ) {
        let signatures: Vec<Value> = signers
            .iter()
            .map(|(who, key, purpose)| self.signature(who, key, purpose, actor, kind, &body))
            .collect();
        if !signatures.is_empty() {
            body["signatures"] = Value::Array(signatures);
        }
        self.push(actor, kind, body);
    }

    pub fn write(&self, path: &Path) {
        let mut bytes = Vec::new();
        for line in &self.lines {
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
        std::fs::write(path, bytes).expect("write the rewritten transcript");
    }
}

/// The entries of a transcript file, parsed.
pub fn parsed_lines(transcript: &Path) -> Vec<Value> {
    std::fs::read_to_string(transcript)
        .expect("transcript")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// The 1-based line of the first entry of `kind` at step `step`.
pub fn line_of(entries: &[Value], kind: &str, step: &str) -> usize {
    entries
        .iter()
        .position(|e| e["kind"] == kind && e["body"]["step"] == step)
        .unwrap_or_else(|| panic!("no {kind} at {step}"))
        + 1
}

/// Copies a committed example transcript, its artifacts and checkpoint
/// into `dir`, so that a test can cut and rewrite its own copy.
pub fn copy_example(name: &str, dir: &Path) -> std::path::PathBuf {
    let transcripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts");
    let source = transcripts.join(format!("{name}.jsonl"));
    let entries = parsed_lines(&source);
    let id = entries[0]["ceremony"].as_str().expect("id").to_string();
    let target = dir.join(format!("{name}.jsonl"));
    std::fs::copy(&source, &target).expect("copy transcript");
    let checkpoint = transcripts.join(format!("{id}.checkpoint"));
    if checkpoint.exists() {
        std::fs::copy(&checkpoint, dir.join(format!("{id}.checkpoint"))).expect("checkpoint");
    }
    copy_tree(&transcripts.join(&id), &dir.join(&id));
    target
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy file");
        }
    }
}
