//! Offline analysis of recorded sessions (`vigil analyze`, summary, report).
//!
//! - [`alarms`]: alarm episodes (the one definition of an alarm count),
//!   counted live or over a recording, and time in alarm per condition and
//!   priority.
//! - [`stats`]: vital statistics of a series and its data quality (samples
//!   without contact, invalid or in a gap: counted, never used).
//! - [`beats`]: a recording's RR intervals as beats in contiguous
//!   segments, and each segment's artifact-corrected NN intervals.
//! - [`hrv`]: heart rate variability from RR intervals: artifact
//!   correction, time domain, frequency domain, DFA α1. Pure functions over
//!   slices of milliseconds; windows and recordings are the caller's.
//! - [`doses`]: which operator markers are doses.
//! - [`rpeaks`]: R-peaks in a raw ECG (Pan–Tompkins), and how detected
//!   peaks agree with reference beats.
//! - [`rr_check`]: a strap's RR intervals paired with those of its ECG's
//!   R-peaks: agreement, missed and extra beats.
//! - [`windows`]: `--window` specs and the windows they make in a recording.

pub mod alarms;
pub mod beats;
pub mod doses;
pub mod hrv;
pub mod rpeaks;
pub mod rr_check;
pub mod stats;
pub mod windows;
