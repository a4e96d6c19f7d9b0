//! ECG strips: the last seconds of each ECG device's raw ECG, under the
//! tiles, as on a bedside monitor.
//!
//! ```text
//!  chest · ECG 130 Hz · 25 mm/s · scale ⡇ 1 mV           label row
//! ⢸ ⠀⠀⢀⡀⠀⠀⠀⠀⡇⠀⠀⠀⠀⢀⡀⠀⠀⠀⠀⡇⠀⠀⠀⠀⢀⡀⠀⠀⠀⠀⡇⠀⠀               2 rows of braille (4 when
//! ⢸ ⠤⠖⠁⠈⠓⠤⠤⢴⠁⠤⠤⠖⠁⠈⠓⠤⠤⢴⠁⠤⠤⠖⠁⠈⠓⠤⠤⢴⠁⠤⠤               the terminal is tall)
//!  cuff · ECG --  silent                                  not live: one row, no trace
//! ```
//!
//! Paper speed 25 mm/s: one terminal column is [`COLUMN_NS`] = 0.08 s
//! (2 mm of paper), each braille dot column [`DOT_NS`] = 0.04 s, drawn as
//! the min..max of the samples in it (joined to its neighbour), so a QRS
//! complex narrower than a column is never aliased away. The right edge is
//! the newest sample; the grid is aligned to whole dot columns of session
//! time, so the trace scrolls without shimmering. The amplitude is scaled
//! to the visible samples; the bar in the gutter is a fixed round amount
//! (0.5, 1, 2, 5, 10 or 20 mV, the largest that fits), named in the label.
//!
//! Whether a strip is drawn is the snapshot's [`EcgStatus`], the verdict
//! `tech.ecg` is raised from: anything but live shows `ECG --` and why.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::theme::Theme;
use super::view::ViewState;
use crate::history::EcgPoint;
use crate::snapshot::{DeviceView, EcgStatus, EcgStrip, Snapshot};

/// One terminal column of trace: 0.08 s, 2 mm at 25 mm/s.
pub const COLUMN_NS: i64 = 80_000_000;
/// One braille dot column: half a terminal column.
pub const DOT_NS: i64 = COLUMN_NS / 2;
/// Braille rows of a strip, and of a strip when the terminal is tall.
pub const STRIP_ROWS: u16 = 2;
pub const TALL_ROWS: u16 = 4;
/// Columns left of the trace: the scale bar and a space.
const GUTTER: u16 = 2;
/// Scale bar amounts, µV, smallest first.
const BARS_UV: [i32; 6] = [500, 1_000, 2_000, 5_000, 10_000, 20_000];
/// The smallest span the amplitude scale stretches over, µV: a flat line
/// stays flat rather than magnifying noise to full height.
const MIN_SPAN_UV: i32 = 500;

/// The devices with an ECG strip (ECG expected from them), in screen order.
pub fn devices(snapshot: &Snapshot) -> impl Iterator<Item = (&DeviceView, &EcgStrip)> {
    snapshot.devices.iter().filter_map(|d| d.ecg.as_ref().map(|e| (d, e)))
}

/// Rows all strips want with `braille_rows` per live strip: a label row
/// each, and the trace of a live one.
#[must_use]
pub fn rows_wanted(snapshot: &Snapshot, braille_rows: u16) -> u16 {
    devices(snapshot).map(|(_, e)| if e.status.shows_strip() { 1 + braille_rows } else { 1 }).sum()
}

/// The strips, one per ECG device, stacked.
#[derive(Debug)]
pub struct EcgStrips<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
    /// Braille rows of a live strip.
    pub rows: u16,
}

impl Widget for EcgStrips<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut y = area.y;
        for (device, strip) in devices(self.snapshot) {
            let left = area.bottom().saturating_sub(y);
            if left == 0 {
                break;
            }
            let row = |y: u16, height: u16| Rect { y, height, ..area };
            let live = strip.status.shows_strip() && self.view.stalled_for.is_none();
            if !live {
                self.placeholder(device, strip).render(row(y, 1), buf);
                y += 1;
                continue;
            }
            // A strip squeezed below its rows keeps what fits; with no
            // room for any trace it says so rather than vanish.
            let rows = self.rows.min(left - 1);
            if rows == 0 {
                let note = Span::styled("strip hidden: terminal too small", self.theme.dim());
                Line::from(vec![label(device), Span::raw(" · ECG "), note]).render(row(y, 1), buf);
                y += 1;
                continue;
            }
            let trace = Trace::new(&strip.samples, area.width.saturating_sub(GUTTER), rows);
            let bar = trace.as_ref().map_or("", |t| bar_name(t.bar_uv));
            Line::from(vec![
                label(device),
                Span::raw(format!(" · ECG {:.0} Hz · 25 mm/s · scale ", strip.rate_hz)),
                Span::styled("⡇", self.theme.good()),
                Span::raw(format!(" {bar}")),
            ])
            .render(row(y, 1), buf);
            if let Some(trace) = trace {
                trace.render(row(y + 1, rows), buf, self.theme);
            }
            y += 1 + rows;
        }
    }
}

