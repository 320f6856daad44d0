//! The session recording (`run --record FILE`): an asciicast v2 file
//! (<https://docs.asciinema.org/manual/asciicast/v2/>) of exactly what the
//! terminal UI wrote to the screen, so that `asciinema play FILE` shows the
//! ceremony as the room saw it — the screen's part of a ceremony video
//! (CA/B Forum BR 6.1.1.1). At the close its SHA-256 goes into the close
//! entry, and `verify --recording FILE` checks it.
//!
//! What it holds, and what it never holds:
//! - Output only ("o" events, and "r" when the window is resized): never
//!   input, because keystrokes carry share codes and PINs. Masked fields are
//!   bullets on the screen, so they are bullets here.
//! - Never a share shown on screen: while one is up (the front end calls
//!   [`Recorder::redact`] before drawing it), frames are dropped and a
//!   placeholder naming the custodian is recorded instead. When the share
//!   leaves the screen the front end clears the terminal and redraws the
//!   whole frame, so the recording is whole again from there.
//! - Nothing after the close: [`Recorder::end`] writes a last event saying
//!   the recording ends, and the file's hash is then fixed; the cosigning
//!   of the checkpoint that follows on screen is not recorded.
//!
//! [`Tee`] sits between the terminal backend and stdout: every byte written
//! to the terminal is also kept for the frame, and each flush (ratatui
//! flushes once per frame) becomes one timestamped event. Each event is
//! written to the file at once (a crash keeps what was recorded) and
//! fsynced at most once a second, and at the end. No terminal library is
//! needed here: the writer is generic, and tested without a terminal.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::shown::shown;
use crate::transcript::ScreenRecording;

/// How often, at most, recorded events are fsynced: a frame every 100 ms
/// need not each wait for the disk, and a power cut loses at most this much.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What the frame buffer starts with: a full frame of a large window fits,
/// so it rarely grows (growing leaves the old copy behind unzeroized).
const FRAME_CAPACITY: usize = 256 * 1024;

/// Why a recording cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error(
        "the recording {} already exists: a recording is never overwritten, give a new file",
        .0.display()
    )]
    Exists(PathBuf),
    #[error("cannot create the recording {}: {source}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the recording's name {} is not UTF-8 text without a control character: the transcript records it",
        shown(&.0.display().to_string())
    )]
    Name(PathBuf),
    #[error("cannot write the recording {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The recording's file, created (O_EXCL, mode 0600: it shows the whole
/// ceremony) before the ceremony starts, so a name that cannot be used
/// stops the run before a transcript exists. Nothing is in it yet.
pub struct RecordingFile {
    file: File,
    path: PathBuf,
    name: String,
}

impl RecordingFile {
    pub fn create(path: &Path) -> Result<RecordingFile, RecordingError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.chars().any(char::is_control))
            .ok_or_else(|| RecordingError::Name(path.to_path_buf()))?
            .to_string();
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => RecordingError::Exists(path.to_path_buf()),
                _ => RecordingError::Create {
                    path: path.to_path_buf(),
                    source,
                },
            })?;
        Ok(RecordingFile {
            file,
            path: path.to_path_buf(),
            name,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the still empty file: the run stopped before anything was
    /// recorded (the ceremony could not start).
    pub fn discard(self) {
        drop(self.file);
        let _ = std::fs::remove_file(&self.path);
    }

    /// Writes the header (a `width` x `height` terminal, now) and starts
    /// recording.
    pub fn begin(self, width: u16, height: u16, title: &str) -> Result<Recorder, RecordingError> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // Written by hand for the field order the format's page shows
        // (version first); the title is JSON-escaped by serde_json.
        let title = serde_json::Value::from(title);
        let header = format!(
            "{{\"version\":2,\"width\":{width},\"height\":{height},\"timestamp\":{timestamp},\"title\":{title}}}\n"
        );
        let mut file = self.file;
        file.write_all(header.as_bytes())
            .map_err(|source| RecordingError::Write {
                path: self.path.clone(),
                source,
            })?;
        let mut hasher = Sha256::new();
        hasher.update(header.as_bytes());
        let now = Instant::now();
        Ok(Recorder {
            inner: Arc::new(Mutex::new(Inner {
                file: Some(file),
                path: self.path,
                name: self.name,
                started: now,
                synced: now,
                hasher,
                bytes: header.len() as u64,
                height,
                redacted: None,
                carry: Vec::new(),
                error: None,
                error_told: false,
                ended: false,
            })),
        })
    }
}

