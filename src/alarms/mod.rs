//! The alarm engine, modelled on IEC 60601-1-8: a pure, deterministic state
//! machine. Input: samples, notifications, connection changes, operator
//! actions and the time; output: [`AlarmEvent`]s. It never reads a clock;
//! every timed transition (onset delay, staleness, escalation) fires at its
//! deadline and is stamped with it.
//!
//! # Layout
//! - `instance`: one (condition, device) alarm: onset timers per priority
//!   level, hysteresis, and the annunciation states.
//! - `rules`: the configuration compiled for the hot path, limit texts.
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

mod instance;
mod rules;
mod trackers;

use std::time::Duration;

pub use crate::config::AlarmConfig;
use crate::config::LimitError;
use crate::model::{
    AlarmEvent, AlarmState, AlarmStatus, Condition, DeviceLabel, MANUAL_DEVICE, OperatorAction, Quantity, Sample,
    SessionTime,
};
use crate::snapshot::LimitView;

pub use crate::verdict::{DeviceTiming, plausible};
use crate::verdict::{Staleness, in_contact};
use instance::{Ident, Instance, NEVER, Phase, Sink};
use rules::{CONDITIONS, Rules, slot};
use trackers::{Baseline, BpReading, RiseWindow};

/// A device's place in the engine, from [`AlarmEngine::device`]. A caller
/// that handles many samples of a device (the pipeline) resolves its label
/// once and passes this instead, so no sample pays for a lookup. Valid for
/// the engine that gave it, for as long as that engine lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceId(usize);

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

/// Physiological groups a technical alarm can suppress.
const G_HR: u8 = 1;
const G_TEMP: u8 = 2;
const G_SPO2: u8 = 4;
const G_ALL: u8 = G_HR | G_TEMP | G_SPO2;

const GROUPS: [(u8, &[Condition]); 3] = [
    (G_HR, &[Condition::HrHigh, Condition::HrLow, Condition::HrRise]),
    (G_TEMP, &[Condition::TempHigh, Condition::TempRise]),
    (G_SPO2, &[Condition::Spo2Low]),
];

/// Technical conditions whose establishment changes suppression.
fn suppresses(c: Condition) -> bool {
    matches!(c, Condition::TechStale | Condition::TechNoContact | Condition::TechInvalid | Condition::TechDisconnected)
}

const fn quantity_bit(q: Quantity) -> u16 {
    1 << (q as u16)
}

const HR_QUANTITIES: u16 = quantity_bit(Quantity::HeartRateBpm) | quantity_bit(Quantity::PulseRateBpm);
const TEMP_QUANTITIES: u16 = quantity_bit(Quantity::BodyTemperatureC) | quantity_bit(Quantity::SkinTemperatureC);
const SPO2_QUANTITIES: u16 = quantity_bit(Quantity::Spo2Pct);

/// Deadline slot of a device's pending blood-pressure reading.
const BP_SLOT: usize = CONDITIONS;

/// `repr(C)`, fields in this order: what most notifications read
/// (`last_data` … `rise_now`) fills the first cache line; the trackers and
/// `staleness` (the verdict's timing and learned interval, which every
/// notification also reads) follow; the instances (each starting a line)
/// come last.
#[derive(Debug, Clone)]
#[repr(C)]
struct Device {
    last_data: u64,
    /// Bit `slot` set: that instance is not quiet (see
    /// `Instance::is_quiet`). Mirrors the instances so the common checks
    /// ("nothing going on, nothing beyond a limit") and the deadline scan
    /// read this word instead of touching each ~200-byte instance: with many
    /// devices each instance read is a cache miss. Kept by `note` after
    /// every change to an instance. Bit `BP_SLOT`: a blood-pressure reading
    /// is pending (its timer).
    busy: u16,
    /// Quantities whose latest sample was invalid.
    invalid: u16,
    /// Groups currently suppressed.
    suppressed: u8,
    connected: bool,
    rise_now: [f64; 2],
    /// The time `tech.stale`'s timers were last started from, `NEVER` when
    /// they are not running from a notification (or the condition is
    /// established, or something else touched the instance since). While it
    /// is set, a notification only moves `last_data`: the timers, which
    /// would just move later, are restarted from `last_data` when someone
    /// looks at them (`settle_stale`: the deadline scan, firing, a gap, new
    /// onsets, an observation). The instance's deadline meanwhile is early,
    /// so it stays a valid lower bound, and nothing else reads its `since`.
    /// This saves the per-notification re-arm and its cache line.
    stale_armed: u64,
    /// Starts the second cache line (`Baseline` is 64-byte aligned).
    baseline: Baseline,
    /// Right after the baseline's 832 bytes: both windows in one line (after
    /// `bp` the first straddled two).
    rise: [RiseWindow; 2],
    bp: BpReading,
    /// Timing and learned interval: when this device's data is stale.
    staleness: Staleness,
    /// `None` for the session-wide pseudo-device (`tech.recording`,
    /// `tech.stalled`).
    label: Option<DeviceLabel>,
    inst: [Instance; CONDITIONS],
}

// The per-notification fields must stay within the first cache line.
const _: () = assert!(std::mem::offset_of!(Device, baseline) == 64);
const _: () = assert!(std::mem::offset_of!(Device, rise) % 64 == 0 && size_of::<[RiseWindow; 2]>() == 64);

impl Device {
    fn new(label: Option<DeviceLabel>, rules: &Rules) -> Self {
        let inst = std::array::from_fn(|i| {
            let rule = &rules.by_condition[i];
            Instance::new(rule.onset, rule.escalate_after)
        });
        let intermittent = label.as_deref() == Some(MANUAL_DEVICE);
        let mut device = Self {
            label,
            inst,
            staleness: Staleness::new(DeviceTiming { expected_interval: None, intermittent }),
            connected: true,
            last_data: NEVER,
            suppressed: 0,
            invalid: 0,
            bp: BpReading::default(),
            baseline: Baseline::default(),
            rise: [RiseWindow::default(), RiseWindow::default()],
            rise_now: [f64::NEG_INFINITY; 2],
            stale_armed: NEVER,
            busy: 0,
        };
        device.apply_stale_onsets(rules, 0);
        device
    }

    fn intermittent(&self) -> bool {
        self.staleness.timing().intermittent
    }

