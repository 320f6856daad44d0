//! The terminal UI (ratatui + crossterm), one screen a room of people can
//! follow: the steps, the current step's instructions, who acts now, the
//! people, the transcript's tail. The Elm Architecture: `App` is the model,
//! keys are messages, `App::on_key` updates, `view::draw` renders a
//! `Screen` built from the session.
//!
//! The terminal is restored on every way out: a normal end, an abort, an
//! error, a panic (the hook restores before the message prints) and SIGTERM.

mod app;
mod field;
pub mod view;

use std::io::{Stdout, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub use app::App;

use crate::engine::Outcome;
use crate::runner::{RunError, Session};

/// How often the screen redraws while nothing happens (elapsed time,
/// the spinner during HSM work).
const TICK: Duration = Duration::from_millis(100);

/// Set while the terminal is in raw mode on the alternate screen.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Restores the terminal once. Leaving the alternate screen twice would
/// move the cursor back to where it was saved and write over the panic
/// message the hook just printed.
fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = execute!(stdout(), DisableBracketedPaste, LeaveAlternateScreen);
    }
}

/// Restores the terminal when dropped, whatever ends the UI.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn setup() -> std::io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // Restore first, so the panic message lands on a usable terminal.
        restore_terminal();
        previous(info);
    }));
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((guard, terminal))
}

/// Runs the ceremony in the terminal until it ends (completed or aborted).
pub fn run(session: &mut Session) -> Result<Outcome, RunError> {
    let terminated = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&terminated))
            .map_err(|e| RunError::Setup(format!("cannot watch for SIGTERM: {e}")))?;
    }
    let (_guard, mut terminal) =
        setup().map_err(|e| RunError::Setup(format!("cannot set up the terminal: {e}")))?;
    let theme = view::Theme::from_env();
    let started = Instant::now();
    let mut app = App::default();
    app.sync(session);
    let panic_at = std::env::var("KEYCEREMONY_TEST_PANIC_AT").ok();
    loop {
        // Test-only: proves the panic hook restores the terminal.
        if panic_at.as_deref() == Some(session.engine().current().id.as_str()) {
            panic!(
                "KEYCEREMONY_TEST_PANIC_AT reached step {}",
                session.engine().current().id
            );
        }
        if std::mem::take(&mut app.wipe) {
            // A share was on screen: clear the terminal and ratatui's
            // buffers, so the next frame is drawn from nothing.
            terminal
                .clear()
                .map_err(|e| RunError::Setup(format!("cannot clear the screen: {e}")))?;
        }
        let screen = app.screen(session, Instant::now(), started);
        terminal
            .draw(|frame| view::draw(frame, &screen, theme))
            .map_err(|e| RunError::Setup(format!("cannot draw: {e}")))?;
        if terminated.load(Ordering::Relaxed) {
            return Err(RunError::Setup(
                "terminated by a signal; the transcript records everything so far: continue with run --resume".into(),
            ));
        }
        if app.quit {
            break;
        }
        if event::poll(TICK).map_err(|e| RunError::Setup(e.to_string()))? {
            match event::read().map_err(|e| RunError::Setup(e.to_string()))? {
                Event::Key(key) if key.kind != KeyEventKind::Release => app.on_key(key, session),
                Event::Paste(text) => app.on_paste(&text),
                _ => {}
            }
        }
        app.tick();
        match session.poll() {
            Ok(true) => app.sync(session),
            Ok(false) => {}
            Err(e) => return Err(e),
        }
    }
    session
        .outcome()
        .cloned()
        .ok_or_else(|| RunError::Setup("the terminal UI ended before the ceremony did".into()))
}
