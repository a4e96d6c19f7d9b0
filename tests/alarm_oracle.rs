//! The alarm engine against an oracle: a deliberately simple reference
//! engine, written here from DESIGN.md's alarm semantics and the decisions
//! in `vigil::alarms`'s module doc, runs beside the real one on random
//! input scripts, and every step's transitions (condition, device,
//! priority, state, time, value), the active-alarm list, the refusal of an
//! action and the next deadline must agree.
//!
//! The reference keeps its alarms in one map keyed by (device, condition),
//! decides suppression afresh from the technical alarms after every change,
//! and finds the next timed transition by looking at every alarm. It shares
//! no code with the engine: only the configuration types (and
//! `AlarmConfig::set_limit`, which decides whether a limit change is
//! accepted) are common.
//!
//! Inputs covered: samples of heart rate (with contact, without, not
//! reported), SpO2, body temperature and battery, normal, near every limit,
//! implausible and NaN; notifications without a sample; connections and
//! disconnections; acknowledgement of one alarm, of one device's and of all
//! (an unknown device is refused); audio pause; the operator's baseline (of
//! one device or all; refused without data); limit changes (accepted or
//! refused); the session-wide `tech.recording`; ECG frames and the answer
//! to the ECG start command (started or refused); clock gaps; time steps from
//! 0 to 90 s that cross every onset delay, staleness limit and escalation;
//! devices that notify at a declared interval or now and then. Conditions
//! covered: `hr.high`, `hr.low`, `hr.rise` (automatic and operator's
//! baseline), `spo2.low`, `temp.high`, `tech.disconnected` (with escalation
//! by time), `tech.stale` (both levels), `tech.no_contact`, `tech.invalid`,
//! `tech.battery_low`, `tech.recording`, `tech.ecg` (silence and refusal),
//! and the suppression between them.
//!
//! **Not covered** (turned off in the configurations used here, and tested
//! by the scenarios instead): `temp.rise` (its 30-min window) and skin
//! temperature, `bp.high` (reading pairing), pulse rate, intervals learned
//! from notifications (every device here declares its interval), resumed
//! sessions, and `tech.*` conditions driven by hand other than
//! `tech.recording`.
//!
//! Within one instant the engine's order of transitions of different
//! alarms is not part of the contract: both sides' transitions are compared
//! sorted by (time, condition, device), each alarm's own in the order made.
//! Timers due at the same instant fire device by device (first seen first),
//! condition by condition in `Condition::ALL` order: which one goes first
//! matters when one suppresses the other.
//!
//! `cargo test --test alarm_oracle` runs a few thousand scripts;
//! `VIGIL_ORACLE_CASES=100000 cargo test --release --test alarm_oracle`
//! runs more.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
// The reference walks levels by priority index, as the rules are stated.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil::alarms::{AlarmEngine, DeviceTiming};
use vigil::config::{AlarmConfig, Direction};
use vigil::model::{
    AlarmEvent, AlarmState, AlarmStatus, Condition, DeviceLabel, OperatorAction, Priority, Quantity, Sample,
    SessionTime,
};

// ---------------------------------------------------------------------------
// The reference engine.

const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

/// Where an alarm is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Quiet,
    Sounding { escalated: bool },
    Acknowledged,
    Latched,
}

/// One (device, condition) alarm.
#[derive(Debug, Clone)]
struct Alarm {
    /// Per level: since when the condition has held, with the value that
    /// crossed the limit then.
    started: [Option<(SessionTime, Option<f64>)>; 3],
    /// Per level: held for its onset delay.
    established: [bool; 3],
    /// Per level, from the last observation: still within the hysteresis.
    last_within: [bool; 3],
    last_value: Option<f64>,
    life: Life,
    priority: Priority,
    since: SessionTime,
    changed: SessionTime,
    announced: SessionTime,
    escalation_due: Option<SessionTime>,
    value: Option<f64>,
}

impl Alarm {
    fn new() -> Self {
        Self {
            started: [None; 3],
            established: [false; 3],
            last_within: [false; 3],
            last_value: None,
            life: Life::Quiet,
            priority: Priority::Low,
            since: SessionTime::ZERO,
            changed: SessionTime::ZERO,
            announced: SessionTime::ZERO,
            escalation_due: None,
            value: None,
        }
    }

    fn is_established(&self) -> bool {
        self.established.iter().any(|e| *e)
    }

    fn highest_established(&self) -> Option<usize> {
        (0..3).rev().find(|l| self.established[*l])
    }
}

/// One threshold level as configured: (threshold, threshold moved back by
/// the hysteresis, onset delay).
type LevelRule = (f64, f64, Duration);

#[derive(Debug, Clone)]
struct Device {
    label: DeviceLabel,
    interval: Duration,
    /// Measures now and then: never stale.
    intermittent: bool,
    connected: bool,
    last_data: Option<SessionTime>,
    /// Quantities whose latest value (on skin) was implausible.
    invalid: Vec<Quantity>,
    /// Suppressed groups, as last decided: heart rate, temperature, SpO2.
    suppressed: [bool; 3],
    /// Every heart rate judged (on skin, plausible, not suppressed): what
    /// the baselines are taken from.
    judged_hr: Vec<(SessionTime, f64)>,
    /// The operator's latest baseline.
    operator_baseline: Option<f64>,
    /// ECG is expected: it sent a frame, or answered the start command.
    ecg_expected: bool,
}

const HR_GROUP: [Condition; 3] = [Condition::HrHigh, Condition::HrLow, Condition::HrRise];
const TEMP_GROUP: [Condition; 1] = [Condition::TempHigh];
const SPO2_GROUP: [Condition; 1] = [Condition::Spo2Low];

