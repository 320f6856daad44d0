//! `keyceremony hsm status|objects|selftest`: what custodians and auditors
//! ask of an HSM outside a ceremony.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use keyceremony::hsm::selftest::{self, Outcome};
use keyceremony::hsm::{HsmError, Module, ObjectSummary, Role, Token, softhsm};
use keyceremony::secret::Pin;

use super::{FAILED, OK, USAGE};

#[derive(Subcommand)]
pub enum HsmCommand {
    /// The module, its tokens (identity, flags, PIN limits) and their mechanisms.
    Status(Target),
    /// Every object on a token: class, label, id, key type and size, flags. An auditor's inventory.
    Objects {
        #[command(flatten)]
        target: Target,
        /// Log in as the user to list private objects too; the PIN is read from the terminal
        /// without echo (or one line of standard input when it is not a terminal).
        #[arg(long)]
        login: bool,
        /// One JSON document instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run the HSM checklist on a throwaway token; one PASS/FAIL/UNSUPPORTED row per item.
    Selftest {
        #[command(flatten)]
        target: Target,
        /// Run on the token named by --serial or --label instead: an empty rehearsal token
        /// initialized with the vendor's tool, whose user PIN is read like `objects --login`.
        /// Its keys are destroyed at the end.
        #[arg(long)]
        existing: bool,
    },
}

/// Which module and token.
#[derive(Args)]
pub struct Target {
    /// The PKCS#11 module [default: the embedded SoftHSM2 of --state-dir].
    #[arg(long)]
    module: Option<PathBuf>,
    /// The embedded SoftHSM2's state directory (used without --module).
    #[arg(long, default_value = ".keyceremony")]
    state_dir: PathBuf,
    /// The token's serial number (slot ids change between processes).
    #[arg(long, conflicts_with = "label")]
    serial: Option<String>,
    /// The token's label.
    #[arg(long)]
    label: Option<String>,
}

pub fn hsm(command: HsmCommand) -> ExitCode {
    let result = match command {
        HsmCommand::Status(target) => status(&target),
        HsmCommand::Objects {
            target,
            login,
            json,
        } => objects(&target, login, json),
        HsmCommand::Selftest { target, existing } => match existing {
            true => run_existing_selftest(&target),
            false => run_selftest(&target),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// Loads the chosen module; the embedded SoftHSM2 is configured for its
/// state directory first.
fn load(target: &Target) -> Result<Module, String> {
    let path = match &target.module {
        Some(path) => path.clone(),
        None => {
            let conf = softhsm::prepare(&target.state_dir).map_err(|e| e.to_string())?;
            super::export_env(softhsm::CONF_ENV, &conf);
            PathBuf::from(softhsm::DEFAULT_MODULE)
        }
    };
    Module::load(&path).map_err(|e| e.to_string())
}

fn chosen_token(module: &Module, target: &Target) -> Result<Option<Token>, String> {
    match (&target.serial, &target.label) {
        // Uninitialized tokens report a blank serial: it identifies nothing.
        (Some(serial), _) if serial.trim().is_empty() => {
            return Err("a blank serial names no token; give the token's serial or --label".into());
        }
        (Some(serial), _) => module.token_by_serial(serial).map(Some),
        (None, Some(label)) => module.token_by_label(label).map(Some),
        (None, None) => Ok(None),
    }
    .map_err(|e| e.to_string())
}

fn status(target: &Target) -> Result<ExitCode, String> {
    let module = load(target)?;
    let info = module.info().map_err(|e| e.to_string())?;
    println!("module {}", info.path);
    println!(
        "  {} — {} {} (PKCS#11 {})",
        info.manufacturer, info.library_description, info.library_version, info.cryptoki_version
    );
    let tokens: Vec<Token> = match chosen_token(&module, target)? {
        Some(token) => vec![token],
        None => {
            let infos = module.tokens().map_err(|e| e.to_string())?;
            if infos.is_empty() {
                println!("no token present");
            }
            infos
                .iter()
                .map(|t| module.token_by_serial(&t.serial))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        }
    };
    for token in tokens {
        let t = token.info();
        println!();
        println!(
            "token {} (slot {} in this process)",
            token.describe(),
            t.slot_id
        );
        println!(
            "  manufacturer {}  model {}  serial {}",
            t.manufacturer, t.model, t.serial
        );
        println!(
            "  hardware {}  firmware {}",
            t.hardware_version, t.firmware_version
        );
        let yes = |b: bool| if b { "yes" } else { "no" };
        println!(
            "  initialized {}  user PIN set {}  login required {}  PIN pad {}  write-protected {}  RNG {}",
            yes(t.initialized),
            yes(t.user_pin_initialized),
            yes(t.login_required),
            yes(t.protected_authentication_path),
            yes(t.write_protected),
            yes(t.has_rng)
        );
        println!("  PIN length {} to {}", t.min_pin_len, t.max_pin_len);
        let warnings: Vec<&str> = [
            (t.so_pin_locked, "SO PIN LOCKED"),
            (t.so_pin_final_try, "SO PIN: final try"),
            (t.so_pin_count_low, "SO PIN: a wrong PIN was entered"),
            (t.user_pin_locked, "user PIN LOCKED"),
            (t.user_pin_final_try, "user PIN: final try"),
            (t.user_pin_count_low, "user PIN: a wrong PIN was entered"),
        ]
        .into_iter()
        .filter_map(|(set, text)| set.then_some(text))
        .collect();
        // Uninitialized SoftHSM2 tokens report a locked SO PIN: the flags
        // mean something only once the token has PINs.
        if t.initialized && !warnings.is_empty() {
            println!("  ! {}", warnings.join("; "));
        }
        match token.mechanisms() {
            Ok(mechanisms) => {
                println!("  mechanisms ({}):", mechanisms.len());
                for line in mechanisms.chunks(4) {
                    println!("    {}", line.join("  "));
                }
            }
            Err(e) => println!("  mechanisms: cannot be listed ({e})"),
        }
    }
    Ok(ExitCode::from(OK))
}

fn objects(target: &Target, login: bool, json: bool) -> Result<ExitCode, String> {
    let module = load(target)?;
    let token = match chosen_token(&module, target)? {
        Some(token) => token,
        None => {
            return Err(
                "name the token with --serial or --label (`keyceremony hsm status` lists them)"
                    .into(),
            );
        }
    };
    let (objects, scope) = if login {
        let pin = read_pin("user PIN")?;
        let user = token.login(Role::User, &pin).map_err(|e| e.to_string())?;
        (
            user.objects().map_err(|e| e.to_string())?,
            "every object (logged in as user)",
        )
    } else {
        (
            token.public_objects().map_err(|e| e.to_string())?,
            "public objects only (not logged in: --login lists private objects too)",
        )
    };
    if json {
        let document = serde_json::json!({
            "token": token.info(),
            "logged_in": login,
            "objects": objects,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?
        );
        return Ok(ExitCode::from(OK));
    }
    println!(
        "token {} serial {}: {} objects: {scope}",
        token.describe(),
        token.info().serial,
        objects.len()
    );
    for object in &objects {
        print_object(object);
    }
    Ok(ExitCode::from(OK))
}

fn print_object(object: &ObjectSummary) {
    println!();
    println!(
        "{}  label {:?}  id {}",
        object.class, object.label, object.id_hex
    );
    let Some(key) = &object.key else { return };
    let size = key
        .curve
        .clone()
        .or(key.bits.map(|b| format!("{b} bits")))
        .unwrap_or_else(|| "size not reported".into());
    println!("  {} {size}", key.key_type);
    let flags: Vec<String> = key
        .flags()
        .iter()
        .filter_map(|(name, value)| value.map(|v| format!("{}{name}", if v { "+" } else { "-" })))
        .collect();
    for line in flags.chunks(9) {
        println!("  {}", line.join(" "));
    }
}

/// Reads a PIN without echo from the terminal, else one line of stdin.
/// Never from the command line, where `ps` and shell history would see it.
/// The process is hardened first: the PIN lives in its memory.
fn read_pin(what: &str) -> Result<Pin, String> {
    keyceremony::secret::harden_process()?;
    let stdin = std::io::stdin();
    let mut line = Zeroizing::new(String::new());
    if stdin.is_terminal() {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        eprint!("{what}: ");
        std::io::stderr().flush().ok();
        let saved = tcgetattr(&stdin).map_err(|e| format!("reading the terminal mode: {e}"))?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).map_err(|e| format!("turning echo off: {e}"))?;
        let read = stdin.lock().read_line(&mut line);
        tcsetattr(&stdin, SetArg::TCSANOW, &saved).ok();
        eprintln!();
        read.map_err(|e| format!("reading the {what}: {e}"))?;
    } else {
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("reading the {what} from standard input: {e}"))?;
    }
    let pin = line.trim_end_matches(['\n', '\r']);
    if pin.is_empty() {
        return Err(format!("no {what} given"));
    }
    Ok(Pin::new(Zeroizing::new(pin.to_owned())))
}

/// A throwaway token: SoftHSM2 and kryoptic get a fresh token store in a
/// temporary directory; any other module must offer an uninitialized
/// token (the selftest refuses one that holds anything).
fn run_selftest(target: &Target) -> Result<ExitCode, String> {
    let scratch = tempfile::Builder::new()
        .prefix("keyceremony-selftest-")
        .tempdir()
        .map_err(|e| format!("creating a temporary directory: {e}"))?;
    let module_path = target
        .module
        .clone()
        .unwrap_or_else(|| PathBuf::from(softhsm::DEFAULT_MODULE));
    let throwaway = prepare_throwaway(&module_path, scratch.path())?;
    let module = Module::load(&module_path).map_err(|e| e.to_string())?;
    let token = match (throwaway, chosen_token(&module, target)?) {
        (true, _) => module.uninitialized_token(),
        (false, Some(token)) => Ok(token),
        (false, None) => module.uninitialized_token(),
    }
    .map_err(|e| e.to_string())?;
    println!("selftest of {} on a throwaway token", module_path.display());
    let rows = selftest::run(&token, &mut print_row).map_err(|e: HsmError| e.to_string())?;
    let code = summarize(&rows);
    if !throwaway {
        println!(
            "the token {} now holds the selftest's keys; re-initialize it before use",
            token.info().serial
        );
    }
    Ok(code)
}

/// The selftest on a token initialized with the vendor's tool, named by
/// serial or label (the throwaway selftest cannot run on such modules).
fn run_existing_selftest(target: &Target) -> Result<ExitCode, String> {
    let module = load(target)?;
    let token = chosen_token(&module, target)?
        .ok_or("--existing runs on the token you name: give --serial or --label")?;
    let pin = read_pin("user PIN")?;
    println!(
        "selftest of {} on the existing token {}",
        module.path().display(),
        token.describe()
    );
    let rows = selftest::run_existing(&token, &pin, &mut print_row).map_err(|e| e.to_string())?;
    Ok(summarize(&rows))
}

fn print_row(row: &selftest::Row) {
    println!("{:<11}  {}", row.outcome.to_string(), row.item);
    if !row.detail.is_empty() {
        println!("{:<11}  {}", "", row.detail);
    }
}

/// The totals line; the exit code fails on any FAIL row.
fn summarize(rows: &[selftest::Row]) -> ExitCode {
    let count = |o: Outcome| rows.iter().filter(|r| r.outcome == o).count();
    let (failed, unsupported) = (count(Outcome::Fail), count(Outcome::Unsupported));
    println!(
        "\n{} passed, {failed} failed, {unsupported} unsupported by this module",
        count(Outcome::Pass)
    );
    ExitCode::from(if failed > 0 { FAILED } else { OK })
}

/// Points SoftHSM2 or kryoptic at a fresh store in `dir`. False for other
/// modules, whose tokens this tool cannot create.
fn prepare_throwaway(module: &Path, dir: &Path) -> Result<bool, String> {
    let name = module
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.contains("softhsm") {
        let conf = softhsm::prepare(dir).map_err(|e| e.to_string())?;
        super::export_env(softhsm::CONF_ENV, &conf);
        Ok(true)
    } else if name.contains("kryoptic") {
        let conf = dir.join("kryoptic.toml");
        let db = dir.join("token.sql");
        let db = db
            .to_str()
            .filter(|p| !p.contains(['"', '\\', '\n']))
            .ok_or("the temporary directory's path cannot be written into kryoptic's TOML")?;
        std::fs::write(
            &conf,
            format!("[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{db}\"\n"),
        )
        .map_err(|e| format!("writing {}: {e}", conf.display()))?;
        super::export_env("KRYOPTIC_CONF", &conf);
        Ok(true)
    } else {
        Ok(false)
    }
}
