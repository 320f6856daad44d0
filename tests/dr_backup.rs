//! Disaster recovery, end to end with the real binary on SoftHSM2: a root
//! ceremony with a wrapped backup, its restore into a new token proven with
//! openssl against the ORIGINAL public key, the refusals (too few KEK
//! shares, a foreign KEK share, a key without backup), and a custodian
//! rotation after which the old shares are void.

mod ceremony_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ceremony_support::*;
use keyceremony::quorum::{self, Presented, SplitRecord};
use sha2::Digest;

fn ceremonies() -> PathBuf {
    repo().join("ceremonies")
}

fn rehearsal(file: &str) -> PathBuf {
    ceremonies().join("rehearsal").join(file)
}

/// A headless run of `script` in `state`, writing to `out`.
fn run(script: &str, bindings: &Path, answers: &Path, state: &Path, out: &Path) -> Output {
    keyceremony()
        .arg("run")
        .arg(ceremonies().join(format!("{script}.yaml")))
        .arg("--bindings")
        .arg(bindings)
        .arg("--state-dir")
        .arg(state)
        .arg("--out")
        .arg(out)
        .arg("--headless")
        .arg("--answers")
        .arg(answers)
        .output()
        .expect("the binary runs")
}

/// Bindings of `name` (from the rehearsal directory) whose `original`
/// names `original` instead of the committed example.
fn bindings_for(name: &str, original: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(rehearsal(&format!("{name}.bindings.yaml")))
        .expect("bindings")
        .replace(
            "../../transcripts/example-root-backup-rehearsal.jsonl",
            &original.display().to_string(),
        );
    let path = dir.join(format!("{name}.bindings.yaml"));
    std::fs::write(&path, text).expect("write bindings");
    path
}

/// Answers of `name` with key paths made absolute and `extra` appended.
fn answers_for(name: &str, dir: &Path, extra: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(rehearsal(&format!("{name}.answers.yaml")))
        .expect("answers")
        .replace(": keys/", &format!(": {}/", rehearsal("keys").display()));
    text.push_str(extra);
    let path = dir.join(format!("{name}.answers.yaml"));
    std::fs::write(&path, text).expect("write answers");
    path
}

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn transcript(&self) -> PathBuf {
        transcript_in(&self.dir.path().join("out"))
    }
    fn conf(&self) -> PathBuf {
        self.state().join("softhsm2.conf")
    }
}

/// One root ceremony with a wrapped backup, shared by the tests.
fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = shared_dir("dr_backup");
        let out = run(
            "root-key-generation-backup",
            &rehearsal("root-key-generation-backup.bindings.yaml"),
            &rehearsal("root-key-generation-backup.answers.yaml"),
            &dir.path().join("state"),
            &dir.path().join("out"),
        );
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
        Root { dir }
    })
}

fn pkcs11(conf: &Path, args: &[&str]) -> Output {
    Command::new("pkcs11-tool")
        .args(["--module", SOFTHSM])
        .args(args)
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("pkcs11-tool runs")
}

/// The PIN derived from `secret` as a transcript's split recorded it,
/// recombined from the named custodians' share files next to it.
fn pin_from(transcript: &Path, kind: &str, secret: &str, custodians: &[&str]) -> String {
    let entry = entries(transcript)
        .into_iter()
        .rev()
        .find(|e| e["kind"] == kind && e["body"]["split"]["secret_name"] == secret)
        .expect("a split entry");
    let record: SplitRecord =
        serde_json::from_value(entry["body"]["split"].clone()).expect("record");
    let length = entry["body"]["pin_length"].as_u64().expect("pin length") as usize;
    let dir = transcript.parent().expect("dir");
    let presented: Vec<Presented> = custodians
        .iter()
        .map(|c| {
            let key = std::fs::read_to_string(demo_key(c)).expect("key");
            let sealed = std::fs::read(
                dir.join(entry["ceremony"].as_str().expect("id"))
                    .join("shares")
                    .join(format!("{c}.{secret}.age")),
            )
            .expect("share file");
            Presented {
                custodian: c.to_string(),
                share: quorum::delivery::open(&key, &sealed).expect("opens"),
            }
        })
        .collect();
    quorum::combine(&record, &presented)
        .expect("recombines")
        .derive_pin(&secret.parse().expect("name"), length)
        .expose()
        .to_string()
}

