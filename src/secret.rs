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
