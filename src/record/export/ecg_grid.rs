//! The ECG of the EDF+ and BIDS exports: each device with ECG at the
//! nominal 130 Hz on a grid of whole seconds from the export's time 0.
//!
//! Grid sample `j` of second `k` is at `k + j/130` s; it takes the value of
//! the recorded sample nearest to it in session time (placed by
//! `crate::ecg::EcgClock` through `record::ecg`) if that is within half the
//! sample's period, else none (EDF+ writes 0 µV, BIDS `n/a`): before the
//! ECG starts, in a gap, after it ends. Each such stretch of a second or
//! more is listed (EDF+ annotates it `ECG absent <device>`).
//!
//! Streaming: frames are pulled from the reader only as far as the record
//! being written needs (plus [`LOOKAHEAD_NS`]), so memory holds about a
//! second of samples per device.

use std::collections::VecDeque;
use std::time::Duration;

use crate::ecg::NOMINAL_RATE_HZ;
use crate::model::{DeviceLabel, SessionTime};
use crate::record::ecg::{EcgReader, PlacedFrame};
use crate::record::{RecordError, Recording};

/// Samples per 1-second data record.
pub const SAMPLES_PER_RECORD: usize = 130;

/// A stretch without ECG shorter than this is not annotated.
const ABSENT_MIN_NS: f64 = 1e9;

/// Frames are read until one arrives this long after the instant needed:
/// a frame's samples lie before its arrival (its last at the arrival for
/// the first frame of a run, within the strap's drift after).
const LOOKAHEAD_NS: f64 = 2e9;

const SECOND_NS: f64 = 1e9;

/// What the first pass learns of the ECG.
#[derive(Debug, Default)]
pub struct EcgPlan {
    /// Devices with ECG, in name order, with their recorded µV range.
    pub devices: Vec<(DeviceLabel, i32, i32)>,
    /// `ECG absent <device>` annotations: onset, duration, text.
    pub absent: Vec<(SessionTime, Duration, String)>,
    /// The latest sample, session time.
    pub last: SessionTime,
}

/// One device's ECG as the first pass saw it: stretches without samples
/// (session ns) and its last sample.
#[derive(Debug)]
pub struct Span {
    device: DeviceLabel,
    holes: Vec<(f64, f64)>,
    last: f64,
}

impl EcgPlan {
    /// Read the recording's ECG once: devices, ranges, stretches without
    /// samples. [`annotate`](Self::annotate) turns the spans into
    /// annotations once the recording's end is known.
    pub fn scan(recording: &Recording) -> Result<(EcgPlan, Vec<Span>), RecordError> {
        let mut plan = EcgPlan::default();
        // Per device, the first sample (NaN: none yet) and the span so far.
        let mut seen: Vec<(f64, Span)> = Vec::new();
        let mut reader = EcgReader::open(recording)?;
        while let Some(f) = reader.next_frame()? {
            let Some(i) = index(&mut plan.devices, &mut seen, &f) else { continue };
            let (_, lo, hi) = &mut plan.devices[i];
            for &v in &f.samples_uv {
                *lo = (*lo).min(v);
                *hi = (*hi).max(v);
            }
            let (first, span) = &mut seen[i];
            for k in 0..f.samples_uv.len() {
                let t = f.timing.at_ns(k);
                if t < 0.0 {
                    continue;
                }
                if first.is_nan() {
                    *first = t;
                    if t >= ABSENT_MIN_NS {
                        span.holes.push((0.0, t));
                    }
                } else if t - span.last >= ABSENT_MIN_NS {
                    span.holes.push((span.last, t));
                }
                if span.last.is_nan() || t > span.last {
                    span.last = t;
                }
            }
        }
        let spans: Vec<Span> = seen.into_iter().filter(|(first, _)| !first.is_nan()).map(|(_, s)| s).collect();
        for s in &spans {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let last = SessionTime(s.last as u64);
            plan.last = plan.last.max(last);
        }
        Ok((plan, spans))
    }

    /// The `ECG absent` annotations of `spans`, and of each device's last
    /// sample to `end`.
    pub fn annotate(&mut self, spans: Vec<Span>, end: SessionTime) {
        #[allow(clippy::cast_precision_loss)]
        let end_ns = end.as_nanos() as f64;
        for mut span in spans {
            if end_ns - span.last >= ABSENT_MIN_NS {
                span.holes.push((span.last, end_ns));
            }
            for (from, to) in span.holes {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let (onset, duration) = (SessionTime(from as u64), Duration::from_nanos((to - from) as u64));
                self.absent.push((onset, duration, format!("ECG absent {}", span.device)));
            }
        }
        self.absent.sort_by_key(|a| a.0);
    }
}

