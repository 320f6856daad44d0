//! Issue 15: keys that mean what the footer says. The terminal UI's state
//! (`App`) driven over a real session of the root rehearsal on SoftHSM2:
//! in each state, each key the footer lists does what it says, and the
//! letters it does not list are typed (in a field) or do nothing.

mod ceremony_support;

use std::time::Instant;

use ceremony_support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keyceremony::runner::{self, Session};
use keyceremony::script::Ceremony;
use keyceremony::tui::App;
use keyceremony::tui::view::{Overlay, Screen};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn screen(app: &App, session: &Session) -> Screen {
    let now = Instant::now();
    app.screen(session, now, now)
}

fn footer(s: &Screen) -> Vec<String> {
    s.footer
        .iter()
        .map(|k| format!("{}: {}", k.keys, k.does))
        .collect()
}

fn field(s: &Screen) -> String {
    s.turn
        .field
        .as_ref()
        .map(|(_, f)| f.clone())
        .unwrap_or_default()
}

fn press(app: &mut App, session: &mut Session, k: KeyEvent) -> Screen {
    app.on_key(k, session);
    screen(app, session)
}

#[test]
fn each_footer_key_does_what_the_footer_says_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ceremony = Ceremony::load(&script(), &bindings()).expect("loads");
    let hsm = runner::prepare_hsm(&ceremony, &dir.path().join("state")).expect("hsm");
    if let Some(conf) = &hsm.softhsm_conf {
        // SAFETY: the only test in this binary, before the session starts
        // its worker thread: nothing else reads the environment.
        unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
    }
    let mut session = Session::start(ceremony, &hsm, &dir.path().join("out")).expect("starts");
    let mut app = App::default();
    app.sync(&session);

    // Sign-in: a key field.
    let s = screen(&app, &session);
    assert_eq!(
        footer(&s),
        [
            "Enter: present the key",
            "Tab: offer your key",
            "Ctrl-U: clear",
            "Esc/Ctrl-Q: abort",
            "F1: help",
            "F2: people"
        ],
        "no exception before the administrator signs in"
    );
    // Letters that are keys elsewhere are typed here.
    for c in ['q', 'e', 'r', '?', '1'] {
        press(&mut app, &mut session, key(KeyCode::Char(c)));
    }
    let s = screen(&app, &session);
    assert_eq!(field(&s), "qer?1▏".replace('▏', ""), "typed into the field");
    assert!(s.overlay.is_none());
    let s = press(&mut app, &mut session, ctrl('u'));
    assert_eq!(field(&s), "", "Ctrl-U clears");
    let s = press(&mut app, &mut session, key(KeyCode::F(1)));
    assert!(matches!(s.overlay, Some(Overlay::Help(_))), "F1: help");
    let s = press(&mut app, &mut session, key(KeyCode::Char('x')));
    assert!(s.overlay.is_none(), "any key closes the help");
    let s = press(&mut app, &mut session, key(KeyCode::F(2)));
    assert!(matches!(s.overlay, Some(Overlay::People)), "F2: people");
    press(&mut app, &mut session, key(KeyCode::Esc));
    for abort in [key(KeyCode::Esc), ctrl('q'), ctrl('c')] {
        let s = press(&mut app, &mut session, abort);
        assert!(
            matches!(s.overlay, Some(Overlay::Abort { .. })),
            "{abort:?}"
        );
        assert_eq!(footer(&s)[0], "Tab: next field");
        // Ctrl-C in the dialog types nothing and aborts nothing.
        let s = press(&mut app, &mut session, ctrl('c'));
        assert!(matches!(&s.overlay, Some(Overlay::Abort { reason, .. }) if reason.is_empty()));
        let s = press(&mut app, &mut session, key(KeyCode::Esc));
        assert!(s.overlay.is_none(), "Esc cancels");
    }
    let s = press(&mut app, &mut session, key(KeyCode::Tab));
    let alice = demo_key("alice");
    assert!(
        alice.ends_with(field(&s).trim_end_matches('▏')) || field(&s).contains("alice"),
        "Tab offers alice's key file: {}",
        field(&s)
    );
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    assert_eq!(
        s.message,
        Some((false, "alice signed in".into())),
        "Enter presents the key"
    );

    // The checklist of step 1: no field; Enter ticks, Esc unticks.
    let s = screen(&app, &session);
    assert!(s.turn.field.is_none(), "{:?}", s.turn);
    assert_eq!(
        footer(&s),
        [
            "Enter: tick the item",
            "e: exception",
            "q/Esc: abort",
            "?: help",
            "F2: people"
        ]
    );
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    assert!(
        s.step_detail.iter().any(|l| l.starts_with("☑")),
        "{:?}",
        s.step_detail
    );
    assert!(footer(&s).contains(&"Esc: untick the last".to_string()));
    assert!(
        footer(&s).contains(&"q: abort".to_string()),
        "Esc no longer aborts"
    );
    let s = press(&mut app, &mut session, key(KeyCode::Esc));
    assert!(s.overlay.is_none(), "Esc unticked, not abort");
    assert!(!s.step_detail.iter().any(|l| l.starts_with("☑")));
    // Keys the footer does not list do nothing here.
    for c in ['r', '1', 'x'] {
        let before = screen(&app, &session);
        let after = press(&mut app, &mut session, key(KeyCode::Char(c)));
        assert_eq!(
            format!("{:?}", before.turn),
            format!("{:?}", after.turn),
            "{c}"
        );
        assert!(after.overlay.is_none(), "{c}");
    }
    let s = press(&mut app, &mut session, key(KeyCode::Char('e')));
    assert!(
        matches!(s.overlay, Some(Overlay::Exception { .. })),
        "e: exception"
    );
    // A refused exception keeps what was typed.
    for c in "bag".chars() {
        press(&mut app, &mut session, key(KeyCode::Char(c)));
    }
    press(&mut app, &mut session, key(KeyCode::Tab));
    press(&mut app, &mut session, key(KeyCode::Tab));
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    match &s.overlay {
        Some(Overlay::Exception { fields, .. }) => assert_eq!(fields[0], "bag"),
        other => panic!("the form closed: {other:?}"),
    }
    assert!(matches!(&s.message, Some((true, m)) if m.contains("needs what was expected")));
    press(&mut app, &mut session, key(KeyCode::Esc));
    // A refused abort keeps the reason and the word.
    press(&mut app, &mut session, key(KeyCode::Char('q')));
    press(&mut app, &mut session, key(KeyCode::Tab));
    for c in "abort".chars() {
        press(&mut app, &mut session, key(KeyCode::Char(c)));
    }
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    match &s.overlay {
        Some(Overlay::Abort { word, .. }) => assert_eq!(word, "abort", "the word is kept"),
        other => panic!("the dialog closed: {other:?}"),
    }
    assert!(matches!(&s.message, Some((true, m)) if m.contains("needs a reason")));
    press(&mut app, &mut session, key(KeyCode::Esc));
    let s = press(&mut app, &mut session, key(KeyCode::Char('?')));
    assert!(matches!(s.overlay, Some(Overlay::Help(_))), "?: help");
    press(&mut app, &mut session, key(KeyCode::Esc));

    // Tick everything; then alice presents her key to confirm.
    while screen(&app, &session).turn.field.is_none() {
        press(&mut app, &mut session, key(KeyCode::Enter));
    }
    let s = screen(&app, &session);
    assert!(s.step_detail.iter().filter(|l| l.starts_with("☑")).count() >= 4);
    press(&mut app, &mut session, key(KeyCode::Tab));
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    assert_eq!(s.message, Some((false, "alice confirmed".into())));
    let performer = entries(session.transcript_path())
        .into_iter()
        .find(|e| e["kind"] == "confirm" && e["body"]["as"] == "performer")
        .expect("confirmed");
    assert_eq!(
        performer["body"]["ticked"].as_array().map(Vec::len),
        Some(4),
        "each tick is in the signed confirmation: {performer}"
    );

    // An exception: the witness sees its three fields when confirming it.
    let s = press(&mut app, &mut session, ctrl('e'));
    assert!(
        matches!(s.overlay, Some(Overlay::Exception { .. })),
        "Ctrl-E in a key field"
    );
    for (i, text) in [
        "bag TE-000024",
        "bag TE-000042 on the table",
        "continue, photographed",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            press(&mut app, &mut session, key(KeyCode::Tab));
        }
        for c in text.chars() {
            press(&mut app, &mut session, key(KeyCode::Char(c)));
        }
    }
    press(&mut app, &mut session, key(KeyCode::Enter));
    press(&mut app, &mut session, key(KeyCode::Tab));
    let s = press(&mut app, &mut session, key(KeyCode::Enter));
    assert!(
        matches!(&s.message, Some((false, m)) if m.contains("exception recorded")),
        "{:?}",
        s.message
    );
    for _ in 0..3 {
        let s = screen(&app, &session);
        if s.turn
            .lines
            .iter()
            .any(|l| l.contains("confirm that the exception"))
        {
            break;
        }
        press(&mut app, &mut session, key(KeyCode::Tab));
        press(&mut app, &mut session, key(KeyCode::Enter));
    }
    let s = screen(&app, &session);
    let turn = format!("{}\n{}", s.turn.title, s.turn.lines.join("\n"));
    assert!(turn.contains("confirm that the exception"), "{turn}");
    for field in [
        "expected: bag TE-000024",
        "happened: bag TE-000042 on the table",
        "decision: continue, photographed",
    ] {
        assert!(
            turn.contains(field),
            "the witness does not see {field:?}:\n{turn}"
        );
    }
}
