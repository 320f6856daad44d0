//! `keyceremony shares inspect|check`: a custodian looks at their own share
//! without a quorum. The share's value is never printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;
use zeroize::Zeroizing;

use keyceremony::input::{MAX_SMALL_FILE_BYTES, read_capped, read_capped_from, read_capped_text};
use keyceremony::quorum::{self, SecretName, Share, SplitRecord};
use keyceremony::shown::{shown, shown_lines};
use keyceremony::transcript::{self, Outcome};

use super::{FAILED, OK, USAGE};

#[derive(Subcommand)]
pub enum SharesCommand {
    /// Print a share's metadata and check its checksum (never its value).
    Inspect {
        /// The share: a text file, an age-encrypted share file (with -i), or - for stdin.
        #[arg(default_value = "-")]
        share: PathBuf,
        /// Your OpenSSH private key, to open an age-encrypted share file.
        #[arg(short = 'i', long = "identity")]
        identity: Option<PathBuf>,
    },
    /// Check, without a quorum, that a share belongs to a ceremony and is intact.
    Check {
        /// The share: a text file, an age-encrypted share file (with -i), a bare code, or - for stdin.
        #[arg(default_value = "-")]
        share: PathBuf,
        /// The ceremony's transcript, which holds the commitment of every share.
        #[arg(long)]
        transcript: PathBuf,
        #[arg(short = 'i', long = "identity")]
        identity: Option<PathBuf>,
    },
}

pub fn shares(command: SharesCommand) -> ExitCode {
    if let Err(e) = keyceremony::secret::harden_process() {
        eprintln!("error: {e}");
        return ExitCode::from(USAGE);
    }
    let result = match command {
        SharesCommand::Inspect { share, identity } => inspect(&share, identity.as_deref()),
        SharesCommand::Check {
            share,
            transcript,
            identity,
        } => check(&share, &transcript, identity.as_deref()),
    };
    match result {
        Ok(text) => {
            print!("{}", shown_lines(&text));
            ExitCode::from(OK)
        }
        Err(Failure::Refused(why)) => {
            eprintln!("REFUSED: {}", shown_lines(&why));
            ExitCode::from(FAILED)
        }
        Err(Failure::Usage(why)) => {
            eprintln!("error: {}", shown_lines(&why));
            ExitCode::from(USAGE)
        }
    }
}

enum Failure {
    /// The share (or transcript) is not what it should be.
    Refused(String),
    /// Nothing could be checked: unreadable input, missing key.
    Usage(String),
}

/// What was read: a parsed share, or a bare code that needs its ceremony.
enum Input {
    Share(Share),
    Code(Zeroizing<String>),
}

fn read_input(path: &Path, identity: Option<&Path>) -> Result<Input, Failure> {
    let read = if path == Path::new("-") {
        read_capped_from(std::io::stdin(), MAX_SMALL_FILE_BYTES)
    } else {
        read_capped(path, MAX_SMALL_FILE_BYTES)
    };
    let bytes = Zeroizing::new(
        read.map_err(|e| Failure::Usage(format!("{}: {e}", shown(&path.display().to_string()))))?,
    );
    let sealed = bytes.starts_with(b"age-encryption.org/")
        || bytes.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
    if sealed {
        let key_path = identity.ok_or_else(|| {
            Failure::Usage(format!(
                "{} is age-encrypted: give your private key with -i ~/.ssh/id_ed25519",
                path.display()
            ))
        })?;
        let key = Zeroizing::new(
            read_capped_text(key_path, MAX_SMALL_FILE_BYTES)
                .map_err(|e| Failure::Usage(format!("{}: {e}", key_path.display())))?,
        );
        return quorum::delivery::open(&key, &bytes)
            .map(Input::Share)
            .map_err(|e| Failure::Refused(format!("{}: {e}", path.display())));
    }
    let text =
        Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
            Failure::Refused(format!("{} is not a share: not text", path.display()))
        })?);
    if !text.contains(quorum::TEXT_MAGIC) {
        // What a person typed or copied: the code alone, maybe with its label.
        let code = text.trim().trim_start_matches("code:");
        return Ok(Input::Code(Zeroizing::new(code.to_string())));
    }
    Share::parse(&text)
        .map(Input::Share)
        .map_err(|e| Failure::Refused(e.to_string()))
}

fn describe(share: &Share) -> String {
    let m = share.metadata();
    format!(
        "share {} of {} (any {} recover)\nceremony: {}\nsecret:   {}\n",
        m.index, m.n, m.k, m.ceremony_id, m.secret
    )
}

