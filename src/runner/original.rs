//! The original ceremony a restore or a custodian rotation continues from,
//! read from its transcript: which shares exist (the split records and who
//! holds them), which keys were made and how they were backed up.
//!
//! Only a transcript that verifies and closed as completed is accepted: a
//! restore proves its key against the public key this transcript recorded,
//! so the transcript itself must be beyond doubt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::RunError;
use super::vault::Holder;
use crate::hsm::{KeyAlgorithm, KeyUsage};
use crate::quorum::SplitRecord;
use crate::transcript::{self, CloseOutcome, Outcome};

/// A split of the original ceremony: its public record, who holds which
/// share, and the PIN length its PINs were derived with.
#[derive(Debug, Clone)]
pub struct OriginalSplit {
    pub record: SplitRecord,
    pub holders: Vec<Holder>,
    pub pin_length: Option<usize>,
    /// Where its share files are: the artifacts directory of the ceremony
    /// that made this split (the original, or the rotation that replaced
    /// the original's split).
    pub artifacts_dir: PathBuf,
}

/// A split a reshare made void: its shares are refused by name.
#[derive(Debug, Clone)]
pub struct VoidedSplit {
    pub secret: String,
    /// The ceremony whose split it was (its shares carry this id).
    pub ceremony: String,
    pub commitments: Vec<String>,
    /// The ceremony whose reshare voided it.
    pub voided_by: String,
}

/// A rotation the bindings list after the original: the facts its
/// `original-ceremony` entry records (this ceremony records them in turn).
#[derive(Debug, Clone)]
pub struct RotationLink {
    pub ceremony_id: String,
    pub head_hex: String,
    pub entries: u64,
    pub tree_root_hex: String,
    pub file_sha256: String,
}

/// A key the original ceremony generated.
#[derive(Debug, Clone)]
pub struct OriginalKey {
    pub algorithm: KeyAlgorithm,
    pub usage: KeyUsage,
    pub id_hex: String,
    pub spki_sha256: String,
    /// "none" or "wrapped", as the generate-key entry recorded it.
    pub backup: String,
    pub wrapped: Option<WrappedBackup>,
}

/// A key's backup as the original's backup-key entry recorded it.
#[derive(Debug, Clone)]
pub struct WrappedBackup {
    /// Absolute path of the wrapped blob.
    pub file: PathBuf,
    pub file_sha256: String,
    pub mechanism: String,
    pub kek: String,
    /// The public key, DER (SubjectPublicKeyInfo), checked against the
    /// fingerprint recorded at generation.
    pub spki_der: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Original {
    pub path: PathBuf,
    pub ceremony_id: String,
    pub head_hex: String,
    pub entries: u64,
    /// The RFC 6962 root over its lines: what its checkpoint signs.
    pub tree_root_hex: String,
    pub file_sha256: String,
    /// Where the original's artifacts (share files, backups) are.
    pub artifacts_dir: PathBuf,
    pub splits: BTreeMap<String, OriginalSplit>,
    /// PINs set with the vendor's tool, sealed under its secrets.
    pub sealed_pins: BTreeMap<String, crate::quorum::SealedPin>,
    pub keys: BTreeMap<String, OriginalKey>,
    /// CA certificates its root-certificate steps made, by key label (DER).
    pub certificates: BTreeMap<String, Vec<u8>>,
    /// Splits its reshares (and those of the rotations applied to it) made
    /// void, oldest first.
    pub voided: Vec<VoidedSplit>,
    /// The ceremony its `original-ceremony` entry names, if it continues one.
    pub continues: Option<String>,
    /// The rotations applied after it (bindings `original.rotations`), in order.
    pub rotations: Vec<RotationLink>,
}

fn refused(message: impl Into<String>) -> RunError {
    RunError::Setup(message.into())
}

impl Original {
    pub fn load(path: &Path) -> Result<Original, RunError> {
        let bytes = crate::input::read_capped(path, crate::input::MAX_TRANSCRIPT_BYTES)
            .map_err(|e| refused(format!("the original transcript {}: {e}", path.display())))?;
        let mut entries: Vec<(String, Value)> = Vec::new();
        let outcome = transcript::verify_file_visiting(path, &mut |e| {
            entries.push((e.kind.clone(), Value::Object(e.body.clone())))
        })
        .map_err(|e| refused(e.to_string()))?;
        let summary = match outcome {
            Outcome::Valid(summary) if summary.closed == Some(CloseOutcome::Completed) => summary,
            Outcome::Valid(_) => {
                return Err(refused(format!(
                    "the original ceremony {} was aborted: nothing it made can be continued",
                    path.display()
                )));
            }
            Outcome::Incomplete(..) => {
                return Err(refused(format!(
                    "the original transcript {} is incomplete: finish it (run --resume) first",
                    path.display()
                )));
            }
            Outcome::Tampered(v) => {
                return Err(refused(format!(
                    "the original transcript {} does not verify ({v}): it cannot be trusted",
                    path.display()
                )));
            }
        };
        let ceremony_id = summary.genesis.ceremony_id.clone();
        let dir = path.parent().unwrap_or(Path::new("."));
        // Every file name below comes from the original transcript, which
        // whoever handed it over may have written.
        let recorded = |what: &str, e: crate::file_name::FileNameError| {
            refused(format!("the original transcript's {what}: {e}"))
        };
        let artifacts_dir =
            crate::file_name::join(dir, &ceremony_id).map_err(|e| recorded("ceremony id", e))?;
        let mut original = Original {
            path: path.to_path_buf(),
            artifacts_dir,
            ceremony_id,
            head_hex: summary.head.hex(),
            entries: summary.entries,
            tree_root_hex: hex::encode(summary.tree_root),
            file_sha256: hex::encode(Sha256::digest(&bytes)),
            splits: BTreeMap::new(),
            sealed_pins: BTreeMap::new(),
            keys: BTreeMap::new(),
            certificates: BTreeMap::new(),
            voided: Vec::new(),
            continues: None,
            rotations: Vec::new(),
        };
        for (kind, body) in &entries {
            original.observe(kind, body, dir)?;
        }
        Ok(original)
    }

