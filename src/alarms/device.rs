//! One device's alarms: its instances (one per condition), what the rules
//! remember about it (baseline, temperature-rise windows, the blood-pressure
//! reading being assembled) and the technical state that suppresses its
//! physiological alarms. The session-wide conditions live on a device with
//! no label.

use std::collections::BTreeSet;

use crate::model::{AlarmEvent, Condition, DeviceLabel, MANUAL_DEVICE, Quantity, Sample, SessionTime};
use crate::verdict::{DeviceTiming, EcgWatch, Staleness, in_contact, plausible};

use super::instance::{Instance, Judgement};
use super::rules::Rules;
use super::trackers::{Baseline, BpPart, BpReading, RiseWindow};

/// Physiological alarms a technical alarm can suppress, by the quantities
/// that feed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    HeartRate,
    Temperature,
    Spo2,
}

impl Group {
    const ALL: [Group; 3] = [Group::HeartRate, Group::Temperature, Group::Spo2];

    const fn conditions(self) -> &'static [Condition] {
        match self {
            Group::HeartRate => &[Condition::HrHigh, Condition::HrLow, Condition::HrRise],
            Group::Temperature => &[Condition::TempHigh, Condition::TempRise],
            Group::Spo2 => &[Condition::Spo2Low],
        }
    }

    const fn quantities(self) -> &'static [Quantity] {
        match self {
            Group::HeartRate => &[Quantity::HeartRateBpm, Quantity::PulseRateBpm],
            Group::Temperature => &[Quantity::BodyTemperatureC, Quantity::SkinTemperatureC],
            Group::Spo2 => &[Quantity::Spo2Pct],
        }
    }
}

/// Technical conditions whose establishment changes suppression.
pub(super) fn suppresses(c: Condition) -> bool {
    matches!(c, Condition::TechStale | Condition::TechNoContact | Condition::TechInvalid | Condition::TechDisconnected)
}

/// A pending timer of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// An incomplete blood-pressure reading is judged.
    BloodPressure,
    Instance(Condition),
}

#[derive(Debug, Clone)]
pub(super) struct Device {
    /// `None` for the session-wide conditions (`tech.recording`, …).
    pub label: Option<DeviceLabel>,
    /// Indexed by the condition's position in [`Condition::ALL`].
    pub instances: Vec<Instance>,
    pub connected: bool,
    /// The last notification (any characteristic), for staleness.
    last_data: Option<SessionTime>,
    /// Timing and learned interval: when this device's data is stale.
    pub staleness: Staleness,
    /// Whether its ECG is expected, silent or refused (`tech.ecg`).
    pub ecg: EcgWatch,
    /// Quantities whose latest sample was invalid.
    invalid: BTreeSet<Quantity>,
    /// Groups currently suppressed (by [`Group`] index).
    suppressed: [bool; 3],
    pub baseline: Baseline,
    /// Body and skin temperature windows, and their latest rise.
    rise: [RiseWindow; 2],
    rise_now: [f64; 2],
    bp: Option<BpReading>,
}

impl Device {
    pub fn new(label: Option<DeviceLabel>, rules: &Rules) -> Self {
        let instances = Condition::ALL
            .iter()
            .map(|c| {
                let rule = rules.rule(*c);
                Instance::new(*c, rule.onsets(), rule.escalate_after)
            })
            .collect();
        let intermittent = label.as_deref() == Some(MANUAL_DEVICE);
        let mut device = Self {
            label,
            instances,
            connected: true,
            last_data: None,
            staleness: Staleness::new(DeviceTiming { expected_interval: None, intermittent }),
            ecg: EcgWatch::default(),
            invalid: BTreeSet::new(),
            suppressed: [false; 3],
            baseline: Baseline::default(),
            rise: [RiseWindow::default(), RiseWindow::default()],
            rise_now: [f64::NEG_INFINITY; 2],
            bp: None,
        };
        device.apply_stale_onsets(rules);
        device
    }

    pub fn instance(&self, c: Condition) -> &Instance {
        &self.instances[c as usize]
    }

    fn intermittent(&self) -> bool {
        self.staleness.timing().intermittent
    }

    /// The earliest pending timer (ties: the reading, then the condition
    /// listed first).
    pub fn earliest(&self) -> Option<(SessionTime, Timer)> {
        let bp = self.bp.map(|r| (r.deadline(), Timer::BloodPressure));
        let instances = self.instances.iter().filter_map(|i| i.deadline().map(|d| (d, Timer::Instance(i.condition))));
        bp.into_iter().chain(instances).min_by_key(|(t, _)| *t)
    }

