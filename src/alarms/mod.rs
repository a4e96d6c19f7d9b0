//! The alarm engine, modelled on IEC 60601-1-8: a pure, deterministic state
//! machine. Input: samples, notifications, connection changes, operator
//! actions and the time; output: [`AlarmEvent`]s. It never reads a clock;
//! every timed transition (onset delay, staleness, escalation) fires at its
//! deadline and is stamped with it.
//!
//! Written for a reader who must trust it rather than for speed (the
//! budget leaves room): each device holds one instance per condition, every
//! timer is an `Option<SessionTime>`, and the next deadline is the earliest
//! over all instances. `tests/alarm_oracle.rs` checks it against a
//! deliberately naive reference engine.
//!
//! Devices are the session's: the engine keeps them in a vector indexed by
//! the [`DeviceTable`]'s [`DeviceId`], the same id the pipeline uses, and
//! takes labels only to look them up in that table.
//!
//! # Layout
//! - `instance`: one (condition, device) alarm: onset timers per priority
//!   level, hysteresis, and the annunciation states.
//! - `device`: one device's instances and what feeds them (which quantity
//!   drives which condition, suppression, staleness timers).
//! - `rules`: the configuration as the engine applies it.
//! - `limits`: the limits in force as typed facts (the dashboard words them).
//! - `trackers`: baseline, temperature-rise window, blood-pressure pairing.
//! - [`crate::verdict`] (outside): when a device's data is stale, without
//!   contact or invalid; the dashboard reads the same verdicts.
//!
//! # Decisions where DESIGN.md is silent
//! - **Heart rate sources.** `hr.*` are fed by `heart_rate_bpm` and by the
//!   `pulse_rate_bpm` of a continuous device (an oximeter); a cuff's pulse
//!   (an intermittent device) is only checked for plausibility.
//! - **Untrusted values.** A sample with `contact = false` or an invalid
//!   value (NaN, HR 0 or > 250, body or skin temperature outside 25–45 °C,
//!   SpO2 0 or > 100 %, …: see [`plausible`]) is never judged: the onset
//!   timers of its physiological alarms restart, an alarm in progress is
//!   kept. A no-contact sample's value is not checked for plausibility
//!   (straps send 0 without contact; `tech.no_contact` is the alarm that
//!   tells the truth).
//! - **Suppression.** Once a technical alarm's condition is established
//!   (`tech.no_contact` for heart rate; `tech.invalid` for the quantity's
//!   group; `tech.stale` or `tech.disconnected` for every physiological
//!   alarm of the device except the per-reading `bp.high`), the physiological
//!   alarms it covers end as if their condition had ended — cleared, or
//!   latched if high and unacknowledged — and are judged afresh, onset delay
//!   and all, once trustworthy data returns. The technical alarm shows
//!   instead, as on bedside monitors ("leads off" replaces the HR alarm).
//! - **Event values.** `active` and `escalated` carry the value that crossed
//!   the limit of the level that set the priority (DESIGN.md's example: 104
//!   at 61 s although 123 arrived at 60 s); escalation by time carries the
//!   latest value; `latched` and `cleared` carry none.
//! - **Priority never drops** while an alarm lasts; escalation to a higher
//!   level is an `escalated` event.
//! - **Acknowledge** emits no alarm event (the operator event records it, as
//!   in DESIGN.md's headless example); acknowledging a latched alarm emits
//!   `cleared`. A latched alarm whose condition returns becomes `active`
//!   again at no lower priority.
//! - **`tech.ecg`** (see [`crate::verdict::EcgWatch`]) is judged only for
//!   a device that sent ECG in this session or whose source reported the
//!   answer to the ECG start command. Raised at once for a refused start,
//!   else after `[alarms.tech_ecg] after_s` without an ECG frame, counted
//!   from the latest frame, (re)connection or successful start. A
//!   disconnection ends it (`tech.disconnected` says it all); a device
//!   silent altogether has both `tech.stale` and `tech.ecg`, both true. It
//!   suppresses nothing: heart rate from 0x2A37 is judged as before.
//! - **Staleness** counts from the last notification, or from the connection
//!   if none came since. A disconnected device is not also stale (its
//!   `tech.stale`, `tech.no_contact` and `tech.invalid` end on disconnection).
//!   A device never reported connected is taken as connected, and data from
//!   a device reported disconnected reconnects it (the data proves the link;
//!   the pipeline shows it connected too). The `manual` device is
//!   intermittent.
//! - **`bp.high`** judges a reading once both systolic and diastolic of
//!   that time arrived, or as soon as time moves past a reading that has only
//!   one of them (a manual systolic). Its event value is the component that
//!   set the priority (systolic when both do).
//! - **`temp.rise`** with both body and skin temperature on one device takes
//!   the larger rise; its event value is the temperature.
//! - **`hr.rise`** compares with the baseline (see `trackers::Baseline`); its
//!   event value is the heart rate.
//! - **Audio pause**: an alarm that becomes active or escalates after the
//!   pause started is audible (break-through); a latched alarm is audible
//!   until acknowledged.
//! - **Time never goes back**: an input earlier than the latest time seen is
//!   taken as happening at that latest time.