    /// `tech.stale`'s delays from the device's staleness limit, from `at`:
    /// a timer already running falls due by the new delays (a learned
    /// interval that shrank makes the device stale sooner). Returns the
    /// instance's deadline, which the caller folds into the bounds.
    #[inline(never)]
    fn apply_stale_onsets(&mut self, rules: &Rules, at: u64) -> u64 {
        self.settle_stale();
        let onsets = match self.staleness.stale_after(&rules.stale) {
            Some(limit) => rules.stale_onsets(limit),
            None => [NEVER; 3],
        };
        let intermittent = self.intermittent();
        let stale = &mut self.inst[slot(Condition::TechStale)];
        let mut deadline = stale.set_onsets(onsets, at);
        if intermittent {
            stale.reset_pending();
            deadline = stale.deadline;
            self.stale_armed = NEVER;
        }
        self.note(slot(Condition::TechStale));
        deadline
    }

    /// Bring `tech.stale`'s timers to where re-arming it at every
    /// notification would have left them (see `stale_armed`).
    #[inline]
    fn settle_stale(&mut self) {
        if self.stale_armed != NEVER && self.last_data > self.stale_armed {
            self.inst[slot(Condition::TechStale)].restart(self.last_data);
            self.stale_armed = self.last_data;
            self.note(slot(Condition::TechStale));
        }
    }

    /// Bring `busy` up to date after instance `s` changed.
    #[inline]
    fn note(&mut self, s: usize) {
        let bit = 1 << s;
        if self.inst[s].is_quiet() {
            self.busy &= !bit;
        } else {
            self.busy |= bit;
        }
    }

    #[inline]
    fn is_quiet(&self, c: Condition) -> bool {
        self.busy & (1 << slot(c)) == 0
    }

    /// Bring `busy`'s blood-pressure bit up to date after `bp` changed.
    #[inline]
    fn note_bp(&mut self) {
        if self.bp.pending() {
            self.busy |= 1 << BP_SLOT;
        } else {
            self.busy &= !(1 << BP_SLOT);
        }
    }

    /// Whether `busy` mirrors the instances (checked in debug builds).
    fn busy_is_exact(&self) -> bool {
        self.inst.iter().enumerate().all(|(s, inst)| inst.is_quiet() == (self.busy & (1 << s) == 0))
            && self.bp.pending() == (self.busy & (1 << BP_SLOT) != 0)
    }

    // Out of line: the common observations stop at `judge`'s quiet check,
    // and inlining this big body there made every caller pay for it.
    #[inline(never)]
    fn observe(&mut self, c: Condition, at: u64, sat: u8, hold: u8, value: Option<f64>, sink: &mut Sink<'_>) {
        if c == Condition::TechStale {
            self.settle_stale();
            self.stale_armed = NEVER;
        }
        let id = Ident { condition: c, device: self.label.as_ref() };
        self.inst[slot(c)].observe(at, sat, hold, value, id, sink);
        self.note(slot(c));
    }

    /// Inlined: a normal value with nothing going on is two comparisons
    /// and a bit test, cheaper than the call.
    #[inline(always)]
    fn judge(&mut self, rules: &Rules, c: Condition, at: u64, v: f64, shown: f64, sink: &mut Sink<'_>) {
        let (sat, hold) = rules.rule(c).masks(v);
        if sat == 0 && hold == 0 && self.is_quiet(c) {
            return;
        }
        self.observe(c, at, sat, hold, Some(shown), sink);
    }

    /// A yes/no condition at its configured level(s).
    fn flag(&mut self, rules: &Rules, c: Condition, at: u64, on: bool, value: Option<f64>, sink: &mut Sink<'_>) {
        if !on && self.is_quiet(c) {
            return;
        }
        let m = if on { rules.rule(c).all_levels() } else { 0 };
        self.observe(c, at, m, m, value, sink);
    }

    fn end(&mut self, c: Condition, at: u64, sink: &mut Sink<'_>) {
        if c == Condition::TechStale {
            self.stale_armed = NEVER;
        }
        let id = Ident { condition: c, device: self.label.as_ref() };
        self.inst[slot(c)].end(at, id, sink);
        self.note(slot(c));
    }

    fn reset_group(&mut self, group: u8) {
        for (g, conditions) in GROUPS {
            if group & g != 0 {
                for c in conditions {
                    self.inst[slot(*c)].reset_pending();
                    self.note(slot(*c));
                }
            }
        }
    }

    /// Recompute which groups are suppressed; end the alarms of groups that
    /// just became suppressed.
    #[inline(never)]
    fn refresh_suppression(&mut self, at: u64, sink: &mut Sink<'_>) {
        let mut s = 0;
        if !self.connected || self.inst[slot(Condition::TechStale)].is_qualified() {
            s = G_ALL;
        }
        if self.inst[slot(Condition::TechNoContact)].is_qualified() {
            s |= G_HR;
        }
        if self.inst[slot(Condition::TechInvalid)].is_qualified() {
            for (bits, g) in [(HR_QUANTITIES, G_HR), (TEMP_QUANTITIES, G_TEMP), (SPO2_QUANTITIES, G_SPO2)] {
                if self.invalid & bits != 0 {
                    s |= g;
                }
            }
        }
        let started = s & !self.suppressed;
        self.suppressed = s;
        for (g, conditions) in GROUPS {
            if started & g != 0 {
                for c in conditions {
                    self.end(*c, at, sink);
                }
            }
        }
    }

    /// Any notification: feeds staleness and the interval estimate.
    #[inline(always)]
    fn data(&mut self, rules: &Rules, at: u64, sink: &mut Sink<'_>) {
        // The further samples of a notification stop here, before a call.
        if self.last_data != NEVER && at <= self.last_data {
            return;
        }
        // The usual notification: a connected device with a known interval
        // whose staleness timers already run (they settle lazily, see
        // `stale_armed`; never set for an intermittent device): only the
        // time moves.
        if self.stale_armed != NEVER && self.connected && self.staleness.timing().expected_interval.is_some() {
            self.last_data = at;
            return;
        }
        self.fresh_data(rules, at, sink);
    }

