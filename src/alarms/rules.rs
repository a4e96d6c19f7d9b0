//! The configuration compiled into what the hot path needs: per condition,
//! thresholds with their hysteresis already applied and onsets in
//! nanoseconds (the plausibility ranges that separate `tech.invalid` from a
//! physiological alarm are `crate::verdict`'s). Also the human text of each
//! limit for the dashboard.

use std::time::Duration;

use crate::config::{AlarmConfig, BpLevel, Direction, TechStale, ThresholdView};
use crate::model::{Condition, Priority};
use crate::snapshot::LimitView;

use super::instance::NEVER;

/// Instances per device: one per condition (the session-wide ones live on a
/// pseudo-device).
pub(super) const CONDITIONS: usize = Condition::ALL.len();

#[inline]
pub(super) const fn slot(c: Condition) -> usize {
    c as usize
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub direction: Direction,
    pub threshold: [f64; 3],
    /// The threshold moved back by the hysteresis: the level holds while the
    /// value is beyond this.
    pub relaxed: [f64; 3],
    /// `NEVER` where there is no level (or the condition is off).
    pub onset: [u64; 3],
    pub escalate_after: u64,
    /// The least extreme relaxed threshold: a value not beyond it satisfies
    /// no level (the common, normal case decided with one comparison). NaN
    /// when there is no level.
    outer: f64,
}

impl Rule {
    const OFF: Rule = Rule {
        direction: Direction::Above,
        threshold: [f64::INFINITY; 3],
        relaxed: [f64::INFINITY; 3],
        onset: [NEVER; 3],
        escalate_after: NEVER,
        outer: f64::NAN,
    };

    fn from_view(view: &ThresholdView) -> Self {
        let mut rule = Rule { direction: view.direction, escalate_after: nanos_opt(view.escalate_after), ..Rule::OFF };
        if view.enabled {
            for (l, level) in view.levels.iter().enumerate() {
                if let Some(level) = level {
                    rule.threshold[l] = level.threshold;
                    rule.relaxed[l] = view.direction.relaxed(level.threshold, view.hysteresis);
                    rule.onset[l] = nanos(level.onset);
                }
            }
        }
        rule.finish()
    }

    /// A yes/no condition at one priority after an onset delay.
    fn flag(enabled: bool, priority: Priority, onset: Duration, escalate_after: Option<Duration>) -> Self {
        let mut rule = Rule { direction: Direction::AtLeast, escalate_after: nanos_opt(escalate_after), ..Rule::OFF };
        if enabled {
            let l = priority as usize;
            rule.threshold[l] = 1.0;
            rule.relaxed[l] = 1.0;
            rule.onset[l] = nanos(onset);
        }
        rule.finish()
    }

    /// Set `outer` once the levels are in place.
    fn finish(mut self) -> Self {
        self.outer = f64::NAN;
        for l in 0..3 {
            if self.onset[l] != NEVER {
                let r = self.relaxed[l];
                let less_extreme = if self.direction.rising() { r < self.outer } else { r > self.outer };
                if self.outer.is_nan() || less_extreme {
                    self.outer = r;
                }
            }
        }
        self
    }

    /// `(sat, hold)` masks for a value (see `Instance::observe`).
    /// Inlined: a normal value is one comparison, cheaper than the call.
    #[inline(always)]
    pub fn masks(&self, value: f64) -> (u8, u8) {
        if !self.direction.beyond(value, self.outer) {
            return (0, 0);
        }
        self.masks_beyond(value)
    }

    #[inline(never)]
    fn masks_beyond(&self, value: f64) -> (u8, u8) {
        let (mut sat, mut hold) = (0, 0);
        for l in 0..3 {
            if self.onset[l] != NEVER {
                sat |= u8::from(self.direction.beyond(value, self.threshold[l])) << l;
                hold |= u8::from(self.direction.beyond(value, self.relaxed[l])) << l;
            }
        }
        (sat, hold)
    }

    /// Mask with every existing level set (a yes/no condition that holds).
    pub fn all_levels(&self) -> u8 {
        let mut m = 0;
        for l in 0..3 {
            if self.onset[l] != NEVER {
                m |= 1 << l;
            }
        }
        m
    }
}

#[derive(Debug, Clone)]
pub(super) struct Rules {
    pub by_condition: [Rule; CONDITIONS],
    /// `bp.high` levels by priority (systolic, diastolic), `None` where absent.
    pub bp: [Option<BpLevel>; 3],
    pub stale: TechStale,
    pub rise_window: u64,
    pub baseline_window: u64,
}

