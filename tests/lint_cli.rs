//! `keyceremony lint`: one golden case per kind of script or bindings error,
//! each reported as `file:line:column: what is wrong` with exit 2; every
//! shipped script passes. Separation of duties is checked here too.

mod ceremony_support;

use std::path::{Path, PathBuf};

use ceremony_support::{bindings, demo_key, keyceremony, repo, script, write_answers};

/// Runs `lint` on edited copies of the shipped script and bindings; returns
/// (exit code, stderr with the temporary paths replaced by SCRIPT/BINDINGS).
fn lint(
    edit_script: impl Fn(&str) -> String,
    edit_bindings: impl Fn(&str) -> String,
) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = dir.path().join("script.yaml");
    let b = dir.path().join("bindings.yaml");
    std::fs::write(&s, edit_script(&read(&script()))).expect("write");
    // Key paths in the bindings are relative to the bindings file.
    let keys = repo().join("ceremonies/rehearsal/keys");
    let text =
        read(&bindings()).replace("key-file: keys/", &format!("key-file: {}/", keys.display()));
    std::fs::write(&b, edit_bindings(&text)).expect("write");
    let out = keyceremony()
        .arg("lint")
        .arg(&s)
        .arg("--bindings")
        .arg(&b)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr)
        .replace(s.to_str().expect("utf-8"), "SCRIPT")
        .replace(b.to_str().expect("utf-8"), "BINDINGS");
    (out.status.code().expect("code"), err)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).expect("read")
}

fn same(s: &str) -> String {
    s.to_string()
}

/// 1-based line of the first line containing `needle` in `text`.
fn line_in(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("`{needle}` not found"))
}

fn script_line(needle: &str) -> usize {
    line_in(&read(&script()), needle)
}

fn expect(result: (i32, String), expected: &str) {
    let (code, err) = result;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.lines().any(|l| l == expected),
        "expected the line\n  {expected}\ngot:\n{err}"
    );
}

#[test]
fn every_shipped_script_passes_with_its_rehearsal_bindings() {
    let dir = repo().join("ceremonies");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("ceremonies/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let stem = path
                .file_stem()
                .expect("stem")
                .to_str()
                .expect("utf-8")
                .to_string();
            let b = dir.join("rehearsal").join(format!("{stem}.bindings.yaml"));
            let out = keyceremony()
                .arg("lint")
                .arg(&path)
                .arg("--bindings")
                .arg(&b)
                .output()
                .expect("runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("script SHA-256:"));
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn a_duplicate_step_id() {
    let line = script_line("  - id: export-public-key");
    expect(
        lint(
            |s| s.replace("  - id: export-public-key", "  - id: generate-root-key"),
            same,
        ),
        &format!("SCRIPT:{line}:9: step id `generate-root-key` is used twice"),
    );
}

#[test]
fn an_unknown_role() {
    let line = script_line("    performer: administrator");
    let (code, err) = lint(
        |s| s.replacen("    performer: administrator", "    performer: notary", 1),
        same,
    );
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!(
            "SCRIPT:{line}:16: steps[0].performer: unknown variant `notary`"
        )),
        "{err}"
    );
}

#[test]
fn the_administrator_cannot_witness() {
    let text = read(&script());
    let at = text.find("  - id: check-hsm").expect("step");
    let edited = |s: &str| {
        let (head, tail) = s.split_at(at);
        format!(
            "{head}{}",
            tail.replacen("    witness: witness", "    witness: administrator", 1)
        )
    };
    let line = line_in(&edited(&text), "    witness: administrator");
    expect(
        lint(edited, same),
        &format!(
            "SCRIPT:{line}:14: step 4 `check-hsm`: the administrator cannot witness their own step"
        ),
    );
}

#[test]
fn a_threshold_above_the_number_of_custodians() {
    let line = script_line("custodian: { count: 5, threshold: 3 }");
    expect(
        lint(
            |s| s.replace("count: 5, threshold: 3", "count: 5, threshold: 6"),
            same,
        ),
        &format!(
            "SCRIPT:{line}:37: threshold 6 is more than the 5 custodians: the secret could never be recovered"
        ),
    );
}

#[test]
fn a_key_spec_whose_usage_does_not_fit_its_algorithm() {
    let line = script_line("      usage: sign");
    let (code, err) = lint(
        |s| s.replace("      algorithm: ec-p384", "      algorithm: aes-256"),
        same,
    );
    assert_eq!(code, 2);
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("SCRIPT:{line}:14: step "))
                && l.ends_with("cannot be used to sign")),
        "{err}"
    );
}

