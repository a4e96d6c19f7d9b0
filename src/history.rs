//! Recent samples and the whole-session trend, per device and quantity.
//!
//! Memory is bounded for any session length:
//! - the recent window lives in a `ringbuf` ring sized from the quantity's
//!   maximum rate × the longest window the dashboard can show, overwriting
//!   the oldest point when full;
//! - the whole session is kept as a downsampled trend of at most
//!   [`TREND_BUCKETS`] min/mean/max buckets whose width doubles whenever the
//!   session outgrows them (two neighbours merge), so 1 h and 24 h cost the
//!   same.

use std::collections::HashMap;
use std::time::Duration;

use ringbuf::LocalRb;
use ringbuf::storage::Array;
use ringbuf::traits::Observer;

use crate::model::{DeviceLabel, Quantity, Sample, SessionTime};

pub use crate::config::MAX_WINDOW;

/// Upper bound on whole-session trend buckets per series.
pub const TREND_BUCKETS: usize = 512;

/// Width of a trend bucket when a session starts.
const INITIAL_BUCKET: Duration = Duration::from_secs(5);

/// Highest sample rate vigil expects for a quantity, used to size its ring.
///
/// RR intervals come one per beat (up to ~4 per second at 240 bpm); straps
/// notify heart rate about once a second but some run faster; everything
/// else is slower. A faster sensor only shortens the visible window, it
/// never grows memory.
#[must_use]
pub const fn max_rate_hz(quantity: Quantity) -> u32 {
    match quantity {
        Quantity::RrIntervalMs | Quantity::HeartRateBpm | Quantity::PulseRateBpm | Quantity::Spo2Pct => 4,
        _ => 1,
    }
}

/// Ring capacity of a quantity: its maximum rate × [`MAX_WINDOW`], rounded
/// up to a power of two (8,192 and 2,048 points, 34 min at the maximum
/// rate): `ringbuf`'s index arithmetic is then a mask instead of a compare
/// and a branch.
#[must_use]
pub const fn ring_capacity(quantity: Quantity) -> usize {
    (max_rate_hz(quantity) as usize * MAX_WINDOW.as_secs() as usize).next_power_of_two()
}

/// The two capacities [`ring_capacity`] gives (4 Hz and 1 Hz quantities).
const FAST_RING: usize = ring_capacity(Quantity::HeartRateBpm);
const SLOW_RING: usize = ring_capacity(Quantity::BatteryPct);

// Every quantity's ring is one of the two `Recent` variants.
const _: () = {
    let mut i = 0;
    while i < Quantity::ALL.len() {
        let capacity = ring_capacity(Quantity::ALL[i]);
        assert!(capacity == FAST_RING || capacity == SLOW_RING);
        i += 1;
    }
};

/// The recent window of one series and its open trend bucket's values, in
/// one heap block: a push writes the ring's indices and the open bucket,
/// and `repr(C)` puts both at the block's start, aligned, so that they share
/// one cache line (with 100 devices every series is cold when its next
/// sample arrives). The newest point is the ring's last one; the open
/// bucket's count and the latest contact state are in the [`Series`] line,
/// which a push reads anyway.
#[repr(C, align(64))]
struct Window<const N: usize> {
    open: OpenBucket,
    ring: LocalRb<Array<Point, N>>,
}

impl<const N: usize> Default for Window<N> {
    fn default() -> Self {
        Self { open: OpenBucket::default(), ring: LocalRb::default() }
    }
}

impl<const N: usize> Window<N> {
    /// Append `point`, dropping the oldest point when the ring is full.
    /// `skip(1)` frees the oldest slot without mapping its index to a slot,
    /// where ringbuf's own `push_overwrite` pops (reads) it.
    #[inline]
    fn push(&mut self, point: Point) -> &mut OpenBucket {
        if self.ring.is_full() {
            self.ring.skip(1);
        }
        // Cannot fail: a slot was freed above if there was none.
        let _ = self.ring.try_push(point);
        &mut self.open
    }

    fn latest(&mut self) -> Option<Point> {
        self.ring.last().copied()
    }
}

/// The newest trend bucket of a series but for its count (in [`Series`]).
#[derive(Debug, Clone, Copy, Default)]
struct OpenBucket {
    start: SessionTime,
    min: f64,
    max: f64,
    sum: f64,
}

