//! `keyceremony lint SCRIPT [--bindings FILE]`: what a reviewer runs on a
//! script before approving it, and what `run` runs before starting.

use std::path::Path;
use std::process::ExitCode;

use keyceremony::script::{Ceremony, load_script};
use keyceremony::transcript::pgp_words;

use super::{OK, USAGE};

pub fn lint(script: &Path, bindings: Option<&Path>) -> ExitCode {
    let loaded = match bindings {
        Some(b) => Ceremony::load(script, b).map(|c| c.script),
        None => load_script(script),
    };
    match loaded {
        Ok(s) => {
            for warning in keyceremony::script::warnings(&s) {
                eprintln!("{warning}");
            }
            let v = &s.value;
            println!(
                "ok: {} — script `{}` version {}, {} steps{}",
                script.display(),
                v.id,
                v.version,
                v.steps.len(),
                bindings.map_or(String::new(), |b| format!(
                    ", bindings {} fit it",
                    b.display()
                ))
            );
            println!("script SHA-256: {}", s.sha256_hex());
            println!("in words:       {}", pgp_words(&s.sha256));
            ExitCode::from(OK)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(USAGE)
        }
    }
}
