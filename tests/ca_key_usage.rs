//! A CA profile's `key-usage`: the certificate carries exactly the usages
//! asked for (openssl reads them), a usage a CA must not have is refused
//! before the issuer key signs, and an issuer certificate signs only what
//! its own key usages allow.

mod ca_support;

use std::cell::Cell;

use ca_support::*;
use der::{Decode, Encode};
use keyceremony::ca::{self, CaKeyUsage, CertProfile, CrlProfile, Issuer};
use keyceremony::hsm::KeyAlgorithm;
use x509_cert::Certificate;

fn root_profile_with(key_usage: Vec<CaKeyUsage>) -> CertProfile {
    CertProfile {
        key_usage,
        ..root_profile()
    }
}

fn key_usage_text(pem: &std::path::Path) -> String {
    openssl(&["x509", "-in", path(pem), "-noout", "-text"])
}

#[test]
fn openssl_shows_the_usages_the_profile_asks_for() {
    let fixture = Fixture::of(
        KeyAlgorithm::EcP384,
        &root_profile_with(vec![
            CaKeyUsage::CertSign,
            CaKeyUsage::CrlSign,
            CaKeyUsage::DigitalSignature,
        ]),
    );
    let root_pem = fixture.root_pem();
    let text = key_usage_text(&root_pem);
    assert!(
        text.contains(
            "X509v3 Key Usage: critical\n                Digital Signature, Certificate Sign, CRL Sign\n"
        ),
        "{text}"
    );
    let verify = openssl(&["verify", "-CAfile", path(&root_pem), path(&root_pem)]);
    assert!(verify.contains(": OK"), "{verify}");

    // An intermediate gets its policy's usages, not the root's.
    let mut policy = intermediate_policy();
    policy.profile.key_usage = vec![CaKeyUsage::CertSign];
    let (_, pem) = fixture.intermediate(&policy);
    let text = key_usage_text(&pem);
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Certificate Sign\n"),
        "{text}"
    );
    let verify = openssl(&["verify", "-CAfile", path(&root_pem), path(&pem)]);
    assert!(verify.contains("intermediate.pem: OK"), "{verify}");
}

#[test]
fn a_forbidden_or_missing_usage_is_refused_before_signing() {
    let fixture = Fixture::new();
    let calls = Cell::new(0);
    let root_issuer = Issuer {
        certificate_der: None,
        ..fixture.issuer()
    };
    let result = ca::root_certificate(
        &root_profile_with(vec![CaKeyUsage::CertSign, CaKeyUsage::KeyEncipherment]),
        &root_issuer,
        [1; 16],
        now(),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "profile.key-usage",
        "key-encipherment is not allowed in a CA certificate (allowed: cert-sign, crl-sign, digital-signature)",
    );

    let csr = openssl_csr(fixture.dir.path(), "P-256");
    for (key_usage, words) in [
        (
            vec![CaKeyUsage::CertSign, CaKeyUsage::DecipherOnly],
            "decipher-only is not allowed in a CA certificate",
        ),
        (vec![CaKeyUsage::CrlSign], "cert-sign is required"),
        (
            vec![CaKeyUsage::CertSign, CaKeyUsage::CertSign],
            "cert-sign is listed twice",
        ),
    ] {
        let mut policy = intermediate_policy();
        policy.profile.key_usage = key_usage;
        let result = ca::sign_csr(
            &csr,
            &policy,
            &fixture.issuer(),
            [1; 16],
            now(),
            &mut counting_signer(&fixture.key, &calls),
        );
        assert_refused(result, &calls, "profile.key-usage", words);
    }
}

#[test]
fn a_root_without_crl_sign_signs_certificates_but_no_crl() {
    let fixture = Fixture::with_root_profile(&root_profile_with(vec![CaKeyUsage::CertSign]));
    let root_pem = write(fixture.dir.path(), "root.pem", &fixture.root.pem);
    let text = key_usage_text(&root_pem);
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Certificate Sign\n"),
        "{text}"
    );
    let calls = Cell::new(0);
    let result = ca::crl(
        &CrlProfile {
            number: 1,
            next_update_days: 30,
            revoked: vec![],
        },
        &fixture.issuer(),
        now(),
        &mut counting_signer(&fixture.key, &calls),
    );
    assert_refused(
        result,
        &calls,
        "issuer.certificate",
        "CN=Example Root CA,OU=PKI,O=Example,C=NL may not sign CRLs: its keyUsage lacks cRLSign",
    );
    ca::sign_csr(
        &openssl_csr(fixture.dir.path(), "P-256"),
        &intermediate_policy(),
        &fixture.issuer(),
        [1; 16],
        now(),
        &mut counting_signer(&fixture.key, &calls),
    )
    .expect("keyCertSign is enough to sign a certificate");
}

/// This tool never makes a CA certificate without keyCertSign, so openssl
/// makes one: sign-csr must refuse it as an issuer.
#[test]
fn an_issuer_without_key_cert_sign_signs_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let issuer_key = dir.path().join("issuer.key");
    let issuer_pem = dir.path().join("issuer.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        path(&issuer_key),
        "-out",
        path(&issuer_pem),
        "-subj",
        "/CN=CRL Only",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,cRLSign",
    ]);
    let issuer_der = der::pem::decode_vec(&std::fs::read(&issuer_pem).unwrap())
        .unwrap()
        .1;
    let spki = Certificate::from_der(&issuer_der)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    // Never called: the refusal comes first. Any key stands in.
    let signer = SoftKey::new(KeyAlgorithm::EcP384);
    let calls = Cell::new(0);
    let result = ca::sign_csr(
        &openssl_csr(dir.path(), "P-256"),
        &intermediate_policy(),
        &Issuer {
            algorithm: KeyAlgorithm::EcP384,
            spki_der: &spki,
            certificate_der: Some(&issuer_der),
        },
        [1; 16],
        chrono::Utc::now(),
        &mut counting_signer(&signer, &calls),
    );
    assert_refused(
        result,
        &calls,
        "issuer.certificate",
        "CN=CRL Only may not sign certificates: its keyUsage lacks keyCertSign",
    );
}
