//! A CRL v2 signed by a CA: crlNumber, authorityKeyIdentifier, thisUpdate
//! and nextUpdate inside the issuer's validity, revoked serials with their
//! reasons.

use chrono::{DateTime, Utc};
use der::asn1::{BitString, OctetString, Uint};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::certificate::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};
use x509_cert::serial_number::SerialNumber;

use super::algorithm::{Throwaway, signature_algorithm};
use super::check::{
    Finding, OidName, check_extension_set, encoding, extension, integer_hex, self_check,
    sha256_hex, sign_and_verify, to_extension,
};
use super::issuer::{IssuerFacts, Purpose, read_issuer};
use super::time::{
    encoded_as_rfc5280_requires, parse_rfc3339, plus_days, rfc3339, seconds_of, whole_seconds,
    x509_time,
};
use super::{CaError, CrlProfile, Issued, Issuer, RevocationReason, Sign};

const OBJECT: &str = "CRL";

/// A revoked entry as checked from the profile.
struct Entry {
    serial: SerialNumber,
    date: u64,
    reason: Option<CrlReason>,
}

/// What the CRL must be, from the profile and the issuer.
struct Expectation {
    signature_algorithm: AlgorithmIdentifierOwned,
    issuer: IssuerFacts,
    this_update: u64,
    next_update: u64,
    number: Uint,
    entries: Vec<Entry>,
}

/// A CRL v2 signed by the issuer (whose certificate is required). See the
/// module docs of `ca` for the steps. `Issued.serial_hex` is the CRL number,
/// `not_before`/`not_after` are thisUpdate/nextUpdate.
pub fn crl(
    profile: &CrlProfile,
    issuer: &Issuer,
    now: DateTime<Utc>,
    sign: &mut Sign,
) -> Result<Issued, CaError> {
    let signature_algorithm = signature_algorithm(issuer.algorithm)?;
    let facts = read_issuer(issuer, Purpose::Crl)?;
    let this_update = whole_seconds(now)?;
    let next_update = plus_days(this_update, profile.next_update_days, "next-update-days")?;
    if this_update < facts.not_before {
        return Err(CaError::profile(
            "this-update",
            format!(
                "{} is before the issuer certificate's not-before {}",
                rfc3339(this_update),
                rfc3339(facts.not_before)
            ),
        ));
    }
    if next_update > facts.not_after {
        return Err(CaError::profile(
            "next-update",
            format!(
                "{} is after the issuer certificate's not-after {}",
                rfc3339(next_update),
                rfc3339(facts.not_after)
            ),
        ));
    }
    let number = Uint::new(&profile.number.to_be_bytes()).map_err(encoding(OBJECT))?;
    let mut entries: Vec<Entry> = Vec::with_capacity(profile.revoked.len());
    for (index, revoked) in profile.revoked.iter().enumerate() {
        let field = |name: &str| format!("revoked[{index}].{name}");
        let serial = parse_serial(&revoked.serial, &field("serial"))?;
        if entries.iter().any(|entry| entry.serial == serial) {
            return Err(CaError::profile(field("serial"), "listed twice"));
        }
        let date = parse_rfc3339(&revoked.date, &field("date"))?;
        if date > this_update {
            return Err(CaError::profile(
                field("date"),
                format!(
                    "{} is after this CRL's thisUpdate {}",
                    revoked.date,
                    rfc3339(this_update)
                ),
            ));
        }
        entries.push(Entry {
            serial,
            date,
            reason: crl_reason(revoked.reason),
        });
    }
    let expected = Expectation {
        signature_algorithm,
        issuer: facts,
        this_update,
        next_update,
        number,
        entries,
    };
    issue(&expected, issuer, sign)
}

/// `unspecified` is written as no reasonCode at all (RFC 5280 5.3.1).
fn crl_reason(reason: RevocationReason) -> Option<CrlReason> {
    match reason {
        RevocationReason::Unspecified => None,
        RevocationReason::KeyCompromise => Some(CrlReason::KeyCompromise),
        RevocationReason::CaCompromise => Some(CrlReason::CaCompromise),
        RevocationReason::AffiliationChanged => Some(CrlReason::AffiliationChanged),
        RevocationReason::Superseded => Some(CrlReason::Superseded),
        RevocationReason::CessationOfOperation => Some(CrlReason::CessationOfOperation),
    }
}