impl OpenBucket {
    fn new(start: SessionTime, value: f64) -> Self {
        Self { start, min: value, max: value, sum: value }
    }

    /// Fold one finite value in, as [`TrendBucket::add`] does.
    #[inline]
    fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
    }

    /// With its count (kept in the [`Series`] line), the trend bucket it is.
    fn with_count(&self, count: u32) -> TrendBucket {
        TrendBucket { start: self.start, min: self.min, max: self.max, sum: self.sum, count }
    }
}

/// The recent window of a series: a ring whose capacity is a type
/// parameter rather than heap storage's run-time length. `ringbuf` maps its
/// indices to slots by dividing by the capacity; with a run-time capacity
/// that is two 64-bit divisions per push, the most expensive instructions of
/// the sample path, while a constant one compiles to multiplications.
enum Recent {
    Fast(Box<Window<FAST_RING>>),
    Slow(Box<Window<SLOW_RING>>),
}

impl Recent {
    fn new(quantity: Quantity) -> Self {
        if ring_capacity(quantity) == FAST_RING { Recent::Fast(Box::default()) } else { Recent::Slow(Box::default()) }
    }

    /// Append `point`; the series' open trend bucket is returned.
    #[inline]
    fn push(&mut self, point: Point) -> &mut OpenBucket {
        match self {
            Recent::Fast(window) => window.push(point),
            Recent::Slow(window) => window.push(point),
        }
    }

    fn latest(&mut self) -> Option<Point> {
        match self {
            Recent::Fast(window) => window.latest(),
            Recent::Slow(window) => window.latest(),
        }
    }

    fn open(&self) -> &OpenBucket {
        match self {
            Recent::Fast(window) => &window.open,
            Recent::Slow(window) => &window.open,
        }
    }

    fn capacity(&self) -> usize {
        match self {
            Recent::Fast(window) => window.ring.capacity().get(),
            Recent::Slow(window) => window.ring.capacity().get(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Recent::Fast(window) => window.ring.occupied_len(),
            Recent::Slow(window) => window.ring.occupied_len(),
        }
    }

    /// The points, oldest first, as the ring's two contiguous parts.
    fn as_slices(&mut self) -> (&[Point], &[Point]) {
        match self {
            Recent::Fast(window) => window.ring.as_slices(),
            Recent::Slow(window) => window.ring.as_slices(),
        }
    }
}

/// One sample in a ring: value and time, 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: SessionTime,
    pub value: f64,
}

/// Min/mean/max of the samples in `[start, start + width)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendBucket {
    pub start: SessionTime,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: u32,
}

impl TrendBucket {
    #[must_use]
    pub fn mean(&self) -> f64 {
        self.sum / f64::from(self.count.max(1))
    }

    /// Fold one finite value in (what [`merge`](Self::merge) does with a
    /// one-sample bucket).
    #[inline]
    fn add(&mut self, value: f64) {
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
        self.count += 1;
    }

    fn merge(&mut self, other: &TrendBucket) {
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.count += other.count;
    }
}

/// A downsampled whole-session trend with a bounded number of buckets.
#[derive(Debug, Clone)]
pub struct Trend {
    /// Bucket width in ns, kept as the integer the per-sample test needs
    /// rather than a `Duration` (whose `as_nanos` is 128-bit arithmetic).
    width_ns: u64,
    buckets: Vec<TrendBucket>,
}

impl Default for Trend {
    fn default() -> Self {
        Self { width_ns: INITIAL_BUCKET.as_nanos() as u64, buckets: Vec::with_capacity(TREND_BUCKETS) }
    }
}

impl Trend {
    #[inline]
    pub fn push(&mut self, at: SessionTime, value: f64) {
        if !value.is_finite() {
            return;
        }
        // Most samples land in the newest bucket: decide that without the
        // 64-bit division of `push_new_bucket` (this runs for every sample).
        if let Some(last) = self.buckets.last_mut()
            && at >= last.start
            && at.as_nanos() - last.start.as_nanos() < self.width_ns
        {
            last.add(value);
            return;
        }
        self.push_new_bucket(at, value);
    }

