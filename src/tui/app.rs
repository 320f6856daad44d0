//! The terminal UI's state and its update: keys in, session calls out.
//! The UI thread never makes a PKCS#11 call: the session hands HSM work to
//! its worker thread, and `Session::poll` never blocks.

use std::path::PathBuf;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use zeroize::Zeroizing;

use super::field::TextField;
use super::view::{
    Drawn, KeyHint, Overlay, RosterLine, Screen, SecretText, ShownValue, Status, StepLine,
    TailLine, Turn,
};
use crate::engine::{
    Capacity, Checks, Exception, Need, Outcome, StepStatus, describe, items_to_tick,
    seals_materials,
};
use crate::quorum::{self, CODE_LEN, TypingStatus};
use crate::runner::{KeySource, RunError, Session, ShareInput};
use crate::script::{KeyCustody, Mode, Role};

/// What the field under "Now" is for; when the need changes, the field is
/// replaced (and a masked one zeroized).
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldFor {
    /// `participant` presents their key for the act at hand: it starts
    /// empty (Tab offers the bindings' hint), so that no Enter meant for
    /// one person's act can make another's.
    Key(String),
    Word(&'static str),
    Share(String),
    /// A custodian types back the share just shown to them.
    Copy(String),
    /// The performer types a PIN set with the vendor's tool.
    Pin(String),
    /// The performer types the number of a material's new seal.
    Seal(String),
}

/// Where an on-screen delivery stands for the current custodian.
enum Delivery {
    /// The others are asked to look away; Enter shows the share.
    Ready,
    /// The share is on screen.
    Showing(Zeroizing<String>),
    /// Hidden again; the custodian types it back.
    Retype,
}

/// What an act's person has given before presenting their key: the act
/// waits for the key, and goes when it signs.
enum Staged {
    Word(String),
    Share(ShareInput),
    Copy(Zeroizing<String>),
    Pin(crate::secret::Pin),
    Exception(Exception),
    Abort(String),
    Retry,
}

impl Staged {
    /// The administrator's acts, begun from a key, not from the turn.
    fn is_administrators(&self) -> bool {
        matches!(
            self,
            Staged::Exception(_) | Staged::Abort(_) | Staged::Retry
        )
    }
}

enum Dialog {
    Help,
    People,
    Abort {
        reason: TextField,
        word: TextField,
        focus: usize,
    },
    Exception {
        fields: [TextField; 3],
        focus: usize,
    },
}

pub struct App {
    field: TextField,
    field_for: Option<FieldFor>,
    /// The custodian who is presenting a share in a recombine step.
    presenter: Option<String>,
    /// The existing PIN as first typed, until it is typed again to match.
    pin_first: Option<Zeroizing<String>>,
    /// The act waiting for its person's key.
    staged: Option<Staged>,
    dialog: Option<Dialog>,
    delivery: Option<(String, Delivery)>,
    message: Option<(bool, String)>,
    pub quit: bool,
    /// Set when a share left the screen: the run loop clears the terminal
    /// and ratatui's buffers so no copy of it survives there.
    pub wipe: bool,
    spinner: usize,
    /// How far the step's text is scrolled, for the step it was scrolled
    /// at: a new step starts at its top.
    step_scroll: (String, usize),
    /// The most the step's text could scroll when last drawn.
    step_scroll_max: usize,
    /// What the performer has ticked at the step of this id.
    checks: (String, Checks),
}

/// Where a performer stands in ticking a step's items.
struct Ticking {
    items: Vec<String>,
    next: usize,
    seals: bool,
}

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Typed in a key field: the person's key is in their SSH agent.
const AGENT: &str = "agent";
/// Typed in a key field: the key held since sign-in (held-for-session only).
const HELD: &str = "held";

impl Default for App {
    fn default() -> Self {
        App {
            field: TextField::new(false),
            field_for: None,
            presenter: None,
            pin_first: None,
            staged: None,
            dialog: None,
            delivery: None,
            message: None,
            quit: false,
            wipe: false,
            spinner: 0,
            step_scroll: (String::new(), 0),
            step_scroll_max: 0,
            checks: (String::new(), Checks::default()),
        }
    }
}

fn role_name(r: Role) -> &'static str {
    r.as_str()
}

impl App {
    fn info(&mut self, text: impl Into<String>) {
        self.message = Some((false, text.into()));
    }

    fn error(&mut self, e: impl std::fmt::Display) {
        self.message = Some((true, e.to_string()));
    }

    /// A problem of the front end's own (the screen recording stopped),
    /// shown as an error line.
    pub fn warn(&mut self, text: impl std::fmt::Display) {
        self.error(text);
    }

    fn administrator(session: &Session) -> Option<String> {
        session
            .ceremony()
            .holders(Role::Administrator)
            .first()
            .map(|p| p.name.clone())
    }

