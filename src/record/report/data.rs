//! What the report shows, taken from a recording: the panels with their
//! series (already split where the data breaks), alarm shades, limit lines,
//! the sensor status strip and the markers. Drawing is `draw`'s job; this
//! module only decides.

use std::collections::BTreeMap;

// Episodes as `analysis::alarms` defines them, through the summary that
// shows the same ones.
use super::super::summary::{Episode, Limit, episodes};
use super::axis::{TimeAxis, y_range};
use crate::analysis::doses;
use crate::analysis::stats::{Holes, exclusion};
use crate::model::{Condition, ConnectionChange, OperatorAction, OutputEvent, Priority, Quantity, Sample, SessionTime};

/// Points per drawn line: an 8-hour, 1 Hz series is averaged into this
/// many buckets, which keeps the SVG small and still shows every trend.
const BUCKETS: f64 = 1600.0;
/// A pause in a series longer than this, or than [`BREAK_STEPS`] of its
/// usual step, breaks its line even without a gap or disconnection event:
/// a sensor that went quiet is not joined across the silence.
const BREAK_S: f64 = 5.0;
const BREAK_STEPS: f64 = 3.0;

/// How a panel draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// Bucket means joined by lines, broken at every break.
    Line,
    /// One point per sample (cuff readings every few minutes).
    Points,
    /// One level per window, each run a window's `[(start, v), (end, v)]`.
    Steps,
}

/// One panel's kind: its title, the quantities it plots and the
/// physiological alarms shaded on it.
struct Spec {
    title: &'static str,
    quantities: &'static [Quantity],
    conditions: &'static [Condition],
    style: Style,
    height: u32,
    /// Whether a series of readings [`SPARSE_S`] or more apart is drawn as
    /// points (a battery level, sent when it changes, is still a line).
    sparse_as_points: bool,
}

/// Readings at least this far apart (median) are points, not a line.
const SPARSE_S: f64 = 120.0;

/// The panels in their order on the page. Pulse rate (from an oximeter)
/// shares the heart-rate panel: the same unit, read against the same limits.
const SPECS: [Spec; 7] = [
    Spec {
        title: "heart rate (bpm)",
        quantities: &[Quantity::HeartRateBpm, Quantity::PulseRateBpm],
        conditions: &[Condition::HrHigh, Condition::HrLow, Condition::HrRise],
        style: Style::Line,
        height: 240,
        sparse_as_points: true,
    },
    Spec {
        title: "RR tachogram (ms)",
        quantities: &[Quantity::RrIntervalMs],
        conditions: &[],
        style: Style::Line,
        height: 150,
        sparse_as_points: true,
    },
    Spec {
        title: "temperature (°C)",
        quantities: &[Quantity::BodyTemperatureC, Quantity::SkinTemperatureC, Quantity::AmbientTemperatureC],
        conditions: &[Condition::TempHigh, Condition::TempRise],
        style: Style::Line,
        height: 200,
        sparse_as_points: true,
    },
    Spec {
        title: "SpO2 (%)",
        quantities: &[Quantity::Spo2Pct],
        conditions: &[Condition::Spo2Low],
        style: Style::Line,
        height: 170,
        sparse_as_points: true,
    },
    Spec {
        title: "blood pressure (mmHg)",
        quantities: &[Quantity::SystolicMmhg, Quantity::DiastolicMmhg, Quantity::MapMmhg],
        conditions: &[Condition::BpHigh],
        style: Style::Points,
        height: 200,
        sparse_as_points: true,
    },
    Spec {
        title: "battery (%)",
        quantities: &[Quantity::BatteryPct],
        conditions: &[],
        style: Style::Line,
        height: 140,
        sparse_as_points: false,
    },
    Spec {
        title: "energy expended (kJ)",
        quantities: &[Quantity::EnergyExpendedKj],
        conditions: &[],
        style: Style::Line,
        height: 140,
        sparse_as_points: true,
    },
];

/// One device's quantity as drawn: runs of (x seconds, value), each a
/// separate line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Series {
    pub label: String,
    pub runs: Vec<Vec<(f64, f64)>>,
    /// Drawn as points whatever the panel's style: readings minutes apart
    /// (a cuff's pulse rate, a temperature entered by hand).
    pub points: bool,
}

/// A configured alarm limit, drawn as a dashed line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LimitLine {
    pub y: f64,
    pub label: String,
    pub priority: Priority,
}

/// A span of the x axis (seconds relative to the axis' zero) in a
/// priority's colour.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Shade {
    pub from: f64,
    pub to: f64,
    pub priority: Priority,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Panel {
    pub title: String,
    pub style: Style,
    pub height: u32,
    pub series: Vec<Series>,
    pub limits: Vec<LimitLine>,
    /// Each alarm episode's stretch at one priority (drawn through [`worst`]).
    pub shades: Vec<Shade>,
    pub y: (f64, f64),
}

