//! The X.509 core (src/ca) with software keys standing in for the HSM in the
//! signing callback, checked by openssl as an independent reader.

mod ca_support;

use std::cell::Cell;

use ca_support::*;
use chrono::Duration;
use der::Decode;
use keyceremony::ca::{
    self, CaError, CertProfile, CrlProfile, CsrPolicy, Issued, Issuer, RevocationReason, Revoked,
};
use keyceremony::hsm::KeyAlgorithm;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};

#[test]
fn root_certificate_is_what_openssl_expects() {
    for algorithm in [
        KeyAlgorithm::EcP384,
        KeyAlgorithm::EcP256,
        KeyAlgorithm::Ed25519,
    ] {
        let key = SoftKey::new(algorithm);
        let root = make_root(&key);
        let dir = tempfile::tempdir().unwrap();
        let root_pem = write(dir.path(), "root.pem", &root.pem);
        assert!(root.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));

        let text = openssl(&["x509", "-in", path(&root_pem), "-noout", "-text"]);
        assert!(
            text.contains("Subject: C = NL, O = Example, OU = PKI, CN = Example Root CA"),
            "{text}"
        );
        assert!(
            text.contains("Issuer: C = NL, O = Example, OU = PKI, CN = Example Root CA"),
            "{text}"
        );
        assert!(
            text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:1"),
            "{text}"
        );
        assert!(
            text.contains(
                "X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign\n"
            ),
            "{text}"
        );
        assert!(text.contains("X509v3 Subject Key Identifier:"), "{text}");
        assert!(
            text.contains("Not Before: Mar  1 12:00:00 2026 GMT"),
            "{text}"
        );
        assert!(
            text.contains("Not After : Feb 24 12:00:00 2046 GMT"),
            "{text}"
        );
        let signature_name = match algorithm {
            KeyAlgorithm::EcP384 => "ecdsa-with-SHA384",
            KeyAlgorithm::EcP256 => "ecdsa-with-SHA256",
            _ => "ED25519",
        };
        assert!(
            text.contains(&format!("Signature Algorithm: {signature_name}")),
            "{text}"
        );
        let verify = openssl(&["verify", "-CAfile", path(&root_pem), path(&root_pem)]);
        assert!(verify.contains(": OK"), "{verify}");

        // What Issued reports matches the certificate.
        let certificate = Certificate::from_der(&root.der).unwrap();
        let ski: SubjectKeyIdentifier = extension(&certificate);
        let aki: AuthorityKeyIdentifier = extension(&certificate);
        assert_eq!(aki.key_identifier, Some(ski.0));
        assert_eq!(root.serial_hex, format!("25{}", "a5".repeat(15)));
        assert_eq!(root.not_before, "2026-03-01T12:00:00Z");
        assert_eq!(root.not_after, "2046-02-24T12:00:00Z");
        let fingerprint = openssl(&[
            "x509",
            "-in",
            path(&root_pem),
            "-noout",
            "-fingerprint",
            "-sha256",
        ]);
        assert_eq!(
            fingerprint
                .trim()
                .rsplit('=')
                .next()
                .unwrap()
                .replace(':', "")
                .to_lowercase(),
            root.sha256_hex
        );
    }
}