    fn fresh_data(&mut self, rules: &Rules, at: u64, sink: &mut Sink<'_>) {
        if self.last_data != NEVER && self.staleness.note_gap(Duration::from_nanos(at - self.last_data)) {
            let deadline = self.apply_stale_onsets(rules, at);
            sink.timer(deadline);
        }
        self.last_data = at;
        if !self.connected {
            self.connection(rules, at, true, sink);
            return;
        }
        if !self.intermittent() {
            if self.stale_armed != NEVER {
                // Running from an earlier notification: restarted from
                // `last_data` when next looked at (see `stale_armed`).
                return;
            }
            let id = Ident { condition: Condition::TechStale, device: self.label.as_ref() };
            let stale = &mut self.inst[slot(Condition::TechStale)];
            let was_stale = stale.is_qualified();
            stale.rearm(at, id, sink);
            self.stale_armed = at;
            self.note(slot(Condition::TechStale));
            if was_stale {
                self.refresh_suppression(at, sink);
            }
        }
    }

    fn contact(&mut self, rules: &Rules, at: u64, contact: bool, sink: &mut Sink<'_>) {
        if contact && self.is_quiet(Condition::TechNoContact) {
            return;
        }
        let was = self.inst[slot(Condition::TechNoContact)].is_qualified();
        self.flag(rules, Condition::TechNoContact, at, !contact, None, sink);
        if was != self.inst[slot(Condition::TechNoContact)].is_qualified() {
            self.refresh_suppression(at, sink);
        }
    }

    /// Track whether `q`'s latest value was usable; drives `tech.invalid`.
    #[inline]
    fn validity(&mut self, rules: &Rules, q: Quantity, at: u64, valid: bool, v: f64, sink: &mut Sink<'_>) {
        let before = self.invalid;
        if valid {
            self.invalid &= !quantity_bit(q);
        } else {
            self.invalid |= quantity_bit(q);
        }
        if self.invalid != before {
            self.flag(rules, Condition::TechInvalid, at, self.invalid != 0, (!valid).then_some(v), sink);
            self.refresh_suppression(at, sink);
        }
    }

    // Inlined into the one caller (like `temperature` and `spo2`): saves
    // a call frame per sample.
    #[inline(always)]
    fn heart_rate(&mut self, rules: &Rules, q: Quantity, at: u64, v: f64, contact: Option<bool>, sink: &mut Sink<'_>) {
        let trusted = in_contact(contact);
        let valid = plausible(q, v);
        if trusted {
            self.validity(rules, q, at, valid, v, sink);
        } else if self.invalid & quantity_bit(q) != 0 {
            self.validity(rules, q, at, true, v, sink);
        }
        if !trusted || !valid || !self.connected || self.suppressed & G_HR != 0 {
            self.reset_group(G_HR);
            return;
        }
        let baseline = self.baseline.feed(at, v, rules.baseline_window);
        self.judge(rules, Condition::HrHigh, at, v, v, sink);
        self.judge(rules, Condition::HrLow, at, v, v, sink);
        if let Some(b) = baseline {
            self.judge(rules, Condition::HrRise, at, v - b, v, sink);
        }
    }

    #[inline(always)]
    fn temperature(&mut self, rules: &Rules, q: Quantity, at: u64, v: f64, sink: &mut Sink<'_>) {
        let valid = plausible(q, v);
        self.validity(rules, q, at, valid, v, sink);
        if !valid || !self.connected || self.suppressed & G_TEMP != 0 {
            self.reset_group(G_TEMP);
            return;
        }
        let k = usize::from(q == Quantity::SkinTemperatureC);
        if k == 0 {
            self.judge(rules, Condition::TempHigh, at, v, v, sink);
        }
        self.rise_now[k] = self.rise[k].push(at, v, rules.rise_window);
        let rise = self.rise_now[0].max(self.rise_now[1]);
        self.judge(rules, Condition::TempRise, at, rise, v, sink);
    }

    #[inline(always)]
    fn spo2(&mut self, rules: &Rules, at: u64, v: f64, sink: &mut Sink<'_>) {
        let valid = plausible(Quantity::Spo2Pct, v);
        self.validity(rules, Quantity::Spo2Pct, at, valid, v, sink);
        if !valid || !self.connected || self.suppressed & G_SPO2 != 0 {
            self.reset_group(G_SPO2);
            return;
        }
        self.judge(rules, Condition::Spo2Low, at, v, v, sink);
    }

    fn blood_pressure(&mut self, rules: &Rules, q: Quantity, at: u64, v: f64, sink: &mut Sink<'_>) {
        let valid = plausible(q, v);
        self.validity(rules, q, at, valid, v, sink);
        let part = if q == Quantity::SystolicMmhg { BpReading::SYSTOLIC } else { BpReading::DIASTOLIC };
        if self.bp.pending() && self.bp.at != at {
            self.judge_bp(rules, sink);
        }
        self.bp.add(at, part, valid.then_some(v));
        self.note_bp();
        if self.bp.complete() {
            self.judge_bp(rules, sink);
        } else {
            sink.timer(self.bp.deadline());
        }
    }

    fn judge_bp(&mut self, rules: &Rules, sink: &mut Sink<'_>) {
        let reading = self.bp.take();
        self.note_bp();
        if reading.systolic.is_none() && reading.diastolic.is_none() {
            return;
        }
        let (mut sat, mut shown) = (0u8, reading.systolic.or(reading.diastolic));
        for (l, level) in rules.bp.iter().enumerate() {
            let Some(level) = level else { continue };
            if let Some(s) = reading.systolic.filter(|s| *s > level.systolic_above_mmhg) {
                sat |= 1 << l;
                shown = Some(s);
            } else if let Some(d) = reading.diastolic.filter(|d| *d > level.diastolic_above_mmhg) {
                sat |= 1 << l;
                shown = Some(d);
            }
        }
        self.observe(Condition::BpHigh, reading.at, sat, sat, shown, sink);
    }

    fn battery(&mut self, rules: &Rules, at: u64, v: f64, sink: &mut Sink<'_>) {
        let valid = plausible(Quantity::BatteryPct, v);
        self.validity(rules, Quantity::BatteryPct, at, valid, v, sink);
        if valid {
            self.judge(rules, Condition::TechBatteryLow, at, v, v, sink);
        }
    }

