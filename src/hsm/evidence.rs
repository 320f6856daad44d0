//! Evidence that a key cannot leave the token, gathered by asking the token
//! to hand it out and recording the refusals.

use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeInfo, KeyType, ObjectClass};
use serde::Serialize;
use zeroize::Zeroize;

use super::attributes::{KeyAttributes, read_key_attributes};
use super::ckr::ckr_name;
use super::error::During;
use super::session::secret_attribute_types;
use super::{HsmError, KeyRef, LoggedIn};

/// What the token answered when asked for the key's secret material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NonExportableEvidence {
    pub label: String,
    pub id_hex: String,
    /// The key's attributes at the time of the proof.
    pub attributes: KeyAttributes,
    /// Reading each secret attribute's value (CKA_VALUE, or the RSA private
    /// exponent, primes and CRT values).
    pub secret_attributes: Vec<SecretAttributeProbe>,
    /// The mechanism of the wrap attempt (CKM_AES_KEY_WRAP_PAD or
    /// CKM_AES_KEY_WRAP).
    pub wrap_mechanism: String,
    /// The wrap attempt's refusal: "CKR_KEY_UNEXTRACTABLE" (for a private
    /// key on kryoptic "CKR_KEY_FUNCTION_NOT_PERMITTED"), or for a key with
    /// a wrapped backup (extractable only under a trusted key)
    /// "CKR_KEY_NOT_WRAPPABLE". See [`LoggedIn::prove_non_exportable`].
    pub wrap_result: String,
}

/// One attempt to read a secret attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretAttributeProbe {
    /// CKA_* name.
    pub attribute: String,
    /// "CKR_ATTRIBUTE_SENSITIVE" when refused as it must be.
    pub result: String,
}

impl LoggedIn {
    /// Proves the key non-exportable: every secret attribute must read as
    /// CKR_ATTRIBUTE_SENSITIVE, and wrapping it under a temporary session
    /// key must fail with CKR_KEY_UNEXTRACTABLE. Any other answer is an
    /// error: the ceremony stops.
    ///
    /// One exception, for a private key only: kryoptic checks a private
    /// key's CKA_EXTRACTABLE the way it checks a usage flag, and refuses the
    /// wrap with CKR_KEY_FUNCTION_NOT_PERMITTED. The wrapping key allows
    /// CKA_WRAP, so the only function of the private key involved is being
    /// extracted: that refusal proves the same thing, and the evidence
    /// records it as the token gave it.
    ///
    /// A key with a wrapped backup (CKA_EXTRACTABLE and
    /// CKA_WRAP_WITH_TRUSTED true, as read back) can leave the token only
    /// under a trusted key: for it the wrap under the (untrusted) session
    /// key must fail with CKR_KEY_NOT_WRAPPABLE instead.
    pub fn prove_non_exportable(&self, key: &KeyRef) -> Result<NonExportableEvidence, HsmError> {
        let handle = self.private_handle(key)?;
        let not_proven = |detail: String| HsmError::NotProvenNonExportable {
            label: key.label.clone(),
            detail,
        };
        let attributes = read_key_attributes(&self.session, handle)?;
        let trusted_wrap_only =
            attributes.extractable == Some(true) && attributes.wrap_with_trusted == Some(true);
        if !(attributes.extractable == Some(false) || trusted_wrap_only)
            || attributes.sensitive != Some(true)
        {
            let shown =
                |value: Option<bool>| value.map_or("not reported".to_owned(), |v| v.to_string());
            return Err(not_proven(format!(
                "CKA_EXTRACTABLE reads {}, CKA_WRAP_WITH_TRUSTED {} and CKA_SENSITIVE {}",
                shown(attributes.extractable),
                shown(attributes.wrap_with_trusted),
                shown(attributes.sensitive)
            )));
        }
        let expected_refusal = if trusted_wrap_only {
            RvError::KeyNotWrappable
        } else {
            RvError::KeyUnextractable
        };

        // cryptoki's get_attributes silently drops sensitive attributes;
        // get_attribute_info reports the token's actual answer.
        let types = secret_attribute_types(key.algorithm);
        let answers = self
            .session
            .get_attribute_info(handle, types)
            .during("asking for the key's secret attributes")?;
        let mut secret_attributes = Vec::with_capacity(types.len());
        for (attribute, answer) in types.iter().zip(answers) {
            let result = match answer {
                AttributeInfo::Sensitive => ckr_name(RvError::AttributeSensitive),
                AttributeInfo::Available(length) => {
                    return Err(not_proven(format!(
                        "{attribute} is readable ({length} bytes)"
                    )));
                }
                AttributeInfo::TypeInvalid => {
                    return Err(not_proven(format!(
                        "the token answers {} for {attribute}, which proves nothing",
                        ckr_name(RvError::AttributeTypeInvalid)
                    )));
                }
                AttributeInfo::Unavailable => {
                    return Err(not_proven(format!(
                        "the token reports {attribute} as unavailable, which proves nothing"
                    )));
                }
            };
            secret_attributes.push(SecretAttributeProbe {
                attribute: attribute.to_string(),
                result,
            });
        }

        let (wrap_mechanism, wrap_result) = self.try_to_wrap(handle, &key.label)?;
        let refusal = match wrap_result {
            Some(rv) if rv == expected_refusal => rv,
            Some(RvError::KeyFunctionNotPermitted)
                if key.algorithm.is_asymmetric() && !trusted_wrap_only =>
            {
                RvError::KeyFunctionNotPermitted
            }
            other => {
                let answer = match other {
                    None => "succeeded: the key left the token wrapped".to_owned(),
                    Some(rv) => format!("failed with {}", ckr_name(rv)),
                };
                return Err(not_proven(format!(
                    "wrapping it with {wrap_mechanism} under an untrusted key {answer}, not with {}",
                    ckr_name(expected_refusal)
                )));
            }
        };
        Ok(NonExportableEvidence {
            label: key.label.clone(),
            id_hex: key.id_hex.clone(),
            attributes,
            secret_attributes,
            wrap_mechanism: wrap_mechanism.to_string(),
            wrap_result: ckr_name(refusal),
        })
    }