    fn key_hint(session: &Session, name: &str) -> String {
        session
            .ceremony()
            .participant(name)
            .and_then(|p| p.key_file.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// What the field should be for the session's current need.
    fn wanted_field(&self, session: &Session) -> Option<FieldFor> {
        if let Some(staged) = &self.staged
            && staged.is_administrators()
        {
            return Self::administrator(session).map(FieldFor::Key);
        }
        if let Some(t) = self.ticking(session) {
            return t.seals.then(|| FieldFor::Seal(t.items[t.next].clone()));
        }
        let staged = self.staged.is_some();
        match session.need() {
            Need::SignIn { participant, .. }
            | Need::Identify { participant, .. }
            | Need::Attest { participant }
            | Need::Cosign { participant }
            | Need::Confirm {
                participant,
                word: None,
                ..
            } => Some(FieldFor::Key(participant)),
            Need::Confirm {
                participant,
                word: Some(word),
                ..
            } => Some(if staged {
                FieldFor::Key(participant)
            } else {
                FieldFor::Word(word)
            }),
            Need::DeliverShare { custodian, .. } => match &self.delivery {
                Some((c, Delivery::Retype)) if *c == custodian => Some(if staged {
                    FieldFor::Key(custodian)
                } else {
                    FieldFor::Copy(custodian)
                }),
                _ => None,
            },
            Need::ExistingPin { participant, .. } => Some(if staged {
                FieldFor::Key(participant)
            } else {
                FieldFor::Pin(participant)
            }),
            Need::Share { .. } => match &self.presenter {
                Some(p) if !session.engine().is_signed_in(p) || staged => {
                    Some(FieldFor::Key(p.clone()))
                }
                Some(p) => Some(FieldFor::Share(p.clone())),
                None => None,
            },
            _ => None,
        }
    }

    /// Keeps the field in step with the need: a new turn gets a new field
    /// (a key path prefilled with the roster's hint).
    pub fn sync(&mut self, session: &Session) {
        match session.need() {
            // Once their share is in, the next custodian is chosen afresh.
            Need::Share { presented, .. }
                if self
                    .presenter
                    .as_ref()
                    .is_some_and(|p| presented.contains(p)) =>
            {
                self.presenter = None
            }
            Need::Share { .. } => {}
            _ => self.presenter = None,
        }
        match session.need() {
            Need::DeliverShare { custodian, .. } => {
                if self.delivery.as_ref().is_none_or(|(c, _)| *c != custodian) {
                    self.delivery = Some((custodian, Delivery::Ready));
                }
            }
            _ => self.delivery = None,
        }
        // An act staged for a turn that is gone (the step moved on, the
        // ceremony closed) is dropped, not made later for someone else.
        if self.staged.as_ref().is_some_and(|s| !s.is_administrators())
            && !matches!(
                session.need(),
                Need::Confirm { .. }
                    | Need::Share { .. }
                    | Need::DeliverShare { .. }
                    | Need::ExistingPin { .. }
            )
        {
            self.staged = None;
        }
        let wanted = self.wanted_field(session);
        if wanted != self.field_for {
            if !matches!(wanted, Some(FieldFor::Key(_))) {
                self.pin_first = None;
            }
            self.field.clear();
            self.field = match &wanted {
                Some(FieldFor::Share(_) | FieldFor::Copy(_)) => TextField::new(true),
                Some(FieldFor::Pin(_)) => TextField::secret(),
                _ => TextField::new(false),
            };
            self.field_for = wanted;
        }
    }

    /// The typed share code judged at each keystroke: a wrong character
    /// or a bad checksum shows at once, not after Enter.
    fn code_check(&self) -> Option<(bool, String)> {
        if self.field.is_empty() {
            return None;
        }
        Some(match quorum::typing_status(self.field.text()) {
            TypingStatus::Partial { typed } => {
                (false, format!("{typed} of {CODE_LEN} characters after kc1"))
            }
            TypingStatus::Complete => (false, "checksum correct: press Enter".into()),
            TypingStatus::Wrong(why) => (true, why),
        })
    }

    /// This step's checks so far (none when the step changed).
    fn checks_here(&self, session: &Session) -> Checks {
        if self.checks.0 == session.engine().current().id {
            self.checks.1.clone()
        } else {
            Checks::default()
        }
    }

    /// The performer of a checklist or a materials check, still ticking:
    /// the items, the next one, and whether each takes a seal number.
    fn ticking(&self, session: &Session) -> Option<Ticking> {
        let Need::Confirm {
            capacity: Capacity::Performer,
            ..
        } = session.need()
        else {
            return None;
        };
        let details = session.engine().current().details.as_ref();
        let items = items_to_tick(details);
        let next = self.checks_here(session).ticked.len();
        (next < items.len()).then(|| Ticking {
            items,
            next,
            seals: seals_materials(details),
        })
    }

    /// Enter while ticking: the next item is ticked (with its seal's
    /// number, when materials go out).
    fn tick_next(&mut self, session: &Session, t: Ticking) {
        let id = session.engine().current().id.clone();
        if self.checks.0 != id {
            self.checks = (id, Checks::default());
        }
        let item = t.items[t.next].clone();
        if t.seals {
            let number = self.field.text().trim().to_string();
            if number.is_empty() {
                self.error(format!(
                    "type the number of the new seal on {item}, then Enter"
                ));
                return;
            }
            self.checks.1.sealed.insert(item.clone(), number);
            self.field.clear();
        }
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.checks.1.ticked.push((item.clone(), at));
        self.info(format!("ticked: {}", crate::shown::shown(&item)));
    }

    /// Esc while ticking: the last tick is taken back (nothing is recorded
    /// until the performer presents their key).
    fn untick(&mut self, session: &Session) {
        if self.checks.0 != session.engine().current().id {
            return;
        }
        if let Some((item, _)) = self.checks.1.ticked.pop() {
            self.checks.1.sealed.remove(&item);
            self.info(format!("unticked: {}", crate::shown::shown(&item)));
        }
    }

    /// Whether Esc takes a tick back now: the performer is ticking (or has
    /// ticked all, the key not yet asked for) and has ticked something.
    fn can_untick(&self, session: &Session) -> bool {
        self.staged.is_none()
            && (self.ticking(session).is_some() || self.all_ticked_unstaged(session))
            && !self.checks_here(session).ticked.is_empty()
    }

    pub fn tick(&mut self) {
        self.spinner = (self.spinner + 1) % SPINNER.len();
    }

    pub fn on_paste(&mut self, text: &str) {
        match &mut self.dialog {
            Some(Dialog::Abort {
                reason,
                word,
                focus,
            }) => [reason, word][*focus].paste(text),
            Some(Dialog::Exception { fields, focus }) => fields[*focus].paste(text),
            Some(Dialog::Help | Dialog::People) => {}
            None if self.field_for.is_some() => self.field.paste(text),
            None => {}
        }
    }

    /// What drawing found: how far the step's text can scroll now.
    pub fn drawn(&mut self, drawn: Drawn) {
        self.step_scroll_max = drawn.step_scroll_max;
        self.step_scroll.1 = self.step_scroll.1.min(drawn.step_scroll_max);
    }

    fn scroll_step(&mut self, session: &Session, down: bool) {
        let id = &session.engine().current().id;
        if self.step_scroll.0 != *id {
            self.step_scroll = (id.clone(), 0);
        }
        let page = 5;
        let at = &mut self.step_scroll.1;
        *at = if down {
            (*at + page).min(self.step_scroll_max)
        } else {
            at.saturating_sub(page)
        };
    }

    pub fn on_key(&mut self, key: KeyEvent, session: &mut Session) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.dialog.is_some() {
            self.on_dialog_key(key, session);
            return;
        }
        if let Some((_, Delivery::Showing(_))) = &self.delivery {
            // While a share is on screen only hiding it does anything.
            if matches!(key.code, KeyCode::Enter | KeyCode::Esc) {
                self.submit(session);
                self.sync(session);
            }
            return;
        }
        if let Need::Finished(_) = session.need() {
            // The final screen: any key leaves.
            self.quit = true;
            return;
        }
        let typing = self.field_for.is_some();
        match key.code {
            KeyCode::F(1) => self.dialog = Some(Dialog::Help),
            KeyCode::F(2) => self.dialog = Some(Dialog::People),
            KeyCode::Char('?') if !typing => self.dialog = Some(Dialog::Help),
            KeyCode::PageDown => self.scroll_step(session, true),
            KeyCode::PageUp => self.scroll_step(session, false),
            KeyCode::Tab => self.offer_key(session),
            // Esc first steps back out of an act waiting for its key.
            KeyCode::Esc if self.staged.is_some() => {
                self.staged = None;
                self.pin_first = None;
                self.info("went back: nothing was recorded");
            }
            // Esc takes the last tick back (with nothing ticked, it aborts).
            KeyCode::Esc if self.can_untick(session) => self.untick(session),
            // A custodian chosen by mistake: back to the list, not Abort.
            KeyCode::Esc if self.presenter.is_some() => {
                self.presenter = None;
                self.info("back to the list of custodians: nothing was recorded");
            }
            KeyCode::Char('d') if ctrl => self.cosigner_absent(session),
            // Ctrl-C asks, as q and Esc do: an abort closes the transcript
            // for good, so no single key makes one.
            KeyCode::Esc => self.open_abort(),
            KeyCode::Char('c' | 'q') if ctrl => self.open_abort(),
            KeyCode::Char('q') if !typing => self.open_abort(),
            KeyCode::Char('e') if ctrl || !typing => self.open_exception(session),
            KeyCode::Char('u') if ctrl => self.field.clear(),
            KeyCode::Char('r') if !typing => self.retry(session),
            KeyCode::Char(c @ '1'..='9') if !typing => self.pick_presenter(session, c),
            KeyCode::Char(c) if typing && !ctrl => self.field.push(c),
            KeyCode::Backspace if typing => self.field.backspace(),
            KeyCode::Enter => self.submit(session),
            _ => {}
        }
        self.sync(session);
    }

    /// Every item ticked, the key not yet asked for: Esc takes the last
    /// tick back.
    fn all_ticked_unstaged(&self, session: &Session) -> bool {
        matches!(
            session.need(),
            Need::Confirm {
                capacity: Capacity::Performer,
                ..
            }
        ) && self.staged.is_none()
            && !self.checks_here(session).ticked.is_empty()
    }

    fn open_abort(&mut self) {
        self.dialog = Some(Dialog::Abort {
            reason: TextField::new(false),
            word: TextField::new(false),
            focus: 0,
        });
    }

    fn open_exception(&mut self, session: &Session) {
        match Self::administrator(session) {
            Some(admin) if session.engine().is_signed_in(&admin) => {
                self.dialog = Some(Dialog::Exception {
                    fields: [
                        TextField::new(false),
                        TextField::new(false),
                        TextField::new(false),
                    ],
                    focus: 0,
                });
            }
            _ => self.error("the administrator must sign in before recording an exception"),
        }
    }

    fn retry(&mut self, session: &mut Session) {
        if let Need::Failed { may_retry, .. } = session.need() {
            if may_retry {
                self.staged = Some(Staged::Retry);
            } else {
                self.error("record an exception first (e), then retry");
            }
        }
    }

    /// Tab in a key field: the bindings' key file for this person, or in a
    /// held-for-session ceremony the key held since their sign-in.
    fn offer_key(&mut self, session: &Session) {
        let Some(FieldFor::Key(name)) = &self.field_for else {
            return;
        };
        let held = session.key_custody() == KeyCustody::HeldForSession
            && session.engine().is_signed_in(name)
            && !matches!(session.need(), Need::Identify { .. });
        let offer = if held {
            HELD.to_string()
        } else {
            Self::key_hint(session, name)
        };
        if offer.is_empty() {
            self.error(format!(
                "the bindings name no key file for {name}: type the path to your key, or {AGENT}"
            ));
        } else {
            self.field = TextField::with_text(&offer);
        }
    }

    /// The key the field names: a path, `agent`, or `held`.
    fn key_source(&self) -> Option<KeySource> {
        match self.field.text().trim() {
            "" => None,
            AGENT => Some(KeySource::Agent),
            HELD => Some(KeySource::Held),
            path => Some(KeySource::File(PathBuf::from(path))),
        }
    }

    fn cosigner_absent(&mut self, session: &mut Session) {
        if let Need::Cosign { participant } = session.need() {
            match session.cosigner_absent(&participant) {
                Ok(()) => self.info(format!(
                    "{participant} did not cosign: the checkpoint goes without them, and verify will say so"
                )),
                Err(e) => self.error(e),
            }
        }
    }

    /// The custodians of a recombine step, numbered once for the whole
    /// step: a custodian keeps their number after others have presented.
    fn custodians(session: &Session) -> Vec<String> {
        session
            .ceremony()
            .holders(Role::Custodian)
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    fn pick_presenter(&mut self, session: &Session, c: char) {
        if let Need::Share { candidates, .. } = session.need() {
            let i = c.to_digit(10).unwrap_or(0) as usize;
            match Self::custodians(session).get(i.wrapping_sub(1)) {
                Some(name) if candidates.contains(name) => {
                    self.presenter = Some(name.clone());
                    self.message = None;
                }
                Some(name) => self.error(format!("{name} has already presented a share")),
                None => self.error(format!("there is no custodian {i} in the list")),
            }
        }
    }

    fn on_dialog_key(&mut self, key: KeyEvent, session: &mut Session) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        match dialog {
            Dialog::Help | Dialog::People => self.dialog = None,
            Dialog::Abort {
                reason,
                word,
                focus,
            } => match key.code {
                KeyCode::Esc => self.dialog = None,
                KeyCode::Tab | KeyCode::BackTab => *focus = 1 - *focus,
                KeyCode::Backspace => [reason, word][*focus].backspace(),
                KeyCode::Char('u') if ctrl => [reason, word][*focus].clear(),
                KeyCode::Char(c) if !ctrl => [reason, word][*focus].push(c),
                KeyCode::Enter if *focus == 0 => *focus = 1,
                KeyCode::Enter => {
                    if word.text().trim() != "abort" {
                        self.message = Some((true, "type abort exactly to abort".into()));
                        return;
                    }
                    let reason = reason.text().to_string();
                    if reason.trim().is_empty() {
                        self.message = Some((true, "an abort needs a reason".into()));
                        *focus = 0;
                        return;
                    }
                    let admin =
                        Self::administrator(session).filter(|a| session.engine().is_signed_in(a));
                    self.dialog = None;
                    if admin.is_some() {
                        // The administrator aborts with their key.
                        self.staged = Some(Staged::Abort(reason));
                        self.message = None;
                    } else {
                        match session.abort(None, &reason) {
                            Ok(()) => {
                                self.info("the ceremony was aborted and the transcript closed")
                            }
                            Err(e) => self.error(e),
                        }
                    }
                }
                _ => {}
            },
            Dialog::Exception { fields, focus } => match key.code {
                KeyCode::Esc => self.dialog = None,
                KeyCode::Tab => *focus = (*focus + 1) % 3,
                KeyCode::BackTab => *focus = (*focus + 2) % 3,
                KeyCode::Backspace => fields[*focus].backspace(),
                KeyCode::Char('u') if ctrl => fields[*focus].clear(),
                KeyCode::Char(c) if !ctrl => fields[*focus].push(c),
                KeyCode::Enter if *focus < 2 => *focus += 1,
                KeyCode::Enter => {
                    let exception = Exception {
                        expected: fields[0].text().to_string(),
                        happened: fields[1].text().to_string(),
                        decision: fields[2].text().to_string(),
                    };
                    if [
                        &exception.expected,
                        &exception.happened,
                        &exception.decision,
                    ]
                    .iter()
                    .any(|t| t.trim().is_empty())
                    {
                        self.message = Some((
                            true,
                            "an exception needs what was expected, what happened and the decision"
                                .into(),
                        ));
                        return;
                    }
                    self.dialog = None;
                    self.staged = Some(Staged::Exception(exception));
                    self.message = None;
                }
                _ => {}
            },
        }
        self.sync(session);
    }

    fn submit(&mut self, session: &mut Session) {
        if let Some(t) = self.ticking(session) {
            self.tick_next(session, t);
            return;
        }
        if let Some(FieldFor::Key(participant)) = self.field_for.clone() {
            let Some(key) = self.key_source() else {
                self.error(format!(
                    "{participant}: present your key — type the path to your key file (Tab offers it), or {AGENT}"
                ));
                return;
            };
            self.field.clear();
            // A key that is not theirs costs nothing: the act stays staged
            // for them to present the right one.
            if let Err(e) = session.check_key(&participant, &key) {
                self.error(e);
                return;
            }
            let result = self.act_with_key(session, &participant, &key);
            match result {
                Ok(text) => self.info(text),
                Err(e) => self.error(e),
            }
            return;
        }
        let result: Result<(), RunError> = match (session.need(), self.field_for.clone()) {
            (Need::Confirm { .. }, Some(FieldFor::Word(word))) => {
                if self.field.text().trim() == word {
                    self.staged = Some(Staged::Word(word.to_string()));
                    self.message = None;
                    return;
                }
                Err(RunError::Refused(format!(
                    "type `{word}` exactly to confirm this step"
                )))
            }
            (Need::Share { secret, .. }, Some(FieldFor::Share(custodian))) => {
                let input = if self.field.is_empty() {
                    match session.share_file(&custodian, &secret) {
                        Ok(file) => ShareInput::SealedFile(file),
                        Err(e) => {
                            self.error(e.to_string());
                            return;
                        }
                    }
                } else {
                    ShareInput::Code(Zeroizing::new(self.field.take().trim().to_string()))
                };
                self.field.clear();
                self.staged = Some(Staged::Share(input));
                self.message = None;
                return;
            }
            (Need::DeliverShare { custodian, .. }, _) => match self.delivery.take() {
                Some((c, Delivery::Ready)) => match session.share_to_show(&custodian) {
                    Ok(text) => {
                        self.delivery = Some((c, Delivery::Showing(text)));
                        self.message = None;
                        return;
                    }
                    Err(e) => {
                        self.delivery = Some((c, Delivery::Ready));
                        Err(e)
                    }
                },
                Some((c, Delivery::Showing(text))) => {
                    drop(text);
                    self.wipe = true;
                    self.delivery = Some((c, Delivery::Retype));
                    self.message = None;
                    return;
                }
                Some((c, Delivery::Retype)) => {
                    let code = Zeroizing::new(self.field.take().trim().to_string());
                    self.field.clear();
                    self.delivery = Some((c, Delivery::Retype));
                    self.staged = Some(Staged::Copy(code));
                    self.message = None;
                    return;
                }
                None => return,
            },
            // Typed twice: a typo would spend one of the token's login
            // tries. Exactly as typed: a PIN may begin or end with a space.
            (Need::ExistingPin { .. }, _) => match self.pin_first.take() {
                None => {
                    self.pin_first = Some(self.field.take());
                    self.message = None;
                    return;
                }
                Some(first) if *first == *self.field.text() => {
                    self.staged = Some(Staged::Pin(crate::secret::Pin::new(self.field.take())));
                    self.message = None;
                    return;
                }
                Some(_) => {
                    self.field.clear();
                    Err(RunError::Refused(
                        "the two entries differ: type the PIN again, twice".into(),
                    ))
                }
            },
            (Need::Share { .. }, None) => Err(RunError::Refused(
                "press the number of the custodian who presents next".into(),
            )),
            (Need::Failed { .. }, _) => Err(RunError::Refused(
                "the step failed: press e to record an exception, then r to retry, or q to abort"
                    .into(),
            )),
            (Need::Work(_), _) => Err(RunError::Refused("the HSM is working; please wait".into())),
            _ => return,
        };
        if let Err(e) = result {
            self.error(e);
        }
    }

    /// The act at hand, signed with the key `participant` just presented.
    fn act_with_key(
        &mut self,
        session: &mut Session,
        participant: &str,
        key: &KeySource,
    ) -> Result<String, RunError> {
        let staged = self.staged.take();
        let result = match (session.need(), staged) {
            (_, Some(Staged::Exception(exception))) => session
                .record_exception(participant, exception.clone(), key)
                .map(|()| "exception recorded; the witness confirms it next".to_string())
                .inspect_err(|_| self.staged = Some(Staged::Exception(exception))),
            (_, Some(Staged::Abort(reason))) => session
                .abort(Some((participant, key)), &reason)
                .map(|()| "the ceremony was aborted and the transcript closed".to_string())
                .inspect_err(|_| self.staged = Some(Staged::Abort(reason))),
            (_, Some(Staged::Retry)) => session
                .retry(participant, key)
                .map(|()| "retrying the step".to_string()),
            (Need::SignIn { .. }, _) => session
                .sign_in(participant, key)
                .map(|()| format!("{participant} signed in")),
            (Need::Share { .. }, None) => session
                .sign_in(participant, key)
                .map(|()| format!("{participant} signed in")),
            (Need::Identify { .. }, _) => session
                .identify(participant, key)
                .map(|()| format!("{participant}'s identity checked")),
            (Need::Confirm { .. }, staged) => {
                let word = match staged {
                    Some(Staged::Word(w)) => Some(w),
                    _ => None,
                };
                let checks = match session.need() {
                    Need::Confirm {
                        capacity: Capacity::Performer,
                        ..
                    } => self.checks_here(session),
                    _ => Checks::default(),
                };
                session
                    .confirm(participant, word.as_deref(), checks, key)
                    .map(|()| format!("{participant} confirmed"))
                    .inspect_err(|_| self.staged = word.map(Staged::Word))
            }
            (Need::Share { .. }, Some(Staged::Share(input))) => session
                .present_share(participant, input, key)
                .map(|()| format!("{participant}'s share checked and accepted")),
            (Need::DeliverShare { .. }, Some(Staged::Copy(code))) => session
                .prove_copy(participant, ShareInput::Code(code), key)
                .map(|()| format!("{participant} proved their copy")),
            (Need::ExistingPin { .. }, Some(Staged::Pin(pin))) => session
                .type_existing_pin(participant, pin, key)
                .map(|()| format!("{participant}'s PIN is being checked by one login")),
            (Need::Attest { .. }, _) => session
                .attest(participant, key)
                .map(|()| format!("{participant} attested")),
            (Need::Cosign { .. }, _) => session
                .cosign(participant, key)
                .map(|()| format!("{participant} cosigned the checkpoint")),
            (need, _) => Err(RunError::Refused(format!(
                "nothing to sign now: {}",
                describe(&need)
            ))),
        };
        self.sync(session);
        result
    }

    /// Everything the screen shows, from the session and this state.
    pub fn screen(&self, session: &Session, now: Instant, started: Instant) -> Screen {
        let engine = session.engine();
        let ceremony = session.ceremony();
        let current = engine.current();
        let steps = engine
            .steps()
            .iter()
            .enumerate()
            .map(|(i, s)| StepLine {
                number: s.number,
                title: s.title.clone(),
                status: match engine.status(i) {
                    StepStatus::Done => Status::Done,
                    StepStatus::Current => Status::Current,
                    StepStatus::Pending => Status::Pending,
                    StepStatus::Failed => Status::Failed,
                },
            })
            .collect();
        let person = |role: Role| {
            ceremony
                .holders(role)
                .first()
                .map(|p| format!("{} {}", role_name(role), p.name))
                .unwrap_or_else(|| role_name(role).to_string())
        };
        let mut step_detail = vec![
            format!(
                "Performed by {}; witnessed by {}.",
                if current.performer == Role::Custodian {
                    "the custodians".to_string()
                } else {
                    person(current.performer)
                },
                person(current.witness)
            ),
            current.instructions.clone(),
        ];
        if let Some(details) = &current.details {
            if let Some(note) = details["note"].as_str() {
                step_detail.push(format!("⚠ {note}"));
            }
            // Ticks as recorded once the performer confirmed (the witness
            // sees what was signed), else as ticked so far.
            let checks = session
                .notes()
                .iter()
                .rev()
                .find(|n| {
                    n.kind == "confirm"
                        && n.body["step"].as_str() == Some(current.id.as_str())
                        && n.body["as"] == "performer"
                })
                .map(|n| Checks::from_body(&n.body))
                .unwrap_or_else(|| self.checks_here(session));
            let mark = |item: &str| match checks.ticked.iter().find(|(i, _)| i == item) {
                Some((_, at)) => format!("☑ ({})", at.get(11..19).unwrap_or(at)),
                None => "☐".to_string(),
            };
            if let Some(items) = details["items"].as_array() {
                step_detail.extend(
                    items
                        .iter()
                        .filter_map(|i| i.as_str())
                        .map(|i| format!("{} {i}", mark(i))),
                );
            }
            if let Some(materials) = details["materials"].as_array() {
                step_detail.extend(materials.iter().map(|m| {
                    let id = m["id"].as_str().unwrap_or("");
                    let sealed = checks
                        .sealed
                        .get(id)
                        .map(|n| format!(" → new seal {}", crate::shown::shown(n)))
                        .unwrap_or_default();
                    format!(
                        "{} {id} — {}: {}{sealed}",
                        mark(id),
                        m["description"].as_str().unwrap_or(""),
                        m["number"].as_str().unwrap_or("")
                    )
                }));
            }
        }
        let values = crate::runner::compare::current(session)
            .into_iter()
            .map(|c| ShownValue {
                label: c.label,
                value: c.value,
                words: c.words,
            })
            .collect();
        let step_scroll = if self.step_scroll.0 == current.id {
            self.step_scroll.1
        } else {
            0
        };
        let elapsed = now.duration_since(started).as_secs();
        Screen {
            production: ceremony.bindings.value.mode == Mode::Production,
            ceremony_id: session.ceremony_id().to_string(),
            elapsed: format!(
                "{:02}:{:02}:{:02}",
                elapsed / 3600,
                elapsed / 60 % 60,
                elapsed % 60
            ),
            script_title: ceremony.script.value.title.clone(),
            steps,
            step_number: format!("Step {} of {}", current.number, engine.steps().len()),
            step_title: current.title.clone(),
            step_detail,
            values,
            step_scroll,
            turn: self.turn(session, now),
            roster: ceremony
                .roster
                .iter()
                .map(|p| RosterLine {
                    name: p.name.clone(),
                    role: p.role.as_str().to_string(),
                    signed_in: engine.is_signed_in(&p.name),
                })
                .collect(),
            tail: session
                .notes()
                .iter()
                .map(|n| TailLine {
                    line: n.seq + 1,
                    time: n.time.get(11..19).unwrap_or(&n.time).to_string(),
                    kind: n.kind.clone(),
                    actor: n.actor.clone(),
                    hash: n.hash_hex.get(..12).unwrap_or(&n.hash_hex).to_string(),
                })
                .collect(),
            head: session
                .notes()
                .last()
                .map(|n| n.hash_hex.clone())
                .unwrap_or_default(),
            message: self.message.clone(),
            overlay: self.overlay(session),
            footer: self.footer(session),
        }
    }

    fn overlay(&self, session: &Session) -> Option<Overlay> {
        if let Some((custodian, Delivery::Showing(text))) = &self.delivery {
            return Some(Overlay::Share {
                custodian: custodian.clone(),
                text: SecretText(text.clone()),
            });
        }
        let admin = Self::administrator(session).unwrap_or_default();
        self.dialog.as_ref().map(|d| match d {
            Dialog::Help => Overlay::Help(help()),
            Dialog::People => Overlay::People,
            Dialog::Abort {
                reason,
                word,
                focus,
            } => Overlay::Abort {
                by: if session.engine().is_signed_in(&admin) {
                    format!("administrator {admin}")
                } else {
                    "the tool (no administrator signed in)".into()
                },
                reason: reason.display(),
                word: word.display(),
                focus: *focus,
            },
            Dialog::Exception { fields, focus } => Overlay::Exception {
                by: format!("administrator {admin}"),
                fields: [
                    fields[0].display(),
                    fields[1].display(),
                    fields[2].display(),
                ],
                focus: *focus,
            },
        })
    }

    fn turn(&self, session: &Session, now: Instant) -> Turn {
        let role_of = |name: &str| {
            session
                .ceremony()
                .participant(name)
                .map(|p| role_name(p.role))
                .unwrap_or("")
        };
        let field = |label: &str| Some((label.to_string(), self.field.display()));
        if let Some(FieldFor::Key(participant)) = &self.field_for {
            return self.key_turn(session, participant);
        }
        if let Some(t) = self.ticking(session) {
            return self.tick_turn(session, &t);
        }
        match session.need() {
            Need::SignIn { participant, role } => Turn {
                title: format!("Hand the keyboard to {} {participant}", role_name(role)),
                lines: vec![
                    format!("{participant}: sign in with your own OpenSSH ed25519 private key."),
                    "Check the path (or type yours) and press Enter.".into(),
                ],
                field: field("private key file"),
                ..Turn::default()
            },
            Need::Identify { participant, role } => Turn {
                title: format!("Identity check: {} {participant}", role_name(role)),
                lines: vec![
                    format!("{participant}: load your key; it signs a fresh challenge checked against the roster."),
                    "The witness compares the person with their identification.".into(),
                ],
                field: field("private key file"),
                ..Turn::default()
            },
            Need::Confirm {
                participant,
                capacity,
                word,
            } => {
                let who = format!("{} {participant}", role_of(&participant));
                let (title, line) = match capacity {
                    Capacity::Performer => (
                        format!("{who}: perform this step"),
                        "Read the instructions above, do what they say, then confirm.",
                    ),
                    Capacity::Witness => (
                        format!("{who}: witness this step"),
                        "Confirm only if you saw the step done as the instructions say.",
                    ),
                    Capacity::ExceptionWitness => (
                        format!("{who}: confirm the exception"),
                        "Confirm that the exception is recorded as it happened.",
                    ),
                };
                let mut lines = vec![line.to_string()];
                if capacity == Capacity::ExceptionWitness {
                    lines.extend(exception_lines(session));
                }
                match word {
                    Some(w) => lines.push(format!(
                        "This cannot be undone: type {w} and press Enter."
                    )),
                    None => lines.push("Press Enter to confirm.".into()),
                }
                Turn {
                    title,
                    lines,
                    field: word.and_then(|_| field("type the word")),
                    ..Turn::default()
                }
            }
            Need::Share {
                secret,
                candidates,
                presented,
                needed,
                recovering,
            } => {
                let mut lines = vec![format!(
                    "{} of {needed} shares of `{secret}` presented{}.",
                    presented.len(),
                    if presented.is_empty() {
                        String::new()
                    } else {
                        format!(" (by {})", presented.join(", "))
                    }
                )];
                if recovering {
                    lines.push("The tool restarted: the secret must be recovered from the custodians' shares.".into());
                }
                match &self.presenter {
                    None => {
                        lines.push("Which custodian presents next? Press their number:".into());
                        lines.extend(Self::custodians(session).iter().enumerate().map(
                            |(i, c)| {
                                if candidates.contains(c) {
                                    format!("  {}  {c}", i + 1)
                                } else {
                                    format!("  {}  {c}  ✓ presented", i + 1)
                                }
                            },
                        ));
                        Turn {
                            title: "Custodians: present your shares, one at a time".into(),
                            lines,
                            ..Turn::default()
                        }
                    }
                    Some(p) if !session.engine().is_signed_in(p) => {
                        lines.push(format!("{p}: sign in with your own key first."));
                        Turn {
                            title: format!("Hand the keyboard to custodian {p}"),
                            lines,
                            field: field("private key file"),
                            ..Turn::default()
                        }
                    }
                    Some(p) => {
                        lines.push("Others: look away from the keyboard.".into());
                        let file = session.share_file(p, &secret).ok();
                        lines.push(format!(
                            "Type your share code (shown as •), or press Enter to open your share file {}.",
                            file.as_ref()
                                .and_then(|f| f.file_name())
                                .map(|n| n.to_string_lossy())
                                .unwrap_or_default()
                        ));
                        Turn {
                            title: format!("Custodian {p}: present your share of `{secret}`"),
                            lines,
                            field: field("share code"),
                            check: self.code_check(),
                            ..Turn::default()
                        }
                    }
                }
            }
            Need::DeliverShare { custodian, secret } => {
                let retype = matches!(&self.delivery, Some((c, Delivery::Retype)) if *c == custodian);
                if retype {
                    Turn {
                        title: format!("Custodian {custodian}: type your share back"),
                        lines: vec![
                            "The screen was wiped. Type the share from your copy (shown as •) and press Enter.".into(),
                            "This proves your copy is right before the ceremony moves on.".into(),
                        ],
                        field: field("share code"),
                            check: self.code_check(),
                        ..Turn::default()
                    }
                } else {
                    Turn {
                        title: format!("Hand the keyboard to custodian {custodian}"),
                        lines: vec![
                            format!("{custodian} receives their share of `{secret}` on screen."),
                            "Everyone else: look away from the screen now.".into(),
                            format!("{custodian}: press Enter to show your share."),
                        ],
                        ..Turn::default()
                    }
                }
            }
            Need::ExistingPin {
                participant,
                role,
                secret,
            } => {
                let role = crate::engine::login_name(role);
                let then = if session.ceremony().bindings.value.hsm.keep_existing_pins {
                    format!("then kept, sealed under `{secret}`")
                } else {
                    format!("then replaced by the PIN derived from `{secret}`")
                };
                let again = self.pin_first.is_some();
                Turn {
                    title: format!(
                        "{} {participant}: type the token's existing {role} PIN{}",
                        role_of(&participant),
                        if again { " again" } else { "" }
                    ),
                    lines: vec![
                        format!("The {role} PIN was set with the HSM vendor's tool. Others: look away from the keyboard."),
                        format!("It is checked by ONE login (a wrong PIN counts against the token's retry limit), {then}: from then on only the custodians' quorum opens the token."),
                        if again {
                            "Type it once more, to catch a typo before the login, and press Enter.".into()
                        } else {
                            "Type it exactly and press Enter; you will type it twice. Neither it nor its length is shown or recorded.".into()
                        },
                    ],
                    field: field(if again { "existing PIN, again" } else { "existing PIN" }),
                    ..Turn::default()
                }
            }
            Need::Work(work) => {
                let (what, secs) = session
                    .running()
                    .map(|(w, at)| (w.to_string(), now.duration_since(at).as_secs_f64()))
                    .unwrap_or_else(|| (work.describe(), 0.0));
                Turn {
                    title: "Please wait: the HSM is working".into(),
                    lines: vec!["The screen stays live; q and ? still work.".into()],
                    busy: Some((what, secs, SPINNER[self.spinner])),
                    ..Turn::default()
                }
            }
            Need::Cosign { participant } => Turn {
                title: format!("{} {participant}: cosign the checkpoint", role_of(&participant)),
                lines: vec![format!("Ctrl-D if {participant} is not here.")],
                ..Turn::default()
            },
            Need::Attest { participant } => Turn {
                title: format!("{} {participant}: attest", role_of(&participant)),
                lines: vec![
                    "You sign the transcript's current head with your key, attesting that the steps".into(),
                    "recorded so far happened as recorded.".into(),
                    format!(
                        "Head: {}",
                        session.notes().last().map(|n| n.hash_hex.as_str()).unwrap_or("")
                    ),
                    "Press Enter to attest.".into(),
                ],
                ..Turn::default()
            },
            Need::Failed { error, may_retry } => Turn {
                title: "✗ THE STEP FAILED".into(),
                lines: vec![
                    error,
                    String::new(),
                    if may_retry {
                        "The exception is recorded: r retries the step, q aborts.".into()
                    } else {
                        "e records an exception (what was expected, what happened, the decision); q aborts.".into()
                    },
                ],
                failed: true,
                ..Turn::default()
            },
            Need::Finished(outcome) => {
                let head = session.notes().last().map(|n| n.hash_hex.clone()).unwrap_or_default();
                let title = match &outcome {
                    Outcome::Completed => "✓ The ceremony is complete".to_string(),
                    Outcome::Aborted { reason } => format!("✗ The ceremony was ABORTED: {reason}"),
                };
                Turn {
                    title,
                    lines: vec![
                        format!("Transcript: {}", session.transcript_path().display()),
                        format!("Artifacts:  {}", session.artifacts_dir().display()),
                        format!("Final head: {head}"),
                        format!("In words:   {}", crate::transcript::pgp_words(&hex::decode(&head).unwrap_or_default())),
                        "Press any key to leave.".into(),
                    ],
                    failed: matches!(outcome, Outcome::Aborted { .. }),
                    ..Turn::default()
                }
            }
        }
    }

    /// The performer ticks the step's items one at a time, each read aloud
    /// and checked: a materials check going out takes each new seal's
    /// number as it is ticked.
    fn tick_turn(&self, session: &Session, t: &Ticking) -> Turn {
        let Need::Confirm { participant, .. } = session.need() else {
            return Turn::default();
        };
        let role = session
            .ceremony()
            .participant(&participant)
            .map(|p| role_name(p.role))
            .unwrap_or("");
        let item = crate::shown::shown(&t.items[t.next]).into_owned();
        let mut lines = vec![format!(
            "{} of {} ticked. Read the next one aloud and check it:",
            t.next,
            t.items.len()
        )];
        if t.seals {
            let description = session
                .ceremony()
                .script
                .value
                .materials
                .iter()
                .find(|m| m.id == t.items[t.next])
                .map(|m| crate::shown::shown(&m.description).into_owned())
                .unwrap_or_default();
            lines.push(format!("  ☐ {item} — {description}"));
            lines.push(
                "Seal it in a new tamper-evident bag, read the new bag's number aloud, type it and press Enter."
                    .into(),
            );
        } else {
            lines.push(format!("  ☐ {item}"));
            lines.push("Press Enter to tick it once it is checked.".into());
        }
        if t.next > 0 {
            lines.push("Esc takes the last tick back.".into());
        }
        Turn {
            title: format!("{role} {participant}: check each item"),
            lines,
            field: t
                .seals
                .then(|| ("new seal number".to_string(), self.field.display())),
            ..Turn::default()
        }
    }

    /// The turn of a person presenting their key for an act: who, what the
    /// key will sign, and how to present it.
    fn key_turn(&self, session: &Session, participant: &str) -> Turn {
        let role = session
            .ceremony()
            .participant(participant)
            .map(|p| role_name(p.role))
            .unwrap_or("");
        let act = match (&self.staged, session.need()) {
            (Some(Staged::Exception(_)), _) => "record the exception".to_string(),
            (Some(Staged::Abort(reason)), _) => format!("ABORT the ceremony: {reason}"),
            (Some(Staged::Retry), _) => "retry the failed step".to_string(),
            (_, Need::SignIn { .. }) => "sign in".to_string(),
            (_, Need::Share { .. }) if !session.engine().is_signed_in(participant) => {
                "sign in".to_string()
            }
            (_, Need::Identify { .. }) => {
                "prove your identity (your key signs a fresh entry, checked against the roster; the witness compares you with your identification)".to_string()
            }
            (_, Need::Confirm { capacity, .. }) => match capacity {
                Capacity::Performer => {
                    "confirm that you performed this step as the instructions say".to_string()
                }
                Capacity::Witness => {
                    "confirm that you saw this step done as the instructions say".to_string()
                }
                Capacity::ExceptionWitness => {
                    "confirm that the exception is recorded as it happened".to_string()
                }
            },
            (_, Need::Share { secret, .. }) => format!("present your share of `{secret}`"),
            (_, Need::DeliverShare { .. }) => "confirm that you hold your share".to_string(),
            (_, Need::ExistingPin { .. }) => "sign for the PIN you typed".to_string(),
            (_, Need::Attest { .. }) => format!(
                "attest that the transcript up to head {} records what happened",
                session
                    .notes()
                    .last()
                    .map(|n| n.hash_hex.get(..16).unwrap_or(&n.hash_hex).to_string())
                    .unwrap_or_default()
            ),
            (_, Need::Cosign { .. }) => {
                "cosign the closed transcript's checkpoint (Ctrl-D if you are not here)"
                    .to_string()
            }
            (_, need) => describe(&need),
        };
        let held = session.key_custody() == KeyCustody::HeldForSession
            && session.engine().is_signed_in(participant);
        let offer = if held {
            "Tab: the key held since your sign-in".to_string()
        } else {
            match Self::key_hint(session, participant) {
                hint if hint.is_empty() => String::new(),
                hint => format!("Tab: {hint}"),
            }
        };
        let mut lines = vec![format!("{participant}: present your key to {act}.")];
        if let (
            None,
            Need::Confirm {
                capacity: Capacity::ExceptionWitness,
                ..
            },
        ) = (&self.staged, session.need())
        {
            lines.extend(exception_lines(session));
        }
        lines.extend([format!(
            "Your OpenSSH ed25519 key file's path, or {AGENT} (your SSH agent), then Enter. {offer}"
        )]);
        if self.staged.is_some() {
            lines.push("Esc: back, nothing recorded.".into());
        }
        Turn {
            title: format!("Hand the keyboard to {role} {participant}"),
            lines,
            field: Some(("your key".to_string(), self.field.display())),
            ..Turn::default()
        }
    }

    /// The keys that do something now, and what they do. Built from the
    /// same state `on_key` reads, so the footer never offers a key that
    /// does nothing, nor hides one that acts.
    fn footer(&self, session: &Session) -> Vec<KeyHint> {
        let k = KeyHint::new;
        match &self.dialog {
            Some(Dialog::Help | Dialog::People) => return vec![k("any key", "close")],
            Some(Dialog::Abort { .. } | Dialog::Exception { .. }) => {
                return vec![
                    k("Tab", "next field"),
                    k("Enter", "next field; on the last, done"),
                    k("Ctrl-U", "clear the field"),
                    k("Esc", "cancel"),
                ];
            }
            None => {}
        }
        match &self.delivery {
            Some((_, Delivery::Showing(_))) => return vec![k("Enter", "hide the share")],
            Some((_, Delivery::Ready)) if self.field_for.is_none() => {
                let mut keys = vec![k("Enter", "show the share")];
                keys.extend(self.common_keys(session, true));
                return keys;
            }
            _ => {}
        }
        let need = session.need();
        if let Need::Finished(_) = need {
            return vec![k("any key", "leave")];
        }
        let mut keys = Vec::new();
        match &self.field_for {
            Some(FieldFor::Key(_)) => {
                keys.push(k("Enter", "present the key"));
                keys.push(k("Tab", "offer your key"));
            }
            Some(FieldFor::Word(w)) => keys.push(KeyHint::new("Enter", format!("confirm `{w}`"))),
            Some(FieldFor::Share(_)) => keys.push(k(
                "Enter",
                if self.field.is_empty() {
                    "open your share file"
                } else {
                    "present the code"
                },
            )),
            Some(FieldFor::Copy(_)) => keys.push(k("Enter", "check your copy")),
            Some(FieldFor::Pin(_)) => keys.push(k("Enter", "enter the PIN")),
            Some(FieldFor::Seal(_)) => keys.push(k("Enter", "record the seal number")),
            None if self.ticking(session).is_some() => keys.push(k("Enter", "tick the item")),
            None => {}
        }
        if let Need::Share { .. } = need
            && self.presenter.is_none()
        {
            keys.push(k(
                &format!("1-{}", Self::custodians(session).len().min(9)),
                "choose the custodian",
            ));
        }
        if let Need::Failed {
            may_retry: true, ..
        } = need
        {
            keys.push(k("r", "retry the step"));
        }
        if let Need::Cosign { .. } = need {
            keys.push(k("Ctrl-D", "not here"));
        }
        let esc_unticks = self.can_untick(session);
        if self.staged.is_some() {
            keys.push(k("Esc", "back"));
        } else if esc_unticks {
            keys.push(k("Esc", "untick the last"));
        } else if self.presenter.is_some() {
            keys.push(k("Esc", "back to the list"));
        }
        let esc_aborts = self.staged.is_none() && self.presenter.is_none() && !esc_unticks;
        keys.extend(self.common_keys(session, esc_aborts));
        keys
    }

    /// Abort, exception, help and people: in a text field the letters are
    /// typed, so their Ctrl forms are shown.
    fn common_keys(&self, session: &Session, esc_aborts: bool) -> Vec<KeyHint> {
        let k = KeyHint::new;
        let typing = self.field_for.is_some();
        let mut keys = Vec::new();
        if typing {
            keys.push(k("Ctrl-U", "clear"));
        }
        let admin_in =
            Self::administrator(session).is_some_and(|a| session.engine().is_signed_in(&a));
        if admin_in {
            keys.push(k(if typing { "Ctrl-E" } else { "e" }, "exception"));
        }
        keys.push(k(
            match (typing, esc_aborts) {
                (true, true) => "Esc/Ctrl-Q",
                (true, false) => "Ctrl-Q",
                (false, true) => "q/Esc",
                (false, false) => "q",
            },
            "abort",
        ));
        keys.push(k(if typing { "F1" } else { "?" }, "help"));
        keys.push(k("F2", "people"));
        keys
    }

    /// For error messages: what the ceremony waits for.
    pub fn waiting_for(session: &Session) -> String {
        describe(&session.need())
    }
}

/// The exception the witness is asked to confirm, as recorded: they
/// confirm what they read here.
fn exception_lines(session: &Session) -> Vec<String> {
    let Some(e) = session.notes().iter().rev().find(|n| n.kind == "exception") else {
        return Vec::new();
    };
    ["expected", "happened", "decision"]
        .iter()
        .map(|field| {
            format!(
                "  {field}: {}",
                crate::shown::shown(e.body[*field].as_str().unwrap_or(""))
            )
        })
        .collect()
}

/// Every key of the run's screen, for the help.
pub fn help() -> Vec<KeyHint> {
    let k = KeyHint::new;
    vec![
        k(
            "Enter",
            "the act under Now: sign in, confirm, present, attest",
        ),
        k("typing", "goes into the field under Now; paste works"),
        k("Backspace, Ctrl-U", "erases a character; clears the field"),
        k(
            "Tab",
            "in a key field: offers your key file, or the held key",
        ),
        k(
            "1-9",
            "chooses the custodian who presents; numbers never shift",
        ),
        k(
            "Esc",
            "back out of an act or a chosen custodian; else abort",
        ),
        k(
            "q, Ctrl-Q, Ctrl-C",
            "abort (asks for a reason and the word abort)",
        ),
        k("e, Ctrl-E", "record an exception (the witness confirms it)"),
        k("r", "retry a failed step, once an exception is recorded"),
        k("Ctrl-D", "at a cosign: the cosigner is not here"),
        k("PgUp, PgDn", "scroll the step's text when it does not fit"),
        k("F2", "the people on the roster, and who signed in"),
        k("?, F1", "this help (in a text field ? is typed: use F1)"),
    ]
}
