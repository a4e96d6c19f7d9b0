//! `vigil report RECORDING --out PATH.svg`: heart rate and body temperature
//! over the session, alarm periods shaded by priority, dose markers as
//! vertical lines, the x axis in time since the (first) dose as h:mm,
//! negative before it. Without a dose marker the axis counts from the start.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::summary::{Episode, episodes};
use super::{RecordError, Recording};
use crate::model::{MarkerKind, OperatorAction, OutputEvent, Priority, Quantity, SessionTime};

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 800;
/// Points per drawn series: an 8-hour, 1 Hz series is averaged into this
/// many buckets, which keeps the SVG small and still shows every trend.
const BUCKETS: usize = 1600;

/// Draw the report of the recording in `dir` into the SVG file `out`.
pub fn report(dir: &Path, out: &Path) -> Result<(), RecordError> {
    let recording = Recording::open(dir)?;
    let samples = recording.samples()?;
    let events = recording.events()?;
    let end = recording.end()?;

    let doses: Vec<(SessionTime, String)> = events
        .iter()
        .filter_map(|e| match e {
            OutputEvent::Operator { at, action: OperatorAction::Marker(m) }
                if matches!(m.kind, Some(MarkerKind::Dose | MarkerKind::SupplementalDose))
                    || (m.kind.is_none() && m.label.to_lowercase().contains("dose")) =>
            {
                Some((*at, m.label.clone()))
            }
            _ => None,
        })
        .collect();
    let zero = doses.first().map_or(SessionTime::ZERO, |(at, _)| *at);
    let hours = |at: SessionTime| (at.as_secs_f64() - zero.as_secs_f64()) / 3600.0;
    let x_range = hours(SessionTime::ZERO)..hours(end).max(hours(SessionTime::ZERO) + 1.0 / 60.0);

    let mut hr: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut temp: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in &samples {
        if s.value.is_nan() {
            continue;
        }
        let series = match s.quantity {
            Quantity::HeartRateBpm => &mut hr,
            Quantity::BodyTemperatureC => &mut temp,
            _ => continue,
        };
        series.entry(s.device.to_string()).or_default().push((hours(s.at), s.value));
    }
    // Lines join points in time order, whatever the file's row order.
    for points in hr.values_mut().chain(temp.values_mut()) {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let shades: Vec<Episode> = episodes(&events, end);

    let draw_err = |e: &dyn std::fmt::Display| RecordError::Other(format!("{}: drawing failed: {e}", out.display()));
    // Drawn into memory and written through a handle opened owner-only:
    // `SVGBackend::new(path)` would create the file with the umask's mode.
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(&e))?;
        let title = format!(
            "{} — participant {} — {}",
            recording.meta.id,
            recording.meta.participant.as_deref().unwrap_or("anon"),
            recording.meta.start_utc.format("%Y-%m-%d %H:%M UTC")
        );
        let root = root.titled(&title, ("sans-serif", 20)).map_err(|e| draw_err(&e))?;
        let (top, bottom) = root.split_vertically(HEIGHT / 2 - 20);
        let x_label = if doses.is_empty() { "time since start (h:mm)" } else { "time since dose (h:mm)" };
        panel(&top, "heart rate (bpm)", &hr, x_range.clone(), (30.0, 200.0), &shades, &doses, &hours, x_label)
            .map_err(|e| draw_err(&e))?;
        panel(&bottom, "body temperature (°C)", &temp, x_range, (34.0, 41.0), &shades, &doses, &hours, x_label)
            .map_err(|e| draw_err(&e))?;
        root.present().map_err(|e| draw_err(&e))?;
    }
    write_owner_only(out, svg.as_bytes())
}

