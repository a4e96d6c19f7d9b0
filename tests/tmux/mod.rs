//! End-to-end helpers: run a command in a detached tmux session of a given
//! size, read the screen with `capture-pane -p`, type with `send-keys`.
//!
//! Each [`Tmux`] uses its own tmux server (`-L <unique socket>`), so tests
//! never touch a tmux the developer is running, and dropping it kills that
//! server. Without tmux they fail under CI and say they did not run
//! otherwise (`tests/tools`).
//!
//! Waiting for an external program to draw is the one place a test must
//! poll: [`Tmux::wait_for`] polls the screen until the text shows or a
//! deadline passes; no assertion depends on how long it took.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use crate::tools;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const POLL: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Start `command` (run by `sh -c`) in a `width`×`height` detached
    /// session with `env` set. `None` if tmux is not installed.
    pub fn start(command: &str, width: u16, height: u16, env: &[(&str, &str)]) -> Option<Self> {
        if !tools::tmux("this tmux test") {
            return None;
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let socket = format!("vigil-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let tmux = Tmux { socket };
        let mut args: Vec<String> =
            ["new-session", "-d", "-s", "t", "-x", &width.to_string(), "-y", &height.to_string()]
                .iter()
                .map(ToString::to_string)
                .collect();
        for (k, v) in env {
            args.extend(["-e".into(), format!("{k}={v}")]);
        }
        args.push(command.to_owned());
        let out = tmux.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        Some(tmux)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tmux: {e}"))
    }

    /// The visible screen, one line per row.
    pub fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Type keys, in `tmux send-keys` syntax (`"a"`, `"Enter"`, `"C-c"`).
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "tmux send-keys failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Resize the window (the dashboard must follow live).
    pub fn resize(&self, width: u16, height: u16) {
        self.run(&["resize-window", "-t", "t", "-x", &width.to_string(), "-y", &height.to_string()]);
    }

    /// Poll the screen until it contains `needle`; the screen, or an error
    /// with the last screen after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        self.wait_for_line(needle, |line| line.contains(needle), timeout)
    }

    /// Poll the screen until one line satisfies `pred` (`what` names it in
    /// the error).
    pub fn wait_for_line(&self, what: &str, pred: impl Fn(&str) -> bool, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if screen.lines().any(&pred) {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                return Err(format!("`{what}` did not appear within {timeout:?}; screen:\n{screen}"));
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Tmux {
    /// Poll until one line satisfies `pred`: that line and the screen.
    /// Panics with the last screen after `timeout`.
    pub fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool, timeout: Duration) -> (String, String) {
        let screen = self.wait_for_line(what, &pred, timeout).unwrap_or_else(|e| panic!("{e}"));
        let line = screen.lines().find(|l| pred(l)).unwrap_or_default().to_owned();
        (line, screen)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}
