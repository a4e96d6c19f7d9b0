//! The status bar: audio-pause countdown, recording, counters of dropped
//! and malformed data, the last action's feedback, and where help is.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::format::mss;
use super::theme::Theme;
use super::view::ViewState;
use crate::snapshot::Snapshot;

#[derive(Debug)]
pub struct StatusBar<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
}

impl Widget for StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.snapshot;
        let sep = || Span::styled(" │ ", self.theme.dim());
        let mut spans = Vec::new();
        // First, because it is what silences alarms.
        if let Some(until) = s.audio_paused_until.filter(|u| *u > s.now) {
            let style = if self.theme.no_color {
                Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD)
            };
            spans.push(Span::styled(format!(" AUDIO PAUSED {} ", mss(until.since(s.now))), style));
            spans.push(sep());
        }
        if let Some(notice) = self.view.current_notice() {
            spans.push(Span::styled(notice.to_owned(), Style::new().add_modifier(Modifier::BOLD)));
            spans.push(sep());
        }
        let c = &s.counters;
        let counter = |name: &str, n: u64| {
            let style = if n > 0 { self.theme.fg(Color::Yellow) } else { self.theme.dim() };
            Span::styled(format!("{name} {n}"), style)
        };
        spans.extend([
            counter("decode err", c.decode_errors),
            Span::raw(" "),
            counter("bad lines", c.bad_lines),
            Span::raw(" "),
            counter("drops", c.recorder_drops),
        ]);
        if let Some(link) = c.network {
            spans.push(sep());
            if link.connected {
                spans.push(Span::raw("central connected"));
            } else {
                // A lost link is never hidden: the station may be showing
                // this room as offline.
                spans.push(Span::styled(format!("central reconnecting, {} queued", link.queued), self.theme.bad()));
            }
            if link.dropped > 0 {
                spans.push(Span::raw(" "));
                spans.push(counter("net drops", link.dropped));
            }
        }
        spans.push(sep());
        spans.push(Span::styled("? help", self.theme.dim()));
        spans.push(sep());
        // The directory's own name identifies the session; the parent is
        // usually `recordings/`.
        match &s.record_dir {
            Some(dir) => {
                let name =
                    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
                spans.push(Span::raw(format!("rec {name}")));
            }
            None => spans.push(Span::styled("NOT RECORDING", self.theme.bad())),
        }
        Line::from(spans).render(area, buf);
    }
}
