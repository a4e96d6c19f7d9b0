//! `--alarm-command CMD`: a supervised child process fed alarm events as
//! JSON lines on its stdin.
//!
//! ```text
//!   session loop ──lines (try_send)──▶ supervisor task ──stdin──▶ sh -c CMD   (own process group)
//!        ▲          ──final line──▶        │   ◀──stderr── (each line to the log)
//!        └──────────── Health (watch) ─────┘
//! ```
//!
//! The command is part of the alarm system, so its failures are alarms:
//! when it dies (exits, or a write fails) or is stuck (a line has been
//! waiting, and nothing read, for [`Timing::stuck_after`]), [`Health::failing`]
//! turns on and the session raises `tech.alarm_command`. The supervisor
//! kills it (its whole process group) and starts it again after a backoff
//! that doubles from [`Timing::backoff_min`] to [`Timing::backoff_max`].
//! Every line the command did not read (left in the pipe, or sent while it
//! was down) is counted in [`Health::missed`]; a restarted command first
//! gets `{"type":"missed","count":N}` and counts as working again once it
//! has read that line.
//!
//! Whether a line was read is told by the bytes still in the pipe
//! (`FIONREAD`), not by the write: a write completes as soon as the line is
//! in the pipe's buffer, so a command that never reads would otherwise look
//! healthy until 64 KiB of lines had piled up. (Where the pipe cannot be
//! asked, as on a system without `FIONREAD` on a pipe's write end, only a
//! full pipe shows a stuck command.)
//!
//! The command runs in its own process group, so a signal to vigil's group
//! (a closed terminal, `systemctl stop`) does not reach it before
//! `monitoring_stopped` does. At the end ([`AlarmCommand::finish`]) vigil
//! writes that line, gives the command [`Timing::grace`] to read it and to
//! exit once its stdin is closed, then sends its group SIGTERM and, after
//! another `grace`, SIGKILL: no process of the command outlives vigil, and
//! vigil never waits on the command longer than that.

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

use crate::headless;
use crate::model::{OutputEvent, SessionTime};

/// The time limits of the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A line waiting this long with nothing read means the command is
    /// stuck.
    pub stuck_after: Duration,
    /// The wait before the first restart; it doubles with each restart
    /// that fails again.
    pub backoff_min: Duration,
    /// The longest wait between restarts.
    pub backoff_max: Duration,
    /// How often the supervisor looks whether its lines have been read.
    pub poll: Duration,
    /// How long the command may take to exit after its stdin closes, and
    /// again after SIGTERM, before SIGKILL.
    pub grace: Duration,
}

impl Timing {
    /// Five seconds unread: a command that plays a sound or calls a pager
    /// for each line takes a few seconds per line and is working, not
    /// stuck, and killing it mid-alarm would be worse than waiting; longer
    /// would leave a hung command unnoticed for too long. Thirty seconds
    /// between restarts keeps a command that can never start from filling
    /// the log.
    pub const DEFAULT: Timing = Timing {
        stuck_after: Duration::from_secs(5),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        poll: Duration::from_millis(250),
        grace: Duration::from_secs(2),
    };

    /// The longest [`AlarmCommand::finish`] can take: a write under way
    /// or the end of a failed run, then the final line and the exit after
    /// it, SIGTERM, SIGKILL and the reaping that follows (each at most
    /// `grace`, the reaping well under a second).
    #[must_use]
    pub fn finish_bound(&self) -> Duration {
        self.grace * 3 + Duration::from_secs(1)
    }
}

/// What the supervisor tells the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    /// The command is dead or stuck (raises `tech.alarm_command`).
    pub failing: bool,
    /// Lines the command never read, in the whole session.
    pub missed: u64,
    /// How often the command was started.
    pub starts: u64,
}

/// The session's end of the alarm command.
#[derive(Debug)]
pub struct AlarmCommand {
    lines: mpsc::Sender<Value>,
    last: oneshot::Sender<Value>,
    health: watch::Receiver<Health>,
    task: JoinHandle<()>,
    timing: Timing,
    /// Lines that found the channel full or closed: the supervisor never
    /// saw them.
    overflowed: u64,
}

