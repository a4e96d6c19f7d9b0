//! The session clock: mode, time since start, local wall time, time since
//! the last dose, participant code.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::format::hms;
use super::theme::Theme;
use super::view::ViewState;
use crate::snapshot::{Mode, Snapshot};

#[derive(Debug)]
pub struct Header<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.snapshot;
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let sep = || Span::styled(" │ ", self.theme.dim());
        let mode = match s.mode {
            Mode::Live => "LIVE".to_owned(),
            Mode::Simulated => "SIMULATED".to_owned(),
            Mode::Replay { paused, speed } => {
                let state = if paused { "‖ PAUSED" } else { "▶" };
                if speed.is_finite() { format!("REPLAY {state} {speed}×") } else { format!("REPLAY {state} max") }
            }
        };
        let mut spans = vec![Span::styled(format!(" {mode} "), bold.add_modifier(Modifier::REVERSED))];
        if s.finished {
            spans.push(Span::styled(" ENDED", bold));
        }
        spans.extend([
            Span::raw(" T+"),
            Span::styled(hms(s.now.since(crate::model::SessionTime::ZERO)), bold),
            sep(),
            Span::raw(self.view.wall_clock.format("%H:%M:%S").to_string()),
        ]);
        if matches!(s.mode, Mode::Replay { .. }) {
            let recorded =
                s.start_utc + chrono::Duration::nanoseconds(i64::try_from(s.now.as_nanos()).unwrap_or(i64::MAX));
            spans.push(Span::styled(format!(" (rec {}Z)", recorded.format("%Y-%m-%d %H:%M:%S")), self.theme.dim()));
        }
        spans.push(sep());
        match s.last_dose_at {
            Some(at) => {
                spans.push(Span::raw("dose +"));
                spans.push(Span::styled(hms(s.now.since(at)), bold));
            }
            None => spans.push(Span::styled("no dose marked", self.theme.dim())),
        }
        spans.push(sep());
        spans.push(Span::raw(format!("participant {}", s.participant.as_deref().unwrap_or("anon"))));
        Line::from(spans).render(area, buf);
    }
}