#[derive(Debug, Clone)]
struct Reference {
    config: AlarmConfig,
    /// Index 0: the session-wide alarms (`None` label).
    devices: Vec<Device>,
    /// Keyed by (device index, condition).
    alarms: BTreeMap<(usize, Condition), Alarm>,
    now: SessionTime,
    pause: Option<(SessionTime, SessionTime)>,
    events: Vec<AlarmEvent>,
}

fn plausible(q: Quantity, v: f64) -> bool {
    match q {
        Quantity::HeartRateBpm => v > 0.0 && v <= 250.0,
        Quantity::Spo2Pct => v > 0.0 && v <= 100.0,
        Quantity::BodyTemperatureC => (25.0..=45.0).contains(&v),
        Quantity::BatteryPct => (0.0..=100.0).contains(&v),
        _ => unreachable!("not generated"),
    }
}

fn worse(direction: Direction, v: f64, limit: f64) -> bool {
    match direction {
        Direction::Above => v > limit,
        Direction::AtLeast => v >= limit,
        Direction::Below => v < limit,
        Direction::AtMost => v <= limit,
    }
}

impl Reference {
    fn new(config: AlarmConfig) -> Self {
        let session = Device {
            label: DeviceLabel::from("(session)"),
            interval: Duration::ZERO,
            intermittent: false,
            connected: true,
            last_data: None,
            invalid: Vec::new(),
            suppressed: [false; 3],
            judged_hr: Vec::new(),
            operator_baseline: None,
            ecg_expected: false,
        };
        Self {
            config,
            devices: vec![session],
            alarms: BTreeMap::new(),
            now: SessionTime::ZERO,
            pause: None,
            events: Vec::new(),
        }
    }

    fn label(&self, d: usize) -> Option<DeviceLabel> {
        (d != 0).then(|| self.devices[d].label.clone())
    }

    fn add_device(&mut self, label: &DeviceLabel, interval: Duration, intermittent: bool) {
        self.devices.push(Device {
            label: label.clone(),
            interval,
            intermittent,
            connected: true,
            last_data: None,
            invalid: Vec::new(),
            suppressed: [false; 3],
            judged_hr: Vec::new(),
            operator_baseline: None,
            ecg_expected: false,
        });
    }

    fn index(&self, label: &DeviceLabel) -> usize {
        self.devices.iter().skip(1).position(|d| d.label == *label).map(|i| i + 1).expect("devices are declared")
    }

    /// The levels of `condition` on device `d` (index = priority), from the
    /// configuration in force. Onsets never change (only thresholds do).
    fn levels(&self, d: usize, condition: Condition) -> [Option<LevelRule>; 3] {
        let c = &self.config;
        let mut levels = [None; 3];
        let flag = |enabled: bool, priority: Priority, onset: Duration| {
            let mut l = [None; 3];
            if enabled {
                l[priority as usize] = Some((1.0, 1.0, onset));
            }
            l
        };
        match condition {
            Condition::HrHigh | Condition::HrLow | Condition::HrRise | Condition::TempHigh | Condition::Spo2Low => {
                let view = c.threshold(condition).unwrap();
                if view.enabled {
                    for (l, level) in view.levels.iter().enumerate() {
                        if let Some(level) = level {
                            let relaxed = if matches!(view.direction, Direction::Above | Direction::AtLeast) {
                                level.threshold - view.hysteresis
                            } else {
                                level.threshold + view.hysteresis
                            };
                            levels[l] = Some((level.threshold, relaxed, level.onset));
                        }
                    }
                }
            }
            Condition::TechStale => {
                let s = &c.tech_stale;
                if s.enabled && !self.devices[d].intermittent {
                    let limit = s.min.max(self.devices[d].interval.mul_f64(s.interval_factor));
                    levels[0] = Some((1.0, 1.0, limit));
                    levels[1] = Some((1.0, 1.0, limit.mul_f64(s.medium_factor)));
                }
            }
            Condition::TechDisconnected => {
                let t = &c.tech_disconnected;
                levels = flag(t.enabled, t.priority, t.onset);
            }
            Condition::TechNoContact => {
                let t = &c.tech_no_contact;
                levels = flag(t.enabled, t.priority, t.onset);
            }
            Condition::TechInvalid => {
                let t = &c.tech_invalid;
                levels = flag(t.enabled, t.priority, t.onset);
            }
            Condition::TechBatteryLow => {
                let b = &c.tech_battery_low;
                if b.enabled {
                    levels[b.priority as usize] = Some((b.at_or_below_pct, b.at_or_below_pct, Duration::ZERO));
                }
            }
            Condition::TechRecording => levels = flag(true, Priority::High, Duration::ZERO),
            Condition::TechEcg => {
                let e = &c.tech_ecg;
                levels = flag(e.enabled, e.priority, e.after);
            }
            _ => unreachable!("not covered"),
        }
        levels
    }

    fn escalate_after(&self, condition: Condition) -> Option<Duration> {
        match condition {
            Condition::TechDisconnected => self.config.tech_disconnected.escalate_after,
            Condition::TechNoContact => self.config.tech_no_contact.escalate_after,
            Condition::TechInvalid => self.config.tech_invalid.escalate_after,
            Condition::TechEcg => self.config.tech_ecg.escalate_after,
            c if !c.is_technical() => self.config.threshold(c).and_then(|v| v.escalate_after),
            _ => None,
        }
    }

    fn alarm(&mut self, d: usize, c: Condition) -> &mut Alarm {
        self.alarms.entry((d, c)).or_insert_with(Alarm::new)
    }

    fn emit(&mut self, d: usize, c: Condition, at: SessionTime, state: AlarmState, value: Option<f64>) {
        let priority = self.alarms[&(d, c)].priority;
        let device = self.label(d);
        self.events.push(AlarmEvent {
            at,
            condition: c,
            device,
            priority,
            state,
            value: value.filter(|v| v.is_finite()),
        });
    }