    /// New timing from the device's profile.
    pub fn set_timing(&mut self, rules: &Rules, timing: DeviceTiming) {
        self.staleness.set_timing(timing);
        self.apply_stale_onsets(rules);
    }

    /// `tech.stale`'s delays from the device's staleness limit: a timer
    /// already running falls due by the new delays (a learned interval that
    /// shrank makes the device stale sooner). An intermittent device is
    /// never stale.
    fn apply_stale_onsets(&mut self, rules: &Rules) {
        let onsets = match self.staleness.stale_after(&rules.stale) {
            Some(limit) => rules.stale_onsets(limit),
            None => [None; 3],
        };
        let intermittent = self.intermittent();
        let stale = &mut self.instances[Condition::TechStale as usize];
        stale.set_onsets(onsets);
        if intermittent {
            stale.reset_pending();
        }
    }

    fn observe(&mut self, c: Condition, at: SessionTime, j: Judgement, value: Option<f64>, out: &mut Vec<AlarmEvent>) {
        self.instances[c as usize].observe(at, j, value, self.label.as_ref(), out);
    }

    /// A value of a threshold condition; `shown` is what events report.
    fn judge(&mut self, rules: &Rules, c: Condition, at: SessionTime, v: f64, shown: f64, out: &mut Vec<AlarmEvent>) {
        self.observe(c, at, rules.rule(c).judge(v), Some(shown), out);
    }

    /// A yes/no condition at its configured level(s).
    pub fn flag(
        &mut self,
        rules: &Rules,
        c: Condition,
        at: SessionTime,
        on: bool,
        value: Option<f64>,
        out: &mut Vec<AlarmEvent>,
    ) {
        // The configured levels, not the instance's: `tech.stale` driven by
        // hand is raised at low priority whatever the device's interval.
        let levels = if on { rules.rule(c).existing() } else { [false; 3] };
        self.observe(c, at, Judgement::all(levels), value, out);
    }

    fn end(&mut self, c: Condition, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        self.instances[c as usize].end(at, self.label.as_ref(), out);
    }

    /// The group's data was not usable: its onset timers restart.
    fn reset_group(&mut self, group: Group) {
        for c in group.conditions() {
            self.instances[*c as usize].reset_pending();
        }
    }

    fn is_suppressed(&self, group: Group) -> bool {
        self.suppressed[group as usize]
    }

    /// Recompute which groups are suppressed; end the alarms of groups that
    /// just became suppressed.
    pub fn refresh_suppression(&mut self, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        let all = !self.connected || self.instance(Condition::TechStale).is_qualified();
        let no_contact = self.instance(Condition::TechNoContact).is_qualified();
        let invalid = self.instance(Condition::TechInvalid).is_qualified();
        for group in Group::ALL {
            let now = all
                || (group == Group::HeartRate && no_contact)
                || (invalid && group.quantities().iter().any(|q| self.invalid.contains(q)));
            let before = std::mem::replace(&mut self.suppressed[group as usize], now);
            if now && !before {
                for c in group.conditions() {
                    self.end(*c, at, out);
                }
            }
        }
    }

    /// Any notification: feeds staleness and the interval estimate.
    pub fn data(&mut self, rules: &Rules, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        // The further samples of one notification add nothing.
        if self.last_data.is_some_and(|last| at <= last) {
            return;
        }
        if let Some(last) = self.last_data
            && self.staleness.note_gap(at.since(last))
        {
            self.apply_stale_onsets(rules);
        }
        self.last_data = Some(at);
        if !self.connected {
            self.connection(rules, at, true, out);
            return;
        }
        if !self.intermittent() {
            let was_stale = self.instance(Condition::TechStale).is_qualified();
            self.instances[Condition::TechStale as usize].rearm(at, self.label.as_ref(), out);
            if was_stale {
                self.refresh_suppression(at, out);
            }
        }
    }

    fn contact(&mut self, rules: &Rules, at: SessionTime, contact: bool, out: &mut Vec<AlarmEvent>) {
        let was = self.instance(Condition::TechNoContact).is_qualified();
        self.flag(rules, Condition::TechNoContact, at, !contact, None, out);
        if was != self.instance(Condition::TechNoContact).is_qualified() {
            self.refresh_suppression(at, out);
        }
    }

    /// Track whether `q`'s latest value was usable; drives `tech.invalid`.
    fn validity(
        &mut self,
        rules: &Rules,
        q: Quantity,
        at: SessionTime,
        valid: bool,
        v: f64,
        out: &mut Vec<AlarmEvent>,
    ) {
        let changed = if valid { self.invalid.remove(&q) } else { self.invalid.insert(q) };
        if changed {
            let any = !self.invalid.is_empty();
            self.flag(rules, Condition::TechInvalid, at, any, (!valid).then_some(v), out);
            self.refresh_suppression(at, out);
        }
    }

