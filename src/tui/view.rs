//! Drawing: a `Screen` (plain data, built by the app from the session) onto
//! a ratatui frame. Meaning is never carried by color alone: every status
//! has a word or symbol, and NO_COLOR turns colors off.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, Paragraph, Wrap};

/// The smallest terminal the layout is made for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Done,
    Current,
    Pending,
    Failed,
}

impl Status {
    fn symbol(self) -> &'static str {
        match self {
            Status::Done => "✓",
            Status::Current => "▶",
            Status::Pending => "·",
            Status::Failed => "✗",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepLine {
    pub number: usize,
    pub title: String,
    pub status: Status,
}

#[derive(Debug, Clone)]
pub struct RosterLine {
    pub name: String,
    pub role: String,
    pub signed_in: bool,
}

#[derive(Debug, Clone)]
pub struct TailLine {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub hash: String,
}

/// What the room must do now.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    /// Who acts, in big letters: "Hand the keyboard to custodian carol".
    pub title: String,
    pub lines: Vec<String>,
    /// An input field: its label and what it shows (bullets when masked).
    pub field: Option<(String, String)>,
    /// A share code's check as it is typed: (is an error, text).
    pub check: Option<(bool, String)>,
    /// HSM work in progress: what, seconds so far, and a spinner frame.
    pub busy: Option<(String, f64, char)>,
    /// The step failed.
    pub failed: bool,
}

/// Share text on its way to one custodian's eyes. Its Debug never shows
/// it, and the buffer is zeroized when the screen is dropped.
#[derive(Clone)]
pub struct SecretText(pub zeroize::Zeroizing<String>);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(<hidden>)")
    }
}

#[derive(Debug, Clone)]
pub enum Overlay {
    Help,
    /// A share, full screen, for one custodian while the others look away.
    Share {
        custodian: String,
        text: SecretText,
    },
    /// An abort: the reason, the typed word, which field has the focus.
    Abort {
        by: String,
        reason: String,
        word: String,
        focus: usize,
    },
    /// An exception: expected, happened, decision; which has the focus.
    Exception {
        by: String,
        fields: [String; 3],
        focus: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Screen {
    pub production: bool,
    pub ceremony_id: String,
    pub elapsed: String,
    pub script_title: String,
    pub steps: Vec<StepLine>,
    pub step_title: String,
    pub step_detail: Vec<String>,
    pub turn: Turn,
    pub roster: Vec<RosterLine>,
    pub tail: Vec<TailLine>,
    pub head: String,
    /// (is an error, text)
    pub message: Option<(bool, String)>,
    pub overlay: Option<Overlay>,
    pub footer: String,
}

/// Colors, or none (NO_COLOR, or a plain terminal).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn banner(self, production: bool) -> Style {
        let base = Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        match (self.color, production) {
            (false, _) => base,
            (true, false) => Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            (true, true) => Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        }
    }

    fn status(self, s: Status) -> Style {
        match s {
            Status::Done => self.fg(Color::Green),
            Status::Current => self.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Status::Pending => self.fg(Color::Gray),
            Status::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}

pub fn draw(frame: &mut Frame, screen: &Screen, theme: Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The window is too small: {}x{}.\nThe ceremony needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge the terminal; nothing has been lost.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(10),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(area);
    draw_status(frame, rows[0], screen, theme);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(32), Constraint::Min(40)])
        .split(rows[1]);
    draw_steps(frame, cols[0], screen, theme);
    let right = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Percentage(35),
            Constraint::Min(9),
            Constraint::Length(7),
        ])
        .split(cols[1]);
    draw_step(frame, right[0], screen);
    draw_turn(frame, right[1], screen, theme);
    let bottom = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(28), Constraint::Min(20)])
        .split(right[2]);
    draw_roster(frame, bottom[0], screen, theme);
    draw_tail(frame, bottom[1], screen);
    let message = match &screen.message {
        Some((true, text)) => Line::from(Span::styled(
            format!("✗ {text}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        )),
        Some((false, text)) => {
            Line::from(Span::styled(format!("✓ {text}"), theme.fg(Color::Green)))
        }
        None => Line::from(""),
    };
    frame.render_widget(Paragraph::new(message), rows[2]);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            screen.footer.clone(),
            Style::default().add_modifier(Modifier::REVERSED),
        ))),
        rows[3],
    );
    if let Some(overlay) = &screen.overlay {
        draw_overlay(frame, area, overlay);
    }
}

