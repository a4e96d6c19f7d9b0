//! `vigil analyze RECORDING... [--window SPEC]...`: one row per
//! (recording, window, device) with each quantity's statistics and data
//! quality, time in alarm per condition and priority, HRV from the RR
//! intervals and, for a strap with raw ECG, how its RR intervals agree
//! with the ECG's R-peaks. Several recordings make one table (a cohort).
//!
//! The figures come from [`crate::analysis`]: the same vital statistics,
//! alarm episodes and HRV as `vigil summary` and the report. This module
//! only gathers them per window and writes them out ([`output`]).

mod ecg;
pub mod output;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analysis::alarms::{self, AlarmTime, Episode};
use crate::analysis::beats::{self, Corrected};
use crate::analysis::hrv::artifacts::{BeatClass, ClassCounts};
use crate::analysis::hrv::{Unavailable, dfa, frequency, time};
use crate::analysis::rr_check::Agreement;
use crate::analysis::stats::{self, Holes, Span, VitalStats};
use crate::analysis::windows::{Window, WindowSpec};
use crate::model::{AlarmEvent, DeviceLabel, OutputEvent, Quantity, Sample, SessionTime};
use crate::record::{RecordError, Recording};

/// One row: a device of a recording in one window.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub recording: String,
    pub participant: Option<String>,
    /// The `--window` spec as given.
    pub window: String,
    /// Position within an `every:` spec, from 0.
    pub window_index: usize,
    /// The window in session seconds, `[from_s, to_s)`.
    pub from_s: f64,
    pub to_s: f64,
    pub device: String,
    /// Per quantity the device recorded, in the model's order.
    pub quantities: Vec<QuantityRow>,
    /// Time in alarm of this device's alarms within the window, per
    /// condition and priority (an escalating episode's time split by the
    /// priority it stood at).
    pub time_in_alarm: Vec<AlarmTime>,
    /// Time during which at least one of this device's alarms was open.
    pub time_in_any_alarm_s: f64,
    /// `None` for a device without RR intervals.
    pub hrv: Option<Hrv>,
    /// The strap's RR intervals against its raw ECG's R-peaks; `None` for a
    /// device without ECG.
    pub ecg_rr: Option<Agreement>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuantityRow {
    pub quantity: &'static str,
    pub unit: &'static str,
    #[serde(flatten)]
    pub stats: VitalStats,
}

/// HRV of one device in one window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Hrv {
    /// Recorded beats (RR intervals) ending in the window and used.
    pub beats: usize,
    /// Beats left out: no skin contact or an invalid interval.
    pub beats_excluded: usize,
    /// Contiguous segments the window's beats belong to.
    pub segments: usize,
    /// NN intervals after correction ending in the window.
    pub nn: usize,
    pub ectopic: usize,
    pub missed: usize,
    pub extra: usize,
    pub long_short: usize,
    /// Beats of any artifact class as a percentage of `beats`.
    pub corrected_percent: Option<f64>,
    pub mean_nn_ms: Option<f64>,
    pub sdnn_ms: Option<f64>,
    pub rmssd_ms: Option<f64>,
    pub sdsd_ms: Option<f64>,
    pub nn50: Option<usize>,
    pub pnn50_percent: Option<f64>,
    pub mean_hr_bpm: Option<f64>,
    pub min_hr_bpm: Option<f64>,
    pub max_hr_bpm: Option<f64>,
    pub sd1_ms: Option<f64>,
    pub sd2_ms: Option<f64>,
    /// Why the time domain and Poincaré measures are null.
    pub time_reason: Option<String>,
    pub vlf_ms2: Option<f64>,
    pub lf_ms2: Option<f64>,
    pub hf_ms2: Option<f64>,
    pub total_power_ms2: Option<f64>,
    pub lf_hf: Option<f64>,
    pub lf_nu: Option<f64>,
    pub hf_nu: Option<f64>,
    /// Why LF, HF and their ratios are null.
    pub frequency_reason: Option<String>,
    /// Why VLF and total power are null.
    pub vlf_reason: Option<String>,
    pub dfa_alpha1: Option<f64>,
    pub dfa_reason: Option<String>,
}

/// What to analyse.
pub struct Request {
    pub recordings: Vec<PathBuf>,
    /// `all` when empty.
    pub windows: Vec<WindowSpec>,
    /// Alarm events made again under other limits (`--config`: as `vigil
    /// replay --config` makes them), used instead of the recorded ones.
    pub rerun: Option<Rerun>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("recordings", &self.recordings)
            .field("windows", &self.windows)
            .field("rerun", &self.rerun.is_some())
            .finish()
    }
}

