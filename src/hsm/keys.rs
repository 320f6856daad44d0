//! Key generation with explicit templates, the read-back policy check, and
//! public keys as SubjectPublicKeyInfo built from the token's attributes.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::attributes::{KeyAttributes, read_key_attributes};
use super::der;
use super::error::During;
use super::session::{LoggedIn, label_attribute};
use super::spec::{Backup, UsageFlags};
use super::{HsmError, KeyAlgorithm, KeyPolicy, KeySpec, Role};

/// Key labels the tool writes: PKCS#11 sets no limit, but HSMs do; 64
/// bytes fits the ones we know.
pub const MAX_KEY_LABEL_BYTES: usize = 64;

/// Bytes of CKA_ID, drawn from the token's RNG.
pub(super) const KEY_ID_BYTES: usize = 16;

/// Names a key on a token. It holds no handle: handles die at logout, so
/// every operation finds the key again by class, CKA_ID and label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRef {
    pub label: String,
    pub id_hex: String,
    pub algorithm: KeyAlgorithm,
}

/// A public key as the world sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicKeyInfo {
    pub algorithm: KeyAlgorithm,
    #[serde(serialize_with = "as_hex")]
    pub spki_der: Vec<u8>,
    pub pem: String,
    /// SHA-256 over `spki_der`, lowercase hex: the key's fingerprint.
    pub sha256_hex: String,
}

/// What a generation produced, as read back from the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedKey {
    pub label: String,
    pub id_hex: String,
    pub key: KeyRef,
    /// The private (or secret) key's attributes; they passed the policy.
    pub private_attributes: KeyAttributes,
    /// `None` for secret keys.
    pub public: Option<PublicKeyInfo>,
}

fn as_hex<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}

impl LoggedIn {
    /// Generates a key on the token (user login), reads its attributes back
    /// and checks them against [`KeyPolicy::for_spec`]. A key that fails the
    /// check is destroyed and the error names every differing attribute.
    pub fn generate(&self, spec: &KeySpec, label: &str) -> Result<GeneratedKey, HsmError> {
        let id = self
            .session
            .generate_random_vec(KEY_ID_BYTES as u32)
            .during("drawing a key id from the token's RNG")?;
        self.generate_with_id(spec, label, &id)
    }

    /// [`LoggedIn::generate`] with a CKA_ID chosen (and recorded) by the
    /// caller before the HSM is asked: after a crash, the object the
    /// interrupted generation made is found by that id, never by label.
    pub fn generate_with_id(
        &self,
        spec: &KeySpec,
        label: &str,
        id: &[u8],
    ) -> Result<GeneratedKey, HsmError> {
        self.require_role(Role::User, "generating a key")?;
        if id.is_empty() {
            return Err(HsmError::InvalidInput("an empty key id".into()));
        }
        let id = id.to_vec();
        spec.validate()?;
        validate_key_label(label)?;
        let existing = self.find(&[label_attribute(label)])?;
        if !existing.is_empty() {
            return Err(HsmError::DuplicateLabel {
                label: label.to_owned(),
                count: existing.len(),
            });
        }
        // A module without the mechanisms says so by name, before a key
        // exists that could not be used or proven.
        self.token.require_mechanisms(
            &format!("the {spec} {label:?}"),
            &spec.required_mechanisms(),
        )?;
        let operation = format!("generating the {spec} {label:?}");
        let (private, public) = match key_pair_parameters(spec.algorithm) {
            None => {
                let template = secret_template(label, &id, &spec.private_usage(), spec.backup);
                let key = self
                    .session
                    .generate_key(&Mechanism::AesKeyGen, &template)
                    .during(operation)?;
                (key, None)
            }
            Some((mechanism, mut public_template)) => {
                public_template.extend(public_template_common(label, &id, &spec.public_usage()));
                let private_template =
                    private_template(label, &id, &spec.private_usage(), spec.backup);
                let (public, private) = self
                    .session
                    .generate_key_pair(&mechanism, &public_template, &private_template)
                    .during(operation)?;
                (private, Some(public))
            }
        };
        let private_attributes = read_key_attributes(&self.session, private)?;
        if let Err(violation) = KeyPolicy::for_spec(spec).check(&private_attributes) {
            let destroyed = [Some(private), public]
                .into_iter()
                .flatten()
                .all(|handle| self.session.destroy_object(handle).is_ok());
            return Err(HsmError::Policy {
                label: label.to_owned(),
                violation,
                key_destroyed: destroyed,
            });
        }
        // The ceremony signs or proves with the new key next: no search.
        let private_class = if spec.algorithm.is_asymmetric() {
            ObjectClass::PRIVATE_KEY
        } else {
            ObjectClass::SECRET_KEY
        };
        self.remember(private_class, id.clone(), label, private);
        if let Some(public) = public {
            self.remember(ObjectClass::PUBLIC_KEY, id.clone(), label, public);
        }
        let key = KeyRef {
            label: label.to_owned(),
            id_hex: hex::encode(&id),
            algorithm: spec.algorithm,
        };
        let public = match public {
            Some(handle) => Some(self.public_key_from(handle, spec.algorithm)?),
            None => None,
        };
        Ok(GeneratedKey {
            label: key.label.clone(),
            id_hex: key.id_hex.clone(),
            key,
            private_attributes,
            public,
        })
    }

