//! The limits in force, as facts: what makes each (condition, priority)
//! alarm. The dashboard's limits view words them (`dashboard::limits`).

use std::time::Duration;

use crate::config::{AlarmConfig, Direction};
use crate::model::{Condition, Priority};

use super::instance::PRIORITIES;
use super::rules::{NETWORK_PRIORITY, SESSION_WIDE};

/// One limit in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub condition: Condition,
    pub priority: Priority,
    pub rule: LimitRule,
}

/// What raises an alarm at a limit's priority.
#[derive(Debug, Clone, PartialEq)]
pub enum LimitRule {
    /// The value is beyond `threshold` (in `unit`) for `onset`.
    Threshold { direction: Direction, threshold: f64, unit: &'static str, onset: Duration },
    /// Body or skin temperature rises by `celsius` within `within`.
    Rise { celsius: f64, within: Duration },
    /// A cuff reading's systolic or diastolic above these.
    BloodPressure { systolic_above_mmhg: f64, diastolic_above_mmhg: f64 },
    /// No data for S = max(`min`, `interval_factor` × the device's interval).
    Silence { min: Duration, interval_factor: f64 },
    /// No data for `factor` × S (S as in [`LimitRule::Silence`]).
    LongSilence { factor: f64 },
    /// The technical condition holds for `onset` (zero: at once).
    Holds { onset: Duration },
    /// The alarm rises to this priority when unacknowledged for `after`.
    Unacknowledged { after: Duration },
    /// A battery level at or below `pct`.
    AtOrBelowPct { pct: f64 },
    /// A device's ECG was refused, or silent for `after` while connected.
    EcgSilence { after: Duration },
}

/// Every limit `config` puts in force, condition by condition.
#[must_use]
pub fn limits(config: &AlarmConfig) -> Vec<Limit> {
    let mut limits = Vec::new();
    let mut push = |condition, priority, rule| limits.push(Limit { condition, priority, rule });
    for c in [Condition::HrHigh, Condition::HrLow, Condition::HrRise, Condition::TempHigh, Condition::Spo2Low] {
        let Some(view) = config.threshold(c).filter(|v| v.enabled) else { continue };
        for (priority, level) in PRIORITIES.into_iter().zip(view.levels) {
            if let Some(level) = level {
                let rule = LimitRule::Threshold {
                    direction: view.direction,
                    threshold: level.threshold,
                    unit: view.unit,
                    onset: level.onset,
                };
                push(c, priority, rule);
            }
        }
    }
    let r = &config.temp_rise;
    if r.enabled {
        push(Condition::TempRise, r.priority, LimitRule::Rise { celsius: r.rise_celsius, within: r.within });
    }
    let bp = &config.bp_high;
    if bp.enabled {
        for (priority, level) in [(Priority::Medium, bp.medium), (Priority::High, bp.high)] {
            if let Some(level) = level {
                let rule = LimitRule::BloodPressure {
                    systolic_above_mmhg: level.systolic_above_mmhg,
                    diastolic_above_mmhg: level.diastolic_above_mmhg,
                };
                push(Condition::BpHigh, priority, rule);
            }
        }
    }
    let s = &config.tech_stale;
    if s.enabled {
        push(
            Condition::TechStale,
            Priority::Low,
            LimitRule::Silence { min: s.min, interval_factor: s.interval_factor },
        );
        push(Condition::TechStale, Priority::Medium, LimitRule::LongSilence { factor: s.medium_factor });
    }
    let d = &config.tech_disconnected;
    if d.enabled {
        push(Condition::TechDisconnected, d.priority, LimitRule::Holds { onset: d.onset });
        if let Some(after) = d.escalate_after {
            push(Condition::TechDisconnected, Priority::High, LimitRule::Unacknowledged { after });
        }
    }
    let n = &config.tech_no_contact;
    if n.enabled {
        push(Condition::TechNoContact, n.priority, LimitRule::Holds { onset: n.onset });
    }
    let i = &config.tech_invalid;
    if i.enabled {
        push(Condition::TechInvalid, i.priority, LimitRule::Holds { onset: i.onset });
    }
    let b = &config.tech_battery_low;
    if b.enabled {
        push(Condition::TechBatteryLow, b.priority, LimitRule::AtOrBelowPct { pct: b.at_or_below_pct });
    }
    let e = &config.tech_ecg;
    if e.enabled {
        push(Condition::TechEcg, e.priority, LimitRule::EcgSilence { after: e.after });
        if let Some(after) = e.escalate_after {
            push(Condition::TechEcg, Priority::High, LimitRule::Unacknowledged { after });
        }
    }
    for c in SESSION_WIDE {
        push(c, Priority::High, LimitRule::Holds { onset: Duration::ZERO });
    }
    push(Condition::TechNetwork, NETWORK_PRIORITY, LimitRule::Holds { onset: Duration::ZERO });
    limits
}