#[test]
fn intermediate_from_an_openssl_csr_verifies_under_the_root() {
    let key = SoftKey::new(KeyAlgorithm::EcP384);
    let root = make_root(&key);
    let dir = tempfile::tempdir().unwrap();
    let root_pem = write(dir.path(), "root.pem", &root.pem);
    let csr = openssl_csr(dir.path(), "P-256");
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: Some(&root.der),
    };
    let calls = Cell::new(0);
    let intermediate = ca::sign_csr(
        &csr,
        &intermediate_policy(),
        &issuer,
        [0x11; 16],
        now() + Duration::days(1),
        &mut counting_signer(&key, &calls),
    )
    .expect("intermediate");
    assert_eq!(calls.get(), 1);
    let intermediate_pem = write(dir.path(), "intermediate.pem", &intermediate.pem);

    let verify = openssl(&[
        "verify",
        "-CAfile",
        path(&root_pem),
        path(&intermediate_pem),
    ]);
    assert!(verify.contains("intermediate.pem: OK"), "{verify}");
    let text = openssl(&["x509", "-in", path(&intermediate_pem), "-noout", "-text"]);
    assert!(
        text.contains("Subject: C = NL, O = Example, CN = Example Issuing CA 1"),
        "the subject comes from the profile, not the CSR: {text}"
    );
    assert!(text.contains("Issuer: C = NL, O = Example, OU = PKI, CN = Example Root CA"));
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(text.contains("Public-Key: (256 bit)"), "{text}");

    // The certificate carries the CSR's key; AKI is the root's SKI.
    let root_certificate = Certificate::from_der(&root.der).unwrap();
    let certificate = Certificate::from_der(&intermediate.der).unwrap();
    let root_ski: SubjectKeyIdentifier = extension(&root_certificate);
    let aki: AuthorityKeyIdentifier = extension(&certificate);
    assert_eq!(aki.key_identifier, Some(root_ski.0));
    let csr_der = der::pem::decode_vec(&csr).unwrap().1;
    let request = x509_cert::request::CertReq::from_der(&csr_der).unwrap();
    assert_eq!(
        certificate.tbs_certificate.subject_public_key_info,
        request.info.public_key
    );

    // DER input works as well as PEM.
    let again = ca::sign_csr(
        &csr_der,
        &intermediate_policy(),
        &issuer,
        [0x12; 16],
        now() + Duration::days(1),
        &mut counting_signer(&key, &calls),
    )
    .expect("from DER");
    assert_ne!(again.serial_hex, intermediate.serial_hex);
}

#[test]
fn crl_shows_number_reasons_serials_and_verifies_under_the_root() {
    let key = SoftKey::new(KeyAlgorithm::EcP256);
    let root = make_root(&key);
    let dir = tempfile::tempdir().unwrap();
    let root_pem = write(dir.path(), "root.pem", &root.pem);
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: Some(&root.der),
    };
    let profile = CrlProfile {
        number: 7,
        next_update_days: 365,
        revoked: vec![
            Revoked {
                serial: "0a:bc:de:f0:12".to_string(),
                reason: RevocationReason::KeyCompromise,
                date: "2026-02-01T08:30:00Z".to_string(),
            },
            Revoked {
                serial: "7fffffffffffffffffffffffffffffff".to_string(),
                reason: RevocationReason::CessationOfOperation,
                date: "2026-02-02T00:00:00+01:00".to_string(),
            },
            Revoked {
                serial: "123".to_string(),
                reason: RevocationReason::Unspecified,
                date: "2026-02-03T00:00:00Z".to_string(),
            },
        ],
    };
    let calls = Cell::new(0);
    let crl = ca::crl(&profile, &issuer, now(), &mut counting_signer(&key, &calls)).expect("crl");
    assert_eq!(calls.get(), 1);
    assert!(crl.pem.starts_with("-----BEGIN X509 CRL-----\n"));
    assert_eq!(crl.serial_hex, "07");
    assert_eq!(crl.not_before, "2026-03-01T12:00:00Z");
    assert_eq!(crl.not_after, "2027-03-01T12:00:00Z");
    let crl_pem = write(dir.path(), "crl.pem", &crl.pem);

    let text = openssl(&["crl", "-in", path(&crl_pem), "-noout", "-text"]);
    for expected in [
        "Version 2 (0x1)",
        "Issuer: C = NL, O = Example, OU = PKI, CN = Example Root CA",
        "Last Update: Mar  1 12:00:00 2026 GMT",
        "Next Update: Mar  1 12:00:00 2027 GMT",
        "X509v3 CRL Number: \n                7\n",
        "X509v3 Authority Key Identifier:",
        "Serial Number: 0ABCDEF012\n        Revocation Date: Feb  1 08:30:00 2026 GMT\n        CRL entry extensions:\n            X509v3 CRL Reason Code: \n                Key Compromise",
        "Serial Number: 7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n        Revocation Date: Feb  1 23:00:00 2026 GMT\n        CRL entry extensions:\n            X509v3 CRL Reason Code: \n                Cessation Of Operation",
        "Serial Number: 0123\n        Revocation Date: Feb  3 00:00:00 2026 GMT\n    Signature Algorithm",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let verify = openssl(&[
        "crl",
        "-in",
        path(&crl_pem),
        "-CAfile",
        path(&root_pem),
        "-verify",
        "-noout",
    ]);
    assert!(verify.contains("verify OK"), "{verify}");

    // The CRL's AKI is the root's SKI.
    let listing = x509_cert::crl::CertificateList::from_der(&crl.der).unwrap();
    let aki = listing
        .tbs_cert_list
        .crl_extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|extension| {
            extension.extn_id == <AuthorityKeyIdentifier as der::oid::AssociatedOid>::OID
        })
        .map(|extension| AuthorityKeyIdentifier::from_der(extension.extn_value.as_bytes()).unwrap())
        .unwrap();
    let root_ski: SubjectKeyIdentifier = extension(&Certificate::from_der(&root.der).unwrap());
    assert_eq!(aki.key_identifier, Some(root_ski.0));
}

