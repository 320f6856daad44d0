use std::path::Path;

use serde_json::json;

use super::*;
use crate::script::{Ceremony, Role};

/// A performer who ticks every item and gives every new seal a number.
fn cooperative_checks(engine: &Engine, capacity: Capacity) -> Checks {
    if capacity != Capacity::Performer {
        return Checks::default();
    }
    let details = engine.current().details.as_ref();
    let mut checks = Checks::all(&items_to_tick(details), "2026-12-04T12:00:00Z");
    if seals_materials(details) {
        for (item, _) in &checks.ticked.clone() {
            checks.sealed.insert(item.clone(), format!("TE-NEW-{item}"));
        }
    }
    checks
}

fn root_ceremony() -> Ceremony {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremonies");
    Ceremony::load(
        &dir.join("root-key-generation.yaml"),
        &dir.join("rehearsal/root-key-generation.bindings.yaml"),
    )
    .expect("the shipped root ceremony loads")
}

fn records(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Record(r) => r.kind,
            Effect::Close(_) => "CLOSE",
        })
        .collect()
}

/// Answers every need the way a cooperative room would until `stop` says
/// so or the ceremony finishes; returns the kinds of all records in order.
fn drive(engine: &mut Engine, stop: impl Fn(&Need) -> bool) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    for _ in 0..200 {
        let need = engine.need();
        if stop(&need) {
            return kinds;
        }
        let input = match need {
            Need::SignIn { participant, .. } => Input::SignedIn { participant },
            Need::Identify { participant, .. } => Input::Identified { participant },
            Need::Confirm {
                participant,
                word,
                capacity,
            } => Input::Confirmed {
                participant,
                typed: word.map(String::from),
                checks: cooperative_checks(engine, capacity),
            },
            Need::Share { candidates, .. } => {
                let custodian = candidates[0].clone();
                if !engine.is_signed_in(&custodian) {
                    Input::SignedIn {
                        participant: custodian,
                    }
                } else {
                    Input::SharePresented {
                        custodian,
                        details: json!({"index": 1}),
                    }
                }
            }
            Need::Work(_) => Input::WorkDone {
                result: json!({"ok": true}),
            },
            Need::DeliverShare { custodian, .. } => Input::ShareDelivered {
                custodian,
                details: json!({}),
            },
            Need::Attest { participant } => Input::Attested { participant },
            Need::Cosign { participant } => Input::Cosigned { participant },
            Need::ExistingPin { participant, .. } => Input::PinTyped { participant },
            Need::Failed { .. } => panic!("no step fails here"),
            Need::Finished(_) => return kinds,
        };
        let effects = engine
            .handle(input)
            .expect("a cooperative input is accepted");
        kinds.extend(records(&effects));
    }
    panic!("the ceremony did not finish in 200 inputs");
}

#[test]
fn the_root_ceremony_runs_in_script_order_and_closes() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    let kinds = drive(&mut e, |_| false);
    assert_eq!(kinds.last(), Some(&"CLOSE"));
    let steps: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "sign-in" | "confirm" | "share-presented"))
        .collect();
    assert_eq!(
        steps,
        [
            "identity-check",
            "identity-check",
            "identity-check",
            "identity-check",
            "identity-check",
            "identity-check",
            "identity-check",
            "identity-check",
            "check-hsm",
            "split-secret",
            "init-token",
            "recombine",
            "split-secret",
            "set-user-pin",
            "generate-key",
            "export-public-key",
            "sign-challenge",
            "root-certificate",
            "list-objects",
            "attestation",
            "attestation",
            "CLOSE"
        ]
    );
    assert_eq!(kinds.iter().filter(|k| **k == "share-presented").count(), 3);
    assert!(e.is_finished());
    assert!((0..e.steps().len()).all(|i| e.status(i) == StepStatus::Done));
}

