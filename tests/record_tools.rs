//! summary, export and report over a recorded synthetic session.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use vigil::record::{ExportFormat, RecordMsg, RecordOptions, Recorder, Recording, export, report, summary, synthetic};

/// Two devices, 7300 s: a dose marker at 0:10:00, HR rising above 100 after
/// an hour, low `hr.high` alarms every 30 min for 2 min, a 2.5 s gap at 2:00:00.
fn recording() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let opts = RecordOptions {
        root: root.path().to_owned(),
        participant: Some("P07".into()),
        resume: None,
        ..Default::default()
    };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let config = serde_json::json!({"alarms": {"hr_high": {"low": {"above_bpm": 105.0, "for_s": 60}}}});
    let rec = Recorder::start(&opts, start, config).unwrap();
    for s in synthetic::session(2, 7300, 4) {
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    let dir = rec.finish().unwrap().dir;
    (root, dir)
}

#[test]
fn summary_reports_what_happened() {
    let (_root, dir) = recording();
    let mut out = Vec::new();
    summary(&dir, true, &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["participant"], "P07");
    assert!((json["duration_s"].as_f64().unwrap() - 7299.25).abs() < 1e-6, "{}", json["duration_s"]);
    assert_eq!(json["devices"].as_array().unwrap().len(), 2);
    assert_eq!(json["limits_from"], "session.json");
    let hr = json["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["device"] == "dev0" && q["quantity"] == "heart_rate_bpm")
        .unwrap();
    assert_eq!(hr["samples"], 7300);
    // The 2.5 s gap ending at 2:00:00 holds this device's samples at 1:59:58
    // and 1:59:59: counted, not used.
    assert_eq!((hr["in_gap"].as_u64(), hr["no_contact"].as_u64(), hr["invalid"].as_u64()), (Some(2), Some(0), Some(0)));
    assert_eq!(hr["n"], 7298);
    assert!(hr["median"].as_f64().unwrap() >= hr["min"].as_f64().unwrap(), "{hr}");
    assert!(hr["max"].as_f64().unwrap() > 105.0);
    let above = hr["beyond"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["condition"] == "hr.high" && b["priority"] == "low")
        .unwrap();
    assert_eq!(above["limit"], "> 105", "the recorded config's limit, not the default 100");
    assert!(above["seconds"].as_f64().unwrap() > 600.0, "{above}");
    assert_eq!(json["alarms"]["by_priority"]["low"], 8);
    // 1800..1920.25, 3600.., 5400.., and 7200 until the end.
    let total = json["alarms"]["total_seconds"].as_f64().unwrap();
    assert!((total - (3.0 * 120.25 + 99.25)).abs() < 1e-6, "{total}");
    assert_eq!(json["gaps"][0]["at"], "2:00:00");
    assert_eq!(json["gaps"][0]["seconds"], 2.5);
    assert_eq!(json["markers"][0]["at"], "0:10:00");
    assert_eq!(json["markers"][0]["label"], "dose 120 mg");
    assert_eq!(json["decode_errors"]["total"], 0);

    let mut text = Vec::new();
    summary(&dir, false, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("complete, clean shutdown"), "{text}");
    assert!(text.contains("heart_rate_bpm"), "{text}");
    assert!(text.contains("(excluded: 2 in a gap)"), "{text}");
    assert!(text.contains("counted once at the highest priority it reached; recorded)"), "{text}");
    assert!(text.contains("0:10:00  dose 120 mg"), "{text}");
}

#[test]
fn csv_export_writes_one_file_per_arrow_file() {
    let (root, dir) = recording();
    let out = root.path().join("export");
    let files = export(std::slice::from_ref(&dir), ExportFormat::Csv, &out, false).unwrap();
    // notifications, samples, events, beats, session.json, sessions
    assert_eq!(files.len(), 6, "{files:?}");
    let samples = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let mut lines = samples.lines();
    assert_eq!(lines.next(), Some("recording,participant,t,device,quantity,value,contact,device_time"));
    let r = Recording::open(&dir).unwrap();
    assert_eq!(lines.count(), r.samples().unwrap().len());
    let notifications = std::fs::read_to_string(out.join("notifications.csv")).unwrap();
    let first = notifications.lines().nth(1).unwrap();
    assert!(first.starts_with("20260301T090000Z-P07-") && first.contains(",P07,2026-03-01T09:00:00"), "{first}");
    assert!(first.contains(",dev0,2a37,16"), "payload as hex: {first}");
    assert!(out.join("session.json").exists());
    // Never overwrites, unless told to.
    let e = export(std::slice::from_ref(&dir), ExportFormat::Csv, &out, false).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    export(std::slice::from_ref(&dir), ExportFormat::Csv, &out, true).unwrap();
}

#[test]
fn parquet_export_keeps_every_row() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let (root, dir) = recording();
    let out = root.path().join("pq");
    export(std::slice::from_ref(&dir), ExportFormat::Parquet, &out, false).unwrap();
    let r = Recording::open(&dir).unwrap();
    for (name, rows) in [
        ("notifications.parquet", r.notifications().unwrap().len()),
        ("samples.parquet", r.samples().unwrap().len()),
        ("events.parquet", r.events().unwrap().len()),
    ] {
        let f = std::fs::File::open(out.join(name)).unwrap();
        let n: usize =
            ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(n, rows, "{name}");
    }
}

#[test]
fn report_draws_an_svg_against_time_since_dose() {
    let (root, dir) = recording();
    let out = root.path().join("report.svg");
    report(&dir, &out).unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    assert!(svg.contains("time since first dose (h:mm; negative before it)"));
    assert!(svg.contains("heart rate (bpm)") && svg.contains("temperature (°C)"));
    // Tick labels count from the dose (which is at 0:10 of the session):
    // every 15 min, the last at 1:45 after it (1:55 of 2:01:40).
    assert!(svg.contains(">\n1:45\n<") && !svg.contains(">\n2:00\n<"), "the dose is the axis' zero");
    assert!(svg.contains("dose 120 mg"));
    assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
}
