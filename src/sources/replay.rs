//! Replay source: a recording's raw notifications, connection changes,
//! operator actions, bad stream lines and gaps, fed back as [`Batch`]es in
//! time order, so the same decoders and alarm engine run again.
//!
//! What is fed back, from which file:
//! - `notifications.arrow`: every row, as `EventBody::Notification`;
//! - `events.arrow`: `connection` rows (`Connected` / `Disconnected`),
//!   `operator` rows (the action parsed back from `text`), `decode_error`
//!   rows that carry a stream line number (`BadInput`, so a replay's headless
//!   lines match the live run's) and `gap` rows. Alarm rows and payload
//!   decode errors are not fed back: the pipeline makes them again.
//! - `session.json`: a `DeviceInfo` event right after each device's first
//!   connection, where model, firmware or manufacturer are known.
//!
//! Events with the same time keep this order: connections and device info,
//! then operator actions, bad lines and gaps, then notifications, then
//! disconnections (the order a live source produces them in).

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::clock::{Clock, ClockKind, Speed};
use crate::model::{Batch, ConnectionChange, DeviceInfo, EventBody, OutputEvent, SessionTime, SourceEvent};
use crate::record::{ReadError, Recording};
use crate::snapshot::{Mode, ReplayControl};

/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 1024;

/// At a finite speed, a batch spans at most this much wall time, so the
/// pipeline sees events close to when they are due.
const PACED_BATCH_WALL: Duration = Duration::from_millis(50);

/// Bounds of `Faster` / `Slower`.
const MIN_SPEED: f64 = 1.0 / 16.0;
const MAX_SPEED: f64 = 4096.0;

/// The replay speed after `Faster` or `Slower` (other controls keep it).
#[must_use]
pub fn changed_speed(speed: f64, control: ReplayControl) -> f64 {
    match control {
        ReplayControl::Faster => (speed * 2.0).clamp(MIN_SPEED, MAX_SPEED),
        ReplayControl::Slower => (speed / 2.0).clamp(MIN_SPEED, MAX_SPEED),
        ReplayControl::TogglePause | ReplayControl::NextMark => speed,
    }
}

/// The transport state the dashboard shows: at the start of a replay at
/// `speed` (`max` shows as an infinite speed, which controls cannot
/// change, as the pacer ignores them there).
#[must_use]
pub fn initial_mode(speed: Speed) -> Mode {
    let speed = match speed {
        Speed::Times(x) => x,
        Speed::Max => f64::INFINITY,
    };
    Mode::Replay { paused: false, speed }
}

/// The transport state after the operator's `control`, by the pacer's
/// own rules.
#[must_use]
pub fn mode_after(mode: Mode, control: ReplayControl) -> Mode {
    match mode {
        Mode::Replay { paused, speed } => Mode::Replay {
            paused: paused ^ (control == ReplayControl::TogglePause),
            speed: if speed.is_finite() { changed_speed(speed, control) } else { speed },
        },
        other => other,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub batches: u64,
    pub events: u64,
    pub notifications: u64,
    /// Session time the replay reached (the recording's end if complete).
    pub reached: SessionTime,
    /// False when the pipeline stopped listening before the end.
    pub complete: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The recording's source events in time order, unpaced, in batches of at
/// most [`MAX_BATCH_EVENTS`]; the last batch's `until` is the recording's
/// end, so timers run to where the live session stopped.
pub fn batches(recording: &Recording) -> Result<impl Iterator<Item = Batch>, ReadError> {
    let end = recording.end()?;
    let mut events = Merged::new(recording)?;
    let mut done = false;
    Ok(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut batch = Batch { events: Vec::with_capacity(MAX_BATCH_EVENTS), until: SessionTime::ZERO };
        for e in events.by_ref() {
            batch.until = e.at;
            batch.events.push(e);
            if batch.events.len() == MAX_BATCH_EVENTS {
                return Some(batch);
            }
        }
        done = true;
        batch.until = batch.until.max(end);
        Some(batch)
    }))
}

