//! The station's picture of the ward, fed with what the broker delivers
//! (topic, payload, retained flag) and with ticks; pure, no I/O.
//!
//! The bedside decides its own alarms and the verdict on each number; the
//! station only keeps what it was told, plus the two things only it can
//! know: that a room went silent (`tech.comm_lost`, on its Last Will or
//! after max(5 s, 3 × the vitals interval) without vitals) and that its own
//! broker link is down (`tech.broker`, every room then unknown). While
//! either holds, a room's numbers are `--`, never its last values.
//!
//! Alarm transitions are applied once each and in `seq` order: a repeated
//! `seq` (QoS 1 redelivery, the retained `alarm_state` overlapping live
//! transitions) is dropped; one that arrives ahead of a missing `seq` waits
//! up to [`GAP_WAIT`] for it; an `alarm_state` replaces the list when its
//! `seq` is not older than the last applied (an acknowledgement changes the
//! picture, not the `seq`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::mqtt::payload::{self, AlarmState, AlarmTransition, Event, RoomState, Status, Vitals};
use crate::mqtt::topic::{Kind, Topic};

/// Most rooms one station follows; messages for more are refused (counted).
pub const MAX_ROOMS: usize = 256;
/// Vitals kept per room for the detail charts: 15 minutes at 1 Hz.
pub const HISTORY_LEN: usize = 900;
/// Shortest silence that counts as a lost room.
pub const MIN_SILENCE: Duration = Duration::from_secs(5);
/// How long a transition that arrived ahead of a missing `seq` waits for
/// it before it is applied anyway (and the gap counted).
pub const GAP_WAIT: Duration = Duration::from_secs(2);
/// Transitions held back per room while waiting for a gap.
const MAX_PENDING: usize = 256;

/// The station's technical alarm for a room it no longer hears.
pub const COMM_LOST: &str = "tech.comm_lost";
/// The station's technical alarm for its own broker link.
pub const BROKER: &str = "tech.broker";
/// Priority of both station alarms: as the bedside's `tech.disconnected`.
pub const STATION_ALARM_PRIORITY: &str = "medium";

/// The time of an event: monotonic for every decision, wall clock only
/// for the `at`/onset a person reads.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall: DateTime<Utc>,
}

impl Now {
    #[must_use]
    pub fn real() -> Self {
        Self { at: Instant::now(), wall: Utc::now() }
    }

    /// `wall` as the payloads write it (RFC 3339, milliseconds, `Z`).
    #[must_use]
    pub fn wall_text(&self) -> String {
        self.wall.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// A room's state as the headless `room` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Link {
    Online,
    Stopped,
    /// The retained Last Will of a bedside this station never saw online.
    Offline,
    CommLost,
}

/// One headless line (DESIGN.md "Central station"), and what the bell and
/// `--alarm-command` are fed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Alarm(AlarmLine),
    Room(RoomLine),
    Ack(AckLine),
}

/// A room's alarm transition; also the station's own `tech.comm_lost`
/// (`seq` null) and `tech.broker` (`room` and `seq` null). A room's alarm
/// with `seq` null was learned from its retained `alarm_state`, not from
/// its transition (the station joined late, or the transitions were lost).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmLine {
    pub room: Option<String>,
    pub alarm: String,
    pub device: Option<String>,
    pub priority: String,
    pub state: String,
    pub seq: Option<u64>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomLine {
    pub room: String,
    pub state: Link,
}

/// What a bedside did with a station's acknowledgement (its `remote_ack`
/// or `ack_refused` event): the bedside decides, the station reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AckLine {
    pub room: String,
    /// `None`: every alarm of the room.
    pub alarm: Option<String>,
    pub device: Option<String>,
    /// The station that asked.
    pub station: String,
    pub result: AckResult,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AckResult {
    /// The bedside runs with `--allow-remote-ack` and acknowledged.
    Obeyed,
    /// The bedside does not take acknowledgements from a station.
    Refused,
}

