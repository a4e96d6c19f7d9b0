//! The running session: its parts are the fields of [`Session`], its
//! events are the methods the loop in [`run`](super::run) calls.

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

use super::resume::{shift_batch, shift_time};
use super::signals::Signals;
use super::sinks::{self, HeadlessSink, Sinks};
use super::{
    ALARM_COMMAND_CAPACITY, EVENT_SNAPSHOT_GAP, EndReason, GAP_THRESHOLD, HEARTBEAT, IDLE_SNAPSHOT_EVERY,
    MAX_SPEED_SNAPSHOT_EVERY, MIN_TIMER_WAIT, SOURCE_CHANNEL_CAPACITY, SOURCE_RESULT_WAIT, SOURCE_STOP_WAIT,
    STALL_AFTER, SessionOutcome, SessionPlan, TICK, UI_CHANNEL_CAPACITY, VIRTUAL_IDLE_SNAPSHOT_EVERY,
};
use crate::alarm_command::{self, AlarmCommand};
use crate::alarms::AlarmEngine;
use crate::clock::{Clock, ClockKind, Speed};
use crate::device_table::DeviceTable;
use crate::model::{Batch, EventBody, OutputEvent, SessionTime, SourceEvent};
use crate::pipeline::{Pipeline, SnapshotBase};
use crate::record::{RecordMsg, Recorder, RecorderHealth};
use crate::snapshot::{ReplayControl, Snapshot, UiCommand};

/// A task the session supervises; what its end means is decided in
/// [`Session::on_task_done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Task {
    Source,
    Dashboard,
    /// `--publish`: its end or failure never ends the session.
    Publisher,
}

/// What an event leaves the loop to do.
pub(super) type Flow = ControlFlow<EndReason>;

/// A session between its start and its end.
pub(super) struct Session {
    pub(super) pipeline: Pipeline,
    clock: Clock,
    /// The session time of this run's zero (a resume's origin).
    origin: SessionTime,
    sinks: Sinks,
    /// Finished after the last products reached it.
    recorder: Option<Recorder>,
    /// Where headless lines go should the dashboard fail.
    headless_out: Option<Box<dyn Write + Send>>,
    pub(super) tasks: JoinSet<(Task, anyhow::Result<()>)>,
    pub(super) batches: mpsc::Receiver<Batch>,
    pub(super) ui: mpsc::Receiver<UiCommand>,
    /// Acknowledgements from a central station (`--publish`).
    pub(super) remote_acks: mpsc::Receiver<crate::mqtt::payload::Ack>,
    pub(super) remote_acks_open: bool,
    snapshots: Publisher,
    replay_control: Option<mpsc::Sender<ReplayControl>>,
    pub(super) signals: Signals,
    pub(super) tick: tokio::time::Interval,
    /// Products of the event being handled (reused).
    output: Vec<OutputEvent>,
    virtual_clock: bool,
    pub(super) max_speed: bool,
    /// Cleared if the screen fails: the session then goes on headless.
    has_dashboard: bool,
    /// Whether the dashboard's command channel is still open.
    pub(super) ui_open: bool,
    pub(super) sources_done: bool,
    last_tick: Instant,
    last_heartbeat: Instant,
    /// Offset of wall time over monotonic session time, to notice suspends
    /// and clock changes under the real clock.
    wall_offset: i64,
    /// A source that fails as a whole (no Bluetooth adapter, an unreadable
    /// stream file) ends the session with its error once the recording is
    /// finished; failures of single sensors are handled inside the source
    /// (reconnects, technical alarms).
    source_error: Option<anyhow::Error>,
}

/// The snapshots the dashboard reads, and their rhythm.
struct Publisher {
    tx: watch::Sender<Arc<Snapshot>>,
    base: SnapshotBase,
    last: Instant,
    /// Whether the pipeline changed since the last snapshot went out.
    unpublished: bool,
    /// Whether every source has ended (the screen says so).
    finished: bool,
}

