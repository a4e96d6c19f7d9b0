//! `ecg.arrow`: written when a recording is compacted (clean finish and
//! `vigil recover`) from the PMD rows of `notifications.arrow`; its reader
//! places every sample by the strap's measured rate, and reads the same
//! from the notifications where the file is absent; ≤ 2 B a sample.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod ecgstream;
mod records;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType, TimestampNanosecondType};
use arrow_schema::{DataType, TimeUnit};
use vigil::ecg::NOMINAL_PERIOD_NS;
use vigil::record::ecg::{EcgReader, EcgSource, PlacedFrame, collect, derive};
use vigil::record::{FileKind, Recording, read_arrow_file, recover};

/// Record a stream of `lines` under `root`: the recording's directory.
fn record(lines: &[String], root: &Path) -> PathBuf {
    let stream = root.join("ecg.ndjson");
    ecgstream::write(&stream, lines);
    cli::record_stream(&stream, &root.join("rec"))
}

fn frames(dir: &Path) -> (Vec<PlacedFrame>, Vec<EcgSource>) {
    let rec = Recording::open(dir).unwrap();
    let mut reader = EcgReader::open(&rec).unwrap();
    let mut out = Vec::new();
    while let Some(f) = reader.next_frame().unwrap() {
        out.push(f);
    }
    assert!(reader.damage().is_empty(), "{:?}", reader.damage());
    (out, reader.sources().to_vec())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A strap 0.77 % fast (131 Hz): 2 minutes of frames, a bad PMD frame
/// (compressed, a decode error) among them.
fn strap_131(root: &Path) -> (PathBuf, Vec<ecgstream::SentFrame>) {
    let uv = ecgstream::realistic_uv(130 * 120, 15.0, 7);
    let (mut lines, sent) = ecgstream::stream("chest", &uv, 131.0, 600, 1);
    lines.push(format!(
        r#"{{"at_ms": {}, "device": "chest", "characteristic": "{}", "payload": "000094357700000000800280ff028000"}}"#,
        sent[1].at_ms,
        ecgstream::PMD
    ));
    lines.sort_by_key(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["at_ms"].as_u64().unwrap());
    (record(&lines, root), sent)
}

#[test]
fn ecg_arrow_holds_each_frame_beside_its_notification() {
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = strap_131(root.path());
    let path = dir.join("ecg.arrow");
    assert_eq!(mode(&path), 0o600);
    let file = read_arrow_file(&path).unwrap();
    assert!(file.complete);
    let schema = file.schema.clone().unwrap();
    let types: Vec<(String, DataType)> =
        schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    assert_eq!(types[0], ("t".into(), DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))));
    assert_eq!(types[1], ("device".into(), DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))));
    assert_eq!(types[2], ("device_time".into(), DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))));
    assert!(matches!(&types[3], (n, DataType::List(item)) if n == "uv" && *item.data_type() == DataType::Int32));
    let rec = Recording::open(&dir).unwrap();
    let meta = schema.metadata();
    assert_eq!(meta.get("vigil.recording_id"), Some(&rec.meta.id));
    assert_eq!(meta.get("vigil.format_version").map(String::as_str), Some("3"));
    assert_eq!(meta.get("vigil.unit.uv").map(String::as_str), Some("µV"));

    // One row per good frame (the compressed one is left out), with the
    // arrival `t` of its row in notifications.arrow.
    assert_eq!(file.num_rows(), sent.len());
    let pmd_t: Vec<i64> = rec
        .notifications()
        .unwrap()
        .iter()
        .filter(|n| n.characteristic == vigil::gatt::pmd::DATA_CHARACTERISTIC)
        .map(|n| n.at.as_nanos() as i64)
        .collect();
    assert_eq!(pmd_t.len(), sent.len() + 1, "the bad frame is in notifications.arrow");
    let mut row = 0;
    for b in &file.batches {
        let t = b.column_by_name("t").unwrap().as_primitive::<TimestampMicrosecondType>();
        let dt = b.column_by_name("device_time").unwrap().as_primitive::<TimestampNanosecondType>();
        let uv = b.column_by_name("uv").unwrap().as_list::<i32>();
        let dev = b.column_by_name("device").unwrap().as_dictionary::<Int32Type>();
        for i in 0..b.num_rows() {
            let s = &sent[row];
            assert_eq!(t.value(i) * 1000 - rec.start_ns(), s.at_ms as i64 * 1_000_000, "row {row}");
            assert_eq!(dt.value(i), (s.timestamp_ns as i64) + 946_684_800_000_000_000);
            let values: Vec<i32> = uv.value(i).as_primitive::<Int32Type>().values().to_vec();
            assert_eq!(values, s.samples_uv);
            let name = dev.values().as_string::<i32>().value(dev.keys().value(i) as usize);
            assert_eq!(name, "chest");
            row += 1;
        }
    }
    assert!(pmd_t.contains(&(sent[0].at_ms as i64 * 1_000_000)));

    // A recording without PMD frames has no ecg.arrow.
    let hr_only = vec![
        r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "HRM"}"#.to_owned(),
        r#"{"at_ms": 1000, "device": "chest", "characteristic": "2a37", "payload": "0648"}"#.to_owned(),
    ];
    let other = tempfile::tempdir().unwrap();
    let plain = record(&hr_only, other.path());
    assert!(!plain.join("ecg.arrow").exists());
    assert!(frames(&plain).0.is_empty());
}

