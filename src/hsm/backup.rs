//! Key backup and restore by trusted key wrapping, as HSMs do it: the
//! security officer imports an AES key-encryption key (KEK) marked
//! CKA_TRUSTED; a key generated with `backup: wrapped` (CKA_EXTRACTABLE and
//! CKA_WRAP_WITH_TRUSTED) can leave the token wrapped under that KEK and no
//! other key; on another token the same KEK unwraps it as a
//! non-extractable key.
//!
//! The KEK's value comes from the caller (recombined from custodian
//! shares); this module never stores or prints it.

use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use serde::{Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use super::attributes::{KeyAttributes, read_key_attributes, read_label_and_id};
use super::error::{During, from_cryptoki};
use super::keys::{KEY_ID_BYTES, validate_key_label};
use super::policy::{Mismatch, PolicyViolation, check_rules, trusted_kek_rules};
use super::session::label_attribute;
use super::{HsmError, KeyRef, LoggedIn, Role};

/// The trusted KEK as read back after its import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KekInfo {
    pub label: String,
    pub id_hex: String,
    /// They passed the KEK policy (CKA_TRUSTED true, wrap and unwrap only,
    /// sensitive, not extractable, not modifiable).
    pub attributes: KeyAttributes,
    pub unwrap_template: UnwrapTemplate,
}

/// The KEK's CKA_UNWRAP_TEMPLATE, and the proof that the module enforces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnwrapTemplate {
    pub token: bool,
    pub private: bool,
    pub sensitive: bool,
    pub extractable: bool,
    /// What the module answered to an unwrap under the KEK into an
    /// extractable, non-sensitive key (e.g. CKR_TEMPLATE_INCONSISTENT).
    pub weak_unwrap_refused: String,
}

/// What every key the KEK unwraps must be: on the token, private (so no
/// unwrap at all without the user's login), sensitive, never extractable.
fn kek_unwrap_template() -> [Attribute; 4] {
    [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ]
}

/// A key wrapped under the trusted KEK. The blob is ciphertext: without
/// the KEK it reveals nothing, so it may be written to disk and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrappedKey {
    #[serde(serialize_with = "as_hex")]
    pub blob: Vec<u8>,
    /// "CKM_AES_KEY_WRAP_PAD" or "CKM_AES_KEY_WRAP".
    pub mechanism: String,
    /// The CKA_ID of the KEK it was wrapped under.
    pub kek_id_hex: String,
}

fn as_hex<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode(bytes))
}

