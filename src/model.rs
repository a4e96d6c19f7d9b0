//! The vocabulary every stage shares: session time, device labels,
//! characteristics, source events, samples, operator actions and the output
//! events that sinks print and record.
//!
//! These types cross channels in batches, so they are small and cheap to
//! clone: a device label is a shared string (a reference-count increment),
//! a payload is inline up to [`PAYLOAD_INLINE`] bytes (every SIG characteristic vigil
//! decodes fits in the default ATT MTU of 23, i.e. 20 bytes of value).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

mod characteristic;
pub use characteristic::{Characteristic, ParseCharacteristicError};

/// Monotonic nanoseconds since the session started.
///
/// Every `at_ms` in headless output and streams is this value in
/// milliseconds; a recording's `t` is the session's start UTC plus this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionTime(pub u64);

impl SessionTime {
    pub const ZERO: SessionTime = SessionTime(0);
    pub const MAX: SessionTime = SessionTime(u64::MAX);

    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        SessionTime(ms.saturating_mul(1_000_000))
    }

    #[must_use]
    pub const fn from_secs(s: u64) -> Self {
        SessionTime(s.saturating_mul(1_000_000_000))
    }

    /// `s` seconds, to the nearest nanosecond; zero for a negative or
    /// non-finite `s`.
    #[must_use]
    pub fn from_secs_f64(s: f64) -> Self {
        if s.is_finite() && s > 0.0 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // saturates, as wanted
            let ns = (s * 1e9).round() as u64;
            SessionTime(ns)
        } else {
            SessionTime::ZERO
        }
    }

    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds, rounded down (the `at_ms` of headless lines).
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        // Precision loss only beyond 2^53 ns (104 days): irrelevant here.
        #[allow(clippy::cast_precision_loss)]
        let s = self.0 as f64 / 1e9;
        s
    }

    #[must_use]
    pub const fn saturating_add(self, d: Duration) -> Self {
        let nanos = d.as_nanos();
        let nanos = if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 };
        SessionTime(self.0.saturating_add(nanos))
    }

    #[must_use]
    pub const fn saturating_sub(self, d: Duration) -> Self {
        let nanos = d.as_nanos();
        let nanos = if nanos > u64::MAX as u128 { u64::MAX } else { nanos as u64 };
        SessionTime(self.0.saturating_sub(nanos))
    }

    /// Time elapsed from `earlier` to `self` (zero if `earlier` is later).
    #[must_use]
    pub const fn since(self, earlier: SessionTime) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for SessionTime {
    /// `H:MM:SS` since session start.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / 1_000_000_000;
        write!(f, "{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// A short, stable device label (`chest`, `thermo`, `manual`).
///
/// `session.json` maps it to address, name and model; the session's
/// [`DeviceTable`](crate::device_table::DeviceTable) numbers the labels it
/// admits.
///
/// A shared string: a clone is a reference-count increment, and the text
/// is freed with its last holder, so labels from a stream that names ever
/// new devices are not kept for the life of the process. The count is
/// touched once per sample on the pipeline thread and once on the
/// recorder's; at DESIGN.md's budget (≥ 1 M notifications/s) two atomic
/// operations per sample are affordable, and a bounded memory is not
/// optional.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceLabel(Arc<str>);

const _: () = assert!(size_of::<Sample>() == 56);

impl DeviceLabel {
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self(Arc::from(text))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for DeviceLabel {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for DeviceLabel {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for DeviceLabel {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceLabel {
    // As `str` does, with width and alignment (`{:<7}` in the dashboard).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for DeviceLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for DeviceLabel {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for DeviceLabel {
    fn from(text: String) -> Self {
        Self(Arc::from(text))
    }
}

impl From<&String> for DeviceLabel {
    fn from(text: &String) -> Self {
        Self::new(text)
    }
}

impl Serialize for DeviceLabel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DeviceLabel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::new(&text))
    }
}

/// Label of the pseudo-device that carries readings entered by hand.
pub const MANUAL_DEVICE: &str = "manual";

/// Bytes inline before a payload spills to the heap.
pub const PAYLOAD_INLINE: usize = 24;

/// A raw GATT notification value, as the sensor sent it.
pub type Payload = SmallVec<[u8; PAYLOAD_INLINE]>;

/// What a source saw.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// A GATT notification or indication.
    Notification {
        characteristic: Characteristic,
        payload: Payload,
    },
    Connected {
        name: Option<String>,
        address: Option<String>,
        /// 16-bit SIG service numbers the device offers (0x180D …).
        services: Vec<u16>,
    },
    Disconnected {
        reason: Option<String>,
    },
    Rssi(i16),
    /// What the device says about itself (Device Information service),
    /// read after connecting; goes into `session.json`.
    DeviceInfo(DeviceInfo),
    /// An operator action (from keys, a stream's action line or a replay).
    Operator(OperatorAction),
    /// A stream line that could not be used; reported, then skipped.
    BadInput {
        line: u64,
        message: String,
    },
    /// The clock jumped (suspend, wall-clock change) over this span; timers
    /// must not fire a burst of alarms for it.
    Gap {
        duration: Duration,
    },
    /// The device's answer to the ECG start command (Polar PMD): `started`
    /// false when it refused, with the reason it gave ("invalid state").
    /// From then on ECG is expected from the device (`tech.ecg`).
    EcgStatus {
        started: bool,
        reason: Option<String>,
    },
}

/// Device Information service strings (0x180A), where the device has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
}

/// One thing that happened at a device (or, for operator actions and
/// session-wide events, with `device` naming the target or `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEvent {
    pub at: SessionTime,
    pub device: Option<DeviceLabel>,
    pub body: EventBody,
}

