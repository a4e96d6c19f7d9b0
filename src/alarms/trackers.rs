//! Small per-device memories the rules need: the heart-rate baseline, the
//! sliding minimum behind `temp.rise` and the blood-pressure reading being assembled. None allocates per sample.

use super::instance::NEVER;

/// Buckets of the recent heart-rate window (the `baseline` action's mean).
const BUCKETS: usize = 30;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    index: u64,
    sum: f64,
    n: u32,
}

/// The `hr.rise` baseline of one device.
///
/// The `baseline` action takes the mean of the valid heart rate over the
/// last window (kept as 30 buckets, so the window's edge is exact to a
/// thirtieth). Until the operator takes one, the mean of the first window of
/// valid data is used: in a dosing session that is the pre-dose rest.
///
/// `repr(C)`: what every sample reads and writes (the value, the current
/// bucket's sums, the automatic baseline's sums) comes first and fills one
/// cache line (the alignment makes it start one). The current bucket's sum
/// and count are kept there, not in `buckets`, until the next bucket starts:
/// with many devices the bucket's own line was one more miss per sample.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub(super) struct Baseline {
    pub value: Option<f64>,
    /// When the current bucket ends: saves two divisions per sample (this is
    /// on the per-sample path).
    current_end: u64,
    auto_start: u64,
    auto_sum: f64,
    /// The current bucket's sum and count (`buckets[current]`'s are stale).
    current_sum: f64,
    auto_n: u32,
    current_n: u32,
    current: u32,
    auto_done: bool,
    buckets: [Bucket; BUCKETS],
}

const _: () = assert!(std::mem::offset_of!(Baseline, buckets) == 64);

impl Default for Baseline {
    fn default() -> Self {
        Self {
            value: None,
            auto_start: NEVER,
            auto_sum: 0.0,
            auto_n: 0,
            auto_done: false,
            buckets: [Bucket { index: NEVER, sum: 0.0, n: 0 }; BUCKETS],
            current: 0,
            current_end: 0,
            current_sum: 0.0,
            current_n: 0,
        }
    }
}

impl Baseline {
    /// Add a valid heart rate; returns the baseline in force.
    #[inline]
    pub fn feed(&mut self, at: u64, v: f64, window: u64) -> Option<f64> {
        if !self.auto_done {
            if self.auto_start == NEVER {
                self.auto_start = at;
            }
            if at - self.auto_start >= window {
                if self.value.is_none() && self.auto_n > 0 {
                    self.value = Some(self.auto_sum / f64::from(self.auto_n));
                }
                self.auto_done = true;
            } else {
                self.auto_sum += v;
                self.auto_n += 1;
            }
        }
        if at >= self.current_end {
            self.next_bucket(at, window);
        }
        self.current_sum += v;
        self.current_n += 1;
        self.value
    }

    /// Store the current bucket's sums and start (or resume) `at`'s.
    #[inline(never)]
    fn next_bucket(&mut self, at: u64, window: u64) {
        let old = &mut self.buckets[self.current as usize];
        old.sum = self.current_sum;
        old.n = self.current_n;
        let width = (window / BUCKETS as u64).max(1);
        let index = at / width;
        self.current = (index % BUCKETS as u64) as u32;
        self.current_end = (index + 1).saturating_mul(width);
        let b = &mut self.buckets[self.current as usize];
        if b.index != index {
            *b = Bucket { index, sum: 0.0, n: 0 };
        }
        self.current_sum = b.sum;
        self.current_n = b.n;
    }

    /// Mean valid heart rate of the window ending at `at`, if any.
    pub fn recent_mean(&self, at: u64, window: u64) -> Option<f64> {
        let width = (window / BUCKETS as u64).max(1);
        let now = at / width;
        let (mut sum, mut n) = (0.0, 0u32);
        for (i, b) in self.buckets.iter().enumerate() {
            if b.index != NEVER && b.index <= now && b.index + (BUCKETS as u64) > now {
                if i == self.current as usize {
                    sum += self.current_sum;
                    n += self.current_n;
                } else {
                    sum += b.sum;
                    n += b.n;
                }
            }
        }
        (n > 0).then(|| sum / f64::from(n))
    }

    /// The operator's baseline replaces the automatic one for good.
    pub fn set(&mut self, value: f64) {
        self.value = Some(value);
        self.auto_done = true;
    }
}

/// Sliding minimum over a time window (monotonic queue: amortised O(1), and
/// its storage stops growing once it spans a window).
///
/// The queue is `mins[head..]` of a `Vec` rather than a `VecDeque`: on the
/// per-sample path the plain end and index arithmetic costs about half the
/// instructions of the ring's wrap-around; entries dropped at the front are
/// reclaimed in bulk once they are half the vector.
#[derive(Debug, Clone, Default)]
pub(super) struct RiseWindow {
    mins: Vec<(u64, f64)>,
    head: usize,
}

impl RiseWindow {
    /// Entries dropped at the front before their space is reclaimed.
    const RECLAIM_AFTER: usize = 32;

