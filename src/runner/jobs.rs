//! What each kind of work does: `prepare` builds the closure the HSM worker
//! runs (moving in only the PIN it needs), `record` turns the worker's
//! result into files and the public facts the transcript records.

use chrono::SubsecRound;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::artifacts;
use super::session::Session;
use super::vault::Holder as ShareHolder;
use super::worker::HsmState;
use crate::engine::Work;
use crate::file_name;
use crate::hsm::{
    GeneratedKey, HsmError, KekInfo, KeySpec, NonExportableEvidence, ObjectSummary, PublicKeyInfo,
    RestoredKey, Role as HsmRole, Token, TokenInfo, WrappedKey, verify_with_spki,
};
use crate::quorum::{self, CeremonySecret, QuorumPolicy, SecretName, Share, SplitRecord};
use crate::script::LoginRole;

/// A finished job's output, carried back from the worker thread.
pub enum Done {
    Checked {
        module: Value,
        token: TokenInfo,
        /// The capability check's record: the mechanisms each key step
        /// needs, found in the token's list (or why they could not be
        /// listed yet).
        capabilities: Value,
    },
    Split {
        secret: CeremonySecret,
        shares: Vec<Share>,
        /// Which random sources were mixed: "os+hsm", or "os" for a token
        /// that cannot open a session before it is initialized.
        randomness: &'static str,
    },
    Initialized {
        info: TokenInfo,
        /// Found already initialized by this ceremony before a crash.
        reconciled: bool,
    },
    Recombined {
        login: Option<LoginRole>,
    },
    UserPinSet,
    /// An existing PIN opened the token; it was kept, sealed under its
    /// secret (`sealed`), or replaced by the PIN derived from it (None).
    PinAdopted {
        info: TokenInfo,
        sealed: Option<crate::quorum::SealedPin>,
        /// Found already replaced after a restart.
        reconciled: bool,
    },
    // Boxed: the read-back evidence is large and crosses the channel once.
    Generated(Box<(GeneratedKey, NonExportableEvidence, Option<Value>)>),
    Exported(PublicKeyInfo),
    Listed(Vec<ObjectSummary>),
    KekImported(KekInfo),
    Wrapped {
        wrapped: WrappedKey,
        public: PublicKeyInfo,
    },
    Restored {
        restored: RestoredKey,
        challenge: Vec<u8>,
        signature: Vec<u8>,
    },
    Reshared {
        shares: Vec<Share>,
        record: SplitRecord,
        /// The new secret and the role whose PIN now derives from it, when
        /// the reshare replaced the secret (None: `keep-secret`).
        rotated: Option<(CeremonySecret, LoginRole)>,
    },
    Challenged {
        challenge: Vec<u8>,
        signature: Vec<u8>,
    },
    Signed {
        issued: crate::ca::Issued,
        /// The SHA-256 of the CSR signed, for a sign-csr step.
        csr_sha256: Option<String>,
    },
    /// A job whose result travels another way (the resume's reconciliation).
    Nothing,
}

pub type Job = Box<dyn FnOnce(&mut HsmState) -> Result<Done, String> + Send>;

fn secret_name(name: &str) -> Result<SecretName, String> {
    name.parse().map_err(|e| format!("{e}"))
}

/// Builds the worker job for `work`. Anything that can be refused without
/// the HSM (a wrong recombination, a missing secret) is refused here, so it
/// fails the step before a single PKCS#11 call.
pub fn prepare(session: &mut Session, work: &Work) -> Result<Job, String> {
    if matches!(work, Work::CheckHsm) {
        // The check chooses the token itself.
        return prepare_work(session, work);
    }
    let serial = session.token_serial().map(String::from);
    let label = session
        .ceremony()
        .bindings
        .value
        .hsm
        .token
        .as_ref()
        .and_then(|t| t.label.clone());
    let bound_serial = session
        .ceremony()
        .bindings
        .value
        .hsm
        .token
        .as_ref()
        .and_then(|t| t.serial.clone());
    let job = prepare_work(session, work)?;
    Ok(Box::new(move |state: &mut HsmState| {
        state.ensure_token(serial.or(bound_serial).as_deref(), label.as_deref())?;
        job(state)
    }))
}

