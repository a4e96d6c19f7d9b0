//! A running session: every task and channel is created here.
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
//! Failure containment: a source, the recorder, the dashboard or the alarm
//! command failing is reported (technical alarm or log) and the pipeline
//! goes on; only the pipeline loop failing ends the session, in order:
//! finish the recording, restore the terminal, print one sentence, exit
//! non-zero.
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

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::alarm_command::{self, AlarmCommand};
use crate::alarms::AlarmEngine;
use crate::clock::{Clock, ClockKind, Speed};
use crate::config::Config;
use crate::device_table::DeviceTable;
use crate::devices::DeviceSetup;
use crate::headless::{self, HeadlessWriter};
use crate::model::{Batch, DeviceLabel, OutputEvent, Sample, SessionTime, SourceEvent};
use crate::pipeline::{Pipeline, SnapshotBase};
use crate::record::{LockInfo, RecordError, RecordMsg, RecordOptions, Recorder, RecorderHealth, Recording};
use crate::snapshot::{Mode, ReplayControl, Snapshot, UiCommand};

/// Batches in flight from sources (each batch holds up to a second of data).
pub const SOURCE_CHANNEL_CAPACITY: usize = 64;
/// Operator commands from the dashboard.
pub const UI_CHANNEL_CAPACITY: usize = 64;
/// Output batches waiting for stdout.
pub const HEADLESS_CHANNEL_CAPACITY: usize = 1024;
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

/// The task that produces a session's events.
pub type SourceTask = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

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
}

/// A session to pick up again (`--resume`): the recording it continues.
///
/// Before the first source batch, the pipeline runs the recording through
/// itself silently ([`Pipeline::restore`]), so markers, baseline, limits,
/// audio pause and acknowledged alarms are as they were when the previous
/// run stopped; then the session continues at [`origin`](Self::origin),
/// with a `gap` event for the time vigil was not running.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Opened read-only, before the recorder takes it over; after a crash
    /// its last segment is read as the stream it is, up to the last whole
    /// message (what the recorder's finalising keeps too).
    pub recording: Recording,
    /// Where the recording ends, in session time: the latest `t` any earlier
    /// run recorded.
    pub previous_end: SessionTime,
}

impl Resume {
    /// Open `dir` for resuming. Refuses, naming `dir`, what is not a
    /// recording, a recording a live recorder holds, and a recording of
    /// another participant than `participant` (when given).
    pub fn open(dir: &std::path::Path, participant: Option<&str>) -> Result<Resume, RecordError> {
        let recording = Recording::open(dir)?;
        if let Some(p) = participant
            && recording.meta.participant.as_deref() != Some(p)
        {
            return Err(RecordError::Other(format!(
                "{}: recorded for participant {}, not {p}",
                dir.display(),
                recording.meta.participant.as_deref().unwrap_or("anon")
            )));
        }
        // Fail before reading the whole recording, not after: the recorder
        // takes the lock for good when the session starts.
        LockInfo::acquire(dir)?.release()?;
        let previous_end = recording.end()?;
        Ok(Resume { recording, previous_end })
    }

    /// Session time zero of the resumed session: the recording's start.
    #[must_use]
    pub fn start_utc(&self) -> chrono::DateTime<chrono::Utc> {
        self.recording.meta.start_utc
    }

    /// The session time this run begins at, given the run's `clock`.
    ///
    /// Under the real clock, session time is wall time since the recording
    /// started, so the run begins at its own start minus the recording's
    /// (never before the previous end, should the wall clock have been set
    /// back). A virtual clock's time is the script's, not the wall's: the
    /// run simply continues where the previous one ended.
    #[must_use]
    pub fn origin(&self, clock: &Clock) -> SessionTime {
        match clock.kind() {
            ClockKind::Virtual(_) => self.previous_end,
            ClockKind::Real => {
                let since = (clock.start_utc() - self.start_utc()).num_nanoseconds().unwrap_or(i64::MAX);
                SessionTime(u64::try_from(since).unwrap_or(0)).max(self.previous_end)
            }
        }
    }
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
    let SessionPlan {
        clock,
        source,
        mode,
        config,
        participant,
        devices,
        dashboard,
        alarm_command,
        replay_control,
        headless_out,
        record,
        resume,
    } = plan;
    let virtual_clock = clock.is_virtual();
    let max_speed = matches!(clock.kind(), ClockKind::Virtual(Speed::Max));
    // Session time zero as UTC, and the session time this run starts at.
    let (start_utc, origin) = match &resume {
        Some(r) => (r.start_utc(), r.origin(&clock)),
        None => (clock.start_utc(), SessionTime::ZERO),
    };
    let session_now = |clock: &Clock| clock.now().map(|n| shift_time(n, origin));

