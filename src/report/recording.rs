//! The screen recording (`run --record`) against the transcript: the close
//! entry declares its file name, SHA-256 and length; `verify --recording
//! FILE` hashes the file the auditor was given and compares.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::facts::{Facts, RecordingFact};
use crate::shown::shown;

/// A recording file checked against what the close declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingCheck {
    pub path: PathBuf,
    /// The file's own SHA-256 (hex) and length.
    pub sha256: String,
    pub bytes: u64,
    /// What the transcript's close declares, if it declares a recording.
    pub declared: Option<RecordingFact>,
}

impl RecordingCheck {
    /// The file is the one the close declares.
    pub fn matches(&self) -> bool {
        self.declared
            .as_ref()
            .is_some_and(|d| d.recording.sha256 == self.sha256 && d.recording.bytes == self.bytes)
    }

    /// The verdict's line about it.
    pub fn line(&self) -> String {
        let path = shown(&self.path.display().to_string()).into_owned();
        match &self.declared {
            None => format!(
                "recording:  NOT CHECKED: the transcript declares no screen recording (a recorded run declares it in its close entry), so {path} cannot be checked against it"
            ),
            Some(d) if self.matches() => format!(
                "recording:  matches: {path} is the recording the close (line {}) declares as {}: SHA-256 {}, {} bytes",
                d.line,
                shown(&d.recording.file),
                self.sha256,
                self.bytes
            ),
            Some(d) => format!(
                "recording:  MISMATCH: {path} has SHA-256 {} ({} bytes), but the close (line {}) declares {} ({} bytes) for {}: it is not this ceremony's recording, or it was changed",
                self.sha256,
                self.bytes,
                d.line,
                d.recording.sha256,
                d.recording.bytes,
                shown(&d.recording.file)
            ),
        }
    }

    /// `verify --json`'s `recording_check`.
    pub fn json(&self) -> Value {
        json!({
            "path": self.path.display().to_string(),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "declared": self.declared.is_some(),
            "matches": self.matches(),
            "detail": self.line().trim_start_matches("recording:").trim(),
        })
    }
}

/// Hashes the file at `path` (streamed: a recording of a long ceremony is
/// megabytes) and compares it with what `facts` say the close declared.
pub fn check_recording(facts: &Facts, path: &Path) -> std::io::Result<RecordingCheck> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok(RecordingCheck {
        path: path.to_path_buf(),
        sha256: hex::encode(hasher.finalize()),
        bytes,
        declared: facts.recording.clone(),
    })
}

/// The verdict's line about a declared recording, for an auditor who was
/// not given the file (or has not checked it yet).
pub(crate) fn declared_lines(fact: &RecordingFact) -> String {
    let r = &fact.recording;
    let mut text = format!(
        "recording:  the close (line {}) declares a screen recording: {}, {} bytes, SHA-256 {} (check a copy with --recording FILE; the cosigning after the close is not in it)",
        fact.line,
        shown(&r.file),
        r.bytes,
        r.sha256
    );
    if let Some(error) = &r.error {
        text.push_str(&format!("\n            it STOPPED EARLY: {}", shown(error)));
    }
    text
}

/// `verify --json`'s `recording`: what the close declares, or null.
pub(crate) fn declared_json(facts: &Facts) -> Value {
    match &facts.recording {
        None => Value::Null,
        Some(d) => json!({
            "line": d.line,
            "file": d.recording.file,
            "sha256": d.recording.sha256,
            "bytes": d.recording.bytes,
            "error": d.recording.error,
        }),
    }
}