impl AlarmCommand {
    /// Start `command` (through `sh -c`) and its supervisor, which reads
    /// the lines sent through `channel`. A command that cannot be started
    /// at all (no `sh`) is an error here; one that fails later is restarted.
    pub fn start(
        command: &str,
        channel: (mpsc::Sender<Value>, mpsc::Receiver<Value>),
        timing: Timing,
    ) -> anyhow::Result<AlarmCommand> {
        let (lines, rx) = channel;
        let first =
            Running::spawn(command).map_err(|e| anyhow::anyhow!("cannot start --alarm-command `{command}`: {e}"))?;
        let (last, last_rx) = oneshot::channel();
        let (health_tx, health) = watch::channel(Health { starts: 1, ..Health::default() });
        let supervisor = Supervisor {
            command: command.to_owned(),
            timing,
            lines: rx,
            health: health_tx,
            unreported: 0,
            restarted: false,
            backoff: timing.backoff_min,
        };
        let task = tokio::spawn(supervisor.run(first, last_rx));
        Ok(AlarmCommand { lines, last, health, task, timing, overflowed: 0 })
    }

    /// Hand the alarm events among `events` to the command (never waits).
    pub fn alarms(&mut self, events: &[OutputEvent]) {
        for e in events.iter().filter(|e| matches!(e, OutputEvent::Alarm(_))) {
            self.send(headless::event_json(e));
        }
    }

    /// The heartbeat line, so an external watchdog can tell vigil is alive.
    pub fn heartbeat(&mut self, at: SessionTime) {
        let body = headless::Body::Heartbeat { wall: chrono::Utc::now().to_rfc3339() };
        self.send(headless::Line { at_ms: at.as_millis(), body }.to_value());
    }

    /// Hand one ready-made alarm line to the command (never waits): the
    /// central station's lines, which are not session events.
    pub fn line(&mut self, line: Value) {
        self.send(line);
    }

    fn send(&mut self, line: Value) {
        if self.lines.try_send(line).is_err() {
            // The supervisor notices a command this far behind as stuck
            // well before the channel fills; count the line all the same.
            self.overflowed += 1;
            tracing::warn!("--alarm-command is not keeping up; alarm line not delivered");
        }
    }

    /// Whether the command is failing, if that changed since last asked.
    pub fn failing_changed(&mut self) -> Option<bool> {
        self.health.has_changed().unwrap_or(false).then(|| self.health.borrow_and_update().failing)
    }

    /// What the supervisor last reported.
    #[must_use]
    pub fn health(&self) -> Health {
        *self.health.borrow()
    }

    /// Lines the command has missed so far.
    #[must_use]
    pub fn missed(&self) -> u64 {
        self.health.borrow().missed + self.overflowed
    }

    /// Deliver `last` (`monitoring_stopped`), then end the command and its
    /// process group; returns the lines it missed in the whole session.
    /// Takes at most [`Timing::finish_bound`].
    pub async fn finish(self, last: Value) -> u64 {
        let AlarmCommand { lines, last: last_tx, health, mut task, timing, overflowed } = self;
        let _ = last_tx.send(last);
        drop(lines);
        if timeout(timing.finish_bound(), &mut task).await.is_err() {
            // Not expected: every wait in the supervisor is bounded.
            tracing::error!("--alarm-command supervisor did not finish in time");
            task.abort();
        }
        health.borrow().missed + overflowed
    }
}

/// Why a run of the command ended.
enum RunEnd {
    /// The session is over; the final line, if there is one.
    Stop(Option<Value>),
    /// Dead or stuck, with the reason for the log.
    Failed(String),
}

/// The supervisor task's state.
struct Supervisor {
    command: String,
    timing: Timing,
    lines: mpsc::Receiver<Value>,
    health: watch::Sender<Health>,
    /// Lines missed since the command last got a `missed` line.
    unreported: u64,
    /// The command was restarted and has not had its `missed` line yet.
    restarted: bool,
    backoff: Duration,
}