/// One alarm not cleared, of a room or of the station.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomAlarm {
    pub alarm: String,
    pub device: Option<String>,
    pub priority: String,
    pub state: String,
    /// Wall-clock onset as the payloads write it (sorts as text).
    pub onset: String,
    pub value: Option<f64>,
}

impl RoomAlarm {
    /// Whether `other` is the same alarm instance (condition and device).
    #[must_use]
    pub fn same_alarm(&self, other: &RoomAlarm) -> bool {
        self.alarm == other.alarm && self.device == other.device
    }

    /// 3 high, 2 medium, 1 low, 0 anything else.
    #[must_use]
    pub fn rank(&self) -> u8 {
        priority_rank(&self.priority)
    }
}

#[must_use]
pub fn priority_rank(priority: &str) -> u8 {
    match priority {
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// Why comm was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    Will,
    Silence,
}

/// One point of a room's chart history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: Instant,
    pub hr: Option<f64>,
    pub temp: Option<f64>,
}

/// A message the station could not use, with why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadMessage {
    #[error("`{0}` is not a vigil topic of this site")]
    Topic(String),
    #[error("{topic}: not a JSON object: {error}")]
    Json { topic: String, error: String },
    #[error("{topic}: payload version {found}, this station reads version {}", payload::VERSION)]
    Version { topic: String, found: String },
    #[error("{topic}: {error}")]
    Field { topic: String, error: String },
    #[error("{topic}: already following {MAX_ROOMS} rooms; this one is ignored")]
    TooManyRooms { topic: String },
}

#[derive(Debug, Default)]
struct AlarmBook {
    session: Option<String>,
    seq: u64,
    active: Vec<RoomAlarm>,
    /// Transitions ahead of a gap, by seq, with when they arrived.
    pending: BTreeMap<u64, (AlarmTransition, Instant)>,
}

impl AlarmBook {
    fn apply(&mut self, t: &AlarmTransition) {
        self.seq = t.seq;
        let slot = self.active.iter().position(|a| a.alarm == t.alarm && a.device == t.device);
        match (slot, t.state.as_str()) {
            (Some(i), "cleared") => {
                self.active.remove(i);
            }
            (None, "cleared") => {}
            (Some(i), _) => {
                let a = &mut self.active[i];
                a.priority.clone_from(&t.priority);
                a.state.clone_from(&t.state);
                a.value = t.value;
            }
            (None, _) => self.active.push(RoomAlarm {
                alarm: t.alarm.clone(),
                device: t.device.clone(),
                priority: t.priority.clone(),
                state: t.state.clone(),
                onset: t.at.clone(),
                value: t.value,
            }),
        }
    }
}

/// One room as the station knows it.
#[derive(Debug)]
pub struct Room {
    pub name: String,
    status: Option<Status>,
    seen_online: bool,
    lost: Option<(Lost, String)>,
    vitals: Option<Vitals>,
    vitals_at: Option<Instant>,
    /// Since when the silence is counted: the last live vitals, the online
    /// status, or the station's reconnection.
    heard_at: Instant,
    interval: Duration,
    alarms: AlarmBook,
    history: VecDeque<Point>,
    shown: Option<Link>,
}

impl Room {
    fn new(name: &str, now: Instant) -> Self {
        Self {
            name: name.to_owned(),
            status: None,
            seen_online: false,
            lost: None,
            vitals: None,
            vitals_at: None,
            heard_at: now,
            interval: Duration::from_secs(1),
            alarms: AlarmBook::default(),
            history: VecDeque::new(),
            shown: None,
        }
    }

    /// The state a `room` line reports, once anything is known.
    #[must_use]
    pub fn link(&self) -> Option<Link> {
        if self.lost.is_some() {
            return Some(Link::CommLost);
        }
        match self.status.as_ref().map(|s| s.state) {
            Some(RoomState::Online) => Some(Link::Online),
            Some(RoomState::Stopped) => Some(Link::Stopped),
            Some(RoomState::Offline) => Some(Link::Offline),
            None => self.vitals_at.map(|_| Link::Online),
        }
    }

