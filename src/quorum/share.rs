//! One custodian's share: its public facts, its zeroized value, and its two
//! written forms (the typed code and the self-describing text).

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::codec;
use super::{QuorumPolicy, SecretBytes, SecretName, ShareError, hash_field, validate_ceremony_id};

/// The first line of every share text.
pub const TEXT_MAGIC: &str = "keyceremony share v1";

const DOMAIN_COMMITMENT: &[u8] = b"keyceremony/share/v1/commitment";

/// Characters of a code per printed line in the share text (7 groups).
const GROUPS_PER_LINE: usize = 7;

/// A share of a ceremony secret. No Debug, Display, Serialize or Clone: the
/// value leaves only through [`Share::code`] and [`Share::to_text`].
pub struct Share {
    ceremony_id: String,
    secret: SecretName,
    index: u8,
    policy: QuorumPolicy,
    value: SecretBytes,
}

/// Everything about a share except its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareMetadata {
    pub ceremony_id: String,
    pub secret: SecretName,
    pub index: u8,
    pub k: u8,
    pub n: u8,
}

impl Share {
    pub(crate) fn new(
        ceremony_id: &str,
        secret: &SecretName,
        index: u8,
        policy: QuorumPolicy,
        value: SecretBytes,
    ) -> Share {
        Share {
            ceremony_id: ceremony_id.to_owned(),
            secret: secret.clone(),
            index,
            policy,
            value,
        }
    }

    pub fn metadata(&self) -> ShareMetadata {
        ShareMetadata {
            ceremony_id: self.ceremony_id.clone(),
            secret: self.secret.clone(),
            index: self.index,
            k: self.policy.k(),
            n: self.policy.n(),
        }
    }

    pub fn ceremony_id(&self) -> &str {
        &self.ceremony_id
    }

    pub fn secret_name(&self) -> &SecretName {
        &self.secret
    }

    /// The share's index, 1..=n (never 0).
    pub fn index(&self) -> u8 {
        self.index
    }

    pub fn policy(&self) -> QuorumPolicy {
        self.policy
    }

    pub(crate) fn value(&self) -> &[u8; 32] {
        self.value.bytes()
    }

    /// SHA-256 over a domain string, the ceremony id, the secret name, the
    /// index, k, n and the share value; recorded in the transcript at split
    /// time so that a wrong share is named before any arithmetic.
    pub fn commitment(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN_COMMITMENT);
        hasher.update([0u8]);
        hash_field(&mut hasher, self.ceremony_id.as_bytes());
        hash_field(&mut hasher, self.secret.as_str().as_bytes());
        hasher.update([self.index, self.policy.k(), self.policy.n()]);
        hasher.update(self.value.bytes());
        hasher.finalize().into()
    }

    /// The checksummed code a person types or reads aloud:
    /// `kc1 xxxxx xxxxx ...`, 14 groups of five.
    pub fn code(&self) -> Zeroizing<String> {
        codec::encode(
            self.index,
            self.policy,
            &codec::ceremony_tag(&self.ceremony_id),
            &codec::secret_tag(&self.secret),
            self.value.bytes(),
        )
    }

    /// The full self-describing share text: a format line, the ceremony, the
    /// secret, "share i of n, any k recover", and the code on two lines.
    pub fn to_text(&self) -> Zeroizing<String> {
        let code = self.code();
        let (prefix, groups) = code.split_at(3);
        let groups: Vec<&str> = groups.split_whitespace().collect();
        let header_len = TEXT_MAGIC.len() + self.ceremony_id.len() + 128;
        // Sized up front so the string never reallocates and leaves a copy behind.
        let mut text = Zeroizing::new(String::with_capacity(header_len + code.len() * 2));
        // Writing into a String cannot fail.
        let _ = write!(
            text,
            "{TEXT_MAGIC}\nceremony: {}\nsecret: {}\nshare: {} of {}, any {} recover\ncode: {prefix}",
            self.ceremony_id,
            self.secret,
            self.index,
            self.policy.n(),
            self.policy.k(),
        );
        for (position, group) in groups.iter().enumerate() {
            if position > 0 && position % GROUPS_PER_LINE == 0 {
                text.push('\n');
                text.push_str(&" ".repeat("code: ".len() + prefix.len()));
            }
            text.push(' ');
            text.push_str(group);
        }
        text.push('\n');
        text
    }

    /// Reads a share text as written by [`Share::to_text`]. Lines starting
    /// with `#` and blank lines are ignored; a line starting with whitespace
    /// continues the previous field. The header must agree with the code.
    pub fn parse(text: &str) -> Result<Share, ShareError> {
        let header = parse_text(text)?;
        let ceremony_id = header
            .ceremony
            .ok_or(ShareError::MissingField { field: "ceremony" })?;
        let secret_text = header
            .secret
            .ok_or(ShareError::MissingField { field: "secret" })?;
        let share_line = header
            .share
            .ok_or(ShareError::MissingField { field: "share" })?;
        let code = header
            .code
            .ok_or(ShareError::MissingField { field: "code" })?;

        validate_ceremony_id(&ceremony_id).map_err(|error| ShareError::Text {
            line: header.ceremony_line,
            reason: error.to_string(),
        })?;
        let secret: SecretName =
            secret_text
                .parse()
                .map_err(|error: super::QuorumError| ShareError::Text {
                    line: header.secret_line,
                    reason: error.to_string(),
                })?;
        let fields = codec::decode(&code)?;
        if fields.ceremony_tag != codec::ceremony_tag(&ceremony_id) {
            return Err(ShareError::HeaderMismatch { field: "ceremony" });
        }
        if fields.secret_tag != codec::secret_tag(&secret) {
            return Err(ShareError::HeaderMismatch { field: "secret" });
        }
        let expected_share_line = format!(
            "{} of {}, any {} recover",
            fields.index,
            fields.policy.n(),
            fields.policy.k()
        );
        let share_line: Vec<&str> = share_line.split_whitespace().collect();
        if share_line.join(" ") != expected_share_line {
            return Err(ShareError::HeaderMismatch {
                field: "share index or quorum",
            });
        }
        Ok(Share::new(
            &ceremony_id,
            &secret,
            fields.index,
            fields.policy,
            fields.value,
        ))
    }

    /// Reads a typed code for a known ceremony and secret; the code's tags
    /// must match them.
    pub fn from_code(
        code: &str,
        ceremony_id: &str,
        name: &SecretName,
    ) -> Result<Share, ShareError> {
        let fields = codec::decode(code)?;
        if fields.ceremony_tag != codec::ceremony_tag(ceremony_id) {
            return Err(ShareError::OtherCeremony {
                expected: ceremony_id.to_owned(),
            });
        }
        if fields.secret_tag != codec::secret_tag(name) {
            return Err(ShareError::OtherSecret {
                expected: name.clone(),
            });
        }
        Ok(Share::new(
            ceremony_id,
            name,
            fields.index,
            fields.policy,
            fields.value,
        ))
    }
}

