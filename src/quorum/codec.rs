//! The share code: the part of a share a person types or reads aloud.
//!
//! Layout (docs/shares.md has the full description and a worked example):
//! `kc1` then 70 characters of the bech32 alphabet, each carrying 5 bits:
//!
//! | chars  | field                                                    |
//! |--------|----------------------------------------------------------|
//! | 0      | format version (1)                                       |
//! | 1      | share index, 1..=16                                      |
//! | 2      | k                                                        |
//! | 3      | n                                                        |
//! | 4..10  | ceremony tag: first 30 bits of a hash of the ceremony id |
//! | 10..12 | secret tag: first 10 bits of a hash of the secret name   |
//! | 12..64 | share value: 256 bits, then 4 zero bits                  |
//! | 64..70 | bech32m checksum over "kc" and chars 0..64               |
//!
//! 73 characters in all, below bech32's 90, so the BCH code detects every
//! error in up to 4 characters (any single substitution, any swap of two
//! neighbours) and misses other errors with a probability below 1 in 10^9.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{QuorumPolicy, SecretBytes, SecretName, ShareError};

/// The bech32 alphabet: no 1, b, i or o, which look like other characters.
pub const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// The human-readable part: codes start with `kc1`.
pub const HRP: &str = "kc";

/// The share format version this tool writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Characters after `kc1`: 64 data characters and 6 checksum characters.
pub const CODE_LEN: usize = 70;

const DATA_LEN: usize = 64;
const CHECKSUM_LEN: usize = 6;
const CEREMONY_TAG_LEN: usize = 6;
const SECRET_TAG_LEN: usize = 2;
const VALUE_CHARS: usize = 52;
const VALUE_START: usize = 4 + CEREMONY_TAG_LEN + SECRET_TAG_LEN;

/// BIP-350's bech32m constant. The checksum is plain bech32m, so any bech32m
/// decoder can verify a code; the "kc" prefix keeps codes apart from
/// Bitcoin addresses and other bech32 strings.
const BECH32M_CONST: u32 = 0x2bc8_30a3;

const DOMAIN_CEREMONY_TAG: &[u8] = b"keyceremony/share/v1/ceremony-tag";
const DOMAIN_SECRET_TAG: &[u8] = b"keyceremony/share/v1/secret-tag";

/// The fields of a decoded code; the value stays in a zeroizing buffer.
pub(crate) struct CodeFields {
    pub index: u8,
    pub policy: QuorumPolicy,
    pub ceremony_tag: [u8; CEREMONY_TAG_LEN],
    pub secret_tag: [u8; SECRET_TAG_LEN],
    pub value: SecretBytes,
}

/// The 30-bit tag binding a code to its ceremony, as six 5-bit values.
pub(crate) fn ceremony_tag(ceremony_id: &str) -> [u8; CEREMONY_TAG_LEN] {
    let mut tag = [0u8; CEREMONY_TAG_LEN];
    to_five_bit(&tagged_hash(DOMAIN_CEREMONY_TAG, ceremony_id), &mut tag);
    tag
}

/// The 10-bit tag binding a code to its secret, as two 5-bit values.
pub(crate) fn secret_tag(name: &SecretName) -> [u8; SECRET_TAG_LEN] {
    let mut tag = [0u8; SECRET_TAG_LEN];
    to_five_bit(&tagged_hash(DOMAIN_SECRET_TAG, name.as_str()), &mut tag);
    tag
}