#[test]
fn close_must_be_last() {
    let (code, err) = lint(
        |s| {
            format!(
                "{s}\n  - id: after\n    title: After the close\n    performer: administrator\n    witness: witness\n"
            )
        },
        same,
    );
    assert_eq!(code, 2);
    assert!(err.contains("close must be the last step"), "{err}");
}

#[test]
fn bindings_for_another_script() {
    let text = read(&bindings());
    let line = line_in(&text, "script: root-key-generation");
    expect(
        lint(same, |b| {
            b.replace("script: root-key-generation", "script: dr-restore")
        }),
        &format!(
            "BINDINGS:{line}:9: these bindings are for script `dr-restore`, not `root-key-generation`"
        ),
    );
}

#[test]
fn one_person_cannot_be_administrator_and_witness() {
    let (code, err) = lint(same, |b| {
        b.replacen("  - name: bob\n", "  - name: alice\n", 1)
    });
    assert_eq!(code, 2);
    assert!(
        err.contains("`alice` appears twice: one person holds one role"),
        "{err}"
    );
}

#[test]
fn one_key_cannot_hold_two_roles() {
    let text = read(&bindings());
    let alice_key = text
        .lines()
        .find(|l| l.contains("DEMO-ONLY-alice"))
        .expect("alice's key")
        .to_string();
    let bob_key = text
        .lines()
        .find(|l| l.contains("DEMO-ONLY-bob"))
        .expect("bob's key")
        .to_string();
    let (code, err) = lint(same, move |b| b.replace(&bob_key, &alice_key));
    assert_eq!(code, 2);
    assert!(err.contains("bob has the same key as alice"), "{err}");
}

#[test]
fn fewer_custodians_than_the_script_needs() {
    let (code, err) = lint(same, |b| {
        let at = b.find("  - name: grace").expect("grace");
        let end = b[at..].find("  - name: heidi").expect("heidi") + at;
        format!("{}{}", &b[..at], &b[end..])
    });
    assert_eq!(code, 2);
    assert!(
        err.contains("the script needs 5 custodian(s); the roster has 4"),
        "{err}"
    );
}

#[test]
fn a_material_without_its_number() {
    let (code, err) = lint(same, |b| {
        b.replace("  hsm-bag: \"REHEARSAL-BAG-0001\"\n", "")
    });
    assert_eq!(code, 2);
    assert!(err.contains("give its number under `materials`"), "{err}");
}

#[test]
fn production_refuses_softhsm_and_demo_identities() {
    let (code, err) = lint(same, |b| {
        b.replace("mode: rehearsal", "mode: production").replace(
            "hsm:\n",
            "hsm:\n  module: /usr/lib/softhsm/libsofthsm2.so\n",
        )
    });
    assert_eq!(code, 2);
    assert!(err.contains("production mode refuses SoftHSM2"), "{err}");
    assert!(err.contains("alice has a DEMO-ONLY rehearsal key"), "{err}");
}

#[test]
fn production_without_a_module_is_refused() {
    let (code, err) = lint(same, |b| b.replace("mode: rehearsal", "mode: production"));
    assert_eq!(code, 2);
    assert!(err.contains("production mode needs a real HSM"), "{err}");
}

/// A headless run whose answers give a participant a key that is not
/// theirs stops before the ceremony starts (no transcript).
#[test]
fn a_key_outside_the_roster_is_refused_before_anything_happens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let answers = write_answers(dir.path(), "");
    let text = read(&answers).replace(
        &format!("carol: {}", demo_key("carol").display()),
        &format!("carol: {}", demo_key("dave").display()),
    );
    std::fs::write(&answers, text).expect("write");
    let out_dir: PathBuf = dir.path().join("out");
    let out = keyceremony()
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(&out_dir)
        .arg("--headless")
        .arg("--answers")
        .arg(&answers)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not carol's roster key"), "{err}");
    assert!(!out_dir.exists(), "no transcript for refused answers");
}

