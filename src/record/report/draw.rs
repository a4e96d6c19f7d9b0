//! Drawing the report's parts with plotters, each part its own SVG
//! fragment of the page's width (`mod.rs` stacks them):
//!
//! ```text
//! ┌ title: recording, participant, start, duration, where limits come from ┐
//! ├ sensor status: marker labels; per device technical alarms, disconnects ┤
//! ├ panel: title ─────────────────────────────────┬ limit labels │ legend  ┤
//! │  y axis │ shades, limit lines, markers, series │ (at their y) │ series  │
//! │         └ time ticks ─────────────────────────┘               │         │
//! ├ … one panel per quantity recorded, then the HRV panel ...              ┤
//! └ legend: alarm colours, limit line, dose and marker lines, breaks      ┘
//! ```
//!
//! Every part maps time to the same pixels: the plot spans
//! [`PLOT_LEFT`, `PLOT_RIGHT`] in all of them.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::TimeAxis;
use super::data::{MarkerLine, Panel, StatusRow, Style};
use crate::model::Priority;

pub(super) const WIDTH: u32 = 1600;
const MARGIN: u32 = 10;
const Y_LABELS: u32 = 64;
/// Right of the plot: limit labels, then the series legend.
const SIDE: u32 = 290;
const PLOT_LEFT: i32 = (MARGIN + Y_LABELS) as i32;
const PLOT_RIGHT: i32 = (WIDTH - SIDE) as i32;
const LEGEND_X: i32 = PLOT_RIGHT + 130;
const FONT: &str = "sans-serif";
/// Above a panel's plot: its title.
const PANEL_TOP: u32 = 26;
const TICKS_HEIGHT: u32 = 22;
const AXIS_TITLE_HEIGHT: u32 = 22;
const STATUS_ROW: i32 = 22;
const MARKER_ROW: i32 = 18;

pub(super) type DrawResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Series colours (a colour-blind-safe palette, Okabe–Ito without yellow,
/// which the medium alarms use).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];
const DOSE: RGBColor = RGBColor(60, 60, 60);
const NOTE: RGBColor = RGBColor(140, 140, 140);
const DISCONNECTED: RGBColor = RGBColor(150, 150, 150);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// An alarm episode's shade, as the dashboard colours priorities.
fn shade_color(p: Priority) -> RGBAColor {
    match p {
        Priority::Low => RGBColor(0, 190, 230).mix(0.18),
        Priority::Medium => RGBColor(255, 200, 0).mix(0.30),
        Priority::High => RGBColor(230, 0, 0).mix(0.25),
    }
}

/// A limit line's and its label's colour: the priority's, dark enough to
/// read on white.
fn limit_color(p: Priority) -> RGBColor {
    match p {
        Priority::Low => RGBColor(0, 130, 170),
        Priority::Medium => RGBColor(170, 120, 0),
        Priority::High => RGBColor(200, 0, 0),
    }
}

/// Pixel x of `x` seconds on `axis`, as the panels' plots map it.
fn px(axis: &TimeAxis, x: f64) -> i32 {
    let f = ((x - axis.start) / axis.span()).clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation)]
    let p = PLOT_LEFT + (f * f64::from(PLOT_RIGHT - PLOT_LEFT)).round() as i32;
    p
}

/// A rough width of `text` at `size` px: layout without font metrics, to
/// keep labels from overlapping.
fn text_width(text: &str, size: u32) -> i32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let w = (text.chars().count() as f64 * f64::from(size) * 0.55).ceil() as i32;
    w
}

fn text<'a>(size: u32, color: &'a RGBColor, h: HPos) -> TextStyle<'a> {
    (FONT, size).into_font().color(color).pos(Pos::new(h, VPos::Center))
}

pub(super) fn title(area: &Area<'_>, title: &str, subtitle: &str) -> DrawResult {
    area.draw(&Text::new(title.to_owned(), (PLOT_LEFT, 18), text(24, &BLACK, HPos::Left)))?;
    area.draw(&Text::new(subtitle.to_owned(), (PLOT_LEFT, 42), text(15, &RGBColor(80, 80, 80), HPos::Left)))?;
    Ok(())
}

