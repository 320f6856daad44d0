//! Drawing: a `Screen` (plain data, built by the app from the session) onto
//! a ratatui frame. Meaning is never carried by color alone: every status
//! has a word or symbol, and NO_COLOR turns colors off.
//!
//! The layout is computed from the content, not from fixed proportions:
//! what the current turn needs (the Now panel, with its field) is sized
//! first and never cut; the step's text and the values to compare come
//! next and scroll (PgUp/PgDn) when they do not fit; the people, the
//! steps and the transcript's tail take what is left, and the people stay
//! reachable (F2) when there is no room to list them. Text is wrapped here,
//! by [`wrap`], so that the height of every panel is known before drawing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The smallest terminal the layout is made for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// From this width the steps and the people get a column of their own.
const WIDE: u16 = 110;

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
    /// The transcript's line number, from 1, as verify and replay count.
    pub line: u64,
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub hash: String,
}

/// A value the room reads aloud or compares: a hash comes with its PGP
/// words.
#[derive(Debug, Clone)]
pub struct ShownValue {
    pub label: String,
    pub value: String,
    pub words: Option<String>,
}

/// One key of the footer or of the help: the keys, and what they do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHint {
    pub keys: String,
    pub does: String,
}

impl KeyHint {
    pub fn new(keys: &str, does: impl Into<String>) -> KeyHint {
        KeyHint {
            keys: keys.to_string(),
            does: does.into(),
        }
    }
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
    /// Every key, and what it does.
    Help(Vec<KeyHint>),
    /// The whole roster, when the screen has no room to list it.
    People,
    /// A share, full screen, for one custodian while the others look away.
    Share { custodian: String, text: SecretText },
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
    /// "Step 3 of 14"
    pub step_number: String,
    pub step_title: String,
    pub step_detail: Vec<String>,
    /// What to compare and read aloud at this step.
    pub values: Vec<ShownValue>,
    /// How far the step's text is scrolled, in lines (clamped when drawn).
    pub step_scroll: usize,
    pub turn: Turn,
    pub roster: Vec<RosterLine>,
    pub tail: Vec<TailLine>,
    pub head: String,
    /// (is an error, text)
    pub message: Option<(bool, String)>,
    pub overlay: Option<Overlay>,
    /// Only the keys that work now.
    pub footer: Vec<KeyHint>,
}

/// What drawing learned that the app needs: how far the step's text can
/// scroll at this size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drawn {
    pub step_scroll_max: usize,
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

fn width_of(s: &str) -> usize {
    Span::raw(s).width()
}

/// Wraps `text` to `width` columns at spaces. A continuation line is
/// indented two columns more than the line it continues, so a wrapped
/// item still reads as one; a word longer than a line (a hash, a path) is
/// cut where the line ends, never dropped.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(12);
    let body = text.trim_start_matches(' ');
    let indent = (text.len() - body.len()).min(width / 2);
    let hang = " ".repeat((indent + 2).min(width / 2));
    let mut out = Vec::new();
    let mut line = " ".repeat(indent);
    let mut fresh = true;
    for word in body.split(' ') {
        if word.is_empty() {
            // A run of spaces inside the text (aligned columns) is kept.
            if !fresh {
                line.push(' ');
            }
            continue;
        }
        let used = width_of(&line);
        let need = width_of(word) + usize::from(!fresh);
        if used + need <= width {
            if !fresh {
                line.push(' ');
            }
            line.push_str(word);
            fresh = false;
            continue;
        }
        if !fresh {
            out.push(line.trim_end().to_string());
            line = hang.clone();
        }
        let mut rest = word;
        while width_of(&line) + width_of(rest) > width {
            let room = width - width_of(&line);
            let cut = rest
                .char_indices()
                .scan(0, |w, (i, c)| {
                    *w += width_of(c.encode_utf8(&mut [0; 4]));
                    Some((i + c.len_utf8(), *w))
                })
                .take_while(|(_, w)| *w <= room)
                .last()
                .map_or(rest.chars().next().map_or(0, char::len_utf8), |(i, _)| i);
            line.push_str(&rest[..cut]);
            out.push(line);
            line = hang.clone();
            rest = &rest[cut..];
        }
        line.push_str(rest);
        fresh = false;
    }
    out.push(line.trim_end().to_string());
    out
}