#[test]
fn no_hsm_work_before_the_hsm_is_checked() {
    let (code, err) = lint(
        |s| {
            let at = s.find("  - id: check-hsm").expect("step");
            let end = s[at..].find("  - id: split-so-pin").expect("next") + at;
            format!("{}{}", &s[..at], &s[end..])
        },
        same,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("`split-so-pin`: a check-hsm step must come first"),
        "{err}"
    );
}

/// `key-usage` under the root certificate's profile: a usage a CA must not
/// carry is named with its step and field before anything runs.
#[test]
fn a_forbidden_key_usage_in_a_certificate_profile() {
    let edited = |s: &str| {
        s.replace(
            "        path-length: 1\n",
            "        path-length: 1\n        key-usage: [cert-sign, key-encipherment]\n",
        )
    };
    let line = line_in(&edited(&read(&script())), "key-usage: [cert-sign");
    expect(
        lint(edited, same),
        &format!(
            "SCRIPT:{line}:20: step 13 `root-certificate`: profile.key-usage: key-encipherment is not allowed in a CA certificate (allowed: cert-sign, crl-sign, digital-signature)"
        ),
    );
}

/// The same check under a sign-csr step's policy, on the intermediate
/// ceremony linted alone (its bindings need an original transcript).
#[test]
fn a_forbidden_key_usage_in_a_csr_policy() {
    let text = read(&repo().join("ceremonies/intermediate-ca.yaml"));
    let edited = text.replace(
        "          path-length: 0\n",
        "          path-length: 0\n          key-usage: [data-encipherment, cert-sign]\n",
    );
    let line = line_in(&edited, "key-usage: [data-encipherment");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = dir.path().join("script.yaml");
    std::fs::write(&s, edited).expect("write");
    let out = keyceremony().arg("lint").arg(&s).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).replace(s.to_str().expect("utf-8"), "SCRIPT");
    expect(
        (out.status.code().expect("code"), err),
        &format!(
            "SCRIPT:{line}:22: step 5 `sign-intermediate`: profile.key-usage: data-encipherment is not allowed in a CA certificate (allowed: cert-sign, crl-sign, digital-signature)"
        ),
    );
}

/// A CRL step after a root certificate made without crl-sign is refused at
/// the CRL step; with the default usages the same script passes.
#[test]
fn a_crl_by_a_certificate_without_crl_sign() {
    let with_crl = |s: &str| {
        s.replace(
            "  - id: inventory\n",
            "  - id: root-crl\n    title: Sign the root CA's CRL\n    performer: administrator\n    \
             witness: witness\n    crl:\n      key: root-ca-key\n      user-pin: user-pin\n      \
             profile: { number: 1, next-update-days: 90 }\n\n  - id: inventory\n",
        )
    };
    let (code, err) = lint(with_crl, same);
    assert_eq!(code, 0, "the added CRL step is valid by itself: {err}");

    let without_crl_sign = |s: &str| {
        with_crl(s).replace(
            "        path-length: 1\n",
            "        path-length: 1\n        key-usage: [cert-sign]\n",
        )
    };
    let text = without_crl_sign(&read(&script()));
    let step = text.find("  - id: root-crl").expect("the added step");
    let key = text[step..]
        .find("      key: root-ca-key")
        .expect("its key")
        + step;
    let line = text[..key].lines().count() + 1;
    expect(
        lint(without_crl_sign, same),
        &format!(
            "SCRIPT:{line}:12: step 14 `root-crl`: the certificate step `root-certificate` made for `root-ca-key` has no crl-sign in its profile.key-usage, so it cannot sign CRLs"
        ),
    );
}

