//! `vigil export --format bids`: recordings as a BIDS dataset of
//! physiological recordings (docs/recording-format.md, "BIDS export").
//!
//! ```text
//! OUT/                                          0700 (files 0600)
//!   dataset_description.json  README  participants.tsv  participants.json
//!   sessions.json                               describes every *_sessions.tsv
//!   sub-P01/
//!     sub-P01_sessions.tsv                      ses-N → recording id, start
//!     ses-1/
//!       sub-P01_ses-1_scans.tsv                 each file's acquisition time
//!       beh/
//!         sub-P01_ses-1_task-session_physio.tsv.gz   1 Hz vitals, no header
//!         sub-P01_ses-1_task-session_physio.json     SamplingFrequency, StartTime, Columns, units
//!         sub-P01_ses-1_task-session_recording-ecg_physio.tsv.gz   ECG at 130 Hz (a session with ECG)
//!         sub-P01_ses-1_task-session_recording-ecg_physio.json
//!         sub-P01_ses-1_task-session_events.tsv      alarms, markers, doses, gaps, disconnections
//!         sub-P01_ses-1_task-session_events.json
//! ```
//!
//! A participant is `sub-<code>` with the code's letters and digits (BIDS
//! labels allow nothing else); an anonymous recording is its own
//! participant, `sub-anon<the id's random part>`. A participant's
//! recordings are `ses-1`, `ses-2`, … by start time. The task is the
//! recording's protocol where `session.json` has one, else `session`.
//!
//! Time 0 of a run is the session's start rounded down to the whole
//! second of UTC: the physio file's first row is that second (so
//! `StartTime` is 0) and event onsets count from it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::analysis::alarms::episodes;
use crate::analysis::stats::Holes;
use crate::model::{OperatorAction, OutputEvent, Quantity, SessionTime};

use super::super::{DIR_MODE, META_FILE, RecordError, Recording};
use super::ecg_grid::{self, EcgGrid, EcgPlan};
use super::hold::{self, Grid};

/// The BIDS version the tree follows (the version the bids-validator
/// release vigil is tested with checks against).
pub const BIDS_VERSION: &str = "1.11.1";

/// Export `recordings` into the BIDS dataset `out` (a directory, created if
/// missing). An existing directory that is not empty needs `force`; files
/// vigil writes are then replaced and other files left alone. Returns the
/// files written.
pub fn write(recordings: &[Recording], out: &Path, force: bool) -> Result<Vec<PathBuf>, RecordError> {
    let runs = plan(recordings)?;
    prepare(out, force)?;
    let mut w = Writer { force, written: Vec::new(), made: std::collections::BTreeSet::new() };
    for run in &runs {
        w.run(out, run)?;
    }
    w.dataset_files(out, &runs)?;
    Ok(w.written)
}

/// One recording's place in the dataset.
struct Run<'a> {
    recording: &'a Recording,
    /// The BIDS label, without `sub-`.
    sub: String,
    /// The vigil participant code, `None` for an anonymous recording.
    code: Option<String>,
    ses: usize,
    /// The task label (letters and digits) and the text it came from.
    task: String,
    task_name: String,
    /// Device label → profile id, where `session.json` records one.
    profiles: BTreeMap<String, String>,
}

impl Run<'_> {
    fn stem(&self) -> String {
        format!("sub-{}_ses-{}_task-{}", self.sub, self.ses, self.task)
    }

    fn dir(&self, out: &Path) -> PathBuf {
        out.join(format!("sub-{}", self.sub)).join(format!("ses-{}", self.ses))
    }
}