#[test]
fn sample_times_follow_the_straps_measured_rate_and_both_sources_agree() {
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = strap_131(root.path());
    let (placed, sources) = frames(&dir);
    assert_eq!(sources, [EcgSource::EcgFile]);
    assert_eq!(placed.len(), sent.len());
    // The first frame ends at its arrival with the nominal period; every
    // later one at the strap's 131 Hz, not the nominal 130 or the arrivals'.
    // (Times within 1 µs: `EcgClock` anchors in f64 ns of the strap's clock.)
    assert!(placed[0].timing.new_run);
    assert!(
        (placed[0].timing.at_ns(72) - sent[0].at_ms as f64 * 1e6).abs() < 1e3,
        "{:?} {:?}",
        placed[0],
        sent[0].at_ms
    );
    let want = 1e9 / 131.0;
    for f in &placed[1..] {
        assert!(!f.timing.new_run);
        assert!((f.timing.period_ns - want).abs() < 0.01, "{} against {want}", f.timing.period_ns);
    }
    assert!((want - NOMINAL_PERIOD_NS).abs() > 50_000.0);
    // Sample times are continuous: each frame's first follows the previous
    // frame's last by one period.
    for w in placed.windows(2) {
        let gap = w[1].timing.at_ns(0) - w[0].timing.at_ns(72);
        assert!((gap - want).abs() < 1e3, "{gap}");
    }

    // The same recording without its ecg.arrow reads the same frames from
    // notifications.arrow.
    let (_copy_root, copy) = records::copy(&dir);
    std::fs::remove_file(copy.join("ecg.arrow")).unwrap();
    let (fallback, sources) = frames(&copy);
    assert_eq!(sources, [EcgSource::Notifications]);
    assert_eq!(fallback, placed);

    // `collect`: one device's (time, µV).
    let rec = Recording::open(&dir).unwrap();
    let series = collect(&rec, "chest").unwrap();
    let all: Vec<i32> = sent.iter().flat_map(|f| f.samples_uv.iter().copied()).collect();
    assert_eq!(series.uv, all);
    assert_eq!(series.t_s.len(), all.len());
    assert!(series.t_s.windows(2).all(|w| w[1] > w[0]));
    assert!(collect(&rec, "other").unwrap().uv.is_empty());
}

