//! The HSM checklist, run on a throwaway token (or, with `run_existing`, on
//! an empty rehearsal token initialized with the vendor's tool): the token initializes with
//! SO and user PINs; every key type generates inside the HSM with the
//! policy's attributes; it signs and verifies, or encrypts and decrypts,
//! with HSM-resident keys; it cannot be exported; the object listing shows
//! every object.
//!
//! Each item is a row that passes, fails, or is unsupported by the module
//! (a missing mechanism, named). A missing mechanism is a fact about the
//! module, not a failure of it: only a row that should have worked and did
//! not is a failure.

use std::collections::BTreeSet;
use std::fmt;

use rand::Rng;
use rand::distributions::Alphanumeric;
use rand::rngs::OsRng;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{HsmError, KeyAlgorithm, KeySpec, KeyUsage, LoggedIn, Role, Stage, Token};
use crate::secret::Pin;

/// The label the throwaway token gets.
pub const SELFTEST_LABEL: &str = "keyceremony-selftest";

/// The key specs the checklist covers: every algorithm and usage the tool
/// offers a script.
pub const SPECS: [(KeyAlgorithm, KeyUsage); 7] = [
    (KeyAlgorithm::Aes256, KeyUsage::Encrypt),
    (KeyAlgorithm::Rsa3072, KeyUsage::Sign),
    (KeyAlgorithm::Rsa3072, KeyUsage::Encrypt),
    (KeyAlgorithm::Rsa4096, KeyUsage::Sign),
    (KeyAlgorithm::EcP256, KeyUsage::Sign),
    (KeyAlgorithm::EcP384, KeyUsage::Sign),
    (KeyAlgorithm::Ed25519, KeyUsage::Sign),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Pass,
    Fail,
    /// The module lacks a mechanism the item needs; the detail names it.
    Unsupported,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Unsupported => "UNSUPPORTED",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub item: String,
    pub outcome: Outcome,
    pub detail: String,
}

/// Runs the checklist on `token`, which must not be initialized: the
/// selftest initializes it, and never touches a token that holds anything.
/// `report` sees each row as it is decided (an RSA-4096 generation takes
/// seconds).
pub fn run(token: &Token, report: &mut dyn FnMut(&Row)) -> Result<Vec<Row>, HsmError> {
    if token.refresh()?.initialized {
        return Err(HsmError::InvalidInput(format!(
            "the selftest initializes its token, and the token {} is already initialized: \
             give it an uninitialized token (its contents would be lost)",
            token.describe()
        )));
    }
    let mut rows = Checklist {
        rows: Vec::new(),
        report,
    };
    let (min, max) = (token.info().min_pin_len, token.info().max_pin_len);
    let so_pin = random_pin(min, max);
    let user_pin = random_pin(min, max);

    let serial = match token.initialize(&so_pin, SELFTEST_LABEL) {
        Ok(info) => {
            rows.push(
                "the token initializes with an SO PIN",
                Ok(info.serial.clone()),
            );
            info.serial
        }
        Err(e) => {
            rows.push("the token initializes with an SO PIN", Err(e));
            return Ok(rows.rows);
        }
    };
    // Slot ids may change once a token is initialized: find it again.
    let token = token.module().token_by_serial(&serial)?;
    let set = token
        .login(Role::SecurityOfficer, &so_pin)
        .and_then(|so| so.init_user_pin(&user_pin));
    let set_ok = set.is_ok();
    rows.push(
        "the SO logs in and sets the user PIN",
        set.map(|()| String::new()),
    );
    if !set_ok {
        return Ok(rows.rows);
    }
    let wrong = random_pin(min, max);
    rows.push(
        "a wrong user PIN is refused (and not retried)",
        match token.login(Role::User, &wrong) {
            Ok(_) => Err(HsmError::InvalidInput(
                "the token accepted a wrong PIN".into(),
            )),
            Err(e) if e.to_string().contains("CKR_PIN_INCORRECT") => Ok("CKR_PIN_INCORRECT".into()),
            Err(e) => Err(e),
        },
    );
    let user = match token.login(Role::User, &user_pin) {
        Ok(user) => {
            rows.push("the user logs in with the user PIN", Ok(String::new()));
            user
        }
        Err(e) => {
            rows.push("the user logs in with the user PIN", Err(e));
            return Ok(rows.rows);
        }
    };

    check_keys(&token, &user, &mut rows)?;
    drop(user);
    const BACKUP: &str = "a backup blob does not unwrap without a login";
    match no_login_unwrap(&token, &so_pin, &user_pin) {
        // kryoptic: no trusted KEK with an unwrap template, so no backup
        // the tool would accept; a fact about the module, named.
        Err(e) if e.to_string().contains("CKR_ATTRIBUTE_TYPE_INVALID") => rows.unsupported(
            BACKUP,
            format!("the module refuses the trusted KEK's template, so `backup: wrapped` is not available on it: {e}"),
        ),
        result => rows.push(BACKUP, result),
    }
    Ok(rows.rows)
}

