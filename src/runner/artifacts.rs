//! Output files: created exclusively (never overwriting evidence or keys),
//! flushed to disk before the transcript says they exist.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::RunError;

fn output_error(path: &Path, e: std::io::Error) -> RunError {
    RunError::Output(format!("{}: {e}", path.display()))
}

/// Creates a directory that must not exist yet.
pub fn create_dir_new(path: &Path) -> Result<(), RunError> {
    std::fs::create_dir(path).map_err(|e| output_error(path, e))
}

/// Writes a new file (O_EXCL) and syncs it and its directory, so that a
/// crash right after leaves either no file or the whole file.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| output_error(path, e))?;
    file.write_all(bytes).map_err(|e| output_error(path, e))?;
    file.sync_all().map_err(|e| output_error(path, e))?;
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| output_error(parent, e))?;
    }
    Ok(())
}

/// `path` as written in the transcript: relative to the transcript's
/// directory, with forward slashes, so the evidence moves as one folder.
pub fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