impl Rules {
    pub fn compile(config: &AlarmConfig) -> Self {
        let mut by_condition = [Rule::OFF; CONDITIONS];
        for c in [Condition::HrHigh, Condition::HrLow, Condition::HrRise, Condition::TempHigh, Condition::Spo2Low] {
            if let Some(view) = config.threshold(c) {
                by_condition[slot(c)] = Rule::from_view(&view);
            }
        }
        let r = &config.temp_rise;
        by_condition[slot(Condition::TempRise)] = if r.enabled {
            let l = r.priority as usize;
            let mut rule =
                Rule { direction: Direction::AtLeast, escalate_after: nanos_opt(r.escalate_after), ..Rule::OFF };
            rule.threshold[l] = r.rise_celsius;
            rule.relaxed[l] = r.rise_celsius - r.hysteresis_celsius;
            rule.onset[l] = 0;
            rule.finish()
        } else {
            Rule::OFF
        };
        let bp = &config.bp_high;
        let mut bp_levels = [None; 3];
        if bp.enabled {
            bp_levels[1] = bp.medium;
            bp_levels[2] = bp.high;
        }
        let mut bp_rule = Rule::flag(false, Priority::Medium, Duration::ZERO, bp.escalate_after);
        for (l, level) in bp_levels.iter().enumerate() {
            if level.is_some() {
                bp_rule.onset[l] = 0;
            }
        }
        by_condition[slot(Condition::BpHigh)] = bp_rule.finish();

        let s = &config.tech_stale;
        // Stale onsets depend on each device's interval: set per device.
        by_condition[slot(Condition::TechStale)] = Rule::flag(s.enabled, Priority::Low, s.min, None);
        let d = &config.tech_disconnected;
        by_condition[slot(Condition::TechDisconnected)] = Rule::flag(d.enabled, d.priority, d.onset, d.escalate_after);
        let n = &config.tech_no_contact;
        by_condition[slot(Condition::TechNoContact)] = Rule::flag(n.enabled, n.priority, n.onset, n.escalate_after);
        let i = &config.tech_invalid;
        by_condition[slot(Condition::TechInvalid)] = Rule::flag(i.enabled, i.priority, i.onset, i.escalate_after);
        let b = &config.tech_battery_low;
        let mut battery = Rule::flag(b.enabled, b.priority, Duration::ZERO, None);
        battery.direction = Direction::AtMost;
        let l = b.priority as usize;
        battery.threshold[l] = b.at_or_below_pct;
        battery.relaxed[l] = b.at_or_below_pct;
        by_condition[slot(Condition::TechBatteryLow)] = battery.finish();
        for c in [Condition::TechRecording, Condition::TechStalled] {
            by_condition[slot(c)] = Rule::flag(true, Priority::High, Duration::ZERO, None);
        }
        Rules {
            by_condition,
            bp: bp_levels,
            stale: s.clone(),
            rise_window: nanos(r.within),
            baseline_window: nanos(config.hr_rise.baseline_window),
        }
    }

    #[inline]
    pub fn rule(&self, c: Condition) -> &Rule {
        &self.by_condition[slot(c)]
    }

    /// Stale onsets (low at S, medium at `medium_factor` × S) for a device
    /// whose data is stale after `s` of silence (`verdict::Staleness`).
    pub fn stale_onsets(&self, s: Duration) -> [u64; 3] {
        if !self.stale.enabled {
            return [NEVER; 3];
        }
        [nanos(s), nanos(s.mul_f64(self.stale.medium_factor)), NEVER]
    }
}

pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER - 1)
}

fn nanos_opt(d: Option<Duration>) -> u64 {
    d.map_or(NEVER, nanos)
}

/// One line per limit in force, for the dashboard's limits view.
pub(super) fn limit_views(config: &AlarmConfig) -> Vec<LimitView> {
    let mut views = Vec::new();
    let mut push = |condition, priority, text: String| views.push(LimitView { condition, priority, text });
    for c in [Condition::HrHigh, Condition::HrLow, Condition::HrRise, Condition::TempHigh, Condition::Spo2Low] {
        let Some(view) = config.threshold(c) else {
            continue;
        };
        if !view.enabled {
            continue;
        }
        for (l, level) in view.levels.iter().enumerate() {
            if let Some(level) = level {
                let text = format!(
                    "{} {} {} for {}",
                    view.direction.symbol(),
                    number(level.threshold, view.unit),
                    view.unit,
                    duration(level.onset)
                );
                push(c, PRIORITY_BY_INDEX[l], text);
            }
        }
    }
    let r = &config.temp_rise;
    if r.enabled {
        push(
            Condition::TempRise,
            r.priority,
            format!("≥ {} °C rise within {}", number(r.rise_celsius, "°C"), duration(r.within)),
        );
    }
    let bp = &config.bp_high;
    if bp.enabled {
        for (priority, level) in [(Priority::Medium, bp.medium), (Priority::High, bp.high)] {
            if let Some(level) = level {
                push(
                    Condition::BpHigh,
                    priority,
                    format!("SBP > {} or DBP > {} mmHg", level.systolic_above_mmhg, level.diastolic_above_mmhg),
                );
            }
        }
    }
    let s = &config.tech_stale;
    if s.enabled {
        push(
            Condition::TechStale,
            Priority::Low,
            format!("no data for S = max({}, {} × interval)", duration(s.min), s.interval_factor),
        );
        push(Condition::TechStale, Priority::Medium, format!("no data for {} × S", s.medium_factor));
    }
    let d = &config.tech_disconnected;
    if d.enabled {
        push(Condition::TechDisconnected, d.priority, format!("disconnected {}", after(d.onset)));
        if let Some(e) = d.escalate_after {
            push(Condition::TechDisconnected, Priority::High, format!("unacknowledged for {}", duration(e)));
        }
    }
    let n = &config.tech_no_contact;
    if n.enabled {
        push(Condition::TechNoContact, n.priority, format!("no skin contact {}", after(n.onset)));
    }
    let i = &config.tech_invalid;
    if i.enabled {
        push(Condition::TechInvalid, i.priority, format!("invalid value {}", after(i.onset)));
    }
    let b = &config.tech_battery_low;
    if b.enabled {
        push(Condition::TechBatteryLow, b.priority, format!("≤ {} %", b.at_or_below_pct));
    }
    push(Condition::TechRecording, Priority::High, "recording failing, at once".to_owned());
    push(Condition::TechStalled, Priority::High, "pipeline missed its tick, at once".to_owned());
    views
}

const PRIORITY_BY_INDEX: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

fn number(v: f64, unit: &str) -> String {
    if unit == "°C" { format!("{v:.1}") } else { format!("{v}") }
}

fn after(d: Duration) -> String {
    if d.is_zero() { "at once".to_owned() } else { format!("for {}", duration(d)) }
}

fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 && s % 60.0 == 0.0 { format!("{} min", s / 60.0) } else { format!("{s} s") }
}
