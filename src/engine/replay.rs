//! Rebuilding the engine's state from a transcript: each entry is turned
//! back into the input that produced it. The transcript is the write-ahead
//! log; after a crash, `--resume` replays it and carries on.

use serde_json::Value;

use super::{Capacity, Engine, EngineError, Exception, Input};

impl Engine {
    /// Applies one verified transcript entry. Entries the engine did not
    /// produce (genesis, the close) are ignored; any other mismatch means
    /// the transcript does not belong to this script and bindings.
    pub fn replay(&mut self, kind: &str, actor: &str, body: &Value) -> Result<(), EngineError> {
        let text = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let step = text("step");
        if !step.is_empty() && step != self.current().id && !self.is_finished() {
            return Err(EngineError::Replay(format!(
                "a `{kind}` entry of step `{step}` arrives while step `{}` is current",
                self.current().id
            )));
        }
        let input = match kind {
            "genesis" | "close" => return Ok(()),
            "resume" => {
                self.restart();
                return Ok(());
            }
            // Recorded by `restart` itself, which the preceding resume entry
            // already replayed; and the runner's own reconciliation.
            "interrupted" | "reconcile" => return Ok(()),
            // The runner's record of the ceremony this one continues, and
            // of work it is about to start (what a redo may clean up).
            "original-ceremony" | "work-started" => return Ok(()),
            "sign-in" => Input::SignedIn {
                participant: actor.into(),
            },
            "identity-check" => Input::Identified {
                participant: actor.into(),
            },
            "confirm" => {
                let capacity = Engine::capacity(&text("as")).ok_or_else(|| {
                    EngineError::Replay(format!("unknown capacity `{}`", text("as")))
                })?;
                let typed = body.get("typed").and_then(Value::as_str).map(String::from);
                debug_assert!(matches!(
                    capacity,
                    Capacity::Performer | Capacity::Witness | Capacity::ExceptionWitness
                ));
                Input::Confirmed {
                    participant: actor.into(),
                    typed,
                    checks: super::Checks::from_body(body),
                }
            }
            "share-presented" => Input::SharePresented {
                custodian: actor.into(),
                details: Value::Null,
            },
            "share-delivered" => Input::ShareDelivered {
                custodian: actor.into(),
                details: Value::Null,
            },
            "pin-typed" => Input::PinTyped {
                participant: actor.into(),
            },
            "share-rejected" => Input::ShareRejected {
                custodian: actor.into(),
                reason: text("reason"),
            },
            "step-failed" => Input::WorkFailed {
                error: text("error"),
            },
            "attestation" => Input::Attested {
                participant: actor.into(),
            },
            "exception" => Input::Exception {
                by: actor.into(),
                exception: Exception {
                    expected: text("expected"),
                    happened: text("happened"),
                    decision: text("decision"),
                },
            },
            "retry" => Input::Retry { by: actor.into() },
            "abort" => Input::Abort {
                by: (actor != "keyceremony").then(|| actor.to_string()),
                reason: text("reason"),
            },
            // Every other kind is the result of a step's (or a recovery's)
            // work.
            _ => Input::WorkDone {
                result: body.clone(),
            },
        };
        self.handle(input).map(|_| ())
    }
}
