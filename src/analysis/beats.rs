//! A recording's RR intervals as beats in contiguous segments, and each
//! segment's artifact-corrected NN intervals.
//!
//! A recorded RR sample is stamped at the beat that ends it (the decoder
//! counts a notification's intervals back from the notification's time).
//! A segment is a run of beats with no hole in it: a new one starts after
//! a disconnection or a gap of the device, at a beat without skin contact or
//! with an invalid interval (those beats are left out), and where beat times
//! and intervals disagree by more than [`MAX_MISMATCH_S`] (notifications
//! lost, or a strap that sent heart rate without RR for a while). So no
//! interval spans a hole, and artifact correction never bridges one.

use std::collections::BTreeMap;

use super::hrv::Unavailable;
use super::hrv::artifacts::{self, BeatClass};
use super::stats::Holes;
use crate::model::{DeviceLabel, Quantity, Sample, SessionTime};
use crate::verdict::{in_contact, plausible};

/// The most a beat's time may differ from the previous beat's time plus
/// its interval within one segment. A notification is stamped when it
/// arrives, up to about a second after its last beat, so successive
/// notifications' beats disagree by up to that much; more means beats are
/// missing.
pub const MAX_MISMATCH_S: f64 = 1.5;

/// One beat: the RR interval it ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beat {
    /// When the beat happened, session time.
    pub at: SessionTime,
    /// The interval from the previous beat, ms.
    pub rr_ms: f64,
    /// Skin contact as the strap reported it with this interval.
    pub contact: Option<bool>,
}

/// Beats of one device with no hole between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub device: String,
    /// Position among the device's segments, from 0.
    pub index: usize,
    pub beats: Vec<Beat>,
}

/// The beats of every device, split into segments at `holes` and where
/// beats are missing, in device then time order.
#[must_use]
pub fn segments(samples: &[Sample], holes: &Holes) -> Vec<Segment> {
    let mut by_device: BTreeMap<&DeviceLabel, Vec<Beat>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.quantity == Quantity::RrIntervalMs) {
        by_device.entry(&s.device).or_default().push(Beat { at: s.at, rr_ms: s.value, contact: s.contact });
    }
    let mut out = Vec::new();
    for (device, mut beats) in by_device {
        // A compacted file sorts rows by time; a live one holds each
        // notification's beats oldest first. Stable, so equal times keep
        // their order.
        beats.sort_by_key(|b| b.at);
        let mut current: Vec<Beat> = Vec::new();
        let mut index = 0;
        let mut close = |current: &mut Vec<Beat>, out: &mut Vec<Segment>| {
            if !current.is_empty() {
                out.push(Segment { device: device.to_string(), index, beats: std::mem::take(current) });
                index += 1;
            }
        };
        for beat in beats {
            if !usable(beat.contact, beat.rr_ms) {
                close(&mut current, &mut out);
                continue;
            }
            if let Some(prev) = current.last() {
                let expected = prev.at.as_secs_f64() + beat.rr_ms / 1000.0;
                let mismatch = (beat.at.as_secs_f64() - expected).abs() > MAX_MISMATCH_S;
                let hole = holes.overlaps(device, prev.at, beat.at);
                if mismatch || hole {
                    close(&mut current, &mut out);
                }
            }
            current.push(beat);
        }
        close(&mut current, &mut out);
    }
    out
}

/// Whether an RR sample is a beat: the vitals' rules (`stats::exclusion`:
/// skin contact, a valid value) and a positive interval.
#[must_use]
pub fn usable(contact: Option<bool>, rr_ms: f64) -> bool {
    in_contact(contact) && plausible(Quantity::RrIntervalMs, rr_ms) && rr_ms > 0.0
}

/// A segment after artifact correction.
#[derive(Debug, Clone, PartialEq)]
pub struct Corrected {
    pub device: String,
    pub index: usize,
    /// The segment's beats, each with the class the detector gave it.
    pub beats: Vec<(Beat, BeatClass)>,
    /// The corrected NN intervals, ms.
    pub nn_ms: Vec<f64>,
    /// When each NN interval ends, session seconds: the segment's first
    /// beat less its interval, plus the NN intervals so far (correction
    /// moves, adds and removes beats, so these are not the recorded times).
    pub nn_end_s: Vec<f64>,
}

impl Corrected {
    /// The NN intervals ending in `[from_s, to_s)`.
    #[must_use]
    pub fn nn_in(&self, from_s: f64, to_s: f64) -> &[f64] {
        let first = self.nn_end_s.partition_point(|&t| t < from_s);
        let end = self.nn_end_s.partition_point(|&t| t < to_s);
        &self.nn_ms[first..end.max(first)]
    }

    /// The recorded beats in `[from_s, to_s)` with their classes.
    pub fn beats_in(&self, from_s: f64, to_s: f64) -> impl Iterator<Item = &(Beat, BeatClass)> {
        self.beats.iter().filter(move |(b, _)| (from_s..to_s).contains(&b.at.as_secs_f64()))
    }
}