    /// [`push`](Self::push) for a sample outside the newest bucket: once per
    /// bucket width, so kept out of line.
    #[inline(never)]
    fn push_new_bucket(&mut self, at: SessionTime, value: f64) {
        let width = self.width_ns.max(1);
        let start = SessionTime(at.as_nanos() / width * width);
        if let Some(last) = self.buckets.last_mut()
            && start <= last.start
        {
            // `start == last.start` only after a coarsening; `start <` is out
            // of order (a device timestamp stamped backwards): fold into the
            // last bucket rather than reorder.
            last.add(value);
            return;
        }
        if self.buckets.len() == TREND_BUCKETS {
            self.coarsen();
            self.push(at, value);
            return;
        }
        self.buckets.push(TrendBucket { start, min: value, max: value, sum: value, count: 1 });
    }

    /// Double the bucket width, merging neighbours.
    fn coarsen(&mut self) {
        self.width_ns *= 2;
        let width = self.width_ns;
        let mut merged: Vec<TrendBucket> = Vec::with_capacity(TREND_BUCKETS);
        for b in &self.buckets {
            let start = SessionTime(b.start.as_nanos() / width * width);
            match merged.last_mut() {
                Some(last) if last.start == start => last.merge(b),
                _ => merged.push(TrendBucket { start, ..*b }),
            }
        }
        self.buckets = merged;
    }

    #[must_use]
    pub fn buckets(&self) -> &[TrendBucket] {
        &self.buckets
    }

    /// The buckets, oldest first, without copying them.
    #[must_use]
    pub fn into_buckets(self) -> Vec<TrendBucket> {
        self.buckets
    }

    #[must_use]
    pub fn bucket_width(&self) -> Duration {
        Duration::from_nanos(self.width_ns)
    }
}

/// The history of one (device, quantity) stream.
///
/// One cache line: the two heap pointers, the trend's width and length, the
/// open bucket's count and the latest contact, aligned so that a series
/// never straddles two lines. A push touches this line, the window's first
/// line and the ring slot, nothing else: the trend's open (newest) bucket is
/// kept in those two lines and `trend.buckets` holds only the closed ones,
/// so the bucket vector is touched once per bucket width.
#[repr(align(64))]
pub struct Series {
    recent: Recent,
    /// Closed buckets only (see above).
    trend: Trend,
    /// Samples in the open bucket (whose values are in the window's
    /// `open`); 0: no bucket is open (no finite in-contact sample yet).
    open_count: u32,
    /// Contact state reported with the latest sample.
    latest_contact: Option<bool>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("trend_buckets", &(self.trend.buckets.len() + usize::from(self.open_count > 0)))
            .finish_non_exhaustive()
    }
}

impl Series {
    #[must_use]
    pub fn new(quantity: Quantity) -> Self {
        Self { recent: Recent::new(quantity), trend: Trend::default(), open_count: 0, latest_contact: None }
    }

    #[inline]
    pub fn push(&mut self, at: SessionTime, value: f64, contact: Option<bool>) {
        // A sample without skin contact (a strap's 0 bpm) is not a
        // physiological value: the recording keeps it, but the recent
        // window holds it as a gap (NaN, which charts leave out) and it
        // never enters the trend.
        let no_contact = !crate::verdict::in_contact(contact);
        let open = self.recent.push(Point { at, value: if no_contact { f64::NAN } else { value } });
        self.latest_contact = contact;
        if no_contact || !value.is_finite() {
            return;
        }
        // `Trend::push`'s test, on the open bucket kept apart.
        if self.open_count > 0 && at >= open.start && at.as_nanos() - open.start.as_nanos() < self.trend.width_ns {
            open.add(value);
            self.open_count += 1;
            return;
        }
        Self::open_new_bucket(&mut self.trend, &mut self.open_count, open, at, value);
    }

    /// [`push`](Self::push) for a sample outside the open bucket (once per
    /// bucket width): [`Trend::push_new_bucket`] with the open bucket as the
    /// newest one, so the trend is exactly what [`Trend::push`] makes.
    #[inline(never)]
    fn open_new_bucket(trend: &mut Trend, count: &mut u32, open: &mut OpenBucket, at: SessionTime, value: f64) {
        if *count > 0 && trend.buckets.len() + 1 == TREND_BUCKETS {
            // Full (coarsening is due, or a fold): `Trend`'s own code on
            // the whole vector, then the newest bucket comes off again.
            trend.buckets.push(open.with_count(*count));
            trend.push_new_bucket(at, value);
            if let Some(b) = trend.buckets.pop() {
                *open = OpenBucket { start: b.start, min: b.min, max: b.max, sum: b.sum };
                *count = b.count;
            }
            return;
        }
        let width = trend.width_ns.max(1);
        let start = SessionTime(at.as_nanos() / width * width);
        if *count > 0 {
            if start <= open.start {
                // As `push_new_bucket`: after a coarsening, or a time that
                // went back, fold into the newest bucket.
                open.add(value);
                *count += 1;
                return;
            }
            trend.buckets.push(open.with_count(*count));
        }
        *open = OpenBucket::new(start, value);
        *count = 1;
    }

