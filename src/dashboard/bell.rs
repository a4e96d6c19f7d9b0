//! The audible alarm signal on a terminal: BEL in a pattern by priority,
//! after IEC 60601-1-8's bursts (high: a burst every few seconds; medium:
//! a shorter burst, less often; low: once).
//!
//! Only alarms with [`AlarmStatus::audible`] count: the pipeline clears it
//! for acknowledged alarms and during audio pause, and sets it again when a
//! new or escalated alarm breaks through. Any alarm that newly becomes
//! audible restarts the pattern at once, so a break-through is heard
//! immediately rather than at the next burst.
//!
//! Pure: the caller passes the time (real time since the dashboard started)
//! and writes the BEL. A terminal bell can be muted by tmux, ssh or terminal
//! settings; the help overlay says so and names `--alarm-command`.

use std::time::Duration;

use crate::model::{AlarmStatus, Condition, DeviceLabel, Priority};

/// Gap between the BELs of a burst. Terminals merge BELs written in one go,
/// so a burst is spread over ticks.
pub const PULSE_GAP: Duration = Duration::from_millis(250);

/// (BELs per burst, time between burst starts; `None` = once).
#[must_use]
pub const fn pattern(priority: Priority) -> (u32, Option<Duration>) {
    match priority {
        Priority::High => (3, Some(Duration::from_secs(5))),
        Priority::Medium => (2, Some(Duration::from_secs(15))),
        Priority::Low => (1, None),
    }
}

type AlarmKey = (Condition, Option<DeviceLabel>, Priority);

#[derive(Debug, Clone, Copy)]
struct Burst {
    priority: Priority,
    start: Duration,
    sent: u32,
}

#[derive(Debug, Default)]
pub struct Bell {
    audible: Vec<AlarmKey>,
    burst: Option<Burst>,
}

impl Bell {
    /// Whether to ring once now. Call at every tick (a few per second).
    pub fn tick(&mut self, now: Duration, alarms: &[AlarmStatus]) -> bool {
        let current: Vec<AlarmKey> =
            alarms.iter().filter(|a| a.audible).map(|a| (a.condition, a.device.clone(), a.priority)).collect();
        let grew = current.iter().any(|k| !self.audible.contains(k));
        let top = current.iter().map(|k| k.2).max();
        self.audible = current;
        let Some(priority) = top else {
            self.burst = None;
            return false;
        };
        let burst = match self.burst {
            Some(b) if !grew && b.priority == priority => self.burst.insert(b),
            _ => self.burst.insert(Burst { priority, start: now, sent: 0 }),
        };
        let (pulses, period) = pattern(priority);
        if let Some(period) = period {
            let elapsed = now.saturating_sub(burst.start);
            if elapsed >= period {
                let whole = elapsed.as_nanos() / period.as_nanos();
                burst.start += period * u32::try_from(whole).unwrap_or(u32::MAX);
                burst.sent = 0;
            }
        }
        if burst.sent < pulses && now >= burst.start + PULSE_GAP * burst.sent {
            burst.sent += 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlarmState;
    use crate::model::SessionTime;

    fn alarm(condition: Condition, priority: Priority, audible: bool) -> AlarmStatus {
        AlarmStatus {
            condition,
            device: Some("chest".into()),
            priority,
            state: AlarmState::Active,
            since: SessionTime::ZERO,
            changed: SessionTime::ZERO,
            value: None,
            audible,
        }
    }

    /// Times (ms) at which the bell rings over `span_ms` of 250 ms ticks.
    fn rings(bell: &mut Bell, from_ms: u64, span_ms: u64, alarms: &[AlarmStatus]) -> Vec<u64> {
        (from_ms..from_ms + span_ms).step_by(250).filter(|&t| bell.tick(Duration::from_millis(t), alarms)).collect()
    }

    #[test]
    fn high_bursts_every_five_seconds() {
        let mut bell = Bell::default();
        let a = [alarm(Condition::HrHigh, Priority::High, true)];
        assert_eq!(rings(&mut bell, 0, 11_000, &a), [0, 250, 500, 5000, 5250, 5500, 10_000, 10_250, 10_500]);
    }

    #[test]
    fn medium_is_slower_and_low_rings_once() {
        let mut bell = Bell::default();
        let m = [alarm(Condition::HrHigh, Priority::Medium, true)];
        assert_eq!(rings(&mut bell, 0, 20_000, &m), [0, 250, 15_000, 15_250]);
        let mut bell = Bell::default();
        let l = [alarm(Condition::HrHigh, Priority::Low, true)];
        assert_eq!(rings(&mut bell, 0, 60_000, &l), [0]);
    }

    #[test]
    fn audio_pause_silences_and_break_through_rings_at_once() {
        let mut bell = Bell::default();
        let paused = [alarm(Condition::HrHigh, Priority::Medium, false)];
        assert!(rings(&mut bell, 0, 10_000, &paused).is_empty());
        // A new alarm breaks through the pause: heard at the very next tick.
        let broke =
            [alarm(Condition::HrHigh, Priority::Medium, false), alarm(Condition::TempHigh, Priority::High, true)];
        assert_eq!(rings(&mut bell, 10_000, 1000, &broke), [10_000, 10_250, 10_500]);
        // Escalation of a running medium alarm restarts the pattern at high.
        let mut bell = Bell::default();
        let m = [alarm(Condition::HrHigh, Priority::Medium, true)];
        assert_eq!(rings(&mut bell, 0, 3000, &m), [0, 250]);
        let h = [alarm(Condition::HrHigh, Priority::High, true)];
        assert_eq!(rings(&mut bell, 3000, 1000, &h), [3000, 3250, 3500]);
    }
}