mod device;
mod instance;
mod limits;
mod rules;
mod trackers;

use std::time::Duration;

pub use crate::config::AlarmConfig;
use crate::config::LimitError;
pub use crate::device_table::DeviceId;
use crate::device_table::DeviceTable;
use crate::model::{AlarmEvent, AlarmState, AlarmStatus, Condition, DeviceLabel, OperatorAction, Sample, SessionTime};

use crate::verdict::Staleness;
pub use crate::verdict::{DeviceTiming, plausible};
use device::{Device, suppresses};
use instance::Phase;
pub use limits::{Limit, LimitRule};
use rules::Rules;

/// An operator action the engine could not carry out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlarmError {
    #[error("limit not changed: {0}")]
    Limit(#[from] LimitError),
    #[error("no device `{0}` has been seen in this session")]
    UnknownDevice(String),
    #[error("no valid heart rate in the last {window_s} s{} to take a baseline from", .device.as_ref().map(|d| format!(" from `{d}`")).unwrap_or_default())]
    NoBaselineData { device: Option<String>, window_s: u64 },
}

/// The operator's audio pause.
#[derive(Debug, Clone, Copy)]
struct AudioPause {
    start: SessionTime,
    until: SessionTime,
}

/// The alarm engine: one instance per (condition, device).
///
/// A clone shares the device table (the session has one) and copies
/// everything else.
#[derive(Debug, Clone)]
pub struct AlarmEngine {
    config: AlarmConfig,
    rules: Rules,
    /// The session's devices; `devices` is indexed by its ids.
    table: DeviceTable,
    /// The session-wide conditions (`tech.recording`, …; no label).
    session: Device,
    /// The table's devices, from the first up to the last the engine has
    /// been told of (a device admitted for its RSSI alone has instances
    /// that never leave idle).
    devices: Vec<Device>,
    /// Each one's earliest timer, found by a scan of its instances after
    /// every input it handled: `session_deadline` for `session`,
    /// `deadlines[i]` for `devices[i]`. Kept apart, in one dense vector,
    /// so that the check made at every input ("is anything due?") reads
    /// one value per device, not every instance of every device.
    session_deadline: Option<SessionTime>,
    deadlines: Vec<Option<SessionTime>>,
    /// The latest time seen.
    now: SessionTime,
    pause: Option<AudioPause>,
}

impl AlarmEngine {
    /// An engine with a device table of its own (`max_devices` at its
    /// default): for the engine alone, as tests and benchmarks use it.
    #[must_use]
    pub fn new(config: AlarmConfig) -> Self {
        Self::with_devices(config, DeviceTable::default())
    }

    /// An engine knowing devices by the session's `table`.
    #[must_use]
    pub fn with_devices(config: AlarmConfig, table: DeviceTable) -> Self {
        let rules = Rules::compile(&config);
        let session = Device::new(None, &rules);
        Self {
            config,
            rules,
            table,
            session,
            devices: Vec::new(),
            session_deadline: None,
            deadlines: Vec::new(),
            now: SessionTime::ZERO,
            pause: None,
        }
    }

    #[must_use]
    pub fn config(&self) -> &AlarmConfig {
        &self.config
    }

    /// The device table the engine's ids come from.
    #[must_use]
    pub fn devices(&self) -> &DeviceTable {
        &self.table
    }

    /// Device profile timing (expected notification interval; intermittent
    /// sensors are never stale). Unknown devices: interval learned from
    /// their recent notifications (the configured default, 1 s, until known;
    /// see [`Staleness`]).
    ///
    /// Every method that takes a device's label admits it to the table if
    /// it is new; a label the table has no room for is ignored, with a
    /// warning (the pipeline refuses such a device before it gets here).
    pub fn set_device_timing(&mut self, device: &DeviceLabel, timing: DeviceTiming) {
        let Some(id) = self.admit(device) else { return };
        self.with_device(Some(id), |d, rules| d.set_timing(rules, timing));
    }

