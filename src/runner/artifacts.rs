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
/// crash right after leaves either no file or the whole file. The file is
/// the owner's alone (0600): a backup blob is ciphertext under a KEK that
/// is itself only a defence in depth, and sealed shares and keys' public
/// halves lose nothing by it.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| output_error(parent, e))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
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

/// Moves aside a file left by work a crash interrupted (a share file of an
/// unfinished split, a half-written export): renamed `<name>.void`, or
/// `<name>.void-2` and so on, never deleted. Returns the new path, if there
/// was a file.
pub fn void_existing(path: &Path) -> Result<Option<std::path::PathBuf>, RunError> {
    if !path.exists() {
        return Ok(None);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = (1..)
        .map(|n| {
            let suffix = if n == 1 {
                String::from(".void")
            } else {
                format!(".void-{n}")
            };
            path.with_file_name(format!("{name}{suffix}"))
        })
        .find(|p| !p.exists())
        .expect("an unused name exists");
    std::fs::rename(path, &target).map_err(|e| output_error(path, e))?;
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voiding_renames_and_never_overwrites_an_earlier_void() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("carol.so-pin.age");
        assert_eq!(void_existing(&path).expect("nothing to void"), None);
        for round in 1..=3 {
            std::fs::write(&path, format!("attempt {round}")).expect("write");
            let moved = void_existing(&path)
                .expect("voided")
                .expect("a file was there");
            assert!(!path.exists());
            assert_eq!(
                std::fs::read_to_string(&moved).expect("read"),
                format!("attempt {round}")
            );
        }
        assert!(dir.path().join("carol.so-pin.age.void").exists());
        assert!(dir.path().join("carol.so-pin.age.void-2").exists());
        assert!(dir.path().join("carol.so-pin.age.void-3").exists());
    }
}