impl SourceEvent {
    #[must_use]
    pub fn notification(at: SessionTime, device: DeviceLabel, characteristic: Characteristic, payload: &[u8]) -> Self {
        Self {
            at,
            device: Some(device),
            body: EventBody::Notification { characteristic, payload: Payload::from_slice(payload) },
        }
    }
}

/// A batch of source events in time order, with the source's promise that
/// nothing earlier than `until` will follow (the virtual clock's watermark).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub events: Vec<SourceEvent>,
    /// Session time up to which the source is complete. Under a virtual clock
    /// the pipeline advances its timers to here; under the real clock it is
    /// the receive time of the last event.
    pub until: SessionTime,
}

/// The physical quantities vigil records, units normalised.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::EnumCount,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Quantity {
    HeartRateBpm,
    RrIntervalMs,
    EnergyExpendedKj,
    BodyTemperatureC,
    SkinTemperatureC,
    AmbientTemperatureC,
    Spo2Pct,
    PulseRateBpm,
    SystolicMmhg,
    DiastolicMmhg,
    MapMmhg,
    BatteryPct,
}

impl Quantity {
    /// Every quantity, in declaration order (the order of dense tables).
    pub const ALL: [Quantity; <Self as strum::EnumCount>::COUNT] = all(<Self as strum::VariantArray>::VARIANTS);

    /// The name used in recordings, streams and headless output (the same
    /// as serde's).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// Unit shown next to the value on screen.
    #[must_use]
    pub const fn unit(self) -> &'static str {
        match self {
            Quantity::HeartRateBpm | Quantity::PulseRateBpm => "bpm",
            Quantity::RrIntervalMs => "ms",
            Quantity::EnergyExpendedKj => "kJ",
            Quantity::BodyTemperatureC | Quantity::SkinTemperatureC | Quantity::AmbientTemperatureC => "°C",
            Quantity::Spo2Pct | Quantity::BatteryPct => "%",
            Quantity::SystolicMmhg | Quantity::DiastolicMmhg | Quantity::MapMmhg => "mmHg",
        }
    }

    /// Short label for tiles and charts.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Quantity::HeartRateBpm => "HR",
            Quantity::RrIntervalMs => "RR",
            Quantity::EnergyExpendedKj => "Energy",
            Quantity::BodyTemperatureC => "Temp",
            Quantity::SkinTemperatureC => "Skin",
            Quantity::AmbientTemperatureC => "Ambient",
            Quantity::Spo2Pct => "SpO2",
            Quantity::PulseRateBpm => "Pulse",
            Quantity::SystolicMmhg => "SYS",
            Quantity::DiastolicMmhg => "DIA",
            Quantity::MapMmhg => "MAP",
            Quantity::BatteryPct => "Battery",
        }
    }
}

/// One decoded value.
///
/// `value` is `NaN` when the sensor sent a well-formed "no valid measurement"
/// (IEEE-11073 NaN, NRes, ±INF): the alarm engine turns that into
/// `tech.invalid`, the dashboard shows `--`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub at: SessionTime,
    pub device: DeviceLabel,
    pub quantity: Quantity,
    pub value: f64,
    /// Skin contact, where the sensor reports it (heart-rate straps).
    pub contact: Option<bool>,
    /// A timestamp the device sent itself, nanoseconds since the Unix epoch
    /// (UTC as the device believes it).
    pub device_time_ns: Option<i64>,
}

