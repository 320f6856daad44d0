//! Verifying a transcript file, and the verdicts.

use crate::input::{MAX_TRANSCRIPT_BYTES, too_large};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::MAX_LINE_BYTES;
use super::error::{TranscriptError, Violation};
use super::verifier::{Summary, VerifiedEntry, Verifier};

/// Why a transcript whose lines all verify is still not complete evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incompleteness {
    #[error("no close entry: the transcript may have been cut after its last line")]
    NoClose,
    #[error(
        "the last {bytes} bytes are not terminated by a newline (a write was cut short, \
         or the file was truncated) and were not verified; no close entry before them"
    )]
    UnterminatedLastLine { bytes: usize },
}

/// The verdict on a transcript file.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every line verifies and the close entry is present.
    Valid(Summary),
    /// Every complete line verifies, but the end is missing.
    Incomplete(Summary, Incompleteness),
    /// A rule is broken: the file is not what the ceremony wrote.
    Tampered(Violation),
}

/// Verifies a transcript file, reading it line by line.
///
/// A last line without its newline is never verified: if a close entry came
/// before it, it is a violation (nothing may follow the close); otherwise the
/// transcript is [`Outcome::Incomplete`], as after a crash mid-write.
/// Only I/O errors are errors; a bad transcript is an [`Outcome`].
pub fn verify_file(path: &Path) -> Result<Outcome, TranscriptError> {
    verify_file_visiting(path, &mut |_| {})
}

/// [`verify_file`], handing every entry that verifies to `visit`, in order,
/// so a caller can gather facts (steps, keys) in the same single pass. An
/// entry is visited only after it verified; the verdict still decides
/// whether those facts can be trusted.
pub fn verify_file_visiting(
    path: &Path,
    visit: &mut dyn FnMut(&VerifiedEntry),
) -> Result<Outcome, TranscriptError> {
    let file =
        File::open(path).map_err(|source| TranscriptError::io("cannot open", path, source))?;
    // Refused unread when the size is known; the count below covers pipes.
    if file
        .metadata()
        .is_ok_and(|m| m.len() > MAX_TRANSCRIPT_BYTES)
    {
        return Err(TranscriptError::io(
            "cannot read",
            path,
            too_large(MAX_TRANSCRIPT_BYTES),
        ));
    }
    let mut reader = BufReader::new(file);
    let mut verifier = Verifier::new();
    let mut line = Vec::new();
    // One byte more than a maximal line and its newline, to see a line too long.
    let read_limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 2;
    let mut total: u64 = 0;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(read_limit)
            .read_until(b'\n', &mut line)
            .map_err(|source| TranscriptError::io("cannot read", path, source))?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if total > MAX_TRANSCRIPT_BYTES {
            return Err(TranscriptError::io(
                "cannot read",
                path,
                too_large(MAX_TRANSCRIPT_BYTES),
            ));
        }
        let terminated = line.last() == Some(&b'\n');
        if terminated {
            line.pop();
        }
        if terminated || line.len() > MAX_LINE_BYTES || verifier.is_closed() {
            match verifier.push_line(&line) {
                Ok(entry) => visit(&entry),
                Err(violation) => return Ok(Outcome::Tampered(violation)),
            }
            continue;
        }
        return Ok(match verifier.finish() {
            Ok(summary) => Outcome::Incomplete(
                summary,
                Incompleteness::UnterminatedLastLine { bytes: line.len() },
            ),
            Err(violation) => Outcome::Tampered(violation),
        });
    }
    Ok(match verifier.finish() {
        Ok(summary) if summary.closed.is_some() => Outcome::Valid(summary),
        Ok(summary) => Outcome::Incomplete(summary, Incompleteness::NoClose),
        Err(violation) => Outcome::Tampered(violation),
    })
}