impl Supervisor {
    async fn run(mut self, first: Running, mut last: oneshot::Receiver<Value>) {
        let mut run = Some(first);
        loop {
            if let Some(mut r) = run.take() {
                match self.feed(&mut r, &mut last).await {
                    RunEnd::Stop(line) => return self.stop(r, line).await,
                    RunEnd::Failed(why) => {
                        tracing::error!(
                            "--alarm-command `{}` {why}; restarting it in {:?}",
                            self.command,
                            self.backoff
                        );
                        self.set_failing(true);
                        // Already given up on: no time to exit by itself.
                        let unread = r.end(Instant::now(), self.timing.grace).await;
                        self.count_missed(unread);
                    }
                }
            }
            // Down: what arrives now is missed, until the backoff ends.
            let wake = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(self.timing.backoff_max);
            let stop = loop {
                tokio::select! {
                    biased;
                    line = &mut last => break Some(line.ok()),
                    line = self.lines.recv() => match line {
                        Some(_) => self.count_missed(1),
                        None => break Some(None),
                    },
                    () = tokio::time::sleep_until(wake) => break None,
                }
            };
            match Running::spawn(&self.command) {
                Ok(r) => {
                    self.health.send_modify(|h| h.starts += 1);
                    self.restarted = true;
                    if let Some(line) = stop {
                        // One more start, so a supervisor behind the
                        // command still hears that monitoring ended.
                        return self.stop(r, line).await;
                    }
                    run = Some(r);
                }
                Err(e) => {
                    tracing::error!("cannot restart --alarm-command `{}`: {e}", self.command);
                    if let Some(line) = stop {
                        self.count_missed(u64::from(line.is_some()));
                        return;
                    }
                }
            }
        }
    }

