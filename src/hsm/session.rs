//! A logged-in session and the lookups every key operation shares.
//!
//! Key generation lives in `keys.rs`, signing and encryption in
//! `crypto.rs`, the non-exportability proof in `evidence.rs`.

use std::cell::RefCell;

use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::types::AuthPin;

use super::attributes::{ObjectSummary, read_key_attributes, read_label_and_id};
use super::error::During;
use super::keys::KeyRef;
use super::token::check_pin_length;
use super::{HsmError, KeyAlgorithm, Role, Token};
use crate::secret::Pin;

/// A read-write session logged in as one role. Logs out and closes the
/// session when dropped.
pub struct LoggedIn {
    pub(super) token: Token,
    pub(super) role: Role,
    pub(super) session: Session,
    /// Key objects this login created or found by an exact search (class,
    /// CKA_ID, label), so each signature or proof does not search again: on
    /// SoftHSM2 a search, and even one attribute read to re-check a handle,
    /// costs as much as a P-256 signature (examples/hsm_bench.rs measured
    /// +70 % and +100 %). An object handle stays valid while its object
    /// exists, and the tool never destroys the keys it remembers; another
    /// application deleting one mid-ceremony makes the next call fail with
    /// CKR_OBJECT_HANDLE_INVALID. The cache dies with the login, as handles
    /// to private objects do.
    found: RefCell<Vec<FoundHandle>>,
}

/// A handle and what it was looked up by.
struct FoundHandle {
    class: ObjectClass,
    id: Vec<u8>,
    label: String,
    handle: ObjectHandle,
}

impl std::fmt::Debug for LoggedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedIn")
            .field("serial", &self.token.info().serial)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Drop for LoggedIn {
    fn drop(&mut self) {
        // Nothing useful can be done with a failed logout: closing the
        // session (cryptoki's own Drop, right after) ends the login anyway.
        let _ = self.session.logout();
    }
}

impl LoggedIn {
    pub(crate) fn new(token: Token, role: Role, session: Session) -> LoggedIn {
        LoggedIn {
            token,
            role,
            session,
            found: RefCell::new(Vec::new()),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The token, with the information read just before the login.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Sets the user PIN (security officer only).
    pub fn init_user_pin(&self, pin: &Pin) -> Result<(), HsmError> {
        self.require_role(Role::SecurityOfficer, "setting the user PIN")?;
        check_pin_length(&self.token.refresh()?, Role::User, pin)?;
        self.session
            .init_pin(&AuthPin::from(pin.expose()))
            .during("setting the user PIN")
    }

    /// Changes the PIN of the role logged in (C_SetPIN) from `old` to
    /// `new`. Modules without PIN management (CloudHSM, YubiHSM 2) answer
    /// CKR_FUNCTION_NOT_SUPPORTED.
    pub fn change_pin(&self, old: &Pin, new: &Pin) -> Result<(), HsmError> {
        check_pin_length(&self.token.refresh()?, self.role, new)?;
        self.session
            .set_pin(&AuthPin::from(old.expose()), &AuthPin::from(new.expose()))
            .during("changing the PIN")
    }

    /// The one private or secret key labelled `label`.
    pub fn find_key(&self, label: &str) -> Result<KeyRef, HsmError> {
        let mut found = Vec::new();
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::SECRET_KEY] {
            found.extend(self.find(&[Attribute::Class(class), label_attribute(label)])?);
        }
        let handle = match found.as_slice() {
            [handle] => *handle,
            [] => {
                return Err(HsmError::KeyNotFound {
                    label: label.to_owned(),
                });
            }
            several => {
                return Err(HsmError::AmbiguousKey {
                    label: label.to_owned(),
                    count: several.len(),
                });
            }
        };
        let (_, id_hex) = read_label_and_id(&self.session, handle)?;
        let attributes = read_key_attributes(&self.session, handle)?;
        let algorithm = algorithm_of(
            &attributes.key_type,
            attributes.curve.as_deref(),
            attributes.bits,
        )
        .ok_or_else(|| HsmError::UnsupportedKey {
            label: label.to_owned(),
            reason: format!(
                "{} {} is not one of the tool's algorithms",
                attributes.key_type,
                attributes
                    .curve
                    .clone()
                    .or(attributes.bits.map(|bits| format!("{bits} bits")))
                    .unwrap_or_default()
            ),
        })?;
        Ok(KeyRef {
            label: label.to_owned(),
            id_hex,
            algorithm,
        })
    }

    /// Every object this session can see (a security officer does not see
    /// private objects), with the attributes of key objects.
    pub fn objects(&self) -> Result<Vec<ObjectSummary>, HsmError> {
        objects_in(&self.session)
    }

    pub(super) fn require_role(&self, needed: Role, operation: &str) -> Result<(), HsmError> {
        if self.role == needed {
            Ok(())
        } else {
            Err(HsmError::WrongRole {
                operation: operation.to_owned(),
                needed,
                actual: self.role,
            })
        }
    }

    pub(super) fn find(&self, template: &[Attribute]) -> Result<Vec<ObjectHandle>, HsmError> {
        self.session
            .find_objects(template)
            .during("searching the token's objects")
    }

    /// The handle of one half of `key`, found again by class, CKA_ID and
    /// label: handles do not survive a logout, a `KeyRef` does.
    pub(super) fn handle(
        &self,
        key: &KeyRef,
        class: ObjectClass,
    ) -> Result<ObjectHandle, HsmError> {
        let id = hex::decode(&key.id_hex).map_err(|_| {
            HsmError::InvalidInput(format!("key id {:?} is not hexadecimal", key.id_hex))
        })?;
        if let Some(handle) = self.remembered(class, &id, &key.label) {
            return Ok(handle);
        }
        let found = self.find(&[
            Attribute::Class(class),
            Attribute::Id(id.clone()),
            label_attribute(&key.label),
        ])?;
        match found.as_slice() {
            [handle] => {
                self.remember(class, id, &key.label, *handle);
                Ok(*handle)
            }
            [] => Err(HsmError::KeyObjectNotFound {
                label: key.label.clone(),
                id_hex: key.id_hex.clone(),
                class: class.to_string(),
            }),
            several => Err(HsmError::AmbiguousKey {
                label: format!("{} ({class}, id {})", key.label, key.id_hex),
                count: several.len(),
            }),
        }
    }

    /// Records a handle this login created or found.
    pub(super) fn remember(
        &self,
        class: ObjectClass,
        id: Vec<u8>,
        label: &str,
        handle: ObjectHandle,
    ) {
        let mut found = self.found.borrow_mut();
        found.retain(|known| !(known.class == class && known.id == id && known.label == label));
        found.push(FoundHandle {
            class,
            id,
            label: label.to_owned(),
            handle,
        });
    }

    /// A handle this login created or found for this class, CKA_ID and label.
    fn remembered(&self, class: ObjectClass, id: &[u8], label: &str) -> Option<ObjectHandle> {
        self.found
            .borrow()
            .iter()
            .find(|known| known.class == class && known.id == id && known.label == label)
            .map(|known| known.handle)
    }

    /// The private key of a key pair, or the secret key.
    pub(super) fn private_handle(&self, key: &KeyRef) -> Result<ObjectHandle, HsmError> {
        let class = if key.algorithm.is_asymmetric() {
            ObjectClass::PRIVATE_KEY
        } else {
            ObjectClass::SECRET_KEY
        };
        self.handle(key, class)
    }
}

pub(super) fn label_attribute(label: &str) -> Attribute {
    Attribute::Label(label.as_bytes().to_vec())
}

/// The tool's algorithm for a key type and size read from the token.
pub(super) fn algorithm_of(
    key_type: &str,
    curve: Option<&str>,
    bits: Option<u64>,
) -> Option<KeyAlgorithm> {
    match (key_type, curve, bits) {
        ("CKK_EC", Some("P-256"), _) => Some(KeyAlgorithm::EcP256),
        ("CKK_EC", Some("P-384"), _) => Some(KeyAlgorithm::EcP384),
        ("CKK_EC_EDWARDS", Some("Ed25519"), _) => Some(KeyAlgorithm::Ed25519),
        ("CKK_RSA", _, Some(3072)) => Some(KeyAlgorithm::Rsa3072),
        ("CKK_RSA", _, Some(4096)) => Some(KeyAlgorithm::Rsa4096),
        ("CKK_AES", _, Some(256)) => Some(KeyAlgorithm::Aes256),
        _ => None,
    }
}

/// Attribute types whose values are the secret itself.
pub(super) fn secret_attribute_types(algorithm: KeyAlgorithm) -> &'static [AttributeType] {
    match algorithm {
        KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => &[
            AttributeType::PrivateExponent,
            AttributeType::Prime1,
            AttributeType::Prime2,
            AttributeType::Exponent1,
            AttributeType::Exponent2,
            AttributeType::Coefficient,
        ],
        _ => &[AttributeType::Value],
    }
}

