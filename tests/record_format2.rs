//! A recording of format version 2, made by an earlier vigil and kept in
//! `tests/fixtures/format2/` with the figures that vigil made of it, still
//! replays, summarises, exports and analyzes to the same figures.
//!
//! Compared: every replay line whole; every field of the summary (and of
//! `vigil analyze`'s rows) that the older vigil wrote, but for
//! [`IGNORED_SUMMARY_FIELDS`] (`format_version`, which names the format
//! and may differ; neither output has it today); a field only a newer
//! vigil writes is not the older one's word and is not compared; numbers
//! agree to twelve significant digits (see [`same_number`]); every
//! column of the CSV export that the older vigil wrote, times as instants
//! (their text may carry more or fewer digits) and numbers
//! as numbers, rows as a multiset (an export may order them otherwise).
//!
//! `vigil recover` keeps an unfinished format-2 recording in format 2, and
//! a `--resume` adds a format-3 segment that reads beside the older one.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

mod records;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::{DataType, Field, Schema};

/// Summary fields whose value may legitimately differ: they say which
/// format the recording is in, not what it holds.
const IGNORED_SUMMARY_FIELDS: [&str; 1] = ["format_version"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format2")
}

fn recording() -> PathBuf {
    fixture().join("20261207T225309Z-FIX02-8d95cacd")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected/figures.json")).unwrap()).unwrap()
}

fn vigil(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().unwrap();
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn the_fixture_is_format_version_2() {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(recording().join("session.json")).unwrap()).unwrap();
    assert_eq!(meta["format_version"], 2);
    let r = vigil::record::Recording::open(&recording()).unwrap();
    assert!(r.damage().unwrap().is_empty(), "{:?}", r.damage());
}

#[test]
fn a_format_2_recording_replays_to_the_same_lines() {
    let dir = recording();
    let out = vigil(&["replay", dir.to_str().unwrap(), "--speed", "max", "--headless"]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let expected = expected();
    let want = expected["replay"].as_array().unwrap();
    assert!(want.len() > 20, "the fixture's replay has alarms, markers, actions and errors");
    assert_eq!(lines.len(), want.len());
    for (i, (got, want)) in lines.iter().zip(want).enumerate() {
        assert_eq!(got, want, "line {}", i + 1);
    }
}

#[test]
fn a_format_2_recording_summarises_to_the_same_figures() {
    let dir = recording();
    let out = vigil(&["summary", dir.to_str().unwrap(), "--json"]);
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = expected();
    let mut differences = Vec::new();
    same_figures("summary", &expected["summary"], &got, &mut differences);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // The comparison can fail: the fixture has markers with amounts.
    assert_eq!(expected["summary"]["markers"].as_array().unwrap().len(), 4);
}

/// Every value of `want` is in `got` and equal, but for
/// [`IGNORED_SUMMARY_FIELDS`]; fields only `got` has are not compared.
fn same_figures(path: &str, want: &serde_json::Value, got: &serde_json::Value, out: &mut Vec<String>) {
    match (want, got) {
        (serde_json::Value::Object(w), serde_json::Value::Object(g)) => {
            for (k, wv) in w {
                if IGNORED_SUMMARY_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                match g.get(k) {
                    Some(gv) => same_figures(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: missing (was {wv})")),
                }
            }
        }
        (serde_json::Value::Array(w), serde_json::Value::Array(g)) if w.len() == g.len() => {
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                same_figures(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        (serde_json::Value::Number(w), serde_json::Value::Number(g)) if same_number(w, g) => {}
        _ if want == got => {}
        _ => out.push(format!("{path}: {got}, was {want}")),
    }
}

/// Equal to [`RELATIVE`]: a figure computed by the same formula in another
/// order of summation (a spectrum's power) may differ in its last digits.
fn same_number(want: &serde_json::Number, got: &serde_json::Number) -> bool {
    match (want.as_f64(), got.as_f64()) {
        (Some(w), Some(g)) => w == g || (w - g).abs() <= RELATIVE * w.abs().max(g.abs()),
        _ => want == got,
    }
}

/// Figures agree to this relative difference (twelve significant digits).
const RELATIVE: f64 = 1e-12;

#[test]
fn a_format_2_recording_exports_to_the_same_rows() {
    let dir = recording();
    let out_root = tempfile::tempdir().unwrap();
    let out = out_root.path().join("export");
    vigil(&["export", dir.to_str().unwrap(), "--format", "csv", "--out", out.to_str().unwrap()]);
    for table in ["notifications", "samples", "events"] {
        let want = read_csv(&[fixture().join(format!("expected/export/{table}.csv"))]);
        let got = read_csv(&csv_files(&out, table));
        let columns: Vec<&String> = want.keys().collect();
        let rows = |t: &BTreeMap<String, Vec<Option<String>>>, of: &str| -> Vec<Vec<Cell>> {
            let n = t.values().next().map_or(0, Vec::len);
            let mut rows: Vec<Vec<Cell>> = (0..n)
                .map(|i| {
                    columns
                        .iter()
                        .map(|c| {
                            let col = t.get(*c).unwrap_or_else(|| panic!("{of}: {table} has no column `{c}`"));
                            Cell::of(c, col[i].as_deref())
                        })
                        .collect()
                })
                .collect();
            rows.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            rows
        };
        let (want_rows, got_rows) = (rows(&want, "expected"), rows(&got, "export"));
        assert!(want_rows.len() > 10, "{table}: the fixture has rows");
        assert_eq!(got_rows.len(), want_rows.len(), "{table}: rows");
        for (i, (g, w)) in got_rows.iter().zip(&want_rows).enumerate() {
            assert_eq!(g, w, "{table}: row {i} (sorted) of columns {columns:?}");
        }
    }
}

/// One CSV value, compared by what it means.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Cell {
    Null,
    /// Nanoseconds since the epoch.
    Time(i64),
    Number(f64),
    Text(String),
}

impl Cell {
    fn of(column: &str, text: Option<&str>) -> Cell {
        let Some(text) = text.filter(|t| !t.is_empty()) else { return Cell::Null };
        if column == "t" || column == "device_time" {
            let t = chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
            return Cell::Time(t.timestamp_nanos_opt().unwrap());
        }
        if column == "value" {
            let v: f64 = text.parse().unwrap_or_else(|e| panic!("`{text}`: {e}"));
            // NaN (a sensor's invalid reading) equals itself here.
            return if v.is_nan() { Cell::Text("NaN".to_owned()) } else { Cell::Number(v) };
        }
        Cell::Text(text.to_owned())
    }
}

/// The CSV files of one table under an export directory: named after it,
/// or under a directory named after it (a partitioned tree).
fn csv_files(out: &Path, table: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![out.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "csv") {
                let rel = path.strip_prefix(out).unwrap().to_string_lossy().into_owned();
                if rel.split('/').any(|part| part == table || part.starts_with(&format!("{table}."))) {
                    found.push(path);
                }
            }
        }
    }
    assert!(!found.is_empty(), "no CSV of {table} under {}", out.display());
    found
}

/// Column name → values (`None` for an empty field), every file appended.
fn read_csv(files: &[PathBuf]) -> BTreeMap<String, Vec<Option<String>>> {
    let mut table: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let header: Vec<String> = text.lines().next().unwrap().split(',').map(str::to_owned).collect();
        let schema =
            Arc::new(Schema::new(header.iter().map(|h| Field::new(h, DataType::Utf8, true)).collect::<Vec<_>>()));
        let reader = arrow_csv::ReaderBuilder::new(schema)
            .with_header(true)
            .build(std::io::Cursor::new(text.as_bytes()))
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            for (i, name) in header.iter().enumerate() {
                let col = batch.column(i).as_string::<i32>();
                let values = (0..col.len()).map(|r| col.is_valid(r).then(|| col.value(r).to_owned()));
                table.entry(name.clone()).or_default().extend(values);
            }
        }
    }
    table
}

