//! The report's HRV panel: RMSSD of each 5-minute window, from the RR
//! intervals corrected for artifacts per contiguous segment.
//!
//! The one function that turns recorded RR intervals into NN intervals is
//! [`nn_segments`]; when the analysis has its own per-device segments of
//! corrected beats, this is where the report takes them from instead.

use super::axis::{TimeAxis, y_range};
use super::data::{Panel, Runs, Series, Style};
use crate::analysis::hrv::{artifacts, time};
use crate::model::Quantity;

/// Window length, seconds; windows are aligned to the axis' zero (the
/// dose), so one window ends at the dose and the next starts there.
pub(super) const WINDOW_S: f64 = 300.0;
/// A window whose NN intervals cover less than this share of it is left
/// empty: a 20-second stub does not stand for five minutes.
const MIN_COVERAGE: f64 = 0.5;

/// One contiguous segment's NN intervals: `(x of the beat that ends it,
/// interval ms)`, x on the report's axis.
type Segment = Vec<(f64, f64)>;

/// The artifact-corrected NN intervals of each device's RR runs. A run
/// the correction refuses (an interval that is not a positive duration)
/// is left out.
pub(super) fn nn_segments(runs: &Runs, axis: &TimeAxis) -> Vec<(String, Vec<Segment>)> {
    runs.iter()
        .filter(|((_, q), _)| *q == Quantity::RrIntervalMs)
        .map(|((device, _), runs)| {
            let segments = runs
                .iter()
                .filter_map(|run| {
                    let rr: Vec<f64> = run.iter().map(|(_, v)| *v).collect();
                    let (first_at, first_rr) = *run.first()?;
                    let corrected = artifacts::correct(&rr).ok()?;
                    // Each RR sample is stamped at the beat that ends it; the
                    // segment starts one interval before the first.
                    let mut t = axis.x(first_at) - first_rr / 1000.0;
                    Some(
                        corrected
                            .nn
                            .iter()
                            .map(|nn| {
                                t += nn / 1000.0;
                                (t, *nn)
                            })
                            .collect(),
                    )
                })
                .collect();
            (device.clone(), segments)
        })
        .collect()
}

/// The HRV panel, or `None` without RR intervals.
pub(super) fn panel(runs: &Runs, axis: &TimeAxis) -> Option<Panel> {
    let devices = nn_segments(runs, axis);
    if devices.is_empty() {
        return None;
    }
    let mut values = Vec::new();
    let series: Vec<Series> = devices
        .iter()
        .map(|(device, segments)| {
            let windows = rmssd_per_window(segments, axis);
            values.extend(windows.iter().map(|(_, v)| *v));
            let runs = windows.into_iter().map(|(from, v)| vec![(from, v), (from + WINDOW_S, v)]).collect();
            Series { label: format!("{device} RMSSD"), runs, points: false }
        })
        .collect();
    Some(Panel {
        title: "HRV: RMSSD per 5 min (ms)".to_owned(),
        style: Style::Steps,
        height: 180,
        series,
        limits: Vec::new(),
        shades: Vec::new(),
        y: y_range(&values, std::iter::once(0.0)),
    })
}

/// `(window start, RMSSD ms)` of every window with enough beats. Successive
/// differences are taken within a segment only, never across a break: each
/// segment's part of the window gets its own RMSSD, pooled by the number of
/// differences (the RMSSD of all of them together).
fn rmssd_per_window(segments: &[Segment], axis: &TimeAxis) -> Vec<(f64, f64)> {
    let first = (axis.start / WINDOW_S).floor();
    let last = (axis.end / WINDOW_S).ceil();
    #[allow(clippy::cast_possible_truncation)]
    let n = (last - first).max(0.0) as i64;
    let mut out = Vec::new();
    for k in 0..n {
        #[allow(clippy::cast_precision_loss)]
        let from = (first + k as f64) * WINDOW_S;
        let to = from + WINDOW_S;
        let (mut squares, mut diffs, mut covered) = (0.0, 0.0, 0.0);
        for segment in segments {
            // An interval belongs to the window in which its ending beat lies.
            let nn: Vec<f64> = segment.iter().filter(|(x, _)| *x >= from && *x < to).map(|(_, v)| *v).collect();
            covered += nn.iter().sum::<f64>() / 1000.0;
            if let Ok(t) = time::time_domain(&nn) {
                #[allow(clippy::cast_precision_loss)]
                let d = (nn.len() - 1) as f64;
                squares += t.rmssd_ms * t.rmssd_ms * d;
                diffs += d;
            }
        }
        if diffs > 0.0 && covered >= MIN_COVERAGE * WINDOW_S {
            out.push((from, (squares / diffs).sqrt()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SessionTime;

    #[test]
    fn windows_without_enough_beats_are_empty_and_breaks_are_not_differenced() {
        let axis = TimeAxis::new(None, SessionTime::from_secs(900));
        // 0–300 s: alternating 800/900 ms (RMSSD 100); 300–600 s: nothing;
        // 600–900 s: two segments of 1000 ms, apart by a jump that a
        // difference across the break would turn into RMSSD > 0.
        let mut a: Segment = Vec::new();
        let mut t = 0.0;
        for i in 0..350 {
            let v = if i % 2 == 0 { 800.0 } else { 900.0 };
            t += v / 1000.0;
            if t < 300.0 {
                a.push((t, v));
            }
        }
        let b: Segment = (1..=150).map(|i| (600.0 + f64::from(i), 1000.0)).collect();
        let c: Segment = (1..=140).map(|i| (755.0 + f64::from(i) * 1.04, 1040.0)).collect();
        let windows = rmssd_per_window(&[a, b, c], &axis);
        assert_eq!(windows.len(), 2, "{windows:?}");
        assert_eq!(windows[0].0, 0.0);
        assert!((windows[0].1 - 100.0).abs() < 1e-9, "{windows:?}");
        assert_eq!(windows[1], (600.0, 0.0));
    }
}