impl Publisher {
    fn send(&self, pipeline: &mut Pipeline) {
        let mut snap = pipeline.snapshot(&self.base);
        snap.finished = self.finished;
        let _ = self.tx.send(Arc::new(snap));
    }

    /// A snapshot sent now unless one went out within `gap` (an alarm's
    /// [`EVENT_SNAPSHOT_GAP`], `--speed max`'s [`MAX_SPEED_SNAPSHOT_EVERY`]);
    /// if not, the next tick sends it.
    fn send_unless_within(&mut self, gap: Duration, pipeline: &mut Pipeline) {
        if self.last.elapsed() < gap {
            self.unpublished = true;
            return;
        }
        self.last = Instant::now();
        self.unpublished = false;
        self.send(pipeline);
    }
}

impl Session {
    /// Start the recorder, the sinks and the tasks of `plan`.
    pub(super) async fn start(plan: SessionPlan) -> anyhow::Result<Session> {
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
            mut headless_out,
            record,
            resume,
            publish,
        } = plan;
        let virtual_clock = clock.is_virtual();
        let max_speed = matches!(clock.kind(), ClockKind::Virtual(Speed::Max));
        // Session time zero as UTC, and the session time this run starts at.
        let (start_utc, origin) = match &resume {
            Some(r) => (r.start_utc(), r.origin(&clock)),
            None => (clock.start_utc(), SessionTime::ZERO),
        };

        let device_table = DeviceTable::new(config.session.max_devices);
        let mut pipeline = Pipeline::new(AlarmEngine::with_devices(config.alarms.clone(), device_table.clone()));
        for (label, setup) in &devices {
            pipeline.set_device(label, *setup);
        }
        // The recorder starts before anything else: a session that was asked
        // to record is refused at once if the recording is the operator's to
        // fix (locked, a bad participant code); a failing disk instead starts
        // the session unrecorded, with `tech.recording` raised.
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
        let base = SnapshotBase {
            start_utc,
            participant,
            record_dir: recorder.as_ref().filter(|r| r.started()).map(|r| r.dir().to_path_buf()),
            mode,
        };

        let mut tasks = JoinSet::new();
        let (batch_tx, batches) = mpsc::channel::<Batch>(SOURCE_CHANNEL_CAPACITY);
        let source_task = source(batch_tx, clock.clone(), device_table);
        tasks.spawn(async move { (Task::Source, source_task.await) });

