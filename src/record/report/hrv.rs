//! The report's HRV panel: RMSSD of each 5-minute window, from the NN
//! intervals `analysis::beats` makes (RR intervals split into contiguous
//! segments, each corrected for artifacts), measured as `vigil analyze`
//! measures a window.

use super::axis::{TimeAxis, y_range};
use super::data::{Panel, Series, Style};
use crate::analysis::beats::{self, Corrected};
use crate::analysis::hrv::time;
use crate::analysis::stats::Holes;
use crate::model::Sample;

/// Window length, seconds; windows are aligned to the axis' zero (the
/// dose), so one window ends at the dose and the next starts there.
const WINDOW_S: f64 = 300.0;

/// The HRV panel, or `None` without RR intervals.
pub(super) fn panel(samples: &[Sample], holes: &Holes, axis: &TimeAxis) -> Option<Panel> {
    let corrected: Vec<Corrected> =
        beats::segments(samples, holes).iter().filter_map(|s| beats::correct(s).ok()).collect();
    let mut devices: Vec<&str> = corrected.iter().map(|c| c.device.as_str()).collect();
    devices.dedup();
    if devices.is_empty() {
        return None;
    }
    let mut values = Vec::new();
    let series: Vec<Series> = devices
        .iter()
        .map(|device| {
            let mine: Vec<&Corrected> = corrected.iter().filter(|c| c.device == *device).collect();
            let windows = rmssd_per_window(&mine, axis);
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

/// `(window start on the axis, RMSSD ms)` of every window whose NN
/// intervals give one: those of every segment ending in the window,
/// joined, as `vigil analyze` joins them. A window with fewer than
/// [`time::MIN_BEATS`] NN intervals is left out (drawn empty).
fn rmssd_per_window(corrected: &[&Corrected], axis: &TimeAxis) -> Vec<(f64, f64)> {
    // Segment times are session seconds; the axis counts from its zero.
    let zero_s = -axis.start;
    let first = (axis.start / WINDOW_S).floor();
    let last = (axis.end / WINDOW_S).ceil();
    #[allow(clippy::cast_possible_truncation)]
    let n = (last - first).max(0.0) as i64;
    (0..n)
        .filter_map(|k| {
            #[allow(clippy::cast_precision_loss)]
            let from = (first + k as f64) * WINDOW_S;
            let nn: Vec<f64> =
                corrected.iter().flat_map(|c| c.nn_in(zero_s + from, zero_s + from + WINDOW_S)).copied().collect();
            time::time_domain(&nn).ok().map(|t| (from, t.rmssd_ms))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceLabel, Quantity, SessionTime};

    fn rr(at_ms: u64, rr_ms: f64) -> Sample {
        Sample {
            at: SessionTime::from_millis(at_ms),
            device: DeviceLabel::from("chest"),
            quantity: Quantity::RrIntervalMs,
            value: rr_ms,
            contact: Some(true),
            device_time_ns: None,
        }
    }

    #[test]
    fn windows_follow_the_dose_and_empty_ones_are_left_out() {
        // Beats alternating 800/900 ms (RMSSD 100) from 0 to 400 s, none
        // after; the dose at 100 s, the session 800 s long. Windows on the
        // axis: [-300, 0), [0, 300), [300, 600), [600, 900).
        let mut samples = Vec::new();
        let mut t = 0_u64;
        for i in 0.. {
            let v: u32 = if i % 2 == 0 { 800 } else { 900 };
            t += u64::from(v);
            if t > 400_000 {
                break;
            }
            samples.push(rr(t, f64::from(v)));
        }
        let axis = TimeAxis::new(Some(SessionTime::from_secs(100)), SessionTime::from_secs(800));
        let p = panel(&samples, &Holes::default(), &axis).unwrap();
        let windows: Vec<(f64, f64, f64)> = p.series[0].runs.iter().map(|r| (r[0].0, r[1].0, r[0].1)).collect();
        assert_eq!(windows.len(), 2, "{windows:?}");
        for (w, from) in windows.iter().zip([-300.0, 0.0]) {
            assert_eq!((w.0, w.1), (from, from + WINDOW_S));
            assert!((w.2 - 100.0).abs() < 1e-6, "{windows:?}");
        }
    }
}
