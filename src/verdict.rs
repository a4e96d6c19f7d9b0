//! Whether a device's data may be believed: stale, without contact, invalid.
//!
//! Each of these is decided here and only here (DESIGN.md, "One owner per
//! verdict"). The alarm engine's `tech.stale`, `tech.no_contact` and
//! `tech.invalid`, the snapshot's [`ReadingStatus`] (the dashboard's `--`),
//! and the BLE supervisor's watchdog all call these functions with the same
//! `[alarms.tech_stale]` configuration, so the screen and the alarm never
//! disagree about the same data.
//!
//! Nothing here reads a clock: the time of the last data and `now` are
//! parameters, so the alarm engine (session time) and the BLE supervisor
//! (its task's own time) ask the same question in their own time.
//!
//! [`ReadingStatus`]: crate::snapshot::ReadingStatus

use std::time::Duration;

use crate::config::TechStale;
use crate::model::{Quantity, SessionTime};

/// A device profile's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceTiming {
    /// How often the device notifies; `None`: learn it.
    pub expected_interval: Option<Duration>,
    /// Measures now and then (a cuff): never stale.
    pub intermittent: bool,
}

/// What decides when one device's data goes stale: its timing and the
/// interval learned from its notifications.
///
/// The expected interval is the profile's, else the learned one, else
/// `[alarms.tech_stale] default_interval_s`; the data is stale once the
/// device has been silent for S = max(`min_s`, `interval_factor` ×
/// interval). An intermittent device is never stale. `enabled = false`
/// silences the alarm, not the verdict: a stale value is still hidden and a
/// silent BLE link still released.
#[derive(Debug, Clone, Default)]
pub struct Staleness {
    timing: DeviceTiming,
    learner: IntervalLearner,
}

impl Staleness {
    #[must_use]
    pub fn new(timing: DeviceTiming) -> Self {
        Self { timing, learner: IntervalLearner::default() }
    }

    #[must_use]
    pub fn timing(&self) -> DeviceTiming {
        self.timing
    }

    /// A profile matched or declared; what was learned is kept (it is the
    /// device's, and used again if the profile gives no interval).
    pub fn set_timing(&mut self, timing: DeviceTiming) {
        self.timing = timing;
    }

    /// The silence between two of the device's notifications. Returns
    /// whether it changed the expected interval (and so the limit).
    pub fn note_gap(&mut self, gap: Duration) -> bool {
        // A profile's interval is the truth; learning would only cost.
        if self.timing.expected_interval.is_some() {
            return false;
        }
        self.learner.push(gap).is_some()
    }

    /// The interval the device is expected to notify at.
    #[must_use]
    pub fn interval(&self, config: &TechStale) -> Duration {
        self.timing.expected_interval.or(self.learner.learned()).unwrap_or(config.default_interval)
    }

    /// How long the device may be silent before its data is stale; `None`:
    /// never (an intermittent device).
    #[must_use]
    pub fn stale_after(&self, config: &TechStale) -> Option<Duration> {
        (!self.timing.intermittent).then(|| stale_after(config, self.interval(config)))
    }

    /// Whether data from `last_data` is stale at `now`. Stale from the
    /// instant the limit is reached, the instant `tech.stale` is raised.
    #[must_use]
    pub fn is_stale(&self, config: &TechStale, last_data: SessionTime, now: SessionTime) -> bool {
        self.stale_after(config).is_some_and(|limit| now.since(last_data) >= limit)
    }
}

/// S = max(`min_s`, `interval_factor` × `interval`): the silence after which
/// a device notifying every `interval` is stale.
#[must_use]
pub fn stale_after(config: &TechStale, interval: Duration) -> Duration {
    config.min.max(interval.mul_f64(config.interval_factor))
}

/// Learns a device's notification interval: the median of its last 8 gaps
/// (a median, so one dropout does not stretch the staleness limit).
#[derive(Debug, Clone, Default)]
pub struct IntervalLearner {
    gaps: [u64; 8],
    n: u64,
    /// Nanoseconds; 0 until known.
    current: u64,
}

