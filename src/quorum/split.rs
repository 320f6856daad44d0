//! Splitting a ceremony secret, and the public record of the split that
//! later checks every share (see `combine`).

use blahaj::Sharks;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::combine::{Candidate, combine_candidates, recover};
use super::{
    CeremonySecret, CombineError, QuorumError, QuorumPolicy, SecretBytes, SecretName, Share,
    validate_ceremony_id,
};

/// Splits `secret` into `policy.n()` shares with indices 1..=n, any
/// `policy.k()` of which recover it.
///
/// Before returning, two different k-subsets are recombined and compared with
/// the secret, so a regression in the Shamir library cannot hand out shares
/// that do not recover.
pub fn split(
    secret: &CeremonySecret,
    ceremony_id: &str,
    name: &SecretName,
    policy: QuorumPolicy,
) -> Result<Vec<Share>, QuorumError> {
    validate_ceremony_id(ceremony_id)?;
    let (k, n) = (usize::from(policy.k()), usize::from(policy.n()));
    let self_check = |reason: &str| QuorumError::SplitSelfCheck {
        reason: reason.to_owned(),
    };
    let mut shares = Vec::with_capacity(n);
    // blahaj's dealer evaluates x = 1, 2, ... in order; index 0 is never dealt.
    for (position, dealt) in Sharks(policy.k())
        .dealer(secret.bytes())
        .take(n)
        .enumerate()
    {
        let bytes = Zeroizing::new(Vec::from(&dealt));
        // `dealt` zeroizes itself on drop (blahaj's zeroize_memory feature).
        drop(dealt);
        if bytes.len() != 33 || usize::from(bytes[0]) != position + 1 {
            return Err(self_check("a share has an unexpected index or length"));
        }
        let mut value = SecretBytes::zeroed();
        value.bytes_mut().copy_from_slice(&bytes[1..]);
        shares.push(Share::new(ceremony_id, name, bytes[0], policy, value));
    }
    if shares.len() != n {
        return Err(self_check("too few shares were dealt"));
    }
    for subset in [&shares[..k], &shares[n - k..]] {
        let subset: Vec<&Share> = subset.iter().collect();
        let recovered = recover(policy.k(), &subset).map_err(|reason| self_check(&reason))?;
        if recovered.bytes() != secret.bytes() {
            return Err(self_check(
                "a k-subset of the shares recovers another value",
            ));
        }
    }
    Ok(shares)
}

/// Public facts about a split, recorded in the transcript when the secret is
/// split and used to check shares later. Hashes are lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRecord {
    pub ceremony_id: String,
    /// Written as `secret_name`: the value is a name, never secret material.
    #[serde(rename = "secret_name")]
    pub secret: SecretName,
    pub k: u8,
    pub n: u8,
    /// The commitment of share i at position i-1.
    pub commitments: Vec<String>,
    pub check_value: String,
}

impl SplitRecord {
    /// Builds the record of a complete split (all n shares, in index order)
    /// and proves it before returning: the first k shares must pass
    /// [`combine`]'s checks and recover `secret`.
    pub fn new(secret: &CeremonySecret, shares: &[Share]) -> Result<SplitRecord, QuorumError> {
        let incomplete = |reason: String| QuorumError::IncompleteSplit { reason };
        let first = shares
            .first()
            .ok_or_else(|| incomplete("there are no shares".to_owned()))?;
        let policy = first.policy();
        if shares.len() != usize::from(policy.n()) {
            return Err(incomplete(format!(
                "{} shares were given, the split has {}",
                shares.len(),
                policy.n()
            )));
        }
        for (position, share) in shares.iter().enumerate() {
            if usize::from(share.index()) != position + 1 {
                return Err(incomplete(format!(
                    "share {} is at position {}: shares must be in index order",
                    share.index(),
                    position + 1
                )));
            }
            if share.ceremony_id() != first.ceremony_id()
                || share.secret_name() != first.secret_name()
                || share.policy() != policy
            {
                return Err(incomplete(format!(
                    "share {} comes from another split than share 1",
                    share.index()
                )));
            }
        }
        let record = SplitRecord {
            ceremony_id: first.ceremony_id().to_owned(),
            secret: first.secret_name().clone(),
            k: policy.k(),
            n: policy.n(),
            commitments: shares.iter().map(|s| hex::encode(s.commitment())).collect(),
            check_value: hex::encode(secret.check_value(first.ceremony_id(), first.secret_name())),
        };
        let quorum: Vec<Candidate> = shares[..usize::from(policy.k())]
            .iter()
            .map(|share| Candidate {
                custodian: None,
                share,
            })
            .collect();
        combine_candidates(&record, &quorum).map_err(|error| {
            incomplete(format!("the shares do not recover the secret: {error}"))
        })?;
        Ok(record)
    }

    /// The record's quorum policy, validated.
    pub fn policy(&self) -> Result<QuorumPolicy, CombineError> {
        QuorumPolicy::new(self.k, self.n).map_err(|error| CombineError::InvalidRecord {
            reason: error.to_string(),
        })
    }

    /// Checks the record itself (it may come from a tampered or hand-edited
    /// file) and decodes its hashes.
    pub(super) fn validate(&self) -> Result<ValidRecord, CombineError> {
        let invalid = |reason: String| CombineError::InvalidRecord { reason };
        validate_ceremony_id(&self.ceremony_id).map_err(|error| invalid(error.to_string()))?;
        let policy = self.policy()?;
        if self.commitments.len() != usize::from(policy.n()) {
            return Err(invalid(format!(
                "it lists {} commitments for {} shares",
                self.commitments.len(),
                policy.n()
            )));
        }
        let mut commitments = Vec::with_capacity(self.commitments.len());
        for (position, text) in self.commitments.iter().enumerate() {
            let commitment = decode_hash(text).ok_or_else(|| {
                invalid(format!(
                    "the commitment of share {} is not 64 lowercase hex digits",
                    position + 1
                ))
            })?;
            commitments.push(commitment);
        }
        let check_value = decode_hash(&self.check_value)
            .ok_or_else(|| invalid("the check value is not 64 lowercase hex digits".to_owned()))?;
        Ok(ValidRecord {
            policy,
            commitments,
            check_value,
        })
    }
}

/// A split record's fields after validation, hashes decoded.
pub(super) struct ValidRecord {
    pub policy: QuorumPolicy,
    pub commitments: Vec<[u8; 32]>,
    pub check_value: [u8; 32],
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}
