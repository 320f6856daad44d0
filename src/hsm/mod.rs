//! PKCS#11 adapter over cryptoki: modules, tokens looked up by serial,
//! explicit key templates, read-back policy checks, proofs that keys
//! cannot leave the HSM, and backup and restore by trusted key wrapping.
//!
//! Every call is synchronous and opens its own session: a cryptoki `Session`
//! is `Send` but not `Sync`, so the runner's worker thread owns whatever
//! session it opens ([`LoggedIn`]) and nothing shares one.

mod attributes;
mod backup;
mod capability;
mod ckr;
mod crypto;
mod der;
mod error;
mod evidence;
mod keys;
mod policy;
mod raw;
mod reconcile;
mod restore;
pub mod selftest;
mod session;
pub mod softhsm;
mod spec;
mod spki;
#[doc(hidden)]
pub mod testing;
mod token;
mod verify;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use serde::Serialize;

pub use attributes::{FLAG_NAMES, KeyAttributes, ObjectSummary};
pub use backup::{KekInfo, WrappedKey};
pub use capability::{MechanismFunction, RequiredMechanism, Shortfall, Stage};
pub use ckr::ckr_name;
pub use crypto::{GCM_IV_BYTES, PSS_SALT_BYTES, RSA_ENCRYPTION_SCHEME};
pub use der::{curve_name, ecdsa_signature_to_der};
pub use error::{HsmError, Pkcs11Failure, explain};
pub use evidence::{NonExportableEvidence, SecretAttributeProbe};
pub use keys::{GeneratedKey, KeyRef, MAX_KEY_LABEL_BYTES, PublicKeyInfo};
pub use policy::{Expected, KeyPolicy, Mismatch, PolicyViolation, Rule};
pub use reconcile::FoundPublicKey;
pub use restore::RestoredKey;
pub use session::LoggedIn;
pub use spec::{Backup, KeyAlgorithm, KeySpec, KeyUsage, UsageFlags};
pub use token::{MAX_TOKEN_LABEL_BYTES, Role, Token, TokenInfo};
pub use verify::verify_with_spki;

use error::During;

/// A loaded and initialized PKCS#11 module. Cheap to clone: clones share
/// the one initialized library instance.
#[derive(Clone)]
pub struct Module {
    path: PathBuf,
    pkcs11: Pkcs11,
}

/// What the module says about itself (recorded in the transcript).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    pub path: String,
    pub cryptoki_version: String,
    pub manufacturer: String,
    pub library_description: String,
    pub library_version: String,
}

/// One initialized `Pkcs11` per library path per process: C_Initialize
/// twice fails, and C_Finalize while another part of the tool still holds
/// sessions would pull the ground from under it. Nothing ever finalizes.
fn registry() -> &'static Mutex<HashMap<PathBuf, Pkcs11>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

impl Module {
    /// Loads and initializes the module at `path`, or returns the instance
    /// this process already has for it.
    pub fn load(path: &Path) -> Result<Module, HsmError> {
        // Two spellings of one file must not initialize it twice.
        let canonical = std::fs::canonicalize(path).map_err(|error| HsmError::Load {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        let mut modules = registry().lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pkcs11) = modules.get(&canonical) {
            return Ok(Module {
                path: canonical,
                pkcs11: pkcs11.clone(),
            });
        }
        let pkcs11 = Pkcs11::new(&canonical).map_err(|error| HsmError::Load {
            path: canonical.clone(),
            reason: error.to_string(),
        })?;
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) => {}
            // Another component of this process initialized the same
            // library first; the instance is shared and usable.
            Err(CryptokiError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => {
                return Err(HsmError::Load {
                    path: canonical,
                    reason: error::from_cryptoki(error, "initializing the module".into())
                        .to_string(),
                });
            }
        }
        modules.insert(canonical.clone(), pkcs11.clone());
        Ok(Module {
            path: canonical,
            pkcs11,
        })
    }

    /// The module's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self) -> Result<ModuleInfo, HsmError> {
        let info = self
            .pkcs11
            .get_library_info()
            .during("reading the module's information")?;
        Ok(ModuleInfo {
            path: self.path.display().to_string(),
            cryptoki_version: info.cryptoki_version().to_string(),
            manufacturer: info.manufacturer_id().to_owned(),
            library_description: info.library_description().to_owned(),
            library_version: info.library_version().to_string(),
        })
    }

    /// Every slot with a token present, initialized or not.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, HsmError> {
        self.present_tokens().map(|tokens| {
            tokens
                .into_iter()
                .map(|token| token.info().clone())
                .collect()
        })
    }

    /// The token with this serial number: the stable way to name a token
    /// (slot ids change between processes).
    pub fn token_by_serial(&self, serial: &str) -> Result<Token, HsmError> {
        self.exactly_one(format!("serial {serial:?}"), |info| info.serial == serial)
    }

    /// The one token with this label; an error when none or several match.
    pub fn token_by_label(&self, label: &str) -> Result<Token, HsmError> {
        self.exactly_one(format!("label {label:?}"), |info| {
            info.initialized && info.label == label
        })
    }

    /// The present token that is not yet initialized; an error when there
    /// is none, or several (then the bindings must say which).
    pub fn uninitialized_token(&self) -> Result<Token, HsmError> {
        self.exactly_one("no initialization yet".into(), |info| !info.initialized)
    }

    fn present_tokens(&self) -> Result<Vec<Token>, HsmError> {
        let slots = self
            .pkcs11
            .get_slots_with_token()
            .during("listing the slots with a token")?;
        slots
            .into_iter()
            .map(|slot| Token::read(self.clone(), slot))
            .collect()
    }

    fn exactly_one(
        &self,
        what: String,
        matches: impl Fn(&TokenInfo) -> bool,
    ) -> Result<Token, HsmError> {
        let mut found: Vec<Token> = self
            .present_tokens()?
            .into_iter()
            .filter(|token| matches(token.info()))
            .collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(HsmError::NoToken {
                what,
                module: self.path.clone(),
            }),
            count => Err(HsmError::AmbiguousToken { what, count }),
        }
    }

    pub(crate) fn pkcs11(&self) -> &Pkcs11 {
        &self.pkcs11
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module").field("path", &self.path).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The runner moves these into its worker thread; a LoggedIn must stay
    // on that thread (cryptoki's Session is not Sync), the rest may be shared.
    #[test]
    fn handles_can_move_to_a_worker_thread() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<Module>();
        sync::<Module>();
        send::<Token>();
        sync::<Token>();
        send::<LoggedIn>();
    }
}