    let device_table = DeviceTable::new(config.session.max_devices);
    let mut pipeline = Pipeline::with_devices(AlarmEngine::new(config.alarms.clone()), device_table.clone());
    for (label, setup) in &devices {
        pipeline.set_device(label, *setup);
    }
    // The recorder starts before anything else: a session that was asked to
    // record is refused at once if the recording is the operator's to fix
    // (locked, a bad participant code); a failing disk instead starts the
    // session unrecorded, with `tech.recording` raised.
    let mut recorder = match &record {
        Some(opts) => {
            let config_json = serde_json::to_value(&config)?;
            Some(Recorder::start_or_unstarted(opts, start_utc, origin, config_json)?)
        }
        None => None,
    };
    let mut output: Vec<OutputEvent> = Vec::with_capacity(64);
    if let Some(r) = &resume {
        pipeline.restore(crate::sources::replay::batches(&r.recording)?);
        pipeline.resume_at(origin, &mut output);
    }
    let mut base = SnapshotBase {
        start_utc,
        participant: participant.clone(),
        record_dir: recorder.as_ref().filter(|r| r.started()).map(|r| r.dir().to_path_buf()),
        mode,
    };

    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();

    let (batch_tx, mut batch_rx) = mpsc::channel::<Batch>(SOURCE_CHANNEL_CAPACITY);
    let source_task = source(batch_tx, clock.clone(), device_table);
    tasks.spawn(async move { ("source", source_task.await) });

    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(pipeline.snapshot(&base)));
    let (ui_tx, mut ui_rx) = mpsc::channel::<UiCommand>(UI_CHANNEL_CAPACITY);
    // Cleared if the screen fails: the session then goes on headless.
    let mut has_dashboard = dashboard.is_some();
    let mut ui_open = has_dashboard;
    if let Some(dashboard) = dashboard {
        let task = dashboard(snapshot_rx, ui_tx);
        tasks.spawn(async move { ("dashboard", task.await) });
    } else {
        drop(ui_tx);
    }

    let mut headless_out = headless_out;
    let headless = if has_dashboard {
        None
    } else {
        let out = headless_out.take().unwrap_or_else(|| Box::new(std::io::stdout()));
        Some(HeadlessSink::start(out)?)
    };
    let alarm_sink = alarm_command
        .as_deref()
        .map(|c| AlarmCommand::start(c, mpsc::channel(ALARM_COMMAND_CAPACITY), alarm_command::Timing::DEFAULT))
        .transpose()?;
    let mut sinks = Sinks {
        lossless: virtual_clock,
        headless,
        alarm: alarm_sink,
        recorder: recorder.as_ref().map(|r| (r.sender(), r.health())),
        gather: max_speed,
        outbox: match recorder.as_mut().and_then(Recorder::take_sample_returns) {
            Some(returns) => crate::record::Outbox::with_returns(returns),
            None => crate::record::Outbox::default(),
        },
        samples: Vec::with_capacity(4096),
    };

    let mut signals = Signals::new()?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    let mut last_snapshot = Instant::now();
    // Whether the pipeline changed since the last snapshot went out.
    let mut unpublished = false;
    let mut last_heartbeat = Instant::now();
    // Offset of wall time over monotonic session time, to notice suspends
    // and clock changes under the real clock.
    let mut wall_offset = wall_offset_ms(&clock);
    // A resume's gap reaches the recording and the output before any data.
    sinks.drain(&mut pipeline, Vec::new(), &mut output).await;
    let mut sources_done = false;
    let mut reason = EndReason::EndOfInput;
    // A source that fails as a whole (no Bluetooth adapter, an unreadable
    // stream file) ends the session with its error once the recording is
    // finished; failures of single sensors are handled inside the source
    // (reconnects, technical alarms).
    let mut source_error: Option<anyhow::Error> = None;

    loop {
        // Under the real clock, when the next alarm timer falls due.
        let timer_due = if virtual_clock || max_speed {
            None
        } else {
            pipeline
                .next_deadline()
                .zip(session_now(&clock))
                .map(|(due, now)| tokio::time::Instant::now() + timer_wait(due, now))
        };
        tokio::select! {
            biased;
            _ = signals.recv() => {
                if has_dashboard {
                    // The dashboard asks for confirmation of Ctrl-C itself;
                    // SIGTERM/SIGHUP end the session cleanly.
                    if signals.last_was_interrupt { continue; }
                }
                reason = EndReason::Signal;
                break;
            }
            batch = batch_rx.recv(), if !sources_done => {
                match batch {
                    Some(mut batch) => {
                        if origin > SessionTime::ZERO {
                            shift_batch(&mut batch, origin);
                        }
                        pipeline.process(&batch.events, batch.until, sinks.samples(), &mut output);
                        let eventful = !output.is_empty();
                        sinks.drain(&mut pipeline, batch.events, &mut output).await;
                        unpublished = true;
                        // At `--speed max` (no tick) as often as the screen
                        // can show; otherwise alarms, connection changes and
                        // errors at once, new numbers at the next tick.
                        let at_once = if max_speed {
                            Some(MAX_SPEED_SNAPSHOT_EVERY)
                        } else {
                            eventful.then_some(EVENT_SNAPSHOT_GAP)
                        };
                        if let Some(gap) = at_once.filter(|_| has_dashboard) {
                            unpublished = !publish_unless_within(gap, &snapshot_tx, &mut pipeline, &base, &mut last_snapshot);
                        }
                    }
                    None => {
                        sources_done = true;
                        if !has_dashboard { break; }
                        // With a dashboard, the session stays on screen
                        // until the operator quits.
                        let mut snap = pipeline.snapshot(&base);
                        snap.finished = true;
                        let _ = snapshot_tx.send(Arc::new(snap));
                    }
                }
            }
            cmd = ui_rx.recv(), if ui_open => {
                match cmd {
                    Some(UiCommand::Operator(action)) => {
                        let at = if virtual_clock { pipeline.now() } else { session_now(&clock).unwrap_or(pipeline.now()) };
                        pipeline.operator(at, &action, sinks.samples(), &mut output);
                        sinks.drain(&mut pipeline, Vec::new(), &mut output).await;
                    }
                    Some(UiCommand::Replay(control)) => {
                        if let Some(tx) = &replay_control && tx.try_send(control).is_ok() {
                            base.mode = crate::sources::replay::mode_after(base.mode, control);
                        }
                    }
                    Some(UiCommand::SetWindow(window)) => pipeline.set_window(window),
                    Some(UiCommand::Quit) => { reason = EndReason::OperatorQuit; break; }
                    // The dashboard has ended: its task's result (below)
                    // says whether the operator quit or the screen failed.
                    None => { ui_open = false; continue; }
                }
                let _ = snapshot_tx.send(Arc::new(pipeline.snapshot(&base)));
            }
            // An async block: a disabled branch's expression is still
            // evaluated, and making a `Sleep` reads the clock and clones the
            // runtime handle, per batch at `--speed max`.
            () = async { if let Some(at) = timer_due { tokio::time::sleep_until(at).await } else { std::future::pending().await } }, if timer_due.is_some() => {
                // An onset delay ended, a reading turned stale, an alarm
                // escalates: on time, not at the next tick.
                let now = session_now(&clock).unwrap_or(pipeline.now());
                pipeline.advance_to(now, &mut output);
                let eventful = !output.is_empty();
                sinks.drain(&mut pipeline, Vec::new(), &mut output).await;
                if eventful && has_dashboard {
                    unpublished = !publish_unless_within(EVENT_SNAPSHOT_GAP, &snapshot_tx, &mut pipeline, &base, &mut last_snapshot);
                }
            }
            at = tick.tick(), if !max_speed => {
                let late = last_tick.elapsed();
                last_tick = Instant::now();
                if !virtual_clock {
                    let now = session_now(&clock).unwrap_or(pipeline.now());
                    let offset = wall_offset_ms(&clock);
                    let jump = offset - wall_offset;
                    wall_offset = offset;
                    if jump.unsigned_abs() >= u64::try_from(GAP_THRESHOLD.as_millis()).unwrap_or(u64::MAX) {
                        let gap = SourceEvent { at: now, device: None, body: crate::model::EventBody::Gap { duration: Duration::from_millis(jump.unsigned_abs()) } };
                        pipeline.process(std::slice::from_ref(&gap), now, sinks.samples(), &mut output);
                    }
                    pipeline.set_stalled(now, late > STALL_AFTER, &mut output);
                    pipeline.advance_to(now, &mut output);
                    unpublished |= !output.is_empty();
                    sinks.drain(&mut pipeline, Vec::new(), &mut output).await;
                }
                // The scheduled instant, so idle snapshots keep the ticks'
                // exact rhythm.
                let idle_every = if virtual_clock { VIRTUAL_IDLE_SNAPSHOT_EVERY } else { IDLE_SNAPSHOT_EVERY };
                if has_dashboard && (unpublished || at.into_std().saturating_duration_since(last_snapshot) >= idle_every) {
                    unpublished = false;
                    last_snapshot = at.into_std();
                    let mut snap = pipeline.snapshot(&base);
                    snap.finished = sources_done;
                    let _ = snapshot_tx.send(Arc::new(snap));
                }
                if let Some(sink) = sinks.alarm.as_mut().filter(|_| last_heartbeat.elapsed() >= HEARTBEAT) {
                    last_heartbeat = Instant::now();
                    sink.heartbeat(pipeline.now());
                }
            }
            Some(done) = tasks.join_next() => {
                match done {
                    Ok(("dashboard", Err(e))) => {
                        // The screen failed (terminal gone, a drawing
                        // error): alarms must go on. Monitoring continues
                        // headless — alarm lines on stdout, the alarm
                        // command and the recording as before — until the
                        // input ends or a signal stops it.
                        tracing::error!("dashboard failed: {e:#}");
                        eprintln!("vigil: the dashboard failed ({e:#}); monitoring continues headless, stop with Ctrl-C");
                        has_dashboard = false;
                        let out = headless_out.take().unwrap_or_else(|| Box::new(std::io::stdout()));
                        match HeadlessSink::start(out) {
                            Ok(h) => sinks.headless = Some(h),
                            Err(e) => tracing::error!("cannot start headless output: {e}"),
                        }
                        if let Some(h) = &sinks.headless {
                            h.error(pipeline.now(), &format!("dashboard failed: {e:#}"));
                        }
                        if sources_done { break; }
                    }
                    Ok(("dashboard", Ok(()))) => { reason = EndReason::OperatorQuit; break; }
                    Ok(("source", Err(e))) => {
                        tracing::error!("source failed: {e:#}");
                        source_error = Some(e);
                        break;
                    }
                    Ok((name, Err(e))) => {
                        tracing::error!("{name} failed: {e:#}");
                        if let Some(h) = &sinks.headless {
                            h.error(pipeline.now(), &format!("{name} failed: {e:#}"));
                        }
                    }
                    Ok((_, Ok(()))) => {}
                    Err(join) => tracing::error!("task panicked: {join}"),
                }
            }
        }
    }

    // The input ended: the source task has returned or is returning; take
    // its result so a failed source (no adapter, unreadable file) is not
    // mistaken for the end of input.
    if reason == EndReason::EndOfInput && source_error.is_none() {
        let wait = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(done) = tasks.join_next().await {
                if let Ok(("source", result)) = done {
                    return result.err();
                }
            }
            None
        });
        source_error = wait.await.ok().flatten();
    }

    // End: fire what is due by the end, report, close sinks in order.
    let end = pipeline.now();
    pipeline.advance_to(end, &mut output);
    sinks.lossless = true;
    sinks.drain(&mut pipeline, Vec::new(), &mut output).await;
    sinks.flush_recorder().await;
    tasks.abort_all();
    let Sinks { headless, alarm, recorder: recorder_link, .. } = sinks;
    let mut recorder_health = None;
    if let Some((tx, health)) = recorder_link {
        let _ = tx.send(RecordMsg::Reached(end)).await;
        recorder_health = Some(health);
    }
    let recording = match recorder {
        Some(r) => Some(tokio::task::spawn_blocking(move || r.finish()).await?),
        None => None,
    };
    // Before the summary, which counts what the command missed; bounded
    // (alarm_command::Timing::finish_bound) however the command behaves.
    if let Some(a) = alarm {
        let stopped =
            serde_json::json!({ "at_ms": end.as_millis(), "type": "monitoring_stopped", "reason": reason.as_str() });
        let missed = a.finish(stopped).await;
        pipeline.set_alarm_command_missed(missed);
    }
    let mut totals = pipeline.totals();
    // The recorder's last count, once it has drained everything it was sent.
    if let Some(RecorderHealth::Failed { not_recorded, .. }) = recorder_health.as_ref().map(|h| h.borrow().clone()) {
        totals.counters.not_recorded = not_recorded;
    }
    if let Some(h) = headless {
        h.finish(headless::summary_json(end, &totals)).await?;
    }
    let recording = match recording {
        Some(Ok(info)) => Some(info.dir),
        Some(Err(e)) => {
            // Monitoring is over; what was flushed is on disk and
            // `vigil recover` can finalise it.
            tracing::error!("finishing the recording failed: {e}");
            return Err(anyhow::anyhow!("the session ended but its recording could not be finished: {e}"));
        }
        None => None,
    };
    if let Some(e) = source_error {
        return Err(e);
    }
    Ok(SessionOutcome { end, totals, reason, recording })
}