    /// What decides when `id`'s data is stale: `tech.stale`'s timers run
    /// from it, and the snapshot's reading status reads it (with
    /// `config().tech_stale`), so the two agree. `None`: nothing about the
    /// device has reached the engine yet.
    #[must_use]
    pub fn staleness(&self, id: DeviceId) -> Option<&Staleness> {
        self.devices.get(id.index()).map(|d| &d.staleness)
    }

    /// One decoded sample. Also counts as data for staleness (so calling
    /// [`on_data`](Self::on_data) for its notification as well is harmless).
    pub fn on_sample(&mut self, sample: &Sample, out: &mut Vec<AlarmEvent>) {
        let Some(id) = self.admit(&sample.device) else { return };
        self.on_device_sample(id, sample, out);
    }

    /// [`on_sample`](Self::on_sample) for a sample of device `id` of the
    /// engine's table (`sample.device` is not looked at).
    pub fn on_device_sample(&mut self, id: DeviceId, sample: &Sample, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(sample.at, out);
        self.with_device(Some(id), |d, rules| d.sample(rules, sample, at, out));
    }

    /// A notification arrived from `device` (any characteristic, even one
    /// that failed to decode): feeds staleness.
    pub fn on_data(&mut self, at: SessionTime, device: &DeviceLabel, out: &mut Vec<AlarmEvent>) {
        let Some(id) = self.admit(device) else { return };
        self.on_device_data(at, id, out);
    }

    /// [`on_data`](Self::on_data) for device `id` of the engine's table.
    pub fn on_device_data(&mut self, at: SessionTime, id: DeviceId, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(at, out);
        self.with_device(Some(id), |d, rules| d.data(rules, at, out));
    }

    /// An ECG frame (Polar PMD) of device `id` arrived at `at`; call it after
    /// [`on_device_data`](Self::on_device_data) for its notification.
    pub fn on_ecg_frame(&mut self, at: SessionTime, id: DeviceId, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(at, out);
        self.with_device(Some(id), |d, _| d.ecg_frame(at, out));
    }

    /// `device` answered the ECG start command: `started` false (refused,
    /// with the device's `reason`) raises `tech.ecg` at once.
    pub fn on_ecg_start(
        &mut self,
        at: SessionTime,
        device: &DeviceLabel,
        started: bool,
        reason: Option<&str>,
        out: &mut Vec<AlarmEvent>,
    ) {
        let Some(id) = self.admit(device) else { return };
        let at = self.enter(at, out);
        self.with_device(Some(id), |d, _| d.ecg_start(at, started, reason, out));
    }

    /// What decides whether `id`'s ECG is live: `tech.ecg` is raised from
    /// it, and the snapshot's ECG status reads it (with
    /// `config().tech_ecg`). `None`: nothing about the device has reached
    /// the engine yet.
    #[must_use]
    pub fn ecg_watch(&self, id: DeviceId) -> Option<&crate::verdict::EcgWatch> {
        self.devices.get(id.index()).map(|d| &d.ecg)
    }

    pub fn on_connection(&mut self, at: SessionTime, device: &DeviceLabel, connected: bool, out: &mut Vec<AlarmEvent>) {
        let Some(id) = self.admit(device) else { return };
        let at = self.enter(at, out);
        self.with_device(Some(id), |d, rules| d.connection(rules, at, connected, out));
    }

    /// ack (one or all), audio_pause, baseline, limit. Marker and manual are
    /// the pipeline's (a manual reading arrives as a sample of device
    /// `manual`); they are accepted and ignored here.
    pub fn on_operator(
        &mut self,
        at: SessionTime,
        action: &OperatorAction,
        out: &mut Vec<AlarmEvent>,
    ) -> Result<(), AlarmError> {
        let at = self.enter(at, out);
        match action {
            OperatorAction::Ack { alarm, device } | OperatorAction::RemoteAck { alarm, device, .. } => {
                self.acknowledge(at, *alarm, device.as_deref(), out)
            }
            OperatorAction::AudioPause => {
                self.pause = Some(AudioPause { start: at, until: at.saturating_add(self.config.audio_pause) });
                Ok(())
            }
            OperatorAction::Baseline { device } => self.take_baseline(at, device.as_deref()),
            OperatorAction::Limit { condition, priority, value } => {
                self.config.set_limit(*condition, *priority, *value)?;
                // Only thresholds change: instances keep their timers and
                // are judged against the new limit from the next sample.
                self.rules = Rules::compile(&self.config);
                Ok(())
            }
            OperatorAction::Marker(_) | OperatorAction::Manual { .. } | OperatorAction::AckRefused { .. } => Ok(()),
        }
    }