/// Regression: any non-AES key passed as a signing key, so a root
/// certificate over an RSA encryption key (CKA_SIGN false) was accepted by
/// lint and failed only after the key was made.
#[test]
fn a_certificate_over_an_encryption_key_is_refused() {
    let edited = |s: &str| {
        s.replace(
            "      algorithm: ec-p384\n      usage: sign\n",
            "      algorithm: rsa-3072\n      usage: encrypt\n",
        )
    };
    assert!(edited(&read(&script())).contains("usage: encrypt"));
    let (code, err) = lint(edited, same);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "step 13 `root-certificate`: no earlier step makes a signing key `root-ca-key`"
        ),
        "{err}"
    );
}

#[test]
fn a_key_step_with_a_pin_no_set_user_pin_installed() {
    let edited = |s: &str| {
        s.replace(
            "export-public-key: { label: root-ca-key, user-pin: user-pin }",
            "export-public-key: { label: root-ca-key, user-pin: so-pin }",
        )
    };
    let line = line_in(&edited(&read(&script())), "user-pin: so-pin }");
    let (code, err) = lint(edited, same);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "SCRIPT:{line}:56: step 11 `export-public-key`: `so-pin` is not the user PIN an earlier set-user-pin step installed"
        )),
        "{err}"
    );
}

/// Regression: an adopt-only set-user-pin could name the SO PIN's secret,
/// so one secret sealed both PINs; a later SO login then opened the user
/// PIN and spent one of the token's SO tries.
#[test]
fn one_secret_cannot_be_both_the_so_pin_and_the_user_pin() {
    let edited = |s: &str| {
        s.replace(
            "set-user-pin: { so-pin: so-pin, user-pin: user-pin }",
            "set-user-pin: { user-pin: so-pin }",
        )
    };
    let (code, err) = lint(edited, same);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "step 9 `set-user-pin`: the user PIN must be a different secret from the SO PIN"
        ),
        "{err}"
    );
}

#[test]
fn a_ca_certificate_without_crl_sign_is_linted_with_a_warning() {
    let edited = |s: &str| {
        s.replace(
            "        path-length: 1\n",
            "        path-length: 1\n        key-usage: [cert-sign]\n",
        )
    };
    let (code, err) = lint(edited, same);
    assert_eq!(code, 0, "a warning, not an error: {err}");
    assert!(
        err.contains("warning: the CA certificate lacks crl-sign"),
        "{err}"
    );
}

/// Attack: 80 000 nested flow sequences (160 KB) kept `lint` busy for 33 s
/// in serde_yaml. The nesting cap refuses them before parsing, at once.
#[test]
fn hostile_yaml_nesting_is_refused_fast() {
    let depth = 80_000;
    let hostile = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let started = std::time::Instant::now();
    let (code, err) = lint(|_| hostile.clone(), same);
    let took = started.elapsed();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("collections nested more than 32 deep: refused before parsing"),
        "{err}"
    );
    assert!(
        err.starts_with("SCRIPT:1:"),
        "names the file and place: {err}"
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
}