/// The sinks of the pipeline loop.
struct Sinks {
    /// Await every sink (virtual clock) instead of `try_send` (real clock).
    lossless: bool,
    headless: Option<HeadlessSink>,
    alarm: Option<AlarmCommand>,
    recorder: Option<(mpsc::Sender<RecordMsg>, watch::Receiver<RecorderHealth>)>,
    /// Gather recorder products in `outbox` (`--speed max` only: there a
    /// batch takes microseconds of wall time, so gathering delays nothing a
    /// crash could lose; a paced or live session sends each batch at once).
    gather: bool,
    outbox: crate::record::Outbox,
    /// The pipeline's sample buffer when nothing is gathered (reused: it
    /// keeps its capacity).
    samples: Vec<Sample>,
}

impl Sinks {
    /// Where the pipeline puts the next batch's samples: straight into the
    /// outbox when gathering, so a sample is never copied on this thread.
    fn samples(&mut self) -> &mut Vec<Sample> {
        if self.recorder.is_some() && self.gather { self.outbox.samples() } else { &mut self.samples }
    }

    /// Hand one batch's products to the sinks and watch the recorder's
    /// health (a failure raises `tech.recording`; monitoring goes on).
    async fn drain(&mut self, pipeline: &mut Pipeline, events: Vec<SourceEvent>, output: &mut Vec<OutputEvent>) {
        if let Some((_, health)) = &mut self.recorder
            && health.has_changed().unwrap_or(false)
        {
            let (failed, not_recorded) = match &*health.borrow_and_update() {
                RecorderHealth::Ok => (false, Default::default()),
                RecorderHealth::Failed { not_recorded, .. } => (true, *not_recorded),
            };
            pipeline.set_recording_failed(pipeline.now(), failed, output);
            pipeline.set_not_recorded(not_recorded);
        }
        if let Some(sink) = &mut self.alarm {
            if let Some(failing) = sink.failing_changed() {
                pipeline.set_alarm_command_failed(pipeline.now(), failing, output);
            }
            pipeline.set_alarm_command_missed(sink.missed());
            sink.alarms(output);
        }
        if self.recorder.is_some() && self.gather {
            let now = Instant::now();
            self.outbox.push(now, events, output);
            if self.outbox.is_due(now) {
                self.flush_recorder().await;
            }
        } else if let Some((tx, _)) = &self.recorder
            && !(events.is_empty() && self.samples.is_empty() && output.is_empty())
        {
            let msg = RecordMsg::Batch {
                events,
                samples: crate::pipeline::take_samples(&mut self.samples),
                output: output.clone(),
            };
            if self.lossless {
                let _ = tx.send(msg).await;
            } else if tx.try_send(msg).is_err() {
                pipeline.count_recorder_drop();
                pipeline.set_recording_failed(pipeline.now(), true, output);
            }
        }
        if let Some(h) = &self.headless
            && !output.is_empty()
        {
            h.send(std::mem::take(output), self.lossless).await;
        }
        output.clear();
        self.samples.clear();
    }