fn tagged_hash(domain: &[u8], text: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update([0u8]);
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

/// Renders a code as `kc1 xxxxx xxxxx ...` (14 groups of five).
pub(crate) fn encode(
    index: u8,
    policy: QuorumPolicy,
    ceremony_tag: &[u8; CEREMONY_TAG_LEN],
    secret_tag: &[u8; SECRET_TAG_LEN],
    value: &[u8; 32],
) -> Zeroizing<String> {
    let mut values = Zeroizing::new([0u8; CODE_LEN]);
    values[0] = FORMAT_VERSION;
    values[1] = index;
    values[2] = policy.k();
    values[3] = policy.n();
    values[4..4 + CEREMONY_TAG_LEN].copy_from_slice(ceremony_tag);
    values[4 + CEREMONY_TAG_LEN..VALUE_START].copy_from_slice(secret_tag);
    to_five_bit(value, &mut values[VALUE_START..VALUE_START + VALUE_CHARS]);
    let checksum = checksum(&values[..DATA_LEN]);
    values[DATA_LEN..].copy_from_slice(&checksum);

    // Sized up front so the string never reallocates and leaves a copy behind.
    let mut code = Zeroizing::new(String::with_capacity(HRP.len() + 1 + CODE_LEN / 5 * 6));
    code.push_str(HRP);
    code.push('1');
    for (position, &value) in values.iter().enumerate() {
        if position % 5 == 0 {
            code.push(' ');
        }
        code.push(char::from(CHARSET[usize::from(value)]));
    }
    code
}

/// Reads a code typed by a person: case-insensitive, spaces and dashes
/// ignored. Verifies the checksum before interpreting any field.
/// Where a code being typed stands, for feedback at every keystroke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypingStatus {
    /// Nothing wrong yet: `typed` of [`CODE_LEN`] characters after `kc1`.
    Partial { typed: usize },
    /// Every character is in and the checksum matches.
    Complete,
    /// What is wrong, in words; never the code itself.
    Wrong(String),
}

/// Judges a code as it is typed: a wrong prefix or a character outside the
/// alphabet at once, the length and checksum once all characters are in.
pub fn typing_status(input: &str) -> TypingStatus {
    let prefix = format!("{HRP}1");
    let typed: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let typed = Zeroizing::new(typed);
    if !typed.starts_with(&prefix) {
        return if prefix.starts_with(typed.as_str()) {
            TypingStatus::Partial { typed: 0 }
        } else {
            TypingStatus::Wrong(ShareError::MissingPrefix.to_string())
        };
    }
    let body = &typed[prefix.len()..];
    if let Some(position) = body.bytes().position(|b| !CHARSET.contains(&b)) {
        return TypingStatus::Wrong(
            ShareError::InvalidCharacter {
                group: position / 5 + 1,
                position: position % 5 + 1,
            }
            .to_string(),
        );
    }
    match body.len() {
        n if n < CODE_LEN => TypingStatus::Partial { typed: n },
        _ => match decode(&typed) {
            Ok(_) => TypingStatus::Complete,
            Err(e) => TypingStatus::Wrong(e.to_string()),
        },
    }
}

pub(crate) fn decode(input: &str) -> Result<CodeFields, ShareError> {
    // Non-ASCII characters become 0xff so they are reported as invalid at
    // their position instead of being skipped.
    let mut typed = Zeroizing::new(Vec::with_capacity(input.len()));
    for c in input.chars() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        typed.push(if c.is_ascii() {
            c.to_ascii_lowercase() as u8
        } else {
            0xff
        });
    }
    if typed.is_empty() {
        return Err(ShareError::EmptyCode);
    }
    let prefix = format!("{HRP}1");
    if !typed.starts_with(prefix.as_bytes()) {
        return Err(ShareError::MissingPrefix);
    }
    let body = &typed[prefix.len()..];

    let mut values = Zeroizing::new(Vec::with_capacity(body.len()));
    for (position, byte) in body.iter().enumerate() {
        match CHARSET.iter().position(|c| c == byte) {
            Some(value) => values.push(value as u8),
            None => {
                return Err(ShareError::InvalidCharacter {
                    group: position / 5 + 1,
                    position: position % 5 + 1,
                });
            }
        }
    }
    if values.len() != CODE_LEN {
        return Err(ShareError::WrongLength {
            found: values.len(),
            expected: CODE_LEN,
            hint: if values.len() < CODE_LEN {
                "a character is missing"
            } else {
                "there is an extra character"
            },
        });
    }
    if polymod_with_hrp(&values) != BECH32M_CONST {
        return Err(ShareError::Checksum);
    }

    let version = values[0];
    if version != FORMAT_VERSION {
        return Err(ShareError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (index, k, n) = (values[1], values[2], values[3]);
    if index == 0 {
        return Err(ShareError::IndexZero);
    }
    let policy = QuorumPolicy::new(k, n).map_err(|error| ShareError::InvalidPolicy {
        k,
        n,
        reason: error.to_string(),
    })?;
    if index > n {
        return Err(ShareError::IndexAboveShares { index, n });
    }
    let mut ceremony_tag = [0u8; CEREMONY_TAG_LEN];
    ceremony_tag.copy_from_slice(&values[4..4 + CEREMONY_TAG_LEN]);
    let mut secret_tag = [0u8; SECRET_TAG_LEN];
    secret_tag.copy_from_slice(&values[4 + CEREMONY_TAG_LEN..VALUE_START]);
    let mut value = SecretBytes::zeroed();
    if !from_five_bit(
        &values[VALUE_START..VALUE_START + VALUE_CHARS],
        value.bytes_mut(),
    ) {
        return Err(ShareError::NonZeroPadding);
    }
    Ok(CodeFields {
        index,
        policy,
        ceremony_tag,
        secret_tag,
        value,
    })
}

/// Fills `out` with consecutive 5-bit groups of `bytes`, most significant bit
/// first; bits past the end of `bytes` are zero.
fn to_five_bit(bytes: &[u8], out: &mut [u8]) {
    let bit = |i: usize| bytes.get(i / 8).map_or(0, |byte| (byte >> (7 - i % 8)) & 1);
    for (group, slot) in out.iter_mut().enumerate() {
        *slot = (0..5).fold(0, |acc, j| (acc << 1) | bit(group * 5 + j));
    }
}

/// The inverse of `to_five_bit`: fills `out` from the groups and reports
/// whether the leftover (padding) bits are all zero.
fn from_five_bit(groups: &[u8], out: &mut [u8]) -> bool {
    let bit = |i: usize| (groups[i / 5] >> (4 - i % 5)) & 1;
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = (0..8).fold(0, |acc, j| (acc << 1) | bit(index * 8 + j));
    }
    (out.len() * 8..groups.len() * 5).all(|i| bit(i) == 0)
}

