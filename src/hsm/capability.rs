//! The capability check: which PKCS#11 mechanisms a key spec needs, looked
//! up in a token's mechanism list before anything is written to the token.
//!
//! A ceremony that finds out at the generation step that the HSM has no
//! EdDSA has already initialized a token and handed out shares; the runner
//! asks here first, step by step, and names what is missing.

use std::fmt;

use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::mechanism::{MechanismInfo, MechanismType};
use serde::Serialize;

use super::error::from_cryptoki;
use super::{Backup, HsmError, KeyAlgorithm, KeySpec, KeyUsage, Token};

/// What the tool asks of a mechanism: the CKF_* function flag it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MechanismFunction {
    Generate,
    GenerateKeyPair,
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    Wrap,
}

/// Which part of a key's life needs the mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Making the key inside the HSM.
    Generation,
    /// Signing, verifying, encrypting or decrypting with it.
    Use,
    /// The proof that the key cannot leave the HSM (a temporary AES key
    /// tries to wrap it).
    NonExportabilityProof,
    /// Wrapping a key with `backup: wrapped` under the trusted backup KEK.
    Backup,
}

/// One mechanism a key spec needs, with the alternatives the tool accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredMechanism {
    /// Acceptable mechanisms, the tool's preference first.
    pub candidates: Vec<MechanismType>,
    /// Every function the mechanism must allow (CKF_SIGN, ...).
    pub functions: Vec<MechanismFunction>,
    pub stage: Stage,
    /// What the tool does with it, in words ("signing with the ec-p384 key").
    pub purpose: String,
    /// The RSA modulus size the mechanism must accept.
    pub rsa_bits: Option<u64>,
}

/// A required mechanism the token does not offer as needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortfall {
    /// CKM_* names, joined with " or " when several would do.
    pub mechanism: String,
    pub stage: Stage,
    pub purpose: String,
    /// Why it does not do: not listed, a missing function flag, a key size.
    pub reason: String,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for {} ({})",
            self.mechanism, self.purpose, self.reason
        )
    }
}

impl fmt::Display for MechanismFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MechanismFunction::Generate => "CKF_GENERATE",
            MechanismFunction::GenerateKeyPair => "CKF_GENERATE_KEY_PAIR",
            MechanismFunction::Sign => "CKF_SIGN",
            MechanismFunction::Verify => "CKF_VERIFY",
            MechanismFunction::Encrypt => "CKF_ENCRYPT",
            MechanismFunction::Decrypt => "CKF_DECRYPT",
            MechanismFunction::Wrap => "CKF_WRAP",
        })
    }
}

impl MechanismFunction {
    fn allowed_by(self, info: &MechanismInfo) -> bool {
        match self {
            MechanismFunction::Generate => info.generate(),
            MechanismFunction::GenerateKeyPair => info.generate_key_pair(),
            MechanismFunction::Sign => info.sign(),
            MechanismFunction::Verify => info.verify(),
            MechanismFunction::Encrypt => info.encrypt(),
            MechanismFunction::Decrypt => info.decrypt(),
            MechanismFunction::Wrap => info.wrap(),
        }
    }
}

impl RequiredMechanism {
    fn new(
        candidates: &[MechanismType],
        functions: &[MechanismFunction],
        stage: Stage,
        purpose: String,
    ) -> RequiredMechanism {
        RequiredMechanism {
            candidates: candidates.to_vec(),
            functions: functions.to_vec(),
            stage,
            purpose,
            rsa_bits: None,
        }
    }

