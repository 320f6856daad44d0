//! `keyceremony hsm status|objects|selftest`, run as the real binary against
//! SoftHSM2, and checked against pkcs11-tool (OpenSC) where they overlap.

mod ceremony_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use ceremony_support::*;

/// One completed root rehearsal whose token the listings read.
fn completed() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = run_root_shared("hsm_cli");
        assert_eq!(run.code(), Some(0), "{}", run.stderr());
        run
    })
}

/// `keyceremony hsm ARGS` with `stdin` piped in.
fn hsm(args: &[&str], stdin: &str) -> Output {
    let mut child = keyceremony()
        .arg("hsm")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// (class, label, id, usage flags) for every object pkcs11-tool lists.
fn pkcs11_tool_objects(run: &Run, pin: Option<&str>) -> BTreeSet<(String, String, String, String)> {
    let mut args = vec!["--module", SOFTHSM, "--token-label", "root-ca"];
    if let Some(pin) = pin {
        args.extend(["--login", "--pin", pin]);
    }
    args.push("--list-objects");
    let out = tool(run, "pkcs11-tool", &args);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut objects = BTreeSet::new();
    let mut current: Option<(String, String, String, String)> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.starts_with(' ') && line.contains(" Object;") {
            objects.extend(current.take());
            let class = match line.split(" Object;").next().unwrap_or_default() {
                "Public Key" => "CKO_PUBLIC_KEY",
                "Private Key" => "CKO_PRIVATE_KEY",
                "Secret Key" => "CKO_SECRET_KEY",
                "Certificate" => "CKO_CERTIFICATE",
                other => panic!("unexpected object kind {other:?}"),
            };
            current = Some((class.into(), String::new(), String::new(), String::new()));
        } else if let Some(object) = current.as_mut() {
            let line = line.trim();
            if let Some(label) = line.strip_prefix("label:") {
                object.1 = label.trim().into();
            } else if let Some(id) = line.strip_prefix("ID:") {
                object.2 = id.trim().into();
            } else if let Some(usage) = line.strip_prefix("Usage:") {
                let mut flags: Vec<&str> = usage.split(',').map(str::trim).collect();
                flags.retain(|f| !f.is_empty() && *f != "none");
                flags.sort();
                object.3 = flags.join(",");
            }
        }
    }
    objects.extend(current);
    objects
}

/// The same four facts from `keyceremony hsm objects --json`.
fn our_objects(run: &Run, pin: Option<&str>) -> BTreeSet<(String, String, String, String)> {
    let state = run.state();
    let mut args = vec![
        "objects",
        "--state-dir",
        state.to_str().expect("utf-8"),
        "--label",
        "root-ca",
        "--json",
    ];
    if pin.is_some() {
        args.push("--login");
    }
    let out = hsm(&args, &pin.map(|p| format!("{p}\n")).unwrap_or_default());
    assert!(out.status.success(), "{}", output_text(&out));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(document["logged_in"], pin.is_some());
    document["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .map(|o| {
            let key = &o["key"];
            let mut flags: Vec<&str> = [
                "sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "derive",
            ]
            .into_iter()
            .filter(|f| key[*f] == true)
            .collect();
            flags.sort();
            (
                o["class"].as_str().expect("class").to_string(),
                o["label"].as_str().expect("label").to_string(),
                o["id_hex"].as_str().expect("id").to_string(),
                flags.join(","),
            )
        })
        .collect()
}

#[test]
fn objects_match_pkcs11_tool_object_for_object_with_and_without_login() {
    let run = completed();
    let public = our_objects(run, None);
    assert_eq!(public, pkcs11_tool_objects(run, None));
    assert!(
        public.iter().all(|o| o.0 == "CKO_PUBLIC_KEY"),
        "without login only public objects: {public:?}"
    );
    assert!(!public.is_empty());

    let pin = run.pin("user-pin", &["dave", "frank", "carol"]);
    let every = our_objects(run, Some(&pin));
    assert_eq!(every, pkcs11_tool_objects(run, Some(&pin)));
    assert!(
        every
            .iter()
            .any(|o| o.0 == "CKO_PRIVATE_KEY" && o.1 == "root-ca-key" && o.3 == "sign"),
        "{every:?}"
    );
    assert!(every.len() > public.len());
}

