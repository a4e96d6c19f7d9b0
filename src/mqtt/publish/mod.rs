//! The bedside publisher (`--publish`, docs/mqtt.md): a session task that
//! sends this room's status, vitals, alarm transitions and events to an
//! MQTT 5 broker for `vigil central`, and hands the station's
//! acknowledgements back to the session.
//!
//! The bedside never waits on the network. The session gives the publisher
//! its alarm transitions and events with `try_send` ([`Bedside::output`]),
//! and the publisher reads vitals from the dashboard's snapshot channel. The
//! publisher task ([`link`]) keeps QoS 1 messages in a bounded queue while
//! the broker is away and delivers them in order once it is back; what the
//! full queue drops is counted and raises `tech.network`.
//!
//! Sequence numbers and the alarm picture (`alarm_state`, from the alarm
//! engine's own list) are made here, on the session's side, so a message
//! lost anywhere shows as a gap in `seq` and the retained `alarm_state` is
//! always the bedside's own.

mod link;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{mpsc, watch};

use super::connect::{BrokerUrl, DEFAULT_KEEP_ALIVE, Security};
use super::payload::{self, ActiveAlarm, AlarmState, AlarmTransition, Event, VERSION};
use crate::model::{AlarmStatus, Condition, OperatorAction, OutputEvent, SessionTime};
use crate::snapshot::{NetworkLink, ReadingStatus, Snapshot};

/// QoS 1 messages (alarm transitions, events) kept while the broker is
/// away: minutes of a busy session's transitions.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Vitals are published this often, in wall-clock time whatever `--speed`.
pub const VITALS_EVERY: Duration = Duration::from_secs(1);
/// MQTT 5 message expiry of `vitals`: a retained picture older than this is
/// not delivered to a station that subscribes later.
pub const VITALS_EXPIRY: Duration = Duration::from_secs(10);
/// First wait before reconnecting; it doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Station acknowledgements waiting for the session (an operator's pace).
pub const REMOTE_ACK_CAPACITY: usize = 16;
/// How long the end of a session waits for the publisher to deliver what
/// it holds and say `stopped`; a broker that is away cannot hold the
/// session's end.
pub const STOP_WAIT: Duration = Duration::from_secs(3);

/// Where and how to publish (`--publish` and its flags).
#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub url: BrokerUrl,
    pub site: String,
    pub room: String,
    pub allow_remote_ack: bool,
    pub keep_alive: Duration,
    pub security: Security,
    queue_capacity: usize,
}

impl PublishOptions {
    /// Publish to `url` as `site`/`room` (names checked by
    /// [`super::topic::check_name`]), with the default keep-alive, no login
    /// and remote acknowledgements refused.
    #[must_use]
    pub fn new(url: BrokerUrl, site: &str, room: &str) -> Self {
        Self {
            url,
            site: site.to_owned(),
            room: room.to_owned(),
            allow_remote_ack: false,
            keep_alive: DEFAULT_KEEP_ALIVE,
            security: Security::default(),
            queue_capacity: QUEUE_CAPACITY,
        }
    }

    /// The same with a queue of `capacity` messages instead of
    /// [`QUEUE_CAPACITY`] (tests of the overflow).
    #[doc(hidden)]
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }
}

/// What the session hands the publisher task.
#[derive(Debug)]
enum Outbound {
    Alarm(AlarmTransition),
    Event(Event),
    /// The alarm picture after the messages before it.
    State(AlarmState),
    /// The session ends cleanly: deliver what is queued, say `stopped`,
    /// disconnect so no Last Will fires.
    Stop,
}

/// The link's state as the publisher task reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Health {
    link: NetworkLink,
    /// The queue dropped messages and has not yet delivered its backlog.
    overflowing: bool,
}

/// What the publisher task needs to start.
#[derive(Debug)]
pub struct Start {
    pub options: PublishOptions,
    /// The recording's id, or a fresh one.
    pub session: String,
    pub participant: Option<String>,
    pub start_utc: DateTime<Utc>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
}

/// The session's end of the publisher.
#[derive(Debug)]
pub struct Bedside {
    tx: mpsc::Sender<Outbound>,
    health: watch::Receiver<Health>,
    session: String,
    start_utc: DateTime<Utc>,
    seq: u64,
    /// Messages the task's channel had no room for.
    not_handed: u64,
    allow_remote_ack: bool,
}