        let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(pipeline.snapshot(&base)));
        let (ui_tx, ui) = mpsc::channel::<UiCommand>(UI_CHANNEL_CAPACITY);
        let has_dashboard = dashboard.is_some();
        let headless = match dashboard {
            Some(dashboard) => {
                let task = dashboard(snapshot_rx, ui_tx);
                tasks.spawn(async move { (Task::Dashboard, task.await) });
                None
            }
            None => Some(HeadlessSink::start(headless_out.take().unwrap_or_else(|| Box::new(std::io::stdout())))?),
        };
        let alarm = alarm_command
            .as_deref()
            .map(|c| AlarmCommand::start(c, mpsc::channel(ALARM_COMMAND_CAPACITY), alarm_command::Timing::DEFAULT))
            .transpose()?;
        let mut sinks = Sinks::new(virtual_clock, max_speed, headless, alarm, recorder.as_mut());
        let (remote_acks, remote_acks_open) = match publish {
            Some(options) => {
                let started = crate::mqtt::publish::Start {
                    options,
                    session: crate::mqtt::publish::session_id(base_record_dir(&base)),
                    participant: base.participant.clone(),
                    start_utc,
                    snapshots: snapshot_tx.subscribe(),
                };
                let (bedside, acks, task) = crate::mqtt::publish::Bedside::start(started)?;
                tasks.spawn(async move { (Task::Publisher, task.await) });
                sinks.publish = Some(bedside);
                (acks, true)
            }
            None => (mpsc::channel(1).1, false),
        };

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut session = Session {
            pipeline,
            origin,
            sinks,
            recorder,
            headless_out,
            tasks,
            batches,
            ui,
            remote_acks,
            remote_acks_open,
            snapshots: Publisher { tx: snapshot_tx, base, last: Instant::now(), unpublished: false, finished: false },
            replay_control,
            signals: Signals::new()?,
            tick,
            output,
            virtual_clock,
            max_speed,
            has_dashboard,
            ui_open: has_dashboard,
            sources_done: false,
            last_tick: Instant::now(),
            last_heartbeat: Instant::now(),
            wall_offset: wall_offset_ms(&clock),
            clock,
            source_error: None,
        };
        // A resume's gap reaches the recording and the output before any data.
        session.drain(Vec::new()).await;
        Ok(session)
    }

    /// The session time now, or `None` under a virtual clock.
    fn now(&self) -> Option<SessionTime> {
        self.clock.now().map(|n| shift_time(n, self.origin))
    }

    /// Under the real clock, when the next alarm timer falls due.
    pub(super) fn timer_due(&self) -> Option<tokio::time::Instant> {
        if self.virtual_clock || self.max_speed {
            return None;
        }
        let (due, now) = self.pipeline.next_deadline().zip(self.now())?;
        Some(tokio::time::Instant::now() + timer_wait(due, now))
    }

    async fn drain(&mut self, events: Vec<SourceEvent>) {
        self.sinks.drain(&mut self.pipeline, events, &mut self.output).await;
    }

    /// SIGTERM and SIGHUP end the session cleanly; so does SIGINT when
    /// headless (the dashboard asks for confirmation of Ctrl-C itself).
    pub(super) fn on_signal(&mut self) -> Flow {
        if self.has_dashboard && self.signals.last_was_interrupt {
            return Flow::Continue(());
        }
        Flow::Break(EndReason::Signal)
    }

    /// A source's batch, or (`None`) the end of every source.
    pub(super) async fn on_batch(&mut self, batch: Option<Batch>) -> Flow {
        let Some(mut batch) = batch else { return self.on_sources_done() };
        if self.origin > SessionTime::ZERO {
            shift_batch(&mut batch, self.origin);
        }
        self.pipeline.process(&batch.events, batch.until, self.sinks.samples(), &mut self.output);
        let eventful = !self.output.is_empty();
        self.drain(batch.events).await;
        self.snapshots.unpublished = true;
        // At `--speed max` (no tick) as often as the screen can show;
        // otherwise alarms, connection changes and errors at once, new
        // numbers at the next tick.
        let at_once =
            if self.max_speed { Some(MAX_SPEED_SNAPSHOT_EVERY) } else { eventful.then_some(EVENT_SNAPSHOT_GAP) };
        if let Some(gap) = at_once.filter(|_| self.snapshots_wanted()) {
            self.snapshots.send_unless_within(gap, &mut self.pipeline);
        }
        Flow::Continue(())
    }

    fn on_sources_done(&mut self) -> Flow {
        self.sources_done = true;
        self.snapshots.finished = true;
        if !self.has_dashboard {
            if self.sinks.publish.is_some() {
                // The last vitals show the end of the input.
                self.snapshots.send(&mut self.pipeline);
            }
            return Flow::Break(EndReason::EndOfInput);
        }
        // With a dashboard, the session stays on screen until the operator
        // quits.
        self.snapshots.send(&mut self.pipeline);
        Flow::Continue(())
    }

    /// An operator's command from the dashboard, or (`None`) the dashboard
    /// has ended: its task's result ([`Self::on_task_done`]) says whether
    /// the operator quit or the screen failed.
    pub(super) async fn on_ui_command(&mut self, command: Option<UiCommand>) -> Flow {
        match command {
            Some(UiCommand::Operator(action)) => {
                let at =
                    if self.virtual_clock { self.pipeline.now() } else { self.now().unwrap_or(self.pipeline.now()) };
                self.pipeline.operator(at, &action, self.sinks.samples(), &mut self.output);
                self.drain(Vec::new()).await;
            }
            Some(UiCommand::Replay(control)) => {
                if let Some(tx) = &self.replay_control
                    && tx.try_send(control).is_ok()
                {
                    let base = &mut self.snapshots.base;
                    base.mode = crate::sources::replay::mode_after(base.mode, control);
                }
            }
            Some(UiCommand::SetWindow(window)) => self.pipeline.set_window(window),
            Some(UiCommand::Quit) => return Flow::Break(EndReason::OperatorQuit),
            None => {
                self.ui_open = false;
                return Flow::Continue(());
            }
        }
        self.snapshots.send(&mut self.pipeline);
        Flow::Continue(())
    }

    /// A central station's acknowledgement (`--publish`), or (`None`) the
    /// publisher has ended. Obeyed with `--allow-remote-ack` (recorded with
    /// the station's identity), otherwise recorded as `ack_refused`.
    pub(super) async fn on_remote_ack(&mut self, ack: Option<crate::mqtt::payload::Ack>) -> Flow {
        let Some(ack) = ack else {
            self.remote_acks_open = false;
            return Flow::Continue(());
        };
        let Some(action) = crate::mqtt::publish::remote_action(&ack, self.sinks.allows_remote_ack()) else {
            return Flow::Continue(());
        };
        let at = if self.virtual_clock { self.pipeline.now() } else { self.now().unwrap_or(self.pipeline.now()) };
        self.pipeline.operator(at, &action, self.sinks.samples(), &mut self.output);
        self.drain(Vec::new()).await;
        if self.snapshots_wanted() {
            self.snapshots.send(&mut self.pipeline);
        }
        Flow::Continue(())
    }

    /// Whether anyone reads snapshots: the dashboard, or the publisher's
    /// vitals.
    fn snapshots_wanted(&self) -> bool {
        self.has_dashboard || self.sinks.publish.is_some()
    }

    /// An alarm timer fell due (an onset delay ended, a reading turned
    /// stale, an alarm escalates): served on time, not at the next tick.
    pub(super) async fn on_timer(&mut self) -> Flow {
        let now = self.now().unwrap_or(self.pipeline.now());
        self.pipeline.advance_to(now, &mut self.output);
        let eventful = !self.output.is_empty();
        self.drain(Vec::new()).await;
        if eventful && self.snapshots_wanted() {
            self.snapshots.send_unless_within(EVENT_SNAPSHOT_GAP, &mut self.pipeline);
        }
        Flow::Continue(())
    }

    /// The steady tick (`at` its scheduled instant): clock jumps and
    /// stalls under the real clock, idle snapshots, the alarm command's
    /// heartbeat.
    pub(super) async fn on_tick(&mut self, at: tokio::time::Instant) -> Flow {
        let late = self.last_tick.elapsed();
        self.last_tick = Instant::now();
        if !self.virtual_clock {
            self.check_wall_clock(late).await;
        }
        // The scheduled instant, so idle snapshots keep the ticks' exact
        // rhythm.
        let idle_every = if self.virtual_clock { VIRTUAL_IDLE_SNAPSHOT_EVERY } else { IDLE_SNAPSHOT_EVERY };
        let due = at.into_std().saturating_duration_since(self.snapshots.last) >= idle_every;
        if self.snapshots_wanted() && (self.snapshots.unpublished || due) {
            self.snapshots.unpublished = false;
            self.snapshots.last = at.into_std();
            self.snapshots.send(&mut self.pipeline);
        }
        if let Some(sink) = self.sinks.alarm.as_mut().filter(|_| self.last_heartbeat.elapsed() >= HEARTBEAT) {
            self.last_heartbeat = Instant::now();
            sink.heartbeat(self.pipeline.now());
        }
        Flow::Continue(())
    }

    /// A wall-clock jump is a `gap` (suspend, clock change); a tick `late`
    /// by more than [`STALL_AFTER`] is `tech.stalled`.
    async fn check_wall_clock(&mut self, late: Duration) {
        let now = self.now().unwrap_or(self.pipeline.now());
        let offset = wall_offset_ms(&self.clock);
        let jump = offset - self.wall_offset;
        self.wall_offset = offset;
        if jump.unsigned_abs() >= u64::try_from(GAP_THRESHOLD.as_millis()).unwrap_or(u64::MAX) {
            let duration = Duration::from_millis(jump.unsigned_abs());
            let gap = SourceEvent { at: now, device: None, body: EventBody::Gap { duration } };
            self.pipeline.process(std::slice::from_ref(&gap), now, self.sinks.samples(), &mut self.output);
        }
        self.pipeline.set_stalled(now, late > STALL_AFTER, &mut self.output);
        self.pipeline.advance_to(now, &mut self.output);
        self.snapshots.unpublished |= !self.output.is_empty();
        self.drain(Vec::new()).await;
    }

    /// A supervised task ended: the source failing ends the session (with
    /// its error, once the recording is finished); the dashboard ending
    /// is the operator quitting, or, if it failed, monitoring goes on
    /// headless.
    pub(super) fn on_task_done(&mut self, done: Result<(Task, anyhow::Result<()>), JoinError>) -> Flow {
        match done {
            Ok((Task::Source, Ok(()))) => Flow::Continue(()),
            Ok((Task::Source, Err(e))) => {
                tracing::error!("source failed: {e:#}");
                self.source_error = Some(e);
                Flow::Break(EndReason::EndOfInput)
            }
            Ok((Task::Dashboard, Ok(()))) => Flow::Break(EndReason::OperatorQuit),
            Ok((Task::Publisher, result)) => {
                // Monitoring and local alarms go on without the station.
                if let Err(e) = result {
                    tracing::error!("publishing to the central station failed: {e:#}");
                    if let Some(h) = &self.sinks.headless {
                        h.error(self.pipeline.now(), format!("publishing to the central station failed: {e:#}"));
                    }
                }
                Flow::Continue(())
            }
            Ok((Task::Dashboard, Err(e))) => {
                self.continue_headless(&e);
                if self.sources_done { Flow::Break(EndReason::EndOfInput) } else { Flow::Continue(()) }
            }
            Err(join) => {
                tracing::error!("task panicked: {join}");
                Flow::Continue(())
            }
        }
    }

    /// The screen failed (terminal gone, a drawing error): alarms must go
    /// on. Monitoring continues headless — alarm lines on stdout, the alarm
    /// command and the recording as before — until the input ends or a
    /// signal stops it.
    fn continue_headless(&mut self, e: &anyhow::Error) {
        tracing::error!("dashboard failed: {e:#}");
        eprintln!("vigil: the dashboard failed ({e:#}); monitoring continues headless, stop with Ctrl-C");
        self.has_dashboard = false;
        let out = self.headless_out.take().unwrap_or_else(|| Box::new(std::io::stdout()));
        match HeadlessSink::start(out) {
            Ok(h) => self.sinks.headless = Some(h),
            Err(e) => tracing::error!("cannot start headless output: {e}"),
        }
        if let Some(h) = &self.sinks.headless {
            h.error(self.pipeline.now(), format!("dashboard failed: {e:#}"));
        }
    }

    /// End the session for `reason`: fire what is due by the end, close the
    /// sinks in order (recording, alarm command, headless summary) and
    /// report a source's failure after the recording is finished.
    pub(super) async fn finish(mut self, reason: EndReason) -> anyhow::Result<SessionOutcome> {
        // The input ended: the source task has returned or is returning;
        // take its result so a failed source (no adapter, unreadable file)
        // is not mistaken for the end of input.
        if reason == EndReason::EndOfInput && self.source_error.is_none() {
            let tasks = &mut self.tasks;
            let wait = tokio::time::timeout(SOURCE_RESULT_WAIT, async {
                while let Some(done) = tasks.join_next().await {
                    if let Ok((Task::Source, result)) = done {
                        return result.err();
                    }
                }
                None
            });
            self.source_error = wait.await.ok().flatten();
        }

        let end = self.pipeline.now();
        self.pipeline.advance_to(end, &mut self.output);
        self.sinks.lossless = true;
        self.drain(Vec::new()).await;
        self.sinks.flush_recorder().await;
        if let Some(bedside) = &self.sinks.publish {
            // Deliver what is queued and say `stopped`, within a bound.
            bedside.stop().await;
            let tasks = &mut self.tasks;
            let _ = tokio::time::timeout(crate::mqtt::publish::STOP_WAIT, async {
                while let Some(done) = tasks.join_next().await {
                    if matches!(done, Ok((Task::Publisher, _))) {
                        break;
                    }
                }
            })
            .await;
        }
        if reason != EndReason::EndOfInput {
            // The source is told the session is over (its channel closes)
            // and given a bounded time to stop what it started on the
            // sensors.
            self.batches.close();
            let tasks = &mut self.tasks;
            let _ = tokio::time::timeout(SOURCE_STOP_WAIT, async {
                while let Some(done) = tasks.join_next().await {
                    if matches!(done, Ok((Task::Source, _))) {
                        break;
                    }
                }
            })
            .await;
        }
        self.tasks.abort_all();
        let Session { mut pipeline, sinks, recorder, source_error, .. } = self;
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
            let stopped = crate::headless::Line {
                at_ms: end.as_millis(),
                body: crate::headless::Body::MonitoringStopped { reason: reason.as_str() },
            };
            let missed = a.finish(stopped.to_value()).await;
            pipeline.set_alarm_command_missed(missed);
        }
        let mut totals = pipeline.totals();
        // The recorder's last count, once it has drained everything it was
        // sent.
        if let Some(RecorderHealth::Failed { not_recorded, .. }) = recorder_health.as_ref().map(|h| h.borrow().clone())
        {
            totals.counters.not_recorded = not_recorded;
        }
        if let Some(h) = headless {
            h.finish(end, sinks::summary(end, &totals)).await?;
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
}

