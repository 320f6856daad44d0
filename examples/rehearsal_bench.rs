//! How long a headless rehearsal of the root ceremony takes, split into the
//! HSM's key generation and everything else (the tool's own cost: engine,
//! signatures, transcript fsyncs, share sealing, PIN derivation).
//!
//!     cargo run --release --example rehearsal_bench [RUNS]
//!
//! Target (issue 6): under 2 s of wall time beyond key generation.

use std::path::Path;
use std::time::{Duration, Instant};

use keyceremony::engine::Outcome;
use keyceremony::runner::{self, Answers, Session};
use keyceremony::script::Ceremony;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = repo.join("ceremonies/root-key-generation.yaml");
    let bindings = repo.join("ceremonies/rehearsal/root-key-generation.bindings.yaml");
    let answers_path = repo.join("ceremonies/rehearsal/root-key-generation.answers.yaml");
    let state = tempfile::tempdir().expect("tempdir");

    // The embedded SoftHSM2 reads SOFTHSM2_CONF once per process: every run
    // shares one state directory (each initializes its own new token).
    let first = Ceremony::load(&script, &bindings).expect("valid ceremony");
    let hsm = runner::prepare_hsm(&first, state.path()).expect("SoftHSM2 is installed");
    // SAFETY: single-threaded here; no thread has been started yet.
    unsafe {
        std::env::set_var(
            "SOFTHSM2_CONF",
            hsm.softhsm_conf.as_ref().expect("embedded"),
        )
    };

    let mut rows = Vec::new();
    for i in 0..runs {
        // A fresh token label per run: the script refuses a second `root-ca`.
        let text = std::fs::read_to_string(&script).expect("script");
        let script_i = state.path().join(format!("script-{i}.yaml"));
        std::fs::write(
            &script_i,
            text.replace("label: root-ca }", &format!("label: root-ca-{i} }}")),
        )
        .expect("write");
        let ceremony = Ceremony::load(&script_i, &bindings).expect("valid ceremony");
        let answers = Answers::load(&answers_path, "root-key-generation").expect("answers");
        let out = state.path().join(format!("out-{i}"));
        let started = Instant::now();
        let mut session = Session::start(ceremony, &hsm, &out).expect("starts");
        let outcome =
            runner::headless::run(&mut session, &answers, &mut std::io::sink()).expect("runs");
        let total = started.elapsed();
        assert_eq!(outcome, Outcome::Completed);
        let keygen: Duration = session
            .work_durations()
            .iter()
            .filter(|(what, _)| what.starts_with("generating ") && what.contains("key"))
            .map(|(_, d)| *d)
            .sum();
        let hsm_total: Duration = session.work_durations().iter().map(|(_, d)| *d).sum();
        rows.push((total, keygen, hsm_total));
    }
    println!("headless root-key rehearsal, {runs} runs (embedded SoftHSM2, EC P-384)");
    println!(
        "{:>4} {:>10} {:>10} {:>12} {:>14}",
        "run", "total", "keygen", "all HSM work", "beyond keygen"
    );
    for (i, (total, keygen, hsm_total)) in rows.iter().enumerate() {
        println!(
            "{:>4} {:>8.0}ms {:>8.0}ms {:>10.0}ms {:>12.0}ms",
            i + 1,
            total.as_secs_f64() * 1e3,
            keygen.as_secs_f64() * 1e3,
            hsm_total.as_secs_f64() * 1e3,
            (*total - *keygen).as_secs_f64() * 1e3
        );
    }
    let worst = rows
        .iter()
        .map(|(t, k, _)| *t - *k)
        .max()
        .unwrap_or_default();
    println!(
        "worst time beyond key generation: {:.0} ms (target: under 2000 ms) — {}",
        worst.as_secs_f64() * 1e3,
        if worst < Duration::from_secs(2) {
            "MET"
        } else {
            "MISSED"
        }
    );
}
