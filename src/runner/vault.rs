//! The ceremony's secrets while it runs: only in memory, only in zeroizing
//! types, gone when the session is dropped.
//!
//! A secret enters the vault when a split-secret step generates it, or when
//! k custodians recombine it; a recombined secret replaces the generated
//! one only after it has matched the check value recorded at the split.

use std::collections::BTreeMap;

use crate::quorum::{CeremonySecret, Presented, SealedPin, SecretName, Share, SplitRecord};
use crate::script::LoginRole;
use crate::secret::Pin;

/// Who received which share of a split.
#[derive(Debug, Clone)]
pub struct Holder {
    pub custodian: String,
    pub index: u8,
}

#[derive(Default)]
pub struct Vault {
    secrets: BTreeMap<String, CeremonySecret>,
    splits: BTreeMap<String, (SplitRecord, Vec<Holder>)>,
    /// Shares presented in the current recombine step, checked one by one.
    presented: Vec<Presented>,
    pin_length: Option<usize>,
    /// Shares of an on-screen split, by custodian, until each has proven
    /// their copy.
    delivering: BTreeMap<String, Share>,
    /// PIN lengths fixed by the ceremony that split the secret: a restore
    /// must derive the very PIN the original derived.
    fixed_pin_lengths: BTreeMap<String, usize>,
    /// Secrets split afresh in this ceremony: their valid shares are now
    /// this ceremony's.
    reshared: std::collections::BTreeSet<String>,
    /// PINs set with the vendor's tool, sealed under the secret of the same
    /// name: that secret opens the PIN instead of deriving one.
    sealed: BTreeMap<String, SealedPin>,
    /// An existing PIN just typed, until the adopting work takes it.
    typed: Option<Pin>,
}

impl Vault {
    pub fn set_pin_length(&mut self, length: usize) {
        self.pin_length = Some(length);
    }

    pub fn hold_for_delivery(&mut self, shares: Vec<(String, Share)>) {
        self.delivering = shares.into_iter().collect();
    }

    pub fn delivering(&self, custodian: &str) -> Option<&Share> {
        self.delivering.get(custodian)
    }

    pub fn delivered(&mut self, custodian: &str) {
        self.delivering.remove(custodian);
    }

    pub fn pin_length(&self) -> Option<usize> {
        self.pin_length
    }

    /// The length of the PIN derived from `name`.
    pub fn pin_length_of(&self, name: &str) -> Option<usize> {
        self.fixed_pin_lengths
            .get(name)
            .copied()
            .or(self.pin_length)
    }

    pub fn fix_pin_length(&mut self, name: &str, length: usize) {
        self.fixed_pin_lengths.insert(name.to_string(), length);
    }

    /// The recombined secret `name`, split afresh: its new record and
    /// holders replace the old ones.
    pub fn store_reshare(&mut self, name: &str, record: SplitRecord, holders: Vec<Holder>) {
        self.splits.insert(name.to_string(), (record, holders));
        self.reshared.insert(name.to_string());
    }

    /// A reshare that replaced the secret `name` by a new one (the token's
    /// PIN now derives from it): the new secret, its split and holders
    /// replace the old ones. A PIN that was sealed under the old secret has
    /// been replaced on the token by the derived one.
    pub fn store_rotated(
        &mut self,
        name: &str,
        secret: CeremonySecret,
        record: SplitRecord,
        holders: Vec<Holder>,
    ) {
        self.secrets.insert(name.to_string(), secret);
        self.sealed.remove(name);
        self.store_reshare(name, record, holders);
    }

    pub fn reshared(&self, name: &str) -> bool {
        self.reshared.contains(name)
    }

    /// The secret `name` in memory, for work that derives a key from it.
    pub fn secret(&self, name: &str) -> Result<&CeremonySecret, String> {
        self.secrets
            .get(name)
            .ok_or_else(|| format!("secret `{name}` is not in memory"))
    }

    pub fn store_split(
        &mut self,
        name: &str,
        secret: CeremonySecret,
        record: SplitRecord,
        holders: Vec<Holder>,
    ) {
        self.secrets.insert(name.to_string(), secret);
        self.splits.insert(name.to_string(), (record, holders));
    }

    /// A split recorded before a restart: its record and holders are public
    /// facts from the transcript; the secret itself must be recovered.
    pub fn restore_split(&mut self, name: &str, record: SplitRecord, holders: Vec<Holder>) {
        self.splits.insert(name.to_string(), (record, holders));
    }

    pub fn split(&self, name: &str) -> Result<&(SplitRecord, Vec<Holder>), String> {
        self.splits
            .get(name)
            .ok_or_else(|| format!("secret `{name}` has not been split in this ceremony"))
    }

    /// A PIN sealed under the secret `name` (recorded by this ceremony or
    /// the original one).
    pub fn store_sealed(&mut self, sealed: SealedPin) {
        self.sealed.insert(sealed.secret_name.clone(), sealed);
    }

    /// The PIN sealed under `name` was replaced on the token: the secret
    /// now derives the PIN.
    pub fn forget_sealed(&mut self, name: &str) {
        self.sealed.remove(name);
    }

    pub fn sealed(&self, name: &str) -> Option<&SealedPin> {
        self.sealed.get(name)
    }

    pub fn hold_typed_pin(&mut self, pin: Pin) {
        self.typed = Some(pin);
    }

    /// The existing PIN typed for the current step; taken once.
    pub fn take_typed_pin(&mut self) -> Result<Pin, String> {
        self.typed
            .take()
            .ok_or_else(|| "no existing PIN has been typed for this step".to_string())
    }

