//! Vital statistics of one series (one device × quantity) and its data
//! quality: the one definition `vigil summary` and `vigil analyze` read
//! (`docs/analysis.md`, "Vital statistics and data quality").
//!
//! A sample is **used** unless it is excluded, and an excluded sample is
//! counted under the first of these that holds, never used as a vital:
//! 1. `no_contact`: the sensor reported no skin contact (`contact ==
//!    Some(false)`, `verdict::in_contact`);
//! 2. `invalid`: not a possible measurement of its quantity
//!    (`verdict::plausible`, the rule of `tech.invalid` and the dashboard's
//!    `--`; NaN is never plausible);
//! 3. `in_gap`: taken strictly inside a recorded `gap` or while its device
//!    was disconnected ([`Holes`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{ConnectionChange, DeviceLabel, OutputEvent, Quantity, Sample, SessionTime};
use crate::verdict::{in_contact, plausible};

/// A range of session time, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: SessionTime,
    pub to: SessionTime,
}

impl Span {
    #[must_use]
    pub fn contains(&self, at: SessionTime) -> bool {
        self.from <= at && at < self.to
    }
}

/// When a recording had no trustworthy data: its `gap`s (every device) and
/// each device's disconnections. Both ends of a hole are open: the sample
/// at a disconnection's instant came before it, and one at a reconnection's
/// or at a gap's end came after.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holes {
    gaps: Vec<(SessionTime, SessionTime)>,
    disconnected: BTreeMap<DeviceLabel, Vec<(SessionTime, SessionTime)>>,
}

impl Holes {
    /// From a recording's events; a device still disconnected at `end` is
    /// disconnected until then. A device is never taken to be disconnected
    /// before its first connection event: older recordings and manual
    /// readings have none.
    #[must_use]
    pub fn from_events(events: &[OutputEvent], end: SessionTime) -> Self {
        let mut holes = Holes::default();
        let mut down: BTreeMap<DeviceLabel, SessionTime> = BTreeMap::new();
        for e in events {
            match e {
                // A gap event is stamped at the end of the jump it reports.
                OutputEvent::Gap { at, duration } => holes.gaps.push((at.saturating_sub(*duration), *at)),
                OutputEvent::Connection { at, device, change: ConnectionChange::Disconnected { .. } } => {
                    down.entry(device.clone()).or_insert(*at);
                }
                OutputEvent::Connection { at, device, change: ConnectionChange::Connected { .. } } => {
                    if let Some(since) = down.remove(device) {
                        holes.disconnected.entry(device.clone()).or_default().push((since, *at));
                    }
                }
                _ => {}
            }
        }
        for (device, since) in down {
            holes.disconnected.entry(device).or_default().push((since, end.max(since)));
        }
        holes
    }

    /// Whether a hole of `device` (or a gap) overlaps `(from, to)`: an RR
    /// interval over that span would bridge it.
    #[must_use]
    pub fn overlaps(&self, device: &DeviceLabel, from: SessionTime, to: SessionTime) -> bool {
        let overlaps = |&(a, b): &(SessionTime, SessionTime)| a < to && b > from;
        self.gaps.iter().any(overlaps) || self.disconnected.get(device).is_some_and(|spans| spans.iter().any(overlaps))
    }

    /// The recorded gaps (every device), in event order.
    #[must_use]
    pub fn gaps(&self) -> &[(SessionTime, SessionTime)] {
        &self.gaps
    }

    /// Each device's disconnections, from the disconnection to the
    /// reconnection (or the recording's end).
    pub fn disconnections(&self) -> impl Iterator<Item = (&DeviceLabel, SessionTime, SessionTime)> {
        self.disconnected.iter().flat_map(|(device, spans)| spans.iter().map(move |&(a, b)| (device, a, b)))
    }

    /// Whether `device`'s sample at `at` falls inside a hole.
    #[must_use]
    pub fn contains(&self, device: &DeviceLabel, at: SessionTime) -> bool {
        let inside = |&(a, b): &(SessionTime, SessionTime)| a < at && at < b;
        self.gaps.iter().any(inside) || self.disconnected.get(device).is_some_and(|spans| spans.iter().any(inside))
    }
}

/// Why a sample is not used as a vital.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    NoContact,
    Invalid,
    InGap,
}

