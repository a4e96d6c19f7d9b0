//! Recent samples and the whole-session trend, per device and quantity.
//!
//! Memory is bounded for any session length:
//! - the recent window lives in a `ringbuf` ring sized from the quantity's
//!   maximum rate × the longest window the dashboard can show
//!   ([`ring_capacity`]), overwriting the oldest point when full;
//! - the whole session is kept as a downsampled trend of at most
//!   [`TREND_BUCKETS`] min/mean/max buckets whose width doubles whenever the
//!   session outgrows them (two neighbours merge), so 1 h and 24 h cost the
//!   same;
//! - a device's raw ECG (Polar PMD) is a ring of its last
//!   [`ECG_WINDOW`] ([`ecg`]), made with its first frame;
//! - devices are the session's table's (at most `max_devices`), by their
//!   [`DeviceId`].

use std::time::Duration;

use ringbuf::LocalRb;
use ringbuf::storage::Heap;
use ringbuf::traits::Observer;

use crate::device_table::DeviceId;
use crate::model::{Quantity, Sample, SessionTime};

pub use crate::config::MAX_WINDOW;

mod ecg;
pub use ecg::{ECG_RING, ECG_WINDOW, EcgPoint, EcgTrace};

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

/// Ring capacity of a quantity in points: its maximum rate ×
/// [`MAX_WINDOW`] (7,200 points for a 4 Hz quantity, 1,800 for the rest).
#[must_use]
pub const fn ring_capacity(quantity: Quantity) -> usize {
    max_rate_hz(quantity) as usize * MAX_WINDOW.as_secs() as usize
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

    #[must_use]
    pub fn bucket_width(&self) -> Duration {
        Duration::from_nanos(self.width_ns)
    }
}

/// The history of one (device, quantity) stream: its recent window and its
/// whole-session trend.
pub struct Series {
    /// Oldest point first; when full, a push overwrites the oldest.
    recent: LocalRb<Heap<Point>>,
    trend: Trend,
    /// Contact state reported with the latest sample.
    latest_contact: Option<bool>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("trend_buckets", &self.trend.buckets.len())
            .finish_non_exhaustive()
    }
}

impl Series {
    /// An empty series with [`ring_capacity`]`(quantity)` points of room.
    #[must_use]
    pub fn new(quantity: Quantity) -> Self {
        Self { recent: LocalRb::new(ring_capacity(quantity)), trend: Trend::default(), latest_contact: None }
    }

    pub fn push(&mut self, at: SessionTime, value: f64, contact: Option<bool>) {
        // A sample without skin contact (a strap's 0 bpm) is not a
        // physiological value: the recording keeps it, but the recent
        // window holds it as a gap (NaN, which charts leave out) and it
        // never enters the trend.
        let no_contact = !crate::verdict::in_contact(contact);
        self.recent.push_overwrite(Point { at, value: if no_contact { f64::NAN } else { value } });
        self.latest_contact = contact;
        if !no_contact {
            self.trend.push(at, value);
        }
    }

    /// The newest point (`ringbuf` reads need `&mut`, as for
    /// [`recent_since`](Self::recent_since)).
    #[must_use]
    pub fn latest(&mut self) -> Option<Point> {
        self.recent.last().copied()
    }

    #[must_use]
    pub fn latest_contact(&self) -> Option<bool> {
        self.latest_contact
    }

    /// The whole-session trend.
    #[must_use]
    pub fn trend(&self) -> &Trend {
        &self.trend
    }

    #[must_use]
    pub fn capacity(&self) -> usize {
        self.recent.capacity().get()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.recent.occupied_len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Points at or after `since`, oldest first.
    pub fn recent_since(&mut self, since: SessionTime, out: &mut Vec<Point>) {
        let (a, b) = self.recent.as_slices();
        let start_a = a.partition_point(|p| p.at < since);
        out.extend_from_slice(&a[start_a..]);
        let start_b = b.partition_point(|p| p.at < since);
        out.extend_from_slice(&b[start_b..]);
    }
}

type Slots = [Option<Series>; Quantity::ALL.len()];

/// All series of a session: per device, one slot per quantity.
#[derive(Debug, Default)]
pub struct History {
    /// Indexed by the devices' ids; a slot's series is made with the
    /// quantity's first sample.
    devices: Vec<Slots>,
    /// Indexed like `devices`; `None` for a device that sent no ECG.
    ecg: Vec<Option<EcgTrace>>,
}

impl History {
    /// Add one sample of device `device` (`sample.device` is not looked at).
    pub fn push(&mut self, device: DeviceId, sample: &Sample) {
        let i = device.index();
        if self.devices.len() <= i {
            self.devices.resize_with(i + 1, Default::default);
        }
        let slot = &mut self.devices[i][sample.quantity as usize];
        slot.get_or_insert_with(|| Series::new(sample.quantity)).push(sample.at, sample.value, sample.contact);
    }

    /// One ECG frame of device `device`: arrived at `arrival`, the strap's
    /// `timestamp_ns` of its last sample, its samples oldest first.
    pub fn push_ecg(
        &mut self,
        device: DeviceId,
        arrival: SessionTime,
        timestamp_ns: u64,
        samples: impl ExactSizeIterator<Item = i32>,
    ) {
        let i = device.index();
        if self.ecg.len() <= i {
            self.ecg.resize_with(i + 1, || None);
        }
        self.ecg[i].get_or_insert_with(EcgTrace::default).push_frame(arrival, timestamp_ns, samples);
    }

    /// Device `device`'s recent ECG, if it sent any.
    #[must_use]
    pub fn ecg(&self, device: DeviceId) -> Option<&EcgTrace> {
        self.ecg.get(device.index())?.as_ref()
    }