fn prepare_work(session: &mut Session, work: &Work) -> Result<Job, String> {
    let redo = session.redoing();
    let ceremony = session.ceremony();
    match work.clone() {
        Work::CheckHsm => {
            let binding = ceremony.bindings.value.hsm.clone();
            let init_label = ceremony
                .script
                .value
                .steps
                .iter()
                .find_map(|s| s.init_token.as_ref().map(|i| i.label.clone()));
            let keys: Vec<(String, KeySpec)> = ceremony
                .script
                .value
                .steps
                .iter()
                .filter_map(|s| {
                    let g = s.generate_key.as_ref()?;
                    Some((s.id.clone(), KeySpec::new(g.algorithm, g.usage)))
                })
                .collect();
            Ok(Box::new(move |state: &mut HsmState| {
                let module = state.module()?.clone();
                let info = module.info().map_err(|e| e.to_string())?;
                let token = match &binding.token {
                    Some(sel) if sel.serial.is_some() => {
                        module.token_by_serial(sel.serial.as_deref().unwrap_or_default())
                    }
                    Some(sel) => module.token_by_label(sel.label.as_deref().unwrap_or_default()),
                    None => module.uninitialized_token(),
                }
                .map_err(|e| e.to_string())?;
                let t = token.info().clone();
                if let Some(expect) = &binding.expect {
                    for (what, want, have) in [
                        ("manufacturer", &expect.manufacturer, &t.manufacturer),
                        ("model", &expect.model, &t.model),
                        ("serial", &expect.serial, &t.serial),
                    ] {
                        if let Some(want) = want
                            && want.trim() != have.trim()
                        {
                            return Err(format!(
                                "the token's {what} is `{have}`, but the bindings expect `{want}`: this is not the HSM the ceremony was prepared for"
                            ));
                        }
                    }
                }
                if let Some(label) = &init_label {
                    let clash: Vec<String> = module
                        .tokens()
                        .map_err(|e| e.to_string())?
                        .into_iter()
                        .filter(|other| other.initialized && other.label.trim() == label)
                        .map(|other| other.serial)
                        .collect();
                    if !clash.is_empty() {
                        return Err(format!(
                            "a token labelled `{label}` already exists (serial {}); this ceremony would create a second one. Use a fresh --state-dir for a rehearsal, or another label",
                            clash.join(", ")
                        ));
                    }
                }
                let capabilities = check_capabilities(&token, &keys)?;
                state.token = Some(token);
                Ok(Done::Checked {
                    module: to_record(&info)?,
                    token: t,
                    capabilities,
                })
            }))
        }
        Work::Split { secret, .. } => {
            let name = secret_name(&secret)?;
            let (k, n) = ceremony.quorum();
            let policy = QuorumPolicy::new(k, n).map_err(|e| e.to_string())?;
            let ceremony_id = session.ceremony_id().to_string();
            Ok(Box::new(move |state: &mut HsmState| {
                let token = state.token()?;
                let (secret, randomness) =
                    if token.refresh().map_err(|e| e.to_string())?.initialized {
                        let hsm_random = token.random(32).map_err(|e| e.to_string())?;
                        (CeremonySecret::generate(&hsm_random), "os+hsm")
                    } else {
                        (CeremonySecret::generate_os_only(), "os")
                    };
                let secret = secret.map_err(|e| e.to_string())?;
                let shares = quorum::split(&secret, &ceremony_id, &name, policy)
                    .map_err(|e| e.to_string())?;
                Ok(Done::Split {
                    secret,
                    shares,
                    randomness,
                })
            }))
        }
        Work::InitToken { so_pin, label } => {
            let pin = session.vault().fresh_pin(&so_pin)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let module = state.module()?.clone();
                if redo {
                    // The crash may have come after C_InitToken. A token with
                    // this label is this ceremony's only if the SO PIN
                    // recovered from its shares opens it.
                    if let Ok(existing) = module.token_by_label(&label) {
                        drop(existing.login(HsmRole::SecurityOfficer, &pin).map_err(|e| {
                            format!(
                                "a token labelled `{label}` exists, but the SO PIN recovered from this ceremony's shares does not open it ({e}): it is not this ceremony's token"
                            )
                        })?);
                        let info = existing.refresh().map_err(|e| e.to_string())?;
                        state.token = Some(existing);
                        return Ok(Done::Initialized {
                            info,
                            reconciled: true,
                        });
                    }
                    if state.token.is_none() {
                        state.token =
                            Some(module.uninitialized_token().map_err(|e| e.to_string())?);
                    }
                }
                let token = state.token()?.clone();
                let info = token.initialize(&pin, &label).map_err(|e| e.to_string())?;
                // The slot list changes when a token is initialized; keep
                // following this token by its serial.
                state.token = Some(
                    module
                        .token_by_serial(&info.serial)
                        .map_err(|e| e.to_string())?,
                );
                Ok(Done::Initialized {
                    info,
                    reconciled: false,
                })
            }))
        }
        Work::Recombine { secret, login, .. } => {
            let name = secret_name(&secret)?;
            let presented = session.vault_mut().take_presented();
            let (record, _) = session.vault().split(&secret)?;
            let recovered = quorum::combine(record, &presented).map_err(|e| e.to_string())?;
            session.vault_mut().store_recombined(&secret, recovered);
            let pin = match login {
                Some(role) => Some(session.vault().pin(name.as_str(), role)?),
                None => None,
            };
            Ok(Box::new(move |state: &mut HsmState| {
                if let (Some(role), Some(pin)) = (login, pin) {
                    // Logging in is the proof; the session logs out on drop.
                    drop(state.login(hsm_role(role), &pin)?);
                }
                Ok(Done::Recombined { login })
            }))
        }
        Work::SetUserPin { so_pin, user_pin } => {
            let so = session.vault().pin(&so_pin, LoginRole::SecurityOfficer)?;
            let user = session.vault().fresh_pin(&user_pin)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let session = state.login(HsmRole::SecurityOfficer, &so)?;
                session.init_user_pin(&user).map_err(|e| e.to_string())?;
                Ok(Done::UserPinSet)
            }))
        }
        Work::AdoptPin { role, secret } => {
            // Taken first: whatever fails below, the typed PIN does not
            // stay in memory.
            let typed = session.vault_mut().take_typed_pin()?;
            let name = secret_name(&secret)?;
            let keep = session.ceremony().bindings.value.hsm.keep_existing_pins;
            // Kept: sealed before the HSM sees the PIN, so a PIN too long to
            // seal is refused without spending one of the token's tries.
            // Replaced: by the PIN derived from the secret.
            let next = if keep {
                NextPin::Sealed(
                    session
                        .vault()
                        .secret(&secret)?
                        .seal_pin(&name, role.as_str(), &typed)
                        .map_err(|e| e.to_string())?,
                )
            } else {
                NextPin::Derived(session.vault().derived_pin(&secret)?)
            };
            let typist = performer_name(session);
            Ok(Box::new(move |state: &mut HsmState| {
                let info = state.token()?.refresh().map_err(|e| e.to_string())?;
                if !info.initialized {
                    return Err(format!(
                        "the bindings say this token's PINs were set with the vendor's tool (hsm.existing-pins), but token `{}` is not initialized: nothing was typed into it",
                        info.serial.trim()
                    ));
                }
                let shown = crate::engine::login_name(role);
                let (locked, final_try) = match role {
                    LoginRole::SecurityOfficer => (info.so_pin_locked, info.so_pin_final_try),
                    LoginRole::User => (info.user_pin_locked, info.user_pin_final_try),
                };
                // The ceremony never spends a token's last try: a locked SO
                // PIN can mean a zeroized HSM.
                if locked || final_try {
                    return Err(format!(
                        "the token reports its {shown} PIN {}: no login was tried. Resolve it with the vendor's tool, record an exception, and retry",
                        if locked {
                            "locked"
                        } else {
                            "one wrong try from locking"
                        }
                    ));
                }
                // One try, never repeated: the token counts failed logins.
                let session = match (state.login(hsm_role(role), &typed), &next) {
                    (Ok(session), _) => session,
                    // After a crash the PIN may already have been replaced:
                    // then the derived one opens the token (the one wrong
                    // try a crash at that moment costs).
                    (Err(_), NextPin::Derived(derived))
                        if redo && state.login(hsm_role(role), derived).is_ok() =>
                    {
                        return Ok(Done::PinAdopted {
                            info,
                            sealed: None,
                            reconciled: true,
                        });
                    }
                    (Err(e), _) => {
                        return Err(format!(
                            "the {shown} PIN {typist} typed does not open the token ({e}); nothing was changed or sealed"
                        ));
                    }
                };
                let sealed = match next {
                    NextPin::Sealed(sealed) => Some(sealed),
                    NextPin::Derived(derived) => {
                        session.change_pin(&typed, &derived).map_err(|e| {
                            if e.ckr() == Some("CKR_FUNCTION_NOT_SUPPORTED") {
                                format!(
                                    "the module cannot change PINs ({e}); the existing {shown} PIN still opens the token. To keep it, sealed under `{secret}` for the custodians, set hsm.keep-existing-pins: true in the bindings (whoever set it may still know it)"
                                )
                            } else {
                                format!("the token did not take the new {shown} PIN ({e}); the existing one still opens it")
                            }
                        })?;
                        drop(session);
                        // The proof that the new PIN, which no one knows, works.
                        drop(state.login(hsm_role(role), &derived).map_err(|e| {
                            format!("the {shown} PIN was changed, but the new one does not open the token ({e})")
                        })?);
                        None
                    }
                };
                Ok(Done::PinAdopted {
                    info,
                    sealed,
                    reconciled: false,
                })
            }))
        }
        Work::GenerateKey {
            label,
            algorithm,
            usage,
            user_pin,
            backup,
        } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            let id = session
                .planned_key_id()
                .ok_or("internal: a key generation without its recorded key id")?;
            let id = hex::decode(id).map_err(|e| format!("internal: key id: {e}"))?;
            // Only the object the interrupted generation made, by the id it
            // recorded before asking the HSM; a key found by label alone
            // may be anyone's, and is never touched.
            let orphan = if redo { session.orphan_key_id() } else { None };
            Ok(Box::new(move |state: &mut HsmState| {
                let session = state.login(HsmRole::User, &pin)?;
                let removed = match orphan {
                    Some(orphan) => {
                        let bytes = hex::decode(&orphan).map_err(|e| format!("key id: {e}"))?;
                        let objects = session
                            .destroy_objects_with_id(&bytes)
                            .map_err(|e| e.to_string())?;
                        (objects > 0).then(|| json!({ "id": orphan, "objects_destroyed": objects }))
                    }
                    None => None,
                };
                let key = session
                    .generate_with_id(
                        &KeySpec::new(algorithm, usage).with_backup(backup),
                        &label,
                        &id,
                    )
                    .map_err(|e| e.to_string())?;
                let evidence = session
                    .prove_non_exportable(&key.key)
                    .map_err(|e| e.to_string())?;
                Ok(Done::Generated(Box::new((key, evidence, removed))))
            }))
        }
        Work::ExportPublicKey { label, user_pin } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let session = state.login(HsmRole::User, &pin)?;
                let key = session.find_key(&label).map_err(|e| e.to_string())?;
                let public = session.public_key(&key).map_err(|e| e.to_string())?;
                Ok(Done::Exported(public))
            }))
        }
        Work::ListObjects { user_pin } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let session = state.login(HsmRole::User, &pin)?;
                Ok(Done::Listed(session.objects().map_err(|e| e.to_string())?))
            }))
        }
        Work::ImportKek {
            secret,
            so_pin,
            label,
        } => {
            let name = secret_name(&secret)?;
            let kek = session.vault().secret(&secret)?.derive_key(&name);
            let pin = session.vault().pin(&so_pin, LoginRole::SecurityOfficer)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let so = state.login(HsmRole::SecurityOfficer, &pin)?;
                let info = so
                    .import_trusted_kek(&label, &kek)
                    .map_err(|e| e.to_string())?;
                Ok(Done::KekImported(info))
            }))
        }
        Work::BackupKey {
            label,
            kek,
            user_pin,
            destroy_kek_after,
        } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            Ok(Box::new(move |state: &mut HsmState| {
                let user = state.login(HsmRole::User, &pin)?;
                let key = user.find_key(&label).map_err(|e| e.to_string())?;
                let public = user.public_key(&key).map_err(|e| e.to_string())?;
                let wrapped = user.wrap_under_kek(&key, &kek).map_err(|e| e.to_string())?;
                if destroy_kek_after {
                    user.destroy_kek(&kek).map_err(|e| e.to_string())?;
                }
                Ok(Done::Wrapped { wrapped, public })
            }))
        }
        Work::RestoreKey {
            label,
            kek,
            user_pin,
            destroy_kek_after,
        } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            let original = session
                .original()
                .ok_or("a restore needs the original ceremony's transcript (bindings: original)")?;
            let (key, backup) = original.backup(&label)?;
            // The blob must be the one the original recorded, before the
            // HSM sees it.
            let blob = crate::input::read_capped(&backup.file, crate::input::MAX_SMALL_FILE_BYTES)
                .map_err(|e| format!("the backup {}: {e}", backup.file.display()))?;
            if sha256_hex(&blob) != backup.file_sha256 {
                return Err(format!(
                    "the backup {} is not the one ceremony {} recorded (SHA-256 differs): it was altered or replaced",
                    backup.file.display(),
                    original.ceremony_id
                ));
            }
            if backup.kek != kek {
                return Err(format!(
                    "`{label}` was wrapped under the KEK `{}`, not `{kek}`",
                    backup.kek
                ));
            }
            let spec = KeySpec::new(key.algorithm, key.usage);
            let (algorithm, id_hex, mechanism, spki) = (
                key.algorithm,
                key.id_hex.clone(),
                backup.mechanism.clone(),
                backup.spki_der.clone(),
            );
            // Bound to this ceremony and this moment, so the proof cannot
            // be a signature made earlier.
            let prefix = challenge_prefix(session, "keyceremony restore proof v1");
            Ok(Box::new(move |state: &mut HsmState| {
                let token = state.token()?;
                let user = state.login(HsmRole::User, &pin)?;
                let restored = user
                    .unwrap_from_kek(&blob, &mechanism, &kek, &spec, &label, &id_hex, Some(&spki))
                    .map_err(|e| e.to_string())?;
                let nonce = token.random(32).map_err(|e| e.to_string())?;
                let challenge =
                    [prefix.as_bytes(), hex::encode(nonce.as_slice()).as_bytes()].concat();
                if !matches!(restored.key.algorithm, a if a == algorithm) {
                    return Err("the restored key is not of the original's algorithm".into());
                }
                let signature = user
                    .sign(&restored.key, &challenge)
                    .map_err(|e| e.to_string())?;
                // In software, against the public key the original
                // transcript recorded: the HSM does not vouch for itself.
                if !verify_with_spki(&spki, algorithm, &challenge, &signature)
                    .map_err(|e| e.to_string())?
                {
                    return Err(
                        "the restored key's signature does not verify against the original public key: it is not the same key".into(),
                    );
                }
                if destroy_kek_after {
                    user.destroy_kek(&kek).map_err(|e| e.to_string())?;
                }
                Ok(Done::Restored {
                    restored,
                    challenge,
                    signature,
                })
            }))
        }
        Work::Reshare {
            secret,
            keep_secret,
        } => {
            let name = secret_name(&secret)?;
            let (k, n) = ceremony.quorum();
            let policy = QuorumPolicy::new(k, n).map_err(|e| e.to_string())?;
            let ceremony_id = session.ceremony_id().to_string();
            if keep_secret {
                // The same secret again: the old shares stay valid.
                let kept = session.vault().secret(&secret)?;
                let shares =
                    quorum::split(kept, &ceremony_id, &name, policy).map_err(|e| e.to_string())?;
                let record = SplitRecord::new(kept, &shares).map_err(|e| e.to_string())?;
                return Ok(Box::new(move |_: &mut HsmState| {
                    Ok(Done::Reshared {
                        shares,
                        record,
                        rotated: None,
                    })
                }));
            }
            // Shamir shares cannot be revoked: the old ones recombine the
            // old secret forever. Only a new secret, and a token that no
            // longer takes the old PIN, make them useless.
            let role = ceremony.pin_role(&secret).ok_or_else(|| {
                format!(
                    "`{secret}` gives no PIN in this script, so its reshare cannot change one: reshare it with `keep-secret: true`"
                )
            })?;
            let old = session.vault().pin(&secret, role)?;
            // The new PIN keeps the old one's length (the token's limits
            // and every continuing ceremony expect it).
            let length = session
                .vault()
                .pin_length_of(&secret)
                .ok_or("the token's PIN limits are not known yet: check the HSM first")?;
            Ok(Box::new(move |state: &mut HsmState| {
                let shown = crate::engine::login_name(role);
                let hsm_random = state.token()?.random(32).map_err(|e| e.to_string())?;
                let fresh = CeremonySecret::generate(&hsm_random).map_err(|e| e.to_string())?;
                let new_pin = fresh.derive_pin(&name, length);
                // Split and checked before the token changes: once the PIN
                // is changed, nothing may fail before the shares exist.
                let shares = quorum::split(&fresh, &ceremony_id, &name, policy)
                    .map_err(|e| e.to_string())?;
                let record = SplitRecord::new(&fresh, &shares).map_err(|e| e.to_string())?;
                let session = state.login(hsm_role(role), &old).map_err(|e| {
                    if redo {
                        // The new secret lived only in the crashed process.
                        format!(
                            "the token does not take the {shown} PIN of the recovered `{name}` ({e}): if the crash came after the PIN change and before the reshare was recorded, the new secret was lost with the process and this token's {shown} PIN is no longer known; record an exception and recover the token by the vendor's procedure"
                        )
                    } else {
                        e
                    }
                })?;
                session.change_pin(&old, &new_pin).map_err(|e| {
                    if e.ckr() == Some("CKR_FUNCTION_NOT_SUPPORTED") {
                        format!(
                            "the module cannot change PINs ({e}): on this token the old shares of `{name}` cannot be made useless, and nothing was split. To move the secret anyway, reshare it with `keep-secret: true` (the old shares then stay valid, void only by the record)"
                        )
                    } else {
                        format!(
                            "the token did not take the new {shown} PIN ({e}): its PIN is unchanged, the old shares still open it, and nothing was split"
                        )
                    }
                })?;
                drop(session);
                // The proof that the new PIN, which no one knows, works.
                drop(state.login(hsm_role(role), &new_pin).map_err(|e| {
                    format!(
                        "the {shown} PIN was changed, but the new one does not open the token ({e})"
                    )
                })?);
                Ok(Done::Reshared {
                    shares,
                    record,
                    rotated: Some((fresh, role)),
                })
            }))
        }
        Work::SignChallenge { key, user_pin } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            let expected = session
                .key_fingerprint(&key)
                .ok_or_else(|| format!("the transcript records no public key for `{key}`"))?
                .to_string();
            // Domain-separated and bound to this ceremony's chain head: the
            // signature can serve as nothing but this test.
            let prefix = challenge_prefix(session, "keyceremony test challenge v1");
            Ok(Box::new(move |state: &mut HsmState| {
                let token = state.token()?;
                let user = state.login(HsmRole::User, &pin)?;
                let (found, public) = recorded_key(&user, &key, &expected)?;
                let nonce = token.random(32).map_err(|e| e.to_string())?;
                let challenge =
                    [prefix.as_bytes(), hex::encode(nonce.as_slice()).as_bytes()].concat();
                let signature = user.sign(&found, &challenge).map_err(|e| e.to_string())?;
                if !verify_with_spki(&public.spki_der, found.algorithm, &challenge, &signature)
                    .map_err(|e| e.to_string())?
                {
                    return Err(
                        "the HSM's signature does not verify against the key's public key".into(),
                    );
                }
                Ok(Done::Challenged {
                    challenge,
                    signature,
                })
            }))
        }
        Work::Sign {
            step,
            kind,
            key,
            user_pin,
        } => {
            let pin = session.vault().pin(&user_pin, LoginRole::User)?;
            let expected = session
                .key_fingerprint(&key)
                .ok_or_else(|| format!("the transcript records no public key for `{key}`"))?
                .to_string();
            let certificate = session.certificate(&key).map(<[u8]>::to_vec);
            let action = ceremony
                .script
                .value
                .steps
                .iter()
                .find(|s| s.id == step)
                .ok_or("internal error: the step is not in the script")?
                .clone();
            let csr = match &action.sign_csr {
                Some(a) => {
                    let path = ceremony.input(&a.csr).ok_or_else(|| {
                        format!("the bindings name no input `{}` (under `inputs`)", a.csr)
                    })?;
                    Some(
                        crate::input::read_capped(&path, crate::input::MAX_SMALL_FILE_BYTES)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    )
                }
                None => None,
            };
            if kind != "root-certificate" && certificate.is_none() {
                return Err(format!(
                    "`{key}` has no CA certificate in this ceremony or its original"
                ));
            }
            Ok(Box::new(move |state: &mut HsmState| {
                let token = state.token()?;
                let user = state.login(HsmRole::User, &pin)?;
                // The key is the one the transcript recorded, by its public
                // key: a label alone could name another key.
                let (found, public) = recorded_key(&user, &key, &expected)?;
                let issuer = crate::ca::Issuer {
                    algorithm: found.algorithm,
                    spki_der: &public.spki_der,
                    certificate_der: certificate.as_deref(),
                };
                let mut sign = |tbs: &[u8]| user.sign(&found, tbs).map_err(|e| e.to_string());
                let now = chrono::Utc::now().trunc_subsecs(0);
                let serial = || -> Result<[u8; 16], String> {
                    let random = token.random(16).map_err(|e| e.to_string())?;
                    let mut serial = [0u8; 16];
                    serial.copy_from_slice(&random);
                    Ok(serial)
                };
                let issued = match (&action.root_certificate, &action.sign_csr, &action.crl) {
                    (Some(a), _, _) => {
                        crate::ca::root_certificate(&a.profile, &issuer, serial()?, now, &mut sign)
                    }
                    (_, Some(a), _) => crate::ca::sign_csr(
                        csr.as_deref().unwrap_or_default(),
                        &a.policy,
                        &issuer,
                        serial()?,
                        now,
                        &mut sign,
                    ),
                    (_, _, Some(a)) => crate::ca::crl(&a.profile, &issuer, now, &mut sign),
                    _ => return Err("internal error: not a signing step".into()),
                }
                .map_err(|e| e.to_string())?;
                Ok(Done::Signed {
                    issued,
                    csr_sha256: csr.as_deref().map(sha256_hex),
                })
            }))
        }
        Work::Identify { .. } | Work::Attest { .. } | Work::Close => Err(
            "identity checks, attestations and the close are acts of people, not HSM work".into(),
        ),
    }
}