/// Corrects one segment (DESIGN.md: per device over each contiguous
/// segment of the whole recording, windows cut afterwards).
///
/// # Errors
/// What [`artifacts::correct`] refuses: an invalid interval (never the
/// case for a segment made by [`segments`]).
pub fn correct(segment: &Segment) -> Result<Corrected, Unavailable> {
    let rr: Vec<f64> = segment.beats.iter().map(|b| b.rr_ms).collect();
    let c = artifacts::correct(&rr)?;
    let start_s = segment.beats.first().map_or(0.0, |b| b.at.as_secs_f64() - b.rr_ms / 1000.0);
    let nn_end_s =
        c.nn.iter()
            .scan(start_s, |t, nn| {
                *t += nn / 1000.0;
                Some(*t)
            })
            .collect();
    Ok(Corrected {
        device: segment.device.clone(),
        index: segment.index,
        beats: segment.beats.iter().copied().zip(c.classes).collect(),
        nn_ms: c.nn,
        nn_end_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnectionChange, OutputEvent};

    fn split(samples: &[Sample], events: &[OutputEvent]) -> Vec<Segment> {
        segments(samples, &Holes::from_events(events, SessionTime::from_secs(3_600)))
    }

    fn rr(device: &str, at_ms: u64, rr_ms: f64, contact: Option<bool>) -> Sample {
        Sample {
            at: SessionTime::from_millis(at_ms),
            device: DeviceLabel::from(device),
            quantity: Quantity::RrIntervalMs,
            value: rr_ms,
            contact,
            device_time_ns: None,
        }
    }

    /// Beats every 800 ms from `from_ms` (the first ending there).
    fn run(device: &str, from_ms: u64, n: u64) -> Vec<Sample> {
        (0..n).map(|i| rr(device, from_ms + i * 800, 800.0, Some(true))).collect()
    }

    #[test]
    fn a_clean_run_is_one_segment_per_device() {
        let mut samples = run("chest", 800, 10);
        samples.extend(run("band", 800, 5));
        let s = split(&samples, &[]);
        let shape: Vec<(&str, usize, usize)> = s.iter().map(|s| (s.device.as_str(), s.index, s.beats.len())).collect();
        assert_eq!(shape, vec![("band", 0, 5), ("chest", 0, 10)]);
    }

    #[test]
    fn no_contact_invalid_and_lost_beats_split_segments() {
        let mut samples = run("chest", 800, 5); // ends 4.0 s
        samples.push(rr("chest", 4_800, 800.0, Some(false))); // left out
        samples.extend(run("chest", 5_600, 3)); // 5.6 .. 7.2 s
        samples.push(rr("chest", 8_000, f64::NAN, Some(true))); // left out
        samples.extend(run("chest", 8_800, 2)); // 8.8, 9.6 s
        samples.extend(run("chest", 20_000, 2)); // 10 s of beats missing
        let lens: Vec<usize> = split(&samples, &[]).iter().map(|s| s.beats.len()).collect();
        assert_eq!(lens, vec![5, 3, 2, 2]);
    }

    #[test]
    fn a_disconnection_or_a_gap_between_beats_splits_them() {
        let samples = run("chest", 800, 20); // 0.8 .. 16 s
        let down = |s, change| OutputEvent::Connection {
            at: SessionTime::from_millis(s),
            device: DeviceLabel::from("chest"),
            change,
        };
        let events = vec![
            down(4_100, ConnectionChange::Disconnected { reason: None }),
            down(4_300, ConnectionChange::Connected { name: None, address: None, services: vec![] }),
            OutputEvent::Gap { at: SessionTime::from_millis(10_350), duration: std::time::Duration::from_millis(200) },
        ];
        let lens: Vec<usize> = split(&samples, &events).iter().map(|s| s.beats.len()).collect();
        // Beats 0.8 .. 4.0 | 4.8 .. 9.6 | 10.4 .. 16.0
        assert_eq!(lens, vec![5, 7, 8]);
        // Another device's disconnection changes nothing.
        let other = vec![OutputEvent::Connection {
            at: SessionTime::from_millis(4_100),
            device: DeviceLabel::from("band"),
            change: ConnectionChange::Disconnected { reason: None },
        }];
        assert_eq!(split(&samples, &other).len(), 1);
    }

    #[test]
    fn correction_times_nn_from_the_segments_first_beat() {
        let samples = run("chest", 1_000, 100);
        let seg = &split(&samples, &[])[0];
        let c = correct(seg).unwrap();
        assert_eq!(c.nn_ms.len(), 100);
        assert!((c.nn_end_s[0] - 1.0).abs() < 1e-9);
        assert!((c.nn_end_s[99] - (1.0 + 99.0 * 0.8)).abs() < 1e-9);
        // [start, end): the interval ending at exactly 9.0 s is not in [1, 9).
        assert_eq!(c.nn_in(1.0, 9.0).len(), 10);
        assert_eq!(c.beats_in(1.0, 9.0).count(), 10);
    }
}
