//! The EDF+ export end to end: simulated recordings exported and opened by
//! two independent readers, pyedflib (EDFlib) and MNE
//! (`mne.io.read_raw_edf`), which must agree with the recording on signal
//! labels, units, sample counts, start time, values and annotations.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod ecgstream;
mod tools;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cli::{record, vigil};
use serde_json::Value;
use vigil::model::{AlarmState, Condition, MarkerKind, OperatorAction, OutputEvent, Quantity};
use vigil::record::Recording;

/// `vigil export REC --format edf --out FILE`: the file written.
fn export(rec: &Path, out: &Path) -> PathBuf {
    let o = vigil(&["export", rec.to_str().unwrap(), "--format", "edf", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "export: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stderr).trim(), format!("wrote {}", out.display()));
    out.to_owned()
}

/// `vigil export … --format edf` that fails: its stderr.
fn export_fails(args: &[&str]) -> String {
    let mut all = vec!["export", "--format", "edf"];
    all.extend_from_slice(args);
    let o = vigil(&all);
    assert!(!o.status.success(), "export {args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What pyedflib and MNE read from `file`, as one JSON object.
const READ: &str = r#"
import json, sys
import pyedflib, mne
path = sys.argv[1]
f = pyedflib.EdfReader(path)
n = f.signals_in_file
labels = f.getSignalLabels()
ed = {
    "labels": labels,
    "units": [f.getPhysicalDimension(i) for i in range(n)],
    "samples": [int(x) for x in f.getNSamples()],
    "start": f.getStartdatetime().isoformat(),
    "patient_code": f.getPatientCode(),
    "file_type": f.filetype,
    "physical": {labels[i]: [float(v) for v in f.readSignal(i, digital=False)] for i in range(n)},
    "digital": {labels[i]: [int(v) for v in f.readSignal(i, digital=True)] for i in range(n)},
}
on, du, tx = f.readAnnotations()
ed["annotations"] = [[float(a), float(b), str(c)] for a, b, c in zip(on, du, tx)]
f.close()
raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
data = raw.get_data()
mn = {
    "labels": raw.ch_names,
    "sfreq": raw.info["sfreq"],
    "n_times": int(raw.n_times),
    "meas_date": raw.info["meas_date"].isoformat(),
    # MNE scales by the SI prefix of a unit; these units have none.
    "physical": {ch: [float(v) for v in data[i]] for i, ch in enumerate(raw.ch_names)},
    "annotations": [[float(a["onset"]), float(a["duration"]), a["description"]] for a in raw.annotations],
}
print(json.dumps({"pyedflib": ed, "mne": mn}))
"#;

fn read(python: &str, file: &Path) -> Value {
    let out = Command::new(python).args(["-c", READ, file.to_str().unwrap()]).output().unwrap();
    assert!(
        out.status.success(),
        "pyedflib/MNE failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

/// The annotation whose text is `text` in a reader's list: its onset.
fn onset(annotations: &Value, text: &str) -> f64 {
    let list = annotations.as_array().unwrap();
    let hit = list.iter().find(|a| a[2] == text).unwrap_or_else(|| panic!("no annotation `{text}` in {list:?}"));
    hit[0].as_f64().unwrap()
}

/// Seconds from the file's start (the session start rounded down to the
/// second) to a session time.
fn on_grid(rec: &Recording, at_s: f64) -> f64 {
    let start = rec.meta.start_utc;
    f64::from(start.timestamp_subsec_nanos()) / 1e9 + at_s
}

#[test]
fn mdma_session_reads_in_pyedflib_and_mne() {
    let Some(python) = tools::python("EDF+ export read by pyedflib and MNE") else { return };
    let root = tempfile::tempdir().unwrap();
    let dir = record("mdma-session", "P01", root.path());
    let file = root.path().join("P01.edf");
    assert_eq!(export(&dir, &file), file);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);

    let rec = Recording::open(&dir).unwrap();
    let start = rec.meta.start_utc;
    let end_s = rec.end().unwrap().as_secs_f64();
    let records = on_grid(&rec, end_s).ceil() as usize;
    assert_eq!(records, 28_801, "8 h from a start part-way through a second");

    let got = read(&python, &file);
    let (ed, mn) = (&got["pyedflib"], &got["mne"]);
    // By device, then in vigil's quantity order.
    let want_labels = [
        "HR chest",
        "Battery chest",
        "Temp core",
        "Battery core",
        "Pulse cuff",
        "SYS cuff",
        "DIA cuff",
        "MAP cuff",
        "Battery cuff",
        "Skin skin",
        "Battery skin",
    ];
    assert_eq!(strings(&ed["labels"]), want_labels);
    assert_eq!(strings(&mn["labels"]), want_labels, "MNE lists the vitals, not the annotations signal");
    assert_eq!(strings(&ed["units"]), ["bpm", "%", "degC", "%", "bpm", "mmHg", "mmHg", "mmHg", "%", "degC", "%"]);
    assert!(ed["samples"].as_array().unwrap().iter().all(|n| n.as_u64() == Some(records as u64)), "{}", ed["samples"]);
    assert_eq!((mn["sfreq"].as_f64(), mn["n_times"].as_u64()), (Some(1.0), Some(records as u64)));
    assert_eq!(ed["file_type"], 1, "EDF+C (pyedflib's FILETYPE_EDFPLUS)");
    assert_eq!(ed["patient_code"], "P01");
    let whole = start.format("%Y-%m-%dT%H:%M:%S").to_string();
    assert_eq!(ed["start"], whole);
    assert_eq!(mn["meas_date"], format!("{whole}+00:00"));

    // Annotations: the dose marker and the alarm onset at their recorded
    // times (within a second), in both readers.
    let events = rec.events().unwrap();
    let dose = events
        .iter()
        .find_map(|e| match e {
            OutputEvent::Operator { at, action: OperatorAction::Marker(m) } if m.kind == Some(MarkerKind::Dose) => {
                Some(at.as_secs_f64())
            }
            _ => None,
        })
        .unwrap();
    let hr_high = events
        .iter()
        .find_map(|e| match e {
            OutputEvent::Alarm(a) if a.condition == Condition::HrHigh && a.state == AlarmState::Active => {
                Some(a.at.as_secs_f64())
            }
            _ => None,
        })
        .unwrap();
    for anns in [&ed["annotations"], &mn["annotations"]] {
        assert!((onset(anns, "dose 120 mg") - on_grid(&rec, dose)).abs() < 1.0, "{anns}");
        assert!((onset(anns, "hr.high low chest") - on_grid(&rec, hr_high)).abs() < 1.0, "{anns}");
        assert!(onset(anns, "hr.high cleared chest") > onset(anns, "hr.high low chest"));
        onset(anns, "supplemental dose 60 mg");
    }

    // Values: each second holds the chest's latest heart rate (no older
    // than the Polar H10's 5 s limit), quantised to 300/65535 bpm; before
    // the first sample, the documented "no value" (the physical minimum).
    let samples = rec.samples().unwrap();
    let hr: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.quantity == Quantity::HeartRateBpm)
        .map(|s| (on_grid(&rec, s.at.as_secs_f64()), s.value))
        .collect();
    let read_hr = ed["physical"]["HR chest"].as_array().unwrap();
    let digital_hr = ed["digital"]["HR chest"].as_array().unwrap();
    let mut shown = 0;
    for (k, v) in read_hr.iter().enumerate() {
        let held = hr.iter().rev().find(|(t, _)| *t <= k as f64).filter(|(t, _)| k as f64 - t < 5.0);
        match held {
            Some((_, want)) => {
                assert!((v.as_f64().unwrap() - want).abs() <= 300.0 / 65535.0, "second {k}: {v} against {want}");
                shown += 1;
            }
            None => assert_eq!(digital_hr[k], -32768, "second {k}: nothing to hold"),
        }
    }
    assert!(shown > 28_700, "{shown} seconds with a heart rate");
    // MNE reads the same values as pyedflib (no unit scaling).
    for label in ["HR chest", "Temp core", "SYS cuff"] {
        let (m, e) = (mn["physical"][label].as_array().unwrap(), ed["physical"][label].as_array().unwrap());
        assert_eq!(m.len(), e.len());
        let worst = m.iter().zip(e).map(|(a, b)| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-9, "{label}: MNE and pyedflib differ by {worst}");
    }
    // The cuff is intermittent: a reading holds until the next.
    let sys = ed["physical"]["SYS cuff"].as_array().unwrap();
    let first_bp = samples.iter().find(|s| s.quantity == Quantity::SystolicMmhg).unwrap();
    let k = on_grid(&rec, first_bp.at.as_secs_f64()).ceil() as usize;
    assert_eq!(ed["digital"]["SYS cuff"][k - 1], -32768);
    for v in &sys[k..k + 800] {
        assert!((v.as_f64().unwrap() - first_bp.value).abs() < 0.01, "{v} against {}", first_bp.value);
    }
}

#[test]
fn flaky_sensor_shows_no_value_without_contact_or_link_and_annotates_why() {
    let Some(python) = tools::python("EDF+ export read by pyedflib and MNE") else { return };
    let root = tempfile::tempdir().unwrap();
    let dir = record("flaky-sensor", "P07", root.path());
    let file = export(&dir, &root.path().join("flaky.edf"));
    let rec = Recording::open(&dir).unwrap();
    let got = read(&python, &file);
    let ed = &got["pyedflib"];
    let hr = ed["digital"]["HR chest"].as_array().unwrap();
    let at = |s: f64| on_grid(&rec, s).floor() as usize + 1;
    // 1:00–1:40 no contact, 4:00–4:30 disconnected: no value; live between.
    assert!(hr[at(70.0)..at(99.0)].iter().all(|d| d == -32768), "no contact");
    assert!(hr[at(241.0)..at(269.0)].iter().all(|d| d == -32768), "disconnected");
    assert!(hr[at(120.0)..at(230.0)].iter().all(|d| d != -32768), "live");
    // 2:30–2:50 the finger is silent: its SpO2 holds for the 5 s limit.
    let spo2 = ed["digital"]["SpO2 finger"].as_array().unwrap();
    assert!(spo2[at(151.0)..at(153.0)].iter().all(|d| d != -32768), "held within the limit");
    assert!(spo2[at(156.0)..at(169.0)].iter().all(|d| d == -32768), "stale");
    for anns in [&ed["annotations"], &got["mne"]["annotations"]] {
        assert!(
            (onset(anns, "disconnected chest: link supervision timeout") - on_grid(&rec, 240.0)).abs() < 1.0,
            "{anns}"
        );
        assert!((onset(anns, "tech.no_contact medium chest") - on_grid(&rec, 70.0)).abs() < 3.0, "{anns}");
        onset(anns, "connected chest");
    }
}

#[test]
fn an_existing_file_needs_force_and_edf_takes_one_recording_into_a_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("flaky-sensor", "P02", root.path());
    let d = dir.to_str().unwrap();
    let file = root.path().join("x.edf");
    let f = file.to_str().unwrap();
    std::fs::write(&file, b"keep").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = export_fails(&[d, "--out", f]);
    assert!(e.contains("x.edf") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    let o = vigil(&["export", d, "--format", "edf", "--out", f, "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The file is its header and whole data records: the layout any reader
    // relies on, checked without one.
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"0       ");
    let num = |from: usize, width: usize| -> usize {
        std::str::from_utf8(&bytes[from..from + width]).unwrap().trim().parse().unwrap()
    };
    let (header, records, ns) = (num(184, 8), num(236, 8), num(252, 4));
    assert_eq!(header, 256 * (ns + 1));
    let per_record: usize = (0..ns).map(|i| 2 * num(256 + ns * 216 + i * 8, 8)).sum();
    assert_eq!(bytes.len(), header + records * per_record);
    let rec = Recording::open(&dir).unwrap();
    let end = f64::from(rec.meta.start_utc.timestamp_subsec_nanos()) / 1e9 + rec.end().unwrap().as_secs_f64();
    assert_eq!(records, end.ceil() as usize, "one record per second to the end");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let e = export_fails(&[d, "--out", root.path().to_str().unwrap()]);
    assert!(e.contains("directory"), "{e}");
    let e = export_fails(&[d, d, "--out", root.path().join("two.edf").to_str().unwrap()]);
    assert!(e.contains("EDF+ takes one recording (2 given)"), "{e}");
    assert!(!root.path().join("two.edf").exists());
}

/// Sixty long markers in one second need more than the annotations
/// signal's 1024-byte cap: they wait for the following records, and every
/// reader still finds each at its own onset.
#[test]
fn a_burst_of_annotations_spills_into_later_records_with_exact_onsets() {
    let Some(python) = tools::python("EDF+ export read by pyedflib and MNE") else { return };
    let root = tempfile::tempdir().unwrap();
    let mut lines = vec![r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "HRM 1"}"#.to_owned()];
    for s in 0..30 {
        lines.push(format!(
            r#"{{"at_ms": {}, "device": "chest", "characteristic": "2a37", "payload": "0648"}}"#,
            s * 1000
        ));
    }
    let label = |i: usize| format!("note {i:02} {}", "x".repeat(90));
    for i in 0..60 {
        lines.push(format!(r#"{{"at_ms": 10500, "action": "marker", "label": "{}"}}"#, label(i)));
    }
    lines.sort_by_key(|l| serde_json::from_str::<Value>(l).unwrap()["at_ms"].as_u64().unwrap());
    let stream = root.path().join("burst.ndjson");
    std::fs::write(&stream, lines.join("\n") + "\n").unwrap();
    let dir = cli::record_stream(&stream, &root.path().join("recs"));
    let file = export(&dir, &root.path().join("burst.edf"));
    let rec = Recording::open(&dir).unwrap();

    // The annotations signal is the cap: 512 two-byte samples a record.
    let bytes = std::fs::read(&file).unwrap();
    let ns: usize = std::str::from_utf8(&bytes[252..256]).unwrap().trim().parse().unwrap();
    let spr_at = 256 + ns * (16 + 80 + 8 * 5 + 80) + (ns - 1) * 8;
    assert_eq!(std::str::from_utf8(&bytes[spr_at..spr_at + 8]).unwrap().trim(), "512");

    let got = read(&python, &file);
    for anns in [&got["pyedflib"]["annotations"], &got["mne"]["annotations"]] {
        for i in 0..60 {
            assert!((onset(anns, &label(i)) - on_grid(&rec, 10.5)).abs() < 1e-6, "{i}: {anns}");
        }
    }
}

/// The values of every series of both exports, EDF+ through pyedflib and
/// BIDS's physio file, as `{label: [value or null per second]}` each.
const BOTH: &str = r#"
import glob, gzip, json, sys
import pyedflib
edf, bids = sys.argv[1], sys.argv[2]
f = pyedflib.EdfReader(edf)
labels = f.getSignalLabels()
e = {}
for i in range(f.signals_in_file - 1):
    phys, dig = f.readSignal(i), f.readSignal(i, digital=True)
    e[labels[i]] = [None if d == -32768 else float(p) for p, d in zip(phys, dig)]
f.close()
side = glob.glob(bids + "/**/*_physio.json", recursive=True)[0]
cols = json.load(open(side))["Columns"]
rows = [l.split("\t") for l in gzip.open(side.replace(".json", ".tsv.gz"), "rt").read().splitlines()]
b = {c: [None if r[j] == "n/a" else float(r[j]) for r in rows] for j, c in enumerate(cols)}
print(json.dumps({"edf": e, "bids": b}))
"#;

/// EDF+ and BIDS put the same hold rule on the same 1 Hz grid, each its own
/// way (the EDF writer streams through `verdict::judge`; BIDS's grid is
/// `export::hold`): second by second they must agree on whether there is a
/// value and on the value (within the EDF quantisation), here through
/// contact loss, a dropout, a disconnection, NaNs and a held cuff reading.
#[test]
fn edf_and_bids_hold_the_same_value_every_second() {
    let Some(python) = tools::python("EDF+ and BIDS exports compared") else { return };
    let root = tempfile::tempdir().unwrap();
    let labels = [
        ("heart_rate_bpm", "HR"),
        ("pulse_rate_bpm", "Pulse"),
        ("spo2_pct", "SpO2"),
        ("body_temperature_c", "Temp"),
        ("skin_temperature_c", "Skin"),
        ("systolic_mmhg", "SYS"),
        ("diastolic_mmhg", "DIA"),
        ("map_mmhg", "MAP"),
    ];
    for scenario in ["flaky-sensor", "multi-sensor"] {
        let dir = record(scenario, "P03", &root.path().join(scenario));
        let edf = export(&dir, &root.path().join(format!("{scenario}.edf")));
        let bids = root.path().join(format!("{scenario}-bids"));
        let o = vigil(&["export", dir.to_str().unwrap(), "--format", "bids", "--out", bids.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out =
            Command::new(&python).args(["-c", BOTH, edf.to_str().unwrap(), bids.to_str().unwrap()]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let columns = got["bids"].as_object().unwrap();
        assert!(columns.len() >= 3, "{scenario}: {:?}", columns.keys());
        for (column, b) in columns {
            let (quantity, device) = column.rsplit_once('_').unwrap();
            let short = labels.iter().find(|(q, _)| *q == quantity).unwrap().1;
            let e = &got["edf"][format!("{short} {device}")];
            let (e, b) = (e.as_array().unwrap(), b.as_array().unwrap());
            assert_eq!(e.len(), b.len(), "{scenario} {column}: seconds");
            for (k, (x, y)) in e.iter().zip(b).enumerate() {
                let same = match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => (x - y).abs() <= 300.0 / 65535.0,
                    (None, None) => true,
                    _ => false,
                };
                assert!(same, "{scenario} {column} second {k}: EDF {x}, BIDS {y}");
            }
        }
    }
}

/// What pyedflib and MNE read of the ECG signal.
const READ_ECG: &str = r#"
import json, sys
import pyedflib, mne
path = sys.argv[1]
f = pyedflib.EdfReader(path)
labels = f.getSignalLabels()
i = labels.index("ECG chest")
ed = {
    "labels": labels,
    "sfreq": f.getSampleFrequency(i),
    "hr_sfreq": f.getSampleFrequency(labels.index("HR chest")),
    "unit": f.getPhysicalDimension(i),
    "values": [float(v) for v in f.readSignal(i)],
    "physical": [f.getPhysicalMinimum(i), f.getPhysicalMaximum(i)],
}
on, du, tx = f.readAnnotations()
ed["annotations"] = [[float(a), float(b), str(c)] for a, b, c in zip(on, du, tx)]
f.close()
raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
k = raw.ch_names.index("ECG chest")
mn = {
    "sfreq": raw.info["sfreq"],
    "unit": int(raw.info["chs"][k]["unit"]),
    "orig_unit": raw._orig_units.get("ECG chest"),
    "values": [float(v) for v in raw.get_data(picks=[k])[0]],
}
print(json.dumps({"pyedflib": ed, "mne": mn}))
"#;

/// Must show 5: the ECG of a strap at 131 Hz, with five seconds of lost
/// frames, is an `ECG chest` signal at 130 Hz in µV that pyedflib reads
/// sample for sample and MNE opens (at 130 Hz, in volts); the lost
/// seconds are 0 µV and annotated.
#[test]
fn the_ecg_is_a_130_hz_uv_channel_that_pyedflib_and_mne_read() {
    let Some(python) = tools::python("EDF+ ECG read by pyedflib and MNE") else { return };
    let root = tempfile::tempdir().unwrap();
    let uv = ecgstream::realistic_uv(130 * 60, 15.0, 21);
    let (lines, sent) = ecgstream::stream("chest", &uv, 131.0, 700, 4);
    // Frames arriving 30–35 s are lost.
    let lost = |l: &String| {
        l.contains(ecgstream::PMD)
            && (30_000..35_000).contains(&serde_json::from_str::<Value>(l).unwrap()["at_ms"].as_u64().unwrap())
    };
    let kept: Vec<String> = lines.iter().filter(|l| !lost(l)).cloned().collect();
    assert!(kept.len() + 5 < lines.len());
    let stream = root.path().join("ecg.ndjson");
    ecgstream::write(&stream, &kept);
    let dir = cli::record_stream(&stream, &root.path().join("recs"));
    let file = export(&dir, &root.path().join("ecg.edf"));
    let rec = Recording::open(&dir).unwrap();
    let got = read(&python, &file);
    let out = Command::new(&python).args(["-c", READ_ECG, file.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ecg: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (ed, mn) = (&ecg["pyedflib"], &ecg["mne"]);
    assert_eq!(strings(&ed["labels"]), ["HR chest", "ECG chest"]);
    assert_eq!((ed["sfreq"].as_f64(), ed["hr_sfreq"].as_f64()), (Some(130.0), Some(1.0)));
    assert_eq!(ed["unit"], "uV");
    assert_eq!(mn["sfreq"].as_f64(), Some(130.0), "MNE opens it at the highest rate, the ECG's");
    assert_eq!(mn["unit"].as_i64(), Some(107), "MNE: volts (FIFF_UNIT_V)");
    assert_eq!(mn["orig_unit"], "µV", "MNE names the file's `uV` so");
    assert_eq!(got["mne"]["sfreq"].as_f64(), Some(130.0));

    // Sample for sample: the recorded sample nearest each grid point,
    // within half the strap's period; 0 where there is none.
    let (t_s, values) = read_ecg_reference(&rec);
    let (lo, hi) = (ed["physical"][0].as_f64().unwrap(), ed["physical"][1].as_f64().unwrap());
    let step = (hi - lo) / 65535.0;
    let read: Vec<f64> = ed["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let offset = on_grid(&rec, 0.0);
    let half = 0.5 / 131.0 + 1e-6;
    let mut zero = 0;
    for (n, v) in read.iter().enumerate() {
        let g = n as f64 / 130.0 - offset; // session seconds
        let i = t_s.partition_point(|t| *t < g);
        let near = [i.wrapping_sub(1), i]
            .into_iter()
            .filter(|&k| k < t_s.len())
            .min_by(|&a, &b| (t_s[a] - g).abs().total_cmp(&(t_s[b] - g).abs()))
            .filter(|&k| (t_s[k] - g).abs() <= half);
        let want = near.map_or(0.0, |k| f64::from(values[k]));
        if near.is_none() {
            zero += 1;
        }
        assert!((v - want).abs() <= step, "grid sample {n} ({g:.4} s): {v} against {want}");
    }
    assert!((5 * 130..8 * 130).contains(&zero), "{zero} grid samples without ECG");
    // MNE's volts are pyedflib's µV.
    let m: Vec<f64> = mn["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(m.len(), read.len());
    assert!(m.iter().zip(&read).all(|(a, b)| (a * 1e6 - b).abs() < 1e-6));
    // The lost seconds are annotated, at the gap.
    let anns = ed["annotations"].as_array().unwrap();
    let absent = anns.iter().find(|a| a[2] == "ECG absent chest").unwrap_or_else(|| panic!("{anns:?}"));
    let (onset_s, duration_s) = (absent[0].as_f64().unwrap(), absent[1].as_f64().unwrap());
    assert!((29.0..31.0).contains(&(onset_s - offset)) && (4.0..6.5).contains(&duration_s), "{absent:?}");
    assert_eq!(sent.iter().map(|f| f.samples_uv.len()).sum::<usize>(), uv.len());
}

/// Every recorded ECG sample of `chest`: session seconds and µV.
fn read_ecg_reference(rec: &Recording) -> (Vec<f64>, Vec<i32>) {
    let series = vigil::record::ecg::collect(rec, "chest").unwrap();
    (series.t_s, series.uv)
}
