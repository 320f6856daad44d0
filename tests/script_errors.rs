//! A broken script stops `run` with `file:line:column: what is wrong`, exit
//! 2, before any HSM call: no SoftHSM2 configuration is written, no
//! transcript is created. Golden cases: the exact line a reviewer sees.

mod ceremony_support;

use ceremony_support::{answers, bindings, keyceremony, script};

/// Writes `script` with `edit` applied and runs it headless; returns the
/// exit code and stderr with the temporary path replaced by `SCRIPT`.
fn run_broken(edit: impl Fn(&str) -> String) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read_to_string(script()).expect("script");
    let broken = edit(&original);
    assert_ne!(broken, original, "the edit must change the script");
    let path = dir.path().join("script.yaml");
    std::fs::write(&path, broken).expect("write");
    let state = dir.path().join("state");
    let out = dir.path().join("out");
    let output = keyceremony()
        .arg("run")
        .arg(&path)
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(&state)
        .arg("--out")
        .arg(&out)
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs");
    assert!(
        !state.exists(),
        "no HSM configuration before the script is valid"
    );
    assert!(!out.exists(), "no transcript for an invalid script");
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(path.to_str().expect("utf-8"), "SCRIPT");
    (output.status.code(), stderr)
}

/// The 1-based line of the first occurrence of `needle` in the script.
fn line_of(needle: &str) -> usize {
    let text = std::fs::read_to_string(script()).expect("script");
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` is in the script"))
}

/// The 0-based index of step `id` in the shipped script.
fn step_index(id: &str) -> usize {
    keyceremony::script::load_script(&script())
        .expect("valid")
        .value
        .steps
        .iter()
        .position(|s| s.id == id)
        .unwrap_or_else(|| panic!("step {id}"))
}

#[test]
fn bad_yaml_names_the_line() {
    let (code, err) =
        run_broken(|s| s.replace("title: Check the HSM's identity", "title: \"unterminated"));
    assert_eq!(code, Some(2));
    assert!(err.starts_with("SCRIPT:"), "{err}");
    let line = line_of("title: Check the HSM's identity");
    assert!(err.contains("while scanning a quoted scalar"), "{err}");
    assert!(
        err.contains(&format!("at line {line} column 12")),
        "names where the quote began: {err}"
    );
}

#[test]
fn an_unknown_field_is_named_at_its_position() {
    let line = line_of("    split-secret: { secret: so-pin }");
    let (code, err) = run_broken(|s| {
        s.replace(
            "    split-secret: { secret: so-pin }",
            "    split-secrets: { secret: so-pin }",
        )
    });
    assert_eq!(code, Some(2));
    let expected = format!(
        "SCRIPT:{line}:5: steps[{}]: unknown field `split-secrets`",
        step_index("split-so-pin")
    );
    assert!(
        err.starts_with(&expected),
        "expected `{expected}...`, got: {err}"
    );
}

#[test]
fn a_missing_field_is_named_with_its_step() {
    let (code, err) = run_broken(|s| s.replacen("    title: Check the HSM's identity\n", "", 1));
    assert_eq!(code, Some(2));
    let line = line_of("  - id: check-hsm");
    let expected = format!(
        "SCRIPT:{line}:5: steps[{}]: missing field `title`",
        step_index("check-hsm")
    );
    assert!(
        err.starts_with(&expected),
        "expected `{expected}`, got: {err}"
    );
}

#[test]
fn a_wrong_value_type_is_named() {
    let (code, err) =
        run_broken(|s| s.replace("count: 5, threshold: 3", "count: five, threshold: 3"));
    assert_eq!(code, Some(2));
    let line = line_of("count: 5, threshold: 3");
    assert!(
        err.starts_with(&format!("SCRIPT:{line}:"))
            && err.contains("roles.custodian.count: invalid type"),
        "{err}"
    );
}

#[test]
fn a_secret_used_before_it_is_split_is_named_at_the_reference() {
    let (code, err) = run_broken(|s| {
        s.replace(
            "init-token: { so-pin: so-pin,",
            "init-token: { so-pin: user-pin,",
        )
    });
    assert_eq!(code, Some(2));
    let line = line_of("init-token: { so-pin: so-pin,");
    let expected = format!(
        "SCRIPT:{line}:27: step {} `init-token`: secret `user-pin` is used before a split-secret step creates it",
        step_index("init-token") + 1
    );
    assert!(
        err.starts_with(&expected),
        "expected `{expected}`, got: {err}"
    );
}

#[test]
fn a_threshold_of_one_is_refused_at_lint_time() {
    let (code, err) = run_broken(|s| s.replace("threshold: 3", "threshold: 1"));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("threshold 1: a threshold below 2 puts the whole secret in every share"),
        "{err}"
    );
}

#[test]
fn the_shipped_files_pass_the_checks() {
    keyceremony::script::Ceremony::load(&script(), &bindings())
        .expect("the shipped script and bindings are valid");
}

/// Attack: a key label with `../` made the run write the public key and
/// the backup blob outside `--out`. The run refuses the script before any
/// HSM call, and nothing appears outside.
#[test]
fn a_key_label_cannot_write_outside_out() {
    let label = "../../../escaped-by-label";
    let (code, err) = run_broken(|s| s.replace("root-ca-key", label));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("key label `{label}` cannot be a file name")),
        "{err}"
    );
    let outside = std::env::temp_dir().join("escaped-by-label.pub.pem");
    assert!(!outside.exists(), "{} was written", outside.display());
}
