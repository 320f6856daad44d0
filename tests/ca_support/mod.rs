//! Shared helpers of the X.509 tests: software keys standing in for the HSM
//! in the signing callback, openssl as an independent reader, and a root
//! fixture for the refusal tests.

#![allow(dead_code)] // each test binary uses a different part

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode, Encode};
use keyceremony::ca::{self, CaError, CaKeyUsage, CertProfile, CsrPolicy, Issued, Issuer};
use keyceremony::hsm::KeyAlgorithm;
use p384::ecdsa::signature::Signer;
use rand::rngs::OsRng;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;

pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A software key in the role of the HSM-resident issuer key.
pub enum SoftKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// RSASSA-PSS with SHA-256 and a 32-byte salt, as the HSM signs.
    Rsa(Box<rsa::pss::SigningKey<sha2_010::Sha256>>, KeyAlgorithm),
}

impl SoftKey {
    pub fn new(algorithm: KeyAlgorithm) -> Self {
        match algorithm {
            KeyAlgorithm::EcP256 => SoftKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::EcP384 => SoftKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyAlgorithm::Ed25519 => {
                SoftKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = if algorithm == KeyAlgorithm::Rsa3072 {
                    3072
                } else {
                    4096
                };
                let key = rsa::RsaPrivateKey::new(&mut OsRng, bits).expect("RSA key");
                SoftKey::Rsa(Box::new(rsa::pss::SigningKey::new(key)), algorithm)
            }
            other => panic!("no software key for {other}"),
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            SoftKey::P256(_) => KeyAlgorithm::EcP256,
            SoftKey::P384(_) => KeyAlgorithm::EcP384,
            SoftKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            SoftKey::Rsa(_, algorithm) => *algorithm,
        }
    }

    pub fn spki_der(&self) -> Vec<u8> {
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
            SoftKey::Rsa(key, _) => {
                use rsa::pkcs8::EncodePublicKey;
                use rsa::signature::Keypair;
                let der = key
                    .verifying_key()
                    .as_ref()
                    .to_public_key_der()
                    .expect("RSA SPKI");
                return der.as_bytes().to_vec();
            }
        };
        spki.to_der().unwrap()
    }

    /// Signs as LoggedIn::sign returns signatures: DER ECDSA, raw Ed25519.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
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
            SoftKey::Rsa(key, _) => {
                use rsa::signature::{RandomizedSigner, SignatureEncoding};
                key.sign_with_rng(&mut OsRng, message).to_vec()
            }
        }
    }
}

/// A callback that signs with `key` and counts its calls.
pub fn counting_signer<'a>(
    key: &'a SoftKey,
    calls: &'a Cell<u32>,
) -> impl FnMut(&[u8]) -> Result<Vec<u8>, String> + 'a {
    move |tbs: &[u8]| {
        calls.set(calls.get() + 1);
        Ok(key.sign(tbs))
    }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

pub fn root_profile() -> CertProfile {
    CertProfile {
        subject: "CN=Example Root CA,OU=PKI,O=Example,C=NL".to_string(),
        validity_days: 7300,
        path_length: Some(1),
        key_usage: CaKeyUsage::default_set(),
    }
}

/// A root made by the code under test, signed by `key`.
pub fn make_root(key: &SoftKey) -> Issued {
    make_root_with(key, &root_profile())
}

/// A root from `profile`, signed by `key`.
pub fn make_root_with(key: &SoftKey, profile: &CertProfile) -> Issued {
    let spki = key.spki_der();
    let issuer = Issuer {
        algorithm: key.algorithm(),
        spki_der: &spki,
        certificate_der: None,
    };
    let calls = Cell::new(0);
    let issued = ca::root_certificate(
        profile,
        &issuer,
        [0xA5; 16],
        now(),
        &mut counting_signer(key, &calls),
    )
    .expect("root certificate");
    assert_eq!(calls.get(), 1, "the issuer key signs exactly once");
    issued
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs openssl; returns stdout + stderr, asserting success.
pub fn openssl(args: &[&str]) -> String {
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

pub fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

pub fn extension<T: for<'a> Decode<'a> + der::oid::AssociatedOid>(certificate: &Certificate) -> T {
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

/// An EC P-256 CSR made by openssl, PEM.
pub fn openssl_csr(dir: &Path, curve: &str) -> Vec<u8> {
    let key = dir.join("intermediate.key");
    let csr = dir.join("intermediate.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        &format!("ec_paramgen_curve:{curve}"),
        "-nodes",
        "-keyout",
        path(&key),
        "-out",
        path(&csr),
        "-subj",
        "/CN=Requested Name",
    ]);
    std::fs::read(&csr).unwrap()
}

pub fn intermediate_policy() -> CsrPolicy {
    CsrPolicy {
        profile: CertProfile {
            subject: "CN=Example Issuing CA 1,O=Example,C=NL".to_string(),
            validity_days: 3650,
            path_length: Some(0),
            key_usage: CaKeyUsage::default_set(),
        },
        allowed_keys: vec![KeyAlgorithm::EcP256, KeyAlgorithm::EcP384],
    }
}

/// The error names `field` and came before any signature.
pub fn assert_refused(
    result: Result<Issued, CaError>,
    calls: &Cell<u32>,
    field: &str,
    words: &str,
) {
    let error = result.expect_err("must be refused");
    let text = error.to_string();
    assert!(
        matches!(&error, CaError::Profile { field: named, .. } if named == field),
        "expected a profile error on {field}, got {error:?}"
    );
    assert!(text.starts_with(&format!("{field}: ")), "{text}");
    assert!(text.contains(words), "{text:?} lacks {words:?}");
    assert_eq!(
        calls.get(),
        0,
        "nothing may be signed before a profile error: {text}"
    );
}

/// A root key, its SPKI and its certificate, for the refusal tests.
pub struct Fixture {
    pub key: SoftKey,
    pub spki: Vec<u8>,
    pub root: Issued,
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture::with_root_profile(&root_profile())
    }

    pub fn with_root_profile(profile: &CertProfile) -> Self {
        Fixture::of(KeyAlgorithm::EcP384, profile)
    }

    /// A root of `algorithm` made from `profile`.
    pub fn of(algorithm: KeyAlgorithm, profile: &CertProfile) -> Self {
        let key = SoftKey::new(algorithm);
        let spki = key.spki_der();
        let root = make_root_with(&key, profile);
        Fixture {
            key,
            spki,
            root,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The root certificate's PEM, written into the fixture's directory.
    pub fn root_pem(&self) -> PathBuf {
        write(self.dir.path(), "root.pem", &self.root.pem)
    }

    /// An intermediate for an openssl P-256 CSR under `policy`, signed
    /// once by the root key; its PEM is written beside the root's.
    pub fn intermediate(&self, policy: &CsrPolicy) -> (Issued, PathBuf) {
        let calls = Cell::new(0);
        let issued = ca::sign_csr(
            &openssl_csr(self.dir.path(), "P-256"),
            policy,
            &self.issuer(),
            [0x11; 16],
            now(),
            &mut counting_signer(&self.key, &calls),
        )
        .expect("intermediate");
        assert_eq!(calls.get(), 1, "the root key signs exactly once");
        let pem = write(self.dir.path(), "intermediate.pem", &issued.pem);
        (issued, pem)
    }

    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            algorithm: self.key.algorithm(),
            spki_der: &self.spki,
            certificate_der: Some(&self.root.der),
        }
    }
}