fn base_record_dir(base: &SnapshotBase) -> Option<&std::path::PathBuf> {
    base.record_dir.as_ref()
}

/// How long the session loop sleeps for an alarm timer due at `due` when
/// the session time is `now` (at least [`MIN_TIMER_WAIT`]).
fn timer_wait(due: SessionTime, now: SessionTime) -> Duration {
    Duration::from_nanos(due.as_nanos().saturating_sub(now.as_nanos())).max(MIN_TIMER_WAIT)
}

/// Milliseconds by which wall time runs ahead of monotonic session time.
fn wall_offset_ms(clock: &Clock) -> i64 {
    let Some(now) = clock.now() else { return 0 };
    let wall = chrono::Utc::now() - clock.start_utc();
    wall.num_milliseconds() - i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{DashboardFactory, SourceFactory, SourceTask};

    #[test]
    fn the_loop_sleeps_until_the_next_alarm_timer() {
        let now = SessionTime::from_millis(61_250);
        assert_eq!(timer_wait(SessionTime::from_millis(65_000), now), Duration::from_millis(3_750));
        // A deadline just ahead or already past: the shortest wait, so a
        // deadline that stayed past could not spin the loop.
        assert_eq!(timer_wait(SessionTime::from_millis(61_251), now), MIN_TIMER_WAIT);
        assert_eq!(timer_wait(SessionTime::from_millis(60_000), now), MIN_TIMER_WAIT);
    }

    /// A session on a virtual clock whose source sends nothing and whose
    /// dashboard never ends by itself, headless lines going to `out`. Each
    /// test calls the event methods itself, as the loop would.
    async fn started(with_dashboard: bool, out: SharedBuf) -> Session {
        let dashboard = with_dashboard.then(|| {
            Box::new(|_snapshots, _commands| Box::pin(std::future::pending()) as SourceTask) as DashboardFactory
        });
        started_with(dashboard, out).await
    }

    async fn started_with(dashboard: Option<DashboardFactory>, out: SharedBuf) -> Session {
        let source: SourceFactory = Box::new(|_tx, _clock, _devices| Box::pin(async { Ok(()) }));
        let plan = SessionPlan {
            clock: Clock::virtual_at(Speed::Max, chrono::Utc::now()),
            source,
            mode: crate::snapshot::Mode::Simulated,
            config: crate::config::Config::default(),
            participant: None,
            devices: Vec::new(),
            dashboard,
            alarm_command: None,
            replay_control: None,
            headless_out: Some(Box::new(out)),
            record: None,
            resume: None,
            publish: None,
        };
        Session::start(plan).await.unwrap()
    }

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn ctrl_c_is_the_dashboards_to_confirm_and_any_other_signal_ends_the_session() {
        let mut s = started(true, SharedBuf::default()).await;
        s.signals.last_was_interrupt = true;
        assert_eq!(s.on_signal(), Flow::Continue(()), "the dashboard asks before Ctrl-C ends monitoring");
        s.signals.last_was_interrupt = false;
        assert_eq!(s.on_signal(), Flow::Break(EndReason::Signal), "SIGTERM and SIGHUP end it at once");

        let mut headless = started(false, SharedBuf::default()).await;
        headless.signals.last_was_interrupt = true;
        assert_eq!(headless.on_signal(), Flow::Break(EndReason::Signal), "headless, Ctrl-C ends it");
    }

    #[tokio::test]
    async fn a_failed_dashboard_leaves_the_session_headless_and_says_so() {
        let out = SharedBuf::default();
        let mut s = started(true, out.clone()).await;
        let failed = Ok((Task::Dashboard, Err(anyhow::anyhow!("terminal went away"))));
        assert_eq!(s.on_task_done(failed), Flow::Continue(()), "monitoring goes on while input remains");
        assert!(!s.has_dashboard && s.sinks.headless.is_some());
        // The closed command channel is not a quit.
        assert_eq!(s.on_ui_command(None).await, Flow::Continue(()));
        assert!(!s.ui_open);
        // The input ending now ends the session, as a headless one does.
        assert_eq!(s.on_batch(None).await, Flow::Break(EndReason::EndOfInput));
        let outcome = s.finish(EndReason::EndOfInput).await.unwrap();
        assert_eq!(outcome.reason, EndReason::EndOfInput);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let types: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(types, ["decode_error", "summary"], "{text}");
        assert!(text.contains("dashboard failed: terminal went away"), "{text}");
    }

    #[tokio::test]
    async fn a_dashboard_that_ends_well_is_the_operator_quitting() {
        let mut s = started(true, SharedBuf::default()).await;
        assert_eq!(s.on_task_done(Ok((Task::Dashboard, Ok(())))), Flow::Break(EndReason::OperatorQuit));
        let mut s = started(true, SharedBuf::default()).await;
        assert_eq!(s.on_ui_command(Some(UiCommand::Quit)).await, Flow::Break(EndReason::OperatorQuit));
    }

    #[tokio::test]
    async fn a_source_that_fails_ends_the_session_with_its_error() {
        let mut s = started(false, SharedBuf::default()).await;
        assert_eq!(s.on_task_done(Ok((Task::Source, Ok(())))), Flow::Continue(()), "its batches may still be queued");
        let failed = Ok((Task::Source, Err(anyhow::anyhow!("no Bluetooth adapter"))));
        assert_eq!(s.on_task_done(failed), Flow::Break(EndReason::EndOfInput));
        let e = s.finish(EndReason::EndOfInput).await.unwrap_err();
        assert_eq!(e.to_string(), "no Bluetooth adapter");
    }

    #[tokio::test]
    async fn an_ended_session_stays_ended_on_screen_when_the_operator_acts() {
        let (tx, rx) = std::sync::mpsc::channel();
        let dashboard: DashboardFactory = Box::new(move |snapshots, _commands| {
            tx.send(snapshots).unwrap();
            Box::pin(std::future::pending())
        });
        let mut s = started_with(Some(dashboard), SharedBuf::default()).await;
        let snapshots = rx.recv().unwrap();
        assert_eq!(s.on_batch(None).await, Flow::Continue(()), "the screen stays until the operator quits");
        assert!(snapshots.borrow().finished);
        assert_eq!(s.on_ui_command(Some(UiCommand::SetWindow(Duration::from_secs(60)))).await, Flow::Continue(()));
        assert!(snapshots.borrow().finished, "the header keeps ENDED after a key");
    }
}
