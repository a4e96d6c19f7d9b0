//! The alarm limits a configuration file sets: one type per condition, with
//! its defaults (DESIGN.md's table) and the unit in every key.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::{opt_secs, secs};
use crate::model::Priority;

/// One level of a threshold rule, unit-free: what the engine works with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub threshold: f64,
    pub onset: Duration,
}

/// Which side of a threshold is abnormal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `value > threshold`
    Above,
    /// `value >= threshold`
    AtLeast,
    /// `value < threshold`
    Below,
    /// `value <= threshold`
    AtMost,
}

impl Direction {
    /// Whether `value` is abnormal with respect to `threshold`. NaN never is.
    #[inline]
    #[must_use]
    pub fn beyond(self, value: f64, threshold: f64) -> bool {
        match self {
            Direction::Above => value > threshold,
            Direction::AtLeast => value >= threshold,
            Direction::Below => value < threshold,
            Direction::AtMost => value <= threshold,
        }
    }

    /// Whether higher values are worse (the order limits must follow).
    #[must_use]
    pub const fn rising(self) -> bool {
        matches!(self, Direction::Above | Direction::AtLeast)
    }

    /// The threshold moved back by the clear hysteresis.
    #[must_use]
    pub fn relaxed(self, threshold: f64, hysteresis: f64) -> f64 {
        if self.rising() { threshold - hysteresis } else { threshold + hysteresis }
    }

    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Direction::Above => ">",
            Direction::AtLeast => "≥",
            Direction::Below => "<",
            Direction::AtMost => "≤",
        }
    }
}

/// A multi-level threshold rule as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdView {
    pub enabled: bool,
    pub direction: Direction,
    /// Indexed by priority: low, medium, high.
    pub levels: [Option<Level>; 3],
    pub hysteresis: f64,
    pub escalate_after: Option<Duration>,
    /// Unit for messages (`bpm`, `°C`, `%`).
    pub unit: &'static str,
    /// The hysteresis' key in the file (`hysteresis_bpm`, …).
    pub hysteresis_key: &'static str,
}

/// Defines a threshold level type whose threshold key names its unit.
macro_rules! level_type {
    ($(#[$meta:meta])* $name:ident, $key:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(rename = $key)]
            pub threshold: f64,
            /// How long the condition must hold before the alarm is active.
            #[serde(rename = "for_s", with = "secs")]
            pub onset: Duration,
        }

        impl $name {
            pub(super) const fn new(threshold: f64, onset_s: u64) -> Self {
                Self { threshold, onset: Duration::from_secs(onset_s) }
            }

            fn level(self) -> Level {
                Level { threshold: self.threshold, onset: self.onset }
            }
        }
    };
}

level_type!(
    /// `value > above_bpm` for `for_s`.
    AboveBpm,
    "above_bpm"
);
level_type!(
    /// `value < below_bpm` for `for_s`.
    BelowBpm,
    "below_bpm"
);
level_type!(
    /// `heart rate - baseline >= rise_bpm` for `for_s`.
    RiseBpm,
    "rise_bpm"
);
level_type!(
    /// `value >= from_celsius` for `for_s`.
    FromCelsius,
    "from_celsius"
);
level_type!(
    /// `value < below_pct` for `for_s`.
    BelowPct,
    "below_pct"
);

