//! The X.509 core (src/ca) with software keys standing in for the HSM in the
//! signing callback, checked by openssl as an independent reader.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, TimeZone, Utc};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode, Encode};
use keyceremony::ca::{
    self, CaError, CertProfile, CrlProfile, CsrPolicy, Issued, Issuer, RevocationReason, Revoked,
};
use keyceremony::hsm::KeyAlgorithm;
use p384::ecdsa::signature::Signer;
use rand::rngs::OsRng;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectKeyIdentifier};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A software key in the role of the HSM-resident issuer key.
enum SoftKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl SoftKey {
    fn new(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::EcP256 => SoftKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::EcP384 => SoftKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::Ed25519 => {
                SoftKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
            other => panic!("no software key for {other}"),
        }
    }

    fn algorithm(&self) -> KeyAlgorithm {
        match self {
            SoftKey::P256(_) => KeyAlgorithm::EcP256,
            SoftKey::P384(_) => KeyAlgorithm::EcP384,
            SoftKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    fn spki_der(&self) -> Vec<u8> {
        let ec = |curve: ObjectIdentifier, point: &[u8]| SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some(Any::encode_from(&curve).unwrap()),
            },
            subject_public_key: BitString::from_bytes(point).unwrap(),
        };
        let spki = match self {
            SoftKey::P256(key) => ec(
                SECP256R1,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            SoftKey::P384(key) => ec(
                SECP384R1,
                key.verifying_key().to_encoded_point(false).as_bytes(),
            ),
            SoftKey::Ed25519(key) => SubjectPublicKeyInfoOwned {
                algorithm: AlgorithmIdentifierOwned {
                    oid: ID_ED25519,
                    parameters: None,
                },
                subject_public_key: BitString::from_bytes(key.verifying_key().as_bytes()).unwrap(),
            },
        };
        spki.to_der().unwrap()
    }

    /// Signs as LoggedIn::sign returns signatures: DER ECDSA, raw Ed25519.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SoftKey::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            SoftKey::P384(key) => {
                let signature: p384::ecdsa::Signature = key.sign(message);
                signature.to_der().as_bytes().to_vec()
            }
            SoftKey::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
        }
    }
}

/// A callback that signs with `key` and counts its calls.
fn counting_signer<'a>(
    key: &'a SoftKey,
    calls: &'a Cell<u32>,
) -> impl FnMut(&[u8]) -> Result<Vec<u8>, String> + 'a {
    move |tbs: &[u8]| {
        calls.set(calls.get() + 1);
        Ok(key.sign(tbs))
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn root_profile() -> CertProfile {
    CertProfile {
        subject: "CN=Example Root CA,OU=PKI,O=Example,C=NL".to_string(),
        validity_days: 7300,
        path_length: Some(1),
    }
}

/// A root made by the code under test, signed by `key`.
fn make_root(key: &SoftKey) -> Issued {
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: None,
    };
    let calls = Cell::new(0);
    let issued = ca::root_certificate(
        &root_profile(),
        &issuer,
        [0xA5; 16],
        now(),
        &mut counting_signer(key, &calls),
    )
    .expect("root certificate");
    assert_eq!(calls.get(), 1, "the issuer key signs exactly once");
    issued
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs openssl; returns stdout + stderr, asserting success.
fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn extension<T: for<'a> Decode<'a> + der::oid::AssociatedOid>(certificate: &Certificate) -> T {
    let extension = certificate
        .tbs_certificate
        .extensions
        .as_ref()
        .unwrap()
        .iter()
        .find(|extension| extension.extn_id == T::OID)
        .expect("extension present");
    T::from_der(extension.extn_value.as_bytes()).unwrap()
}

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
