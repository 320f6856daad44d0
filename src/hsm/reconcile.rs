//! What a resumed ceremony needs from the token: the public keys it holds
//! (readable without a login, to compare with the transcript before anyone
//! acts), and a way to remove a key made after the transcript's last entry
//! (never adopted: its making was not witnessed).

use cryptoki::object::{Attribute, ObjectClass};

use super::attributes::{read_key_attributes, read_label_and_id};
use super::error::During;
use super::keys::{KeyRef, public_key_info};
use super::session::algorithm_of;
use super::{HsmError, LoggedIn, PublicKeyInfo, Token};

/// A public key object found on the token.
#[derive(Debug, Clone)]
pub struct FoundPublicKey {
    pub label: String,
    pub id_hex: String,
    pub public: PublicKeyInfo,
}

impl Token {
    /// Every public key object of the tool's algorithms, read in a session
    /// without login (public keys are public objects).
    pub fn public_keys(&self) -> Result<Vec<FoundPublicKey>, HsmError> {
        let session = self
            .module()
            .pkcs11()
            .open_ro_session(self.slot())
            .during("opening a session to list public keys")?;
        let mut found = Vec::new();
        for handle in session
            .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY)])
            .during("searching the token's public keys")?
        {
            let (label, id_hex) = read_label_and_id(&session, handle)?;
            let attributes = read_key_attributes(&session, handle)?;
            let Some(algorithm) = algorithm_of(
                &attributes.key_type,
                attributes.curve.as_deref(),
                attributes.bits,
            ) else {
                continue;
            };
            found.push(FoundPublicKey {
                label,
                id_hex,
                public: public_key_info(&session, handle, algorithm)?,
            });
        }
        Ok(found)
    }
}

impl LoggedIn {
    /// Destroys every key object (private, public, secret) whose CKA_ID is
    /// `id`, whatever its label: the object an interrupted generation made
    /// under the id it recorded beforehand. Returns how many were destroyed.
    pub fn destroy_objects_with_id(&self, id: &[u8]) -> Result<usize, HsmError> {
        let mut destroyed = 0;
        for class in [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::SECRET_KEY,
        ] {
            for handle in self.find(&[Attribute::Class(class), Attribute::Id(id.to_vec())])? {
                self.session
                    .destroy_object(handle)
                    .during("destroying the object of an interrupted generation")?;
                destroyed += 1;
            }
        }
        Ok(destroyed)
    }

    /// Destroys every object of `key` (private or secret, and public). Used
    /// only for a key made after a transcript's last entry, which the tool
    /// reports and removes rather than adopts.
    pub fn destroy_key(&self, key: &KeyRef) -> Result<usize, HsmError> {
        let id = hex::decode(&key.id_hex).map_err(|_| {
            HsmError::InvalidInput(format!("key id {:?} is not hexadecimal", key.id_hex))
        })?;
        let mut destroyed = 0;
        for class in [
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
            ObjectClass::SECRET_KEY,
        ] {
            for handle in self.find(&[
                Attribute::Class(class),
                Attribute::Id(id.clone()),
                super::session::label_attribute(&key.label),
            ])? {
                self.session
                    .destroy_object(handle)
                    .during("destroying an unrecorded key")?;
                destroyed += 1;
            }
        }
        Ok(destroyed)
    }
}
