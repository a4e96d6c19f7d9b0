//! Simulated sessions: scripted participants wearing simulated sensors.
//!
//! A scenario (`devices/simulated/*.toml`, format in [`format`]) names its
//! devices (a profile from `devices/` each), a physiological script
//! (baseline, keyframes, noise) and events (dose markers, contact loss,
//! dropouts, disconnections, special values, malformed payloads). The
//! simulator turns it into exactly what the BLE source would deliver: the
//! GATT payloads are built with the [`crate::gatt`] encoders, so decoding,
//! alarms, recording and dashboard run as with real sensors.
//!
//! Generation is a pure function of the scenario and the seed
//! ([`Scenario::batches`]); [`run`] only paces it on a [`Clock`], so a run at
//! `--speed 1` and one at `--speed max` deliver the same events.

pub mod ecg;
pub mod format;
pub mod physiology;
mod sensor;

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::devices::DeviceProfile;
use crate::model::{Batch, Characteristic, DeviceLabel, EventBody, OperatorAction, Payload, SessionTime, SourceEvent};
use physiology::Physiology;
use sensor::SensorSim;

/// The scenario `vigil simulate` runs without an argument: a tachycardia
/// that raises a high-priority `hr.high` about 39 s in, so a new user sees
/// an alarm within the first minute.
pub const DEFAULT_SCENARIO: &str = "tachycardia-episode";

/// Session time covered by one batch.
pub const BATCH_SPAN: Duration = Duration::from_secs(1);

/// The shipped scenarios, `(name, text)`, embedded so the binary works from
/// any directory.
const BUILTIN: [(&str, &str); 6] = [
    ("tachycardia-episode", include_str!("../../../devices/simulated/tachycardia-episode.toml")),
    ("mdma-session", include_str!("../../../devices/simulated/mdma-session.toml")),
    ("hyperthermia", include_str!("../../../devices/simulated/hyperthermia.toml")),
    ("flaky-sensor", include_str!("../../../devices/simulated/flaky-sensor.toml")),
    ("multi-sensor", include_str!("../../../devices/simulated/multi-sensor.toml")),
    ("polar-h10-ecg", include_str!("../../../devices/simulated/polar-h10-ecg.toml")),
];

/// A scenario file that cannot be used: names the file, the line and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default(), key.as_ref().map(|k| format!(": {k}")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

/// Why a simulation stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The pipeline stopped listening (normal while the session shuts down).
    #[error("the pipeline stopped taking simulated events at {at}")]
    ChannelClosed { at: SessionTime },
}

/// A scripted session.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// One line, for `vigil simulate --list`.
    pub description: String,
    /// The comment block at the top of the file: what the scenario shows
    /// and which alarms it is expected to raise.
    pub header: String,
    pub duration: Duration,
    /// The default seed (the file's `seed`); [`Scenario::batches`] takes one.
    pub seed: u64,
    /// What the devices' own clocks say at session start (their timestamps
    /// are device time, which need not match the session's UTC).
    pub device_clock: DateTime<Utc>,
    pub physiology: Physiology,
    pub devices: Vec<SimDevice>,
    /// In time order.
    pub events: Vec<ScriptEvent>,
}

/// One simulated sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct SimDevice {
    pub label: DeviceLabel,
    pub profile: DeviceProfile,
    /// Advertised name and address, as `Connected` reports them.
    pub name: String,
    pub address: String,
    /// Notification period (continuous) or measurement period (a cuff).
    pub interval: Duration,
    /// Time of the first reading.
    pub offset: Duration,
    pub battery_pct: f64,
    pub battery_drain_pct_per_h: f64,
    /// Health Thermometer temperature type code (5 = GI tract), if sent.
    pub site: Option<u8>,
    /// A strap reports skin contact.
    pub contact: bool,
    /// A strap sends RR intervals.
    pub rr: bool,
    /// A strap sends energy expended (every 10th notification).
    pub energy: bool,
    /// Measurement noise (sd, in the quantity's unit); a default per kind.
    pub noise: Option<f64>,
    /// A strap streams raw ECG as Polar PMD data notifications.
    pub ecg: bool,
    /// The strap's true ECG sample rate (its clock's, not the nominal 130).
    pub ecg_rate_hz: f64,
}

/// Something the script makes happen at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptEvent {
    pub at: SessionTime,
    pub kind: ScriptEventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScriptEventKind {
    /// A marker or any other operator action, as if keyed at the dashboard.
    Operator(OperatorAction),
    /// The strap slips: contact "not detected", heart rate 0, no RR.
    ContactLoss { device: DeviceLabel, duration: Duration },
    /// Connected but silent (radio interference, a stalled sensor).
    Dropout { device: DeviceLabel, duration: Duration },
    /// The link drops and comes back after `duration`.
    Disconnect { device: DeviceLabel, duration: Duration, reason: Option<String> },
    /// Readings carry an IEEE-11073 special value instead of a number: for
    /// `duration`, or only the next reading when `None`.
    Invalid { device: DeviceLabel, duration: Option<Duration>, value: SpecialValue },
    /// These exact bytes, deliberately breaking the characteristic's format.
    Malformed { device: DeviceLabel, characteristic: Characteristic, payload: Payload },
    /// The battery level jumps to `pct` (and drains on from there).
    Battery { device: DeviceLabel, pct: u8 },
}