impl Token {
    /// The objects anyone sees without logging in: the public ones.
    pub fn public_objects(&self) -> Result<Vec<ObjectSummary>, HsmError> {
        let session = self
            .module()
            .pkcs11()
            .open_ro_session(self.slot())
            .during("opening a session to list public objects")?;
        objects_in(&session)
    }
}

/// Every object `session` can see, key objects with their attributes.
fn objects_in(session: &Session) -> Result<Vec<ObjectSummary>, HsmError> {
    let mut summaries = Vec::new();
    // Always search by class: some modules (kryoptic) also return
    // CKO_MECHANISM objects for an empty template.
    for class in [
        ObjectClass::DATA,
        ObjectClass::CERTIFICATE,
        ObjectClass::PUBLIC_KEY,
        ObjectClass::PRIVATE_KEY,
        ObjectClass::SECRET_KEY,
    ] {
        for handle in session
            .find_objects(&[Attribute::Class(class)])
            .during("searching the token's objects")?
        {
            let (label, id_hex) = read_label_and_id(session, handle)?;
            let is_key = class != ObjectClass::DATA && class != ObjectClass::CERTIFICATE;
            let key = if is_key {
                Some(read_key_attributes(session, handle)?)
            } else {
                None
            };
            summaries.push(ObjectSummary {
                class: class.to_string(),
                label,
                id_hex,
                key,
            });
        }
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_are_recognised_from_type_and_size() {
        assert_eq!(
            algorithm_of("CKK_EC", Some("P-384"), None),
            Some(KeyAlgorithm::EcP384)
        );
        assert_eq!(
            algorithm_of("CKK_EC_EDWARDS", Some("Ed25519"), None),
            Some(KeyAlgorithm::Ed25519)
        );
        assert_eq!(
            algorithm_of("CKK_RSA", None, Some(4096)),
            Some(KeyAlgorithm::Rsa4096)
        );
        assert_eq!(algorithm_of("CKK_RSA", None, Some(2048)), None);
        assert_eq!(algorithm_of("CKK_EC", Some("Ed25519"), None), None);
    }
}
