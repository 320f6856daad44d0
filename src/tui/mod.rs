//! Terminal UI (placeholder until the TUI lands).
use crate::engine::Outcome;
use crate::runner::{RunError, Session};

pub fn run(_session: &mut Session) -> Result<Outcome, RunError> {
    Err(RunError::Setup(
        "the terminal UI is not built yet: use --headless".into(),
    ))
}
