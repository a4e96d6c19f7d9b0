//! Offline analysis of recorded sessions (`vigil analyze`, summary, report).
//!
//! - [`alarms`]: alarm episodes (the one definition of an alarm count),
//!   counted live or over a recording, and time in alarm per condition and
//!   priority.
//! - [`stats`]: vital statistics of a series and its data quality (samples
//!   without contact, invalid or in a gap: counted, never used).
//! - [`hrv`]: heart rate variability from RR intervals: artifact
//!   correction, time domain, frequency domain, DFA α1. Pure functions over
//!   slices of milliseconds; windows and recordings are the caller's.

pub mod alarms;
pub mod hrv;
pub mod stats;
