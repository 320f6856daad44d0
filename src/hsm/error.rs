//! The one error type of the HSM layer.
//!
//! Every PKCS#11 failure names what the tool was doing, the PKCS#11 function,
//! the CKR_* value and a plain explanation of what to do, because the person
//! reading it stands in a ceremony room, not at a debugger. No variant carries
//! a PIN: PINs are `&Pin` and never formatted.

use std::path::PathBuf;

use cryptoki::error::{Error as CryptokiError, RvError};

use super::Role;
use super::capability::Shortfall;
use super::ckr::ckr_name;
use super::policy::PolicyViolation;

/// Everything that can go wrong in the HSM layer.
#[derive(Debug, thiserror::Error)]
pub enum HsmError {
    /// The PKCS#11 module could not be loaded or initialized.
    #[error("cannot load the PKCS#11 module {path}: {reason}")]
    Load { path: PathBuf, reason: String },

    /// A PKCS#11 call returned an error value.
    #[error(
        "{operation} failed: {function} returned {ckr}: {explanation}",
        ckr = .failure.ckr,
        operation = .failure.operation,
        function = .failure.function,
        explanation = .failure.explanation
    )]
    Pkcs11 { failure: Pkcs11Failure },

    /// cryptoki failed before or around the PKCS#11 call (a conversion, a
    /// missing function in the module).
    #[error("{operation} failed inside the PKCS#11 wrapper: {detail}")]
    Wrapper { operation: String, detail: String },

    /// No token matched a lookup.
    #[error("no token with {what} is present in module {module}; check that the HSM is connected")]
    NoToken { what: String, module: PathBuf },

    /// Several tokens matched a lookup that must name exactly one.
    #[error("{count} tokens match {what}; look the token up by serial instead")]
    AmbiguousToken { what: String, count: usize },

    /// The tool never re-initializes a token: that would erase its keys.
    #[error(
        "token '{label}' (serial {serial}) is already initialized; the tool never \
         re-initializes a token, because that erases every key on it"
    )]
    AlreadyInitialized { label: String, serial: String },

    /// The token must be initialized first.
    #[error("the token in slot {slot_id} is not initialized")]
    NotInitialized { slot_id: u64 },

    /// The slot now holds another token than the one looked up.
    #[error(
        "the token in slot {slot_id} changed: expected serial {expected}, found {found}; \
         look the token up again by serial"
    )]
    TokenChanged {
        slot_id: u64,
        expected: String,
        found: String,
    },

    /// A token or key label the tool refuses, checked before the HSM sees it.
    #[error("label {label:?} is not accepted: {reason}")]
    InvalidLabel { label: String, reason: String },

    /// A PIN length outside the token's limits, checked before the HSM sees
    /// the PIN. Only lengths are reported.
    #[error(
        "the {role} PIN has {length} characters but the token accepts {min} to {max}; \
         nothing was sent to the token"
    )]
    PinLength {
        role: Role,
        length: usize,
        min: usize,
        max: usize,
    },

    /// The token reports the role's PIN as locked; no login is attempted.
    #[error(
        "the token reports the {role} PIN as locked; no login was attempted. Follow the \
         HSM vendor's recovery procedure"
    )]
    PinLocked { role: Role },

    /// A user login before the SO has set the user PIN.
    #[error("the user PIN of this token has not been set; the security officer must set it first")]
    UserPinNotInitialized,

    /// The operation needs another role than the one logged in.
    #[error("{operation} needs a {needed} login, but this session is logged in as {actual}")]
    WrongRole {
        operation: String,
        needed: Role,
        actual: Role,
    },

    /// Generation refused: an object with this label already exists.
    #[error(
        "{count} object(s) labelled {label:?} already exist on the token; the tool never \
         creates a second key with the same label"
    )]
    DuplicateLabel { label: String, count: usize },

    /// No private or secret key with this label.
    #[error("no private or secret key labelled {label:?} is visible in this session")]
    KeyNotFound { label: String },

    /// One half of a known key is missing (or hidden from this role).
    #[error(
        "no {class} labelled {label:?} with id {id_hex} is visible in this session \
         (a security officer does not see private objects)"
    )]
    KeyObjectNotFound {
        label: String,
        id_hex: String,
        class: String,
    },

    /// Several keys carry the label of a lookup.
    #[error("{count} keys are labelled {label:?}; the label must name exactly one key")]
    AmbiguousKey { label: String, count: usize },

    /// A key specification the tool does not generate.
    #[error("cannot generate {spec}: {reason}")]
    UnsupportedSpec { spec: String, reason: String },

    /// A key found on the token that the tool cannot use.
    #[error("key {label:?} cannot be used: {reason}")]
    UnsupportedKey { label: String, reason: String },

    /// The operation does not apply to this key's algorithm.
    #[error("{operation} is not possible with a {algorithm} key")]
    WrongKeyKind {
        operation: String,
        algorithm: String,
    },

    /// The attributes read back after generation break the policy; the
    /// ceremony must stop.
    #[error(
        "key {label:?} does not meet the key policy ({violation}); {}",
        if *key_destroyed { "the key was destroyed" } else { "destroying the key also failed: remove it by hand" }
    )]
    Policy {
        label: String,
        violation: PolicyViolation,
        key_destroyed: bool,
    },

    /// The proof of non-exportability failed: the key or its material
    /// could be read or wrapped, or the token's answer proves nothing.
    #[error("key {label:?} is not proven non-exportable: {detail}")]
    NotProvenNonExportable { label: String, detail: String },

    /// The capability check: the token lacks a mechanism a ceremony step
    /// needs. Raised before anything is written to the token.
    #[error(
        "{needed_by} needs what the token {token} does not offer: {}. Nothing was written to the \
         token for it. Choose a key type this HSM supports (`keyceremony hsm status` lists its \
         mechanisms) or another HSM",
        join_shortfalls(shortfalls)
    )]
    MissingMechanisms {
        /// "step `generate-root-key`", or the key being generated.
        needed_by: String,
        token: String,
        shortfalls: Vec<Shortfall>,
    },

    /// The module lists no mechanisms for this token (kryoptic does not
    /// for a token that is not initialized yet).
    #[error("the token's mechanisms cannot be listed yet: {reason}")]
    MechanismsUnavailable { reason: String },

    /// The token returned data the tool cannot interpret.
    #[error("the token returned a malformed {what}: {detail}")]
    Malformed { what: String, detail: String },

    /// The caller passed an input that can never succeed.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A file or directory operation failed (SoftHSM configuration).
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HsmError {
    /// The CKR_* name when the error is a PKCS#11 return value, so callers
    /// can react (e.g. stop after CKR_PIN_INCORRECT) without parsing text.
    pub fn ckr(&self) -> Option<&str> {
        match self {
            HsmError::Pkcs11 { failure } => Some(&failure.ckr),
            _ => None,
        }
    }

    /// The raw PKCS#11 return value, when there is one.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            HsmError::Pkcs11 { failure } => Some(failure.rv),
            _ => None,
        }
    }
}

