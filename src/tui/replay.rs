//! `keyceremony replay`: an auditor walks through a finished ceremony in the
//! terminal, entry by entry, read-only, with each entry's verification
//! result beside it. Nothing here writes a file or talks to an HSM.
//!
//! The model ([`Replay`]) is built from one verifying pass over the file;
//! lines after a broken one are shown as what they claim to be, marked as
//! not verified, because nothing after a break can be trusted.

use std::path::Path;
use std::time::Duration;

use crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph};
use serde_json::Value;

use super::view::Theme;
use crate::report;
use crate::transcript::{self, Outcome, VerifiedEntry};

/// Whether an entry can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Every rule holds; the names of those whose signatures verified.
    Verified { signers: Vec<String> },
    /// The first broken rule, named.
    Broken(String),
    /// After a broken line: shown as it claims to be, not checked.
    Unverified,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub time: String,
    pub actor: String,
    pub kind: String,
    pub check: Check,
    /// The body as readable fields (control characters escaped).
    pub detail: Vec<String>,
    /// The entry's own hash, as the next line's `prev` names it.
    pub hash: String,
}

pub struct Replay {
    /// The verifier's verdict, as `keyceremony verify` prints it.
    pub verdict: Vec<String>,
    pub valid: bool,
    pub rows: Vec<Row>,
    pub selected: usize,
    /// How far the selected entry's detail is scrolled, in lines.
    pub scroll: usize,
    /// The most it could scroll when last drawn (set by `draw`).
    scroll_max: std::cell::Cell<usize>,
    pub quit: bool,
}

/// A transcript's text must not drive the terminal.
fn clean(s: &str) -> String {
    crate::shown::shown(s).into_owned()
}

