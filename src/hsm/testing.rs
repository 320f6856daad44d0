//! Test support: a fresh SoftHSM2 token per test, in the directory named by
//! SOFTHSM2_CONF, which `.cargo/config.toml` sets for every cargo-run
//! process (`.keyceremony-test/softhsm2.conf`). Tests never set environment
//! variables themselves: that is unsound once threads run.
//!
//! Public (hidden from docs) so the integration tests in `tests/` use it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use rand::Rng;
use zeroize::Zeroizing;

use super::softhsm::{self, CONF_ENV, CONF_FILE_NAME, DEFAULT_MODULE};
use super::{HsmError, LoggedIn, Module, Role, Token};
use crate::secret::Pin;

/// Token directories older than this are left over from earlier runs and
/// are removed before the module loads, so the directory does not grow
/// without bound.
const STALE_TOKEN_AGE: Duration = Duration::from_secs(6 * 3600);

/// A freshly initialized token and its PINs.
pub struct TestToken {
    pub module: Module,
    pub token: Token,
    pub serial: String,
    pub label: String,
    pub so_pin: Pin,
    pub user_pin: Pin,
}

impl TestToken {
    pub fn login_so(&self) -> Result<LoggedIn, HsmError> {
        self.token.login(Role::SecurityOfficer, &self.so_pin)
    }

    pub fn login_user(&self) -> Result<LoggedIn, HsmError> {
        self.token.login(Role::User, &self.user_pin)
    }

    /// The SOFTHSM2_CONF path, for running other PKCS#11 clients
    /// (pkcs11-tool) against the same tokens.
    pub fn conf_path(&self) -> Result<PathBuf, HsmError> {
        conf_from_env()
    }
}

pub fn pin(text: &str) -> Pin {
    Pin::new(Zeroizing::new(text.to_owned()))
}

/// The SoftHSM2 module, configured for the test directory. Every caller in
/// a process gets the same instance.
pub fn module() -> Result<Module, HsmError> {
    static PREPARED: OnceLock<Result<(), String>> = OnceLock::new();
    PREPARED
        .get_or_init(|| prepare_test_dir().map_err(|error| error.to_string()))
        .clone()
        .map_err(HsmError::InvalidInput)?;
    Module::load(Path::new(DEFAULT_MODULE))
}

/// SoftHSM2 offers one spare uninitialized token at a time: two tests
/// initializing at once would race for it, and a listing taken while
/// another test initializes may show no spare at all.
static INITIALIZING: Mutex<()> = Mutex::new(());

/// Runs `f` while no test of this process initializes a token.
pub fn while_no_token_initializes<T>(f: impl FnOnce() -> T) -> T {
    let _guard = INITIALIZING.lock().unwrap_or_else(PoisonError::into_inner);
    f()
}

/// A new token labelled after `name` with the SO PIN set; the user PIN is
/// not set yet.
pub fn fresh_token(name: &str) -> Result<TestToken, HsmError> {
    let module = module()?;
    let suffix: u32 = rand::thread_rng().gen_range(0..1_000_000);
    let mut label = name.chars().take(24).collect::<String>();
    label.push_str(&format!("-{suffix:06}"));
    let so_pin = pin("so-pin-0123456789");
    let user_pin = pin("user-pin-9876543210");
    // SoftHSM2 2.6 aborts (SlotManager.cpp:82, `result.second`) when one
    // thread lists slots while another initializes a token: every slot
    // listing of these helpers waits its turn.
    let (info, token) = while_no_token_initializes(|| {
        let info = module.uninitialized_token()?.initialize(&so_pin, &label)?;
        let token = module.token_by_serial(&info.serial)?;
        Ok::<_, HsmError>((info, token))
    })?;
    Ok(TestToken {
        module,
        serial: info.serial,
        label,
        token,
        so_pin,
        user_pin,
    })
}

/// A new token with both PINs set and nobody logged in.
pub fn fresh_user_token(name: &str) -> Result<TestToken, HsmError> {
    let fresh = fresh_token(name)?;
    fresh.login_so()?.init_user_pin(&fresh.user_pin)?;
    // Re-read so the token's info shows the user PIN as set.
    let token = while_no_token_initializes(|| fresh.module.token_by_serial(&fresh.serial))?;
    Ok(TestToken { token, ..fresh })
}

fn conf_from_env() -> Result<PathBuf, HsmError> {
    std::env::var_os(CONF_ENV)
        .map(PathBuf::from)
        .ok_or_else(|| {
            HsmError::InvalidInput(format!(
                "{CONF_ENV} is not set: run the tests with cargo, which sets it from \
             .cargo/config.toml"
            ))
        })
}

fn prepare_test_dir() -> Result<(), HsmError> {
    let conf = conf_from_env()?;
    let state_dir = match conf.parent() {
        Some(dir) if conf.file_name() == Some(CONF_FILE_NAME.as_ref()) => dir,
        _ => {
            return Err(HsmError::InvalidInput(format!(
                "{CONF_ENV}={} must name a file called {CONF_FILE_NAME}",
                conf.display()
            )));
        }
    };
    remove_stale_tokens(&state_dir.join("tokens"));
    let written = softhsm::prepare(state_dir)?;
    let expected = std::fs::canonicalize(&conf).map_err(|source| HsmError::Io {
        action: "resolving",
        path: conf.clone(),
        source,
    })?;
    if written != expected {
        return Err(HsmError::InvalidInput(format!(
            "prepare wrote {} but {CONF_ENV} names {}",
            written.display(),
            expected.display()
        )));
    }
    Ok(())
}

/// Best effort: a token directory that cannot be removed only costs space.
fn remove_stale_tokens(token_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(token_dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age > STALE_TOKEN_AGE)
            });
        if stale && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