/// A device's row of the sensor status strip: its technical alarms and
/// the times it was disconnected (`priority` `None`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StatusRow {
    pub device: String,
    pub bands: Vec<(Shade, bool)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct MarkerLine {
    pub x: f64,
    pub label: String,
    pub dose: bool,
}

/// Everything the report draws.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ReportData {
    pub title: String,
    pub devices: Vec<String>,
    pub axis: TimeAxis,
    pub status: Vec<StatusRow>,
    pub markers: Vec<MarkerLine>,
    pub panels: Vec<Panel>,
    pub hrv: Option<Panel>,
    pub limits_from: &'static str,
}

impl ReportData {
    pub(super) fn new(
        title: String,
        samples: &[Sample],
        events: &[OutputEvent],
        end: SessionTime,
        config: &serde_json::Value,
    ) -> ReportData {
        let markers = markers(events);
        let zero = doses::first_dose(events);
        let axis = TimeAxis::new(zero, end);
        let (limits, limits_from) = Limit::from_config(config);
        let holes = Holes::from_events(events, end);
        let series = split_series(samples, &holes);
        let episodes = episodes(events, end);
        let mut devices: Vec<String> = series.keys().map(|(d, _)| d.clone()).collect();
        devices.dedup();

        let panels = SPECS
            .iter()
            .filter(|spec| series.keys().any(|(_, q)| spec.quantities.contains(q)))
            .map(|spec| panel(spec, &series, &limits, &episodes, &axis))
            .collect();
        let hrv = super::hrv::panel(samples, &holes, &axis);
        let status = status_rows(&episodes, events, end, &axis);
        let markers = markers.into_iter().map(|(at, label, dose)| MarkerLine { x: axis.x(at), label, dose }).collect();
        ReportData { title, devices, axis, status, markers, panels, hrv, limits_from }
    }
}

/// Valid samples per (device, quantity) in time order, split into runs at
/// every break; `(session time, value)`.
type Runs = BTreeMap<(String, Quantity), Vec<Vec<(SessionTime, f64)>>>;

fn split_series(samples: &[Sample], holes: &Holes) -> Runs {
    // A compacted file sorts rows by device and time, a live one holds them
    // as recorded (RR beats are stamped back in time): sort, never trust.
    let mut rows: BTreeMap<(String, Quantity), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        rows.entry((s.device.to_string(), s.quantity)).or_default().push(s);
    }
    let mut out = Runs::new();
    for ((device, quantity), mut rows) in rows {
        rows.sort_by_key(|s| s.at);
        let pause = pause_limit(&rows);
        let mut runs: Vec<Vec<(SessionTime, f64)>> = vec![Vec::new()];
        let mut last: Option<SessionTime> = None;
        for s in rows {
            // What the analysis leaves out of vitals (no skin contact, no
            // valid value, inside a gap or disconnection) is not drawn and
            // ends the run, as does a hole or a silence between two samples.
            let valid = exclusion(s, holes).is_none();
            let broken = last
                .is_some_and(|prev| s.at.since(prev).as_secs_f64() > pause || holes.overlaps(&s.device, prev, s.at));
            if !valid || broken {
                if runs.last().is_some_and(|r| !r.is_empty()) {
                    runs.push(Vec::new());
                }
                if !valid {
                    last = None;
                    continue;
                }
            }
            if let Some(run) = runs.last_mut() {
                run.push((s.at, s.value));
            }
            last = Some(s.at);
        }
        runs.retain(|r| !r.is_empty());
        out.insert((device, quantity), runs);
    }
    out
}

/// The longest pause that does not break a series: [`BREAK_STEPS`] of its
/// median step, at least [`BREAK_S`].
fn pause_limit(rows: &[&Sample]) -> f64 {
    let mut steps: Vec<f64> = rows.windows(2).map(|w| w[1].at.since(w[0].at).as_secs_f64()).collect();
    if steps.is_empty() {
        return BREAK_S;
    }
    let mid = steps.len() / 2;
    let (_, median, _) = steps.select_nth_unstable_by(mid, f64::total_cmp);
    (*median * BREAK_STEPS).max(BREAK_S)
}

