//! The three error domains of the quorum module.
//!
//! Every message is written for a tired person at a ceremony table: it says
//! what is wrong, with which share (by index and, when known, by custodian),
//! and what to do. No message, and no `Debug` output, ever contains a share
//! value, a code, a secret or a PIN: only public facts (names, indices,
//! ceremony ids, counts, positions).

use std::fmt;

use super::SecretName;

/// Errors from creating policies, secrets, splits and from share delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuorumError {
    #[error(
        "a threshold of {k} would put the secret in every share in the clear: \
         ask for at least 2 shares to recover"
    )]
    ThresholdTooLow { k: u8 },

    #[error(
        "a threshold of {k} with only {n} shares could never recover the secret: \
         the threshold must not exceed the number of shares"
    )]
    ThresholdAboveShares { k: u8, n: u8 },

    #[error(
        "{n} shares were asked for, but at most {max} are supported \
         (the share code and the ceremony procedures are designed for up to {max} custodians)"
    )]
    TooManyShares { n: u8, max: u8 },

    #[error("invalid secret name {name:?}: {reason}")]
    InvalidSecretName { name: String, reason: &'static str },

    #[error("invalid ceremony id: {reason}")]
    InvalidCeremonyId { reason: &'static str },

    #[error(
        "the HSM gave {len} random bytes, at least {min} are needed so that the HSM alone \
         can make the ceremony secret strong"
    )]
    HsmRandomTooShort { len: usize, min: usize },

    #[error(
        "the {source_name} random output is constant (every byte the same): its generator is \
         broken; stop the ceremony and investigate before generating anything with it"
    )]
    ConstantRandomness { source_name: &'static str },

    #[error("the operating system's random generator failed: {0}")]
    OsRandom(String),

    #[error(
        "the token reports a minimum PIN length of {min} above its maximum of {max}: \
         its PIN limits are inconsistent"
    )]
    TokenPinLimits { min: usize, max: usize },

    #[error(
        "this token accepts PINs of at most {max} characters, but a derived PIN needs at least \
         {min_strong} ({min_strong} characters from a {alphabet}-letter alphabet, about {bits} bits) \
         so that guessing it stays out of reach even for someone who copies the token's storage \
         and attacks it offline, where no lockout helps"
    )]
    TokenPinTooShort {
        max: usize,
        min_strong: usize,
        alphabet: usize,
        bits: usize,
    },

    #[error(
        "the Shamir library returned shares that do not recombine to the secret; \
         nothing was written: {reason}"
    )]
    SplitSelfCheck { reason: String },

    #[error("these shares are not one complete split: {reason}")]
    IncompleteSplit { reason: String },

    #[error(
        "not a usable age recipient: {reason} (expected one OpenSSH public key line, \
         \"ssh-ed25519 AAAA... comment\")"
    )]
    InvalidRecipient { reason: String },

    #[error("not a usable OpenSSH private key: {reason}")]
    InvalidIdentity { reason: String },

    #[error(
        "this OpenSSH private key is protected by a passphrase: \
         open the share with the passphrase (delivery::open_with_passphrase)"
    )]
    IdentityNeedsPassphrase,

    #[error("could not encrypt the share file: {0}")]
    Seal(String),

    #[error(
        "could not decrypt the share file: {0} \
         (is it the right file, and the custodian's own key?)"
    )]
    Open(String),

    #[error("the decrypted share file is larger than {max} bytes: it is not a share file")]
    SealedTooLarge { max: usize },

    #[error("the decrypted share file is not UTF-8 text: it is not a share file")]
    SealedNotText,

    #[error("the PIN is empty")]
    EmptyPin,

    /// Its length is not named: the message goes into the transcript.
    #[error("the PIN is longer than {max} bytes, the most that can be sealed")]
    PinTooLong { max: usize },

    #[error("the sealed PIN cannot be opened: {0}")]
    SealedPin(String),

    #[error("the decrypted share file is not a valid share: {0}")]
    Share(#[from] ShareError),
}