    pub fn ecg_mut(&mut self, device: DeviceId) -> Option<&mut EcgTrace> {
        self.ecg.get_mut(device.index())?.as_mut()
    }

    #[must_use]
    pub fn get(&self, device: DeviceId, quantity: Quantity) -> Option<&Series> {
        self.devices.get(device.index())?[quantity as usize].as_ref()
    }

    pub fn get_mut(&mut self, device: DeviceId, quantity: Quantity) -> Option<&mut Series> {
        self.devices.get_mut(device.index())?[quantity as usize].as_mut()
    }

    /// Every series with its quantity, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Quantity, &Series)> {
        self.devices
            .iter()
            .flat_map(|slots| slots.iter().zip(Quantity::ALL).filter_map(|(s, q)| s.as_ref().map(|s| (q, s))))
    }

    /// Bytes held by ring buffers and trends (the part that would grow with
    /// session length if anything did), as their allocations' capacities.
    #[must_use]
    pub fn heap_bytes(&self) -> usize {
        self.iter()
            .map(|(_, s)| s.capacity() * size_of::<Point>() + s.trend.buckets.capacity() * size_of::<TrendBucket>())
            .sum::<usize>()
            + self.ecg.iter().flatten().map(EcgTrace::heap_bytes).sum::<usize>()
    }

    /// RMSSD (root mean square of successive RR differences, ms) over the
    /// RR intervals of `device` in the last `window` before `now`; `None`
    /// with fewer than three intervals.
    pub fn rmssd(&mut self, device: DeviceId, now: SessionTime, window: Duration) -> Option<f64> {
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
    use crate::device_table::DeviceTable;

    fn sample(at: SessionTime, quantity: Quantity, value: f64) -> Sample {
        Sample { at, device: "unused".into(), quantity, value, contact: Some(true), device_time_ns: None }
    }

    fn device(label: &str) -> DeviceId {
        DeviceTable::default().admit(label).expect("room").0
    }

    /// A day of 1 Hz heart rate: the series holds its window at the
    /// maximum rate and at most `TREND_BUCKETS` buckets, and nothing more
    /// (a ring sized past rate × window, or a trend that keeps growing,
    /// fails the byte count), the same at 1 h as at 24 h.
    #[test]
    fn ring_keeps_only_the_window_and_trend_stays_bounded() {
        let dev = device("chest");
        let mut h = History::default();
        let mut bytes_at_1h = 0;
        for s in 0..(24 * 3600) {
            if s == 3600 {
                bytes_at_1h = h.heap_bytes();
            }
            h.push(dev, &sample(SessionTime::from_secs(s), Quantity::HeartRateBpm, 60.0 + f64::from((s % 7) as u8)));
        }
        let bound = 4 * 30 * 60 * size_of::<Point>() + TREND_BUCKETS * size_of::<TrendBucket>();
        assert_eq!((size_of::<Point>(), size_of::<TrendBucket>()), (16, 40));
        assert_eq!(bytes_at_1h, bound, "at 1 h: 7,200 points of 16 B and 512 buckets of 40 B");
        assert_eq!(h.heap_bytes(), bound, "at 24 h: memory grew after 1 h");
        let series = h.get_mut(dev, Quantity::HeartRateBpm).unwrap();
        assert_eq!(series.len(), series.capacity());
        assert!(series.trend().buckets().len() <= TREND_BUCKETS);
        // The trend still spans the whole session and keeps extremes.
        let b = series.trend().buckets();
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
    fn every_ring_size_keeps_the_newest_points_across_the_wrap() {
        let dev = device("patch");
        let mut h = History::default();
        for (quantity, capacity) in [(Quantity::SkinTemperatureC, 1800), (Quantity::RrIntervalMs, 7200)] {
            assert_eq!(ring_capacity(quantity), capacity);
            // The whole window at the quantity's maximum rate.
            assert_eq!(capacity as u64, u64::from(max_rate_hz(quantity)) * MAX_WINDOW.as_secs());
            let extra = 37;
            for i in 0..(capacity + extra) as u64 {
                h.push(dev, &sample(SessionTime::from_millis(i * 250), quantity, i as f64));
            }
            let series = h.get_mut(dev, quantity).unwrap();
            assert_eq!((series.len(), series.capacity()), (capacity, capacity));
            let mut pts = Vec::new();
            series.recent_since(SessionTime::ZERO, &mut pts);
            let values: Vec<f64> = pts.iter().map(|p| p.value).collect();
            let expected: Vec<f64> = (extra..capacity + extra).map(|i| i as f64).collect();
            assert_eq!(values, expected);
            assert_eq!(series.latest().unwrap().value, (capacity + extra - 1) as f64);
        }
    }

    #[test]
    fn devices_keep_apart_by_id() {
        let table = DeviceTable::default();
        let (a, _) = table.admit("a").unwrap();
        let (b, _) = table.admit("b").unwrap();
        let mut h = History::default();
        h.push(b, &sample(SessionTime::ZERO, Quantity::Spo2Pct, 97.0));
        assert!(h.get(a, Quantity::Spo2Pct).is_none());
        assert_eq!(h.get_mut(b, Quantity::Spo2Pct).and_then(Series::latest).map(|p| p.value), Some(97.0));
    }

    /// A series' trend is `Trend`'s buckets of its in-contact samples,
    /// through coarsening, out-of-order times, no-contact and non-finite
    /// values.
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
        let dev = device("chest");
        let mut h = History::default();
        let mut s = sample(SessionTime::from_secs(1), Quantity::HeartRateBpm, 200.0);
        s.contact = Some(false);
        h.push(dev, &s);
        let series = h.get_mut(dev, Quantity::HeartRateBpm).unwrap();
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