/// Marker labels placed in rows so that none overlaps another: `(x px,
/// row)` per marker, and the number of rows.
fn marker_rows(axis: &TimeAxis, markers: &[MarkerLine]) -> (Vec<(i32, i32)>, i32) {
    let mut ends: Vec<i32> = Vec::new();
    let mut out = Vec::new();
    for m in markers {
        let x = px(axis, m.x);
        let w = text_width(&m.label, 14) + 6;
        // Near the right edge a label reads leftwards from its line.
        let left = if x + w > PLOT_RIGHT { x - w } else { x };
        let row = ends.iter().position(|end| left > *end + 8).unwrap_or(ends.len());
        if row == ends.len() {
            ends.push(left + w);
        } else {
            ends[row] = left + w;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        out.push((left, row as i32));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let rows = ends.len() as i32;
    (out, rows)
}

/// Height of the sensor status strip.
pub(super) fn status_height(axis: &TimeAxis, markers: &[MarkerLine], rows: &[StatusRow]) -> u32 {
    let (_, marker_rows) = marker_rows(axis, markers);
    #[allow(clippy::cast_sign_loss)]
    let h = (24 + marker_rows * MARKER_ROW + rows.len().max(1) as i32 * STATUS_ROW + 6) as u32;
    h
}

/// The top strip: every marker's label above its line, then one row per
/// device with its technical alarms (priority colour) and disconnections
/// (grey), and a `session` row for gaps and session-wide alarms.
pub(super) fn status(area: &Area<'_>, axis: &TimeAxis, markers: &[MarkerLine], rows: &[StatusRow]) -> DrawResult {
    let (placed, marker_rows) = marker_rows(axis, markers);
    let bold = (FONT, 17).into_font().style(FontStyle::Bold).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new("sensor status and markers", (PLOT_LEFT, 12), bold))?;
    let top = 24 + marker_rows * MARKER_ROW;
    let bottom = top + rows.len().max(1) as i32 * STATUS_ROW;
    for (m, (left, row)) in markers.iter().zip(&placed) {
        let y = 24 + row * MARKER_ROW + MARKER_ROW / 2;
        let color = if m.dose { DOSE } else { NOTE };
        area.draw(&Text::new(m.label.clone(), (*left + 3, y), text(14, &color, HPos::Left)))?;
        let x = px(axis, m.x);
        area.draw(&PathElement::new(vec![(x, y + 6), (x, bottom)], color.stroke_width(if m.dose { 2 } else { 1 })))?;
    }
    if rows.is_empty() {
        let y = top + STATUS_ROW / 2;
        let note = "no technical alarms, disconnections or gaps";
        area.draw(&Text::new(note, (PLOT_RIGHT - 6, y), text(14, &NOTE, HPos::Right)))?;
    }
    for (i, row) in rows.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let y0 = top + i as i32 * STATUS_ROW;
        area.draw(&Text::new(row.device.clone(), (PLOT_LEFT - 6, y0 + STATUS_ROW / 2), text(14, &BLACK, HPos::Right)))?;
        area.draw(&Rectangle::new([(PLOT_LEFT, y0 + 2), (PLOT_RIGHT, y0 + STATUS_ROW - 2)], GRID.mix(0.4).filled()))?;
        let span = |band: &super::data::Shade| (px(axis, band.from), px(axis, band.to).max(px(axis, band.from) + 2));
        for (band, alarm) in &row.bands {
            let (a, b) = span(band);
            let fill =
                if *alarm { shade_color(band.priority).mix(2.0).filled() } else { DISCONNECTED.mix(0.7).filled() };
            area.draw(&Rectangle::new([(a, y0 + 3), (b, y0 + STATUS_ROW - 3)], fill))?;
        }
        // Each band's name inside it, or just after it where there is room,
        // left to right so that none covers another.
        // An alarm's name before a disconnection's at the same time: the
        // grey band is explained by the legend, the alarm is not.
        let mut by_x: Vec<&(super::data::Shade, bool)> = row.bands.iter().collect();
        by_x.sort_by(|(a, a_alarm), (b, b_alarm)| a.from.total_cmp(&b.from).then(b_alarm.cmp(a_alarm)));
        let mut text_end = i32::MIN;
        for (band, _) in by_x {
            let (a, b) = span(band);
            let w = text_width(&band.label, 13);
            let at = if b - a >= w + 6 { a + 3 } else { b + 3 };
            if at > text_end && at + w < PLOT_RIGHT {
                area.draw(&Text::new(band.label.clone(), (at, y0 + STATUS_ROW / 2), text(13, &BLACK, HPos::Left)))?;
                text_end = at + w + 4;
            }
        }
    }
    Ok(())
}

/// The time axis with the report's own ticks (plotters' would be "nice"
/// numbers of seconds, not minutes and hours).
struct TimeRange(TimeAxis);

impl ValueFormatter<f64> for TimeRange {
    fn format_ext(&self, x: &f64) -> String {
        self.0.label(*x)
    }
}

