//! Ceremony scripts and bindings: YAML in, a validated model out.
//!
//! Loading never touches an HSM. Every problem is reported as
//! `file:line:column: what is wrong`, so a broken script stops a ceremony
//! before anything happens and the reviewer can find the line.

mod bindings;
mod demo;
mod locate;
mod model;
mod validate;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use bindings::{
    BINDINGS_FORMAT, Bindings, ExpectedToken, HsmBinding, Mode, Outputs, Person, TokenSelector,
};
pub use locate::{Locator, Position, YamlPath};
pub use model::*;
pub use validate::{Ceremony, warnings};

/// One problem found in a script or bindings file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}:{}: {message}", file.display(), position.line, position.column)]
pub struct Problem {
    pub file: PathBuf,
    pub position: Position,
    pub message: String,
}

/// Why a script or its bindings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// One or more problems, each with its file, line and column.
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
}

impl ScriptError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScriptError::Invalid { problems } => problems,
            ScriptError::Read { .. } => &[],
        }
    }
}

/// A parsed YAML file with what is needed to report on it and to bind it
/// into a transcript.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: T,
    pub path: PathBuf,
    /// SHA-256 of the exact bytes read: what the genesis entry records.
    pub sha256: [u8; 32],
    pub text: String,
}

impl<T> Loaded<T> {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// A problem at `path` inside this file.
    pub fn problem(&self, path: &YamlPath, message: impl Into<String>) -> Problem {
        Problem {
            file: self.path.clone(),
            position: Locator::new(&self.text).position(path),
            message: message.into(),
        }
    }
}

/// Reads and parses a YAML file into `T`, reporting serde's own errors
/// (syntax, unknown field, missing field, wrong type) at their position.
pub fn load_yaml<T: DeserializeOwned>(path: &Path) -> Result<Loaded<T>, ScriptError> {
    let bytes =
        crate::input::read_capped(path, crate::input::MAX_YAML_BYTES).map_err(|source| {
            ScriptError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let invalid = |position: Position, message: String| ScriptError::Invalid {
        problems: vec![Problem {
            file: path.to_path_buf(),
            position,
            message,
        }],
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        invalid(
            Position { line: 1, column: 1 },
            "the file is not UTF-8 text".into(),
        )
    })?;
    if let Some(position) = too_deep(&text, crate::input::MAX_YAML_DEPTH) {
        return Err(invalid(
            position,
            format!(
                "collections nested more than {} deep: refused before parsing (a script needs six)",
                crate::input::MAX_YAML_DEPTH
            ),
        ));
    }
    match serde_yaml::from_str::<T>(&text) {
        Ok(value) => Ok(Loaded {
            value,
            path: path.to_path_buf(),
            sha256,
            text,
        }),
        Err(e) => {
            let position = e
                .location()
                .map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                })
                .unwrap_or(Position { line: 1, column: 1 });
            Err(invalid(position, serde_message(&e)))
        }
    }
}

/// Where `text` first nests collections deeper than `max`, read as a
/// stream of events that stops there: time linear in the bytes up to that
/// point, however hostile the rest. A syntax error is left to serde_yaml,
/// which reports it with its position.
fn too_deep(text: &str, max: usize) -> Option<Position> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        match parser.next_token() {
            Ok((Event::SequenceStart(..) | Event::MappingStart(..), mark)) => {
                depth += 1;
                if depth > max {
                    return Some(Position {
                        line: mark.line(),
                        column: mark.col() + 1,
                    });
                }
            }
            Ok((Event::SequenceEnd | Event::MappingEnd, _)) => depth = depth.saturating_sub(1),
            // yaml-rust2 scans ahead over nested flow collections and
            // stops at 255 levels: that too is nesting past the cap.
            Err(e) if e.info() == "recursion limit exceeded" => {
                return Some(Position {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                });
            }
            Ok((Event::StreamEnd, _)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// serde_yaml appends " at line L column C" to its messages; that position
/// is already in front of ours, so drop the repetition (but keep any other
/// position, such as where an unterminated quote began).
fn serde_message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
        None => text,
    }
}

/// Loads and validates a script alone (what `lint SCRIPT` checks).
pub fn load_script(path: &Path) -> Result<Loaded<Script>, ScriptError> {
    let script = load_yaml::<Script>(path)?;
    let problems = validate::script(&script);
    if problems.is_empty() {
        Ok(script)
    } else {
        Err(ScriptError::Invalid { problems })
    }
}