    /// A technical condition raised or cleared by whoever watches the
    /// failing part (`device` `None`: session-wide, such as
    /// `tech.recording`). Physiological conditions are ignored.
    pub fn set_technical(
        &mut self,
        at: SessionTime,
        condition: Condition,
        device: Option<&DeviceLabel>,
        on: bool,
        out: &mut Vec<AlarmEvent>,
    ) {
        if !condition.is_technical() {
            return;
        }
        let id = match device {
            Some(label) => match self.admit(label) {
                Some(id) => Some(id),
                None => return,
            },
            None => None,
        };
        let at = self.enter(at, out);
        self.with_device(id, |d, rules| {
            d.flag(rules, condition, at, on, None, out);
            if suppresses(condition) {
                d.refresh_suppression(at, out);
            }
        });
    }

    /// Wall-clock jump or suspend, reported at `at` (the first time after
    /// it) for the `duration` before: every timer set before `at` moves later
    /// by `duration` (but not past `at`), so the gap fires no burst of
    /// alarms. Call it before advancing past `at`.
    pub fn on_gap(&mut self, at: SessionTime, duration: Duration) {
        let at = at.max(self.now);
        self.session.shift(at, duration);
        self.session_deadline = earliest(&self.session);
        for (d, deadline) in self.devices.iter_mut().zip(&mut self.deadlines) {
            d.shift(at, duration);
            *deadline = earliest(d);
        }
        if let Some(pause) = &mut self.pause
            && pause.until > at.saturating_sub(duration)
        {
            pause.until = pause.until.saturating_add(duration);
        }
    }

    /// The gap between two segments of a resumed session (`--resume`),
    /// reported at `at`, the session time the new segment starts at. Timers
    /// move as for [`on_gap`](Self::on_gap), so the outage fires no burst of
    /// alarms and an onset delay in progress continues where it stopped; an
    /// audio pause does not move: it ends when it would have by the wall
    /// clock, so it is still running after the resume only if the operator's
    /// pause has not yet run out.
    pub fn on_resume_gap(&mut self, at: SessionTime, duration: Duration) {
        let pause = self.pause;
        self.on_gap(at, duration);
        self.pause = pause;
    }

    /// Fire every timed transition with deadline <= `now`, each stamped at
    /// its deadline, in time order.
    pub fn advance_to(&mut self, now: SessionTime, out: &mut Vec<AlarmEvent>) {
        while let Some((at, owner)) = self.earliest().filter(|(at, _)| *at <= now) {
            let (device, deadline) = match owner {
                None => (&mut self.session, &mut self.session_deadline),
                Some(i) => (&mut self.devices[i], &mut self.deadlines[i]),
            };
            if let Some((_, timer)) = device.earliest() {
                device.fire(&self.rules, at, timer, out);
            }
            *deadline = earliest(device);
        }
        self.now = self.now.max(now);
    }

    /// The next time [`advance_to`](Self::advance_to) has something to fire.
    #[must_use]
    pub fn next_deadline(&self) -> Option<SessionTime> {
        self.earliest().map(|(at, _)| at)
    }

    /// Alarms not cleared, highest priority first then newest.
    #[must_use]
    pub fn statuses(&self) -> Vec<AlarmStatus> {
        let pause = self.pause.filter(|p| self.now < p.until);
        let mut list = Vec::new();
        for d in std::iter::once(&self.session).chain(&self.devices) {
            for inst in &d.instances {
                let state = match inst.phase {
                    Phase::Idle => continue,
                    Phase::Active => AlarmState::Active,
                    Phase::Escalated => AlarmState::Escalated,
                    Phase::Acknowledged => AlarmState::Acknowledged,
                    Phase::Latched => AlarmState::Latched,
                };
                let sounding = matches!(inst.phase, Phase::Active | Phase::Escalated | Phase::Latched);
                // An alarm that became active or escalated during the pause
                // breaks through it.
                let silenced = pause.is_some_and(|p| inst.annunciated <= p.start);
                list.push(AlarmStatus {
                    condition: inst.condition,
                    device: d.label.clone(),
                    priority: inst.priority,
                    state,
                    since: inst.active_since,
                    changed: inst.changed,
                    value: inst.trigger.filter(|v| v.is_finite()),
                    audible: sounding && !silenced,
                });
            }
        }
        list.sort_by(|a, b| b.priority.cmp(&a.priority).then(b.changed.cmp(&a.changed)));
        list
    }