/// Lines of one style, wrapped.
fn wrapped(text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    text.split('\n')
        .flat_map(|l| wrap(l, width))
        .map(|l| Line::from(Span::styled(l, style)))
        .collect()
}

pub fn draw(frame: &mut Frame, screen: &Screen, theme: Theme) -> Drawn {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "The window is too small: {}x{}.\nThe ceremony needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge the terminal; nothing has been lost.",
            area.width, area.height
        );
        let lines: Vec<Line> = text
            .lines()
            .flat_map(|l| wrapped(l, usize::from(area.width), Style::default()))
            .collect();
        frame.render_widget(Paragraph::new(lines), area);
        return Drawn::default();
    }
    if let Some(Overlay::Share { custodian, text }) = &screen.overlay {
        draw_share(frame, area, custodian, text);
        return Drawn::default();
    }
    let width = usize::from(area.width);
    let message = match &screen.message {
        Some((true, text)) => wrapped(
            &format!("✗ {text}"),
            width,
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Some((false, text)) => wrapped(&format!("✓ {text}"), width, theme.fg(Color::Green)),
        None => vec![Line::from("")],
    };
    let message: Vec<Line> = message.into_iter().take(5).collect();
    let footer = footer_lines(&screen.footer, width);
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(10),
            Constraint::Length(message.len() as u16),
            Constraint::Length(footer.len() as u16),
        ])
        .split(area);
    draw_status(frame, rows[0], screen, theme);
    let drawn = if area.width >= WIDE {
        draw_wide(frame, rows[1], screen, theme)
    } else {
        draw_narrow(frame, rows[1], screen, theme)
    };
    frame.render_widget(Paragraph::new(message), rows[2]);
    frame.render_widget(Paragraph::new(footer), rows[3]);
    if let Some(overlay) = &screen.overlay {
        draw_overlay(frame, area, screen, overlay);
    }
    drawn
}

/// The footer, wrapped between keys, never inside one.
fn footer_lines(keys: &[KeyHint], width: usize) -> Vec<Line<'static>> {
    let style = Style::default().add_modifier(Modifier::REVERSED);
    let mut rows: Vec<String> = vec![String::new()];
    for k in keys {
        let hint = format!(" {}: {} ", k.keys, k.does);
        let row = rows.last_mut().expect("a row");
        if !row.is_empty() && width_of(row) + width_of(&hint) > width {
            rows.push(hint);
        } else {
            row.push_str(&hint);
        }
    }
    rows.into_iter()
        .take(2)
        .map(|l| Line::from(Span::styled(format!("{l:<width$}"), style)))
        .collect()
}

/// The header keeps, in this order, what the room must never miss: whether
/// this is a production ceremony, the elapsed time, the ceremony's id, the
/// script's title.
fn draw_status(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let width = usize::from(area.width);
    let long_banner = if s.production {
        " PRODUCTION "
    } else {
        " REHEARSAL — NOT A PRODUCTION CEREMONY "
    };
    let short_banner = if s.production {
        " PRODUCTION "
    } else {
        " REHEARSAL "
    };
    let elapsed = format!("  elapsed {}", s.elapsed);
    let id = format!("  ceremony {}", s.ceremony_id);
    let title = format!("  {}", s.script_title);
    let candidates = [
        (long_banner, format!("{title}{id}{elapsed}")),
        (long_banner, format!("{id}{elapsed}")),
        (short_banner, format!("{id}{elapsed}")),
        (short_banner, format!("  {}{elapsed}", s.ceremony_id)),
        (short_banner, elapsed.clone()),
    ];
    let (banner, rest) = candidates
        .iter()
        .find(|(b, r)| width_of(b) + width_of(r) <= width)
        .cloned()
        .unwrap_or((short_banner, elapsed));
    let line = Line::from(vec![
        Span::styled(banner, theme.banner(s.production)),
        Span::raw(rest),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// At 110 columns and more: the steps and the people in a left column, the
/// step, the turn and the transcript on the right.
fn draw_wide(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) -> Drawn {
    let longest = s
        .steps
        .iter()
        .map(|st| width_of(&st.title) + 8)
        .chain(
            s.roster
                .iter()
                .map(|p| width_of(&p.name) + width_of(&p.role) + 7),
        )
        .max()
        .unwrap_or(20) as u16;
    let left_width = longest.clamp(28, area.width / 3);
    let cols = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(left_width), Constraint::Min(40)])
        .split(area);
    let people_lines = people_list(s, theme);
    let people_h = (people_lines.len() as u16 + 2).min(cols[0].height / 2);
    let left = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(5), Constraint::Length(people_h)])
        .split(cols[0]);
    draw_steps(frame, left[0], s, theme);
    draw_people_panel(frame, left[1], people_lines);
    draw_right(frame, cols[1], s, theme, false)
}

