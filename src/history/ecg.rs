//! The last seconds of each device's raw ECG, for the dashboard's strip.
//!
//! One ring per device that sent ECG, made with its first frame (a device
//! that never streams ECG costs nothing), of [`ECG_RING`] samples: the last
//! [`ECG_WINDOW`] at the H10's rate with room for its ± 2 % and a frame.
//! Each sample is placed in session time by the device's
//! [`EcgClock`](crate::ecg::EcgClock), the one rule for ECG sample times.

use std::time::Duration;

use ringbuf::LocalRb;
use ringbuf::storage::Heap;
use ringbuf::traits::Observer;

use crate::ecg::{EcgClock, NOMINAL_RATE_HZ};
use crate::model::SessionTime;

/// How much ECG a device's ring holds.
pub const ECG_WINDOW: Duration = Duration::from_secs(10);

/// Ring capacity: [`ECG_WINDOW`] at the nominal 130 Hz plus 10 % (the
/// strap runs up to 2 % fast, and a 73-sample frame lands at once).
pub const ECG_RING: usize = (ECG_WINDOW.as_secs() as f64 * NOMINAL_RATE_HZ * 1.1) as usize;

/// One ECG sample: its session time (ns; negative for a sample taken
/// before the session started) and its value, µV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcgPoint {
    pub at_ns: i64,
    pub uv: i32,
}

/// One device's recent ECG and the clock that places its frames.
pub struct EcgTrace {
    clock: EcgClock,
    /// Oldest first; when full, a push overwrites the oldest.
    recent: LocalRb<Heap<EcgPoint>>,
    /// The latest frame's sample period, ns (the strap's measured rate).
    period_ns: f64,
}

impl std::fmt::Debug for EcgTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcgTrace").field("len", &self.recent.occupied_len()).finish_non_exhaustive()
    }
}

impl Default for EcgTrace {
    fn default() -> Self {
        Self { clock: EcgClock::new(), recent: LocalRb::new(ECG_RING), period_ns: crate::ecg::NOMINAL_PERIOD_NS }
    }
}

impl EcgTrace {
    /// A frame that arrived at `arrival`, with the strap's `timestamp_ns`
    /// of its last sample and its samples (oldest first).
    pub fn push_frame(&mut self, arrival: SessionTime, timestamp_ns: u64, samples: impl ExactSizeIterator<Item = i32>) {
        let timing = self.clock.place(arrival, timestamp_ns, samples.len());
        if timing.new_run {
            // A new run is anchored afresh: its samples need not follow
            // the old ones in time, and the strip must not draw across.
            self.recent.clear();
        }
        self.period_ns = timing.period_ns;
        for (i, uv) in samples.enumerate() {
            // Session times fit i64 ns for 292 years.
            #[allow(clippy::cast_possible_truncation)]
            let at_ns = timing.at_ns(i).round() as i64;
            self.recent.push_overwrite(EcgPoint { at_ns, uv });
        }
    }

    /// Samples taken at or after `since_ns`, oldest first (`ringbuf`
    /// reads need `&mut`).
    pub fn since(&mut self, since_ns: i64, out: &mut Vec<EcgPoint>) {
        let (a, b) = self.recent.as_slices();
        out.extend_from_slice(&a[a.partition_point(|p| p.at_ns < since_ns)..]);
        out.extend_from_slice(&b[b.partition_point(|p| p.at_ns < since_ns)..]);
    }

    /// The latest frame's sample rate, Hz.
    #[must_use]
    pub fn rate_hz(&self) -> f64 {
        1e9 / self.period_ns
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.recent.occupied_len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the ring holds (its allocation).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.recent.capacity().get() * size_of::<EcgPoint>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first: i32) -> impl ExactSizeIterator<Item = i32> {
        (0..73).map(move |i| first + i)
    }

    /// An hour of frames: the ring holds the newest ~10 s, in order, and
    /// its memory never grows.
    #[test]
    fn the_ring_keeps_the_last_seconds_and_nothing_more() {
        let mut t = EcgTrace::default();
        let period_ns = 1e9 / NOMINAL_RATE_HZ;
        let frame_ns = (period_ns * 73.0) as u64;
        let bytes = t.heap_bytes();
        assert_eq!(ECG_RING, 1430);
        for k in 0..(3600 * 130 / 73) as u64 {
            let ts = 1_000_000_000 + k * frame_ns;
            let arrival = SessionTime(ts + 20_000_000);
            t.push_frame(arrival, ts, frame((k * 73) as i32));
        }
        assert_eq!(t.heap_bytes(), bytes);
        assert_eq!(t.len(), ECG_RING);
        let mut out = Vec::new();
        t.since(i64::MIN, &mut out);
        assert!(out.windows(2).all(|w| w[1].at_ns > w[0].at_ns && w[1].uv == w[0].uv + 1));
        let span = out.last().unwrap().at_ns - out[0].at_ns;
        assert!(span as f64 >= ECG_WINDOW.as_nanos() as f64, "{span}");
        out.clear();
        let last = t.recent.last().unwrap().at_ns;
        t.since(last - 1_000_000_000, &mut out);
        assert!((129..=131).contains(&out.len()), "one second of ECG: {}", out.len());
    }

    #[test]
    fn a_new_run_starts_the_trace_afresh() {
        let mut t = EcgTrace::default();
        t.push_frame(SessionTime::from_secs(1), 5_000_000_000, frame(0));
        t.push_frame(SessionTime::from_secs(10), 14_000_000_000, frame(100));
        let mut out = Vec::new();
        t.since(i64::MIN, &mut out);
        assert_eq!(out.len(), 73);
        assert_eq!(out[0].uv, 100);
    }
}
