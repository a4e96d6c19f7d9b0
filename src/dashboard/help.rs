//! The help overlay: the key bindings (from [`super::keys`]) and a warning
//! that the terminal bell is not a dependable alarm.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::keys::{HELP, HELP_REPLAY};
use super::theme::Theme;

pub const BELL_WARNING: &str = "The terminal bell can be muted or swallowed by tmux, screen, ssh or \
terminal settings: do not rely on it. Use --alarm-command CMD to drive a speaker, pager or watchdog.";

#[derive(Debug)]
pub struct Help {
    pub replay: bool,
    pub theme: Theme,
}

impl Widget for Help {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let keys = HELP.iter().chain(if self.replay { HELP_REPLAY } else { &[] });
        let bold = Style::new().add_modifier(Modifier::BOLD);
        // The warning first: on a small screen it is what must not be cut.
        let mut lines = vec![Line::styled(BELL_WARNING, self.theme.fg(ratatui::style::Color::Yellow)), Line::raw("")];
        lines.extend(keys.map(|(k, what)| Line::from(vec![Span::styled(format!(" {k:<9}"), bold), Span::raw(*what)])));
        let height = u16::try_from(lines.len() + 5).unwrap_or(u16::MAX);
        let area = super::popup(area, 64, height);
        if area.is_empty() {
            return;
        }
        Clear.render(area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" help — Esc closes "))
            .render(area, buf);
    }
}
