//! Snapshots of each screen state the terminal UI can show, rendered with
//! ratatui's TestBackend. The screens are built as plain data (times,
//! ceremony ids and hashes are fixed), so a snapshot changes only when what
//! the room sees changes.

use insta::assert_snapshot;
use keyceremony::tui::view::{
    KeyHint, Overlay, RosterLine, Screen, SecretText, ShownValue, Status, StepLine, TailLine,
    Theme, Turn, draw,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const STEPS: [&str; 6] = [
    "Open the ceremony",
    "Check the HSM's identity",
    "Generate and split the SO PIN",
    "Initialize the token",
    "Prove the SO PIN split",
    "Close the ceremony",
];

fn screen(current: usize, turn: Turn) -> Screen {
    Screen {
        production: false,
        ceremony_id: "root-key-generation-20261126-abcdef".into(),
        elapsed: "00:12:34".into(),
        script_title: "Root CA key generation".into(),
        steps: STEPS
            .iter()
            .enumerate()
            .map(|(i, t)| StepLine {
                number: i + 1,
                title: t.to_string(),
                status: match i.cmp(&current) {
                    std::cmp::Ordering::Less => Status::Done,
                    std::cmp::Ordering::Equal if turn.failed => Status::Failed,
                    std::cmp::Ordering::Equal => Status::Current,
                    std::cmp::Ordering::Greater => Status::Pending,
                },
            })
            .collect(),
        step_number: format!("Step {} of 6", current + 1),
        step_title: STEPS[current].into(),
        step_detail: vec![
            "Performed by administrator alice; witnessed by witness bob.".into(),
            "Follow the instructions of the approved script.".into(),
        ],
        values: Vec::new(),
        step_scroll: 0,
        turn,
        roster: [
            ("alice", "administrator", true),
            ("bob", "witness", true),
            ("carol", "custodian", false),
            ("heidi", "auditor", false),
        ]
        .into_iter()
        .map(|(n, r, s)| RosterLine {
            name: n.into(),
            role: r.into(),
            signed_in: s,
        })
        .collect(),
        tail: (0..3)
            .map(|i| TailLine {
                line: i + 1,
                time: "12:00:00".into(),
                kind: ["genesis", "sign-in", "confirm"][i as usize].into(),
                actor: ["keyceremony", "alice", "alice"][i as usize].into(),
                hash: "0123456789ab".into(),
            })
            .collect(),
        head: "0123456789abcdef".repeat(4),
        message: None,
        overlay: None,
        footer: vec![
            KeyHint::new("Enter", "present the key"),
            KeyHint::new("Tab", "offer your key"),
            KeyHint::new("Esc/Ctrl-Q", "abort"),
            KeyHint::new("F1", "help"),
            KeyHint::new("F2", "people"),
        ],
    }
}

/// The sizes the layout is made for: the smallest, a laptop's, a large one.
const SIZES: [(u16, u16); 3] = [(80, 24), (120, 36), (200, 50)];

/// Renders at every size, asserts that each of `visible` is on screen at
/// each, and snapshots each.
fn at_every_size(name: &str, s: &Screen, visible: &[&str]) {
    for (w, h) in SIZES {
        let out = render(s, w, h);
        for v in visible {
            assert!(
                out.contains(v),
                "{name} at {w}x{h}: {v:?} is not on screen:\n{out}"
            );
        }
        assert_snapshot!(format!("{name}_{w}x{h}"), out);
    }
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

fn turn(title: &str, lines: &[&str]) -> Turn {
    Turn {
        title: title.into(),
        lines: lines.iter().map(|l| l.to_string()).collect(),
        ..Turn::default()
    }
}

#[test]
fn start_hands_the_keyboard_to_the_administrator() {
    let mut t = turn(
        "Hand the keyboard to administrator alice",
        &["alice: sign in with your own OpenSSH ed25519 private key."],
    );
    t.field = Some((
        "private key file".into(),
        "ceremonies/rehearsal/keys/alice".into(),
    ));
    at_every_size(
        "start",
        &screen(0, t),
        &[
            "REHEARSAL",
            "Hand the keyboard to administrator alice",
            "private key file: ceremonies/rehearsal/keys/alice",
            "Enter: present the key",
        ],
    );
}

#[test]
fn a_turn_hand_over_to_a_custodian() {
    let t = turn(
        "Custodians: present your shares, one at a time",
        &[
            "1 of 3 shares of `so-pin` presented (by carol).",
            "Which custodian presents next? Press their number:",
            "  1  carol  ✓ presented",
            "  2  dave",
            "  3  erin",
            "  4  frank",
            "  5  grace",
        ],
    );
    at_every_size(
        "custodian_picker",
        &screen(4, t),
        &["1  carol  ✓ presented", "2  dave", "5  grace"],
    );
}

#[test]
fn an_irreversible_step_asks_for_the_word() {
    let mut t = turn(
        "administrator alice: perform this step",
        &["This cannot be undone: type initialize and press Enter."],
    );
    t.field = Some(("type the word".into(), "initia".into()));
    at_every_size(
        "irreversible_word",
        &screen(3, t),
        &["type initialize and press Enter.", "type the word: initia"],
    );
}

#[test]
fn masked_share_entry_shows_bullets_and_a_checksum_error() {
    let mut t = turn(
        "Custodian carol: present your share of `so-pin`",
        &["Others: look away from the keyboard."],
    );
    t.field = Some(("share code".into(), "•".repeat(73)));
    // Judged as typed, before Enter.
    t.check = Some((
        true,
        "the code's checksum does not match: a character is wrong or two are swapped; \
         compare it group by group with the original"
            .into(),
    ));
    at_every_size(
        "share_entry",
        &screen(4, t),
        &[
            "•••••",
            "✗ the code's checksum does not match",
            "with the original",
        ],
    );
}

#[test]
fn a_share_shown_to_its_custodian_alone() {
    let mut s = screen(2, turn("Hand the keyboard to custodian carol", &[]));
    s.overlay = Some(Overlay::Share {
        custodian: "carol".into(),
        text: SecretText(zeroize::Zeroizing::new(
            "keyceremony share v1\nceremony: root-key-generation-20261126-abcdef\nsecret: so-pin\n\
             share: 2 of 5 (any 3)\ncode: kc1qq qqqqq qqqqq qqqqq qqqqq qqqqq qqqqq\n\
             qqqqq qqqqq qqqqq qqqqq qqqqq qqqqq qqqqq\n"
                .into(),
        )),
    });
    at_every_size(
        "share_shown",
        &s,
        &[
            "FOR CAROL ONLY",
            "qqqqq qqqqq qqqqq qqqqq qqqqq qqqqq qqqqq",
        ],
    );
    let out = render(&s, 80, 24);
    assert!(
        !out.contains("Transcript") && !out.contains("People"),
        "nothing else is on screen with a share:\n{out}"
    );
}

#[test]
fn hsm_progress_keeps_the_screen_live() {
    let t = Turn {
        title: "Please wait: the HSM is working".into(),
        lines: vec!["The screen stays live; q and ? still work.".into()],
        busy: Some((
            "generating rsa-4096 key `root-ca-key` inside the HSM".into(),
            2.3,
            '/',
        )),
        ..Turn::default()
    };
    at_every_size(
        "hsm_progress",
        &screen(3, t),
        &["the HSM is working: generating rsa-4096 key `root-ca-key`"],
    );
}

#[test]
fn a_failed_step_is_marked_in_words_and_symbols() {
    let mut t = turn(
        "✗ THE STEP FAILED",
        &[
            "the token's CKA_ID is 01, but the roster gives carol the key 02: the bindings and the token disagree, so nothing was generated",
            "e records an exception; q aborts.",
        ],
    );
    t.failed = true;
    let mut s = screen(1, t);
    s.message = Some((true, "the step failed: press e to record an exception, then r to retry, or q to abort; the exception is signed by the administrator and confirmed by the witness".into()));
    at_every_size(
        "failed",
        &s,
        &[
            "✗ THE STEP FAILED",
            "nothing was generated",
            "confirmed by the",
        ],
    );
}

/// The longest step text: a hash to read aloud, a checklist, in a window
/// too small for all of it: it scrolls, and says so.
#[test]
fn values_to_compare_are_shown_whole_and_the_step_text_scrolls() {
    let hash = "cf8542c08236ef63f58ffe54ca5af4ed3543dcef1b83bdfc207e13d418689de1";
    let mut s = screen(0, turn("Hand the keyboard to administrator alice", &[]));
    s.step_detail.extend(
        (1..=6).map(|i| format!("☐ checklist item number {i}, read aloud by the administrator")),
    );
    s.values = vec![ShownValue {
        label: "script SHA-256".into(),
        value: hash.into(),
        words: Some("stagehand leprosy crowfoot recipe miser congregate uncut Galveston vapor midsummer woodlark equation spellbind existence upshot unify chopper decimal sweatband unravel beeswax Jamaica skullcap Wilmington bison insurgent Aztec souvenir beaming gravity quadrant tolerance".into()),
    }];
    at_every_size("values", &s, &["Open the ceremony"]);
    let small = render(&s, 80, 24);
    assert!(small.contains("PgDn: more"), "{small}");
    s.step_scroll = 100;
    let scrolled = render(&s, 80, 24);
    assert!(
        scrolled.contains(hash),
        "the hash is whole once scrolled to:\n{scrolled}"
    );
    assert!(scrolled.contains("tolerance"), "{scrolled}");
    for big in [(120, 36), (200, 50)] {
        let out = render(&screen_with(&s, 0), big.0, big.1);
        assert!(out.contains(hash), "{out}");
    }
}

fn screen_with(s: &Screen, scroll: usize) -> Screen {
    let mut s = s.clone();
    s.step_scroll = scroll;
    s
}

const LONG: &str = "the tamper-evident bag of the HSM had a different number from the log sheet (TE-000042 instead of TE-000024); the witness and the administrator checked the seal, photographed it, and the auditor was called";

#[test]
fn the_exception_form() {
    let mut s = screen(2, turn("administrator alice: perform this step", &[]));
    s.overlay = Some(Overlay::Exception {
        by: "administrator alice".into(),
        fields: [LONG.into(), LONG.into(), format!("continue: {LONG}")],
        focus: 2,
    });
    at_every_size(
        "exception_form",
        &s,
        &["▶ decision: continue", "auditor was called▏"],
    );
}

#[test]
fn the_abort_confirmation() {
    let mut s = screen(2, turn("administrator alice: perform this step", &[]));
    s.overlay = Some(Overlay::Abort {
        by: "administrator alice".into(),
        reason: LONG.into(),
        word: "abo".into(),
        focus: 1,
    });
    s.message = Some((true, "type abort exactly to abort".into()));
    at_every_size(
        "abort_confirmation",
        &s,
        &[
            "▶ type abort to confirm: abo▏",
            "photographed it",
            "✗ type abort exactly to abort",
        ],
    );
}

#[test]
fn the_close() {
    let t = turn(
        "✓ The ceremony is complete",
        &[
            "Transcript: transcripts/root-key-generation-20261126-abcdef.jsonl",
            "Press any key to leave.",
        ],
    );
    let mut s = screen(5, t);
    s.footer = vec![KeyHint::new("any key", "leave")];
    at_every_size(
        "close",
        &s,
        &["✓ The ceremony is complete", "any key: leave"],
    );
}

#[test]
fn help() {
    let mut s = screen(0, turn("Hand the keyboard to administrator alice", &[]));
    s.overlay = Some(Overlay::Help(keyceremony::tui::help()));
    at_every_size(
        "help",
        &s,
        &["Ctrl-C", "PgUp, PgDn", "F2", "Any key closes this help."],
    );
}

#[test]
fn every_person_is_on_screen_or_a_key_away() {
    let mut s = screen(0, turn("Hand the keyboard to administrator alice", &[]));
    s.roster = (0..8)
        .map(|i| RosterLine {
            name: format!("person{i}"),
            role: "custodian".into(),
            signed_in: i < 2,
        })
        .collect();
    for (w, h) in SIZES {
        let out = render(&s, w, h);
        let all = (0..8).all(|i| out.contains(&format!("person{i} (custodian)")));
        assert!(all || out.contains("F2 lists them"), "{w}x{h}:\n{out}");
    }
    s.overlay = Some(Overlay::People);
    let out = render(&s, 80, 24);
    assert!((0..8).all(|i| out.contains(&format!("person{i}"))), "{out}");
}

#[test]
fn a_too_small_window_says_so() {
    let s = screen(0, turn("Hand the keyboard to administrator alice", &[]));
    let out = render(&s, 79, 24);
    assert!(out.contains("The window is too small: 79x24."), "{out}");
    assert!(out.contains("at least 80x24"));
    assert_snapshot!(out);
}

#[test]
fn the_smallest_window_still_shows_everything_that_matters() {
    let s = screen(1, turn("Hand the keyboard to administrator alice", &[]));
    let out = render(&s, 80, 24);
    assert!(out.contains("REHEARSAL"));
    assert!(out.contains("Hand the keyboard to administrator alice"));
    assert!(out.contains("Step 2 of 6"));
}