    fn observe(&mut self, kind: &str, b: &Value, dir: &Path) -> Result<(), RunError> {
        match super::vault::sealed_pin_in(b).map_err(refused)? {
            Some(super::vault::SealedPinFact::Sealed(sealed)) => {
                self.sealed_pins.insert(sealed.secret_name.clone(), sealed);
            }
            Some(super::vault::SealedPinFact::Replaced(name)) => {
                self.sealed_pins.remove(&name);
            }
            None => {}
        }
        match kind {
            "original-ceremony" => {
                self.continues = b["ceremony"].as_str().map(String::from);
            }
            // A reshare replaces the split: the newest record is the one
            // whose shares are valid.
            "split-secret" | "reshare" => {
                let record: SplitRecord = serde_json::from_value(b["split"].clone())
                    .map_err(|e| refused(format!("a split record does not parse: {e}")))?;
                let holders = b["holders"]
                    .as_array()
                    .map(|hs| {
                        hs.iter()
                            .filter_map(|h| {
                                Some(Holder {
                                    custodian: h["custodian"].as_str()?.to_string(),
                                    index: u8::try_from(h["index"].as_u64()?).ok()?,
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                if kind == "reshare" {
                    let commitments = b["void"]["commitments"]
                        .as_array()
                        .map(|cs| {
                            cs.iter()
                                .filter_map(|c| c.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.voided.push(VoidedSplit {
                        secret: record.secret.as_str().to_string(),
                        ceremony: b["void"]["ceremony"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        commitments,
                        voided_by: self.ceremony_id.clone(),
                    });
                }
                self.splits.insert(
                    record.secret.as_str().to_string(),
                    OriginalSplit {
                        record,
                        holders,
                        pin_length: b["pin_length"].as_u64().map(|n| n as usize),
                        artifacts_dir: self.artifacts_dir.clone(),
                    },
                );
            }
            "generate-key" => {
                let label = b["label"].as_str().unwrap_or_default().to_string();
                let unreadable = |what: &str, e: serde_json::Error| {
                    refused(format!("key `{label}`: {what} does not parse: {e}"))
                };
                let algorithm: KeyAlgorithm =
                    serde_json::from_value(b["public_key"]["algorithm"].clone())
                        .or_else(|_| serde_json::from_value(b["algorithm"].clone()))
                        .map_err(|e| unreadable("its algorithm", e))?;
                let usage: KeyUsage = serde_json::from_value(b["usage"].clone())
                    .map_err(|e| unreadable("its usage", e))?;
                self.keys.insert(
                    label.clone(),
                    OriginalKey {
                        algorithm,
                        usage,
                        id_hex: b["id"].as_str().unwrap_or_default().to_string(),
                        spki_sha256: b["public_key"]["spki_sha256"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        backup: b["backup"].as_str().unwrap_or("none").to_string(),
                        wrapped: None,
                    },
                );
            }
            "backup-key" => {
                let label = b["label"].as_str().unwrap_or_default();
                let pem = b["public_key"]["pem"].as_str().unwrap_or_default();
                let spki_der = pem_body(pem).ok_or_else(|| {
                    refused(format!(
                        "the backup of `{label}` records no readable public key"
                    ))
                })?;
                let Some(key) = self.keys.get_mut(label) else {
                    return Err(refused(format!(
                        "the original backs up `{label}`, which it never generated"
                    )));
                };
                if hex::encode(Sha256::digest(&spki_der)) != key.spki_sha256 {
                    return Err(refused(format!(
                        "the public key recorded with the backup of `{label}` is not the one recorded at its generation"
                    )));
                }
                key.wrapped = Some(WrappedBackup {
                    file: dir.join(
                        crate::file_name::relative_path(b["file"].as_str().unwrap_or_default())
                            .map_err(|e| {
                                refused(format!("the original transcript's backup file: {e}"))
                            })?,
                    ),
                    file_sha256: b["file_sha256"].as_str().unwrap_or_default().to_string(),
                    mechanism: b["mechanism"].as_str().unwrap_or_default().to_string(),
                    kek: b["kek_label"].as_str().unwrap_or_default().to_string(),
                    spki_der,
                });
            }
            "root-certificate" => {
                let key = b["key"].as_str().unwrap_or_default();
                let file = dir.join(
                    crate::file_name::relative_path(b["file"].as_str().unwrap_or_default())
                        .map_err(|e| {
                            refused(format!("the original transcript's certificate file: {e}"))
                        })?,
                );
                let pem = crate::input::read_capped_text(&file, crate::input::MAX_SMALL_FILE_BYTES)
                    .map_err(|e| {
                        refused(format!(
                            "the certificate of `{key}` should be at {}: {e}",
                            file.display()
                        ))
                    })?;
                let der = pem_body(&pem).ok_or_else(|| {
                    refused(format!("{} is not a PEM certificate", file.display()))
                })?;
                if hex::encode(Sha256::digest(&der)) != b["sha256"].as_str().unwrap_or_default() {
                    return Err(refused(format!(
                        "{} is not the certificate the original recorded (SHA-256 differs)",
                        file.display()
                    )));
                }
                self.certificates.insert(key.to_string(), der);
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies a rotation that continues this ceremony (or the rotation
    /// applied before it): its reshares become the current splits, the
    /// splits they replaced are void. Refused unless it verified (`load`),
    /// names this ceremony as its original, and each of its reshares voids
    /// exactly the split that is current here: a rotation of another
    /// ceremony, or one listed out of order, would make shares of the wrong
    /// split current.
    pub fn apply_rotation(&mut self, rotation: Original) -> Result<(), RunError> {
        let shown = rotation.path.display().to_string();
        if rotation.continues.as_deref() != Some(self.ceremony_id.as_str()) {
            return Err(refused(format!(
                "the rotation {shown} (ceremony {}) does not continue ceremony {}: its bindings named {} as its original",
                rotation.ceremony_id,
                self.ceremony_id,
                rotation.continues.as_deref().unwrap_or("no ceremony")
            )));
        }
        let reshares: Vec<&VoidedSplit> = rotation
            .voided
            .iter()
            .filter(|v| v.voided_by == rotation.ceremony_id)
            .collect();
        if reshares.is_empty() {
            return Err(refused(format!(
                "{shown} (ceremony {}) reshares no secret: it is not a rotation",
                rotation.ceremony_id
            )));
        }
        let previous = self
            .rotations
            .last()
            .map_or(self.ceremony_id.clone(), |r| r.ceremony_id.clone());
        for void in &reshares {
            let current = self.split(&void.secret).map_err(refused)?;
            if void.ceremony != current.record.ceremony_id
                || void.commitments != current.record.commitments
            {
                return Err(refused(format!(
                    "the rotation {shown} (ceremony {}) replaced the split of `{}` made by ceremony {}, but the current split is ceremony {}'s: list the rotations in the order they happened, each continuing {previous} or the one before it",
                    rotation.ceremony_id, void.secret, void.ceremony, current.record.ceremony_id
                )));
            }
        }
        for void in reshares {
            let split = rotation.split(&void.secret).map_err(refused)?.clone();
            self.splits.insert(void.secret.clone(), split);
            match rotation.sealed_pins.get(&void.secret) {
                Some(sealed) => {
                    self.sealed_pins.insert(void.secret.clone(), sealed.clone());
                }
                None => {
                    self.sealed_pins.remove(&void.secret);
                }
            }
            self.voided.push(void.clone());
        }
        // A rotation must continue the original directly: its own
        // `original-ceremony` names the original, and its bindings listed
        // the earlier rotations (checked by its reshare voiding the split
        // that is current here).
        self.rotations.push(RotationLink {
            ceremony_id: rotation.ceremony_id,
            head_hex: rotation.head_hex,
            entries: rotation.entries,
            tree_root_hex: rotation.tree_root_hex,
            file_sha256: rotation.file_sha256,
        });
        Ok(())
    }

    /// The rotation that voided the share of `secret` with this commitment
    /// (hex), if a listed reshare voided it.
    pub fn voided_by(&self, secret: &str, commitment: &str) -> Option<&VoidedSplit> {
        self.voided
            .iter()
            .find(|v| v.secret == secret && v.commitments.iter().any(|c| c == commitment))
    }

    /// Its keys' public key fingerprints, by label.
    pub fn fingerprints(&self) -> BTreeMap<String, String> {
        self.keys
            .iter()
            .map(|(label, key)| (label.clone(), key.spki_sha256.clone()))
            .collect()
    }

    /// The split of `secret`, or why there is none.
    pub fn split(&self, secret: &str) -> Result<&OriginalSplit, String> {
        self.splits.get(secret).ok_or_else(|| {
            format!(
                "the original ceremony {} never split a secret named `{secret}`",
                self.ceremony_id
            )
        })
    }

    /// The key `label` and its backup, or why it cannot be restored.
    pub fn backup(&self, label: &str) -> Result<(&OriginalKey, &WrappedBackup), String> {
        let key = self.keys.get(label).ok_or_else(|| {
            format!(
                "the original ceremony {} never generated a key labelled `{label}`",
                self.ceremony_id
            )
        })?;
        match &key.wrapped {
            Some(wrapped) => Ok((key, wrapped)),
            None if key.backup == "none" => Err(format!(
                "key `{label}` of ceremony {} was generated with `backup: none`: it never left its HSM and has no backup, so it cannot be restored. Only a key generated with `backup: wrapped` can be",
                self.ceremony_id
            )),
            None => Err(format!(
                "key `{label}` of ceremony {} may be backed up, but no backup-key step recorded a backup",
                self.ceremony_id
            )),
        }
    }

    /// The public facts a restore or rotation records about its origin.
    pub fn record(&self) -> Value {
        let mut record = json!({
            "ceremony": self.ceremony_id,
            "head": self.head_hex,
            "entries": self.entries,
            "tree_root": self.tree_root_hex,
            "transcript_sha256": self.file_sha256,
        });
        // Only when there are any: a ceremony without rotations records
        // what it always did.
        if !self.rotations.is_empty() {
            record["rotations"] = self
                .rotations
                .iter()
                .map(|r| {
                    json!({
                        "ceremony": r.ceremony_id,
                        "head": r.head_hex,
                        "entries": r.entries,
                        "tree_root": r.tree_root_hex,
                        "transcript_sha256": r.file_sha256,
                    })
                })
                .collect();
        }
        record
    }
}

/// The DER inside a PEM block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
