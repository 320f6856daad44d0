//! 32 secret bytes kept on the heap.

use zeroize::Zeroize;

/// 32 secret bytes behind a pointer: moving the owner (into a Vec, out of a
/// function) copies only the pointer, so no stray copy of the bytes is left
/// on the stack. Zeroized on drop; no Debug, Clone or Serialize.
pub(crate) struct SecretBytes(Box<[u8; 32]>);

impl SecretBytes {
    pub(crate) fn zeroed() -> SecretBytes {
        SecretBytes(Box::new([0u8; 32]))
    }

    #[cfg(test)]
    pub(crate) fn copy_of(bytes: &[u8; 32]) -> SecretBytes {
        let mut copy = SecretBytes::zeroed();
        copy.0.copy_from_slice(bytes);
        copy
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; 32] {
        &mut self.0
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