#[test]
fn only_the_person_whose_turn_it_is_may_confirm() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    assert_eq!(
        e.need(),
        Need::SignIn {
            participant: "alice".into(),
            role: Role::Administrator
        }
    );
    let err = e
        .handle(Input::Confirmed {
            participant: "alice".into(),
            typed: None,
            checks: Checks::default(),
        })
        .unwrap_err();
    assert_eq!(err, EngineError::NotSignedIn("alice".into()));
    e.handle(Input::SignedIn {
        participant: "bob".into(),
    })
    .unwrap();
    e.handle(Input::SignedIn {
        participant: "alice".into(),
    })
    .unwrap();
    let err = e
        .handle(Input::Confirmed {
            participant: "bob".into(),
            typed: None,
            checks: Checks::default(),
        })
        .unwrap_err();
    assert!(matches!(err, EngineError::NotTheirTurn { .. }), "{err}");
    assert!(err.to_string().contains("alice must confirm as performer"));
}

#[test]
fn a_stranger_cannot_sign_in_and_no_one_signs_in_twice() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    assert_eq!(
        e.handle(Input::SignedIn {
            participant: "mallory".into()
        })
        .unwrap_err(),
        EngineError::NotOnRoster("mallory".into())
    );
    e.handle(Input::SignedIn {
        participant: "carol".into(),
    })
    .unwrap();
    assert_eq!(
        e.handle(Input::SignedIn {
            participant: "carol".into()
        })
        .unwrap_err(),
        EngineError::AlreadySignedIn("carol".into())
    );
}

#[test]
fn irreversible_steps_need_the_exact_word() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| {
        matches!(
            n,
            Need::Confirm {
                word: Some("initialize"),
                ..
            }
        )
    });
    for typed in [None, Some("yes"), Some("INITIALIZE"), Some("initialise")] {
        let err = e
            .handle(Input::Confirmed {
                participant: "alice".into(),
                typed: typed.map(String::from),
                checks: Checks::default(),
            })
            .unwrap_err();
        assert_eq!(
            err,
            EngineError::WrongWord {
                expected: "initialize"
            }
        );
    }
    assert_eq!(e.current().id, "init-token");
    e.handle(Input::Confirmed {
        participant: "alice".into(),
        typed: Some("initialize".into()),
        checks: Checks::default(),
    })
    .unwrap();
    assert!(matches!(e.need(), Need::Work(Work::InitToken { .. })));
}

#[test]
fn shares_come_from_distinct_signed_in_custodians_and_fill_the_recombine_work() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| matches!(n, Need::Share { .. }));
    // A restart signs everyone out (their keys were in the old process).
    e.restart();
    let present = |e: &mut Engine, who: &str| {
        e.handle(Input::SharePresented {
            custodian: who.into(),
            details: json!({}),
        })
    };
    assert_eq!(
        present(&mut e, "carol").unwrap_err(),
        EngineError::NotSignedIn("carol".into())
    );
    assert_eq!(
        present(&mut e, "bob").unwrap_err(),
        EngineError::NotACustodian("bob".into())
    );
    for who in ["carol", "erin", "grace"] {
        e.handle(Input::SignedIn {
            participant: who.into(),
        })
        .unwrap();
    }
    present(&mut e, "erin").unwrap();
    assert_eq!(
        present(&mut e, "erin").unwrap_err(),
        EngineError::AlreadyPresented("erin".into())
    );
    let rejected = e
        .handle(Input::ShareRejected {
            custodian: "carol".into(),
            reason: "does not match its commitment".into(),
        })
        .unwrap();
    assert_eq!(records(&rejected), ["share-rejected"]);
    present(&mut e, "carol").unwrap();
    let Need::Share {
        presented, needed, ..
    } = e.need()
    else {
        panic!("still collecting shares")
    };
    assert_eq!((presented.len(), needed), (2, 3));
    present(&mut e, "grace").unwrap();
    match e.need() {
        Need::Work(Work::Recombine { custodians, .. }) => {
            assert_eq!(custodians, ["erin", "carol", "grace"])
        }
        other => panic!("expected the recombine work, got {other:?}"),
    }
}

