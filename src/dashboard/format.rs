//! Text formatting shared by the screen regions.

use std::time::Duration;

use crate::model::{Condition, Quantity};

/// `H:MM:SS`.
#[must_use]
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `M:SS` for short countdowns (audio pause).
#[must_use]
pub fn mss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// A compact age: `3 s`, `12 min`, `2 h 05`.
#[must_use]
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {:02}", s / 3600, (s / 60) % 60)
    }
}

/// Decimals a quantity is shown with: temperatures to 0.1 °C, the rest whole.
#[must_use]
pub const fn decimals(quantity: Quantity) -> usize {
    match quantity {
        Quantity::BodyTemperatureC | Quantity::SkinTemperatureC | Quantity::AmbientTemperatureC => 1,
        _ => 0,
    }
}

#[must_use]
pub fn value(quantity: Quantity, v: f64) -> String {
    format!("{v:.prec$}", prec = decimals(quantity))
}

/// The quantity an alarm condition is about, for colouring a tile's value
/// and giving the alarm's value a unit.
#[must_use]
pub const fn condition_quantity(condition: Condition) -> Option<Quantity> {
    match condition {
        Condition::HrHigh | Condition::HrLow | Condition::HrRise => Some(Quantity::HeartRateBpm),
        Condition::TempHigh => Some(Quantity::BodyTemperatureC),
        Condition::TempRise => Some(Quantity::SkinTemperatureC),
        Condition::Spo2Low => Some(Quantity::Spo2Pct),
        Condition::BpHigh => Some(Quantity::SystolicMmhg),
        Condition::TechBatteryLow => Some(Quantity::BatteryPct),
        _ => None,
    }
}

/// An alarm's value with the unit of its condition (`152 bpm`).
#[must_use]
pub fn alarm_value(condition: Condition, v: f64) -> String {
    match condition_quantity(condition) {
        Some(q) => format!("{} {}", value(q, v), q.unit()),
        None => format!("{v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_monitor() {
        assert_eq!(hms(Duration::from_secs(3 * 3600 + 62)), "3:01:02");
        assert_eq!(mss(Duration::from_secs(105)), "1:45");
        assert_eq!(age(Duration::from_secs(7)), "7 s");
        assert_eq!(age(Duration::from_secs(720)), "12 min");
        assert_eq!(age(Duration::from_secs(2 * 3600 + 300)), "2 h 05");
    }

    #[test]
    fn values_use_quantity_precision() {
        assert_eq!(value(Quantity::BodyTemperatureC, 37.64), "37.6");
        assert_eq!(value(Quantity::HeartRateBpm, 151.6), "152");
        assert_eq!(alarm_value(Condition::HrHigh, 152.0), "152 bpm");
    }
}