    /// Bring the alarm's life in line with its established levels.
    fn settle(&mut self, d: usize, c: Condition, at: SessionTime) {
        let escalate_after = self.escalate_after(c);
        let a = self.alarm(d, c);
        let target = a.highest_established().map(|l| PRIORITIES[l]);
        let schedule = |a: &mut Alarm| {
            a.escalation_due = match (escalate_after, a.life) {
                (Some(e), Life::Sounding { .. }) if a.priority < Priority::High => Some(a.announced.saturating_add(e)),
                _ => None,
            };
        };
        let event = match (a.life, target) {
            (Life::Quiet | Life::Latched, Some(p)) => {
                a.priority = if a.life == Life::Latched { a.priority.max(p) } else { p };
                a.life = Life::Sounding { escalated: false };
                a.since = at;
                a.changed = at;
                a.announced = at;
                schedule(a);
                Some((AlarmState::Active, a.value))
            }
            (Life::Sounding { .. } | Life::Acknowledged, Some(p)) if p > a.priority => {
                a.priority = p;
                a.life = Life::Sounding { escalated: true };
                a.changed = at;
                a.announced = at;
                schedule(a);
                Some((AlarmState::Escalated, a.value))
            }
            (Life::Sounding { .. }, None) => {
                a.changed = at;
                a.escalation_due = None;
                if a.priority == Priority::High {
                    a.life = Life::Latched;
                    Some((AlarmState::Latched, None))
                } else {
                    a.life = Life::Quiet;
                    Some((AlarmState::Cleared, None))
                }
            }
            (Life::Acknowledged, None) => {
                a.life = Life::Quiet;
                a.changed = at;
                Some((AlarmState::Cleared, None))
            }
            _ => None,
        };
        if let Some((state, value)) = event {
            self.emit(d, c, at, state, value);
        }
    }

    /// Levels newly established at `at`: the value of the highest becomes
    /// the alarm's value if it is above all established before; the lower
    /// levels still within their hysteresis come along.
    fn establish(&mut self, d: usize, c: Condition, newly: [bool; 3]) {
        let exists = self.levels(d, c).map(|l| l.is_some());
        let a = self.alarm(d, c);
        let Some(top) = (0..3).rev().find(|l| newly[*l]) else { return };
        if a.highest_established().is_none_or(|h| top > h) {
            a.value = a.started[top].and_then(|(_, v)| v).or(a.last_value);
        }
        for l in 0..=top {
            if newly[l] || (a.last_within[l] && exists[l]) {
                a.established[l] = true;
            }
        }
    }

    /// One observation of `c`: `beyond` / `within` per level.
    fn observe(
        &mut self,
        d: usize,
        c: Condition,
        at: SessionTime,
        beyond: [bool; 3],
        within: [bool; 3],
        value: Option<f64>,
    ) {
        let levels = self.levels(d, c);
        let a = self.alarm(d, c);
        a.last_value = value;
        a.last_within = within;
        let mut newly = [false; 3];
        for l in 0..3 {
            if a.established[l] && !within[l] {
                a.established[l] = false;
                a.started[l] = None;
            }
            let Some((_, _, onset)) = levels[l] else { continue };
            if a.established[l] {
                continue;
            }
            if !beyond[l] {
                a.started[l] = None;
            } else {
                let (since, _) = *a.started[l].get_or_insert((at, value));
                newly[l] = at.since(since) >= onset;
            }
        }
        self.establish(d, c, newly);
        self.settle(d, c, at);
    }

    fn observe_value(&mut self, d: usize, c: Condition, at: SessionTime, v: f64) {
        self.observe_shown(d, c, at, v, v);
    }

    /// Judge `v` against `c`'s limits; events report `shown`.
    fn observe_shown(&mut self, d: usize, c: Condition, at: SessionTime, v: f64, shown: f64) {
        let levels = self.levels(d, c);
        let direction = match c {
            Condition::TechBatteryLow => Direction::AtMost,
            _ => self.config.threshold(c).unwrap().direction,
        };
        let beyond = levels.map(|l| l.is_some_and(|(t, _, _)| worse(direction, v, t)));
        let within = levels.map(|l| l.is_some_and(|(_, r, _)| worse(direction, v, r)));
        self.observe(d, c, at, beyond, within, Some(shown));
    }

    fn observe_flag(&mut self, d: usize, c: Condition, at: SessionTime, on: bool, value: Option<f64>) {
        let levels = self.levels(d, c).map(|l| on && l.is_some());
        self.observe(d, c, at, levels, levels, value);
    }

    /// The condition can no longer be judged: forget its timers, end it.
    fn end(&mut self, d: usize, c: Condition, at: SessionTime) {
        let a = self.alarm(d, c);
        a.started = [None; 3];
        a.established = [false; 3];
        self.settle(d, c, at);
    }

    /// Restart the onset timers not yet run out.
    fn forget_pending(&mut self, d: usize, c: Condition) {
        let a = self.alarm(d, c);
        for l in 0..3 {
            if !a.established[l] {
                a.started[l] = None;
            }
        }
    }

    fn established(&self, d: usize, c: Condition) -> bool {
        self.alarms.get(&(d, c)).is_some_and(Alarm::is_established)
    }

    /// Decide suppression afresh; end the alarms of groups that just became
    /// suppressed.
    fn suppress(&mut self, d: usize, at: SessionTime) {
        let dev = &self.devices[d];
        let everything = !dev.connected || self.established(d, Condition::TechStale);
        let invalid = self.established(d, Condition::TechInvalid);
        let now = [
            everything
                || self.established(d, Condition::TechNoContact)
                || (invalid && dev.invalid.contains(&Quantity::HeartRateBpm)),
            everything || (invalid && dev.invalid.contains(&Quantity::BodyTemperatureC)),
            everything || (invalid && dev.invalid.contains(&Quantity::Spo2Pct)),
        ];
        let before = std::mem::replace(&mut self.devices[d].suppressed, now);
        let groups: [&[Condition]; 3] = [&HR_GROUP, &TEMP_GROUP, &SPO2_GROUP];
        for g in 0..3 {
            if now[g] && !before[g] {
                for c in groups[g] {
                    self.end(d, *c, at);
                }
            }
        }
    }