#[test]
fn a_backed_up_root_key_is_restored_into_a_new_token_and_openssl_accepts_its_signature() {
    let root = root();
    let generated = body_of(&root.transcript(), "generate-key");
    assert_eq!(generated["attributes"]["extractable"], true);
    assert_eq!(generated["attributes"]["wrap_with_trusted"], true);
    let backup = body_of(&root.transcript(), "backup-key");
    assert_eq!(backup["kek_label"], "backup-kek");
    let blob = root
        .dir
        .path()
        .join("out")
        .join(backup["file"].as_str().expect("file"));
    assert_eq!(
        hex::encode(sha2::Sha256::digest(std::fs::read(&blob).expect("blob"))),
        backup["file_sha256"].as_str().expect("hash")
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = bindings_for("dr-restore-rehearsal", &root.transcript(), dir.path());
    let answers = answers_for("dr-restore-rehearsal", dir.path(), "");
    let out_dir = dir.path().join("out");
    let restored = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &out_dir,
    );
    assert_eq!(
        restored.status.code(),
        Some(0),
        "{}",
        output_text(&restored)
    );
    let transcript = transcript_in(&out_dir);
    let (code, report) = verify(&transcript);
    assert_eq!(code, 0, "{report}");

    // verify checks the link to the original when given both.
    let linked = keyceremony()
        .arg("verify")
        .arg(&transcript)
        .arg("--original")
        .arg(root.transcript())
        .output()
        .expect("verify");
    assert_eq!(linked.status.code(), Some(0), "{}", output_text(&linked));
    assert!(
        output_text(&linked).contains("original: continues ceremony"),
        "{}",
        output_text(&linked)
    );
    let unlinked = keyceremony()
        .arg("verify")
        .arg(&transcript)
        .arg("--original")
        .arg(&transcript)
        .output()
        .expect("verify");
    assert_eq!(
        unlinked.status.code(),
        Some(1),
        "{}",
        output_text(&unlinked)
    );
    assert!(
        output_text(&unlinked).contains("NOT LINKED"),
        "{}",
        output_text(&unlinked)
    );

    // The restore names its original and proved the key in software.
    let link = body_of(&transcript, "original-ceremony");
    assert_eq!(link["ceremony"], entries(&root.transcript())[0]["ceremony"]);
    let proof = body_of(&transcript, "restore-key");
    assert_eq!(proof["spki_sha256"], generated["public_key"]["spki_sha256"]);
    assert_eq!(proof["attributes"]["local"], false);
    assert_eq!(proof["attributes"]["never_extractable"], false);
    assert_eq!(proof["attributes"]["extractable"], false);
    assert_eq!(proof["attributes"]["sensitive"], true);
    let exported = body_of(&transcript, "export-public-key");
    assert_eq!(
        exported["public_key"]["spki_sha256"],
        generated["public_key"]["spki_sha256"]
    );

    // openssl checks a signature of the restored key against the ORIGINAL PEM.
    let original_pem = root.dir.path().join("out").join(
        body_of(&root.transcript(), "export-public-key")["public_key"]["file"]
            .as_str()
            .expect("pem file"),
    );
    let pin = pin_from(
        &transcript,
        "split-secret",
        "user-pin",
        &["carol", "dave", "erin"],
    );
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let digest = work.path().join("digest");
    let sig = work.path().join("sig");
    std::fs::write(&data, b"signed by the restored root key").expect("write");
    std::fs::write(
        &digest,
        sha2::Sha384::digest(b"signed by the restored root key"),
    )
    .expect("write");
    let conf = dir.path().join("state").join("softhsm2.conf");
    let signed = pkcs11(
        &conf,
        &[
            "--token-label",
            "root-ca-restored",
            "--login",
            "--pin",
            &pin,
            "--sign",
            "--mechanism",
            "ECDSA",
            "--label",
            "root-ca-key",
            "--input-file",
            digest.to_str().expect("utf-8"),
            "--output-file",
            sig.to_str().expect("utf-8"),
            "--signature-format",
            "openssl",
        ],
    );
    assert!(signed.status.success(), "{}", output_text(&signed));
    let verified = Command::new("openssl")
        .args(["dgst", "-sha384", "-verify"])
        .arg(&original_pem)
        .arg("-signature")
        .arg(&sig)
        .arg(&data)
        .output()
        .expect("openssl");
    assert!(verified.status.success(), "{}", output_text(&verified));
    assert!(output_text(&verified).contains("Verified OK"));
}

