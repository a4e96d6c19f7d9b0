//! Colours and flashing, by alarm priority, as IEC 60601-1-8 asks of
//! visual alarm signals: high priority red and flashing at 1.4–2.8 Hz,
//! medium yellow and flashing at 0.4–0.8 Hz, low cyan (or yellow) and
//! steady. Under `NO_COLOR` the same rhythm is carried by reverse video and
//! bold, so flashing still tells priorities apart on a monochrome screen.
//!
//! The flash phase is computed from a time the caller passes in
//! ([`super::ViewState::flash_clock`]); nothing here reads a clock.

use std::time::Duration;

use ratatui::style::{Color, Modifier, Style};

use crate::model::{AlarmState, AlarmStatus, Priority, Quantity};

/// High priority: 2 Hz, 50 % duty (on 250 ms, off 250 ms).
pub const FAST_HALF_PERIOD: Duration = Duration::from_millis(250);
/// Medium priority: 0.5 Hz, 50 % duty (on 1 s, off 1 s).
pub const SLOW_HALF_PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    Fast,
    Slow,
    Steady,
}

impl Flash {
    #[must_use]
    pub const fn for_priority(priority: Priority) -> Self {
        match priority {
            Priority::High => Flash::Fast,
            Priority::Medium => Flash::Slow,
            Priority::Low => Flash::Steady,
        }
    }

    /// Whether the signal is lit at `clock`.
    #[must_use]
    pub fn lit(self, clock: Duration) -> bool {
        let half = match self {
            Flash::Fast => FAST_HALF_PERIOD,
            Flash::Slow => SLOW_HALF_PERIOD,
            Flash::Steady => return true,
        };
        (clock.as_millis() / half.as_millis()).is_multiple_of(2)
    }
}

/// Whether an alarm still asks for attention (not yet acknowledged).
#[must_use]
pub const fn unacknowledged(alarm: &AlarmStatus) -> bool {
    matches!(alarm.state, AlarmState::Active | AlarmState::Escalated | AlarmState::Latched)
}

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub no_color: bool,
}

impl Theme {
    #[must_use]
    pub const fn new(no_color: bool) -> Self {
        Self { no_color }
    }

    /// A foreground colour, or nothing under `NO_COLOR`.
    #[must_use]
    pub fn fg(self, color: Color) -> Style {
        if self.no_color { Style::new() } else { Style::new().fg(color) }
    }

    #[must_use]
    pub const fn priority_color(priority: Priority) -> Color {
        match priority {
            Priority::High => Color::Red,
            Priority::Medium => Color::Yellow,
            Priority::Low => Color::Cyan,
        }
    }

    /// The alarm banner: filled and flashing by priority while
    /// unacknowledged; an acknowledged alarm stays visible, steady and
    /// unfilled.
    #[must_use]
    pub fn banner(self, alarm: &AlarmStatus, clock: Duration) -> Style {
        let color = Self::priority_color(alarm.priority);
        if !unacknowledged(alarm) {
            return if self.no_color { Style::new() } else { Style::new().fg(color) };
        }
        let lit = Flash::for_priority(alarm.priority).lit(clock);
        let bold = Style::new().add_modifier(Modifier::BOLD);
        match (self.no_color, lit) {
            (true, true) => bold.add_modifier(Modifier::REVERSED),
            (true, false) => bold,
            (false, true) => {
                let text = if alarm.priority == Priority::High { Color::White } else { Color::Black };
                bold.fg(text).bg(color)
            }
            (false, false) => bold.fg(color),
        }
    }

    /// A row of the alarm list: coloured by priority, never flashing (the
    /// banner flashes; a list full of flashing rows would be noise).
    #[must_use]
    pub fn list_row(self, alarm: &AlarmStatus) -> Style {
        let mut style = self.fg(Self::priority_color(alarm.priority));
        if unacknowledged(alarm) {
            style = style.add_modifier(Modifier::BOLD);
        }
        style
    }

    /// The STALLED banner: steady and filled, so it cannot be mistaken for
    /// an alarm that flashes off.
    #[must_use]
    pub fn stalled(self) -> Style {
        let s = Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED);
        if self.no_color { s } else { Style::new().add_modifier(Modifier::BOLD).fg(Color::White).bg(Color::Magenta) }
    }

    /// Trace colours by quantity, after bedside monitor habit (HR green,
    /// SpO2 cyan, BP red, temperature white).
    #[must_use]
    pub fn trace(self, quantity: Quantity) -> Style {
        self.fg(match quantity {
            Quantity::HeartRateBpm | Quantity::PulseRateBpm | Quantity::RrIntervalMs => Color::Green,
            Quantity::Spo2Pct => Color::Cyan,
            Quantity::SystolicMmhg | Quantity::DiastolicMmhg | Quantity::MapMmhg => Color::LightRed,
            _ => Color::White,
        })
    }

    #[must_use]
    pub fn dim(self) -> Style {
        if self.no_color { Style::new() } else { Style::new().fg(Color::DarkGray) }
    }

    #[must_use]
    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    #[must_use]
    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    #[must_use]
    pub fn selected_border(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_rates_follow_iec_60601_1_8() {
        let ms = Duration::from_millis;
        // High: 2 Hz.
        assert!(Flash::Fast.lit(ms(0)));
        assert!(!Flash::Fast.lit(ms(250)));
        assert!(Flash::Fast.lit(ms(500)));
        // Medium: 0.5 Hz.
        assert!(Flash::Slow.lit(ms(750)));
        assert!(!Flash::Slow.lit(ms(1250)));
        assert!(Flash::Slow.lit(ms(2000)));
        // Low: steady.
        assert!((0..20).all(|i| Flash::Steady.lit(ms(i * 125))));
    }
}