    /// The CKM_* names of the candidates, joined with " or ".
    pub fn names(&self) -> String {
        self.candidates
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

impl KeySpec {
    /// Every mechanism generating, using, proving and (with
    /// [`Backup::Wrapped`]) backing up a key of this spec needs, as
    /// [`LoggedIn::generate`](super::LoggedIn::generate),
    /// [`sign`](super::LoggedIn::sign), [`encrypt`](super::LoggedIn::encrypt),
    /// [`prove_non_exportable`](super::LoggedIn::prove_non_exportable) and
    /// [`wrap_under_kek`](super::LoggedIn::wrap_under_kek) use them.
    pub fn required_mechanisms(&self) -> Vec<RequiredMechanism> {
        use MechanismFunction as F;
        let algorithm = self.algorithm;
        let key = format!("the {algorithm} key");
        let (generation, generate) = match algorithm {
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => {
                (MechanismType::ECC_KEY_PAIR_GEN, F::GenerateKeyPair)
            }
            KeyAlgorithm::Ed25519 => (MechanismType::ECC_EDWARDS_KEY_PAIR_GEN, F::GenerateKeyPair),
            KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                (MechanismType::RSA_PKCS_KEY_PAIR_GEN, F::GenerateKeyPair)
            }
            KeyAlgorithm::Aes256 => (MechanismType::AES_KEY_GEN, F::Generate),
        };
        let mut generating = RequiredMechanism::new(
            &[generation],
            &[generate],
            Stage::Generation,
            format!("generating {key}"),
        );
        generating.rsa_bits = algorithm.rsa_bits();
        let mut needs = vec![generating];

        let (usage, functions, verb): (MechanismType, &[F], &str) = match (algorithm, self.usage) {
            (KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384, _) => {
                (MechanismType::ECDSA, &[F::Sign], "signing with")
            }
            (KeyAlgorithm::Ed25519, _) => (MechanismType::EDDSA, &[F::Sign], "signing with"),
            (KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096, KeyUsage::Sign) => (
                MechanismType::SHA256_RSA_PKCS_PSS,
                &[F::Sign],
                "signing with",
            ),
            (KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096, KeyUsage::Encrypt) => (
                MechanismType::RSA_PKCS_OAEP,
                &[F::Encrypt, F::Decrypt],
                "encrypting and decrypting with",
            ),
            (KeyAlgorithm::Aes256, _) => (
                MechanismType::AES_GCM,
                &[F::Encrypt, F::Decrypt],
                "encrypting and decrypting with",
            ),
        };
        let mut using =
            RequiredMechanism::new(&[usage], functions, Stage::Use, format!("{verb} {key}"));
        using.rsa_bits = algorithm.rsa_bits();
        needs.push(using);

        // prove_non_exportable: a session AES key tries to wrap the key.
        needs.push(RequiredMechanism::new(
            &[MechanismType::AES_KEY_GEN],
            &[F::Generate],
            Stage::NonExportabilityProof,
            format!("the temporary wrapping key that proves {key} non-exportable"),
        ));
        needs.push(RequiredMechanism::new(
            &[MechanismType::AES_KEY_WRAP_PAD, MechanismType::AES_KEY_WRAP],
            &[F::Wrap],
            Stage::NonExportabilityProof,
            format!("the wrap attempt that proves {key} non-exportable"),
        ));
        if self.backup == Backup::Wrapped {
            needs.push(RequiredMechanism::new(
                &[MechanismType::AES_KEY_WRAP_PAD, MechanismType::AES_KEY_WRAP],
                &[F::Wrap],
                Stage::Backup,
                format!("wrapping {key} under the trusted backup KEK"),
            ));
        }
        needs
    }
}

impl Token {
    /// The needs this token does not meet, looked up in its mechanism list
    /// and each candidate's C_GetMechanismInfo. Empty when all are met.
    ///
    /// Some modules (kryoptic) list no mechanisms for a token that is not
    /// initialized yet: that is [`HsmError::MechanismsUnavailable`].
    pub fn shortfalls(&self, needs: &[RequiredMechanism]) -> Result<Vec<Shortfall>, HsmError> {
        let pkcs11 = self.module().pkcs11();
        let offered = match pkcs11.get_mechanism_list(self.slot()) {
            Ok(list) => list,
            Err(error) if !self.refresh()?.initialized => {
                return Err(HsmError::MechanismsUnavailable {
                    reason: from_cryptoki(error, "listing the token's mechanisms".into())
                        .to_string(),
                });
            }
            Err(error) => {
                return Err(from_cryptoki(
                    error,
                    "listing the token's mechanisms".into(),
                ));
            }
        };
        let mut shortfalls = Vec::new();
        for need in needs {
            let mut reasons = Vec::new();
            let mut met = false;
            for candidate in &need.candidates {
                if !offered.contains(candidate) {
                    reasons.push(format!("{candidate} is not in the token's mechanism list"));
                    continue;
                }
                let info = match pkcs11.get_mechanism_info(self.slot(), *candidate) {
                    Ok(info) => info,
                    Err(CryptokiError::Pkcs11(RvError::MechanismInvalid, _)) => {
                        reasons.push(format!("the token has no information on {candidate}"));
                        continue;
                    }
                    Err(error) => {
                        return Err(from_cryptoki(
                            error,
                            format!("reading the information of {candidate}"),
                        ));
                    }
                };
                match unmet(need, &info) {
                    Some(reason) => reasons.push(format!("{candidate} {reason}")),
                    None => {
                        met = true;
                        break;
                    }
                }
            }
            if !met {
                shortfalls.push(Shortfall {
                    mechanism: need.names(),
                    stage: need.stage,
                    purpose: need.purpose.clone(),
                    reason: reasons.join("; "),
                });
            }
        }
        Ok(shortfalls)
    }