/// Replay paced by `clock`, obeying `control` between batches.
pub async fn run(
    recording: &Recording,
    clock: Clock,
    tx: mpsc::Sender<Batch>,
    mut control: mpsc::Receiver<ReplayControl>,
) -> Result<ReplayStats, ReplayError> {
    let end = recording.end()?;
    let marks = marks(recording)?;
    let mut events = Merged::new(recording)?.peekable();
    let mut pacer = Pacer::new(&clock);
    let mut stats = ReplayStats::default();
    let mut control_open = true;
    loop {
        // Controls first, between batches.
        while control_open {
            match control.try_recv() {
                Ok(c) => pacer.apply(c, stats.reached, &marks),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => control_open = false,
            }
        }
        while pacer.paused && control_open {
            match control.recv().await {
                Some(c) => pacer.apply(c, stats.reached, &marks),
                None => {
                    control_open = false;
                    pacer.resume(stats.reached);
                }
            }
        }

        let Some(first) = events.next() else { break };
        let span = pacer.batch_span();
        let limit = first.at.saturating_add(span);
        let mut batch = Batch { until: first.at, events: vec![first] };
        while batch.events.len() < MAX_BATCH_EVENTS
            && let Some(e) = events.next_if(|e| e.at <= limit && !pacer.crosses_skip(e.at))
        {
            batch.until = e.at;
            batch.events.push(e);
        }
        if events.peek().is_none() {
            batch.until = batch.until.max(end);
        }

        // Wait until the batch's last event is due; a control arriving
        // meanwhile is handled now, and the wait starts again.
        let due = batch.events.last().map_or(batch.until, |e| e.at);
        while let Some(deadline) = pacer.deadline(due) {
            if !control_open {
                tokio::time::sleep_until(deadline).await;
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                c = control.recv() => match c {
                    Some(c) => {
                        pacer.apply(c, stats.reached, &marks);
                        while pacer.paused {
                            match control.recv().await {
                                Some(c) => pacer.apply(c, stats.reached, &marks),
                                None => { control_open = false; pacer.resume(stats.reached); }
                            }
                        }
                    }
                    None => control_open = false,
                },
            }
        }
        pacer.passed(due);

        stats.batches += 1;
        stats.events += batch.events.len() as u64;
        stats.notifications +=
            batch.events.iter().filter(|e| matches!(e.body, EventBody::Notification { .. })).count() as u64;
        stats.reached = batch.until;
        if tx.send(batch).await.is_err() {
            return Ok(stats);
        }
    }
    stats.complete = true;
    Ok(stats)
}

/// Session times a `NextMark` jumps to: alarms becoming active or escalating,
/// and markers.
fn marks(recording: &Recording) -> Result<Vec<SessionTime>, ReadError> {
    let mut marks: Vec<SessionTime> = recording
        .events()?
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Alarm(a)
                if matches!(a.state, crate::model::AlarmState::Active | crate::model::AlarmState::Escalated) =>
            {
                Some(a.at)
            }
            OutputEvent::Operator { at, action: crate::model::OperatorAction::Marker(_) } => Some(*at),
            _ => None,
        })
        .collect();
    marks.sort_unstable();
    marks.dedup();
    Ok(marks)
}

/// Wall-clock pacing on tokio's clock (so tests can pause it), anchored
/// where the session's clock stood when the replay started: the deadlines are
/// the ones `clock.sleep_until` would wait for. Each speed change, pause or
/// jump moves the anchor.
#[derive(Debug)]
struct Pacer {
    /// `None`: `--speed max`.
    speed: Option<f64>,
    /// (wall, session time) that correspond.
    anchor: (Instant, SessionTime),
    paused: bool,
    /// Deliver without waiting until this session time (`NextMark`).
    skip_until: Option<SessionTime>,
}

impl Pacer {
    fn new(clock: &Clock) -> Self {
        let speed = match clock.kind() {
            ClockKind::Real => Some(1.0),
            ClockKind::Virtual(Speed::Times(x)) => Some(x),
            ClockKind::Virtual(Speed::Max) => None,
        };
        let anchor = (Instant::now(), clock.now().unwrap_or(SessionTime::ZERO));
        Pacer { speed, anchor, paused: false, skip_until: None }
    }