/// Alarm priority (IEC 60601-1-8: low, medium, high).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The alarm conditions of DESIGN.md. Each name is written once, in its
/// `strum` attribute; serde reads and writes the same names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::VariantArray,
    strum::VariantNames,
    strum::EnumCount,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::Display,
)]
pub enum Condition {
    #[strum(serialize = "hr.high")]
    HrHigh,
    #[strum(serialize = "hr.low")]
    HrLow,
    #[strum(serialize = "hr.rise")]
    HrRise,
    #[strum(serialize = "temp.high")]
    TempHigh,
    #[strum(serialize = "temp.rise")]
    TempRise,
    #[strum(serialize = "spo2.low")]
    Spo2Low,
    #[strum(serialize = "bp.high")]
    BpHigh,
    #[strum(serialize = "tech.disconnected")]
    TechDisconnected,
    #[strum(serialize = "tech.stale")]
    TechStale,
    #[strum(serialize = "tech.no_contact")]
    TechNoContact,
    #[strum(serialize = "tech.invalid")]
    TechInvalid,
    #[strum(serialize = "tech.battery_low")]
    TechBatteryLow,
    #[strum(serialize = "tech.recording")]
    TechRecording,
    #[strum(serialize = "tech.stalled")]
    TechStalled,
    #[strum(serialize = "tech.alarm_command")]
    TechAlarmCommand,
    /// `--publish`: the queue for the central station overflowed while the
    /// broker was away, so the station misses some transitions or events.
    #[strum(serialize = "tech.network")]
    TechNetwork,
}

impl Condition {
    /// Every condition, in declaration order (the order of dense tables).
    pub const ALL: [Condition; <Self as strum::EnumCount>::COUNT] = all(<Self as strum::VariantArray>::VARIANTS);

    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    #[must_use]
    pub const fn is_technical(self) -> bool {
        matches!(
            self,
            Condition::TechDisconnected
                | Condition::TechStale
                | Condition::TechNoContact
                | Condition::TechInvalid
                | Condition::TechBatteryLow
                | Condition::TechRecording
                | Condition::TechStalled
                | Condition::TechAlarmCommand
                | Condition::TechNetwork
        )
    }
}

impl Serialize for Condition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Condition::parse(&name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, <Condition as strum::VariantNames>::VARIANTS))
    }
}

/// `variants` as an array: strum gives a slice, dense tables want a length.
const fn all<T: Copy, const N: usize>(variants: &[T]) -> [T; N] {
    assert!(variants.len() == N);
    let mut out = [variants[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = variants[i];
        i += 1;
    }
    out
}

/// Alarm states as printed (`pending` is internal and never printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlarmState {
    Active,
    Escalated,
    Acknowledged,
    Latched,
    Cleared,
}

impl AlarmState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a marker marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Free text, e.g. `dose 120 mg`.
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MarkerKind>,
    /// Dose amount in milligrams, where the marker is a dose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_mg: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerKind {
    Dose,
    SupplementalDose,
    Note,
}

/// Something the medical monitor (or a stream's action line) did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OperatorAction {
    /// Acknowledge one alarm, or all when `alarm` is `None`.
    Ack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alarm: Option<Condition>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    AudioPause,
    Marker(Marker),
    /// Take the current values as the baseline (for `hr.rise`).
    Baseline {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// Change one limit for this session.
    Limit {
        condition: Condition,
        priority: Priority,
        value: f64,
    },
    /// A reading entered by hand (cuff BP, oral temperature): recorded as a
    /// sample of device `manual`.
    Manual {
        quantity: Quantity,
        value: f64,
    },
    /// An acknowledgement from a central station, obeyed (`--allow-remote-ack`):
    /// applied as [`OperatorAction::Ack`], recorded with the station's identity.
    RemoteAck {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alarm: Option<Condition>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        station: String,
    },
    /// An acknowledgement from a central station that this bedside refused
    /// (no `--allow-remote-ack`): recorded, changes nothing.
    AckRefused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alarm: Option<Condition>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        station: String,
    },
}

impl OperatorAction {
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            OperatorAction::Ack { .. } => "ack",
            OperatorAction::AudioPause => "audio_pause",
            OperatorAction::Marker(_) => "marker",
            OperatorAction::Baseline { .. } => "baseline",
            OperatorAction::Limit { .. } => "limit",
            OperatorAction::Manual { .. } => "manual",
            OperatorAction::RemoteAck { .. } => "remote_ack",
            OperatorAction::AckRefused { .. } => "ack_refused",
        }
    }
}

/// One alarm transition, as printed and recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmEvent {
    pub at: SessionTime,
    pub condition: Condition,
    /// `None` for session-wide alarms (`tech.recording`, `tech.stalled`,
    /// `tech.alarm_command`).
    pub device: Option<DeviceLabel>,
    pub priority: Priority,
    pub state: AlarmState,
    /// The value that triggered or escalated it, where there is one.
    pub value: Option<f64>,
}