/// A body as an auditor reads it: one `field: value` per line, nested
/// objects indented under their name, lists as `- ` items, and a hash
/// people compare also in PGP words. Never raw JSON.
fn readable(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fields(body, 0, &mut out);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(clean(s)),
        Value::Null => Some("(none)".into()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

fn is_digest(key: &str, v: &Value) -> bool {
    let hexish = v
        .as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    hexish && (key.contains("sha256") || key == "head" || key == "hash" || key == "prev")
}

fn fields(v: &Value, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                let key = clean(key);
                match scalar(value) {
                    Some(text) => {
                        out.push(format!("{pad}{key}: {text}"));
                        if is_digest(&key, value)
                            && let Ok(bytes) = hex::decode(value.as_str().unwrap_or(""))
                        {
                            out.push(format!(
                                "{pad}  in words: {}",
                                transcript::pgp_words(&bytes)
                            ));
                        }
                    }
                    None if value.as_array().is_some_and(|a| a.is_empty()) => {
                        out.push(format!("{pad}{key}: (none)"));
                    }
                    None if value
                        .as_array()
                        .is_some_and(|a| a.iter().all(|i| scalar(i).is_some())) =>
                    {
                        let items: Vec<String> = value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(scalar)
                            .collect();
                        out.push(format!("{pad}{key}: {}", items.join(", ")));
                    }
                    None => {
                        out.push(format!("{pad}{key}:"));
                        fields(value, depth + 1, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar(item) {
                    Some(text) => out.push(format!("{pad}- {text}")),
                    None => {
                        let mut inner = Vec::new();
                        fields(item, depth + 1, &mut inner);
                        // The item's first field on the dash's line.
                        if let Some(first) = inner.first_mut() {
                            *first = format!("{pad}- {}", first.trim_start());
                        }
                        out.extend(inner);
                    }
                }
            }
        }
        other => out.push(format!("{pad}{}", scalar(other).unwrap_or_default())),
    }
}

impl Replay {
    pub fn load(path: &Path) -> Result<Replay, String> {
        let mut rows = Vec::new();
        let outcome = transcript::verify_file_visiting(path, &mut |e: &VerifiedEntry| {
            rows.push(Row {
                line: e.line,
                time: e.time.format("%H:%M:%S").to_string(),
                actor: clean(&e.actor),
                kind: clean(&e.kind),
                check: Check::Verified {
                    signers: e
                        .signatures
                        .iter()
                        .map(|s| format!("{} ({:?})", clean(&s.participant), s.role))
                        .collect(),
                },
                detail: readable(&Value::Object(e.body.clone())),
                hash: e.head.hex(),
            })
        })
        .map_err(|e| e.to_string())?;
        if let Outcome::Tampered(violation) = &outcome {
            // The lines from the broken one on, as they claim to be.
            let text = crate::input::read_capped(path, crate::input::MAX_TRANSCRIPT_BYTES)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
                let line = i as u64 + 1;
                if line < violation.line || raw.is_empty() {
                    continue;
                }
                let parsed: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
                let field = |name: &str| clean(parsed[name].as_str().unwrap_or("?"));
                rows.push(Row {
                    line,
                    time: field("time").get(11..19).unwrap_or("?").to_string(),
                    actor: field("actor"),
                    kind: field("kind"),
                    check: if line == violation.line {
                        Check::Broken(clean(&format!("{}: {}", violation.rule, violation.detail)))
                    } else {
                        Check::Unverified
                    },
                    hash: "(not verified)".into(),
                    detail: if parsed.is_null() {
                        vec!["(not JSON)".into()]
                    } else {
                        readable(&parsed["body"])
                    },
                });
            }
        }
        let verdict = report::verify(path).map_err(|e| e.to_string())?;
        let (text, valid) = report::verify_summary(&verdict);
        Ok(Replay {
            verdict: text.lines().map(clean).collect(),
            valid,
            rows,
            selected: 0,
            scroll: 0,
            scroll_max: std::cell::Cell::new(0),
            quit: false,
        })
    }

    /// Up/Down/Home/End choose the entry; PgUp/PgDn (and Space) scroll
    /// its detail; `n` goes to the first entry that did not verify.
    pub fn on_key(&mut self, code: KeyCode) {
        let last = self.rows.len().saturating_sub(1);
        let before = self.selected;
        match code {
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Home => self.selected = 0,
            KeyCode::End => self.selected = last,
            KeyCode::PageDown | KeyCode::Char(' ') => {
                self.scroll = (self.scroll + 10).min(self.scroll_max.get());
            }
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Char('n') => {
                if let Some(i) = self.first_unverified() {
                    self.selected = i;
                }
            }
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            _ => {}
        }
        if self.selected != before {
            self.scroll = 0;
        }
    }

    fn first_unverified(&self) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| !matches!(r.check, Check::Verified { .. }))
    }

    /// The keys that do something now.
    fn footer(&self) -> String {
        let mut keys = vec!["↑/↓ j/k: entry", "Home/End"];
        if self.scroll_max.get() > 0 {
            keys.push("PgUp/PgDn: scroll");
        }
        if self.first_unverified().is_some() {
            keys.push("n: first unverified");
        }
        keys.push("q: quit");
        format!(" {}", keys.join("  "))
    }
}

fn mark(check: &Check) -> (&'static str, Color) {
    match check {
        Check::Verified { .. } => ("✓", Color::Green),
        Check::Broken(_) => ("✗", Color::Red),
        Check::Unverified => ("?", Color::Yellow),
    }
}

pub fn draw(frame: &mut Frame, replay: &Replay, theme: Theme) {
    let area = frame.area();
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
        ])
        .split(area);
    let banner = format!(
        " REPLAY (read-only) — {}",
        replay.verdict.first().map(String::as_str).unwrap_or("")
    );
    let style = Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
    frame.render_widget(
        Paragraph::new(Span::styled(
            banner,
            if replay.valid {
                style
            } else {
                style.patch(theme_fg(theme, Color::Red))
            },
        )),
        rows[0],
    );
    // The list as wide as its widest row, but never more than two fifths:
    // the entry's detail is what the auditor reads.
    let widest = replay
        .rows
        .iter()
        .map(|r| {
            Span::raw(format!(
                "✓ line {:>4} {} {:<16} {}",
                r.line, r.time, r.kind, r.actor
            ))
            .width()
                + 3
        })
        .max()
        .unwrap_or(30) as u16;
    let list_width = widest.clamp(30, area.width * 2 / 5);
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(list_width), Constraint::Min(30)])
        .split(rows[1]);
    draw_list(frame, columns[0], replay, theme);
    // After the detail: it knows whether there is anything to scroll.
    draw_detail(frame, columns[1], replay, theme);
    frame.render_widget(Paragraph::new(replay.footer()), rows[2]);
}

