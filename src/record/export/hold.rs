//! Vitals on a 1 Hz grid: what a fixed-rate export holds at each second.
//!
//! Second 0 of the grid is the session's start rounded down to the whole
//! second of UTC, and the grid has one point per second up to the
//! recording's end, so every point is a whole second of UTC. A series (one
//! device × quantity of [`GRID_QUANTITIES`]) holds at a point what the
//! dashboard would have shown then:
//!
//! - its latest sample at or before the point, if that sample is used as a
//!   vital (in contact, plausible, not inside a gap or disconnection: the
//!   one rule of `analysis::stats::exclusion`, built on `verdict`); a
//!   sample without contact or an implausible one ends the hold, as it
//!   turns the dashboard's reading to `--`;
//! - nothing while the device is disconnected or the point is inside a
//!   gap, nor after one until new data comes;
//! - nothing once the sample is stale: `verdict::Staleness` with the
//!   `[alarms.tech_stale]` recorded in `session.json` and the device's
//!   timing (its profile's interval, else the interval learned from its
//!   data so far, as the alarm engine learns it). A device that measures
//!   now and then (a cuff, manual readings) is never stale, so its last
//!   reading holds until the next one.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::analysis::stats::{Holes, exclusion};
use crate::config::TechStale;
use crate::model::{DeviceLabel, MANUAL_DEVICE, Quantity, Sample, SessionTime};
use crate::verdict::{DeviceTiming, Staleness};

use super::super::{RecordError, Recording};

/// The quantities put on the grid: the vitals. RR intervals are beats, not
/// a level; energy expended is a running total; the battery level is read
/// once and then notified only on change, so no staleness limit fits it
/// (the dashboard does not show it as a reading either).
pub const GRID_QUANTITIES: [Quantity; 9] = [
    Quantity::HeartRateBpm,
    Quantity::PulseRateBpm,
    Quantity::Spo2Pct,
    Quantity::BodyTemperatureC,
    Quantity::SkinTemperatureC,
    Quantity::AmbientTemperatureC,
    Quantity::SystolicMmhg,
    Quantity::DiastolicMmhg,
    Quantity::MapMmhg,
];

const SECOND_NS: u64 = 1_000_000_000;

/// One series on the grid: `values[k]` is the value held at second `k`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldSeries {
    pub device: DeviceLabel,
    pub quantity: Quantity,
    pub values: Vec<Option<f64>>,
}

/// A recording's vitals at 1 Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// UTC of second 0, whole seconds since the Unix epoch.
    pub origin_s: i64,
    /// How far second 0 lies before the session's start (under a second).
    pub lead: Duration,
    /// Number of points.
    pub len: usize,
    /// In (device, quantity) order, [`GRID_QUANTITIES`] order within a device.
    pub series: Vec<HeldSeries>,
}

impl Grid {
    /// Session time of point `k`; `None` for a point before the session's
    /// start (only point 0 can be).
    #[must_use]
    pub fn at(&self, k: usize) -> Option<SessionTime> {
        let from_origin = (k as u64).saturating_mul(SECOND_NS);
        let lead = u64::try_from(self.lead.as_nanos()).unwrap_or(0);
        from_origin.checked_sub(lead).map(SessionTime)
    }

    /// The offset from second 0 of session time `at`.
    #[must_use]
    pub fn offset_of(&self, at: SessionTime) -> Duration {
        self.lead + Duration::from_nanos(at.as_nanos())
    }
}

