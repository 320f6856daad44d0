//! The `keyceremony` command: parses arguments and dispatches to the
//! library. Exit codes: 0 success, 1 verification failed or ceremony
//! aborted, 2 usage or input error.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "keyceremony",
    version,
    about = "Multi-person key ceremonies: Shamir-split HSM PINs, keys born inside the HSM, a signed transcript"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a ceremony script in the terminal UI (or headless from an answers file).
    Run(cli::run::RunArgs),
    /// Check a script (and, with --bindings, that the bindings fit it): file:line:column errors, exit 0 or 2.
    Lint {
        script: PathBuf,
        #[arg(long)]
        bindings: Option<PathBuf>,
    },
    /// Look at a share without a quorum: its metadata, its checksum, whether it belongs to a ceremony.
    #[command(subcommand)]
    Shares(cli::shares::SharesCommand),
    /// Look at an HSM: its tokens and mechanisms, a token's objects, or a selftest on a throwaway token.
    #[command(subcommand)]
    Hsm(cli::hsm::HsmCommand),
    /// Walk through a transcript in the terminal, read-only, each entry with its verification result.
    #[cfg(feature = "tui")]
    Replay { transcript: PathBuf },
    /// Verify a transcript offline: chain, canonical form, every signature, the close, the checkpoint.
    Verify(cli::verify::VerifyArgs),
    /// Write the ceremony report (Markdown or self-contained HTML) of a verified transcript.
    Report(cli::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Verify(args) => cli::verify::verify(args),
        Command::Report(args) => cli::report::report(args),
        Command::Shares(command) => cli::shares::shares(command),
        Command::Hsm(command) => cli::hsm::hsm(command),
        #[cfg(feature = "tui")]
        Command::Replay { transcript } => cli::replay(&transcript),
        Command::Lint { script, bindings } => cli::lint::lint(&script, bindings.as_deref()),
    }
}
