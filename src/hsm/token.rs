//! Tokens: what a slot holds, initializing one, and logging in.

use std::fmt;

use cryptoki::session::UserType;
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::Serialize;
use zeroize::Zeroizing;

use super::error::During;
use super::session::LoggedIn;
use super::{HsmError, Module};
use crate::secret::Pin;

/// PKCS#11 caps token labels at 32 bytes; SoftHSM2 cuts longer ones
/// without a word, so the tool checks first.
pub const MAX_TOKEN_LABEL_BYTES: usize = 32;

/// A token as the module describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Valid only within this process: look tokens up by serial.
    pub slot_id: u64,
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub hardware_version: String,
    pub firmware_version: String,
    pub initialized: bool,
    pub user_pin_initialized: bool,
    pub login_required: bool,
    /// A PIN pad or similar: the PIN is not typed into this tool.
    pub protected_authentication_path: bool,
    pub write_protected: bool,
    pub has_rng: bool,
    pub min_pin_len: usize,
    pub max_pin_len: usize,
    pub so_pin_count_low: bool,
    pub so_pin_final_try: bool,
    pub so_pin_locked: bool,
    pub user_pin_count_low: bool,
    pub user_pin_final_try: bool,
    pub user_pin_locked: bool,
}

/// A slot and the token it held when it was looked up.
#[derive(Debug, Clone)]
pub struct Token {
    module: Module,
    slot: Slot,
    info: TokenInfo,
}

/// The PKCS#11 role to log in as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    SecurityOfficer,
    User,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::SecurityOfficer => "security officer",
            Role::User => "user",
        })
    }
}

impl Role {
    fn user_type(self) -> UserType {
        match self {
            Role::SecurityOfficer => UserType::So,
            Role::User => UserType::User,
        }
    }
}

impl Token {
    pub(crate) fn read(module: Module, slot: Slot) -> Result<Token, HsmError> {
        let info = read_info(&module, slot)?;
        Ok(Token { module, slot, info })
    }

    /// The information read when this token was looked up.
    pub fn info(&self) -> &TokenInfo {
        &self.info
    }

    /// The token in words: its label, or its serial while it has none.
    pub fn describe(&self) -> String {
        match self.info.label.trim() {
            "" => format!("with serial {} (not initialized)", self.info.serial.trim()),
            label => format!("`{label}`"),
        }
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    pub(crate) fn slot(&self) -> Slot {
        self.slot
    }

    /// Reads the token's information again (flags and counters change).
    pub fn refresh(&self) -> Result<TokenInfo, HsmError> {
        read_info(&self.module, self.slot)
    }

    /// The mechanisms the token offers, by CKM_* name.
    pub fn mechanisms(&self) -> Result<Vec<String>, HsmError> {
        let list = self
            .module
            .pkcs11()
            .get_mechanism_list(self.slot)
            .during("listing the token's mechanisms")?;
        Ok(list
            .into_iter()
            .map(|mechanism| mechanism.to_string())
            .collect())
    }

    /// `len` bytes from the token's random number generator (no login).
    pub fn random(&self, len: usize) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let len = u32::try_from(len).map_err(|_| {
            HsmError::InvalidInput(format!(
                "{len} random bytes is more than one call can return"
            ))
        })?;
        let session = self
            .module
            .pkcs11()
            .open_ro_session(self.slot)
            .during("opening a session for random bytes")?;
        let bytes = session
            .generate_random_vec(len)
            .during("reading random bytes from the token")?;
        Ok(Zeroizing::new(bytes))
    }

    /// Initializes a token that is NOT yet initialized, with `so_pin` and
    /// `label`; refuses an initialized one, because re-initializing erases
    /// every key on it. Returns the information read back (the serial may
    /// appear only now).
    pub fn initialize(&self, so_pin: &Pin, label: &str) -> Result<TokenInfo, HsmError> {
        validate_token_label(label)?;
        let current = self.refresh()?;
        if current.initialized {
            return Err(HsmError::AlreadyInitialized {
                label: current.label,
                serial: current.serial,
            });
        }
        check_pin_length(&current, Role::SecurityOfficer, so_pin)?;
        self.module
            .pkcs11()
            .init_token(self.slot, &AuthPin::from(so_pin.expose()), label)
            .during(format!("initializing the token as {label:?}"))?;
        let after = self.refresh()?;
        if !after.initialized || after.label != label {
            return Err(HsmError::Malformed {
                what: "token information after initialization".into(),
                detail: format!(
                    "initialized = {}, label {:?} instead of {label:?}",
                    after.initialized, after.label
                ),
            });
        }
        Ok(after)
    }

    /// Opens a read-write session and logs in once. The tool never retries
    /// a login: real HSMs lock or erase themselves after a few failures.
    pub fn login(&self, role: Role, pin: &Pin) -> Result<LoggedIn, HsmError> {
        let current = self.refresh()?;
        // A token swapped in the same slot must not receive this PIN.
        if self.info.initialized && current.serial != self.info.serial {
            return Err(HsmError::TokenChanged {
                slot_id: current.slot_id,
                expected: self.info.serial.clone(),
                found: current.serial,
            });
        }
        if !current.initialized {
            return Err(HsmError::NotInitialized {
                slot_id: current.slot_id,
            });
        }
        let locked = match role {
            Role::SecurityOfficer => current.so_pin_locked,
            Role::User => current.user_pin_locked,
        };
        if locked {
            return Err(HsmError::PinLocked { role });
        }
        if role == Role::User && !current.user_pin_initialized {
            return Err(HsmError::UserPinNotInitialized);
        }
        check_pin_length(&current, role, pin)?;
        let session = self
            .module
            .pkcs11()
            .open_rw_session(self.slot)
            .during("opening a read-write session")?;
        session
            .login(role.user_type(), Some(&AuthPin::from(pin.expose())))
            .during(format!("logging in as {role}"))?;
        Ok(LoggedIn::new(
            Token {
                module: self.module.clone(),
                slot: self.slot,
                info: current,
            },
            role,
            session,
        ))
    }
}

