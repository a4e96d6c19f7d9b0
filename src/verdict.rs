//! Whether a device's data may be believed: stale, without contact, invalid,
//! and whether its raw ECG is live ([`EcgWatch`], [`judge_ecg`]).
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

use crate::config::{TechEcg, TechStale};
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

/// What decides whether a device's raw ECG (Polar PMD) is live: whether
/// ECG is expected from it, when its last frame arrived, since when it has
/// been silent, and a refused start. The alarm engine keeps one per device
/// and raises `tech.ecg` from it; the snapshot's [`EcgStatus`] (the
/// dashboard's strip or `ECG --`) asks [`judge_ecg`] of the same watch.
///
/// ECG is expected once the device sent a frame in this session, or a
/// source reported the answer to its start command. So a strap whose ECG
/// does not come back after a reconnection is noticed, and a device that
/// never streams ECG is never judged (and costs nothing).
///
/// The silence counts from the latest frame, or from the (re)connection or
/// a successful start if later: `tech.ecg` is raised `[alarms.tech_ecg]
/// after_s` after that. The strip is hidden once the latest *frame* is
/// `after_s` old, so after a reconnection the old trace stays hidden until
/// new ECG arrives (as a stale reading does), and at the instant `tech.ecg`
/// is raised the strip is always hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcgWatch {
    expected: bool,
    last_frame: Option<SessionTime>,
    silent_since: Option<SessionTime>,
    /// A refused start and the reason the device gave; cleared by ECG, a
    /// successful start or the end of the link.
    refused: Option<Option<String>>,
}

impl EcgWatch {
    /// Whether ECG is expected from the device.
    #[must_use]
    pub fn expected(&self) -> bool {
        self.expected
    }

    /// Since when the ECG has been silent, while it is expected.
    #[must_use]
    pub fn silent_since(&self) -> Option<SessionTime> {
        self.silent_since.filter(|_| self.expected)
    }

    /// The refusal, if the latest start was refused (with its reason).
    #[must_use]
    pub fn refused(&self) -> Option<Option<&str>> {
        self.refused.as_ref().map(Option::as_deref)
    }

    /// When the silence reaches `after_s` (`tech.ecg`'s deadline); `None`
    /// while refused (already raised) or not expected.
    #[must_use]
    pub fn silent_deadline(&self, config: &TechEcg) -> Option<SessionTime> {
        self.silent_since().filter(|_| self.refused.is_none()).map(|t| t.saturating_add(config.after))
    }

    /// An ECG frame arrived at `at`.
    pub fn frame(&mut self, at: SessionTime) {
        self.expected = true;
        self.last_frame = Some(at);
        self.silent_since = Some(at);
        self.refused = None;
    }

    /// The device answered the start command at `at`.
    pub fn start_answer(&mut self, at: SessionTime, started: bool, reason: Option<&str>) {
        self.expected = true;
        if started {
            self.refused = None;
            self.silent_since = Some(at);
        } else {
            self.refused = Some(reason.map(str::to_owned));
        }
    }

    /// The link came up (or back) at `at`: the silence counts afresh, and
    /// the source will start ECG again (and report a refusal again).
    pub fn connected(&mut self, at: SessionTime) {
        self.silent_since = Some(at);
        self.refused = None;
    }

    /// The link went down: its refusal went with it.
    pub fn disconnected(&mut self) {
        self.refused = None;
    }

    /// A clock gap of `by` reported at `at`: the silence moves later (no
    /// later than `at`), as the alarm timers do, so the gap raises no
    /// `tech.ecg`. The last frame does not move: ECG from before a suspend
    /// is not shown as live after it.
    pub fn shift(&mut self, at: SessionTime, by: Duration) {
        let move_it = |t: SessionTime| if t < at { t.saturating_add(by).min(at) } else { t };
        self.silent_since = self.silent_since.map(move_it);
    }
}

/// Whether a device's ECG strip may be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcgStatus {
    /// No ECG is expected from the device: no strip and nothing in its place.
    NotExpected,
    /// Frames arrive: draw the strip.
    Live,
    /// Expected, but none arrived yet since the session started: `ECG --`.
    NoData,
    /// No frame for `after_s`: `ECG --`.
    Silent,
    /// The device refused to start ECG, with its reason: `ECG --`.
    Refused(Option<String>),
    /// The device is disconnected: `ECG --`.
    Disconnected,
}

impl EcgStatus {
    /// Whether the strip is drawn.
    #[must_use]
    pub const fn shows_strip(&self) -> bool {
        matches!(self, EcgStatus::Live)
    }
}

/// Whether `watch`'s device's ECG may be drawn at `now`. Checked in order:
/// not expected, disconnected, refused, no frame yet, silent for
/// `after_s` (from the latest frame). `enabled = false` silences
/// `tech.ecg`, not this verdict.
#[must_use]
pub fn judge_ecg(watch: &EcgWatch, config: &TechEcg, connected: bool, now: SessionTime) -> EcgStatus {
    if !watch.expected {
        EcgStatus::NotExpected
    } else if !connected {
        EcgStatus::Disconnected
    } else if let Some(reason) = &watch.refused {
        EcgStatus::Refused(reason.clone())
    } else {
        match watch.last_frame {
            None => EcgStatus::NoData,
            Some(last) if now.since(last) >= config.after => EcgStatus::Silent,
            Some(_) => EcgStatus::Live,
        }
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
    fn ecg_is_judged_only_once_expected_and_silent_from_the_last_frame() {
        let config = TechEcg::default();
        let at = SessionTime::from_secs;
        let mut w = EcgWatch::default();
        assert_eq!(judge_ecg(&w, &config, true, at(100)), EcgStatus::NotExpected);
        assert_eq!(w.silent_deadline(&config), None, "a device without ECG is never judged");
        w.frame(at(10));
        assert_eq!(judge_ecg(&w, &config, true, SessionTime::from_millis(14_999)), EcgStatus::Live);
        assert_eq!(judge_ecg(&w, &config, true, at(15)), EcgStatus::Silent);
        assert_eq!(w.silent_deadline(&config), Some(at(15)));
        assert_eq!(judge_ecg(&w, &config, false, at(12)), EcgStatus::Disconnected);
        // Reconnected: the alarm's silence counts from the connection, the
        // old trace stays hidden.
        w.disconnected();
        w.connected(at(20));
        assert_eq!(w.silent_deadline(&config), Some(at(25)));
        assert_eq!(judge_ecg(&w, &config, true, at(21)), EcgStatus::Silent);
        w.start_answer(at(21), false, Some("invalid state"));
        assert_eq!(judge_ecg(&w, &config, true, at(21)), EcgStatus::Refused(Some("invalid state".into())));
        assert_eq!(w.silent_deadline(&config), None, "a refusal is raised at once, not by the timer");
        w.frame(at(22));
        assert_eq!(judge_ecg(&w, &config, true, at(22)), EcgStatus::Live);
        let mut refused_first = EcgWatch::default();
        refused_first.start_answer(at(1), false, None);
        assert_eq!(judge_ecg(&refused_first, &config, true, at(1)), EcgStatus::Refused(None));
        refused_first.start_answer(at(2), true, None);
        assert_eq!(judge_ecg(&refused_first, &config, true, at(2)), EcgStatus::NoData);
        assert_eq!(refused_first.silent_deadline(&config), Some(at(7)));
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
