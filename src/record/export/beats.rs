//! The derived beats table: every recorded RR interval as the beat that
//! ends it, with the notification it came from, its segment and the class
//! `vigil analyze`'s artifact correction gave it.
//!
//! A heart-rate notification carries the intervals of the beats since the
//! last one, without their times. The decoder stamps the last interval at
//! the notification's arrival and counts earlier ones back by their
//! intervals (`gatt::heart_rate`), so a beat's time is at most the
//! notification's delivery delay late. Beats without skin contact or with
//! an invalid interval are rows with no segment and no class: they are in
//! no segment, and no analysis uses them.

use std::collections::HashMap;

use crate::analysis::beats::{self, Corrected};
use crate::analysis::hrv::artifacts::BeatClass;
use crate::analysis::stats::Holes;
use crate::model::{Characteristic, OutputEvent, Quantity, Sample, SessionTime};

use super::super::{ReadError, Recording};

/// One row of the beats table.
#[derive(Debug, Clone, PartialEq)]
pub struct BeatRow {
    pub device: String,
    /// When the beat happened (the end of its interval).
    pub at: SessionTime,
    pub rr_ms: f64,
    /// The notification that delivered the interval; `None` where the
    /// recording's notifications do not hold it (a damaged file, a manual
    /// entry).
    pub notification_at: Option<SessionTime>,
    pub contact: Option<bool>,
    /// The device's contiguous segment, from 0; `None` for a beat left out.
    pub segment: Option<usize>,
    /// `normal`, `ectopic`, `missed`, `extra`, `long_short`; `None` for a
    /// beat left out.
    pub class: Option<&'static str>,
}

/// The beats of `recording`, by device then time.
///
/// # Errors
/// Its notifications cannot be read.
pub fn beat_rows(
    recording: &Recording,
    samples: &[Sample],
    events: &[OutputEvent],
    end: SessionTime,
) -> Result<Vec<BeatRow>, ReadError> {
    let holes = Holes::from_events(events, end);
    let corrected: Vec<Corrected> =
        beats::segments(samples, &holes).iter().filter_map(|s| beats::correct(s).ok()).collect();
    let mut placed: HashMap<(&str, SessionTime), (usize, BeatClass)> = HashMap::new();
    for c in &corrected {
        for (beat, class) in &c.beats {
            placed.insert((c.device.as_str(), beat.at), (c.index, *class));
        }
    }
    let delivered = notification_times(recording)?;
    let mut rows: Vec<BeatRow> = samples
        .iter()
        .filter(|s| s.quantity == Quantity::RrIntervalMs)
        .map(|s| {
            let place = placed.get(&(s.device.as_str(), s.at));
            BeatRow {
                device: s.device.to_string(),
                at: s.at,
                rr_ms: s.value,
                notification_at: delivered.get(&(s.device.to_string(), s.at.as_nanos() / 1_000)).copied(),
                contact: s.contact,
                segment: place.map(|p| p.0),
                class: place.map(|p| class_name(p.1)),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.device, a.at).cmp(&(&b.device, b.at)));
    Ok(rows)
}

fn class_name(class: BeatClass) -> &'static str {
    match class {
        BeatClass::Normal => "normal",
        BeatClass::Ectopic => "ectopic",
        BeatClass::Missed => "missed",
        BeatClass::Extra => "extra",
        BeatClass::LongShort => "long_short",
    }
}

/// Per (device, beat time in whole microseconds: `samples.arrow` keeps no
/// more), the time of the notification that carried the beat: each
/// heart-rate notification decoded again as the pipeline decodes it.
fn notification_times(recording: &Recording) -> Result<HashMap<(String, u64), SessionTime>, ReadError> {
    let mut out = HashMap::new();
    let mut decoded = Vec::new();
    for n in recording.notifications()? {
        if n.characteristic != Characteristic::HeartRateMeasurement {
            continue;
        }
        decoded.clear();
        // A payload that does not decode made no samples either.
        if crate::gatt::decode_samples(
            n.characteristic,
            &n.payload,
            n.at,
            &n.device,
            Quantity::AmbientTemperatureC,
            &mut decoded,
        )
        .is_err()
        {
            continue;
        }
        for s in decoded.iter().filter(|s| s.quantity == Quantity::RrIntervalMs) {
            out.insert((s.device.to_string(), s.at.as_nanos() / 1_000), n.at);
        }
    }
    Ok(out)
}
