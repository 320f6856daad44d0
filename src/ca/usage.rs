//! The key usages of a CA certificate: the names a script writes, the
//! refusal of those a CA must not carry, and the keyUsage bits.

use std::fmt;

use x509_cert::ext::pkix::{KeyUsage, KeyUsages};

use super::{CaError, CaKeyUsage, CertProfile};

/// The field every key-usage refusal names: the same path under a
/// root-certificate step and under a sign-csr step's policy, so the script
/// validation can turn it into a position in the YAML.
pub(crate) const FIELD: &str = "profile.key-usage";

impl CaKeyUsage {
    /// What a CA certificate may carry; cert-sign is also required.
    pub const ALLOWED: [CaKeyUsage; 3] = [
        CaKeyUsage::CertSign,
        CaKeyUsage::CrlSign,
        CaKeyUsage::DigitalSignature,
    ];

    /// The profile's default (serde calls it when `key-usage` is absent).
    pub fn default_set() -> Vec<CaKeyUsage> {
        vec![CaKeyUsage::CertSign, CaKeyUsage::CrlSign]
    }

    /// The name a script writes.
    pub fn name(self) -> &'static str {
        match self {
            CaKeyUsage::CertSign => "cert-sign",
            CaKeyUsage::CrlSign => "crl-sign",
            CaKeyUsage::DigitalSignature => "digital-signature",
            CaKeyUsage::ContentCommitment => "content-commitment",
            CaKeyUsage::KeyEncipherment => "key-encipherment",
            CaKeyUsage::DataEncipherment => "data-encipherment",
            CaKeyUsage::KeyAgreement => "key-agreement",
            CaKeyUsage::EncipherOnly => "encipher-only",
            CaKeyUsage::DecipherOnly => "decipher-only",
        }
    }

    fn flag(self) -> KeyUsages {
        match self {
            CaKeyUsage::CertSign => KeyUsages::KeyCertSign,
            CaKeyUsage::CrlSign => KeyUsages::CRLSign,
            CaKeyUsage::DigitalSignature => KeyUsages::DigitalSignature,
            // X.509 renamed nonRepudiation to contentCommitment; same bit 1.
            CaKeyUsage::ContentCommitment => KeyUsages::NonRepudiation,
            CaKeyUsage::KeyEncipherment => KeyUsages::KeyEncipherment,
            CaKeyUsage::DataEncipherment => KeyUsages::DataEncipherment,
            CaKeyUsage::KeyAgreement => KeyUsages::KeyAgreement,
            CaKeyUsage::EncipherOnly => KeyUsages::EncipherOnly,
            CaKeyUsage::DecipherOnly => KeyUsages::DecipherOnly,
        }
    }
}

impl fmt::Display for CaKeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// "cert-sign, crl-sign" for messages.
pub(crate) fn names(usages: &[CaKeyUsage]) -> String {
    usages
        .iter()
        .map(|usage| usage.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl CertProfile {
    /// What can be refused from the profile alone, without the issuer or
    /// the time: today the key usages. Script validation calls it, so that
    /// `lint` and `run` refuse the script before a ceremony starts, and so
    /// does every CA operation before it signs.
    pub fn check(&self) -> Result<(), CaError> {
        check_key_usage(&self.key_usage)
    }
}

/// Only allowed usages, each once, cert-sign among them. The first fault
/// is reported, named.
pub(crate) fn check_key_usage(usages: &[CaKeyUsage]) -> Result<(), CaError> {
    for (index, usage) in usages.iter().enumerate() {
        if !CaKeyUsage::ALLOWED.contains(usage) {
            return Err(CaError::profile(
                FIELD,
                format!(
                    "{usage} is not allowed in a CA certificate (allowed: {})",
                    names(&CaKeyUsage::ALLOWED)
                ),
            ));
        }
        if usages[..index].contains(usage) {
            return Err(CaError::profile(FIELD, format!("{usage} is listed twice")));
        }
    }
    if !usages.contains(&CaKeyUsage::CertSign) {
        return Err(CaError::profile(
            FIELD,
            "cert-sign is required: a CA certificate without keyCertSign cannot sign certificates",
        ));
    }
    Ok(())
}

/// The extension value with exactly `usages` set.
pub(crate) fn key_usage_extension(usages: &[CaKeyUsage]) -> KeyUsage {
    let mut value = KeyUsage(Default::default());
    for usage in usages {
        value.0 |= usage.flag();
    }
    value
}

/// The usages a keyUsage value carries, in bit order. Read through the
/// crate's per-bit accessors rather than `flag`, so that the self-check does
/// not share the builder's mapping and would catch a wrong bit.
pub(crate) fn usages_in(value: &KeyUsage) -> Vec<CaKeyUsage> {
    [
        (value.digital_signature(), CaKeyUsage::DigitalSignature),
        (value.non_repudiation(), CaKeyUsage::ContentCommitment),
        (value.key_encipherment(), CaKeyUsage::KeyEncipherment),
        (value.data_encipherment(), CaKeyUsage::DataEncipherment),
        (value.key_agreement(), CaKeyUsage::KeyAgreement),
        (value.key_cert_sign(), CaKeyUsage::CertSign),
        (value.crl_sign(), CaKeyUsage::CrlSign),
        (value.encipher_only(), CaKeyUsage::EncipherOnly),
        (value.decipher_only(), CaKeyUsage::DecipherOnly),
    ]
    .into_iter()
    .filter_map(|(set, usage)| set.then_some(usage))
    .collect()
}