    #[must_use]
    pub fn participant(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.participant.as_deref())
    }

    #[must_use]
    pub fn comm_lost(&self) -> Option<Lost> {
        self.lost.as_ref().map(|(why, _)| *why)
    }

    /// The vitals a screen may show as live: none while comm is lost or
    /// the session is not online.
    #[must_use]
    pub fn live_vitals(&self) -> Option<&Vitals> {
        (self.link() == Some(Link::Online)).then_some(self.vitals.as_ref()).flatten()
    }

    /// The bedside's shown value of `quantity` from the first device that
    /// reports it; `None` where the bedside shows `--` or nothing is live.
    #[must_use]
    pub fn value(&self, quantity: &str) -> Option<f64> {
        self.live_vitals()?.devices.iter().find_map(|d| d.readings.get(quantity)).and_then(|r| r.value)
    }

    /// Time since the last dose, as of the last live vitals.
    #[must_use]
    pub fn since_dose(&self, now: Instant) -> Option<Duration> {
        let v = self.live_vitals()?;
        let extra = self.vitals_at.map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        v.since_dose_ms.map(|ms| Duration::from_millis(ms) + extra)
    }

    /// Time since the last vitals were received.
    #[must_use]
    pub fn data_age(&self, now: Instant) -> Option<Duration> {
        self.vitals_at.map(|at| now.saturating_duration_since(at))
    }

    /// The bedside's alarms not cleared, then the station's `tech.comm_lost`.
    pub fn alarms(&self) -> impl Iterator<Item = RoomAlarm> + '_ {
        let lost = self.lost.as_ref().map(|(_, onset)| station_alarm(COMM_LOST, onset));
        self.alarms.active.iter().cloned().chain(lost)
    }

    /// The highest-priority alarm not cleared, if any.
    #[must_use]
    pub fn top_alarm(&self) -> Option<RoomAlarm> {
        self.alarms().max_by_key(RoomAlarm::rank)
    }

    /// The bedside alarm an acknowledgement from the station is for: the
    /// highest not yet acknowledged, earliest first.
    #[must_use]
    pub fn ack_target(&self) -> Option<&RoomAlarm> {
        let mut open: Vec<&RoomAlarm> = self.alarms.active.iter().filter(|a| a.state != "acknowledged").collect();
        open.sort_by(|a, b| b.rank().cmp(&a.rank()).then_with(|| a.onset.cmp(&b.onset)));
        open.first().copied()
    }

    #[must_use]
    pub fn history(&self) -> &VecDeque<Point> {
        &self.history
    }

    fn silence_limit(&self) -> Duration {
        MIN_SILENCE.max(self.interval * 3)
    }
}

fn station_alarm(alarm: &str, onset: &str) -> RoomAlarm {
    RoomAlarm {
        alarm: alarm.to_owned(),
        device: None,
        priority: STATION_ALARM_PRIORITY.to_owned(),
        state: "active".to_owned(),
        onset: onset.to_owned(),
        value: None,
    }
}

/// A room's name, ordered with runs of digits compared as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RoomKey(String);

