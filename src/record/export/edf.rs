//! `vigil export REC --format edf --out FILE.edf`: one recording as EDF+C
//! for clinical viewers (EDFbrowser) and EEG/physiology tools (MNE,
//! pyedflib). docs/recording-format.md, "EDF+ export", is the reference;
//! in short:
//!
//! - 1-second data records on a grid starting at the session's start
//!   rounded down to the whole second (UTC; EDF has no time zone and
//!   readers disagree on sub-second starts), up to the recording's end.
//! - One signal per (device, vital), one sample per record: the value the
//!   dashboard showed at that instant ([`verdict::judge`]: connected, in
//!   contact, plausible, within the device's staleness limit), held from
//!   its sample, else [`NO_VALUE`], the digital minimum.
//! - One `ECG <device>` signal per device with ECG, 130 samples a record
//!   ([`ecg_grid`]), 0 µV with an `ECG absent` annotation where it has none.
//! - An `EDF Annotations` signal with the alarms, markers and doses,
//!   connections and gaps, sized for the busiest second.
//!
//! Nothing holds the session: the samples and events are read one Arrow
//! batch at a time ([`RowStream`]) in a first pass that finds the signals,
//! the end and the annotations' size, and again while the data records are
//! written, each as soon as its second is complete.
//!
//! [`verdict::judge`]: crate::verdict::judge

mod header;
mod tal;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use self::header::{Header, NO_VALUE, Signal, digital, vital};
use self::tal::{Packer, all_fit, annotation, tal};
use super::ecg_grid::{self, Covered, EcgGrid, EcgPlan};
use super::hold;
use crate::config::TechStale;
use crate::model::{ConnectionChange, DeviceLabel, OutputEvent, Quantity, Sample, SessionTime};
use crate::record::rows::RowStream;
use crate::record::schema::{self, FileKind};
use crate::record::{RecordError, Recording};
use crate::verdict::{DeviceTiming, Latest, Staleness, judge};

const SECOND: u64 = 1_000_000_000;

/// Largest annotations signal per data record unless more is needed for
/// nothing to be left over at the end: about 25 annotations a second;
/// a longer burst waits for the following records (each TAL keeps its own
/// onset, so nothing moves in time).
const ANNOTATION_CAP: usize = 1024;

/// Write `recording` as an EDF+C file at `out`, which must not exist
/// unless `force`. Returns the file written (created 0600).
pub fn write(recording: &Recording, out: &Path, force: bool) -> Result<PathBuf, RecordError> {
    let plan = Plan::scan(recording)?;
    let file = create(out, force)?;
    let result = write_to(recording, &plan, file, out);
    if result.is_err() {
        // Half an EDF file is no use to anyone.
        let _ = fs::remove_file(out);
    }
    result.map(|()| out.to_owned())
}

fn create(out: &Path, force: bool) -> Result<fs::File, RecordError> {
    if out.is_dir() {
        return Err(RecordError::Other(format!(
            "{}: is a directory; EDF+ is one file (--out FILE.edf)",
            out.display()
        )));
    }
    super::create_file(out, force)
}

/// What the first pass learns: the file's layout before any of it is
/// written.
struct Plan {
    /// Start of the first data record, ns since the Unix epoch.
    grid_ns: i64,
    /// Session time zero on the grid: the start's fraction of a second.
    offset_ns: u64,
    records: u64,
    devices: Vec<DeviceLabel>,
    /// Each device's timing, for its staleness.
    timings: Vec<DeviceTiming>,
    /// (device index, quantity), in device then quantity order.
    signals: Vec<(usize, Quantity)>,
    annotation_bytes: usize,
    stale: TechStale,
    /// The ECG signals (one per device with ECG) and their annotations.
    ecg: EcgPlan,
}

