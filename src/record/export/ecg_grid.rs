//! The ECG of the EDF+ and BIDS exports: each device with ECG at the
//! nominal 130 Hz on a grid of whole seconds from the export's time 0.
//!
//! Grid sample `j` of second `k` is at `k + j/130` s; it takes the value of
//! the recorded sample nearest to it in session time (placed by
//! `crate::ecg::EcgClock` through `record::ecg`) if that is within half the
//! sample's period, else none (EDF+ writes 0 µV, BIDS `n/a`): before the
//! ECG starts, in a gap, after it ends. Each such stretch of a second or
//! more that no gap or disconnection of its device already spans is listed
//! (EDF+ annotates it `ECG absent <device>`).
//!
//! Streaming: frames are pulled from the reader only as far as the record
//! being written needs (plus [`LOOKAHEAD_NS`]), so memory holds about a
//! second of samples per device.

use std::collections::VecDeque;
use std::time::Duration;

use crate::ecg::NOMINAL_RATE_HZ;
use crate::model::{ConnectionChange, DeviceLabel, OutputEvent, SessionTime};
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
    /// sample to `end`, but for the stretches `covered` already marks.
    pub fn annotate(&mut self, spans: Vec<Span>, end: SessionTime, covered: &Covered) {
        #[allow(clippy::cast_precision_loss)]
        let end_ns = end.as_nanos() as f64;
        for mut span in spans {
            if end_ns - span.last >= ABSENT_MIN_NS {
                span.holes.push((span.last, end_ns));
            }
            for (from, to) in span.holes {
                if covered.spans(&span.device, from, to) {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let (onset, duration) = (SessionTime(from as u64), Duration::from_nanos((to - from) as u64));
                self.absent.push((onset, duration, format!("ECG absent {}", span.device)));
            }
        }
        self.absent.sort_by_key(|a| a.0);
    }
}

/// The stretches that a gap or a disconnection annotation marks: an ECG
/// absence within one (give or take [`COVER_SLACK_NS`]) needs no annotation
/// of its own.
#[derive(Debug, Default)]
pub struct Covered {
    /// (device, or `None` for a gap of the whole session; from; to), ns.
    spans: Vec<(Option<DeviceLabel>, f64, f64)>,
    /// Devices disconnected and not (yet) back, since when.
    down: Vec<(DeviceLabel, f64)>,
}

/// How far an absence may reach beyond the gap or disconnection that
/// explains it: a frame's samples precede its arrival by up to ~0.6 s.
const COVER_SLACK_NS: f64 = 1e9;

impl Covered {
    /// Take one recorded event, in time order.
    #[allow(clippy::cast_precision_loss)]
    pub fn note(&mut self, e: &OutputEvent) {
        let ns = |t: SessionTime| t.as_nanos() as f64;
        match e {
            OutputEvent::Gap { at, duration } => self.spans.push((None, ns(*at) - duration.as_nanos() as f64, ns(*at))),
            OutputEvent::Connection { at, device, change: ConnectionChange::Disconnected { .. } }
                if !self.down.iter().any(|(d, _)| d == device) =>
            {
                self.down.push((device.clone(), ns(*at)));
            }
            OutputEvent::Connection { at, device, change: ConnectionChange::Connected { .. } } => {
                if let Some(i) = self.down.iter().position(|(d, _)| d == device) {
                    let (device, from) = self.down.remove(i);
                    self.spans.push((Some(device), from, ns(*at)));
                }
            }
            _ => {}
        }
    }

    fn spans(&self, device: &DeviceLabel, from: f64, to: f64) -> bool {
        let within = |a: f64, b: f64| a <= from + COVER_SLACK_NS && b >= to - COVER_SLACK_NS;
        self.spans.iter().any(|(d, a, b)| d.as_ref().is_none_or(|d| d == device) && within(*a, *b))
            || self.down.iter().any(|(d, a)| d == device && within(*a, f64::INFINITY))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(holes: &[(f64, f64)], last: f64) -> Span {
        Span { device: DeviceLabel::from("chest"), holes: holes.to_vec(), last }
    }

    #[test]
    fn an_absence_a_disconnection_or_gap_spans_is_not_annotated_again() {
        let s = |secs: f64| SessionTime((secs * 1e9) as u64);
        let mut covered = Covered::default();
        let chest = DeviceLabel::from("chest");
        covered.note(&OutputEvent::Connection {
            at: s(10.0),
            device: chest.clone(),
            change: ConnectionChange::Disconnected { reason: None },
        });
        covered.note(&OutputEvent::Connection {
            at: s(20.0),
            device: chest,
            change: ConnectionChange::Connected { name: None, address: None, services: Vec::new() },
        });
        covered.note(&OutputEvent::Gap { at: s(50.0), duration: Duration::from_secs(10) });
        let mut plan = EcgPlan::default();
        // Absent 9.6–20.4 s (the disconnection), 30–35 s (frames lost),
        // 40–50 s (the gap), and from the last sample at 70 s to the end.
        let holes = [(9.6e9, 20.4e9), (30e9, 35e9), (40e9, 50e9)];
        plan.annotate(vec![span(&holes, 70e9)], s(80.0), &covered);
        let onsets: Vec<(SessionTime, Duration)> = plan.absent.iter().map(|a| (a.0, a.1)).collect();
        assert_eq!(onsets, [(s(30.0), Duration::from_secs(5)), (s(70.0), Duration::from_secs(10))]);
        assert!(plan.absent.iter().all(|a| a.2 == "ECG absent chest"));
    }
}
