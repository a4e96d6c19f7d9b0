//! The report's axes: time ticks that read right from a 5-minute to a
//! 24-hour session, and y ranges taken from the data.

use crate::model::SessionTime;

/// Tick steps in seconds, smallest first: 10 s to 6 h.
const STEPS_S: [f64; 13] =
    [10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0];
/// Ticks on the axis: the smallest step that gives at most this many.
const MAX_TICKS: usize = 10;
/// Sessions up to this long are labelled `m:ss` (a 10-minute session reads
/// `2:00`, `4:00`, not `0:02`), longer ones `h:mm`.
const MINUTES_SECONDS_UP_TO_S: f64 = 600.0;

/// The shared x axis of every panel: seconds since the first dose (or,
/// without one, since the start).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TimeAxis {
    zero: SessionTime,
    /// The axis' ends, seconds relative to `zero`.
    pub start: f64,
    pub end: f64,
    pub ticks: Vec<f64>,
    pub minutes_seconds: bool,
    pub title: String,
}

impl TimeAxis {
    /// The axis of a session `[0, end]`, zero at `dose` where there is one.
    pub(crate) fn new(dose: Option<SessionTime>, end: SessionTime) -> TimeAxis {
        let zero = dose.unwrap_or(SessionTime::ZERO);
        let start = -zero.as_secs_f64();
        // A session of a few seconds still gets an axis a minute wide.
        let end = (end.as_secs_f64() - zero.as_secs_f64()).max(start + 60.0);
        let minutes_seconds = end - start <= MINUTES_SECONDS_UP_TO_S;
        let step = STEPS_S.iter().copied().find(|step| ticks(start, end, *step).len() <= MAX_TICKS).unwrap_or(43_200.0);
        let format = if minutes_seconds { "m:ss" } else { "h:mm" };
        let title = match dose {
            Some(_) => format!("time since first dose ({format}; negative before it)"),
            None => format!("time since start ({format})"),
        };
        TimeAxis { zero, start, end, ticks: ticks(start, end, step), minutes_seconds, title }
    }

    /// `at` on the axis: seconds relative to its zero.
    pub(crate) fn x(&self, at: SessionTime) -> f64 {
        at.as_secs_f64() - self.zero.as_secs_f64()
    }

    pub(crate) fn span(&self) -> f64 {
        self.end - self.start
    }

    /// A tick's label: `h:mm`, or `m:ss` on a short axis; negative before
    /// the dose.
    pub(crate) fn label(&self, x: f64) -> String {
        #[allow(clippy::cast_possible_truncation)]
        let total = if self.minutes_seconds { x.round() as i64 } else { (x / 60.0).round() as i64 };
        let sign = if total < 0 { "-" } else { "" };
        let t = total.abs();
        format!("{sign}{}:{:02}", t / 60, t % 60)
    }
}

/// Multiples of `step` in `[start, end]`.
fn ticks(start: f64, end: f64, step: f64) -> Vec<f64> {
    let first = (start / step).ceil();
    let last = (end / step).floor();
    #[allow(clippy::cast_possible_truncation)]
    let n = (last - first) as i64;
    (0..=n).map(|i| (first + i as f64) * step).collect()
}

/// A y range over `values` and `marks` (limit lines) with a little room
/// above and below; NaN is ignored. Empty data gives `0..1`.
pub(crate) fn y_range(values: &[f64], marks: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .copied()
        .chain(marks)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    // A flat series still gets a band around it.
    let pad = ((hi - lo) * 0.06).max(hi.abs().max(1.0) * 0.01);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(dose_s: Option<u64>, end_s: u64) -> TimeAxis {
        TimeAxis::new(dose_s.map(SessionTime::from_secs), SessionTime::from_secs(end_s))
    }

    fn labels(a: &TimeAxis) -> Vec<String> {
        a.ticks.iter().map(|x| a.label(*x)).collect()
    }

    #[test]
    fn ticks_read_right_from_five_minutes_to_a_day() {
        assert_eq!(labels(&axis(None, 300)), ["0:00", "1:00", "2:00", "3:00", "4:00", "5:00"]);
        assert_eq!(labels(&axis(None, 600)), ["0:00", "2:00", "4:00", "6:00", "8:00", "10:00"]);
        assert_eq!(labels(&axis(None, 601)), ["0:00", "0:02", "0:04", "0:06", "0:08", "0:10"]);
        assert_eq!(
            labels(&axis(Some(1800), 8 * 3600)),
            ["0:00", "1:00", "2:00", "3:00", "4:00", "5:00", "6:00", "7:00"]
        );
        assert_eq!(labels(&axis(Some(1800), 3600)), ["-0:30", "-0:20", "-0:10", "0:00", "0:10", "0:20", "0:30"]);
        assert_eq!(labels(&axis(None, 24 * 3600)).len(), 9, "every 3 h");
        assert_eq!(axis(Some(1800), 3600).title, "time since first dose (h:mm; negative before it)");
        // Every session length from 5 min to 24 h, in 20 s steps, with and
        // without a dose a quarter of the way in.
        for end in (300..=24 * 3600).step_by(20) {
            for dose in [None, Some(end / 4)] {
                let a = axis(dose, end);
                assert!((4..=MAX_TICKS).contains(&a.ticks.len()), "{end} s, dose {dose:?}: {:?}", labels(&a));
            }
        }
    }
}