/// The publisher task, to be supervised by the session; it ends after
/// [`Bedside::stop`] (or when the session drops its [`Bedside`]).
pub type PublisherTask = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

impl Bedside {
    /// The session's handle, the receiver of station acknowledgements, and
    /// the task that publishes.
    pub fn start(start: Start) -> anyhow::Result<(Self, mpsc::Receiver<payload::Ack>, PublisherTask)> {
        let Start { options, session, participant, start_utc, snapshots } = start;
        let capacity = options.queue_capacity;
        let (tx, rx) = mpsc::channel(capacity);
        let (health_tx, health) = watch::channel(Health::default());
        let (ack_tx, ack_rx) = mpsc::channel(REMOTE_ACK_CAPACITY);
        let allow_remote_ack = options.allow_remote_ack;
        let status = payload::Status {
            v: VERSION,
            state: payload::RoomState::Online,
            session: session.clone(),
            participant,
            started: utc(start_utc),
            vigil_version: env!("CARGO_PKG_VERSION").to_owned(),
            devices: Vec::new(),
        };
        let task = link::run(link::Setup { options, status, snapshots, rx, health: health_tx, acks: ack_tx })?;
        let bedside = Self { tx, health, session, start_utc, seq: 0, not_handed: 0, allow_remote_ack };
        Ok((bedside, ack_rx, Box::pin(task)))
    }

    /// Whether a station's acknowledgement is obeyed (`--allow-remote-ack`).
    #[must_use]
    pub fn allows_remote_ack(&self) -> bool {
        self.allow_remote_ack
    }

    /// Hand one event's products to the publisher: alarm transitions (with
    /// their `seq`), operator actions and connection changes, then, if the
    /// alarms changed (a transition or an acknowledgement, which has no
    /// transition of its own), the new alarm picture from `statuses`. Never
    /// waits: what does not fit is counted.
    pub fn output(&mut self, output: &[OutputEvent], statuses: impl FnOnce() -> Vec<AlarmStatus>) {
        let mut alarms_changed = false;
        for event in output {
            let msg = match event {
                OutputEvent::Alarm(a) => {
                    self.seq += 1;
                    alarms_changed = true;
                    Outbound::Alarm(AlarmTransition {
                        v: VERSION,
                        seq: self.seq,
                        session: self.session.clone(),
                        at: self.utc_at(a.at),
                        at_ms: a.at.as_millis(),
                        alarm: a.condition.as_str().to_owned(),
                        device: a.device.as_ref().map(|d| d.as_str().to_owned()),
                        priority: a.priority.as_str().to_owned(),
                        state: a.state.as_str().to_owned(),
                        value: a.value.filter(|v| v.is_finite()),
                    })
                }
                OutputEvent::Operator { at, action } => {
                    alarms_changed |= matches!(action, OperatorAction::Ack { .. } | OperatorAction::RemoteAck { .. });
                    self.event(*at, event)
                }
                OutputEvent::Connection { at, .. } => self.event(*at, event),
                OutputEvent::DecodeError { .. } | OutputEvent::Gap { .. } => continue,
            };
            self.send(msg);
        }
        if alarms_changed {
            let now = output.last().map_or(SessionTime::ZERO, OutputEvent::at);
            let state = AlarmState {
                v: VERSION,
                session: self.session.clone(),
                seq: self.seq,
                at: self.utc_at(now),
                alarms: statuses()
                    .into_iter()
                    .map(|s| ActiveAlarm {
                        alarm: s.condition.as_str().to_owned(),
                        device: s.device.as_ref().map(|d| d.as_str().to_owned()),
                        priority: s.priority.as_str().to_owned(),
                        state: s.state.as_str().to_owned(),
                        onset: self.utc_at(s.since),
                        value: s.value.filter(|v| v.is_finite()),
                    })
                    .collect(),
            };
            self.send(Outbound::State(state));
        }
    }

    fn event(&self, at: SessionTime, event: &OutputEvent) -> Outbound {
        Outbound::Event(Event {
            v: VERSION,
            session: self.session.clone(),
            at: self.utc_at(at),
            line: crate::headless::event_json(event),
        })
    }

    fn send(&mut self, msg: Outbound) {
        if self.tx.try_send(msg).is_err() {
            self.not_handed += 1;
        }
    }