    /// `tech.stale`'s timers start again from `at`.
    fn restart_stale(&mut self, d: usize, at: SessionTime) {
        self.restart(d, Condition::TechStale, at);
    }

    /// A "silent since" condition's timers start again from `at`; an alarm
    /// it raised ends.
    fn restart(&mut self, d: usize, c: Condition, at: SessionTime) {
        let levels = self.levels(d, c);
        let a = self.alarm(d, c);
        let was = a.is_established();
        a.established = [false; 3];
        for l in 0..3 {
            if levels[l].is_some() {
                a.started[l] = Some((at, a.started[l].and_then(|(_, v)| v)));
            }
        }
        if was {
            self.settle(d, c, at);
        }
    }

    /// An ECG frame: a notification, then `tech.ecg`'s silence restarts.
    fn ecg_frame(&mut self, d: usize, at: SessionTime) {
        self.data(d, at);
        self.devices[d].ecg_expected = true;
        if self.devices[d].connected {
            self.restart(d, Condition::TechEcg, at);
        }
    }

    /// The answer to the ECG start command: refused is `tech.ecg` at once
    /// (no onset delay, no value); started restarts its silence.
    fn ecg_start(&mut self, d: usize, at: SessionTime, started: bool) {
        self.devices[d].ecg_expected = true;
        if !self.devices[d].connected {
            return;
        }
        if started {
            self.restart(d, Condition::TechEcg, at);
            return;
        }
        let levels = self.levels(d, Condition::TechEcg);
        let a = self.alarm(d, Condition::TechEcg);
        a.last_value = None;
        let mut newly = [false; 3];
        for l in 0..3 {
            if levels[l].is_some() && !a.established[l] {
                a.started[l] = Some((at, None));
                newly[l] = true;
            }
        }
        a.last_within = newly;
        self.establish(d, Condition::TechEcg, newly);
        self.settle(d, Condition::TechEcg, at);
    }

    fn connection(&mut self, d: usize, at: SessionTime, connected: bool) {
        self.devices[d].connected = connected;
        self.observe_flag(d, Condition::TechDisconnected, at, !connected, None);
        if connected {
            self.restart_stale(d, at);
            if self.devices[d].ecg_expected {
                self.restart(d, Condition::TechEcg, at);
            }
        } else {
            // A disconnection is tech.disconnected's alone.
            self.end(d, Condition::TechEcg, at);
            self.end(d, Condition::TechStale, at);
            self.end(d, Condition::TechNoContact, at);
            self.devices[d].invalid.clear();
            self.end(d, Condition::TechInvalid, at);
        }
        self.suppress(d, at);
    }

    fn data(&mut self, d: usize, at: SessionTime) {
        if self.devices[d].last_data.is_some_and(|last| at <= last) {
            return;
        }
        self.devices[d].last_data = Some(at);
        if self.devices[d].connected {
            self.restart_stale(d, at);
            self.suppress(d, at);
        } else {
            // Data proves the link.
            self.connection(d, at, true);
        }
    }

    fn sample(&mut self, d: usize, at: SessionTime, q: Quantity, v: f64, contact: Option<bool>) {
        self.data(d, at);
        if let Some(contact) = contact {
            let was = self.established(d, Condition::TechNoContact);
            self.observe_flag(d, Condition::TechNoContact, at, !contact, None);
            if was != self.established(d, Condition::TechNoContact) {
                self.suppress(d, at);
            }
        }
        let on_skin = contact != Some(false);
        let valid = plausible(q, v);
        // A value off the skin is not judged for plausibility.
        let invalid_now = on_skin && !valid;
        let list = &mut self.devices[d].invalid;
        let was_invalid = list.contains(&q);
        if invalid_now != was_invalid {
            if invalid_now {
                list.push(q);
            } else {
                list.retain(|x| *x != q);
            }
            let any = !list.is_empty();
            self.observe_flag(d, Condition::TechInvalid, at, any, invalid_now.then_some(v));
            self.suppress(d, at);
        }
        let (group, conditions): (usize, &[Condition]) = match q {
            Quantity::HeartRateBpm => (0, &HR_GROUP),
            Quantity::BodyTemperatureC => (1, &TEMP_GROUP),
            Quantity::Spo2Pct => (2, &SPO2_GROUP),
            Quantity::BatteryPct => {
                if valid {
                    self.observe_value(d, Condition::TechBatteryLow, at, v);
                }
                return;
            }
            _ => unreachable!("not generated"),
        };
        let judged = on_skin && valid && self.devices[d].connected && !self.devices[d].suppressed[group];
        if !judged {
            for c in conditions {
                self.forget_pending(d, *c);
            }
            return;
        }
        if q == Quantity::HeartRateBpm {
            self.devices[d].judged_hr.push((at, v));
            self.observe_value(d, Condition::HrHigh, at, v);
            self.observe_value(d, Condition::HrLow, at, v);
            if let Some(baseline) = self.baseline(d) {
                self.observe_shown(d, Condition::HrRise, at, v - baseline, v);
            }
        } else {
            for c in conditions {
                self.observe_value(d, *c, at, v);
            }
        }
    }