/// The grid of `recording`, from its samples, the holes of its events and
/// its end. `profiles` maps a device label to the id of the device profile
/// recorded for it, where `session.json` names one.
pub fn grid(
    recording: &Recording,
    samples: &[Sample],
    holes: &Holes,
    end: SessionTime,
    profiles: &BTreeMap<String, String>,
) -> Result<Grid, RecordError> {
    let stale = tech_stale(recording)?;
    let start_ns = recording.start_ns();
    let origin_s = start_ns.div_euclid(SECOND_NS as i64);
    let lead = Duration::from_nanos(start_ns.rem_euclid(SECOND_NS as i64).unsigned_abs());
    let span = end.as_nanos().saturating_add(u64::try_from(lead.as_nanos()).unwrap_or(0));
    let len = usize::try_from(span / SECOND_NS).unwrap_or(usize::MAX).saturating_add(1);
    let mut grid = Grid { origin_s, lead, len, series: Vec::new() };

    let mut by_series: BTreeMap<(DeviceLabel, usize), Vec<&Sample>> = BTreeMap::new();
    let mut device_times: BTreeMap<DeviceLabel, Vec<SessionTime>> = BTreeMap::new();
    for s in samples {
        // RR samples are stamped back to their beats: not when data came.
        if s.quantity != Quantity::RrIntervalMs {
            device_times.entry(s.device.clone()).or_default().push(s.at);
        }
        if let Some(i) = GRID_QUANTITIES.iter().position(|q| *q == s.quantity) {
            by_series.entry((s.device.clone(), i)).or_default().push(s);
        }
    }
    let mut limits: BTreeMap<DeviceLabel, Vec<(SessionTime, Option<Duration>)>> = BTreeMap::new();
    for (device, times) in &mut device_times {
        times.sort_unstable();
        let timing = timing(recording, device, profiles.get(device.as_str()).map(String::as_str));
        limits.insert(device.clone(), stale_limits(timing, times, &stale));
    }
    for ((device, q), mut series) in by_series {
        series.sort_by_key(|s| s.at);
        let steps = limits.get(&device).map_or(&[][..], Vec::as_slice);
        let values = hold(&grid, &series, steps, holes);
        grid.series.push(HeldSeries { device, quantity: GRID_QUANTITIES[q], values });
    }
    Ok(grid)
}

/// The values of one series (its samples in time order) at every point.
fn hold(grid: &Grid, series: &[&Sample], steps: &[(SessionTime, Option<Duration>)], holes: &Holes) -> Vec<Option<f64>> {
    let mut values = Vec::with_capacity(grid.len);
    let (mut next, mut step) = (0, 0);
    for k in 0..grid.len {
        let Some(at) = grid.at(k) else {
            values.push(None);
            continue;
        };
        while next < series.len() && series[next].at <= at {
            next += 1;
        }
        while step + 1 < steps.len() && steps[step + 1].0 <= at {
            step += 1;
        }
        let value = next.checked_sub(1).map(|i| series[i]).and_then(|latest| {
            let limit = steps.get(step).map_or(Some(Duration::ZERO), |s| s.1);
            let fresh = limit.is_none_or(|limit| at.since(latest.at) < limit);
            // Nothing is held across a disconnection or gap.
            let shown = exclusion(latest, holes).is_none() && !holes.overlaps(&latest.device, latest.at, at);
            (fresh && shown).then_some(latest.value)
        });
        values.push(value);
    }
    values
}

/// The staleness limit in force from each of a device's data times on (its
/// data times in order): the limit changes as the interval is learned.
fn stale_limits(
    timing: DeviceTiming,
    times: &[SessionTime],
    config: &TechStale,
) -> Vec<(SessionTime, Option<Duration>)> {
    let mut staleness = Staleness::new(timing);
    let mut out: Vec<(SessionTime, Option<Duration>)> = Vec::new();
    let mut last: Option<SessionTime> = None;
    for &at in times {
        // Further samples of one notification are not a gap (as in the
        // alarm engine's `Device::data`).
        if last.is_some_and(|l| at <= l) {
            continue;
        }
        if let Some(l) = last {
            staleness.note_gap(at.since(l));
        }
        last = Some(at);
        let limit = staleness.stale_after(config);
        if out.last().is_none_or(|(_, before)| *before != limit) {
            out.push((at, limit));
        }
    }
    out
}

/// A device's timing: the profile recorded for it, else the profile its
/// advertised name matches (as the pipeline adopts one on connection); the
/// `manual` device is intermittent; anything else is learned.
fn timing(recording: &Recording, device: &DeviceLabel, profile: Option<&str>) -> DeviceTiming {
    let profile = profile.and_then(crate::devices::profile).or_else(|| {
        let name = recording.meta.devices.get(device.as_str())?.name.as_deref()?;
        crate::devices::match_by_name(name)
    });
    match profile {
        Some(p) => p.setup().timing,
        None => DeviceTiming { expected_interval: None, intermittent: device.as_str() == MANUAL_DEVICE },
    }
}

