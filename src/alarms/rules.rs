//! The configuration as the engine applies it: per condition, each
//! priority level's threshold, the threshold moved back by the hysteresis,
//! and its onset delay. (The plausibility ranges that separate
//! `tech.invalid` from a physiological alarm are `crate::verdict`'s.)

use std::time::Duration;

use crate::config::{AlarmConfig, BpLevel, Direction, TechStale, ThresholdView};
use crate::model::{Condition, Priority};

use super::instance::Judgement;

/// Session-wide technical conditions (no device): high priority, at once,
/// raised and cleared by whoever watches the failing part.
pub(super) const SESSION_WIDE: [Condition; 3] =
    [Condition::TechRecording, Condition::TechStalled, Condition::TechAlarmCommand];

/// `tech.network` (session-wide, `--publish` only): the central station's
/// copy is incomplete, the bedside itself alarms as before.
pub const NETWORK_PRIORITY: Priority = Priority::Medium;

#[derive(Debug, Clone, Copy)]
pub(super) struct RuleLevel {
    pub threshold: f64,
    /// The threshold moved back by the hysteresis: a qualified level holds
    /// while the value is beyond this.
    pub relaxed: f64,
    pub onset: Duration,
}

/// One condition's levels, by priority (low, medium, high); `None` where
/// there is no such level or the condition is off.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub direction: Direction,
    pub levels: [Option<RuleLevel>; 3],
    pub escalate_after: Option<Duration>,
}

impl Rule {
    const OFF: Rule = Rule { direction: Direction::Above, levels: [None; 3], escalate_after: None };

    fn from_view(view: &ThresholdView) -> Self {
        let mut rule = Rule { direction: view.direction, escalate_after: view.escalate_after, ..Rule::OFF };
        if view.enabled {
            rule.levels = view.levels.map(|level| {
                level.map(|level| RuleLevel {
                    threshold: level.threshold,
                    relaxed: view.direction.relaxed(level.threshold, view.hysteresis),
                    onset: level.onset,
                })
            });
        }
        rule
    }

    /// A yes/no condition at one priority after an onset delay.
    fn flag(enabled: bool, priority: Priority, onset: Duration, escalate_after: Option<Duration>) -> Self {
        let mut rule = Rule { direction: Direction::AtLeast, escalate_after, ..Rule::OFF };
        if enabled {
            rule.levels[priority as usize] = Some(RuleLevel { threshold: 1.0, relaxed: 1.0, onset });
        }
        rule
    }

    pub fn onsets(&self) -> [Option<Duration>; 3] {
        self.levels.map(|l| l.map(|l| l.onset))
    }

    pub fn existing(&self) -> [bool; 3] {
        self.levels.map(|l| l.is_some())
    }

    /// Where `value` stands against each level.
    pub fn judge(&self, value: f64) -> Judgement {
        let mut j = Judgement::default();
        for (l, level) in self.levels.iter().enumerate() {
            if let Some(level) = level {
                j.beyond[l] = self.direction.beyond(value, level.threshold);
                j.holds[l] = self.direction.beyond(value, level.relaxed);
            }
        }
        j
    }
}

#[derive(Debug, Clone)]
pub(super) struct Rules {
    /// Indexed by the condition's position in [`Condition::ALL`].
    by_condition: Vec<Rule>,
    /// `bp.high` levels by priority (systolic, diastolic), `None` where absent.
    pub bp: [Option<BpLevel>; 3],
    pub stale: TechStale,
    pub rise_window: Duration,
    pub baseline_window: Duration,
}

impl Rules {
    pub fn compile(config: &AlarmConfig) -> Self {
        let mut by_condition = vec![Rule::OFF; Condition::ALL.len()];
        let mut set = |c: Condition, rule: Rule| by_condition[c as usize] = rule;
        for c in [Condition::HrHigh, Condition::HrLow, Condition::HrRise, Condition::TempHigh, Condition::Spo2Low] {
            if let Some(view) = config.threshold(c) {
                set(c, Rule::from_view(&view));
            }
        }
        let r = &config.temp_rise;
        let mut rise = Rule { direction: Direction::AtLeast, escalate_after: r.escalate_after, ..Rule::OFF };
        if r.enabled {
            rise.levels[r.priority as usize] = Some(RuleLevel {
                threshold: r.rise_celsius,
                relaxed: r.rise_celsius - r.hysteresis_celsius,
                onset: Duration::ZERO,
            });
        }
        set(Condition::TempRise, rise);

        let bp = &config.bp_high;
        let mut bp_levels = [None; 3];
        if bp.enabled {
            bp_levels[Priority::Medium as usize] = bp.medium;
            bp_levels[Priority::High as usize] = bp.high;
        }
        // A reading is judged once, when complete: no onset delay. The
        // thresholds are the two components' (`bp`), not these.
        let mut bp_rule = Rule { direction: Direction::AtLeast, escalate_after: bp.escalate_after, ..Rule::OFF };
        for (l, level) in bp_levels.iter().enumerate() {
            if level.is_some() {
                bp_rule.levels[l] = Some(RuleLevel { threshold: 1.0, relaxed: 1.0, onset: Duration::ZERO });
            }
        }
        set(Condition::BpHigh, bp_rule);

        let s = &config.tech_stale;
        // The real onsets follow each device's interval (`stale_onsets`).
        set(Condition::TechStale, Rule::flag(s.enabled, Priority::Low, s.min, None));
        let d = &config.tech_disconnected;
        set(Condition::TechDisconnected, Rule::flag(d.enabled, d.priority, d.onset, d.escalate_after));
        let n = &config.tech_no_contact;
        set(Condition::TechNoContact, Rule::flag(n.enabled, n.priority, n.onset, n.escalate_after));
        let i = &config.tech_invalid;
        set(Condition::TechInvalid, Rule::flag(i.enabled, i.priority, i.onset, i.escalate_after));
        let b = &config.tech_battery_low;
        let mut battery = Rule::flag(false, b.priority, Duration::ZERO, None);
        battery.direction = Direction::AtMost;
        if b.enabled {
            battery.levels[b.priority as usize] =
                Some(RuleLevel { threshold: b.at_or_below_pct, relaxed: b.at_or_below_pct, onset: Duration::ZERO });
        }
        set(Condition::TechBatteryLow, battery);
        let e = &config.tech_ecg;
        // Its onset is the silence `verdict::EcgWatch` allows; a refused
        // start skips it (`Instance::raise_now`).
        set(Condition::TechEcg, Rule::flag(e.enabled, e.priority, e.after, e.escalate_after));
        for c in SESSION_WIDE {
            set(c, Rule::flag(true, Priority::High, Duration::ZERO, None));
        }
        // Medium, not high: local alarming is unaffected (the bedside
        // alarms as before), only the central station's copy is incomplete.
        set(Condition::TechNetwork, Rule::flag(true, NETWORK_PRIORITY, Duration::ZERO, None));
        Rules {
            by_condition,
            bp: bp_levels,
            stale: s.clone(),
            rise_window: r.within,
            baseline_window: config.hr_rise.baseline_window,
        }
    }

    pub fn rule(&self, c: Condition) -> &Rule {
        &self.by_condition[c as usize]
    }

    /// Stale onsets (low at S, medium at `medium_factor` × S) for a device
    /// whose data is stale after `s` of silence (`verdict::Staleness`).
    pub fn stale_onsets(&self, s: Duration) -> [Option<Duration>; 3] {
        if !self.stale.enabled {
            return [None; 3];
        }
        [Some(s), Some(s.mul_f64(self.stale.medium_factor)), None]
    }
}
