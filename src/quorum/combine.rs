//! Putting a secret back together only after every share has been checked
//! against the public record of the split.
//!
//! blahaj does the GF(256) arithmetic and nothing else: it accepts wrong
//! thresholds, duplicated indices, index 0, flipped bytes and foreign shares
//! and returns garbage for them (notes/shares.md). Every one of those is
//! refused here, before the arithmetic.

use blahaj::Sharks;
use zeroize::Zeroizing;

use super::split::{SplitRecord, ValidRecord};
use super::{CeremonySecret, CombineError, QuorumPolicy, SecretBytes, Share, ShareRef};

/// A share presented by a named custodian for recombination.
pub struct Presented {
    pub custodian: String,
    pub share: Share,
}

/// Recombines the secret from exactly k presented shares.
///
/// Every check runs before any arithmetic: the record is well-formed; each
/// share belongs to this ceremony, this secret and this k-of-n, with an index
/// in 1..=n; no custodian presents twice; no index appears twice; exactly k
/// shares (more are refused so the transcript shows exactly whose shares were
/// used); each share matches its commitment (the error names the custodian).
/// Then the arithmetic, then the recovered secret must match the check value.
/// Only an `Ok` secret may ever be turned into a PIN.
pub fn combine(
    record: &SplitRecord,
    presented: &[Presented],
) -> Result<CeremonySecret, CombineError> {
    let candidates: Vec<Candidate> = presented
        .iter()
        .map(|p| Candidate {
            custodian: Some(&p.custodian),
            share: &p.share,
        })
        .collect();
    combine_candidates(record, &candidates)
}

/// One custodian's check without a quorum: the share belongs to this split,
/// is intact, and matches its commitment.
pub fn check_one(record: &SplitRecord, share: &Share) -> Result<(), CombineError> {
    let valid = record.validate()?;
    let candidate = Candidate {
        custodian: None,
        share,
    };
    check_belongs(record, valid.policy, &candidate)?;
    check_commitment(&valid.commitments, &candidate)
}

pub(super) struct Candidate<'a> {
    pub custodian: Option<&'a str>,
    pub share: &'a Share,
}

impl Candidate<'_> {
    fn share_ref(&self) -> ShareRef {
        ShareRef {
            index: self.share.index(),
            custodian: self.custodian.map(str::to_owned),
        }
    }

    fn who(&self) -> String {
        self.custodian.map_or_else(
            || format!("the holder of share {}", self.share.index()),
            str::to_owned,
        )
    }
}

pub(super) fn combine_candidates(
    record: &SplitRecord,
    candidates: &[Candidate],
) -> Result<CeremonySecret, CombineError> {
    let ValidRecord {
        policy,
        commitments,
        check_value,
    } = record.validate()?;
    for candidate in candidates {
        check_belongs(record, policy, candidate)?;
    }
    for (position, later) in candidates.iter().enumerate() {
        for earlier in &candidates[..position] {
            if let (Some(a), Some(b)) = (earlier.custodian, later.custodian)
                && a == b
            {
                return Err(CombineError::SameCustodianTwice {
                    custodian: a.to_owned(),
                });
            }
            if earlier.share.index() == later.share.index() {
                let (index, first, second) = (later.share.index(), earlier.who(), later.who());
                // Commitments are public, so comparing them leaks nothing
                // that comparing the values directly would not.
                return Err(if earlier.share.commitment() == later.share.commitment() {
                    CombineError::DuplicateShare {
                        index,
                        first,
                        second,
                    }
                } else {
                    CombineError::ConflictingShares {
                        index,
                        first,
                        second,
                    }
                });
            }
        }
    }
    let k = policy.k();
    if candidates.len() < usize::from(k) {
        return Err(CombineError::NotEnoughShares {
            presented: candidates.len(),
            k,
        });
    }
    if candidates.len() > usize::from(k) {
        return Err(CombineError::TooManyShares {
            presented: candidates.len(),
            k,
        });
    }
    for candidate in candidates {
        check_commitment(&commitments, candidate)?;
    }
    let shares: Vec<&Share> = candidates.iter().map(|c| c.share).collect();
    let recovered = recover(k, &shares).map_err(|reason| CombineError::Arithmetic { reason })?;
    let secret = CeremonySecret::from_bytes(recovered);
    if secret.check_value(&record.ceremony_id, &record.secret) != check_value {
        return Err(CombineError::CheckValueMismatch);
    }
    Ok(secret)
}

fn check_belongs(
    record: &SplitRecord,
    policy: QuorumPolicy,
    candidate: &Candidate,
) -> Result<(), CombineError> {
    let share = candidate.share;
    if share.ceremony_id() != record.ceremony_id {
        return Err(CombineError::OtherCeremony {
            share: candidate.share_ref(),
            found: share.ceremony_id().to_owned(),
            expected: record.ceremony_id.clone(),
        });
    }
    if share.secret_name() != &record.secret {
        return Err(CombineError::OtherSecret {
            share: candidate.share_ref(),
            found: share.secret_name().clone(),
            expected: record.secret.clone(),
        });
    }
    if share.policy() != policy {
        return Err(CombineError::PolicyMismatch {
            share: candidate.share_ref(),
            found_k: share.policy().k(),
            found_n: share.policy().n(),
            k: policy.k(),
            n: policy.n(),
        });
    }
    if share.index() == 0 || share.index() > policy.n() {
        return Err(CombineError::IndexOutOfRange {
            share: candidate.share_ref(),
            n: policy.n(),
        });
    }
    Ok(())
}

fn check_commitment(commitments: &[[u8; 32]], candidate: &Candidate) -> Result<(), CombineError> {
    let expected = usize::from(candidate.share.index())
        .checked_sub(1)
        .and_then(|position| commitments.get(position));
    if expected != Some(&candidate.share.commitment()) {
        return Err(CombineError::CommitmentMismatch {
            share: candidate.share_ref(),
        });
    }
    Ok(())
}

/// The GF(256) interpolation, with every buffer zeroized: blahaj's shares
/// zeroize themselves on drop, its returned Vec does not, so it is wrapped at
/// once.
pub(super) fn recover(k: u8, shares: &[&Share]) -> Result<SecretBytes, String> {
    let mut points = Vec::with_capacity(shares.len());
    for share in shares {
        let mut bytes = Zeroizing::new([0u8; 33]);
        bytes[0] = share.index();
        bytes[1..].copy_from_slice(share.value());
        points.push(blahaj::Share::try_from(bytes.as_slice()).map_err(str::to_owned)?);
    }
    let recovered = Zeroizing::new(Sharks(k).recover(&points).map_err(str::to_owned)?);
    if recovered.len() != 32 {
        return Err(format!(
            "the recovered value has {} bytes, not 32",
            recovered.len()
        ));
    }
    let mut secret = SecretBytes::zeroed();
    secret.bytes_mut().copy_from_slice(&recovered);
    Ok(secret)
}