#[test]
fn recover_writes_ecg_arrow_for_an_unfinished_recording() {
    let root = tempfile::tempdir().unwrap();
    let (dir, sent) = strap_131(root.path());
    let (finished, _) = frames(&dir);
    let (_keep, crashed) = records::unfinished(&dir, 50);
    std::fs::remove_file(crashed.join("ecg.arrow")).unwrap();
    // Unfinished: the reader derives the frames from the notifications.
    let (before, sources) = frames(&crashed);
    assert_eq!(sources, [EcgSource::Notifications]);
    assert_eq!(before, finished);

    let report = recover(&crashed).unwrap();
    assert!(!report.nothing_to_do());
    let path = crashed.join("ecg.arrow");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(read_arrow_file(&path).unwrap().num_rows(), sent.len());
    let (after, sources) = frames(&crashed);
    assert_eq!(sources, [EcgSource::EcgFile]);
    assert_eq!(after, finished);
    let leftovers: Vec<String> = std::fs::read_dir(&crashed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(Recording::open(&crashed).unwrap().paths(FileKind::Notifications).len() == 1);
}

/// DESIGN.md's budget: ≤ 2 B per sample after compaction, on a realistic
/// signal (noise 20 µV, R ~1,000 µV) of 260,000 samples (33 min of one
/// strap). The figure is printed for docs/performance.md.
#[test]
fn ecg_arrow_is_at_most_2_bytes_a_sample() {
    let root = tempfile::tempdir().unwrap();
    let samples = 260_000;
    let uv = ecgstream::realistic_uv(samples, 20.0, 3);
    let (lines, sent) = ecgstream::stream("chest", &uv, 129.2, 300, 5);
    let dir = record(&lines, root.path());
    let bytes = std::fs::metadata(dir.join("ecg.arrow")).unwrap().len();
    let n: usize = sent.iter().map(|f| f.samples_uv.len()).sum();
    assert_eq!(n, samples);
    let per = bytes as f64 / n as f64;
    eprintln!("ecg.arrow: {bytes} B for {n} samples: {per:.3} B/sample");
    assert!(per <= 2.0, "{per} B/sample");
    // `VIGIL_ECG_LEVELS=3,9,19`: the same frames at other zstd levels, with
    // the time each takes (the figures behind `ECG_ZSTD_LEVEL`).
    for level in std::env::var("VIGIL_ECG_LEVELS").unwrap_or_default().split(',').filter(|l| !l.is_empty()) {
        let out = root.path().join(format!("ecg-{level}.arrow"));
        let t0 = std::time::Instant::now();
        let stats = derive(&dir.join("notifications.arrow"), &out, level.parse().unwrap()).unwrap().unwrap();
        let per = stats.bytes as f64 / stats.samples as f64;
        eprintln!("level {level}: {per:.3} B/sample, {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
}

/// Replay feeds notifications.arrow to the pipeline, PMD frames included:
/// a recording with ECG replays to the live run's lines (no decode error
/// from the frames). Replay does not record, so there is no re-recording
/// to check.
#[test]
fn a_recording_with_ecg_replays_like_the_live_run() {
    let root = tempfile::tempdir().unwrap();
    let uv = ecgstream::realistic_uv(130 * 20, 15.0, 9);
    let (lines, _) = ecgstream::stream("chest", &uv, 130.5, 400, 3);
    let stream = root.path().join("ecg.ndjson");
    ecgstream::write(&stream, &lines);
    let rec_root = root.path().join("rec");
    let live = cli::vigil_ok(&[
        "monitor",
        "--stream",
        stream.to_str().unwrap(),
        "--speed",
        "max",
        "--headless",
        "--record-dir",
        rec_root.to_str().unwrap(),
    ]);
    let dir = cli::only_dir(&rec_root);
    let replayed = cli::vigil_ok(&["replay", dir.to_str().unwrap(), "--speed", "max", "--headless"]);
    assert_eq!(replayed, live);
    let summary: serde_json::Value = serde_json::from_str(live.lines().last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["decode_errors"], 0, "{summary}");
    assert!(!live.contains(r#""type":"decode_error""#), "{live}");
    assert_eq!(summary["notifications"], 36 + 20, "every frame and heart-rate notification replayed");
}