    /// Feed one run of the command until the session stops or it fails.
    async fn feed(&mut self, run: &mut Running, last: &mut oneshot::Receiver<Value>) -> RunEnd {
        let stuck_after = self.timing.stuck_after;
        // A write waits only when the pipe is full, that is with 64 KiB
        // unread: no need to give it as long as one line gets.
        let write_within = self.timing.grace;
        if let Err(why) = self.tell_missed(run, write_within).await {
            return RunEnd::Failed(why);
        }
        let mut poll = tokio::time::interval(self.timing.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                line = &mut *last => return RunEnd::Stop(line.ok()),
                status = run.child.wait() => {
                    return RunEnd::Failed(match status {
                        Ok(s) => format!("exited ({s})"),
                        Err(e) => format!("cannot be waited for: {e}"),
                    });
                }
                line = self.lines.recv() => match line {
                    Some(line) => {
                        if let Err(why) = run.write(&line, write_within).await {
                            self.count_missed(1);
                            return RunEnd::Failed(why);
                        }
                    }
                    None => return RunEnd::Stop(None),
                },
                _ = poll.tick() => {
                    match run.check(Instant::now(), stuck_after) {
                        Err(why) => return RunEnd::Failed(why),
                        Ok(true) if self.health.borrow().failing => {
                            tracing::info!("--alarm-command `{}` reads again", self.command);
                            self.backoff = self.timing.backoff_min;
                            self.set_failing(false);
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
    }

    /// The end of the session: the final line, then the command's end.
    /// The end of the session: the final line, then the command's end,
    /// all within twice [`Timing::grace`] and the reaping.
    async fn stop(mut self, mut run: Running, line: Option<Value>) {
        let deadline = Instant::now() + self.timing.grace;
        let _ = self.tell_missed(&mut run, self.timing.grace).await;
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(line) = line
            && let Err(why) = run.write(&line, left).await
        {
            tracing::error!("--alarm-command `{}` did not take the last line: {why}", self.command);
            self.count_missed(1);
        }
        let unread = run.end(deadline, self.timing.grace).await;
        self.count_missed(unread);
        let Health { missed, starts, .. } = *self.health.borrow();
        if missed > 0 {
            tracing::warn!(
                "--alarm-command `{}` missed {missed} lines in this session ({starts} starts)",
                self.command
            );
        }
    }

    /// A restarted command's first line: how many lines it missed.
    async fn tell_missed(&mut self, run: &mut Running, bound: Duration) -> Result<(), String> {
        if self.restarted {
            tracing::info!("--alarm-command `{}` restarted; it missed {} lines", self.command, self.unreported);
            run.write(&json!({ "type": "missed", "count": self.unreported }), bound).await?;
            run.notice_end = Some(run.written);
            self.restarted = false;
            self.unreported = 0;
        }
        Ok(())
    }

    fn set_failing(&self, failing: bool) {
        self.health.send_if_modified(|h| std::mem::replace(&mut h.failing, failing) != failing);
    }

    fn count_missed(&mut self, n: u64) {
        if n > 0 {
            self.unreported += n;
            self.health.send_modify(|h| h.missed += n);
        }
    }
}

/// One run of the command.
struct Running {
    child: Child,
    /// `None` once closed (the end of the session).
    stdin: Option<ChildStdin>,
    group: Option<Pid>,
    /// Bytes written to stdin so far.
    written: u64,
    /// Lines not yet read: where each ends in the byte stream, and when it
    /// was written.
    unread: VecDeque<(u64, Instant)>,
    /// When the command was last seen to read a whole line.
    last_read: Instant,
    /// Where the `missed` line ends, if this run got one: vigil's own
    /// notice, not a line to count as missed.
    notice_end: Option<u64>,
    stderr: Option<JoinHandle<()>>,
}

impl Running {
    fn spawn(command: &str) -> std::io::Result<Running> {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            // Never vigil's own stderr: on the dashboard it would be drawn
            // over the screen.
            .stderr(Stdio::piped())
            // Its own group: a signal to vigil's group (closed terminal,
            // `systemctl stop`) must not end it before `monitoring_stopped`.
            .process_group(0)
            // Should the supervisor itself be dropped, the shell goes with it.
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let group = child.id().and_then(|id| Pid::from_raw(i32::try_from(id).ok()?));
        let stderr = child.stderr.take().map(|err| tokio::spawn(log_stderr(err, command.to_owned())));
        Ok(Running {
            child,
            stdin,
            group,
            written: 0,
            unread: VecDeque::new(),
            last_read: Instant::now(),
            notice_end: None,
            stderr,
        })
    }

    /// Write one line, within `bound`.
    async fn write(&mut self, line: &Value, bound: Duration) -> Result<(), String> {
        let Some(stdin) = self.stdin.as_mut() else { return Err("has no stdin".to_owned()) };
        let mut text = line.to_string();
        text.push('\n');
        match timeout(bound, stdin.write_all(text.as_bytes())).await {
            Ok(Ok(())) => {
                self.written += text.len() as u64;
                self.unread.push_back((self.written, Instant::now()));
                Ok(())
            }
            Ok(Err(e)) => Err(format!("stopped reading ({e})")),
            Err(_) => Err(format!("stopped reading (a line waited {bound:?} for room in the pipe)")),
        }
    }

    /// Forget the lines the command has read; whether it read any, or why
    /// it counts as stuck: a line has been waiting, and nothing been read,
    /// for `stuck_after`. A slow reader that finishes a line at least that
    /// often (a sound per alarm) is working, however long its queue.
    fn check(&mut self, now: Instant, stuck_after: Duration) -> Result<bool, String> {
        let Some(stdin) = self.stdin.as_ref() else { return Ok(false) };
        if self.unread.is_empty() {
            return Ok(false);
        }
        let Ok(in_pipe) = rustix::io::ioctl_fionread(stdin.as_fd()) else {
            // Cannot tell (see the module doc): a write that fails or
            // blocks is then the only sign.
            self.unread.clear();
            return Ok(false);
        };
        let before = self.unread.len();
        self.forget_read(in_pipe);
        let read_some = self.unread.len() < before;
        if read_some {
            self.last_read = now;
        }
        match self.unread.front() {
            Some(&(_, written_at)) if now.duration_since(written_at.max(self.last_read)) >= stuck_after => {
                Err(format!("stopped reading (a line waiting, nothing read for {stuck_after:?})"))
            }
            _ => Ok(read_some),
        }
    }

    /// Drop the lines before the `in_pipe` bytes still waiting in the pipe.
    fn forget_read(&mut self, in_pipe: u64) {
        let read_up_to = self.written.saturating_sub(in_pipe);
        while self.unread.front().is_some_and(|&(end, _)| end <= read_up_to) {
            self.unread.pop_front();
        }
    }

    /// Give the command until `deadline` to read what it was given and
    /// exit after its stdin closes, then SIGTERM its group and after
    /// `grace` SIGKILL it; the lines it left unread (but for the `missed`
    /// notice).
    async fn end(mut self, deadline: Instant, grace: Duration) -> u64 {
        // Closing stdin at once would count the last lines given
        // (`monitoring_stopped`) as unread by a command that reads them a
        // moment later: what it has read is known only while the pipe is
        // ours.
        while let Some(stdin) = self.stdin.as_ref() {
            self.forget_read(rustix::io::ioctl_fionread(stdin.as_fd()).unwrap_or(0));
            if self.unread.is_empty() || Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                _ = self.child.wait() => break,
                () = sleep(END_POLL) => {}
            }
        }
        drop(self.stdin.take());
        let left = deadline.saturating_duration_since(Instant::now());
        let exited = timeout(left, self.child.wait()).await.is_ok_and(|s| s.is_ok());
        if let Some(group) = self.group.take() {
            // Even after the shell exited, what it started may still run.
            // Its stragglers get no wait of their own: an orphan that
            // nobody reaps stays in the group as a zombie, and waiting for
            // the group to empty would then always take the whole grace.
            if !exited || rustix::process::test_kill_process_group(group).is_ok() {
                let _ = rustix::process::kill_process_group(group, Signal::TERM);
                let _ = timeout(grace, self.child.wait()).await;
            }
            // ESRCH (nothing left) is the usual answer.
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        let _ = timeout(Duration::from_millis(200), self.child.wait()).await;
        if let Some(stderr) = self.stderr.take() {
            // Its last words reach the log; a grandchild that left the
            // group could hold the pipe open, so not for long.
            if timeout(Duration::from_millis(200), stderr).await.is_err() {
                tracing::debug!("--alarm-command stderr still open after its end");
            }
        }
        let notice_unread = self.notice_end.is_some_and(|n| self.unread.iter().any(|&(end, _)| end == n));
        self.unread.len() as u64 - u64::from(notice_unread)
    }
}

impl Drop for Running {
    /// A run not ended by [`Running::end`] (its task aborted or panicked)
    /// still leaves nothing behind.
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
    }
}

/// How often the end of a run looks whether the command has read its
/// lines, or its group has gone.
const END_POLL: Duration = Duration::from_millis(20);

/// Longest stderr line logged; the rest of a longer line is cut.
const STDERR_LINE_MAX: usize = 1000;

/// Each line the command writes to stderr, as a warning in the log.
async fn log_stderr(mut err: impl AsyncRead + Unpin, command: String) {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match err.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &chunk[..n] {
            if b == b'\n' {
                log_line(&command, &pending);
                pending.clear();
            } else if pending.len() < STDERR_LINE_MAX {
                pending.push(b);
            }
        }
    }
    if !pending.is_empty() {
        log_line(&command, &pending);
    }
}

fn log_line(command: &str, line: &[u8]) {
    tracing::warn!("--alarm-command `{command}` stderr: {}", String::from_utf8_lossy(line).escape_debug());
}

#[cfg(test)]
mod tests {
    //! The supervisor with real `sh` commands and short limits; the waits
    //! are on child processes, so they are real, each bounded.

    use super::*;

    const FAST: Timing = Timing {
        stuck_after: Duration::from_millis(200),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(100),
        poll: Duration::from_millis(20),
        grace: Duration::from_millis(300),
    };

    /// Wait (at most 5 s) until the command's health satisfies `pred`.
    async fn until(cmd: &mut AlarmCommand, pred: impl Fn(Health) -> bool) -> Health {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pred(cmd.health()) {
            assert!(Instant::now() < deadline, "still {:?}", cmd.health());
            sleep(Duration::from_millis(10)).await;
        }
        cmd.health()
    }

    /// Look at the command's health every 10 ms for `period`: `pred` must
    /// hold at every look. What is shown is that nothing happens over a
    /// time longer than a limit, so the wait is that time, not a condition.
    async fn throughout(cmd: &AlarmCommand, period: Duration, pred: impl Fn(Health) -> bool) {
        let end = Instant::now() + period;
        while Instant::now() < end {
            assert!(pred(cmd.health()), "{:?}", cmd.health());
            sleep(Duration::from_millis(10)).await;
        }
    }

    const HEALTHY: Health = Health { failing: false, missed: 0, starts: 1 };

    #[tokio::test]
    async fn a_command_that_dies_is_restarted_and_what_it_missed_is_counted() {
        let mut cmd = AlarmCommand::start("exit 3", mpsc::channel(8), FAST).unwrap();
        until(&mut cmd, |h| h.failing).await;
        assert_eq!(cmd.failing_changed(), Some(true));
        cmd.heartbeat(SessionTime::ZERO);
        // Backoff 50 ms, 100 ms, 100 ms: restarted again and again.
        until(&mut cmd, |h| h.starts >= 3 && h.missed >= 1).await;
        let started = Instant::now();
        let missed = cmd.finish(json!({ "type": "monitoring_stopped" })).await;
        assert!(started.elapsed() < FAST.finish_bound());
        // The heartbeat, and `monitoring_stopped` that a dead command can
        // no longer take; not the `missed` notices of its restarts.
        assert_eq!(missed, 2);
    }

    #[tokio::test]
    async fn a_command_that_does_not_read_is_stuck_and_finish_stays_within_its_bound() {
        let mut cmd = AlarmCommand::start("trap '' TERM; sleep 30", mpsc::channel(8), FAST).unwrap();
        cmd.heartbeat(SessionTime::ZERO);
        until(&mut cmd, |h| h.failing).await;
        let started = Instant::now();
        let missed = cmd.finish(json!({ "type": "monitoring_stopped" })).await;
        assert!(started.elapsed() < FAST.finish_bound(), "{:?}", started.elapsed());
        assert!(missed >= 2, "the heartbeat and monitoring_stopped: {missed}");
    }

    #[tokio::test]
    async fn a_command_that_reads_stays_healthy_and_misses_nothing() {
        let mut cmd = AlarmCommand::start("cat >/dev/null", mpsc::channel(8), FAST).unwrap();
        for _ in 0..3 {
            cmd.heartbeat(SessionTime::ZERO);
        }
        // Longer than a line may stay unread.
        throughout(&cmd, FAST.stuck_after * 2, |h| h == HEALTHY).await;
        assert_eq!(cmd.finish(json!({ "type": "monitoring_stopped" })).await, 0);
    }

    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_not_stuck() {
        // One line per 100 ms: the queue of 8 waits 800 ms in all, four
        // times `stuck_after`, yet a line is read every 100 ms. The command
        // notes each line it has read, and the test waits for the eighth.
        let dir = tempfile::tempdir().unwrap();
        let read = dir.path().join("read");
        let script = format!("while read l; do sleep 0.1; echo >> '{}'; done", read.display());
        let mut cmd = AlarmCommand::start(&script, mpsc::channel(16), FAST).unwrap();
        for _ in 0..8 {
            cmd.heartbeat(SessionTime::ZERO);
        }
        let lines_read = || std::fs::read_to_string(&read).map_or(0, |text| text.lines().count());
        let deadline = Instant::now() + Duration::from_secs(5);
        while lines_read() < 8 {
            assert!(Instant::now() < deadline, "{} of 8 lines read", lines_read());
            assert_eq!(cmd.health(), HEALTHY, "after {} lines", lines_read());
            sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(cmd.health(), HEALTHY);
        assert_eq!(cmd.finish(json!({ "type": "monitoring_stopped" })).await, 0);
    }
}