/// Under 110 columns: one column; the steps become a strip of symbols, and
/// the people a few lines (or a count and F2 when even those do not fit).
fn draw_narrow(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) -> Drawn {
    draw_right(frame, area, s, theme, true)
}

fn draw_right(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme, narrow: bool) -> Drawn {
    let inner_width = usize::from(area.width.saturating_sub(2));
    let now = turn_lines(&s.turn, inner_width, theme);
    let step = step_lines(s, inner_width, theme);
    let strip_h: u16 = if narrow { 1 } else { 0 };
    let people = if narrow {
        people_compact(s, usize::from(area.width), theme)
    } else {
        Vec::new()
    };
    let height = area.height.saturating_sub(strip_h);
    // The turn first: what the person at the keyboard needs is never cut.
    let now_h = (now.len() as u16 + 2).min(height.saturating_sub(5)).max(3);
    let left = height - now_h;
    let step_need = step.len() as u16 + 2;
    // The people's names where the step's text still fits beside them;
    // otherwise a count, and F2 lists them.
    let people = if people.is_empty() || left >= step_need + people.len() as u16 {
        people
    } else {
        vec![Line::from(format!(
            "People: {} of {} signed in — F2 lists them",
            s.roster.iter().filter(|p| p.signed_in).count(),
            s.roster.len()
        ))]
    };
    let people_h = people.len() as u16;
    let left = left.saturating_sub(people_h);
    // The transcript's tail only where the step's text has all it needs.
    let tail_h = if left >= step_need + 4 {
        left - step_need
    } else {
        0
    };
    let step_h = left - tail_h;
    // Stacked by hand: a layout solver would shrink whichever it likes
    // when the lengths do not fit, and the turn must not be the one.
    let mut y = area.y;
    let mut next = |h: u16| {
        let h = h.min(area.y + area.height - y);
        let r = Rect::new(area.x, y, area.width, h);
        y += h;
        r
    };
    let parts = [
        next(strip_h),
        next(step_h),
        next(now_h),
        next(people_h),
        next(tail_h),
    ];
    if narrow {
        draw_strip(frame, parts[0], s, theme);
    }
    let drawn = draw_step(frame, parts[1], s, step);
    draw_turn(frame, parts[2], s, now);
    frame.render_widget(Paragraph::new(people), parts[3]);
    if tail_h > 0 {
        draw_tail(frame, parts[4], s);
    }
    drawn
}

fn draw_strip(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let mut spans = vec![Span::raw("Steps ")];
    spans.extend(
        s.steps
            .iter()
            .map(|st| Span::styled(st.status.symbol(), theme.status(st.status))),
    );
    spans.push(Span::raw(format!("  {}", s.step_number)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_steps(frame: &mut Frame, area: Rect, s: &Screen, theme: Theme) {
    let inner = usize::from(area.width.saturating_sub(2));
    let mut lines = Vec::new();
    let mut current_at = 0;
    for st in &s.steps {
        if matches!(st.status, Status::Current | Status::Failed) {
            current_at = lines.len();
        }
        let text = format!("{} {:>2}. {}", st.status.symbol(), st.number, st.title);
        for (i, l) in wrap_hanging(&text, inner, 6).into_iter().enumerate() {
            let style = if i == 0 {
                theme.status(st.status)
            } else {
                Style::default()
            };
            lines.push(Line::from(Span::styled(l, style)));
        }
    }
    let room = usize::from(area.height.saturating_sub(2));
    // The current step stays in view, a third of the way down.
    let scroll = if lines.len() > room {
        current_at.saturating_sub(room / 3).min(lines.len() - room)
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(Block::default().borders(Borders::ALL).title(" Steps ")),
        area,
    );
}

/// Like [`wrap`], with continuation lines indented by `hang` columns.
fn wrap_hanging(text: &str, width: usize, hang: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = wrap(text, width).into_iter();
    if let Some(first) = rest.next() {
        out.push(first);
    }
    let tail: Vec<String> = rest.map(|l| l.trim_start().to_string()).collect();
    if !tail.is_empty() {
        for l in wrap(&tail.join(" "), width.saturating_sub(hang)) {
            out.push(format!("{}{}", " ".repeat(hang), l.trim_start()));
        }
    }
    out
}

fn person(p: &RosterLine, theme: Theme) -> Vec<Span<'static>> {
    let (mark, style) = if p.signed_in {
        ("●", theme.fg(Color::Green))
    } else {
        ("○", theme.fg(Color::Gray))
    };
    vec![
        Span::styled(mark, style),
        Span::raw(format!(" {} ({})", p.name, p.role)),
    ]
}

fn people_list(s: &Screen, theme: Theme) -> Vec<Line<'static>> {
    s.roster
        .iter()
        .map(|p| Line::from(person(p, theme)))
        .collect()
}

fn draw_people_panel(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>) {
    let room = usize::from(area.height.saturating_sub(2));
    let total = lines.len();
    let mut lines = lines;
    if total > room && room > 0 {
        lines.truncate(room - 1);
        lines.push(Line::from(format!("… {} more: F2", total - lines.len())));
    }
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" People (● signed in) "),
        ),
        area,
    );
}

