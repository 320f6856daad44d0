//! Reading files other people hand the tool — a script, bindings, answers,
//! a transcript, a share, a key — with a size cap, so a hostile file is
//! refused at once instead of exhausting memory or time. The caps sit far
//! above any real ceremony's files (ceremonies/README.md, "Limits").

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A script, bindings or answers file: real ones are a few kilobytes.
pub const MAX_YAML_BYTES: u64 = 1 << 20;

/// Collections nested deeper than this in a YAML file are refused before
/// it is parsed: real scripts nest six deep, and a parser spends time
/// (serde_yaml: seconds) on each level of a hostile one.
pub const MAX_YAML_DEPTH: usize = 32;

/// A transcript: 64 lines of the largest size one may have
/// ([`crate::transcript::MAX_LINE_BYTES`]); a real one is a few hundred
/// kilobytes.
pub const MAX_TRANSCRIPT_BYTES: u64 = 64 << 20;

/// A share, key, checkpoint, roster, PIN, public key or backup blob.
pub const MAX_SMALL_FILE_BYTES: u64 = 1 << 20;

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// The error of a file above its cap, as an I/O error so that each
/// domain's existing "cannot read" error carries it with the path.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {}, the most this file may be (see Limits in ceremonies/README.md)",
            size(limit)
        ),
    )
}

/// Reads all of `reader`, refusing more than `limit` bytes; never reads
/// more than one byte past the limit.
pub fn read_capped_from(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// Reads the file at `path`, refusing more than `limit` bytes.
pub fn read_capped(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_capped_from(File::open(path)?, limit)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_capped_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_more_is_refused() {
        let at = vec![b'a'; 16];
        assert_eq!(read_capped_from(&at[..], 16).expect("at the cap"), at);
        let error = read_capped_from(&[b'a'; 17][..], 16).expect_err("above");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("larger than 16 bytes"),
            "{error}"
        );
    }
}