/// What an adopted PIN becomes.
enum NextPin {
    Sealed(crate::quorum::SealedPin),
    Derived(crate::secret::Pin),
}

fn hsm_role(role: LoginRole) -> HsmRole {
    match role {
        LoginRole::SecurityOfficer => HsmRole::SecurityOfficer,
        LoginRole::User => HsmRole::User,
    }
}

/// Who performs the current step (the roles that perform have one holder).
fn performer_name(session: &Session) -> String {
    let role = session.engine().current().performer;
    session
        .ceremony()
        .holders(role)
        .first()
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

fn token_json(t: &TokenInfo) -> Value {
    json!({
        "label": t.label.trim(),
        "manufacturer": t.manufacturer.trim(),
        "model": t.model.trim(),
        "serial": t.serial.trim(),
        "hardware_version": t.hardware_version,
        "firmware_version": t.firmware_version,
        "initialized": t.initialized,
        "min_pin_len": t.min_pin_len,
        "max_pin_len": t.max_pin_len,
    })
}

/// A serde value as the transcript accepts it: `None` fields (an attribute
/// the module did not report) are left out rather than written as null.
fn to_record<T: serde::Serialize>(value: &T) -> Result<Value, String> {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, strip(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
            other => other,
        }
    }
    serde_json::to_value(value)
        .map(strip)
        .map_err(|e| e.to_string())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes what a finished job produced and returns the public facts for
/// the step's transcript entry. No secret, share or PIN goes into it.
pub fn record(session: &mut Session, work: &Work, done: Done) -> Result<Value, String> {
    let out_dir = session
        .transcript_path()
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    match (work, done) {
        (
            Work::CheckHsm,
            Done::Checked {
                module,
                token,
                capabilities,
            },
        ) => {
            let length = quorum::pin_length(token.min_pin_len, token.max_pin_len)
                .map_err(|e| e.to_string())?;
            session.vault_mut().set_pin_length(length);
            session.set_token_serial(&token.serial);
            Ok(json!({
                "module": module,
                "token": token_json(&token),
                "capabilities": capabilities,
            }))
        }
        (
            Work::Split {
                secret: name,
                show_on_screen,
            },
            Done::Split {
                secret,
                shares,
                randomness,
            },
        ) => {
            let custodians = session.holders_for_split();
            let (listed, holders, voided) = seal_shares(session, name, &shares, &out_dir)?;
            let record = SplitRecord::new(&secret, &shares).map_err(|e| e.to_string())?;
            let body = json!({
                "split": to_record(&record)?,
                "randomness": randomness,
                // The PIN derived from this secret has this many characters;
                // a later restore derives the same PIN from it.
                "pin_length": session
                    .vault()
                    .pin_length()
                    .ok_or("the token's PIN limits are not known: check the HSM first")?,
                "holders": listed,
            });
            let mut body = body;
            if !voided.is_empty() {
                // Share files of the split a crash interrupted: never valid.
                body["voided_files"] = json!(voided);
            }
            session
                .vault_mut()
                .store_split(name, secret, record, holders);
            if *show_on_screen {
                // Kept (zeroizing) until each custodian has typed theirs back.
                let custodians = custodians.iter().map(|(c, _)| c.clone());
                session
                    .vault_mut()
                    .hold_for_delivery(custodians.zip(shares).collect());
            }
            Ok(body)
        }
        (Work::InitToken { label, .. }, Done::Initialized { info, reconciled }) => {
            session.set_token_serial(&info.serial);
            let mut body = json!({ "label": label, "token": token_json(&info) });
            if reconciled {
                body["reconciled"] = json!(
                    "found initialized after a restart; the SO PIN recovered from this ceremony's shares opens it"
                );
            }
            Ok(body)
        }
        (
            Work::Recombine {
                secret, custodians, ..
            },
            Done::Recombined { login },
        ) => Ok(json!({
            "secret_name": secret,
            "custodians": custodians,
            "check_value_matches": true,
            "login": login.map_or("none", LoginRole::as_str),
        })),
        (
            Work::AdoptPin { role, secret },
            Done::PinAdopted {
                info,
                sealed,
                reconciled,
            },
        ) => {
            session.set_token_serial(&info.serial);
            let mut body = json!({
                "adopted": true,
                "role": crate::engine::login_name(*role),
                "secret_name": secret,
                "token": token_json(&info),
            });
            match sealed {
                // Only a quorum's secret opens it; later ceremonies find it
                // here (a rotation, a restore).
                Some(sealed) => {
                    body["kept"] = json!(true);
                    body["sealed_pin"] = to_record(&sealed)?;
                    session.vault_mut().store_sealed(sealed);
                }
                None => {
                    session.vault_mut().forget_sealed(secret);
                    body["replaced"] = json!(true);
                    if reconciled {
                        body["reconciled"] = json!(
                            "found replaced after a restart: the PIN derived from this ceremony's secret opens the token"
                        );
                    }
                }
            }
            Ok(body)
        }
        (Work::SetUserPin { user_pin, .. }, Done::UserPinSet) => Ok(json!({
            "user_pin_from": user_pin,
        })),
        (Work::GenerateKey { usage, backup, .. }, Done::Generated(generated)) => {
            let (key, evidence, removed) = *generated;
            session.generation_recorded();
            if let Some(public) = &key.public {
                session.remember_key(&key.label, &public.sha256_hex);
            }
            let mut body = json!({
                "label": key.label,
                "id": key.id_hex,
                "usage": usage,
                "backup": backup.to_string(),
                "attributes": to_record(&key.private_attributes)?,
                "non_exportable": to_record(&evidence)?,
            });
            if let Some(removed) = removed {
                body["unrecorded_key_destroyed"] = to_record(&removed)?;
            }
            if let Some(public) = &key.public {
                body["public_key"] = json!({
                    "algorithm": public.algorithm,
                    "spki_sha256": public.sha256_hex,
                });
            }
            Ok(body)
        }
        (Work::ExportPublicKey { label, .. }, Done::Exported(public)) => {
            let path = file_name::join(session.artifacts_dir(), &format!("{label}.pub.pem"))
                .map_err(|e| e.to_string())?;
            let voided = if session.redoing() {
                artifacts::void_existing(&path).map_err(|e| e.to_string())?
            } else {
                None
            };
            artifacts::write_new(&path, public.pem.as_bytes()).map_err(|e| e.to_string())?;
            Ok(json!({
                "label": label,
                "public_key": {
                    "algorithm": public.algorithm,
                    "spki_sha256": public.sha256_hex,
                    "pem": public.pem,
                    "file": artifacts::relative(&out_dir, &path),
                    "file_sha256": sha256_hex(public.pem.as_bytes()),
                },
            }))
            .map(|mut body| {
                if let Some(v) = voided {
                    body["voided_files"] = json!([artifacts::relative(&out_dir, &v)]);
                }
                body
            })
        }
        (Work::ListObjects { .. }, Done::Listed(objects)) => Ok(json!({
            "count": objects.len(),
            "objects": to_record(&objects)?,
        })),
        (Work::ImportKek { secret, label, .. }, Done::KekImported(info)) => {
            let (record, _) = session.vault().split(secret)?;
            Ok(json!({
                "label": label,
                "secret_name": secret,
                // The secret's check value (public, recorded at its split):
                // a restore recombines the same secret, hence the same KEK.
                "secret_check_value": record.check_value,
                "kek_object": to_record(&info)?,
            }))
        }
        (
            Work::BackupKey {
                label,
                kek,
                destroy_kek_after,
                ..
            },
            Done::Wrapped { wrapped, public },
        ) => {
            let path = file_name::join(
                &session.artifacts_dir().join("backup"),
                &format!("{label}.wrapped"),
            )
            .map_err(|e| e.to_string())?;
            artifacts::write_new(&path, &wrapped.blob).map_err(|e| e.to_string())?;
            Ok(json!({
                "label": label,
                "kek_label": kek,
                "kek_id": wrapped.kek_id_hex,
                "kek_destroyed": destroy_kek_after,
                "mechanism": wrapped.mechanism,
                "file": artifacts::relative(&out_dir, &path),
                "file_sha256": sha256_hex(&wrapped.blob),
                "public_key": {
                    "algorithm": public.algorithm,
                    "spki_sha256": public.sha256_hex,
                    "pem": public.pem,
                },
            }))
        }
        (
            Work::RestoreKey {
                label,
                destroy_kek_after,
                ..
            },
            Done::Restored {
                restored,
                challenge,
                signature,
            },
        ) => {
            let original = session
                .original()
                .ok_or("a restore needs the original ceremony")?;
            let (key, _) = original.backup(label)?;
            let spki_sha256 = key.spki_sha256.clone();
            let body = json!({
                "label": label,
                "original_ceremony": original.ceremony_id,
                "id": restored.key.id_hex,
                "algorithm": restored.key.algorithm,
                "spki_sha256": key.spki_sha256,
                "kek_destroyed": destroy_kek_after,
                // A restored key was not made here and was once
                // extractable: LOCAL, ALWAYS_SENSITIVE and NEVER_EXTRACTABLE
                // read false, as expected.
                "attributes": to_record(&restored.attributes)?,
                "proof": {
                    "challenge": String::from_utf8_lossy(&challenge),
                    "signature": super::session::base64_encode(&signature),
                    "verified_against": "the original transcript's public key, in software",
                },
            });
            session.remember_key(label, &spki_sha256);
            Ok(body)
        }
        (
            Work::Reshare {
                secret: name,
                keep_secret,
            },
            Done::Reshared {
                shares,
                record,
                rotated,
            },
        ) => {
            let (old, old_holders) = session.vault().split(name)?.clone();
            let was_sealed = session.vault().sealed(name).is_some();
            let (listed, holders, _) = seal_shares(session, name, &shares, &out_dir)?;
            let custodians: Vec<String> = holders.iter().map(|h| h.custodian.clone()).collect();
            let changed = match rotated {
                // From here on the vault holds the new secret, so later
                // steps log in with the new PIN.
                Some((fresh, role)) => {
                    session
                        .vault_mut()
                        .store_rotated(name, fresh, record.clone(), holders);
                    Some(role)
                }
                None => {
                    session
                        .vault_mut()
                        .store_reshare(name, record.clone(), holders);
                    None
                }
            };
            session
                .vault_mut()
                .hold_for_delivery(custodians.into_iter().zip(shares).collect());
            let mut body = json!({
                "split": to_record(&record)?,
                // The new PIN has the old one's length.
                "pin_length": session.vault().pin_length_of(name),
                "holders": listed,
                "keep_secret": keep_secret,
                "pin_changed": changed.is_some(),
                // Every share of the earlier split is void from now on:
                // with a changed PIN because the token no longer takes what
                // they recombine; with keep-secret only by this record.
                "void": {
                    "ceremony": old.ceremony_id,
                    "commitments": old.commitments,
                    "holders": old_holders.iter().map(|h| json!({
                        "custodian": h.custodian,
                        "index": h.index,
                    })).collect::<Vec<_>>(),
                    "only_by_record": changed.is_none(),
                },
            });
            if let Some(role) = changed {
                // As a split records it: the new secret mixed the HSM's
                // random generator into the OS's.
                body["randomness"] = json!("os+hsm");
                body["login_proof"] = json!({
                    "role": role.as_str(),
                    "ok": true,
                    "pin": "derived from the new secret, after C_SetPIN from the old one",
                });
                if was_sealed {
                    // The vendor's PIN sealed under the old secret is gone
                    // from the token: continuing ceremonies derive the PIN.
                    body["secret_name"] = json!(name);
                    body["replaced"] = json!(true);
                }
            } else if let Some(sealed) = session.vault().sealed(name) {
                // A PIN sealed under the kept secret travels with it, so
                // that a ceremony continuing this one finds it here.
                body["sealed_pin"] = to_record(sealed)?;
            }
            Ok(body)
        }
        (
            Work::SignChallenge { key, .. },
            Done::Challenged {
                challenge,
                signature,
            },
        ) => Ok(json!({
            "key": key,
            "spki_sha256": session.key_fingerprint(key),
            "challenge": String::from_utf8_lossy(&challenge),
            "signature": super::session::base64_encode(&signature),
            "verified_against": "the public key the transcript recorded, in software",
        })),
        (
            Work::Sign {
                step, kind, key, ..
            },
            Done::Signed { issued, csr_sha256 },
        ) => {
            let path = file_name::join(session.artifacts_dir(), &format!("{step}.pem"))
                .map_err(|e| e.to_string())?;
            // After a crash in this step a file may exist that no entry
            // records: it is kept as void, never taken.
            let voided = if session.redoing() {
                artifacts::void_existing(&path).map_err(|e| e.to_string())?
            } else {
                None
            };
            artifacts::write_new(&path, issued.pem.as_bytes()).map_err(|e| e.to_string())?;
            if *kind == "root-certificate" {
                session.remember_certificate(key, issued.der.clone());
            }
            let mut body = json!({
                "key": key,
                "serial": issued.serial_hex,
                "not_before": issued.not_before,
                "not_after": issued.not_after,
                "sha256": issued.sha256_hex,
                "file": artifacts::relative(&out_dir, &path),
                "file_sha256": sha256_hex(issued.pem.as_bytes()),
            });
            if let Some(csr) = csr_sha256 {
                body["csr_sha256"] = json!(csr);
            }
            if let Some(v) = voided {
                body["voided_files"] = json!([artifacts::relative(&out_dir, &v)]);
            }
            Ok(body)
        }
        _ => Err("internal error: a job returned a result for another kind of work".into()),
    }
}

/// The start of a challenge a key signs: a domain string, this ceremony's
/// id and chain head, so the signature proves a key now and serves as
/// nothing else. The caller appends fresh bytes from the HSM.
fn challenge_prefix(session: &Session, domain: &str) -> String {
    format!(
        "{domain}\n{}\n{}\n",
        session.ceremony_id(),
        session
            .notes()
            .last()
            .map(|n| n.hash_hex.clone())
            .unwrap_or_default()
    )
}

/// The key labelled `label`, checked to be the one the transcript
/// recorded (`expected`: its SPKI SHA-256): a label alone could name
/// another key.
fn recorded_key(
    user: &crate::hsm::LoggedIn,
    label: &str,
    expected: &str,
) -> Result<(crate::hsm::KeyRef, PublicKeyInfo), String> {
    let found = user.find_key(label).map_err(|e| e.to_string())?;
    let public = user.public_key(&found).map_err(|e| e.to_string())?;
    if public.sha256_hex != expected {
        return Err(format!(
            "the key labelled `{label}` on this token has public key SHA-256 {}, not {expected} as the transcript recorded: it is not the ceremony's key",
            public.sha256_hex
        ));
    }
    Ok((found, public))
}

/// The sealed shares of a split: the holders as the transcript lists them,
/// as the vault keeps them, and share files a crash left behind that are
/// now void.
type Sealed = (Vec<Value>, Vec<ShareHolder>, Vec<String>);

/// Seals each share to its custodian's ssh key into this ceremony's shares
/// directory.
fn seal_shares(
    session: &Session,
    name: &str,
    shares: &[Share],
    out_dir: &std::path::Path,
) -> Result<Sealed, String> {
    let custodians = session.holders_for_split();
    let mut voided = Vec::new();
    let mut holders = Vec::new();
    let mut listed = Vec::new();
    for (share, (custodian, ssh_key)) in shares.iter().zip(&custodians) {
        let sealed = quorum::delivery::seal(ssh_key, share).map_err(|e| e.to_string())?;
        let path = file_name::join(
            &session.artifacts_dir().join("shares"),
            &format!("{custodian}.{name}.age"),
        )
        .map_err(|e| e.to_string())?;
        if session.redoing()
            && let Some(void) = artifacts::void_existing(&path).map_err(|e| e.to_string())?
        {
            voided.push(artifacts::relative(out_dir, &void));
        }
        artifacts::write_new(&path, &sealed).map_err(|e| e.to_string())?;
        let index = share.metadata().index;
        listed.push(json!({
            "custodian": custodian,
            "index": index,
            "commitment": hex::encode(share.commitment()),
            "file": artifacts::relative(out_dir, &path),
            "file_sha256": sha256_hex(&sealed),
        }));
        holders.push(ShareHolder {
            custodian: custodian.clone(),
            index,
        });
    }
    Ok((listed, holders, voided))
}

/// Before anything is written to the token: every mechanism each key step
/// of the script needs must be in the token's mechanism list, else the
/// ceremony stops here naming the step and the mechanism.
///
/// Some modules (kryoptic) list nothing for a token that is not initialized;
/// the check then moves to the moment before each generation (`generate`
/// checks again) and the record says so instead of claiming a pass.
fn check_capabilities(token: &Token, keys: &[(String, KeySpec)]) -> Result<Value, String> {
    let mut checked = Vec::new();
    for (step, spec) in keys {
        let needs = spec.required_mechanisms();
        match token.require_mechanisms(&format!("step `{step}`"), &needs) {
            Ok(()) => checked.push(json!({
                "step": step,
                "algorithm": spec.algorithm.to_string(),
                "usage": spec.usage.to_string(),
                "mechanisms": needs.iter().map(|n| n.names()).collect::<Vec<_>>(),
            })),
            Err(HsmError::MechanismsUnavailable { reason }) => {
                return Ok(json!({ "deferred": reason }));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(json!({ "checked": checked }))
}
