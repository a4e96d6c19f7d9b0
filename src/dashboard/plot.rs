//! Chart traces painted in one pass on one braille grid.
//!
//! ratatui's `Chart` gives every dataset its own canvas layer: a grid
//! allocated, painted, converted and copied cell by cell into the buffer,
//! and it paints every point and then every line through those points,
//! each through `f64::round`, a libm call on x86-64 without SSE4.1. With
//! four datasets per trend chart that was most of a frame's cost. Here
//! `Chart` draws only what surrounds the plot (block, title, y axis and
//! its labels), and the traces are painted on one grid whose cells
//! remember which trace last painted them — exactly what stacking layers
//! produces, since a later layer replaces the symbol and colour of every
//! cell it paints.
//!
//! Every cell comes out as `Chart` would draw it (a test compares the two
//! over random series, sizes and bounds). Where that cannot be promised
//! cheaply — a value outside the bounds or not finite, which the canvas
//! clips or paints in its own way — the traces go to `Chart` as datasets
//! as before.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::symbols::braille::BRAILLE;
use ratatui::widgets::{Block, Chart, Dataset, GraphType, Widget};

/// One trace of a chart: its points, how they are joined, its style.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'d> {
    pub data: &'d [(f64, f64)],
    pub graph: GraphType,
    pub style: Style,
}

