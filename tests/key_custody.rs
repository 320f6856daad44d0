//! Where participants' keys are between their acts, end to end with the
//! real binary on SoftHSM2: a script that says `keys: held-for-session`
//! is stated as such by the transcript, `verify` and the report (a per-act
//! one says per-act), and a key in a real OpenSSH agent signs an act (the
//! witness's authorization of a resume) without its file.

mod ceremony_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use ceremony_support::*;

fn run(script: &Path, dir: &Path) -> Output {
    keyceremony()
        .arg("run")
        .arg(script)
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs")
}

fn report_md(transcript: &Path) -> String {
    let out = keyceremony()
        .arg("report")
        .arg(transcript)
        .arg("--format")
        .arg("md")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_held_for_session_ceremony_says_so_in_the_transcript_verify_and_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(script()).expect("script");
    let held = text.replacen(
        "version: \"1.0\"\n",
        "version: \"1.0\"\nkeys: held-for-session\n",
        1,
    );
    assert_ne!(held, text);
    let path = dir.path().join("root-key-generation.yaml");
    std::fs::write(&path, held).expect("write");
    let out = run(&path, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let transcript = transcript_in(&dir.path().join("out"));
    assert_eq!(
        body_of(&transcript, "genesis")["participant_keys"],
        "held-for-session"
    );
    let (code, verdict) = verify(&transcript);
    assert_eq!(code, 0, "{verdict}");
    assert!(verdict.contains("HELD FOR THE SESSION"), "{verdict}");
    assert!(
        report_md(&transcript).contains("held-for-session"),
        "the report states it"
    );

    // The committed per-act example says per-act, and nothing about held keys.
    let example = repo().join("transcripts/example-root-rehearsal.jsonl");
    assert_eq!(body_of(&example, "genesis")["participant_keys"], "per-act");
    let (code, verdict) = verify(&example);
    assert_eq!(code, 0, "{verdict}");
    assert!(!verdict.contains("HELD FOR THE SESSION"), "{verdict}");
}

/// A running ssh-agent holding `keys`, stopped on drop.
struct Agent {
    socket: std::path::PathBuf,
    pid: String,
}

impl Agent {
    fn start(dir: &Path, keys: &[&str]) -> Agent {
        let socket = dir.join("agent.sock");
        let out = Command::new("ssh-agent")
            .arg("-a")
            .arg(&socket)
            .arg("-s")
            .output()
            .expect("ssh-agent runs (apt-get install openssh-client)");
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let pid = said
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("the agent's pid")
            .to_string();
        let agent = Agent { socket, pid };
        for key in keys {
            // ssh-add refuses a key file others can read.
            let copy = dir.join(key);
            std::fs::copy(demo_key(key), &copy).expect("copy key");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            let added = Command::new("ssh-add")
                .arg(&copy)
                .env("SSH_AUTH_SOCK", &agent.socket)
                .output()
                .expect("ssh-add runs");
            assert!(added.status.success(), "{}", output_text(&added));
            std::fs::remove_file(&copy).expect("the key file is gone");
        }
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

#[test]
fn a_key_in_an_ssh_agent_signs_the_witnesss_authorization_of_a_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let crashed = keyceremony()
        .env("KEYCEREMONY_TEST_CRASH_AFTER_ENTRY", "20")
        .arg("run")
        .arg(script())
        .arg("--bindings")
        .arg(bindings())
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--headless")
        .arg("--answers")
        .arg(answers())
        .output()
        .expect("runs");
    assert_ne!(crashed.status.code(), Some(0));
    let transcript = transcript_in(&dir.path().join("out"));

    let agent = Agent::start(dir.path(), &["bob"]);
    let resume = |sock: &Path| {
        keyceremony()
            .env("SSH_AUTH_SOCK", sock)
            .arg("run")
            .arg(script())
            .arg("--bindings")
            .arg(bindings())
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--resume")
            .arg(&transcript)
            .arg("--witness-key")
            .arg("agent")
            .arg("--headless")
            .arg("--answers")
            .arg(answers())
            .output()
            .expect("runs")
    };
    // An agent without bob's key cannot authorize for him.
    let other = tempfile::tempdir().expect("tempdir");
    let wrong = Agent::start(other.path(), &["carol"]);
    let refused = resume(&wrong.socket);
    assert_ne!(refused.status.code(), Some(0), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("bob"),
        "{}",
        output_text(&refused)
    );

    let resumed = resume(&agent.socket);
    assert_eq!(resumed.status.code(), Some(0), "{}", output_text(&resumed));
    let (code, verdict) = verify(&transcript);
    assert_eq!(code, 0, "{verdict}");
    let resume_entry = entries(&transcript)
        .into_iter()
        .find(|e| e["kind"] == "resume")
        .expect("a resume entry");
    let signers: Vec<&str> = resume_entry["body"]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter_map(|s| s["participant"].as_str().or(s["by"].as_str()))
        .collect();
    assert!(signers.contains(&"bob"), "{resume_entry}");
}