/// IEEE-11073 FLOAT/SFLOAT values that mean "no valid measurement".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialValue {
    NaN,
    NRes,
    PositiveInfinity,
    NegativeInfinity,
}

/// Load a shipped scenario by name, or a scenario file by path.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return format::parse(&format!("devices/simulated/{name}.toml"), text);
    }
    let path = std::path::Path::new(name_or_path);
    match std::fs::read_to_string(path) {
        Ok(text) => format::parse(name_or_path, &text),
        Err(e) => {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Err(ScenarioError {
                file: crate::excerpt::excerpt(name_or_path),
                line: None,
                key: None,
                message: format!(
                    "no such scenario ({e}); the shipped scenarios are {}, or give the path of a scenario file",
                    names.join(", ")
                ),
            })
        }
    }
}

/// Parse scenario text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    format::parse(file, text)
}

/// The shipped scenarios: `(name, one-line description)`.
#[must_use]
pub fn list() -> Vec<(String, String)> {
    BUILTIN
        .iter()
        .map(|(name, text)| {
            let description = format::parse(name, text).map_or_else(|e| format!("(broken: {e})"), |s| s.description);
            ((*name).to_owned(), description)
        })
        .collect()
}

impl Scenario {
    /// Each device's label and profile, for `session.json`, the alarm
    /// engine's expected intervals and the decoders' skin/ambient choice.
    #[must_use]
    pub fn device_profiles(&self) -> Vec<(DeviceLabel, DeviceProfile)> {
        self.devices.iter().map(|d| (d.label.clone(), d.profile.clone())).collect()
    }

    /// The whole session, deterministic and unpaced: one batch per
    /// [`BATCH_SPAN`] of session time (empty ones too, so the watermark
    /// moves on through silences), events in time order, devices connecting
    /// at the start, markers as operator events.
    #[must_use]
    pub fn batches(&self, seed: u64) -> Batches {
        Batches::new(self, seed)
    }
}

/// The iterator behind [`Scenario::batches`]; owns its state, so it can
/// move into a task.
#[derive(Debug)]
pub struct Batches {
    sensors: Vec<SensorSim>,
    operator: Vec<(SessionTime, OperatorAction)>,
    next_operator: usize,
    physiology: Physiology,
    seed: u64,
    device_clock: DateTime<Utc>,
    from: SessionTime,
    end: SessionTime,
}

impl Batches {
    fn new(scenario: &Scenario, seed: u64) -> Self {
        let sensors = scenario
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                SensorSim::new(
                    d,
                    u64::try_from(i).unwrap_or(u64::MAX),
                    &scenario.events,
                    seed,
                    &scenario.physiology,
                    scenario.device_clock,
                )
            })
            .collect();
        let operator = scenario
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                ScriptEventKind::Operator(a) => Some((e.at, a.clone())),
                _ => None,
            })
            .collect();
        Self {
            sensors,
            operator,
            next_operator: 0,
            physiology: scenario.physiology.clone(),
            seed,
            device_clock: scenario.device_clock,
            from: SessionTime::ZERO,
            end: SessionTime::ZERO.saturating_add(scenario.duration),
        }
    }
}

impl Iterator for Batches {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.from >= self.end {
            return None;
        }
        let until = self.from.saturating_add(BATCH_SPAN).min(self.end);
        let mut events = Vec::new();
        while let Some((at, action)) = self.operator.get(self.next_operator).filter(|(at, _)| *at < until) {
            events.push(SourceEvent { at: *at, device: None, body: EventBody::Operator(action.clone()) });
            self.next_operator += 1;
        }
        for sensor in &mut self.sensors {
            sensor.emit(until, &self.physiology, self.seed, self.device_clock, &mut events);
        }
        // Stable: simultaneous events keep operator-first, then device order.
        events.sort_by_key(|e| e.at);
        self.from = until;
        Some(Batch { events, until })
    }
}

/// Deliver a scenario on `clock`: each batch once its span has passed (at
/// `--speed max` at once, with the channel's backpressure as the only
/// pacing). Ends when the scenario does; the caller drops nothing, the
/// sender goes out of scope and the pipeline sees the end of input.
pub async fn run(scenario: &Scenario, seed: u64, clock: Clock, tx: mpsc::Sender<Batch>) -> Result<(), SimError> {
    for batch in scenario.batches(seed) {
        clock.sleep_until(batch.until).await;
        let at = batch.until;
        tx.send(batch).await.map_err(|_| SimError::ChannelClosed { at })?;
    }
    Ok(())
}