#[test]
fn fewer_than_k_kek_shares_restore_nothing() {
    let root = root();
    // The tool refuses to start a restore whose answers bring k-1 shares.
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = bindings_for("dr-restore-rehearsal", &root.transcript(), dir.path());
    let answers = answers_for("dr-restore-rehearsal", dir.path(), "");
    let text_answers = std::fs::read_to_string(&answers).expect("answers").replace(
        "recover-backup-kek: [dave, frank, grace]",
        "recover-backup-kek: [dave, frank]",
    );
    std::fs::write(&answers, text_answers).expect("write");
    let out_dir = dir.path().join("out");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &out_dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("needs 3 custodians to present shares; 2 listed"),
        "{}",
        output_text(&out)
    );
    assert!(!out_dir.exists(), "nothing was started");

    // And no two KEK shares recombine to anything: the blob stays sealed.
    let transcript = root.transcript();
    let entry = entries(&transcript)
        .into_iter()
        .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == "backup-kek")
        .expect("the KEK split");
    let record: SplitRecord =
        serde_json::from_value(entry["body"]["split"].clone()).expect("record");
    let shares_dir = transcript
        .parent()
        .expect("dir")
        .join(entry["ceremony"].as_str().expect("id"))
        .join("shares");
    let presented: Vec<Presented> = ["dave", "frank"]
        .iter()
        .map(|c| Presented {
            custodian: c.to_string(),
            share: quorum::delivery::open(
                &std::fs::read_to_string(demo_key(c)).expect("key"),
                &std::fs::read(shares_dir.join(format!("{c}.backup-kek.age"))).expect("share"),
            )
            .expect("opens"),
        })
        .collect();
    let refused = quorum::combine(&record, &presented).err().expect("refused");
    assert!(refused.to_string().contains('3'), "{refused}");
}

#[test]
fn a_kek_share_from_another_ceremony_is_refused_before_the_kek_exists() {
    let root = root();
    // A second, independent backup ceremony: its shares fit no other.
    let other = tempfile::tempdir().expect("tempdir");
    let made = run(
        "root-key-generation-backup",
        &rehearsal("root-key-generation-backup.bindings.yaml"),
        &rehearsal("root-key-generation-backup.answers.yaml"),
        &other.path().join("state"),
        &other.path().join("out"),
    );
    assert_eq!(made.status.code(), Some(0), "{}", output_text(&made));
    let foreign = transcript_in(&other.path().join("out"))
        .parent()
        .expect("dir")
        .join(
            entries(&transcript_in(&other.path().join("out")))[0]["ceremony"]
                .as_str()
                .expect("id"),
        )
        .join("shares")
        .join("frank.backup-kek.age");

    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = bindings_for("dr-restore-rehearsal", &root.transcript(), dir.path());
    let answers = answers_for(
        "dr-restore-rehearsal",
        dir.path(),
        &format!(
            "share-files:\n  recover-backup-kek:\n    frank: {}\n",
            foreign.display()
        ),
    );
    let state = dir.path().join("state");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &state,
        &dir.path().join("out"),
    );
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("REFUSED: frank's share"), "{shown}");
    assert!(shown.contains("ceremony"), "{shown}");
    let kinds: Vec<String> = entries(&transcript_in(&dir.path().join("out")))
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.contains(&"share-rejected".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"import-kek".to_string()), "{kinds:?}");
}