    /// The newest point: the ring's last (`ringbuf` reads need `&mut`, as
    /// for [`recent_since`](Self::recent_since); the newest point is not
    /// kept apart, as that would take a third cache line per push).
    #[must_use]
    pub fn latest(&mut self) -> Option<Point> {
        self.recent.latest()
    }

    #[must_use]
    pub fn latest_contact(&self) -> Option<bool> {
        self.latest_contact
    }

    /// The whole-session trend, open bucket included (a copy: the open
    /// bucket is kept apart from the closed ones, see [`Series`]).
    #[must_use]
    pub fn trend(&self) -> Trend {
        let mut trend = self.trend.clone();
        if self.open_count > 0 {
            trend.buckets.push(self.recent.open().with_count(self.open_count));
        }
        trend
    }

    #[must_use]
    pub fn capacity(&self) -> usize {
        self.recent.capacity()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Points at or after `since`, oldest first. `ringbuf` reads need
    /// `&mut`; only the pipeline, which owns the history, calls this.
    pub fn recent_since(&mut self, since: SessionTime, out: &mut Vec<Point>) {
        let (a, b) = self.recent.as_slices();
        let start_a = a.partition_point(|p| p.at < since);
        out.extend_from_slice(&a[start_a..]);
        let start_b = b.partition_point(|p| p.at < since);
        out.extend_from_slice(&b[start_b..]);
    }
}

/// A device's place in a [`History`], from [`History::device`]: the
/// pipeline resolves a label once per notification and pushes every sample
/// of it by this, so no sample pays for hashing a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryDevice(usize);

type Slots = [Option<Series>; Quantity::ALL.len()];

/// All series of a session: per device, one slot per quantity.
#[derive(Debug, Default)]
pub struct History {
    /// Devices in order of first appearance; [`HistoryDevice`] indexes it.
    devices: Vec<(DeviceLabel, Slots)>,
    by_name: HashMap<DeviceLabel, usize>,
}

impl History {
    /// The id of `device`, adding it (with no series yet) if it is new.
    pub fn device(&mut self, device: &DeviceLabel) -> HistoryDevice {
        // Look up by `&str` so a known device does not clone the label.
        if let Some(i) = self.by_name.get(&**device) {
            return HistoryDevice(*i);
        }
        self.devices.push((device.clone(), Default::default()));
        self.by_name.insert(device.clone(), self.devices.len() - 1);
        HistoryDevice(self.devices.len() - 1)
    }

    pub fn push(&mut self, sample: &Sample) {
        let id = self.device(&sample.device);
        self.push_to(id, sample);
    }

    /// [`push`](Self::push) for a sample of the device `id` names
    /// (`sample.device` is not looked at).
    // Always: it is on every sample's path, and the compiler does not
    // inline it on its own.
    #[inline(always)]
    pub fn push_to(&mut self, id: HistoryDevice, sample: &Sample) {
        self.devices[id.0].1[sample.quantity as usize].get_or_insert_with(|| Series::new(sample.quantity)).push(
            sample.at,
            sample.value,
            sample.contact,
        );
    }

    fn slots(&self, device: &str) -> Option<&Slots> {
        self.by_name.get(device).map(|i| &self.devices[*i].1)
    }

    #[must_use]
    pub fn get(&self, device: &str, quantity: Quantity) -> Option<&Series> {
        self.slots(device)?[quantity as usize].as_ref()
    }

    pub fn get_mut(&mut self, device: &str, quantity: Quantity) -> Option<&mut Series> {
        let i = *self.by_name.get(device)?;
        self.devices[i].1[quantity as usize].as_mut()
    }

