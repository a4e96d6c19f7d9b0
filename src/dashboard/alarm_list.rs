//! The alarm list: every alarm not yet cleared, with state, priority,
//! start time and acknowledgement.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Widget};

use super::format::{alarm_value, hms};
use super::theme::Theme;
use crate::model::{AlarmState, SessionTime};
use crate::snapshot::Snapshot;

/// Narrower than this, rows drop the column layout.
const WIDE: u16 = 72;

#[derive(Debug)]
pub struct AlarmList<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: Theme,
}

impl Widget for AlarmList<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let alarms = &self.snapshot.alarms;
        let block = Block::new()
            .borders(Borders::TOP)
            .border_style(self.theme.dim())
            .title(format!(" alarms ({}) ", alarms.len()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 {
            return;
        }
        if alarms.is_empty() {
            Line::styled(" none", self.theme.dim()).render(inner, buf);
            return;
        }
        if inner.width < WIDE {
            self.narrow(inner, buf);
            return;
        }
        let header = format!(
            " {:<6} {:<18} {:<8} {:<12} {:>8} {:>10}  {}",
            "PRI", "ALARM", "DEVICE", "STATE", "SINCE", "VALUE", "ACK"
        );
        let mut y = inner.y;
        let bottom = inner.y + inner.height;
        Line::styled(header, Style::new().add_modifier(Modifier::DIM)).render(Rect { y, height: 1, ..inner }, buf);
        y += 1;
        let room = usize::from(bottom.saturating_sub(y));
        let overflow = alarms.len() > room;
        let rows = if overflow { room.saturating_sub(1) } else { room };
        for a in alarms.iter().take(rows) {
            let ack = match a.state {
                AlarmState::Acknowledged => "yes",
                AlarmState::Latched => "NEEDED",
                _ => "no",
            };
            let text = format!(
                " {:<6} {:<18} {:<8} {:<12} {:>8} {:>10}  {}",
                a.priority.as_str().to_uppercase(),
                a.condition.as_str(),
                a.device.as_deref().unwrap_or("-"),
                a.state.as_str(),
                hms(a.since.since(SessionTime::ZERO)),
                a.value.map(|v| alarm_value(a.condition, v)).unwrap_or_default(),
                ack,
            );
            Line::styled(text, self.theme.list_row(a)).render(Rect { y, height: 1, ..inner }, buf);
            y += 1;
        }
        if overflow && y < bottom {
            let more = alarms.len() - rows;
            Line::styled(format!(" … {more} more"), self.theme.dim()).render(Rect { y, height: 1, ..inner }, buf);
        }
    }
}

impl AlarmList<'_> {
    /// One alarm per row, most important words first, no header.
    fn narrow(&self, inner: Rect, buf: &mut Buffer) {
        let alarms = &self.snapshot.alarms;
        let room = usize::from(inner.height);
        let overflow = alarms.len() > room;
        let rows = if overflow { room.saturating_sub(1) } else { room };
        let mut y = inner.y;
        for a in alarms.iter().take(rows) {
            let mut text = format!(" {} {}", a.priority.as_str().to_uppercase(), a.condition.as_str());
            if let Some(d) = &a.device {
                text.push(' ');
                text.push_str(d);
            }
            text.push(' ');
            text.push_str(a.state.as_str());
            Line::styled(text, self.theme.list_row(a)).render(Rect { y, height: 1, ..inner }, buf);
            y += 1;
        }
        if overflow {
            let more = alarms.len() - rows;
            Line::styled(format!(" … {more} more"), self.theme.dim()).render(Rect { y, height: 1, ..inner }, buf);
        }
    }
}