#[test]
fn a_key_generated_without_backup_cannot_be_restored_and_the_tool_says_why() {
    // The plain root ceremony: backup none.
    let plain = run_root(&answers());
    assert_eq!(plain.code(), Some(0), "{}", plain.stderr());
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = bindings_for("dr-restore-rehearsal", &plain.transcript(), dir.path());
    let answers = answers_for("dr-restore-rehearsal", dir.path(), "");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &dir.path().join("out"),
    );
    let shown = output_text(&out);
    assert_ne!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("backup: none"), "{shown}");
    assert!(shown.contains("has no backup"), "{shown}");
    // Refused before anything was written or anyone was asked for a share.
    assert!(
        !dir.path().join("out").exists()
            || std::fs::read_dir(dir.path().join("out"))
                .expect("out")
                .next()
                .is_none(),
        "no transcript was started"
    );
}

/// The custodian rotation of the root ceremony's SO PIN, run once on the
/// root ceremony's token and shared by the tests (it changes that token's SO
/// PIN, so no test may run a second one there).
struct Rotation {
    dir: tempfile::TempDir,
}

impl Rotation {
    fn transcript(&self) -> PathBuf {
        transcript_in(&self.dir.path().join("out"))
    }
}

fn rotation() -> &'static Rotation {
    static ROTATION: OnceLock<Rotation> = OnceLock::new();
    ROTATION.get_or_init(|| {
        let root = root();
        let dir = shared_dir("dr_backup_rotation");
        let bindings = bindings_for("custodian-rotation", &root.transcript(), dir.path());
        let answers = answers_for("custodian-rotation", dir.path(), "");
        let out = run(
            "custodian-rotation",
            &bindings,
            &answers,
            &root.state(),
            &dir.path().join("out"),
        );
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
        Rotation { dir }
    })
}

/// An SO login on the token labelled `label`, by pkcs11-tool (a client
/// that is not this tool): whether `pin` opens it.
fn so_login(conf: &Path, label: &str, pin: &str) -> Output {
    pkcs11(
        conf,
        &[
            "--token-label",
            label,
            "--session-rw",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            pin,
            "--list-objects",
        ],
    )
}

/// A copy of the root ceremony's state directory (its token, after the
/// rotation), for a run that must not touch the shared token.
fn copy_of_root_state(into: &Path) -> PathBuf {
    rotation();
    let state = into.join("state");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(root().state())
        .arg(&state)
        .output()
        .expect("cp");
    assert!(copied.status.success(), "{}", output_text(&copied));
    // The embedded SoftHSM2's configuration names the token directory; the
    // run writes it again for its --state-dir, but not before it is read.
    let _ = std::fs::remove_file(state.join("softhsm2.conf"));
    state
}

/// Bindings for a second rotation of the root ceremony's SO PIN that list
/// the first one under `original.rotations`.
fn bindings_after_rotation(dir: &Path) -> PathBuf {
    let path = bindings_for("custodian-rotation", &root().transcript(), dir);
    let text = std::fs::read_to_string(&path).expect("bindings").replace(
        &format!("  transcript: {}\n", root().transcript().display()),
        &format!(
            "  transcript: {}\n  rotations:\n    - {}\n",
            root().transcript().display(),
            rotation().transcript().display()
        ),
    );
    assert!(text.contains("rotations:"), "{text}");
    std::fs::write(&path, text).expect("write bindings");
    path
}

fn ceremony_of(transcript: &Path) -> String {
    entries(transcript)[0]["ceremony"]
        .as_str()
        .expect("id")
        .to_string()
}