#[test]
fn the_objects_table_shows_the_root_keys_flags_and_never_the_pin() {
    let run = completed();
    let pin = run.pin("user-pin", &["dave", "frank", "carol"]);
    let state = run.state();
    let out = hsm(
        &[
            "objects",
            "--state-dir",
            state.to_str().expect("utf-8"),
            "--label",
            "root-ca",
            "--login",
        ],
        &format!("{pin}\n"),
    );
    let shown = output_text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("2 objects: every object (logged in as user)"),
        "{shown}"
    );
    assert!(
        shown.contains("CKO_PRIVATE_KEY  label \"root-ca-key\""),
        "{shown}"
    );
    assert!(shown.contains("CKK_EC P-384"), "{shown}");
    for flag in [
        "+CKA_SENSITIVE",
        "-CKA_EXTRACTABLE",
        "+CKA_NEVER_EXTRACTABLE",
        "+CKA_LOCAL",
        "+CKA_SIGN",
        "-CKA_DECRYPT",
    ] {
        assert!(shown.contains(flag), "{flag} missing:\n{shown}");
    }
    assert!(!shown.contains(&pin), "the PIN was echoed");

    let wrong = hsm(
        &[
            "objects",
            "--state-dir",
            state.to_str().expect("utf-8"),
            "--label",
            "root-ca",
            "--login",
        ],
        "not-the-pin-000\n",
    );
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        output_text(&wrong).contains("CKR_PIN_INCORRECT"),
        "{}",
        output_text(&wrong)
    );
}

#[test]
fn status_names_the_module_the_token_and_its_mechanisms() {
    let run = completed();
    let serial = run.body("init-token")["token"]["serial"]
        .as_str()
        .expect("serial")
        .to_string();
    let state = run.state();
    let out = hsm(
        &[
            "status",
            "--state-dir",
            state.to_str().expect("utf-8"),
            "--serial",
            &serial,
        ],
        "",
    );
    let shown = output_text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("module /usr/lib/") && shown.contains("libsofthsm2.so"),
        "{shown}"
    );
    assert!(shown.contains("token `root-ca`"), "{shown}");
    assert!(shown.contains(&format!("serial {serial}")), "{shown}");
    assert!(shown.contains("model SoftHSM v2"), "{shown}");
    assert!(
        shown.contains("initialized yes  user PIN set yes"),
        "{shown}"
    );
    assert!(shown.contains("CKM_ECDSA"), "{shown}");
    assert!(shown.contains("CKM_EC_KEY_PAIR_GEN"), "{shown}");
    assert!(!shown.contains("LOCKED"), "{shown}");

    // A blank serial (an uninitialized token has one) names no token.
    let blank = hsm(
        &[
            "status",
            "--state-dir",
            state.to_str().expect("utf-8"),
            "--serial",
            "",
        ],
        "",
    );
    assert_eq!(blank.status.code(), Some(2), "{}", output_text(&blank));
    assert!(
        output_text(&blank).contains("blank serial"),
        "{}",
        output_text(&blank)
    );
}

fn rows(out: &Output) -> Vec<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (outcome, item) = l.split_once("  ")?;
            ["PASS", "FAIL", "UNSUPPORTED"]
                .contains(&outcome.trim())
                .then(|| (outcome.trim().to_string(), item.trim().to_string()))
        })
        .collect()
}

#[test]
fn selftest_passes_every_row_on_softhsm2() {
    let out = hsm(&["selftest"], "");
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let rows = rows(&out);
    // 4 token rows, 3 per key spec (7 specs), the listing, the backup attack.
    assert_eq!(rows.len(), 4 + 3 * 7 + 1 + 1, "{shown}");
    assert!(rows.iter().all(|(o, _)| o == "PASS"), "{shown}");
    for item in [
        "the token initializes with an SO PIN",
        "a wrong user PIN is refused (and not retried)",
        "aes-256 encrypt: encrypts and decrypts, altered ciphertext is refused",
        "rsa-4096 sign: cannot be exported (value sensitive, wrapping refused)",
        "ed25519 sign: signs, the HSM verifies, an altered message fails",
        "the object listing shows every object",
        "a backup blob does not unwrap without a login",
    ] {
        assert!(rows.iter().any(|(_, i)| i == item), "{item}:\n{shown}");
    }
    assert!(shown.contains("CKR_KEY_UNEXTRACTABLE"), "{shown}");
    // No unwrap into a private object without the user: the KEK's
    // CKA_UNWRAP_TEMPLATE, enforced by the module.
    assert!(
        shown.contains("refused: CKR_TEMPLATE_INCONSISTENT"),
        "{shown}"
    );
    assert!(
        shown.contains("27 passed, 0 failed, 0 unsupported"),
        "{shown}"
    );
}