impl Ord for RoomKey {
    fn cmp(&self, other: &Self) -> Ordering {
        natural_order(&self.0, &other.0).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for RoomKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `a` against `b`, where a run of digits counts as its number.
fn natural_order(mut a: &str, mut b: &str) -> Ordering {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, nb) = (&a[..digits(a)], &b[..digits(b)]);
                let (va, vb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let order = va.len().cmp(&vb.len()).then_with(|| va.cmp(vb));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[na.len()..], &b[nb.len()..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// The ward: every room of one site, the broker link, and what was refused.
#[derive(Debug)]
pub struct Ward {
    site: String,
    /// In the order a person counts them: `room-2` before `room-10`.
    rooms: BTreeMap<RoomKey, Room>,
    broker_up: bool,
    /// Onset of `tech.broker`, while the link is down.
    broker_lost: Option<String>,
    /// Messages refused (bad topic, payload or version; rooms past the bound).
    pub bad: u64,
}

impl Ward {
    /// An empty ward of `site`, its broker link not yet up (not an alarm
    /// until [`Ward::broker_down`] says a connection failed).
    #[must_use]
    pub fn new(site: &str) -> Self {
        Self { site: site.to_owned(), rooms: BTreeMap::new(), broker_up: false, broker_lost: None, bad: 0 }
    }

    #[must_use]
    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn rooms(&self) -> impl ExactSizeIterator<Item = &Room> {
        self.rooms.values()
    }

    #[must_use]
    pub fn room(&self, name: &str) -> Option<&Room> {
        self.rooms.get(&RoomKey(name.to_owned()))
    }

    /// Whether rooms can be shown: the link is up. Otherwise every room is
    /// unknown.
    #[must_use]
    pub fn broker_up(&self) -> bool {
        self.broker_up
    }

    /// The station's own alarm, while the link is down.
    #[must_use]
    pub fn broker_alarm(&self) -> Option<RoomAlarm> {
        self.broker_lost.as_deref().map(|onset| station_alarm(BROKER, onset))
    }

    /// Every alarm of every room and of the station, highest priority
    /// first, then by onset (earliest first).
    #[must_use]
    pub fn alarm_list(&self) -> Vec<(Option<String>, RoomAlarm)> {
        let mut list: Vec<(Option<String>, RoomAlarm)> = self.broker_alarm().map(|a| (None, a)).into_iter().collect();
        for room in self.rooms.values() {
            list.extend(room.alarms().map(|a| (Some(room.name.clone()), a)));
        }
        list.sort_by(|(ra, a), (rb, b)| {
            b.rank().cmp(&a.rank()).then_with(|| a.onset.cmp(&b.onset)).then_with(|| ra.cmp(rb))
        });
        list
    }

    /// The station is connected (again): rooms are known from here on, and
    /// their silence is counted from now, not from before the outage.
    pub fn broker_connected(&mut self, now: Now) -> Vec<Line> {
        let mut out = Vec::new();
        self.broker_up = true;
        for room in self.rooms.values_mut() {
            room.heard_at = now.at;
        }
        if self.broker_lost.take().is_some() {
            out.push(Line::Alarm(AlarmLine {
                room: None,
                alarm: BROKER.to_owned(),
                device: None,
                priority: STATION_ALARM_PRIORITY.to_owned(),
                state: "cleared".to_owned(),
                seq: None,
                at: now.wall_text(),
            }));
        }
        out
    }

    /// The station's link failed (or could not be made).
    pub fn broker_down(&mut self, now: Now) -> Vec<Line> {
        self.broker_up = false;
        if self.broker_lost.is_some() {
            return Vec::new();
        }
        let at = now.wall_text();
        self.broker_lost = Some(at.clone());
        vec![Line::Alarm(AlarmLine {
            room: None,
            alarm: BROKER.to_owned(),
            device: None,
            priority: STATION_ALARM_PRIORITY.to_owned(),
            state: "active".to_owned(),
            seq: None,
            at,
        })]
    }

    /// One message from the broker. A message the station cannot use is
    /// counted, logged and returned as the error; nothing else changes.
    pub fn handle(&mut self, topic: &str, body: &[u8], retained: bool, now: Now) -> Result<Vec<Line>, BadMessage> {
        let result = self.handle_inner(topic, body, retained, now);
        if let Err(e) = &result {
            self.bad += 1;
            tracing::warn!(error = %e, "central: message ignored");
        }
        result
    }

    fn handle_inner(&mut self, name: &str, body: &[u8], retained: bool, now: Now) -> Result<Vec<Line>, BadMessage> {
        let topic = Topic::parse(name)
            .filter(|t| t.site == self.site)
            .ok_or_else(|| BadMessage::Topic(crate::excerpt::excerpt(name)))?;
        // The station's own acknowledgements come back through the site
        // filter.
        if topic.kind == Kind::Ack {
            return Ok(Vec::new());
        }
        if retained && body.is_empty() {
            // A cleared retained message: nothing to show.
            return Ok(Vec::new());
        }
        let name = topic.to_string();
        if !self.rooms.contains_key(&RoomKey(topic.room.clone())) && self.rooms.len() >= MAX_ROOMS {
            return Err(BadMessage::TooManyRooms { topic: name });
        }
        let mut out = Vec::new();
        match topic.kind {
            Kind::Status => {
                let status: Status = parse(&name, body)?;
                self.room_mut(&topic.room, now).status_message(status, retained, now, &mut out);
            }
            Kind::Vitals => {
                let vitals: Vitals = parse(&name, body)?;
                self.room_mut(&topic.room, now).vitals_message(vitals, retained, now, &mut out);
            }
            Kind::Alarms => {
                let t: AlarmTransition = parse(&name, body)?;
                self.room_mut(&topic.room, now).transition(t, now, &mut out);
            }
            Kind::AlarmState => {
                let state: AlarmState = parse(&name, body)?;
                self.room_mut(&topic.room, now).alarm_state(state, now, &mut out);
            }
            // Of the bedside's log, the station reports what became of
            // acknowledgements; the rest is the bedside's record.
            Kind::Events => {
                let event: Event = parse(&name, body)?;
                out.extend(ack_line(&topic.room, &event));
            }
            Kind::Ack => {}
        }
        Ok(out)
    }

    fn room_mut(&mut self, name: &str, now: Now) -> &mut Room {
        self.rooms.entry(RoomKey(name.to_owned())).or_insert_with(|| Room::new(name, now.at))
    }

    /// Time passes: silent rooms are lost, transitions that waited out
    /// their gap are applied.
    pub fn tick(&mut self, now: Now) -> Vec<Line> {
        let mut out = Vec::new();
        if !self.broker_up {
            return out;
        }
        for room in self.rooms.values_mut() {
            let silent = now.at.saturating_duration_since(room.heard_at) > room.silence_limit();
            if room.link() == Some(Link::Online) && silent {
                room.lose(Lost::Silence, now, &mut out);
            }
            room.flush_pending(now, false, &mut out);
        }
        out
    }
}

/// The [`AckLine`] of a bedside's `remote_ack` or `ack_refused` event.
fn ack_line(room: &str, event: &Event) -> Option<Line> {
    let line = &event.line;
    let result = match line.get("action").and_then(serde_json::Value::as_str)? {
        "remote_ack" => AckResult::Obeyed,
        "ack_refused" => AckResult::Refused,
        _ => return None,
    };
    let text = |key: &str| line.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    Some(Line::Ack(AckLine {
        room: room.to_owned(),
        alarm: text("alarm"),
        device: text("device"),
        station: text("station")?,
        result,
        at: event.at.clone(),
    }))
}

/// A payload: a JSON object with `"v": 1`, then its fields, the first
/// wrong one named.
fn parse<T: DeserializeOwned>(topic: &str, body: &[u8]) -> Result<T, BadMessage> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| BadMessage::Json { topic: topic.to_owned(), error: e.to_string() })?;
    let Some(object) = value.as_object() else {
        return Err(BadMessage::Json { topic: topic.to_owned(), error: "not an object".to_owned() });
    };
    match object.get("v") {
        Some(v) if v.as_u64() == Some(u64::from(payload::VERSION)) => {}
        found => {
            let found = found.map_or_else(|| "missing".to_owned(), |v| crate::excerpt::excerpt(&v.to_string()));
            return Err(BadMessage::Version { topic: topic.to_owned(), found });
        }
    }
    serde_path_to_error::deserialize(value)
        .map_err(|e| BadMessage::Field { topic: topic.to_owned(), error: format!("at `{}`: {}", e.path(), e.inner()) })
}

mod messages;

#[cfg(test)]
mod tests;
