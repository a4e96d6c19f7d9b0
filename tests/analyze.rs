//! `vigil analyze` end to end on simulated recordings: the scenario's
//! physiology shows between dose-locked windows, no vital statistic uses a
//! sample without skin contact, a cohort makes one table in every format,
//! and bad input gets a clear error.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod tools;

use std::os::unix::fs::PermissionsExt;

use std::process::Command;

use cli::{record, vigil, vigil_ok};
use serde_json::Value;

fn rows(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["analyze", "--format", "json"];
    all.extend_from_slice(args);
    vigil_ok(&all).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn quantity<'a>(row: &'a Value, name: &str) -> &'a Value {
    row["quantities"].as_array().unwrap().iter().find(|q| q["quantity"] == name).unwrap()
}

#[test]
fn mdma_session_heart_rate_rises_and_rmssd_falls_after_the_dose() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("mdma-session", "P01", root.path());
    let dir_s = dir.to_str().unwrap();
    let rows = rows(&[dir_s, "--window", "dose:-30m..0m", "--window", "dose:1h..2h"]);
    let chest: Vec<&Value> = rows.iter().filter(|r| r["device"] == "chest").collect();
    assert_eq!(chest.len(), 2, "{rows:?}");
    let (before, after) = (chest[0], chest[1]);
    assert_eq!(before["window"], "dose:-30m..0m");
    assert_eq!(after["window"], "dose:1h..2h");
    assert_eq!(before["participant"], "P01");
    // The windows are an hour and half an hour of session time.
    let span = |r: &Value| r["to_s"].as_f64().unwrap() - r["from_s"].as_f64().unwrap();
    assert_eq!((span(before), span(after)), (1800.0, 3600.0));

    let hr = |r: &Value| quantity(r, "heart_rate_bpm")["median"].as_f64().unwrap();
    let rmssd = |r: &Value| r["hrv"]["rmssd_ms"].as_f64().unwrap();
    assert!(hr(after) > hr(before) + 20.0, "HR {} -> {}", hr(before), hr(after));
    assert!(rmssd(after) < rmssd(before) * 0.7, "RMSSD {} -> {}", rmssd(before), rmssd(after));
    // Every HRV measure of a 30-minute window has a value.
    for key in ["sdnn_ms", "pnn50_percent", "sd1_ms", "lf_ms2", "hf_ms2", "vlf_ms2", "lf_hf", "dfa_alpha1"] {
        assert!(before["hrv"][key].is_number(), "{key}: {}", before["hrv"]);
    }
    // A thermometer has no RR: no HRV, never a made-up one.
    let core = rows.iter().find(|r| r["device"] == "core").unwrap();
    assert!(core["hrv"].is_null(), "{core}");
}

#[test]
fn no_vital_statistic_uses_a_sample_without_contact() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("flaky-sensor", "P02", root.path());
    let dir_s = dir.to_str().unwrap();
    // What the recording holds, read apart from analyze: the export's CSV.
    let out = root.path().join("export");
    vigil_ok(&["export", dir_s, "--format", "csv", "--out", out.to_str().unwrap()]);
    let csv = std::fs::read_to_string(out.join("samples.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (device, q, value, contact) = (col("device"), col("quantity"), col("value"), col("contact"));
    let hr: Vec<(f64, String)> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[device] == "chest" && f[q] == "heart_rate_bpm")
        .map(|f| (f[value].parse().unwrap(), f[contact].to_owned()))
        .collect();
    let without: Vec<f64> = hr.iter().filter(|(_, c)| c == "false").map(|(v, _)| *v).collect();
    let with: Vec<f64> = hr.iter().filter(|(_, c)| c != "false").map(|(v, _)| *v).collect();
    assert!(!without.is_empty(), "flaky-sensor loses contact");

    let rows = rows(&[dir_s]);
    let chest = rows.iter().find(|r| r["device"] == "chest").unwrap();
    let stats = quantity(chest, "heart_rate_bpm");
    assert_eq!(stats["no_contact"].as_u64().unwrap() as usize, without.len(), "{stats}");
    assert_eq!(stats["n"].as_u64().unwrap() as usize, with.len(), "{stats}");
    let min = with.iter().copied().fold(f64::INFINITY, f64::min);
    let max = with.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(stats["min"].as_f64().unwrap(), min);
    assert_eq!(stats["max"].as_f64().unwrap(), max);
    let mean = with.iter().sum::<f64>() / with.len() as f64;
    assert!((stats["mean"].as_f64().unwrap() - mean).abs() < 1e-9, "{stats} vs {mean}");
    // The strap's no-contact readings are 0 bpm or stale values: a minimum of
    // 0 would mean one slipped in.
    assert!(min > 30.0, "{stats}");
}