    /// The public half of a key pair, as SubjectPublicKeyInfo DER and PEM
    /// with its SHA-256 fingerprint.
    pub fn public_key(&self, key: &KeyRef) -> Result<PublicKeyInfo, HsmError> {
        if !key.algorithm.is_asymmetric() {
            return Err(HsmError::WrongKeyKind {
                operation: "reading a public key".into(),
                algorithm: key.algorithm.to_string(),
            });
        }
        let handle = self.handle(key, ObjectClass::PUBLIC_KEY)?;
        self.public_key_from(handle, key.algorithm)
    }

    fn public_key_from(
        &self,
        handle: ObjectHandle,
        algorithm: KeyAlgorithm,
    ) -> Result<PublicKeyInfo, HsmError> {
        public_key_info(&self.session, handle, algorithm)
    }
}

/// A public key object as SubjectPublicKeyInfo, from any session (public
/// objects can be read without a login).
pub(super) fn public_key_info(
    session: &cryptoki::session::Session,
    handle: ObjectHandle,
    algorithm: KeyAlgorithm,
) -> Result<PublicKeyInfo, HsmError> {
    let wanted: &[AttributeType] = match algorithm {
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            &[AttributeType::Modulus, AttributeType::PublicExponent]
        }
        _ => &[AttributeType::EcParams, AttributeType::EcPoint],
    };
    let mut modulus = None;
    let mut exponent = None;
    let mut params = None;
    let mut point = None;
    for value in session
        .get_attributes(handle, wanted)
        .during("reading the public key")?
    {
        match value {
            Attribute::Modulus(v) => modulus = Some(v),
            Attribute::PublicExponent(v) => exponent = Some(v),
            Attribute::EcParams(v) => params = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    let missing = |what: &str| HsmError::Malformed {
        what: "public key".into(),
        detail: format!("the token did not report {what}"),
    };
    let spki = match algorithm {
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            let modulus = modulus.ok_or_else(|| missing("CKA_MODULUS"))?;
            let exponent = exponent.ok_or_else(|| missing("CKA_PUBLIC_EXPONENT"))?;
            let bits = der::bit_length(&modulus);
            if Some(bits) != algorithm.rsa_bits() {
                return Err(HsmError::Malformed {
                    what: "public key".into(),
                    detail: format!("a {algorithm} key has a {bits}-bit modulus"),
                });
            }
            der::spki_rsa(&modulus, &exponent)
        }
        _ => {
            let params = params.ok_or_else(|| missing("CKA_EC_PARAMS"))?;
            let point = point.ok_or_else(|| missing("CKA_EC_POINT"))?;
            let (curve_oid, point_len) = match algorithm {
                KeyAlgorithm::EcP256 => (der::OID_P256, 65),
                KeyAlgorithm::EcP384 => (der::OID_P384, 97),
                _ => (der::OID_ED25519, 32),
            };
            if der::curve_name(&params) != algorithm.curve() {
                return Err(HsmError::Malformed {
                    what: "public key".into(),
                    detail: format!(
                        "a {algorithm} key has CKA_EC_PARAMS {}",
                        hex::encode(&params)
                    ),
                });
            }
            let point = der::ec_point(&point, point_len)?;
            if algorithm == KeyAlgorithm::Ed25519 {
                der::spki_ed25519(&point)
            } else {
                der::spki_ec(curve_oid, &point)
            }
        }
    };
    Ok(PublicKeyInfo {
        algorithm,
        pem: der::pem("PUBLIC KEY", &spki),
        sha256_hex: hex::encode(Sha256::digest(&spki)),
        spki_der: spki,
    })
}

pub(super) fn validate_key_label(label: &str) -> Result<(), HsmError> {
    let reason = if label.is_empty() {
        "a key label must not be empty".to_owned()
    } else if label.len() > MAX_KEY_LABEL_BYTES {
        format!(
            "a key label has at most {MAX_KEY_LABEL_BYTES} bytes, this one has {}",
            label.len()
        )
    } else if label.trim() != label {
        "a key label must not start or end with white space".to_owned()
    } else if label.chars().any(char::is_control) {
        "a key label must not contain control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(HsmError::InvalidLabel {
        label: label.to_owned(),
        reason,
    })
}

