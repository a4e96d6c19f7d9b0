//! Charts per quantity: the recent window (left) and the whole-session
//! trend with markers (right). The selected device's quantities come first;
//! as many rows are drawn as fit.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, GraphType, Widget};

use super::format::{hms, value};
use super::plot::{self, Trace};
use super::theme::Theme;
use super::view::ViewState;
use crate::history::TrendBucket;
use crate::model::{Quantity, SessionTime};
use crate::snapshot::{DeviceView, Reading, ReadingStatus, Snapshot};

/// Quantities that get a chart, in screen order.
pub const CHARTED: [Quantity; 7] = [
    Quantity::HeartRateBpm,
    Quantity::Spo2Pct,
    Quantity::PulseRateBpm,
    Quantity::BodyTemperatureC,
    Quantity::SkinTemperatureC,
    Quantity::SystolicMmhg,
    Quantity::DiastolicMmhg,
];

/// Rows below this height are not drawn (a border and three plot rows).
pub const MIN_CHART_HEIGHT: u16 = 5;
const MAX_CHART_HEIGHT: u16 = 12;
/// Below this width only the recent window is drawn.
const TREND_MIN_WIDTH: u16 = 60;

/// The smallest y range shown, so a flat trace is not blown up into noise.
const fn min_span(quantity: Quantity) -> f64 {
    match quantity {
        Quantity::BodyTemperatureC | Quantity::SkinTemperatureC | Quantity::AmbientTemperatureC => 1.0,
        Quantity::Spo2Pct => 6.0,
        _ => 20.0,
    }
}

/// The (device, reading) pairs to chart, selected device first; a reading
/// with nothing to plot yet gets no chart.
pub fn series<'s>(snapshot: &'s Snapshot, view: &ViewState) -> Vec<(&'s DeviceView, &'s Reading)> {
    let n = snapshot.devices.len();
    if n == 0 {
        return Vec::new();
    }
    let first = view.selected.min(n - 1);
    let order = (0..n).map(|i| &snapshot.devices[(first + i) % n]);
    order
        .flat_map(|d| {
            CHARTED.iter().filter_map(move |q| {
                d.readings
                    .iter()
                    .find(|r| r.quantity == *q && !(r.recent.is_empty() && r.trend.is_empty()))
                    .map(|r| (d, r))
            })
        })
        .collect()
}

#[derive(Debug)]
pub struct Charts<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
}

impl Widget for Charts<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let all = series(self.snapshot, self.view);
        let fit = usize::from(area.height / MIN_CHART_HEIGHT);
        let shown = all.len().min(fit);
        if shown == 0 {
            return;
        }
        let row = if area.height / u16::try_from(shown).unwrap_or(1) > MAX_CHART_HEIGHT {
            Constraint::Length(MAX_CHART_HEIGHT)
        } else {
            Constraint::Fill(1)
        };
        let rows = Layout::vertical(vec![row; shown]).split(area);
        for ((device, reading), row) in all.into_iter().zip(rows.iter()) {
            if row.width >= TREND_MIN_WIDTH {
                let [recent, trend] = Layout::horizontal([Constraint::Percentage(62), Constraint::Fill(1)]).areas(*row);
                self.recent(device, reading, recent, buf);
                self.trend(reading, trend, buf);
            } else {
                self.recent(device, reading, *row, buf);
            }
        }
    }
}

/// At most two points (the min and the max, in time order) per braille
/// dot column of a chart `width` cells wide: the picture is the same, the
/// canvas draws far fewer lines, and a one-sample spike still shows.
fn decimate(points: &[(f64, f64)], x0: f64, x1: f64, width: u16) -> Cow<'_, [(f64, f64)]> {
    let columns = usize::from(width) * 2;
    if points.len() <= columns * 2 || x1 <= x0 {
        return Cow::Borrowed(points);
    }
    let scale = columns as f64 / (x1 - x0);
    let column = |x: f64| ((x - x0) * scale) as usize;
    let mut out = Vec::with_capacity(columns * 2);
    let mut i = 0;
    while i < points.len() {
        let c = column(points[i].0);
        let (mut lo, mut hi) = (points[i], points[i]);
        let mut j = i + 1;
        while j < points.len() && column(points[j].0) == c {
            let p = points[j];
            if p.1 < lo.1 {
                lo = p;
            }
            if p.1 > hi.1 {
                hi = p;
            }
            j += 1;
        }
        if lo.0 <= hi.0 {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
        i = j;
    }
    Cow::Owned(out)
}

/// Trend buckets merged so there are at most two per dot column.
fn trend_points(buckets: &[TrendBucket], now: f64, width: u16) -> [Vec<(f64, f64)>; 3] {
    let columns = (usize::from(width) * 2).max(1);
    let per = buckets.len().div_ceil(columns).max(1);
    let mut out: [Vec<(f64, f64)>; 3] = Default::default();
    for chunk in buckets.chunks(per) {
        let x = chunk[0].start.as_secs_f64().min(now);
        let min = chunk.iter().map(|b| b.min).fold(f64::INFINITY, f64::min);
        let max = chunk.iter().map(|b| b.max).fold(f64::NEG_INFINITY, f64::max);
        let (sum, count) = chunk.iter().fold((0.0, 0u64), |(s, n), b| (s + b.sum, n + u64::from(b.count)));
        out[0].push((x, min));
        out[1].push((x, max));
        out[2].push((x, sum / count.max(1) as f64));
    }
    out
}