/// The current state of one alarm instance, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmStatus {
    pub condition: Condition,
    pub device: Option<DeviceLabel>,
    pub priority: Priority,
    pub state: AlarmState,
    /// When it became active.
    pub since: SessionTime,
    /// When its state or priority last changed.
    pub changed: SessionTime,
    pub value: Option<f64>,
    /// Whether the audible signal is due (not acknowledged, not paused).
    pub audible: bool,
}

/// A change of a device's link.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionChange {
    Connected { name: Option<String>, address: Option<String>, services: Vec<u16> },
    Disconnected { reason: Option<String> },
}

/// Everything the pipeline reports besides samples: the rows of
/// `events.arrow` and the lines of headless output.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputEvent {
    Alarm(AlarmEvent),
    Operator {
        at: SessionTime,
        action: OperatorAction,
    },
    Connection {
        at: SessionTime,
        device: DeviceLabel,
        change: ConnectionChange,
    },
    DecodeError {
        at: SessionTime,
        device: Option<DeviceLabel>,
        characteristic: Option<Characteristic>,
        /// Line number of a stream input, where the error is a bad line.
        line: Option<u64>,
        message: String,
    },
    Gap {
        at: SessionTime,
        duration: Duration,
    },
}

impl OutputEvent {
    #[must_use]
    pub fn at(&self) -> SessionTime {
        match self {
            OutputEvent::Alarm(a) => a.at,
            OutputEvent::Operator { at, .. }
            | OutputEvent::Connection { at, .. }
            | OutputEvent::DecodeError { at, .. }
            | OutputEvent::Gap { at, .. } => *at,
        }
    }

    /// The `kind` column of `events.arrow` and `type` of headless lines.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            OutputEvent::Alarm(_) => "alarm",
            OutputEvent::Operator { .. } => "operator",
            OutputEvent::Connection { .. } => "connection",
            OutputEvent::DecodeError { .. } => "decode_error",
            OutputEvent::Gap { .. } => "gap",
        }
    }
}

/// What a failed recording did not hold: rows the session produced that
/// never reached the disk once the recorder had failed (or could not
/// start). Counted by the recorder, the one that knows what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NotRecorded {
    pub notifications: u64,
    pub samples: u64,
    /// Alarm, operator and other output events (`events.arrow` rows).
    pub events: u64,
}

impl NotRecorded {
    /// Count the rows of one recorder message.
    pub fn add<'a>(&mut self, events: impl IntoIterator<Item = &'a SourceEvent>, samples: usize, output: usize) {
        let notifications = events.into_iter().filter(|e| matches!(e.body, EventBody::Notification { .. })).count();
        self.notifications += notifications as u64;
        self.samples += samples as u64;
        self.events += output as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_labels_compare_and_read_as_their_text() {
        let a = DeviceLabel::from("chest");
        let b = DeviceLabel::from(String::from("chest"));
        let c: DeviceLabel = serde_json::from_str("\"chest\"").unwrap();
        assert!(std::ptr::eq(a.as_str(), a.clone().as_str()), "a clone shares the text");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, DeviceLabel::from("thermo"));
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"chest\"");
        assert_eq!(format!("[{a:<7}|{a:>6}|{a:?}]"), "[chest  | chest|\"chest\"]");
        let mut by_label = std::collections::HashMap::new();
        by_label.insert(a.clone(), 1);
        assert_eq!(by_label.get("chest"), Some(&1), "found by `&str`");
        assert!(DeviceLabel::from("belt") < DeviceLabel::from("chest"), "ordered by text");
    }

    #[test]
    fn characteristic_spelling_round_trips() {
        for text in ["2a37", "2a1c", "2a1e", "2a6e", "2a35", "2a5f", "2a19", "2a29"] {
            assert_eq!(Characteristic::parse(text).unwrap().to_string(), text);
        }
        let hr = Characteristic::parse("00002A37-0000-1000-8000-00805F9B34FB").unwrap();
        assert_eq!(hr, Characteristic::HeartRateMeasurement);
        let vendor = "6e400003-b5a3-f393-e0a9-e50e24dcca9e";
        assert_eq!(Characteristic::parse(vendor).unwrap().to_string(), vendor);
        assert!(Characteristic::parse("2a3").is_err());
        assert!(Characteristic::parse("zzzz").is_err());
    }

    #[test]
    fn session_time_formats_as_clock() {
        assert_eq!(SessionTime::from_secs(3 * 3600 + 62).to_string(), "3:01:02");
        assert_eq!(SessionTime::from_millis(1500).as_millis(), 1500);
    }

    #[test]
    fn names_parse_back() {
        for q in Quantity::ALL {
            assert_eq!(Quantity::parse(q.as_str()), Some(q));
        }
        for c in Condition::ALL {
            assert_eq!(Condition::parse(c.as_str()), Some(c));
        }
    }
}
