//! The one place a label, id or name becomes a file name. Key labels, step
//! ids, roster names and secret names come from a script or bindings, and
//! ceremony ids and artifact paths from a transcript someone handed over:
//! none of them may name a file outside the directory it is joined to, or
//! a hidden one. Every file name the tool builds from them goes through
//! [`file_name`] (or [`join`], [`relative_path`]).

use std::path::{Path, PathBuf};

use crate::shown::shown;

/// Longer names than this are refused: every real one is far shorter, and
/// file systems cap a name at 255 bytes.
pub const MAX_FILE_NAME_BYTES: usize = 128;

/// Why a text cannot be a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("an empty name cannot be a file name")]
    Empty,
    #[error("`{}` cannot be a file name: it is longer than {MAX_FILE_NAME_BYTES} bytes", shown(.0))]
    TooLong(String),
    #[error("`{}` cannot be a file name: it starts with a dot", shown(.0))]
    LeadingDot(String),
    #[error("`{}` cannot be a file name: only a-z, 0-9, '.', '_' and '-' may be in one", shown(.0))]
    Character(String),
}

/// `name` itself when it is a safe file name: 1 to [`MAX_FILE_NAME_BYTES`]
/// bytes of `[a-z0-9._-]`, not starting with a dot (so never `.` or `..`,
/// never hidden). No `/`, so it is one component and stays in its directory.
pub fn file_name(name: &str) -> Result<&str, FileNameError> {
    if name.is_empty() {
        return Err(FileNameError::Empty);
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(FileNameError::TooLong(name.to_string()));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(FileNameError::Character(name.to_string()));
    }
    if name.starts_with('.') {
        return Err(FileNameError::LeadingDot(name.to_string()));
    }
    Ok(name)
}

/// `dir/name`, with `name` checked by [`file_name`].
pub fn join(dir: &Path, name: &str) -> Result<PathBuf, FileNameError> {
    Ok(dir.join(file_name(name)?))
}

/// A relative path recorded in a transcript (`ceremony-id/backup/x.wrapped`):
/// every `/`-separated component must be a [`file_name`], so the path stays
/// under the directory it is joined to.
pub fn relative_path(path: &str) -> Result<PathBuf, FileNameError> {
    let mut out = PathBuf::new();
    for part in path.split('/') {
        out.push(file_name(part)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_tool_builds_are_accepted() {
        for name in [
            "root-ca-key.pub.pem",
            "carol.so-pin.age",
            "root-key-generation-20261203-a26173.jsonl",
            "sign_root.pem",
        ] {
            assert_eq!(file_name(name), Ok(name));
        }
        assert_eq!(
            relative_path("c-1/backup/root-ca-key.wrapped"),
            Ok(PathBuf::from("c-1")
                .join("backup")
                .join("root-ca-key.wrapped"))
        );
    }

    #[test]
    fn traversal_hidden_and_foreign_names_are_refused() {
        assert_eq!(file_name(""), Err(FileNameError::Empty));
        for name in ["..", ".", ".hidden", "..x"] {
            assert_eq!(file_name(name), Err(FileNameError::LeadingDot(name.into())));
        }
        for name in [
            "../x",
            "a/b",
            "a\\b",
            "Root",
            "a b",
            "a\0b",
            "é",
            "a\u{202e}b",
        ] {
            assert_eq!(file_name(name), Err(FileNameError::Character(name.into())));
        }
        let long = "a".repeat(MAX_FILE_NAME_BYTES + 1);
        assert_eq!(file_name(&long), Err(FileNameError::TooLong(long.clone())));
        assert!(file_name(&long[1..]).is_ok());
        for path in ["../x", "a//b", "/etc/passwd", "a/./b", "a/../b", ""] {
            assert!(relative_path(path).is_err(), "{path}");
        }
    }

    #[test]
    fn a_refused_name_is_shown_escaped() {
        let error = file_name("a\u{1b}[2Jb").expect_err("escape");
        assert!(!error.to_string().contains('\u{1b}'), "{error}");
    }
}