    #[inline(never)]
    fn connection(&mut self, rules: &Rules, at: u64, connected: bool, sink: &mut Sink<'_>) {
        self.connected = connected;
        self.flag(rules, Condition::TechDisconnected, at, !connected, None, sink);
        if connected {
            if !self.intermittent() {
                let id = Ident { condition: Condition::TechStale, device: self.label.as_ref() };
                self.inst[slot(Condition::TechStale)].rearm(at, id, sink);
                self.stale_armed = at;
                self.note(slot(Condition::TechStale));
            }
        } else {
            self.end(Condition::TechStale, at, sink);
            self.end(Condition::TechNoContact, at, sink);
            self.invalid = 0;
            self.end(Condition::TechInvalid, at, sink);
        }
        self.refresh_suppression(at, sink);
    }

    /// One decoded sample (it also counts as data for staleness).
    #[inline]
    fn sample(&mut self, rules: &Rules, sample: &Sample, at: u64, sink: &mut Sink<'_>) {
        self.data(rules, at, sink);
        if let Some(contact) = sample.contact {
            self.contact(rules, at, contact, sink);
        }
        let v = sample.value;
        match sample.quantity {
            Quantity::HeartRateBpm => self.heart_rate(rules, Quantity::HeartRateBpm, at, v, sample.contact, sink),
            Quantity::PulseRateBpm => {
                if self.intermittent() {
                    let valid = plausible(Quantity::PulseRateBpm, v);
                    self.validity(rules, Quantity::PulseRateBpm, at, valid, v, sink);
                } else {
                    self.heart_rate(rules, Quantity::PulseRateBpm, at, v, sample.contact, sink);
                }
            }
            Quantity::BodyTemperatureC | Quantity::SkinTemperatureC => {
                self.temperature(rules, sample.quantity, at, v, sink);
            }
            Quantity::Spo2Pct => self.spo2(rules, at, v, sink),
            Quantity::SystolicMmhg | Quantity::DiastolicMmhg => {
                self.blood_pressure(rules, sample.quantity, at, v, sink);
            }
            Quantity::BatteryPct => self.battery(rules, at, v, sink),
            // Ambient temperature is shown and recorded, never alarmed; the
            // others have no alarm rule.
            Quantity::AmbientTemperatureC | Quantity::RrIntervalMs | Quantity::EnergyExpendedKj | Quantity::MapMmhg => {
            }
        }
    }

    /// The earliest timer of this device, exactly: (deadline, slot).
    fn exact_deadline(&mut self) -> (u64, usize) {
        self.settle_stale();
        debug_assert!(self.busy_is_exact(), "busy mask out of date");
        let bp_bit = 1 << BP_SLOT;
        let bp_deadline = if self.busy & bp_bit != 0 { self.bp.deadline() } else { NEVER };
        let mut best = (bp_deadline, BP_SLOT);
        // Quiet instances have no timer: only the busy ones are looked at,
        // lowest slot first (ties go to the lowest slot, BP before all).
        let mut busy = self.busy & !bp_bit;
        while busy != 0 {
            let si = busy.trailing_zeros() as usize;
            busy &= busy - 1;
            let deadline = self.inst[si].deadline;
            if deadline < best.0 {
                best = (deadline, si);
            }
        }
        best
    }

    /// Fire the timer in `slot_index`, due at `d`.
    fn fire(&mut self, rules: &Rules, d: u64, slot_index: usize, sink: &mut Sink<'_>) {
        if slot_index == BP_SLOT {
            self.judge_bp(rules, sink);
            return;
        }
        let condition = Condition::ALL[slot_index];
        if condition == Condition::TechStale {
            self.settle_stale();
            // Whatever fires, the next notification re-arms it for real.
            self.stale_armed = NEVER;
        }
        let id = Ident { condition, device: self.label.as_ref() };
        let inst = &mut self.inst[slot_index];
        inst.on_deadline(d, id, sink);
        if inst.deadline <= d {
            // Cannot happen (every due timer qualifies or moves on); if it
            // did, dropping the timer beats spinning forever in a monitor.
            tracing::error!(%condition, "alarm timer did not advance; dropped");
            inst.deadline = NEVER;
        }
        self.note(slot_index);
        if suppresses(condition) {
            self.refresh_suppression(d, sink);
        }
    }
}

/// The alarm engine: one instance per (condition, device).
#[derive(Debug, Clone)]
pub struct AlarmEngine {
    config: AlarmConfig,
    rules: Rules,
    /// `devices[0]` is the session-wide pseudo-device.
    devices: Vec<Device>,
    /// Each device's label (`None` for the pseudo-device), apart from
    /// `devices` so the per-sample lookup scans a short, dense list.
    labels: Vec<Option<DeviceLabel>>,
    /// Per device: no timer of it is due before this (a lower bound), packed
    /// so finding the earliest timer reads one word per device and looks
    /// into only the devices that could have it.
    bounds: Vec<u64>,
    now: u64,
    /// No timer is due before this (a lower bound: timers that moved later
    /// leave it early, and the next scan finds the true one).
    next: u64,
    pause_start: u64,
    pause_until: u64,
    last_hit: usize,
}

impl AlarmEngine {
    #[must_use]
    pub fn new(config: AlarmConfig) -> Self {
        let rules = Rules::compile(&config);
        let session = Device::new(None, &rules);
        Self {
            config,
            rules,
            devices: vec![session],
            labels: vec![None],
            bounds: vec![NEVER],
            now: 0,
            next: NEVER,
            pause_start: 0,
            pause_until: 0,
            last_hit: 0,
        }
    }

    #[must_use]
    pub fn config(&self) -> &AlarmConfig {
        &self.config
    }

    /// Device profile timing (expected notification interval; intermittent
    /// sensors are never stale). Unknown devices: interval learned from
    /// their recent notifications (the configured default, 1 s, until known;
    /// see [`Staleness`]).
    pub fn set_device_timing(&mut self, device: &DeviceLabel, timing: DeviceTiming) {
        let i = self.device_index(device);
        let rules = &self.rules;
        let d = &mut self.devices[i];
        d.staleness.set_timing(timing);
        d.apply_stale_onsets(rules, self.now);
        // Onsets may have shortened: rescan timers at the next advance.
        self.bounds[i] = 0;
        self.next = 0;
    }

    /// The id of `device`, adding it if it is new (see [`DeviceId`]).
    pub fn device(&mut self, device: &DeviceLabel) -> DeviceId {
        DeviceId(self.device_index(device))
    }

    /// What decides when `id`'s data is stale: `tech.stale`'s timers run
    /// from it, and the snapshot's reading status reads it (with
    /// `config().tech_stale`), so the two agree.
    #[must_use]
    pub fn staleness(&self, id: DeviceId) -> &Staleness {
        &self.devices[id.0].staleness
    }