impl EcgStrips<'_> {
    /// `ECG --` and why, in place of a strip.
    fn placeholder<'d>(&self, device: &'d DeviceView, strip: &EcgStrip) -> Line<'d> {
        let why = if self.view.stalled_for.is_some() {
            "NO UPDATE".to_owned()
        } else {
            match &strip.status {
                EcgStatus::Silent => "silent".to_owned(),
                EcgStatus::Refused(Some(reason)) => format!("start refused: {reason}"),
                EcgStatus::Refused(None) => "start refused".to_owned(),
                EcgStatus::Disconnected => "disconnected".to_owned(),
                EcgStatus::NoData => "waiting".to_owned(),
                EcgStatus::Live | EcgStatus::NotExpected => String::new(),
            }
        };
        Line::from(vec![
            label(device),
            Span::raw(" · ECG "),
            Span::styled("--", self.theme.bad()),
            Span::raw("  "),
            Span::styled(why, self.theme.dim()),
        ])
    }
}

fn label(device: &DeviceView) -> Span<'_> {
    Span::raw(format!(" {}", device.label))
}

fn bar_name(uv: i32) -> &'static str {
    match uv {
        500 => "0.5 mV",
        1_000 => "1 mV",
        2_000 => "2 mV",
        5_000 => "5 mV",
        10_000 => "10 mV",
        _ => "20 mV",
    }
}

/// Braille dot bits by (row within a cell, column within a cell).
const DOT_BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

/// A strip's trace on its braille grid: per dot column the dot rows
/// painted, top row 0.
struct Trace {
    /// `(lo, hi)` dot rows per dot column (`lo <= hi`), `None` where no
    /// sample falls.
    columns: Vec<Option<(u16, u16)>>,
    rows: u16,
    bar_uv: i32,
    bar_dots: u16,
}

impl Trace {
    /// `samples` (oldest first) on `width` columns of `rows` braille rows;
    /// `None` without samples or room.
    fn new(samples: &[EcgPoint], width: u16, rows: u16) -> Option<Self> {
        let last = samples.last()?;
        if width == 0 || rows == 0 {
            return None;
        }
        let dot_columns = i64::from(width) * 2;
        // The grid ends with the dot column holding the newest sample.
        let end = last.at_ns.div_euclid(DOT_NS) * DOT_NS + DOT_NS;
        let start = end - dot_columns * DOT_NS;
        let visible = &samples[samples.partition_point(|p| p.at_ns < start)..];
        let (min, max) = visible.iter().fold((i32::MAX, i32::MIN), |(lo, hi), p| (lo.min(p.uv), hi.max(p.uv)));
        let span = (max - min).max(MIN_SPAN_UV);
        // Centre a span stretched to the minimum on the samples.
        let top = max + (span - (max - min)) / 2;
        let height = i64::from(rows) * 4;
        let to_dot = |uv: i32| -> u16 {
            let d = (i64::from(top) - i64::from(uv)) * (height - 1) / i64::from(span);
            u16::try_from(d.clamp(0, height - 1)).unwrap_or(0)
        };
        let mut columns: Vec<Option<(u16, u16)>> = vec![None; usize::try_from(dot_columns).unwrap_or(0)];
        // The previous sample's dot: each column reaches to it, so the
        // trace is one line, not a scatter of dots.
        let mut previous: Option<(usize, u16)> = None;
        for p in visible {
            let Ok(k) = usize::try_from((p.at_ns - start) / DOT_NS) else { continue };
            let Some(column) = columns.get_mut(k) else { continue };
            let dot = to_dot(p.uv);
            let (mut lo, mut hi) = column.unwrap_or((dot, dot));
            lo = lo.min(dot);
            hi = hi.max(dot);
            if let Some((pk, pdot)) = previous
                && pk + 1 == k
            {
                lo = lo.min(pdot);
                hi = hi.max(pdot);
            }
            *column = Some((lo, hi));
            previous = Some((k, dot));
        }
        let dots_per_uv = (height - 1) as f64 / f64::from(span);
        let fits = |uv: i32| f64::from(uv) * dots_per_uv <= (height - 1) as f64;
        let bar_uv = BARS_UV.iter().rev().copied().find(|uv| fits(*uv)).unwrap_or(BARS_UV[0]);
        // At least one dot, so the bar is always there to read.
        let bar_dots = ((f64::from(bar_uv) * dots_per_uv).round() as u16).clamp(1, rows * 4);
        Some(Self { columns, rows, bar_uv, bar_dots })
    }