/// A module the tool cannot make tokens for (here SoftHSM2 under another
/// file name) is tested only on an uninitialized token; a token that
/// holds anything is refused before it is touched.
#[test]
fn selftest_never_touches_an_initialized_token_of_another_module() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vendor = dir.path().join("libvendor-pkcs11.so");
    std::os::unix::fs::symlink(SOFTHSM, &vendor).expect("symlink");
    let conf = vendor_token(dir.path(), "precious", "12345678", "12345678");
    let run = |extra: &[&str]| {
        keyceremony()
            .args(["hsm", "selftest", "--module"])
            .arg(&vendor)
            .args(extra)
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("runs")
    };
    let refused = run(&["--label", "precious"]);
    assert_eq!(refused.status.code(), Some(2), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("already initialized"),
        "{}",
        output_text(&refused)
    );
    assert!(listing_has_precious_untouched(&conf));

    // Without a named token it takes the uninitialized one.
    let passed = run(&[]);
    assert_eq!(passed.status.code(), Some(0), "{}", output_text(&passed));
    assert!(output_text(&passed).contains("now holds the selftest's keys"));
    assert!(listing_has_precious_untouched(&conf));
}

fn listing_has_precious_untouched(conf: &Path) -> bool {
    let out = Command::new("pkcs11-tool")
        .args([
            "--module",
            SOFTHSM,
            "--token-label",
            "precious",
            "--login",
            "--pin",
            "12345678",
            "--list-objects",
        ])
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("pkcs11-tool");
    out.status.success() && !String::from_utf8_lossy(&out.stdout).contains("Object;")
}

/// `hsm selftest --existing`: for modules that never offer an
/// uninitialized token, the checklist runs on an empty rehearsal token
/// initialized with the vendor's tool, and leaves it empty again.
#[test]
fn selftest_on_an_existing_empty_token_removes_its_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = vendor_token(dir.path(), "rehearsal", "vendor-so-1", "crypto-user:pass 1");
    let selftest = |pin: &str| {
        let mut child = keyceremony()
            .args(["hsm", "selftest", "--existing", "--module", SOFTHSM])
            .args(["--label", "rehearsal"])
            .env("SOFTHSM2_CONF", &conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{pin}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("wait")
    };
    let objects = || {
        let out = Command::new("pkcs11-tool")
            .args(["--module", SOFTHSM, "--token-label", "rehearsal", "--login"])
            .args(["--pin", "crypto-user:pass 1", "--list-objects"])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("pkcs11-tool");
        assert!(out.status.success(), "{}", output_text(&out));
        String::from_utf8_lossy(&out.stdout)
            .matches(" Object;")
            .count()
    };

    let out = selftest("crypto-user:pass 1");
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let rows = rows(&out);
    // The login row, 3 per key spec, the listing, the removal.
    assert_eq!(rows.len(), 1 + 3 * 7 + 2, "{shown}");
    assert!(rows.iter().all(|(o, _)| o == "PASS"), "{shown}");
    assert!(
        rows.iter()
            .any(|(_, i)| i == "the selftest's keys are destroyed; the token is empty again"),
        "{shown}"
    );
    assert!(
        !shown.contains("initializes"),
        "nothing initialized: {shown}"
    );
    assert!(
        !shown.contains("crypto-user:pass"),
        "the PIN is never shown"
    );
    assert_eq!(objects(), 0, "the token is empty again");

    // A token that holds anything is refused before a key is made.
    let keypair = Command::new("pkcs11-tool")
        .args(["--module", SOFTHSM, "--token-label", "rehearsal", "--login"])
        .args(["--pin", "crypto-user:pass 1", "--keypairgen"])
        .args(["--key-type", "EC:prime256v1", "--label", "precious"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("pkcs11-tool");
    assert!(keypair.status.success(), "{}", output_text(&keypair));
    let refused = selftest("crypto-user:pass 1");
    assert_eq!(refused.status.code(), Some(2), "{}", output_text(&refused));
    assert!(
        output_text(&refused)
            .contains("holds 2 objects: the selftest runs only on an empty rehearsal token"),
        "{}",
        output_text(&refused)
    );
    assert_eq!(objects(), 2, "untouched");

    // A wrong PIN is tried once and named.
    let wrong = selftest("not the PIN");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        output_text(&wrong).contains("CKR_PIN_INCORRECT"),
        "{}",
        output_text(&wrong)
    );
}