impl LoggedIn {
    /// Security officer only. Creates the trusted AES-256 KEK from `value`
    /// (C_CreateObject): on the token, CKA_PRIVATE false (the security
    /// officer cannot create private objects), sensitive, not extractable,
    /// CKA_TRUSTED, wrap and unwrap only, not modifiable, with a CKA_ID
    /// from the token's RNG, and a CKA_UNWRAP_TEMPLATE that makes every key
    /// it unwraps a private, sensitive, non-extractable token object: being
    /// public, the KEK is usable without a login, and without the template
    /// a public session would unwrap a backup into a key it can read.
    /// Refuses a label an object visible to the security officer already
    /// has. Reads the key back, checks it, and proves the module enforces
    /// the template; a KEK that fails is destroyed.
    pub fn import_trusted_kek(
        &self,
        label: &str,
        value: &Zeroizing<[u8; 32]>,
    ) -> Result<KekInfo, HsmError> {
        // Only the security officer can set CKA_TRUSTED.
        self.require_role(Role::SecurityOfficer, "importing the trusted backup KEK")?;
        validate_key_label(label)?;
        let existing = self.find(&[label_attribute(label)])?;
        if !existing.is_empty() {
            return Err(HsmError::DuplicateLabel {
                label: label.to_owned(),
                count: existing.len(),
            });
        }
        let id = self
            .session
            .generate_random_vec(KEY_ID_BYTES as u32)
            .during("drawing a key id from the token's RNG")?;
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(value.to_vec()),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Trusted(true),
            Attribute::Modifiable(false),
            label_attribute(label),
            Attribute::Id(id.clone()),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Derive(false),
        ];
        // Whatever this KEK unwraps lands on the token, private, sensitive
        // and non-extractable: with no login nothing can be unwrapped at all
        // (a private object needs the user), and nothing unwrapped can be read.
        let created = super::raw::create_object_with_unwrap_template(
            self.token.module().path(),
            &self.session,
            &template,
            &kek_unwrap_template(),
        );
        // cryptoki's Attribute does not zeroize its copy of the value.
        for attribute in &mut template {
            if let Attribute::Value(bytes) = attribute {
                bytes.zeroize();
            }
        }
        let handle = created.during(format!("importing the trusted KEK {label:?}"))?;
        let attributes = read_key_attributes(&self.session, handle)?;
        let checked = check_rules(&trusted_kek_rules(), &attributes)
            .and_then(|()| self.unwrap_template_read_back(handle))
            .and_then(|()| self.weak_unwrap_refused(handle));
        let weak_unwrap_refused = match checked {
            Ok(refusal) => refusal,
            Err(violation) => {
                return Err(HsmError::Policy {
                    label: label.to_owned(),
                    violation,
                    key_destroyed: self.session.destroy_object(handle).is_ok(),
                });
            }
        };
        Ok(KekInfo {
            label: label.to_owned(),
            id_hex: hex::encode(&id),
            attributes,
            unwrap_template: UnwrapTemplate {
                token: true,
                private: true,
                sensitive: true,
                extractable: false,
                weak_unwrap_refused,
            },
        })
    }

    /// CKA_UNWRAP_TEMPLATE as the module reports it must be exactly
    /// [`kek_unwrap_template`]: a module that dropped or changed an
    /// attribute of it fails the KEK policy.
    fn unwrap_template_read_back(&self, kek: ObjectHandle) -> Result<(), PolicyViolation> {
        match super::raw::read_unwrap_template(self.token.module().path(), &self.session, kek) {
            Ok(found) => check_unwrap_template(found),
            Err(e) => Err(unwrap_template_mismatch(format!("unreadable: {e}"))),
        }
    }

    /// The read-back of CKA_UNWRAP_TEMPLATE that matters: does the module
    /// enforce it? A throwaway session key is wrapped under the new KEK and
    /// unwrapped again as the attacker would, into a non-sensitive,
    /// extractable, public session object. The module must refuse; what it
    /// answered is recorded. A module that lets it through fails the KEK
    /// policy (and the KEK is destroyed).
    fn weak_unwrap_refused(&self, kek: ObjectHandle) -> Result<String, PolicyViolation> {
        let not_enforced = |found: String| PolicyViolation {
            mismatches: vec![Mismatch {
                attribute: "CKA_UNWRAP_TEMPLATE".into(),
                expected: "enforced (an unwrap into an extractable, non-sensitive key refused)"
                    .into(),
                found,
            }],
        };
        let failed = |what: &str, e: CryptokiError| not_enforced(format!("{what} failed: {e}"));
        let probe = self
            .session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(false),
                    Attribute::Private(false),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(true),
                ],
            )
            .map_err(|e| failed("generating a throwaway key to test it", e))?;
        let mechanism = match self.key_wrap_mechanism() {
            Ok((mechanism, _)) => mechanism,
            Err(e) => {
                let _ = self.session.destroy_object(probe);
                return Err(not_enforced(format!("no key-wrap mechanism: {e}")));
            }
        };
        let wrapped = self.session.wrap_key(&mechanism, kek, probe);
        let _ = self.session.destroy_object(probe);
        let blob = wrapped.map_err(|e| failed("wrapping a throwaway key under it", e))?;
        let weak = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ];
        match self.session.unwrap_key(&mechanism, kek, &blob, &weak) {
            Ok(leaked) => {
                let _ = self.session.destroy_object(leaked);
                Err(not_enforced(
                    "the module unwrapped it into an extractable, non-sensitive key".into(),
                ))
            }
            Err(CryptokiError::Pkcs11(rv, _)) => Ok(super::ckr::ckr_name(rv)),
            Err(e) => Ok(e.to_string()),
        }
    }

    /// User. Wraps the private (or secret) half of `key` under the KEK
    /// labelled `kek_label`, with CKM_AES_KEY_WRAP_PAD, or CKM_AES_KEY_WRAP
    /// when the token does not list the padded variant. The token decides
    /// what may leave: a key generated with `backup: none` fails with
    /// CKR_KEY_UNEXTRACTABLE, a KEK that is not trusted with
    /// CKR_KEY_NOT_WRAPPABLE (both as [`HsmError::Pkcs11`]).
    pub fn wrap_under_kek(&self, key: &KeyRef, kek_label: &str) -> Result<WrappedKey, HsmError> {
        self.require_role(Role::User, "wrapping a key for its backup")?;
        let (kek, kek_id_hex) = self.kek(kek_label)?;
        let handle = self.private_handle(key)?;
        let (mechanism, mechanism_type) = self.key_wrap_mechanism()?;
        let blob = self
            .session
            .wrap_key(&mechanism, kek, handle)
            .during(format!(
                "wrapping {:?} under the KEK {kek_label:?}",
                key.label
            ))?;
        Ok(WrappedKey {
            blob,
            mechanism: mechanism_type.to_string(),
            kek_id_hex,
        })
    }

    /// The one secret key labelled `label`, with its CKA_ID. A user session
    /// sees the KEK: it is a public object.
    pub(super) fn kek(&self, label: &str) -> Result<(ObjectHandle, String), HsmError> {
        let found = self.find(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            label_attribute(label),
        ])?;
        match found.as_slice() {
            [handle] => Ok((*handle, read_label_and_id(&self.session, *handle)?.1)),
            [] => Err(HsmError::KeyNotFound {
                label: label.to_owned(),
            }),
            several => Err(HsmError::AmbiguousKey {
                label: label.to_owned(),
                count: several.len(),
            }),
        }
    }

    /// AES_KEY_WRAP needs input in 8-byte blocks, which a private key's
    /// encoding may not be: prefer the padded variant where it exists.
    fn key_wrap_mechanism(&self) -> Result<(Mechanism<'static>, MechanismType), HsmError> {
        let offered = self
            .token
            .module()
            .pkcs11()
            .get_mechanism_list(self.token.slot())
            .during("listing the token's mechanisms")?;
        Ok(if offered.contains(&MechanismType::AES_KEY_WRAP_PAD) {
            (Mechanism::AesKeyWrapPad, MechanismType::AES_KEY_WRAP_PAD)
        } else {
            (Mechanism::AesKeyWrap, MechanismType::AES_KEY_WRAP)
        })
    }
}

