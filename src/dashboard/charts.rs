//! Charts per quantity: the recent window (left) and the whole-session
//! trend with markers (right). The selected device's quantities come first;
//! as many rows are drawn as fit.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use super::format::{hms, value};
use super::theme::Theme;
use super::view::ViewState;
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

/// The (device, reading) pairs to chart, selected device first.
pub fn series<'s>(snapshot: &'s Snapshot, view: &ViewState) -> Vec<(&'s DeviceView, &'s Reading)> {
    let n = snapshot.devices.len();
    if n == 0 {
        return Vec::new();
    }
    let first = view.selected.min(n - 1);
    let order = (0..n).map(|i| &snapshot.devices[(first + i) % n]);
    order
        .flat_map(|d| CHARTED.iter().filter_map(move |q| d.readings.iter().find(|r| r.quantity == *q).map(|r| (d, r))))
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

fn bounds(quantity: Quantity, values: impl Iterator<Item = f64>) -> [f64; 2] {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return [0.0, 1.0];
    }
    let pad = ((min_span(quantity) - (hi - lo)) / 2.0).max((hi - lo) * 0.05);
    [lo - pad, hi + pad]
}

fn y_axis(quantity: Quantity, b: [f64; 2], theme: Theme) -> Axis<'static> {
    Axis::default()
        .bounds(b)
        .labels([value(quantity, b[0]), value(quantity, b[1])])
        .style(theme.dim())
}

impl Charts<'_> {
    fn recent(&self, device: &DeviceView, reading: &Reading, area: Rect, buf: &mut Buffer) {
        let now = self.snapshot.now.as_secs_f64();
        let from = now - self.view.window.as_secs_f64();
        let points = &reading.recent;
        let start = points.partition_point(|(t, _)| *t < from);
        let data = &points[start..];
        let q = reading.quantity;
        let y = bounds(q, data.iter().map(|p| p.1));
        let style = self.theme.trace(q);
        // An intermittent sensor (a cuff every 15 min) gives dots, not a
        // line joining readings far apart.
        let graph = if reading.status == ReadingStatus::Intermittent { GraphType::Scatter } else { GraphType::Line };
        let title = format!(" {} {} {} · last {} min ", device.label, q.label(), q.unit(), self.view.window.as_secs() / 60);
        Chart::new(vec![Dataset::default().marker(Marker::Braille).graph_type(graph).style(style).data(data)])
            .block(Block::bordered().title(Span::styled(title, style)).border_style(self.theme.dim()))
            .x_axis(Axis::default().bounds([from, now]))
            .y_axis(y_axis(q, y, self.theme))
            .render(area, buf);
    }

    fn trend(&self, reading: &Reading, area: Rect, buf: &mut Buffer) {
        let q = reading.quantity;
        let secs = |t: SessionTime| t.as_secs_f64();
        let mean: Vec<(f64, f64)> = reading.trend.iter().map(|b| (secs(b.start), b.mean())).collect();
        let min: Vec<(f64, f64)> = reading.trend.iter().map(|b| (secs(b.start), b.min)).collect();
        let max: Vec<(f64, f64)> = reading.trend.iter().map(|b| (secs(b.start), b.max)).collect();
        let y = bounds(q, reading.trend.iter().flat_map(|b| [b.min, b.max]));
        let now = secs(self.snapshot.now).max(1.0);
        // Markers (doses above all) as vertical lines: effects are read
        // against time since the dose.
        let marks: Vec<[(f64, f64); 2]> =
            self.snapshot.markers.iter().map(|(at, _)| [(secs(*at), y[0]), (secs(*at), y[1])]).collect();
        let mut sets = Vec::new();
        // The min/max envelope reads only in a dimmer colour than the mean;
        // in monochrome it would smear into the mean line.
        if !self.theme.no_color {
            for envelope in [&min, &max] {
                sets.push(
                    Dataset::default()
                        .marker(Marker::Braille)
                        .graph_type(GraphType::Line)
                        .style(self.theme.dim())
                        .data(envelope),
                );
            }
        }
        for m in &marks {
            sets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(self.theme.fg(ratatui::style::Color::Yellow))
                    .data(m),
            );
        }
        sets.push(
            Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).style(self.theme.trace(q)).data(&mean),
        );
        let title = format!(" {} session {} ", q.label(), hms(self.snapshot.now.since(SessionTime::ZERO)));
        Chart::new(sets)
            .block(Block::bordered().title(title).border_style(self.theme.dim()))
            .x_axis(Axis::default().bounds([0.0, now]))
            .y_axis(y_axis(q, y, self.theme))
            .render(area, buf);
    }
}