fn bounds(quantity: Quantity, values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return [0.0, 1.0];
    }
    let pad = ((min_span(quantity) - (hi - lo)) / 2.0).max((hi - lo) * 0.05);
    [lo - pad, hi + pad]
}

/// The y axis and the width of its labels.
fn y_axis(quantity: Quantity, b: [f64; 2], theme: Theme) -> (Axis<'static>, u16) {
    let labels = [value(quantity, b[0]), value(quantity, b[1])];
    let width = labels.iter().map(|l| Line::raw(l.as_str()).width()).max().unwrap_or(0);
    (Axis::default().bounds(b).labels(labels).style(theme.dim()), u16::try_from(width).unwrap_or(u16::MAX))
}

impl Charts<'_> {
    fn recent(&self, device: &DeviceView, reading: &Reading, area: Rect, buf: &mut Buffer) {
        let now = self.snapshot.now.as_secs_f64();
        let from = now - self.view.window.as_secs_f64();
        let points = &reading.recent;
        let start = points.partition_point(|(t, _)| *t < from);
        let data = decimate(&points[start..], from, now, area.width);
        let data = &data[..];
        let q = reading.quantity;
        let y = bounds(q, data.iter().map(|p| p.1));
        let style = self.theme.trace(q);
        // An intermittent sensor (a cuff every 15 min) gives dots, not a
        // line joining readings far apart.
        let graph = if reading.status == ReadingStatus::Intermittent { GraphType::Scatter } else { GraphType::Line };
        let title =
            format!(" {} {} {} · last {} min ", device.label, q.label(), q.unit(), self.view.window.as_secs() / 60);
        let (axis, label_width) = y_axis(q, y, self.theme);
        let chart = |sets| {
            Chart::new(sets)
                .block(Block::bordered().title(Span::styled(title.clone(), style)).border_style(self.theme.dim()))
                .x_axis(Axis::default().bounds([from, now]))
                .y_axis(axis.clone())
        };
        plot::render(chart, label_width, [[from, now], y], &[Trace { data, graph, style }], area, buf);
    }

    fn trend(&self, reading: &Reading, area: Rect, buf: &mut Buffer) {
        let q = reading.quantity;
        let secs = |t: SessionTime| t.as_secs_f64();
        let now = secs(self.snapshot.now).max(1.0);
        let [min, max, mean] = trend_points(&reading.trend, now, area.width);
        let y = bounds(q, min.iter().chain(&max).map(|p| p.1));
        // Markers (doses above all) as vertical lines: effects are read
        // against time since the dose.
        let marks: Vec<[(f64, f64); 2]> =
            self.snapshot.markers.iter().map(|(at, _)| [(secs(*at), y[0]), (secs(*at), y[1])]).collect();
        let line = |data, style| Trace { data, graph: GraphType::Line, style };
        let mut traces = Vec::new();
        // The min/max envelope reads only in a dimmer colour than the mean;
        // in monochrome it would smear into the mean line.
        if !self.theme.no_color {
            traces.extend([line(&min[..], self.theme.dim()), line(&max[..], self.theme.dim())]);
        }
        traces.extend(marks.iter().map(|m| line(&m[..], self.theme.fg(ratatui::style::Color::Yellow))));
        traces.push(line(&mean[..], self.theme.trace(q)));
        let title = format!(" {} session {} ", q.label(), hms(self.snapshot.now.since(SessionTime::ZERO)));
        let (axis, label_width) = y_axis(q, y, self.theme);
        let chart = |sets| {
            Chart::new(sets)
                .block(Block::bordered().title(title.clone()).border_style(self.theme.dim()))
                .x_axis(Axis::default().bounds([0.0, now]))
                .y_axis(axis.clone())
        };
        plot::render(chart, label_width, [[0.0, now], y], &traces, area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes_in_time_order() {
        // 4 Hz for 10 min into a 40-cell chart (80 dot columns).
        let mut pts: Vec<(f64, f64)> = (0..2400).map(|i| (f64::from(i) / 4.0, 70.0)).collect();
        pts[1234].1 = 190.0; // a one-sample spike
        pts[77].1 = 20.0;
        let d = decimate(&pts, 0.0, 600.0, 40);
        assert!(d.len() <= 160, "{}", d.len());
        assert!(d.iter().any(|p| p.1 == 190.0) && d.iter().any(|p| p.1 == 20.0));
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0));
        // Few points pass through untouched.
        assert!(matches!(decimate(&pts[..100], 0.0, 600.0, 40), Cow::Borrowed(_)));
    }

    #[test]
    fn trend_merge_keeps_min_max_and_weighted_mean() {
        let b = |start: u64, min: f64, max: f64, sum: f64, count: u32| TrendBucket {
            start: SessionTime::from_secs(start),
            min,
            max,
            sum,
            count,
        };
        let buckets: Vec<TrendBucket> = (0..512).map(|i| b(i * 60, 60.0, 80.0, 70.0 * 60.0, 60)).collect();
        let mut spiky = buckets.clone();
        spiky[300] = b(300 * 60, 40.0, 180.0, 100.0 * 60.0, 60);
        let [min, max, mean] = trend_points(&spiky, 512.0 * 60.0, 20);
        assert!(min.len() <= 40);
        assert_eq!(min.iter().map(|p| p.1).fold(f64::INFINITY, f64::min), 40.0);
        assert_eq!(max.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max), 180.0);
        assert!(mean.iter().all(|p| (70.0..=100.0).contains(&p.1)));
    }
}