    fn render(&self, area: Rect, buf: &mut Buffer, theme: Theme) {
        let rows = usize::from(self.rows.min(area.height));
        let width = usize::from(area.width.saturating_sub(GUTTER));
        let mut cells = vec![0u8; rows * width];
        for (k, column) in self.columns.iter().enumerate() {
            let Some((lo, hi)) = *column else { continue };
            let (cx, sub) = (k / 2, k % 2);
            if cx >= width {
                break;
            }
            for dot in lo..=hi {
                let (cy, dy) = (usize::from(dot / 4), usize::from(dot % 4));
                if cy < rows {
                    cells[cy * width + cx] |= DOT_BITS[dy][sub];
                }
            }
        }
        let style = theme.fg(Color::Green);
        let dim = theme.dim();
        let bottom = rows * 4;
        for cy in 0..rows {
            let y = area.y + u16::try_from(cy).unwrap_or(0);
            // The scale bar: the left dot column of the gutter, from the
            // bottom up.
            let mut bar = 0u8;
            for (dy, bits) in DOT_BITS.iter().enumerate() {
                if cy * 4 + dy >= bottom - usize::from(self.bar_dots) {
                    bar |= bits[0];
                }
            }
            if bar != 0 {
                buf[(area.x, y)].set_char(braille(bar)).set_style(style);
            }
            for cx in 0..width {
                let bits = cells[cy * width + cx];
                let x = area.x + GUTTER + u16::try_from(cx).unwrap_or(0);
                if bits == 0 {
                    buf[(x, y)].set_char(' ').set_style(dim);
                } else {
                    buf[(x, y)].set_char(braille(bits)).set_style(style);
                }
            }
        }
    }
}

fn braille(bits: u8) -> char {
    char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[(i64, i32)]) -> Vec<EcgPoint> {
        values.iter().map(|&(at_ns, uv)| EcgPoint { at_ns, uv }).collect()
    }

    /// One narrow spike among flat samples: whatever its phase, it reaches
    /// the top dot row in its dot column (min..max, never decimated).
    #[test]
    fn a_spike_narrower_than_a_column_is_never_lost() {
        let period = 7_692_308; // 130 Hz
        for phase in 0..13 {
            let samples: Vec<(i64, i32)> = (0..400)
                .map(|i| {
                    let at = 1_000_000_000 + i * period + phase * 3_000_000;
                    (at, if i == 300 { 1_500 } else { 0 })
                })
                .collect();
            let trace = Trace::new(&points(&samples), 60, 2).unwrap();
            let top = trace.columns.iter().flatten().filter(|(lo, _)| *lo == 0).count();
            assert!(top >= 1, "phase {phase}: the spike vanished");
            let bottom_only = trace.columns.iter().flatten().filter(|(lo, hi)| *lo == 7 && *hi == 7).count();
            assert!(bottom_only > 60, "the baseline lies on the bottom row");
        }
    }

    /// 0.04 s per dot column: 2.4 s of samples fill 60 dot columns, 30
    /// terminal columns, ending at the right edge.
    #[test]
    fn paper_speed_is_25_mm_per_second() {
        let samples: Vec<(i64, i32)> = (0..=240).map(|i| (i * 10_000_000, (i % 7) as i32 * 100)).collect();
        let trace = Trace::new(&points(&samples), 40, 2).unwrap();
        let filled: Vec<usize> =
            trace.columns.iter().enumerate().filter(|(_, c)| c.is_some()).map(|(k, _)| k).collect();
        assert_eq!(filled.last(), Some(&79), "the newest sample is at the right edge");
        assert_eq!(filled.len(), 61, "2.4 s = 60 dot columns of 0.04 s, plus the one the grid ends in");
    }

    #[test]
    fn the_scale_bar_is_the_largest_round_amount_that_fits() {
        // A 2 mV span over 8 dots: 1 mV is 3.5 dots, 2 mV the full 7.
        let samples = points(&[(0, -1_000), (40_000_000, 1_000)]);
        let trace = Trace::new(&samples, 10, 2).unwrap();
        assert_eq!((trace.bar_uv, trace.bar_dots), (2_000, 7));
        let samples = points(&[(0, -700), (40_000_000, 800)]);
        let trace = Trace::new(&samples, 10, 2).unwrap();
        assert_eq!(trace.bar_uv, 1_000);
    }
}
