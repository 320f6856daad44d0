//! The linter's checks fail when the built certificate and the expectation
//! disagree: each field changed on its own is named. And a profile's key
//! usages: what a CA may carry, what it may not, and the bits built.

use chrono::{TimeZone, Utc};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode, Encode};
use rand::rngs::OsRng;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use super::certificate::{assemble, build_tbs, root_expectation};
use super::check::{CertExpectation, check_certificate, extension};
use super::name::parse_subject;
use super::usage::{key_usage_extension, usages_in};
use super::{CaError, CaKeyUsage, CertProfile, Issuer};
use crate::hsm::KeyAlgorithm;

fn p256_spki() -> Vec<u8> {
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(
                Any::encode_from(&ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7")).unwrap(),
            ),
        },
        subject_public_key: BitString::from_bytes(
            key.verifying_key().to_encoded_point(false).as_bytes(),
        )
        .unwrap(),
    }
    .to_der()
    .unwrap()
}

fn profile(key_usage: Vec<CaKeyUsage>) -> CertProfile {
    CertProfile {
        subject: "CN=Root,O=Example".to_string(),
        validity_days: 10,
        path_length: Some(2),
        key_usage,
    }
}

/// A root certificate built (not signed) from `profile`, and what it was
/// built from.
fn built(profile: &CertProfile, spki: &[u8]) -> (Certificate, CertExpectation) {
    let issuer = Issuer {
        algorithm: KeyAlgorithm::EcP256,
        spki_der: spki,
        certificate_der: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (expected, public_key) = root_expectation(profile, &issuer, [7; 16], now).unwrap();
    let tbs = build_tbs(&expected, public_key).unwrap();
    let der = assemble(&tbs, &expected, &[0x30, 0x00]).unwrap();
    (Certificate::from_der(&der).unwrap(), expected)
}

#[test]
fn each_mismatch_is_named() {
    let spki = p256_spki();
    let issuer = Issuer {
        algorithm: KeyAlgorithm::EcP256,
        spki_der: &spki,
        certificate_der: None,
    };
    let profile = profile(CaKeyUsage::default_set());
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (certificate, expected) = built(&profile, &spki);
    check_certificate(&certificate, &expected).expect("as built");

    type Change = fn(&mut CertExpectation);
    let changes: [(&str, Change); 12] = [
        ("serial", |e| {
            e.serial = x509_cert::serial_number::SerialNumber::from(9u32)
        }),
        ("signature-algorithm", |e| {
            e.signature_algorithm.oid = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3")
        }),
        ("issuer", |e| {
            e.issuer = parse_subject("CN=Other", "t").unwrap()
        }),
        ("subject", |e| {
            e.subject = parse_subject("CN=Other", "t").unwrap()
        }),
        ("validity.not-before", |e| e.not_before += 1),
        ("validity.not-after", |e| e.not_after -= 1),
        ("subject-public-key", |e| e.spki_der = p256_spki()),
        ("extensions.basic-constraints", |e| e.path_length = None),
        ("extensions.key-usage", |e| {
            e.key_usage = vec![CaKeyUsage::CertSign]
        }),
        ("extensions.key-usage", |e| {
            e.key_usage.push(CaKeyUsage::DigitalSignature)
        }),
        ("extensions.subject-key-identifier", |e| {
            e.subject_key_id[0] ^= 1
        }),
        ("extensions.authority-key-identifier", |e| {
            e.authority_key_id[0] ^= 1
        }),
    ];
    for (field, change) in changes {
        let (mut changed, _) = root_expectation(&profile, &issuer, [7; 16], now).unwrap();
        changed.spki_der = expected.spki_der.clone();
        change(&mut changed);
        let (named, reason) =
            check_certificate(&certificate, &changed).expect_err("a mismatch must be found");
        assert_eq!(named, field, "{reason}");
    }
}

const FORBIDDEN: [CaKeyUsage; 6] = [
    CaKeyUsage::ContentCommitment,
    CaKeyUsage::KeyEncipherment,
    CaKeyUsage::DataEncipherment,
    CaKeyUsage::KeyAgreement,
    CaKeyUsage::EncipherOnly,
    CaKeyUsage::DecipherOnly,
];

fn all_usages() -> Vec<CaKeyUsage> {
    let mut all = CaKeyUsage::ALLOWED.to_vec();
    all.extend(FORBIDDEN);
    all
}

/// The refusal's (field, reason), asserting it is a profile error.
fn refusal(key_usage: Vec<CaKeyUsage>) -> (String, String) {
    match profile(key_usage.clone()).check() {
        Err(CaError::Profile { field, reason }) => (field, reason),
        other => panic!("{key_usage:?}: expected a profile error, got {other:?}"),
    }
}

#[test]
fn every_forbidden_usage_is_refused_by_name() {
    for usage in FORBIDDEN {
        for key_usage in [
            vec![CaKeyUsage::CertSign, usage],
            vec![usage, CaKeyUsage::CertSign, CaKeyUsage::CrlSign],
        ] {
            let (field, reason) = refusal(key_usage);
            assert_eq!(field, "profile.key-usage");
            assert_eq!(
                reason,
                format!(
                    "{usage} is not allowed in a CA certificate \
                     (allowed: cert-sign, crl-sign, digital-signature)"
                )
            );
        }
    }
}

#[test]
fn cert_sign_is_required() {
    for key_usage in [
        vec![],
        vec![CaKeyUsage::CrlSign],
        vec![CaKeyUsage::DigitalSignature, CaKeyUsage::CrlSign],
    ] {
        let (field, reason) = refusal(key_usage);
        assert_eq!(field, "profile.key-usage");
        assert!(reason.starts_with("cert-sign is required"), "{reason}");
    }
}

#[test]
fn a_usage_listed_twice_is_refused() {
    let (field, reason) = refusal(vec![
        CaKeyUsage::CertSign,
        CaKeyUsage::CrlSign,
        CaKeyUsage::CertSign,
    ]);
    assert_eq!(field, "profile.key-usage");
    assert_eq!(reason, "cert-sign is listed twice");
}

#[test]
fn allowed_sets_pass_and_absent_means_cert_sign_and_crl_sign() {
    for key_usage in [
        vec![CaKeyUsage::CertSign],
        vec![CaKeyUsage::CrlSign, CaKeyUsage::CertSign],
        vec![
            CaKeyUsage::DigitalSignature,
            CaKeyUsage::CertSign,
            CaKeyUsage::CrlSign,
        ],
    ] {
        profile(key_usage).check().expect("allowed");
    }
    let absent: CertProfile =
        serde_yaml::from_str("subject: CN=Root\nvalidity-days: 10\n").unwrap();
    assert_eq!(
        absent.key_usage,
        vec![CaKeyUsage::CertSign, CaKeyUsage::CrlSign]
    );
    let (certificate, _) = built(&absent, &p256_spki());
    let (critical, usage) = extension::<x509_cert::ext::pkix::KeyUsage>(
        certificate.tbs_certificate.extensions.as_deref().unwrap(),
        "t",
    )
    .unwrap();
    assert!(critical);
    // The bits as RFC 5280 numbers them: keyCertSign (5) and cRLSign (6).
    assert_eq!(usage.0.bits(), 1 << 5 | 1 << 6);
}

/// The names in messages are the names serde reads, and each usage maps to
/// its own bit, read back by the self-check's independent reader.
#[test]
fn names_and_bits_agree_for_every_usage() {
    for usage in all_usages() {
        let parsed: CaKeyUsage = serde_yaml::from_str(usage.name()).unwrap();
        assert_eq!(parsed, usage);
        let bits = key_usage_extension(&[usage]);
        assert_eq!(bits.0.bits().count_ones(), 1, "{usage}");
        assert_eq!(usages_in(&bits), vec![usage]);
    }
    let error = serde_yaml::from_str::<CaKeyUsage>("non-repudiation").unwrap_err();
    assert!(error.to_string().contains("unknown variant"), "{error}");
}

#[test]
fn the_certificate_carries_exactly_the_profiles_usages() {
    let wanted = vec![
        CaKeyUsage::CrlSign,
        CaKeyUsage::DigitalSignature,
        CaKeyUsage::CertSign,
    ];
    let (certificate, expected) = built(&profile(wanted), &p256_spki());
    check_certificate(&certificate, &expected).expect("as built");
    let (_, usage) = extension::<x509_cert::ext::pkix::KeyUsage>(
        certificate.tbs_certificate.extensions.as_deref().unwrap(),
        "t",
    )
    .unwrap();
    assert_eq!(usage.0.bits(), 1 << 0 | 1 << 5 | 1 << 6);

    // The CA operation refuses a forbidden usage itself, not only the
    // script validation: root_expectation is its first step.
    let spki = p256_spki();
    let issuer = Issuer {
        algorithm: KeyAlgorithm::EcP256,
        spki_der: &spki,
        certificate_der: None,
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let refused = root_expectation(
        &profile(vec![CaKeyUsage::CertSign, CaKeyUsage::KeyAgreement]),
        &issuer,
        [7; 16],
        now,
    )
    .err()
    .expect("refused");
    assert_eq!(
        refused.to_string(),
        "profile.key-usage: key-agreement is not allowed in a CA certificate \
         (allowed: cert-sign, crl-sign, digital-signature)"
    );

    // Should a forbidden usage get past the profile check, the self-check
    // refuses the certificate even though it matches its expectation.
    let (mut expected, public_key) =
        root_expectation(&profile(CaKeyUsage::default_set()), &issuer, [7; 16], now).unwrap();
    expected.key_usage = vec![CaKeyUsage::CertSign, CaKeyUsage::KeyEncipherment];
    let tbs = build_tbs(&expected, public_key).unwrap();
    let der = assemble(&tbs, &expected, &[0x30, 0x00]).unwrap();
    let (field, reason) = check_certificate(&Certificate::from_der(&der).unwrap(), &expected)
        .expect_err("a forbidden usage must be found");
    assert_eq!(field, "extensions.key-usage");
    assert!(
        reason.contains("key-encipherment is not allowed in a CA certificate"),
        "{reason}"
    );
}
