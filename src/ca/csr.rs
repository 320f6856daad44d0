//! Reading a CSR: strict DER (or PEM around it), its own signature
//! verified, its key type allowed by the policy. Only the public key is
//! taken from it: the subject and the extensions come from the script.

use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::request::{CertReq, Version};

use super::algorithm::{key_algorithm, verify_self_signature};
use super::{CaError, CsrPolicy};
use crate::hsm::KeyAlgorithm;

pub(crate) struct CheckedCsr {
    pub public_key: SubjectPublicKeyInfoOwned,
    pub public_key_der: Vec<u8>,
}

/// The PEM labels a certificate request is found under.
const PEM_LABELS: [&str; 2] = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

pub(crate) fn read_csr(csr: &[u8], policy: &CsrPolicy) -> Result<CheckedCsr, CaError> {
    let der = if csr.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (label, der) = der::pem::decode_vec(csr.trim_ascii())
            .map_err(|error| CaError::profile("csr", format!("unreadable PEM: {error}")))?;
        if !PEM_LABELS.contains(&label) {
            return Err(CaError::profile(
                "csr",
                format!("PEM labelled {label:?}, not CERTIFICATE REQUEST"),
            ));
        }
        der
    } else {
        csr.to_vec()
    };
    let request = CertReq::from_der(&der)
        .map_err(|error| CaError::profile("csr", format!("not a DER PKCS#10 request: {error}")))?;
    // The signature covers the info's exact bytes: accept only the one DER
    // encoding, so re-encoding gives them back.
    let info_der = request
        .info
        .to_der()
        .map_err(|error| CaError::profile("csr", error.to_string()))?;
    if request.to_der().ok().as_deref() != Some(der.as_slice()) {
        return Err(CaError::profile("csr", "not in canonical DER"));
    }
    if request.info.version != Version::V1 {
        return Err(CaError::profile("csr.version", "not version 1 (0)"));
    }
    let public_key = request.info.public_key.clone();
    let key = key_algorithm(&public_key).map_err(|reason| CaError::profile("csr.key", reason))?;
    let signature = request
        .signature
        .as_bytes()
        .ok_or_else(|| CaError::profile("csr.signature", "a BIT STRING with unused bits"))?;
    let verified =
        verify_self_signature(&public_key, key, &request.algorithm, &info_der, signature)
            .map_err(|reason| CaError::profile("csr.signature", reason))?;
    if !verified {
        return Err(CaError::profile(
            "csr.signature",
            format!(
                "does not verify against the CSR's own {key} public key (subject {})",
                request.info.subject
            ),
        ));
    }
    check_allowed(key, &policy.allowed_keys)?;
    let public_key_der = public_key
        .to_der()
        .map_err(|error| CaError::profile("csr.key", error.to_string()))?;
    Ok(CheckedCsr {
        public_key,
        public_key_der,
    })
}

fn check_allowed(key: KeyAlgorithm, allowed: &[KeyAlgorithm]) -> Result<(), CaError> {
    if allowed.contains(&key) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|key| key.name()).collect();
    Err(CaError::profile(
        "csr.key",
        format!(
            "an {key} key is not among the allowed-keys [{}]",
            names.join(", ")
        ),
    ))
}