#[test]
fn a_failed_step_can_only_be_aborted_and_the_abort_closes() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| matches!(n, Need::Work(Work::CheckHsm)));
    let effects = e
        .handle(Input::WorkFailed {
            error: "no token".into(),
        })
        .unwrap();
    assert_eq!(records(&effects), ["step-failed"]);
    let here = e.current().number - 1;
    assert_eq!(e.status(here), StepStatus::Failed);
    assert_eq!(e.status(here - 1), StepStatus::Done);
    assert_eq!(e.status(here + 1), StepStatus::Pending);
    assert!(matches!(e.need(), Need::Failed { .. }));
    assert!(
        e.handle(Input::WorkDone { result: json!({}) }).is_err(),
        "a late result cannot revive a failed step"
    );
    assert_eq!(
        e.handle(Input::Abort {
            by: Some("alice".into()),
            reason: "  ".into()
        })
        .unwrap_err(),
        EngineError::AbortWithoutReason
    );
    let effects = e
        .handle(Input::Abort {
            by: Some("alice".into()),
            reason: "the token is missing".into(),
        })
        .unwrap();
    assert_eq!(records(&effects), ["abort", "CLOSE"]);
    assert_eq!(
        effects[1],
        Effect::Close(Outcome::Aborted {
            reason: "the token is missing".into()
        })
    );
    // The transcript is closed: only the checkpoint's cosigners remain, in
    // roster order, and nothing else is accepted.
    assert_eq!(
        e.handle(Input::SignedIn {
            participant: "carol".into()
        })
        .unwrap_err(),
        EngineError::Closed
    );
    let cosigners = e.cosigners();
    assert!(!cosigners.is_empty(), "the witness signed in earlier");
    for name in cosigners {
        assert_eq!(
            e.need(),
            Need::Cosign {
                participant: name.clone()
            }
        );
        assert!(
            e.handle(Input::Cosigned { participant: name })
                .unwrap()
                .is_empty()
        );
    }
    assert!(e.is_finished());
    assert_eq!(
        e.handle(Input::SignedIn {
            participant: "carol".into()
        })
        .unwrap_err(),
        EngineError::Finished
    );
}

#[test]
fn every_participant_act_is_signed_with_the_right_purpose() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    let sign_in = e
        .handle(Input::SignedIn {
            participant: "alice".into(),
        })
        .unwrap();
    let Effect::Record(r) = &sign_in[0] else {
        panic!()
    };
    assert_eq!(r.signers, [("alice".to_string(), Purpose::SignIn)]);
    drive(&mut e, |n| matches!(n, Need::Attest { .. }));
    // Each attester's own entry, signed by them alone, at their moment.
    let mut attested = Vec::new();
    while let Need::Attest { participant } = e.need() {
        let effects = e.handle(Input::Attested { participant }).unwrap();
        let [Effect::Record(r)] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        assert_eq!(r.kind, "attestation");
        assert_eq!(r.actor, r.signers[0].0);
        attested.extend(r.signers.clone());
    }
    assert_eq!(
        attested,
        [
            ("bob".to_string(), Purpose::Attest),
            ("heidi".to_string(), Purpose::Attest)
        ]
    );
}

/// The entries a runner would write for `effects`: bodies with the
/// signatures the signers add (as `replay` sees them in a transcript).
fn entries(effects: &[Effect]) -> Vec<(String, String, Value)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) => {
                let mut body = r.body.clone();
                body["signatures"] = Value::Array(
                    r.signers
                        .iter()
                        .map(|(n, _)| json!({ "participant": n }))
                        .collect(),
                );
                Some((r.kind.to_string(), r.actor.clone(), body))
            }
            Effect::Close(_) => None,
        })
        .collect()
}

/// Answers the current need once, cooperatively; returns the entries.
fn step_once(engine: &mut Engine) -> Vec<(String, String, Value)> {
    let input = match engine.need() {
        Need::SignIn { participant, .. } => Input::SignedIn { participant },
        Need::Identify { participant, .. } => Input::Identified { participant },
        Need::Confirm {
            participant,
            word,
            capacity,
        } => Input::Confirmed {
            participant,
            typed: word.map(String::from),
            checks: cooperative_checks(engine, capacity),
        },
        Need::Share { candidates, .. } => {
            let custodian = candidates[0].clone();
            if engine.is_signed_in(&custodian) {
                Input::SharePresented {
                    custodian,
                    details: json!({}),
                }
            } else {
                Input::SignedIn {
                    participant: custodian,
                }
            }
        }
        Need::Work(_) => Input::WorkDone { result: json!({}) },
        Need::DeliverShare { custodian, .. } => Input::ShareDelivered {
            custodian,
            details: json!({}),
        },
        Need::Attest { participant } => Input::Attested { participant },
        Need::Cosign { participant } => Input::Cosigned { participant },
        Need::ExistingPin { participant, .. } => Input::PinTyped { participant },
        other => panic!("unexpected {other:?}"),
    };
    entries(&engine.handle(input).expect("accepted"))
}