fn old_share_file(custodian: &str, secret: &str) -> PathBuf {
    root()
        .transcript()
        .parent()
        .expect("dir")
        .join(ceremony_of(&root().transcript()))
        .join("shares")
        .join(format!("{custodian}.{secret}.age"))
}

#[test]
fn after_rotation_k_new_shares_open_the_token_and_the_old_shares_are_void() {
    let root = root();
    let transcript = rotation().transcript();
    let (code, report) = verify(&transcript);
    assert_eq!(code, 0, "{report}");
    let reshare = body_of(&transcript, "reshare");
    assert_eq!(reshare["split"]["k"], 3);
    assert_eq!(reshare["split"]["n"], 4);
    assert_eq!(reshare["void"]["ceremony"], ceremony_of(&root.transcript()));
    let delivered = entries(&transcript)
        .iter()
        .filter(|e| e["kind"] == "share-delivered")
        .count();
    assert_eq!(delivered, 4, "every new custodian proved their copy");

    // Any 3 of the 4 new shares give the SO PIN that opens the token.
    let pin = pin_from(&transcript, "reshare", "so-pin", &["dave", "erin", "frank"]);
    let login = so_login(&root.conf(), "root-ca", &pin);
    assert!(login.status.success(), "{}", output_text(&login));
    assert_ne!(
        pin,
        pin_from(
            &root.transcript(),
            "split-secret",
            "so-pin",
            &["carol", "erin", "grace"]
        ),
        "the rotation drew a new secret, hence a new SO PIN"
    );

    // An old share is refused as void, by name.
    let checked = keyceremony()
        .args(["shares", "check"])
        .arg(old_share_file("grace", "so-pin"))
        .arg("--transcript")
        .arg(&transcript)
        .arg("-i")
        .arg(demo_key("grace"))
        .output()
        .expect("runs");
    assert_eq!(checked.status.code(), Some(1), "{}", output_text(&checked));
    assert!(
        output_text(&checked).contains("VOID"),
        "{}",
        output_text(&checked)
    );
}

#[test]
fn rotated_out_shares_no_longer_open_the_token() {
    let root = root();
    let transcript = rotation().transcript();
    // Three OLD shares, including grace's (who handed over), recombine
    // exactly as before the rotation: the arithmetic cannot forget them.
    let old_pin = pin_from(
        &root.transcript(),
        "split-secret",
        "so-pin",
        &["carol", "erin", "grace"],
    );
    let new_pin = pin_from(&transcript, "reshare", "so-pin", &["carol", "dave", "erin"]);
    assert_ne!(old_pin, new_pin);
    // The token itself no longer takes the PIN they give.
    let refused = so_login(&root.conf(), "root-ca", &old_pin);
    assert!(
        !refused.status.success(),
        "the old shares still open the token: {}",
        output_text(&refused)
    );
    assert!(
        output_text(&refused).contains("CKR_PIN_INCORRECT"),
        "{}",
        output_text(&refused)
    );
    let opened = so_login(&root.conf(), "root-ca", &new_pin);
    assert!(opened.status.success(), "{}", output_text(&opened));

    // The record says so: the PIN changed, the change was proven by a
    // login, and the old split's commitments are void.
    let reshare = body_of(&transcript, "reshare");
    assert_eq!(reshare["pin_changed"], true, "{reshare:#}");
    assert_eq!(
        reshare["login_proof"]["role"], "security-officer",
        "{reshare:#}"
    );
    assert_eq!(reshare["login_proof"]["ok"], true, "{reshare:#}");
    assert_eq!(reshare["keep_secret"], false, "{reshare:#}");
    let original_so = entries(&root.transcript())
        .into_iter()
        .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == "so-pin")
        .expect("so-pin split")["body"]["split"]
        .clone();
    assert_eq!(reshare["void"]["commitments"], original_so["commitments"]);
    assert_ne!(reshare["split"]["check_value"], original_so["check_value"]);
}

