//! Share files: a share's text encrypted with age to the custodian's
//! ssh-ed25519 key, ASCII-armored, so that stock
//! `age -d -i ~/.ssh/id_ed25519 FILE` opens it without this tool.

use std::io::{Read, Write};
use std::iter;
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::{QuorumError, Share};

/// The largest plaintext accepted from a share file; a share text is
/// about 300 bytes, so anything bigger is not one.
pub const MAX_SHARE_TEXT_LEN: usize = 4096;

/// Encrypts the share's text to one `ssh-ed25519 AAAA... [comment]` line.
pub fn seal(recipient_openssh: &str, share: &Share) -> Result<Vec<u8>, QuorumError> {
    let line = recipient_openssh.trim();
    let invalid = |reason: &str| QuorumError::InvalidRecipient {
        reason: reason.to_owned(),
    };
    if line.lines().count() != 1 {
        return Err(invalid("it is not exactly one line"));
    }
    if !line.starts_with("ssh-ed25519 ") {
        return Err(invalid(
            "only ssh-ed25519 keys are accepted, so every custodian's file is sealed the same way",
        ));
    }
    let recipient = age::ssh::Recipient::from_str(line)
        .map_err(|error| invalid(&format!("the key does not parse ({error:?})")))?;

    let text = share.to_text();
    let seal_error = |error: std::io::Error| QuorumError::Seal(error.to_string());
    let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
        .map_err(|error| QuorumError::Seal(error.to_string()))?;
    let armored = ArmoredWriter::wrap_output(Vec::new(), Format::AsciiArmor).map_err(seal_error)?;
    let mut writer = encryptor.wrap_output(armored).map_err(seal_error)?;
    writer.write_all(text.as_bytes()).map_err(seal_error)?;
    writer
        .finish()
        .and_then(ArmoredWriter::finish)
        .map_err(seal_error)
}

/// Decrypts a share file with an unencrypted OpenSSH private key (the
/// contents of `~/.ssh/id_ed25519`) and parses the share inside.
pub fn open(identity_openssh_private: &str, sealed: &[u8]) -> Result<Share, QuorumError> {
    match parse_identity(identity_openssh_private)? {
        age::ssh::Identity::Encrypted(_) => Err(QuorumError::IdentityNeedsPassphrase),
        identity => decrypt(&identity, sealed),
    }
}

/// Like [`open`], for a private key protected by a passphrase.
pub fn open_with_passphrase(
    identity_openssh_private: &str,
    passphrase: &SecretString,
    sealed: &[u8],
) -> Result<Share, QuorumError> {
    match parse_identity(identity_openssh_private)? {
        age::ssh::Identity::Encrypted(key) => {
            let passphrase = SecretString::from(passphrase.expose_secret().to_owned());
            let key = key
                .decrypt(passphrase)
                .map_err(|error| QuorumError::InvalidIdentity {
                    reason: format!("the passphrase does not unlock it ({error})"),
                })?;
            decrypt(&age::ssh::Identity::Unencrypted(key), sealed)
        }
        identity => decrypt(&identity, sealed),
    }
}

fn parse_identity(identity_openssh_private: &str) -> Result<age::ssh::Identity, QuorumError> {
    let identity = age::ssh::Identity::from_buffer(identity_openssh_private.as_bytes(), None)
        .map_err(|error| QuorumError::InvalidIdentity {
            reason: error.to_string(),
        })?;
    if let age::ssh::Identity::Unsupported(key) = &identity {
        return Err(QuorumError::InvalidIdentity {
            reason: format!("this kind of key is not supported ({key:?})"),
        });
    }
    Ok(identity)
}

fn decrypt(identity: &age::ssh::Identity, sealed: &[u8]) -> Result<Share, QuorumError> {
    let open_error = |error: &dyn std::fmt::Display| QuorumError::Open(error.to_string());
    let decryptor = age::Decryptor::new(ArmoredReader::new(sealed)).map_err(|e| open_error(&e))?;
    let reader = decryptor
        .decrypt(iter::once(identity as &dyn age::Identity))
        .map_err(|e| open_error(&e))?;
    // Room for the largest accepted text plus one byte to detect a larger
    // one, allocated once so reading never reallocates and leaves a copy.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(MAX_SHARE_TEXT_LEN + 1));
    reader
        .take(MAX_SHARE_TEXT_LEN as u64 + 1)
        .read_to_end(&mut plaintext)
        .map_err(|e| open_error(&e))?;
    if plaintext.len() > MAX_SHARE_TEXT_LEN {
        return Err(QuorumError::SealedTooLarge {
            max: MAX_SHARE_TEXT_LEN,
        });
    }
    let text = std::str::from_utf8(&plaintext).map_err(|_| QuorumError::SealedNotText)?;
    Ok(Share::parse(text)?)
}
