//! Small per-device memories the rules need: the heart-rate baseline, the
//! sliding minimum behind `temp.rise` and the blood-pressure reading being
//! assembled.

use std::collections::VecDeque;
use std::time::Duration;

use crate::model::SessionTime;

/// Buckets of the recent heart-rate window (the `baseline` action's mean).
const BUCKETS: u64 = 30;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Which slice of time (`t / width`) it sums; `None`: never used.
    index: Option<u64>,
    sum: f64,
    n: u32,
}

/// The `hr.rise` baseline of one device.
///
/// The `baseline` action takes the mean of the valid heart rate over the
/// last window (kept as 30 buckets, so the window's edge is exact to a
/// thirtieth and memory does not grow with the sample rate). Until the
/// operator takes one, the mean of the first window of valid data is used:
/// in a dosing session that is the pre-dose rest.
#[derive(Debug, Clone, Default)]
pub(super) struct Baseline {
    pub value: Option<f64>,
    /// When the first valid heart rate came (the automatic baseline's window).
    auto_start: Option<SessionTime>,
    auto_sum: f64,
    auto_n: u32,
    auto_done: bool,
    buckets: [Bucket; BUCKETS as usize],
}

fn bucket_width(window: Duration) -> u64 {
    u64::try_from(window.as_nanos() / u128::from(BUCKETS)).unwrap_or(u64::MAX).max(1)
}

impl Baseline {
    /// Add a valid heart rate; returns the baseline in force.
    pub fn feed(&mut self, at: SessionTime, v: f64, window: Duration) -> Option<f64> {
        if !self.auto_done {
            let start = *self.auto_start.get_or_insert(at);
            if at.since(start) >= window {
                if self.value.is_none() && self.auto_n > 0 {
                    self.value = Some(self.auto_sum / f64::from(self.auto_n));
                }
                self.auto_done = true;
            } else {
                self.auto_sum += v;
                self.auto_n += 1;
            }
        }
        let index = at.as_nanos() / bucket_width(window);
        let bucket = &mut self.buckets[(index % BUCKETS) as usize];
        if bucket.index != Some(index) {
            *bucket = Bucket { index: Some(index), sum: 0.0, n: 0 };
        }
        bucket.sum += v;
        bucket.n += 1;
        self.value
    }

    /// Mean valid heart rate of the window ending at `at`, if any.
    pub fn recent_mean(&self, at: SessionTime, window: Duration) -> Option<f64> {
        let now = at.as_nanos() / bucket_width(window);
        let in_window = |b: &&Bucket| b.index.is_some_and(|i| i <= now && i + BUCKETS > now);
        let (sum, n) = self.buckets.iter().filter(in_window).fold((0.0, 0u32), |(s, n), b| (s + b.sum, n + b.n));
        (n > 0).then(|| sum / f64::from(n))
    }

    /// The operator's baseline replaces the automatic one for good.
    pub fn set(&mut self, value: f64) {
        self.value = Some(value);
        self.auto_done = true;
    }
}

/// Sliding minimum over a time window: a monotonic queue (amortised O(1);
/// it holds at most the samples of one window).
#[derive(Debug, Clone, Default)]
pub(super) struct RiseWindow {
    /// Increasing values, oldest first: each is the minimum from its time on.
    mins: VecDeque<(SessionTime, f64)>,
}

impl RiseWindow {
    /// Add a value; returns how far it is above the window's minimum.
    pub fn push(&mut self, at: SessionTime, v: f64, window: Duration) -> f64 {
        while self.mins.back().is_some_and(|&(_, m)| m >= v) {
            self.mins.pop_back();
        }
        self.mins.push_back((at, v));
        // Stops at the entry just pushed at the latest.
        while self.mins.front().is_some_and(|&(t, _)| t.saturating_add(window) < at) {
            self.mins.pop_front();
        }
        self.mins.front().map_or(0.0, |&(_, m)| v - m)
    }
}

/// The blood-pressure reading being assembled: systolic and diastolic of one
/// reading arrive as separate samples with the same time.
#[derive(Debug, Clone, Copy)]
pub(super) struct BpReading {
    pub at: SessionTime,
    pub systolic: Option<f64>,
    pub diastolic: Option<f64>,
    seen_systolic: bool,
    seen_diastolic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BpPart {
    Systolic,
    Diastolic,
}

impl BpReading {
    pub fn new(at: SessionTime) -> Self {
        Self { at, systolic: None, diastolic: None, seen_systolic: false, seen_diastolic: false }
    }