/// Makes a recording's alarm events again.
pub type Rerun = Box<dyn Fn(&Recording) -> anyhow::Result<Vec<AlarmEvent>>>;

/// Something in one recording that kept a window from being analysed; the
/// other windows and recordings go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub recording: PathBuf,
    pub why: String,
}

/// The rows of every recording and window, in the order given, and what
/// was skipped. `progress` is called after each recording.
///
/// # Errors
/// A recording that cannot be opened or read (named in the error).
pub fn analyze(req: &Request, mut progress: impl FnMut(&Path)) -> Result<(Vec<Row>, Vec<Skipped>), RecordError> {
    let all = [WindowSpec { text: "all".to_owned(), kind: crate::analysis::windows::SpecKind::All }];
    let specs: &[WindowSpec] = if req.windows.is_empty() { &all } else { &req.windows };
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for path in &req.recordings {
        let recording = Recording::open(path)?;
        let samples = recording.samples()?;
        let end = recording.end()?;
        let mut events = recording.events()?;
        if let Some(rerun) = &req.rerun {
            let rerun = rerun(&recording)
                .map_err(|e| RecordError::Other(format!("{}: re-running the alarms: {e:#}", path.display())))?;
            events.retain(|e| !matches!(e, OutputEvent::Alarm(_)));
            events.extend(rerun.into_iter().map(OutputEvent::Alarm));
            events.sort_by_key(OutputEvent::at);
        }
        let one = One::new(&recording, &samples, &events, end)?;
        for spec in specs {
            match spec.resolve(end.as_secs_f64(), &events) {
                Ok(windows) => rows.extend(windows.iter().flat_map(|w| one.rows(w))),
                Err(why) => skipped.push(Skipped { recording: path.clone(), why }),
            }
        }
        progress(path);
    }
    Ok((rows, skipped))
}

/// One recording, read and corrected once for all its windows.
struct One<'a> {
    id: String,
    participant: Option<String>,
    series: BTreeMap<(DeviceLabel, Quantity), Vec<&'a Sample>>,
    holes: Holes,
    episodes: Vec<Episode>,
    devices: Vec<String>,
    corrected: Vec<Corrected>,
    /// Per device with ECG, its strap RR paired with its R-peaks.
    strap_checks: BTreeMap<String, ecg::StrapCheck>,
    /// Each device's RR samples left out of the beats (no contact,
    /// invalid), by time.
    excluded_beats: Vec<(String, SessionTime)>,
}

impl<'a> One<'a> {
    fn new(
        recording: &Recording,
        samples: &'a [Sample],
        events: &[OutputEvent],
        end: SessionTime,
    ) -> Result<Self, RecordError> {
        let holes = Holes::from_events(events, end);
        let segments = beats::segments(samples, &holes);
        let strap_checks = ecg::strap_checks(recording, &segments)?;
        // A segment always holds valid intervals, so correction cannot
        // refuse one.
        let corrected = segments.iter().filter_map(|s| beats::correct(s).ok()).collect();
        let mut devices: Vec<String> = samples.iter().map(|s| s.device.to_string()).collect();
        devices.sort();
        devices.dedup();
        let excluded_beats = samples
            .iter()
            .filter(|s| s.quantity == Quantity::RrIntervalMs && !beats::usable(s.contact, s.value))
            .map(|s| (s.device.to_string(), s.at))
            .collect();
        Ok(One {
            id: recording.meta.id.clone(),
            participant: recording.meta.participant.clone(),
            series: stats::series(samples),
            holes,
            episodes: alarms::episodes(events, end),
            devices,
            corrected,
            strap_checks,
            excluded_beats,
        })
    }

    fn rows(&self, w: &Window) -> Vec<Row> {
        let span = Span { from: SessionTime::from_secs_f64(w.from_s), to: SessionTime::from_secs_f64(w.to_s) };
        self.devices
            .iter()
            .map(|device| {
                let quantities = Quantity::ALL
                    .iter()
                    .filter_map(|&q| {
                        let rows = self.series.get(&(DeviceLabel::from(device.as_str()), q))?;
                        Some(QuantityRow {
                            quantity: q.as_str(),
                            unit: q.unit(),
                            stats: stats::vital_stats(rows.iter().copied(), Some(span), &self.holes),
                        })
                    })
                    .collect();
                let mine: Vec<Episode> = self
                    .episodes
                    .iter()
                    .filter(|e| e.device.as_ref().is_some_and(|d| d.as_str() == device))
                    .cloned()
                    .collect();
                let t = alarms::time_in_alarm(&mine, span.from, span.to);
                Row {
                    recording: self.id.clone(),
                    participant: self.participant.clone(),
                    window: w.spec.clone(),
                    window_index: w.index,
                    from_s: w.from_s,
                    to_s: w.to_s,
                    device: device.clone(),
                    quantities,
                    time_in_alarm: t.by_condition,
                    time_in_any_alarm_s: t.any_seconds,
                    hrv: self.hrv(device, w),
                    ecg_rr: self.strap_checks.get(device).map(|c| c.agreement(w.from_s, w.to_s)),
                }
            })
            .collect()
    }