/// Drives like `drive`, keeping every entry written.
fn drive_keeping(
    engine: &mut Engine,
    stop: impl Fn(&Need) -> bool,
) -> Vec<(String, String, Value)> {
    let mut log = Vec::new();
    loop {
        let need = engine.need();
        if stop(&need) || matches!(need, Need::Finished(_)) {
            return log;
        }
        log.extend(step_once(engine));
    }
}

fn replayed(log: &[(String, String, Value)]) -> Engine {
    replayed_for(&root_ceremony(), log)
}

fn replayed_for(c: &Ceremony, log: &[(String, String, Value)]) -> Engine {
    let mut e = Engine::new(c);
    for (kind, actor, body) in log {
        e.replay(kind, actor, body).expect("replays");
    }
    e
}

#[test]
fn replaying_the_entries_rebuilds_the_same_state_at_every_point() {
    let c = root_ceremony();
    let mut live = Engine::new(&c);
    let mut log = Vec::new();
    let mut compared = 0;
    while !live.is_finished() {
        let before = log.len();
        log.extend(step_once(&mut live));
        // Attestations are recorded together, so the state between two of
        // them is in no entry: compare only after an entry was written.
        if log.len() > before && !live.is_finished() {
            let rebuilt = replayed(&log);
            assert_eq!(rebuilt.need(), live.need(), "after {} entries", log.len());
            assert_eq!(rebuilt.current().id, live.current().id);
            compared += 1;
        }
    }
    assert!(compared > 30, "compared the state at {compared} points");
}

#[test]
fn a_restart_in_key_generation_recovers_the_user_pin_before_redoing_the_work() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    let log = drive_keeping(&mut e, |n| {
        matches!(n, Need::Work(Work::GenerateKey { .. }))
    });
    let mut resumed = replayed(&log);
    assert!(matches!(
        resumed.need(),
        Need::Work(Work::GenerateKey { .. })
    ));
    let interrupted = resumed.restart();
    assert_eq!(records(&interrupted), ["interrupted"]);
    // Nobody is signed in any more; the user PIN is gone with the memory.
    assert!(!resumed.is_signed_in("alice"));
    match resumed.need() {
        Need::Share {
            secret, recovering, ..
        } => {
            assert_eq!(secret, "user-pin");
            assert!(recovering);
        }
        other => panic!("expected a recovery, got {other:?}"),
    }
    let after = drive_keeping(&mut resumed, |n| {
        matches!(n, Need::Work(Work::GenerateKey { .. }))
    });
    assert!(
        after
            .iter()
            .any(|(k, _, b)| k == "recover-secret" && b["secret_name"] == "user-pin")
    );
    assert!(matches!(
        resumed.need(),
        Need::Work(Work::GenerateKey { .. })
    ));
}

#[test]
fn a_restart_mid_recombination_asks_for_all_shares_again() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    let log = drive_keeping(
        &mut e,
        |n| matches!(n, Need::Share { presented, .. } if presented.len() == 2),
    );
    let mut resumed = replayed(&log);
    let interrupted = resumed.restart();
    assert_eq!(records(&interrupted), ["interrupted"]);
    let Need::Share {
        presented,
        recovering,
        ..
    } = resumed.need()
    else {
        panic!("shares again")
    };
    assert!(presented.is_empty());
    assert!(!recovering);
}