    /// Send what the outbox holds to the recorder (awaited: only
    /// `--speed max` sessions, which are lossless, gather products).
    async fn flush_recorder(&mut self) {
        if let (Some((tx, _)), Some(msg)) = (&self.recorder, self.outbox.take()) {
            let _ = tx.send(msg).await;
        }
    }
}

/// A snapshot sent now unless one went out within `gap` (an alarm's
/// [`EVENT_SNAPSHOT_GAP`], `--speed max`'s [`MAX_SPEED_SNAPSHOT_EVERY`]);
/// whether it was sent (if not, the next tick sends it).
fn publish_unless_within(
    gap: Duration,
    snapshot_tx: &watch::Sender<Arc<Snapshot>>,
    pipeline: &mut Pipeline,
    base: &SnapshotBase,
    last_snapshot: &mut Instant,
) -> bool {
    if last_snapshot.elapsed() < gap {
        return false;
    }
    *last_snapshot = Instant::now();
    let _ = snapshot_tx.send(Arc::new(pipeline.snapshot(base)));
    true
}

/// How long the session loop sleeps for an alarm timer due at `due` when
/// the session time is `now` (at least [`MIN_TIMER_WAIT`]).
fn timer_wait(due: SessionTime, now: SessionTime) -> Duration {
    Duration::from_nanos(due.as_nanos().saturating_sub(now.as_nanos())).max(MIN_TIMER_WAIT)
}