    /// One decoded sample. Also counts as data for staleness (so calling
    /// [`on_data`](Self::on_data) for its notification as well is harmless).
    pub fn on_sample(&mut self, sample: &Sample, out: &mut Vec<AlarmEvent>) {
        let id = self.device(&sample.device);
        self.on_device_sample(id, sample, out);
    }

    /// [`on_sample`](Self::on_sample) for a sample of the device `id`
    /// names (`sample.device` is not looked at).
    #[inline]
    pub fn on_device_sample(&mut self, id: DeviceId, sample: &Sample, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(sample.at, out);
        self.with_device(id.0, out, |d, rules, sink| d.sample(rules, sample, at, sink));
    }

    /// A notification arrived from `device` (any characteristic, even one
    /// that failed to decode): feeds staleness.
    pub fn on_data(&mut self, at: SessionTime, device: &DeviceLabel, out: &mut Vec<AlarmEvent>) {
        let id = self.device(device);
        self.on_device_data(at, id, out);
    }

    /// [`on_data`](Self::on_data) for the device `id` names.
    #[inline]
    pub fn on_device_data(&mut self, at: SessionTime, id: DeviceId, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(at, out);
        self.with_device(id.0, out, |d, rules, sink| d.data(rules, at, sink));
    }

    pub fn on_connection(&mut self, at: SessionTime, device: &DeviceLabel, connected: bool, out: &mut Vec<AlarmEvent>) {
        let at = self.enter(at, out);
        let i = self.device_index(device);
        self.with_device(i, out, |d, rules, sink| d.connection(rules, at, connected, sink));
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
            OperatorAction::Ack { alarm, device } => self.acknowledge(at, *alarm, device.as_deref(), out),
            OperatorAction::AudioPause => {
                self.pause_start = at;
                self.pause_until = at.saturating_add(rules::nanos(self.config.audio_pause));
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
            OperatorAction::Marker(_) | OperatorAction::Manual { .. } => Ok(()),
        }
    }

