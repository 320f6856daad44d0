//! Restoring a wrapped backup onto a token: C_UnwrapKey under the trusted
//! KEK into a non-extractable key, the public key object beside it, and
//! the read-back check of the restore policy.

use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use serde::Serialize;

use super::attributes::{KeyAttributes, read_key_attributes};
use super::backup::{key_wrap_mechanism_named, unwrap_failure};
use super::error::During;
use super::keys::{public_template_common, validate_key_label};
use super::session::label_attribute;
use super::spki::{self, PublicKeyParts};
use super::{HsmError, KeyAlgorithm, KeyPolicy, KeyRef, KeySpec, LoggedIn, Role, der};

/// A key restored from its backup, as read back from the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoredKey {
    pub key: KeyRef,
    /// The private (or secret) key's attributes; they passed
    /// [`KeyPolicy::for_restored`], so CKA_LOCAL, CKA_ALWAYS_SENSITIVE and
    /// CKA_NEVER_EXTRACTABLE read false: the evidence that this key was
    /// restored, not generated here.
    pub attributes: KeyAttributes,
}

impl LoggedIn {
    /// User. Unwraps `blob` (made by [`LoggedIn::wrap_under_kek`] with
    /// `mechanism`) under the KEK labelled `kek_label` as a token private
    /// (or secret) key of `spec`, whose backup setting is ignored: the
    /// restored key is sensitive and not extractable, with the usage flags
    /// of `spec`, labelled `label` with CKA_ID `id_hex` (the original's).
    ///
    /// With `public_spki_der`, also creates the public key object with the
    /// same label and id. The key is read back and checked against
    /// [`KeyPolicy::for_restored`]; objects that fail it are destroyed.
    #[allow(clippy::too_many_arguments)] // the API the runner calls
    pub fn unwrap_from_kek(
        &self,
        blob: &[u8],
        mechanism: &str,
        kek_label: &str,
        spec: &KeySpec,
        label: &str,
        id_hex: &str,
        public_spki_der: Option<&[u8]>,
    ) -> Result<RestoredKey, HsmError> {
        self.require_role(Role::User, "restoring a key from its backup")?;
        spec.validate()?;
        validate_key_label(label)?;
        let id = hex::decode(id_hex)
            .ok()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                HsmError::InvalidInput(format!("key id {id_hex:?} is not hexadecimal"))
            })?;
        let mechanism = key_wrap_mechanism_named(mechanism)?;
        // Every input is checked before the token changes.
        let public = match public_spki_der {
            Some(spki_der) => Some(spki::parse(spki_der, spec.algorithm)?),
            None => None,
        };
        let existing = self.find(&[label_attribute(label)])?;
        if !existing.is_empty() {
            return Err(HsmError::DuplicateLabel {
                label: label.to_owned(),
                count: existing.len(),
            });
        }
        let (kek, _) = self.kek(kek_label)?;

        let template = restored_template(spec, label, &id);
        let unwrapped = self
            .session
            .unwrap_key(&mechanism, kek, blob, &template)
            .map_err(|error| unwrap_failure(error, label, kek_label))?;
        let private = self.freeze(unwrapped, label)?;
        let attributes = match read_key_attributes(&self.session, private) {
            Ok(attributes) => attributes,
            Err(error) => {
                self.destroy_all(&[private]);
                return Err(error);
            }
        };
        if let Err(violation) = KeyPolicy::for_restored(spec).check(&attributes) {
            return Err(HsmError::Policy {
                label: label.to_owned(),
                violation,
                key_destroyed: self.destroy_all(&[private]),
            });
        }
        if let Some(parts) = public {
            let mut template = public_template_common(label, &id, &spec.public_usage());
            template.extend(public_key_attributes(spec.algorithm, parts));
            if let Err(error) = self.session.create_object(&template) {
                self.destroy_all(&[private]);
                return Err(error).during(format!("creating the public key of {label:?}"));
            }
        }
        Ok(RestoredKey {
            key: KeyRef {
                label: label.to_owned(),
                id_hex: hex::encode(&id),
                algorithm: spec.algorithm,
            },
            attributes,
        })
    }

    /// An unmodifiable copy of `unwrapped`, which is destroyed. SoftHSM2
    /// sets the key material after creating the object from the template,
    /// so C_UnwrapKey with CKA_MODIFIABLE=false fails (CKR_ATTRIBUTE_READ_ONLY);
    /// C_CopyObject is the one other place PKCS#11 lets it be set.
    fn freeze(&self, unwrapped: ObjectHandle, label: &str) -> Result<ObjectHandle, HsmError> {
        let copied = self
            .session
            .copy_object(unwrapped, &[Attribute::Modifiable(false)]);
        let destroyed = self.session.destroy_object(unwrapped);
        let copy = match copied {
            Ok(copy) => copy,
            Err(error) => {
                return Err(error).during(format!(
                    "making the restored {label:?} unmodifiable (C_CopyObject)"
                ));
            }
        };
        if let Err(error) = destroyed {
            self.destroy_all(&[copy]);
            return Err(error).during(format!(
                "destroying the modifiable first copy of the restored {label:?}"
            ));
        }
        Ok(copy)
    }

    /// Best effort: true when every object was destroyed.
    fn destroy_all(&self, handles: &[ObjectHandle]) -> bool {
        handles
            .iter()
            .all(|handle| self.session.destroy_object(*handle).is_ok())
    }
}