    fn batch_span(&self) -> Duration {
        match self.speed {
            None => Duration::MAX,
            Some(x) => PACED_BATCH_WALL.mul_f64(x),
        }
    }

    /// An event at `at` lies beyond a pending skip target (a batch must stop
    /// there so pacing resumes at the mark).
    fn crosses_skip(&self, at: SessionTime) -> bool {
        self.skip_until.is_some_and(|s| at > s)
    }

    fn deadline(&self, at: SessionTime) -> Option<Instant> {
        let speed = self.speed?;
        if self.skip_until.is_some_and(|s| at <= s) {
            return None;
        }
        let (wall, from) = self.anchor;
        Some(wall + at.since(from).div_f64(speed))
    }

    fn passed(&mut self, at: SessionTime) {
        if let Some(s) = self.skip_until
            && at >= s
        {
            self.skip_until = None;
            self.anchor = (Instant::now(), at);
        }
    }

    fn resume(&mut self, at: SessionTime) {
        self.paused = false;
        self.anchor = (Instant::now(), at);
    }

    fn apply(&mut self, c: ReplayControl, at: SessionTime, marks: &[SessionTime]) {
        match c {
            ReplayControl::TogglePause => {
                if self.paused {
                    self.resume(at);
                } else {
                    self.paused = true;
                }
            }
            ReplayControl::Faster | ReplayControl::Slower => {
                if let Some(x) = self.speed {
                    self.speed = Some(changed_speed(x, c));
                    self.anchor = (Instant::now(), at);
                }
            }
            ReplayControl::NextMark => {
                if let Some(next) = marks.iter().find(|m| **m > at) {
                    self.skip_until = Some(*next);
                }
            }
        }
    }
}

/// Notifications and side events merged in time order, read lazily.
struct Merged {
    notifications: Notifications,
    side: std::vec::IntoIter<(SessionTime, u8, SourceEvent)>,
    next_note: Option<SourceEvent>,
    next_side: Option<(SessionTime, u8, SourceEvent)>,
}

/// Rank among events with the same time (see the module doc).
const RANK_CONNECT: u8 = 0;
const RANK_ACTION: u8 = 1;
const RANK_NOTIFICATION: u8 = 2;
const RANK_DISCONNECT: u8 = 3;

impl Merged {
    fn new(recording: &Recording) -> Result<Merged, ReadError> {
        let mut side = Vec::new();
        let mut seen = HashSet::new();
        for e in recording.events()? {
            let (at, rank, device, body) = match e {
                OutputEvent::Connection { at, device, change } => match change {
                    ConnectionChange::Connected { name, address, services } => {
                        let first = seen.insert(device.clone());
                        side.push((
                            at,
                            RANK_CONNECT,
                            SourceEvent {
                                at,
                                device: Some(device.clone()),
                                body: EventBody::Connected { name, address, services },
                            },
                        ));
                        if first && let Some(d) = recording.meta.devices.get(&*device) {
                            let info = d.info.clone();
                            if info != DeviceInfo::default() {
                                side.push((
                                    at,
                                    RANK_CONNECT,
                                    SourceEvent { at, device: Some(device), body: EventBody::DeviceInfo(info) },
                                ));
                            }
                        }
                        continue;
                    }
                    ConnectionChange::Disconnected { reason } => {
                        (at, RANK_DISCONNECT, Some(device), EventBody::Disconnected { reason })
                    }
                },
                OutputEvent::Operator { at, action } => {
                    let device = match &action {
                        crate::model::OperatorAction::Ack { device, .. }
                        | crate::model::OperatorAction::RemoteAck { device, .. }
                        | crate::model::OperatorAction::AckRefused { device, .. }
                        | crate::model::OperatorAction::Baseline { device } => {
                            device.as_deref().map(crate::model::DeviceLabel::from)
                        }
                        _ => None,
                    };
                    (at, RANK_ACTION, device, EventBody::Operator(action))
                }
                OutputEvent::DecodeError { at, device, line: Some(line), message, .. } => {
                    (at, RANK_ACTION, device, EventBody::BadInput { line, message })
                }
                OutputEvent::Gap { at, duration } => (at, RANK_ACTION, None, EventBody::Gap { duration }),
                OutputEvent::Alarm(_) | OutputEvent::DecodeError { .. } => continue,
            };
            side.push((at, rank, SourceEvent { at, device, body }));
        }
        side.sort_by_key(|(at, rank, _)| (*at, *rank));
        let mut notifications = Notifications::new(recording)?;
        let next_note = notifications.next();
        let mut side = side.into_iter();
        let next_side = side.next();
        Ok(Merged { notifications, side, next_note, next_side })
    }
}

