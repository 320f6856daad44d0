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
    render_at(replay, 120, 32)
}

fn render_at(replay: &Replay, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
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
    assert!(out.contains("never_extractable: true"), "{out}");
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

/// Issue 15: the detail pane scrolls, so the end of a long entry (the
/// close's final head, an attestation's signatures) is reachable at every
/// size; the body is shown as fields, not JSON; lines are numbered from 1,
/// as verify numbers them.
#[test]
fn a_long_entry_scrolls_to_its_end_at_every_size() {
    for (w, h) in [(80, 24), (120, 36), (200, 50)] {
        let mut replay = Replay::load(&example()).expect("loads");
        replay.on_key(KeyCode::End);
        let close = replay.rows.last().expect("rows").clone();
        assert_eq!(close.kind, "close");
        let first = render_at(&replay, w, h);
        let mut out = first.clone();
        for _ in 0..20 {
            replay.on_key(KeyCode::PageDown);
            out = render_at(&replay, w, h);
        }
        // The verdict's last line closes the detail; it is on screen once
        // scrolled to the end.
        let last_verdict = replay.verdict.last().expect("verdict").clone();
        let tail: String = last_verdict.chars().take(20).collect();
        assert!(out.contains(&tail), "{w}x{h}: {tail:?} unreachable:\n{out}");
        assert!(
            out.contains(&close.hash[..16]) || first.contains(&close.hash[..16]),
            "{w}x{h}: the close's hash is not shown"
        );
        for screen in [&first, &out] {
            assert!(
                !screen.contains("\": ") && !screen.contains("{\""),
                "{w}x{h}: raw JSON on screen:\n{screen}"
            );
        }
        insta::assert_snapshot!(format!("replay_close_{w}x{h}"), first);
    }
}

#[test]
fn replay_numbers_lines_as_verify_does() {
    let replay = Replay::load(&example()).expect("loads");
    let text = std::fs::read_to_string(example()).expect("example");
    for (i, line) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let row = &replay.rows[i];
        assert_eq!(row.line, i as u64 + 1, "lines count from 1");
        assert_eq!(row.line, v["seq"].as_u64().expect("seq") + 1);
        assert_eq!(row.kind, v["kind"].as_str().expect("kind"));
    }
    // verify says the same: its final head is on the last line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyceremony"))
        .arg("verify")
        .arg(example())
        .output()
        .expect("verify runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().count();
    assert!(
        report.contains(&format!("(line {last})")),
        "verify names the final head's line as {last}:\n{report}"
    );
    let screen = render_at(&replay, 120, 36);
    assert!(screen.contains("line    1"), "{screen}");
}