/// A script or bindings file above the documented 1 MiB cap is refused
/// unread, naming the file and the limit.
#[test]
fn a_script_or_bindings_above_the_size_cap_is_refused() {
    let padding = format!("# {}\n", "x".repeat(1 << 20));
    let (code, err) = lint(|s| format!("{s}{padding}"), same);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SCRIPT"), "{err}");
    assert!(
        err.contains("larger than 1 MiB, the most this file may be"),
        "{err}"
    );
    let (code, err) = lint(same, |b| format!("{b}{padding}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("BINDINGS"), "{err}");
    assert!(
        err.contains("larger than 1 MiB, the most this file may be"),
        "{err}"
    );
}

/// Attack: `label: ../../../x` passed lint, and the run wrote
/// `{label}.pub.pem` and `backup/{label}.wrapped` outside `--out`. A key
/// label becomes a file name, so lint holds it to file-name characters.
#[test]
fn a_key_label_cannot_write_outside_out() {
    for label in ["../../../x", "root/ca", ".hidden", "Root-CA"] {
        let (code, err) = lint(|s| s.replace("root-ca-key", label), same);
        assert_eq!(code, 2, "{label}: {err}");
        assert!(
            err.contains(&format!("key label `{label}` cannot be a file name")),
            "{label}: {err}"
        );
    }
    let (_, err) = lint(|s| s.replace("root-ca-key", "../../../x"), same);
    assert!(err.contains("only a-z, 0-9, '.', '_' and '-'"), "{err}");
}

/// `lint` of a shipped script of `name`, edited, with its rehearsal
/// bindings (key files and the original transcript made absolute).
fn lint_shipped(name: &str, edit_script: impl Fn(&str) -> String) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ceremonies = repo().join("ceremonies");
    let text = edit_script(&read(&ceremonies.join(format!("{name}.yaml"))));
    let s = dir.path().join("script.yaml");
    std::fs::write(&s, &text).expect("write");
    let keys = ceremonies.join("rehearsal/keys");
    let bindings = read(&ceremonies.join(format!("rehearsal/{name}.bindings.yaml")))
        .replace("key-file: keys/", &format!("key-file: {}/", keys.display()))
        .replace(
            "../../transcripts/",
            &format!("{}/", repo().join("transcripts").display()),
        );
    let b = dir.path().join("bindings.yaml");
    std::fs::write(&b, bindings).expect("write");
    let out = keyceremony()
        .arg("lint")
        .arg(&s)
        .arg("--bindings")
        .arg(&b)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr).replace(s.to_str().expect("utf-8"), "SCRIPT");
    (out.status.code().expect("code"), err, text)
}

#[test]
fn a_reshare_that_keeps_its_secret_is_linted_with_a_warning() {
    let (code, err, _) = lint_shipped("custodian-rotation", |s| {
        s.replace(
            "reshare: { secret: so-pin }",
            "reshare: { secret: so-pin, keep-secret: true }",
        )
    });
    assert_eq!(code, 0, "a warning, not an error: {err}");
    assert!(
        err.contains("warning: `keep-secret: true`: `so-pin` keeps its value, so the old shares stay mathematically valid"),
        "{err}"
    );
    // Without keep-secret the shipped rotation replaces the secret: no warning.
    let (code, err, _) = lint_shipped("custodian-rotation", same);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("keep-secret"), "{err}");
}

/// A new KEK secret would give another KEK: every blob wrapped under the old
/// one could no longer be restored.
#[test]
fn a_reshare_of_a_kek_secret_without_keep_secret_is_refused() {
    let reshare = "  - id: reshare-kek\n    title: Reshare the KEK secret\n    performer: administrator\n    witness: witness\n    reshare: { secret: backup-kek }\n\n  - id: split-user-pin\n";
    let (code, err, text) = lint_shipped("dr-restore-rehearsal", |s| {
        s.replace("  - id: split-user-pin\n", reshare)
    });
    assert_eq!(code, 2, "{err}");
    let line = line_in(&text, "reshare: { secret: backup-kek }");
    assert!(
        err.lines().any(|l| l.starts_with(&format!("SCRIPT:{line}:"))
            && l.contains("`backup-kek` gives the backup KEK (import-kek): a new secret would give another KEK and orphan every blob wrapped under this one. Reshare it with `keep-secret: true`")),
        "{err}"
    );
    // With keep-secret it passes, with the warning.
    let (code, err, _) = lint_shipped("dr-restore-rehearsal", |s| {
        s.replace(
            "  - id: split-user-pin\n",
            &reshare.replace(
                "{ secret: backup-kek }",
                "{ secret: backup-kek, keep-secret: true }",
            ),
        )
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: `keep-secret: true`: `backup-kek`"),
        "{err}"
    );
}

/// A reshare that must change a PIN has to know which one.
#[test]
fn a_reshare_of_a_secret_used_as_no_pin_is_refused() {
    let (code, err, _) = lint_shipped("custodian-rotation", |s| {
        s.replace(
            "recombine: { secret: so-pin, login: security-officer }",
            "recombine: { secret: so-pin }",
        )
    });
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`so-pin` is not used as a PIN in this script, so the reshare cannot change the token's PIN to void the old shares"),
        "{err}"
    );
}