/// Hex, optionally with colons as openssl prints serials; a positive
/// integer of at most 20 bytes.
fn parse_serial(text: &str, field: &str) -> Result<SerialNumber, CaError> {
    let digits: String = text.chars().filter(|&c| c != ':').collect();
    let digits = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits
    };
    let bytes = hex::decode(&digits)
        .map_err(|error| CaError::profile(field, format!("{text:?} is not hex: {error}")))?;
    if bytes.iter().all(|&byte| byte == 0) {
        return Err(CaError::profile(
            field,
            format!("{text:?} is empty or zero"),
        ));
    }
    SerialNumber::new(&bytes).map_err(|error| {
        CaError::profile(
            field,
            format!("{text:?} is not a serial number of at most 20 bytes: {error}"),
        )
    })
}

fn build_tbs(expected: &Expectation) -> Result<TbsCertList, CaError> {
    let mut revoked = Vec::with_capacity(expected.entries.len());
    for entry in &expected.entries {
        let extensions = match entry.reason {
            Some(reason) => Some(vec![to_extension(&reason, false, OBJECT)?]),
            None => None,
        };
        revoked.push(RevokedCert {
            serial_number: entry.serial.clone(),
            revocation_date: x509_time(entry.date, "revoked.date")?,
            crl_entry_extensions: extensions,
        });
    }
    let key_id = OctetString::new(expected.issuer.key_id.clone()).map_err(encoding(OBJECT))?;
    let extensions = vec![
        to_extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_id),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
            OBJECT,
        )?,
        to_extension(&CrlNumber(expected.number.clone()), false, OBJECT)?,
    ];
    Ok(TbsCertList {
        version: Version::V2,
        signature: expected.signature_algorithm.clone(),
        issuer: expected.issuer.subject.clone(),
        this_update: x509_time(expected.this_update, "this-update")?,
        next_update: Some(x509_time(expected.next_update, "next-update")?),
        // RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked.
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(extensions),
    })
}

fn issue(expected: &Expectation, issuer: &Issuer, sign: &mut Sign) -> Result<Issued, CaError> {
    let tbs = build_tbs(expected)?;
    let tbs_der = tbs.to_der().map_err(encoding(OBJECT))?;

    let throwaway = Throwaway::generate(issuer.algorithm)?;
    let rehearsal_signature = throwaway.sign(&tbs_der);
    let rehearsal = read_back(&assemble(&tbs, expected, &rehearsal_signature)?, &tbs_der)?;
    check_crl(&rehearsal, expected).map_err(self_check(OBJECT))?;
    if !throwaway.verifies(&tbs_der, rehearsal.signature.raw_bytes()) {
        return Err(self_check(OBJECT)((
            "signature".to_string(),
            "the rehearsal's signature does not verify".to_string(),
        )));
    }

    let signature = sign_and_verify(OBJECT, &tbs_der, issuer, sign)?;
    let der = assemble(&tbs, expected, &signature)?;
    let list = read_back(&der, &tbs_der)?;
    check_crl(&list, expected).map_err(self_check(OBJECT))?;
    let pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &der)
        .map_err(|error| encoding(OBJECT)(error.into()))?;
    Ok(Issued {
        sha256_hex: sha256_hex(&der),
        pem,
        der,
        serial_hex: integer_hex(expected.number.as_bytes()),
        not_before: rfc3339(expected.this_update),
        not_after: rfc3339(expected.next_update),
    })
}

fn assemble(
    tbs: &TbsCertList,
    expected: &Expectation,
    signature: &[u8],
) -> Result<Vec<u8>, CaError> {
    CertificateList {
        tbs_cert_list: tbs.clone(),
        signature_algorithm: expected.signature_algorithm.clone(),
        signature: BitString::from_bytes(signature).map_err(encoding(OBJECT))?,
    }
    .to_der()
    .map_err(encoding(OBJECT))
}