/// A recording under way, shared by the [`Tee`] that feeds it and the
/// session that ends it at the close. No Debug: nothing in it is worth
/// printing, and frames pass through it.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    /// `None` once ended, or once a write failed.
    file: Option<File>,
    path: PathBuf,
    name: String,
    started: Instant,
    synced: Instant,
    /// Over every byte written to the file, header included.
    hasher: Sha256,
    bytes: u64,
    /// The terminal's height, for the last line's position.
    height: u16,
    /// The custodian whose share is on screen: frames are dropped.
    redacted: Option<String>,
    /// The start of a UTF-8 character cut by the end of a frame: an event
    /// is text, so it waits for the rest.
    carry: Vec<u8>,
    error: Option<String>,
    error_told: bool,
    ended: bool,
}

impl Inner {
    /// Appends one `[seconds, kind, data]` event line.
    fn event(&mut self, kind: &str, data: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        // Microseconds, as asciinema itself writes them.
        let seconds = self.started.elapsed().as_micros() as f64 / 1e6;
        let mut line = serde_json::json!([seconds, kind, data]).to_string();
        line.push('\n');
        match file.write_all(line.as_bytes()) {
            Ok(()) => {
                self.hasher.update(line.as_bytes());
                self.bytes += line.len() as u64;
                if self.synced.elapsed() >= SYNC_EVERY {
                    self.synced = Instant::now();
                    if let Err(e) = file.sync_data() {
                        self.fail(&e);
                    }
                }
            }
            Err(e) => self.fail(&e),
        }
    }

    /// A write failed: the recording stops here, cut back to its last
    /// whole event so that the hash recorded at the close is the file's.
    fn fail(&mut self, error: &io::Error) {
        if let Some(file) = self.file.take() {
            let _ = file.set_len(self.bytes).and_then(|()| file.sync_all());
        }
        self.error = Some(format!(
            "writing {} failed {:.1} s into the recording ({error}); it ends there",
            self.path.display(),
            self.started.elapsed().as_secs_f64()
        ));
    }