#[test]
fn intermediate_validity_past_the_issuers_is_refused_before_signing() {
    let fixture = Fixture::new();
    let csr = openssl_csr(fixture.dir.path(), "P-256");
    let mut policy = intermediate_policy();
    policy.profile.validity_days = 7300; // the root's own length, starting a day later
    let calls = Cell::new(0);
    let result = ca::sign_csr(
        &csr,
        &policy,
        &fixture.issuer(),
        [1; 16],
        now() + Duration::days(1),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "validity.not-after",
        "2046-02-25T12:00:00Z is after the issuer certificate's not-after 2046-02-24T12:00:00Z",
    );
    // Starting before the issuer does is refused too.
    let result = ca::sign_csr(
        &csr,
        &intermediate_policy(),
        &fixture.issuer(),
        [1; 16],
        now() - Duration::seconds(1),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(result, &calls, "validity.not-before", "before the issuer");
}

#[test]
fn csr_with_a_bad_signature_is_refused_before_signing() {
    let fixture = Fixture::new();
    let pem = openssl_csr(fixture.dir.path(), "P-256");
    let mut der = der::pem::decode_vec(&pem).unwrap().1;
    // The signature BIT STRING ends the CSR: flip a bit of its last byte.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let calls = Cell::new(0);
    let result = ca::sign_csr(
        &der,
        &intermediate_policy(),
        &fixture.issuer(),
        [1; 16],
        now(),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "csr.signature",
        "does not verify against the CSR's own ec-p256 public key (subject CN=Requested Name)",
    );
}

#[test]
fn csr_key_type_not_allowed_is_refused_before_signing() {
    let fixture = Fixture::new();
    // openssl signs a P-384 request with SHA-256 by default: it must still verify.
    let csr = openssl_csr(fixture.dir.path(), "P-384");
    let mut policy = intermediate_policy();
    policy.allowed_keys = vec![KeyAlgorithm::EcP256, KeyAlgorithm::Ed25519];
    let calls = Cell::new(0);
    let result = ca::sign_csr(
        &csr,
        &policy,
        &fixture.issuer(),
        [1; 16],
        now(),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "csr.key",
        "an ec-p384 key is not among the allowed-keys [ec-p256, ed25519]",
    );
    // The same CSR passes once P-384 is allowed.
    policy.allowed_keys.push(KeyAlgorithm::EcP384);
    ca::sign_csr(
        &csr,
        &policy,
        &fixture.issuer(),
        [1; 16],
        now(),
        &mut counting_signer(&fixture.key, &calls),
    )
    .expect("allowed now");
}

#[test]
fn unparsable_subjects_are_refused_before_signing() {
    let key = SoftKey::new(KeyAlgorithm::Ed25519);
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: None,
    };
    for (subject, words) in [
        ("CN=Root,EMAIL=a@b.example", "unknown attribute \"EMAIL\""),
        ("CN=Root,O", "is not one KEY=VALUE"),
        ("CN=Root,,O=Example", "an empty part"),
        ("O=Example", "a CN is required"),
        ("CN=Root,C=Netherlands", "must have 1 to 2 characters"),
        ("CN=Root,C=nl", "two-letter upper-case country code"),
        ("CN=Root+O=Example", "multi-valued RDNs"),
        ("CN=A,CN=B", "CN appears twice"),
        ("CN=Root\\", "lone backslash"),
    ] {
        let profile = CertProfile {
            subject: subject.to_string(),
            ..root_profile()
        };
        let calls = Cell::new(0);
        let result = ca::root_certificate(
            &profile,
            &issuer,
            [1; 16],
            now(),
            &mut counting_signer(&key, &calls),
        );
        assert_refused(result, &calls, "subject", words);
    }
    // Escapes are honoured: a comma inside the CN.
    let profile = CertProfile {
        subject: "CN=Example\\, Inc. Root,O=Example".to_string(),
        ..root_profile()
    };
    let calls = Cell::new(0);
    let root = ca::root_certificate(
        &profile,
        &issuer,
        [1; 16],
        now(),
        &mut counting_signer(&key, &calls),
    )
    .expect("escaped comma");
    let subject = Certificate::from_der(&root.der)
        .unwrap()
        .tbs_certificate
        .subject;
    assert_eq!(subject.to_string(), "CN=Example\\, Inc. Root,O=Example");
}