/// The device's index in the plan, added if new.
fn index(devices: &mut Vec<(DeviceLabel, i32, i32)>, seen: &mut Vec<(f64, Span)>, f: &PlacedFrame) -> Option<usize> {
    if f.samples_uv.is_empty() {
        return None;
    }
    if let Some(i) = devices.iter().position(|(d, _, _)| *d == f.device) {
        return Some(i);
    }
    devices.push((f.device.clone(), i32::MAX, i32::MIN));
    seen.push((f64::NAN, Span { device: f.device.clone(), holes: Vec::new(), last: f64::NAN }));
    Some(devices.len() - 1)
}

/// Samples read but not yet passed: (grid ns, µV, half the sample's period).
type Waiting = VecDeque<(f64, i32, f64)>;

/// The ECG on the grid, second by second (second pass).
pub struct EcgGrid {
    reader: EcgReader,
    /// Per plan device: its waiting samples (grid ns, µV, half the
    /// sample's period).
    devices: Vec<(DeviceLabel, Waiting)>,
    /// Arrival (grid ns) of the last frame read.
    read_to: f64,
    ended: bool,
    offset_ns: f64,
}

impl EcgGrid {
    /// `offset_ns`: session time zero on the grid (its fraction of a second).
    pub fn new(recording: &Recording, plan: &EcgPlan, offset_ns: u64) -> Result<Self, RecordError> {
        let devices = plan.devices.iter().map(|(d, _, _)| (d.clone(), VecDeque::new())).collect();
        #[allow(clippy::cast_precision_loss)]
        let offset_ns = offset_ns as f64;
        // Without ECG there is nothing to read (the first pass read it all).
        let ended = plan.devices.is_empty();
        Ok(EcgGrid { reader: EcgReader::open(recording)?, devices, read_to: f64::MIN, ended, offset_ns })
    }

    /// Second `second`'s values: each device's 130, device after device
    /// (plan order), `None` where there is no ECG, appended to `out`.
    pub fn second(&mut self, second: u64, out: &mut Vec<Option<i32>>) -> Result<(), RecordError> {
        #[allow(clippy::cast_precision_loss)]
        let start = second as f64 * SECOND_NS;
        self.read_until(start + SECOND_NS + LOOKAHEAD_NS)?;
        for (_, waiting) in &mut self.devices {
            for j in 0..SAMPLES_PER_RECORD {
                #[allow(clippy::cast_precision_loss)]
                let g = start + j as f64 * SECOND_NS / NOMINAL_RATE_HZ;
                while waiting.len() >= 2 && (waiting[1].0 - g).abs() <= (waiting[0].0 - g).abs() {
                    waiting.pop_front();
                }
                out.push(match waiting.front() {
                    Some(&(t, uv, half)) if (t - g).abs() <= half => Some(uv),
                    _ => None,
                });
            }
            // Samples well before the next record can no longer be nearest.
            while waiting.len() >= 2 && waiting[1].0 < start + SECOND_NS {
                waiting.pop_front();
            }
        }
        Ok(())
    }

    fn read_until(&mut self, until: f64) -> Result<(), RecordError> {
        while !self.ended && self.read_to < until {
            let Some(f) = self.reader.next_frame()? else {
                self.ended = true;
                break;
            };
            #[allow(clippy::cast_precision_loss)]
            let arrival = f.arrival.as_nanos() as f64 + self.offset_ns;
            self.read_to = self.read_to.max(arrival);
            let Some((_, waiting)) = self.devices.iter_mut().find(|d| d.0 == f.device) else { continue };
            let half = f.timing.period_ns / 2.0;
            for (i, &uv) in f.samples_uv.iter().enumerate() {
                let t = f.timing.at_ns(i) + self.offset_ns;
                if t >= 0.0 {
                    waiting.push_back((t, uv, half));
                }
            }
        }
        Ok(())
    }

    /// What the reader left out.
    #[must_use]
    pub fn damage(&self) -> &[crate::record::Damage] {
        self.reader.damage()
    }
}