    #[must_use]
    pub fn audio_paused_until(&self) -> Option<SessionTime> {
        self.pause.filter(|p| self.now < p.until).map(|p| p.until)
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Vec<Limit> {
        limits::limits(&self.config)
    }

    /// Advance timers to `at` (clamped so time never goes back).
    fn enter(&mut self, at: SessionTime, out: &mut Vec<AlarmEvent>) -> SessionTime {
        let at = at.max(self.now);
        self.advance_to(at, out);
        at
    }

    /// The earliest pending timer and whose it is (`None`: the session-wide
    /// conditions; `Some(i)`: `devices[i]`). A timer whose delay was
    /// shortened below the time already waited (a learned interval that
    /// shrank) is due now, not in the past. Ties: the session-wide
    /// conditions, then devices in table order.
    fn earliest(&self) -> Option<(SessionTime, Option<usize>)> {
        // A plain loop: this runs at every input, over every device.
        let now = self.now;
        let mut best = self.session_deadline.map(|t| (t.max(now), None));
        for (i, deadline) in self.deadlines.iter().enumerate() {
            if let Some(t) = *deadline
                && best.is_none_or(|(b, _)| t.max(now) < b)
            {
                best = Some((t.max(now), Some(i)));
            }
        }
        best
    }

    /// `label`'s id in the table, admitting it if there is room.
    fn admit(&self, label: &DeviceLabel) -> Option<DeviceId> {
        match self.table.admit(label) {
            Ok((id, _)) => Some(id),
            Err(full) => {
                tracing::warn!("alarm input ignored: {full}");
                None
            }
        }
    }

    /// The id of a device the session has seen, by its label as an
    /// operator typed it.
    fn find_by_name(&self, name: &str) -> Result<DeviceId, AlarmError> {
        self.table.id_of(name).ok_or_else(|| AlarmError::UnknownDevice(name.to_owned()))
    }

    /// Run `f` on device `id` (`None`: the session-wide conditions), then
    /// note its earliest timer. A device the engine has not met yet gets its
    /// instances first, as does every table device before it.
    fn with_device<R>(&mut self, id: Option<DeviceId>, f: impl FnOnce(&mut Device, &Rules) -> R) -> R {
        let (device, deadline) = match id {
            None => (&mut self.session, &mut self.session_deadline),
            Some(id) => {
                if self.devices.len() <= id.index() {
                    for (_, label) in self.table.devices_from(self.devices.len()) {
                        self.devices.push(Device::new(Some(label), &self.rules));
                        self.deadlines.push(None);
                    }
                }
                (&mut self.devices[id.index()], &mut self.deadlines[id.index()])
            }
        };
        let r = f(device, &self.rules);
        *deadline = earliest(device);
        r
    }

    fn acknowledge(
        &mut self,
        at: SessionTime,
        alarm: Option<Condition>,
        device: Option<&str>,
        out: &mut Vec<AlarmEvent>,
    ) -> Result<(), AlarmError> {
        let only = device.map(|name| self.find_by_name(name)).transpose()?;
        let devices = self.devices.iter_mut().zip(&mut self.deadlines).enumerate();
        let devices = devices.filter(|(i, _)| only.is_none_or(|o| o.index() == *i)).map(|(_, d)| d);
        // The session-wide conditions are acknowledged with every device's,
        // never with one named device's.
        let session = only.is_none().then_some((&mut self.session, &mut self.session_deadline));
        for (d, deadline) in session.into_iter().chain(devices) {
            for inst in &mut d.instances {
                if alarm.is_none_or(|a| a == inst.condition) {
                    inst.acknowledge(at, d.label.as_ref(), out);
                }
            }
            *deadline = earliest(d);
        }
        Ok(())
    }

    fn take_baseline(&mut self, at: SessionTime, device: Option<&str>) -> Result<(), AlarmError> {
        let window = self.rules.baseline_window;
        let no_data = || AlarmError::NoBaselineData { device: device.map(str::to_owned), window_s: window.as_secs() };
        if let Some(name) = device {
            let id = self.find_by_name(name)?;
            // A device the engine has not met has no heart rate either.
            let b = &mut self.devices.get_mut(id.index()).ok_or_else(no_data)?.baseline;
            let mean = b.recent_mean(at, window).ok_or_else(no_data)?;
            b.set(mean);
            return Ok(());
        }
        let mut any = false;
        for d in std::iter::once(&mut self.session).chain(&mut self.devices) {
            if let Some(mean) = d.baseline.recent_mean(at, window) {
                d.baseline.set(mean);
                any = true;
            }
        }
        if any { Ok(()) } else { Err(no_data()) }
    }
}

/// `device`'s earliest pending timer.
fn earliest(device: &Device) -> Option<SessionTime> {
    device.earliest().map(|(t, _)| t)
}

#[cfg(test)]
mod tests;
