//! keyceremony: a multi-person key ceremony orchestrator.
//!
//! The modules follow docs/ARCHITECTURE.md. Core modules (everything but
//! `tui`) never import a terminal library: `cargo check --no-default-features`
//! proves it.

// Unsafe code is denied everywhere; the one exception (setting SOFTHSM2_CONF
// before any thread starts) is allowed locally with its justification.
#![deny(unsafe_code)]

pub mod ca;
pub mod engine;
pub mod file_name;
pub mod hsm;
pub mod identity;
pub mod input;
pub mod quorum;
pub mod recording;
pub mod report;
pub mod runner;
pub mod script;
pub mod secret;
pub mod shown;
pub mod transcript;
#[cfg(feature = "tui")]
pub mod tui;