#[test]
fn crl_next_update_past_the_issuers_validity_is_refused_before_signing() {
    let fixture = Fixture::new();
    let profile = CrlProfile {
        number: 1,
        next_update_days: 7300,
        revoked: vec![],
    };
    let calls = Cell::new(0);
    let result = ca::crl(
        &profile,
        &fixture.issuer(),
        now() + Duration::days(1),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "next-update",
        "after the issuer certificate's not-after",
    );
}

#[test]
fn other_profile_errors_are_refused_before_signing() {
    let fixture = Fixture::new();
    let calls = Cell::new(0);
    let mut sign = counting_signer(&fixture.key, &calls);
    let crl_with = |revoked: Revoked| CrlProfile {
        number: 2,
        next_update_days: 30,
        revoked: vec![revoked],
    };
    let revoked = |serial: &str, date: &str| Revoked {
        serial: serial.to_string(),
        reason: RevocationReason::Superseded,
        date: date.to_string(),
    };
    let cases: Vec<(Result<Issued, CaError>, &str, &str)> = vec![
        (
            ca::crl(
                &crl_with(revoked("zz", "2026-01-01T00:00:00Z")),
                &fixture.issuer(),
                now(),
                &mut sign,
            ),
            "revoked[0].serial",
            "is not hex",
        ),
        (
            ca::crl(
                &crl_with(revoked("00", "2026-01-01T00:00:00Z")),
                &fixture.issuer(),
                now(),
                &mut sign,
            ),
            "revoked[0].serial",
            "empty or zero",
        ),
        (
            ca::crl(
                &crl_with(revoked("01", "2026-03-02T00:00:00Z")),
                &fixture.issuer(),
                now(),
                &mut sign,
            ),
            "revoked[0].date",
            "after this CRL's thisUpdate",
        ),
        (
            ca::crl(
                &crl_with(revoked("01", "yesterday")),
                &fixture.issuer(),
                now(),
                &mut sign,
            ),
            "revoked[0].date",
            "is not RFC 3339",
        ),
        (
            ca::root_certificate(
                &CertProfile {
                    validity_days: 0,
                    ..root_profile()
                },
                &Issuer {
                    certificate_der: None,
                    ..fixture.issuer()
                },
                [1; 16],
                now(),
                &mut sign,
            ),
            "validity-days",
            "outside 1..=36500",
        ),
        (
            ca::root_certificate(
                &root_profile(),
                &fixture.issuer(),
                [1; 16],
                now(),
                &mut sign,
            ),
            "issuer.certificate",
            "a self-signed root has no issuer certificate",
        ),
        (
            ca::crl(
                &crl_with(revoked("01", "2026-01-01T00:00:00Z")),
                &Issuer {
                    algorithm: KeyAlgorithm::EcP256,
                    ..fixture.issuer()
                },
                now(),
                &mut sign,
            ),
            "issuer.public-key",
            "holds an ec-p384 key, not the ec-p256 key named",
        ),
    ];
    drop(sign);
    for (result, field, words) in cases {
        assert_refused(result, &calls, field, words);
    }

    // A path length not below the issuer's (the root has pathlen 1).
    let csr = openssl_csr(fixture.dir.path(), "P-256");
    for path_length in [None, Some(1)] {
        let mut policy = intermediate_policy();
        policy.profile.path_length = path_length;
        let result = ca::sign_csr(
            &csr,
            &policy,
            &fixture.issuer(),
            [1; 16],
            now(),
            &mut counting_signer(&fixture.key, &calls),
        );
        assert_refused(
            result,
            &calls,
            "path-length",
            "is not below the issuer's path length 1",
        );
    }

    // An issuer certificate that belongs to another key.
    let other = SoftKey::new(KeyAlgorithm::EcP384);
    let other_spki = other.spki_der();
    let result = ca::sign_csr(
        &csr,
        &intermediate_policy(),
        &Issuer {
            spki_der: &other_spki,
            ..fixture.issuer()
        },
        [1; 16],
        now(),
        &mut counting_signer(&other, &calls),
    );
    assert_refused(
        result,
        &calls,
        "issuer.certificate",
        "its public key is not the issuer's key",
    );

    // An AES key signs nothing.
    let error = ca::crl(
        &crl_with(revoked("01", "2026-01-01T00:00:00Z")),
        &Issuer {
            algorithm: KeyAlgorithm::Aes256,
            ..fixture.issuer()
        },
        now(),
        &mut counting_signer(&fixture.key, &calls),
    )
    .expect_err("AES issuer");
    assert!(
        matches!(error, CaError::UnsupportedIssuer(KeyAlgorithm::Aes256)),
        "{error:?}"
    );
    assert_eq!(calls.get(), 0);
}

