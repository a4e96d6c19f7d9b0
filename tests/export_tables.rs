//! `vigil export --format csv|parquet`: beat times reconstructed from a
//! scripted stream whose beats are known, segments that never span a
//! disconnection or a contact loss, and a cohort of every shipped scenario
//! as one Hive-partitioned dataset that DuckDB queries, in windows of
//! session time and around the dose, to `vigil analyze`'s figures.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod ecgstream;
mod tools;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use cli::vigil_ok;
use serde_json::Value;

/// A heart-rate notification: HR 70, contact supported and `contact`, the
/// RR intervals in 1/1024 s.
fn hr_payload(contact: bool, rr: &[u16]) -> String {
    let flags: u8 = 0x10 | 0x04 | if contact { 0x02 } else { 0 };
    let mut hex = format!("{flags:02x}46");
    for r in rr {
        let [lo, hi] = r.to_le_bytes();
        write!(hex, "{lo:02x}{hi:02x}").unwrap();
    }
    hex
}

#[test]
fn beat_times_are_the_scripted_beats_and_no_segment_spans_a_hole() {
    // Beats on whole 1/1024 s ticks, intervals 700–900 ms; a notification
    // every two or three beats, stamped at its last beat (rounded to the
    // stream's whole milliseconds), so every reconstructed beat time is
    // within half a millisecond of the truth.
    let mut beats_1024: Vec<u64> = vec![1024];
    let mut rr_1024: Vec<u16> = vec![0];
    for i in 0..400u64 {
        let rr = 717 + (i * 37 % 205); // 700..900 ms
        beats_1024.push(beats_1024.last().unwrap() + rr);
        rr_1024.push(u16::try_from(rr).unwrap());
    }
    let ms = |ticks: u64| (ticks as f64) * 1000.0 / 1024.0;
    let mut lines = vec![r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "H10 test"}"#.to_owned()];
    let (lost_from, lost_to) = (100, 130); // beats without contact
    let (down_from, down_to) = (250, 280); // beats while disconnected
    let mut i = 1;
    let mut truth: Vec<(f64, bool)> = Vec::new(); // (beat ms, delivered with contact)
    while i < beats_1024.len() {
        let n = 2 + i % 2;
        let last = (i + n - 1).min(beats_1024.len() - 1);
        let at_ms = ms(beats_1024[last]).round();
        if (down_from..down_to).contains(&i) {
            if i == down_from {
                lines.push(format!(r#"{{"at_ms": {}, "device": "chest", "event": "disconnected"}}"#, at_ms - 100.0));
            }
        } else {
            if i >= down_to && i < down_to + n {
                // Back before the beat that opens the first interval
                // delivered again: no delivered interval overlaps the hole.
                let back = ms(beats_1024[i - 1]).floor();
                lines.push(format!(r#"{{"at_ms": {back}, "device": "chest", "event": "connected"}}"#));
            }
            let contact = !(lost_from..lost_to).contains(&i);
            let payload = hr_payload(contact, &rr_1024[i..=last]);
            lines.push(format!(
                r#"{{"at_ms": {at_ms}, "device": "chest", "characteristic": "2a37", "payload": "{payload}"}}"#
            ));
            truth.extend((i..=last).map(|k| (ms(beats_1024[k]), contact)));
        }
        i = last + 1;
    }
    let root = tempfile::tempdir().unwrap();
    let stream = root.path().join("beats.ndjson");
    std::fs::write(&stream, lines.join("\n") + "\n").unwrap();
    let dir = cli::record_stream(&stream, &root.path().join("rec"));
    let out = root.path().join("csv");
    vigil_ok(&["export", dir.to_str().unwrap(), "--format", "csv", "--out", out.to_str().unwrap()]);

    let meta: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("session.json")).unwrap()).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339(meta["start_utc"].as_str().unwrap()).unwrap();
    let csv = std::fs::read_to_string(out.join("beats.csv")).unwrap();
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(',').collect();
    assert_eq!(
        header,
        ["recording", "participant", "device", "t", "rr_ms", "notification_t", "contact", "segment", "artifact"]
    );
    let since_start = |t: &str| {
        let t = chrono::DateTime::parse_from_rfc3339(t).unwrap();
        (t - start).num_microseconds().unwrap() as f64 / 1000.0
    };
    // (beat ms, contact, segment)
    let got: Vec<(f64, bool, Option<u32>)> = rows
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert!(since_start(f[5]) >= since_start(f[3]), "a beat after its notification: {l}");
            (since_start(f[3]), f[6] == "true", f[7].parse().ok())
        })
        .collect();
    assert_eq!(got.len(), truth.len(), "every delivered interval is a beat");
    for ((t, contact, _), (want, want_contact)) in got.iter().zip(&truth) {
        assert!((t - want).abs() < 1.0, "beat at {t} ms, scripted at {want} ms");
        assert_eq!(contact, want_contact, "contact of the beat at {want} ms");
    }
    // Beats without contact are in no segment; a segment's beats all lie on
    // one side of the contact loss and of the disconnection.
    let loss = (truth.iter().position(|b| !b.1).unwrap(), truth.iter().rposition(|b| !b.1).unwrap());
    let hole = (ms(beats_1024[down_from]), ms(beats_1024[down_to]));
    let mut spans: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    for (k, (t, contact, segment)) in got.iter().enumerate() {
        assert_eq!(segment.is_none(), !contact, "beat {k} at {t} ms");
        if let Some(s) = segment {
            let span = spans.entry(*s).or_insert((*t, *t));
            span.1 = *t;
        }
    }
    let loss_ms = (got[loss.0].0, got[loss.1].0);
    for (s, (a, b)) in &spans {
        assert!(!(*a < loss_ms.0 && *b > loss_ms.1), "segment {s} ({a}..{b} ms) spans the contact loss");
        assert!(!(*a < hole.0 && *b > hole.1), "segment {s} ({a}..{b} ms) spans the disconnection");
    }
    assert_eq!(spans.len(), 3, "before the loss, between, after the disconnection: {spans:?}");
}