/// Defines a condition with up to three threshold levels, a clear
/// hysteresis whose key names its unit, and optional escalation by time.
macro_rules! threshold_condition {
    (
        $(#[$meta:meta])* $name:ident, $level:ident, $direction:expr, $unit:literal, $hyst_key:literal,
        default { low: $low:expr, medium: $medium:expr, high: $high:expr, hysteresis: $hyst:expr }
        $(, extra { $($(#[$fmeta:meta])* $field:ident : $fty:ty = $fdefault:expr),* $(,)? })?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// `false` turns the condition off for the session.
            pub enabled: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub low: Option<$level>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub medium: Option<$level>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub high: Option<$level>,
            /// How far back past the threshold the value must go to clear.
            #[serde(rename = $hyst_key)]
            pub hysteresis: f64,
            /// Raise the priority one step each time the alarm stays
            /// unacknowledged this long (off when absent).
            #[serde(rename = "escalate_after_s", with = "opt_secs", skip_serializing_if = "Option::is_none")]
            pub escalate_after: Option<Duration>,
            $($($(#[$fmeta])* pub $field: $fty,)*)?
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    low: $low,
                    medium: $medium,
                    high: $high,
                    hysteresis: $hyst,
                    escalate_after: None,
                    $($($field: $fdefault,)*)?
                }
            }
        }

        impl $name {
            #[must_use]
            pub fn view(&self) -> ThresholdView {
                ThresholdView {
                    enabled: self.enabled,
                    direction: $direction,
                    levels: [self.low.map($level::level), self.medium.map($level::level), self.high.map($level::level)],
                    hysteresis: self.hysteresis,
                    escalate_after: self.escalate_after,
                    unit: $unit,
                    hysteresis_key: $hyst_key,
                }
            }

            pub(super) fn slot(&mut self, priority: Priority) -> &mut Option<$level> {
                match priority {
                    Priority::Low => &mut self.low,
                    Priority::Medium => &mut self.medium,
                    Priority::High => &mut self.high,
                }
            }
        }
    };
}

threshold_condition!(
    /// `hr.high`: tachycardia.
    HrHigh, AboveBpm, Direction::Above, "bpm", "hysteresis_bpm",
    default {
        low: Some(AboveBpm::new(100.0, 60)),
        medium: Some(AboveBpm::new(120.0, 30)),
        high: Some(AboveBpm::new(140.0, 15)),
        hysteresis: 5.0
    }
);

threshold_condition!(
    /// `hr.low`: bradycardia.
    HrLow, BelowBpm, Direction::Below, "bpm", "hysteresis_bpm",
    default {
        low: None,
        medium: Some(BelowBpm::new(45.0, 30)),
        high: Some(BelowBpm::new(40.0, 15)),
        hysteresis: 5.0
    }
);

threshold_condition!(
    /// `hr.rise`: heart rate above the session's baseline.
    HrRise, RiseBpm, Direction::AtLeast, "bpm over baseline", "hysteresis_bpm",
    default {
        low: Some(RiseBpm::new(30.0, 60)),
        medium: None,
        high: None,
        hysteresis: 5.0
    },
    extra {
        /// The `baseline` action averages the valid heart rate of this
        /// window; without one, the first window of valid data is the baseline.
        #[serde(rename = "baseline_window_s", with = "secs")]
        baseline_window: Duration = Duration::from_secs(5 * 60),
    }
);

threshold_condition!(
    /// `temp.high`: hyperthermia, body temperature only.
    TempHigh, FromCelsius, Direction::AtLeast, "°C", "hysteresis_celsius",
    default {
        low: Some(FromCelsius::new(38.0, 60)),
        medium: Some(FromCelsius::new(38.5, 120)),
        high: Some(FromCelsius::new(39.0, 30)),
        hysteresis: 0.2
    }
);

threshold_condition!(
    /// `spo2.low`: desaturation.
    Spo2Low, BelowPct, Direction::Below, "%", "hysteresis_pct",
    default {
        low: Some(BelowPct::new(94.0, 30)),
        medium: Some(BelowPct::new(90.0, 15)),
        high: Some(BelowPct::new(85.0, 10)),
        hysteresis: 1.0
    }
);

/// `temp.rise`: body or skin temperature rose by `rise_celsius` over its
/// lowest value within the last `within_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TempRise {
    pub enabled: bool,
    pub priority: Priority,
    pub rise_celsius: f64,
    #[serde(rename = "within_s", with = "secs")]
    pub within: Duration,
    /// DESIGN.md gives none; a small value stops flapping on sensor noise.
    pub hysteresis_celsius: f64,
    #[serde(rename = "escalate_after_s", with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Duration>,
}

impl Default for TempRise {
    fn default() -> Self {
        Self {
            enabled: true,
            priority: Priority::Medium,
            rise_celsius: 0.5,
            within: Duration::from_secs(30 * 60),
            // DESIGN.md gives no hysteresis; without one, sensor noise of a
            // few hundredths makes the alarm flap at the limit (seen with
            // the skin patch of `mdma-session`). 0.1 °C is a deviation,
            // documented in docs/alarms.md.
            hysteresis_celsius: 0.1,
            escalate_after: None,
        }
    }
}

/// One `bp.high` level: either limit exceeded by a reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BpLevel {
    pub systolic_above_mmhg: f64,
    pub diastolic_above_mmhg: f64,
}

/// `bp.high`: judged per reading (no onset, no hysteresis); the alarm holds
/// until a reading below the limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BpHigh {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<BpLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<BpLevel>,
    #[serde(rename = "escalate_after_s", with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Duration>,
}

impl Default for BpHigh {
    fn default() -> Self {
        Self {
            enabled: true,
            medium: Some(BpLevel { systolic_above_mmhg: 160.0, diastolic_above_mmhg: 100.0 }),
            high: Some(BpLevel { systolic_above_mmhg: 180.0, diastolic_above_mmhg: 110.0 }),
            escalate_after: None,
        }
    }
}

/// `tech.stale`: no data for S = max(`min_s`, `interval_factor` × expected
/// interval) is low priority, for `medium_factor` × S medium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TechStale {
    pub enabled: bool,
    #[serde(rename = "min_s", with = "secs")]
    pub min: Duration,
    pub interval_factor: f64,
    pub medium_factor: f64,
    /// Assumed notification interval of a device without a profile, until
    /// it is learned from the device's notifications.
    #[serde(rename = "default_interval_s", with = "secs")]
    pub default_interval: Duration,
}

impl Default for TechStale {
    fn default() -> Self {
        Self {
            enabled: true,
            min: Duration::from_secs(5),
            interval_factor: 3.0,
            medium_factor: 3.0,
            default_interval: Duration::from_secs(1),
        }
    }
}

/// Defines a single-level technical condition: a priority, an onset delay
/// and optional escalation by time.
macro_rules! technical_condition {
    ($(#[$meta:meta])* $name:ident, $priority:expr, $onset:expr, $escalate:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub enabled: bool,
            pub priority: Priority,
            #[serde(rename = "for_s", with = "secs")]
            pub onset: Duration,
            #[serde(rename = "escalate_after_s", with = "opt_secs", skip_serializing_if = "Option::is_none")]
            pub escalate_after: Option<Duration>,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { enabled: true, priority: $priority, onset: $onset, escalate_after: $escalate }
            }
        }
    };
}

