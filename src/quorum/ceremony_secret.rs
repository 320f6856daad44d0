//! The ceremony secret: 256 random bits per purpose, from which the PINs are
//! derived. Only this secret is ever split, never a PIN: Shamir sharing and
//! check values are only safe for uniformly random, high-entropy secrets.

use hkdf::{Hkdf, HkdfExtract};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{QuorumError, SecretBytes, SecretName, hash_field};
use crate::secret::Pin;

/// Length of a ceremony secret in bytes.
pub const SECRET_LEN: usize = 32;

/// The least HSM randomness accepted: enough for the HSM alone to make the
/// secret strong should the operating system's generator be weak.
pub const MIN_HSM_RANDOM_LEN: usize = 32;

/// The characters of derived PINs: lowercase letters and digits without the
/// look-alikes 0/o, 1/l/i. Lowercase only, so a PIN read aloud has no case.
pub const PIN_ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// The PIN length chosen when the token allows it: 26 characters from 31
/// carry about 128 bits.
pub const PREFERRED_PIN_LEN: usize = 26;

/// The shortest PIN accepted: 16 characters from 31 carry about 79 bits,
/// out of reach of offline guessing against a copied token store.
pub const MIN_STRONG_PIN_LEN: usize = 16;

const DOMAIN_GENERATE: &[u8] = b"keyceremony/secret/v1/generate";
const DOMAIN_CHECK_VALUE: &[u8] = b"keyceremony/secret/v1/check-value";
const DOMAIN_PIN: &[u8] = b"keyceremony/secret/v1/pin";
const DOMAIN_KEY: &[u8] = b"keyceremony/secret/v1/key";

/// A 256-bit ceremony secret. Never printed, serialized or cloned; the
/// bytes are zeroized when it is dropped.
pub struct CeremonySecret(SecretBytes);

