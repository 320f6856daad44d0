//! X.509 for the ceremony: a self-signed root certificate, an intermediate CA
//! certificate from a CSR, and a CRL, each built and checked here and signed
//! by a callback, so that the HSM makes the one signature and nothing else
//! does.
//!
//! Every operation runs the same steps, each failing before the next:
//!  1. check the profile, the CSR and the issuer against each other;
//!  2. build the to-be-signed DER once, sign it with a throwaway software key
//!     of the issuer's algorithm, parse that rehearsal back and check it as a
//!     linter would, against expectations derived from the profile (not from
//!     the builder);
//!  3. prove that the to-be-signed bytes read back from the rehearsal are the
//!     very bytes the HSM will sign. We build ONE TBS rather than a software
//!     TBS and a real one: the rehearsal then checks exactly what gets signed,
//!     and there is no "equal except SPKI/SKI/AKI" comparison to get wrong;
//!     the throwaway key only stands in for the signature;
//!  4. call `sign` once;
//!  5. verify the signature against the issuer's public key in software, and
//!     parse the assembled object back once more, before returning it.
//!
//! This module does no I/O: the caller writes the returned PEM.

mod algorithm;
mod certificate;
mod check;
#[cfg(test)]
mod check_tests;
mod crl;
mod csr;
mod issuer;
mod name;
mod time;
mod usage;

use serde::Deserialize;

use crate::hsm::KeyAlgorithm;

pub use certificate::{root_certificate, sign_csr};
pub use crl::crl;

/// Why a certificate or CRL was not issued. `Profile` errors name the field
/// of the script, CSR or issuer at fault and always happen before `sign` is
/// called.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The profile, the CSR or the issuer does not allow what was asked;
    /// nothing was signed.
    #[error("{field}: {reason}")]
    Profile { field: String, reason: String },
    /// The issuer's key type cannot sign certificates in this tool.
    #[error(
        "issuer.algorithm: {0} keys do not sign certificates or CRLs (use ec-p256, ec-p384, ed25519, rsa-3072 or rsa-4096)"
    )]
    UnsupportedIssuer(KeyAlgorithm),
    /// What this module built from an accepted profile failed its own check:
    /// a defect here, caught before the HSM signed anything.
    #[error("the {object} built for signing failed its own check: {field}: {reason}")]
    SelfCheck {
        object: &'static str,
        field: String,
        reason: String,
    },
    /// The signing callback failed.
    #[error("the issuer's key did not sign the {object}: {detail}")]
    Signer {
        object: &'static str,
        detail: String,
    },
    /// The signature returned by the callback does not verify against the
    /// issuer's public key (another key signed, or the HSM misbehaved).
    #[error(
        "the signature returned for the {object} does not verify against the issuer's {algorithm} public key; nothing was issued"
    )]
    SignatureRejected {
        object: &'static str,
        algorithm: KeyAlgorithm,
    },
    /// DER encoding failed for something this module built.
    #[error("encoding the {object}: {detail}")]
    Encoding {
        object: &'static str,
        detail: String,
    },
}

impl CaError {
    pub(crate) fn profile(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CaError::Profile {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// What the script says about a CA certificate. [`CertProfile::check`] holds
/// what can be refused from the profile alone; the rest is checked against
/// the issuer and the time when the certificate is made.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CertProfile {
    /// RFC 4514 style, most specific first: "CN=Example Root CA,O=Example,C=NL"
    /// (attributes CN, O, OU, C, L, ST).
    pub subject: String,
    /// not-before is the `now` passed in (whole seconds); not-after is
    /// not-before plus this many days.
    pub validity_days: u32,
    /// basicConstraints pathLenConstraint; absent means unlimited.
    #[serde(default)]
    pub path_length: Option<u8>,
    /// The keyUsage extension (always critical), exactly these bits.
    /// Absent means cert-sign + crl-sign, what every profile carried before
    /// the field existed, so older scripts keep their meaning.
    #[serde(default = "CaKeyUsage::default_set")]
    pub key_usage: Vec<CaKeyUsage>,
}

/// The RFC 5280 keyUsage bits, by the names a script writes. All nine are
/// read so that a refusal can name the one at fault, but a CA certificate
/// may carry only cert-sign (required), crl-sign and digital-signature (for
/// a CA key that signs OCSP responses itself): a CA key that also encrypts
/// or agrees keys mixes purposes that the CA/Browser Forum's Baseline
/// Requirements keep apart (CA certificates: keyCertSign and cRLSign,
/// digitalSignature only for OCSP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaKeyUsage {
    CertSign,
    CrlSign,
    DigitalSignature,
    ContentCommitment,
    KeyEncipherment,
    DataEncipherment,
    KeyAgreement,
    EncipherOnly,
    DecipherOnly,
}

/// What a CSR may carry and the certificate it turns into.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CsrPolicy {
    pub profile: CertProfile,
    /// The key types (and so sizes) a CSR's public key may have.
    pub allowed_keys: Vec<KeyAlgorithm>,
}

/// What the script says about a CRL.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CrlProfile {
    /// The crlNumber extension.
    pub number: u64,
    /// nextUpdate is thisUpdate (the `now` passed in) plus this many days.
    pub next_update_days: u32,
    #[serde(default)]
    pub revoked: Vec<Revoked>,
}

/// One revoked certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Revoked {
    /// The certificate's serial number in hex (colons allowed, as openssl
    /// prints them).
    pub serial: String,
    pub reason: RevocationReason,
    /// RFC 3339, whole seconds, not after the CRL's thisUpdate.
    pub date: String,
}

/// RFC 5280 CRLReason values a ceremony may record. `unspecified` is
/// written as no reasonCode extension, as RFC 5280 5.3.1 recommends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

/// The issuer: its certificate (None for a self-signed root) and its public
/// key.
pub struct Issuer<'a> {
    pub algorithm: KeyAlgorithm,
    pub spki_der: &'a [u8],
    pub certificate_der: Option<&'a [u8]>,
}

/// The signing callback: signs the to-be-signed DER with the issuer's key and
/// returns the signature as `LoggedIn::sign` returns it (ECDSA: DER
/// Ecdsa-Sig-Value over SHA-256 for P-256, SHA-384 for P-384; Ed25519: the
/// raw 64 bytes; RSA: RSASSA-PSS over SHA-256 with MGF1-SHA-256 and a
/// 32-byte salt).
pub type Sign<'s> = dyn FnMut(&[u8]) -> Result<Vec<u8>, String> + 's;

/// A signed certificate or CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub der: Vec<u8>,
    /// Labelled CERTIFICATE or X509 CRL, LF line ends.
    pub pem: String,
    /// SHA-256 of `der`, lowercase hex.
    pub sha256_hex: String,
    /// The certificate's serial number, or the CRL's number: the positive
    /// integer in lowercase hex, minimal length, no sign byte.
    pub serial_hex: String,
    /// notBefore / thisUpdate, RFC 3339 UTC.
    pub not_before: String,
    /// notAfter / nextUpdate, RFC 3339 UTC.
    pub not_after: String,
}
