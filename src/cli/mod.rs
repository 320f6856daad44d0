//! One file per subcommand; `main.rs` only parses and dispatches.

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
