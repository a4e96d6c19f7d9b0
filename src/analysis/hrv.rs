//! Heart rate variability from RR intervals, as `docs/analysis.md` defines
//! every measure.
//!
//! The order a caller follows: [`artifacts::correct`] turns a contiguous
//! segment's RR intervals into NN intervals; the window's NN intervals then
//! go to [`time::time_domain`], [`frequency::frequency_domain`] and
//! [`dfa::dfa_alpha1`]. All inputs and outputs are milliseconds (f64), all
//! functions pure; a measure that cannot be computed is an [`Unavailable`]
//! reason, never a made-up number.

pub mod artifacts;
pub mod dfa;
pub mod frequency;
pub mod time;

/// Why a measure has no value.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Unavailable {
    /// Fewer intervals than the measure needs.
    #[error("too few intervals: {got}, at least {needed} needed")]
    TooFewBeats {
        /// Intervals the measure needs.
        needed: usize,
        /// Intervals given.
        got: usize,
    },
    /// The intervals span less time than the measure needs (frequency
    /// domain: 2 min, VLF: 5 min).
    #[error("window too short: {got_s:.1} s, at least {needed_s:.0} s needed")]
    TooShort {
        /// Seconds the measure needs.
        needed_s: f64,
        /// Seconds the intervals span.
        got_s: f64,
    },
    /// The intervals span more time than the measure takes (frequency
    /// domain: 48 h, whose 4 Hz series is then 691,200 samples).
    #[error("window too long: {got_s:.0} s, at most {limit_s:.0} s")]
    TooLong {
        /// Seconds the measure takes at most.
        limit_s: f64,
        /// Seconds the intervals span.
        got_s: f64,
    },
    /// An interval is not a finite, positive number of milliseconds.
    #[error("interval {index} is {value} ms, not a finite positive duration")]
    InvalidInterval {
        /// Position of the interval in the input.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The series has no variation where the measure needs some (a ratio
    /// with a zero denominator, a DFA without fluctuation).
    #[error("no variability to measure")]
    NoVariability,
}

/// The first interval that is not finite and positive, as an error.
pub(crate) fn check_intervals(intervals: &[f64]) -> Result<(), Unavailable> {
    match intervals.iter().position(|&v| !(v.is_finite() && v > 0.0)) {
        Some(index) => Err(Unavailable::InvalidInterval { index, value: intervals[index] }),
        None => Ok(()),
    }
}

/// `needed` intervals at least, or the reason.
pub(crate) fn need_beats(intervals: &[f64], needed: usize) -> Result<(), Unavailable> {
    if intervals.len() < needed {
        return Err(Unavailable::TooFewBeats { needed, got: intervals.len() });
    }
    Ok(())
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n − 1); callers ensure at least two values.
pub(crate) fn std_sample(values: &[f64]) -> f64 {
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}