#[test]
fn an_exception_is_the_administrators_and_the_witness_confirms_it() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(
        &mut e,
        |n| matches!(n, Need::Confirm { capacity: Capacity::Performer, participant, .. } if participant == "alice"),
    );
    let exception = Exception {
        expected: "the HSM's bag number ends in 42".into(),
        happened: "it ends in 24".into(),
        decision: "continue: the log shows a transcription error".into(),
    };
    assert_eq!(
        e.handle(Input::Exception {
            by: "bob".into(),
            exception: exception.clone()
        })
        .unwrap_err(),
        EngineError::NotAdministrator("bob".into())
    );
    assert_eq!(
        e.handle(Input::Exception {
            by: "alice".into(),
            exception: Exception {
                decision: " ".into(),
                ..exception.clone()
            }
        })
        .unwrap_err(),
        EngineError::IncompleteException
    );
    let recorded = e
        .handle(Input::Exception {
            by: "alice".into(),
            exception,
        })
        .unwrap();
    assert_eq!(records(&recorded), ["exception"]);
    assert!(matches!(e.need(), Need::SignIn { participant, .. } if participant == "bob"));
    e.handle(Input::SignedIn {
        participant: "bob".into(),
    })
    .unwrap();
    assert_eq!(
        e.need(),
        Need::Confirm {
            participant: "bob".into(),
            capacity: Capacity::ExceptionWitness,
            word: None
        }
    );
    e.handle(Input::Confirmed {
        participant: "bob".into(),
        typed: None,
        checks: Checks::default(),
    })
    .unwrap();
    assert!(matches!(
        e.need(),
        Need::Confirm {
            capacity: Capacity::Performer,
            ..
        }
    ));
}

#[test]
fn a_failed_step_is_retried_only_after_an_exception() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| matches!(n, Need::Work(Work::CheckHsm)));
    e.handle(Input::WorkFailed {
        error: "no token".into(),
    })
    .unwrap();
    assert_eq!(
        e.need(),
        Need::Failed {
            error: "no token".into(),
            may_retry: false
        }
    );
    assert_eq!(
        e.handle(Input::Retry { by: "alice".into() }).unwrap_err(),
        EngineError::RetryWithoutException
    );
    e.handle(Input::Exception {
        by: "alice".into(),
        exception: Exception {
            expected: "the token is present".into(),
            happened: "the USB cable was loose".into(),
            decision: "reconnect and retry".into(),
        },
    })
    .unwrap();
    assert_eq!(
        e.handle(Input::Retry { by: "alice".into() }).unwrap_err(),
        EngineError::RetryWithoutException,
        "the witness has not confirmed the exception yet"
    );
    e.handle(Input::Confirmed {
        participant: "bob".into(),
        typed: None,
        checks: Checks::default(),
    })
    .unwrap();
    assert_eq!(
        records(&e.handle(Input::Retry { by: "alice".into() }).unwrap()),
        ["retry"]
    );
    assert!(matches!(
        e.need(),
        Need::Confirm {
            capacity: Capacity::Performer,
            ..
        }
    ));
    assert_eq!(e.current().id, "check-hsm");
}

#[test]
fn nothing_interrupts_running_work() {
    let c = root_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| matches!(n, Need::Work(Work::InitToken { .. })));
    assert_eq!(
        e.handle(Input::Abort {
            by: Some("alice".into()),
            reason: "stop".into()
        })
        .unwrap_err(),
        EngineError::WorkRunning
    );
}

/// The root ceremony with its SO PIN split delivered on screen too.
fn on_screen_ceremony() -> (tempfile::TempDir, Ceremony) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremonies");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = std::fs::read_to_string(repo.join("root-key-generation.yaml"))
        .expect("script")
        .replace(
            "split-secret: { secret: so-pin }",
            "split-secret: { secret: so-pin, show-on-screen: true }",
        );
    std::fs::write(dir.path().join("s.yaml"), script).expect("write");
    let c = Ceremony::load(
        &dir.path().join("s.yaml"),
        &repo.join("rehearsal/root-key-generation.bindings.yaml"),
    )
    .expect("loads");
    (dir, c)
}

#[test]
fn an_on_screen_split_waits_for_every_custodian_to_prove_their_copy_in_turn() {
    let (_dir, c) = on_screen_ceremony();
    let mut e = Engine::new(&c);
    drive(&mut e, |n| matches!(n, Need::Work(Work::Split { .. })));
    e.handle(Input::WorkDone { result: json!({}) }).unwrap();
    assert_eq!(
        e.need(),
        Need::DeliverShare {
            custodian: "carol".into(),
            secret: "so-pin".into()
        }
    );
    let out_of_turn = e
        .handle(Input::ShareDelivered {
            custodian: "dave".into(),
            details: json!({}),
        })
        .unwrap_err();
    assert!(matches!(out_of_turn, EngineError::NotTheirTurn { .. }));
    for who in ["carol", "dave", "erin", "frank", "grace"] {
        let effects = e
            .handle(Input::ShareDelivered {
                custodian: who.into(),
                details: json!({ "index": 1 }),
            })
            .unwrap();
        let Effect::Record(r) = &effects[0] else {
            panic!()
        };
        assert_eq!(r.kind, "share-delivered");
        assert_eq!(r.signers, [(who.to_string(), Purpose::Confirm)]);
    }
    assert!(matches!(
        e.need(),
        Need::Confirm {
            capacity: Capacity::Witness,
            ..
        }
    ));
}

