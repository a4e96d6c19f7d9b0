//! Vitals on a 1 Hz grid: what a fixed-rate export holds at each second.
//!
//! Second 0 of the grid is the session's start rounded down to the whole
//! second of UTC, and the grid has one point per second up to the
//! recording's end, so every point is a whole second of UTC. A series (one
//! device × quantity of [`GRID_QUANTITIES`]) holds at a point the value the
//! dashboard would have shown then (`pipeline::reading_status`): its latest
//! sample at or before the point, unless, checked in this order,
//!
//! 1. the device is disconnected at the point (never for a device that
//!    measures now and then: its reading outlives its link);
//! 2. that sample says the sensor has no skin contact (`verdict::in_contact`);
//! 3. its value is not plausible (`verdict::plausible`);
//! 4. it is stale: `verdict::Staleness` with the `[alarms.tech_stale]`
//!    recorded in `session.json` and the device's timing (its profile's
//!    interval, else the interval learned from its data so far, as the
//!    alarm engine learns it). Staleness counts from the sample itself. A
//!    device that measures now and then (a cuff, manual readings) is never
//!    stale, so its last reading holds until the next one.
//!
//! The EDF+ export asks the same questions in the same order (its
//! `verdict::judge`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::analysis::stats::Holes;
use crate::config::TechStale;
use crate::model::{ConnectionChange, DeviceLabel, MANUAL_DEVICE, OutputEvent, Quantity, Sample, SessionTime};
use crate::verdict::{DeviceTiming, Staleness, in_contact, plausible};

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

/// The grid of `recording`, from its samples and events, up to its end.
/// `profiles` maps a device label to the id of the device profile recorded
/// for it, where `session.json` names one.
pub fn grid(
    recording: &Recording,
    samples: &[Sample],
    events: &[OutputEvent],
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
    let mut connected: BTreeMap<&DeviceLabel, (Option<&str>, &[u16])> = BTreeMap::new();
    for e in events {
        if let OutputEvent::Connection { device, change: ConnectionChange::Connected { name, services, .. }, .. } = e {
            connected.entry(device).or_insert((name.as_deref(), services));
        }
    }
    let holes = Holes::from_events(events, end);
    let mut devices: BTreeMap<DeviceLabel, Device> = BTreeMap::new();
    for (device, times) in &mut device_times {
        times.sort_unstable();
        let profile = profiles.get(device.as_str()).map(String::as_str);
        let (name, services) = connected.get(device).copied().unwrap_or((None, &[]));
        let timing = timing(recording, device, profile, name, services);
        let down = holes.disconnections().filter(|(d, _, _)| *d == device).map(|(_, a, b)| (a, b)).collect();
        devices.insert(device.clone(), Device { timing, limits: stale_limits(timing, times, &stale), down });
    }
    for ((device, q), mut series) in by_series {
        series.sort_by_key(|s| s.at);
        let values = devices.get(&device).map_or_else(|| vec![None; grid.len], |d| hold(&grid, &series, d));
        grid.series.push(HeldSeries { device, quantity: GRID_QUANTITIES[q], values });
    }
    Ok(grid)
}

/// What decides whether one device's readings are shown.
#[derive(Debug, Clone, Default)]
struct Device {
    timing: DeviceTiming,
    /// The staleness limit in force from each time on ([`stale_limits`]).
    limits: Vec<(SessionTime, Option<Duration>)>,
    /// Its disconnections, `[from, to)`.
    down: Vec<(SessionTime, SessionTime)>,
}