fn panel(spec: &Spec, runs: &Runs, limits: &[Limit], episodes: &[Episode], axis: &TimeAxis) -> Panel {
    let bucket_s = axis.span() / BUCKETS;
    let mut series = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    for ((device, quantity), device_runs) in runs.iter().filter(|((_, q), _)| spec.quantities.contains(q)) {
        values.extend(device_runs.iter().flatten().map(|(_, v)| *v));
        let points = spec.style == Style::Points || (spec.sparse_as_points && median_step(device_runs) >= SPARSE_S);
        let runs = device_runs
            .iter()
            .map(|run| {
                let xs: Vec<(f64, f64)> = run.iter().map(|(at, v)| (axis.x(*at), *v)).collect();
                if points { xs } else { bucket_means(&xs, bucket_s) }
            })
            .collect();
        series.push(Series { label: format!("{device} {}", quantity.label()), runs, points });
    }
    let limits: Vec<LimitLine> = limits
        .iter()
        .filter(|l| spec.quantities.contains(&l.quantity))
        .map(|l| {
            let what = if spec.quantities.len() > 1 && l.condition == Condition::BpHigh {
                format!("{} {}", l.quantity.label(), l.describe())
            } else {
                l.describe()
            };
            LimitLine { y: l.threshold, label: format!("{} {what}", l.condition.as_str()), priority: l.priority }
        })
        .collect();
    // Each part of an episode in the colour of the priority it stood at.
    let shades: Vec<Shade> = episodes
        .iter()
        .filter(|e| spec.conditions.contains(&e.condition))
        .flat_map(|e| {
            [Priority::Low, Priority::Medium, Priority::High].into_iter().filter_map(move |p| {
                let (from, to) = e.at_priority(p)?;
                let device = e.device.as_deref().unwrap_or("");
                Some(Shade {
                    from: axis.x(from),
                    to: axis.x(to),
                    priority: p,
                    label: format!("{} {device}", e.condition.as_str()),
                })
            })
        })
        .collect();
    let y = y_range(&values, limits.iter().map(|l| l.y));
    Panel { title: spec.title.to_owned(), style: spec.style, height: spec.height, series, limits, shades, y }
}

/// What a panel shades: at each moment the highest priority of the
/// `shades` covering it, as non-overlapping `(from, to, priority)` spans.
/// Overlapping episodes (`hr.high` and `hr.rise` together) would otherwise
/// mix their colours into one no legend explains.
pub(super) fn worst(shades: &[Shade]) -> Vec<(f64, f64, Priority)> {
    let mut edges: Vec<f64> = shades.iter().flat_map(|s| [s.from, s.to]).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let mut out: Vec<(f64, f64, Priority)> = Vec::new();
    for w in edges.windows(2) {
        let (a, b) = (w[0], w[1]);
        let top = shades.iter().filter(|s| s.from <= a && s.to >= b).map(|s| s.priority).max();
        let Some(p) = top else { continue };
        match out.last_mut() {
            Some(last) if last.1 == a && last.2 == p => last.1 = b,
            _ => out.push((a, b, p)),
        }
    }
    out
}