/// The key-wrap mechanism named in a [`WrappedKey`].
pub(super) fn key_wrap_mechanism_named(name: &str) -> Result<Mechanism<'static>, HsmError> {
    if name == MechanismType::AES_KEY_WRAP_PAD.to_string() {
        Ok(Mechanism::AesKeyWrapPad)
    } else if name == MechanismType::AES_KEY_WRAP.to_string() {
        Ok(Mechanism::AesKeyWrap)
    } else {
        Err(HsmError::InvalidInput(format!(
            "unknown key-wrap mechanism {name:?}; known: CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP"
        )))
    }
}

/// Turns the token's refusal to unwrap into an error that says what most
/// likely happened.
pub(super) fn unwrap_failure(error: CryptokiError, label: &str, kek_label: &str) -> HsmError {
    let integrity = matches!(
        error,
        CryptokiError::Pkcs11(
            RvError::GeneralError
                | RvError::WrappedKeyInvalid
                | RvError::WrappedKeyLenRange
                | RvError::EncryptedDataInvalid
                | RvError::EncryptedDataLenRange,
            _
        )
    );
    let operation = if integrity {
        format!(
            "unwrapping the backup of {label:?} under the KEK {kek_label:?} (the blob does not \
             open under this KEK: the KEK was made from other bytes than the one that wrapped \
             it, or the blob was altered)"
        )
    } else {
        format!("unwrapping the backup of {label:?} under the KEK {kek_label:?}")
    };
    from_cryptoki(error, operation)
}