    /// Add a value; returns how far it is above the window's minimum.
    #[inline]
    pub fn push(&mut self, at: u64, v: f64, window: u64) -> f64 {
        while self.mins.len() > self.head && self.mins.last().is_some_and(|&(_, m)| m >= v) {
            self.mins.pop();
        }
        self.mins.push((at, v));
        // Stops at the entry just pushed at the latest.
        while self.mins.get(self.head).is_some_and(|&(t, _)| t.saturating_add(window) < at) {
            self.head += 1;
        }
        if self.head >= Self::RECLAIM_AFTER && self.head * 2 >= self.mins.len() {
            self.mins.drain(..self.head);
            self.head = 0;
        }
        self.mins.get(self.head).map_or(0.0, |&(_, m)| v - m)
    }
}

/// The blood-pressure reading being assembled: systolic and diastolic of one
/// reading arrive as separate samples with the same time.
#[derive(Debug, Clone, Copy)]
pub(super) struct BpReading {
    pub at: u64,
    pub systolic: Option<f64>,
    pub diastolic: Option<f64>,
    seen: u8,
}

impl Default for BpReading {
    fn default() -> Self {
        Self { at: NEVER, systolic: None, diastolic: None, seen: 0 }
    }
}

impl BpReading {
    pub const SYSTOLIC: u8 = 1;
    pub const DIASTOLIC: u8 = 2;

    pub fn pending(&self) -> bool {
        self.at != NEVER
    }

    /// When an incomplete reading is judged: as soon as time moves on.
    pub fn deadline(&self) -> u64 {
        if self.at == NEVER { NEVER } else { self.at + 1 }
    }

    pub fn add(&mut self, at: u64, part: u8, value: Option<f64>) {
        if self.at != at {
            *self = BpReading { at, ..BpReading::default() };
        }
        self.seen |= part;
        if part == Self::SYSTOLIC {
            self.systolic = value;
        } else {
            self.diastolic = value;
        }
    }

    pub fn complete(&self) -> bool {
        self.seen == Self::SYSTOLIC | Self::DIASTOLIC
    }

    pub fn take(&mut self) -> BpReading {
        std::mem::take(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rise_is_measured_from_the_window_minimum() {
        let mut w = RiseWindow::default();
        assert_eq!(w.push(0, 37.0, 1800 * S), 0.0);
        assert!((w.push(60 * S, 36.8, 1800 * S) - 0.0).abs() < 1e-9);
        assert!((w.push(600 * S, 37.4, 1800 * S) - 0.6).abs() < 1e-9);
        // 36.8 left the window 30 min after it was taken.
        assert!((w.push(1900 * S, 37.4, 1800 * S) - 0.0).abs() < 1e-9);
    }

    #[test]
    fn rise_matches_a_naive_window_minimum_across_reclaims() {
        // Long rising runs with dips: the queue grows, drops its front and
        // reclaims space many times; every answer must equal the naive one.
        let mut w = RiseWindow::default();
        let window = 100 * S;
        let mut seen: Vec<(u64, f64)> = Vec::new();
        for i in 0..5_000u64 {
            let at = i * S;
            let v = 36.0 + (i % 250) as f64 * 0.01 - if i % 97 == 0 { 0.5 } else { 0.0 };
            seen.push((at, v));
            let min = seen.iter().filter(|(t, _)| t + window >= at).map(|(_, m)| *m).fold(f64::INFINITY, f64::min);
            assert!((w.push(at, v, window) - (v - min)).abs() < 1e-12, "at {i}");
        }
        assert!(w.mins.len() <= 2 * 101 + RiseWindow::RECLAIM_AFTER, "storage grew to {}", w.mins.len());
    }

    #[test]
    fn baseline_auto_then_recent_mean() {
        let mut b = Baseline::default();
        let w = 300 * S;
        for t in 0..300 {
            assert_eq!(b.feed(t * S, 60.0, w), None);
        }
        assert_eq!(b.feed(300 * S, 90.0, w), Some(60.0));
        for t in 301..700 {
            b.feed(t * S, 80.0, w);
        }
        assert_eq!(b.recent_mean(700 * S, w), Some(80.0));
    }

    /// The current bucket's sums kept apart give the same means as adding
    /// into the bucket directly, mid-bucket and across the window's wrap.
    #[test]
    fn baseline_recent_mean_counts_the_current_bucket() {
        let mut b = Baseline::default();
        let w = 30 * S;
        for t in 0..95 {
            b.feed(t * S, t as f64, w);
            // The window holds seconds t-29 ..= t (30 one-second buckets).
            let first = t.saturating_sub(29);
            let expected = (first..=t).sum::<u64>() as f64 / (t - first + 1) as f64;
            assert_eq!(b.recent_mean(t * S, w), Some(expected), "at {t} s");
        }
        // Two samples in one bucket, read before the next starts.
        b.feed(95 * S + 1, 10.0, w);
        b.feed(95 * S + 2, 20.0, w);
        let expected = ((66..=94).sum::<u64>() as f64 + 30.0) / 31.0;
        assert_eq!(b.recent_mean(95 * S + 3, w), Some(expected));
    }
}