/// Why `sample` is excluded from vitals, if it is (the first reason that
/// holds, in the module doc's order).
#[must_use]
pub fn exclusion(sample: &Sample, holes: &Holes) -> Option<Exclusion> {
    if !in_contact(sample.contact) {
        Some(Exclusion::NoContact)
    } else if !plausible(sample.quantity, sample.value) {
        Some(Exclusion::Invalid)
    } else if holes.contains(&sample.device, sample.at) {
        Some(Exclusion::InGap)
    } else {
        None
    }
}

/// Statistics of one series' used samples and the counts of those left out.
/// Every statistic is `None` (JSON `null`) where it has too few samples: all
/// need one, `sd` two.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VitalStats {
    /// Samples used.
    pub n: usize,
    /// Used / all samples in the range; `None` if the range has none.
    pub valid_fraction: Option<f64>,
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1).
    pub sd: Option<f64>,
    pub min: Option<f64>,
    /// Percentiles by linear interpolation between order statistics
    /// (numpy's default).
    pub p5: Option<f64>,
    pub median: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
    pub no_contact: usize,
    pub invalid: usize,
    pub in_gap: usize,
}

/// The statistics of one series (one device × quantity: the caller groups,
/// see [`series`]) within `range` (all of it if `None`).
pub fn vital_stats<'a>(series: impl IntoIterator<Item = &'a Sample>, range: Option<Span>, holes: &Holes) -> VitalStats {
    let mut stats = VitalStats::default();
    let mut values = Vec::new();
    let mut total = 0usize;
    for s in series {
        if range.is_some_and(|r| !r.contains(s.at)) {
            continue;
        }
        total += 1;
        match exclusion(s, holes) {
            Some(Exclusion::NoContact) => stats.no_contact += 1,
            Some(Exclusion::Invalid) => stats.invalid += 1,
            Some(Exclusion::InGap) => stats.in_gap += 1,
            None => values.push(s.value),
        }
    }
    values.sort_by(f64::total_cmp);
    stats.n = values.len();
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    #[allow(clippy::cast_precision_loss)]
    {
        stats.valid_fraction = (total > 0).then(|| n / total as f64);
    }
    if values.is_empty() {
        return stats;
    }
    let mean = values.iter().sum::<f64>() / n;
    stats.mean = Some(mean);
    stats.sd = (values.len() > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    stats.min = values.first().copied();
    stats.max = values.last().copied();
    stats.p5 = percentile(&values, 0.05);
    stats.median = percentile(&values, 0.5);
    stats.p95 = percentile(&values, 0.95);
    stats
}

/// The `q` quantile (0 ≤ q ≤ 1) of sorted `values` by linear interpolation
/// between the order statistics around rank (n − 1)·q: numpy's default
/// (`method="linear"`, Hyndman & Fan type 7).
#[must_use]
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    #[allow(clippy::cast_precision_loss)]
    let rank = q.clamp(0.0, 1.0) * last as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = (rank.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    #[allow(clippy::cast_precision_loss)]
    let frac = rank - lo as f64;
    Some(sorted[lo] + frac * (sorted[hi] - sorted[lo]))
}

/// Samples grouped into series by (device, quantity), each in time order
/// (a recording's rows need not be: RR beats are stamped back in time).
#[must_use]
pub fn series(samples: &[Sample]) -> BTreeMap<(DeviceLabel, Quantity), Vec<&Sample>> {
    let mut out: BTreeMap<(DeviceLabel, Quantity), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        out.entry((s.device.clone(), s.quantity)).or_default().push(s);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|s| s.at);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn hr(s: u64, value: f64, contact: Option<bool>) -> Sample {
        Sample {
            at: SessionTime::from_secs(s),
            device: DeviceLabel::from("chest"),
            quantity: Quantity::HeartRateBpm,
            value,
            contact,
            device_time_ns: None,
        }
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [5, 50, 95]) = [1.2, 3.0, 8.8]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(percentile(&v, 0.05), 1.2));
        assert!(close(percentile(&v, 0.5), 3.0));
        assert!(close(percentile(&v, 0.95), 8.8));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn no_contact_invalid_and_gap_samples_are_counted_not_used() {
        let events = vec![
            OutputEvent::Gap { at: SessionTime::from_secs(20), duration: Duration::from_secs(5) },
            OutputEvent::Connection {
                at: SessionTime::from_secs(30),
                device: DeviceLabel::from("chest"),
                change: ConnectionChange::Disconnected { reason: None },
            },
        ];
        let holes = Holes::from_events(&events, SessionTime::from_secs(40));
        let samples = vec![
            hr(1, 60.0, Some(true)),
            hr(2, 0.0, Some(false)),
            hr(3, f64::NAN, Some(true)),
            hr(4, 0.0, None),
            hr(15, 80.0, None),
            hr(17, 70.0, Some(true)), // inside the gap 15..20
            hr(20, 64.0, Some(true)), // the gap's end: after it
            hr(30, 90.0, Some(true)), // the disconnection's instant: before it
            hr(35, 99.0, Some(true)), // disconnected
        ];
        let s = vital_stats(&samples, None, &holes);
        assert_eq!((s.n, s.no_contact, s.invalid, s.in_gap), (4, 1, 2, 2));
        assert_eq!((s.min, s.max), (Some(60.0), Some(90.0)));
        assert_eq!(s.mean, Some(73.5));
        assert_eq!(s.valid_fraction, Some(4.0 / 9.0));
        let sd = s.sd.unwrap();
        assert!((sd - 13.988_090_172_238_191).abs() < 1e-9, "{sd}");

        let window = vital_stats(
            &samples,
            Some(Span { from: SessionTime::from_secs(15), to: SessionTime::from_secs(30) }),
            &holes,
        );
        assert_eq!((window.n, window.in_gap, window.median), (2, 1, Some(72.0)));
        let none =
            vital_stats(&samples, Some(Span { from: SessionTime::from_secs(100), to: SessionTime::MAX }), &holes);
        assert_eq!(none, VitalStats::default());
        assert_eq!(serde_json::to_value(&none).unwrap()["mean"], serde_json::Value::Null);
    }

    #[test]
    fn a_device_reconnected_is_not_in_a_hole_and_others_never_were() {
        let chest = DeviceLabel::from("chest");
        let conn = |s, change| OutputEvent::Connection { at: SessionTime::from_secs(s), device: chest.clone(), change };
        let events = vec![
            conn(10, ConnectionChange::Disconnected { reason: None }),
            conn(20, ConnectionChange::Connected { name: None, address: None, services: vec![] }),
        ];
        let holes = Holes::from_events(&events, SessionTime::from_secs(100));
        assert!(holes.contains(&chest, SessionTime::from_secs(15)));
        assert!(!holes.contains(&chest, SessionTime::from_secs(25)));
        assert!(!holes.contains(&DeviceLabel::from("finger"), SessionTime::from_secs(15)));
    }

    /// A heart-rate sample: in 40..200, or invalid, with or without contact.
    fn sample() -> impl Strategy<Value = Sample> {
        let invalid = prop_oneof![Just(f64::NAN), Just(0.0), Just(-1.0), Just(f64::INFINITY), Just(300.0)];
        (0u64..120, 40.0f64..200.0, prop::option::of(any::<bool>()), invalid, any::<bool>())
            .prop_map(|(s, valid, contact, invalid, is_valid)| hr(s, if is_valid { valid } else { invalid }, contact))
    }

    proptest! {
        #[test]
        fn stats_never_use_an_excluded_sample(
            rows in prop::collection::vec(sample(), 0..60),
            gap_end in 0u64..120,
            gap_len in 0u64..30,
            from in 0u64..120,
            len in 0u64..120,
        ) {
            let events = vec![OutputEvent::Gap { at: SessionTime::from_secs(gap_end), duration: Duration::from_secs(gap_len) }];
            let holes = Holes::from_events(&events, SessionTime::from_secs(120));
            // Every sample without contact or in the gap carries 249, a
            // plausible heart rate no used sample has.
            let mut samples: Vec<Sample> = rows.into_iter().map(|mut s| {
                if plausible(s.quantity, s.value) && (s.contact == Some(false) || holes.contains(&s.device, s.at)) {
                    s.value = 249.0;
                }
                s
            }).collect();
            samples.sort_by_key(|s| s.at);
            let range = Span { from: SessionTime::from_secs(from), to: SessionTime::from_secs(from + len) };
            for r in [None, Some(range)] {
                let st = vital_stats(&samples, r, &holes);
                let in_range = samples.iter().filter(|s| r.is_none_or(|r| r.contains(s.at))).count();
                prop_assert_eq!(st.n + st.no_contact + st.invalid + st.in_gap, in_range);
                for v in [st.mean, st.min, st.p5, st.median, st.p95, st.max].into_iter().flatten() {
                    prop_assert!((40.0..200.0).contains(&v), "{v} is an excluded sample's: {st:?}");
                }
                prop_assert_eq!(st.mean.is_some(), st.n > 0);
                prop_assert_eq!(st.sd.is_some(), st.n > 1);
            }
        }
    }
}
