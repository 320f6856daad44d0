//! One file per subcommand; `main.rs` only parses and dispatches.

pub mod hsm;
pub mod lint;
pub mod report;
pub mod run;
pub mod shares;
pub mod verify;

/// Exit codes shared by every subcommand.
pub const OK: u8 = 0;
/// Verification failed, or the ceremony was aborted.
pub const FAILED: u8 = 1;
/// Usage or input error: nothing was done.
pub const USAGE: u8 = 2;

/// PKCS#11 modules read their configuration path (SOFTHSM2_CONF,
/// KRYOPTIC_CONF) from the environment when they are initialized; the
/// embedded and throwaway tokens live in directories this tool chooses, so
/// the process points the module at them.
#[allow(unsafe_code)]
pub fn export_env(name: &str, value: &std::path::Path) {
    // SAFETY: called by a subcommand before it loads the module or starts
    // any thread; no other thread can be reading the environment.
    unsafe { std::env::set_var(name, value) };
}

/// `keyceremony replay`: exit 0 for a valid transcript, 1 otherwise (as
/// `verify`), 2 when it cannot be read.
#[cfg(feature = "tui")]
pub fn replay(path: &std::path::Path) -> std::process::ExitCode {
    match keyceremony::tui::replay::run(path) {
        Ok(valid) => std::process::ExitCode::from(if valid { OK } else { FAILED }),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(USAGE)
        }
    }
}