impl super::Token {
    /// The attack on a backup, for the selftest: with no login, unwrap
    /// `blob` under the KEK labelled `kek_label` into an extractable,
    /// non-sensitive session object (an EC private key, as the selftest
    /// wraps one). Ok(what the module answered) when it refused; an error
    /// when the unwrap succeeded (or the attempt could not be made).
    pub(crate) fn unwrap_without_login(
        &self,
        kek_label: &str,
        wrapped: &WrappedKey,
    ) -> Result<String, HsmError> {
        let session = self
            .module()
            .pkcs11()
            .open_rw_session(self.slot())
            .during("opening a session with no login")?;
        let keks = session
            .find_objects(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                label_attribute(kek_label),
            ])
            .during("finding the KEK with no login")?;
        let [kek] = keks.as_slice() else {
            return Ok(format!(
                "no KEK visible without a login ({} found)",
                keks.len()
            ));
        };
        let mechanism = key_wrap_mechanism_named(&wrapped.mechanism)?;
        let weak = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ];
        match session.unwrap_key(&mechanism, *kek, &wrapped.blob, &weak) {
            Ok(leaked) => {
                let _ = session.destroy_object(leaked);
                Err(HsmError::InvalidInput(
                    "with no login, the KEK unwrapped a backup into an extractable key: \
                     anyone holding the token and a blob has the key"
                        .into(),
                ))
            }
            Err(CryptokiError::Pkcs11(rv, _)) => Ok(super::ckr::ckr_name(rv)),
            Err(e) => Ok(e.to_string()),
        }
    }
}

impl LoggedIn {
    /// Destroys the KEK labelled `label` after its last use, and checks
    /// that no object with that label is left: between ceremonies no token
    /// holds a key that unwraps a backup; the custodians' shares of its
    /// secret make it again for a restore.
    pub fn destroy_kek(&self, label: &str) -> Result<(), HsmError> {
        let (handle, _) = self.kek(label)?;
        self.session
            .destroy_object(handle)
            .during(format!("destroying the KEK {label:?} after its last use"))?;
        let left = self.find(&[label_attribute(label)])?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(HsmError::InvalidInput(format!(
                "the KEK {label:?} was destroyed, but {} object(s) with its label remain",
                left.len()
            )))
        }
    }
}

fn unwrap_template_mismatch(found: String) -> PolicyViolation {
    PolicyViolation {
        mismatches: vec![Mismatch {
            attribute: "CKA_UNWRAP_TEMPLATE".into(),
            expected:
                "{CKA_TOKEN true, CKA_PRIVATE true, CKA_SENSITIVE true, CKA_EXTRACTABLE false}"
                    .into(),
            found,
        }],
    }
}

/// The KEK's CKA_UNWRAP_TEMPLATE, as the module reported it (attribute
/// type, value bytes), must be exactly [`kek_unwrap_template`], in any order.
fn check_unwrap_template(
    mut found: Vec<(cryptoki_sys::CK_ATTRIBUTE_TYPE, Vec<u8>)>,
) -> Result<(), PolicyViolation> {
    use cryptoki_sys::{CKA_EXTRACTABLE, CKA_PRIVATE, CKA_SENSITIVE, CKA_TOKEN};
    let mut wanted = vec![
        (CKA_TOKEN, vec![1u8]),
        (CKA_PRIVATE, vec![1]),
        (CKA_SENSITIVE, vec![1]),
        (CKA_EXTRACTABLE, vec![0]),
    ];
    found.sort();
    wanted.sort();
    if found == wanted {
        return Ok(());
    }
    Err(unwrap_template_mismatch(format!(
        "{} attribute(s): {}",
        found.len(),
        found
            .iter()
            .map(|(kind, value)| format!("0x{kind:x}={}", hex::encode(value)))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use cryptoki_sys::{CKA_EXTRACTABLE, CKA_PRIVATE, CKA_SENSITIVE, CKA_TOKEN};

    use super::check_unwrap_template;

    #[test]
    fn the_unwrap_template_must_be_read_back_whole_and_unweakened() {
        let whole = vec![
            (CKA_EXTRACTABLE, vec![0]),
            (CKA_TOKEN, vec![1]),
            (CKA_SENSITIVE, vec![1]),
            (CKA_PRIVATE, vec![1]),
        ];
        assert_eq!(check_unwrap_template(whole.clone()), Ok(()));
        // A module that keeps the template but drops CKA_PRIVATE would let a
        // public session unwrap again.
        let dropped: Vec<_> = whole
            .iter()
            .filter(|(t, _)| *t != CKA_PRIVATE)
            .cloned()
            .collect();
        let error = check_unwrap_template(dropped).expect_err("dropped");
        assert!(error.to_string().contains("3 attribute(s)"), "{error}");
        let mut weakened = whole.clone();
        weakened[0].1 = vec![1];
        assert!(check_unwrap_template(weakened).is_err());
        assert!(check_unwrap_template(Vec::new()).is_err());
    }
}