impl IntervalLearner {
    /// Gaps below 1 ms are notifications of the same moment (several
    /// characteristics at once), not an interval.
    const MIN_GAP: u64 = 1_000_000;
    /// Gaps needed before the estimate replaces the default.
    const KNOWN_AFTER: u64 = 3;

    /// Record a gap; returns the new estimate when it changed.
    pub fn push(&mut self, gap: Duration) -> Option<Duration> {
        let gap = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
        if gap < Self::MIN_GAP {
            return None;
        }
        self.gaps[(self.n % 8) as usize] = gap;
        self.n += 1;
        // Re-estimate while learning, then once per 8 gaps: still follows a
        // sensor that changes its rate, and the alarm engine does not sort
        // on every notification.
        if self.n < Self::KNOWN_AFTER || (self.n > 8 && !self.n.is_multiple_of(8)) {
            return None;
        }
        let k = self.n.min(8) as usize;
        let mut sorted = self.gaps;
        sorted[..k].sort_unstable();
        let median = sorted[k / 2];
        (median != self.current).then(|| {
            self.current = median;
            Duration::from_nanos(median)
        })
    }

    /// The learned interval, once enough gaps were seen.
    #[must_use]
    pub fn learned(&self) -> Option<Duration> {
        (self.current != 0).then(|| Duration::from_nanos(self.current))
    }
}

/// What may be said of the latest value of one quantity of one device:
/// whether the dashboard, headless output and the exports show its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingStatus {
    /// Fresh, with contact, valid: show the number.
    Live,
    /// An intermittent sensor's last reading: show it with its age.
    Intermittent,
    /// No data within the device's staleness limit: show `--`.
    Stale,
    /// The sensor reports no skin contact: show `--`.
    NoContact,
    /// "No valid measurement" or an impossible value: `--`.
    Invalid,
    /// The (continuous) device is disconnected: `--`.
    Disconnected,
    /// Nothing received yet: `--`.
    NoData,
}

impl ReadingStatus {
    /// Whether the value may be presented as the current one.
    #[must_use]
    pub const fn shows_value(self) -> bool {
        matches!(self, ReadingStatus::Live | ReadingStatus::Intermittent)
    }
}

/// The latest sample of one quantity of one device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latest {
    pub at: SessionTime,
    pub value: f64,
    pub contact: Option<bool>,
}

/// Whether `latest` may be shown at `now`: the dashboard's `--` and the
/// EDF+ export's sample-and-hold both ask here. Checked in order:
/// disconnected (never for an intermittent device, whose reading outlives
/// its link), no contact, implausible, then stale (never for an
/// intermittent device). Staleness counts from the sample itself: after a
/// reconnection with no new data the old value stays hidden.
#[must_use]
pub fn judge(
    staleness: &Staleness,
    config: &TechStale,
    connected: bool,
    quantity: Quantity,
    latest: Latest,
    now: SessionTime,
) -> ReadingStatus {
    let intermittent = staleness.timing().intermittent;
    if !connected && !intermittent {
        ReadingStatus::Disconnected
    } else if !in_contact(latest.contact) {
        ReadingStatus::NoContact
    } else if !plausible(quantity, latest.value) {
        ReadingStatus::Invalid
    } else if intermittent {
        ReadingStatus::Intermittent
    } else if staleness.is_stale(config, latest.at, now) {
        ReadingStatus::Stale
    } else {
        ReadingStatus::Live
    }
}

/// Whether a sample's value may be believed as far as skin contact goes:
/// only a sensor that says it has no contact is not (`None`: the sensor
/// does not report contact).
#[must_use]
pub fn in_contact(contact: Option<bool>) -> bool {
    contact != Some(false)
}