impl Plan {
    fn scan(recording: &Recording) -> Result<Plan, RecordError> {
        let start_ns = recording.start_ns();
        let grid_ns = start_ns.div_euclid(SECOND as i64) * SECOND as i64;
        let offset_ns = u64::try_from(start_ns - grid_ns).unwrap_or(0);
        let mut end = recording
            .meta
            .end_utc
            .and_then(|t| t.timestamp_nanos_opt())
            .map_or(SessionTime::ZERO, |t| schema::at_of(start_ns, t));

        let mut pairs: BTreeSet<(DeviceLabel, Quantity)> = BTreeSet::new();
        let mut samples = RowStream::new(recording, FileKind::Samples, schema::decode_samples);
        let mut batch: Vec<Sample> = Vec::new();
        while samples.next_batch(&mut batch)? {
            for s in batch.drain(..) {
                end = end.max(s.at);
                if vital(s.quantity).is_some() && !pairs.contains(&(s.device.clone(), s.quantity)) {
                    pairs.insert((s.device, s.quantity));
                }
            }
        }

        // Annotation sizes by the record they go in (by their event's time).
        let mut sizes: Vec<(SessionTime, usize)> = Vec::new();
        let mut first_connect: HashMap<DeviceLabel, (Option<String>, Vec<u16>)> = HashMap::new();
        let mut covered = Covered::default();
        let mut events = RowStream::new(recording, FileKind::Events, schema::decode_events);
        let mut batch: Vec<OutputEvent> = Vec::new();
        while events.next_batch(&mut batch)? {
            for e in batch.drain(..) {
                end = end.max(e.at());
                if let OutputEvent::Connection {
                    device,
                    change: ConnectionChange::Connected { name, services, .. },
                    ..
                } = &e
                {
                    first_connect.entry(device.clone()).or_insert_with(|| (name.clone(), services.clone()));
                }
                if let Some((onset, duration, text)) = annotation(&e) {
                    sizes.push((e.at(), tal(grid_time(offset_ns, onset), duration, &text).len()));
                }
                covered.note(&e);
            }
        }
        let (mut ecg, spans) = EcgPlan::scan(recording)?;
        end = end.max(ecg.last);
        ecg.annotate(spans, end, &covered);
        for (onset, duration, text) in &ecg.absent {
            sizes.push((*onset, tal(grid_time(offset_ns, *onset), Some(*duration), text).len()));
        }
        let records = (grid_time(offset_ns, end).div_ceil(SECOND)).max(1);
        let mut per_record: BTreeMap<u64, usize> = BTreeMap::new();
        let sizes: Vec<(u64, usize)> =
            sizes.into_iter().map(|(at, size)| (record_of(offset_ns, at, records), size)).collect();
        for (record, size) in &sizes {
            *per_record.entry(*record).or_default() += size;
        }
        let needed = (0..records)
            .map(|r| tal::timekeeping(r).len() + per_record.get(&r).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let mut sizes = sizes;
        sizes.sort_by_key(|(record, _)| *record);
        let capped = ANNOTATION_CAP.max(tal::timekeeping(records).len() + sizes.iter().map(|s| s.1).max().unwrap_or(0));
        let annotation_bytes =
            if needed <= capped || !all_fit(&sizes, records, even(capped)) { needed } else { capped };

        let devices: Vec<DeviceLabel> =
            pairs.iter().map(|(d, _)| d.clone()).collect::<BTreeSet<_>>().into_iter().collect();
        let index: HashMap<&DeviceLabel, usize> = devices.iter().enumerate().map(|(i, d)| (d, i)).collect();
        let signals = pairs.iter().map(|(d, q)| (index[d], *q)).collect();
        let timings = devices
            .iter()
            .map(|d| {
                let (name, services) = first_connect.get(d).map_or((None, &[][..]), |(n, s)| (n.as_deref(), &s[..]));
                hold::timing(recording, d, None, name, services)
            })
            .collect();
        Ok(Plan {
            grid_ns,
            offset_ns,
            records,
            devices,
            timings,
            signals,
            annotation_bytes: even(annotation_bytes),
            stale: hold::tech_stale(recording)?,
            ecg,
        })
    }

    fn header(&self, recording: &Recording) -> Header {
        let start = DateTime::<Utc>::from_timestamp_nanos(self.grid_ns);
        let mut wanted: Vec<String> =
            self.signals.iter().map(|(d, q)| format!("{} {}", q.label(), self.devices[*d].as_str())).collect();
        wanted.extend(self.ecg.devices.iter().map(|(d, _, _)| format!("ECG {}", d.as_str())));
        let labels = header::labels(&wanted);
        let mut signals: Vec<Signal> = labels
            .iter()
            .cloned()
            .zip(&self.signals)
            .map(|(label, (d, q))| {
                let (dimension, physical_min, physical_max) = vital(*q).unwrap_or(("", 0.0, 1.0));
                Signal {
                    label,
                    transducer: header::ascii(&format!("vigil {}", self.devices[*d].as_str()), 80),
                    dimension: dimension.to_owned(),
                    physical_min,
                    physical_max,
                    samples_per_record: 1,
                }
            })
            .collect();
        signals.extend(self.ecg.devices.iter().zip(&labels[self.signals.len()..]).map(|((device, lo, hi), label)| {
            Signal {
                label: label.clone(),
                transducer: header::ascii(&format!("vigil {} PMD ECG", device.as_str()), 80),
                dimension: "uV".to_owned(),
                // The recorded range, with 0 (no ECG) inside it.
                physical_min: f64::from((*lo).min(0)),
                physical_max: f64::from((*hi).max(0).max(*lo + 1)),
                samples_per_record: ecg_grid::SAMPLES_PER_RECORD,
            }
        }));
        signals.push(Signal::annotations(self.annotation_bytes));
        Header { participant: recording.meta.participant.clone(), start, records: self.records, signals }
    }
}

/// Round up to whole 16-bit samples.
const fn even(bytes: usize) -> usize {
    bytes + bytes % 2
}

/// Session time on the grid: ns since the start of the first record.
fn grid_time(offset_ns: u64, at: SessionTime) -> u64 {
    at.as_nanos().saturating_add(offset_ns)
}

/// The data record an event at `at` is annotated in: the one its time
/// falls in (the last for anything at the very end).
fn record_of(offset_ns: u64, at: SessionTime, records: u64) -> u64 {
    (grid_time(offset_ns, at) / SECOND).min(records - 1)
}

/// One device as the dashboard judges it.
struct Device {
    staleness: Staleness,
    connected: bool,
    /// Its latest data of any kind (grid time), for the interval learner
    /// and the battery level.
    last_data: Option<SessionTime>,
    battery: Option<f64>,
}

/// A sample or connection change on the grid, in time order.
#[derive(Clone, Copy)]
enum Change {
    Sample { at: SessionTime, device: usize, quantity: Quantity, value: f64, contact: Option<bool> },
    Connection { at: SessionTime, device: usize, connected: bool },
}

impl Change {
    fn at(&self) -> SessionTime {
        match self {
            Change::Sample { at, .. } | Change::Connection { at, .. } => *at,
        }
    }
}

/// One kind's rows as grid changes, one sorted batch at a time. Rows are
/// recorded nearly in time order (a compacted samples batch is sorted by
/// device); sorting each batch restores the order.
struct Changes<T> {
    rows: RowStream<T>,
    batch: Vec<T>,
    changes: std::vec::IntoIter<Change>,
    next: Option<Change>,
    map: Box<dyn FnMut(T) -> Option<Change>>,
    ended: bool,
}

impl<T> Changes<T> {
    fn new(rows: RowStream<T>, map: Box<dyn FnMut(T) -> Option<Change>>) -> Self {
        Changes { rows, batch: Vec::new(), changes: Vec::new().into_iter(), next: None, map, ended: false }
    }

