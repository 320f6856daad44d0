//! The HSM worker thread.
//!
//! Every PKCS#11 call of a ceremony runs here, never on the thread that
//! draws the terminal: RSA-4096 generation takes seconds and the room must
//! keep seeing a live screen. The worker owns the module and the chosen
//! token; jobs are closures sent over a channel, results come back over
//! another (the gitui AsyncJob pattern).

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crate::hsm::{LoggedIn, Module, Token};

/// What a job may touch: the module (loaded on first use, so that nothing
/// talks to the HSM before the script has been checked) and the token the
/// check-hsm step chose.
pub struct HsmState {
    module_path: PathBuf,
    module: Option<Module>,
    pub token: Option<Token>,
}

impl HsmState {
    pub fn module(&mut self) -> Result<&Module, String> {
        if self.module.is_none() {
            self.module = Some(Module::load(&self.module_path).map_err(|e| e.to_string())?);
        }
        Ok(self.module.as_ref().expect("just loaded"))
    }

    /// After a restart the worker has chosen no token yet: find the one the
    /// transcript names by its serial (slot ids change between processes),
    /// or, before the token has a serial, choose it as the check-hsm step
    /// did: by the bindings' label, else the uninitialized token.
    pub fn ensure_token(
        &mut self,
        serial: Option<&str>,
        label: Option<&str>,
    ) -> Result<(), String> {
        if self.token.is_some() {
            return Ok(());
        }
        let module = self.module()?.clone();
        let token = match (serial, label) {
            (Some(serial), _) => module.token_by_serial(serial),
            (None, Some(label)) => module.token_by_label(label),
            (None, None) => module.uninitialized_token(),
        }
        .map_err(|e| e.to_string())?;
        self.token = Some(token);
        Ok(())
    }

    /// Logs in to the chosen token; the session logs out when dropped.
    pub fn login(
        &self,
        role: crate::hsm::Role,
        pin: &crate::secret::Pin,
    ) -> Result<LoggedIn, String> {
        self.token()?.login(role, pin).map_err(|e| e.to_string())
    }

    pub fn token(&self) -> Result<&Token, String> {
        self.token
            .as_ref()
            .ok_or_else(|| "no token has been chosen yet: a check-hsm step must come first".into())
    }
}

type Job<T> = Box<dyn FnOnce(&mut HsmState) -> Result<T, String> + Send>;

/// A handle to the worker thread. `T` is the job output type.
pub struct Worker<T: Send + 'static> {
    jobs: Option<Sender<Job<T>>>,
    results: Receiver<Result<T, String>>,
    thread: Option<JoinHandle<()>>,
    running: Option<(String, Instant)>,
}

impl<T: Send + 'static> Worker<T> {
    pub fn spawn(module_path: PathBuf) -> Worker<T> {
        let (job_tx, job_rx) = mpsc::channel::<Job<T>>();
        let (result_tx, result_rx) = mpsc::channel();
        let thread = thread::Builder::new()
            .name("hsm-worker".into())
            .spawn(move || {
                let mut state = HsmState {
                    module_path,
                    module: None,
                    token: None,
                };
                for job in job_rx {
                    if result_tx.send(job(&mut state)).is_err() {
                        break;
                    }
                }
            })
            .expect("the OS can start a thread");
        Worker {
            jobs: Some(job_tx),
            results: result_rx,
            thread: Some(thread),
            running: None,
        }
    }

    /// Starts a job; one runs at a time.
    pub fn submit(
        &mut self,
        what: String,
        job: impl FnOnce(&mut HsmState) -> Result<T, String> + Send + 'static,
    ) {
        debug_assert!(self.running.is_none(), "one job at a time");
        if let Some(tx) = &self.jobs {
            // A dead worker shows up as a disconnected result channel on the
            // next poll, which reports it.
            let _ = tx.send(Box::new(job));
        }
        self.running = Some((what, Instant::now()));
    }

    /// What is running and since when, for a progress display.
    pub fn running(&self) -> Option<(&str, Instant)> {
        self.running.as_ref().map(|(w, t)| (w.as_str(), *t))
    }

    /// The finished job's result, if there is one; never blocks.
    pub fn try_result(&mut self) -> Option<Result<T, String>> {
        self.running.as_ref()?;
        let result = match self.results.try_recv() {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(Self::died()),
        };
        self.running = None;
        Some(result)
    }

    /// Blocks until the running job finishes.
    pub fn wait_result(&mut self) -> Option<Result<T, String>> {
        self.running.as_ref()?;
        let result = self.results.recv().unwrap_or_else(|_| Err(Self::died()));
        self.running = None;
        Some(result)
    }

    fn died() -> String {
        "the HSM worker thread stopped unexpectedly (a bug: please report it); the ceremony cannot continue".into()
    }
}

impl<T: Send + 'static> Drop for Worker<T> {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop; joining makes sure
        // its PKCS#11 sessions are closed before the process goes on.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
