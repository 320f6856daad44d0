//! Crash points for the crash-recovery tests, driven by environment
//! variables that nothing but those tests sets. Each kills this very process
//! with SIGKILL — the power cut the tests simulate — and does nothing when
//! its variable is absent.
//!
//! - `KEYCEREMONY_TEST_CRASH_AFTER_ENTRY=N`: right after entry N (its seq)
//!   is written and fsynced.
//! - `KEYCEREMONY_TEST_CRASH_IN_WORK=<step kind>`: on the HSM worker, after
//!   that kind of work succeeded on the token and before its result is
//!   recorded (e.g. `generate-key`: the key exists, the transcript does not
//!   know it).
//! - `KEYCEREMONY_TEST_SLOW_WORK=<step kind>:<ms>`: that kind of work takes
//!   `ms` longer on the worker (the UI tests press keys meanwhile).

use crate::engine::Work;
use crate::runner::jobs::Job;

fn kill_self() -> ! {
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    // SIGKILL cannot be caught; this is not reached.
    std::process::abort()
}

pub(super) fn crash_after_entry(seq: u64) {
    if std::env::var("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY").ok() == Some(seq.to_string()) {
        kill_self();
    }
}

fn kind(work: &Work) -> &'static str {
    match work {
        Work::CheckHsm => "check-hsm",
        Work::Split { .. } => "split-secret",
        Work::InitToken { .. } => "init-token",
        Work::Recombine { .. } => "recombine",
        Work::SetUserPin { .. } => "set-user-pin",
        Work::AdoptPin { .. } => "adopt-pin",
        Work::GenerateKey { .. } => "generate-key",
        Work::ExportPublicKey { .. } => "export-public-key",
        Work::ListObjects { .. } => "list-objects",
        Work::ImportKek { .. } => "import-kek",
        Work::BackupKey { .. } => "backup-key",
        Work::RestoreKey { .. } => "restore-key",
        Work::Reshare { .. } => "reshare",
        Work::Sign { kind, .. } => kind,
        Work::SignChallenge { .. } => "sign-challenge",
        Work::Identify { .. } => "identity-check",
        Work::Attest { .. } => "attest",
        Work::Close => "close",
    }
}

pub(super) fn crash_in_work(work: &Work, job: Job) -> Job {
    if std::env::var("KEYCEREMONY_TEST_CRASH_IN_WORK")
        .ok()
        .as_deref()
        != Some(kind(work))
    {
        return job;
    }
    Box::new(move |state| {
        let result = job(state);
        if result.is_ok() {
            kill_self();
        }
        result
    })
}

pub(super) fn slow_work(work: &Work, job: Job) -> Job {
    let Some(delay) = std::env::var("KEYCEREMONY_TEST_SLOW_WORK")
        .ok()
        .and_then(|v| {
            let (kind_name, ms) = v.split_once(':')?;
            (kind_name == kind(work)).then(|| ms.parse::<u64>().ok())?
        })
    else {
        return job;
    };
    Box::new(move |state| {
        let result = job(state);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        result
    })
}
