//! A running session: the channels between stages and the long-lived tasks
//! are made here ([`crate`]'s map says which helpers a stage makes itself).
//!
//! ```text
//!   source task ──Batch (SOURCE_CHANNEL_CAPACITY)──▶ pipeline loop ──watch──▶ dashboard task
//!   dashboard ──UiCommand (UI_CHANNEL_CAPACITY)────▶      │        ──RecordMsg (record::RECORDER_CHANNEL_CAPACITY)──▶ recorder thread
//!                                                         │        ──lines (HEADLESS_CHANNEL_CAPACITY)──▶ stdout thread
//!                                                         └──────────alarm lines (ALARM_COMMAND_CAPACITY)──▶ --alarm-command
//! ```
//!
//! The alarm command has a supervisor of its own ([`crate::alarm_command`]):
//! it restarts the command, and its health comes back here to raise or
//! clear `tech.alarm_command`.
//!
//! Failure containment: a sensor, the recorder, the dashboard or the alarm
//! command failing is reported (technical alarm or log) and monitoring goes
//! on (a failed dashboard leaves the session headless). A source failing as
//! a whole (no Bluetooth adapter, an unreadable stream file) or the pipeline
//! loop failing ends the session, in order: finish the recording, restore
//! the terminal, print one sentence, exit non-zero.
//!
//! Session time and `--resume`: a source stamps its events in the time of
//! its own run (zero when it starts: the scheduled time of a simulated or
//! paced event, or the clock's `now`). A fresh session's time is that run
//! time. A resumed session ([`Resume`]) continues the recording's timeline
//! instead (session time zero is the recording's `start_utc`, so `t` in the
//! new segment is that start plus session time, restored markers keep their
//! times and the whole recording reads as one session): the run begins at
//! [`Resume::origin`] and this loop adds that origin to every source event,
//! so sources never need to know about resuming.
//!
//! Backpressure: under a virtual clock every sink is awaited, so nothing is
//! lost and a run is exact. Under the real clock the pipeline never waits:
//! the dashboard reads the latest snapshot, the headless writer and
//! recorder get `try_send`, and what does not fit is counted.

mod resume;
mod running;
mod signals;
mod sinks;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use self::resume::Resume;
use self::running::Session;
use crate::clock::Clock;
use crate::config::Config;
use crate::device_table::DeviceTable;
use crate::devices::DeviceSetup;
use crate::model::{Batch, DeviceLabel, SessionTime};
use crate::record::RecordOptions;
use crate::snapshot::{Mode, ReplayControl, Snapshot, UiCommand};

/// Batches in flight from sources (each batch holds up to a second of data).
pub const SOURCE_CHANNEL_CAPACITY: usize = 64;
/// Operator commands from the dashboard.
pub const UI_CHANNEL_CAPACITY: usize = 64;
/// Output batches waiting for stdout.
pub const HEADLESS_CHANNEL_CAPACITY: usize = 1024;
/// Replay controls (pause, seek, speed) from the dashboard to the replay
/// source: an operator's keys, a few at most in flight.
pub const REPLAY_CONTROL_CAPACITY: usize = 16;
/// Alarm lines waiting for the alarm command.
pub const ALARM_COMMAND_CAPACITY: usize = 1024;
/// Real-clock tick: snapshots, stall and clock-jump checks, the alarm
/// command's heartbeat. Alarm timers do not wait for it (the loop also wakes
/// at the pipeline's next deadline), nor do alarms raised by data (their
/// snapshot goes out at once), so it can be as slow as the dashboard's own
/// tick: each wake-up of an idle session costs more CPU than its work (a
/// 100 ms tick was 40 % of a 4-sensor dashboard session's CPU).
const TICK: Duration = Duration::from_millis(250);
/// Snapshot rate at `--speed max` (the dashboard cannot show more).
const MAX_SPEED_SNAPSHOT_EVERY: Duration = Duration::from_millis(100);
/// Under the real clock a snapshot goes out at the tick after a batch, and
/// otherwise this often: only the passing of time changes it then (ages,
/// clocks, a reading turning stale), and a stale reading then reaches the
/// screen within the dashboard's own tick ([`crate::dashboard::TICK`],
/// 250 ms). With the 250 ms [`TICK`] that is every tick, unless an event's
/// snapshot ([`EVENT_SNAPSHOT_GAP`]) went out since. Building a snapshot
/// copies every chart series, so a faster rhythm would cost the dashboard
/// run more than the screen can use.
const IDLE_SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// An alarm, connection change or error sends a snapshot at once, unless
/// one went out this recently (a stream of errors at a high `--speed`); it
/// then goes at the next tick.
const EVENT_SNAPSHOT_GAP: Duration = Duration::from_millis(50);
/// Under the virtual clock (simulate, replay) session time moves only with
/// batches, so an idle snapshot repeats the last one; it is sent only to
/// keep the dashboard from calling the session stalled (after 2 s).
const VIRTUAL_IDLE_SNAPSHOT_EVERY: Duration = Duration::from_secs(1);
/// The shortest wait for an alarm timer: a deadline already past is served
/// by this wake-up, and one that were to stay past (it never does: advancing
/// to a deadline moves it) could not spin the loop.
const MIN_TIMER_WAIT: Duration = Duration::from_millis(10);
const _: () = assert!(MIN_TIMER_WAIT.as_nanos() * 10 < TICK.as_nanos(), "timer wake-ups must be finer than the tick");
/// A tick this late means the pipeline stalled (`tech.stalled`).
const STALL_AFTER: Duration = Duration::from_secs(2);
/// A wall-clock jump beyond this shows as a `gap` (suspend, clock change).
const GAP_THRESHOLD: Duration = Duration::from_secs(5);
/// Heartbeat period of `--alarm-command`.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long the end of input waits for the source task's result, so a
/// source that failed is reported as failed; a source that neither returns
/// nor sends cannot hold the session open.
const SOURCE_RESULT_WAIT: Duration = Duration::from_secs(2);
/// How long a source may take to stop once the session has ended and
/// closed its channel: the BLE source writes each strap's ECG stop command
/// (a GATT write with response) and disconnects.
const SOURCE_STOP_WAIT: Duration = Duration::from_secs(3);

