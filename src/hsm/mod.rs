//! placeholder until the hsm branch merges: just the data types the script uses.
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm { EcP256, EcP384, Ed25519, #[serde(rename = "rsa-3072")] Rsa3072, #[serde(rename = "rsa-4096")] Rsa4096, #[serde(rename = "aes-256")] Aes256 }
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyUsage { Sign, Encrypt }
impl std::fmt::Display for KeyAlgorithm { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
impl std::fmt::Display for KeyUsage { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