/// Letters and digits only: what BIDS allows in a label.
fn label(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// Each recording's subject, session and task; refuses a recording given
/// twice and two participant codes that would become one subject.
fn plan(recordings: &[Recording]) -> Result<Vec<Run<'_>>, RecordError> {
    let mut runs = Vec::with_capacity(recordings.len());
    let mut codes: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut ids: BTreeMap<&str, &Path> = BTreeMap::new();
    for recording in recordings {
        let meta = &recording.meta;
        if let Some(first) = ids.insert(&meta.id, &recording.dir) {
            return Err(RecordError::Other(format!(
                "recording `{}` is given twice ({} and {})",
                meta.id,
                first.display(),
                recording.dir.display()
            )));
        }
        let sub = match &meta.participant {
            Some(code) => label(code),
            // The id ends in its random part: stable, and distinct per recording.
            None => format!("anon{}", label(meta.id.rsplit('-').next().unwrap_or(&meta.id))),
        };
        if sub.is_empty() || sub == "anon" {
            return Err(RecordError::Other(format!(
                "{}: participant `{}` has no letter or digit for a BIDS subject label",
                recording.dir.join(META_FILE).display(),
                meta.participant.as_deref().unwrap_or(&meta.id)
            )));
        }
        match codes.get(&sub) {
            Some(other) if *other != meta.participant => {
                return Err(RecordError::Other(format!(
                    "participants `{}` and `{}` would both be BIDS subject sub-{sub} (labels keep only letters and digits)",
                    other.as_deref().unwrap_or("anon"),
                    meta.participant.as_deref().unwrap_or("anon"),
                )));
            }
            _ => {
                codes.insert(sub.clone(), meta.participant.clone());
            }
        }
        let meta = &recording.meta;
        let task_name = meta.protocol.clone().filter(|p| !label(p).is_empty()).unwrap_or_else(|| "session".to_owned());
        let profiles = meta.devices.iter().filter_map(|(d, m)| m.profile.clone().map(|p| (d.clone(), p))).collect();
        runs.push(Run {
            recording,
            sub,
            code: meta.participant.clone(),
            ses: 0,
            task: label(&task_name),
            task_name,
            profiles,
        });
    }
    runs.sort_by(|a, b| {
        (&a.sub, a.recording.meta.start_utc, &a.recording.meta.id).cmp(&(
            &b.sub,
            b.recording.meta.start_utc,
            &b.recording.meta.id,
        ))
    });
    for i in 0..runs.len() {
        runs[i].ses = if i > 0 && runs[i - 1].sub == runs[i].sub { runs[i - 1].ses + 1 } else { 1 };
    }
    Ok(runs)
}

