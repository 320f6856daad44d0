//! The terminal UI as people use it: the real binary in tmux, keys sent
//! with send-keys, the screen read with capture-pane. The whole root
//! ceremony runs to its close; no share or PIN ever appears on screen or in
//! the scrollback; the terminal is usable afterwards — also after an abort
//! and after a panic.

mod ceremony_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ceremony_support::*;

struct Tmux {
    socket: String,
    screens: Vec<String>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Tmux {
    /// Starts `command` in a detached 100x30 session on a private socket.
    /// After the command ends, the pane prints its exit status and the
    /// terminal settings, then stays open to be read.
    fn start(name: &str, command: &str, env: &[(&str, &str)]) -> Tmux {
        Tmux::start_sized(name, command, env, (100, 30))
    }

    fn start_sized(
        name: &str,
        command: &str,
        env: &[(&str, &str)],
        (width, height): (u16, u16),
    ) -> Tmux {
        // One terminal at a time: on a loaded two-core machine, parallel
        // ceremonies made the screen-reading loops race the program.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let socket = format!("keyceremony-test-{name}-{}", std::process::id());
        let exports: String = env
            .iter()
            .map(|(k, v)| format!("export {k}={v}; "))
            .collect();
        let script = format!(
            "{exports}unset SOFTHSM2_CONF; {command}; echo EXIT=$?; stty -a; echo ok-$((40+2)); sleep 60"
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                "-s",
                "t",
            ])
            .arg(script)
            .status()
            .expect("tmux runs (apt-get install tmux)");
        assert!(status.success());
        Tmux {
            socket,
            screens: Vec::new(),
            _turn: turn,
        }
    }

    fn capture(&mut self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .expect("capture-pane");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        self.screens.push(text.clone());
        text
    }