/// `[alarms.tech_stale]` as recorded in `session.json`; the defaults where
/// the recording has none.
fn tech_stale(recording: &Recording) -> Result<TechStale, RecordError> {
    let config = &recording.meta.config;
    let alarms = config.get("alarms").unwrap_or(config);
    match alarms.get("tech_stale") {
        None => Ok(TechStale::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| RecordError::Meta {
            file: recording.dir.join(super::super::META_FILE),
            message: format!("config.alarms.tech_stale: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(at_ms: u64, value: f64, contact: Option<bool>) -> Sample {
        Sample {
            at: SessionTime::from_millis(at_ms),
            device: DeviceLabel::from("chest"),
            quantity: Quantity::HeartRateBpm,
            value,
            contact,
            device_time_ns: None,
        }
    }

    fn grid_of(lead_ms: u64, len: usize) -> Grid {
        Grid { origin_s: 0, lead: Duration::from_millis(lead_ms), len, series: Vec::new() }
    }

    #[test]
    fn points_are_whole_seconds_before_or_after_the_start() {
        let g = grid_of(400, 3);
        assert_eq!(g.at(0), None, "second 0 is before a start at .4 s");
        assert_eq!(g.at(1), Some(SessionTime::from_millis(600)));
        assert_eq!(g.offset_of(SessionTime::from_millis(600)), Duration::from_secs(1));
        assert_eq!(grid_of(0, 1).at(0), Some(SessionTime::ZERO));
    }

    #[test]
    fn a_value_holds_until_stale_or_no_longer_valid() {
        let config = TechStale::default();
        let samples = [s(0, 60.0, Some(true)), s(1_000, 61.0, Some(true)), s(2_000, 62.0, Some(true))];
        let refs: Vec<&Sample> = samples.iter().collect();
        let times: Vec<SessionTime> = samples.iter().map(|s| s.at).collect();
        let steps = stale_limits(DeviceTiming::default(), &times, &config);
        // Learning needs three gaps: the 1 s default interval gives the 5 s minimum.
        assert_eq!(steps, vec![(SessionTime::ZERO, Some(Duration::from_secs(5)))]);
        let v = hold(&grid_of(0, 9), &refs, &steps, &Holes::default());
        assert_eq!(v, [Some(60.0), Some(61.0), Some(62.0), Some(62.0), Some(62.0), Some(62.0), Some(62.0), None, None]);

        // A sample without contact ends the hold; an implausible one too.
        let samples = [s(0, 60.0, Some(true)), s(1_500, 61.0, Some(false)), s(3_000, 0.0, None), s(4_000, 64.0, None)];
        let refs: Vec<&Sample> = samples.iter().collect();
        let v = hold(&grid_of(0, 5), &refs, &steps, &Holes::default());
        assert_eq!(v, [Some(60.0), Some(60.0), None, None, Some(64.0)]);
    }

    #[test]
    fn an_intermittent_device_is_never_stale() {
        let config = TechStale::default();
        let samples = [s(0, 120.0, None)];
        let refs: Vec<&Sample> = samples.iter().collect();
        let cuff = DeviceTiming { expected_interval: None, intermittent: true };
        let steps = stale_limits(cuff, &[SessionTime::ZERO], &config);
        let v = hold(&grid_of(0, 100), &refs, &steps, &Holes::default());
        assert!(v.iter().all(|x| *x == Some(120.0)));
    }

    #[test]
    fn nothing_is_held_across_a_disconnection() {
        use crate::model::{ConnectionChange, OutputEvent};
        let config = TechStale { min: Duration::from_secs(60), ..TechStale::default() };
        let samples = [s(0, 60.0, None)];
        let refs: Vec<&Sample> = samples.iter().collect();
        let steps = stale_limits(DeviceTiming::default(), &[SessionTime::ZERO], &config);
        let events = [
            OutputEvent::Connection {
                at: SessionTime::from_millis(1_500),
                device: DeviceLabel::from("chest"),
                change: ConnectionChange::Disconnected { reason: None },
            },
            OutputEvent::Connection {
                at: SessionTime::from_millis(3_500),
                device: DeviceLabel::from("chest"),
                change: ConnectionChange::Connected { name: None, address: None, services: Vec::new() },
            },
        ];
        let holes = Holes::from_events(&events, SessionTime::from_secs(5));
        let v = hold(&grid_of(0, 5), &refs, &steps, &holes);
        // Not even after the reconnection: no new data came.
        assert_eq!(v, [Some(60.0), Some(60.0), None, None, None]);
    }
}
