//! What the issuer's certificate allows: its name, its validity, its key
//! identifier, its path length, and whether it may sign certificates or CRLs.

use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use x509_cert::name::Name;

use super::algorithm::read_spki;
use super::check::extension;
use super::time::seconds_of;
use super::{CaError, Issuer};

/// What the issuer is about to sign, which decides the key usage it needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Certificate,
    Crl,
}

pub(crate) struct IssuerFacts {
    pub subject: Name,
    pub not_before: u64,
    pub not_after: u64,
    pub key_id: Vec<u8>,
    pub path_length: Option<u8>,
}

const FIELD: &str = "issuer.certificate";

/// Checks that the issuer's key is one this tool signs with, that its
/// certificate belongs to that key, and that the certificate is a CA
/// allowed to sign for `purpose`.
pub(crate) fn read_issuer(issuer: &Issuer, purpose: Purpose) -> Result<IssuerFacts, CaError> {
    read_spki(issuer.spki_der, issuer.algorithm, "issuer.public-key")?;
    let der = issuer.certificate_der.ok_or_else(|| {
        CaError::profile(
            FIELD,
            "required: the issuer's certificate gives the issuer name and validity",
        )
    })?;
    let refuse = |reason: String| CaError::profile(FIELD, reason);
    let certificate = Certificate::from_der(der)
        .map_err(|error| refuse(format!("not a DER X.509 certificate: {error}")))?;
    let tbs = &certificate.tbs_certificate;
    let spki_der = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|error| refuse(error.to_string()))?;
    if spki_der != issuer.spki_der {
        return Err(refuse(format!(
            "its public key is not the issuer's key (certificate subject {})",
            tbs.subject
        )));
    }
    let extensions = tbs.extensions.as_deref().unwrap_or_default();
    let missing = |what: &str| refuse(format!("{} is not a CA certificate: {what}", tbs.subject));
    let (_, basic) = extension::<BasicConstraints>(extensions, FIELD)
        .map_err(|_| missing("no basicConstraints"))?;
    if !basic.ca {
        return Err(missing("basicConstraints CA:FALSE"));
    }
    // RFC 5280 4.2.1.3: absent keyUsage would allow all; a CA here always has one.
    let (_, usage) =
        extension::<KeyUsage>(extensions, FIELD).map_err(|_| missing("no keyUsage"))?;
    // A CA certificate whose profile left out crl-sign is still a CA: say
    // what it may not do rather than that it is none.
    let may_not = |what: &str, bit: &str| {
        refuse(format!(
            "{} may not sign {what}: its keyUsage lacks {bit}",
            tbs.subject
        ))
    };
    match purpose {
        Purpose::Certificate if !usage.key_cert_sign() => {
            return Err(may_not("certificates", "keyCertSign"));
        }
        Purpose::Crl if !usage.crl_sign() => return Err(may_not("CRLs", "cRLSign")),
        _ => {}
    }
    let (_, key_id) = extension::<SubjectKeyIdentifier>(extensions, FIELD)
        .map_err(|_| missing("no subjectKeyIdentifier to name it as the authority"))?;
    Ok(IssuerFacts {
        subject: tbs.subject.clone(),
        not_before: seconds_of(&tbs.validity.not_before),
        not_after: seconds_of(&tbs.validity.not_after),
        key_id: key_id.0.as_bytes().to_vec(),
        path_length: basic.path_len_constraint,
    })
}

/// The issuer's SPKI, for a self-signed root where no certificate exists yet.
pub(crate) fn read_root_issuer(issuer: &Issuer) -> Result<SubjectPublicKeyInfoOwned, CaError> {
    if issuer.certificate_der.is_some() {
        return Err(CaError::profile(
            FIELD,
            "a self-signed root has no issuer certificate; pass none",
        ));
    }
    read_spki(issuer.spki_der, issuer.algorithm, "issuer.public-key")
}