/// BIP-173's checksum polynomial over GF(32).
fn polymod(values: impl IntoIterator<Item = u8>) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut checksum: u32 = 1;
    for value in values {
        let top = checksum >> 25;
        checksum = ((checksum & 0x01ff_ffff) << 5) ^ u32::from(value);
        for (i, generator) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                checksum ^= generator;
            }
        }
    }
    checksum
}

/// The polymod of the expanded human-readable part followed by `values`.
fn polymod_with_hrp(values: &[u8]) -> u32 {
    let hrp = HRP.bytes();
    let expanded = hrp
        .clone()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.map(|c| c & 31));
    polymod(expanded.chain(values.iter().copied()))
}

fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut with_room = Zeroizing::new([0u8; DATA_LEN + CHECKSUM_LEN]);
    with_room[..data.len()].copy_from_slice(data);
    let residue = polymod_with_hrp(&with_room[..data.len() + CHECKSUM_LEN]) ^ BECH32M_CONST;
    let mut out = [0u8; CHECKSUM_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = ((residue >> (5 * (5 - i))) & 31) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a whole bech32 string's checksum with this module's polymod,
    /// whatever its human-readable part.
    fn is_valid_bech32m(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        let Some(separator) = lower.rfind('1') else {
            return false;
        };
        let (hrp, data) = (&lower[..separator], &lower[separator + 1..]);
        let values: Option<Vec<u8>> = data
            .bytes()
            .map(|c| CHARSET.iter().position(|&x| x == c).map(|v| v as u8))
            .collect();
        let Some(values) = values else { return false };
        let expanded = hrp
            .bytes()
            .map(|c| c >> 5)
            .chain([0])
            .chain(hrp.bytes().map(|c| c & 31));
        polymod(expanded.chain(values)) == BECH32M_CONST
    }

    #[test]
    fn polymod_matches_bip350_test_vectors() {
        for valid in [
            "A1LQFN3A",
            "a1lqfn3a",
            "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
            "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
            "?1v759aa",
        ] {
            assert!(is_valid_bech32m(valid), "{valid} is a valid bech32m string");
        }
        // The same strings with a bech32 (not bech32m) checksum are invalid.
        for invalid in ["a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"] {
            assert!(
                !is_valid_bech32m(invalid),
                "{invalid} is bech32, not bech32m"
            );
        }
    }

    #[test]
    fn five_bit_conversion_round_trips_and_rejects_padding() {
        let bytes: Vec<u8> = (0..32).map(|i| (i * 37 + 11) as u8).collect();
        let mut groups = [0u8; VALUE_CHARS];
        to_five_bit(&bytes, &mut groups);
        assert!(groups.iter().all(|&g| g < 32));
        let mut back = [0u8; 32];
        assert!(from_five_bit(&groups, &mut back));
        assert_eq!(back.as_slice(), bytes.as_slice());
        groups[VALUE_CHARS - 1] |= 1;
        assert!(!from_five_bit(&groups, &mut back));
    }
}
