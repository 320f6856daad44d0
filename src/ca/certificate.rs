//! CA certificates: a self-signed root, and an intermediate from a CSR.

use chrono::{DateTime, Utc};
use der::asn1::{BitString, OctetString};
use der::{Decode, Encode, EncodePem};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::algorithm::{Throwaway, key_identifier, signature_algorithm};
use super::check::{
    CertExpectation, check_certificate, encoding, integer_hex, self_check, sha256_hex,
    sign_and_verify, to_extension,
};
use super::csr::read_csr;
use super::issuer::{Purpose, read_issuer, read_root_issuer};
use super::name::parse_subject;
use super::time::{plus_days, rfc3339, whole_seconds, x509_time};
use super::usage::key_usage_extension;
use super::{CaError, CertProfile, CsrPolicy, Issued, Issuer, Sign};

const OBJECT: &str = "certificate";

/// A self-signed root certificate: subject = issuer, basicConstraints
/// CA:TRUE (critical, pathLen from the profile), keyUsage from the profile
/// (critical), subjectKeyIdentifier (RFC 5280 method 1) and
/// authorityKeyIdentifier = SKI. `serial` comes from the HSM's RNG; its top
/// bit is cleared to keep the INTEGER positive. See the module docs for the
/// steps.
pub fn root_certificate(
    profile: &CertProfile,
    issuer: &Issuer,
    serial: [u8; 16],
    now: DateTime<Utc>,
    sign: &mut Sign,
) -> Result<Issued, CaError> {
    let (expected, public_key) = root_expectation(profile, issuer, serial, now)?;
    issue(&expected, public_key, issuer, sign)
}

/// Step 1 for a root: what the certificate must be, and the key it carries.
pub(crate) fn root_expectation(
    profile: &CertProfile,
    issuer: &Issuer,
    serial: [u8; 16],
    now: DateTime<Utc>,
) -> Result<(CertExpectation, SubjectPublicKeyInfoOwned), CaError> {
    profile.check()?;
    let signature_algorithm = signature_algorithm(issuer.algorithm)?;
    let public_key = read_root_issuer(issuer)?;
    let subject = parse_subject(&profile.subject, "subject")?;
    let not_before = whole_seconds(now)?;
    let not_after = plus_days(not_before, profile.validity_days, "validity-days")?;
    let key_id = key_identifier(&public_key);
    let expected = CertExpectation {
        serial: positive_serial(serial)?,
        signature_algorithm,
        issuer: subject.clone(),
        subject,
        not_before,
        not_after,
        spki_der: issuer.spki_der.to_vec(),
        path_length: profile.path_length,
        key_usage: profile.key_usage.clone(),
        subject_key_id: key_id.clone(),
        authority_key_id: key_id,
    };
    Ok((expected, public_key))
}

/// An intermediate CA certificate for the public key of a CSR (PEM or DER).
/// The profile must pass [`CertProfile::check`]; the issuer certificate
/// must allow keyCertSign. The CSR's own signature must verify and its key
/// type must be allowed;
/// the validity must lie inside the issuer certificate's; the path length
/// must be below the issuer's, if it has one. Subject from the profile, AKI
/// = the issuer's SKI. Same steps as [`root_certificate`].
pub fn sign_csr(
    csr: &[u8],
    policy: &CsrPolicy,
    issuer: &Issuer,
    serial: [u8; 16],
    now: DateTime<Utc>,
    sign: &mut Sign,
) -> Result<Issued, CaError> {
    let profile = &policy.profile;
    profile.check()?;
    let signature_algorithm = signature_algorithm(issuer.algorithm)?;
    let facts = read_issuer(issuer, Purpose::Certificate)?;
    if policy.allowed_keys.is_empty() {
        return Err(CaError::profile("allowed-keys", "empty: no CSR could pass"));
    }
    let subject = parse_subject(&profile.subject, "subject")?;
    let not_before = whole_seconds(now)?;
    let not_after = plus_days(not_before, profile.validity_days, "validity-days")?;
    if not_before < facts.not_before {
        return Err(CaError::profile(
            "validity.not-before",
            format!(
                "{} is before the issuer certificate's not-before {}",
                rfc3339(not_before),
                rfc3339(facts.not_before)
            ),
        ));
    }
    if not_after > facts.not_after {
        return Err(CaError::profile(
            "validity.not-after",
            format!(
                "{} is after the issuer certificate's not-after {}",
                rfc3339(not_after),
                rfc3339(facts.not_after)
            ),
        ));
    }
    if let Some(issuer_length) = facts.path_length {
        match profile.path_length {
            Some(length) if length < issuer_length => {}
            asked => {
                let asked = asked.map_or("unlimited".to_string(), |length| length.to_string());
                return Err(CaError::profile(
                    "path-length",
                    format!(
                        "{asked} is not below the issuer's path length {issuer_length} \
                         (a path length of 0 allows no CA below it)"
                    ),
                ));
            }
        }
    }
    let request = read_csr(csr, policy)?;
    if subject == facts.subject {
        return Err(CaError::profile(
            "subject",
            "equals the issuer's subject: the certificate would look self-issued",
        ));
    }
    let expected = CertExpectation {
        serial: positive_serial(serial)?,
        signature_algorithm,
        issuer: facts.subject,
        subject,
        not_before,
        not_after,
        spki_der: request.public_key_der,
        path_length: profile.path_length,
        key_usage: profile.key_usage.clone(),
        subject_key_id: key_identifier(&request.public_key),
        authority_key_id: facts.key_id,
    };
    issue(&expected, request.public_key, issuer, sign)
}