/// Whether a value can be a real measurement of `quantity`. `false` means
/// `tech.invalid` and `--` on the dashboard, never a physiological alarm.
///
/// HR 0 and SpO2 0 are impossible in a monitored person; skin temperature
/// below 25 °C means the sensor is off the skin. Ambient temperature, RR
/// intervals, energy and MAP have no alarm rule and are not judged here.
#[inline]
#[must_use]
pub fn plausible(quantity: Quantity, v: f64) -> bool {
    match quantity {
        Quantity::HeartRateBpm | Quantity::PulseRateBpm => v > 0.0 && v <= 250.0,
        Quantity::BodyTemperatureC | Quantity::SkinTemperatureC => (25.0..=45.0).contains(&v),
        Quantity::Spo2Pct => v > 0.0 && v <= 100.0,
        Quantity::SystolicMmhg => v > 20.0 && v <= 300.0,
        Quantity::DiastolicMmhg => v > 10.0 && v <= 250.0,
        Quantity::BatteryPct => (0.0..=100.0).contains(&v),
        Quantity::RrIntervalMs | Quantity::EnergyExpendedKj | Quantity::AmbientTemperatureC | Quantity::MapMmhg => {
            !v.is_nan()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn learner_takes_the_median_and_ignores_one_dropout() {
        let mut g = IntervalLearner::default();
        assert_eq!(g.push(S), None);
        assert_eq!(g.push(S), None);
        assert_eq!(g.learned(), None);
        assert_eq!(g.push(S), Some(S));
        assert_eq!(g.push(30 * S), None);
        assert_eq!(g.push(Duration::from_nanos(100)), None);
        assert_eq!(g.learned(), Some(S));
    }

    #[test]
    fn the_limit_is_the_configured_minimum_or_a_multiple_of_the_interval() {
        let defaults = TechStale::default();
        let twenty = TechStale { min: 20 * S, ..TechStale::default() };
        let mut s = Staleness::default();
        // Nothing known: the 1 s default interval, so the 5 s minimum.
        assert_eq!(s.interval(&defaults), S);
        assert_eq!(s.stale_after(&defaults), Some(5 * S));
        assert_eq!(s.stale_after(&twenty), Some(20 * S));
        assert!(!s.note_gap(4 * S));
        assert!(!s.note_gap(4 * S));
        assert!(s.note_gap(4 * S), "known after three gaps");
        assert_eq!(s.stale_after(&defaults), Some(12 * S));
        assert_eq!(s.stale_after(&twenty), Some(20 * S));
        // A profile's interval wins over what was learned.
        s.set_timing(DeviceTiming { expected_interval: Some(10 * S), intermittent: false });
        assert_eq!(s.stale_after(&twenty), Some(30 * S));
        assert!(!s.note_gap(S), "nothing is learned while a profile sets the interval");
        s.set_timing(DeviceTiming { expected_interval: None, intermittent: true });
        assert_eq!(s.stale_after(&defaults), None);
    }

    #[test]
    fn stale_from_the_instant_the_limit_is_reached() {
        let twenty = TechStale { min: 20 * S, ..TechStale::default() };
        let s = Staleness::default();
        let last = SessionTime::from_secs(100);
        assert!(!s.is_stale(&twenty, last, SessionTime::from_millis(119_999)));
        assert!(s.is_stale(&twenty, last, SessionTime::from_secs(120)));
        let cuff = Staleness::new(DeviceTiming { expected_interval: None, intermittent: true });
        assert!(!cuff.is_stale(&twenty, last, SessionTime::from_secs(100_000)));
    }

    #[test]
    fn plausibility_bounds() {
        assert!(plausible(Quantity::HeartRateBpm, 60.0));
        assert!(!plausible(Quantity::HeartRateBpm, 0.0));
        assert!(!plausible(Quantity::HeartRateBpm, 251.0));
        assert!(!plausible(Quantity::BodyTemperatureC, f64::NAN));
        assert!(!plausible(Quantity::BodyTemperatureC, 46.0));
        assert!(plausible(Quantity::AmbientTemperatureC, 5.0));
    }

    #[test]
    fn only_a_sensor_that_says_so_has_no_contact() {
        assert!(in_contact(Some(true)));
        assert!(in_contact(None));
        assert!(!in_contact(Some(false)));
    }
}