    /// The screen once it has stopped changing (two captures 30 ms apart
    /// agree below the ticking status line): a capture taken while the
    /// program is still drawing, or between two quick frames, can miss the
    /// line a test decides on.
    fn settled(&mut self) -> String {
        let below_status = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
        let mut last = self.capture();
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(30));
            let now = self.capture();
            if below_status(&now) == below_status(&last) {
                return now;
            }
            last = now;
        }
        last
    }

    /// The pane's whole history (what scrolled off the main screen).
    fn scrollback(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "capture-pane",
                "-p",
                "-S",
                "-",
                "-t",
                "t",
            ])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys)
            .status()
            .expect("send-keys");
        assert!(status.success());
    }

    /// Sends keys and waits until the screen (below the status line, whose
    /// clock ticks) has changed in answer.
    fn act(&mut self, keys: &[&str]) {
        let below_status = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
        let before = below_status(&self.capture());
        self.keys(keys);
        let deadline = Instant::now() + Duration::from_secs(20);
        while below_status(&self.capture()) == before {
            assert!(
                Instant::now() < deadline,
                "no answer to {keys:?}:\n{before}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Types the word an irreversible step asks for and presses Enter,
    /// then waits until the prompt is gone: a later glance at a screen not
    /// yet redrawn would type the word again into the next turn, where its
    /// letters are commands ('e' opens the exception form).
    fn confirm_word(&mut self, word: &str) {
        let prompt = format!("type {word} and press Enter");
        self.type_text(word);
        self.act(&["Enter"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.capture().contains(&prompt) {
            assert!(Instant::now() < deadline, "{prompt:?} stays on screen");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn type_text(&self, text: &str) {
        self.keys(&["-l", text]);
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.capture();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {needle:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A person presents their key for the act on screen, as the
    /// rehearsal roster does: Tab offers the bindings' key file, Enter
    /// signs with it.
    fn present_key(&mut self) {
        self.act(&["Tab"]);
        self.act(&["Enter"]);
    }

    /// Aborts as the administrator would (Esc, a reason, the word, their
    /// key), lets the witnesses and auditors who signed in cosign the
    /// checkpoint, leaves the final screen, and returns what `finished`
    /// returns.
    fn abort(&mut self, reason: &str) -> (i32, String) {
        self.keys(&["Escape"]);
        self.wait_for("Abort the ceremony");
        self.type_text(reason);
        self.keys(&["Tab"]);
        self.type_text("abort");
        self.keys(&["Enter"]);
        let done = format!("The ceremony was ABORTED: {reason}");
        for _ in 0..20 {
            let screen = self.settled();
            if screen.contains(&done) {
                break;
            }
            if screen.contains("present your key") {
                self.present_key();
            }
        }
        self.wait_for(&done);
        self.keys(&["q"]);
        self.finished()
    }

    /// After the program ended: its exit status, and whether the terminal
    /// was left usable (canonical mode and echo back on, the shell runs).
    fn finished(&mut self) -> (i32, String) {
        let screen = self.wait_for("ok-42");
        let code = screen
            .lines()
            .find_map(|l| l.strip_prefix("EXIT="))
            .and_then(|c| c.trim().parse().ok())
            .expect("exit status printed");
        (code, screen)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn terminal_is_usable(screen: &str) {
    let settings: String = screen.lines().collect::<Vec<_>>().join(" ");
    assert!(
        settings.contains(" icanon") && settings.contains(" echo "),
        "raw mode was not undone:\n{screen}"
    );
    assert!(
        !settings.contains("-icanon") && !settings.contains(" -echo "),
        "{screen}"
    );
}

fn run_command(dir: &Path) -> String {
    format!(
        "{} run {} --bindings {} --state-dir {} --out {}",
        env!("CARGO_BIN_EXE_keyceremony"),
        script().display(),
        bindings().display(),
        dir.join("state").display(),
        dir.join("out").display()
    )
}

/// The lines inside the "Now" box. The box is the whole width in a narrow
/// window and the right column in a wide one: its text is read from the
/// box's own column.
fn now_panel(screen: &str) -> Vec<String> {
    let mut lines = screen.lines();
    while let Some(l) = lines.next() {
        if let Some(at) = l.find("┌ Now ") {
            let column = l[..at].chars().count();
            return lines
                .take_while(|l| l.chars().nth(column).is_none_or(|c| c != '└'))
                .map(|l| {
                    let inside: String = l.chars().skip(column).collect();
                    inside.trim_matches(|c| c == '│' || c == ' ').to_string()
                })
                .collect();
        }
    }
    Vec::new()
}

/// The line under the "Now" box title: who must act.
fn now_title(screen: &str) -> String {
    now_panel(screen).into_iter().next().unwrap_or_default()
}

/// The number of the first custodian in the list who has not presented:
/// numbers stay with their custodian for the whole step.
fn next_custodian(screen: &str) -> String {
    now_panel(screen)
        .into_iter()
        .skip_while(|l| !l.contains("Press their number"))
        .skip(1)
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|n| n.parse::<u8>().is_ok())
                && !l.contains("✓ presented")
        })
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| panic!("no custodian left to choose:\n{screen}"))
}

#[test]
fn the_whole_root_ceremony_runs_in_the_terminal_without_showing_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("full", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let mut typed_code = None;
    for _ in 0..300 {
        let screen = tmux.settled();
        let title = now_title(&screen);
        if title.contains("The ceremony is complete") {
            break;
        }
        if title.contains("HSM is working") {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        if screen.contains("present your key") {
            tmux.present_key();
            continue;
        }
        if screen.contains("new seal number: ▏") {
            // The number read off each new tamper-evident bag.
            tmux.type_text("TE-NEW-0001");
            tmux.act(&["Enter"]);
            continue;
        }
        if screen.contains("type initialize and press Enter") {
            tmux.confirm_word("initialize");
            continue;
        } else if screen.contains("type generate and press Enter") {
            tmux.confirm_word("generate");
            continue;
        } else if screen.contains("type sign and press Enter") {
            tmux.confirm_word("sign");
            continue;
        } else if screen.contains("Press their number") {
            tmux.act(&[&next_custodian(&screen)]);
            continue;
        } else if title.starts_with("Custodian ")
            && title.contains("present your share")
            && typed_code.is_none()
        {
            // The first custodian types their code, as a person would
            // read it from their paper copy.
            let custodian = title
                .trim_start_matches("Custodian ")
                .split(':')
                .next()
                .expect("name")
                .to_string();
            let artifacts = std::fs::read_dir(dir.path().join("out"))
                .expect("out")
                .map(|e| e.expect("e").path())
                .find(|p| p.is_dir())
                .expect("artifacts dir");
            let key = std::fs::read_to_string(demo_key(&custodian)).expect("key");
            let sealed = std::fs::read(
                artifacts
                    .join("shares")
                    .join(format!("{custodian}.so-pin.age")),
            )
            .expect("share file");
            let code = keyceremony::quorum::delivery::open(&key, &sealed)
                .expect("opens")
                .code()
                .to_string();
            tmux.type_text(&code);
            let shown = tmux.wait_for("share code: •");
            assert!(
                !shown.contains(&code[4..15]),
                "the code is echoed:\n{shown}"
            );
            typed_code = Some(code);
        }
        tmux.act(&["Enter"]);
    }
    let done = tmux.wait_for("The ceremony is complete");
    assert!(done.contains("Final head:"), "{done}");
    tmux.keys(&["Enter"]);
    let (code, screen) = tmux.finished();
    assert_eq!(code, 0, "{screen}");
    terminal_is_usable(&screen);
    assert!(screen.contains("completed."), "{screen}");

    // The transcript verifies.
    let transcript = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("e").path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript");
    let (vcode, report) = verify(&transcript);
    assert_eq!(vcode, 0, "{report}");

    // No share or PIN in any screen seen, nor in the scrollback.
    let run = Run {
        dir,
        output: Command::new("true").output().expect("true"),
    };
    let mut needles = vec![typed_code.expect("one custodian typed their code")];
    for secret in ["so-pin", "user-pin"] {
        for c in ["carol", "dave", "erin", "frank", "grace"] {
            let code = run.open_share(c, secret).code().to_string();
            let groups: Vec<&str> = code.split_whitespace().skip(1).collect();
            needles.extend(groups.windows(2).map(|w| w.join(" ")));
        }
        needles.push(run.pin(secret, &["carol", "dave", "erin"]));
    }
    let mut seen = tmux.screens.clone();
    seen.push(tmux.scrollback());
    assert!(
        seen.len() > 50,
        "the test looked at the screen {} times",
        seen.len()
    );
    for screen in &seen {
        for needle in &needles {
            assert!(
                !screen.contains(needle.as_str()),
                "a secret appeared on screen"
            );
        }
    }
}

#[test]
fn an_abort_closes_the_transcript_and_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("abort", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    tmux.keys(&["Escape"]);
    tmux.wait_for("Abort the ceremony");
    tmux.type_text("the camera stopped recording");
    tmux.keys(&["Enter"]);
    tmux.type_text("abort");
    tmux.keys(&["Enter"]);
    tmux.wait_for("The ceremony was ABORTED: the camera stopped recording");
    tmux.keys(&["q"]);
    let (code, screen) = tmux.finished();
    assert_eq!(code, 1, "{screen}");
    terminal_is_usable(&screen);
    let transcript = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("e").path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript");
    let (vcode, report) = verify(&transcript);
    assert_eq!(vcode, 0, "{report}");
    assert!(
        report.contains("ABORTED: the camera stopped recording"),
        "{report}"
    );
}

#[test]
fn a_panic_restores_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start(
        "panic",
        &run_command(dir.path()),
        &[("KEYCEREMONY_TEST_PANIC_AT", "identify")],
    );
    tmux.wait_for("Hand the keyboard to administrator alice");
    drive_until(&mut tmux, |s| s.contains("ok-42"));
    let (code, screen) = tmux.finished();
    assert_eq!(code, 101, "a panic exits 101:\n{screen}");
    terminal_is_usable(&screen);
    let history = tmux.scrollback();
    assert!(
        history.contains("KEYCEREMONY_TEST_PANIC_AT reached step identify"),
        "{history}"
    );
}

#[test]
fn a_window_too_small_says_so_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("small", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let socket = tmux.socket.clone();
    let resize = |w: &str, h: &str| {
        Command::new("tmux")
            .args(["-L", &socket, "resize-window", "-t", "t", "-x", w, "-y", h])
            .status()
            .expect("resize")
    };
    resize("60", "20");
    tmux.wait_for("The window is too small: 60x20.");
    resize("80", "24");
    tmux.wait_for("Hand the keyboard to administrator alice");
    let (code, screen) = tmux.abort("test over");
    assert_eq!(code, 1, "{screen}");
}

/// The code shown in the "Your share" box: the `code:` line and the line
/// after it, as a person reads them off the screen.
fn code_on_screen(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("code: kc1"))
        .expect("the share's code is on screen");
    let clean = |l: &str| l.replace('│', " ");
    let first = clean(lines[at]);
    let second = clean(lines[at + 1]);
    let mut groups: Vec<String> = first[first.find("kc1").expect("kc1")..]
        .split_whitespace()
        .map(String::from)
        .collect();
    groups.extend(second.split_whitespace().map(String::from));
    groups.join(" ")
}

#[test]
fn a_share_shown_on_screen_is_wiped_then_typed_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(script()).expect("script").replace(
        "split-secret: { secret: so-pin }",
        "split-secret: { secret: so-pin, show-on-screen: true }",
    );
    let on_screen = dir.path().join("root-on-screen.yaml");
    std::fs::write(&on_screen, text).expect("write");
    let command = run_command(dir.path()).replace(
        &script().display().to_string(),
        &on_screen.display().to_string(),
    );
    let mut tmux = Tmux::start("onscreen", &command, &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let mut shown = Vec::new();
    for _ in 0..200 {
        let screen = tmux.settled();
        let title = now_title(&screen);
        if title.contains("Initialize the token") || screen.contains("type initialize") {
            break;
        }
        if title.contains("HSM is working") {
            std::thread::sleep(Duration::from_millis(100));
        } else if screen.contains("present your key") {
            tmux.present_key();
        } else if screen.contains("press Enter to show your share") {
            let custodian = title
                .rsplit(' ')
                .next()
                .expect("the custodian is named")
                .to_string();
            tmux.act(&["Enter"]);
            let with_share = tmux.wait_for("FOR ");
            let code = code_on_screen(&with_share);
            assert_eq!(code.split_whitespace().count(), 15, "{code}");
            // Enter hides it; the wiped screen no longer holds it.
            tmux.act(&["Enter"]);
            let after = tmux.wait_for("type your share back");
            assert!(
                !after.contains(&code[4..16]),
                "the share stayed on screen:\n{after}"
            );
            // The code is judged as it is typed, before Enter.
            tmux.type_text("kc1 qqqqq");
            tmux.wait_for("5 of 70 characters after kc1");
            // A wrong copy is refused, and the same custodian tries again.
            tmux.act(&["Enter"]);
            tmux.wait_for("present your key");
            tmux.present_key();
            tmux.wait_for("that is not the share shown");
            // Two neighbours swapped: the checksum says so at once.
            let mut swapped: Vec<char> = code.chars().collect();
            let at = swapped.len() - 3;
            if swapped[at] == swapped[at + 1] {
                swapped[at] = if swapped[at] == 'q' { 'p' } else { 'q' };
            } else {
                swapped.swap(at, at + 1);
            }
            let swapped: String = swapped.into_iter().collect();
            tmux.type_text(&swapped);
            tmux.wait_for("✗ the code's checksum does not match");
            tmux.act(&["C-u"]);
            tmux.type_text(&code);
            tmux.wait_for("✓ checksum correct: press Enter");
            tmux.act(&["Enter"]);
            // The custodian signs that they hold it, with their own key.
            tmux.wait_for("present your key");
            tmux.present_key();
            tmux.wait_for(&format!("{custodian} proved their copy"));
            shown.push(code);
        } else {
            tmux.act(&["Enter"]);
        }
    }
    assert_eq!(shown.len(), 5, "every custodian received their share");
    // Stop here: abort at the next step.
    let (code, screen) = tmux.abort("on-screen delivery test done");
    assert_eq!(code, 1, "{screen}");
    terminal_is_usable(&screen);
    let history = tmux.scrollback();
    for code in &shown {
        assert!(
            !history.contains(&code[4..16]),
            "a share is left in the scrollback"
        );
    }
    // Each delivery is recorded, signed by its custodian, with no share in it.
    let transcript = std::fs::read_dir(dir.path().join("out"))
        .expect("out")
        .map(|e| e.expect("e").path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("transcript");
    let delivered: Vec<_> = entries(&transcript)
        .into_iter()
        .filter(|e| e["kind"] == "share-delivered")
        .collect();
    assert_eq!(delivered.len(), 5);
    let text = std::fs::read_to_string(&transcript).expect("read");
    for code in &shown {
        assert!(!text.contains(&code[4..16]));
    }
}

/// Drives the ceremony from the start until `stop` holds for the screen,
/// answering every turn as the rehearsal roster would.
fn drive_until(tmux: &mut Tmux, stop: impl Fn(&str) -> bool) -> String {
    for _ in 0..300 {
        let screen = tmux.settled();
        if stop(&screen) {
            return screen;
        }
        let title = now_title(&screen);
        if title.contains("HSM is working") {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if screen.contains("present your key") {
            tmux.present_key();
            continue;
        }
        if screen.contains("new seal number: ▏") {
            // The number read off each new tamper-evident bag.
            tmux.type_text("TE-NEW-0001");
            tmux.act(&["Enter"]);
            continue;
        }
        if screen.contains("type initialize and press Enter") {
            tmux.confirm_word("initialize");
            continue;
        } else if screen.contains("type generate and press Enter") {
            tmux.confirm_word("generate");
            continue;
        } else if screen.contains("type sign and press Enter") {
            tmux.confirm_word("sign");
            continue;
        } else if screen.contains("Press their number") {
            tmux.act(&[&next_custodian(&screen)]);
            continue;
        }
        tmux.act(&["Enter"]);
    }
    panic!("the ceremony never reached the wanted screen");
}

/// The pids of the keyceremony processes working in `dir`.
fn pids_in(dir: &Path) -> Vec<String> {
    let out = Command::new("pgrep")
        .args([
            "-f",
            &format!(
                "^{} run .*{}",
                env!("CARGO_BIN_EXE_keyceremony"),
                dir.display()
            ),
        ])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

/// The resident memory high-water mark of the keyceremony process working
/// in `dir`, in kB.
fn peak_rss_kb(dir: &Path) -> u64 {
    pids_in(dir)
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .max()
        .expect("the keyceremony process is running")
}

#[test]
fn keys_are_answered_within_100_ms_while_rsa_4096_generates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(script())
        .expect("script")
        .replace("algorithm: ec-p384", "algorithm: rsa-4096");
    let rsa = dir.path().join("root-rsa.yaml");
    std::fs::write(&rsa, text).expect("write");
    let command = run_command(dir.path())
        .replace(&script().display().to_string(), &rsa.display().to_string());
    // The generation really happens; the hook keeps the worker busy 6 s
    // longer so that every press below lands while it works.
    // The clock starts when the shell in the pane starts the program, not
    // when tmux starts: the stamp is written right before the exec.
    let stamp = dir.path().join("started-ns");
    let command = format!("date +%s%N > {}; exec {command}", stamp.display());
    let mut tmux = Tmux::start(
        "busy",
        &command,
        &[("KEYCEREMONY_TEST_SLOW_WORK", "generate-key:6000")],
    );
    while !tmux
        .capture()
        .contains("Hand the keyboard to administrator alice")
    {
        std::thread::sleep(Duration::from_millis(2));
    }
    let seen = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let started: u128 = std::fs::read_to_string(&stamp)
        .expect("stamp")
        .trim()
        .parse()
        .expect("ns");
    let first_frame = Duration::from_nanos((seen - started) as u64);
    drive_until(&mut tmux, |s| {
        now_title(s).contains("HSM is working") && s.contains("Generate the root key pair")
    });
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let sent = Instant::now();
        tmux.keys(&["?"]);
        loop {
            if tmux.capture().contains(" Help ") {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(2),
                "no help screen:\n{}",
                tmux.capture()
            );
        }
        worst = worst.max(sent.elapsed());
        tmux.keys(&["Escape"]);
        while tmux.capture().contains(" Help ") {
            assert!(sent.elapsed() < Duration::from_secs(2), "help stays");
        }
    }
    let still_working = tmux.capture();
    assert!(
        now_title(&still_working).contains("HSM is working"),
        "the presses landed during the generation:\n{still_working}"
    );
    let rss = peak_rss_kb(dir.path());
    eprintln!(
        "first frame {} ms, worst key answer {} ms (including tmux round trips), peak RSS {} kB",
        first_frame.as_millis(),
        worst.as_millis(),
        rss
    );
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    // Before its first frame the program hashes its own binary for the
    // genesis entry: 8 MB in a release build, over 100 MB in this debug
    // one. That part is measured here and set apart.
    let hashing = {
        use sha2::Digest;
        let at = Instant::now();
        let bytes = std::fs::read(env!("CARGO_BIN_EXE_keyceremony")).expect("binary");
        let _ = sha2::Sha256::digest(&bytes);
        at.elapsed()
    };
    eprintln!(
        "first frame without hashing the {} binary: {} ms",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        first_frame.saturating_sub(hashing).as_millis()
    );
    // The bound catches a first frame that waits for the HSM or any other
    // slow work (seconds); it is not a benchmark. Measured 60-270 ms here,
    // the top end while other builds loaded the 2 cores, which failed a
    // 200 ms bound once.
    assert!(
        first_frame.saturating_sub(hashing) < Duration::from_millis(1000),
        "{first_frame:?} (hashing the binary: {hashing:?})"
    );
    assert!(rss < 50 * 1024, "{rss} kB");
    tmux.keys(&["Escape"]);
}

/// Regression: when the terminal went away (window closed, tmux killed),
/// crossterm read end-of-file in a loop and the process spun at full CPU
/// forever, holding the token's session.
#[test]
fn closing_the_terminal_ends_the_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("hangup", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    assert_eq!(pids_in(dir.path()).len(), 1, "one program runs");
    drop(tmux); // kill-server: the pane's terminal is gone
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pids_in(dir.path()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the program outlived its terminal"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_existing_pin_is_typed_masked_and_never_reaches_the_screen_or_the_record() {
    const VENDOR_SO_PIN: &str = "vendor SO 4711";
    let dir = tempfile::tempdir().expect("tempdir");
    // A token initialized with the "vendor's tool" before the ceremony.
    let conf = vendor_token(dir.path(), "vendor-root", VENDOR_SO_PIN, "vendor user 1");
    let adopting = dir.path().join("bindings.yaml");
    std::fs::write(
        &adopting,
        std::fs::read_to_string(bindings())
            .expect("bindings")
            .replace(": keys/", &format!(": {}/", demo_key("").display()))
            .replacen(
                "hsm:\n",
                &format!(
                    "hsm:\n  module: {SOFTHSM}\n  token: {{ label: vendor-root }}\n  existing-pins: [security-officer]\n"
                ),
                1,
            ),
    )
    .expect("bindings");
    let command = format!(
        "SOFTHSM2_CONF={} {}",
        conf.display(),
        run_command(dir.path()).replace(
            &bindings().display().to_string(),
            &adopting.display().to_string()
        )
    );
    let mut tmux = Tmux::start("existing-pin", &command, &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let screen = drive_until(&mut tmux, |s| {
        s.contains("type the token's existing SO PIN")
    });
    assert!(
        screen.contains("⚠ These bindings say the token was initialized"),
        "the step says it adopts instead of initializing:\n{screen}"
    );
    tmux.type_text(VENDOR_SO_PIN);
    // Eight bullets whatever the PIN's length (14 characters here).
    let typed = tmux.wait_for("existing PIN: ••••••••▏");
    assert!(!typed.contains("SO 4711"), "{typed}");
    // Typed twice, so a typo costs no login try: a mismatch starts over.
    tmux.act(&["Enter"]);
    tmux.wait_for("type the token's existing SO PIN again");
    tmux.type_text("vendor SO 4712");
    tmux.act(&["Enter"]);
    tmux.wait_for("the two entries differ: type the PIN again, twice");
    for _ in 0..2 {
        tmux.type_text(VENDOR_SO_PIN);
        tmux.act(&["Enter"]);
    }
    // The administrator signs for the PIN they typed, with their key.
    tmux.wait_for("present your key");
    tmux.present_key();
    tmux.wait_for("confirm that you saw this step done");
    // Stop here: abort.
    let (code, screen) = tmux.abort("existing PIN test done");
    assert_eq!(code, 1, "{screen}");
    terminal_is_usable(&screen);
    // The whole PIN, spaces included: its digits alone turn up by chance
    // in the hashes the screen and the transcript show.
    assert!(!tmux.scrollback().contains(VENDOR_SO_PIN));
    assert!(tmux.screens.iter().all(|s| !s.contains(VENDOR_SO_PIN)));
    let transcript = transcript_in(&dir.path().join("out"));
    let init = body_of(&transcript, "init-token");
    assert_eq!(init["adopted"], true);
    assert_eq!(init["replaced"], true, "{init}");
    assert!(
        !std::fs::read_to_string(&transcript)
            .expect("read")
            .contains(VENDOR_SO_PIN)
    );
}

/// Issue 14, attack 8: a double Enter from the administrator recorded both
/// their confirmation and the witness's, in the same second. Each act now
/// needs its person to present their key in a field that starts empty.
#[test]
fn a_double_enter_does_not_confirm_for_the_witness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("double-enter", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    // Up to the administrator's turn at step 3, the witness signed in.
    drive_until(&mut tmux, |s| {
        s.contains("Step 3 of")
            && s.contains("alice: present your key to confirm that you performed")
    });
    tmux.act(&["Tab"]);
    tmux.keys(&["Enter", "Enter"]);
    let screen = tmux.wait_for("bob: present your key");
    assert!(
        screen.contains("Hand the keyboard to witness bob"),
        "the turn went to the witness:\n{screen}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let transcript = transcript_in(&dir.path().join("out"));
    let last = entries(&transcript).pop().expect("entries");
    assert_eq!(last["kind"], "confirm", "{last}");
    assert_eq!(
        last["actor"], "alice",
        "the last act is the administrator's: {last}"
    );
    assert_eq!(last["body"]["step"], "materials-in");
    assert!(
        !entries(&transcript).iter().any(|e| e["actor"] == "bob"
            && e["kind"] == "confirm"
            && e["body"]["step"] == "materials-in"),
        "the second Enter confirmed for the witness"
    );
    let (code, screen) = tmux.abort("double-enter test done");
    assert_eq!(code, 1, "{screen}");
}

/// Issue 14, attack 8: a custodian presented a share by pressing their
/// number; the share file opened with the key loaded at sign-in. Now the
/// custodian presents their own key for the presentation, and no other.
#[test]
fn a_custodian_must_present_their_own_key_to_present_a_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("custodian-key", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    drive_until(&mut tmux, |s| s.contains("Press their number"));
    tmux.act(&["1"]);
    let screen = tmux.wait_for("Custodian carol: present your share");
    assert!(screen.contains("press Enter to open your"), "{screen}");
    tmux.act(&["Enter"]);
    tmux.wait_for("carol: present your key to present your share");
    // Another custodian's key: refused, nothing recorded.
    tmux.type_text(&demo_key("dave").display().to_string());
    tmux.act(&["Enter"]);
    let refused = tmux.wait_for("keys/dave holds key");
    assert!(
        refused.contains("carol: present your key to present your share"),
        "the act waits for carol's own key:\n{refused}"
    );
    let transcript = transcript_in(&dir.path().join("out"));
    assert!(
        !entries(&transcript)
            .iter()
            .any(|e| e["kind"] == "share-presented" || e["kind"] == "share-rejected"),
        "nothing was presented with someone else's key"
    );
    // Her own key: the share is accepted, signed by her.
    tmux.present_key();
    tmux.wait_for("carol's share checked and accepted");
    let presented = entries(&transcript)
        .into_iter()
        .find(|e| e["kind"] == "share-presented")
        .expect("carol presented");
    assert_eq!(presented["actor"], "carol");
    assert_eq!(presented["body"]["signatures"][0]["participant"], "carol");
    let (code, screen) = tmux.abort("custodian key test done");
    assert_eq!(code, 1, "{screen}");
}

/// Issue 15: step 1 tells the administrator to read the script hash shown
/// on screen aloud; the screen shows it, in hex and in PGP words (here on a
/// window large enough for today's layout).
#[test]
fn the_first_step_shows_the_script_hash_to_read_aloud() {
    use sha2::Digest;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut tmux = Tmux::start("script-hash", &run_command(dir.path()), &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let socket = tmux.socket.clone();
    Command::new("tmux")
        .args([
            "-L",
            &socket,
            "resize-window",
            "-t",
            "t",
            "-x",
            "200",
            "-y",
            "50",
        ])
        .status()
        .expect("resize");
    let hash = hex::encode(sha2::Sha256::digest(
        std::fs::read(script()).expect("script"),
    ));
    let screen = tmux.wait_for(&format!("script SHA-256: {hash}"));
    let words = keyceremony::transcript::pgp_words(&hex::decode(&hash).expect("hex"));
    let first_words: String = words.split(' ').take(6).collect::<Vec<_>>().join(" ");
    assert!(
        screen.contains(&format!("in words: {first_words}")),
        "{screen}"
    );
    let (code, screen) = tmux.abort("test over");
    assert_eq!(code, 1, "{screen}");
}

/// The step number the screen shows ("Step 7 of 17").
fn step_on_screen(screen: &str) -> Option<u64> {
    let at = screen.find("Step ")?;
    screen[at + 5..].split_whitespace().next()?.parse().ok()
}

/// Walks the whole root ceremony at `size` reading only the screen, and
/// returns every screen seen, by the step it showed. Where the step's
/// text does not fit, the walk pages through it (PgDn) as a person would.
fn walk_root_ceremony(size: (u16, u16)) -> (tempfile::TempDir, Vec<(u64, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("walk-{}x{}", size.0, size.1);
    let mut tmux = Tmux::start_sized(&name, &run_command(dir.path()), &[], size);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let mut seen = Vec::new();
    for _ in 0..400 {
        let mut screen = tmux.settled();
        let step = step_on_screen(&screen).unwrap_or(0);
        seen.push((step, screen.clone()));
        // From the top of the step's text, a page at a time, as a person
        // reads it.
        let mut pages = 0;
        while screen.contains("PgUp") && pages < 10 {
            tmux.act(&["PageUp"]);
            screen = tmux.settled();
            pages += 1;
        }
        seen.push((step, screen.clone()));
        pages = 0;
        while screen.contains("PgDn") && pages < 10 {
            tmux.act(&["PageDown"]);
            screen = tmux.settled();
            seen.push((step, screen.clone()));
            pages += 1;
        }
        let title = now_title(&screen);
        if title.contains("The ceremony is complete") {
            break;
        }
        if title.contains("HSM is working") {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        if screen.contains("present your key") {
            tmux.present_key();
        } else if screen.contains("new seal number: ▏") {
            tmux.type_text("TE-NEW-0001");
            tmux.act(&["Enter"]);
        } else if screen.contains("type initialize and press Enter") {
            tmux.confirm_word("initialize");
        } else if screen.contains("type generate and press Enter") {
            tmux.confirm_word("generate");
        } else if screen.contains("type sign and press Enter") {
            tmux.confirm_word("sign");
        } else if screen.contains("Press their number") {
            tmux.act(&[&next_custodian(&screen)]);
        } else {
            tmux.act(&["Enter"]);
        }
    }
    let done = tmux.wait_for("The ceremony is complete");
    assert!(done.contains("Final head:"), "{done}");
    tmux.keys(&["Enter"]);
    let (code, screen) = tmux.finished();
    assert_eq!(code, 0, "{screen}");
    (dir, seen)
}

/// Issue 15: the room sees what it attests. At each step, every value its
/// instructions name is on screen (paging through the step's text where
/// it does not fit), checked against what the transcript recorded.
fn each_value_is_on_screen_at_its_step(size: (u16, u16)) {
    let (dir, seen) = walk_root_ceremony(size);
    let transcript = transcript_in(&dir.path().join("out"));
    let entries = entries(&transcript);
    let at_step = |number: u64| -> String {
        seen.iter()
            .filter(|(n, _)| *n == number)
            .map(|(_, s)| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let step_of = |kind: &str| -> (u64, serde_json::Value) {
        let e = entries
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} entry"));
        (
            e["body"]["number"].as_u64().expect("number"),
            e["body"].clone(),
        )
    };
    let expect = |number: u64, what: &str, value: &str| {
        let screens = at_step(number);
        assert!(
            screens.contains(value),
            "{}x{}: step {number} never showed {what} {value:?}; its screens:\n{screens}",
            size.0,
            size.1
        );
    };
    let genesis = &entries[0]["body"];
    expect(
        1,
        "the script's SHA-256",
        genesis["script"]["sha256"].as_str().expect("sha"),
    );
    expect(
        1,
        "the bindings' SHA-256",
        genesis["bindings_sha256"].as_str().expect("sha"),
    );
    expect(1, "a ticked item", "☑");
    let (n, check) = step_of("check-hsm");
    expect(n, "the model", "model: SoftHSM v2");
    expect(
        n,
        "the serial",
        check["token"]["serial"].as_str().expect("serial"),
    );
    let (n, _) = step_of("recombine");
    expect(n, "the recombination's result", "matched");
    let (n, generated) = step_of("generate-key");
    expect(n, "the attributes read back", "read back:");
    expect(n, "the key's CKA_ID", generated["id"].as_str().expect("id"));
    let (n, export) = step_of("export-public-key");
    expect(
        n,
        "the SPKI fingerprint",
        export["public_key"]["spki_sha256"].as_str().expect("spki"),
    );
    let (sign_step, cert) = step_of("root-certificate");
    expect(
        sign_step,
        "the certificate's SHA-256",
        cert["sha256"].as_str().expect("sha"),
    );
    // The profile is on screen before the word that signs it is typed.
    let word_asked = seen
        .iter()
        .rposition(|(_, s)| s.contains("type sign and press Enter"))
        .expect("the word sign was asked for");
    assert!(
        seen[..=word_asked]
            .iter()
            .any(|(step, s)| *step == sign_step && s.contains("CN=Example Rehearsal Root CA")),
        "the profile was not on screen before `sign` was typed"
    );
    let (n, _) = step_of("list-objects");
    expect(n, "the inventory", "objects on the token");
    let out = entries
        .iter()
        .find(|e| e["body"]["step"] == "materials-out" && e["body"]["as"] == "performer")
        .expect("materials out confirmed");
    assert_eq!(out["body"]["sealed"]["hsm"], "TE-NEW-0001");
    expect(
        out["body"]["number"].as_u64().expect("number"),
        "the new seal number",
        "→ new seal TE-NEW-0001",
    );
}

#[test]
fn each_value_is_on_screen_at_its_step_at_80x24() {
    each_value_is_on_screen_at_its_step((80, 24));
}

#[test]
fn each_value_is_on_screen_at_its_step_at_120x36() {
    each_value_is_on_screen_at_its_step((120, 36));
}

/// What a terminal prints of `output`: escape sequences (CSI, OSC, and
/// two-byte ESC sequences) removed, and whitespace too, so that text
/// ratatui wrote cell by cell with cursor moves between its parts reads
/// as one run of characters.
fn printed(output: &str) -> String {
    let mut out = String::new();
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.next() {
                // CSI: parameters and intermediates, then a final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC backslash.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            }
        } else if !c.is_whitespace() && !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Every three consecutive groups of a share code after `kc1`, joined: a
/// share on screen spans two lines, and each line holds several of these.
fn code_needles(code: &str) -> Vec<String> {
    let groups: Vec<&str> = code.split_whitespace().skip(1).collect();
    groups.windows(3).map(|w| w.concat()).collect()
}

/// Issue 15: `run --record FILE` writes an asciicast v2 recording of what
/// the screen showed. The root ceremony, its SO PIN shares shown on screen
/// one custodian at a time, runs to its close with a recording: the file is
/// a v2 header and "o" events only (never input: keystrokes carry share
/// codes and PINs), holds no share code and no PIN — a share on screen is
/// replaced by a placeholder naming its custodian — `asciinema` plays it,
/// and `verify --recording` checks it against the SHA-256 the close entry
/// records, and names a changed byte.
#[test]
fn a_recorded_ceremony_holds_no_secret_and_verifies_against_its_transcript() {
    use sha2::Digest;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(script()).expect("script").replace(
        "split-secret: { secret: so-pin }",
        "split-secret: { secret: so-pin, show-on-screen: true }",
    );
    let on_screen = dir.path().join("root-on-screen.yaml");
    std::fs::write(&on_screen, text).expect("write");
    let cast = dir.path().join("ceremony.cast");
    let command = format!(
        "{} --record {}",
        run_command(dir.path()).replace(
            &script().display().to_string(),
            &on_screen.display().to_string(),
        ),
        cast.display()
    );
    let mut tmux = Tmux::start("record", &command, &[]);
    tmux.wait_for("Hand the keyboard to administrator alice");
    let mut shown: Vec<(String, String)> = Vec::new();
    for _ in 0..400 {
        let screen = tmux.settled();
        let title = now_title(&screen);
        if title.contains("The ceremony is complete") {
            break;
        }
        if title.contains("HSM is working") {
            std::thread::sleep(Duration::from_millis(100));
        } else if screen.contains("present your key") {
            tmux.present_key();
        } else if screen.contains("new seal number: ▏") {
            tmux.type_text("TE-NEW-0001");
            tmux.act(&["Enter"]);
        } else if screen.contains("type initialize and press Enter") {
            tmux.confirm_word("initialize");
        } else if screen.contains("type generate and press Enter") {
            tmux.confirm_word("generate");
        } else if screen.contains("type sign and press Enter") {
            tmux.confirm_word("sign");
        } else if screen.contains("Press their number") {
            tmux.act(&[&next_custodian(&screen)]);
        } else if screen.contains("press Enter to show your share") {
            let custodian = title
                .rsplit(' ')
                .next()
                .expect("the custodian is named")
                .to_string();
            tmux.act(&["Enter"]);
            let code = code_on_screen(&tmux.wait_for("FOR "));
            tmux.act(&["Enter"]);
            tmux.wait_for("type your share back");
            tmux.type_text(&code);
            tmux.wait_for("✓ checksum correct: press Enter");
            tmux.act(&["Enter"]);
            tmux.wait_for("present your key");
            tmux.present_key();
            tmux.wait_for(&format!("{custodian} proved their copy"));
            shown.push((custodian, code));
        } else {
            tmux.act(&["Enter"]);
        }
    }
    assert_eq!(shown.len(), 5, "every custodian saw their share");
    tmux.wait_for("The ceremony is complete");
    tmux.keys(&["Enter"]);
    let (code, screen) = tmux.finished();
    assert_eq!(code, 0, "{screen}");
    terminal_is_usable(&screen);
    assert!(screen.contains("recording:"), "{screen}");
    let transcript = transcript_in(&dir.path().join("out"));

    // Only its creator can read it: it shows the whole ceremony.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cast)
        .expect("the recording exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");

    // asciicast v2: a header, then [seconds, "o", text] events in time order.
    let bytes = std::fs::read(&cast).expect("read the recording");
    let text = String::from_utf8(bytes.clone()).expect("UTF-8");
    let mut lines = text.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("a header")).expect("the header is JSON");
    assert_eq!(header["version"], 2, "{header}");
    assert_eq!(header["width"], 100, "{header}");
    assert_eq!(header["height"], 30, "{header}");
    assert!(header["timestamp"].is_u64(), "{header}");
    let ceremony_id = entries(&transcript)[0]["ceremony"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(
        header["title"]
            .as_str()
            .is_some_and(|t| t.contains(&ceremony_id)),
        "{header}"
    );
    let mut output = String::new();
    let mut last = 0.0;
    let mut events = 0;
    for line in lines {
        let event: serde_json::Value = serde_json::from_str(line).expect("an event is JSON");
        let event = event.as_array().expect("an event is an array");
        assert_eq!(event.len(), 3, "{line}");
        let time = event[0].as_f64().expect("seconds");
        assert!(time >= last, "time goes backwards at {line}");
        last = time;
        assert_eq!(event[1], "o", "only output is recorded: {line}");
        output.push_str(event[2].as_str().expect("text"));
        events += 1;
    }
    assert!(events > 50, "{events} events");

    // What the screen showed is there; no share and no PIN is.
    let printed = printed(&output);
    assert!(
        printed.contains("Handthekeyboardtoadministratoralice"),
        "the recording does not read as the screen did"
    );
    let run = Run {
        dir,
        output: Command::new("true").output().expect("true"),
    };
    let mut needles = Vec::new();
    for (custodian, code) in &shown {
        assert!(
            printed.contains(&format!(
                "ashareisonscreenforcustodian{custodian}:notrecorded"
            )),
            "no placeholder for {custodian}'s share"
        );
        needles.extend(code_needles(code));
    }
    for secret in ["so-pin", "user-pin"] {
        for c in ["carol", "dave", "erin", "frank", "grace"] {
            needles.extend(code_needles(&run.open_share(c, secret).code()));
        }
        let pin = run.pin(secret, &["carol", "dave", "erin"]);
        needles.push(pin.split_whitespace().collect());
    }
    for needle in &needles {
        assert!(
            !printed.contains(needle.as_str()),
            "a secret is in the recording"
        );
        assert!(
            !text.contains(needle.as_str()),
            "a secret is in the recording"
        );
    }
    assert!(
        printed.contains("therecordingendshere"),
        "the recording does not say where it ends"
    );

    // asciinema reads it as we do, and plays it to its end, in a terminal
    // (asciinema 2.2 opens /dev/tty even to `cat`; `timeout --foreground`
    // lets it set that terminal raw instead of being stopped by SIGTTOU).
    drop(tmux);
    let cat_out = run.dir.path().join("cat.out");
    let player = format!(
        "timeout --foreground 60 asciinema cat {cast} > {out} && timeout --foreground 120 asciinema play -i 0.01 -s 50 {cast}; s=$?; echo; (exit $s)",
        cast = cast.display(),
        out = cat_out.display()
    );
    let mut tmux = Tmux::start("play", &player, &[]);
    let (code, screen) = tmux.finished();
    assert_eq!(
        code, 0,
        "asciinema failed (apt-get install asciinema):\n{screen}"
    );
    assert_eq!(
        std::fs::read_to_string(&cat_out).expect("asciinema cat's output"),
        output
    );
    let played = tmux.scrollback();
    assert!(
        played.contains("[the recording ends here: the transcript closes"),
        "{played}"
    );
    drop(tmux);

    // The close entry records the recording; verify checks it.
    let close = entries(&run.transcript()).pop().expect("the close");
    assert_eq!(close["kind"], "close");
    let recorded = &close["body"]["recording"];
    assert_eq!(recorded["file"], "ceremony.cast", "{close}");
    assert_eq!(
        recorded["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert_eq!(recorded["bytes"], bytes.len() as u64);
    let (code, report) = verify(&run.transcript());
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("ceremony.cast")
            && report.contains(recorded["sha256"].as_str().expect("hash")),
        "verify does not say a recording is declared:\n{report}"
    );
    let report = keyceremony()
        .arg("report")
        .arg(run.transcript())
        .args(["--format", "md"])
        .output()
        .expect("report runs");
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(
        report.contains("Screen recording")
            && report.contains(recorded["sha256"].as_str().expect("hash")),
        "the report does not name the recording:\n{report}"
    );
    let checked = keyceremony()
        .arg("verify")
        .arg(run.transcript())
        .arg("--recording")
        .arg(&cast)
        .output()
        .expect("verify runs");
    let stdout = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert_eq!(checked.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("recording:  matches"), "{stdout}");
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    let changed = run.dir.path().join("changed.cast");
    std::fs::write(&changed, &flipped).expect("write");
    let checked = keyceremony()
        .arg("verify")
        .arg(run.transcript())
        .arg("--recording")
        .arg(&changed)
        .output()
        .expect("verify runs");
    let stdout = String::from_utf8_lossy(&checked.stdout).into_owned();
    assert_eq!(checked.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("recording:  MISMATCH")
            && stdout.contains(&hex::encode(sha2::Sha256::digest(&flipped))),
        "{stdout}"
    );
}