/// The template of the unwrapped key: the class, type and flags of a
/// generated key without backup. The key material (and with it the curve
/// or modulus) comes from the blob.
fn restored_template(spec: &KeySpec, label: &str, id: &[u8]) -> Vec<Attribute> {
    let usage = spec.private_usage();
    let (class, key_type) = match spec.algorithm {
        KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => (ObjectClass::PRIVATE_KEY, KeyType::EC),
        KeyAlgorithm::Ed25519 => (ObjectClass::PRIVATE_KEY, KeyType::EC_EDWARDS),
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => (ObjectClass::PRIVATE_KEY, KeyType::RSA),
        KeyAlgorithm::Aes256 => (ObjectClass::SECRET_KEY, KeyType::AES),
    };
    let mut template = vec![
        Attribute::Class(class),
        Attribute::KeyType(key_type),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        label_attribute(label),
        Attribute::Id(id.to_vec()),
        Attribute::Decrypt(usage.decrypt),
        Attribute::Sign(usage.sign),
        Attribute::Unwrap(usage.unwrap),
        Attribute::Derive(usage.derive),
    ];
    // The flags PKCS#11 defines for one class only.
    if spec.algorithm.is_asymmetric() {
        template.push(Attribute::SignRecover(usage.sign_recover));
    } else {
        template.extend([
            Attribute::Encrypt(usage.encrypt),
            Attribute::Verify(usage.verify),
            Attribute::Wrap(usage.wrap),
        ]);
    }
    template
}

/// The key type and key attributes of the public key object.
fn public_key_attributes(algorithm: KeyAlgorithm, parts: PublicKeyParts) -> Vec<Attribute> {
    let class = Attribute::Class(ObjectClass::PUBLIC_KEY);
    match parts {
        PublicKeyParts::Ec { point } => {
            let params = if algorithm == KeyAlgorithm::EcP256 {
                der::OID_P256
            } else {
                der::OID_P384
            };
            vec![
                class,
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(params.to_vec()),
                Attribute::EcPoint(der::octet_string(&point)),
            ]
        }
        PublicKeyParts::Ed25519 { point } => vec![
            class,
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::EcParams(der::OID_ED25519.to_vec()),
            Attribute::EcPoint(der::octet_string(&point)),
        ],
        PublicKeyParts::Rsa { modulus, exponent } => vec![
            class,
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(modulus),
            Attribute::PublicExponent(exponent),
        ],
    }
}