impl Iterator for Merged {
    type Item = SourceEvent;

    fn next(&mut self) -> Option<SourceEvent> {
        let side_first = match (&self.next_note, &self.next_side) {
            (None, None) => return None,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(n), Some((at, rank, _))) => (*at, *rank) < (n.at, RANK_NOTIFICATION),
        };
        if side_first {
            let (_, _, e) = std::mem::replace(&mut self.next_side, self.side.next())?;
            Some(e)
        } else {
            std::mem::replace(&mut self.next_note, self.notifications.next())
        }
    }
}

/// Notification rows decoded a slice at a time, so a long recording never
/// exists as one big vector of events.
struct Notifications {
    batches: std::vec::IntoIter<arrow_array::RecordBatch>,
    current: Option<(arrow_array::RecordBatch, usize)>,
    decoded: std::vec::IntoIter<crate::record::RecordedNotification>,
    labels: crate::record::Labels,
    start_ns: i64,
}

const DECODE_ROWS: usize = 4096;

impl Notifications {
    fn new(recording: &Recording) -> Result<Notifications, ReadError> {
        // Rows that would not decode are taken out before replay starts (and
        // counted in the recording's damage), so it never stops half way.
        // Checked, not decoded: the rows are decoded as the replay goes.
        let batches = recording.notification_batches()?;
        Ok(Notifications {
            batches: batches.into_iter(),
            current: None,
            decoded: Vec::new().into_iter(),
            labels: crate::record::Labels::default(),
            start_ns: recording.start_ns(),
        })
    }
}

impl Iterator for Notifications {
    type Item = SourceEvent;

    fn next(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(n) = self.decoded.next() {
                return Some(SourceEvent {
                    at: n.at,
                    device: Some(n.device),
                    body: EventBody::Notification { characteristic: n.characteristic, payload: n.payload },
                });
            }
            let (batch, off) = match self.current.take() {
                Some((b, off)) if off < b.num_rows() => (b, off),
                _ => (self.batches.next()?, 0),
            };
            let len = DECODE_ROWS.min(batch.num_rows() - off);
            let mut out = Vec::with_capacity(len);
            // Checked in `new`: cannot fail here.
            let _ =
                crate::record::decode_notifications(&batch.slice(off, len), self.start_ns, &mut self.labels, &mut out);
            self.decoded = out.into_iter();
            self.current = Some((batch, off + len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the header shows follows the operator's controls by the
    /// pacer's rules: pause toggles, speed doubles and halves within the
    /// bounds, and `max` stays `max`.
    #[test]
    fn transport_state_follows_the_controls() {
        let start = initial_mode(Speed::Times(4.0));
        assert_eq!(start, Mode::Replay { paused: false, speed: 4.0 });
        let paused = mode_after(start, ReplayControl::TogglePause);
        assert_eq!(paused, Mode::Replay { paused: true, speed: 4.0 });
        assert_eq!(mode_after(paused, ReplayControl::Faster), Mode::Replay { paused: true, speed: 8.0 });
        assert_eq!(mode_after(start, ReplayControl::Slower), Mode::Replay { paused: false, speed: 2.0 });
        assert_eq!(mode_after(start, ReplayControl::NextMark), start);
        let fastest = Mode::Replay { paused: false, speed: MAX_SPEED };
        assert_eq!(mode_after(fastest, ReplayControl::Faster), fastest);
        let max = initial_mode(Speed::Max);
        assert_eq!(mode_after(max, ReplayControl::Slower), max);
        assert_eq!(mode_after(Mode::Live, ReplayControl::TogglePause), Mode::Live);
    }
}
