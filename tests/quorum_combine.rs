//! Splitting and recombining: every k-subset recovers, and every way a
//! presented set of shares can be wrong is refused before the arithmetic,
//! naming the share and the custodian.

mod quorum_support;

use keyceremony::quorum::{
    CombineError, Presented, QuorumError, QuorumPolicy, Share, ShareRef, SplitRecord, check_one,
    combine, split,
};
use proptest::prelude::*;
use quorum_support::*;

const CEREMONY: &str = "root-2025";
const CUSTODIANS: [&str; 16] = [
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil",
];

fn sample() -> Split {
    make_split(CEREMONY, "so-pin", 3, 5)
}

/// Custodian i holds share i+1.
fn by_index(split: &Split, indices: &[usize]) -> Vec<Presented> {
    indices
        .iter()
        .map(|&i| present(CUSTODIANS[i - 1], &split.shares[i - 1]))
        .collect()
}

fn recovers(split: &Split, presented: &[Presented]) -> bool {
    match combine(&split.record, presented) {
        Ok(secret) => {
            secret.check_value(CEREMONY, &name("so-pin"))
                == split.secret.check_value(CEREMONY, &name("so-pin"))
                && secret.derive_pin(&name("so-pin"), 26).expose()
                    == split.secret.derive_pin(&name("so-pin"), 26).expose()
        }
        Err(_) => false,
    }
}