#[test]
fn a_cohort_of_every_scenario_is_one_dataset_duckdb_reads_as_analyze_does() {
    let root = tempfile::tempdir().unwrap();
    let list = vigil_ok(&["simulate", "--list"]);
    let scenarios: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(scenarios.len() >= 5, "{list}");
    let mut dirs = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let dir = cli::record(scenario, &format!("P{}", i + 1), root.path());
        dirs.push(dir.to_str().unwrap().to_owned());
    }
    let out = root.path().join("cohort");
    let mut args = vec!["export"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--format", "parquet", "--out", out.to_str().unwrap()]);
    vigil_ok(&args);
    for table in ["samples", "events", "beats", "notifications"] {
        for (i, dir) in dirs.iter().enumerate() {
            let id = Path::new(dir).file_name().unwrap().to_str().unwrap();
            let part =
                out.join(table).join(format!("participant=P{}", i + 1)).join(format!("recording={id}/part-0.parquet"));
            assert!(part.exists(), "{}", part.display());
        }
    }
    assert!(out.join("sessions.parquet").exists());
    // `--out x.csv` is refused: the export is a directory of tables.
    let refused =
        cli::vigil(&["export", &dirs[0], "--format", "csv", "--out", root.path().join("x.csv").to_str().unwrap()]);
    assert!(!refused.status.success() && !root.path().join("x.csv").exists());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("directory"), "{refused:?}");

    // vigil analyze's mean HR per participant and device in minutes 1–4,
    // and in the hour after the dose (the one scenario with a dose marker;
    // the others have no such window and are left out with a note).
    let mut args = vec!["analyze"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--window", "range:1m..4m", "--window", "dose:0m..1h", "--format", "json"]);
    let mut want: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for line in vigil_ok(&args).lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        if let Some(hr) = row["quantities"].as_array().unwrap().iter().find(|q| q["quantity"] == "heart_rate_bpm") {
            let key = (
                row["participant"].as_str().unwrap().to_owned(),
                row["window"].as_str().unwrap().to_owned(),
                row["device"].as_str().unwrap().to_owned(),
            );
            want.insert(key, hr["mean"].as_f64().unwrap());
        }
    }
    assert!(want.len() > scenarios.len(), "{want:?}");
    assert!(want.keys().any(|(_, w, _)| w == "dose:0m..1h"), "{want:?}");

    let Some(python) = tools::python("the DuckDB query of the exported cohort") else { return };
    // The same rules as analyze: samples without contact and implausible
    // ones left out (no scenario here has a gap in minutes 1–4).
    let script = r#"