/// Parses `der` and proves its signed part is byte for byte `tbs_der`.
fn read_back(der: &[u8], tbs_der: &[u8]) -> Result<CertificateList, CaError> {
    let fail = |reason: String| self_check(OBJECT)(("der".to_string(), reason));
    let list = CertificateList::from_der(der).map_err(|error| fail(error.to_string()))?;
    let signed = list
        .tbs_cert_list
        .to_der()
        .map_err(|error| fail(error.to_string()))?;
    if signed != tbs_der {
        return Err(fail(
            "the parsed to-be-signed bytes differ from the built ones".to_string(),
        ));
    }
    Ok(list)
}

/// The linter's checks on the parsed CRL.
fn check_crl(list: &CertificateList, expected: &Expectation) -> Result<(), Finding> {
    let finding = |field: &str, reason: String| (field.to_string(), reason);
    let tbs = &list.tbs_cert_list;
    if tbs.version != Version::V2 {
        return Err(finding("version", format!("{:?}, not v2", tbs.version)));
    }
    if tbs.signature != expected.signature_algorithm || list.signature_algorithm != tbs.signature {
        return Err(finding(
            "signature-algorithm",
            "does not match the issuer's key".into(),
        ));
    }
    if tbs.issuer != expected.issuer.subject {
        return Err(finding(
            "issuer",
            format!("{} is not the issuer's subject", tbs.issuer),
        ));
    }
    let next_update = tbs
        .next_update
        .as_ref()
        .ok_or_else(|| finding("next-update", "missing".into()))?;
    for (field, time, want) in [
        ("this-update", &tbs.this_update, expected.this_update),
        ("next-update", next_update, expected.next_update),
    ] {
        if seconds_of(time) != want || !encoded_as_rfc5280_requires(time) {
            return Err(finding(
                field,
                format!("{time} is not the time asked for, encoded per RFC 5280"),
            ));
        }
    }
    if expected.next_update > expected.issuer.not_after {
        return Err(finding(
            "next-update",
            "after the issuer's not-after".into(),
        ));
    }
    let revoked = tbs.revoked_certificates.as_deref().unwrap_or_default();
    if tbs.revoked_certificates.as_ref().is_some_and(Vec::is_empty)
        || revoked.len() != expected.entries.len()
    {
        return Err(finding("revoked", "not the entries asked for".into()));
    }
    for (index, (got, want)) in revoked.iter().zip(&expected.entries).enumerate() {
        let field = format!("revoked[{index}]");
        if got.serial_number != want.serial || seconds_of(&got.revocation_date) != want.date {
            return Err(finding(&field, "serial or date differs".into()));
        }
        let extensions = got.crl_entry_extensions.as_deref().unwrap_or_default();
        check_extension_set(extensions, &[CrlReason::OID_NAME])?;
        let reason = match want.reason {
            None if extensions.is_empty() && got.crl_entry_extensions.is_none() => continue,
            None => {
                return Err(finding(
                    &field,
                    "a reasonCode for an unspecified reason".into(),
                ));
            }
            Some(reason) => reason,
        };
        let (critical, found) = extension::<CrlReason>(extensions, &field)?;
        if critical || found != reason {
            return Err(finding(
                &field,
                format!("reasonCode {found:?} (critical={critical}), want {reason:?}"),
            ));
        }
    }
    let extensions = tbs.crl_extensions.as_deref().unwrap_or_default();
    check_extension_set(
        extensions,
        &[AuthorityKeyIdentifier::OID_NAME, CrlNumber::OID_NAME],
    )?;
    let (critical, number) = extension::<CrlNumber>(extensions, "number")?;
    if critical || number.0 != expected.number {
        return Err(finding(
            "number",
            "critical, or not the number asked for".into(),
        ));
    }
    let (critical, aki) =
        extension::<AuthorityKeyIdentifier>(extensions, "authority-key-identifier")?;
    let key_id = aki.key_identifier.as_ref().map(OctetString::as_bytes);
    if critical
        || key_id != Some(expected.issuer.key_id.as_slice())
        || aki.authority_cert_issuer.is_some()
        || aki.authority_cert_serial_number.is_some()
    {
        return Err(finding(
            "authority-key-identifier",
            "not exactly the issuer's key identifier".into(),
        ));
    }
    Ok(())
}
