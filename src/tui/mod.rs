//! The terminal UI (ratatui + crossterm), one screen a room of people can
//! follow: the steps, the current step's instructions, who acts now, the
//! people, the transcript's tail. The Elm Architecture: `App` is the model,
//! keys are messages, `App::on_key` updates, `view::draw` renders a
//! `Screen` built from the session.
//!
//! The terminal is restored on every way out: a normal end, an abort, an
//! error, a panic (the hook restores before the message prints) and SIGTERM.
//!
//! With `run --record FILE`, stdout is wrapped in a [`Tee`] that also hands
//! every frame to a [`crate::recording::Recorder`]; the loop below tells it
//! when a share is on screen, so that frame is never recorded.

mod app;
mod field;
pub mod replay;
pub mod view;

use std::io::{Stdout, Write, stdout};
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

pub use app::{App, help};

use crate::engine::Outcome;
use crate::recording::{Recorder, RecordingFile, Tee};
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

type Term = Terminal<CrosstermBackend<Tee<Stdout>>>;

/// The terminal, unrecorded (replay).
fn setup() -> std::io::Result<(TerminalGuard, Term)> {
    setup_recorded(None)
}

fn setup_recorded(recorder: Option<Recorder>) -> std::io::Result<(TerminalGuard, Term)> {
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
    let terminal = Terminal::new(CrosstermBackend::new(Tee::new(stdout(), recorder)))?;
    Ok((guard, terminal))
}

/// How long the UI loop has, after SIGTERM or SIGHUP, to notice and end by
/// itself before the watcher ends the process.
const GRACE: Duration = Duration::from_secs(1);

/// SIGTERM or SIGHUP sets the returned flag, which the UI loop checks on
/// every turn. A terminal that went away (SIGHUP: the window closed, ssh
/// dropped) can leave crossterm reading end-of-file in a loop that never
/// returns to ours: that is why a watcher thread ends the process itself if
/// the loop has not ended within [`GRACE`]. Ending then is safe: every
/// transcript entry is written and fsynced before the UI moves on, the
/// loop is not writing (it is stuck reading), and `run --resume` continues
/// from the last entry, as after a power cut.
fn watch_for_termination() -> Result<Arc<AtomicBool>, RunError> {
    use signal_hook::consts::{SIGHUP, SIGTERM};
    let terminated = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP])
        .map_err(|e| RunError::Setup(format!("cannot watch for SIGTERM: {e}")))?;
    let flag = Arc::clone(&terminated);
    std::thread::Builder::new()
        .name("signal-watcher".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                flag.store(true, Ordering::SeqCst);
                std::thread::sleep(GRACE);
                restore_terminal();
                // Not eprintln!: with the terminal gone it would panic this
                // thread and leave the process spinning.
                let _ = writeln!(
                    std::io::stderr(),
                    "keyceremony: ended by signal {signal}; the transcript records everything so far: continue with run --resume"
                );
                std::process::exit(1);
            }
        })
        .map_err(|e| RunError::Setup(format!("cannot start the signal watcher: {e}")))?;
    Ok(terminated)
}

/// Runs the ceremony in the terminal until it ends (completed or aborted),
/// recording the screen into `record` if given.
pub fn run(session: &mut Session, record: Option<RecordingFile>) -> Result<Outcome, RunError> {
    let recorder = match record {
        Some(file) => {
            let (width, height) = crossterm::terminal::size()
                .map_err(|e| RunError::Setup(format!("cannot read the terminal's size: {e}")))?;
            let title = format!("keyceremony {}", session.ceremony_id());
            let recorder = file
                .begin(width, height, &title)
                .map_err(|e| RunError::Output(e.to_string()))?;
            session.record_screen(recorder.clone());
            Some(recorder)
        }
        None => None,
    };
    let result = run_recorded(session, recorder.clone());
    if let Some(recorder) = recorder {
        // Ended at the close already, unless the run stopped before it.
        let _ = recorder.end("the run stopped before the transcript closed");
    }
    result
}

fn run_recorded(session: &mut Session, recorder: Option<Recorder>) -> Result<Outcome, RunError> {
    let terminated = watch_for_termination()?;
    let (_guard, mut terminal) = setup_recorded(recorder.clone())
        .map_err(|e| RunError::Setup(format!("cannot set up the terminal: {e}")))?;
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
        let screen = app.screen(session, Instant::now(), started);
        if let Some(recorder) = &recorder {
            // Before the frame is drawn: the frame that shows a share must
            // reach the screen only, never the recording.
            let share_for = match &screen.overlay {
                Some(view::Overlay::Share { custodian, .. }) => Some(custodian.as_str()),
                _ => None,
            };
            if recorder.redacting() && share_for.is_none() {
                // The recording missed the frames the screen's buffer
                // holds: a whole frame makes it match the screen again
                // (the app wipes the screen anyway when a share leaves).
                app.wipe = true;
            }
            recorder.redact(share_for);
        }
        if std::mem::take(&mut app.wipe) {
            // A share was on screen: clear the terminal and ratatui's
            // buffers, so the next frame is drawn from nothing.
            terminal
                .clear()
                .map_err(|e| RunError::Setup(format!("cannot clear the screen: {e}")))?;
        }
        let mut drawn = view::Drawn::default();
        terminal
            .draw(|frame| drawn = view::draw(frame, &screen, theme))
            .map_err(|e| RunError::Setup(format!("cannot draw: {e}")))?;
        app.drawn(drawn);
        if let Some(failure) = recorder.as_ref().and_then(Recorder::take_failure) {
            app.warn(format!(
                "The screen recording stopped: {failure}. The ceremony goes on; the close records where the recording ends."
            ));
        }
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
                Event::Resize(width, height) => {
                    if let Some(recorder) = &recorder {
                        recorder.resize(width, height);
                    }
                }
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