#[test]
fn a_voided_share_is_refused_by_name_in_a_later_rotation() {
    let rotated = ceremony_of(&rotation().transcript());
    let dir = tempfile::tempdir().expect("tempdir");
    let state = copy_of_root_state(dir.path());
    let bindings = bindings_after_rotation(dir.path());
    // carol brings the share the ROOT ceremony gave her, voided by the
    // first rotation; erin and frank bring their current ones.
    let answers = answers_for(
        "custodian-rotation",
        dir.path(),
        &format!(
            "share-files:\n  recover-so-pin:\n    carol: {}\n",
            old_share_file("carol", "so-pin").display()
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run("custodian-rotation", &bindings, &answers, &state, &out_dir);
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!(
            "carol's share 1 of `so-pin` was voided by rotation `{rotated}`: present the share that ceremony gave you"
        )),
        "{shown}"
    );
    // Refused as it was presented: no recombination, no login.
    let kinds: Vec<String> = entries(&transcript_in(&out_dir))
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.contains(&"share-rejected".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"recombine".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"reshare".to_string()), "{kinds:?}");
    // The token still takes the first rotation's PIN.
    let pin = pin_from(
        &rotation().transcript(),
        "reshare",
        "so-pin",
        &["carol", "erin", "frank"],
    );
    let login = so_login(&state.join("softhsm2.conf"), "root-ca", &pin);
    assert!(login.status.success(), "{}", output_text(&login));
}