    /// The baseline in force: the operator's, else the mean of the first
    /// window of judged heart rate once a judged value came a window after
    /// the first.
    fn baseline(&self, d: usize) -> Option<f64> {
        let dev = &self.devices[d];
        if dev.operator_baseline.is_some() {
            return dev.operator_baseline;
        }
        let window = self.config.hr_rise.baseline_window;
        let &(first, _) = dev.judged_hr.first()?;
        let &(last, _) = dev.judged_hr.last()?;
        if last.since(first) < window {
            return None;
        }
        let early: Vec<f64> = dev.judged_hr.iter().filter(|(t, _)| t.since(first) < window).map(|(_, v)| *v).collect();
        Some(early.iter().sum::<f64>() / early.len() as f64)
    }

    /// The `baseline` action's mean: judged heart rate of the window ending
    /// at `at`, counted in thirtieths of the window (`t / (window / 30)`).
    fn recent_mean(&self, d: usize, at: SessionTime) -> Option<f64> {
        let width = (self.config.hr_rise.baseline_window.as_nanos() / 30).max(1);
        let slot = |t: SessionTime| u128::from(t.as_nanos()) / width;
        let now = slot(at);
        let recent: Vec<f64> = self.devices[d]
            .judged_hr
            .iter()
            .filter(|(t, _)| slot(*t) <= now && slot(*t) + 30 > now)
            .map(|(_, v)| *v)
            .collect();
        (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
    }

    fn take_baseline(&mut self, at: SessionTime, device: Option<&str>) -> bool {
        let chosen: Vec<usize> = match device {
            Some(name) => match self.devices.iter().skip(1).position(|d| &*d.label == name) {
                Some(i) => vec![i + 1],
                None => return false,
            },
            None => (1..self.devices.len()).collect(),
        };
        let mut any = false;
        for d in chosen {
            if let Some(mean) = self.recent_mean(d, at) {
                self.devices[d].operator_baseline = Some(mean);
                any = true;
            }
        }
        any
    }

    /// When each alarm next changes by itself: (time, device, condition).
    fn next_timer(&self) -> Option<(SessionTime, usize, Condition)> {
        let mut best: Option<(SessionTime, usize, Condition)> = None;
        for (&(d, c), a) in &self.alarms {
            let levels = self.levels(d, c);
            let mut times: Vec<SessionTime> = a.escalation_due.into_iter().collect();
            for l in 0..3 {
                if let (false, Some((since, _)), Some((_, _, onset))) = (a.established[l], a.started[l], levels[l]) {
                    times.push(since.saturating_add(onset));
                }
            }
            for t in times {
                // Ties: the device first seen, then the condition listed first.
                let key = (t, d, Condition::ALL.iter().position(|x| *x == c));
                if best.is_none_or(|(bt, bd, bc)| key < (bt, bd, Condition::ALL.iter().position(|x| *x == bc))) {
                    best = Some((t, d, c));
                }
            }
        }
        best
    }

    fn advance(&mut self, to: SessionTime) {
        while let Some((t, d, c)) = self.next_timer().filter(|(t, _, _)| *t <= to) {
            let levels = self.levels(d, c);
            let a = self.alarm(d, c);
            let newly: [bool; 3] = std::array::from_fn(|l| {
                !a.established[l]
                    && matches!((a.started[l], levels[l]), (Some((since, _)), Some((_, _, onset))) if since.saturating_add(onset) <= t)
            });
            if newly.contains(&true) {
                self.establish(d, c, newly);
                self.settle(d, c, t);
            }
            let a = self.alarm(d, c);
            if a.escalation_due.is_some_and(|e| e <= t) && matches!(a.life, Life::Sounding { .. }) {
                a.priority = if a.priority == Priority::Low { Priority::Medium } else { Priority::High };
                a.life = Life::Sounding { escalated: true };
                a.changed = t;
                a.announced = t;
                a.value = a.last_value;
                let value = a.value;
                let after = self.escalate_after(c);
                let a = self.alarm(d, c);
                a.escalation_due = after.filter(|_| a.priority < Priority::High).map(|e| t.saturating_add(e));
                self.emit(d, c, t, AlarmState::Escalated, value);
            }
            self.suppress(d, t);
        }
        self.now = self.now.max(to);
    }

    fn acknowledge(&mut self, at: SessionTime, alarm: Option<Condition>, device: Option<&str>) -> Result<(), ()> {
        let only = match device {
            Some(name) => Some(self.devices.iter().skip(1).position(|d| &*d.label == name).ok_or(())? + 1),
            None => None,
        };
        let keys: Vec<(usize, Condition)> = self
            .alarms
            .keys()
            .copied()
            .filter(|(d, c)| only.is_none_or(|o| o == *d) && alarm.is_none_or(|a| a == *c))
            .collect();
        for (d, c) in keys {
            let a = self.alarm(d, c);
            match a.life {
                Life::Sounding { .. } => {
                    a.life = Life::Acknowledged;
                    a.changed = at;
                    a.escalation_due = None;
                }
                Life::Latched => {
                    a.life = Life::Quiet;
                    a.changed = at;
                    self.emit(d, c, at, AlarmState::Cleared, None);
                }
                Life::Quiet | Life::Acknowledged => {}
            }
        }
        Ok(())
    }

    /// A clock gap of `by` reported at `at`: what was running before `at`
    /// counts as having started up to `by` later (never after `at`).
    fn gap(&mut self, at: SessionTime, by: Duration) {
        let at = at.max(self.now);
        let later = |t: SessionTime| if t < at { t.saturating_add(by).min(at) } else { t };
        let afters: BTreeMap<Condition, Option<Duration>> =
            Condition::ALL.iter().map(|c| (*c, self.escalate_after(*c))).collect();
        for (&(_, c), a) in &mut self.alarms {
            for started in a.started.iter_mut().flatten() {
                started.0 = later(started.0);
            }
            if a.escalation_due.is_some() {
                a.announced = later(a.announced);
                a.escalation_due = afters[&c].map(|e| a.announced.saturating_add(e));
            }
        }
        for dev in &mut self.devices {
            dev.last_data = dev.last_data.map(later);
        }
        if let Some((_, until)) = &mut self.pause
            && *until > at.saturating_sub(by)
        {
            *until = until.saturating_add(by);
        }
    }

    fn statuses(&self) -> Vec<AlarmStatus> {
        let paused = self.pause.filter(|(_, until)| self.now < *until);
        let mut list = Vec::new();
        for (&(d, c), a) in &self.alarms {
            let state = match a.life {
                Life::Quiet => continue,
                Life::Sounding { escalated: false } => AlarmState::Active,
                Life::Sounding { escalated: true } => AlarmState::Escalated,
                Life::Acknowledged => AlarmState::Acknowledged,
                Life::Latched => AlarmState::Latched,
            };
            let sounding = matches!(a.life, Life::Sounding { .. } | Life::Latched);
            let breaks_through = paused.is_none_or(|(start, _)| a.announced > start);
            list.push(AlarmStatus {
                condition: c,
                device: self.label(d),
                priority: a.priority,
                state,
                since: a.since,
                changed: a.changed,
                value: a.value.filter(|v| v.is_finite()),
                audible: sounding && breaks_through,
            });
        }
        list
    }

    /// Apply one input at `at` (after the timers due by then); returns
    /// whether an operator action was carried out.
    fn apply(&mut self, at: SessionTime, input: &Input) -> bool {
        if let Input::Gap { by } = input {
            // Reported before the engine moves past `at`.
            self.gap(at, *by);
            return true;
        }
        let at = at.max(self.now);
        self.advance(at);
        match input {
            Input::Sample { device, quantity, value, contact } => {
                let d = self.index(device);
                self.sample(d, at, *quantity, *value, *contact);
            }
            Input::Data { device } => {
                let d = self.index(device);
                self.data(d, at);
            }
            Input::Connection { device, connected } => {
                let d = self.index(device);
                self.connection(d, at, *connected);
            }
            Input::Recording { on } => {
                self.observe_flag(0, Condition::TechRecording, at, *on, None);
            }
            Input::Ecg { device } => {
                let d = self.index(device);
                self.ecg_frame(d, at);
            }
            Input::EcgStart { device, started } => {
                let d = self.index(device);
                self.ecg_start(d, at, *started);
            }
            Input::Operator(action) => match action {
                OperatorAction::Ack { alarm, device } => {
                    return self.acknowledge(at, *alarm, device.as_deref()).is_ok();
                }
                OperatorAction::AudioPause => self.pause = Some((at, at.saturating_add(self.config.audio_pause))),
                OperatorAction::Baseline { device } => return self.take_baseline(at, device.as_deref()),
                OperatorAction::Limit { condition, priority, value } => {
                    return self.config.set_limit(*condition, *priority, *value).is_ok();
                }
                _ => unreachable!("not generated"),
            },
            Input::Advance | Input::Gap { .. } => {}
        }
        true
    }
}

// ---------------------------------------------------------------------------
// Random scripts.

#[derive(Debug, Clone)]
enum Input {
    Sample {
        device: DeviceLabel,
        quantity: Quantity,
        value: f64,
        contact: Option<bool>,
    },
    Data {
        device: DeviceLabel,
    },
    Connection {
        device: DeviceLabel,
        connected: bool,
    },
    Recording {
        on: bool,
    },
    /// An ECG (PMD) frame of the device.
    Ecg {
        device: DeviceLabel,
    },
    /// The device's answer to the ECG start command.
    EcgStart {
        device: DeviceLabel,
        started: bool,
    },
    Operator(OperatorAction),
    /// A clock gap of this long, reported at the step's time.
    Gap {
        by: Duration,
    },
    Advance,
}

const HR_VALUES: &[f64] = &[
    0.0,
    30.0,
    39.0,
    40.0,
    41.0,
    44.0,
    45.0,
    46.0,
    50.0,
    60.0,
    80.0,
    99.0,
    100.0,
    101.0,
    104.0,
    118.0,
    120.0,
    121.0,
    123.0,
    139.0,
    140.0,
    141.0,
    150.0,
    250.0,
    251.0,
    300.0,
    f64::NAN,
];
const SPO2_VALUES: &[f64] =
    &[0.0, 70.0, 84.0, 85.0, 86.0, 88.0, 89.0, 90.0, 91.0, 92.0, 93.0, 95.0, 98.0, 100.0, 101.0, f64::NAN];
const TEMP_VALUES: &[f64] =
    &[20.0, 36.5, 37.5, 37.9, 38.0, 38.1, 38.4, 38.5, 38.6, 39.0, 39.4, 39.5, 40.0, 41.0, 46.0, f64::NAN];
const BATTERY_VALUES: &[f64] = &[-1.0, 0.0, 5.0, 10.0, 10.5, 15.0, 50.0, 100.0, 101.0];

fn pick<T: Copy>(rng: &mut ChaCha8Rng, from: &[T]) -> T {
    from[rng.random_range(0..from.len())]
}

fn random_config(rng: &mut ChaCha8Rng) -> AlarmConfig {
    let mut c = AlarmConfig::default();
    // Outside the oracle's scope (see the module doc).
    c.hr_rise.enabled = rng.random_bool(0.7);
    c.hr_rise.baseline_window = Duration::from_secs(pick(rng, &[10, 30, 60, 300]));
    c.temp_rise.enabled = false;
    c.bp_high.enabled = false;
    c.tech_stale.min = Duration::from_secs(pick(rng, &[2, 5, 20]));
    c.tech_stale.enabled = rng.random_bool(0.9);
    c.tech_no_contact.onset = Duration::from_secs(pick(rng, &[0, 3, 10]));
    c.tech_invalid.onset = Duration::from_secs(pick(rng, &[0, 2, 5]));
    c.tech_disconnected.onset = Duration::from_secs(pick(rng, &[0, 0, 4]));
    c.tech_disconnected.escalate_after = pick(rng, &[None, Some(20), Some(60)]).map(Duration::from_secs);
    c.hr_high.escalate_after = pick(rng, &[None, None, Some(25)]).map(Duration::from_secs);
    c.spo2_low.escalate_after = pick(rng, &[None, Some(15)]).map(Duration::from_secs);
    c.audio_pause = Duration::from_secs(pick(rng, &[30, 120]));
    c.tech_ecg.enabled = rng.random_bool(0.9);
    c.tech_ecg.after = Duration::from_secs(pick(rng, &[2, 5, 10]));
    c.tech_ecg.priority = pick(rng, &PRIORITIES);
    c.tech_ecg.escalate_after = pick(rng, &[None, Some(20)]).map(Duration::from_secs);
    c
}

fn random_input(rng: &mut ChaCha8Rng, devices: &[DeviceLabel]) -> Input {
    let device = devices[rng.random_range(0..devices.len())].clone();
    let r = rng.random_range(0..112u32);
    match r {
        0..=39 => {
            let contact = pick(rng, &[Some(true), Some(true), Some(true), Some(true), Some(false), None]);
            Input::Sample { device, quantity: Quantity::HeartRateBpm, value: pick(rng, HR_VALUES), contact }
        }
        40..=51 => Input::Sample { device, quantity: Quantity::Spo2Pct, value: pick(rng, SPO2_VALUES), contact: None },
        52..=61 => {
            Input::Sample { device, quantity: Quantity::BodyTemperatureC, value: pick(rng, TEMP_VALUES), contact: None }
        }
        62..=64 => {
            Input::Sample { device, quantity: Quantity::BatteryPct, value: pick(rng, BATTERY_VALUES), contact: None }
        }
        65..=70 => Input::Data { device },
        71..=75 => Input::Connection { device, connected: rng.random_bool(0.5) },
        76..=77 => Input::Recording { on: rng.random_bool(0.5) },
        78..=84 => {
            let alarm = rng.random_bool(0.4).then(|| {
                pick(
                    rng,
                    &[
                        Condition::HrHigh,
                        Condition::HrLow,
                        Condition::Spo2Low,
                        Condition::TechDisconnected,
                        Condition::TechEcg,
                    ],
                )
            });
            let device = match rng.random_range(0..6u32) {
                0..=2 => None,
                3..=4 => Some(device.to_string()),
                _ => Some("nobody".to_owned()),
            };
            Input::Operator(OperatorAction::Ack { alarm, device })
        }
        85 => Input::Operator(OperatorAction::AudioPause),
        86 => {
            let device = match rng.random_range(0..4u32) {
                0..=1 => None,
                2 => Some(device.to_string()),
                _ => Some("nobody".to_owned()),
            };
            Input::Operator(OperatorAction::Baseline { device })
        }
        87..=89 => {
            let (condition, values): (Condition, &[f64]) = match rng.random_range(0..5u32) {
                4 => (Condition::HrRise, &[10.0, 20.0, 35.0]),
                0 => (Condition::HrHigh, &[95.0, 110.0, 125.0, 135.0, 145.0, 160.0]),
                1 => (Condition::HrLow, &[35.0, 42.0, 48.0, 55.0]),
                2 => (Condition::Spo2Low, &[80.0, 87.0, 90.0, 94.0]),
                _ => (Condition::TempHigh, &[37.5, 38.2, 38.8, 39.6]),
            };
            let priority = pick(rng, &PRIORITIES);
            Input::Operator(OperatorAction::Limit { condition, priority, value: pick(rng, values) })
        }
        90..=91 => Input::Gap { by: Duration::from_millis(rng.random_range(0..40_000)) },
        100..=107 => Input::Ecg { device },
        108..=111 => Input::EcgStart { device, started: rng.random_bool(0.5) },
        _ => Input::Advance,
    }
}

fn step_ms(rng: &mut ChaCha8Rng) -> u64 {
    match rng.random_range(0..100u32) {
        0..=9 => 0,
        10..=74 => rng.random_range(1..2_500),
        75..=92 => rng.random_range(2_500..15_000),
        _ => rng.random_range(15_000..90_000),
    }
}

// ---------------------------------------------------------------------------
// Running both.

fn sort_events(events: &mut [AlarmEvent]) {
    events.sort_by(|a, b| (a.at, a.condition, &a.device).cmp(&(b.at, b.condition, &b.device)));
}

fn sort_statuses(list: &mut [AlarmStatus]) {
    list.sort_by(|a, b| {
        (b.priority, b.changed, a.condition, &a.device).cmp(&(a.priority, a.changed, b.condition, &b.device))
    });
}

fn apply_engine(engine: &mut AlarmEngine, at: SessionTime, input: &Input, out: &mut Vec<AlarmEvent>) -> bool {
    match input {
        Input::Sample { device, quantity, value, contact } => {
            let sample = Sample {
                at,
                device: device.clone(),
                quantity: *quantity,
                value: *value,
                contact: *contact,
                device_time_ns: None,
            };
            engine.on_sample(&sample, out);
        }
        Input::Data { device } => engine.on_data(at, device, out),
        Input::Connection { device, connected } => engine.on_connection(at, device, *connected, out),
        Input::Recording { on } => engine.set_technical(at, Condition::TechRecording, None, *on, out),
        Input::Ecg { device } => {
            // As the pipeline feeds a PMD frame: data, then the frame.
            engine.on_data(at, device, out);
            let id = engine.devices().id_of(device).expect("admitted by on_data");
            engine.on_ecg_frame(at, id, out);
        }
        Input::EcgStart { device, started } => {
            let reason = (!started).then_some("invalid state");
            engine.on_ecg_start(at, device, *started, reason, out);
        }
        Input::Operator(action) => return engine.on_operator(at, action, out).is_ok(),
        Input::Gap { by } => engine.on_gap(at, *by),
        Input::Advance => engine.advance_to(at, out),
    }
    true
}

/// What the scripts made happen, to show that they reach every condition
/// and state the oracle claims to cover.
#[derive(Debug, Default)]
struct Coverage {
    transitions: std::collections::HashMap<(Condition, AlarmState), usize>,
    refused: usize,
    audible_during_pause: usize,
}

/// Run one random script; on a difference, the script so far and both
/// sides' outputs.
fn run_case(seed: u64, coverage: &mut Coverage) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let config = random_config(&mut rng);
    let mut engine = AlarmEngine::new(config.clone());
    let mut reference = Reference::new(config);
    let devices = [DeviceLabel::from("oracle-a"), DeviceLabel::from("oracle-b")];
    for device in &devices {
        let interval = Duration::from_millis(pick(&mut rng, &[500, 1_000, 2_000, 4_000]));
        let intermittent = rng.random_bool(0.15);
        engine.set_device_timing(device, DeviceTiming { expected_interval: Some(interval), intermittent });
        reference.add_device(device, interval, intermittent);
    }
    let steps = rng.random_range(20..160);
    let mut t_ms = 0u64;
    let mut script = Vec::new();
    for step in 0..steps {
        t_ms += step_ms(&mut rng);
        let at = SessionTime::from_millis(t_ms);
        let input = random_input(&mut rng, &devices);
        script.push(format!("{t_ms} ms: {input:?}"));
        let mut got = Vec::new();
        let engine_ok = apply_engine(&mut engine, at, &input, &mut got);
        reference.events.clear();
        let reference_ok = reference.apply(at, &input);
        let mut want = std::mem::take(&mut reference.events);
        sort_events(&mut got);
        sort_events(&mut want);
        let mut got_status = engine.statuses();
        let mut want_status = reference.statuses();
        sort_statuses(&mut got_status);
        sort_statuses(&mut want_status);
        let got_next = engine.next_deadline();
        let want_next = reference.next_timer().map(|(t, _, _)| t);
        let differs = if engine_ok != reference_ok {
            Some(format!("action carried out: engine {engine_ok}, reference {reference_ok}"))
        } else if !same_events(&got, &want) {
            Some(format!("transitions differ:\n  engine    {got:?}\n  reference {want:?}"))
        } else if !same_statuses(&got_status, &want_status) {
            Some(format!("active alarms differ:\n  engine    {got_status:?}\n  reference {want_status:?}"))
        } else if got_next != want_next {
            Some(format!("next deadline differs: engine {got_next:?}, reference {want_next:?}"))
        } else {
            None
        };
        if let Some(what) = differs {
            return Err(format!("seed {seed}, step {step}: {what}\nscript:\n  {}", script.join("\n  ")));
        }
        for e in &got {
            *coverage.transitions.entry((e.condition, e.state)).or_default() += 1;
        }
        coverage.refused += usize::from(!engine_ok);
        if engine.audio_paused_until().is_some() {
            coverage.audible_during_pause += got_status.iter().filter(|s| s.audible).count();
        }
    }
    Ok(())
}