/// Create `out` (0700), or check that it may be written into.
fn prepare(out: &Path, force: bool) -> Result<(), RecordError> {
    let io = |source| RecordError::Io { path: out.to_owned(), source };
    match fs::symlink_metadata(out) {
        Ok(m) if !m.is_dir() => Err(RecordError::Other(format!(
            "{}: exists and is not a directory (the BIDS export writes a directory)",
            out.display()
        ))),
        Ok(_) => {
            let empty = fs::read_dir(out).map_err(io)?.next().is_none();
            if !empty && !force {
                return Err(RecordError::Other(format!(
                    "{}: directory is not empty; give --force to write the dataset into it",
                    out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => super::create_dir(out),
        Err(e) => Err(io(e)),
    }
}

struct Writer {
    force: bool,
    written: Vec<PathBuf>,
    /// Directories this export made (a subject's, for its second session).
    made: std::collections::BTreeSet<PathBuf>,
}

impl Writer {
    /// A directory of the tree, 0700.
    fn dir(&mut self, path: &Path) -> Result<(), RecordError> {
        let io = |source| RecordError::Io { path: path.to_owned(), source };
        if self.made.contains(path) {
            return Ok(());
        }
        match fs::DirBuilder::new().mode(DIR_MODE).create(path) {
            Ok(()) => {
                self.made.insert(path.to_owned());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && self.force && path.is_dir() => {
                fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE)).map_err(io)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Write one file of the tree (0600) with `fill`.
    fn file(
        &mut self,
        path: PathBuf,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), RecordError> {
        let file = super::create_file(&path, self.force)?;
        let io = |source| RecordError::Io { path: path.clone(), source };
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w).and_then(|()| w.flush()).map_err(io)?;
        self.written.push(path);
        Ok(())
    }

    fn json(&mut self, path: PathBuf, value: &Value) -> Result<(), RecordError> {
        self.file(path, |w| {
            serde_json::to_writer_pretty(&mut *w, value)?;
            writeln!(w)
        })
    }

    fn tsv(&mut self, path: PathBuf, rows: &[Vec<String>]) -> Result<(), RecordError> {
        self.file(path, |w| rows.iter().try_for_each(|row| writeln!(w, "{}", row.join("\t"))))
    }

    /// One recording's directory: physio, events, scans.
    fn run(&mut self, out: &Path, run: &Run<'_>) -> Result<(), RecordError> {
        let r = run.recording;
        let samples = r.samples()?;
        let events = r.events()?;
        let end = r.end()?;
        let holes = Holes::from_events(&events, end);
        let grid = hold::grid(r, &samples, &events, end, &run.profiles)?;
        drop(samples);

        let ses_dir = run.dir(out);
        let beh = ses_dir.join("beh");
        self.dir(&out.join(format!("sub-{}", run.sub)))?;
        self.dir(&ses_dir)?;
        self.dir(&beh)?;
        let stem = run.stem();
        let acq_time = acq_time(grid.origin_s);
        let mut scans = vec![vec!["filename".to_owned(), "acq_time".to_owned()]];
        // A recording without vitals (only RR intervals, say) has no
        // physio file: BIDS has no physio without columns.
        if !grid.series.is_empty() {
            let physio = format!("{stem}_physio.tsv.gz");
            self.physio_tsv(beh.join(&physio), &grid)?;
            self.json(beh.join(format!("{stem}_physio.json")), &physio_sidecar(run, &grid))?;
            scans.push(vec![format!("beh/{physio}"), acq_time.clone()]);
        }
        let (ecg, _) = EcgPlan::scan(r)?;
        if !ecg.devices.is_empty() {
            let physio = format!("{stem}_recording-ecg_physio.tsv.gz");
            self.ecg_tsv(beh.join(&physio), r, &ecg, &grid)?;
            self.json(beh.join(format!("{stem}_recording-ecg_physio.json")), &ecg_sidecar(run, &ecg))?;
            scans.push(vec![format!("beh/{physio}"), acq_time.clone()]);
        }
        let events_file = format!("{stem}_events.tsv");
        self.tsv(beh.join(&events_file), &event_rows(&grid, &events, &holes, end))?;
        self.json(beh.join(format!("{stem}_events.json")), &events_sidecar(run))?;
        scans.push(vec![format!("beh/{events_file}"), acq_time]);
        self.tsv(ses_dir.join(format!("sub-{}_ses-{}_scans.tsv", run.sub, run.ses)), &scans)
    }

    /// The physio file: no header row (BIDS), one row per second, `n/a`
    /// where a series holds nothing.
    fn physio_tsv(&mut self, path: PathBuf, grid: &Grid) -> Result<(), RecordError> {
        self.file(path, |w| {
            let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            let mut line = String::new();
            for k in 0..grid.len {
                line.clear();
                for (i, s) in grid.series.iter().enumerate() {
                    if i > 0 {
                        line.push('\t');
                    }
                    match s.values[k] {
                        Some(v) => line.push_str(&v.to_string()),
                        None => line.push_str("n/a"),
                    }
                }
                line.push('\n');
                gz.write_all(line.as_bytes())?;
            }
            gz.finish().map(drop)
        })
    }

    /// The ECG file: no header row, 130 rows a second from time 0 of the
    /// run to the later of its end and the last ECG sample, a column per
    /// device, `n/a` where a device has no sample (see `ecg_grid`).
    fn ecg_tsv(&mut self, path: PathBuf, r: &Recording, ecg: &EcgPlan, grid: &Grid) -> Result<(), RecordError> {
        let offset_ns = u64::try_from(r.start_ns() - grid.origin_s * 1_000_000_000).unwrap_or(0);
        let last_s = (ecg.last.as_nanos() + offset_ns).div_ceil(1_000_000_000);
        let seconds = (grid.len as u64).max(last_s);
        let mut source = EcgGrid::new(r, ecg, offset_ns)?;
        let devices = ecg.devices.len();
        let mut failed: Option<RecordError> = None;
        self.file(path, |w| {
            let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            let mut values: Vec<Option<i32>> = Vec::new();
            let mut text = String::new();
            for k in 0..seconds {
                values.clear();
                if let Err(e) = source.second(k, &mut values) {
                    failed = Some(e);
                    break;
                }
                text.clear();
                for j in 0..ecg_grid::SAMPLES_PER_RECORD {
                    for d in 0..devices {
                        if d > 0 {
                            text.push('\t');
                        }
                        match values[d * ecg_grid::SAMPLES_PER_RECORD + j] {
                            Some(v) => text.push_str(&v.to_string()),
                            None => text.push_str("n/a"),
                        }
                    }
                    text.push('\n');
                }
                gz.write_all(text.as_bytes())?;
            }
            gz.finish().map(drop)
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The files of the whole dataset.
    fn dataset_files(&mut self, out: &Path, runs: &[Run<'_>]) -> Result<(), RecordError> {
        self.json(
            out.join("dataset_description.json"),
            &json!({
                "Name": "vigil physiological recordings",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "GeneratedBy": [{
                    "Name": "vigil",
                    "Version": env!("CARGO_PKG_VERSION"),
                    "Description": "vigil export --format bids",
                }],
            }),
        )?;
        self.file(out.join("README"), |w| w.write_all(README.as_bytes()))?;

        let mut participants = vec![vec!["participant_id".to_owned(), "vigil_code".to_owned()]];
        let mut seen = std::collections::BTreeSet::new();
        for run in runs.iter().filter(|r| seen.insert(r.sub.clone())) {
            participants.push(vec![format!("sub-{}", run.sub), text(run.code.as_deref())]);
        }
        self.tsv(out.join("participants.tsv"), &participants)?;
        self.json(
            out.join("participants.json"),
            &json!({
                "participant_id": {"Description": "BIDS subject: the vigil participant code's letters and digits, or anon and the recording id's random part for an anonymous recording"},
                "vigil_code": {"Description": "The participant pseudonym recorded by vigil (n/a: an anonymous recording)"},
            }),
        )?;

        let mut by_sub: BTreeMap<&str, Vec<&Run<'_>>> = BTreeMap::new();
        for run in runs {
            by_sub.entry(&run.sub).or_default().push(run);
        }
        for (sub, runs) in by_sub {
            let mut rows = vec![["session_id", "acq_time", "vigil_recording", "task_name"].map(String::from).to_vec()];
            for run in runs {
                let origin = run.recording.start_ns().div_euclid(1_000_000_000);
                rows.push(vec![
                    format!("ses-{}", run.ses),
                    acq_time(origin),
                    text(Some(&run.recording.meta.id)),
                    text(Some(&run.task_name)),
                ]);
            }
            self.tsv(out.join(format!("sub-{sub}")).join(format!("sub-{sub}_sessions.tsv")), &rows)?;
        }
        self.json(
            out.join("sessions.json"),
            &json!({
                "acq_time": {"Description": "UTC of time 0 of the session's files: the session's start rounded down to the whole second"},
                "vigil_recording": {"Description": "The vigil recording id (its directory name)"},
                "task_name": {"Description": "The recording's protocol, or session where it has none"},
            }),
        )
    }
}

const README: &str = "\
Physiological recordings exported by vigil (`vigil export --format bids`).

Each session of a participant is one vigil recording. Its beh/ directory holds
the vitals as a physiological recording (_physio.tsv.gz, one row per second,
no header; the columns are named and given units in _physio.json) and its
alarms, operator markers, doses, gaps and disconnections as events
(_events.tsv, described in _events.json). Time 0 is the session's start
rounded down to the whole second of UTC (acq_time in the scans and sessions
files). A value is held from its sample while vigil's monitor would still
have shown it (connected, in contact, plausible, not stale); n/a elsewhere.
A session with ECG (a Polar H10's PMD stream) has it in its own physio file,
_recording-ecg_physio.tsv.gz, at 130 Hz in uV (n/a where no sample).
vigil's docs/recording-format.md describes every column.
";

/// A TSV cell: `n/a` for nothing, tabs and line breaks made spaces.
fn text(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v.replace(['\t', '\n', '\r'], " "),
        _ => "n/a".to_owned(),
    }
}

/// Seconds, exact to the microsecond, without trailing zeros.
fn seconds(d: std::time::Duration) -> String {
    let micros = d.as_micros();
    let s = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// BIDS `acq_time` (UTC) of whole seconds since the Unix epoch.
fn acq_time(origin_s: i64) -> String {
    chrono::DateTime::from_timestamp(origin_s, 0)
        .map_or_else(|| "n/a".to_owned(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A column's name: quantity, then device (`heart_rate_bpm_chest`).
fn column(quantity: Quantity, device: &str) -> String {
    format!("{}_{}", quantity.as_str(), device)
}

/// Units as the BIDS specification writes them (CMIXF-12; `oC` is its
/// degree Celsius).
fn units(quantity: Quantity) -> &'static str {
    match quantity.unit() {
        "°C" => "oC",
        other => other,
    }
}

fn physio_sidecar(run: &Run<'_>, grid: &Grid) -> Value {
    let mut sidecar = serde_json::Map::new();
    sidecar.insert("TaskName".into(), json!(run.task_name));
    sidecar.insert("SamplingFrequency".into(), json!(1.0));
    // Row 0 is time 0 of the run, the same second the event onsets count from.
    sidecar.insert("StartTime".into(), json!(0.0));
    sidecar.insert("PhysioType".into(), json!("generic"));
    let columns: Vec<String> = grid.series.iter().map(|s| column(s.quantity, s.device.as_str())).collect();
    sidecar.insert("Columns".into(), json!(columns));
    for (s, name) in grid.series.iter().zip(columns) {
        sidecar.insert(
            name,
            json!({
                "Description": format!(
                    "{} of device {}, held at 1 Hz from its last valid sample (n/a: none shown)",
                    s.quantity.as_str(),
                    s.device.as_str()
                ),
                "Units": units(s.quantity),
            }),
        );
    }
    Value::Object(sidecar)
}

/// The ECG's column names: `cardiac` for the one device of most sessions,
/// `cardiac_<device>` for each when there are several.
fn ecg_columns(ecg: &EcgPlan) -> Vec<String> {
    match ecg.devices.as_slice() {
        [_] => vec!["cardiac".to_owned()],
        many => many.iter().map(|(d, _, _)| format!("cardiac_{}", d.as_str())).collect(),
    }
}

fn ecg_sidecar(run: &Run<'_>, ecg: &EcgPlan) -> Value {
    let mut sidecar = serde_json::Map::new();
    sidecar.insert("TaskName".into(), json!(run.task_name));
    sidecar.insert("SamplingFrequency".into(), json!(ecg_grid::SAMPLES_PER_RECORD));
    sidecar.insert("StartTime".into(), json!(0.0));
    sidecar.insert("PhysioType".into(), json!("generic"));
    let columns = ecg_columns(ecg);
    sidecar.insert("Columns".into(), json!(columns));
    for ((device, _, _), name) in ecg.devices.iter().zip(columns) {
        sidecar.insert(
            name,
            json!({
                "Description": format!(
                    "ECG of device {} (Polar PMD), each row the recorded sample nearest its time on the 130 Hz grid \
                     (sample times from the strap's own clock), n/a: none within half a sample period",
                    device.as_str()
                ),
                "Units": "uV",
            }),
        );
    }
    Value::Object(sidecar)
}

fn events_sidecar(run: &Run<'_>) -> Value {
    json!({
        "TaskName": run.task_name,
        "onset": {"Description": "Seconds from time 0 of the run (the session's start rounded down to the whole second of UTC)", "Units": "s"},
        "duration": {"Description": "Seconds the event lasted: an alarm from onset to clear (or the recording's end), a gap or a disconnection its length; 0 for a marker or dose", "Units": "s"},
        "trial_type": {
            "Description": "What happened",
            "Levels": {
                "alarm": "An alarm episode, counted once at the highest priority it reached",
                "marker": "An operator's marker",
                "dose": "A dose marker",
                "gap": "The session's time jumped (input paused or lost); no data from any device",
                "disconnection": "A device's link was down",
            },
        },
        "value": {"Description": "alarm: the condition (hr.high, tech.stale, ...); marker and dose: the operator's text; n/a otherwise"},
        "device": {"Description": "The device label (n/a: session-wide)"},
        "priority": {"Description": "alarm: the highest priority the episode reached", "Levels": {"low": "low", "medium": "medium", "high": "high"}},
        "dose_mg": {"Description": "dose: the amount given", "Units": "mg"},
        "dose_kind": {"Description": "dose: which dose", "Levels": {"initial": "The first dose", "supplemental": "A supplemental dose"}},
    })
}

/// One row of the events file, before formatting.
struct EventRow {
    onset: std::time::Duration,
    duration: std::time::Duration,
    trial_type: &'static str,
    value: Option<String>,
    device: Option<String>,
    priority: Option<&'static str>,
    dose_mg: Option<f64>,
    dose_kind: Option<&'static str>,
}

impl EventRow {
    fn new(grid: &Grid, from: SessionTime, to: SessionTime, trial_type: &'static str) -> Self {
        EventRow {
            onset: grid.offset_of(from),
            duration: to.since(from),
            trial_type,
            value: None,
            device: None,
            priority: None,
            dose_mg: None,
            dose_kind: None,
        }
    }
}

/// Alarms, markers, doses, gaps and disconnections, by onset, with a header.
fn event_rows(grid: &Grid, events: &[OutputEvent], holes: &Holes, end: SessionTime) -> Vec<Vec<String>> {
    use crate::model::MarkerKind;
    let mut rows = Vec::new();
    for e in episodes(events, end) {
        let mut row = EventRow::new(grid, e.start, e.end, "alarm");
        row.value = Some(e.condition.as_str().to_owned());
        row.device = e.device.map(|d| d.as_str().to_owned());
        row.priority = Some(e.priority.as_str());
        rows.push(row);
    }
    for event in events {
        if let OutputEvent::Operator { at, action: OperatorAction::Marker(m) } = event {
            let dose_kind = match m.kind {
                Some(MarkerKind::Dose) => Some("initial"),
                Some(MarkerKind::SupplementalDose) => Some("supplemental"),
                Some(MarkerKind::Note) | None => None,
            };
            let mut row = EventRow::new(grid, *at, *at, if dose_kind.is_some() { "dose" } else { "marker" });
            row.value = Some(m.label.clone());
            row.dose_kind = dose_kind;
            row.dose_mg = m.amount_mg.filter(|_| dose_kind.is_some());
            rows.push(row);
        }
    }
    for &(from, to) in holes.gaps() {
        rows.push(EventRow::new(grid, from, to, "gap"));
    }
    for (device, from, to) in holes.disconnections() {
        let mut row = EventRow::new(grid, from, to, "disconnection");
        row.device = Some(device.as_str().to_owned());
        rows.push(row);
    }
    rows.sort_by_key(|r| r.onset);
    let header = ["onset", "duration", "trial_type", "value", "device", "priority", "dose_mg", "dose_kind"];
    let mut out = vec![header.map(String::from).to_vec()];
    out.extend(rows.into_iter().map(|r| {
        vec![
            seconds(r.onset),
            seconds(r.duration),
            r.trial_type.to_owned(),
            text(r.value.as_deref()),
            text(r.device.as_deref()),
            text(r.priority),
            r.dose_mg.map_or_else(|| "n/a".to_owned(), |v| v.to_string()),
            text(r.dose_kind),
        ]
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_letters_and_digits() {
        assert_eq!(label("P-01_a"), "P01a");
        assert_eq!(label("__"), "");
    }

    #[test]
    fn seconds_are_exact_and_short() {
        use std::time::Duration;
        assert_eq!(seconds(Duration::ZERO), "0");
        assert_eq!(seconds(Duration::from_millis(1_500)), "1.5");
        assert_eq!(seconds(Duration::from_nanos(3_000_001_999)), "3.000001");
        assert_eq!(seconds(Duration::from_secs(28_800)), "28800");
    }

    #[test]
    fn cells_never_break_the_table() {
        assert_eq!(text(Some("dose\t120\nmg")), "dose 120 mg");
        assert_eq!(text(Some(" ")), "n/a");
        assert_eq!(text(None), "n/a");
    }

    #[test]
    fn acq_time_is_utc() {
        assert_eq!(acq_time(0), "1970-01-01T00:00:00Z");
    }
}
