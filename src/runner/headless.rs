//! The headless runner: answers each need of the engine from the answers
//! file, prints one line per step, and returns the outcome. It drives the
//! same `Session` as the terminal UI.

use std::io::Write;

use super::{Answers, KeySource, RunError, Session, ShareInput};
use crate::engine::{
    Capacity, Checks, Exception, Need, Outcome, StepStatus, items_to_tick, seals_materials,
};

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
                    &key_of(answers, &admin)?,
                )?;
                let _ = writeln!(log, "    exception recorded by {admin}");
            }
            if let Some(abort) = answers.abort_at(&step.id) {
                if !session.engine().is_signed_in(&abort.by) {
                    sign_in(session, answers, &abort.by)?;
                }
                let key = key_of(answers, &abort.by)?;
                session.abort(Some((&abort.by, &key)), &abort.reason)?;
                continue;
            }
        }
        match session.need() {
            Need::SignIn { participant, .. } => sign_in(session, answers, &participant)?,
            Need::Identify { participant, .. } => {
                session.identify(&participant, &key_of(answers, &participant)?)?;
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
                if capacity == Capacity::Witness {
                    // What the witness compares before confirming: the
                    // same values the screen shows.
                    for line in super::compare::lines(&super::compare::current(session)) {
                        let _ = writeln!(log, "    {line}");
                    }
                }
                let checks = performers_checks(answers, &step, capacity)?;
                for (item, _) in &checks.ticked {
                    let _ = writeln!(log, "    ☑ {}", crate::shown::shown(item));
                }
                for (id, number) in &checks.sealed {
                    let _ = writeln!(
                        log,
                        "    sealed: {id} under {}",
                        crate::shown::shown(number)
                    );
                }
                session.confirm(&participant, typed, checks, &key_of(answers, &participant)?)?;
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
                // A typed code (the paper copy) when the answers name one,
                // else the sealed share file.
                let input = match answers.share_code(&step.id, &custodian) {
                    Some(code) => ShareInput::Code(code.map_err(RunError::Answers)?),
                    None => ShareInput::SealedFile(
                        answers
                            .share_file(&step.id, &custodian)
                            .map_or_else(|| session.share_file(&custodian, &secret), Ok)?,
                    ),
                };
                let key = key_of(answers, &custodian)?;
                match session.present_share(&custodian, input, &key) {
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
                let file = session.share_file(&custodian, &secret)?;
                let key = key_of(answers, &custodian)?;
                session.prove_copy(&custodian, ShareInput::SealedFile(file), &key)?;
                let _ = writeln!(log, "    {custodian} proved their copy");
            }
            Need::ExistingPin {
                participant, role, ..
            } => {
                let pin = answers.existing_pin(role).map_err(RunError::Answers)?;
                session.type_existing_pin(&participant, pin, &key_of(answers, &participant)?)?;
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
                session.attest(&participant, &key_of(answers, &participant)?)?;
                let _ = writeln!(log, "    attested by {participant}");
            }
            Need::Cosign { participant } => {
                session.cosign(&participant, &key_of(answers, &participant)?)?;
                let _ = writeln!(log, "    checkpoint cosigned by {participant}");
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
    match admin {
        Some(a) => session.abort(Some((&a, &key_of(answers, &a)?)), reason),
        None => session.abort(None, reason),
    }
}

fn administrator(session: &Session) -> String {
    session
        .ceremony()
        .holders(crate::script::Role::Administrator)
        .first()
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

/// Each act's key, from the answers file: with no one at the keyboard,
/// the file stands for the person presenting their key for that act.
fn key_of(answers: &Answers, participant: &str) -> Result<KeySource, RunError> {
    answers.identity(participant).map(KeySource::File).ok_or_else(|| {
        RunError::Answers(format!(
            "{participant} must act, but the answers file gives no key file for them under `identities:`"
        ))
    })
}

fn sign_in(session: &mut Session, answers: &Answers, participant: &str) -> Result<(), RunError> {
    session.sign_in(participant, &key_of(answers, participant)?)
}

/// The performer of a headless run ticks every item of a checklist or a
/// materials check, and gives the new seal numbers the answers file lists
/// for a materials check going out.
fn performers_checks(
    answers: &Answers,
    step: &crate::engine::StepPlan,
    capacity: Capacity,
) -> Result<Checks, RunError> {
    if capacity != Capacity::Performer {
        return Ok(Checks::default());
    }
    let details = step.details.as_ref();
    let items = items_to_tick(details);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut checks = Checks::all(&items, &now);
    if seals_materials(details) {
        for id in &items {
            let number = answers.seal(&step.id, id).ok_or_else(|| {
                RunError::Answers(format!(
                    "step `{}` takes the number of each new seal: add `{}: {{ {id}: <number> }}` under `seals:` in the answers file",
                    step.id, step.id
                ))
            })?;
            checks.sealed.insert(id.clone(), number);
        }
    }
    Ok(checks)
}