/// The `t` unit and column names of a recording's file.
fn layout(dir: &Path, file: &str) -> (arrow_schema::TimeUnit, Vec<String>) {
    let f = vigil::record::read_arrow_file(&dir.join(file)).unwrap();
    let schema = f.schema.unwrap();
    let DataType::Timestamp(unit, _) = schema.field_with_name("t").unwrap().data_type().clone() else {
        panic!("{file}: `t` is not a timestamp")
    };
    (unit, schema.fields().iter().map(|f| f.name().clone()).collect())
}

#[test]
fn an_unfinished_format_2_recording_is_recovered_in_format_2() {
    use arrow_schema::TimeUnit;
    let original = vigil::record::Recording::open(&recording()).unwrap();
    let (_root, dir) = records::unfinished(&recording(), 100);
    let report = vigil::record::recover(&dir).unwrap();
    assert_eq!(report.finalised.len(), 3, "{report}");
    let (unit, columns) = layout(&dir, "events.arrow");
    assert_eq!(unit, TimeUnit::Nanosecond, "format 2's events keep nanoseconds");
    assert!(!columns.iter().any(|c| c == "dose_mg"), "{columns:?}");
    assert_eq!(layout(&dir, "notifications.arrow").0, TimeUnit::Nanosecond);
    assert_eq!(layout(&dir, "samples.arrow").0, TimeUnit::Microsecond);
    let r = vigil::record::Recording::open(&dir).unwrap();
    assert_eq!(r.meta.format_version, 2);
    assert!(r.damage().unwrap().is_empty(), "{:?}", r.damage());
    assert_eq!(r.events().unwrap(), original.events().unwrap());
    assert_eq!(r.notifications().unwrap(), original.notifications().unwrap());
    // Compared by bits: the NaN temperature equals itself.
    let rows = |r: &vigil::record::Recording| {
        let mut rows: Vec<_> = r
            .samples()
            .unwrap()
            .iter()
            .map(|s| (s.device.to_string(), s.at, s.quantity.as_str(), s.value.to_bits(), s.contact, s.device_time_ns))
            .collect();
        rows.sort_unstable();
        rows
    };
    let (a, b) = (rows(&r), rows(&original));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the recovered samples differ");
}

