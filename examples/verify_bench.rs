//! How far `keyceremony verify` is from the bare cryptographic work.
//!
//!     cargo run --release --example verify_bench [ENTRIES]
//!
//! Writes a transcript of ENTRIES lines (default 100 000) by the documented
//! format, with a checkpoint cosigned by the witness, verifies it as
//! `keyceremony verify` does (chain, canonical form, signatures, Merkle
//! root, checkpoint, facts), then times the bare work on the same bytes:
//! one SHA-256 per line and the same number of `verify_strict` calls.
//! Target (issue 5): verification within 1.3x of the bare work, memory flat
//! (peak RSS from /proc/self/status VmHWM, read before the bare work
//! loads its inputs into memory).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use keyceremony::report::{self, Status};
use keyceremony::transcript::merkle::MerkleTree;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let entries: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let ceremony = "bench-ceremony";
    let path = dir.path().join("bench.jsonl");
    let key = SigningKey::from_bytes(&[1; 32]);
    let admin = SigningKey::from_bytes(&[2; 32]);
    let witness = SigningKey::from_bytes(&[3; 32]);

    let started = Instant::now();
    let mut out = BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut tree = MerkleTree::new();
    let mut prev = "0".repeat(64);
    for seq in 0..entries {
        let (actor, kind, body) = match seq {
            0 => (
                "keyceremony",
                "genesis",
                json!({
                    "ceremony_id": ceremony, "nonce": "00112233445566778899aabbccddeeff",
                    "script": {"id": "bench", "version": "1", "title": "Bench", "sha256": "ab".repeat(32)},
                    "bindings_sha256": "cd".repeat(32),
                    "tool": {"name": "keyceremony", "version": "0.1.0", "binary_sha256": "ef".repeat(32)},
                    "mode": "rehearsal",
                    "roster": [
                        {"name": "Ada", "role": "administrator", "ssh_key": ssh_ed25519(admin.verifying_key().as_bytes())},
                        {"name": "Wim", "role": "witness", "ssh_key": ssh_ed25519(witness.verifying_key().as_bytes())},
                    ],
                    "secrets": [{"name": "so-pin", "k": 2, "n": 3}],
                    "ceremony_key": STANDARD.encode(key.verifying_key().as_bytes()),
                }),
            ),
            s if s == entries - 1 => (
                "keyceremony",
                "close",
                json!({"entries": entries, "outcome": "completed"}),
            ),
            s => (
                "Ada",
                "note",
                json!({"text": format!("entry {s}: the administrator reads the next item aloud"), "n": s}),
            ),
        };
        let mut entry = json!({"v": 1, "ceremony": ceremony, "seq": seq,
            "time": "2026-11-26T23:57:28Z", "actor": actor, "kind": kind, "body": body, "prev": prev});
        let mut message = b"keyceremony/v1/entry\n".to_vec();
        message.extend_from_slice(&canonical(&entry));
        entry["sig"] = json!(STANDARD.encode(key.sign(&message).to_bytes()));
        let line = canonical(&entry);
        prev = hex::encode(Sha256::digest(&line));
        tree.push_line(&line);
        out.write_all(&line)
            .and_then(|()| out.write_all(b"\n"))
            .expect("write");
    }
    out.flush().expect("flush");
    drop(out);
    let text = format!(
        "keyceremony/{ceremony}\n{entries}\n{}\n",
        STANDARD.encode(tree.root())
    );
    let mut note = format!("{text}\n");
    for (name, signer) in [
        (format!("keyceremony/{ceremony}"), &key),
        (format!("keyceremony/{ceremony}/witness/Wim"), &witness),
    ] {
        let id = &Sha256::digest(
            [
                name.as_bytes(),
                b"\n\x01",
                signer.verifying_key().as_bytes(),
            ]
            .concat(),
        )[..4];
        let blob = [id, &signer.sign(text.as_bytes()).to_bytes()[..]].concat();
        note.push_str(&format!("\u{2014} {name} {}\n", STANDARD.encode(blob)));
    }
    std::fs::write(dir.path().join(format!("{ceremony}.checkpoint")), note).expect("note");
    let size = std::fs::metadata(&path).expect("size").len();
    println!(
        "generated {entries} entries ({:.1} MiB) in {:.2?}",
        size as f64 / (1 << 20) as f64,
        started.elapsed()
    );
    let rss_before = peak_rss_kib();

    let started = Instant::now();
    let verdict = report::verify(&path).expect("readable");
    let verify_time = started.elapsed();
    assert_eq!(verdict.status(), Status::Valid, "{:?}", verdict.violation);
    assert!(matches!(
        verdict.checkpoint,
        report::CheckpointStatus::Checked { .. }
    ));
    let rss_after = peak_rss_kib();

    // The bare work's inputs, in memory: each line, and the message and
    // signature its entry signature covers.
    let mut lines = Vec::new();
    let mut signed = Vec::new();
    for line in BufReader::new(std::fs::File::open(&path).expect("open")).split(b'\n') {
        let line = line.expect("read");
        let mut entry: Value = serde_json::from_slice(&line).expect("json");
        let sig = entry
            .as_object_mut()
            .and_then(|o| o.remove("sig"))
            .and_then(|s| STANDARD.decode(s.as_str()?).ok())
            .expect("sig");
        let mut message = b"keyceremony/v1/entry\n".to_vec();
        message.extend_from_slice(&canonical(&entry));
        let signature = Signature::from_slice(&sig).expect("64 bytes");
        signed.push((message, signature));
        lines.push(line);
    }
    let public: VerifyingKey = key.verifying_key();
    let started = Instant::now();
    let mut digest_sink = 0u8;
    for (line, (message, signature)) in lines.iter().zip(&signed) {
        digest_sink ^= Sha256::digest(line)[0];
        public
            .verify_strict(message, signature)
            .expect("valid signature");
    }
    let bare_time = started.elapsed();
    std::hint::black_box(digest_sink);

    let ratio = verify_time.as_secs_f64() / bare_time.as_secs_f64();
    println!(
        "verify:     {verify_time:.2?} ({:.0} entries/s)",
        entries as f64 / verify_time.as_secs_f64()
    );
    println!("bare work:  {bare_time:.2?} ({entries} SHA-256 + {entries} verify_strict)");
    println!("ratio:      {ratio:.2}x (target <= 1.30x)");
    println!(
        "peak RSS:   {rss_before} KiB before verifying, {rss_after} KiB after ({} KiB for {entries} entries)",
        rss_after.saturating_sub(rss_before)
    );
}
