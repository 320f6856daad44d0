//! Participant identities against real OpenSSH keys made by ssh-keygen.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyceremony::identity::{IdentityError, PublicIdentity, SigningIdentity};
use secrecy::SecretString;

/// Runs ssh-keygen to make a key pair; returns the private key's path.
fn ssh_keygen(directory: &Path, name: &str, key_type: &str, passphrase: &str) -> PathBuf {
    let path = directory.join(name);
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            key_type,
            "-N",
            passphrase,
            "-C",
            "alice@laptop",
            "-a",
            "2",
            "-f",
        ])
        .arg(&path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed");
    path
}

fn pub_path(private: &Path) -> PathBuf {
    private.with_extension("pub")
}

#[test]
fn loads_an_ssh_keygen_key_and_matches_its_pub_file_and_fingerprint() {
    let directory = tempfile::tempdir().expect("tempdir");
    let private = ssh_keygen(directory.path(), "id_ed25519", "ed25519", "");
    let identity = SigningIdentity::load(&private).expect("loads");
    let pub_line = std::fs::read_to_string(pub_path(&private)).expect("pub file");
    let public = PublicIdentity::from_openssh(&pub_line).expect("parses");
    assert_eq!(identity.public(), &public);
    assert_eq!(
        format!("{} alice@laptop\n", public.to_openssh()),
        pub_line,
        "to_openssh is the .pub line without its comment"
    );

    let listed = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_path(&private))
        .output()
        .expect("ssh-keygen -l runs");
    let listed = String::from_utf8(listed.stdout).expect("utf8");
    let printed = listed.split_whitespace().nth(1).expect("fingerprint field");
    assert_eq!(public.fingerprint(), printed);
}

#[test]
fn signatures_verify_strictly_and_only_for_their_message() {
    let directory = tempfile::tempdir().expect("tempdir");
    let private = ssh_keygen(directory.path(), "id", "ed25519", "");
    let identity = SigningIdentity::load(&private).expect("loads");
    let signature = identity.sign(b"keyceremony/v1/sign-in\n");
    identity
        .public()
        .verify(b"keyceremony/v1/sign-in\n", &signature)
        .expect("verifies");
    assert!(matches!(
        identity
            .public()
            .verify(b"keyceremony/v1/confirm\n", &signature),
        Err(IdentityError::BadSignature)
    ));
}

#[test]
fn an_encrypted_key_asks_for_its_passphrase() {
    let directory = tempfile::tempdir().expect("tempdir");
    let private = ssh_keygen(directory.path(), "id", "ed25519", "correct horse");
    let error = SigningIdentity::load(&private).err().expect("refused");
    assert!(matches!(error, IdentityError::Encrypted));
    assert!(
        error.to_string().contains("load_with_passphrase"),
        "{error}"
    );

    let wrong = SecretString::from("battery staple");
    assert!(matches!(
        SigningIdentity::load_with_passphrase(&private, &wrong),
        Err(IdentityError::Decrypt(_))
    ));
    let right = SecretString::from("correct horse");
    let identity = SigningIdentity::load_with_passphrase(&private, &right).expect("decrypts");
    let pub_line = std::fs::read_to_string(pub_path(&private)).expect("pub");
    assert_eq!(
        identity.public(),
        &PublicIdentity::from_openssh(&pub_line).expect("parses")
    );
}

#[test]
fn other_key_types_are_refused_by_name() {
    let directory = tempfile::tempdir().expect("tempdir");
    let private = ssh_keygen(directory.path(), "id_ecdsa", "ecdsa", "");
    let pub_line = std::fs::read_to_string(pub_path(&private)).expect("pub");
    match PublicIdentity::from_openssh(&pub_line) {
        Err(IdentityError::UnsupportedKeyType { found }) => {
            assert_eq!(found, "ecdsa-sha2-nistp256")
        }
        other => panic!("expected unsupported key type, got {other:?}"),
    }
    assert!(matches!(
        SigningIdentity::load(&private),
        Err(IdentityError::UnsupportedKeyType { .. })
    ));
}

#[test]
fn weak_keys_garbage_and_missing_files_are_refused() {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    let mut small_order = [0u8; 32];
    small_order[0] = 1;
    blob.extend_from_slice(&small_order);
    let line = format!("ssh-ed25519 {}", STANDARD.encode(&blob));
    assert!(matches!(
        PublicIdentity::from_openssh(&line),
        Err(IdentityError::WeakKey)
    ));

    assert!(matches!(
        PublicIdentity::from_openssh("ssh-ed25519 not-base64"),
        Err(IdentityError::Parse(_))
    ));
    assert!(matches!(
        SigningIdentity::from_openssh_private("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
        Err(IdentityError::Parse(_))
    ));
    let error = SigningIdentity::load(Path::new("/nonexistent/id_ed25519"))
        .err()
        .expect("missing");
    assert!(
        error.to_string().contains("/nonexistent/id_ed25519"),
        "{error}"
    );
}
