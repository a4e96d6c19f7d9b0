//! `--alarm-command` as a supervised part of the alarm system, with the real
//! `vigil` binary and real `sh` commands: a command that dies is restarted
//! and its missed lines counted, one that stops reading raises
//! `tech.alarm_command` and never holds vigil up, one that hangs is killed
//! with its whole process group, a group signal to vigil leaves it alive
//! until `monitoring_stopped` has reached it, and its stderr goes to the log.
//!
//! Each test waits for a condition (polling, with a bound of a few seconds),
//! never for a fixed time: only child processes are involved, so a paused
//! clock cannot serve.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A device connects and disconnects: `tech.disconnected` is raised at once,
/// so the command gets an alarm line straight away.
const DISCONNECT: &str = concat!(
    r#"{"device": "chest", "event": "connected", "name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01"}"#,
    "\n",
    r#"{"device": "chest", "event": "disconnected"}"#,
    "\n",
);

/// A running `vigil monitor --stream - --headless` whose stdin the test holds.
struct Vigil {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    stderr: Option<std::thread::JoinHandle<String>>,
    log: PathBuf,
}

impl Drop for Vigil {
    /// A failed test leaves no vigil behind (and through it, no command).
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Vigil {
    fn start(dir: &Path, alarm_command: &str, own_group: bool) -> Vigil {
        Vigil::start_recording(dir, alarm_command, own_group, None)
    }

    /// As [`Vigil::start`], recording under `record_dir` if given.
    fn start_recording(dir: &Path, alarm_command: &str, own_group: bool, record_dir: Option<&Path>) -> Vigil {
        use std::os::unix::process::CommandExt;
        let log = dir.join("vigil.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
        cmd.args(["monitor", "--stream", "-", "--headless", "--alarm-command", alarm_command]);
        match record_dir {
            Some(d) => cmd.arg("--record-dir").arg(d),
            None => cmd.arg("--no-record"),
        };
        cmd.env("VIGIL_LOG", &log).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if own_group {
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let stdin = child.stdin.take();
        Vigil { child, stdin, lines, seen: Vec::new(), stderr: Some(stderr), log }
    }

    fn feed(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Wait up to `within` for a headless line that `pred` accepts.
    fn wait_line(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return Some(v.clone());
        }
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
        None
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Wait up to `within` for vigil to exit; its lines, its stderr (to
    /// join: a child that inherited it holds it open) and how long the exit
    /// took. Kills it (and fails) past the bound.
    fn exit_within(&mut self, within: Duration) -> (Vec<Value>, std::thread::JoinHandle<String>, Duration) {
        let started = Instant::now();
        loop {
            if self.child.try_wait().unwrap().is_some() {
                break;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("vigil did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = started.elapsed();
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.iter());
        (seen, self.stderr.take().unwrap(), took)
    }
}

fn is_alarm_command_active(v: &Value) -> bool {
    v["type"] == "alarm" && v["alarm"] == "tech.alarm_command" && v["state"] == "active"
}

/// Wait up to `within` until `pred` holds.
fn eventually(within: Duration, pred: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    pred()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Whether process `pid` exists and is not a zombie (an orphan that nobody
/// has reaped yet is gone for every purpose here).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), sig).unwrap();
}

#[test]
fn a_command_that_exits_raises_tech_alarm_command_is_restarted_and_its_missed_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let records = dir.path().join("records");
    let cmd = format!("echo start >> '{}'; exit 0", starts.display());
    let mut vigil = Vigil::start_recording(dir.path(), &cmd, false, Some(&records));
    vigil.feed(DISCONNECT);
    let raised = vigil.wait_line(Duration::from_secs(5), is_alarm_command_active);
    assert!(raised.is_some(), "no tech.alarm_command: {:?}", vigil.seen);
    let raised = raised.unwrap();
    assert_eq!(raised["priority"], "high");
    assert!(raised["device"].is_null(), "session-wide: {raised}");
    // Restarted with backoff (1 s, then 2 s).
    assert!(eventually(Duration::from_secs(6), || read(&starts).lines().count() >= 2), "{}", read(&starts));
    drop(vigil.stdin.take());
    let (lines, _, _) = vigil.exit_within(Duration::from_secs(10));
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    // The tech.disconnected line at least, and tech.alarm_command's own.
    assert!(summary["alarm_command_missed"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["drops"], 0, "drops stays the recorder's count: {summary}");
    // In the recording too.
    let rec = std::fs::read_dir(&records).unwrap().next().unwrap().unwrap().path();
    let events = vigil::record::Recording::open(&rec).unwrap().events().unwrap();
    assert!(
        events.iter().any(|e| matches!(e, vigil::model::OutputEvent::Alarm(a)
            if a.condition.as_str() == "tech.alarm_command" && a.device.is_none())),
        "{events:?}"
    );
}

#[test]
fn a_command_that_does_not_read_raises_the_alarm_and_vigil_still_stops_promptly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut vigil = Vigil::start(dir.path(), "sleep 100", false);
    vigil.feed(DISCONNECT);
    // A line unread for 5 s.
    assert!(
        vigil.wait_line(Duration::from_secs(10), is_alarm_command_active).is_some(),
        "a command that never reads its line is not flagged: {:?}",
        vigil.seen
    );
    signal(vigil.pid(), rustix::process::Signal::TERM);
    let (lines, _, took) = vigil.exit_within(Duration::from_secs(15));
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[test]
fn a_command_that_hangs_at_the_end_is_killed_with_its_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    // Ignores SIGTERM (and so does the `sleep` it starts), and goes on after
    // its stdin ends.
    let cmd = format!(
        "trap '' TERM; echo $$ >> '{p}'; sleep 100 & echo $! >> '{p}'; cat >/dev/null; wait",
        p = pids.display()
    );
    let mut vigil = Vigil::start(dir.path(), &cmd, false);
    vigil.feed(DISCONNECT);
    assert!(eventually(Duration::from_secs(5), || read(&pids).lines().count() == 2), "the command did not start");
    drop(vigil.stdin.take());
    let (lines, _, took) = vigil.exit_within(Duration::from_secs(15));
    assert_eq!(lines.last().unwrap()["type"], "summary");
    let pids: Vec<i32> = read(&pids).lines().map(|l| l.trim().parse().unwrap()).collect();
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        let _ =
            rustix::process::kill_process(rustix::process::Pid::from_raw(p).unwrap(), rustix::process::Signal::KILL);
    }
    assert!(left.is_empty(), "left running after vigil exited: {left:?} of {pids:?}");
    assert!(took < Duration::from_secs(10), "shutdown took {took:?}");
}

#[test]
fn a_group_sigterm_sighup_or_sigint_still_delivers_monitoring_stopped() {
    use rustix::process::Signal;
    for sig in [Signal::TERM, Signal::HUP, Signal::INT] {
        group_signal_delivers_monitoring_stopped(sig);
    }
}

fn group_signal_delivers_monitoring_stopped(sig: rustix::process::Signal) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cmd = format!("cat >> '{}'", out.display());
    let mut vigil = Vigil::start(dir.path(), &cmd, true);
    vigil.feed(DISCONNECT);
    assert!(eventually(Duration::from_secs(5), || read(&out).contains("tech.disconnected")), "{}", read(&out));
    // What a closed terminal, `systemctl stop` or Ctrl-C does: the whole
    // group.
    rustix::process::kill_process_group(rustix::process::Pid::from_raw(vigil.pid()).unwrap(), sig).unwrap();
    let (lines, _, _) = vigil.exit_within(Duration::from_secs(10));
    assert_eq!(lines.last().unwrap()["type"], "summary");
    let text = read(&out);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "monitoring_stopped", "{sig:?}: {text}");
    assert_eq!(last["reason"], "signal");
}

#[test]
fn the_command_stderr_goes_to_the_log_not_to_vigil_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("said");
    let cmd = format!("echo 'alarm-command-says-hello' >&2; touch '{}'; cat >/dev/null", marker.display());
    let mut vigil = Vigil::start(dir.path(), &cmd, false);
    vigil.feed(DISCONNECT);
    assert!(eventually(Duration::from_secs(5), || marker.exists()), "the command did not start");
    drop(vigil.stdin.take());
    let log = vigil.log.clone();
    let (_, stderr, _) = vigil.exit_within(Duration::from_secs(10));
    let stderr = stderr.join().unwrap();
    assert!(!stderr.contains("alarm-command-says-hello"), "on vigil's stderr: {stderr}");
    assert!(read(&log).contains("alarm-command-says-hello"), "not in the log: {}", read(&log));
}

#[test]
fn a_restarted_command_that_reads_again_clears_the_alarm_and_hears_what_it_missed() {
    let dir = tempfile::tempdir().unwrap();
    let (first, out) = (dir.path().join("first"), dir.path().join("out"));
    // The first run exits at once; every later one reads.
    let cmd = format!(
        "if [ -e '{f}' ]; then cat >> '{o}'; else touch '{f}'; exit 0; fi",
        f = first.display(),
        o = out.display()
    );
    let mut vigil = Vigil::start(dir.path(), &cmd, false);
    vigil.feed(DISCONNECT);
    assert!(vigil.wait_line(Duration::from_secs(5), is_alarm_command_active).is_some(), "{:?}", vigil.seen);
    // High priority and unacknowledged: it latches when the condition ends.
    let ended = vigil.wait_line(Duration::from_secs(6), |v| {
        v["alarm"] == "tech.alarm_command" && (v["state"] == "latched" || v["state"] == "cleared")
    });
    assert!(ended.is_some(), "tech.alarm_command never ended: {:?}", vigil.seen);
    let text = read(&out);
    let first_line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first_line["type"], "missed", "{text}");
    assert!(first_line["count"].as_u64().unwrap() >= 1, "{text}");
    drop(vigil.stdin.take());
    let (lines, _, _) = vigil.exit_within(Duration::from_secs(10));
    let summary = lines.last().unwrap();
    assert_eq!(summary["alarm_command_missed"], first_line["count"], "{summary} vs {text}");
    assert!(read(&out).lines().last().unwrap().contains("monitoring_stopped"), "{}", read(&out));
}
