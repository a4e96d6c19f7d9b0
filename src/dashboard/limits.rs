//! The alarm limits in force, on request (`L`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::theme::Theme;
use crate::snapshot::Snapshot;

#[derive(Debug)]
pub struct Limits<'a> {
    pub snapshot: &'a Snapshot,
    pub theme: Theme,
}

impl Widget for Limits<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let limits = &self.snapshot.limits;
        let mut lines: Vec<Line> = limits
            .iter()
            .map(|l| {
                Line::styled(
                    format!(" {:<18} {:<7} {}", l.condition.as_str(), l.priority.as_str(), l.text),
                    self.theme.fg(Theme::priority_color(l.priority)),
                )
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::styled(" no limits published", self.theme.dim()));
        }
        lines.push(Line::styled(" l changes one for this session", self.theme.dim()));
        let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
        let area = super::popup(area, 64, height);
        if area.is_empty() {
            return;
        }
        Clear.render(area, buf);
        Paragraph::new(lines).block(Block::bordered().title(" alarm limits — Esc closes ")).render(area, buf);
    }
}
