//! Issue 15: every step's screen, at 80x24, 120x36 and 200x50. The
//! terminal UI's state (`App`) walks the whole root rehearsal on SoftHSM2
//! with the keys a person would press, and each step's screen is rendered
//! with ratatui's TestBackend when its witness is asked to confirm (the
//! moment the values to compare matter) and snapshotted. What differs
//! from run to run (hashes, times, paths, the ceremony's id, PGP words) is
//! masked in the Screen data before drawing, so a snapshot changes only
//! when what the room sees changes.

mod ceremony_support;

use std::time::{Duration, Instant};

use ceremony_support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keyceremony::engine::{Capacity, Need};
use keyceremony::runner::{self, Session};
use keyceremony::script::Ceremony;
use keyceremony::tui::App;
use keyceremony::tui::view::{Screen, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 36), (200, 50)];

fn press(app: &mut App, session: &mut Session, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), session);
}

fn render(s: &Screen, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| {
            draw(f, s, Theme { color: false });
        })
        .expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Masks a run of 8 or more hex digits (hashes, serials, ids) and clock
/// times, keeping their length so the layout is what it was.
fn mask_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if run >= 8 && starts_word {
            out.extend(std::iter::repeat_n('#', run));
            i += run;
            continue;
        }
        // hh:mm:ss
        if i + 8 <= chars.len()
            && chars[i..i + 8].iter().enumerate().all(|(k, c)| {
                if k == 2 || k == 5 {
                    *c == ':'
                } else {
                    c.is_ascii_digit()
                }
            })
        {
            out.push_str("hh:mm:ss");
            i += 8;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The screen as data, with what differs between runs masked.
fn stable(mut s: Screen, volatile: &[String]) -> Screen {
    let fix = |t: &str| {
        let mut t = t.to_string();
        for v in volatile {
            // A fixed stand-in: the checkout's path differs from machine
            // to machine, and so would its length.
            t = t.replace(v.as_str(), "<dir>");
        }
        mask_text(&t)
    };
    s.ceremony_id = "root-key-generation-20261204-xxxxxx".into();
    s.step_detail = s.step_detail.iter().map(|l| fix(l)).collect();
    for v in &mut s.values {
        v.value = fix(&v.value);
        if v.words.is_some() {
            v.words = Some("(the same hash in PGP words)".into());
        }
    }
    s.turn.title = fix(&s.turn.title);
    s.turn.lines = s
        .turn
        .lines
        .iter()
        .map(|l| {
            if l.starts_with("In words:") {
                "In words:   (the final head in PGP words)".into()
            } else {
                fix(l)
            }
        })
        .collect();
    if let Some((label, text)) = &s.turn.field {
        s.turn.field = Some((label.clone(), fix(text)));
    }
    for t in &mut s.tail {
        t.time = "hh:mm:ss".into();
        t.hash = "#".repeat(t.hash.len());
    }
    s.head = "#".repeat(s.head.len());
    s.message = s.message.map(|(e, m)| (e, fix(&m)));
    s
}

/// One keystroke's worth of the walk: what a person at the keyboard would
/// do on this screen.
fn act(app: &mut App, session: &mut Session, s: &Screen) {
    let lines = s.turn.lines.join("\n");
    match s.turn.field.as_ref().map(|(l, _)| l.as_str()) {
        Some("your key") => {
            press(app, session, KeyCode::Tab);
            press(app, session, KeyCode::Enter);
        }
        Some("type the word") => {
            let word = lines
                .split("type ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .expect("the word");
            for c in word.chars() {
                press(app, session, KeyCode::Char(c));
            }
            press(app, session, KeyCode::Enter);
        }
        Some("new seal number") => {
            for c in "TE-NEW-0001".chars() {
                press(app, session, KeyCode::Char(c));
            }
            press(app, session, KeyCode::Enter);
        }
        _ if lines.contains("Press their number") => {
            let n = s
                .turn
                .lines
                .iter()
                .skip_while(|l| !l.contains("Press their number"))
                .skip(1)
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    let n = w.next()?.parse::<u8>().ok()?;
                    (!l.contains("✓ presented")).then_some(n)
                })
                .next()
                .expect("a custodian left");
            press(app, session, KeyCode::Char(char::from(b'0' + n)));
        }
        _ => press(app, session, KeyCode::Enter),
    }
}

#[test]
fn every_steps_screen_at_three_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ceremony = Ceremony::load(&script(), &bindings()).expect("loads");
    let hsm = runner::prepare_hsm(&ceremony, &dir.path().join("state")).expect("hsm");
    if let Some(conf) = &hsm.softhsm_conf {
        // SAFETY: the only test in this binary, before the session starts
        // its worker thread: nothing else reads the environment.
        unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
    }
    let mut session = Session::start(ceremony, &hsm, &dir.path().join("out")).expect("starts");
    let mut volatile = vec![
        dir.path().display().to_string(),
        repo().display().to_string(),
        session.ceremony_id().to_string(),
    ];
    volatile.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut app = App::default();
    app.sync(&session);
    let mut shot = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if Instant::now() > deadline {
            let now = Instant::now();
            let s = app.screen(&session, now, now);
            panic!(
                "the walk did not finish: {:?}\n{}",
                session.need(),
                render(&s, 120, 36)
            );
        }
        if session.poll().expect("poll") {
            app.sync(&session);
        }
        let need = session.need();
        let step = session.engine().current().clone();
        let at_witness = matches!(
            need,
            Need::Confirm {
                capacity: Capacity::Witness,
                ..
            }
        ) || matches!(need, Need::Attest { .. } | Need::Finished(_));
        let now = Instant::now();
        let s = app.screen(&session, now, now);
        if at_witness && shot.insert(step.number) {
            let s = stable(s.clone(), &volatile);
            for (w, h) in SIZES {
                let out = render(&s, w, h);
                assert!(
                    out.contains(&format!("Step {} of", step.number)) || out.contains("complete"),
                    "{out}"
                );
                insta::assert_snapshot!(format!("step{:02}_{}_{w}x{h}", step.number, step.id), out);
            }
        }
        match need {
            Need::Finished(_) => break,
            Need::Work(_) => std::thread::sleep(Duration::from_millis(20)),
            _ => act(&mut app, &mut session, &s),
        }
    }
    assert_eq!(shot.len(), 17, "every step's screen: {shot:?}");
}