/// Up to `limit` distinct k-subsets of 1..=n: all of them when there are few,
/// otherwise a sample drawn with `seed`.
fn subsets(n: usize, k: usize, limit: usize, mut seed: u64) -> Vec<Vec<usize>> {
    let mut all = Vec::new();
    let mut current = Vec::new();
    fn walk(start: usize, n: usize, k: usize, current: &mut Vec<usize>, all: &mut Vec<Vec<usize>>) {
        if current.len() == k {
            all.push(current.clone());
            return;
        }
        for i in start..=n {
            current.push(i);
            walk(i + 1, n, k, current, all);
            current.pop();
        }
    }
    walk(1, n, k, &mut current, &mut all);
    while all.len() > limit {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let victim = (seed % all.len() as u64) as usize;
        all.swap_remove(victim);
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_k_subset_recovers_and_no_smaller_one_is_accepted(
        (k, n) in (2u8..=16).prop_flat_map(|n| (2u8..=n, Just(n))),
        seed in 1u64..,
    ) {
        let split = make_split(CEREMONY, "so-pin", k, n);
        let (k, n) = (usize::from(k), usize::from(n));
        for subset in subsets(n, k, 40, seed) {
            let presented = by_index(&split, &subset);
            prop_assert!(recovers(&split, &presented), "subset {:?} of {}-of-{}", subset, k, n);
        }
        for subset in subsets(n, k - 1, 10, seed.rotate_left(17)) {
            let presented = by_index(&split, &subset);
            let refused = combine(&split.record, &presented).err();
            prop_assert_eq!(
                refused,
                Some(CombineError::NotEnoughShares { presented: k - 1, k: k as u8 })
            );
        }
    }
}

#[test]
fn policy_limits_are_explained() {
    for (k, n, expected) in [
        (1, 3, "a threshold of 1 would put the secret in every share"),
        (0, 3, "a threshold of 0 would put the secret in every share"),
        (
            4,
            3,
            "a threshold of 4 with only 3 shares could never recover",
        ),
        (3, 17, "at most 16 are supported"),
    ] {
        let error = QuorumPolicy::new(k, n).expect_err("invalid policy");
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert!(QuorumPolicy::new(2, 2).is_ok());
    assert!(QuorumPolicy::new(16, 16).is_ok());
    let parsed: QuorumPolicy = serde_json::from_str(r#"{"k":2,"n":3}"#).expect("valid");
    assert_eq!((parsed.k(), parsed.n()), (2, 3));
    let refused = serde_json::from_str::<QuorumPolicy>(r#"{"k":1,"n":3}"#).expect_err("k=1");
    assert!(refused.to_string().contains("threshold of 1"), "{refused}");
}

#[test]
fn secret_names_are_validated() {
    for good in [
        "so-pin",
        "a",
        "backup-kek-2",
        "abcdefghijklmnopqrstuvwxyz012345",
    ] {
        assert_eq!(name(good).to_string(), good);
    }
    for (bad, reason) in [
        ("", "empty"),
        ("SO-PIN", "start with a lowercase letter"),
        ("9pin", "start with a lowercase letter"),
        ("so_pin", "only lowercase letters"),
        ("so pin", "only lowercase letters"),
        ("abcdefghijklmnopqrstuvwxyz0123456", "longer than 32"),
    ] {
        let error = bad
            .parse::<keyceremony::quorum::SecretName>()
            .expect_err("invalid name");
        assert!(error.to_string().contains(reason), "{bad}: {error}");
    }
    let json = serde_json::to_string(&name("user-pin")).expect("serialize");
    assert_eq!(json, r#""user-pin""#);
    assert!(serde_json::from_str::<keyceremony::quorum::SecretName>(r#""User""#).is_err());
}

#[test]
fn split_refuses_a_bad_ceremony_id() {
    let secret = fresh_secret();
    for (id, reason) in [
        ("", "empty"),
        ("a\nb", "control character"),
        (" root", "whitespace"),
    ] {
        let error = split(&secret, id, &name("so-pin"), policy(2, 3))
            .err()
            .expect("refused");
        assert!(error.to_string().contains(reason), "{error}");
    }
}

#[test]
fn split_deals_indices_one_to_n() {
    let split = make_split(CEREMONY, "so-pin", 2, 16);
    let indices: Vec<u8> = split.shares.iter().map(Share::index).collect();
    assert_eq!(indices, (1..=16).collect::<Vec<u8>>());
    assert_eq!(split.record.commitments.len(), 16);
    assert_eq!(split.record.k, 2);
    assert_eq!(split.record.n, 16);
    let commitments: std::collections::HashSet<_> = split.record.commitments.iter().collect();
    assert_eq!(commitments.len(), 16, "commitments are distinct");
}

#[test]
fn split_record_round_trips_through_json_with_hex_hashes() {
    let split = sample();
    let json = serde_json::to_string(&split.record).expect("serialize");
    let back: SplitRecord = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, split.record);
    assert!(
        split
            .record
            .commitments
            .iter()
            .chain([&split.record.check_value])
            .all(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    assert_eq!(
        split.record.check_value,
        hex::encode(split.secret.check_value(CEREMONY, &name("so-pin")))
    );
    let extra = json.replace("\"k\":", "\"x\":1,\"k\":");
    assert!(serde_json::from_str::<SplitRecord>(&extra).is_err());
}

#[test]
fn split_record_refuses_incomplete_or_foreign_shares() {
    let split = sample();
    let first_two: Vec<Share> = split.shares[..2].iter().map(copy).collect();
    let error = SplitRecord::new(&split.secret, &first_two).expect_err("2 of 5 shares");
    assert!(
        error
            .to_string()
            .contains("2 shares were given, the split has 5"),
        "{error}"
    );

    let other = fresh_secret();
    let all: Vec<Share> = split.shares.iter().map(copy).collect();
    let error = SplitRecord::new(&other, &all).expect_err("shares of another secret");
    assert!(
        matches!(error, QuorumError::IncompleteSplit { .. })
            && error.to_string().contains("check value"),
        "{error}"
    );
}

#[test]
fn recovers_with_exactly_k_in_any_order() {
    let split = sample();
    let presented = by_index(&split, &[5, 1, 3]);
    assert!(recovers(&split, &presented));
}

#[test]
fn refuses_a_share_from_another_ceremony() {
    let split = sample();
    let earlier = make_split("root-2024", "so-pin", 3, 5);
    let mut presented = by_index(&split, &[1, 2]);
    presented.push(present("Carol", &earlier.shares[2]));
    let error = combine(&split.record, &presented).err().expect("refused");
    assert!(matches!(error, CombineError::OtherCeremony { .. }));
    let message = error.to_string();
    assert!(
        message.starts_with("share 3 (presented by Carol) belongs to ceremony \"root-2024\""),
        "{message}"
    );
}

#[test]
fn refuses_a_share_of_another_secret() {
    let split = sample();
    let user_pin = make_split(CEREMONY, "user-pin", 3, 5);
    let mut presented = by_index(&split, &[1, 2]);
    presented.push(present("Carol", &user_pin.shares[2]));
    let error = combine(&split.record, &presented).err().expect("refused");
    assert_eq!(
        error.to_string(),
        "share 3 (presented by Carol) is a share of the secret user-pin, not of so-pin"
    );
}

#[test]
fn refuses_a_duplicated_share_naming_both_custodians() {
    let split = sample();
    let presented = vec![
        present("Alice", &split.shares[0]),
        present("Bob", &split.shares[1]),
        present("Mallory", &split.shares[1]),
    ];
    let error = combine(&split.record, &presented).err().expect("refused");
    assert_eq!(
        error,
        CombineError::DuplicateShare {
            index: 2,
            first: "Bob".to_owned(),
            second: "Mallory".to_owned()
        }
    );
    assert!(
        error
            .to_string()
            .contains("presented twice (by Bob and by Mallory)")
    );
}

#[test]
fn refuses_two_different_shares_with_the_same_index() {
    let split = sample();
    let original = values(&bare_code(&split.shares[1]))[20];
    let forged = Share::from_code(
        &forge(&split.shares[1], 20, original ^ 1),
        CEREMONY,
        &name("so-pin"),
    )
    .expect("forged code is well-formed");
    let presented = vec![
        present("Alice", &split.shares[0]),
        present("Bob", &split.shares[1]),
        Presented {
            custodian: "Mallory".to_owned(),
            share: forged,
        },
    ];
    let error = combine(&split.record, &presented).err().expect("refused");
    assert_eq!(
        error.to_string(),
        "Bob and Mallory both presented a share numbered 2, with different values: \
         at most one of them is genuine"
    );
}

#[test]
fn refuses_the_same_custodian_twice() {
    let split = sample();
    let presented = vec![
        present("Alice", &split.shares[0]),
        present("Alice", &split.shares[1]),
        present("Carol", &split.shares[2]),
    ];
    assert_eq!(
        combine(&split.record, &presented).err(),
        Some(CombineError::SameCustodianTwice {
            custodian: "Alice".to_owned()
        })
    );
}

#[test]
fn refuses_mixed_k_or_n() {
    let split = sample();
    let secret_name = name("so-pin");
    for (k, n) in [(2, 5), (3, 4)] {
        let other = keyceremony::quorum::split(&split.secret, CEREMONY, &secret_name, policy(k, n))
            .expect("split");
        let mut presented = by_index(&split, &[1, 2]);
        presented.push(present("Carol", &other[2]));
        let error = combine(&split.record, &presented).err().expect("refused");
        assert!(
            matches!(error, CombineError::PolicyMismatch { found_k, found_n, k: 3, n: 5, .. }
                if (found_k, found_n) == (k, n)),
            "{error}"
        );
        assert!(error.to_string().contains(&format!(
            "share 3 (presented by Carol) says any {k} of {n} recover, but this secret was split so that any 3 of 5 recover"
        )));
    }
}

#[test]
fn refuses_fewer_than_k() {
    let split = sample();
    let presented = by_index(&split, &[2, 4]);
    let error = combine(&split.record, &presented).err().expect("refused");
    assert_eq!(
        error.to_string(),
        "2 shares were presented, but any 3 are needed to recover the secret"
    );
    assert_eq!(
        combine(&split.record, &[]).err(),
        Some(CombineError::NotEnoughShares { presented: 0, k: 3 })
    );
}

#[test]
fn refuses_more_than_k() {
    let split = sample();
    let presented = by_index(&split, &[1, 2, 3, 4]);
    assert_eq!(
        combine(&split.record, &presented).err(),
        Some(CombineError::TooManyShares { presented: 4, k: 3 })
    );
}

#[test]
fn names_a_malicious_custodian_whose_well_formed_share_has_a_wrong_value() {
    let split = sample();
    // Dave's code is rewritten with one value character changed and a valid
    // checksum: it parses, and only the commitment can tell.
    let original = values(&bare_code(&split.shares[3]))[30];
    let forged_code = forge(&split.shares[3], 30, original ^ 1);
    let forged = Share::from_code(&forged_code, CEREMONY, &name("so-pin")).expect("well-formed");
    assert_eq!(forged.metadata(), split.shares[3].metadata());

    let presented = vec![
        present("Alice", &split.shares[0]),
        present("Bob", &split.shares[1]),
        Presented {
            custodian: "Dave".to_owned(),
            share: forged,
        },
    ];
    let error = combine(&split.record, &presented).err().expect("refused");
    assert_eq!(
        error,
        CombineError::CommitmentMismatch {
            share: ShareRef {
                index: 4,
                custodian: Some("Dave".to_owned())
            }
        }
    );
    assert_eq!(
        error.to_string(),
        "share 4 (presented by Dave) does not match the commitment recorded when the secret \
         was split: it was altered or is not Dave's share"
    );
}

#[test]
fn refuses_a_tampered_record() {
    let split = sample();
    let presented = || by_index(&split, &[1, 2, 3]);

    let mut record = split.record.clone();
    record.commitments.pop();
    assert!(matches!(
        combine(&record, &presented()),
        Err(CombineError::InvalidRecord { .. })
    ));

    let mut record = split.record.clone();
    record.k = 1;
    let error = combine(&record, &presented()).err().expect("refused");
    assert!(error.to_string().contains("threshold of 1"), "{error}");

    let mut record = split.record.clone();
    record.check_value = record.check_value.to_uppercase();
    assert!(matches!(
        combine(&record, &presented()),
        Err(CombineError::InvalidRecord { .. })
    ));

    // A record whose check value belongs to another secret: every share
    // matches its commitment, the recombined secret does not match.
    let mut record = split.record.clone();
    record.check_value = hex::encode(fresh_secret().check_value(CEREMONY, &name("so-pin")));
    assert_eq!(
        combine(&record, &presented()).err(),
        Some(CombineError::CheckValueMismatch)
    );
}

#[test]
fn check_one_accepts_a_genuine_share_and_names_problems() {
    let split = sample();
    for share in &split.shares {
        assert_eq!(check_one(&split.record, &copy(share)), Ok(()));
    }
    let original = values(&bare_code(&split.shares[1]))[40];
    let altered = Share::from_code(
        &forge(&split.shares[1], 40, original ^ 16),
        CEREMONY,
        &name("so-pin"),
    )
    .expect("well-formed");
    let error = check_one(&split.record, &altered).expect_err("altered");
    assert_eq!(
        error.to_string(),
        "share 2 does not match the commitment recorded when the secret was split: \
         it was altered or is not the share it claims to be"
    );
    let earlier = make_split("root-2024", "so-pin", 3, 5);
    assert!(matches!(
        check_one(&split.record, &earlier.shares[0]),
        Err(CombineError::OtherCeremony { .. })
    ));
}