    fn peek(&mut self) -> Result<Option<&Change>, RecordError> {
        while self.next.is_none() {
            if let Some(c) = self.changes.next() {
                self.next = Some(c);
            } else if self.ended || !self.rows.next_batch(&mut self.batch)? {
                self.ended = true;
                break;
            } else {
                let mut sorted: Vec<Change> = self.batch.drain(..).filter_map(&mut self.map).collect();
                sorted.sort_by_key(Change::at);
                self.changes = sorted.into_iter();
            }
        }
        Ok(self.next.as_ref())
    }
}

fn write_to(recording: &Recording, plan: &Plan, file: fs::File, out: &Path) -> Result<(), RecordError> {
    let io = |source| RecordError::Io { path: out.to_owned(), source };
    let mut w = BufWriter::with_capacity(1 << 16, file);
    let header = plan.header(recording);
    let ecg_ranges: Vec<(f64, f64)> = header.signals[plan.signals.len()..header.signals.len() - 1]
        .iter()
        .map(|s| (s.physical_min, s.physical_max))
        .collect();
    let mut ecg = EcgGrid::new(recording, &plan.ecg, plan.offset_ns)?;
    let mut ecg_values: Vec<Option<i32>> = Vec::new();
    let mut absent = plan.ecg.absent.iter().peekable();
    let header = header.encode().map_err(|message| RecordError::Other(format!("{}: {message}", out.display())))?;
    w.write_all(&header).map_err(io)?;

    let index: HashMap<DeviceLabel, usize> = plan.devices.iter().cloned().enumerate().map(|(i, d)| (d, i)).collect();
    let mut devices: Vec<Device> = plan
        .timings
        .iter()
        .map(|timing| Device { staleness: Staleness::new(*timing), connected: false, last_data: None, battery: None })
        .collect();
    let signal_of: HashMap<(usize, Quantity), usize> =
        plan.signals.iter().enumerate().map(|(i, (d, q))| ((*d, *q), i)).collect();
    let mut latest: Vec<Option<Latest>> = vec![None; plan.signals.len()];

    let offset = plan.offset_ns;
    let sample_index = index.clone();
    let mut samples = Changes::new(
        RowStream::new(recording, FileKind::Samples, schema::decode_samples),
        Box::new(move |s: Sample| {
            // RR intervals are stamped at their beats, not at the
            // notification: they would confuse the interval learner.
            (s.quantity != Quantity::RrIntervalMs).then_some(())?;
            Some(Change::Sample {
                at: SessionTime(grid_time(offset, s.at)),
                device: *sample_index.get(&s.device)?,
                quantity: s.quantity,
                value: s.value,
                contact: s.contact,
            })
        }),
    );
    let mut connections = Changes::new(
        RowStream::new(recording, FileKind::Events, schema::decode_events),
        Box::new(move |e: OutputEvent| match e {
            OutputEvent::Connection { at, device, change } => Some(Change::Connection {
                at: SessionTime(grid_time(offset, at)),
                device: *index.get(&device)?,
                connected: matches!(change, ConnectionChange::Connected { .. }),
            }),
            _ => None,
        }),
    );
    let mut annotations = RowStream::new(recording, FileKind::Events, schema::decode_events);
    let mut pending: Vec<OutputEvent> = Vec::new();
    let mut pending_at = 0;
    let mut packer = Packer::default();

    let mut record: Vec<u8> = Vec::with_capacity(
        2 * plan.signals.len() + 2 * ecg_grid::SAMPLES_PER_RECORD * plan.ecg.devices.len() + plan.annotation_bytes,
    );
    for k in 0..plan.records {
        let now = SessionTime(k * SECOND);
        // Every change up to this instant, samples before connection
        // changes at the same time.
        loop {
            let s = samples.peek()?.map(Change::at).filter(|at| *at <= now);
            let c = connections.peek()?.map(Change::at).filter(|at| *at <= now);
            let change = match (s, c) {
                (Some(s), Some(c)) if c < s => connections.next.take(),
                (Some(_), _) => samples.next.take(),
                (None, Some(_)) => connections.next.take(),
                (None, None) => break,
            };
            if let Some(change) = change {
                apply(change, &mut devices, &signal_of, &mut latest);
            }
        }
        record.clear();
        for ((d, q), l) in plan.signals.iter().zip(&latest) {
            let device = &devices[*d];
            // The battery level is the device's state, not a reading of its
            // own: it shows while the device's data does.
            let l = match q {
                Quantity::BatteryPct => {
                    device.battery.zip(device.last_data).map(|(value, at)| Latest { at, value, contact: None })
                }
                _ => *l,
            };
            let sample = match l {
                Some(l) if judge(&device.staleness, &plan.stale, device.connected, *q, l, now).shows_value() => {
                    let (_, min, max) = vital(*q).unwrap_or(("", 0.0, 1.0));
                    digital(l.value, min, max)
                }
                _ => NO_VALUE,
            };
            record.extend_from_slice(&sample.to_le_bytes());
        }
        ecg_values.clear();
        ecg.second(k, &mut ecg_values)?;
        for (values, (min, max)) in ecg_values.chunks(ecg_grid::SAMPLES_PER_RECORD).zip(&ecg_ranges) {
            for v in values {
                // No ECG is 0 µV; an `ECG absent` annotation says why.
                record.extend_from_slice(&digital(f64::from(v.unwrap_or(0)), *min, *max).to_le_bytes());
            }
        }
        while let Some((onset, duration, text)) = absent.next_if(|a| record_of(offset, a.0, plan.records) <= k) {
            packer.push(tal(grid_time(offset, *onset), Some(*duration), text));
        }
        // This record's annotations: every event up to its end.
        loop {
            if pending_at == pending.len() {
                pending.clear();
                pending_at = 0;
                if !annotations.next_batch(&mut pending)? {
                    break;
                }
                continue;
            }
            let e = &pending[pending_at];
            if record_of(offset, e.at(), plan.records) > k {
                break;
            }
            if let Some((onset, duration, text)) = annotation(e) {
                packer.push(tal(grid_time(offset, onset), duration, &text));
            }
            pending_at += 1;
        }
        packer.fill(k, plan.annotation_bytes, &mut record);
        w.write_all(&record).map_err(io)?;
    }
    if !packer.is_empty() {
        return Err(RecordError::Other(format!(
            "{}: annotations left over after the last data record (a bug: the first pass sized them)",
            out.display()
        )));
    }
    w.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
    for d in samples.rows.damage().iter().chain(annotations.damage()).chain(ecg.damage()) {
        eprintln!("note: {d}");
    }
    Ok(())
}

fn apply(
    change: Change,
    devices: &mut [Device],
    signal_of: &HashMap<(usize, Quantity), usize>,
    latest: &mut [Option<Latest>],
) {
    match change {
        Change::Connection { device, connected, .. } => devices[device].connected = connected,
        Change::Sample { at, device, quantity, value, contact } => {
            let d = &mut devices[device];
            if let Some(last) = d.last_data
                && at > last
            {
                d.staleness.note_gap(Duration::from_nanos(at.0 - last.0));
            }
            d.last_data = Some(d.last_data.map_or(at, |last| last.max(at)));
            // A device that sends data is connected (as the pipeline has it).
            d.connected = true;
            if quantity == Quantity::BatteryPct {
                d.battery = Some(value);
            } else if let Some(&i) = signal_of.get(&(device, quantity))
                && latest[i].is_none_or(|l| l.at <= at)
            {
                latest[i] = Some(Latest { at, value, contact });
            }
        }
    }
}
