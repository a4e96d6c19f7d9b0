//! The strap's RR intervals checked against its raw ECG: R-peaks found in
//! each ECG device's signal ([`crate::analysis::rpeaks`]), their intervals
//! paired with the strap's ([`crate::analysis::rr_check`]).

use std::collections::BTreeMap;

use crate::analysis::beats::Segment;
use crate::analysis::rpeaks::RPeaks;
use crate::analysis::rr_check::{self, EcgInterval, Pairing, StrapBeat};
use crate::ecg::NOMINAL_RATE_HZ;
use crate::record::{ReadError, Recording, ecg};

/// One ECG device's beats from both sides, paired.
#[derive(Debug, Clone)]
pub(super) struct StrapCheck {
    pub strap: Vec<StrapBeat>,
    pub ecg: Vec<EcgInterval>,
    pub pairing: Pairing,
}

impl StrapCheck {
    pub fn agreement(&self, from_s: f64, to_s: f64) -> rr_check::Agreement {
        rr_check::agreement(&self.strap, &self.ecg, &self.pairing, from_s, to_s)
    }
}

/// Per device with ECG in `recording`, its check against the strap's beats
/// in `segments` (a device's own ECG and RR only).
///
/// # Errors
/// The ECG cannot be read.
pub(super) fn strap_checks(
    recording: &Recording,
    segments: &[Segment],
) -> Result<BTreeMap<String, StrapCheck>, ReadError> {
    // Per device: the detector, the peaks found (ns) and where runs began.
    let mut found: BTreeMap<String, (RPeaks, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    ecg::for_each_frame(recording, |frame| {
        let (detector, peaks, runs) = found
            .entry(frame.device.to_string())
            .or_insert_with(|| (RPeaks::new(NOMINAL_RATE_HZ), Vec::new(), Vec::new()));
        if frame.timing.new_run {
            runs.push(frame.timing.first_ns);
        }
        detector.push(frame.timing.first_ns, frame.timing.period_ns, &frame.samples_uv, peaks);
    })?;
    let mut out = BTreeMap::new();
    for (device, (mut detector, mut peaks, runs)) in found {
        detector.finish(&mut peaks);
        let peaks_s: Vec<f64> = peaks.iter().map(|ns| ns / 1e9).collect();
        // No interval spans the start of a run (a reconnection, a restart).
        let mut cuts: Vec<usize> = runs.iter().map(|&r| peaks.partition_point(|&p| p < r)).collect();
        cuts.push(peaks_s.len());
        let mut from = 0;
        let parts: Vec<&[f64]> = cuts
            .into_iter()
            .map(|to| {
                let part = &peaks_s[from.min(to)..to];
                from = to;
                part
            })
            .collect();
        let intervals = EcgInterval::from_runs(parts);
        let strap: Vec<StrapBeat> = segments
            .iter()
            .filter(|s| s.device == device)
            .flat_map(|s| {
                s.beats.iter().map(|b| StrapBeat { at_s: b.at.as_secs_f64(), rr_ms: b.rr_ms, segment: s.index })
            })
            .collect();
        let pairing = rr_check::pair(&strap, &intervals);
        out.insert(device, StrapCheck { strap, ecg: intervals, pairing });
    }
    Ok(out)
}