    /// The link's state, if it changed since the last call, and whether
    /// `tech.network` should be raised.
    pub fn changed(&mut self) -> Option<(NetworkLink, bool)> {
        if !self.health.has_changed().unwrap_or(false) && self.not_handed == 0 {
            return None;
        }
        let mut h = *self.health.borrow_and_update();
        h.link.dropped += self.not_handed;
        Some((h.link, h.overflowing || self.not_handed > 0))
    }

    /// Ask the task to deliver what it holds, publish `stopped` and
    /// disconnect; the session then waits (at most [`STOP_WAIT`]) for the
    /// task to end.
    pub async fn stop(&self) {
        let _ = tokio::time::timeout(STOP_WAIT, self.tx.send(Outbound::Stop)).await;
    }

    /// The ids of a session that does not record: a fresh UUID.
    #[must_use]
    pub fn fresh_session_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn utc_at(&self, at: SessionTime) -> String {
        let offset = chrono::Duration::milliseconds(i64::try_from(at.as_millis()).unwrap_or(i64::MAX));
        utc(self.start_utc + offset)
    }
}

/// Wall-clock UTC as every payload writes it (RFC 3339, milliseconds, `Z`).
#[must_use]
pub fn utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A reading status as `vitals` names it.
#[must_use]
pub const fn status_name(status: ReadingStatus) -> &'static str {
    match status {
        ReadingStatus::Live => "live",
        ReadingStatus::Intermittent => "intermittent",
        ReadingStatus::Stale => "stale",
        ReadingStatus::NoContact => "no_contact",
        ReadingStatus::Invalid => "invalid",
        ReadingStatus::Disconnected => "disconnected",
        ReadingStatus::NoData => "no_data",
    }
}

/// The `vitals` payload of a snapshot: the bedside's own verdicts, a value
/// only where the bedside shows one.
#[must_use]
pub fn vitals(snap: &Snapshot, session: &str, now: DateTime<Utc>) -> payload::Vitals {
    let devices = snap
        .devices
        .iter()
        .map(|d| payload::DeviceVitals {
            device: d.label.as_str().to_owned(),
            connected: d.connected,
            readings: d
                .readings
                .iter()
                .map(|r| {
                    let reading = payload::ReadingVitals {
                        value: r.last.filter(|v| r.status.shows_value() && v.is_finite()),
                        age_ms: r.age.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
                        contact: d.contact,
                        stale: r.status == ReadingStatus::Stale,
                        status: status_name(r.status).to_owned(),
                    };
                    (r.quantity.as_str().to_owned(), reading)
                })
                .collect(),
        })
        .collect();
    payload::Vitals {
        v: VERSION,
        session: session.to_owned(),
        at: utc(now),
        at_ms: snap.now.as_millis(),
        interval_ms: u64::try_from(VITALS_EVERY.as_millis()).unwrap_or(u64::MAX),
        since_dose_ms: snap.last_dose_at.map(|d| u64::try_from(snap.now.since(d).as_millis()).unwrap_or(u64::MAX)),
        devices,
    }
}

/// Where a recording-less session's id comes from, for the caller.
#[must_use]
pub fn session_id(record_dir: Option<&PathBuf>) -> String {
    record_dir.and_then(|d| d.file_name()).map_or_else(Bedside::fresh_session_id, |n| n.to_string_lossy().into_owned())
}

/// Longest station identity kept in a recording.
const MAX_STATION_LEN: usize = 64;

/// The operator action a station's acknowledgement becomes: `remote_ack`
/// when obeyed, `ack_refused` when not; `None` (logged) when it names an
/// alarm this vigil does not know.
#[must_use]
pub fn remote_action(ack: &payload::Ack, allowed: bool) -> Option<crate::model::OperatorAction> {
    let alarm = match ack.alarm.as_deref() {
        Some(name) => match Condition::parse(name) {
            Some(c) => Some(c),
            None => {
                tracing::warn!(station = %crate::excerpt::excerpt(&ack.station), "a station acknowledged an unknown alarm `{}`", crate::excerpt::excerpt(name));
                return None;
            }
        },
        None => None,
    };
    let mut station: String = ack.station.chars().filter(|c| !c.is_control()).collect();
    if station.len() > MAX_STATION_LEN {
        let mut end = MAX_STATION_LEN;
        while !station.is_char_boundary(end) {
            end -= 1;
        }
        station.truncate(end);
    }
    let device = ack.device.clone();
    Some(if allowed {
        crate::model::OperatorAction::RemoteAck { alarm, device, station }
    } else {
        crate::model::OperatorAction::AckRefused { alarm, device, station }
    })
}