/// Renders `chart(datasets)` with `traces` as braille datasets, in order.
///
/// `chart` must build a bordered chart whose x axis has no labels and whose
/// y axis has labels `label_width` wide, with bounds `x` and `y` (the
/// layout [`DotGrid`] reproduces).
pub fn render<'d>(
    chart: impl Fn(Vec<Dataset<'d>>) -> Chart<'d>,
    label_width: u16,
    [x, y]: [[f64; 2]; 2],
    traces: &[Trace<'d>],
    area: Rect,
    buf: &mut Buffer,
) {
    let inside = |t: &Trace| t.data.iter().all(|p| (x[0]..=x[1]).contains(&p.0) && (y[0]..=y[1]).contains(&p.1));
    let grid = DotGrid::new(area, label_width, x, y).filter(|_| traces.iter().all(inside));
    let Some(grid) = grid else {
        let datasets = traces
            .iter()
            .map(|t| Dataset::default().marker(Marker::Braille).graph_type(t.graph).style(t.style).data(t.data))
            .collect();
        chart(datasets).render(area, buf);
        return;
    };
    chart(Vec::new()).render(area, buf);
    let mut plot = Plot::new(grid);
    for (owner, trace) in traces.iter().enumerate() {
        let owner = u8::try_from(owner).unwrap_or(u8::MAX);
        let dots: Vec<(usize, usize)> = trace.data.iter().map(|p| grid.dot(p.0, p.1)).collect();
        for &(dx, dy) in &dots {
            plot.paint(dx, dy, owner);
        }
        if trace.graph == GraphType::Line {
            for pair in dots.windows(2) {
                for_each_line_point(pair[0], pair[1], |dx, dy| plot.paint(dx, dy, owner));
            }
        }
    }
    let colors: Vec<Color> = traces.iter().map(|t| t.style.fg.unwrap_or(Color::Reset)).collect();
    plot.write(&colors, buf);
}

/// The braille dot grid `Chart` paints its datasets on, for a bordered
/// chart in `area` whose y axis has labels `label_width` wide and whose x
/// axis has none (`Chart::layout` for that case), with the canvas's
/// world-to-dot mapping (`Painter::get_point`).
#[derive(Debug, Clone, Copy)]
struct DotGrid {
    /// Where the braille cells go.
    area: Rect,
    x: [f64; 2],
    y: [f64; 2],
    /// The largest dot index across and down.
    last: (f64, f64),
}

impl DotGrid {
    fn new(area: Rect, label_width: u16, x: [f64; 2], y: [f64; 2]) -> Option<Self> {
        let inner = Block::bordered().inner(area);
        let mut left = inner.left() + label_width.min(inner.width / 3);
        if left + 1 < inner.right() {
            left += 1; // the y axis line
        }
        let (w, h) = (inner.right().saturating_sub(left), inner.height);
        let valid = w > 0 && h > 0 && x[1] > x[0] && y[1] > y[0];
        valid.then(|| Self {
            area: Rect::new(left, inner.top(), w, h),
            x,
            y,
            last: (f64::from(w) * 2.0 - 1.0, f64::from(h) * 4.0 - 1.0),
        })
    }

    /// The dot a point inside the bounds lands on, as the canvas computes it.
    fn dot(&self, x: f64, y: f64) -> (usize, usize) {
        let ([left, right], [bottom, top]) = (self.x, self.y);
        (round((x - left) * self.last.0 / (right - left)), round((top - y) * self.last.1 / (top - bottom)))
    }
}

/// `f64::round` (half away from zero) for the non-negative, finite values
/// of a dot index: truncation is one instruction, libm's round is a call.
fn round(v: f64) -> usize {
    let whole = v as usize;
    whole + usize::from(v - whole as f64 >= 0.5)
}

/// Braille cells: the dot pattern and the trace that painted it last.
struct Plot {
    grid: DotGrid,
    cells: Vec<(u8, u8)>,
}

impl Plot {
    fn new(grid: DotGrid) -> Self {
        Self { grid, cells: vec![(0, 0); usize::from(grid.area.width) * usize::from(grid.area.height)] }
    }

    fn paint(&mut self, x: usize, y: usize, owner: u8) {
        let index = (y / 4) * usize::from(self.grid.area.width) + x / 2;
        if let Some((pattern, by)) = self.cells.get_mut(index) {
            // A later layer replaces what an earlier one drew in the cell.
            if *by != owner {
                *pattern = 0;
                *by = owner;
            }
            *pattern |= 1 << ((x % 2) + 2 * (y % 4));
        }
    }

    fn write(&self, colors: &[Color], buf: &mut Buffer) {
        let area = self.grid.area;
        let width = usize::from(area.width);
        for (i, &(pattern, owner)) in self.cells.iter().enumerate() {
            if pattern == 0 {
                continue;
            }
            let (Ok(dx), Ok(dy)) = (u16::try_from(i % width), u16::try_from(i / width)) else { continue };
            if let Some(cell) = buf.cell_mut((area.x + dx, area.y + dy)) {
                cell.set_char(BRAILLE[usize::from(pattern)]);
                cell.set_fg(colors.get(usize::from(owner)).copied().unwrap_or(Color::Reset));
            }
        }
    }
}

/// The dots of the line from `a` to `b`: ratatui's Bresenham
/// (`canvas::line::for_each_line_point`, MIT), copied because it is private.
fn for_each_line_point(a: (usize, usize), b: (usize, usize), mut f: impl FnMut(usize, usize)) {
    let ((x1, y1), (x2, y2)) = (a, b);
    let dx = x2.abs_diff(x1);
    let dy = y2.abs_diff(y1);
    if dx == 0 {
        for y in y1.min(y2)..=y1.max(y2) {
            f(x1, y);
        }
    } else if dy == 0 {
        for x in x1.min(x2)..=x1.max(x2) {
            f(x, y1);
        }
    } else if dy < dx {
        let ((x1, y1), (x2, y2)) = if x1 > x2 { (b, a) } else { (a, b) };
        let (dx, dy) = (x2.abs_diff(x1).cast_signed(), y2.abs_diff(y1).cast_signed());
        let mut d = 2 * dy - dx;
        let mut y = y1;
        for x in x1..=x2 {
            f(x, y);
            if d > 0 {
                y = if y1 > y2 { y.saturating_sub(1) } else { y.saturating_add(1) };
                d -= 2 * dx;
            }
            d += 2 * dy;
        }
    } else {
        let ((x1, y1), (x2, y2)) = if y1 > y2 { (b, a) } else { (a, b) };
        let (dx, dy) = (x2.abs_diff(x1).cast_signed(), y2.abs_diff(y1).cast_signed());
        let mut d = 2 * dx - dy;
        let mut x = x1;
        for y in y1..=y2 {
            f(x, y);
            if d > 0 {
                x = if x1 > x2 { x.saturating_sub(1) } else { x.saturating_add(1) };
                d -= 2 * dy;
            }
            d += 2 * dx;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use ratatui::widgets::Axis;

    use super::*;

    #[test]
    fn round_matches_f64_round() {
        for v in [0.0, 0.49, 0.5, 0.51, 1.5, 2.499_999_999_999_999_6, 2.5, 182.5, 183.499_99, 1e6 + 0.5] {
            assert_eq!(round(v), v.round() as usize, "{v}");
        }
    }

    /// The one-pass plot must draw every cell as `Chart` draws the same
    /// traces as datasets: many sizes, bounds, trace counts, colours,
    /// line and scatter, steep and flat series, values on the bounds, and
    /// series outside the bounds or with NaN (which take the fallback).
    #[test]
    fn one_pass_plot_equals_chart_datasets() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let colors = [Color::Red, Color::DarkGray, Color::Yellow, Color::Reset];
        let mut fast = 0;
        for case in 0..500 {
            let area = Rect::new(
                rng.random_range(0..3),
                rng.random_range(0..3),
                rng.random_range(3..100),
                rng.random_range(3..14),
            );
            let x = [rng.random_range(-10.0..10.0), rng.random_range(20.0..30_000.0)];
            let level = rng.random_range(30.0..160.0);
            let spread = [0.2, 3.0, 40.0][case % 3];
            let y = [level - spread, level + spread];
            let stray = case % 7 == 0;
            let series: Vec<Vec<(f64, f64)>> = (0..rng.random_range(1..5))
                .map(|_| {
                    let n = rng.random_range(0..700);
                    (0..n)
                        .map(|i| {
                            let t = x[0] + (x[1] - x[0]) * f64::from(i) / f64::from(n);
                            let v = match rng.random_range(0..40) {
                                0 => y[0],
                                1 => y[1],
                                2 if stray => f64::NAN,
                                3 if stray => y[1] + spread,
                                _ => level + rng.random_range(-spread..=spread),
                            };
                            (t, v)
                        })
                        .collect()
                })
                .collect();
            let traces: Vec<Trace> = series
                .iter()
                .enumerate()
                .map(|(i, data)| Trace {
                    data,
                    graph: if (case + i) % 4 == 0 { GraphType::Scatter } else { GraphType::Line },
                    style: if case % 11 == 0 { Style::new() } else { Style::new().fg(colors[i % colors.len()]) },
                })
                .collect();
            let labels = [format!("{:.0}", y[0]), format!("{:.0}", y[1])];
            let label_width = u16::try_from(labels.iter().map(String::len).max().unwrap_or(0)).unwrap();
            let chart = |datasets| {
                Chart::new(datasets)
                    .block(Block::bordered().title(" t "))
                    .x_axis(Axis::default().bounds(x))
                    .y_axis(Axis::default().bounds(y).labels(labels.clone()))
            };
            let mut ours = Buffer::empty(Rect::new(0, 0, 110, 20));
            let mut theirs = ours.clone();
            render(chart, label_width, [x, y], &traces, area, &mut ours);
            let datasets = traces
                .iter()
                .map(|t| Dataset::default().marker(Marker::Braille).graph_type(t.graph).style(t.style).data(t.data))
                .collect();
            chart(datasets).render(area, &mut theirs);
            assert_eq!(ours, theirs, "case {case}: {area:?} x {x:?} y {y:?}");
            fast += usize::from(!stray);
        }
        assert!(fast > 400, "{fast}");
    }
}