#[test]
fn a_second_rotation_continues_the_first_and_takes_a_typed_code_of_its_shares() {
    let first = rotation().transcript();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = copy_of_root_state(dir.path());
    let bindings = bindings_after_rotation(dir.path());
    // erin types the code of the share the FIRST rotation gave her.
    let code = quorum::delivery::open(
        &std::fs::read_to_string(demo_key("erin")).expect("key"),
        &std::fs::read(
            first
                .parent()
                .expect("dir")
                .join(ceremony_of(&first))
                .join("shares")
                .join("erin.so-pin.age"),
        )
        .expect("share file"),
    )
    .expect("opens")
    .code();
    let code_file = dir.path().join("erin.code");
    std::fs::write(&code_file, code.as_bytes()).expect("write");
    let answers = answers_for(
        "custodian-rotation",
        dir.path(),
        &format!(
            "share-codes:\n  recover-so-pin:\n    erin: {}\n",
            code_file.display()
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run("custodian-rotation", &bindings, &answers, &state, &out_dir);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let second = transcript_in(&out_dir);
    let reshare = body_of(&second, "reshare");
    assert_eq!(reshare["void"]["ceremony"], ceremony_of(&first));
    let conf = state.join("softhsm2.conf");
    let new_pin = pin_from(&second, "reshare", "so-pin", &["dave", "erin", "frank"]);
    let login = so_login(&conf, "root-ca", &new_pin);
    assert!(login.status.success(), "{}", output_text(&login));
    let first_pin = pin_from(&first, "reshare", "so-pin", &["dave", "erin", "frank"]);
    assert!(!so_login(&conf, "root-ca", &first_pin).status.success());
}

#[test]
fn a_typed_code_of_an_original_secret_is_accepted() {
    let root = root();
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = bindings_for("dr-restore-rehearsal", &root.transcript(), dir.path());
    // dave types the code on his paper copy of the ROOT ceremony's KEK
    // share: the disaster-recovery fallback when share files are lost.
    let code = quorum::delivery::open(
        &std::fs::read_to_string(demo_key("dave")).expect("key"),
        &std::fs::read(old_share_file("dave", "backup-kek")).expect("share file"),
    )
    .expect("opens")
    .code();
    let code_file = dir.path().join("dave.code");
    std::fs::write(&code_file, code.as_bytes()).expect("write");
    let answers = answers_for(
        "dr-restore-rehearsal",
        dir.path(),
        &format!(
            "share-codes:\n  recover-backup-kek:\n    dave: {}\n",
            code_file.display()
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &out_dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let presented = entries(&transcript_in(&out_dir))
        .into_iter()
        .filter(|e| e["kind"] == "share-presented" && e["actor"] == "dave")
        .count();
    assert_eq!(presented, 1);
}

#[test]
fn a_rotation_with_keep_secret_leaves_the_pin_and_says_the_old_shares_are_void_only_by_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = copy_of_root_state(dir.path());
    let script = dir.path().join("custodian-rotation.yaml");
    std::fs::write(
        &script,
        std::fs::read_to_string(ceremonies().join("custodian-rotation.yaml"))
            .expect("script")
            .replace(
                "reshare: { secret: so-pin }",
                "reshare: { secret: so-pin, keep-secret: true }",
            ),
    )
    .expect("write");
    let bindings = bindings_after_rotation(dir.path());
    let answers = answers_for("custodian-rotation", dir.path(), "");
    let out_dir = dir.path().join("out");
    let out = keyceremony()
        .arg("run")
        .arg(&script)
        .arg("--bindings")
        .arg(&bindings)
        .arg("--state-dir")
        .arg(&state)
        .arg("--out")
        .arg(&out_dir)
        .arg("--headless")
        .arg("--answers")
        .arg(&answers)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = transcript_in(&out_dir);
    let reshare = body_of(&transcript, "reshare");
    assert_eq!(reshare["keep_secret"], true, "{reshare:#}");
    assert_eq!(reshare["pin_changed"], false, "{reshare:#}");
    assert_eq!(reshare["void"]["only_by_record"], true, "{reshare:#}");
    assert!(reshare.get("login_proof").is_none(), "{reshare:#}");
    // The same secret: the first rotation's shares and this one's give the
    // same PIN, and the token still takes it.
    let before = pin_from(
        &rotation().transcript(),
        "reshare",
        "so-pin",
        &["carol", "erin", "frank"],
    );
    let after = pin_from(&transcript, "reshare", "so-pin", &["dave", "erin", "frank"]);
    assert_eq!(before, after);
    assert!(
        so_login(&state.join("softhsm2.conf"), "root-ca", &after)
            .status
            .success()
    );
}

/// The attack of issue 14 item 7: the custodian who left, with two others,
/// runs a "rotation" naming only the root ceremony (leaving the real
/// rotation out of the bindings) and presents the old shares. The tool
/// cannot know of a rotation it is not told about, but the token no
/// longer takes the PIN the old shares give.
#[test]
fn old_shares_in_a_ceremony_that_leaves_the_rotation_out_no_longer_open_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = copy_of_root_state(dir.path());
    let bindings = bindings_for("custodian-rotation", &root().transcript(), dir.path());
    let answers = answers_for(
        "custodian-rotation",
        dir.path(),
        &format!(
            "share-files:\n  recover-so-pin:\n    carol: {}\n    erin: {}\n    frank: {}\n",
            old_share_file("carol", "so-pin").display(),
            old_share_file("erin", "so-pin").display(),
            old_share_file("frank", "so-pin").display()
        ),
    );
    let out_dir = dir.path().join("out");
    let out = run("custodian-rotation", &bindings, &answers, &state, &out_dir);
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains("CKR_PIN_INCORRECT"), "{shown}");
    let kinds: Vec<String> = entries(&transcript_in(&out_dir))
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!kinds.contains(&"reshare".to_string()), "{kinds:?}");
}