/// Clears the top bit so the 16 random bytes read as a positive INTEGER.
fn positive_serial(mut serial: [u8; 16]) -> Result<SerialNumber, CaError> {
    serial[0] &= 0x7f;
    if serial.iter().all(|&byte| byte == 0) {
        return Err(CaError::profile(
            "serial",
            "zero is not a valid serial number",
        ));
    }
    SerialNumber::new(&serial).map_err(encoding(OBJECT))
}

pub(crate) fn build_tbs(
    expected: &CertExpectation,
    public_key: SubjectPublicKeyInfoOwned,
) -> Result<TbsCertificate, CaError> {
    let key_id = |bytes: &[u8]| OctetString::new(bytes).map_err(encoding(OBJECT));
    let extensions = vec![
        to_extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: expected.path_length,
            },
            true,
            OBJECT,
        )?,
        to_extension(&key_usage_extension(&expected.key_usage), true, OBJECT)?,
        to_extension(
            &SubjectKeyIdentifier(key_id(&expected.subject_key_id)?),
            false,
            OBJECT,
        )?,
        to_extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_id(&expected.authority_key_id)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
            OBJECT,
        )?,
    ];
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: expected.serial.clone(),
        signature: expected.signature_algorithm.clone(),
        issuer: expected.issuer.clone(),
        validity: Validity {
            not_before: x509_time(expected.not_before, "validity.not-before")?,
            not_after: x509_time(expected.not_after, "validity.not-after")?,
        },
        subject: expected.subject.clone(),
        subject_public_key_info: public_key,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    })
}

/// Steps 2 to 5 of the module docs.
fn issue(
    expected: &CertExpectation,
    public_key: SubjectPublicKeyInfoOwned,
    issuer: &Issuer,
    sign: &mut Sign,
) -> Result<Issued, CaError> {
    let tbs = build_tbs(expected, public_key)?;
    let tbs_der = tbs.to_der().map_err(encoding(OBJECT))?;

    let throwaway = Throwaway::generate(issuer.algorithm)?;
    let rehearsal_signature = throwaway.sign(&tbs_der);
    let rehearsal = assemble(&tbs, expected, &rehearsal_signature)?;
    let parsed = read_back(&rehearsal, &tbs_der)?;
    check_certificate(&parsed, expected).map_err(self_check(OBJECT))?;
    if !throwaway.verifies(&tbs_der, parsed.signature.raw_bytes()) {
        return Err(self_check(OBJECT)((
            "signature".to_string(),
            "the rehearsal's signature does not verify".to_string(),
        )));
    }

    let signature = sign_and_verify(OBJECT, &tbs_der, issuer, sign)?;
    let der = assemble(&tbs, expected, &signature)?;
    let certificate = read_back(&der, &tbs_der)?;
    check_certificate(&certificate, expected).map_err(self_check(OBJECT))?;
    let pem = certificate
        .to_pem(der::pem::LineEnding::LF)
        .map_err(encoding(OBJECT))?;
    Ok(Issued {
        sha256_hex: sha256_hex(&der),
        pem,
        der,
        serial_hex: integer_hex(expected.serial.as_bytes()),
        not_before: rfc3339(expected.not_before),
        not_after: rfc3339(expected.not_after),
    })
}

pub(crate) fn assemble(
    tbs: &TbsCertificate,
    expected: &CertExpectation,
    signature: &[u8],
) -> Result<Vec<u8>, CaError> {
    Certificate {
        tbs_certificate: tbs.clone(),
        signature_algorithm: expected.signature_algorithm.clone(),
        signature: BitString::from_bytes(signature).map_err(encoding(OBJECT))?,
    }
    .to_der()
    .map_err(encoding(OBJECT))
}

/// Parses `der` and proves its signed part is byte for byte `tbs_der`, the
/// bytes that were checked and that the HSM signs.
fn read_back(der: &[u8], tbs_der: &[u8]) -> Result<Certificate, CaError> {
    let fail = |reason: String| self_check(OBJECT)(("der".to_string(), reason));
    let certificate = Certificate::from_der(der).map_err(|error| fail(error.to_string()))?;
    let signed = certificate
        .tbs_certificate
        .to_der()
        .map_err(|error| fail(error.to_string()))?;
    if signed != tbs_der {
        return Err(fail(
            "the parsed to-be-signed bytes differ from the built ones".to_string(),
        ));
    }
    Ok(certificate)
}