fn theme_fg(theme: Theme, color: Color) -> Style {
    if theme.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

fn draw_list(frame: &mut Frame, area: Rect, replay: &Replay, theme: Theme) {
    let items: Vec<ListItem> = replay
        .rows
        .iter()
        .map(|r| {
            let (symbol, color) = mark(&r.check);
            ListItem::new(Line::from(vec![
                Span::styled(format!("{symbol} "), theme_fg(theme, color)),
                Span::raw(format!(
                    "line {:>4} {} {:<16} {}",
                    r.line, r.time, r.kind, r.actor
                )),
            ]))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(replay.selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(Block::default().borders(Borders::ALL).title(" Entries "))
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
        &mut state,
    );
}

/// The selected entry: which line it is, whether it verified and who
/// signed it, its fields, its hash; then the verdict on the whole file.
/// Wrapped here (so its length is known) and scrolled by PgUp/PgDn.
fn draw_detail(frame: &mut Frame, area: Rect, replay: &Replay, theme: Theme) {
    let width = usize::from(area.width.saturating_sub(2));
    let wrap = |text: &str, style: Style| -> Vec<Line<'static>> {
        super::view::wrap(text, width)
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style)))
            .collect()
    };
    let mut lines: Vec<Line> = Vec::new();
    if let Some(row) = replay.rows.get(replay.selected) {
        lines.extend(wrap(
            &format!(
                "line {}  {}  {}  by {}",
                row.line, row.time, row.kind, row.actor
            ),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let (symbol, color) = mark(&row.check);
        let verdict = match &row.check {
            Check::Verified { signers } if signers.is_empty() => {
                "verified: chain, form and the ceremony key's signature".to_string()
            }
            Check::Verified { signers } => format!(
                "verified: chain, form, the ceremony key's signature; signed by {}",
                signers.join(", ")
            ),
            Check::Broken(why) => format!("BROKEN: {why}"),
            Check::Unverified => "NOT VERIFIED: it follows a broken line".to_string(),
        };
        lines.extend(wrap(&format!("{symbol} {verdict}"), theme_fg(theme, color)));
        lines.extend(wrap(&format!("entry hash: {}", row.hash), Style::default()));
        lines.push(Line::from(""));
        for l in &row.detail {
            lines.extend(wrap(l, Style::default()));
        }
    }
    lines.push(Line::from(""));
    for l in &replay.verdict {
        lines.extend(wrap(l, Style::default()));
    }
    let room = usize::from(area.height.saturating_sub(2));
    let max = lines.len().saturating_sub(room);
    replay.scroll_max.set(max);
    let scroll = replay.scroll.min(max);
    let mut block = Block::default().borders(Borders::ALL).title(" Entry ");
    if max > 0 {
        block = block.title_bottom(
            Line::from(format!(
                " lines {}-{} of {} · PgUp/PgDn ",
                scroll + 1,
                (scroll + room).min(lines.len()),
                lines.len()
            ))
            .right_aligned(),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block),
        area,
    );
}

/// Runs the replay in the terminal until the auditor quits.
pub fn run(path: &Path) -> Result<bool, String> {
    let mut replay = Replay::load(path)?;
    let (_guard, mut terminal) =
        super::setup().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    let theme = Theme::from_env();
    while !replay.quit {
        terminal
            .draw(|frame| draw(frame, &replay, theme))
            .map_err(|e| format!("cannot draw: {e}"))?;
        if event::poll(Duration::from_millis(250)).map_err(|e| e.to_string())?
            && let Event::Key(key) = event::read().map_err(|e| e.to_string())?
            && key.kind != KeyEventKind::Release
        {
            replay.on_key(key.code);
        }
    }
    Ok(replay.valid)
}
