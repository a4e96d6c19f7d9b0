//! One definition of the figures (issue 21, "Right figures everywhere"):
//! the headless summary line and `vigil summary --json` of the same session
//! count the same alarm episodes by priority; the summary's vitals leave out
//! samples without contact or invalid and count them; `summary --config`
//! re-runs the alarms under other limits.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;

use std::path::{Path, PathBuf};

use cli::{vigil, vigil_ok};
use serde_json::Value;

/// Run `scenario` headless at `--speed max`, recorded under `root`; its
/// headless lines and its recording's directory.
fn simulate(scenario: &str, root: &Path) -> (Vec<Value>, PathBuf) {
    let root_s = root.to_str().unwrap();
    let text = vigil_ok(&["simulate", scenario, "--speed", "max", "--headless", "--record-dir", root_s]);
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "one recording: {dirs:?}");
    (lines, dirs.remove(0))
}

fn summary_json(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["summary", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&vigil_ok(&args)).unwrap()
}

const PRIORITIES: [&str; 3] = ["low", "medium", "high"];

/// `vigil summary --json`'s episodes by priority (a priority with none is
/// left out of its map).
fn summary_counts(summary: &Value) -> [u64; 3] {
    PRIORITIES.map(|p| summary["alarms"]["by_priority"][p].as_u64().unwrap_or(0))
}

#[test]
fn headless_summary_and_summary_json_count_the_same_alarms() {
    // flaky-sensor: tech.stale rises from low to medium among five other
    // alarms; hyperthermia: temp.high from low to medium to high. Counted by
    // onset priority, each would differ.
    for scenario in ["flaky-sensor", "hyperthermia"] {
        let root = tempfile::tempdir().unwrap();
        let (lines, dir) = simulate(scenario, root.path());
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "summary", "{scenario}: {last}");
        let headless = PRIORITIES.map(|p| last["alarms"][p].as_u64().unwrap());
        let summary = summary_json(&dir, &[]);
        assert_eq!(headless, summary_counts(&summary), "{scenario}: headless {last} vs summary {}", summary["alarms"]);
        assert!(headless.iter().sum::<u64>() > 0, "{scenario} raises alarms");

        // The old count (activations by their onset priority) differs for
        // every scenario here, so this test tells the two apart.
        let mut onset = [0u64; 3];
        for l in lines.iter().filter(|l| l["type"] == "alarm" && l["state"] == "active") {
            onset[PRIORITIES.iter().position(|p| l["priority"] == *p).unwrap()] += 1;
        }
        assert_ne!(onset, headless, "{scenario}: onset priority equals highest priority here");
    }
}

#[test]
fn flaky_sensor_vitals_leave_out_samples_without_contact_or_invalid() {
    let root = tempfile::tempdir().unwrap();
    let (_, dir) = simulate("flaky-sensor", root.path());
    let summary = summary_json(&dir, &[]);
    let quantity = |device: &str, q: &str| {
        summary["quantities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["device"] == device && x["quantity"] == q)
            .unwrap()
            .clone()
    };
    let hr = quantity("chest", "heart_rate_bpm");
    assert!(hr["no_contact"].as_u64().unwrap() > 0, "the strap lost contact: {hr}");
    assert_eq!(
        hr["samples"].as_u64().unwrap(),
        hr["n"].as_u64().unwrap()
            + hr["no_contact"].as_u64().unwrap()
            + hr["invalid"].as_u64().unwrap()
            + hr["in_gap"].as_u64().unwrap(),
        "every sample is used or counted once: {hr}"
    );
    assert!(hr["min"].as_f64().unwrap() > 40.0, "no 0 bpm sent without contact: {hr}");
    for b in hr["beyond"].as_array().unwrap() {
        assert_eq!(b["samples"], 0, "a resting heart rate is beyond no limit: {b}");
    }
    let temp = quantity("core", "body_temperature_c");
    assert!(temp["invalid"].as_u64().unwrap() > 0, "the NaN temperature is counted: {temp}");
    assert!(temp["max"].as_f64().unwrap() < 38.0, "{temp}");

    let text = vigil_ok(&["summary", dir.to_str().unwrap()]);
    let hr_line = text.lines().find(|l| l.starts_with("heart_rate_bpm")).unwrap();
    assert!(hr_line.contains("no contact"), "{hr_line}");
    assert!(!hr_line.contains(" 0.00 "), "{hr_line}");
    assert!(!text.contains("hr.low"), "{text}");
    let alarm_line = text.lines().find(|l| l.starts_with("alarms")).unwrap();
    assert!(alarm_line.contains("counted once at the highest priority it reached"), "{alarm_line}");
}

#[test]
fn summary_config_reruns_the_alarms_under_its_limits() {
    let root = tempfile::tempdir().unwrap();
    let (_, dir) = simulate("flaky-sensor", root.path());
    let recorded = summary_json(&dir, &[]);
    assert_eq!(recorded["alarms"]["from"], "recorded");
    assert!(recorded["alarms"]["by_condition"]["hr.high"].is_null(), "{}", recorded["alarms"]);

    // A resting heart rate of 63–73 bpm is beyond a limit of 70.
    let strict = root.path().join("strict.toml");
    std::fs::write(&strict, "[alarms.hr_high]\nlow = { above_bpm = 70.0, for_s = 5.0 }\n").unwrap();
    let strict_s = strict.to_str().unwrap();
    let rerun = summary_json(&dir, &["--config", strict_s]);
    let total = |s: &Value| summary_counts(s).iter().sum::<u64>();
    assert!(total(&rerun) > total(&recorded), "{} vs {}", rerun["alarms"], recorded["alarms"]);
    assert!(rerun["alarms"]["by_condition"]["hr.high"].as_u64().unwrap() >= 1, "{}", rerun["alarms"]);
    assert_eq!(rerun["alarms"]["from"], format!("re-run under {strict_s}"));
    assert_eq!(rerun["limits_from"], strict_s);
    let hr = rerun["quantities"].as_array().unwrap().iter().find(|q| q["quantity"] == "heart_rate_bpm").unwrap();
    let above = hr["beyond"].as_array().unwrap().iter().find(|b| b["condition"] == "hr.high" && b["priority"] == "low");
    assert_eq!(above.unwrap()["limit"], "> 70", "time beyond a limit uses the file's limits: {hr}");

    // The same file, re-run: the same counts (nothing is written).
    assert_eq!(summary_counts(&summary_json(&dir, &["--config", strict_s])), summary_counts(&rerun));
    let text = vigil_ok(&["summary", dir.to_str().unwrap(), "--config", strict_s]);
    assert!(text.contains(&format!("limits      from {strict_s}")), "{text}");

    let bad = root.path().join("bad.toml");
    std::fs::write(&bad, "[alarms.hr_high]\nlow = { above_bpm = 70.0, fr_s = 5.0 }\n").unwrap();
    let out = vigil(&["summary", dir.to_str().unwrap(), "--config", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(bad.to_str().unwrap()) && stderr.contains("alarms.hr_high.low.fr_s"), "{stderr}");
}
