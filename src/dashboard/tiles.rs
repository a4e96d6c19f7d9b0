//! One tile per device: the main value large, its unit, the age of the
//! last sample, contact, battery, connection and signal strength.
//!
//! A number is shown only when the pipeline says it may be
//! ([`ReadingStatus::shows_value`]); otherwise `--` and the reason (STALE,
//! NO CONTACT, …) in its place, never the last good number.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::format::{age, condition_quantity, value};
use super::theme::{Theme, unacknowledged};
use super::view::ViewState;
use crate::model::Quantity;
use crate::snapshot::{DeviceView, Reading, ReadingStatus, Snapshot};

/// The quantity a tile shows large: the first of these the device has.
const PRIMARY: [Quantity; 7] = [
    Quantity::HeartRateBpm,
    Quantity::BodyTemperatureC,
    Quantity::Spo2Pct,
    Quantity::SystolicMmhg,
    Quantity::SkinTemperatureC,
    Quantity::PulseRateBpm,
    Quantity::AmbientTemperatureC,
];

/// Shown small under the main value (RR, energy, battery and MAP are left
/// to the charts, the HRV figure and the status line).
const SECONDARY: [Quantity; 6] = [
    Quantity::PulseRateBpm,
    Quantity::Spo2Pct,
    Quantity::BodyTemperatureC,
    Quantity::SkinTemperatureC,
    Quantity::AmbientTemperatureC,
    Quantity::SystolicMmhg,
];

/// How much room each tile gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileSize {
    /// Bordered, value in large digits: [`FULL_HEIGHT`] rows.
    Full,
    /// Bordered, value as bold text: [`MEDIUM_HEIGHT`] rows.
    Medium,
    /// One line per device, stacked.
    Compact,
}

pub const FULL_HEIGHT: u16 = 8;
pub const MEDIUM_HEIGHT: u16 = 5;
/// Narrowest tile that still reads well bordered.
pub const MIN_TILE_WIDTH: u16 = 18;
pub const FULL_TILE_WIDTH: u16 = 22;

#[derive(Debug)]
pub struct Tiles<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
    pub size: TileSize,
}

impl Widget for Tiles<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let devices = &self.snapshot.devices;
        if devices.is_empty() {
            Line::styled(" waiting for devices…", self.theme.dim()).render(area, buf);
            return;
        }
        let selected = self.view.selected.min(devices.len() - 1);
        match self.size {
            TileSize::Compact => {
                let rows = Layout::vertical(devices.iter().map(|_| Constraint::Length(1))).split(area);
                for (i, (d, r)) in devices.iter().zip(rows.iter()).enumerate() {
                    self.compact(d, i == selected).render(*r, buf);
                }
            }
            TileSize::Full | TileSize::Medium => {
                let cols = Layout::horizontal(devices.iter().map(|_| Constraint::Fill(1))).split(area);
                for (i, (d, r)) in devices.iter().zip(cols.iter()).enumerate() {
                    self.tile(d, i == selected, *r, buf);
                }
            }
        }
    }
}

/// What the tile says about one reading: the number, or `--` and why.
struct Shown {
    text: String,
    reason: Option<&'static str>,
}