    fn heart_rate(
        &mut self,
        rules: &Rules,
        q: Quantity,
        at: SessionTime,
        v: f64,
        contact: Option<bool>,
        out: &mut Vec<AlarmEvent>,
    ) {
        let trusted = in_contact(contact);
        let valid = plausible(q, v);
        if trusted {
            self.validity(rules, q, at, valid, v, out);
        } else {
            // A no-contact value is not judged for plausibility (see the
            // module doc): it only ends an earlier invalid value's verdict.
            self.validity(rules, q, at, true, v, out);
        }
        if !trusted || !valid || !self.connected || self.is_suppressed(Group::HeartRate) {
            self.reset_group(Group::HeartRate);
            return;
        }
        let baseline = self.baseline.feed(at, v, rules.baseline_window);
        self.judge(rules, Condition::HrHigh, at, v, v, out);
        self.judge(rules, Condition::HrLow, at, v, v, out);
        if let Some(b) = baseline {
            self.judge(rules, Condition::HrRise, at, v - b, v, out);
        }
    }

    fn temperature(&mut self, rules: &Rules, q: Quantity, at: SessionTime, v: f64, out: &mut Vec<AlarmEvent>) {
        let valid = plausible(q, v);
        self.validity(rules, q, at, valid, v, out);
        if !valid || !self.connected || self.is_suppressed(Group::Temperature) {
            self.reset_group(Group::Temperature);
            return;
        }
        let k = usize::from(q == Quantity::SkinTemperatureC);
        if q == Quantity::BodyTemperatureC {
            self.judge(rules, Condition::TempHigh, at, v, v, out);
        }
        self.rise_now[k] = self.rise[k].push(at, v, rules.rise_window);
        let rise = self.rise_now[0].max(self.rise_now[1]);
        self.judge(rules, Condition::TempRise, at, rise, v, out);
    }

    fn spo2(&mut self, rules: &Rules, at: SessionTime, v: f64, out: &mut Vec<AlarmEvent>) {
        let valid = plausible(Quantity::Spo2Pct, v);
        self.validity(rules, Quantity::Spo2Pct, at, valid, v, out);
        if !valid || !self.connected || self.is_suppressed(Group::Spo2) {
            self.reset_group(Group::Spo2);
            return;
        }
        self.judge(rules, Condition::Spo2Low, at, v, v, out);
    }

    fn blood_pressure(&mut self, rules: &Rules, q: Quantity, at: SessionTime, v: f64, out: &mut Vec<AlarmEvent>) {
        let valid = plausible(q, v);
        self.validity(rules, q, at, valid, v, out);
        let part = if q == Quantity::SystolicMmhg { BpPart::Systolic } else { BpPart::Diastolic };
        if self.bp.is_some_and(|r| r.at != at) {
            self.judge_bp(rules, out);
        }
        let reading = self.bp.get_or_insert_with(|| BpReading::new(at));
        reading.add(part, valid.then_some(v));
        if reading.complete() {
            self.judge_bp(rules, out);
        }
    }

    /// Judge the pending reading on its own (systolic when both components
    /// set the priority).
    fn judge_bp(&mut self, rules: &Rules, out: &mut Vec<AlarmEvent>) {
        let Some(reading) = self.bp.take() else { return };
        if reading.systolic.is_none() && reading.diastolic.is_none() {
            return;
        }
        let mut beyond = [false; 3];
        let mut shown = reading.systolic.or(reading.diastolic);
        for (l, level) in rules.bp.iter().enumerate() {
            let Some(level) = level else { continue };
            if let Some(s) = reading.systolic.filter(|s| *s > level.systolic_above_mmhg) {
                beyond[l] = true;
                shown = Some(s);
            } else if let Some(d) = reading.diastolic.filter(|d| *d > level.diastolic_above_mmhg) {
                beyond[l] = true;
                shown = Some(d);
            }
        }
        self.observe(Condition::BpHigh, reading.at, Judgement::all(beyond), shown, out);
    }

    fn battery(&mut self, rules: &Rules, at: SessionTime, v: f64, out: &mut Vec<AlarmEvent>) {
        let valid = plausible(Quantity::BatteryPct, v);
        self.validity(rules, Quantity::BatteryPct, at, valid, v, out);
        if valid {
            self.judge(rules, Condition::TechBatteryLow, at, v, v, out);
        }
    }

