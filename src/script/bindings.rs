//! Bindings: what ties a portable script to one room — which HSM, which
//! people with which keys, where outputs go. The same script runs unchanged
//! in a SoftHSM2 rehearsal and in production; only the bindings differ.

use std::path::PathBuf;

use serde::Deserialize;

use super::model::{LoginRole, Role};
pub use crate::transcript::Mode;

/// The only bindings format this version understands.
pub const BINDINGS_FORMAT: &str = "keyceremony-bindings/1";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Bindings {
    pub format: String,
    /// The id of the script these bindings are written for.
    pub script: String,
    pub mode: Mode,
    #[serde(default)]
    pub hsm: HsmBinding,
    pub roster: Vec<Person>,
    /// The number (serial, bag number) of each material the script lists.
    #[serde(default)]
    pub materials: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: Option<Outputs>,
    /// The earlier ceremony a restore or rotation continues from.
    #[serde(default)]
    pub original: Option<OriginalCeremony>,
    /// Files a script's steps take by name (a CSR to sign), relative to
    /// the bindings file; their SHA-256 is recorded when used.
    #[serde(default)]
    pub inputs: std::collections::BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct OriginalCeremony {
    /// Its transcript, relative to the bindings file; its share files and
    /// backups are found beside it, in the directory named by its id.
    pub transcript: PathBuf,
    /// The custodian rotations that continued it, oldest first, each a
    /// transcript path relative to the bindings file. Each must verify and
    /// continue the original; the latest rotation's split of a secret is
    /// the current one, and shares of the splits they voided are refused.
    #[serde(default)]
    pub rotations: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HsmBinding {
    /// Path of the PKCS#11 module. Absent: the embedded SoftHSM2, configured
    /// inside the state directory.
    #[serde(default)]
    pub module: Option<PathBuf>,
    /// Which token to use. Absent: the module's uninitialized token (the one
    /// a root ceremony initializes).
    #[serde(default)]
    pub token: Option<TokenSelector>,
    /// Values the token must show; any mismatch stops the ceremony before
    /// anything is written to the token.
    #[serde(default)]
    pub expect: Option<ExpectedToken>,
    /// The token was initialized with the vendor's tool, and these PINs
    /// were set there. Instead of initializing the token (`init-token`) or
    /// setting the user PIN (`set-user-pin`), such a step has its performer
    /// type the existing PIN once; it is checked by one login and then
    /// replaced (C_SetPIN) by the PIN derived from the step's secret, so
    /// that from then on only a quorum of custodians can use it. The token
    /// must be named under `token`.
    #[serde(default)]
    pub existing_pins: Vec<LoginRole>,
    /// For modules that cannot change PINs (CloudHSM, YubiHSM 2): keep
    /// each existing PIN, sealed under the step's secret, instead of
    /// replacing it. Whoever set it may still know it.
    #[serde(default)]
    pub keep_existing_pins: bool,
}

impl HsmBinding {
    /// Whether the PIN of `role` was set outside the ceremony.
    pub fn existing_pin(&self, role: LoginRole) -> bool {
        self.existing_pins.contains(&role)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenSelector {
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ExpectedToken {
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Person {
    pub name: String,
    pub role: Role,
    /// The person's OpenSSH public key: `ssh-ed25519 AAAA... comment`.
    pub ssh_key: String,
    /// Where this person's private key is usually found (a rehearsal
    /// convenience: the terminal UI offers it). Relative to the bindings file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Outputs {
    /// Where transcripts and artifacts go, relative to the bindings file.
    pub dir: PathBuf,
}
