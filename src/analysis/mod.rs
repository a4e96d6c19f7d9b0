//! Offline analysis of recorded sessions (`vigil analyze`, summary, report).
//!
//! - [`beats`]: a recording's RR intervals as beats in contiguous
//!   segments, and each segment's artifact-corrected NN intervals.
//! - [`hrv`]: heart rate variability from RR intervals: artifact
//!   correction, time domain, frequency domain, DFA α1. Pure functions over
//!   slices of milliseconds; windows and recordings are the caller's.

pub mod beats;
pub mod hrv;
