//! What the dashboard reads: a self-contained picture of the session that
//! the pipeline publishes on a `watch` channel at a steady tick.
//!
//! Whether a number may be shown is decided here, once, by the pipeline
//! ([`ReadingStatus`]), never by the screen: a stale value, a value without
//! skin contact or an invalid value is never presented as live.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::alarms::{Limit, LimitRule};
use crate::history::{EcgPoint, TrendBucket};
use crate::model::{AlarmStatus, DeviceLabel, Marker, Quantity, SessionTime};

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Session time of this picture.
    pub now: SessionTime,
    pub start_utc: DateTime<Utc>,
    pub participant: Option<String>,
    /// Where the recording goes, if recording.
    pub record_dir: Option<PathBuf>,
    pub mode: Mode,
    pub devices: Vec<DeviceView>,
    /// Alarms that are not cleared, highest priority first, then newest.
    pub alarms: Vec<AlarmStatus>,
    pub audio_paused_until: Option<SessionTime>,
    pub markers: Vec<(SessionTime, Marker)>,
    /// Session time of the last dose or supplemental-dose marker.
    pub last_dose_at: Option<SessionTime>,
    pub counters: Counters,
    /// The alarm limits in force, for the limits view.
    pub limits: Vec<Limit>,
    /// Width of the recent-window charts.
    pub window: Duration,
    /// Whether the pipeline missed its tick (`tech.stalled`).
    pub stalled: bool,
    /// Whether the session has ended (end of stream or replay).
    pub finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Live,
    Simulated,
    Replay { paused: bool, speed: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub samples: u64,
    pub notifications: u64,
    pub decode_errors: u64,
    pub bad_lines: u64,
    /// Recorder messages dropped because its channel was full.
    pub recorder_drops: u64,
    /// Lines `--alarm-command` never read (dead, stuck or restarting).
    pub alarm_command_missed: u64,
    /// Rows lost to a failed recording (counted by the recorder).
    pub not_recorded: crate::model::NotRecorded,
    /// `--publish` only: the link to the broker.
    pub network: Option<NetworkLink>,
}

/// The central-station link of a `--publish` session (docs/mqtt.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetworkLink {
    /// Connected to the broker (else reconnecting, with messages queued).
    pub connected: bool,
    /// Messages waiting for the broker.
    pub queued: u64,
    /// Messages the full queue dropped (`tech.network`).
    pub dropped: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceView {
    pub label: DeviceLabel,
    pub name: Option<String>,
    pub address: Option<String>,
    pub connected: bool,
    pub rssi: Option<i16>,
    pub battery_pct: Option<f64>,
    /// Skin contact as last reported (`None`: the sensor does not report it).
    pub contact: Option<bool>,
    pub decode_errors: u64,
    pub readings: Vec<Reading>,
    /// Its raw ECG (Polar PMD); `None`: no ECG is expected from it.
    pub ecg: Option<EcgStrip>,
}

/// A device's raw ECG as its strip draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct EcgStrip {
    /// Whether the strip is drawn (`verdict::judge_ecg`, the verdict
    /// `tech.ecg` is raised from): anything but live shows `ECG --`.
    pub status: EcgStatus,
    /// The strap's rate as measured from its timestamps, Hz.
    pub rate_hz: f64,
    /// While live, the last `history::ECG_WINDOW` of samples, oldest first;
    /// empty otherwise.
    pub samples: Vec<EcgPoint>,
}

/// One quantity of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub quantity: Quantity,
    /// The last value received, whatever its status. Show it only when
    /// `status` is [`ReadingStatus::Live`] (or, for intermittent sensors,
    /// [`ReadingStatus::Intermittent`] with its age).
    pub last: Option<f64>,
    /// Age of the last sample.
    pub age: Option<Duration>,
    pub status: ReadingStatus,
    /// Recent window, `(seconds since session start, value)`, oldest first.
    pub recent: Vec<(f64, f64)>,
    /// Whole-session trend.
    pub trend: Vec<TrendBucket>,
    /// Heart-rate variability (RMSSD over the last minute of RR), where RR
    /// intervals are available.
    pub rmssd_ms: Option<f64>,
}

/// Whether a reading's number may be shown: `verdict` decides it.
pub use crate::verdict::ReadingStatus;

/// Whether a device's ECG strip may be drawn: `verdict` decides it.
pub use crate::verdict::EcgStatus;

/// What the dashboard asks of the session. Operator actions go through the
/// same pipeline path as a stream's action lines.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    Operator(crate::model::OperatorAction),
    Replay(ReplayControl),
    /// Change the recent-window width of the charts.
    SetWindow(Duration),
    /// The operator confirmed quitting.
    Quit,
}

/// Replay transport controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayControl {
    TogglePause,
    Faster,
    Slower,
    /// Jump to the next alarm or marker.
    NextMark,
}