/// The people in as few lines as the width allows: "People: ● alice
/// (administrator)  ○ carol (custodian) …".
fn people_compact(s: &Screen, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut spans = vec![Span::raw("People: ")];
    let mut used = width_of("People: ");
    for p in &s.roster {
        let entry = person(p, theme);
        let w: usize = entry.iter().map(Span::width).sum::<usize>() + 2;
        if used + w > width && spans.len() > 1 {
            lines.push(Line::from(std::mem::take(&mut spans)));
            spans.push(Span::raw("        "));
            used = 8;
        }
        spans.extend(entry);
        spans.push(Span::raw("  "));
        used += w;
    }
    lines.push(Line::from(spans));
    lines
}

/// The current step: its title, who performs and witnesses it, what to do,
/// and the values to compare, emphasized.
fn step_lines(s: &Screen, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines = wrapped(&s.step_title, width, bold);
    for d in &s.step_detail {
        lines.extend(wrapped(d, width, Style::default()));
    }
    if !s.values.is_empty() {
        lines.push(Line::from(Span::styled(
            "Compare and read aloud:",
            theme.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        )));
    }
    for v in &s.values {
        let one_line = format!("  {}: {}", v.label, v.value);
        if width_of(&one_line) <= width {
            lines.push(Line::from(vec![
                Span::raw(format!("  {}: ", v.label)),
                Span::styled(v.value.clone(), bold),
            ]));
        } else {
            lines.push(Line::from(format!("  {}:", v.label)));
            lines.extend(wrapped(&format!("    {}", v.value), width, bold));
        }
        if let Some(words) = &v.words {
            lines.extend(wrapped(&format!("    in words: {words}"), width, bold));
        }
    }
    lines
}

