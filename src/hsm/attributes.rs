//! Key attributes as read back from the token: what the transcript records
//! and the key policy checks.

use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use serde::Serialize;

use super::HsmError;
use super::der;
use super::error::During;

/// Every security-relevant attribute of a key, read back from the token.
///
/// `None` means the token did not report the attribute (not defined for the
/// object's class, or withheld); the policy decides whether that is
/// acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyAttributes {
    /// CKO_* name of CKA_CLASS.
    pub class: String,
    /// CKK_* name of CKA_KEY_TYPE.
    pub key_type: String,
    /// The curve of an EC or Edwards key ("P-384", "Ed25519"), or
    /// "unknown (<CKA_EC_PARAMS hex>)".
    pub curve: Option<String>,
    /// RSA modulus bits or secret key bits.
    pub bits: Option<u64>,
    pub token: Option<bool>,
    pub private: Option<bool>,
    pub sensitive: Option<bool>,
    pub extractable: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub never_extractable: Option<bool>,
    pub local: Option<bool>,
    pub modifiable: Option<bool>,
    /// CKA_WRAP_WITH_TRUSTED: the key can be wrapped only under a trusted key.
    pub wrap_with_trusted: Option<bool>,
    /// CKA_TRUSTED: the key may wrap keys with CKA_WRAP_WITH_TRUSTED. Only
    /// a security officer can set it; PKCS#11 does not define it for
    /// private keys.
    pub trusted: Option<bool>,
    pub encrypt: Option<bool>,
    pub decrypt: Option<bool>,
    pub sign: Option<bool>,
    pub sign_recover: Option<bool>,
    pub verify: Option<bool>,
    pub verify_recover: Option<bool>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    pub derive: Option<bool>,
}

/// The CKA_* names of the boolean attributes, in the order of
/// [`KeyAttributes::flags`].
pub const FLAG_NAMES: [&str; 19] = [
    "CKA_TOKEN",
    "CKA_PRIVATE",
    "CKA_SENSITIVE",
    "CKA_EXTRACTABLE",
    "CKA_ALWAYS_SENSITIVE",
    "CKA_NEVER_EXTRACTABLE",
    "CKA_LOCAL",
    "CKA_MODIFIABLE",
    "CKA_WRAP_WITH_TRUSTED",
    "CKA_TRUSTED",
    "CKA_ENCRYPT",
    "CKA_DECRYPT",
    "CKA_SIGN",
    "CKA_SIGN_RECOVER",
    "CKA_VERIFY",
    "CKA_VERIFY_RECOVER",
    "CKA_WRAP",
    "CKA_UNWRAP",
    "CKA_DERIVE",
];