    pub fn connection(&mut self, rules: &Rules, at: SessionTime, connected: bool, out: &mut Vec<AlarmEvent>) {
        self.connected = connected;
        self.flag(rules, Condition::TechDisconnected, at, !connected, None, out);
        if connected {
            if !self.intermittent() {
                self.instances[Condition::TechStale as usize].rearm(at, self.label.as_ref(), out);
            }
            self.ecg.connected(at);
            self.rearm_ecg(at, out);
        } else {
            // A disconnection is `tech.disconnected`'s alone: no `tech.ecg`
            // beside it (as no `tech.stale`).
            self.ecg.disconnected();
            self.end(Condition::TechEcg, at, out);
            self.end(Condition::TechStale, at, out);
            self.end(Condition::TechNoContact, at, out);
            self.invalid.clear();
            self.end(Condition::TechInvalid, at, out);
        }
        self.refresh_suppression(at, out);
    }

    /// An ECG frame arrived: `tech.ecg`'s silence restarts (an alarm
    /// raised ends).
    pub fn ecg_frame(&mut self, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        self.ecg.frame(at);
        self.rearm_ecg(at, out);
    }

    /// The device's answer to the ECG start command: a refusal raises
    /// `tech.ecg` at once; a start restarts its silence timer.
    pub fn ecg_start(&mut self, at: SessionTime, started: bool, reason: Option<&str>, out: &mut Vec<AlarmEvent>) {
        self.ecg.start_answer(at, started, reason);
        if !self.connected {
            return;
        }
        if started {
            self.rearm_ecg(at, out);
        } else {
            self.instances[Condition::TechEcg as usize].raise_now(at, self.label.as_ref(), out);
        }
    }

    /// `tech.ecg`'s timer from the watch: silent since `at`, while ECG is
    /// expected from a connected device.
    fn rearm_ecg(&mut self, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        if self.connected && self.ecg.silent_since().is_some() {
            self.instances[Condition::TechEcg as usize].rearm(at, self.label.as_ref(), out);
        }
    }

    /// One decoded sample (it also counts as data for staleness).
    pub fn sample(&mut self, rules: &Rules, sample: &Sample, at: SessionTime, out: &mut Vec<AlarmEvent>) {
        self.data(rules, at, out);
        if let Some(contact) = sample.contact {
            self.contact(rules, at, contact, out);
        }
        let v = sample.value;
        match sample.quantity {
            Quantity::HeartRateBpm => self.heart_rate(rules, Quantity::HeartRateBpm, at, v, sample.contact, out),
            Quantity::PulseRateBpm => {
                if self.intermittent() {
                    let valid = plausible(Quantity::PulseRateBpm, v);
                    self.validity(rules, Quantity::PulseRateBpm, at, valid, v, out);
                } else {
                    self.heart_rate(rules, Quantity::PulseRateBpm, at, v, sample.contact, out);
                }
            }
            Quantity::BodyTemperatureC | Quantity::SkinTemperatureC => {
                self.temperature(rules, sample.quantity, at, v, out);
            }
            Quantity::Spo2Pct => self.spo2(rules, at, v, out),
            Quantity::SystolicMmhg | Quantity::DiastolicMmhg => {
                self.blood_pressure(rules, sample.quantity, at, v, out);
            }
            Quantity::BatteryPct => self.battery(rules, at, v, out),
            // Ambient temperature is shown and recorded, never alarmed; the
            // others have no alarm rule.
            Quantity::AmbientTemperatureC | Quantity::RrIntervalMs | Quantity::EnergyExpendedKj | Quantity::MapMmhg => {
            }
        }
    }

    /// Fire `timer`, due at `at`.
    pub fn fire(&mut self, rules: &Rules, at: SessionTime, timer: Timer, out: &mut Vec<AlarmEvent>) {
        match timer {
            Timer::BloodPressure => self.judge_bp(rules, out),
            Timer::Instance(c) => {
                self.instances[c as usize].on_deadline(at, self.label.as_ref(), out);
                if suppresses(c) {
                    self.refresh_suppression(at, out);
                }
            }
        }
    }

    /// A clock gap of `by` reported at `at`: timers set before `at` move
    /// later (see [`super::AlarmEngine::on_gap`]).
    pub fn shift(&mut self, at: SessionTime, by: std::time::Duration) {
        for inst in &mut self.instances {
            inst.shift(at, by);
        }
        self.ecg.shift(at, by);
        if let Some(last) = self.last_data
            && last < at
        {
            self.last_data = Some(last.saturating_add(by).min(at));
        }
    }
}
