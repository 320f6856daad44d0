//! Secret-holding newtypes shared by the quorum and HSM layers.
//!
//! None of them derives or implements Debug, Display or Serialize: a secret
//! can reach a log, a panic message or the transcript only through an explicit
//! `expose` call, which is easy to find in review.

use zeroize::Zeroizing;

/// A PIN for an HSM role (SO or user), held in a zeroizing buffer.
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: Zeroizing<String>) -> Self {
        Pin(pin)
    }

    /// The PIN's characters, for building a `cryptoki::types::AuthPin` at the
    /// last moment. Never format or log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Keeps this process's memory — where PINs, shares, ceremony secrets and
/// participants' private keys live during a ceremony — out of core dumps,
/// and other processes of the same user from attaching to it.
///
/// Called first thing by every command that handles secrets. Lowering a
/// limit cannot fail for lack of privilege; if the kernel refuses anyway,
/// the command stops rather than run unprotected.
pub fn harden_process() -> Result<(), String> {
    use nix::sys::resource::{Resource, setrlimit};
    setrlimit(Resource::RLIMIT_CORE, 0, 0)
        .map_err(|e| format!("cannot disable core dumps (RLIMIT_CORE): {e}"))?;
    // Not dumpable: no core file even if a limit is raised later, and no
    // ptrace attach (reading memory) by processes without CAP_SYS_PTRACE.
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| format!("cannot mark the process non-dumpable (PR_SET_DUMPABLE): {e}"))
}