fn draw_step(frame: &mut Frame, area: Rect, s: &Screen, lines: Vec<Line<'static>>) -> Drawn {
    let room = usize::from(area.height.saturating_sub(2));
    let max = lines.len().saturating_sub(room);
    let scroll = s.step_scroll.min(max);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", s.step_number));
    if max > 0 {
        let last = (scroll + room).min(lines.len());
        let keys = match (scroll > 0, scroll < max) {
            (true, true) => "PgUp/PgDn",
            (false, _) => "PgDn: more",
            (true, false) => "PgUp: back",
        };
        block = block.title_bottom(
            Line::from(format!(
                " lines {}-{last} of {} · {keys} ",
                scroll + 1,
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
    Drawn {
        step_scroll_max: max,
    }
}

/// The Now panel's lines: the title, HSM progress, the instructions, then
/// the field and its check. The field is wrapped, never scrolled away:
/// what a person types is always all in view.
fn turn_lines(t: &Turn, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let title_style = if t.failed {
        theme.fg(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::default().add_modifier(Modifier::BOLD)
    };
    let mut lines = wrapped(&t.title, width, title_style);
    if let Some((what, secs, spin)) = &t.busy {
        lines.extend(wrapped(
            &format!("{spin} the HSM is working: {what} ({secs:.1} s)"),
            width,
            theme.fg(Color::Cyan),
        ));
    }
    for l in &t.lines {
        lines.extend(wrapped(l, width, Style::default()));
    }
    if let Some((label, shown)) = &t.field {
        lines.push(Line::from(""));
        lines.extend(field_lines(label, shown, width, true, false));
        if let Some((wrong, text)) = &t.check {
            // A symbol beside the color: meaning never rests on color alone.
            lines.extend(if *wrong {
                wrapped(&format!("✗ {text}"), width, theme.fg(Color::Red))
            } else {
                wrapped(&format!("✓ {text}"), width, theme.fg(Color::Green))
            });
        }
    }
    lines
}

/// "label: text▏", the text cut into lines under itself, so that all of it
/// is visible however long it is.
fn field_lines(
    label: &str,
    text: &str,
    width: usize,
    focused: bool,
    prose: bool,
) -> Vec<Line<'static>> {
    let head = format!("{label}: ");
    let indent = width_of(&head).min(width / 2);
    let room = width.saturating_sub(indent).max(8);
    let shown = if focused {
        format!("{text}▏")
    } else {
        text.to_string()
    };
    // Prose (a reason, an exception) wraps between words; a code or a
    // path is cut where the line ends, every character where it was typed.
    let chunks: Vec<String> = if prose {
        wrap(&shown, room)
            .into_iter()
            .map(|l| l.trim_start().to_string())
            .collect()
    } else {
        let mut chunks = Vec::new();
        let mut chunk = String::new();
        for c in shown.chars() {
            if width_of(&chunk) + width_of(c.encode_utf8(&mut [0; 4])) > room {
                chunks.push(std::mem::take(&mut chunk));
            }
            chunk.push(c);
        }
        chunks.push(chunk);
        chunks
    };
    let style = if focused {
        Style::default().add_modifier(Modifier::UNDERLINED)
    } else {
        Style::default()
    };
    let mut lines = Vec::new();
    for (i, c) in chunks.into_iter().enumerate() {
        let lead = if i == 0 {
            if width_of(&head) > width / 2 {
                // A long label takes its own line.
                lines.push(Line::from(head.trim_end().to_string()));
                " ".repeat(indent)
            } else {
                head.clone()
            }
        } else {
            " ".repeat(indent)
        };
        lines.push(Line::from(vec![Span::raw(lead), Span::styled(c, style)]));
    }
    lines
}

fn draw_turn(frame: &mut Frame, area: Rect, s: &Screen, lines: Vec<Line<'static>>) {
    let room = usize::from(area.height.saturating_sub(2));
    // Only when the window is too small for the whole turn: the field, at
    // the end, stays in view.
    let scroll = lines.len().saturating_sub(room);
    let field_rows = s.turn.field.is_some();
    let scroll = if field_rows { scroll } else { 0 };
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(Block::default().borders(Borders::ALL).title(" Now ")),
        area,
    );
}

fn draw_tail(frame: &mut Frame, area: Rect, s: &Screen) {
    let inner = usize::from(area.width.saturating_sub(2));
    let head = wrap(&format!("head {}", s.head), inner);
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(head.len());
    let start = s.tail.len().saturating_sub(room);
    let mut lines: Vec<Line> = s.tail[start..]
        .iter()
        .map(|t| {
            Line::from(format!(
                "line {:>3} {} {:<16} {:<10} {}",
                t.line, t.time, t.kind, t.actor, t.hash
            ))
        })
        .collect();
    lines.extend(head.into_iter().map(Line::from));
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

fn draw_share(frame: &mut Frame, area: Rect, custodian: &str, text: &SecretText) {
    // The whole screen: nothing else is visible while the share is.
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = wrapped(
        &format!(
            "FOR {} ONLY — everyone else, look away from the screen.",
            custodian.to_uppercase()
        ),
        width,
        Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
    );
    lines.push(Line::from(""));
    for l in text.0.lines() {
        lines.extend(wrapped(l, width, Style::default()));
    }
    lines.push(Line::from(""));
    lines.extend(wrapped(
        "Copy it by hand, check your copy, then press Enter: the screen is wiped and you type it back.",
        width,
        Style::default(),
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Your share ")),
        area,
    );
}

/// A dialog sized to its wrapped text; when even that does not fit, it
/// scrolls so that the field with the focus is in view.
fn draw_overlay(frame: &mut Frame, area: Rect, s: &Screen, overlay: &Overlay) {
    let dialog_width = area.width.saturating_sub(2).min(96);
    let width = usize::from(dialog_width.saturating_sub(2));
    let plain = |t: &str| wrapped(t, width, Style::default());
    let mut focus_end = 0;
    let mut lines: Vec<Line> = Vec::new();
    let mut field = |lines: &mut Vec<Line<'static>>, label: &str, text: &str, focused: bool| {
        let mark = if focused { "▶ " } else { "  " };
        lines.extend(field_lines(
            &format!("{mark}{label}"),
            text,
            width,
            focused,
            true,
        ));
        if focused {
            focus_end = lines.len();
        }
    };
    let title = match overlay {
        Overlay::Share { .. } => return,
        Overlay::Help(keys) => {
            let keys_width = keys.iter().map(|k| width_of(&k.keys)).max().unwrap_or(0) + 2;
            for k in keys {
                let text = format!("{:<keys_width$}{}", k.keys, k.does);
                lines.extend(
                    wrap_hanging(&text, width, keys_width)
                        .into_iter()
                        .map(Line::from),
                );
            }
            lines.push(Line::from(""));
            lines.extend(plain("Any key closes this help."));
            lines.extend(plain(
                "Shares and PINs are never shown: share codes appear as • only.",
            ));
            " Help "
        }
        Overlay::People => {
            for p in &s.roster {
                lines.push(Line::from(person(p, Theme { color: false })));
            }
            lines.push(Line::from(""));
            lines.extend(plain("● signed in, ○ not yet. Any key closes this list."));
            " People "
        }
        Overlay::Abort {
            by,
            reason,
            word,
            focus,
        } => {
            lines.extend(plain(&format!(
                "The abort is recorded as {by}'s and closes the transcript."
            )));
            lines.extend(plain(
                "It cannot be undone. Tab moves between fields; Enter on the last one aborts; Esc cancels.",
            ));
            lines.push(Line::from(""));
            field(&mut lines, "reason", reason, *focus == 0);
            field(&mut lines, "type abort to confirm", word, *focus == 1);
            " Abort the ceremony "
        }
        Overlay::Exception { by, fields, focus } => {
            lines.extend(plain(&format!(
                "{by} records a deviation from the script; the witness confirms it."
            )));
            lines.extend(plain(
                "It is recorded as written, never edited. Tab: next field; Enter on the last one records; Esc cancels.",
            ));
            lines.push(Line::from(""));
            field(&mut lines, "expected", &fields[0], *focus == 0);
            field(&mut lines, "happened", &fields[1], *focus == 1);
            field(&mut lines, "decision", &fields[2], *focus == 2);
            " Record an exception "
        }
    };
    if let (Some((true, text)), Overlay::Abort { .. } | Overlay::Exception { .. }) =
        (&s.message, overlay)
    {
        lines.push(Line::from(""));
        lines.extend(wrapped(
            &format!("✗ {text}"),
            width,
            Style::default().add_modifier(Modifier::BOLD),
        ));
        focus_end = focus_end.max(lines.len());
    }
    let rect = centered(area, dialog_width, lines.len() as u16 + 2);
    let room = usize::from(rect.height.saturating_sub(2));
    let scroll = focus_end.saturating_sub(room);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_keeps_every_character_and_indents_continuations() {
        let text = "  ☐ the laptop's seal number matches the one on the log sheet, read aloud";
        let lines = wrap(text, 30);
        assert!(lines.iter().all(|l| super::width_of(l) <= 30), "{lines:?}");
        assert!(lines[1].starts_with("    "), "{lines:?}");
        let words: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn wrap_cuts_a_word_longer_than_the_line_without_losing_any_of_it() {
        let hash = "ab".repeat(40);
        let lines = wrap(&format!("head {hash}"), 40);
        assert!(lines.iter().all(|l| super::width_of(l) <= 40), "{lines:?}");
        let joined: String = lines.iter().map(|l| l.trim()).collect();
        assert_eq!(joined, format!("head{hash}"));
    }

    #[test]
    fn a_blank_line_stays_a_line() {
        assert_eq!(wrap("", 40), vec![String::new()]);
    }
}