/// A restore after the rotation, its bindings listing it: the SO PIN comes
/// from the rotation's shares (and its share directory), the KEK from the
/// root ceremony's; grace, who handed over, is refused by name.
#[test]
fn a_restore_listing_the_rotation_takes_its_shares_and_refuses_the_custodian_who_left() {
    let rotated = ceremony_of(&rotation().transcript());
    let with_rotation = |dir: &Path| {
        let path = bindings_for("dr-restore-rehearsal", &root().transcript(), dir);
        let text = std::fs::read_to_string(&path).expect("bindings").replace(
            &format!("  transcript: {}\n", root().transcript().display()),
            &format!(
                "  transcript: {}\n  rotations: [{}]\n",
                root().transcript().display(),
                rotation().transcript().display()
            ),
        );
        assert!(text.contains("rotations:"), "{text}");
        std::fs::write(&path, text).expect("write");
        path
    };

    // grace presents the SO PIN share the root ceremony gave her.
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = with_rotation(dir.path());
    let answers = answers_for(
        "dr-restore-rehearsal",
        dir.path(),
        &format!(
            "share-files:\n  recover-so-pin:\n    grace: {}\n",
            old_share_file("grace", "so-pin").display()
        ),
    );
    let text = std::fs::read_to_string(&answers).expect("answers").replace(
        "recover-so-pin: [carol, erin, grace]",
        "recover-so-pin: [grace, carol, erin]",
    );
    std::fs::write(&answers, text).expect("write");
    let out_dir = dir.path().join("out");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &out_dir,
    );
    let shown = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!(
            "grace's share 5 of `so-pin` was voided by rotation `{rotated}`"
        )),
        "{shown}"
    );
    let kinds: Vec<String> = entries(&transcript_in(&out_dir))
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!kinds.contains(&"init-token".to_string()), "{kinds:?}");

    // Three of the rotation's custodians: the restore completes.
    let dir = tempfile::tempdir().expect("tempdir");
    let bindings = with_rotation(dir.path());
    let answers = answers_for("dr-restore-rehearsal", dir.path(), "");
    let text = std::fs::read_to_string(&answers).expect("answers").replace(
        "recover-so-pin: [carol, erin, grace]",
        "recover-so-pin: [carol, erin, frank]",
    );
    std::fs::write(&answers, text).expect("write");
    let out_dir = dir.path().join("out");
    let out = run(
        "dr-restore-rehearsal",
        &bindings,
        &answers,
        &dir.path().join("state"),
        &out_dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = transcript_in(&out_dir);
    let linked = keyceremony()
        .arg("verify")
        .arg(&transcript)
        .arg("--original")
        .arg(root().transcript())
        .output()
        .expect("verify");
    assert_eq!(linked.status.code(), Some(0), "{}", output_text(&linked));
    let link = body_of(&transcript, "original-ceremony");
    assert_eq!(link["ceremony"], ceremony_of(&root().transcript()));
    assert_eq!(link["rotations"][0]["ceremony"], rotated, "{link:#}");
    let presented: Vec<serde_json::Value> = entries(&transcript)
        .into_iter()
        .filter(|e| e["kind"] == "share-presented" && e["body"]["secret_name"] == "so-pin")
        .map(|e| e["body"]["commitment"].clone())
        .collect();
    let current = body_of(&rotation().transcript(), "reshare")["split"]["commitments"].clone();
    assert_eq!(presented.len(), 3);
    for c in presented {
        assert!(
            current.as_array().expect("list").contains(&c),
            "{c} is a share of the rotation"
        );
    }
}

/// A rotation listed twice (or out of order) would make the wrong split
/// current: refused before anything is written.
#[test]
fn a_rotation_listed_out_of_order_is_refused_before_the_ceremony_starts() {
    let first = rotation().transcript();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = bindings_for("custodian-rotation", &root().transcript(), dir.path());
    let text = std::fs::read_to_string(&path).expect("bindings").replace(
        &format!("  transcript: {}\n", root().transcript().display()),
        &format!(
            "  transcript: {}\n  rotations: [{}, {}]\n",
            root().transcript().display(),
            first.display(),
            first.display()
        ),
    );
    std::fs::write(&path, text).expect("write");
    let answers = answers_for("custodian-rotation", dir.path(), "");
    let out_dir = dir.path().join("out");
    let state = copy_of_root_state(dir.path());
    let out = run("custodian-rotation", &path, &answers, &state, &out_dir);
    let shown = output_text(&out);
    assert_ne!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("list the rotations in the order they happened"),
        "{shown}"
    );
    assert!(
        !out_dir.exists() || std::fs::read_dir(&out_dir).expect("out").next().is_none(),
        "no transcript was started"
    );
}