impl Ranged for TimeRange {
    // Labels come from `TimeAxis::label`, through `ValueFormatter`.
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        // As plotters maps an f64 range, so shades and lines land where
        // the status strip's `px` puts them.
        let f = (value - self.0.start) / self.0.span();
        #[allow(clippy::cast_possible_truncation)]
        let offset = (f64::from(limit.1 - limit.0) * f + 1e-3).floor() as i32;
        limit.0 + offset
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { self.0.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.0.start..self.0.end
    }
}

/// Each shaded episode's name at the top of its shade, in rows so that
/// none covers another; what does not fit in [`SHADE_LABEL_ROWS`] rows is
/// left to the shade's colour.
fn shade_labels<X: Ranged<ValueType = f64>>(
    area: &Area<'_>,
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    axis: &TimeAxis,
    p: &Panel,
) -> DrawResult {
    let mut by_x: Vec<&super::data::Shade> = p.shades.iter().collect();
    by_x.sort_by(|a, b| a.from.total_cmp(&b.from));
    let mut ends = [i32::MIN; SHADE_LABEL_ROWS];
    for s in by_x {
        let (x, top) = chart.backend_coord(&(s.from.max(axis.start), p.y.1));
        let w = text_width(&s.label, 13);
        let Some(row) = ends.iter().position(|end| x > *end + 6) else { continue };
        ends[row] = x + w;
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let y = top + 10 + row as i32 * 14;
        area.draw(&Text::new(s.label.clone(), (x + 3, y), text(13, &limit_color(s.priority), HPos::Left)))?;
    }
    Ok(())
}

const SHADE_LABEL_ROWS: usize = 2;

/// Height of a panel's part: its plot, title, ticks and (the last panel)
/// the axis title.
pub(super) fn panel_height(panel: &Panel, last: bool) -> u32 {
    panel.height + PANEL_TOP + TICKS_HEIGHT + if last { AXIS_TITLE_HEIGHT } else { 0 }
}

/// One panel: shades of its own alarms, dashed limit lines labelled at the
/// right, marker lines, its series, and its legend.
pub(super) fn panel(area: &Area<'_>, axis: &TimeAxis, p: &Panel, markers: &[MarkerLine], last: bool) -> DrawResult {
    let bold = (FONT, 17).into_font().style(FontStyle::Bold);
    area.draw(&Text::new(
        p.title.clone(),
        (PLOT_LEFT, 13),
        bold.color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    let (lo, hi) = p.y;
    let x_range = TimeRange(axis.clone());
    let mut chart = ChartBuilder::on(area)
        .margin_top(PANEL_TOP)
        .margin_left(MARGIN)
        .margin_right(SIDE)
        .margin_bottom(0)
        .x_label_area_size(TICKS_HEIGHT + if last { AXIS_TITLE_HEIGHT } else { 0 })
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(x_range, lo..hi)?;
    let decimals = if hi - lo >= 10.0 { 0 } else { 1 };
    let y_label = move |y: &f64| format!("{y:.decimals$}");
    let mut mesh = chart.configure_mesh();
    mesh.y_labels(6)
        .y_label_formatter(&y_label)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15));
    if last {
        mesh.x_desc(axis.title.clone());
    }
    mesh.draw()?;

    for (from, to, priority) in super::data::worst(&p.shades) {
        let (a, b) = (from.max(axis.start), to.min(axis.end));
        if b > a {
            chart.draw_series(std::iter::once(Rectangle::new([(a, lo), (b, hi)], shade_color(priority).filled())))?;
        }
    }
    shade_labels(area, &chart, axis, p)?;
    for l in &p.limits {
        let color = limit_color(l.priority);
        chart.draw_series(DashedLineSeries::new([(axis.start, l.y), (axis.end, l.y)], 6, 4, color.stroke_width(1)))?;
    }
    for m in markers {
        let color = if m.dose { DOSE } else { NOTE };
        let line = [(m.x, lo), (m.x, hi)];
        if m.dose {
            chart.draw_series(LineSeries::new(line, color.stroke_width(2)))?;
        } else {
            chart.draw_series(DashedLineSeries::new(line, 4, 3, color.stroke_width(1)))?;
        }
    }
    // The first series (the panel's main device) last, on top: where a
    // second device shows the same quantity it must not hide its breaks.
    for (i, s) in p.series.iter().enumerate().rev() {
        let color = PALETTE[i % PALETTE.len()];
        for run in &s.runs {
            match p.style {
                Style::Line if run.len() > 1 && !s.points => {
                    chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(1)))?;
                }
                // A lone sample between breaks is still data: a dot.
                Style::Line | Style::Points => {
                    chart.draw_series(run.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
                }
                Style::Steps => {
                    chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?;
                    if let (Some(a), Some(b)) = (run.first(), run.last()) {
                        let mid = ((a.0 + b.0) / 2.0, a.1);
                        chart.draw_series(std::iter::once(Circle::new(mid, 3, color.filled())))?;
                    }
                }
            }
        }
    }

    // Limit labels at their lines' height, pushed apart where they crowd.
    let mut placed: Vec<(i32, &super::data::LimitLine)> =
        p.limits.iter().map(|l| (chart.backend_coord(&(axis.end, l.y)).1, l)).collect();
    placed.sort_by_key(|(y, _)| *y);
    let mut next_free = i32::MIN;
    for (y, l) in placed {
        let y = y.max(next_free);
        next_free = y + 14;
        area.draw(&Text::new(l.label.clone(), (PLOT_RIGHT + 8, y), text(13, &limit_color(l.priority), HPos::Left)))?;
    }
    // The series legend.
    #[allow(clippy::cast_possible_wrap)]
    let top = PANEL_TOP as i32 + 8;
    for (i, s) in p.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let y = top + i as i32 * 18;
        match p.style {
            _ if s.points => area.draw(&Circle::new((LEGEND_X + 8, y), 3, color.filled()))?,
            Style::Line | Style::Points | Style::Steps => {
                area.draw(&PathElement::new(vec![(LEGEND_X, y), (LEGEND_X + 18, y)], color.stroke_width(2)))?;
            }
        }
        area.draw(&Text::new(s.label.clone(), (LEGEND_X + 24, y), text(14, &BLACK, HPos::Left)))?;
    }
    if p.series.iter().all(|s| s.runs.is_empty()) {
        let y = (PANEL_TOP + p.height / 2).try_into().unwrap_or(0);
        area.draw(&Text::new("no valid samples", (PLOT_LEFT + 8, y), text(14, &NOTE, HPos::Left)))?;
    }
    Ok(())
}