/// A run time as session time (see the module doc on `--resume`).
fn shift_time(at: SessionTime, origin: SessionTime) -> SessionTime {
    SessionTime(at.0.saturating_add(origin.0))
}

/// A source's batch, stamped in run time, as session time.
fn shift_batch(batch: &mut Batch, origin: SessionTime) {
    for e in &mut batch.events {
        e.at = shift_time(e.at, origin);
    }
    batch.until = shift_time(batch.until, origin);
}

/// Milliseconds by which wall time runs ahead of monotonic session time.
fn wall_offset_ms(clock: &Clock) -> i64 {
    let Some(now) = clock.now() else { return 0 };
    let wall = chrono::Utc::now() - clock.start_utc();
    wall.num_milliseconds() - i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// SIGTERM, SIGHUP and SIGINT as one stream.
struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    last_was_interrupt: bool,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            last_was_interrupt: false,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => self.last_was_interrupt = false,
            _ = self.hup.recv() => self.last_was_interrupt = false,
            _ = self.int.recv() => self.last_was_interrupt = true,
        }
    }
}

/// The stdout writer thread of headless mode.
struct HeadlessSink {
    tx: mpsc::Sender<HeadlessMsg>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

enum HeadlessMsg {
    Events(Vec<OutputEvent>),
    Line(serde_json::Value),
}

impl HeadlessSink {
    fn start(out: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let (tx, mut rx) = mpsc::channel::<HeadlessMsg>(HEADLESS_CHANNEL_CAPACITY);
        let thread = std::thread::Builder::new().name("vigil-headless".into()).spawn(move || {
            let mut w = HeadlessWriter::new(std::io::BufWriter::new(out));
            while let Some(msg) = rx.blocking_recv() {
                match msg {
                    HeadlessMsg::Events(events) => {
                        for e in &events {
                            w.write_event(e)?;
                            if let OutputEvent::DecodeError { line: Some(line), message, .. } = e {
                                // DESIGN.md: a bad stream line is reported on stderr too.
                                eprintln!("vigil: input line {line}: {message}");
                            }
                        }
                    }
                    HeadlessMsg::Line(v) => w.write_value(&v)?,
                }
                if rx.is_empty() {
                    w.flush()?;
                }
            }
            w.flush()
        })?;
        Ok(Self { tx, thread })
    }