fn join_shortfalls(shortfalls: &[Shortfall]) -> String {
    shortfalls
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A PKCS#11 call that returned an error value.
#[derive(Debug, Clone)]
pub struct Pkcs11Failure {
    /// What the tool was doing, in words (e.g. "logging in as security officer").
    pub operation: String,
    /// The PKCS#11 function (e.g. "C_Login").
    pub function: String,
    /// The return value's specification name (e.g. "CKR_PIN_INCORRECT").
    pub ckr: String,
    /// The raw return value.
    pub rv: RvError,
    /// What it means for the person at the keyboard and what to do.
    pub explanation: &'static str,
}

/// Attaches the operation in words to a cryptoki result.
pub(crate) trait During<T> {
    fn during(self, operation: impl Into<String>) -> Result<T, HsmError>;
}

impl<T> During<T> for Result<T, CryptokiError> {
    fn during(self, operation: impl Into<String>) -> Result<T, HsmError> {
        self.map_err(|error| from_cryptoki(error, operation.into()))
    }
}

pub(crate) fn from_cryptoki(error: CryptokiError, operation: String) -> HsmError {
    match error {
        CryptokiError::Pkcs11(rv, function) => HsmError::Pkcs11 {
            failure: Pkcs11Failure {
                operation,
                // cryptoki's Function names are the C names without the prefix.
                function: format!("C_{function:?}"),
                ckr: ckr_name(rv),
                rv,
                explanation: explain(rv),
            },
        },
        other => HsmError::Wrapper {
            operation,
            detail: other.to_string(),
        },
    }
}

/// A plain explanation, with what to do, of the return values a ceremony
/// can meet.
pub fn explain(rv: RvError) -> &'static str {
    match rv {
        RvError::PinIncorrect => {
            "the PIN was refused; the tool never retries a PIN — check the shares"
        }
        RvError::PinLocked => {
            "the PIN is locked; the tool makes no further attempt — follow the HSM vendor's \
             recovery procedure"
        }
        RvError::PinLenRange => {
            "the PIN's length is outside the range the token accepts; nothing else was changed"
        }
        RvError::PinInvalid => "the PIN contains characters the token does not accept",
        RvError::PinExpired => "the PIN has expired and must be changed before use",
        RvError::SessionExists => {
            "another session is open on this token (initializing needs none): close every other \
             program that uses the token, then run the step again"
        }
        RvError::SessionReadOnlyExists => {
            "a read-only session is open on this token, so the security officer cannot log in: \
             close every other program that uses the token"
        }
        RvError::UserAlreadyLoggedIn => {
            "this program is already logged in to the token in that role; log out first"
        }
        RvError::UserAnotherAlreadyLoggedIn => {
            "another role is logged in to this token (the security officer and the user cannot \
             be logged in at once): finish that step and log out first"
        }
        RvError::UserNotLoggedIn => "the operation needs a login first",
        RvError::UserPinNotInitialized => {
            "the user PIN has not been set: the security officer must set it first"
        }
        RvError::UserTypeInvalid => "the token does not know this role",
        RvError::TokenNotRecognized => {
            "the module does not recognize the token in this slot: check the device, its \
             firmware and the module version"
        }
        RvError::TokenNotPresent | RvError::DeviceRemoved => {
            "the token is gone (removed or disconnected): reconnect the HSM and look it up again \
             by serial"
        }
        RvError::TokenWriteProtected => "the token is write-protected; nothing was changed",
        RvError::MechanismInvalid => {
            "the token does not support this mechanism: choose a key type the module supports \
             (see its mechanism list)"
        }
        RvError::MechanismParamInvalid => {
            "the token rejected the mechanism's parameters: this module may not support them"
        }
        RvError::TemplateInconsistent
        | RvError::TemplateIncomplete
        | RvError::AttributeValueInvalid
        | RvError::AttributeTypeInvalid
        | RvError::AttributeReadOnly
        | RvError::DomainParamsInvalid
        | RvError::CurveNotSupported
        | RvError::KeySizeRange => {
            "the token rejected the key template: this module may not support this key type, \
             size or attribute"
        }
        RvError::AttributeSensitive => {
            "the attribute is sensitive and cannot be read (expected for secret key material)"
        }
        RvError::KeyUnextractable => {
            "the key cannot be exported (CKA_EXTRACTABLE is false), as a ceremony key must be"
        }
        RvError::KeyNotWrappable => "the key cannot be wrapped under this wrapping key",
        RvError::KeyFunctionNotPermitted => {
            "the key's usage flags forbid this operation (a sign key cannot decrypt, and so on)"
        }
        RvError::KeyTypeInconsistent => "this key type cannot be used with this mechanism",
        RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => {
            "the object handle is no longer valid (handles expire at logout): look the key up \
             again"
        }
        RvError::SessionHandleInvalid | RvError::SessionClosed => {
            "the session was closed (token removed or module restarted): log in again"
        }
        RvError::SessionCount => "the token has no free session: close other programs using it",
        RvError::SignatureInvalid | RvError::SignatureLenRange => "the signature does not verify",
        RvError::EncryptedDataInvalid | RvError::EncryptedDataLenRange => {
            "the ciphertext or its authentication tag is invalid (wrong key, or the data was \
             altered)"
        }
        RvError::DataLenRange | RvError::DataInvalid => {
            "the input data has a length or form this mechanism does not accept"
        }
        RvError::DeviceMemory | RvError::HostMemory => "the token or the host ran out of memory",
        RvError::DeviceError => {
            "the token reported a device error: check the HSM's health and logs before going on"
        }
        RvError::CryptokiNotInitialized => "the module is not initialized (a bug in the tool)",
        RvError::GeneralError | RvError::FunctionFailed => {
            "the module reported a general failure; its own log may say more (with SoftHSM2 a \
             wrong wrapping key or an altered tag also gives this)"
        }
        RvError::FunctionNotSupported => "the module does not implement this function",
        RvError::UnknownErrorCode(super::ckr::CKR_TOKEN_NOT_INITIALIZED) => {
            "the token is not initialized yet; this module answers nothing else about it until \
             it is"
        }
        RvError::ArgumentsBad => {
            "the module refused the call's arguments (SoftHSM2 2.6, for one, takes RSA-OAEP only \
             with SHA-1)"
        }
        _ => "see the PKCS#11 specification for this value; the module's own log may say more",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn a_refused_pin_names_the_ckr_and_what_to_do() {
        let error = from_cryptoki(
            CryptokiError::Pkcs11(RvError::PinIncorrect, Function::Login),
            "logging in as security officer".into(),
        );
        assert_eq!(error.ckr(), Some("CKR_PIN_INCORRECT"));
        assert_eq!(
            error.to_string(),
            "logging in as security officer failed: C_Login returned CKR_PIN_INCORRECT: the PIN \
             was refused; the tool never retries a PIN — check the shares"
        );
    }

    #[test]
    fn session_exists_tells_to_close_other_programs() {
        let error = from_cryptoki(
            CryptokiError::Pkcs11(RvError::SessionExists, Function::InitToken),
            "initializing the token".into(),
        );
        let text = error.to_string();
        assert!(
            text.contains("C_InitToken returned CKR_SESSION_EXISTS"),
            "{text}"
        );
        assert!(text.contains("close every other program"), "{text}");
    }
}