impl Tiles<'_> {
    fn blanked(&self) -> bool {
        // The screen itself has had no new picture for a while: every
        // number on it is of unknown age.
        self.view.stalled_for.is_some()
    }

    fn shown(&self, device: &DeviceView, reading: &Reading) -> Shown {
        if self.blanked() {
            return Shown { text: "--".into(), reason: Some("NO UPDATE") };
        }
        let reason = match reading.status {
            ReadingStatus::Live | ReadingStatus::Intermittent => None,
            ReadingStatus::Stale => Some("STALE"),
            ReadingStatus::NoContact => Some("NO CONTACT"),
            ReadingStatus::Invalid => Some("INVALID"),
            ReadingStatus::Disconnected => Some("DISCONNECTED"),
            ReadingStatus::NoData => Some("waiting"),
        };
        let text = match (reason, reading.last) {
            (None, Some(v)) if reading.quantity == Quantity::SystolicMmhg => {
                match find(device, Quantity::DiastolicMmhg).filter(|d| d.status.shows_value()).and_then(|d| d.last) {
                    Some(dia) => {
                        format!("{}/{}", value(Quantity::SystolicMmhg, v), value(Quantity::DiastolicMmhg, dia))
                    }
                    None => value(Quantity::SystolicMmhg, v),
                }
            }
            (None, Some(v)) => value(reading.quantity, v),
            _ => "--".into(),
        };
        Shown { text, reason }
    }

    /// The value's style: the colour of the most urgent alarm on it.
    fn value_style(&self, device: &DeviceView, quantity: Quantity) -> Style {
        let alarm = self
            .snapshot
            .alarms
            .iter()
            .filter(|a| {
                a.device.as_deref() == Some(&*device.label) && condition_quantity(a.condition) == Some(quantity)
            })
            .filter(|a| unacknowledged(a))
            .map(|a| a.priority)
            .max();
        let base = Style::new().add_modifier(Modifier::BOLD);
        match alarm {
            Some(p) => base.patch(self.theme.fg(Theme::priority_color(p))),
            None => base,
        }
    }

    fn age_line(&self, device: &DeviceView, reading: &Reading, shown: &Shown) -> Line<'static> {
        let mut spans = Vec::new();
        if let Some(reason) = shown.reason {
            spans.push(Span::styled(reason, self.theme.bad()));
            if let Some(a) = reading.age {
                spans.push(Span::styled(format!(" · last {} ago", age(a)), self.theme.dim()));
            }
        } else if let Some(a) = reading.age {
            let text = if reading.status == ReadingStatus::Intermittent {
                format!("measured {} ago", age(a))
            } else {
                format!("age {}", age(a))
            };
            spans.push(Span::styled(text, self.theme.dim()));
        }
        if let Some(hrv) = device.readings.iter().find_map(|r| r.rmssd_ms.map(|v| (v, r.status))) {
            let text = match hrv {
                (v, status) if status.shows_value() && !self.blanked() => format!(" · HRV {v:.0} ms"),
                _ => " · HRV --".to_owned(),
            };
            spans.push(Span::raw(text));
        }
        Line::from(spans)
    }

    fn secondary_line(&self, device: &DeviceView, primary: Quantity) -> Line<'static> {
        let mut spans = Vec::new();
        for q in SECONDARY.into_iter().filter(|q| *q != primary) {
            let Some(r) = find(device, q) else { continue };
            let shown = self.shown(device, r);
            if !spans.is_empty() {
                spans.push(Span::raw("  "));
            }
            spans.push(Span::raw(format!("{} ", q.label())));
            spans.push(Span::styled(shown.text, self.value_style(device, q)));
            let unit = if shown.reason.is_none() { q.unit() } else { "" };
            spans.push(Span::raw(format!(" {unit}")));
        }
        Line::from(spans)
    }

    fn link_line(&self, device: &DeviceView) -> Line<'static> {
        let mut spans = Vec::new();
        match device.contact {
            Some(true) => spans.push(Span::styled("contact ✓", self.theme.good())),
            Some(false) => spans.push(Span::styled("NO CONTACT", self.theme.bad())),
            None => {}
        }
        let mut push = |span: Span<'static>| {
            if !spans.is_empty() {
                spans.push(Span::raw(" · "));
            }
            spans.push(span);
        };
        if let Some(b) = device.battery_pct {
            let style = if b <= 10.0 { self.theme.bad() } else { Style::new() };
            push(Span::styled(format!("bat {b:.0}%"), style));
        }
        if let Some(rssi) = device.rssi {
            push(Span::raw(format!("{rssi} dBm")));
        }
        if device.decode_errors > 0 {
            push(Span::styled(format!("{} bad", device.decode_errors), self.theme.bad()));
        }
        Line::from(spans)
    }

    fn title(&self, device: &DeviceView, selected: bool, width: u16) -> (Line<'static>, Line<'static>) {
        let label_width = device.label.chars().count() + 2;
        let (full, short) =
            if device.connected { (" ● connected ", " ● ") } else { (" ✕ DISCONNECTED ", " ✕ ") };
        // Narrow: keep the label whole; the value line still says
        // DISCONNECTED. Two borders and a gap between the titles.
        let link_text = if usize::from(width) >= label_width + full.chars().count() + 3 { full } else { short };
        let mut name = format!(" {} ", device.label);
        if let Some(n) = &device.name {
            let with_name = format!(" {} · {n} ", device.label);
            // Borders and one column between the titles.
            if usize::from(width) >= with_name.chars().count() + link_text.chars().count() + 3 {
                name = with_name;
            }
        }
        let name_style =
            if selected { self.theme.selected_border() } else { Style::new().add_modifier(Modifier::BOLD) };
        let link_style = if device.connected { self.theme.good() } else { self.theme.bad() };
        let link = Span::styled(link_text, link_style);
        (Line::from(Span::styled(name, name_style)), Line::from(link).right_aligned())
    }

    fn tile(&self, device: &DeviceView, selected: bool, area: Rect, buf: &mut Buffer) {
        let (name, link) = self.title(device, selected, area.width);
        let mut block = Block::bordered().title_top(name).title_top(link);
        if selected {
            // A double border marks the selection without colour too.
            block = block.border_type(BorderType::Double).border_style(self.theme.selected_border());
        }
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(reading) = primary(device) else {
            Line::styled("no readings yet", self.theme.dim()).render(inner, buf);
            return;
        };
        let q = reading.quantity;
        let shown = self.shown(device, reading);
        let style = self.value_style(device, q);
        // One-row slots, only as many as the tile has (a layout of six
        // fixed rows squeezed into fewer would give some zero height).
        let rows: Vec<Rect> = (0..inner.height).map(|i| Rect { y: inner.y + i, height: 1, ..inner }).collect();
        if rows.is_empty() {
            return;
        }
        let big = big_text(&shown.text);
        let big_width = big.as_ref().map_or(u16::MAX, |b| width(&b[0]));
        let used = if self.size == TileSize::Full && rows.len() >= 6 && big_width + 6 <= inner.width {
            let big = big.unwrap_or_default();
            for (row, text) in big.iter().enumerate() {
                let mut line = vec![Span::styled(text.clone(), style)];
                match row {
                    0 => line.push(Span::styled(format!("  {}", q.label()), Style::new().add_modifier(Modifier::BOLD))),
                    1 if shown.reason.is_none() => line.push(Span::raw(format!("  {}", q.unit()))),
                    _ => {}
                }
                Line::from(line).render(rows[row], buf);
            }
            3
        } else {
            let unit = if shown.reason.is_none() { q.unit() } else { "" };
            Line::from(vec![
                Span::styled(format!("{} ", q.label()), Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(shown.text.clone(), style),
                Span::raw(format!(" {unit}")),
            ])
            .render(rows[0], buf);
            1
        };
        let mut lines = vec![self.age_line(device, reading, &shown)];
        if self.size == TileSize::Full {
            lines.push(self.secondary_line(device, q));
        }
        lines.push(self.link_line(device));
        for (line, row) in lines.into_iter().zip(rows.iter().skip(used)) {
            line.render(*row, buf);
        }
    }

    fn compact(&self, device: &DeviceView, selected: bool) -> Line<'static> {
        let mut spans = vec![Span::styled(
            format!("{}{:<8}", if selected { "▶" } else { " " }, device.label),
            if selected { self.theme.selected_border() } else { Style::new() },
        )];
        if !device.connected {
            spans.push(Span::styled("DISCONNECTED ", self.theme.bad()));
        }
        if let Some(r) = primary(device) {
            let shown = self.shown(device, r);
            spans.push(Span::raw(format!("{} ", r.quantity.label())));
            spans.push(Span::styled(shown.text.clone(), self.value_style(device, r.quantity)));
            match shown.reason {
                None => {
                    spans.push(Span::raw(format!(" {}", r.quantity.unit())));
                    if let Some(a) = r.age {
                        spans.push(Span::styled(format!(" {}", age(a)), self.theme.dim()));
                    }
                }
                Some(reason) => spans.push(Span::styled(format!(" {reason}"), self.theme.bad())),
            }
        }
        if device.contact == Some(false) && !spans.iter().any(|s| s.content.contains("NO CONTACT")) {
            spans.push(Span::styled(" NO CONTACT", self.theme.bad()));
        }
        if let Some(b) = device.battery_pct {
            spans.push(Span::raw(format!(" bat {b:.0}%")));
        }
        Line::from(spans)
    }
}