#[test]
fn a_resumed_format_2_recording_gets_a_format_3_segment() {
    use arrow_schema::TimeUnit;
    use vigil::model::{Marker, MarkerKind, OperatorAction, OutputEvent, SessionTime};
    use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording};

    let (root, dir) = records::copy(&recording());
    let original = Recording::open(&dir).unwrap();
    let end = original.end().unwrap();
    let at = SessionTime::from_millis(end.as_millis() + 60_000);
    let dose = Marker { label: "dose 40 mg".into(), kind: Some(MarkerKind::SupplementalDose), amount_mg: Some(40.0) };
    let opts = RecordOptions {
        root: root.path().to_owned(),
        resume: Some(dir.clone()),
        about: vigil::record::SessionAbout {
            protocol: Some("P2".into()),
            notes: vec!["resumed".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let rec = Recorder::start_at(&opts, original.meta.start_utc, at, serde_json::Value::Null).unwrap();
    let output = vec![OutputEvent::Operator { at, action: OperatorAction::Marker(dose.clone()) }];
    rec.sender().blocking_send(RecordMsg::Batch { events: vec![], samples: vec![], output }).unwrap();
    rec.finish().unwrap();

    let r = Recording::open(&dir).unwrap();
    assert_eq!(r.meta.format_version, 3);
    assert_eq!((r.meta.protocol.as_deref(), r.meta.notes.as_slice()), (Some("P2"), &["resumed".to_owned()][..]));
    assert_eq!(layout(&dir, "events.arrow").0, TimeUnit::Nanosecond, "segment 0 stays format 2");
    let (unit, columns) = layout(&dir, "events.1.arrow");
    assert_eq!(unit, TimeUnit::Microsecond);
    assert!(columns.iter().any(|c| c == "dose_kind"), "{columns:?}");
    let markers: Vec<Marker> = r
        .operator_actions()
        .unwrap()
        .into_iter()
        .filter_map(|(_, a)| match a {
            OperatorAction::Marker(m) => Some(m),
            _ => None,
        })
        .collect();
    let labels: Vec<&str> = markers.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["dose 120 mg", "music on", "dose? 10 mg", "supplemental dose 60 mg", "dose 40 mg"]);
    assert_eq!(markers[1].kind, Some(MarkerKind::Note));
    assert_eq!(markers[2].kind, None);
    assert_eq!(markers[4], dose);
    assert!(r.damage().unwrap().is_empty(), "{:?}", r.damage());
}

/// An unfinished format-2 `events.arrow` whose schema message is damaged
/// (and which has no footer to take it from) still reads: its batches'
/// column count tells the older schema to decode them with.
#[test]
fn a_format_2_events_file_that_lost_its_schema_still_reads() {
    let original = vigil::record::Recording::open(&recording()).unwrap();
    let (_root, dir) = records::unfinished(&recording(), 50);
    let path = dir.join("events.arrow");
    let mut bytes = std::fs::read(&path).unwrap();
    // After the 8-byte magic: the schema message's continuation marker,
    // its length, then its flatbuffer, zeroed here.
    assert_eq!(bytes[8..12], [0xFF; 4]);
    let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    bytes[16..16 + len].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let r = vigil::record::Recording::open(&dir).unwrap();
    assert_eq!(r.events().unwrap(), original.events().unwrap());
    let damage = r.damage_in(&[vigil::record::FileKind::Events]).unwrap();
    assert_eq!(damage.len(), 1, "the schema message, passed over: {damage:?}");
}

/// `vigil analyze` of the fixture, over the whole session and a window
/// locked to its (JSON-recorded) dose, gives the figures the older vigil's
/// did (`expected/analyze.jsonl`, made by
/// `vigil analyze DIR --window all --window dose:-20s..2m --format json`).
#[test]
fn a_format_2_recording_analyzes_to_the_same_figures() {
    let dir = recording();
    let out = vigil(&[
        "analyze",
        dir.to_str().unwrap(),
        "--window",
        "all",
        "--window",
        "dose:-20s..2m",
        "--format",
        "json",
        "--quiet",
    ]);
    let parse =
        |text: &str| -> Vec<serde_json::Value> { text.lines().map(|l| serde_json::from_str(l).unwrap()).collect() };
    let got = parse(&String::from_utf8(out.stdout).unwrap());
    let want = parse(&std::fs::read_to_string(fixture().join("expected/analyze.jsonl")).unwrap());
    assert!(want.iter().any(|row| row["window"].as_str().is_some_and(|w| w.starts_with("dose"))), "a dose window");
    assert_eq!(got.len(), want.len());
    let mut differences = Vec::new();
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        same_figures(&format!("row {i}"), w, g, &mut differences);
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