fn draw_status(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let mode = if s.production {
        " PRODUCTION "
    } else {
        " REHEARSAL — NOT A PRODUCTION CEREMONY "
    };
    let line = Line::from(vec![
        Span::styled(mode, theme.banner(s.production)),
        Span::raw(format!(
            "  {}  ceremony {}  elapsed {}",
            s.script_title, s.ceremony_id, s.elapsed
        )),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_steps(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let items: Vec<ListItem> = s
        .steps
        .iter()
        .map(|step| {
            ListItem::new(Line::from(vec![
                Span::styled(step.status.symbol(), theme.status(step.status)),
                Span::raw(format!(" {:>2}. {}", step.number, step.title)),
            ]))
        })
        .collect();
    frame.render_widget(
        List::new(items).block(Block::default().borders(Borders::ALL).title(" Steps ")),
        area,
    );
}

fn draw_step(frame: &mut Frame, area: Rect, s: &Screen) {
    let lines: Vec<Line> = s
        .step_detail
        .iter()
        .map(|l| Line::from(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", s.step_title)),
        ),
        area,
    );
}

fn draw_turn(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let t = &s.turn;
    let block = Block::default().borders(Borders::ALL).title(" Now ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The field keeps its own rows at the bottom: long instructions may be
    // cut, but what the person types is always in view.
    let parts = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(1),
            Constraint::Length(match (&t.field, &t.check) {
                (None, _) => 0,
                (Some(_), None) => 2,
                // A check's explanation may take two lines.
                (Some(_), Some(_)) => 4,
            }),
        ])
        .split(inner);
    let mut lines = vec![Line::from(Span::styled(
        t.title.clone(),
        if t.failed {
            theme.fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        },
    ))];
    lines.push(Line::from(""));
    if let Some((what, secs, spin)) = &t.busy {
        lines.push(Line::from(Span::styled(
            format!("{spin} the HSM is working: {what} ({secs:.1} s)"),
            theme.fg(Color::Cyan),
        )));
    }
    lines.extend(t.lines.iter().map(|l| Line::from(l.as_str())));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), parts[0]);
    if let Some((label, shown)) = &t.field {
        // What does not fit scrolls off to the left, so the cursor and the
        // last characters typed stay in view.
        let room = usize::from(parts[1].width).saturating_sub(label.chars().count() + 4);
        let count = shown.chars().count();
        let visible: String = if count > room {
            let tail: String = shown.chars().skip(count - room.saturating_sub(1)).collect();
            format!("…{tail}")
        } else {
            shown.clone()
        };
        let field = Line::from(vec![
            Span::raw(format!("{label}: ")),
            Span::styled(
                format!("{visible}▏"),
                Style::default().add_modifier(Modifier::UNDERLINED),
            ),
        ]);
        let mut rows = vec![Line::from(""), field];
        if let Some((wrong, text)) = &t.check {
            // A symbol beside the color: meaning never rests on color alone.
            rows.push(if *wrong {
                Line::from(Span::styled(format!("✗ {text}"), theme.fg(Color::Red)))
            } else {
                Line::from(Span::styled(format!("✓ {text}"), theme.fg(Color::Green)))
            });
        }
        frame.render_widget(Paragraph::new(rows).wrap(Wrap { trim: false }), parts[1]);
    }
}