    /// The PIN that logs in as `role` with the secret `name`: the existing
    /// PIN sealed under it (which must have been sealed for that role), or
    /// else the PIN derived from it.
    pub fn pin(&self, name: &str, role: LoginRole) -> Result<Pin, String> {
        let secret = self.secret(name)?;
        match self.sealed.get(name) {
            Some(sealed) if sealed.role != role.as_str() => Err(format!(
                "`{name}` seals the token's existing {} PIN, not a {} PIN: no login was tried",
                sealed.role,
                role.as_str()
            )),
            Some(sealed) => {
                let secret_name: SecretName = name.parse().map_err(|e| format!("{e}"))?;
                secret
                    .unseal_pin(&secret_name, sealed)
                    .map_err(|e| format!("`{name}`: {e}"))
            }
            None => self.derived_pin(name),
        }
    }

    /// The PIN derived from `name` for a token this ceremony initializes or
    /// sets. Refused for a secret that seals a PIN set with the vendor's
    /// tool: a new token would silently get a PIN someone else knows.
    pub fn fresh_pin(&self, name: &str) -> Result<Pin, String> {
        if let Some(sealed) = self.sealed.get(name) {
            return Err(format!(
                "`{name}` seals an existing {} PIN set with the vendor's tool, so no PIN is derived from it for a token this ceremony sets up: if this token, too, was initialized with the vendor's tool, list {} under hsm.existing-pins",
                sealed.role, sealed.role
            ));
        }
        self.derived_pin(name)
    }

    /// The PIN derived from `name`, whatever it seals: what an adopted PIN
    /// is replaced with.
    pub fn derived_pin(&self, name: &str) -> Result<Pin, String> {
        let secret = self.secret(name)?;
        let length = match self.fixed_pin_lengths.get(name) {
            Some(length) => *length,
            None => self
                .pin_length
                .ok_or("the token's PIN limits are not known yet: check the HSM first")?,
        };
        let secret_name: SecretName = name.parse().map_err(|e| format!("{e}"))?;
        Ok(secret.derive_pin(&secret_name, length))
    }

    pub fn add_presented(&mut self, share: Presented) {
        self.presented.push(share);
    }

    /// Takes the presented shares for recombination, leaving none behind.
    pub fn take_presented(&mut self) -> Vec<Presented> {
        std::mem::take(&mut self.presented)
    }

    /// A secret recovered by the custodians (already checked against its
    /// check value by `quorum::combine`) replaces the one in memory.
    pub fn store_recombined(&mut self, name: &str, secret: CeremonySecret) {
        self.secrets.insert(name.to_string(), secret);
    }
}

/// What an entry says about a sealed PIN: one it records (an adopting
/// step that kept the PIN, or a reshare that carries it forward), or a
/// secret whose adopted PIN was replaced. A sealed PIN that does not parse
/// is an error, never skipped: a PIN would then be derived where the token
/// expects another.
pub enum SealedPinFact {
    Sealed(SealedPin),
    Replaced(String),
}

pub fn sealed_pin_in(body: &serde_json::Value) -> Result<Option<SealedPinFact>, String> {
    if body.get("replaced").and_then(serde_json::Value::as_bool) == Some(true)
        && let Some(name) = body.get("secret_name").and_then(serde_json::Value::as_str)
    {
        return Ok(Some(SealedPinFact::Replaced(name.to_string())));
    }
    match body.get("sealed_pin") {
        None => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(|sealed| Some(SealedPinFact::Sealed(sealed)))
            .map_err(|e| format!("a sealed PIN in the transcript does not parse: {e}")),
    }
}

impl Vault {
    /// Applies what one transcript entry says about sealed PINs.
    pub fn observe_sealed(&mut self, fact: SealedPinFact) {
        match fact {
            SealedPinFact::Sealed(sealed) => self.store_sealed(sealed),
            SealedPinFact::Replaced(name) => self.forget_sealed(&name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn vault_with_sealed(role: LoginRole) -> Vault {
        let secret = CeremonySecret::generate_os_only().expect("secret");
        let name: SecretName = "so-pin".parse().expect("name");
        let sealed = secret
            .seal_pin(
                &name,
                role.as_str(),
                &Pin::new(Zeroizing::new("vendor PIN".into())),
            )
            .expect("sealed");
        let mut vault = Vault::default();
        vault.set_pin_length(26);
        vault.store_recombined("so-pin", secret);
        vault.store_sealed(sealed);
        vault
    }

    #[test]
    fn a_sealed_pin_opens_only_for_the_role_it_was_sealed_for() {
        let vault = vault_with_sealed(LoginRole::SecurityOfficer);
        let pin = vault
            .pin("so-pin", LoginRole::SecurityOfficer)
            .expect("opens as SO");
        assert_eq!(pin.expose(), "vendor PIN");
        let error = vault
            .pin("so-pin", LoginRole::User)
            .err()
            .expect("not as user");
        assert!(
            error.contains("seals the token's existing security-officer PIN, not a user PIN"),
            "{error}"
        );
    }

    #[test]
    fn no_pin_is_derived_for_a_new_token_from_a_secret_that_seals_one() {
        let vault = vault_with_sealed(LoginRole::SecurityOfficer);
        let error = vault.fresh_pin("so-pin").err().expect("refused");
        assert!(
            error.contains("seals an existing security-officer PIN"),
            "{error}"
        );
        let mut plain = Vault::default();
        plain.set_pin_length(26);
        plain.store_recombined(
            "user-pin",
            CeremonySecret::generate_os_only().expect("secret"),
        );
        assert_eq!(plain.fresh_pin("user-pin").expect("derived").len(), 26);
        assert_eq!(
            plain
                .pin("user-pin", LoginRole::User)
                .expect("derived")
                .expose(),
            plain.fresh_pin("user-pin").expect("derived").expose()
        );
    }
}
