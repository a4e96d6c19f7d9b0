//! The alarm limits in force, on request (`L`), worded from the engine's
//! typed limits.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use std::time::Duration;

use super::theme::Theme;
use crate::model::Condition;
use crate::snapshot::{Limit, LimitRule, Snapshot};

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
                    format!(" {:<18} {:<7} {}", l.condition.as_str(), l.priority.as_str(), text(l)),
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

/// One limit in words, such as `> 120 bpm for 30 s`.
#[must_use]
pub fn text(limit: &Limit) -> String {
    match &limit.rule {
        LimitRule::Threshold { direction, threshold, unit, onset } => {
            format!("{} {} {unit} for {}", direction.symbol(), number(*threshold, unit), duration(*onset))
        }
        LimitRule::Rise { celsius, within } => {
            format!("≥ {} °C rise within {}", number(*celsius, "°C"), duration(*within))
        }
        LimitRule::BloodPressure { systolic_above_mmhg, diastolic_above_mmhg } => {
            format!("SBP > {systolic_above_mmhg} or DBP > {diastolic_above_mmhg} mmHg")
        }
        LimitRule::Silence { min, interval_factor } => {
            format!("no data for S = max({}, {interval_factor} × interval)", duration(*min))
        }
        LimitRule::LongSilence { factor } => format!("no data for {factor} × S"),
        LimitRule::Holds { onset } => match limit.condition {
            Condition::TechDisconnected => format!("disconnected {}", after(*onset)),
            Condition::TechNoContact => format!("no skin contact {}", after(*onset)),
            Condition::TechInvalid => format!("invalid value {}", after(*onset)),
            Condition::TechRecording => format!("recording failing, {}", after(*onset)),
            Condition::TechStalled => format!("pipeline missed its tick, {}", after(*onset)),
            Condition::TechAlarmCommand => format!("alarm command dead or not reading, {}", after(*onset)),
            Condition::TechNetwork => format!("messages for the central station lost (--publish), {}", after(*onset)),
            other => format!("{other}, {}", after(*onset)),
        },
        LimitRule::Unacknowledged { after } => format!("unacknowledged for {}", duration(*after)),
        LimitRule::AtOrBelowPct { pct } => format!("≤ {pct} %"),
        LimitRule::EcgSilence { after } => format!("ECG refused, or none for {} while connected", duration(*after)),
    }
}

fn number(v: f64, unit: &str) -> String {
    if unit == "°C" { format!("{v:.1}") } else { format!("{v}") }
}

fn after(d: Duration) -> String {
    if d.is_zero() { "at once".to_owned() } else { format!("for {}", duration(d)) }
}

fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 && s % 60.0 == 0.0 { format!("{} min", s / 60.0) } else { format!("{s} s") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::AlarmEngine;
    use crate::config::AlarmConfig;
    use crate::model::Priority;

    #[test]
    fn the_default_limits_read_as_limits() {
        let limits = AlarmEngine::new(AlarmConfig::default()).limits();
        let text = |c: Condition, p: Priority| {
            limits.iter().find(|l| l.condition == c && l.priority == p).map(text).unwrap_or_default()
        };
        assert_eq!(text(Condition::HrHigh, Priority::Medium), "> 120 bpm for 30 s");
        assert_eq!(text(Condition::TempHigh, Priority::Medium), "≥ 38.5 °C for 2 min");
        assert_eq!(text(Condition::Spo2Low, Priority::High), "< 85 % for 10 s");
        assert_eq!(text(Condition::TempRise, Priority::Medium), "≥ 0.5 °C rise within 30 min");
        assert_eq!(text(Condition::TechDisconnected, Priority::High), "unacknowledged for 60 s");
        assert_eq!(text(Condition::TechRecording, Priority::High), "recording failing, at once");
        assert_eq!(text(Condition::TechStale, Priority::Low), "no data for S = max(5 s, 3 × interval)");
        assert_eq!(text(Condition::TechEcg, Priority::Medium), "ECG refused, or none for 5 s while connected");
        assert_eq!(
            text(Condition::TechNetwork, Priority::Medium),
            "messages for the central station lost (--publish), at once"
        );
    }
}