/// The root ceremony on a token initialized with the vendor's tool: both
/// PINs exist and are adopted.
fn adopting_ceremony() -> (tempfile::TempDir, Ceremony) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremonies");
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings =
        std::fs::read_to_string(repo.join("rehearsal/root-key-generation.bindings.yaml"))
            .expect("bindings")
            .replacen(
                "hsm:\n",
                "hsm:\n  token: { label: vendor }\n  existing-pins: [security-officer, user]\n",
                1,
            );
    std::fs::write(dir.path().join("b.yaml"), bindings).expect("write");
    let c = Ceremony::load(
        &repo.join("root-key-generation.yaml"),
        &dir.path().join("b.yaml"),
    )
    .expect("loads");
    (dir, c)
}

#[test]
fn an_adopting_step_asks_its_performer_for_the_existing_pin_before_the_work() {
    let (_dir, c) = adopting_ceremony();
    let mut e = Engine::new(&c);
    let init = e
        .steps()
        .iter()
        .find(|s| s.id == "init-token")
        .expect("step");
    assert_eq!(init.word, None, "adopting erases nothing: no word to type");
    assert_eq!(
        init.work,
        Some(Work::AdoptPin {
            role: crate::script::LoginRole::SecurityOfficer,
            secret: "so-pin".into()
        })
    );
    drive(&mut e, |n| matches!(n, Need::ExistingPin { .. }));
    assert_eq!(e.current().id, "init-token");
    assert_eq!(
        e.need(),
        Need::ExistingPin {
            participant: "alice".into(),
            role: crate::script::LoginRole::SecurityOfficer,
            secret: "so-pin".into(),
        }
    );
    // Only the performer types it.
    assert!(matches!(
        e.handle(Input::PinTyped {
            participant: "bob".into()
        }),
        Err(EngineError::NotTheirTurn { .. })
    ));
    let effects = e
        .handle(Input::PinTyped {
            participant: "alice".into(),
        })
        .expect("accepted");
    let logged = entries(&effects);
    assert_eq!(logged.len(), 1);
    let (kind, actor, body) = &logged[0];
    assert_eq!((kind.as_str(), actor.as_str()), ("pin-typed", "alice"));
    assert_eq!(body["role"], "SO");
    assert_eq!(body["signatures"][0]["participant"], "alice");
    assert!(matches!(e.need(), Need::Work(Work::AdoptPin { .. })));
    // The user PIN is adopted too; the rest of the ceremony is unchanged.
    let set = e
        .steps()
        .iter()
        .find(|s| s.id == "set-user-pin")
        .expect("step");
    assert!(matches!(
        set.work,
        Some(Work::AdoptPin {
            role: crate::script::LoginRole::User,
            ..
        })
    ));
}

#[test]
fn a_restart_while_adopting_recovers_the_secret_then_asks_for_the_pin_again() {
    let (_dir, c) = adopting_ceremony();
    for stop_at_work in [false, true] {
        let mut e = Engine::new(&c);
        let log = drive_keeping(&mut e, |n| match n {
            Need::ExistingPin { .. } => !stop_at_work,
            Need::Work(Work::AdoptPin { .. }) => stop_at_work,
            _ => false,
        });
        let mut resumed = replayed_for(&c, &log);
        assert_eq!(resumed.need(), e.need(), "replayed to the same point");
        resumed.restart();
        // The typed PIN and the secret it is sealed under died with the
        // process: the secret comes back from shares first.
        match resumed.need() {
            Need::Share {
                secret, recovering, ..
            } => {
                assert_eq!(secret, "so-pin");
                assert!(recovering);
            }
            other => panic!("expected a recovery, got {other:?}"),
        }
        drive(&mut resumed, |n| matches!(n, Need::ExistingPin { .. }));
        assert_eq!(resumed.current().id, "init-token");
    }
}