    /// When an incomplete reading is judged: as soon as time moves on.
    pub fn deadline(&self) -> SessionTime {
        SessionTime(self.at.0.saturating_add(1))
    }

    pub fn add(&mut self, part: BpPart, value: Option<f64>) {
        match part {
            BpPart::Systolic => (self.systolic, self.seen_systolic) = (value, true),
            BpPart::Diastolic => (self.diastolic, self.seen_diastolic) = (value, true),
        }
    }

    pub fn complete(&self) -> bool {
        self.seen_systolic && self.seen_diastolic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    // Times and windows in nanoseconds, to keep the cases short.
    fn push(w: &mut RiseWindow, at: u64, v: f64, window: u64) -> f64 {
        w.push(SessionTime(at), v, Duration::from_nanos(window))
    }

    fn feed(b: &mut Baseline, at: u64, v: f64, window: u64) -> Option<f64> {
        b.feed(SessionTime(at), v, Duration::from_nanos(window))
    }

    fn mean(b: &Baseline, at: u64, window: u64) -> Option<f64> {
        b.recent_mean(SessionTime(at), Duration::from_nanos(window))
    }

    #[test]
    fn rise_is_measured_from_the_window_minimum() {
        let mut w = RiseWindow::default();
        assert_eq!(push(&mut w, 0, 37.0, 1800 * S), 0.0);
        assert!((push(&mut w, 60 * S, 36.8, 1800 * S) - 0.0).abs() < 1e-9);
        assert!((push(&mut w, 600 * S, 37.4, 1800 * S) - 0.6).abs() < 1e-9);
        // 36.8 left the window 30 min after it was taken.
        assert!((push(&mut w, 1900 * S, 37.4, 1800 * S) - 0.0).abs() < 1e-9);
    }

    #[test]
    fn rise_matches_a_naive_window_minimum_across_many_windows() {
        // Long rising runs with dips: the queue grows and drops its front
        // many times; every answer must equal the naive one.
        let mut w = RiseWindow::default();
        let window = 100 * S;
        let mut seen: Vec<(u64, f64)> = Vec::new();
        for i in 0..5_000u64 {
            let at = i * S;
            let v = 36.0 + (i % 250) as f64 * 0.01 - if i % 97 == 0 { 0.5 } else { 0.0 };
            seen.push((at, v));
            let min = seen.iter().filter(|(t, _)| t + window >= at).map(|(_, m)| *m).fold(f64::INFINITY, f64::min);
            assert!((push(&mut w, at, v, window) - (v - min)).abs() < 1e-12, "at {i}");
        }
        assert!(w.mins.len() <= 101, "storage grew to {}", w.mins.len());
    }

    #[test]
    fn baseline_auto_then_recent_mean() {
        let mut b = Baseline::default();
        let w = 300 * S;
        for t in 0..300 {
            assert_eq!(feed(&mut b, t * S, 60.0, w), None);
        }
        assert_eq!(feed(&mut b, 300 * S, 90.0, w), Some(60.0));
        for t in 301..700 {
            feed(&mut b, t * S, 80.0, w);
        }
        assert_eq!(mean(&b, 700 * S, w), Some(80.0));
    }

    /// The mean counts the bucket being filled, mid-bucket and across the
    /// window's wrap.
    #[test]
    fn baseline_recent_mean_counts_the_current_bucket() {
        let mut b = Baseline::default();
        let w = 30 * S;
        for t in 0..95 {
            feed(&mut b, t * S, t as f64, w);
            // The window holds seconds t-29 ..= t (30 one-second buckets).
            let first = t.saturating_sub(29);
            let expected = (first..=t).sum::<u64>() as f64 / (t - first + 1) as f64;
            assert_eq!(mean(&b, t * S, w), Some(expected), "at {t} s");
        }
        // Two samples in one bucket, read before the next starts.
        feed(&mut b, 95 * S + 1, 10.0, w);
        feed(&mut b, 95 * S + 2, 20.0, w);
        let expected = ((66..=94).sum::<u64>() as f64 + 30.0) / 31.0;
        assert_eq!(mean(&b, 95 * S + 3, w), Some(expected));
    }
}