impl CeremonySecret {
    /// Mixes the operating system's randomness with the HSM's C_GenerateRandom
    /// output through HKDF-SHA256 (domain-separated), so that a weak source on
    /// either side alone does not make a weak secret.
    ///
    /// Refuses fewer than 32 HSM bytes, and a constant output from either
    /// source: a generator that returns the same byte over and over is broken,
    /// and the HSM's would also be generating the root keys.
    pub fn generate(hsm_random: &[u8]) -> Result<CeremonySecret, QuorumError> {
        if hsm_random.len() < MIN_HSM_RANDOM_LEN {
            return Err(QuorumError::HsmRandomTooShort {
                len: hsm_random.len(),
                min: MIN_HSM_RANDOM_LEN,
            });
        }
        if is_constant(hsm_random) {
            return Err(QuorumError::ConstantRandomness {
                source_name: "HSM's",
            });
        }
        let mut os_random = Zeroizing::new([0u8; SECRET_LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(os_random.as_mut_slice())
            .map_err(|error| QuorumError::OsRandom(error.to_string()))?;
        if is_constant(os_random.as_slice()) {
            return Err(QuorumError::ConstantRandomness {
                source_name: "operating system's",
            });
        }
        Ok(Self::mix(&os_random, hsm_random))
    }

    /// The operating system's randomness alone, for a token that cannot give
    /// any yet: an uninitialized token refuses sessions (SoftHSM2 answers
    /// CKR_TOKEN_NOT_RECOGNIZED), so the secret its SO PIN comes from cannot
    /// include HSM randomness. The caller records which sources were used.
    pub fn generate_os_only() -> Result<CeremonySecret, QuorumError> {
        let mut os_random = Zeroizing::new([0u8; SECRET_LEN]);
        rand::rngs::OsRng
            .try_fill_bytes(os_random.as_mut_slice())
            .map_err(|error| QuorumError::OsRandom(error.to_string()))?;
        if is_constant(os_random.as_slice()) {
            return Err(QuorumError::ConstantRandomness {
                source_name: "operating system's",
            });
        }
        Ok(Self::mix(&os_random, &[]))
    }

    /// The OS part has a fixed length, so `os || hsm` as HKDF input is
    /// unambiguous without a length prefix.
    fn mix(os_random: &[u8; SECRET_LEN], hsm_random: &[u8]) -> CeremonySecret {
        let mut extract = HkdfExtract::<Sha256>::new(Some(DOMAIN_GENERATE));
        extract.input_ikm(os_random);
        extract.input_ikm(hsm_random);
        let (_, hkdf) = extract.finalize();
        let mut secret = SecretBytes::zeroed();
        expand(&hkdf, b"ceremony secret", secret.bytes_mut());
        CeremonySecret(secret)
    }

    pub(crate) fn from_bytes(bytes: SecretBytes) -> CeremonySecret {
        CeremonySecret(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; SECRET_LEN] {
        self.0.bytes()
    }

    /// A public fingerprint of the secret, recorded at split time and compared
    /// after recombination: SHA-256 over a domain string, the ceremony id, the
    /// secret name and the secret. Safe to publish only because the secret
    /// has 256 random bits; never compute one over a PIN.
    pub fn check_value(&self, ceremony_id: &str, name: &SecretName) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN_CHECK_VALUE);
        hasher.update([0u8]);
        hash_field(&mut hasher, ceremony_id.as_bytes());
        hash_field(&mut hasher, name.as_str().as_bytes());
        hasher.update(self.bytes());
        hasher.finalize().into()
    }

    /// Derives a 256-bit key (the backup KEK) for the purpose `name`:
    /// HKDF-SHA256 with its own domain string, so no key ever equals a PIN's
    /// derivation from the same secret.
    pub fn derive_key(&self, name: &SecretName) -> Zeroizing<[u8; 32]> {
        let hkdf = Hkdf::<Sha256>::new(Some(DOMAIN_KEY), self.bytes());
        let mut info = Vec::with_capacity(4 + name.as_str().len());
        info.extend_from_slice(&(name.as_str().len() as u32).to_be_bytes());
        info.extend_from_slice(name.as_str().as_bytes());
        let mut key = Zeroizing::new([0u8; 32]);
        expand(&hkdf, &info, key.as_mut_slice());
        key
    }

    /// Derives the PIN for the purpose `name`: HKDF-SHA256 (salt: a domain
    /// string; info: the name and a block counter), mapped onto [`PIN_ALPHABET`] by rejection sampling (bytes
    /// 248..=255 are skipped so every character is equally likely).
    ///
    /// Take `length` from [`pin_length`] so the token accepts the PIN.
    pub fn derive_pin(&self, name: &SecretName, length: usize) -> Pin {
        let hkdf = Hkdf::<Sha256>::new(Some(DOMAIN_PIN), self.bytes());
        let accept_below = (256 / PIN_ALPHABET.len() * PIN_ALPHABET.len()) as u8;
        let mut pin = Zeroizing::new(String::with_capacity(length));
        let mut block = Zeroizing::new([0u8; 64]);
        let mut counter: u32 = 0;
        while pin.len() < length {
            let mut info = Vec::with_capacity(4 + name.as_str().len() + 4);
            info.extend_from_slice(&(name.as_str().len() as u32).to_be_bytes());
            info.extend_from_slice(name.as_str().as_bytes());
            info.extend_from_slice(&counter.to_be_bytes());
            expand(&hkdf, &info, block.as_mut_slice());
            for &byte in block.iter() {
                if pin.len() == length {
                    break;
                }
                if byte < accept_below {
                    let index = usize::from(byte) % PIN_ALPHABET.len();
                    pin.push(char::from(PIN_ALPHABET[index]));
                }
            }
            counter = counter.wrapping_add(1);
        }
        Pin::new(pin)
    }
}

/// Chooses the PIN length for a token: [`PREFERRED_PIN_LEN`] clamped to the
/// token's limits, refusing tokens that cannot take [`MIN_STRONG_PIN_LEN`].
///
/// A maximum of 0 means the token states none: kryoptic 1.5 reports
/// ulMaxPinLen = 0 beside a minimum of 8, and takes long PINs.
pub fn pin_length(token_min: usize, token_max: usize) -> Result<usize, QuorumError> {
    let token_max = if token_max == 0 {
        usize::MAX
    } else {
        token_max
    };
    if token_min > token_max {
        return Err(QuorumError::TokenPinLimits {
            min: token_min,
            max: token_max,
        });
    }
    if token_max < MIN_STRONG_PIN_LEN {
        return Err(QuorumError::TokenPinTooShort {
            max: token_max,
            min_strong: MIN_STRONG_PIN_LEN,
            alphabet: PIN_ALPHABET.len(),
            bits: bits_of_pin(MIN_STRONG_PIN_LEN),
        });
    }
    Ok(PREFERRED_PIN_LEN.max(token_min).min(token_max))
}

/// Whole bits of entropy in a derived PIN of `length` characters.
fn bits_of_pin(length: usize) -> usize {
    (length as f64 * (PIN_ALPHABET.len() as f64).log2()).floor() as usize
}

fn is_constant(bytes: &[u8]) -> bool {
    bytes.windows(2).all(|pair| pair[0] == pair[1])
}

/// HKDF-Expand into `okm`; lengths here are at most 64 bytes, far below
/// HKDF's limit of 255 hash lengths, so the error cannot occur.
fn expand(hkdf: &Hkdf<Sha256>, info: &[u8], okm: &mut [u8]) {
    if hkdf.expand(info, okm).is_err() {
        unreachable!(
            "HKDF-SHA256 output of {} bytes is within its limit",
            okm.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_secret(byte: u8) -> CeremonySecret {
        CeremonySecret::from_bytes(SecretBytes::copy_of(&[byte; SECRET_LEN]))
    }

    fn name(text: &str) -> SecretName {
        text.parse().expect("valid test name")
    }

    #[test]
    fn mixing_depends_on_both_sources() {
        let os = [7u8; SECRET_LEN];
        let hsm_a: Vec<u8> = (0..32).collect();
        let hsm_b: Vec<u8> = (1..33).collect();
        let a = CeremonySecret::mix(&os, &hsm_a);
        let b = CeremonySecret::mix(&os, &hsm_b);
        let c = CeremonySecret::mix(&[8u8; SECRET_LEN], &hsm_a);
        assert_ne!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), c.bytes());
        assert_eq!(a.bytes(), CeremonySecret::mix(&os, &hsm_a).bytes());
    }

    #[test]
    fn derived_pin_is_deterministic_per_name_and_uses_the_alphabet() {
        let secret = fixed_secret(0x42);
        let so = secret.derive_pin(&name("so-pin"), 26);
        let so_again = secret.derive_pin(&name("so-pin"), 26);
        let user = secret.derive_pin(&name("user-pin"), 26);
        assert_eq!(so.len(), 26);
        assert_eq!(so.expose(), so_again.expose());
        assert_ne!(so.expose(), user.expose());
        assert!(so.expose().bytes().all(|b| PIN_ALPHABET.contains(&b)));
        // A longer PIN extends the shorter one: the stream is the same.
        let long = secret.derive_pin(&name("so-pin"), 200);
        assert_eq!(long.len(), 200);
        assert!(long.expose().starts_with(so.expose()));
        assert_ne!(
            fixed_secret(0x43).derive_pin(&name("so-pin"), 26).expose(),
            so.expose()
        );
    }

    #[test]
    fn derived_pin_known_answer() {
        // Pins the derivation so that a refactor cannot silently change every
        // PIN of existing ceremonies (which would lock custodians out).
        let pin = fixed_secret(0x42).derive_pin(&name("so-pin"), 26);
        assert_eq!(pin.expose(), KNOWN_PIN);
    }
    // Computed independently with Python's hmac module from the description
    // in docs/shares.md.
    const KNOWN_PIN: &str = "38b6ykexneff8pn7s392bfn6dq";

    #[test]
    fn check_value_binds_ceremony_and_name() {
        let secret = fixed_secret(1);
        let base = secret.check_value("c1", &name("so-pin"));
        assert_ne!(base, secret.check_value("c2", &name("so-pin")));
        assert_ne!(base, secret.check_value("c1", &name("user-pin")));
        assert_ne!(base, fixed_secret(2).check_value("c1", &name("so-pin")));
    }

    #[test]
    fn pin_length_prefers_26_within_token_limits() {
        assert_eq!(pin_length(4, 255).ok(), Some(26));
        assert_eq!(pin_length(4, 20).ok(), Some(20));
        assert_eq!(pin_length(32, 64).ok(), Some(32));
        assert_eq!(pin_length(16, 16).ok(), Some(16));
        // kryoptic: no maximum stated.
        assert_eq!(pin_length(8, 0).ok(), Some(26));
        let too_short = pin_length(4, 8).expect_err("8 characters are too few");
        let message = too_short.to_string();
        assert!(message.contains("at most 8 characters"), "{message}");
        assert!(message.contains("at least 16"), "{message}");
        assert!(message.contains("about 79 bits"), "{message}");
        assert!(matches!(
            pin_length(40, 30),
            Err(QuorumError::TokenPinLimits { min: 40, max: 30 })
        ));
    }

    #[test]
    fn generate_refuses_short_or_constant_hsm_output() {
        assert!(matches!(
            CeremonySecret::generate(&[1, 2, 3]),
            Err(QuorumError::HsmRandomTooShort { len: 3, min: 32 })
        ));
        let err = CeremonySecret::generate(&[0u8; 32])
            .err()
            .expect("constant HSM output is refused");
        assert!(err.to_string().contains("HSM's random output is constant"));
        let hsm: Vec<u8> = (0..32).collect();
        let a = CeremonySecret::generate(&hsm).expect("generate");
        let b = CeremonySecret::generate(&hsm).expect("generate");
        assert_ne!(a.bytes(), b.bytes(), "the OS part makes each secret fresh");
    }
}