/// Checks a PIN's length against the token's limits without touching the
/// token, so a malformed PIN never costs a login attempt.
pub(crate) fn check_pin_length(info: &TokenInfo, role: Role, pin: &Pin) -> Result<(), HsmError> {
    let length = pin.len();
    // Some modules report 0 when they state no maximum.
    let above_max = info.max_pin_len > 0 && length > info.max_pin_len;
    if length < info.min_pin_len || above_max {
        return Err(HsmError::PinLength {
            role,
            length,
            min: info.min_pin_len,
            max: info.max_pin_len,
        });
    }
    Ok(())
}

fn validate_token_label(label: &str) -> Result<(), HsmError> {
    let refuse = |reason: &str| {
        Err(HsmError::InvalidLabel {
            label: label.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if label.is_empty() {
        return refuse("a token label must not be empty");
    }
    if label.len() > MAX_TOKEN_LABEL_BYTES {
        return refuse(&format!(
            "a token label has at most {MAX_TOKEN_LABEL_BYTES} bytes, this one has {}",
            label.len()
        ));
    }
    // The label is space-padded on the token: edge spaces would be lost.
    if label.starts_with(' ') || label.ends_with(' ') {
        return refuse("a token label must not start or end with a space");
    }
    if label.chars().any(char::is_control) {
        return refuse("a token label must not contain control characters");
    }
    Ok(())
}

fn read_info(module: &Module, slot: Slot) -> Result<TokenInfo, HsmError> {
    let info = module.pkcs11().get_token_info(slot).during(format!(
        "reading the token information of slot {}",
        slot.id()
    ))?;
    Ok(TokenInfo {
        slot_id: slot.id(),
        label: info.label().to_owned(),
        manufacturer: info.manufacturer_id().to_owned(),
        model: info.model().to_owned(),
        serial: info.serial_number().to_owned(),
        hardware_version: info.hardware_version().to_string(),
        firmware_version: info.firmware_version().to_string(),
        initialized: info.token_initialized(),
        user_pin_initialized: info.user_pin_initialized(),
        login_required: info.login_required(),
        protected_authentication_path: info.protected_authentication_path(),
        write_protected: info.write_protected(),
        has_rng: info.rng(),
        min_pin_len: info.min_pin_length(),
        max_pin_len: info.max_pin_length(),
        so_pin_count_low: info.so_pin_count_low(),
        so_pin_final_try: info.so_pin_final_try(),
        so_pin_locked: info.so_pin_locked(),
        user_pin_count_low: info.user_pin_count_low(),
        user_pin_final_try: info.user_pin_final_try(),
        user_pin_locked: info.user_pin_locked(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_labels_are_checked_before_the_token_sees_them() {
        assert!(validate_token_label("root-2025").is_ok());
        assert!(validate_token_label(&"x".repeat(32)).is_ok());
        let error = validate_token_label(&"x".repeat(33)).expect_err("33 bytes");
        assert!(
            error
                .to_string()
                .contains("at most 32 bytes, this one has 33")
        );
        // 11 three-byte characters: 11 characters but 33 bytes.
        assert!(validate_token_label(&"€".repeat(11)).is_err());
        assert!(validate_token_label("").is_err());
        assert!(validate_token_label("root ").is_err());
        assert!(validate_token_label("ro\not").is_err());
    }

    fn limits(min_pin_len: usize, max_pin_len: usize) -> TokenInfo {
        TokenInfo {
            slot_id: 0,
            label: String::new(),
            manufacturer: String::new(),
            model: String::new(),
            serial: String::new(),
            hardware_version: String::new(),
            firmware_version: String::new(),
            initialized: true,
            user_pin_initialized: true,
            login_required: true,
            protected_authentication_path: false,
            write_protected: false,
            has_rng: true,
            min_pin_len,
            max_pin_len,
            so_pin_count_low: false,
            so_pin_final_try: false,
            so_pin_locked: false,
            user_pin_count_low: false,
            user_pin_final_try: false,
            user_pin_locked: false,
        }
    }

    #[test]
    fn pin_lengths_follow_the_token_limits() {
        let pin = |text: &str| Pin::new(Zeroizing::new(text.to_owned()));
        let info = limits(4, 8);
        assert!(check_pin_length(&info, Role::User, &pin("1234")).is_ok());
        assert!(check_pin_length(&info, Role::User, &pin("12345678")).is_ok());
        let error = check_pin_length(&info, Role::SecurityOfficer, &pin("123456789"))
            .expect_err("too long");
        assert_eq!(
            error.to_string(),
            "the security officer PIN has 9 characters but the token accepts 4 to 8; nothing \
             was sent to the token"
        );
        assert!(check_pin_length(&info, Role::User, &pin("123")).is_err());
        // A reported maximum of 0 means "not stated".
        assert!(check_pin_length(&limits(4, 0), Role::User, &pin(&"9".repeat(300))).is_ok());
    }
}