/// The generation mechanism and the public template's key parameters of a
/// key pair; `None` for secret keys.
pub(super) fn key_pair_parameters(
    algorithm: KeyAlgorithm,
) -> Option<(Mechanism<'static>, Vec<Attribute>)> {
    let ec = |oid: &[u8]| vec![Attribute::EcParams(oid.to_vec())];
    let rsa = |bits: u64| {
        vec![
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        ]
    };
    Some(match algorithm {
        KeyAlgorithm::EcP256 => (Mechanism::EccKeyPairGen, ec(der::OID_P256)),
        KeyAlgorithm::EcP384 => (Mechanism::EccKeyPairGen, ec(der::OID_P384)),
        KeyAlgorithm::Ed25519 => (Mechanism::EccEdwardsKeyPairGen, ec(der::OID_ED25519)),
        KeyAlgorithm::Rsa3072 => (Mechanism::RsaPkcsKeyPairGen, rsa(3072)),
        KeyAlgorithm::Rsa4096 => (Mechanism::RsaPkcsKeyPairGen, rsa(4096)),
        KeyAlgorithm::Aes256 => return None,
    })
}

// Each template names every usage flag PKCS#11 defines for its class, true
// or false: SoftHSM2 turns the ones left out on. Flags a class does not
// define (CKA_SIGN on a public key) are rejected by the token, so they are
// not sent.

/// How the private or secret key may leave the token: never, or only
/// wrapped under a key the security officer marked trusted. A backup key
/// stays sensitive: its value is never readable in clear.
fn extractability(backup: Backup) -> Vec<Attribute> {
    match backup {
        Backup::None => vec![Attribute::Extractable(false)],
        Backup::Wrapped => vec![
            Attribute::Extractable(true),
            Attribute::WrapWithTrusted(true),
        ],
    }
}

fn private_template(label: &str, id: &[u8], usage: &UsageFlags, backup: Backup) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Modifiable(false),
        label_attribute(label),
        Attribute::Id(id.to_vec()),
        Attribute::Decrypt(usage.decrypt),
        Attribute::Sign(usage.sign),
        Attribute::SignRecover(usage.sign_recover),
        Attribute::Unwrap(usage.unwrap),
        Attribute::Derive(usage.derive),
    ];
    template.extend(extractability(backup));
    template
}

pub(super) fn public_template_common(label: &str, id: &[u8], usage: &UsageFlags) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(false),
        label_attribute(label),
        Attribute::Id(id.to_vec()),
        Attribute::Encrypt(usage.encrypt),
        Attribute::Verify(usage.verify),
        Attribute::VerifyRecover(usage.verify_recover),
        Attribute::Wrap(usage.wrap),
        Attribute::Derive(usage.derive),
    ]
}

fn secret_template(label: &str, id: &[u8], usage: &UsageFlags, backup: Backup) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Modifiable(false),
        label_attribute(label),
        Attribute::Id(id.to_vec()),
        Attribute::Encrypt(usage.encrypt),
        Attribute::Decrypt(usage.decrypt),
        Attribute::Sign(usage.sign),
        Attribute::Verify(usage.verify),
        Attribute::Wrap(usage.wrap),
        Attribute::Unwrap(usage.unwrap),
        Attribute::Derive(usage.derive),
    ];
    template.extend(extractability(backup));
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_labels_are_checked() {
        assert!(validate_key_label("root-ksk-2025").is_ok());
        assert!(validate_key_label(&"k".repeat(64)).is_ok());
        assert!(validate_key_label(&"k".repeat(65)).is_err());
        assert!(validate_key_label("").is_err());
        assert!(validate_key_label(" root").is_err());
        assert!(validate_key_label("ro\tot").is_err());
    }

    #[test]
    fn templates_set_every_usage_flag_of_their_class() {
        let usage = UsageFlags {
            sign: true,
            ..UsageFlags::default()
        };
        let private = private_template("k", &[1], &usage, Backup::None);
        for expected in [
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::SignRecover(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Extractable(false),
            Attribute::Sensitive(true),
        ] {
            assert!(private.contains(&expected), "{expected:?}");
        }
        assert!(
            !private
                .iter()
                .any(|a| a.attribute_type() == AttributeType::WrapWithTrusted)
        );
        for template in [
            private_template("k", &[1], &usage, Backup::Wrapped),
            secret_template("k", &[1], &usage, Backup::Wrapped),
        ] {
            for expected in [
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::WrapWithTrusted(true),
            ] {
                assert!(template.contains(&expected), "{expected:?}");
            }
            assert!(!template.contains(&Attribute::Extractable(false)));
        }
        let public = public_template_common("k", &[1], &usage);
        for attribute in [
            AttributeType::Encrypt,
            AttributeType::Verify,
            AttributeType::VerifyRecover,
            AttributeType::Wrap,
            AttributeType::Derive,
        ] {
            assert!(
                public.iter().any(|a| a.attribute_type() == attribute),
                "{attribute:?}"
            );
        }
    }
}