technical_condition!(
    /// `tech.disconnected`: medium at once, high after 60 s unacknowledged.
    TechDisconnected,
    Priority::Medium,
    Duration::ZERO,
    Some(Duration::from_secs(60))
);
technical_condition!(
    /// `tech.no_contact`: the strap reports no skin contact.
    TechNoContact,
    Priority::Medium,
    Duration::from_secs(10),
    None
);
technical_condition!(
    /// `tech.invalid`: the sensor sent "no valid measurement" or an
    /// impossible value. Not in DESIGN.md's table: medium like
    /// `tech.no_contact` (the parameter is not being monitored), at once.
    TechInvalid,
    Priority::Medium,
    Duration::ZERO,
    None
);

/// `tech.ecg`: a device that streams ECG (Polar PMD) refused to start it
/// (raised at once), or sent none for `after_s` while connected although
/// it had sent ECG in this session. Medium, like `tech.no_contact`: the
/// heart rate and every other alarm go on, only the raw ECG is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TechEcg {
    pub enabled: bool,
    pub priority: Priority,
    /// Silence after which the ECG is stale (frames come every ~0.56 s).
    #[serde(rename = "after_s", with = "secs")]
    pub after: Duration,
    #[serde(rename = "escalate_after_s", with = "opt_secs", skip_serializing_if = "Option::is_none")]
    pub escalate_after: Option<Duration>,
}

impl Default for TechEcg {
    fn default() -> Self {
        Self { enabled: true, priority: Priority::Medium, after: Duration::from_secs(5), escalate_after: None }
    }
}

/// `tech.battery_low`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TechBatteryLow {
    pub enabled: bool,
    pub priority: Priority,
    pub at_or_below_pct: f64,
}

impl Default for TechBatteryLow {
    fn default() -> Self {
        Self { enabled: true, priority: Priority::Low, at_or_below_pct: 10.0 }
    }
}