#[test]
fn an_adopting_ceremony_replays_to_the_same_state_at_every_point() {
    let (_dir, c) = adopting_ceremony();
    let mut live = Engine::new(&c);
    let mut log = Vec::new();
    let mut typed = 0;
    while !live.is_finished() {
        let before = log.len();
        log.extend(step_once(&mut live));
        typed += log[before..]
            .iter()
            .filter(|(k, _, _)| k == "pin-typed")
            .count();
        if log.len() > before && !live.is_finished() {
            assert_eq!(
                replayed_for(&c, &log).need(),
                live.need(),
                "after {} entries",
                log.len()
            );
        }
    }
    assert_eq!(typed, 2, "the SO PIN and the user PIN were typed");
}

/// Drives the root ceremony cooperatively until the performer of step `id`
/// is asked to confirm.
fn at_performer_of(id: &str) -> Engine {
    let mut e = Engine::new(&root_ceremony());
    for _ in 0..400 {
        if e.current().id == id
            && matches!(
                e.need(),
                Need::Confirm {
                    capacity: Capacity::Performer,
                    ..
                }
            )
        {
            return e;
        }
        step_once(&mut e);
    }
    panic!("never reached the performer of {id}");
}

fn performer(e: &Engine) -> String {
    match e.need() {
        Need::Confirm { participant, .. } => participant,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_checklist_is_confirmed_only_with_every_item_ticked_in_order() {
    let mut e = at_performer_of("open");
    let who = performer(&e);
    let items = items_to_tick(e.current().details.as_ref());
    assert!(items.len() > 2);
    let confirm = |e: &mut Engine, checks: Checks| {
        e.handle(Input::Confirmed {
            participant: who.clone(),
            typed: None,
            checks,
        })
    };
    let none = confirm(&mut e, Checks::default()).unwrap_err();
    assert!(
        matches!(&none, EngineError::NotTicked(i) if *i == items[0]),
        "{none}"
    );
    let mut missing_one = Checks::all(&items, "t");
    missing_one.ticked.pop();
    let err = confirm(&mut e, missing_one).unwrap_err();
    assert!(matches!(err, EngineError::NotTicked(_)), "{err}");
    let mut swapped = Checks::all(&items, "t");
    swapped.ticked.swap(0, 1);
    let err = confirm(&mut e, swapped).unwrap_err();
    assert!(matches!(err, EngineError::WrongTicks(_)), "{err}");
    let effects = confirm(&mut e, Checks::all(&items, "2026-12-04T12:00:00Z")).expect("ticked");
    let body = effects
        .iter()
        .find_map(|f| match f {
            Effect::Record(r) => Some(r.body.clone()),
            _ => None,
        })
        .expect("recorded");
    assert_eq!(body["ticked"].as_array().map(Vec::len), Some(items.len()));
    assert_eq!(body["ticked"][0]["item"], json!(items[0]));
    assert_eq!(body["ticked"][0]["at"], "2026-12-04T12:00:00Z");
}

#[test]
fn materials_go_out_only_with_every_new_seal_number() {
    let mut e = at_performer_of("materials-out");
    let who = performer(&e);
    let items = items_to_tick(e.current().details.as_ref());
    let mut checks = Checks::all(&items, "t");
    for i in &items[1..] {
        checks.sealed.insert(i.clone(), format!("TE-{i}"));
    }
    let err = e
        .handle(Input::Confirmed {
            participant: who.clone(),
            typed: None,
            checks: checks.clone(),
        })
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::SealMissing(m) if *m == items[0]),
        "{err}"
    );
    checks.sealed.insert(items[0].clone(), "  ".into());
    assert!(matches!(
        e.handle(Input::Confirmed {
            participant: who.clone(),
            typed: None,
            checks: checks.clone(),
        }),
        Err(EngineError::SealMissing(_))
    ));
    checks.sealed.insert(items[0].clone(), "TE-000777".into());
    let effects = e
        .handle(Input::Confirmed {
            participant: who,
            typed: None,
            checks,
        })
        .expect("sealed");
    let body = effects
        .iter()
        .find_map(|f| match f {
            Effect::Record(r) => Some(r.body.clone()),
            _ => None,
        })
        .expect("recorded");
    assert_eq!(body["sealed"][&items[0]], "TE-000777");
}
