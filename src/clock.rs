//! Session time, real or virtual.
//!
//! Nothing else in vigil reads the system clock for decisions: the alarm
//! engine is given `now`, sources stamp events with the clock, and a virtual
//! clock lets an 8-hour session run in well under a second with exactly the
//! same samples, alarms and recording as at 1×.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::model::SessionTime;

/// How fast a virtual clock runs relative to the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// A positive factor: 1 is real time, 60 is a minute a second.
    Times(f64),
    /// As fast as the machine can go (no pacing at all).
    Max,
}

impl Speed {
    /// The real time to wait from session start until session time `at`,
    /// or `None` at `max` speed.
    #[must_use]
    pub fn real_offset(self, at: SessionTime) -> Option<Duration> {
        match self {
            Speed::Max => None,
            Speed::Times(x) => Some(Duration::from_secs_f64(at.as_secs_f64() / x)),
        }
    }
}

/// Slowest speed: 100 s of wall time for a second of session. Slower is
/// no use, and near zero the pacing offset (session time / speed) overflows
/// a `Duration`, which ended a session at once as if its input had ended.
pub const MIN_SPEED: f64 = 0.01;
/// Fastest finite speed: 11.6 days of session a second. Faster, the
/// virtual clock's `now` (wall time × speed) overflows and panicked; `max`
/// is the way to run without pacing.
pub const MAX_SPEED: f64 = 1e6;

impl FromStr for Speed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match s.trim_end_matches(['x', 'X']).parse::<f64>() {
            Ok(x) if (MIN_SPEED..=MAX_SPEED).contains(&x) => Ok(Speed::Times(x)),
            _ => Err(format!(
                "`{}` is not a speed: give a number from {MIN_SPEED} to {MAX_SPEED:.0} (0.25, 1, 60) or `max`",
                crate::excerpt::excerpt(s)
            )),
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::Max => f.write_str("max"),
            Speed::Times(x) => write!(f, "{x}x"),
        }
    }
}

/// Now as a session start: UTC to the whole microsecond.
///
/// With a real clock's session times also in whole microseconds, every
/// recorded `t` is a whole microsecond, so a sample's `t` (which
/// `samples.arrow` keeps in microseconds) equals its notification's (which
/// `notifications.arrow` keeps in nanoseconds) and the two files join on
/// it. A sample stamped back from its notification (an RR interval's beat)
/// is the exception: it has no notification of its own.
#[must_use]
pub fn start_now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// `d` rounded down to a whole microsecond.
fn whole_micros(d: Duration) -> Duration {
    Duration::new(d.as_secs(), d.subsec_micros() * 1000)
}

/// The session's clock.
///
/// A real clock measures session time with the monotonic `Instant`; a
/// virtual clock's time is whatever the driving source says it is (the
/// scheduled time of its events), paced against the wall clock by `speed`.
/// The instant is tokio's (the standard one outside tests), so a test on
/// tokio's paused clock paces a session without waiting.
#[derive(Debug, Clone)]
pub struct Clock {
    kind: ClockKind,
    /// Session start as UTC: a recording's `t` is this plus session time.
    start_utc: DateTime<Utc>,
    /// Monotonic instant of session start (also the pacing origin of a
    /// virtual clock).
    start: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockKind {
    Real,
    Virtual(Speed),
}

impl Clock {
    #[must_use]
    pub fn real() -> Self {
        Self { kind: ClockKind::Real, start_utc: start_now(), start: Instant::now() }
    }

    #[must_use]
    pub fn virtual_at(speed: Speed, start_utc: DateTime<Utc>) -> Self {
        Self { kind: ClockKind::Virtual(speed), start_utc, start: Instant::now() }
    }

    #[must_use]
    pub fn kind(&self) -> ClockKind {
        self.kind
    }

    #[must_use]
    pub fn is_virtual(&self) -> bool {
        matches!(self.kind, ClockKind::Virtual(_))
    }

    #[must_use]
    pub fn start_utc(&self) -> DateTime<Utc> {
        self.start_utc
    }

    /// Session time now, by the wall clock (real clock), or the session time
    /// the pacing has reached (virtual clock at a finite speed). At `max`
    /// speed there is no "now" apart from the events: returns `None`.
    #[must_use]
    pub fn now(&self) -> Option<SessionTime> {
        let elapsed = self.start.elapsed();
        match self.kind {
            ClockKind::Real => Some(SessionTime::ZERO.saturating_add(whole_micros(elapsed))),
            ClockKind::Virtual(Speed::Times(x)) => Some(SessionTime::ZERO.saturating_add(elapsed.mul_f64(x))),
            ClockKind::Virtual(Speed::Max) => None,
        }
    }

    /// Wait until session time `at` has come (no wait at `max` speed or for
    /// a time already past).
    pub async fn sleep_until(&self, at: SessionTime) {
        let offset = match self.kind {
            ClockKind::Real => Some(Duration::from_nanos(at.as_nanos())),
            ClockKind::Virtual(speed) => speed.real_offset(at),
        };
        if let Some(offset) = offset {
            tokio::time::sleep_until(self.start + offset).await;
        }
    }

    /// UTC wall time of a session time.
    #[must_use]
    pub fn utc(&self, at: SessionTime) -> DateTime<Utc> {
        let nanos = i64::try_from(at.as_nanos()).unwrap_or(i64::MAX);
        self.start_utc + chrono::Duration::nanoseconds(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_parses_numbers_and_max() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("60".parse::<Speed>(), Ok(Speed::Times(60.0)));
        assert_eq!("0.25".parse::<Speed>(), Ok(Speed::Times(0.25)));
        assert!("0".parse::<Speed>().is_err());
        assert!("-1".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
        assert!("NaN".parse::<Speed>().is_err());
        assert_eq!("0.01".parse::<Speed>(), Ok(Speed::Times(MIN_SPEED)));
        assert_eq!("1e6x".parse::<Speed>(), Ok(Speed::Times(MAX_SPEED)));
        for out_of_range in ["0.0099", "1000001", "1e308", "1e-300", "inf"] {
            assert!(out_of_range.parse::<Speed>().is_err(), "{out_of_range}");
        }
    }

    /// Recorded times are whole microseconds (see [`start_now`]): the start
    /// and every session time of a real clock.
    #[test]
    fn a_real_clock_counts_whole_microseconds() {
        for _ in 0..3 {
            let clock = Clock::real();
            assert_eq!(clock.start_utc().timestamp_subsec_nanos() % 1000, 0, "{}", clock.start_utc());
            assert_eq!(start_now().timestamp_subsec_nanos() % 1000, 0);
            std::thread::sleep(Duration::from_micros(150));
            let now = clock.now().unwrap();
            assert!(now >= SessionTime::ZERO.saturating_add(Duration::from_micros(150)), "{now:?}");
            assert_eq!(now.as_nanos() % 1000, 0, "{now:?}");
        }
    }

    #[test]
    fn virtual_clock_maps_session_time_to_utc() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let clock = Clock::virtual_at(Speed::Max, start);
        assert_eq!(clock.now(), None);
        assert_eq!(clock.utc(SessionTime::from_secs(90)).to_rfc3339(), "2026-01-01T10:01:30+00:00");
    }
}
