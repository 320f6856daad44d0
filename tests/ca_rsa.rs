//! RSA issuers: the HSM signs RSA with RSASSA-PSS (SHA-256, MGF1-SHA-256,
//! 32-byte salt) and nothing else, so an RSA root's certificates and CRLs
//! carry RSASSA-PSS parameters. A software PSS key stands in for the HSM
//! (tests/ca_ceremony.rs does it on SoftHSM2); openssl reads the results.

mod ca_support;

use std::cell::Cell;

use ca_support::*;
use keyceremony::ca::{self, CrlProfile, Issuer, RevocationReason, Revoked};
use keyceremony::hsm::KeyAlgorithm;

/// What openssl prints for the one parameter set the tool signs with.
const PSS_TEXT: [&str; 4] = [
    "Signature Algorithm: rsassaPss",
    "Hash Algorithm: sha256",
    "Mask Algorithm: mgf1 with sha256",
    "Salt Length: 0x20",
];

#[test]
fn an_rsa_root_signs_its_certificate_an_intermediate_and_a_crl_with_pss() {
    let fixture = Fixture::of(KeyAlgorithm::Rsa3072, &root_profile());
    let root_pem = fixture.root_pem();
    let text = openssl(&["x509", "-in", path(&root_pem), "-noout", "-text"]);
    for expected in PSS_TEXT {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(text.contains("Public-Key: (3072 bit)"), "{text}");
    let verify = openssl(&["verify", "-CAfile", path(&root_pem), path(&root_pem)]);
    assert!(verify.contains(": OK"), "{verify}");
    // Byte for byte the AlgorithmIdentifier the CA/Browser Forum Baseline
    // Requirements (7.1.3.2.1) prescribe for RSASSA-PSS with SHA-256.
    use der::{Decode, Encode};
    let certificate = x509_cert::Certificate::from_der(&fixture.root.der).unwrap();
    assert_eq!(
        hex::encode(certificate.signature_algorithm.to_der().unwrap()),
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"
    );

    let (_, intermediate_pem) = fixture.intermediate(&intermediate_policy());
    let verify = openssl(&[
        "verify",
        "-CAfile",
        path(&root_pem),
        path(&intermediate_pem),
    ]);
    assert!(verify.contains("intermediate.pem: OK"), "{verify}");
    let text = openssl(&["x509", "-in", path(&intermediate_pem), "-noout", "-text"]);
    assert!(text.contains(PSS_TEXT[0]), "{text}");

    let calls = Cell::new(0);
    let crl = ca::crl(
        &CrlProfile {
            number: 3,
            next_update_days: 30,
            revoked: vec![Revoked {
                serial: "0a:bc".to_string(),
                reason: RevocationReason::Superseded,
                date: "2026-02-01T00:00:00Z".to_string(),
            }],
        },
        &fixture.issuer(),
        now(),
        &mut counting_signer(&fixture.key, &calls),
    )
    .expect("crl");
    assert_eq!(calls.get(), 1, "one signature");
    let crl_pem = write(fixture.dir.path(), "crl.pem", &crl.pem);
    let verified = openssl(&[
        "crl",
        "-in",
        path(&crl_pem),
        "-CAfile",
        path(&root_pem),
        "-verify",
        "-noout",
        "-text",
    ]);
    assert!(verified.contains("verify OK"), "{verified}");
    assert!(verified.contains(PSS_TEXT[0]), "{verified}");
}

#[test]
fn a_pkcs1_signature_from_an_rsa_key_is_refused_after_signing() {
    // An HSM that signed with PKCS#1 v1.5 instead of PSS: the signature is
    // by the right key, but not what the certificate says; it is refused
    // before anything is returned.
    let key = SoftKey::new(KeyAlgorithm::Rsa3072);
    let SoftKey::Rsa(pss, _) = &key else {
        unreachable!()
    };
    let pkcs1 = rsa::pkcs1v15::SigningKey::<sha2_010::Sha256>::new(pss.as_ref().as_ref().clone());
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: None,
    };
    let error = ca::root_certificate(
        &root_profile(),
        &issuer,
        [0xA5; 16],
        now(),
        &mut |tbs: &[u8]| {
            use rsa::signature::{SignatureEncoding, Signer};
            Ok(pkcs1.sign(tbs).to_vec())
        },
    )
    .expect_err("a PKCS#1 v1.5 signature does not pass for PSS");
    assert!(
        matches!(
            error,
            ca::CaError::SignatureRejected {
                algorithm: KeyAlgorithm::Rsa3072,
                ..
            }
        ),
        "{error:?}"
    );
}
