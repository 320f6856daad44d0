//! The linter's eye: what a built certificate must look like, checked on
//! the certificate parsed back from DER against expectations taken from the
//! profile; and the signing step shared by certificates and CRLs.

use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::certificate::Version;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use super::time::{encoded_as_rfc5280_requires, seconds_of};
use super::usage::{check_key_usage, names, usages_in};
use super::{CaError, CaKeyUsage, Issuer, Sign};
use crate::hsm::verify_with_spki;

/// A failed check: (field, reason).
pub(crate) type Finding = (String, String);

fn finding(field: &str, reason: impl Into<String>) -> Finding {
    (field.to_string(), reason.into())
}

/// What the profile, the CSR and the issuer say the certificate must be.
pub(crate) struct CertExpectation {
    pub serial: SerialNumber,
    pub signature_algorithm: AlgorithmIdentifierOwned,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: u64,
    pub not_after: u64,
    pub spki_der: Vec<u8>,
    pub path_length: Option<u8>,
    /// The profile's, already checked.
    pub key_usage: Vec<CaKeyUsage>,
    pub subject_key_id: Vec<u8>,
    pub authority_key_id: Vec<u8>,
}

/// Checks `certificate` against `expected`. The signature is checked by the
/// caller, who knows the key.
pub(crate) fn check_certificate(
    certificate: &Certificate,
    expected: &CertExpectation,
) -> Result<(), Finding> {
    let tbs = &certificate.tbs_certificate;
    if tbs.version != Version::V3 {
        return Err(finding("version", format!("{:?}, not v3", tbs.version)));
    }
    if tbs.serial_number != expected.serial {
        return Err(finding("serial", "differs from the serial given"));
    }
    if certificate.signature_algorithm != tbs.signature {
        return Err(finding(
            "signature-algorithm",
            "the outer and the signed algorithm identifiers differ",
        ));
    }
    if tbs.signature != expected.signature_algorithm {
        return Err(finding(
            "signature-algorithm",
            format!("{} does not match the issuer's key", tbs.signature.oid),
        ));
    }
    if tbs.issuer != expected.issuer {
        return Err(finding(
            "issuer",
            format!(
                "{} is not the issuer's subject {}",
                tbs.issuer, expected.issuer
            ),
        ));
    }
    if tbs.subject != expected.subject {
        return Err(finding(
            "subject",
            format!("{} is not the profile's {}", tbs.subject, expected.subject),
        ));
    }
    let validity = &tbs.validity;
    for (field, time, want) in [
        (
            "validity.not-before",
            &validity.not_before,
            expected.not_before,
        ),
        (
            "validity.not-after",
            &validity.not_after,
            expected.not_after,
        ),
    ] {
        if seconds_of(time) != want {
            return Err(finding(field, format!("{time} is not the time asked for")));
        }
        if !encoded_as_rfc5280_requires(time) {
            return Err(finding(
                field,
                "UTCTime/GeneralizedTime chosen against RFC 5280",
            ));
        }
    }
    if expected.not_before >= expected.not_after {
        return Err(finding("validity.not-after", "not after not-before"));
    }
    let spki_der = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|error| finding("subject-public-key", error.to_string()))?;
    if spki_der != expected.spki_der {
        return Err(finding("subject-public-key", "is not the key asked for"));
    }
    if tbs.issuer_unique_id.is_some() || tbs.subject_unique_id.is_some() {
        return Err(finding(
            "unique-ids",
            "present (RFC 5280: CAs must not set them)",
        ));
    }

    let extensions = tbs.extensions.as_deref().unwrap_or_default();
    check_extension_set(
        extensions,
        &[
            BasicConstraints::OID_NAME,
            KeyUsage::OID_NAME,
            SubjectKeyIdentifier::OID_NAME,
            AuthorityKeyIdentifier::OID_NAME,
        ],
    )?;
    let (critical, basic) =
        extension::<BasicConstraints>(extensions, "extensions.basic-constraints")?;
    if !critical || !basic.ca || basic.path_len_constraint != expected.path_length {
        return Err(finding(
            "extensions.basic-constraints",
            format!(
                "critical={critical} CA={} pathlen={:?}; want critical CA:TRUE pathlen={:?}",
                basic.ca, basic.path_len_constraint, expected.path_length
            ),
        ));
    }
    let (critical, usage) = extension::<KeyUsage>(extensions, "extensions.key-usage")?;
    let found = usages_in(&usage);
    // As sets: the profile's order is not the DER's bit order.
    let same = found.iter().all(|u| expected.key_usage.contains(u))
        && expected.key_usage.iter().all(|u| found.contains(u));
    if !critical || !same {
        return Err(finding(
            "extensions.key-usage",
            format!(
                "critical={critical} [{}]; want critical [{}]",
                names(&found),
                names(&expected.key_usage)
            ),
        ));
    }
    // Even if the expectation were wrong, a CA certificate from this tool
    // never carries a usage a CA profile refuses.
    check_key_usage(&found).map_err(|error| {
        let reason = match error {
            CaError::Profile { reason, .. } => reason,
            other => other.to_string(),
        };
        finding("extensions.key-usage", reason)
    })?;
    let (critical, ski) =
        extension::<SubjectKeyIdentifier>(extensions, "extensions.subject-key-identifier")?;
    if critical || ski.0.as_bytes() != expected.subject_key_id.as_slice() {
        return Err(finding(
            "extensions.subject-key-identifier",
            "critical, or not the SHA-1 of the subject public key",
        ));
    }
    let (critical, aki) =
        extension::<AuthorityKeyIdentifier>(extensions, "extensions.authority-key-identifier")?;
    let expected_aki = OctetString::new(expected.authority_key_id.clone())
        .map_err(|error| finding("extensions.authority-key-identifier", error.to_string()))?;
    if critical
        || aki.key_identifier.as_ref() != Some(&expected_aki)
        || aki.authority_cert_issuer.is_some()
        || aki.authority_cert_serial_number.is_some()
    {
        return Err(finding(
            "extensions.authority-key-identifier",
            "critical, or not exactly the issuer's key identifier",
        ));
    }
    Ok(())
}