    /// The text of `bytes`, after what the last frame left unfinished.
    fn decode(&mut self, bytes: &[u8]) -> String {
        self.carry.extend_from_slice(bytes);
        let mut text = String::new();
        let mut rest: &[u8] = &self.carry;
        loop {
            match std::str::from_utf8(rest) {
                Ok(whole) => {
                    text.push_str(whole);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    text.push_str(&String::from_utf8_lossy(valid));
                    match e.error_len() {
                        // Not UTF-8 at all: shown as the terminal would.
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        // A character the next frame finishes.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.carry = rest.to_vec();
        text
    }
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One frame as the terminal received it: an "o" event, unless a share
    /// is on screen.
    pub fn output(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        if inner.redacted.is_some() || inner.file.is_none() {
            return;
        }
        let text = inner.decode(bytes);
        if !text.is_empty() {
            inner.event("o", &text);
        }
    }

    /// Called before each frame is drawn: `Some(custodian)` while a share
    /// is on screen for them. From then on frames are dropped and, once, a
    /// placeholder is recorded. The front end redraws the whole screen when
    /// the share leaves it (`None`), which makes the recording whole again.
    pub fn redact(&self, custodian: Option<&str>) {
        let mut inner = self.lock();
        if inner.redacted.as_deref() == custodian {
            return;
        }
        inner.redacted = custodian.map(str::to_string);
        if let Some(custodian) = custodian {
            inner.carry.zeroize();
            let placeholder = format!(
                "\u{1b}[0m\u{1b}[2J\u{1b}[H[a share is on screen for custodian {}: not recorded]\r\n[the recording resumes when the screen is wiped]",
                shown(custodian)
            );
            inner.event("o", &placeholder);
        }
    }

    /// Whether a share is on screen (frames are being dropped).
    pub fn redacting(&self) -> bool {
        self.lock().redacted.is_some()
    }

    /// The window was resized: an "r" event, as asciicast v2 has them.
    pub fn resize(&self, width: u16, height: u16) {
        let mut inner = self.lock();
        inner.height = height;
        inner.event("r", &format!("{width}x{height}"));
    }

    /// Why the recording stopped early, the first time it is asked after
    /// it did: the front end tells the room.
    pub fn take_failure(&self) -> Option<String> {
        let mut inner = self.lock();
        if inner.error_told {
            return None;
        }
        inner.error_told = inner.error.is_some();
        inner.error.clone()
    }

    /// Ends the recording with a last line saying so (`why` it ends),
    /// fsyncs it, and returns what the close entry records: nothing is
    /// added to the file after this. `None` if it had already ended.
    pub fn end(&self, why: &str) -> Option<ScreenRecording> {
        let mut inner = self.lock();
        if inner.ended {
            return None;
        }
        inner.redacted = None;
        inner.carry.clear();
        let last = format!(
            "\u{1b}[{};1H\u{1b}[0m\u{1b}[2K[the recording ends here: {why}]",
            inner.height.max(1)
        );
        inner.event("o", &last);
        if let Some(file) = inner.file.take()
            && let Err(e) = file.sync_all()
        {
            inner.error = Some(format!(
                "{} may not be on disk whole: {e}",
                inner.path.display()
            ));
        }
        inner.ended = true;
        Some(ScreenRecording {
            file: inner.name.clone(),
            sha256: hex::encode(inner.hasher.clone().finalize()),
            bytes: inner.bytes,
            error: inner.error.clone(),
        })
    }
}

/// A writer that passes everything to `out` (the terminal) and, with a
/// recorder, hands each flushed frame to it.
pub struct Tee<W: Write> {
    out: W,
    recorder: Option<Recorder>,
    /// The frame so far: what reached `out` since the last flush. It may
    /// hold a share while one is on screen, so it is zeroized after each
    /// frame.
    frame: Vec<u8>,
}

impl<W: Write> Tee<W> {
    pub fn new(out: W, recorder: Option<Recorder>) -> Tee<W> {
        let capacity = if recorder.is_some() {
            FRAME_CAPACITY
        } else {
            0
        };
        Tee {
            out,
            recorder,
            frame: Vec::with_capacity(capacity),
        }
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        if self.recorder.is_some() {
            // Only what the terminal accepted: the recording is what it got.
            self.frame.extend_from_slice(&buf[..written]);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        if let Some(recorder) = &self.recorder
            && !self.frame.is_empty()
        {
            recorder.output(&self.frame);
            self.frame.zeroize();
        }
        flushed
    }
}

impl<W: Write> Drop for Tee<W> {
    fn drop(&mut self) {
        self.frame.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(dir: &Path) -> (PathBuf, Recorder) {
        let path = dir.join("session.cast");
        let recorder = RecordingFile::create(&path)
            .expect("create")
            .begin(80, 24, "keyceremony test")
            .expect("begin");
        (path, recorder)
    }

    fn events(path: &Path) -> (serde_json::Value, Vec<(f64, String, String)>) {
        let text = std::fs::read_to_string(path).expect("read");
        let mut lines = text.lines();
        let header = serde_json::from_str(lines.next().expect("header")).expect("json");
        let events = lines
            .map(|l| serde_json::from_str::<(f64, String, String)>(l).expect("an event"))
            .collect();
        (header, events)
    }

    #[test]
    fn a_recording_is_a_v2_header_then_timed_output_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, recorder) = begin(dir.path());
        let mut tee = Tee::new(Vec::new(), Some(recorder.clone()));
        tee.write_all(b"\x1b[1;1Hhello ").expect("write");
        // A bullet cut in two by the end of a frame.
        tee.write_all(&"•".as_bytes()[..2]).expect("write");
        tee.flush().expect("flush");
        tee.write_all(&"•".as_bytes()[2..]).expect("write");
        tee.flush().expect("flush");
        recorder.resize(100, 30);
        let recorded = recorder.end("test over").expect("ends once");
        assert!(recorder.end("again").is_none());
        // Nothing after the end.
        tee.write_all(b"after").expect("write");
        tee.flush().expect("flush");

        // The terminal got every byte.
        assert_eq!(tee.out, "\x1b[1;1Hhello •after".as_bytes());
        let (header, events) = events(&path);
        assert_eq!(header["version"], 2);
        assert_eq!(
            (header["width"].as_u64(), header["height"].as_u64()),
            (Some(80), Some(24))
        );
        assert!(
            header["timestamp"]
                .as_u64()
                .is_some_and(|t| t > 1_600_000_000)
        );
        assert_eq!(header["title"], "keyceremony test");
        let kinds: Vec<(&str, &str)> = events
            .iter()
            .map(|(_, kind, data)| (kind.as_str(), data.as_str()))
            .collect();
        assert_eq!(
            kinds[..3],
            [("o", "\x1b[1;1Hhello "), ("o", "•"), ("r", "100x30")]
        );
        assert_eq!(kinds.len(), 4);
        assert!(kinds[3].1.contains("[the recording ends here: test over]"));
        // On the last row of the window as it was last resized.
        assert!(kinds[3].1.starts_with("\x1b[30;1H"));
        assert!(events.windows(2).all(|w| w[0].0 <= w[1].0));

        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(recorded.file, "session.cast");
        assert_eq!(recorded.bytes, bytes.len() as u64);
        assert_eq!(recorded.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(recorded.error, None);
        assert_eq!(recorded.problem(), None);
    }

    #[test]
    fn a_share_on_screen_is_replaced_by_a_placeholder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, recorder) = begin(dir.path());
        let mut tee = Tee::new(Vec::new(), Some(recorder.clone()));
        let mut frame = |text: &str| {
            tee.write_all(text.as_bytes()).expect("write");
            tee.flush().expect("flush");
        };
        frame("the step screen");
        recorder.redact(Some("carol"));
        assert!(recorder.redacting());
        frame("kc1 SECRET SHARE OF CAROL");
        frame("kc1 SECRET SHARE OF CAROL, redrawn");
        // The next custodian's share, straight after: a placeholder for them.
        recorder.redact(Some("dave\u{1b}[2J"));
        frame("kc1 SECRET SHARE OF DAVE");
        recorder.redact(None);
        frame("\x1b[2Jthe wiped screen");
        recorder.end("test over");

        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("SECRET"), "{text}");
        let (_, events) = events(&path);
        let data: Vec<&str> = events.iter().map(|(_, _, d)| d.as_str()).collect();
        assert_eq!(data[0], "the step screen");
        assert!(data[1].contains("[a share is on screen for custodian carol: not recorded]"));
        // A name cannot write escape sequences into the recording.
        assert!(
            data[2].contains("custodian dave\\u{1b}[2J: not recorded"),
            "{}",
            data[2]
        );
        assert_eq!(data[3], "\x1b[2Jthe wiped screen");
        assert_eq!(data.len(), 5);
    }

    #[test]
    fn a_recording_is_never_overwritten_and_only_its_owner_reads_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, recorder) = begin(dir.path());
        recorder.end("test over");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let before = std::fs::read(&path).expect("read");
        assert!(matches!(
            RecordingFile::create(&path),
            Err(RecordingError::Exists(_))
        ));
        assert_eq!(std::fs::read(&path).expect("read"), before);
    }

    #[test]
    fn without_a_recorder_the_tee_only_passes_bytes_through() {
        let mut tee = Tee::new(Vec::new(), None);
        tee.write_all(b"frame").expect("write");
        tee.flush().expect("flush");
        assert_eq!(tee.out, b"frame");
        assert!(tee.frame.is_empty());
    }
}