#[test]
fn a_signature_by_another_key_is_refused_after_signing() {
    let fixture = Fixture::new();
    let impostor = SoftKey::new(KeyAlgorithm::EcP384);
    let csr = openssl_csr(fixture.dir.path(), "P-256");
    let calls = Cell::new(0);
    let rejected = |result: Result<Issued, CaError>| {
        let error = result.expect_err("a foreign signature must be refused");
        assert!(
            matches!(
                error,
                CaError::SignatureRejected {
                    algorithm: KeyAlgorithm::EcP384,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("does not verify against the issuer's ec-p384 public key")
        );
        error
    };
    let root_issuer = Issuer {
        certificate_der: None,
        ..fixture.issuer()
    };
    rejected(ca::root_certificate(
        &root_profile(),
        &root_issuer,
        [1; 16],
        now(),
        &mut counting_signer(&impostor, &calls),
    ));
    rejected(ca::sign_csr(
        &csr,
        &intermediate_policy(),
        &fixture.issuer(),
        [1; 16],
        now(),
        &mut counting_signer(&impostor, &calls),
    ));
    let crl = CrlProfile {
        number: 1,
        next_update_days: 30,
        revoked: vec![],
    };
    let error = rejected(ca::crl(
        &crl,
        &fixture.issuer(),
        now(),
        &mut counting_signer(&impostor, &calls),
    ));
    assert!(error.to_string().contains("CRL"), "{error}");
    assert_eq!(
        calls.get(),
        3,
        "each operation signed once, then refused the result"
    );

    // A failing signer is reported as such.
    let mut failing =
        |_: &[u8]| -> Result<Vec<u8>, String> { Err("CKR_DEVICE_REMOVED".to_string()) };
    let error = ca::crl(&crl, &fixture.issuer(), now(), &mut failing).expect_err("signer failed");
    assert_eq!(
        error.to_string(),
        "the issuer's key did not sign the CRL: CKR_DEVICE_REMOVED"
    );
}

#[test]
fn ed25519_and_rsa_csrs_become_intermediates_that_openssl_verifies() {
    let key = SoftKey::new(KeyAlgorithm::Ed25519);
    let root = make_root(&key);
    let dir = tempfile::tempdir().unwrap();
    let root_pem = write(dir.path(), "root.pem", &root.pem);
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: Some(&root.der),
    };
    let policy = CsrPolicy {
        allowed_keys: vec![KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa3072],
        ..intermediate_policy()
    };
    for (name, newkey, expected_key) in [
        ("ed25519", vec!["-newkey", "ed25519"], "ED25519 Public-Key"),
        (
            "rsa",
            vec!["-newkey", "rsa:3072", "-sha384"],
            "Public-Key: (3072 bit)",
        ),
    ] {
        let key_file = dir.path().join(format!("{name}.key"));
        let csr_file = dir.path().join(format!("{name}.csr"));
        let mut args = vec!["req", "-new"];
        args.extend(newkey);
        args.extend([
            "-nodes",
            "-keyout",
            path(&key_file),
            "-out",
            path(&csr_file),
            "-subj",
            "/CN=x",
        ]);
        openssl(&args);
        let calls = Cell::new(0);
        let issued = ca::sign_csr(
            &std::fs::read(&csr_file).unwrap(),
            &policy,
            &issuer,
            [0x42; 16],
            now(),
            &mut counting_signer(&key, &calls),
        )
        .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(calls.get(), 1);
        let pem = write(dir.path(), &format!("{name}.pem"), &issued.pem);
        let verify = openssl(&["verify", "-CAfile", path(&root_pem), path(&pem)]);
        assert!(verify.contains(": OK"), "{name}: {verify}");
        let text = openssl(&["x509", "-in", path(&pem), "-noout", "-text"]);
        assert!(text.contains(expected_key), "{name}: {text}");
        assert!(
            text.contains("Signature Algorithm: ED25519"),
            "{name}: {text}"
        );
    }
}

#[test]
fn profiles_deserialize_from_kebab_case_yaml_and_refuse_unknown_fields() {
    let policy: CsrPolicy = serde_yaml::from_str(
        "profile:\n  subject: CN=Issuing CA,O=Example\n  validity-days: 1825\n  path-length: 0\n\
         allowed-keys: [ec-p256, ec-p384]\n",
    )
    .unwrap();
    assert_eq!(policy.profile.validity_days, 1825);
    assert_eq!(policy.profile.path_length, Some(0));
    assert_eq!(
        policy.allowed_keys,
        vec![KeyAlgorithm::EcP256, KeyAlgorithm::EcP384]
    );

    let crl: CrlProfile = serde_yaml::from_str(
        "number: 3\nnext-update-days: 90\nrevoked:\n  - serial: 0a1b\n    reason: ca-compromise\n    date: 2026-01-01T00:00:00Z\n",
    )
    .unwrap();
    assert_eq!(crl.revoked[0].reason, RevocationReason::CaCompromise);
    let profile: CertProfile =
        serde_yaml::from_str("subject: CN=Root\nvalidity-days: 10\n").unwrap();
    assert_eq!(profile.path_length, None);

    let error = serde_yaml::from_str::<CertProfile>(
        "subject: CN=Root\nvalidity-days: 10\nextended-key-usage: [server-auth]\n",
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("unknown field `extended-key-usage`"),
        "{error}"
    );
    let error = serde_yaml::from_str::<CertProfile>(
        "subject: CN=Root\nvalidity-days: 10\nkey-usage: [cert-sign, ocsp-sign]\n",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `ocsp-sign`"),
        "{error}"
    );
    let error =
        serde_yaml::from_str::<Revoked>("serial: '01'\nreason: hold\ndate: x\n").unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `hold`"),
        "{error}"
    );
}