    /// tech.recording and tech.stalled, raised/cleared by the pipeline
    /// (`device` `None`: session-wide). Other technical conditions may be
    /// driven this way too; physiological ones are ignored.
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
        let at = self.enter(at, out);
        let i = device.map_or(0, |d| self.device_index(d));
        self.with_device(i, out, |d, rules, sink| {
            d.flag(rules, condition, at, on, None, sink);
            if suppresses(condition) {
                d.refresh_suppression(at, sink);
            }
        });
    }

    /// Wall-clock jump or suspend, reported at `at` (the first time after
    /// it) for the `duration` before: every timer set before `at` moves later
    /// by `duration` (but not past `at`), so the gap fires no burst of
    /// alarms. Call it before advancing past `at`.
    pub fn on_gap(&mut self, at: SessionTime, duration: Duration) {
        let at = at.0.max(self.now);
        let by = rules::nanos(duration);
        for d in &mut self.devices {
            d.settle_stale();
            for s in 0..CONDITIONS {
                d.inst[s].shift(at, by);
                d.note(s);
            }
            if d.last_data != NEVER && d.last_data < at {
                d.last_data = d.last_data.saturating_add(by).min(at);
            }
        }
        self.bounds.fill(0);
        if self.pause_until > at.saturating_sub(by) {
            self.pause_until = self.pause_until.saturating_add(by);
        }
        self.next = 0;
    }

    /// The gap between two segments of a resumed session (`--resume`),
    /// reported at `at`, the session time the new segment starts at. Timers
    /// move as for [`on_gap`](Self::on_gap), so the outage fires no burst of
    /// alarms and an onset delay in progress continues where it stopped; an
    /// audio pause does not move: it ends when it would have by the wall
    /// clock, so it is still running after the resume only if the operator's
    /// pause has not yet run out.
    pub fn on_resume_gap(&mut self, at: SessionTime, duration: Duration) {
        let (start, until) = (self.pause_start, self.pause_until);
        self.on_gap(at, duration);
        self.pause_start = start;
        self.pause_until = until;
    }

    /// Fire every timed transition with deadline <= `now`, each stamped at
    /// its deadline, in time order.
    #[inline]
    pub fn advance_to(&mut self, now: SessionTime, out: &mut Vec<AlarmEvent>) {
        let now = now.0;
        // Called for every event; almost always nothing is due.
        if self.next <= now {
            self.fire_due(now, out);
        }
        self.now = self.now.max(now);
    }

    #[inline(never)]
    fn fire_due(&mut self, now: u64, out: &mut Vec<AlarmEvent>) {
        loop {
            let (d, di, si) = self.earliest();
            if d > now {
                self.next = d;
                break;
            }
            self.with_device(di, out, |dev, rules, sink| dev.fire(rules, d, si, sink));
        }
    }

    /// The next time [`advance_to`](Self::advance_to) may have something to
    /// fire. Never later than the true next transition; it may be earlier
    /// (a timer postponed by fresh data), in which case advancing to it fires
    /// nothing and the following call gives the true one.
    #[must_use]
    pub fn next_deadline(&self) -> Option<SessionTime> {
        (self.next != NEVER).then_some(SessionTime(self.next))
    }

    /// Alarms not cleared, highest priority first then newest.
    #[must_use]
    pub fn statuses(&self) -> Vec<AlarmStatus> {
        let paused = self.now < self.pause_until;
        let mut list = Vec::new();
        for d in &self.devices {
            for (i, inst) in d.inst.iter().enumerate() {
                let state = match inst.phase {
                    Phase::Idle => continue,
                    Phase::Active => AlarmState::Active,
                    Phase::Escalated => AlarmState::Escalated,
                    Phase::Acknowledged => AlarmState::Acknowledged,
                    Phase::Latched => AlarmState::Latched,
                };
                let sounding = matches!(inst.phase, Phase::Active | Phase::Escalated | Phase::Latched);
                list.push(AlarmStatus {
                    condition: Condition::ALL[i],
                    device: d.label.clone(),
                    priority: inst.priority,
                    state,
                    since: SessionTime(inst.active_since),
                    changed: SessionTime(inst.changed),
                    value: inst.trigger.filter(|v| v.is_finite()),
                    audible: sounding && (!paused || inst.annunciated > self.pause_start),
                });
            }
        }
        list.sort_by(|a, b| b.priority.cmp(&a.priority).then(b.changed.cmp(&a.changed)));
        list
    }

    #[must_use]
    pub fn audio_paused_until(&self) -> Option<SessionTime> {
        (self.now < self.pause_until).then_some(SessionTime(self.pause_until))
    }

    /// The limits in force, one human line each (`> 120 bpm for 30 s`).
    #[must_use]
    pub fn limit_views(&self) -> Vec<LimitView> {
        rules::limit_views(&self.config)
    }

    /// Advance timers to `at` (clamped so time never goes back).
    #[inline]
    fn enter(&mut self, at: SessionTime, out: &mut Vec<AlarmEvent>) -> u64 {
        let at = at.0.max(self.now);
        if self.next <= at {
            self.advance_to(SessionTime(at), out);
        } else {
            self.now = at;
        }
        at
    }

    #[inline]
    fn device_index(&mut self, label: &DeviceLabel) -> usize {
        if self.labels[self.last_hit].as_ref() == Some(label) {
            return self.last_hit;
        }
        let i = match self.labels.iter().position(|l| l.as_ref() == Some(label)) {
            Some(i) => i,
            None => self.device_index_slow(label),
        };
        self.last_hit = i;
        i
    }

    /// A device met for the first time.
    #[cold]
    fn device_index_slow(&mut self, label: &DeviceLabel) -> usize {
        self.devices.push(Device::new(Some(label.clone()), &self.rules));
        self.labels.push(Some(label.clone()));
        self.bounds.push(NEVER);
        self.devices.len() - 1
    }

    fn find_by_name(&self, name: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.label.as_deref() == Some(name))
    }

    /// The earliest timer: (deadline, device, slot). Only devices whose
    /// lower bound could beat the best so far are looked into, and their
    /// bound is made exact on the way.
    fn earliest(&mut self) -> (u64, usize, usize) {
        let mut best = (NEVER, 0, 0);
        for (di, bound) in self.bounds.iter_mut().enumerate() {
            if *bound >= best.0 {
                continue;
            }
            let (t, si) = self.devices[di].exact_deadline();
            *bound = t;
            if t < best.0 {
                best = (t, di, si);
            }
        }
        best
    }

    /// Run `f` on device `i`, then fold the timers it set into the bounds.
    #[inline]
    fn with_device<R>(
        &mut self,
        i: usize,
        out: &mut Vec<AlarmEvent>,
        f: impl FnOnce(&mut Device, &Rules, &mut Sink<'_>) -> R,
    ) -> R {
        let mut sink = Sink::new(out);
        let r = f(&mut self.devices[i], &self.rules, &mut sink);
        self.bounds[i] = self.bounds[i].min(sink.lowest);
        self.next = self.next.min(sink.lowest);
        r
    }

    fn acknowledge(
        &mut self,
        at: u64,
        alarm: Option<Condition>,
        device: Option<&str>,
        out: &mut Vec<AlarmEvent>,
    ) -> Result<(), AlarmError> {
        let only = match device {
            Some(name) => Some(self.find_by_name(name).ok_or_else(|| AlarmError::UnknownDevice(name.to_owned()))?),
            None => None,
        };
        for di in 0..self.devices.len() {
            if only.is_some_and(|o| o != di) {
                continue;
            }
            self.with_device(di, out, |d, _, sink| {
                for (si, condition) in Condition::ALL.iter().enumerate() {
                    if alarm.is_none_or(|a| a == *condition) {
                        let id = Ident { condition: *condition, device: d.label.as_ref() };
                        d.inst[si].acknowledge(at, id, sink);
                        d.note(si);
                    }
                }
            });
        }
        Ok(())
    }

    fn take_baseline(&mut self, at: u64, device: Option<&str>) -> Result<(), AlarmError> {
        let window = self.rules.baseline_window;
        let no_data =
            || AlarmError::NoBaselineData { device: device.map(str::to_owned), window_s: window / 1_000_000_000 };
        if let Some(name) = device {
            let i = self.find_by_name(name).ok_or_else(|| AlarmError::UnknownDevice(name.to_owned()))?;
            let b = &mut self.devices[i].baseline;
            let mean = b.recent_mean(at, window).ok_or_else(no_data)?;
            b.set(mean);
            return Ok(());
        }
        let mut any = false;
        for d in &mut self.devices {
            if let Some(mean) = d.baseline.recent_mean(at, window) {
                d.baseline.set(mean);
                any = true;
            }
        }
        if any { Ok(()) } else { Err(no_data()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Priority;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    impl AlarmEngine {
        /// Restart every lazily armed `tech.stale` timer now: the state
        /// re-arming at every notification would be in.
        fn settle_all(&mut self) {
            // Written out rather than calling `settle_stale`, so the
            // reference does not share the code under test: a notification
            // since the timers last started re-armed them at its time.
            for d in &mut self.devices {
                if d.stale_armed != NEVER && d.last_data > d.stale_armed {
                    d.inst[slot(Condition::TechStale)].restart(d.last_data);
                    d.stale_armed = d.last_data;
                    d.note(slot(Condition::TechStale));
                }
            }
        }
    }

    /// The lazy staleness timers (`Device::stale_armed`) must be invisible:
    /// an engine whose timers are settled after every input (as re-arming
    /// at each notification did) gives the same events, statuses and next
    /// deadline at every step, through notifications, pauses long enough to
    /// go stale, connection changes, `tech.stale` driven by hand, clock
    /// gaps, new device timing and acknowledgements.
    #[test]
    fn lazy_staleness_is_the_same_as_re_arming_at_every_notification() {
        for seed in 0..60 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let labels: Vec<DeviceLabel> = (0..3).map(|i| DeviceLabel::from(format!("d{i}").as_str())).collect();
            let mut lazy = AlarmEngine::new(AlarmConfig::default());
            let mut eager = lazy.clone();
            let (mut out_lazy, mut out_eager) = (Vec::new(), Vec::new());
            let mut t_ms = 0u64;
            for step in 0..400 {
                t_ms += rng.random_range(0..2_500u64);
                if rng.random_bool(0.06) {
                    t_ms += rng.random_range(4_000..40_000u64);
                }
                let at = SessionTime::from_millis(t_ms);
                let device = labels[rng.random_range(0..labels.len())].clone();
                let kind = rng.random_range(0..100u32);
                let value = f64::from(rng.random_range(50..160u32));
                let gap = Duration::from_millis(rng.random_range(0..20_000u64));
                let apply = |e: &mut AlarmEngine, out: &mut Vec<AlarmEvent>| match kind {
                    0..=59 => {
                        let sample = Sample {
                            at,
                            device: device.clone(),
                            quantity: Quantity::HeartRateBpm,
                            value,
                            contact: Some(kind % 9 != 0),
                            device_time_ns: None,
                        };
                        e.on_sample(&sample, out);
                    }
                    60..=69 => e.on_data(at, &device, out),
                    70..=74 => e.on_connection(at, &device, kind % 2 == 0, out),
                    75..=79 => e.set_technical(at, Condition::TechStale, Some(&device), kind % 2 == 0, out),
                    80..=82 => e.on_gap(at, gap),
                    83..=85 => e.set_device_timing(
                        &device,
                        DeviceTiming {
                            expected_interval: Some(Duration::from_millis(400 * u64::from(kind - 82))),
                            intermittent: kind == 85 && value > 140.0,
                        },
                    ),
                    86..=88 => {
                        let ack = OperatorAction::Ack { alarm: None, device: None };
                        e.on_operator(at, &ack, out).unwrap();
                    }
                    _ => e.advance_to(at, out),
                };
                apply(&mut lazy, &mut out_lazy);
                apply(&mut eager, &mut out_eager);
                eager.settle_all();
                assert_eq!(out_lazy, out_eager, "seed {seed} step {step}");
                assert_eq!(lazy.next_deadline(), eager.next_deadline(), "seed {seed} step {step}");
                assert_eq!(lazy.statuses(), eager.statuses(), "seed {seed} step {step}");
                // The bound is never later than the earliest timer.
                let (earliest, _, _) = lazy.clone().earliest();
                assert!(lazy.next <= earliest, "seed {seed} step {step}: a timer at {earliest} is past the bound");
            }
            assert!(
                out_lazy.iter().any(|e| e.condition == Condition::TechStale),
                "seed {seed}: the script never went stale"
            );
        }
    }

    /// Every kind of input the engine takes, at random (samples of every
    /// quantity with and without contact, data, connections, technical
    /// flags, gaps, resumes, timing, acknowledgements, audio pauses,
    /// baselines, limits, manual readings): the engine's bound on its next
    /// timer is never past its earliest timer, so no alarm is raised late,
    /// and every transition it emits is stamped no earlier than the one
    /// before.
    #[test]
    fn no_timer_is_ever_past_the_engines_bound() {
        for seed in 0..80 {
            let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
            let mut config = AlarmConfig::default();
            if seed % 2 == 0 {
                config.tech_stale.min = Duration::from_secs(1);
                config.tech_no_contact.onset = Duration::from_secs(2);
            }
            let mut engine = AlarmEngine::new(config);
            let labels: Vec<DeviceLabel> = (0..3).map(|i| DeviceLabel::from(format!("r{i}").as_str())).collect();
            let mut out = Vec::new();
            let mut t_ms = 0u64;
            let mut last_stamp = SessionTime(0);
            for step in 0..500 {
                t_ms += rng.random_range(0..3_000u64);
                if rng.random_bool(0.04) {
                    t_ms += rng.random_range(5_000..120_000u64);
                }
                let at = SessionTime::from_millis(t_ms);
                let d = &labels[rng.random_range(0..labels.len())];
                let quantity = Quantity::ALL[rng.random_range(0..Quantity::ALL.len())];
                let value = match quantity {
                    Quantity::BodyTemperatureC | Quantity::SkinTemperatureC => rng.random_range(30.0..42.0),
                    Quantity::Spo2Pct | Quantity::BatteryPct => rng.random_range(0.0..101.0),
                    _ => rng.random_range(0.0..240.0),
                };
                let condition = Condition::ALL[rng.random_range(0..Condition::ALL.len())];
                match rng.random_range(0..100u32) {
                    0..=54 => {
                        let contact = [Some(true), Some(false), None][rng.random_range(0..3)];
                        let sample = Sample { at, device: d.clone(), quantity, value, contact, device_time_ns: None };
                        engine.on_sample(&sample, &mut out);
                    }
                    55..=64 => engine.on_data(at, d, &mut out),
                    65..=69 => engine.on_connection(at, d, rng.random_bool(0.6), &mut out),
                    70..=72 => {
                        let device = rng.random_bool(0.5).then_some(d);
                        engine.set_technical(at, condition, device, rng.random_bool(0.5), &mut out);
                    }
                    73..=74 => engine.on_gap(at, Duration::from_millis(rng.random_range(0..30_000))),
                    75 => engine.on_resume_gap(at, Duration::from_millis(rng.random_range(0..30_000))),
                    76..=78 => engine.set_device_timing(
                        d,
                        DeviceTiming {
                            expected_interval: rng
                                .random_bool(0.5)
                                .then(|| Duration::from_millis(rng.random_range(200..20_000))),
                            intermittent: rng.random_bool(0.2),
                        },
                    ),
                    79..=90 => {
                        let action = match rng.random_range(0..5u32) {
                            0 => OperatorAction::Ack {
                                alarm: rng.random_bool(0.5).then_some(condition),
                                device: rng.random_bool(0.5).then(|| d.to_string()),
                            },
                            1 => OperatorAction::AudioPause,
                            2 => OperatorAction::Baseline { device: rng.random_bool(0.5).then(|| d.to_string()) },
                            3 => OperatorAction::Limit {
                                condition,
                                priority: [Priority::Low, Priority::Medium, Priority::High][rng.random_range(0..3)],
                                value,
                            },
                            _ => OperatorAction::Manual { quantity, value },
                        };
                        // Refusals (a limit out of order, no baseline data)
                        // are errors, never panics.
                        let _ = engine.on_operator(at, &action, &mut out);
                    }
                    _ => engine.advance_to(at, &mut out),
                }
                let (earliest, _, _) = engine.clone().earliest();
                assert!(
                    engine.next <= earliest,
                    "seed {seed} step {step}: a timer at {earliest} is past {}",
                    engine.next
                );
                for e in out.drain(..) {
                    assert!(e.at >= last_stamp, "seed {seed} step {step}: {e:?} stamped before {last_stamp:?}");
                    last_stamp = e.at;
                }
            }
        }
    }

    /// A device of no declared interval that notified every 10 s and then
    /// every 2 s: once the engine has learned the 2 s, `tech.stale` comes 6 s
    /// (3 intervals) after its last notification, and is raised then. It
    /// was raised 2 s late here: the running timer kept the 30 s delay, so
    /// the engine's next-timer bound was later than the true deadline and
    /// only another timer's wake-up found it (the lateness can be as long
    /// as the old delay less the new).
    #[test]
    fn a_learned_interval_that_shrinks_makes_the_device_stale_sooner() {
        let mut engine = AlarmEngine::new(AlarmConfig::default());
        let device = DeviceLabel::from("learner");
        let mut out = Vec::new();
        let mut t_ms = 0;
        for _ in 0..10 {
            engine.on_data(SessionTime::from_millis(t_ms), &device, &mut out);
            t_ms += 10_000;
        }
        // A gap of 10 s, then 6 of 2 s: the estimate (the median of the last
        // 8 gaps, taken at every 8th) becomes 2 s at the last notification.
        for _ in 0..7 {
            engine.on_data(SessionTime::from_millis(t_ms), &device, &mut out);
            t_ms += 2_000;
        }
        let last_ms = t_ms - 2_000;
        // (While the 10 s was being learned, the 1 s default made it stale
        // between notifications.)
        assert!(engine.statuses().iter().all(|s| s.condition != Condition::TechStale || s.state != AlarmState::Active));
        out.clear();
        let mut now_ms = last_ms;
        let raised = loop {
            now_ms += 100;
            engine.advance_to(SessionTime::from_millis(now_ms), &mut out);
            if let Some(e) = out.iter().find(|e| e.condition == Condition::TechStale) {
                break (e.at.as_millis(), now_ms);
            }
            assert!(now_ms < last_ms + 60_000, "never stale");
        };
        assert_eq!(raised, (last_ms + 6_000, last_ms + 6_000), "(stamped, raised at) ms");
    }

    fn hr(at_s: u64, device: &DeviceLabel, v: f64) -> Sample {
        Sample {
            at: SessionTime::from_secs(at_s),
            device: device.clone(),
            quantity: Quantity::HeartRateBpm,
            value: v,
            contact: Some(true),
            device_time_ns: None,
        }
    }

    #[test]
    fn onset_fires_at_the_deadline_not_at_the_next_sample() {
        let chest: DeviceLabel = DeviceLabel::from("chest");
        let mut e = AlarmEngine::new(AlarmConfig::default());
        let mut out = Vec::new();
        e.set_device_timing(&chest, DeviceTiming { expected_interval: None, intermittent: true });
        e.on_sample(&hr(10, &chest, 150.0), &mut out);
        assert!(out.is_empty());
        assert_eq!(e.next_deadline(), Some(SessionTime::from_secs(25)));
        e.advance_to(SessionTime::from_secs(100), &mut out);
        let times: Vec<_> = out.iter().map(|a| (a.at.as_millis(), a.priority, a.state)).collect();
        assert_eq!(times, vec![(25_000, Priority::High, AlarmState::Active)]);
    }

    #[test]
    fn statuses_list_highest_priority_first() {
        let chest: DeviceLabel = DeviceLabel::from("chest");
        let mut e = AlarmEngine::new(AlarmConfig::default());
        let mut out = Vec::new();
        e.on_connection(SessionTime::ZERO, &chest, false, &mut out);
        e.set_technical(SessionTime::from_secs(1), Condition::TechStalled, None, true, &mut out);
        let s = e.statuses();
        assert_eq!(s[0].condition, Condition::TechStalled);
        assert_eq!(s[1].condition, Condition::TechDisconnected);
        assert!(s.iter().all(|s| s.audible));
    }

    #[test]
    fn limit_views_read_as_limits() {
        let e = AlarmEngine::new(AlarmConfig::default());
        let views = e.limit_views();
        let text = |c: Condition, p: Priority| {
            views.iter().find(|v| v.condition == c && v.priority == p).map(|v| v.text.clone()).unwrap_or_default()
        };
        assert_eq!(text(Condition::HrHigh, Priority::Medium), "> 120 bpm for 30 s");
        assert_eq!(text(Condition::TempHigh, Priority::Medium), "≥ 38.5 °C for 2 min");
        assert_eq!(text(Condition::Spo2Low, Priority::High), "< 85 % for 10 s");
        assert_eq!(text(Condition::TempRise, Priority::Medium), "≥ 0.5 °C rise within 30 min");
        assert_eq!(text(Condition::TechDisconnected, Priority::High), "unacknowledged for 60 s");
    }

    #[test]
    fn limit_action_changes_the_view_and_rejects_disorder() {
        let mut e = AlarmEngine::new(AlarmConfig::default());
        let mut out = Vec::new();
        let set = |value| OperatorAction::Limit { condition: Condition::HrHigh, priority: Priority::Medium, value };
        e.on_operator(SessionTime::ZERO, &set(125.0), &mut out).unwrap();
        assert_eq!(e.config().hr_high.medium.unwrap().threshold, 125.0);
        let err = e.on_operator(SessionTime::ZERO, &set(99.0), &mut out).unwrap_err();
        assert!(err.to_string().contains("alarms.hr_high.medium"), "{err}");
        assert_eq!(e.config().hr_high.medium.unwrap().threshold, 125.0);
    }

    #[test]
    fn baseline_without_data_is_an_error() {
        let chest: DeviceLabel = DeviceLabel::from("chest");
        let mut e = AlarmEngine::new(AlarmConfig::default());
        let mut out = Vec::new();
        e.on_connection(SessionTime::ZERO, &chest, true, &mut out);
        let err = e.on_operator(SessionTime::ZERO, &OperatorAction::Baseline { device: None }, &mut out).unwrap_err();
        assert_eq!(err.to_string(), "no valid heart rate in the last 300 s to take a baseline from");
    }

    #[test]
    fn a_device_is_found_by_its_name_from_another_source() {
        let mut e = AlarmEngine::new(AlarmConfig::default());
        let mut out = Vec::new();
        e.on_connection(SessionTime::ZERO, &DeviceLabel::from("chest"), false, &mut out);
        e.on_connection(SessionTime::from_secs(1), &DeviceLabel::from("chest"), true, &mut out);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[1].state, AlarmState::Cleared);
        assert!(e.statuses().is_empty());
    }
}
