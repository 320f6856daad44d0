//! Runs ceremonies: carries out the engine's effects against the real world
//! (HSM worker thread, transcript file, share files) for any front end.
//!
//! `Session` is what a front end drives; `headless` drives it from an
//! answers file with no terminal.

mod answers;
mod artifacts;
pub mod compare;
pub mod headless;
mod jobs;
mod original;
mod session;
mod vault;
mod worker;

pub use answers::Answers;
pub use session::{
    EntryNote, KeySource, PreparedHsm, Session, ShareInput, WrittenCheckpoint, prepare_hsm,
};
pub use worker::{HsmState, Worker};

/// Why a run could not start or an input was refused.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The machine is not ready (no SoftHSM2, unreadable binary, ...).
    #[error("{0}")]
    Setup(String),
    /// An output (transcript, share file, public key) could not be written.
    #[error("cannot write output: {0}")]
    Output(String),
    /// An input was refused; the ceremony state did not change (except that
    /// a refused share is recorded).
    #[error("{0}")]
    Refused(String),
    /// The answers file is unusable.
    #[error("{0}")]
    Answers(String),
}