/// The values of one series (its samples in time order) at every point.
fn hold(grid: &Grid, series: &[&Sample], device: &Device) -> Vec<Option<f64>> {
    let mut values = Vec::with_capacity(grid.len);
    let (mut next, mut step) = (0, 0);
    let steps = &device.limits;
    let intermittent = device.timing.intermittent;
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
            let connected = !device.down.iter().any(|&(from, to)| from <= at && at < to);
            let limit = steps.get(step).and_then(|s| s.1);
            let fresh = intermittent || limit.is_some_and(|limit| at.since(latest.at) < limit);
            let shown = (connected || intermittent)
                && in_contact(latest.contact)
                && plausible(latest.quantity, latest.value)
                && fresh;
            shown.then_some(latest.value)
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

/// A device's timing as a replay sets it up: the profile recorded for it,
/// else the one its recorded name, its first connection's name or, failing
/// those, its services match (as the pipeline adopts one on connection);
/// the `manual` device is intermittent; anything else is learned. The EDF+
/// and BIDS exports both ask this.
pub(super) fn timing(
    recording: &Recording,
    device: &DeviceLabel,
    profile: Option<&str>,
    connected_name: Option<&str>,
    services: &[u16],
) -> DeviceTiming {
    if device.as_str() == MANUAL_DEVICE {
        return DeviceTiming { expected_interval: None, intermittent: true };
    }
    profile
        .and_then(crate::devices::profile)
        .or_else(|| {
            let name = recording.meta.devices.get(device.as_str())?.name.as_deref()?;
            crate::devices::match_by_name(name)
        })
        .or_else(|| connected_name.and_then(crate::devices::match_by_name))
        .or_else(|| crate::devices::match_by_services(services))
        .map(|p| p.setup().timing)
        .unwrap_or_default()
}

/// `[alarms.tech_stale]` as recorded in `session.json`; the defaults where
/// the recording has none.
pub(super) fn tech_stale(recording: &Recording) -> Result<TechStale, RecordError> {
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

    fn device(timing: DeviceTiming, samples: &[Sample], config: &TechStale) -> Device {
        let times: Vec<SessionTime> = samples.iter().map(|s| s.at).collect();
        Device { timing, limits: stale_limits(timing, &times, config), down: Vec::new() }
    }

    fn held(samples: &[Sample], device: &Device, len: usize) -> Vec<Option<f64>> {
        let refs: Vec<&Sample> = samples.iter().collect();
        hold(&grid_of(0, len), &refs, device)
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
        let chest = device(DeviceTiming::default(), &samples, &config);
        // Learning needs three gaps: the 1 s default interval gives the 5 s minimum.
        assert_eq!(chest.limits, vec![(SessionTime::ZERO, Some(Duration::from_secs(5)))]);
        let v = held(&samples, &chest, 9);
        assert_eq!(v, [Some(60.0), Some(61.0), Some(62.0), Some(62.0), Some(62.0), Some(62.0), Some(62.0), None, None]);

        // A sample without contact ends the hold; an implausible one too.
        let samples = [s(0, 60.0, Some(true)), s(1_500, 61.0, Some(false)), s(3_000, 0.0, None), s(4_000, 64.0, None)];
        let v = held(&samples, &chest, 5);
        assert_eq!(v, [Some(60.0), Some(60.0), None, None, Some(64.0)]);
    }

    #[test]
    fn an_intermittent_device_is_never_stale_nor_hidden_by_its_link() {
        let config = TechStale::default();
        let samples = [s(0, 120.0, None)];
        let cuff = DeviceTiming { expected_interval: None, intermittent: true };
        let mut cuff = device(cuff, &samples, &config);
        cuff.down = vec![(SessionTime::from_secs(10), SessionTime::from_secs(50))];
        assert!(held(&samples, &cuff, 100).iter().all(|x| *x == Some(120.0)));
    }

    #[test]
    fn a_disconnected_device_shows_nothing() {
        let config = TechStale { min: Duration::from_secs(60), ..TechStale::default() };
        let samples = [s(0, 60.0, None)];
        let mut chest = device(DeviceTiming::default(), &samples, &config);
        chest.down = vec![(SessionTime::from_millis(1_500), SessionTime::from_millis(3_500))];
        // After the reconnection the old value shows again until it is
        // stale, as on the dashboard.
        assert_eq!(held(&samples, &chest, 5), [Some(60.0), Some(60.0), None, None, Some(60.0)]);
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
        let down: Vec<_> = holes.disconnections().map(|(_, a, b)| (a, b)).collect();
        assert_eq!(down, chest.down, "the spans the grid reads from the events");
    }
}
