//! A token initialized with the vendor's tool (bindings `hsm.existing-pins`):
//! the ceremony does not initialize it or set its PINs. The performer types
//! each existing PIN once; one login checks it; it is sealed under the
//! step's quorum secret, and from then on only k custodians can use it.
//!
//! SoftHSM2 stands in for the vendor: `softhsm2-util --init-token` is the
//! "vendor's tool", run before the ceremony.

mod ceremony_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use ceremony_support::*;
use keyceremony::quorum::{self, Presented, SealedPin, SecretName, SplitRecord};

const VENDOR_SO_PIN: &str = "vendor SO 4711";
const VENDOR_USER_PIN: &str = "crypto-user:Vendor pass 1";
const LABEL: &str = "vendor-root";

/// A SoftHSM2 token store outside any state directory, with one token
/// initialized by `softhsm2-util`, as an HSM arrives from its vendor setup.
struct VendorToken {
    dir: tempfile::TempDir,
}

impl VendorToken {
    fn new() -> VendorToken {
        VendorToken::with_user_pin(VENDOR_USER_PIN)
    }

    fn with_user_pin(user_pin: &str) -> VendorToken {
        let dir = tempfile::tempdir().expect("tempdir");
        vendor_token(dir.path(), LABEL, VENDOR_SO_PIN, user_pin);
        VendorToken { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn conf(&self) -> PathBuf {
        self.path().join("softhsm2.conf")
    }

    fn command(&self, program: &str, args: &[&str]) -> Output {
        std::process::Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"))
    }

    /// `pkcs11-tool --list-objects` after logging in as `so` or `user`.
    fn objects_with(&self, login_type: &str, pin: &str) -> Output {
        let pin_flag = if login_type == "so" {
            "--so-pin"
        } else {
            "--pin"
        };
        self.command(
            "pkcs11-tool",
            &[
                "--module",
                SOFTHSM,
                "--token-label",
                LABEL,
                "--session-rw",
                "--login",
                "--login-type",
                login_type,
                pin_flag,
                pin,
                "--list-objects",
            ],
        )
    }

    /// Bindings for `script` naming the vendor token, the PINs that exist,
    /// and (for a rotation) the original transcript.
    fn bindings(&self, name: &str, existing: &str, original: Option<&Path>) -> PathBuf {
        let mut text = std::fs::read_to_string(
            repo().join(format!("ceremonies/rehearsal/{name}.bindings.yaml")),
        )
        .expect("bindings")
        .replace(": keys/", &format!(": {}/", demo_key("").display()))
        .replace("token: { label: root-ca }\n", "");
        if let Some(original) = original {
            text = text.replace(
                "../../transcripts/example-root-backup-rehearsal.jsonl",
                &original.display().to_string(),
            );
        }
        let hsm = format!(
            "hsm:\n  module: {SOFTHSM}\n  token: {{ label: {LABEL} }}\n{existing}",
            existing = if existing.is_empty() {
                String::new()
            } else {
                format!("  existing-pins: {existing}\n")
            }
        );
        let text = text.replacen("hsm:\n", &hsm, 1);
        let path = self.path().join(format!("{name}.bindings.yaml"));
        std::fs::write(&path, text).expect("write bindings");
        path
    }

    /// Files holding the PINs as the performer would type them.
    fn pin_files(&self, so: &str, user: &str) -> String {
        let so_file = self.path().join("so.pin");
        let user_file = self.path().join("user.pin");
        std::fs::write(&so_file, format!("{so}\n")).expect("so pin file");
        std::fs::write(&user_file, user).expect("user pin file");
        format!(
            "existing-pins:\n  security-officer: {}\n  user: {}\n",
            so_file.display(),
            user_file.display()
        )
    }

    fn run(&self, script: &str, bindings: &Path, answers: &Path, out: &str) -> Output {
        self.run_script(
            &repo().join(format!("ceremonies/{script}.yaml")),
            bindings,
            answers,
            out,
        )
    }

    fn run_script(&self, script: &Path, bindings: &Path, answers: &Path, out: &str) -> Output {
        let state = self.path().join(format!("state-{out}"));
        let out = self.path().join(out);
        self.headless(
            script,
            bindings,
            answers,
            &state,
            &["--out".as_ref(), out.as_ref()],
            None,
        )
    }

    /// `keyceremony run --headless` on this token; `then` names where the
    /// transcript goes (`--out DIR` or `--resume FILE`), `crash` a test-only
    /// kill point.
    fn headless(
        &self,
        script: &Path,
        bindings: &Path,
        answers: &Path,
        state: &Path,
        then: &[&std::ffi::OsStr],
        crash: Option<(&str, &str)>,
    ) -> Output {
        let mut command = keyceremony();
        if let Some((variable, value)) = crash {
            command.env(variable, value);
        }
        command
            .arg("run")
            .arg(script)
            .arg("--bindings")
            .arg(bindings)
            .arg("--state-dir")
            .arg(state)
            .args(then)
            .arg("--headless")
            .arg("--answers")
            .arg(answers)
            .env("SOFTHSM2_CONF", self.conf())
            .output()
            .expect("the binary runs")
    }

    /// The root ceremony, headless, on the vendor token.
    fn run_root(&self, existing: &str, so: &str, user: &str) -> Output {
        let bindings = self.bindings("root-key-generation", existing, None);
        let answers_dir = self.path().join("answers");
        std::fs::create_dir_all(&answers_dir).expect("answers dir");
        let answers = write_answers(&answers_dir, &self.pin_files(so, user));
        self.run("root-key-generation", &bindings, &answers, "out")
    }

    fn transcript(&self, out: &str) -> PathBuf {
        transcript_in(&self.path().join(out))
    }
}

fn recombined_secret(
    transcript: &Path,
    secret: &str,
    custodians: &[&str],
) -> keyceremony::quorum::CeremonySecret {
    let entries = entries(transcript);
    let shares = transcript
        .parent()
        .expect("dir")
        .join(entries[0]["ceremony"].as_str().expect("ceremony id"))
        .join("shares");
    let record: SplitRecord = serde_json::from_value(
        entries
            .iter()
            .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == secret)
            .unwrap_or_else(|| panic!("no split of {secret}"))["body"]["split"]
            .clone(),
    )
    .expect("a split record");
    let presented: Vec<Presented> = custodians
        .iter()
        .map(|c| {
            let key = std::fs::read_to_string(demo_key(c)).expect("demo key");
            let sealed =
                std::fs::read(shares.join(format!("{c}.{secret}.age"))).expect("share file");
            Presented {
                custodian: c.to_string(),
                share: quorum::delivery::open(&key, &sealed).expect("the share opens"),
            }
        })
        .collect();
    quorum::combine(&record, &presented).expect("a quorum recombines")
}

fn sealed_in(body: &serde_json::Value) -> SealedPin {
    serde_json::from_value(body["sealed_pin"].clone()).expect("a sealed PIN is recorded")
}

fn every_file_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(every_file_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Bindings that keep the existing PINs, sealed, instead of replacing them.
const KEEP: &str = "\n  keep-existing-pins: true";

/// The PIN the ceremony derived from `secret`, recombined from three
/// custodians' shares.
fn derived_pin(transcript: &Path, secret: &str) -> String {
    let length = entries(transcript)
        .into_iter()
        .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == secret)
        .expect("split entry")["body"]["pin_length"]
        .as_u64()
        .expect("pin length") as usize;
    recombined_secret(transcript, secret, &["carol", "dave", "erin"])
        .derive_pin(&secret.parse().expect("name"), length)
        .expose()
        .to_string()
}

/// The root ceremony on a vendor-initialized token with both PINs adopted
/// (`existing` may add KEEP), and what holds either way: who typed, what
/// the performer confirmed, what verify and the report say, and that no
/// PIN was written anywhere.
fn adopting_root_ceremony(existing: &str) -> (VendorToken, PathBuf) {
    let token = VendorToken::new();
    let out = token.run_root(existing, VENDOR_SO_PIN, VENDOR_USER_PIN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let log = output_text(&out);
    assert!(
        log.contains("alice typed the existing SO PIN"),
        "the log says who typed: {log}"
    );
    let transcript = token.transcript("out");
    let against_script = keyceremony()
        .arg("verify")
        .arg(&transcript)
        .arg("--script")
        .arg(ceremony_support::script())
        .output()
        .expect("verify runs");
    assert_eq!(
        against_script.status.code(),
        Some(0),
        "the typist is the performer, and every adopted PIN was typed: {}",
        output_text(&against_script)
    );
    let (code, report) = verify(&transcript);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("adopted PIN: step init-token: existing SO PIN, set outside this ceremony with the vendor's tool; typed by alice, checked by one login")
            && report.contains("adopted PIN: step set-user-pin: existing user PIN"),
        "verify tells the auditor: {report}"
    );

    // Both steps adopted instead of initializing and setting.
    let init = body_of(&transcript, "init-token");
    assert_eq!(init["adopted"], true);
    assert_eq!(init["role"], "SO");
    assert_eq!(init["token"]["label"], LABEL);
    let user = body_of(&transcript, "set-user-pin");
    assert_eq!(user["adopted"], true);
    assert_eq!(user["role"], "user");
    let performed = entries(&transcript)
        .into_iter()
        .find(|e| {
            e["kind"] == "confirm"
                && e["body"]["step"] == "init-token"
                && e["body"]["as"] == "performer"
        })
        .expect("the performer confirmed init-token");
    assert!(
        performed["body"]["details"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("does not initialize the token")),
        "the performer confirms what happens instead: {performed}"
    );
    assert!(performed["body"].get("typed").is_none(), "no word typed");
    let typed = body_of(&transcript, "pin-typed");
    assert_eq!(typed["participant"], "alice");
    assert_eq!(
        typed["signatures"][0]["participant"], "alice",
        "the typist signs that they typed it"
    );
    // The root key is on the vendor's token.
    assert_eq!(body_of(&transcript, "generate-key")["label"], "root-ca-key");

    // No PIN in clear anywhere the ceremony wrote.
    for file in every_file_under(&token.path().join("out")) {
        let bytes = std::fs::read(&file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for pin in [VENDOR_SO_PIN, VENDOR_USER_PIN, "Vendor pass"] {
            assert!(!text.contains(pin), "{} holds a PIN", file.display());
        }
    }
    assert!(!log.contains("Vendor pass") && !log.contains(VENDOR_SO_PIN));
    (token, transcript)
}

/// `keyceremony report --format md`: what the auditor reads.
fn report_md(transcript: &Path) -> String {
    let out = keyceremony()
        .args(["report", "--format", "md"])
        .arg(transcript)
        .output()
        .expect("report runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A custodian rotation continuing `transcript` on the same token.
fn rotate(token: &VendorToken, transcript: &Path) -> PathBuf {
    let bindings = token.bindings("custodian-rotation", "", Some(transcript));
    let text = std::fs::read_to_string(
        repo().join("ceremonies/rehearsal/custodian-rotation.answers.yaml"),
    )
    .expect("answers")
    .replace(": keys/", &format!(": {}/", demo_key("").display()));
    let answers = token.path().join("rotation.answers.yaml");
    std::fs::write(&answers, text).expect("write");
    let rotation = token.run("custodian-rotation", &bindings, &answers, "rotation");
    assert_eq!(
        rotation.status.code(),
        Some(0),
        "{}",
        output_text(&rotation)
    );
    let rotated = token.transcript("rotation");
    assert_eq!(body_of(&rotated, "recombine")["login"], "security-officer");
    rotated
}

#[test]
fn the_root_ceremony_adopts_a_vendor_initialized_token_and_replaces_its_pins() {
    let (token, transcript) = adopting_root_ceremony("[security-officer, user]");
    for step in ["init-token", "set-user-pin"] {
        let body = body_of(&transcript, step);
        assert_eq!(body["replaced"], true, "{body}");
        assert!(body.get("sealed_pin").is_none(), "nothing to seal: {body}");
    }
    // The vendor's PINs no longer open the token; the PINs derived from
    // the custodians' secrets, which no one has seen, do.
    assert!(!token.objects_with("so", VENDOR_SO_PIN).status.success());
    assert!(!token.objects_with("user", VENDOR_USER_PIN).status.success());
    assert!(
        token
            .objects_with("so", &derived_pin(&transcript, "so-pin"))
            .status
            .success()
    );
    let objects = token.objects_with("user", &derived_pin(&transcript, "user-pin"));
    assert!(objects.status.success(), "{}", output_text(&objects));
    let listing = String::from_utf8_lossy(&objects.stdout);
    assert!(listing.contains("label:      root-ca-key"), "{listing}");
    let md = report_md(&transcript);
    assert!(
        md.contains("then replaced by the PIN derived from") && md.contains("which no one knows"),
        "{md}"
    );
    // A rotation continuing it logs in with the derived SO PIN.
    let rotated = rotate(&token, &transcript);
    assert!(body_of(&rotated, "reshare").get("sealed_pin").is_none());
}

#[test]
fn kept_existing_pins_are_sealed_under_the_quorum_secret() {
    let (token, transcript) = adopting_root_ceremony(&format!("[security-officer, user]{KEEP}"));
    let init = body_of(&transcript, "init-token");
    let user = body_of(&transcript, "set-user-pin");
    assert_eq!(init["kept"], true);
    assert!(init.get("replaced").is_none());

    // Any k of the custodians' shares open the SO PIN the vendor set: the
    // quorum now guards it.
    let so_secret = recombined_secret(&transcript, "so-pin", &["dave", "frank", "grace"]);
    let name: SecretName = "so-pin".parse().expect("name");
    let opened = so_secret
        .unseal_pin(&name, &sealed_in(&init))
        .expect("the recombined secret opens the sealed SO PIN");
    assert_eq!(opened.expose(), VENDOR_SO_PIN);
    let user_secret = recombined_secret(&transcript, "user-pin", &["carol", "dave", "erin"]);
    let user_name: SecretName = "user-pin".parse().expect("name");
    assert_eq!(
        user_secret
            .unseal_pin(&user_name, &sealed_in(&user))
            .expect("opens")
            .expose(),
        VENDOR_USER_PIN
    );
    // The SO PIN's seal does not open with the user PIN's secret.
    assert!(user_secret.unseal_pin(&name, &sealed_in(&init)).is_err());

    // The token's PINs are still the vendor's, and the key is there.
    let objects = token.objects_with("user", VENDOR_USER_PIN);
    assert!(objects.status.success(), "{}", output_text(&objects));
    assert!(String::from_utf8_lossy(&objects.stdout).contains("root-ca-key"));
    assert!(
        token.objects_with("so", VENDOR_SO_PIN).status.success(),
        "the SO PIN was not changed"
    );
    let md = report_md(&transcript);
    assert!(
        md.contains("kept, sealed under") && md.contains("whoever set it may still know it"),
        "{md}"
    );

    // A rotation continuing it opens the sealed SO PIN it finds in the
    // original transcript and, on a module that can change PINs, replaces
    // it by the PIN derived from a new secret: the old shares, which open
    // the old seal, no longer give a PIN the token takes, and the vendor's
    // PIN (which its setter may know) is gone.
    let rotated = rotate(&token, &transcript);
    let reshare = body_of(&rotated, "reshare");
    assert_eq!(reshare["pin_changed"], true, "{reshare}");
    assert_eq!(reshare["replaced"], true, "{reshare}");
    assert!(reshare.get("sealed_pin").is_none(), "{reshare}");
    assert!(
        !token.objects_with("so", VENDOR_SO_PIN).status.success(),
        "the vendor's SO PIN was replaced"
    );
}

#[test]
fn with_only_the_so_pin_existing_the_ceremony_sets_its_own_user_pin() {
    // Kept, so the SO that sets the user PIN logs in with the sealed one.
    let token = VendorToken::new();
    let out = token.run_root(
        &format!("[security-officer]{KEEP}"),
        VENDOR_SO_PIN,
        "unused",
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = token.transcript("out");
    assert_eq!(body_of(&transcript, "init-token")["adopted"], true);
    let set = body_of(&transcript, "set-user-pin");
    assert!(set.get("adopted").is_none(), "{set}");
    assert_eq!(set["user_pin_from"], "user-pin");

    // The vendor's user PIN was replaced by the one derived from the
    // custodians' secret (the SO, opened from its seal, set it).
    assert!(
        !token.objects_with("user", VENDOR_USER_PIN).status.success(),
        "the vendor's user PIN no longer opens the token"
    );
    let objects = token.objects_with("user", &derived_pin(&transcript, "user-pin"));
    assert!(objects.status.success(), "{}", output_text(&objects));
    assert!(String::from_utf8_lossy(&objects.stdout).contains("root-ca-key"));
    assert!(token.objects_with("so", VENDOR_SO_PIN).status.success());
}

#[test]
fn a_wrong_existing_pin_fails_the_step_after_one_login_and_nothing_is_sealed() {
    let token = VendorToken::new();
    let out = token.run_root(
        "[security-officer, user]",
        "not the vendor SO PIN",
        VENDOR_USER_PIN,
    );
    assert_ne!(out.status.code(), Some(0));
    let log = output_text(&out);
    assert!(
        log.contains("the SO PIN alice typed does not open the token")
            && log.contains("CKR_PIN_INCORRECT")
            && log.contains("nothing was changed or sealed"),
        "{log}"
    );
    let transcript = token.transcript("out");
    let failed = body_of(&transcript, "step-failed");
    assert_eq!(failed["step"], "init-token");
    assert!(
        entries(&transcript)
            .iter()
            .all(|e| e.get("sealed_pin").is_none()),
        "no seal was recorded"
    );
    assert!(
        !std::fs::read_to_string(&transcript)
            .expect("transcript")
            .contains("not the vendor SO PIN")
    );
    // The vendor's token is untouched: its SO PIN still opens it, no key.
    let objects = token.objects_with("so", VENDOR_SO_PIN);
    assert!(objects.status.success(), "{}", output_text(&objects));
}

#[test]
fn bindings_that_cannot_adopt_are_refused_before_anything_starts() {
    // Exit 2 (refused before the ceremony starts), with the reason.
    let refused = |out: &Output, reason: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", output_text(out));
        assert!(output_text(out).contains(reason), "{}", output_text(out));
    };
    let token = VendorToken::new();
    let answers_dir = token.path().join("answers");
    std::fs::create_dir_all(&answers_dir).expect("dir");
    let answers = write_answers(
        &answers_dir,
        &token.pin_files(VENDOR_SO_PIN, VENDOR_USER_PIN),
    );

    // No token named: the default token is the module's uninitialized one.
    let unnamed = token.bindings("root-key-generation", "[security-officer, user]", None);
    std::fs::write(
        &unnamed,
        std::fs::read_to_string(&unnamed)
            .expect("read")
            .replace(&format!("  token: {{ label: {LABEL} }}\n"), ""),
    )
    .expect("write");
    let out = token.run("root-key-generation", &unnamed, &answers, "unnamed");
    refused(&out, "a token whose PINs already exist must be named");

    // The root script initializes the token; with only the user PIN
    // existing, that step could not adopt anything.
    let user_only = token.bindings("root-key-generation", "[user]", None);
    let out = token.run("root-key-generation", &user_only, &answers, "user-only");
    refused(
        &out,
        "list security-officer so that step adopts the existing SO PIN",
    );
    // Listing the SO PIN for a script that never initializes the token
    // would silently do nothing.
    let rotation = token.bindings("custodian-rotation", "[security-officer]", None);
    let out = token.run("custodian-rotation", &rotation, &answers, "rotation");
    refused(
        &out,
        "security-officer is listed, but the script has no init-token step",
    );

    // In production the performer types the PIN: no PIN file is read.
    let script = token.path().join("production-root.yaml");
    std::fs::write(
        &script,
        std::fs::read_to_string(ceremony_support::script())
            .expect("script")
            .replacen(
                "steps:\n",
                "allow: { softhsm-in-production: true, demo-identities-in-production: true }\n\nsteps:\n",
                1,
            ),
    )
    .expect("write");
    let production = token.bindings("root-key-generation", "[security-officer, user]", None);
    std::fs::write(
        &production,
        std::fs::read_to_string(&production)
            .expect("read")
            .replace("mode: rehearsal", "mode: production"),
    )
    .expect("write");
    let out = token.run_script(&script, &production, &answers, "production");
    refused(&out, "production mode reads no PIN from a file");

    for out in ["unnamed", "user-only", "rotation", "production"] {
        assert!(
            !token.path().join(out).exists()
                || std::fs::read_dir(token.path().join(out))
                    .expect("dir")
                    .next()
                    .is_none(),
            "no transcript was started"
        );
    }
}

/// The shipped script for modules without a PKCS#11 SO (CloudHSM, YubiHSM
/// 2), with its rehearsal bindings and answers as they are in the
/// repository; only the module is named, so the run uses this token.
#[test]
fn a_module_without_an_so_runs_the_shipped_vendor_token_script() {
    let rehearsal = repo().join("ceremonies/rehearsal");
    let pin = std::fs::read_to_string(rehearsal.join("vendor-token.user-pin")).expect("pin");
    let pin = pin.trim_end_matches('\n');
    let token = VendorToken::with_user_pin(pin);
    let script = repo().join("ceremonies/root-key-generation-vendor-token.yaml");
    assert!(
        !std::fs::read_to_string(&script)
            .expect("script")
            .contains("so-pin")
    );
    let shipped =
        std::fs::read_to_string(rehearsal.join("root-key-generation-vendor-token.bindings.yaml"))
            .expect("bindings")
            .replace(": keys/", &format!(": {}/", demo_key("").display()))
            .replacen("hsm:\n", &format!("hsm:\n  module: {SOFTHSM}\n"), 1);
    let write = |name: &str, text: &str| {
        let path = token.path().join(name);
        std::fs::write(&path, text).expect("write bindings");
        path
    };
    let answers = rehearsal.join("root-key-generation-vendor-token.answers.yaml");

    // Bindings that do not say the user PIN exists cannot run it.
    assert!(shipped.contains("  existing-pins: [user]\n"));
    let plain = write(
        "plain.yaml",
        &shipped.replace("  existing-pins: [user]\n", ""),
    );
    let out = token.run_script(&script, &plain, &answers, "refused");
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("set-user-pin names no so-pin")
            && output_text(&out).contains("list user under hsm.existing-pins"),
        "{}",
        output_text(&out)
    );

    let bindings = write("bindings.yaml", &shipped);
    let out = token.run_script(&script, &bindings, &answers, "out");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = token.transcript("out");
    let (code, report) = verify(&transcript);
    assert_eq!(code, 0, "{report}");
    let all = entries(&transcript);
    assert!(
        all.iter()
            .all(|e| e["kind"] != "init-token" && e["body"]["login"] != "security-officer"),
        "no SO step ran"
    );
    assert_eq!(body_of(&transcript, "set-user-pin")["adopted"], true);
    assert_eq!(body_of(&transcript, "recombine")["login"], "user");
    let objects = token.objects_with("user", pin);
    assert!(objects.status.success(), "{}", output_text(&objects));
    assert!(String::from_utf8_lossy(&objects.stdout).contains("root-ca-key"));
}

#[test]
fn killed_while_adopting_the_ceremony_resumes_asks_for_the_pin_again_and_completes() {
    // Where the entries fall, from an uninterrupted run.
    let full = VendorToken::new();
    let out = full.run_root("[security-officer, user]", VENDOR_SO_PIN, VENDOR_USER_PIN);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let seq_of = |kind: &str| {
        entries(&full.transcript("out"))
            .into_iter()
            .find(|e| e["kind"] == kind)
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or_else(|| panic!("no {kind}"))
            .to_string()
    };
    let crashes = [
        ("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", seq_of("pin-typed")),
        ("KEYCEREMONY_TEST_CRASH_IN_WORK", "adopt-pin".to_string()),
        ("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", seq_of("init-token")),
    ];
    for (variable, value) in crashes {
        let token = VendorToken::new();
        let bindings = token.bindings("root-key-generation", "[security-officer, user]", None);
        let answers_dir = token.path().join("answers");
        std::fs::create_dir_all(&answers_dir).expect("dir");
        let answers = write_answers(
            &answers_dir,
            &token.pin_files(VENDOR_SO_PIN, VENDOR_USER_PIN),
        );
        let script = repo().join("ceremonies/root-key-generation.yaml");
        let state = token.path().join("state");
        let out = token.path().join("out");
        let crashed = token.headless(
            &script,
            &bindings,
            &answers,
            &state,
            &["--out".as_ref(), out.as_ref()],
            Some((variable, &value)),
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            crashed.status.signal(),
            Some(9),
            "{variable}={value}: {}",
            output_text(&crashed)
        );
        let transcript = token.transcript("out");
        let resumed = token.headless(
            &script,
            &bindings,
            &answers,
            &state,
            &["--resume".as_ref(), transcript.as_ref()],
            None,
        );
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "{variable}={value}: {}",
            output_text(&resumed)
        );
        let (code, report) = verify(&transcript);
        assert_eq!(code, 0, "{variable}={value}: {report}");
        let all = entries(&transcript);
        let typed = all.iter().filter(|e| e["kind"] == "pin-typed").count();
        let expected = if value == seq_of("init-token") { 2 } else { 3 };
        assert_eq!(
            typed, expected,
            "{variable}={value}: a PIN typed before the crash is typed again"
        );
        // The PINs were replaced exactly once, whatever the crash cut: the
        // key is there under the user PIN derived from the secret.
        let objects = token.objects_with("user", &derived_pin(&transcript, "user-pin"));
        assert!(
            String::from_utf8_lossy(&objects.stdout).contains("root-ca-key"),
            "{variable}={value}: {}",
            output_text(&objects)
        );
        if variable == "KEYCEREMONY_TEST_CRASH_IN_WORK" {
            // The crash came after C_SetPIN: the vendor's PIN typed again
            // fails once, and the derived one is found to open the token.
            let init = body_of(&transcript, "init-token");
            assert!(init["reconciled"].is_string(), "{init}");
        }
        // After the crash the SO PIN is the derived one (prove-so-pin logs
        // in with it).
        assert!(
            all.iter()
                .any(|e| e["kind"] == "recombine" && e["body"]["login"] == "security-officer")
        );
    }
}
