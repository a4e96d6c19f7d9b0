//! Where the pipeline's products go: the recorder, the headless writer
//! thread and the alarm command (see the [module doc](super) on
//! backpressure).

use std::io::Write;
use std::time::Instant;

use tokio::sync::{mpsc, watch};

use super::HEADLESS_CHANNEL_CAPACITY;
use crate::alarm_command::AlarmCommand;
use crate::headless::{self, HeadlessWriter, Line};
use crate::model::{OutputEvent, Sample, SessionTime, SourceEvent};
use crate::pipeline::{Pipeline, Totals};
use crate::record::{Outbox, RecordMsg, Recorder, RecorderHealth};

/// The sinks of the pipeline loop.
pub(super) struct Sinks {
    /// Await every sink (virtual clock) instead of `try_send` (real clock).
    pub(super) lossless: bool,
    pub(super) headless: Option<HeadlessSink>,
    pub(super) alarm: Option<AlarmCommand>,
    /// `--publish`: the central station's copy.
    pub(super) publish: Option<crate::mqtt::publish::Bedside>,
    pub(super) recorder: Option<(mpsc::Sender<RecordMsg>, watch::Receiver<RecorderHealth>)>,
    /// Gather recorder products in `outbox` (`--speed max` only: there a
    /// batch takes microseconds of wall time, so gathering delays nothing a
    /// crash could lose; a paced or live session sends each batch at once).
    gather: bool,
    outbox: Outbox,
    /// The pipeline's sample buffer when nothing is gathered (reused: it
    /// keeps its capacity).
    samples: Vec<Sample>,
}

impl Sinks {
    pub(super) fn new(
        lossless: bool,
        gather: bool,
        headless: Option<HeadlessSink>,
        alarm: Option<AlarmCommand>,
        recorder: Option<&mut Recorder>,
    ) -> Self {
        let (link, outbox) = match recorder {
            Some(r) => {
                let outbox = match r.take_sample_returns() {
                    Some(returns) => Outbox::with_returns(returns),
                    None => Outbox::default(),
                };
                (Some((r.sender(), r.health())), outbox)
            }
            None => (None, Outbox::default()),
        };
        Self {
            lossless,
            headless,
            alarm,
            publish: None,
            recorder: link,
            gather,
            outbox,
            samples: Vec::with_capacity(4096),
        }
    }

    pub(super) fn allows_remote_ack(&self) -> bool {
        self.publish.as_ref().is_some_and(crate::mqtt::publish::Bedside::allows_remote_ack)
    }

    /// Where the pipeline puts the next batch's samples: straight into the
    /// outbox when gathering, so a sample is never copied on this thread.
    pub(super) fn samples(&mut self) -> &mut Vec<Sample> {
        if self.recorder.is_some() && self.gather { self.outbox.samples() } else { &mut self.samples }
    }

    /// Hand one batch's products to the sinks and watch the recorder's
    /// health (a failure raises `tech.recording`; monitoring goes on).
    pub(super) async fn drain(
        &mut self,
        pipeline: &mut Pipeline,
        events: Vec<SourceEvent>,
        output: &mut Vec<OutputEvent>,
    ) {
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
        if let Some(bedside) = &mut self.publish {
            if let Some((link, overflowing)) = bedside.changed() {
                pipeline.set_network(pipeline.now(), link, overflowing, output);
            }
            // Never waits, under any clock: the station's copy must not
            // slow the bedside.
            bedside.output(output, || pipeline.alarm_statuses());
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
    pub(super) async fn flush_recorder(&mut self) {
        if let (Some((tx, _)), Some(msg)) = (&self.recorder, self.outbox.take()) {
            let _ = tx.send(msg).await;
        }
    }
}

/// The summary line's counts, from the pipeline's totals.
pub(super) fn summary(end: SessionTime, totals: &Totals) -> headless::Summary {
    let c = &totals.counters;
    let [low, medium, high] = totals.alarms;
    headless::Summary {
        duration_ms: end.as_millis(),
        notifications: c.notifications,
        samples: c.samples,
        alarms: headless::ByPriority { low, medium, high },
        decode_errors: c.decode_errors,
        skipped_lines: c.bad_lines,
        drops: c.recorder_drops,
        alarm_command_missed: c.alarm_command_missed,
        not_recorded: headless::NotRecorded {
            notifications: c.not_recorded.notifications,
            samples: c.not_recorded.samples,
            events: c.not_recorded.events,
        },
        network_dropped: c.network.map(|n| n.dropped),
    }
}

/// The stdout writer thread of headless mode: a blocking `write` to a slow
/// pipe must never stall the pipeline loop.
pub(super) struct HeadlessSink {
    tx: mpsc::Sender<HeadlessMsg>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

enum HeadlessMsg {
    Events(Vec<OutputEvent>),
    Error { at: SessionTime, message: String },
    Summary { end: SessionTime, summary: headless::Summary },
}

impl HeadlessSink {
    pub(super) fn start(out: Box<dyn Write + Send>) -> std::io::Result<Self> {
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
                    HeadlessMsg::Error { at, message } => w.write_line(&Line::error(at, &message))?,
                    HeadlessMsg::Summary { end, summary } => w.write_line(&Line::summary(end, &summary))?,
                }
                if rx.is_empty() {
                    w.flush()?;
                }
            }
            w.flush()
        })?;
        Ok(Self { tx, thread })
    }

    pub(super) async fn send(&self, events: Vec<OutputEvent>, lossless: bool) {
        if lossless {
            let _ = self.tx.send(HeadlessMsg::Events(events)).await;
        } else if self.tx.try_send(HeadlessMsg::Events(events)).is_err() {
            tracing::warn!("headless output is not keeping up; lines dropped");
        }
    }

    pub(super) fn error(&self, at: SessionTime, message: String) {
        let _ = self.tx.try_send(HeadlessMsg::Error { at, message });
    }

    pub(super) async fn finish(self, end: SessionTime, summary: headless::Summary) -> anyhow::Result<()> {
        let _ = self.tx.send(HeadlessMsg::Summary { end, summary }).await;
        drop(self.tx);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the headless writer thread panicked"))?
            .or_else(|e| if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) })?;
        Ok(())
    }
}