/// Values compared as the headless output shows them (NaN never appears).
fn same_value(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
        (None, None) => true,
        _ => false,
    }
}

fn same_events(a: &[AlarmEvent], b: &[AlarmEvent]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.at, x.condition, &x.device, x.priority, x.state) == (y.at, y.condition, &y.device, y.priority, y.state)
                && same_value(x.value, y.value)
        })
}

fn same_statuses(a: &[AlarmStatus], b: &[AlarmStatus]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            (x.condition, &x.device, x.priority, x.state, x.since, x.changed, x.audible)
                == (y.condition, &y.device, y.priority, y.state, y.since, y.changed, y.audible)
                && same_value(x.value, y.value)
        })
}

fn cases() -> u64 {
    std::env::var("VIGIL_ORACLE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

#[test]
fn the_engine_agrees_with_the_reference_on_random_scripts() {
    let n = cases();
    let started = std::time::Instant::now();
    let mut coverage = Coverage::default();
    for seed in 0..n {
        if let Err(difference) = run_case(seed, &mut coverage) {
            panic!("{difference}");
        }
    }
    eprintln!("alarm oracle: {n} scripts agree ({:.1} s)", started.elapsed().as_secs_f64());
    eprintln!("{coverage:#?}");
    let seen = |c: Condition, s: AlarmState| coverage.transitions.get(&(c, s)).copied().unwrap_or(0);
    for c in [
        Condition::HrHigh,
        Condition::HrLow,
        Condition::HrRise,
        Condition::Spo2Low,
        Condition::TempHigh,
        Condition::TechDisconnected,
        Condition::TechStale,
        Condition::TechNoContact,
        Condition::TechInvalid,
        Condition::TechBatteryLow,
        Condition::TechRecording,
        Condition::TechEcg,
    ] {
        assert!(seen(c, AlarmState::Active) > 0, "the scripts never raised {c}");
        assert!(seen(c, AlarmState::Cleared) + seen(c, AlarmState::Latched) > 0, "the scripts never ended {c}");
    }
    for (c, s) in [
        (Condition::HrHigh, AlarmState::Escalated),
        (Condition::TechDisconnected, AlarmState::Escalated),
        (Condition::TechStale, AlarmState::Escalated),
        (Condition::HrHigh, AlarmState::Latched),
        (Condition::Spo2Low, AlarmState::Latched),
        (Condition::TechEcg, AlarmState::Escalated),
        (Condition::TechEcg, AlarmState::Latched),
    ] {
        assert!(seen(c, s) > 0, "the scripts never made {c} {s:?}");
    }
    assert!(coverage.refused > 0 && coverage.audible_during_pause > 0, "{coverage:?}");
}