import sys, duckdb
root = sys.argv[1]
q = f"""
with s as (select * from read_parquet('{root}/samples/**/*.parquet', hive_partitioning = true)),
     x as (select * from read_parquet('{root}/sessions.parquet')),
     w as (select recording, 'range:1m..4m' as win, start + interval 60 second as a, start + interval 240 second as b from x
           union all
           select recording, 'dose:0m..1h', start + to_microseconds(cast(first_dose_s * 1e6 as bigint)),
                  start + to_microseconds(cast(first_dose_s * 1e6 as bigint)) + interval 1 hour
           from x where first_dose_s is not null)
select s.participant, w.win, s.device, avg(s.value)
from s join w on s.recording = w.recording and s.t >= w.a and s.t < w.b
where s.quantity = 'heart_rate_bpm' and s.contact is distinct from false
  and s.value > 0 and s.value <= 250
group by all order by all
"""
for p, w, d, m in duckdb.sql(q).fetchall():
    print(p, w, d, repr(m))
"#;
    let out = Command::new(&python).args(["-c", script, out.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: BTreeMap<(String, String, String), f64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            ((f[0].to_owned(), f[1].to_owned(), f[2].to_owned()), f[3].parse().unwrap())
        })
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (key, mean) in &want {
        assert!((got[key] - mean).abs() < 1e-9, "{key:?}: DuckDB {} vs analyze {mean}", got[key]);
    }
}

/// The `ecg` table: one row per sample at its session time (the strap's
/// measured rate), in CSV and Parquet, single and Hive forms, read by
/// pyarrow and polars.
#[test]
fn the_ecg_table_has_a_row_per_sample_that_pyarrow_and_polars_read() {
    let root = tempfile::tempdir().unwrap();
    let uv = ecgstream::realistic_uv(130 * 30, 15.0, 11);
    let (lines, sent) = ecgstream::stream("chest", &uv, 131.0, 500, 2);
    let stream = root.path().join("ecg.ndjson");
    ecgstream::write(&stream, &lines);
    let a = cli::record_stream(&stream, &root.path().join("a"));
    let b = cli::record_stream(&stream, &root.path().join("b"));
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let csv = root.path().join("csv");
    vigil_ok(&["export", a_s, "--format", "csv", "--out", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(csv.join("ecg.csv")).unwrap();
    let mut rows = text.lines();
    assert_eq!(rows.next().unwrap(), "recording,participant,t,device,uv");
    let values: Vec<i32> = rows.map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(values, uv);
    let single = root.path().join("pq");
    vigil_ok(&["export", a_s, "--format", "parquet", "--out", single.to_str().unwrap()]);
    let hive = root.path().join("hive");
    vigil_ok(&["export", a_s, b_s, "--format", "parquet", "--out", hive.to_str().unwrap()]);
    for dir in [&a, &b] {
        let id = dir.file_name().unwrap().to_str().unwrap();
        assert!(hive.join(format!("ecg/participant=anon/recording={id}/part-0.parquet")).exists());
    }
    assert!(!Path::new(&root.path().join("none")).exists());

    let Some(python) = tools::python("the ecg table read by pyarrow and polars") else { return };
    let script = r#"
import sys, json
import pyarrow.parquet as pq, polars as pl
single, hive = sys.argv[1], sys.argv[2]
t = pq.read_table(single + "/ecg.parquet")
df = pl.read_parquet(single + "/ecg.parquet")
h = pl.read_parquet(hive + "/ecg/**/*.parquet", hive_partitioning=True)
d = df.sort("t")["t"].diff().dt.total_microseconds().drop_nulls()
print(json.dumps({
    "columns": t.column_names,
    "types": [str(x) for x in t.schema.types],
    "rows": df.height,
    "uv": df["uv"].to_list(),
    "median_step_us": float(d.median()),
    "hive_rows": h.height,
    "hive_recordings": h["recording"].n_unique(),
}))
"#;
    let out =
        Command::new(&python).args(["-c", script, single.to_str().unwrap(), hive.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["columns"], serde_json::json!(["recording", "participant", "t", "device", "uv"]));
    assert_eq!(got["types"][2], "timestamp[us, tz=UTC]");
    assert_eq!(got["types"][4], "int32");
    assert_eq!(got["rows"].as_u64(), Some(uv.len() as u64));
    assert_eq!(got["uv"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i32).collect::<Vec<_>>(), uv);
    // 131 Hz: 7634 µs between samples, not the nominal 7692.
    assert!((got["median_step_us"].as_f64().unwrap() - 1e6 / 131.0).abs() < 1.5, "{}", got["median_step_us"]);
    assert_eq!(got["hive_rows"].as_u64(), Some(2 * uv.len() as u64));
    assert_eq!(got["hive_recordings"].as_u64(), Some(2));
    assert_eq!(sent.iter().map(|f| f.samples_uv.len()).sum::<usize>(), uv.len());
}