    /// Tries C_WrapKey under a fresh session AES key; returns the mechanism
    /// and the return value (`None` when the wrap succeeded).
    fn try_to_wrap(
        &self,
        key: cryptoki::object::ObjectHandle,
        label: &str,
    ) -> Result<(MechanismType, Option<RvError>), HsmError> {
        let offered = self
            .token
            .module()
            .pkcs11()
            .get_mechanism_list(self.token.slot())
            .during("listing the token's mechanisms")?;
        // AES_KEY_WRAP needs input in 8-byte blocks, which a private key's
        // encoding may not be; prefer the padded variant where it exists.
        let (mechanism, mechanism_type) = if offered.contains(&MechanismType::AES_KEY_WRAP_PAD) {
            (Mechanism::AesKeyWrapPad, MechanismType::AES_KEY_WRAP_PAD)
        } else {
            (Mechanism::AesKeyWrap, MechanismType::AES_KEY_WRAP)
        };
        let wrapping_key = self
            .session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    // A session object: it vanishes with the session even
                    // if destroying it below fails.
                    Attribute::Token(false),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Label(b"keyceremony temporary wrap probe".to_vec()),
                    Attribute::Encrypt(false),
                    Attribute::Decrypt(false),
                    Attribute::Sign(false),
                    Attribute::Verify(false),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(false),
                    Attribute::Derive(false),
                ],
            )
            .during("creating a temporary session key for the wrap test")?;
        let attempt = self.session.wrap_key(&mechanism, wrapping_key, key);
        let destroyed = self
            .session
            .destroy_object(wrapping_key)
            .during("destroying the temporary wrap-test key");
        let result = match attempt {
            Ok(mut wrapped) => {
                wrapped.zeroize();
                None
            }
            Err(CryptokiError::Pkcs11(rv, _)) => Some(rv),
            Err(other) => {
                return Err(super::error::from_cryptoki(
                    other,
                    format!("trying to wrap {label:?}"),
                ));
            }
        };
        destroyed?;
        Ok((mechanism_type, result))
    }
}