/// The task that produces a session's events.
pub type SourceTask = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// `source`, ended as soon as the session closes its channel: for a source
/// with nothing to stop on its way out (a simulation, a stream, a replay),
/// so the session's end never waits for it. The BLE source is not wrapped:
/// it stops its sensors first.
///
/// `closed` is a clone of the source's sender, kept only to learn when the
/// session closes the channel.
pub fn ends_on_close(
    closed: mpsc::Sender<Batch>,
    source: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) -> SourceTask {
    Box::pin(async move {
        tokio::select! {
            result = source => result,
            () = closed.closed() => Ok(()),
        }
    })
}

/// Builds the source task once the session has made its channel.
/// The source admits the devices it names to the session's table.
pub type SourceFactory = Box<dyn FnOnce(mpsc::Sender<Batch>, Clock, DeviceTable) -> SourceTask + Send>;

/// Builds the dashboard task from the session's channels.
pub type DashboardFactory =
    Box<dyn FnOnce(watch::Receiver<Arc<Snapshot>>, mpsc::Sender<UiCommand>) -> SourceTask + Send>;

/// Everything a session needs, resolved by the caller.
pub struct SessionPlan {
    pub clock: Clock,
    pub source: SourceFactory,
    pub mode: Mode,
    pub config: Config,
    pub participant: Option<String>,
    pub devices: Vec<(DeviceLabel, DeviceSetup)>,
    /// `None`: headless JSON lines on stdout.
    pub dashboard: Option<DashboardFactory>,
    pub alarm_command: Option<String>,
    pub replay_control: Option<mpsc::Sender<ReplayControl>>,
    /// Where headless lines go (stdout in the binary; a buffer in tests).
    pub headless_out: Option<Box<dyn Write + Send>>,
    /// Record the session (`None`: `--no-record`, or a replay).
    pub record: Option<RecordOptions>,
    /// Continue this recording's session (`--resume`); `record.resume`
    /// names the same directory.
    pub resume: Option<Resume>,
    /// Publish to a central station (`--publish`, docs/mqtt.md).
    pub publish: Option<crate::mqtt::publish::PublishOptions>,
}

impl std::fmt::Debug for SessionPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPlan").field("clock", &self.clock).field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOutcome {
    pub end: SessionTime,
    pub totals: crate::pipeline::Totals,
    /// Why it ended.
    pub reason: EndReason,
    /// The recording directory, if the session recorded.
    pub recording: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    EndOfInput,
    OperatorQuit,
    Signal,
}

impl EndReason {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::EndOfInput => "end_of_input",
            EndReason::OperatorQuit => "operator_quit",
            EndReason::Signal => "signal",
        }
    }
}

/// Run a session to its end.
pub async fn run(plan: SessionPlan) -> anyhow::Result<SessionOutcome> {
    let mut session = Session::start(plan).await?;
    let reason = loop {
        let timer_due = session.timer_due();
        let flow = tokio::select! {
            biased;
            () = session.signals.recv() => session.on_signal(),
            batch = session.batches.recv(), if !session.sources_done => session.on_batch(batch).await,
            command = session.ui.recv(), if session.ui_open => session.on_ui_command(command).await,
            ack = session.remote_acks.recv(), if session.remote_acks_open => session.on_remote_ack(ack).await,
            // An async block: a disabled branch's expression is still
            // evaluated, and making a `Sleep` reads the clock and clones the
            // runtime handle, per batch at `--speed max`.
            () = async { if let Some(at) = timer_due { tokio::time::sleep_until(at).await } }, if timer_due.is_some() => session.on_timer().await,
            at = session.tick.tick(), if !session.max_speed => session.on_tick(at).await,
            Some(done) = session.tasks.join_next() => session.on_task_done(done),
        };
        if let std::ops::ControlFlow::Break(reason) = flow {
            break reason;
        }
    };
    session.finish(reason).await
}
