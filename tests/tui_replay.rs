//! `keyceremony replay`: the auditor's read-only walk through a transcript,
//! rendered with ratatui's TestBackend from the committed example, and from
//! a tampered copy of it.

use std::path::{Path, PathBuf};

use crossterm::event::KeyCode;
use keyceremony::tui::replay::{Check, Replay, draw};
use keyceremony::tui::view::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("transcripts/example-root-rehearsal.jsonl")
}

fn render(replay: &Replay) -> String {
    let mut terminal = Terminal::new(TestBackend::new(120, 32)).expect("terminal");
    terminal
        .draw(|frame| draw(frame, replay, Theme { color: false }))
        .expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_entry_of_the_example_is_verified_and_shown() {
    let mut replay = Replay::load(&example()).expect("loads");
    assert!(replay.valid);
    assert!(
        replay.verdict[0].starts_with("VALID"),
        "{:?}",
        replay.verdict
    );
    assert!(
        replay
            .rows
            .iter()
            .all(|r| matches!(r.check, Check::Verified { .. }))
    );
    assert_eq!(
        replay.rows.first().map(|r| r.kind.as_str()),
        Some("genesis")
    );
    assert_eq!(replay.rows.last().map(|r| r.kind.as_str()), Some("close"));
    // Walk to the key generation and look at it.
    let at = replay
        .rows
        .iter()
        .position(|r| r.kind == "generate-key")
        .expect("a generate-key entry");
    for _ in 0..at {
        replay.on_key(KeyCode::Down);
    }
    let out = render(&replay);
    assert!(out.contains("REPLAY (read-only) — VALID"), "{out}");
    assert!(out.contains("generate-key"), "{out}");
    assert!(out.contains("\"never_extractable\": true"), "{out}");
    // The layout: the list beside the entry, the keys at the bottom. (No
    // snapshot: the example changes with every `make example`.)
    assert!(out.contains("┌ Entries ─"), "{out}");
    assert!(out.contains("┐┌ Entry ─"), "{out}");
    assert!(
        out.lines().last().is_some_and(|l| l.contains("q: quit")),
        "{out}"
    );
    replay.on_key(KeyCode::Char('q'));
    assert!(replay.quit);
}

#[test]
fn a_tampered_line_is_marked_broken_and_what_follows_unverified() {
    let text = std::fs::read_to_string(example()).expect("example");
    let lines: Vec<&str> = text.lines().collect();
    let target = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"export-public-key\""))
        .expect("export entry");
    let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    tampered[target] = tampered[target].replacen("\"step\":", "\"stepx\":", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tampered.jsonl");
    std::fs::write(&path, tampered.join("\n") + "\n").expect("write");

    let mut replay = Replay::load(&path).expect("loads");
    assert!(!replay.valid);
    let broken_line = target as u64 + 1;
    let broken = replay
        .rows
        .iter()
        .find(|r| r.line == broken_line)
        .expect("the broken line is listed");
    assert!(
        matches!(&broken.check, Check::Broken(why) if why.contains("signature")),
        "{:?}",
        broken.check
    );
    assert!(
        replay
            .rows
            .iter()
            .filter(|r| r.line > broken_line)
            .all(|r| r.check == Check::Unverified)
    );
    assert_eq!(replay.rows.len(), lines.len(), "every line is listed");
    replay.on_key(KeyCode::Char('n'));
    let out = render(&replay);
    assert!(out.contains("✗ BROKEN"), "{out}");
    assert!(out.contains("TAMPERED"), "{out}");
}
