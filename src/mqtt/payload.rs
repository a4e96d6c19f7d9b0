//! The payloads of the central station's topics (DESIGN.md "Central station
//! (MQTT 5)", docs/mqtt.md): JSON objects with `"v": 1`, written by the
//! bedside and read by the station from these same types, so the two cannot
//! disagree on a field.
//!
//! Times: `at` and `started` are wall-clock UTC in RFC 3339 with
//! milliseconds (`2026-12-07T16:00:00.000Z`); `at_ms` is the bedside's
//! session milliseconds, as in headless output. Participants appear only as
//! their pseudonym code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strum::{AsRefStr, Display, EnumString, IntoStaticStr};

/// The `v` of every payload.
pub const VERSION: u32 = 1;

/// MQTT 5 content type of every payload.
pub const CONTENT_TYPE: &str = "application/json";

/// A room's bedside, as its retained `status` says.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Display, EnumString, AsRefStr, IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RoomState {
    /// Monitoring and publishing.
    Online,
    /// The session ended normally.
    Stopped,
    /// The bedside vanished (its Last Will).
    Offline,
}

/// Retained on `status` (QoS 1); the Last Will carries the same object with
/// `state: offline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub v: u32,
    pub state: RoomState,
    /// The bedside session's id (its recording id, or a fresh one when not
    /// recording).
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// Session start, wall-clock UTC.
    pub started: String,
    pub vigil_version: String,
    /// Device labels of the session.
    pub devices: Vec<String>,
}

/// Retained on `vitals` (QoS 0, message expiry 10 s), once a second of wall
/// time, sent even when nothing changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vitals {
    pub v: u32,
    pub session: String,
    /// Wall-clock time of sending.
    pub at: String,
    /// Session time of the bedside's picture.
    pub at_ms: u64,
    /// How often vitals are sent, so a station can tell a silent room.
    pub interval_ms: u64,
    /// Session time since the last dose marker, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_dose_ms: Option<u64>,
    pub devices: Vec<DeviceVitals>,
}

/// One device's readings in [`Vitals`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceVitals {
    pub device: String,
    pub connected: bool,
    /// By quantity name (`heart_rate_bpm`, `skin_temp_c`, …).
    pub readings: BTreeMap<String, ReadingVitals>,
}

/// One quantity, with the bedside's own verdicts: a station shows `value`
/// only when it is present, and never decides staleness itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingVitals {
    /// The number the bedside shows; `null` when it shows `--` (stale, no
    /// contact, invalid, disconnected, no data).
    pub value: Option<f64>,
    /// Age of the last sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<u64>,
    /// Skin contact as last reported (`null`: the sensor does not say).
    pub contact: Option<bool>,
    pub stale: bool,
    /// The bedside's reading status (`live`, `intermittent`, `stale`,
    /// `no_contact`, `invalid`, `disconnected`, `no_data`).
    pub status: String,
}

/// One alarm transition on `alarms` (QoS 1, not retained). `seq` counts
/// from 1 per session, with no gap; `pending` is never sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmTransition {
    pub v: u32,
    pub seq: u64,
    pub session: String,
    /// Wall-clock time of the transition (session start + session time).
    pub at: String,
    pub at_ms: u64,
    pub alarm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub priority: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// Retained on `alarm_state` (QoS 1): every alarm not cleared, and the
/// `seq` of the last transition this picture includes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmState {
    pub v: u32,
    pub session: String,
    pub seq: u64,
    pub at: String,
    pub alarms: Vec<ActiveAlarm>,
}

/// One alarm of [`AlarmState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlarm {
    pub alarm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub priority: String,
    pub state: String,
    /// When it became active, wall-clock UTC.
    pub onset: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// One operator action, marker or connection change on `events` (QoS 1,
/// not retained): the bedside's headless line for it, under `line`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub v: u32,
    pub session: String,
    pub at: String,
    /// The headless line (`at_ms`, `type`, …) exactly as the bedside prints it.
    pub line: Value,
}

/// Station → bedside on `ack` (QoS 1, not retained). Obeyed only by a
/// bedside run with `--allow-remote-ack`; recorded either way, with
/// `station` as the acknowledging party.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub v: u32,
    /// The condition to acknowledge; `null` for every alarm of the room.
    #[serde(default)]
    pub alarm: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    /// Who acknowledged: the station's identity.
    pub station: String,
}