    /// Every series, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&DeviceLabel, Quantity, &Series)> {
        self.devices.iter().flat_map(|(d, slots)| {
            slots.iter().zip(Quantity::ALL).filter_map(move |(s, q)| s.as_ref().map(|s| (d, q, s)))
        })
    }

    /// Bytes held by ring buffers and trends (the part that would grow with
    /// session length if anything did).
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.iter()
            .map(|(_, _, s)| s.capacity() * size_of::<Point>() + s.trend.buckets.capacity() * size_of::<TrendBucket>())
            .sum()
    }

    /// RMSSD (root mean square of successive RR differences, ms) over the
    /// RR intervals of `device` in the last `window` before `now`; `None`
    /// with fewer than three intervals.
    pub fn rmssd(&mut self, device: &str, now: SessionTime, window: Duration) -> Option<f64> {
        let series = self.get_mut(device, Quantity::RrIntervalMs)?;
        let mut points = Vec::new();
        series.recent_since(now.saturating_sub(window), &mut points);
        rmssd(points.iter().map(|p| p.value))
    }
}

/// RMSSD of a sequence of RR intervals in ms.
#[must_use]
pub fn rmssd(rr_ms: impl Iterator<Item = f64>) -> Option<f64> {
    let mut prev: Option<f64> = None;
    let mut sum = 0.0;
    let mut n = 0u32;
    for rr in rr_ms.filter(|v| v.is_finite()) {
        if let Some(p) = prev {
            sum += (rr - p) * (rr - p);
            n += 1;
        }
        prev = Some(rr);
    }
    (n >= 2).then(|| (sum / f64::from(n)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(device: &DeviceLabel, at: SessionTime, quantity: Quantity, value: f64) -> Sample {
        Sample { at, device: device.clone(), quantity, value, contact: Some(true), device_time_ns: None }
    }

    #[test]
    fn ring_keeps_only_the_window_and_trend_stays_bounded() {
        let dev: DeviceLabel = DeviceLabel::from("chest");
        let mut h = History::default();
        let mut bytes_at_1h = 0;
        for s in 0..(24 * 3600) {
            if s == 3600 {
                bytes_at_1h = h.heap_bytes();
            }
            h.push(&sample(&dev, SessionTime::from_secs(s), Quantity::HeartRateBpm, 60.0 + f64::from((s % 7) as u8)));
        }
        assert!(bytes_at_1h > 0);
        assert_eq!(h.heap_bytes(), bytes_at_1h, "memory grew between 1 h and 24 h");
        let series = h.get_mut("chest", Quantity::HeartRateBpm).unwrap();
        assert_eq!(series.len(), series.capacity());
        assert!(series.trend().buckets().len() <= TREND_BUCKETS);
        // The trend still spans the whole session and keeps extremes.
        let trend = series.trend();
        let b = trend.buckets();
        assert_eq!(b[0].start, SessionTime::ZERO);
        assert!(b.iter().all(|b| b.min == 60.0 && b.max == 66.0));
        let total: u64 = b.iter().map(|b| u64::from(b.count)).sum();
        assert_eq!(total, 24 * 3600);
        // The recent window holds exactly the newest points, in order.
        let mut pts = Vec::new();
        series.recent_since(SessionTime::from_secs(24 * 3600 - 10), &mut pts);
        assert_eq!(pts.len(), 10);
        assert!(pts.windows(2).all(|w| w[0].at < w[1].at));
        assert_eq!(pts.last().unwrap().at, SessionTime::from_secs(24 * 3600 - 1));
    }

    #[test]
    fn both_ring_sizes_keep_the_newest_points_across_the_wrap() {
        let dev: DeviceLabel = DeviceLabel::from("patch");
        let mut h = History::default();
        for (quantity, capacity) in [(Quantity::SkinTemperatureC, 2048), (Quantity::RrIntervalMs, 8192)] {
            assert_eq!(ring_capacity(quantity), capacity);
            // The whole window at the quantity's maximum rate.
            assert!(capacity as u64 >= u64::from(max_rate_hz(quantity)) * MAX_WINDOW.as_secs());
            let extra = 37;
            for i in 0..(capacity + extra) as u64 {
                h.push(&sample(&dev, SessionTime::from_millis(i * 250), quantity, i as f64));
            }
            let series = h.get_mut("patch", quantity).unwrap();
            assert_eq!((series.len(), series.capacity()), (capacity, capacity));
            let mut pts = Vec::new();
            series.recent_since(SessionTime::ZERO, &mut pts);
            let values: Vec<f64> = pts.iter().map(|p| p.value).collect();
            let expected: Vec<f64> = (extra..capacity + extra).map(|i| i as f64).collect();
            assert_eq!(values, expected);
            assert_eq!(series.latest().unwrap().value, (capacity + extra - 1) as f64);
        }
    }

    /// What the cache-line arguments above rely on.
    #[test]
    fn series_is_one_line_and_a_push_touches_the_window_start() {
        assert_eq!(size_of::<Series>(), 64);
        assert_eq!(size_of::<Option<Series>>(), 64);
        let mut window: Window<SLOW_RING> = Window::default();
        let start = std::ptr::from_ref(&window) as usize;
        assert_eq!(start % 64, 0);
        let ring = std::ptr::from_ref(&window.ring) as usize;
        let storage = window.ring.as_slices().0.as_ptr() as usize;
        // The open bucket, then the ring's indices (two 16-byte endpoints),
        // fill the block's first 64 bytes; the point storage starts the next.
        assert_eq!(size_of::<OpenBucket>(), 32);
        assert_eq!(ring - start, 32, "ring header at {}", ring - start);
        assert_eq!(storage - start, 64, "ringbuf put its indices after the storage");
    }

    /// The open bucket kept apart gives exactly `Trend`'s buckets, through
    /// coarsening, out-of-order times, no-contact and non-finite values.
    #[test]
    fn series_trend_is_what_trend_makes() {
        let mut series = Series::new(Quantity::HeartRateBpm);
        let mut trend = Trend::default();
        let mut at = 0u64;
        for i in 0..(TREND_BUCKETS as u64 * 5 * 9) {
            // Mostly forward, now and then a step back (a device clock).
            at = if i % 97 == 0 { at.saturating_sub(7_000_000_000) } else { at + 1_000_000_000 };
            let value = match i % 13 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                _ => 60.0 + (i % 17) as f64,
            };
            let contact = if i % 11 == 0 { Some(false) } else { Some(true) };
            series.push(SessionTime(at), value, contact);
            if contact != Some(false) {
                trend.push(SessionTime(at), value);
            }
            if i % 1000 == 0 {
                assert_eq!(series.trend().buckets(), trend.buckets(), "after {i} samples");
            }
        }
        assert_eq!(series.trend().buckets(), trend.buckets());
        assert_eq!(series.trend().bucket_width(), trend.bucket_width());
        assert!(trend.bucket_width() > INITIAL_BUCKET, "the test must coarsen");
    }

    #[test]
    fn trend_width_doubles_exactly() {
        let mut t = Trend::default();
        assert_eq!(t.bucket_width(), INITIAL_BUCKET);
        for s in 0..(TREND_BUCKETS as u64 * 5 * 4) {
            t.push(SessionTime::from_secs(s), 1.0);
        }
        assert_eq!(t.bucket_width(), INITIAL_BUCKET * 4);
        assert_eq!(t.buckets().len(), TREND_BUCKETS);
        assert!(t.buckets().iter().all(|b| b.count == 20));
    }

    #[test]
    fn no_contact_samples_stay_out_of_the_trend() {
        let dev: DeviceLabel = DeviceLabel::from("chest");
        let mut h = History::default();
        let mut s = sample(&dev, SessionTime::from_secs(1), Quantity::HeartRateBpm, 200.0);
        s.contact = Some(false);
        h.push(&s);
        let series = h.get_mut("chest", Quantity::HeartRateBpm).unwrap();
        assert!(series.latest().unwrap().value.is_nan(), "a gap in the recent window");
        assert_eq!(series.latest_contact(), Some(false));
        assert!(series.trend().buckets().is_empty());
    }

    #[test]
    fn rmssd_matches_hand_computation() {
        // diffs: 10, -20, 10 -> squares 100, 400, 100 -> mean 200 -> sqrt
        let v = rmssd([800.0, 810.0, 790.0, 800.0].into_iter()).unwrap();
        assert!((v - 200f64.sqrt()).abs() < 1e-9);
        assert_eq!(rmssd([800.0, 810.0].into_iter()), None);
    }
}
