//! Share files sealed with age to a custodian's ssh-ed25519 key, opened by
//! this module and by the stock `age` command line tool.

mod quorum_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use keyceremony::quorum::{QuorumError, delivery};
use quorum_support::*;
use secrecy::SecretString;

struct Key {
    private_path: PathBuf,
    private: String,
    public: String,
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--help").output().is_ok()
}

/// An ed25519 key pair made by OpenSSH's own ssh-keygen.
fn ssh_keygen(dir: &Path, file: &str, passphrase: &str) -> Key {
    let private_path = dir.join(file);
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "custodian@test",
            "-N",
            passphrase,
            "-f",
        ])
        .arg(&private_path)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    read_key(private_path)
}

/// An ed25519 key pair made with the ssh-key crate, written in OpenSSH format.
fn ssh_key_crate(dir: &Path, file: &str, passphrase: Option<&str>) -> Key {
    let mut rng = rand::rngs::OsRng;
    let mut key =
        ssh_key::PrivateKey::random(&mut rng, ssh_key::Algorithm::Ed25519).expect("generate key");
    key.set_comment("custodian@test");
    if let Some(passphrase) = passphrase {
        key = key.encrypt(&mut rng, passphrase).expect("encrypt key");
    }
    let private_path = dir.join(file);
    std::fs::write(
        &private_path,
        key.to_openssh(ssh_key::LineEnding::LF)
            .expect("encode")
            .as_bytes(),
    )
    .expect("write key");
    std::fs::write(
        private_path.with_extension("pub"),
        key.public_key().to_openssh().expect("encode public"),
    )
    .expect("write public key");
    read_key(private_path)
}

fn read_key(private_path: PathBuf) -> Key {
    let private = std::fs::read_to_string(&private_path).expect("read private key");
    let public = std::fs::read_to_string(private_path.with_extension("pub")).expect("read .pub");
    Key {
        private_path,
        private,
        public,
    }
}

/// Key generation as the brief asks: ssh-keygen where installed, otherwise
/// the ssh-key crate. The crate path is also tested on its own below.
fn custodian_key(dir: &Path, file: &str) -> Key {
    if have("ssh-keygen") {
        ssh_keygen(dir, file, "")
    } else {
        ssh_key_crate(dir, file, None)
    }
}

/// Decrypts with the stock age CLI, exactly as a custodian would.
fn age_cli_decrypt(key: &Key, sealed_path: &Path) -> String {
    let output = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key.private_path)
        .arg(sealed_path)
        .output()
        .expect("the age CLI is installed (apt-get install -y age)");
    assert!(
        output.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

fn seal_and_check_with_age_cli(key: &Key, dir: &Path) {
    let split = make_split("root-2025", "so-pin", 2, 3);
    let share = &split.shares[1];
    let sealed = delivery::seal(&key.public, share).expect("seal");
    let armored = String::from_utf8(sealed.clone()).expect("armored text");
    assert!(
        armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{armored}"
    );
    assert!(
        armored
            .trim_end()
            .ends_with("-----END AGE ENCRYPTED FILE-----")
    );
    for group in share.code().split_whitespace().skip(1) {
        assert!(!armored.contains(group), "the code leaks into the file");
    }

    let sealed_path = dir.join("share-2.age");
    std::fs::write(&sealed_path, &sealed).expect("write sealed file");
    let plaintext = age_cli_decrypt(key, &sealed_path);
    assert_eq!(plaintext, share.to_text().as_str());

    let opened = delivery::open(&key.private, &sealed).expect("open");
    assert_eq!(opened.metadata(), share.metadata());
    assert_eq!(opened.commitment(), share.commitment());
    assert_eq!(
        keyceremony::quorum::check_one(&split.record, &opened),
        Ok(())
    );
}

#[test]
fn sealed_share_opens_with_stock_age_and_with_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = custodian_key(dir.path(), "id_ed25519");
    seal_and_check_with_age_cli(&key, dir.path());
}

#[test]
fn sealed_share_opens_with_a_key_written_by_the_ssh_key_crate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ssh_key_crate(dir.path(), "id_ed25519", None);
    seal_and_check_with_age_cli(&key, dir.path());
}

#[test]
fn passphrase_protected_key_needs_the_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = if have("ssh-keygen") {
        ssh_keygen(dir.path(), "id_ed25519", "correct horse")
    } else {
        ssh_key_crate(dir.path(), "id_ed25519", Some("correct horse"))
    };
    let split = make_split("root-2025", "so-pin", 2, 3);
    let sealed = delivery::seal(&key.public, &split.shares[0]).expect("seal");

    assert!(matches!(
        delivery::open(&key.private, &sealed),
        Err(QuorumError::IdentityNeedsPassphrase)
    ));
    let wrong = SecretString::from("wrong horse".to_owned());
    let error = delivery::open_with_passphrase(&key.private, &wrong, &sealed)
        .err()
        .expect("wrong passphrase");
    assert!(
        error.to_string().contains("passphrase does not unlock"),
        "{error}"
    );

    let right = SecretString::from("correct horse".to_owned());
    let opened = delivery::open_with_passphrase(&key.private, &right, &sealed).expect("open");
    assert_eq!(opened.commitment(), split.shares[0].commitment());
}

#[test]
fn another_custodians_key_cannot_open_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = custodian_key(dir.path(), "alice");
    let bob = custodian_key(dir.path(), "bob");
    let split = make_split("root-2025", "so-pin", 2, 3);
    let sealed = delivery::seal(&alice.public, &split.shares[0]).expect("seal");
    let error = delivery::open(&bob.private, &sealed)
        .err()
        .expect("wrong key");
    assert!(matches!(error, QuorumError::Open(_)), "{error}");
    assert!(
        error.to_string().contains("the custodian's own key"),
        "{error}"
    );
}

#[test]
fn tampered_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = custodian_key(dir.path(), "id_ed25519");
    let split = make_split("root-2025", "so-pin", 2, 3);
    let sealed = delivery::seal(&key.public, &split.shares[0]).expect("seal");
    let text = String::from_utf8(sealed).expect("armored");
    // Flip one base64 character in the last body line (the payload's tag).
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last_body = lines.len() - 2;
    let flipped: String = lines[last_body]
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 3 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    lines[last_body] = flipped;
    let tampered = lines.join("\n") + "\n";
    assert!(matches!(
        delivery::open(&key.private, tampered.as_bytes()),
        Err(QuorumError::Open(_))
    ));
}

#[test]
fn only_ssh_ed25519_recipients_are_accepted() {
    let split = make_split("root-2025", "so-pin", 2, 3);
    let share = &split.shares[0];
    for (recipient, reason) in [
        ("", "not exactly one line"),
        (
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ user@host",
            "only ssh-ed25519",
        ),
        ("age1qqqq", "only ssh-ed25519"),
        ("ssh-ed25519 notbase64!", "does not parse"),
    ] {
        let error = delivery::seal(recipient, share).expect_err("refused");
        assert!(error.to_string().contains(reason), "{recipient}: {error}");
    }
}

#[test]
fn garbage_identity_is_refused() {
    let error = delivery::open("not a key", b"whatever")
        .err()
        .expect("refused");
    assert!(
        matches!(error, QuorumError::InvalidIdentity { .. }),
        "{error}"
    );
}