/// The fields of a share text, before validation. The code is secret and
/// kept in a zeroizing buffer.
#[derive(Default)]
struct TextFields {
    ceremony: Option<String>,
    ceremony_line: usize,
    secret: Option<String>,
    secret_line: usize,
    share: Option<String>,
    code: Option<Zeroizing<String>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    Ceremony,
    Secret,
    ShareLine,
    Code,
}

fn parse_text(text: &str) -> Result<TextFields, ShareError> {
    let mut fields = TextFields::default();
    let mut seen_magic = false;
    let mut last_field: Option<Field> = None;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        let text_error = |reason: &str| ShareError::Text {
            line: number,
            reason: reason.to_owned(),
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !seen_magic {
            let magic = line.trim();
            if magic == TEXT_MAGIC {
                seen_magic = true;
                continue;
            }
            if magic.starts_with("keyceremony share v") {
                return Err(text_error(
                    "this share text is in a format version this tool does not read",
                ));
            }
            return Err(text_error(
                "a share text starts with the line \"keyceremony share v1\"",
            ));
        }
        if line.starts_with(char::is_whitespace) {
            // Only the code is long enough to wrap.
            match (last_field, fields.code.as_mut()) {
                (Some(Field::Code), Some(code)) => {
                    code.push(' ');
                    code.push_str(line.trim());
                }
                _ => return Err(text_error("an indented line continues only the code")),
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(text_error("expected \"field: value\""));
        };
        let value = value.trim();
        let (field, slot_taken) = match key.trim() {
            "ceremony" => (Field::Ceremony, fields.ceremony.is_some()),
            "secret" => (Field::Secret, fields.secret.is_some()),
            "share" => (Field::ShareLine, fields.share.is_some()),
            "code" => (Field::Code, fields.code.is_some()),
            _ => {
                return Err(text_error(
                    "unknown field (expected ceremony, secret, share or code)",
                ));
            }
        };
        if slot_taken {
            return Err(text_error("this field appears twice"));
        }
        match field {
            Field::Ceremony => {
                fields.ceremony = Some(value.to_owned());
                fields.ceremony_line = number;
            }
            Field::Secret => {
                fields.secret = Some(value.to_owned());
                fields.secret_line = number;
            }
            Field::ShareLine => fields.share = Some(value.to_owned()),
            Field::Code => {
                // Room for the whole wrapped code, so continuation lines never
                // make the buffer reallocate and leave a copy behind.
                let mut code = Zeroizing::new(String::with_capacity(text.len()));
                code.push_str(value);
                fields.code = Some(code);
            }
        }
        last_field = Some(field);
    }
    if !seen_magic {
        return Err(ShareError::MissingField {
            field: "keyceremony share v1",
        });
    }
    Ok(fields)
}
