//! Shared helpers for tests that run the real `keyceremony` binary on the
//! embedded SoftHSM2, each in its own state directory (so each run has its
//! own SoftHSM2 process, configuration and tokens).

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keyceremony::quorum::{self, CeremonySecret, Presented, SplitRecord};
use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn script() -> PathBuf {
    repo().join("ceremonies/root-key-generation.yaml")
}

pub fn bindings() -> PathBuf {
    repo().join("ceremonies/rehearsal/root-key-generation.bindings.yaml")
}

pub fn answers() -> PathBuf {
    repo().join("ceremonies/rehearsal/root-key-generation.answers.yaml")
}

pub fn demo_key(name: &str) -> PathBuf {
    repo().join("ceremonies/rehearsal/keys").join(name)
}

pub fn keyceremony() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyceremony"));
    // The test harness exports a shared SOFTHSM2_CONF (.cargo/config.toml);
    // the binary must use its own embedded configuration instead.
    cmd.env_remove("SOFTHSM2_CONF");
    cmd
}

/// A finished headless run.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub output: Output,
}

impl Run {
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// The one transcript the run wrote.
    pub fn transcript(&self) -> PathBuf {
        transcript_in(&self.out())
    }

    pub fn entries(&self) -> Vec<Value> {
        entries(&self.transcript())
    }

    pub fn ceremony_id(&self) -> String {
        self.entries()[0]["ceremony"]
            .as_str()
            .expect("ceremony id")
            .to_string()
    }

    pub fn softhsm_conf(&self) -> PathBuf {
        self.state().join("softhsm2.conf")
    }

    /// The body of the first entry of `kind`.
    pub fn body(&self, kind: &str) -> Value {
        body_of(&self.transcript(), kind)
    }

    /// The split record of `secret` as the transcript holds it.
    pub fn split_record(&self, secret: &str) -> SplitRecord {
        let body = self
            .entries()
            .into_iter()
            .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == secret)
            .unwrap_or_else(|| panic!("no split of {secret}"))["body"]["split"]
            .clone();
        serde_json::from_value(body).expect("a split record")
    }

    pub fn share_file(&self, custodian: &str, secret: &str) -> PathBuf {
        self.out()
            .join(self.ceremony_id())
            .join("shares")
            .join(format!("{custodian}.{secret}.age"))
    }

    /// Opens a custodian's sealed share with their demo key.
    pub fn open_share(&self, custodian: &str, secret: &str) -> quorum::Share {
        let key = std::fs::read_to_string(demo_key(custodian)).expect("demo key");
        let sealed = std::fs::read(self.share_file(custodian, secret)).expect("share file");
        quorum::delivery::open(&key, &sealed).expect("the custodian's key opens their share")
    }

    /// Recombines `secret` from the named custodians' shares.
    pub fn recombine(&self, secret: &str, custodians: &[&str]) -> CeremonySecret {
        let presented: Vec<Presented> = custodians
            .iter()
            .map(|c| Presented {
                custodian: c.to_string(),
                share: self.open_share(c, secret),
            })
            .collect();
        quorum::combine(&self.split_record(secret), &presented).expect("a quorum recombines")
    }

    /// The PIN derived from a recombined secret, as the ceremony derived it.
    pub fn pin(&self, secret: &str, custodians: &[&str]) -> String {
        let length = self
            .entries()
            .into_iter()
            .find(|e| e["kind"] == "split-secret" && e["body"]["split"]["secret_name"] == secret)
            .expect("split entry")["body"]["pin_length"]
            .as_u64()
            .expect("pin length recorded") as usize;
        let recovered = self.recombine(secret, custodians);
        recovered
            .derive_pin(&secret.parse().expect("name"), length)
            .expose()
            .to_string()
    }
}

/// The one transcript a run wrote into `out`.
pub fn transcript_in(out: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out dir exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(found.len(), 1, "exactly one transcript in {out:?}");
    found.into_iter().next().expect("one")
}

/// The body of the first entry of `kind` in `transcript`.
pub fn body_of(transcript: &Path, kind: &str) -> Value {
    entries(transcript)
        .into_iter()
        .find(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry"))["body"]
        .clone()
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn entries(transcript: &Path) -> Vec<Value> {
    std::fs::read_to_string(transcript)
        .expect("transcript readable")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// Writes an answers file for the root rehearsal into `dir`, with absolute
/// key paths and `extra` YAML appended.
pub fn write_answers(dir: &Path, extra: &str) -> PathBuf {
    let mut text =
        String::from("format: keyceremony-answers/1\nscript: root-key-generation\nidentities:\n");
    for name in [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        text.push_str(&format!("  {name}: {}\n", demo_key(name).display()));
    }
    text.push_str(
        "confirm:\n  init-token: initialize\n  generate-root-key: generate\n  root-certificate: sign\n",
    );
    text.push_str("shares:\n  prove-so-pin: [carol, erin, grace]\n");
    text.push_str(
        "seals:\n  materials-out: { hsm: TE-000101, hsm-bag: TE-000102, media: TE-000103 }\n",
    );
    text.push_str(extra);
    let path = dir.join("answers.yaml");
    std::fs::write(&path, text).expect("write answers");
    path
}

/// Runs the root ceremony headless in a fresh directory with `answers`.
pub fn run_root(answers: &Path) -> Run {
    run_root_script(&script(), answers)
}

/// The root ceremony for a test binary's shared run, in `shared_dir(name)`.
pub fn run_root_shared(name: &str) -> Run {
    run_root_in(shared_dir(name), &script(), &answers())
}

/// A directory for a run a whole test binary shares: held in a static, it
/// is never dropped, so it lives under Cargo's target tmp directory (not
/// the system's /tmp) and the binary empties its parent when it first asks,
/// leaving at most one behind.
pub fn shared_dir(name: &str) -> tempfile::TempDir {
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).expect("shared dir");
    tempfile::tempdir_in(&parent).expect("tempdir")
}

/// Runs `script` (a variant of the root ceremony) headless with the root
/// rehearsal bindings, in a fresh directory.
pub fn run_root_script(script: &Path, answers: &Path) -> Run {
    run_root_in(tempfile::tempdir().expect("tempdir"), script, answers)
}

fn run_root_in(dir: tempfile::TempDir, script: &Path, answers: &Path) -> Run {
    let output = keyceremony()
        .arg("run")
        .arg(script)
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers)
        .output()
        .expect("the binary runs");
    Run { dir, output }
}

/// `keyceremony verify FILE`: (exit code, stdout).
pub fn verify(transcript: &Path) -> (i32, String) {
    let out = keyceremony()
        .arg("verify")
        .arg(transcript)
        .output()
        .expect("verify runs");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs a tool with the run's SoftHSM2 configuration.
pub fn tool(run: &Run, program: &str, args: &[&str]) -> Output {
    // One client at a time on a run's token: SoftHSM2's file store is not
    // safe for several processes at once (a listing failed now and then
    // while another test's client logged in).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Command::new(program)
        .args(args)
        .env("SOFTHSM2_CONF", run.softhsm_conf())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token store in `dir` with one token initialized by
/// `softhsm2-util`, as a vendor's tool would leave an HSM; returns the
/// configuration to export as SOFTHSM2_CONF.
pub fn vendor_token(dir: &Path, label: &str, so_pin: &str, user_pin: &str) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let init = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--so-pin", so_pin, "--pin", user_pin])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("softhsm2-util runs");
    assert!(init.status.success(), "{}", output_text(&init));
    conf
}