pub(super) const LEGEND_HEIGHT: u32 = 80;

/// The page's legend: alarm colours, limit and marker lines, breaks.
pub(super) fn legend(area: &Area<'_>, limits_from: &str) -> DrawResult {
    let mut x = PLOT_LEFT;
    let y = 16;
    let item = |area: &Area<'_>, x: &mut i32, label: &str| -> DrawResult {
        area.draw(&Text::new(label.to_owned(), (*x, y), text(14, &BLACK, HPos::Left)))?;
        *x += text_width(label, 14) + 18;
        Ok(())
    };
    item(area, &mut x, "alarm episode:")?;
    for p in [Priority::Low, Priority::Medium, Priority::High] {
        area.draw(&Rectangle::new([(x, y - 7), (x + 22, y + 7)], shade_color(p).filled()))?;
        x += 28;
        item(area, &mut x, p.as_str())?;
    }
    area.draw(&PathElement::new(vec![(x, y), (x + 8, y)], limit_color(Priority::Medium)))?;
    area.draw(&PathElement::new(vec![(x + 12, y), (x + 20, y)], limit_color(Priority::Medium)))?;
    x += 28;
    item(area, &mut x, &format!("alarm limit ({limits_from})"))?;
    area.draw(&PathElement::new(vec![(x, y - 8), (x, y + 8)], DOSE.stroke_width(2)))?;
    x += 8;
    item(area, &mut x, "dose")?;
    area.draw(&PathElement::new(vec![(x, y - 8), (x, y - 2)], NOTE))?;
    area.draw(&PathElement::new(vec![(x, y + 2), (x, y + 8)], NOTE))?;
    x += 8;
    item(area, &mut x, "marker")?;
    area.draw(&Rectangle::new([(x, y - 5), (x + 22, y + 5)], DISCONNECTED.mix(0.7).filled()))?;
    x += 28;
    item(area, &mut x, "disconnected / gap")?;
    let notes = [
        "Lines break at gaps, disconnections, silences and samples without skin contact or valid value; none of \
         those is plotted. Technical alarms are in the sensor status strip at the top.",
        "HRV: RMSSD of each 5-minute window (aligned to the axis' zero) of the artifact-corrected NN intervals, \
         as vigil analyze computes it; a window with fewer than 3 NN intervals is left empty.",
    ];
    for (i, note) in notes.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let y = 40 + 16 * i as i32;
        area.draw(&Text::new(*note, (PLOT_LEFT, y), text(14, &RGBColor(80, 80, 80), HPos::Left)))?;
    }
    Ok(())
}