    async fn send(&self, events: Vec<OutputEvent>, lossless: bool) {
        if lossless {
            let _ = self.tx.send(HeadlessMsg::Events(events)).await;
        } else if self.tx.try_send(HeadlessMsg::Events(events)).is_err() {
            tracing::warn!("headless output is not keeping up; lines dropped");
        }
    }

    fn error(&self, at: SessionTime, message: &str) {
        let _ = self.tx.try_send(HeadlessMsg::Line(serde_json::json!({
            "at_ms": at.as_millis(), "type": "decode_error", "message": message,
        })));
    }

    async fn finish(self, summary: serde_json::Value) -> anyhow::Result<()> {
        let _ = self.tx.send(HeadlessMsg::Line(summary)).await;
        drop(self.tx);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the headless writer thread panicked"))?
            .or_else(|e| if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_sleeps_until_the_next_alarm_timer() {
        let now = SessionTime::from_millis(61_250);
        assert_eq!(timer_wait(SessionTime::from_millis(65_000), now), Duration::from_millis(3_750));
        // A deadline just ahead or already past: the shortest wait, so a
        // deadline that stayed past could not spin the loop.
        assert_eq!(timer_wait(SessionTime::from_millis(61_251), now), MIN_TIMER_WAIT);
        assert_eq!(timer_wait(SessionTime::from_millis(60_000), now), MIN_TIMER_WAIT);
    }
}