fn inspect(path: &Path, identity: Option<&Path>) -> Result<String, Failure> {
    match read_input(path, identity)? {
        Input::Share(share) => Ok(format!(
            "{}checksum: OK (the code is intact; its value is not shown)\n",
            describe(&share)
        )),
        Input::Code(_) => Err(Failure::Usage(
            "a bare code does not name its ceremony; check it against the ceremony's transcript: keyceremony shares check --transcript T".into(),
        )),
    }
}

/// A split as the transcript records it, with who received which share.
struct RecordedSplit {
    line: u64,
    record: SplitRecord,
    holders: Vec<(u64, String)>,
}

/// Shares a reshare made void: their ceremony and commitments.
struct Voided {
    line: u64,
    ceremony: String,
    commitments: Vec<String>,
}

fn recorded_splits(
    transcript_path: &Path,
) -> Result<(String, Vec<RecordedSplit>, Vec<Voided>), Failure> {
    let mut splits = Vec::new();
    let mut voided = Vec::new();
    let outcome = transcript::verify_file_visiting(transcript_path, &mut |e| {
        if e.kind == "reshare"
            && let (Some(ceremony), Some(commitments)) = (
                e.body["void"]["ceremony"].as_str(),
                e.body["void"]["commitments"].as_array(),
            )
        {
            voided.push(Voided {
                line: e.line,
                ceremony: ceremony.to_string(),
                commitments: commitments
                    .iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect(),
            });
        }
        if e.kind != "split-secret" && e.kind != "reshare" {
            return;
        }
        let Some(record) = e
            .body
            .get("split")
            .and_then(|v| serde_json::from_value::<SplitRecord>(v.clone()).ok())
        else {
            return;
        };
        let holders = e
            .body
            .get("holders")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| {
                        Some((
                            h.get("index")?.as_u64()?,
                            h.get("custodian")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        splits.push(RecordedSplit {
            line: e.line,
            record,
            holders,
        });
    })
    .map_err(|e| Failure::Usage(e.to_string()))?;
    let summary = match outcome {
        Outcome::Tampered(v) => {
            return Err(Failure::Refused(format!(
                "{} does not verify ({v}): its commitments cannot be trusted",
                transcript_path.display()
            )));
        }
        Outcome::Valid(s) | Outcome::Incomplete(s, _) => s,
    };
    Ok((summary.genesis.ceremony_id, splits, voided))
}

fn check(path: &Path, transcript_path: &Path, identity: Option<&Path>) -> Result<String, Failure> {
    let input = read_input(path, identity)?;
    let (ceremony_id, splits, voided) = recorded_splits(transcript_path)?;
    let share = match input {
        Input::Share(share) => share,
        // A bare code carries tags of its ceremony and secret: try each
        // secret this transcript split.
        Input::Code(code) => {
            let mut last = None;
            let mut found = None;
            // ... of this ceremony, or of one whose shares it voided.
            let ceremonies = std::iter::once(ceremony_id.as_str())
                .chain(voided.iter().map(|v| v.ceremony.as_str()));
            'search: for ceremony in ceremonies {
                for split in &splits {
                    let name: &SecretName = &split.record.secret;
                    match Share::from_code(&code, ceremony, name) {
                        Ok(share) => {
                            found = Some(share);
                            break 'search;
                        }
                        Err(e) => last = Some(e.to_string()),
                    }
                }
            }
            found.ok_or_else(|| {
                Failure::Refused(last.unwrap_or_else(|| "the transcript records no split".into()))
            })?
        }
    };
    let m = share.metadata();
    let commitment = hex::encode(share.commitment());
    if let Some(void) = voided
        .iter()
        .find(|v| v.ceremony == m.ceremony_id && v.commitments.contains(&commitment))
    {
        return Err(Failure::Refused(format!(
            "{}VOID: this share was replaced when the secret was reshared (line {} of {}); it can no longer be used. Its custodian should destroy it",
            describe(&share),
            void.line,
            transcript_path.display()
        )));
    }
    if m.ceremony_id != ceremony_id {
        return Err(Failure::Refused(format!(
            "this share belongs to ceremony {}, not to {ceremony_id}",
            m.ceremony_id
        )));
    }
    let split = splits
        .iter()
        .rev()
        .find(|s| s.record.secret == m.secret)
        .ok_or_else(|| {
            Failure::Refused(format!("the transcript records no split of `{}`", m.secret))
        })?;
    quorum::check_one(&split.record, &share).map_err(|e| Failure::Refused(e.to_string()))?;
    let holder = split
        .holders
        .iter()
        .find(|(i, _)| *i == u64::from(m.index))
        .map(|(_, c)| format!(", issued to {c}"))
        .unwrap_or_default();
    Ok(format!(
        "{}OK: intact and matches the commitment recorded at line {} of the transcript{holder}\n",
        describe(&share),
        split.line
    ))
}
