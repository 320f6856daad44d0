//! SoftHSM2 as the embedded development HSM: a configuration of the tool's
//! own, with its token directory inside the run's state directory, so a
//! rehearsal never touches /etc/softhsm or another user's tokens.
//!
//! SoftHSM2 reads the file named by SOFTHSM2_CONF once, when the module is
//! initialized. Setting environment variables once threads run is unsound,
//! so this module never sets it: the binary's `main` does, first thing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::HsmError;

/// Debian's SoftHSM2 module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The configuration file's name inside the state directory.
pub const CONF_FILE_NAME: &str = "softhsm2.conf";

/// The environment variable SoftHSM2 reads its configuration path from.
pub const CONF_ENV: &str = "SOFTHSM2_CONF";

/// Writes `<state_dir>/softhsm2.conf` (token directory
/// `<state_dir>/tokens`, file object store, errors-only logging), creating
/// missing directories with mode 0700. Idempotent: an identical file is
/// left alone, a different one is replaced atomically. Returns the
/// configuration's absolute path, for SOFTHSM2_CONF.
pub fn prepare(state_dir: &Path) -> Result<PathBuf, HsmError> {
    create_private_dir(state_dir)?;
    let state_dir = fs::canonicalize(state_dir).map_err(|source| HsmError::Io {
        action: "resolving",
        path: state_dir.to_owned(),
        source,
    })?;
    let token_dir = state_dir.join("tokens");
    create_private_dir(&token_dir)?;
    // The tokens are ours: nobody else should list or read them.
    fs::set_permissions(&token_dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
        HsmError::Io {
            action: "restricting",
            path: token_dir.clone(),
            source,
        }
    })?;

    let token_dir_text = token_dir.to_str().ok_or_else(|| {
        HsmError::InvalidInput(format!("{} is not valid UTF-8", token_dir.display()))
    })?;
    // SoftHSM2's format is one `key = value` per line: a line break in the
    // path would let it write its own settings.
    if token_dir_text.contains(['\n', '\r']) {
        return Err(HsmError::InvalidInput(format!(
            "the state directory {token_dir_text:?} contains a line break"
        )));
    }
    let contents = format!(
        "# Written by keyceremony: SoftHSM2 for this state directory only.\n\
         directories.tokendir = {token_dir_text}\n\
         objectstore.backend = file\n\
         log.level = ERROR\n\
         slots.removable = false\n"
    );

    let conf_path = state_dir.join(CONF_FILE_NAME);
    if fs::read_to_string(&conf_path).is_ok_and(|existing| existing == contents) {
        return Ok(conf_path);
    }
    // Write then rename: a process that reads the file at the same moment
    // sees the old or the new file, never half of one.
    let temporary = state_dir.join(format!(".{CONF_FILE_NAME}.{}.tmp", std::process::id()));
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| HsmError::Io {
            action,
            path,
            source,
        }
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io("creating", &temporary))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("writing", &temporary))?;
    fs::rename(&temporary, &conf_path).map_err(io("renaming into place", &conf_path))?;
    Ok(conf_path)
}

fn create_private_dir(path: &Path) -> Result<(), HsmError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| HsmError::Io {
            action: "creating",
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_writes_an_absolute_private_configuration_once() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let state = dir.path().join("state");
        let conf = prepare(&state).expect("prepare");
        let canonical_state = fs::canonicalize(&state).expect("state exists");
        assert_eq!(conf, canonical_state.join("softhsm2.conf"));
        let text = fs::read_to_string(&conf).expect("read conf");
        let token_line = format!(
            "directories.tokendir = {}\n",
            canonical_state.join("tokens").display()
        );
        assert!(text.contains(&token_line), "{text}");
        assert!(text.contains("objectstore.backend = file\n"));
        assert!(text.contains("log.level = ERROR\n"));

        let mode = |path: &Path| fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join("tokens")), 0o700);
        assert_eq!(mode(&conf), 0o600);

        let modified = fs::metadata(&conf)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(prepare(&state).expect("again"), conf);
        let again = fs::metadata(&conf)
            .and_then(|m| m.modified())
            .expect("mtime");
        assert_eq!(modified, again, "an identical file is not rewritten");

        fs::write(&conf, "directories.tokendir = /etc/elsewhere\n").expect("tamper");
        prepare(&state).expect("repair");
        assert_eq!(fs::read_to_string(&conf).expect("read"), text);
    }

    #[test]
    fn a_line_break_in_the_path_is_refused() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let error = prepare(&dir.path().join("a\nlog.level = DEBUG")).expect_err("newline");
        assert!(error.to_string().contains("line break"), "{error}");
    }
}
