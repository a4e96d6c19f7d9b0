//! When each ECG sample was taken: the one rule that places the samples of
//! Polar PMD frames in session time, for the pipeline (the dashboard's
//! strip, `tech.ecg`), the recording's readers and exports, and analysis.
//!
//! A PMD frame carries the strap's timestamp of its *last* sample and a
//! run of samples at the strap's rate, which is 130 Hz only to about ± 2 %
//! (Polar's documentation). So the period is measured, not assumed: the
//! time between two consecutive frames' timestamps divided by the later
//! frame's sample count. The nominal period is used only for the first
//! frame of a run, or when the measured one is implausible (outside
//! ± [`PLAUSIBLE_RATE_DEVIATION`] of nominal: a frame was lost or the strap
//! restarted its stream).
//!
//! The strap's clock is not the session's. A run of frames is anchored to
//! session time once, at its first frame: that frame's last sample is taken
//! to be at the frame's arrival. Later frames of the run keep the strap's
//! own spacing, so radio latency jitter does not move the samples. A new
//! run starts after a silence of more than [`RUN_BREAK`] (a disconnection,
//! a restarted stream) or when the strap's timestamp goes backwards.

use std::time::Duration;

use crate::model::SessionTime;

/// The H10's nominal ECG rate, Hz.
pub const NOMINAL_RATE_HZ: f64 = 130.0;

/// The nominal sample period, ns.
pub const NOMINAL_PERIOD_NS: f64 = 1e9 / NOMINAL_RATE_HZ;

/// A measured period further than this fraction from nominal is not
/// believed (the strap's own tolerance is 2 %).
pub const PLAUSIBLE_RATE_DEVIATION: f64 = 0.10;

/// Silence between two frames (by arrival) that ends a run.
pub const RUN_BREAK: Duration = Duration::from_secs(2);

/// Where one frame's samples fall in session time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTiming {
    /// Session time of the frame's first sample, ns (negative for samples
    /// taken before the session started, which a strap can deliver).
    pub first_ns: f64,
    /// Time between consecutive samples, ns.
    pub period_ns: f64,
    /// This frame starts a new run (the first, or after a break): its
    /// samples do not continue the previous frame's.
    pub new_run: bool,
}

impl FrameTiming {
    /// Session time of sample `i` of the frame, ns.
    #[must_use]
    pub fn at_ns(&self, i: usize) -> f64 {
        self.first_ns + self.period_ns * i as f64
    }
}

/// Places the frames of one device, in arrival order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EcgClock {
    /// The last frame: its arrival and strap timestamp.
    last: Option<(SessionTime, u64)>,
    /// Session time minus strap time, ns, fixed for the run.
    offset_ns: f64,
}

impl EcgClock {
    #[must_use]
    pub const fn new() -> Self {
        Self { last: None, offset_ns: 0.0 }
    }

    /// The next frame: it arrived at `arrival` with strap timestamp
    /// `timestamp_ns` (its last sample) and `samples` samples. A frame
    /// without samples moves nothing and gets the nominal period.
    pub fn place(&mut self, arrival: SessionTime, timestamp_ns: u64, samples: usize) -> FrameTiming {
        let continues = self.last.filter(|&(last_arrival, last_ts)| {
            timestamp_ns > last_ts && arrival.since(last_arrival) <= RUN_BREAK && arrival >= last_arrival
        });
        let n = samples.max(1) as f64;
        let (period_ns, new_run) = match continues {
            Some((_, last_ts)) => {
                let measured = (timestamp_ns - last_ts) as f64 / n;
                let plausible = (measured / NOMINAL_PERIOD_NS - 1.0).abs() <= PLAUSIBLE_RATE_DEVIATION;
                (if plausible { measured } else { NOMINAL_PERIOD_NS }, false)
            }
            None => {
                self.offset_ns = arrival.as_nanos() as f64 - timestamp_ns as f64;
                (NOMINAL_PERIOD_NS, true)
            }
        };
        if samples > 0 {
            self.last = Some((arrival, timestamp_ns));
        }
        let last_sample_ns = timestamp_ns as f64 + self.offset_ns;
        FrameTiming { first_ns: last_sample_ns - period_ns * (n - 1.0), period_ns, new_run }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_first_frame_ends_at_its_arrival_with_the_nominal_period() {
        let mut clock = EcgClock::new();
        let t = clock.place(SessionTime::from_secs(10), 5_000 * MS, 73);
        assert!(t.new_run);
        assert!((t.period_ns - NOMINAL_PERIOD_NS).abs() < 1e-9);
        assert!((t.at_ns(72) - 10e9).abs() < 1e-3, "{}", t.at_ns(72));
    }

    #[test]
    fn later_frames_take_the_period_from_the_strap_timestamps_not_the_arrival() {
        let mut clock = EcgClock::new();
        clock.place(SessionTime::from_secs(10), 5_000 * MS, 73);
        // A strap 1.5 % fast: 73 samples in 73/131.95 s; the frame arrives
        // 40 ms late, which must not move its samples.
        let span_ns = (73.0 / (NOMINAL_RATE_HZ * 1.015) * 1e9) as u64;
        let arrival = SessionTime(10_000_000_000 + span_ns + 40 * MS);
        let t = clock.place(arrival, 5_000 * MS + span_ns, 73);
        assert!(!t.new_run);
        assert!((t.period_ns - span_ns as f64 / 73.0).abs() < 1e-6);
        assert!((t.at_ns(72) - (10e9 + span_ns as f64)).abs() < 1e-3);
        // Sample 0 follows the previous frame's last by one period.
        assert!((t.at_ns(0) - (10e9 + t.period_ns)).abs() < 1e-3);
    }

    #[test]
    fn an_implausible_period_falls_back_to_nominal() {
        let mut clock = EcgClock::new();
        clock.place(SessionTime::from_secs(10), 5_000 * MS, 73);
        // Half a frame's worth of strap time for a whole frame: a lost
        // or repeated timestamp, not a strap 50 % fast.
        let t = clock.place(SessionTime(10_300_000_000), 5_000 * MS + 280 * MS, 73);
        assert!(!t.new_run);
        assert!((t.period_ns - NOMINAL_PERIOD_NS).abs() < 1e-9);
    }

    #[test]
    fn a_silence_or_a_clock_going_back_starts_a_new_run_anchored_anew() {
        let mut clock = EcgClock::new();
        clock.place(SessionTime::from_secs(10), 5_000 * MS, 73);
        let t = clock.place(SessionTime::from_secs(13), 8_000 * MS, 73);
        assert!(t.new_run, "3 s of silence");
        assert!((t.at_ns(72) - 13e9).abs() < 1e-3);
        let t = clock.place(SessionTime(13_500_000_000), 100 * MS, 73);
        assert!(t.new_run, "the strap's clock restarted");
        assert!((t.at_ns(72) - 13.5e9).abs() < 1e-3);
    }
}