/// Errors from reading a share: the typed code or the full share text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareError {
    #[error("the share code is empty")]
    EmptyCode,

    #[error("a share code starts with \"kc1\"; this one does not")]
    MissingPrefix,

    #[error(
        "group {group}, character {position} of the code is not a code character: \
         codes use only qpzry9x8gf2tvdw0s3jn54khce6mua7l (never 1, b, i or o)"
    )]
    InvalidCharacter { group: usize, position: usize },

    #[error(
        "the code has {found} characters after \"kc1\", a share code has {expected}: \
         {hint}; check that every group has five characters"
    )]
    WrongLength {
        found: usize,
        expected: usize,
        hint: &'static str,
    },

    #[error(
        "the code's checksum does not match: a character is wrong or two are swapped; \
         compare it group by group with the original"
    )]
    Checksum,

    #[error("the code is in share format version {found}; this tool reads version {supported}")]
    UnsupportedVersion { found: u8, supported: u8 },

    #[error("the code says share index 0, which is never used: index 0 would be the secret itself")]
    IndexZero,

    #[error("the code says share {index} of {n}: an index above the number of shares is invalid")]
    IndexAboveShares { index: u8, n: u8 },

    #[error("the code carries an invalid quorum (any {k} of {n}): {reason}")]
    InvalidPolicy { k: u8, n: u8, reason: String },

    #[error("the code's last character has padding bits set: the code is corrupted")]
    NonZeroPadding,

    #[error(
        "this share belongs to another ceremony, not to {expected:?} \
         (a share from an earlier ceremony or rehearsal?)"
    )]
    OtherCeremony { expected: String },

    #[error("this share is not a share of the secret {expected}, but of another secret")]
    OtherSecret { expected: SecretName },

    #[error("line {line} of the share text: {reason}")]
    Text { line: usize, reason: String },

    #[error("the share text has no {field:?} line")]
    MissingField { field: &'static str },

    #[error(
        "the share text's header and its code disagree about the {field}: \
         the text was edited or two shares were mixed up"
    )]
    HeaderMismatch { field: &'static str },
}

/// Which share an error is about: its index, and who presented it when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRef {
    pub index: u8,
    pub custodian: Option<String>,
}

impl fmt::Display for ShareRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.custodian {
            Some(custodian) => write!(f, "share {} (presented by {custodian})", self.index),
            None => write!(f, "share {}", self.index),
        }
    }
}

/// Errors from checking or recombining shares against a split record.
///
/// All checks that can name a share run before any arithmetic, so a wrong
/// share is named instead of silently producing a wrong secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CombineError {
    #[error("the split record is unusable: {reason}")]
    InvalidRecord { reason: String },

    #[error(
        "{share} belongs to ceremony {found:?}, not to this ceremony {expected:?} \
         (a share from an earlier ceremony or rehearsal?)"
    )]
    OtherCeremony {
        share: ShareRef,
        found: String,
        expected: String,
    },

    #[error("{share} is a share of the secret {found}, not of {expected}")]
    OtherSecret {
        share: ShareRef,
        found: SecretName,
        expected: SecretName,
    },

    #[error(
        "{share} says any {found_k} of {found_n} recover, but this secret was split \
         so that any {k} of {n} recover: it comes from another split"
    )]
    PolicyMismatch {
        share: ShareRef,
        found_k: u8,
        found_n: u8,
        k: u8,
        n: u8,
    },

    #[error("{share} has an index outside 1..={n}: it was not made by this split")]
    IndexOutOfRange { share: ShareRef, n: u8 },

    #[error("{custodian} presented more than one share: each custodian presents only their own")]
    SameCustodianTwice { custodian: String },

    #[error(
        "share {index} was presented twice (by {first} and by {second}): \
         the same share counts once; a different custodian's share is needed"
    )]
    DuplicateShare {
        index: u8,
        first: String,
        second: String,
    },

    #[error(
        "{first} and {second} both presented a share numbered {index}, with different values: \
         at most one of them is genuine"
    )]
    ConflictingShares {
        index: u8,
        first: String,
        second: String,
    },

    #[error("{presented} shares were presented, but any {k} are needed to recover the secret")]
    NotEnoughShares { presented: usize, k: u8 },

    #[error(
        "{presented} shares were presented; present exactly {k}, so that the transcript \
         shows exactly whose shares recovered the secret"
    )]
    TooManyShares { presented: usize, k: u8 },

    #[error(
        "{share} does not match the commitment recorded when the secret was split: \
         it was altered or is not {}", whose_share(.share)
    )]
    CommitmentMismatch { share: ShareRef },

    #[error("the share arithmetic failed: {reason}")]
    Arithmetic { reason: String },

    #[error(
        "the recovered secret does not match the check value recorded at split time, although \
         every share matched its commitment: the split record is inconsistent; no PIN was derived"
    )]
    CheckValueMismatch,
}

/// "Dave's share" when the custodian is known, for the commitment message.
fn whose_share(share: &ShareRef) -> String {
    match &share.custodian {
        Some(custodian) => format!("{custodian}'s share"),
        None => "the share it claims to be".to_owned(),
    }
}
