//! The linter's checks fail when the built certificate and the expectation
//! disagree: each field changed on its own is named.

use chrono::{TimeZone, Utc};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode, Encode};
use rand::rngs::OsRng;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

use super::certificate::{assemble, build_tbs, root_expectation};
use super::check::{CertExpectation, check_certificate};
use super::name::parse_subject;
use super::{CertProfile, Issuer};
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

#[test]
fn each_mismatch_is_named() {
    let spki = p256_spki();
    let issuer = Issuer {
        algorithm: KeyAlgorithm::EcP256,
        spki_der: &spki,
        certificate_der: None,
    };
    let profile = CertProfile {
        subject: "CN=Root,O=Example".to_string(),
        validity_days: 10,
        path_length: Some(2),
    };
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let (expected, public_key) = root_expectation(&profile, &issuer, [7; 16], now).unwrap();
    let tbs = build_tbs(&expected, public_key).unwrap();
    let der = assemble(&tbs, &expected, &[0x30, 0x00]).unwrap();
    let certificate = Certificate::from_der(&der).unwrap();
    check_certificate(&certificate, &expected).expect("as built");

    type Change = fn(&mut CertExpectation);
    let changes: [(&str, Change); 10] = [
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
