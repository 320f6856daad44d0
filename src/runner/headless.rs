//! The headless runner: answers each need of the engine from the answers
//! file, prints one line per step, and returns the outcome. It drives the
//! same `Session` as the terminal UI.

use std::io::Write;

use super::{Answers, RunError, Session, ShareInput};
use crate::engine::{Capacity, Exception, Need, Outcome, StepStatus};

/// Runs the ceremony to its end. Progress goes to `log` (never a secret).
pub fn run(
    session: &mut Session,
    answers: &Answers,
    log: &mut dyn Write,
) -> Result<Outcome, RunError> {
    let mut announced = usize::MAX;
    loop {
        let step = session.engine().current().clone();
        if announced != step.number && !session.engine().is_finished() {
            announced = step.number;
            let _ = writeln!(
                log,
                "[{}/{}] {}: {}",
                step.number,
                session.engine().steps().len(),
                step.id,
                step.title
            );
            if let Some(e) = answers.exception_at(&step.id) {
                let admin = administrator(session);
                if !session.engine().is_signed_in(&admin) {
                    sign_in(session, answers, &admin)?;
                }
                session.record_exception(
                    &admin,
                    Exception {
                        expected: e.expected.clone(),
                        happened: e.happened.clone(),
                        decision: e.decision.clone(),
                    },
                )?;
                let _ = writeln!(log, "    exception recorded by {admin}");
            }
            if let Some(abort) = answers.abort_at(&step.id) {
                if !session.engine().is_signed_in(&abort.by) {
                    sign_in(session, answers, &abort.by)?;
                }
                session.abort(Some(&abort.by), &abort.reason)?;
                continue;
            }
        }
        match session.need() {
            Need::SignIn { participant, .. } => sign_in(session, answers, &participant)?,
            Need::Identify { participant, .. } => {
                let key = key_file(answers, &participant)?;
                session.identify(&participant, &key)?;
                let _ = writeln!(log, "    identity of {participant} checked");
            }
            Need::Confirm {
                participant,
                capacity,
                word,
            } => {
                let typed = match word {
                    Some(_) => Some(answers.word(&step.id).ok_or_else(|| {
                        RunError::Answers(format!(
                            "step `{}` needs a typed confirmation: add `{}: <word>` under `confirm:` in the answers file",
                            step.id, step.id
                        ))
                    })?),
                    None => None,
                };
                session.confirm(&participant, typed)?;
                if capacity == Capacity::Witness {
                    let _ = writeln!(log, "    witnessed by {participant}");
                }
            }
            Need::Share {
                secret,
                presented,
                recovering,
                ..
            } => {
                let listed = if recovering {
                    answers.recovery_custodians(&secret)
                } else {
                    answers.custodians(&step.id)
                };
                let custodian = listed
                    .iter()
                    .find(|c| !presented.contains(c))
                    .cloned()
                    .ok_or_else(|| {
                        RunError::Answers(format!(
                            "step `{}` needs more custodians: list them under `shares: {{{}: [...]}}` in the answers file",
                            step.id, step.id
                        ))
                    })?;
                if !session.engine().is_signed_in(&custodian) {
                    sign_in(session, answers, &custodian)?;
                }
                let file = answers
                    .share_file(&step.id, &custodian)
                    .unwrap_or_else(|| session.share_file(&custodian, &secret));
                match session.present_share(&custodian, ShareInput::SealedFile(file)) {
                    Ok(()) => {
                        let _ = writeln!(log, "    share presented by {custodian}");
                    }
                    // In a room the custodian would look again; with no one
                    // to ask, the refusal (already recorded) ends the run.
                    Err(RunError::Refused(reason)) => {
                        let _ = writeln!(log, "    REFUSED: {reason}");
                        abort_as_administrator(
                            session,
                            answers,
                            &format!("a share was refused: {reason}"),
                        )?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Need::DeliverShare { custodian, secret } => {
                // No screen: the custodian proves the copy in their share file.
                let file = session.share_file(&custodian, &secret);
                session.prove_copy(&custodian, ShareInput::SealedFile(file))?;
                let _ = writeln!(log, "    {custodian} proved their copy");
            }
            Need::ExistingPin {
                participant, role, ..
            } => {
                let pin = answers.existing_pin(role).map_err(RunError::Answers)?;
                session.type_existing_pin(&participant, pin)?;
                let _ = writeln!(
                    log,
                    "    {participant} typed the existing {} PIN",
                    crate::engine::login_name(role)
                );
            }
            Need::Work(work) => {
                let _ = writeln!(log, "    {} ...", work.describe());
                session.wait()?;
            }
            Need::Attest { participant } => {
                session.attest(&participant)?;
                let _ = writeln!(log, "    attested by {participant}");
            }
            Need::Failed { error, .. } => {
                let _ = writeln!(log, "    FAILED: {error}");
                abort_as_administrator(
                    session,
                    answers,
                    &format!("step `{}` failed: {error}", step.id),
                )?;
            }
            Need::Finished(outcome) => {
                debug_assert!(
                    (0..session.engine().steps().len())
                        .all(|i| session.engine().status(i) != StepStatus::Current)
                );
                return Ok(outcome);
            }
        }
    }
}

fn abort_as_administrator(
    session: &mut Session,
    answers: &Answers,
    reason: &str,
) -> Result<(), RunError> {
    let admin = session
        .ceremony()
        .holders(crate::script::Role::Administrator)
        .first()
        .map(|p| p.name.clone());
    if let Some(a) = &admin
        && !session.engine().is_signed_in(a)
    {
        sign_in(session, answers, a)?;
    }
    session.abort(admin.as_deref(), reason)
}

fn administrator(session: &Session) -> String {
    session
        .ceremony()
        .holders(crate::script::Role::Administrator)
        .first()
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

fn key_file(answers: &Answers, participant: &str) -> Result<std::path::PathBuf, RunError> {
    answers.identity(participant).ok_or_else(|| {
        RunError::Answers(format!(
            "{participant} must identify, but the answers file gives no key file for them under `identities:`"
        ))
    })
}

fn sign_in(session: &mut Session, answers: &Answers, participant: &str) -> Result<(), RunError> {
    let key = key_file(answers, participant)?;
    session.sign_in(participant, &key)
}