/// Write `bytes` to `path` as a file only its owner can read, whatever
/// the umask and whatever mode a file already there had.
fn write_owner_only(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| RecordError::Io { path: path.to_owned(), source };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(super::FILE_MODE)
        .open(path)
        .map_err(io)?;
    // Before any data: an existing file keeps its old mode through `open`.
    file.set_permissions(std::fs::Permissions::from_mode(super::FILE_MODE)).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.flush().map_err(io)
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

#[allow(clippy::too_many_arguments)]
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    y_desc: &str,
    series: &BTreeMap<String, Vec<(f64, f64)>>,
    x_range: std::ops::Range<f64>,
    default_y: (f64, f64),
    shades: &[Episode],
    doses: &[(SessionTime, String)],
    hours: &dyn Fn(SessionTime) -> f64,
    x_desc: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    // The y range covers the data, at least the usual clinical range.
    let (mut lo, mut hi) = default_y;
    for (_, v) in series.values().flatten() {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x_range.clone(), lo..hi)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|h| h_mm(*h))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;

    // Alarm periods, lowest priority first so higher ones paint over.
    let mut ordered: Vec<&Episode> = shades.iter().collect();
    ordered.sort_by_key(|e| e.priority);
    for e in ordered {
        let color = match e.priority {
            Priority::Low => RGBColor(0, 170, 220).mix(0.15),
            Priority::Medium => RGBColor(255, 190, 0).mix(0.25),
            Priority::High => RGBColor(220, 0, 0).mix(0.25),
        };
        let (a, b) = (hours(e.start).max(x_range.start), hours(e.end).min(x_range.end));
        if b > a {
            chart.draw_series(std::iter::once(Rectangle::new([(a, lo), (b, hi)], color.filled())))?;
        }
    }

    let palette = [RGBColor(31, 119, 180), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];
    for (i, (device, points)) in series.iter().enumerate() {
        let color = palette[i % palette.len()];
        let mut first = true;
        for run in downsample(points, &x_range) {
            let s = chart.draw_series(LineSeries::new(run, color.stroke_width(1)))?;
            if first {
                s.label(device.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                first = false;
            }
        }
    }

    for (at, label) in doses {
        let x = hours(*at);
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], BLACK.stroke_width(2))))?;
        chart.draw_series(std::iter::once(Text::new(label.clone(), (x, hi), ("sans-serif", 14).into_font())))?;
    }
    if !series.is_empty() {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    Ok(())
}

/// A pause in the data longer than this (hours; 30 s) breaks the line.
const BREAK_H: f64 = 30.0 / 3600.0;

/// Bucket means over the x range. Where the data pauses for longer than
/// [`BREAK_H`] (and more than two buckets), the line breaks, so a gap in the
/// data shows as a gap.
fn downsample(points: &[(f64, f64)], x: &std::ops::Range<f64>) -> Vec<Vec<(f64, f64)>> {
    let width = (x.end - x.start) / BUCKETS as f64;
    let mut sums = vec![(0.0, 0.0, 0usize); BUCKETS];
    for (px, py) in points {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = (((px - x.start) / width).floor().max(0.0) as usize).min(BUCKETS - 1);
        sums[i].0 += px;
        sums[i].1 += py;
        sums[i].2 += 1;
    }
    let max_step = BREAK_H.max(2.0 * width);
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (sx, sy, n) in sums {
        if n == 0 {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        let point = (sx / n, sy / n);
        let last = runs.last().and_then(|r| r.last()).copied();
        if last.is_some_and(|(lx, _)| point.0 - lx > max_step) {
            runs.push(Vec::new());
        }
        if let Some(run) = runs.last_mut() {
            run.push(point);
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// Hours as `h:mm`, negative before the dose.
fn h_mm(h: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let minutes = (h * 60.0).round() as i64;
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.abs();
    format!("{sign}{}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_reads_time_since_dose() {
        assert_eq!(h_mm(0.0), "0:00");
        assert_eq!(h_mm(1.5), "1:30");
        assert_eq!(h_mm(-0.25), "-0:15");
        assert_eq!(h_mm(7.999), "8:00");
    }

    #[test]
    fn gaps_break_the_line() {
        // Every 3.6 s for an hour, nothing for two, then another hour.
        let points: Vec<(f64, f64)> = (0..1000)
            .map(|i| (f64::from(i) / 1000.0, 1.0))
            .chain((3000..4000).map(|i| (f64::from(i) / 1000.0, 2.0)))
            .collect();
        let runs = downsample(&points, &(0.0..4.0));
        assert_eq!(runs.len(), 2);
    }
}