fn find(device: &DeviceView, quantity: Quantity) -> Option<&Reading> {
    device.readings.iter().find(|r| r.quantity == quantity)
}

fn primary(device: &DeviceView) -> Option<&Reading> {
    PRIMARY.iter().find_map(|q| find(device, *q))
}

fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// Three-row glyphs (the figlet "future" font), so the main value reads
/// from across the room.
fn glyph(c: char) -> Option<[&'static str; 3]> {
    Some(match c {
        '0' => ["┏━┓", "┃ ┃", "┗━┛"],
        '1' => ["╺┓ ", " ┃ ", "╺┻╸"],
        '2' => ["┏━┓", "┏━┛", "┗━╸"],
        '3' => ["┏━┓", "╺━┫", "┗━┛"],
        '4' => ["╻ ╻", "┗━┫", "  ╹"],
        '5' => ["┏━╸", "┗━┓", "┗━┛"],
        '6' => ["┏━╸", "┣━┓", "┗━┛"],
        '7' => ["╺━┓", "  ┃", "  ╹"],
        '8' => ["┏━┓", "┣━┫", "┗━┛"],
        '9' => ["┏━┓", "┗━┫", "╺━┛"],
        '.' => [" ", " ", "╹"],
        '-' => ["   ", "╺━╸", "   "],
        '/' => ["  ╱", " ╱ ", "╱  "],
        _ => return None,
    })
}

/// `text` in large glyphs, one column apart, or `None` if it has a
/// character the font lacks.
fn big_text(text: &str) -> Option<[String; 3]> {
    let mut rows: [String; 3] = Default::default();
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c)?;
        for (row, part) in rows.iter_mut().zip(g) {
            if i > 0 {
                row.push(' ');
            }
            row.push_str(part);
        }
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_text_lines_up() {
        let rows = big_text("37.6").unwrap();
        assert!(rows.iter().all(|r| r.chars().count() == 13));
        assert_eq!(rows[2], "┗━┛   ╹ ╹ ┗━┛");
        assert!(big_text("12a").is_none());
        assert_eq!(big_text("--").unwrap()[1], "╺━╸ ╺━╸");
    }
}