/// The attack on `backup: wrapped`: the security officer imports a
/// trusted KEK as a ceremony does, the user wraps a backup-able key under
/// it, and then a session with no login tries to unwrap the blob into a
/// key it can read. The row passes only when the module refuses.
fn no_login_unwrap(token: &Token, so_pin: &Pin, user_pin: &Pin) -> Result<String, HsmError> {
    const KEK: &str = "keyceremony-selftest-kek";
    let mut value = Zeroizing::new([0u8; 32]);
    OsRng.fill(&mut value[..]);
    token
        .login(Role::SecurityOfficer, so_pin)?
        .import_trusted_kek(KEK, &value)?;
    let wrapped = {
        let user = token.login(Role::User, user_pin)?;
        let spec = KeySpec::new(KeyAlgorithm::EcP256, KeyUsage::Sign)
            .with_backup(super::spec::Backup::Wrapped);
        let key = user.generate(&spec, "keyceremony-selftest-backup")?;
        user.wrap_under_kek(&key.key, KEK)?
    };
    token
        .unwrap_without_login(KEK, &wrapped)
        .map(|refusal| format!("refused: {refusal}"))
}

/// Runs the checklist on a token initialized with the vendor's tool, as
/// modules that never offer an uninitialized token need (CloudHSM, YubiHSM
/// 2, nShield card sets): a rehearsal token whose user PIN exists. The
/// token must be empty; nothing is initialized, no PIN is set, no wrong
/// PIN is tried (it would count against the token's retries); every key the
/// selftest makes is destroyed at the end, and the token is empty again.
pub fn run_existing(
    token: &Token,
    user_pin: &Pin,
    report: &mut dyn FnMut(&Row),
) -> Result<Vec<Row>, HsmError> {
    if !token.refresh()?.initialized {
        return Err(HsmError::InvalidInput(format!(
            "the token {} is not initialized: run the selftest without --existing, which initializes it",
            token.describe()
        )));
    }
    let info = token.refresh()?;
    if info.user_pin_locked || info.user_pin_final_try {
        return Err(HsmError::InvalidInput(format!(
            "the token {} reports its user PIN {}: no login was tried",
            token.describe(),
            if info.user_pin_locked {
                "locked"
            } else {
                "one wrong try from locking"
            }
        )));
    }
    // One try, as in a ceremony.
    let user = token.login(Role::User, user_pin)?;
    let found = user.objects()?;
    if !found.is_empty() {
        return Err(HsmError::InvalidInput(format!(
            "the token {} holds {} objects: the selftest runs only on an empty rehearsal token, so that removing its own keys leaves the token as it was",
            token.describe(),
            found.len()
        )));
    }
    let mut rows = Checklist {
        rows: Vec::new(),
        report,
    };
    rows.push(
        "the user logs in with the existing user PIN; the token is empty",
        Ok(String::new()),
    );
    let checked = check_keys(token, &user, &mut rows);
    // Whatever happened above, take the selftest's keys away again, and
    // say so before any error of the checklist is returned.
    rows.push(
        "the selftest's keys are destroyed; the token is empty again",
        remove_own_keys(&user),
    );
    checked?;
    Ok(rows.rows)
}

