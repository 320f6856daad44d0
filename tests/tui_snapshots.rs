//! Snapshots of each screen state the terminal UI can show, rendered with
//! ratatui's TestBackend. The screens are built as plain data (times,
//! ceremony ids and hashes are fixed), so a snapshot changes only when what
//! the room sees changes.

use insta::assert_snapshot;
use keyceremony::tui::view::{
    Overlay, RosterLine, Screen, SecretText, Status, StepLine, TailLine, Theme, Turn, draw,
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
        step_title: format!("Step {} of 6: {}", current + 1, STEPS[current]),
        step_detail: vec![
            "Performed by administrator alice; witnessed by witness bob.".into(),
            "Follow the instructions of the approved script.".into(),
        ],
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
                seq: i,
                time: "12:00:00".into(),
                kind: ["genesis", "sign-in", "confirm"][i as usize].into(),
                actor: ["keyceremony", "alice", "alice"][i as usize].into(),
                hash: "0123456789ab".into(),
            })
            .collect(),
        head: "0123456789abcdef".repeat(4),
        message: None,
        overlay: None,
        footer: " Enter: act  1-9: custodian  q/Esc: abort  e: exception  r: retry  ?: help "
            .into(),
    }
}

fn render(s: &Screen, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| draw(f, s, Theme { color: false }))
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
    assert_snapshot!(render(&screen(0, t), 100, 30));
}

#[test]
fn a_turn_hand_over_to_a_custodian() {
    let t = turn(
        "Custodians: present your shares, one at a time",
        &[
            "1 of 3 shares of `so-pin` presented (by carol).",
            "Which custodian presents next? Press their number:",
            "  1  dave",
            "  2  erin",
        ],
    );
    assert_snapshot!(render(&screen(4, t), 100, 30));
}

#[test]
fn an_irreversible_step_asks_for_the_word() {
    let mut t = turn(
        "administrator alice: perform this step",
        &["This cannot be undone: type initialize and press Enter."],
    );
    t.field = Some(("type the word".into(), "initia".into()));
    assert_snapshot!(render(&screen(3, t), 100, 30));
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
    let out = render(&screen(4, t), 100, 30);
    assert!(out.contains("•••••"));
    assert!(
        out.contains("✗ the code's checksum does not match"),
        "{out}"
    );
    assert_snapshot!(out);
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
    let out = render(&s, 100, 30);
    assert!(out.contains("FOR CAROL ONLY"), "{out}");
    assert!(
        !out.contains("Transcript"),
        "nothing else is on screen with a share:\n{out}"
    );
    assert_snapshot!(out);
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
    assert_snapshot!(render(&screen(3, t), 100, 30));
}

#[test]
fn a_failed_step_is_marked_in_words_and_symbols() {
    let mut t = turn(
        "✗ THE STEP FAILED",
        &[
            "C_Login returned CKR_PIN_INCORRECT",
            "e records an exception; q aborts.",
        ],
    );
    t.failed = true;
    let out = render(&screen(1, t), 100, 30);
    assert!(out.contains("✗"));
    assert_snapshot!(out);
}

#[test]
fn the_exception_form() {
    let mut s = screen(2, turn("administrator alice: perform this step", &[]));
    s.overlay = Some(Overlay::Exception {
        by: "administrator alice".into(),
        fields: [
            "bag TE-000042".into(),
            "bag TE-000024".into(),
            "continue".into(),
        ],
        focus: 2,
    });
    assert_snapshot!(render(&s, 100, 30));
}

#[test]
fn the_abort_confirmation() {
    let mut s = screen(2, turn("administrator alice: perform this step", &[]));
    s.overlay = Some(Overlay::Abort {
        by: "administrator alice".into(),
        reason: "the HSM's bag was opened".into(),
        word: "abo".into(),
        focus: 1,
    });
    assert_snapshot!(render(&s, 100, 30));
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
    assert_snapshot!(render(&screen(5, t), 100, 30));
}

#[test]
fn help() {
    let mut s = screen(0, turn("Hand the keyboard to administrator alice", &[]));
    s.overlay = Some(Overlay::Help);
    assert_snapshot!(render(&s, 100, 30));
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