/// Pairs an extension type with its script-facing name.
pub(crate) trait OidName: der::oid::AssociatedOid {
    const OID_NAME: (der::oid::ObjectIdentifier, &'static str);
}

macro_rules! oid_name {
    ($type:ty, $name:literal) => {
        impl OidName for $type {
            const OID_NAME: (der::oid::ObjectIdentifier, &'static str) =
                (<$type as der::oid::AssociatedOid>::OID, $name);
        }
    };
}
oid_name!(BasicConstraints, "basicConstraints");
oid_name!(KeyUsage, "keyUsage");
oid_name!(SubjectKeyIdentifier, "subjectKeyIdentifier");
oid_name!(AuthorityKeyIdentifier, "authorityKeyIdentifier");
oid_name!(x509_cert::ext::pkix::CrlNumber, "cRLNumber");
oid_name!(x509_cert::ext::pkix::CrlReason, "reasonCode");

/// Each allowed extension at most once, nothing else.
pub(crate) fn check_extension_set(
    extensions: &[Extension],
    allowed: &[(der::oid::ObjectIdentifier, &str)],
) -> Result<(), Finding> {
    for (index, extension) in extensions.iter().enumerate() {
        if !allowed.iter().any(|(oid, _)| *oid == extension.extn_id) {
            return Err(finding(
                "extensions",
                format!("unexpected extension {}", extension.extn_id),
            ));
        }
        if extensions[..index]
            .iter()
            .any(|earlier| earlier.extn_id == extension.extn_id)
        {
            return Err(finding(
                "extensions",
                format!("{} appears twice", extension.extn_id),
            ));
        }
    }
    Ok(())
}

/// The one extension of type `T`: (critical, value).
pub(crate) fn extension<T>(extensions: &[Extension], field: &str) -> Result<(bool, T), Finding>
where
    T: for<'a> Decode<'a> + der::oid::AssociatedOid,
{
    let found = extensions
        .iter()
        .find(|extension| extension.extn_id == T::OID)
        .ok_or_else(|| finding(field, "missing"))?;
    let value = T::from_der(found.extn_value.as_bytes())
        .map_err(|error| finding(field, format!("unreadable: {error}")))?;
    Ok((found.critical, value))
}

/// An extension for the TBS. Criticality is set here, per RFC 5280, rather
/// than taken from the crate's defaults, so the reader sees it.
pub(crate) fn to_extension<T>(
    value: &T,
    critical: bool,
    object: &'static str,
) -> Result<Extension, CaError>
where
    T: Encode + der::oid::AssociatedOid,
{
    let content = value
        .to_der()
        .and_then(OctetString::new)
        .map_err(encoding(object))?;
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: content,
    })
}

/// Steps 4 and 5: one call of `sign`, then the signature verified in
/// software against the issuer's public key.
pub(crate) fn sign_and_verify(
    object: &'static str,
    tbs_der: &[u8],
    issuer: &Issuer,
    sign: &mut Sign,
) -> Result<Vec<u8>, CaError> {
    let signature = sign(tbs_der).map_err(|detail| CaError::Signer { object, detail })?;
    let verified = verify_with_spki(issuer.spki_der, issuer.algorithm, tbs_der, &signature)
        .map_err(|error| CaError::SelfCheck {
            object,
            field: "issuer.public-key".to_string(),
            reason: error.to_string(),
        })?;
    if !verified {
        return Err(CaError::SignatureRejected {
            object,
            algorithm: issuer.algorithm,
        });
    }
    Ok(signature)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A positive INTEGER's content bytes in hex without the sign byte.
pub(crate) fn integer_hex(bytes: &[u8]) -> String {
    let trimmed = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => bytes,
    };
    hex::encode(trimmed)
}

pub(crate) fn self_check(object: &'static str) -> impl Fn(Finding) -> CaError {
    move |(field, reason)| CaError::SelfCheck {
        object,
        field,
        reason,
    }
}

pub(crate) fn encoding(object: &'static str) -> impl Fn(der::Error) -> CaError {
    move |error| CaError::Encoding {
        object,
        detail: error.to_string(),
    }
}