    /// Stops with [`HsmError::MissingMechanisms`] when the token does not
    /// meet every need; `needed_by` names who asks ("step `generate-root-key`").
    pub fn require_mechanisms(
        &self,
        needed_by: &str,
        needs: &[RequiredMechanism],
    ) -> Result<(), HsmError> {
        let shortfalls = self.shortfalls(needs)?;
        if shortfalls.is_empty() {
            Ok(())
        } else {
            Err(HsmError::MissingMechanisms {
                needed_by: needed_by.to_owned(),
                token: self.describe(),
                shortfalls,
            })
        }
    }
}

/// Why a listed mechanism does not do, if it does not.
fn unmet(need: &RequiredMechanism, info: &MechanismInfo) -> Option<String> {
    let missing: Vec<String> = need
        .functions
        .iter()
        .filter(|function| !function.allowed_by(info))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Some(format!("is listed without {}", missing.join(", ")));
    }
    // Key sizes are compared for RSA only: their unit (bits) is the same in
    // every module, while EC and AES sizes come in bits or bytes.
    if let Some(bits) = need.rsa_bits {
        let (min, max) = (info.min_key_size() as u64, info.max_key_size() as u64);
        if bits < min || bits > max {
            return Some(format!(
                "accepts RSA keys of {min} to {max} bits, not {bits}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_needs_generation_use_and_the_proof() {
        let p384 = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign).required_mechanisms();
        let names: Vec<String> = p384.iter().map(RequiredMechanism::names).collect();
        assert_eq!(
            names,
            [
                "CKM_EC_KEY_PAIR_GEN",
                "CKM_ECDSA",
                "CKM_AES_KEY_GEN",
                "CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP"
            ]
        );
        let stages: Vec<Stage> = p384.iter().map(|need| need.stage).collect();
        assert_eq!(
            stages,
            [
                Stage::Generation,
                Stage::Use,
                Stage::NonExportabilityProof,
                Stage::NonExportabilityProof
            ]
        );

        let ed25519 = KeySpec::new(KeyAlgorithm::Ed25519, KeyUsage::Sign).required_mechanisms();
        assert_eq!(ed25519[0].names(), "CKM_EC_EDWARDS_KEY_PAIR_GEN");
        assert_eq!(ed25519[1].names(), "CKM_EDDSA");
        assert_eq!(ed25519[1].purpose, "signing with the ed25519 key");

        let rsa = KeySpec::new(KeyAlgorithm::Rsa4096, KeyUsage::Encrypt).required_mechanisms();
        assert_eq!(rsa[0].rsa_bits, Some(4096));
        assert_eq!(rsa[1].names(), "CKM_RSA_PKCS_OAEP");
        assert_eq!(
            rsa[1].functions,
            [MechanismFunction::Encrypt, MechanismFunction::Decrypt]
        );
        let rsa_sign = KeySpec::new(KeyAlgorithm::Rsa3072, KeyUsage::Sign).required_mechanisms();
        assert_eq!(rsa_sign[1].names(), "CKM_SHA256_RSA_PKCS_PSS");

        let aes = KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt).required_mechanisms();
        assert_eq!(aes[0].names(), "CKM_AES_KEY_GEN");
        assert_eq!(aes[0].functions, [MechanismFunction::Generate]);
        assert_eq!(aes[1].names(), "CKM_AES_GCM");
        assert_eq!(aes.len(), 4, "no backup, no backup stage");
    }

    #[test]
    fn a_wrapped_backup_also_needs_the_key_wrap() {
        let spec = KeySpec::new(KeyAlgorithm::Ed25519, KeyUsage::Sign).with_backup(Backup::Wrapped);
        let needs = spec.required_mechanisms();
        assert_eq!(needs.len(), 5);
        let backup = &needs[4];
        assert_eq!(backup.stage, Stage::Backup);
        assert_eq!(backup.names(), "CKM_AES_KEY_WRAP_PAD or CKM_AES_KEY_WRAP");
        assert_eq!(backup.functions, [MechanismFunction::Wrap]);
        assert_eq!(
            backup.purpose,
            "wrapping the ed25519 key under the trusted backup KEK"
        );
        assert_eq!(
            serde_json::to_string(&Stage::Backup).expect("json"),
            "\"backup\""
        );
    }
}