    /// HRV of `device` in `w`: the NN intervals of every corrected segment
    /// ending in the window, joined. Joining segments leaves out the hole
    /// between them (no interval spans it) but puts their ends next to
    /// each other, as Kubios does when it leaves out a noisy stretch.
    fn hrv(&self, device: &str, w: &Window) -> Option<Hrv> {
        let excluded = self
            .excluded_beats
            .iter()
            .filter(|(d, at)| d == device && (w.from_s..w.to_s).contains(&at.as_secs_f64()))
            .count();
        let mine: Vec<&Corrected> = self.corrected.iter().filter(|c| c.device == device).collect();
        if mine.is_empty() && excluded == 0 {
            return None;
        }
        let mut h = Hrv { beats_excluded: excluded, ..Hrv::default() };
        let mut nn = Vec::new();
        let mut counts = ClassCounts::default();
        for c in &mine {
            let part = c.nn_in(w.from_s, w.to_s);
            let mut any = !part.is_empty();
            nn.extend_from_slice(part);
            for (_, class) in c.beats_in(w.from_s, w.to_s) {
                any = true;
                h.beats += 1;
                match class {
                    BeatClass::Normal => {}
                    BeatClass::Ectopic => counts.ectopic += 1,
                    BeatClass::Missed => counts.missed += 1,
                    BeatClass::Extra => counts.extra += 1,
                    BeatClass::LongShort => counts.long_short += 1,
                }
            }
            h.segments += usize::from(any);
        }
        h.nn = nn.len();
        (h.ectopic, h.missed, h.extra, h.long_short) = (counts.ectopic, counts.missed, counts.extra, counts.long_short);
        #[allow(clippy::cast_precision_loss)]
        let share = |n: usize| 100.0 * n as f64 / h.beats as f64;
        h.corrected_percent =
            (h.beats > 0).then(|| share(counts.ectopic + counts.missed + counts.extra + counts.long_short));
        let reason = |e: Unavailable| Some(e.to_string());
        match time::time_domain(&nn) {
            Ok(t) => {
                h.mean_nn_ms = Some(t.mean_nn_ms);
                h.sdnn_ms = Some(t.sdnn_ms);
                h.rmssd_ms = Some(t.rmssd_ms);
                h.sdsd_ms = Some(t.sdsd_ms);
                h.nn50 = Some(t.nn50);
                h.pnn50_percent = Some(t.pnn50_percent);
                h.mean_hr_bpm = Some(t.mean_hr_bpm);
                h.min_hr_bpm = Some(t.min_hr_bpm);
                h.max_hr_bpm = Some(t.max_hr_bpm);
                h.sd1_ms = Some(t.sd1_ms);
                h.sd2_ms = Some(t.sd2_ms);
            }
            Err(e) => h.time_reason = reason(e),
        }
        match frequency::frequency_domain(&nn) {
            Ok(f) => {
                h.lf_ms2 = Some(f.lf_ms2);
                h.hf_ms2 = Some(f.hf_ms2);
                h.vlf_ms2 = f.vlf_ms2.ok();
                h.total_power_ms2 = f.total_power_ms2.ok();
                h.vlf_reason = f.vlf_ms2.err().and_then(reason);
                h.lf_hf = f.lf_hf.ok();
                h.lf_nu = f.lf_nu.ok();
                h.hf_nu = f.hf_nu.ok();
                // A ratio without a denominator says why in the same field.
                if let Err(e) = f.lf_hf.and(f.lf_nu) {
                    h.frequency_reason = reason(e);
                }
            }
            Err(e) => {
                h.frequency_reason = reason(e);
                h.vlf_reason = reason(e);
            }
        }
        match dfa::dfa_alpha1(&nn) {
            Ok(a) => h.dfa_alpha1 = Some(a),
            Err(e) => h.dfa_reason = reason(e),
        }
        Some(h)
    }
}