impl KeyAttributes {
    /// Every boolean attribute with its CKA_* name.
    pub fn flags(&self) -> [(&'static str, Option<bool>); 19] {
        let values = [
            self.token,
            self.private,
            self.sensitive,
            self.extractable,
            self.always_sensitive,
            self.never_extractable,
            self.local,
            self.modifiable,
            self.wrap_with_trusted,
            self.trusted,
            self.encrypt,
            self.decrypt,
            self.sign,
            self.sign_recover,
            self.verify,
            self.verify_recover,
            self.wrap,
            self.unwrap,
            self.derive,
        ];
        std::array::from_fn(|index| (FLAG_NAMES[index], values[index]))
    }

    /// A mutable view of one boolean attribute by its CKA_* name; used to
    /// build altered attribute sets in tests of the policy.
    pub fn flag_mut(&mut self, name: &str) -> Option<&mut Option<bool>> {
        Some(match name {
            "CKA_TOKEN" => &mut self.token,
            "CKA_PRIVATE" => &mut self.private,
            "CKA_SENSITIVE" => &mut self.sensitive,
            "CKA_EXTRACTABLE" => &mut self.extractable,
            "CKA_ALWAYS_SENSITIVE" => &mut self.always_sensitive,
            "CKA_NEVER_EXTRACTABLE" => &mut self.never_extractable,
            "CKA_LOCAL" => &mut self.local,
            "CKA_MODIFIABLE" => &mut self.modifiable,
            "CKA_WRAP_WITH_TRUSTED" => &mut self.wrap_with_trusted,
            "CKA_TRUSTED" => &mut self.trusted,
            "CKA_ENCRYPT" => &mut self.encrypt,
            "CKA_DECRYPT" => &mut self.decrypt,
            "CKA_SIGN" => &mut self.sign,
            "CKA_SIGN_RECOVER" => &mut self.sign_recover,
            "CKA_VERIFY" => &mut self.verify,
            "CKA_VERIFY_RECOVER" => &mut self.verify_recover,
            "CKA_WRAP" => &mut self.wrap,
            "CKA_UNWRAP" => &mut self.unwrap,
            "CKA_DERIVE" => &mut self.derive,
            _ => return None,
        })
    }
}

const READ_BACK: [AttributeType; 24] = [
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::EcParams,
    AttributeType::Modulus,
    AttributeType::ValueLen,
    AttributeType::Token,
    AttributeType::Private,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::AlwaysSensitive,
    AttributeType::NeverExtractable,
    AttributeType::Local,
    AttributeType::Modifiable,
    AttributeType::WrapWithTrusted,
    AttributeType::Trusted,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Sign,
    AttributeType::SignRecover,
    AttributeType::Verify,
    AttributeType::VerifyRecover,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Derive,
];

/// Reads the attributes of a key object. cryptoki drops attributes the
/// token does not report; they stay `None`.
pub(crate) fn read_key_attributes(
    session: &Session,
    handle: ObjectHandle,
) -> Result<KeyAttributes, HsmError> {
    let values = session
        .get_attributes(handle, &READ_BACK)
        .during("reading the key's attributes back")?;
    let mut read = KeyAttributes {
        class: "not reported".into(),
        key_type: "not reported".into(),
        curve: None,
        bits: None,
        token: None,
        private: None,
        sensitive: None,
        extractable: None,
        always_sensitive: None,
        never_extractable: None,
        local: None,
        modifiable: None,
        wrap_with_trusted: None,
        trusted: None,
        encrypt: None,
        decrypt: None,
        sign: None,
        sign_recover: None,
        verify: None,
        verify_recover: None,
        wrap: None,
        unwrap: None,
        derive: None,
    };
    for value in values {
        match value {
            Attribute::Class(class) => read.class = class.to_string(),
            Attribute::KeyType(key_type) => read.key_type = key_type.to_string(),
            Attribute::EcParams(params) => {
                read.curve = Some(match der::curve_name(&params) {
                    Some(name) => name.to_owned(),
                    None => format!("unknown ({})", hex::encode(&params)),
                })
            }
            Attribute::Modulus(modulus) => read.bits = Some(der::bit_length(&modulus)),
            Attribute::ValueLen(bytes) => read.bits = Some(u64::from(bytes) * 8),
            Attribute::Token(v) => read.token = Some(v),
            Attribute::Private(v) => read.private = Some(v),
            Attribute::Sensitive(v) => read.sensitive = Some(v),
            Attribute::Extractable(v) => read.extractable = Some(v),
            Attribute::AlwaysSensitive(v) => read.always_sensitive = Some(v),
            Attribute::NeverExtractable(v) => read.never_extractable = Some(v),
            Attribute::Local(v) => read.local = Some(v),
            Attribute::Modifiable(v) => read.modifiable = Some(v),
            Attribute::WrapWithTrusted(v) => read.wrap_with_trusted = Some(v),
            Attribute::Trusted(v) => read.trusted = Some(v),
            Attribute::Encrypt(v) => read.encrypt = Some(v),
            Attribute::Decrypt(v) => read.decrypt = Some(v),
            Attribute::Sign(v) => read.sign = Some(v),
            Attribute::SignRecover(v) => read.sign_recover = Some(v),
            Attribute::Verify(v) => read.verify = Some(v),
            Attribute::VerifyRecover(v) => read.verify_recover = Some(v),
            Attribute::Wrap(v) => read.wrap = Some(v),
            Attribute::Unwrap(v) => read.unwrap = Some(v),
            Attribute::Derive(v) => read.derive = Some(v),
            _ => {}
        }
    }
    Ok(read)
}

/// One object on the token, for listings and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectSummary {
    /// CKO_* name.
    pub class: String,
    pub label: String,
    pub id_hex: String,
    /// Read back for key objects (public, private, secret); `None` for
    /// certificates and data objects.
    pub key: Option<KeyAttributes>,
}

/// The label and CKA_ID of an object, as text.
pub(crate) fn read_label_and_id(
    session: &Session,
    handle: ObjectHandle,
) -> Result<(String, String), HsmError> {
    let values = session
        .get_attributes(handle, &[AttributeType::Label, AttributeType::Id])
        .during("reading an object's label and id")?;
    let mut label = String::new();
    let mut id_hex = String::new();
    for value in values {
        match value {
            Attribute::Label(bytes) => label = String::from_utf8_lossy(&bytes).into_owned(),
            Attribute::Id(bytes) => id_hex = hex::encode(bytes),
            _ => {}
        }
    }
    Ok((label, id_hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_name_has_a_mutable_field() {
        let mut attributes = crate::hsm::policy::tests::compliant(&crate::hsm::KeySpec::new(
            crate::hsm::KeyAlgorithm::EcP384,
            crate::hsm::KeyUsage::Sign,
        ));
        for name in FLAG_NAMES {
            let slot = attributes.flag_mut(name).expect("known flag");
            *slot = Some(true);
        }
        assert!(
            attributes
                .flags()
                .iter()
                .all(|(_, value)| *value == Some(true))
        );
        assert!(attributes.flag_mut("CKA_VALUE").is_none());
    }
}