#[test]
fn a_cohort_is_one_table_in_every_format() {
    let root = tempfile::tempdir().unwrap();
    let a = record("tachycardia-episode", "P03", root.path());
    let b = record("flaky-sensor", "P04", root.path());
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let rows = rows(&[a_s, b_s, "--window", "every:5m"]);
    let participants: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["participant"].as_str().unwrap()).collect();
    assert_eq!(participants.into_iter().collect::<Vec<_>>(), ["P03", "P04"]);
    assert!(rows.iter().any(|r| r["window_index"] == 1), "every:5m makes several windows");

    // The table fits an 80-column terminal.
    let table = vigil_ok(&["analyze", a_s, b_s, "--window", "every:5m"]);
    for line in table.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line}", line.chars().count());
    }
    assert!(table.contains("P03 · ") && table.contains("P04 · "), "{table}");

    // CSV and Parquet: files only their owner reads, with one row per JSON
    // object and the same figures.
    let csv = root.path().join("cohort.csv");
    let parquet = root.path().join("cohort.parquet");
    for (format, path) in [("csv", &csv), ("parquet", &parquet)] {
        let out =
            vigil(&["analyze", a_s, b_s, "--window", "every:5m", "--format", format, "--out", path.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600);
        // A second run does not replace the file unless told to.
        let again = vigil(&["analyze", a_s, "--format", format, "--out", path.to_str().unwrap()]);
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("--force"), "{again:?}");
    }
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), rows.len() + 1);
    let header = csv_text.lines().next().unwrap();
    for column in ["recording", "participant", "window", "device", "heart_rate_bpm.median", "hrv.rmssd_ms"] {
        assert!(header.split(',').any(|h| h == column), "{column} not in {header}");
    }

    let Some(python) = tools::python("the polars reading of analyze's Parquet and CSV") else { return };
    let script = r#"
import sys, polars as pl
p = pl.read_parquet(sys.argv[1]); c = pl.read_csv(sys.argv[2])
assert p.height == c.height, (p.height, c.height)
assert p.schema["heart_rate_bpm.n"] == pl.Int64, p.schema["heart_rate_bpm.n"]
assert p.schema["hrv.rmssd_ms"] == pl.Float64
chest = p.filter((pl.col("device") == "chest") & (pl.col("participant") == "P03"))
print(p.height, chest.height, chest["hrv.rmssd_ms"].drop_nulls().len())
"#;
    let out =
        Command::new(&python).args(["-c", script, parquet.to_str().unwrap(), csv.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let figures: Vec<usize> =
        String::from_utf8(out.stdout).unwrap().split_whitespace().map(|n| n.parse().unwrap()).collect();
    let chest_rows = rows.iter().filter(|r| r["device"] == "chest" && r["participant"] == "P03").count();
    assert_eq!(figures, vec![rows.len(), chest_rows, chest_rows]);
}

#[test]
fn bad_windows_and_missing_markers_are_named() {
    let root = tempfile::tempdir().unwrap();
    let dir = record("tachycardia-episode", "P05", root.path());
    let dir_s = dir.to_str().unwrap();
    let out = vigil(&["analyze", dir_s, "--window", "dose:30m"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dose:30m") && err.contains("no `..`"), "{err}");

    // The tachycardia-episode scenario has no dose marker: the window is left out
    // with a note naming the recording, and the other window is analysed.
    let out = vigil(&["analyze", dir_s, "--window", "dose:0m..1h", "--window", "all", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(dir_s) && err.contains("no dose marker"), "{err}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.is_empty() && stdout.lines().all(|l| l.contains(r#""window":"all""#)), "{stdout}");

    let out = vigil(&["analyze", "/nonexistent/recording"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/recording"));

    let out = vigil(&["analyze", dir_s, "--format", "parquet"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out"));
}

#[test]
fn the_straps_rr_is_checked_against_its_own_ecg() {
    let root = tempfile::tempdir().unwrap();
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scenarios/h10-ecg-12min.toml");
    let dir = record(scenario, "P07", root.path());
    let dir_s = dir.to_str().unwrap();
    let rows = rows(&[dir_s, "--window", "range:30s..3m30s", "--window", "range:3m50s..4m30s", "--window", "all"]);
    let chest: Vec<&Value> = rows.iter().filter(|r| r["device"] == "chest").collect();
    assert_eq!(chest.len(), 3, "{rows:?}");
    let e = |r: &Value, k: &str| r["ecg_rr"][k].as_f64().unwrap_or_else(|| panic!("{k}: {}", r["ecg_rr"]));

    // Clean (from 30 s: the ECG starts half a second after the strap
    // connects, so its first interval has no ECG): the strap reports every
    // beat the ECG shows, to the millisecond.
    let clean = chest[0];
    assert!(e(clean, "strap_beats") > 200.0, "{}", clean["ecg_rr"]);
    assert_eq!(e(clean, "agreement_percent"), 100.0, "{}", clean["ecg_rr"]);
    assert_eq!((e(clean, "missed"), e(clean, "extra")), (0.0, 0.0), "{}", clean["ecg_rr"]);
    assert!(e(clean, "mean_abs_diff_ms") < 5.0, "{}", clean["ecg_rr"]);
    assert!((e(clean, "ecg_beats") - e(clean, "strap_beats")).abs() <= 1.0, "{}", clean["ecg_rr"]);

    // Around the 20-s contact loss the strap reports no RR and its ECG is
    // noise without R-peaks: both sides lose the same beats (a 40-s window
    // at 66 bpm or more holds at least 44), and what the strap did report
    // still agrees, but for the intervals at the loss's edges.
    let slipped = chest[1];
    assert!(e(slipped, "ecg_beats") <= 35.0 && e(slipped, "strap_beats") <= 35.0, "{}", slipped["ecg_rr"]);
    assert!(e(slipped, "paired") >= 20.0, "{}", slipped["ecg_rr"]);
    assert!(e(slipped, "missed") + e(slipped, "extra") <= 4.0, "{}", slipped["ecg_rr"]);

    // A device without ECG gets none.
    let core = rows.iter().find(|r| r["device"] == "core").unwrap();
    assert!(core["ecg_rr"].is_null(), "{core}");

    // The table says it in a line of its own, under 80 columns.
    let table = vigil_ok(&["analyze", dir_s]);
    let line = table.lines().find(|l| l.contains("RR vs ECG")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.chars().count() <= 80, "{line}");
}
