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
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
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
    /// The body, pretty-printed JSON (control characters escaped).
    pub detail: Vec<String>,
}

pub struct Replay {
    /// The verifier's verdict, as `keyceremony verify` prints it.
    pub verdict: Vec<String>,
    pub valid: bool,
    pub rows: Vec<Row>,
    pub selected: usize,
    pub quit: bool,
}

/// A transcript's text must not drive the terminal.
fn clean(s: &str) -> String {
    crate::shown::shown(s).into_owned()
}

fn pretty(body: &Value) -> Vec<String> {
    serde_json::to_string_pretty(body)
        .unwrap_or_default()
        .lines()
        .map(clean)
        .collect()
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
                detail: pretty(&Value::Object(e.body.clone())),
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
                    detail: if parsed.is_null() {
                        vec!["(not JSON)".into()]
                    } else {
                        pretty(&parsed["body"])
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
            quit: false,
        })
    }

    pub fn on_key(&mut self, code: KeyCode) {
        let last = self.rows.len().saturating_sub(1);
        self.selected = match code {
            KeyCode::Down | KeyCode::Char('j') => (self.selected + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.selected.saturating_sub(1),
            KeyCode::PageDown => (self.selected + 10).min(last),
            KeyCode::PageUp => self.selected.saturating_sub(10),
            KeyCode::Home => 0,
            KeyCode::End => last,
            // The first entry that did not verify.
            KeyCode::Char('n') => self
                .rows
                .iter()
                .position(|r| !matches!(r.check, Check::Verified { .. }))
                .unwrap_or(self.selected),
            KeyCode::Char('q') | KeyCode::Esc => {
                self.quit = true;
                self.selected
            }
            _ => self.selected,
        };
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
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(46), Constraint::Min(30)])
        .split(rows[1]);
    draw_list(frame, columns[0], replay, theme);
    draw_detail(frame, columns[1], replay, theme);
    frame.render_widget(
        Paragraph::new(" ↑/↓ j/k: entry  PgUp/PgDn  Home/End  n: first unverified  q: quit"),
        rows[2],
    );
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
                    "{:>4} {} {:<16} {}",
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

fn draw_detail(frame: &mut Frame, area: Rect, replay: &Replay, theme: Theme) {
    let mut lines: Vec<Line> = Vec::new();
    if let Some(row) = replay.rows.get(replay.selected) {
        lines.push(Line::from(Span::styled(
            format!("line {}  {}  by {}", row.line, row.kind, row.actor),
            Style::default().add_modifier(Modifier::BOLD),
        )));
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
        lines.push(Line::from(Span::styled(
            format!("{symbol} {verdict}"),
            theme_fg(theme, color),
        )));
        lines.push(Line::from(""));
        lines.extend(row.detail.iter().map(|l| Line::from(l.as_str())));
    }
    lines.push(Line::from(""));
    lines.extend(replay.verdict.iter().map(|l| Line::from(l.as_str())));
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Entry "))
            .wrap(Wrap { trim: false }),
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
