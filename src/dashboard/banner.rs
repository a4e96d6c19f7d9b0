//! The alarm banner (the one alarm that matters most, coloured and
//! flashing by priority) and the STALLED banner.

use std::fmt::Write as _;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};

use super::format::{alarm_value, hms, mss};
use super::theme::{Theme, unacknowledged};
use super::view::{ViewState, alarm_name, top_alarm};
use crate::snapshot::Snapshot;

#[derive(Debug)]
pub struct AlarmBanner<'a> {
    pub snapshot: &'a Snapshot,
    pub view: &'a ViewState,
    pub theme: Theme,
}

impl Widget for AlarmBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let s = self.snapshot;
        let Some(top) = top_alarm(&s.alarms) else {
            Paragraph::new(" no active alarms").style(self.theme.dim()).render(area, buf);
            return;
        };
        let mut text = String::from(" ");
        if !unacknowledged(top) {
            text.push_str("acknowledged: ");
        }
        if top.condition.is_technical() {
            text.push_str("TECHNICAL ");
        }
        let _ = write!(text, "{} ▲ {}", top.priority.as_str().to_uppercase(), alarm_name(top));
        if let Some(v) = top.value {
            let _ = write!(text, " {}", alarm_value(top.condition, v));
        }
        let _ =
            write!(text, " · {} · since {}", top.state.as_str(), hms(top.since.since(crate::model::SessionTime::ZERO)));
        let others =
            s.alarms.iter().filter(|a| unacknowledged(a)).count().saturating_sub(usize::from(unacknowledged(top)));
        if others > 0 {
            let _ = write!(text, " · +{others} more");
        }
        if let Some(until) = s.audio_paused_until.filter(|u| *u > s.now) {
            let _ = write!(text, " · audio paused {}", mss(until.since(s.now)));
        }
        Paragraph::new(Line::raw(text)).style(self.theme.banner(top, self.view.flash_clock)).render(area, buf);
    }
}

/// Shown when the pipeline reports `tech.stalled` or when no new snapshot
/// arrived for [`super::STALL_AFTER`] of real time.
#[derive(Debug)]
pub struct StalledBanner<'a> {
    pub view: &'a ViewState,
    pub theme: Theme,
}

impl Widget for StalledBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let text = match self.view.stalled_for {
            Some(d) => {
                format!(" STALLED — no update for {} s: values blanked, monitoring may have stopped ", d.as_secs())
            }
            None => " STALLED — the pipeline missed its tick (tech.stalled): values may be late ".to_owned(),
        };
        Paragraph::new(text).style(self.theme.stalled()).centered().render(area, buf);
    }
}