fn draw_roster(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let items: Vec<ListItem> = s
        .roster
        .iter()
        .map(|p| {
            let (mark, style) = if p.signed_in {
                ("●", theme.fg(Color::Green))
            } else {
                ("○", theme.fg(Color::Gray))
            };
            ListItem::new(Line::from(vec![
                Span::styled(mark, style),
                Span::raw(format!(" {} ({})", p.name, p.role)),
            ]))
        })
        .collect();
    frame.render_widget(
        List::new(items).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" People (● signed in) "),
        ),
        area,
    );
}

fn draw_tail(frame: &mut Frame, area: Rect, s: &Screen) {
    let room = usize::from(area.height.saturating_sub(3));
    let start = s.tail.len().saturating_sub(room);
    let mut lines: Vec<Line> = s.tail[start..]
        .iter()
        .map(|t| {
            Line::from(format!(
                "{:>4} {} {:<16} {:<10} {}",
                t.seq, t.time, t.kind, t.actor, t.hash
            ))
        })
        .collect();
    lines.push(Line::from(format!("head {}", s.head)));
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Transcript ")),
        area,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_overlay(frame: &mut Frame, area: Rect, overlay: &Overlay) {
    let field = |label: &str, text: &str, focused: bool| {
        Line::from(format!(
            "{} {label}: {text}{}",
            if focused { "▶" } else { " " },
            if focused { "▏" } else { "" }
        ))
    };
    if let Overlay::Share { custodian, text } = overlay {
        // The whole screen: nothing else is visible while the share is.
        let mut lines = vec![
            Line::from(Span::styled(
                format!(
                    "FOR {} ONLY — everyone else, look away from the screen.",
                    custodian.to_uppercase()
                ),
                Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            )),
            Line::from(""),
        ];
        lines.extend(text.0.lines().map(|l| Line::from(l.to_string())));
        lines.push(Line::from(""));
        lines.push(Line::from(
            "Copy it by hand, check your copy, then press Enter: the screen is wiped and you type it back.",
        ));
        frame.render_widget(Clear, area);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" Your share ")),
            area,
        );
        return;
    }
    let (title, lines): (&str, Vec<Line>) = match overlay {
        Overlay::Share { .. } => unreachable!("drawn above"),
        Overlay::Help => (
            " Help ",
            [
                "Enter      confirm, sign in, present, attest (the turn shown under Now)",
                "typing     goes into the field shown under Now; Backspace erases,",
                "           Ctrl-U clears; paste works",
                "1-9        choose which custodian presents a share",
                "q / Esc    abort the ceremony (asks for a reason and the word abort)",
                "e / Ctrl-E record an exception (administrator; the witness confirms)",
                "r          retry a failed step, after an exception was recorded",
                "? / F1     this help; any key closes it",
                "",
                "Shares and PINs are never shown: share codes appear as • only.",
            ]
            .into_iter()
            .map(Line::from)
            .collect(),
        ),
        Overlay::Abort {
            by,
            reason,
            word,
            focus,
        } => (
            " Abort the ceremony ",
            vec![
                Line::from(format!(
                    "The abort is recorded as {by}'s and closes the transcript."
                )),
                Line::from("It cannot be undone. Tab moves between fields; Esc cancels."),
                Line::from(""),
                field("reason", reason, *focus == 0),
                field("type abort to confirm", word, *focus == 1),
            ],
        ),
        Overlay::Exception { by, fields, focus } => (
            " Record an exception ",
            vec![
                Line::from(format!(
                    "{by} records a deviation from the script; the witness confirms it."
                )),
                Line::from(
                    "It is recorded as written, never edited. Tab: next field; Esc cancels.",
                ),
                Line::from(""),
                field("expected", &fields[0], *focus == 0),
                field("happened", &fields[1], *focus == 1),
                field("decision", &fields[2], *focus == 2),
            ],
        ),
    };
    let rect = centered(area, 76, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}