/// The median time between readings within runs, seconds (0 without two).
fn median_step(runs: &[Vec<(SessionTime, f64)>]) -> f64 {
    let mut steps: Vec<f64> =
        runs.iter().flat_map(|r| r.windows(2).map(|w| w[1].0.since(w[0].0).as_secs_f64())).collect();
    if steps.is_empty() {
        return 0.0;
    }
    let mid = steps.len() / 2;
    *steps.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Bucket means of `points` (x ascending) in buckets of `width` along x.
fn bucket_means(points: &[(f64, f64)], width: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut current: Option<(f64, f64, f64, f64)> = None; // bucket, Σx, Σy, n
    for &(x, y) in points {
        let bucket = (x / width).floor();
        match &mut current {
            Some((b, sx, sy, n)) if *b == bucket => {
                *sx += x;
                *sy += y;
                *n += 1.0;
            }
            _ => {
                if let Some((_, sx, sy, n)) = current {
                    out.push((sx / n, sy / n));
                }
                current = Some((bucket, x, y, 1.0));
            }
        }
    }
    if let Some((_, sx, sy, n)) = current {
        out.push((sx / n, sy / n));
    }
    out
}

/// Technical alarms and disconnections per device, then session-wide
/// alarms and gaps in a row of their own.
fn status_rows(episodes: &[Episode], events: &[OutputEvent], end: SessionTime, axis: &TimeAxis) -> Vec<StatusRow> {
    let mut rows: BTreeMap<Option<String>, Vec<(Shade, bool)>> = BTreeMap::new();
    for e in episodes.iter().filter(|e| e.condition.is_technical()) {
        let shade =
            Shade { from: axis.x(e.start), to: axis.x(e.end), priority: e.priority, label: e.condition.to_string() };
        rows.entry(e.device.as_ref().map(ToString::to_string)).or_default().push((shade, true));
    }
    let mut down: BTreeMap<String, SessionTime> = BTreeMap::new();
    let disconnected = |from: SessionTime, to: SessionTime| Shade {
        from: axis.x(from),
        to: axis.x(to),
        priority: Priority::Low,
        label: "disconnected".to_owned(),
    };
    for e in events {
        match e {
            OutputEvent::Connection { at, device, change: ConnectionChange::Disconnected { .. } } => {
                down.entry(device.to_string()).or_insert(*at);
            }
            OutputEvent::Connection { at, device, change: ConnectionChange::Connected { .. } } => {
                if let Some(from) = down.remove(device.as_str()) {
                    rows.entry(Some(device.to_string())).or_default().push((disconnected(from, *at), false));
                }
            }
            OutputEvent::Gap { at, duration } => {
                let shade = Shade {
                    from: axis.x(at.saturating_sub(*duration)),
                    to: axis.x(*at),
                    priority: Priority::Low,
                    label: "gap".to_owned(),
                };
                rows.entry(None).or_default().push((shade, false));
            }
            _ => {}
        }
    }
    for (device, from) in down {
        rows.entry(Some(device)).or_default().push((disconnected(from, end.max(from)), false));
    }
    // Session-wide (`None`) sorts first in a BTreeMap; it reads better last.
    let mut out: Vec<StatusRow> = rows
        .iter()
        .filter_map(|(d, bands)| d.as_ref().map(|d| StatusRow { device: d.clone(), bands: bands.clone() }))
        .collect();
    if let Some(bands) = rows.get(&None) {
        out.push(StatusRow { device: "session".to_owned(), bands: bands.clone() });
    }
    for row in &mut out {
        // Disconnections under the alarms, lower priorities under higher.
        row.bands.sort_by_key(|(s, alarm)| (*alarm, s.priority));
    }
    out
}

/// Markers in time order: (at, label, whether it is a dose).
fn markers(events: &[OutputEvent]) -> Vec<(SessionTime, String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Operator { at, action: OperatorAction::Marker(m) } => {
                Some((*at, m.label.clone(), doses::is_dose(m)))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceLabel;

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
    fn no_contact_nan_gaps_and_silences_break_a_series() {
        let mut samples: Vec<Sample> = (0..10).map(|s| hr(s, 70.0, Some(true))).collect();
        samples.push(hr(10, 0.0, Some(false))); // no contact: not a vital
        samples.extend((11..20).map(|s| hr(s, 71.0, Some(true))));
        samples.push(hr(20, f64::NAN, Some(true)));
        samples.extend((21..30).map(|s| hr(s, 72.0, None)));
        samples.extend((100..110).map(|s| hr(s, 73.0, None))); // 70 s of silence
        samples.extend((110..120).map(|s| hr(s, 74.0, None)));
        let events = vec![OutputEvent::Gap {
            at: SessionTime::from_millis(109_500),
            duration: std::time::Duration::from_millis(200),
        }];
        let runs = split_series(&samples, &Holes::from_events(&events, SessionTime::from_secs(120)));
        let runs = &runs[&("chest".to_owned(), Quantity::HeartRateBpm)];
        let lens: Vec<usize> = runs.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![10, 9, 9, 10, 10]);
        assert!(runs.iter().flatten().all(|(_, v)| *v > 60.0), "the rate of 0 without contact is not plotted");
    }

    #[test]
    fn a_disconnection_breaks_only_its_device() {
        let mut samples: Vec<Sample> = (0..20).map(|s| hr(s, 70.0, None)).collect();
        samples.extend((0..20).map(|s| Sample { device: DeviceLabel::from("other"), ..hr(s, 60.0, None) }));
        // Down from 10.2 s to 10.7 s, between two samples.
        let at = SessionTime::from_millis(10_200);
        let events = vec![
            OutputEvent::Connection {
                at,
                device: DeviceLabel::from("chest"),
                change: ConnectionChange::Disconnected { reason: None },
            },
            OutputEvent::Connection {
                at: at.saturating_add(std::time::Duration::from_millis(500)),
                device: DeviceLabel::from("chest"),
                change: ConnectionChange::Connected { name: None, address: None, services: vec![] },
            },
        ];
        let runs = split_series(&samples, &Holes::from_events(&events, SessionTime::from_secs(20)));
        assert_eq!(runs[&("chest".to_owned(), Quantity::HeartRateBpm)].len(), 2);
        assert_eq!(runs[&("other".to_owned(), Quantity::HeartRateBpm)].len(), 1);
    }

    #[test]
    fn overlapping_episodes_shade_at_the_highest_priority() {
        let shade = |from, to, priority| Shade { from, to, priority, label: String::new() };
        let shades =
            [shade(0.0, 10.0, Priority::Low), shade(5.0, 8.0, Priority::High), shade(2.0, 12.0, Priority::Low)];
        assert_eq!(
            worst(&shades),
            vec![(0.0, 5.0, Priority::Low), (5.0, 8.0, Priority::High), (8.0, 12.0, Priority::Low)]
        );
    }

    #[test]
    fn bucket_means_average_within_a_bucket() {
        let points = [(0.0, 1.0), (0.5, 3.0), (1.2, 5.0)];
        assert_eq!(bucket_means(&points, 1.0), vec![(0.25, 2.0), (1.2, 5.0)]);
    }
}
