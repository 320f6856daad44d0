//! Helpers shared by the quorum tests: a second, independent implementation
//! of the code's character mapping and bech32m checksum (written from
//! docs/shares.md), used to craft codes the tool itself would never write.

#![allow(dead_code)]

use keyceremony::quorum::{
    CeremonySecret, Presented, QuorumPolicy, SecretName, Share, SplitRecord, split,
};

pub const CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

pub fn name(text: &str) -> SecretName {
    text.parse().expect("valid secret name")
}

pub fn policy(k: u8, n: u8) -> QuorumPolicy {
    QuorumPolicy::new(k, n).expect("valid policy")
}

/// A fresh ceremony secret; the HSM part is a fixed non-constant pattern,
/// the OS part makes each one unique.
pub fn fresh_secret() -> CeremonySecret {
    let hsm: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(29).wrapping_add(3))
        .collect();
    CeremonySecret::generate(&hsm).expect("generate a ceremony secret")
}

pub struct Split {
    pub secret: CeremonySecret,
    pub shares: Vec<Share>,
    pub record: SplitRecord,
}

pub fn make_split(ceremony_id: &str, secret_name: &str, k: u8, n: u8) -> Split {
    let secret = fresh_secret();
    let shares = split(&secret, ceremony_id, &name(secret_name), policy(k, n)).expect("split");
    let record = SplitRecord::new(&secret, &shares).expect("record");
    Split {
        secret,
        shares,
        record,
    }
}

/// An owned copy of a share, made the way a custodian would: from its text.
pub fn copy(share: &Share) -> Share {
    Share::parse(&share.to_text()).expect("a share's own text parses")
}

pub fn present(custodian: &str, share: &Share) -> Presented {
    Presented {
        custodian: custodian.to_owned(),
        share: copy(share),
    }
}

/// The code without the `kc1` prefix and spaces.
pub fn bare_code(share: &Share) -> String {
    let code = share.code();
    code.trim_start_matches("kc1").split_whitespace().collect()
}

/// The 5-bit values of a bare code.
pub fn values(bare: &str) -> Vec<u8> {
    bare.chars()
        .map(|c| CHARSET.find(c).expect("code character") as u8)
        .collect()
}

fn polymod(values: &[u8]) -> u32 {
    let generator = [
        0x3b6a57b2u32,
        0x26508e6d,
        0x1ea119fa,
        0x3d4233dd,
        0x2a1462b3,
    ];
    let mut chk = 1u32;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ u32::from(v);
        for (i, g) in generator.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Writes 64 data values as a full code with a valid bech32m checksum for
/// the "kc" prefix.
pub fn code_with_checksum(data: &[u8]) -> String {
    assert_eq!(data.len(), 64);
    let mut all: Vec<u8> = vec![3, 3, 0, 11, 3];
    all.extend_from_slice(data);
    all.extend_from_slice(&[0; 6]);
    let residue = polymod(&all) ^ 0x2bc830a3;
    let mut values = data.to_vec();
    values.extend((0..6).map(|i| ((residue >> (5 * (5 - i))) & 31) as u8));
    let chars: String = values
        .iter()
        .map(|&v| CHARSET.as_bytes()[usize::from(v)] as char)
        .collect();
    format!("kc1{chars}")
}

/// A copy of `share`'s code with data value `position` replaced, and the
/// checksum recomputed so that only the field check can catch it.
pub fn forge(share: &Share, position: usize, value: u8) -> String {
    let mut data = values(&bare_code(share))[..64].to_vec();
    data[position] = value;
    code_with_checksum(&data)
}