/// Every key spec, then the listing.
fn check_keys(token: &Token, user: &LoggedIn, rows: &mut Checklist<'_>) -> Result<(), HsmError> {
    let mut expected = BTreeSet::new();
    for (algorithm, usage) in SPECS {
        let spec = KeySpec::new(algorithm, usage);
        if let Some(made) = check_key(token, user, &spec, rows)? {
            expected.extend(made);
        }
    }
    rows.push(
        "the object listing shows every object",
        list_matches(user, &expected),
    );
    Ok(())
}

/// Destroys the keys `check_key` made (found by their labels) and checks
/// that nothing is left.
fn remove_own_keys(user: &LoggedIn) -> Result<String, HsmError> {
    let mut destroyed = 0;
    for (algorithm, usage) in SPECS {
        if let Ok(key) = user.find_key(&selftest_label(&KeySpec::new(algorithm, usage))) {
            destroyed += user.destroy_key(&key)?;
        }
    }
    let left = user.objects()?;
    if left.is_empty() {
        Ok(format!("{destroyed} objects destroyed"))
    } else {
        Err(HsmError::InvalidInput(format!(
            "{} objects are left on the token: {}",
            left.len(),
            left.iter()
                .map(|o| format!("{} {}", o.class, o.label))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

fn selftest_label(spec: &KeySpec) -> String {
    format!("selftest-{}-{}", spec.algorithm, spec.usage)
}

struct Checklist<'a> {
    rows: Vec<Row>,
    report: &'a mut dyn FnMut(&Row),
}

impl Checklist<'_> {
    fn push(&mut self, item: &str, result: Result<String, HsmError>) {
        let (outcome, detail) = match result {
            Ok(detail) => (Outcome::Pass, detail),
            Err(e) => (Outcome::Fail, e.to_string()),
        };
        self.push_row(Row {
            item: item.to_owned(),
            outcome,
            detail,
        });
    }

    fn unsupported(&mut self, item: &str, detail: String) {
        self.push_row(Row {
            item: item.to_owned(),
            outcome: Outcome::Unsupported,
            detail,
        });
    }

    fn push_row(&mut self, row: Row) {
        (self.report)(&row);
        self.rows.push(row);
    }
}

/// The rows of one key spec. Returns the (class, label) of every object it
/// made, or `None` when the module cannot make the key.
fn check_key(
    token: &Token,
    user: &LoggedIn,
    spec: &KeySpec,
    rows: &mut Checklist<'_>,
) -> Result<Option<Vec<(String, String)>>, HsmError> {
    let name = format!("{} {}", spec.algorithm, spec.usage);
    let label = selftest_label(spec);
    let shortfalls = token.shortfalls(&spec.required_mechanisms())?;
    let missing = |stage: Stage| {
        shortfalls
            .iter()
            .filter(|s| s.stage == stage)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let generation = format!("{name}: generates inside the HSM; attributes match the policy");
    let use_item = match spec.usage {
        KeyUsage::Sign => format!("{name}: signs, the HSM verifies, an altered message fails"),
        KeyUsage::Encrypt => {
            format!("{name}: encrypts and decrypts, altered ciphertext is refused")
        }
    };
    let proof = format!("{name}: cannot be exported (value sensitive, wrapping refused)");

    let unmet = missing(Stage::Generation);
    if !unmet.is_empty() {
        rows.unsupported(&generation, unmet);
        rows.unsupported(&use_item, "no key to use".into());
        rows.unsupported(&proof, "no key to prove".into());
        return Ok(None);
    }
    let key = match user.generate(spec, &label) {
        Ok(key) => {
            rows.push(&generation, Ok(format!("CKA_ID {}", key.id_hex)));
            key
        }
        Err(e) => {
            rows.push(&generation, Err(e));
            return Ok(None);
        }
    };
    let mut made = vec![];
    if spec.algorithm.is_asymmetric() {
        made.push(("CKO_PUBLIC_KEY".to_owned(), label.clone()));
        made.push(("CKO_PRIVATE_KEY".to_owned(), label.clone()));
    } else {
        made.push(("CKO_SECRET_KEY".to_owned(), label.clone()));
    }

    let unmet = missing(Stage::Use);
    if unmet.is_empty() {
        let result = match spec.usage {
            KeyUsage::Sign => sign_round(user, &key.key),
            KeyUsage::Encrypt => encrypt_round(user, &key.key),
        };
        let detail = match (&key.public, result) {
            (Some(public), Ok(detail)) => {
                Ok(format!("{detail}; SPKI sha256 {}", public.sha256_hex))
            }
            (_, result) => result,
        };
        rows.push(&use_item, detail);
    } else {
        rows.unsupported(&use_item, unmet);
    }

    let unmet = missing(Stage::NonExportabilityProof);
    if unmet.is_empty() {
        rows.push(
            &proof,
            user.prove_non_exportable(&key.key).map(|evidence| {
                let attributes: Vec<String> = evidence
                    .secret_attributes
                    .iter()
                    .map(|p| format!("{} {}", p.attribute, p.result))
                    .collect();
                format!(
                    "{}; {} {}",
                    attributes.join(", "),
                    evidence.wrap_mechanism,
                    evidence.wrap_result
                )
            }),
        );
    } else {
        rows.unsupported(&proof, unmet);
    }
    Ok(Some(made))
}

const MESSAGE: &[u8] = b"keyceremony selftest: the HSM signs and verifies this";

fn sign_round(user: &LoggedIn, key: &super::KeyRef) -> Result<String, HsmError> {
    let signature = user.sign(key, MESSAGE)?;
    if !user.verify(key, MESSAGE, &signature)? {
        return Err(HsmError::InvalidInput(
            "the HSM does not verify its own signature".into(),
        ));
    }
    let mut altered = MESSAGE.to_vec();
    altered[0] ^= 1;
    if user.verify(key, &altered, &signature)? {
        return Err(HsmError::InvalidInput(
            "the HSM verified a signature over an altered message".into(),
        ));
    }
    Ok(format!("{}-byte signature", signature.len()))
}

fn encrypt_round(user: &LoggedIn, key: &super::KeyRef) -> Result<String, HsmError> {
    let aad: &[u8] = if key.algorithm == KeyAlgorithm::Aes256 {
        b"selftest"
    } else {
        b""
    };
    let sealed = user.encrypt(key, MESSAGE, aad)?;
    let opened = user.decrypt(key, &sealed, aad)?;
    if opened.as_slice() != MESSAGE {
        return Err(HsmError::InvalidInput(
            "decryption did not return the plaintext".into(),
        ));
    }
    let mut altered = sealed.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    match user.decrypt(key, &altered, aad) {
        Ok(_) => Err(HsmError::InvalidInput(
            "the HSM decrypted an altered ciphertext".into(),
        )),
        Err(HsmError::Pkcs11 { failure }) => Ok(format!(
            "{}-byte ciphertext; altered: {}",
            sealed.len(),
            failure.ckr
        )),
        Err(e) => Err(e),
    }
}

fn list_matches(
    user: &LoggedIn,
    expected: &BTreeSet<(String, String)>,
) -> Result<String, HsmError> {
    let listed: BTreeSet<(String, String)> = user
        .objects()?
        .into_iter()
        .map(|o| (o.class, o.label))
        .collect();
    if &listed == expected {
        Ok(format!("{} objects, each one made here", listed.len()))
    } else {
        let missing: Vec<String> = expected
            .difference(&listed)
            .map(|(c, l)| format!("{c} {l}"))
            .collect();
        let extra: Vec<String> = listed
            .difference(expected)
            .map(|(c, l)| format!("{c} {l}"))
            .collect();
        Err(HsmError::InvalidInput(format!(
            "the listing differs: missing [{}], unexpected [{}]",
            missing.join(", "),
            extra.join(", ")
        )))
    }
}

/// A throwaway PIN from the OS random generator, within the token's limits.
fn random_pin(min: usize, max: usize) -> Pin {
    let length = 16.clamp(min.max(1), max.max(min).max(1));
    let text: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(length)
        .map(char::from)
        .collect();
    Pin::new(Zeroizing::new(text))
}
