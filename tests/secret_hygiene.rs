//! No share, PIN or secret leaves its box: after a rehearsal, none appears in
//! the transcript, the output directory (except the sealed share files), the
//! state directory (the SoftHSM2 token files) or what the run printed. And
//! the process that holds them cannot dump core.

mod ceremony_support;

use std::path::Path;

use ceremony_support::{answers, run_root};

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn no_share_or_pin_is_written_or_printed_anywhere_but_the_sealed_share_files() {
    let run = run_root(&answers());
    assert_eq!(run.code(), Some(0), "{}", run.stderr());

    let mut needles = Vec::new();
    for secret in ["so-pin", "user-pin"] {
        for custodian in ["carol", "dave", "erin", "frank", "grace"] {
            let code = run.open_share(custodian, secret).code();
            let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            needles.push(compact[3..].to_string()); // without the "kc1" prefix
            needles.push(code.to_string());
            // Every two neighbouring groups after the first two: a partial
            // leak counts. (Single 5-character groups would match hex text
            // by chance about once in a hundred runs; ten characters do not.)
            let groups: Vec<&str> = code.split_whitespace().skip(3).collect();
            needles.extend(groups.windows(2).map(|w| w.concat()));
        }
        needles.push(run.pin(secret, &["carol", "dave", "erin"]));
    }
    // Sanity: the needles are real, not empty strings that match nothing.
    assert!(needles.iter().all(|n| n.len() >= 10));

    let mut files = Vec::new();
    all_files(&run.out(), &mut files);
    all_files(&run.state(), &mut files);
    files.retain(|f| f.extension().is_none_or(|e| e != "age"));
    assert!(
        files.len() >= 3,
        "transcript, PEM and token files: {files:?}"
    );
    let mut places: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).expect("read")))
        .collect();
    places.push(("stdout".into(), run.output.stdout.clone()));
    places.push(("stderr".into(), run.output.stderr.clone()));
    for (place, bytes) in &places {
        for needle in &needles {
            assert!(
                !contains(bytes, needle),
                "a secret value appears in {place}"
            );
        }
    }
}

#[test]
fn the_process_that_holds_secrets_cannot_dump_core() {
    keyceremony::secret::harden_process().expect("hardening succeeds");
    let limits = std::fs::read_to_string("/proc/self/limits").expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core limit line");
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(fields[4..6], ["0", "0"], "{core}");
    assert!(!nix::sys::prctl::get_dumpable().expect("prctl"));
}
