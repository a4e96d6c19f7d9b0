//! A simulated session, recorded, then replayed headless gives the same
//! lines as the live run; replayed with other limits it gives the alarms
//! those limits imply.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};
use std::process::Command;

fn vigil(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).env("VIGIL_LOG", "/dev/null").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "vigil {args:?} failed: {stderr}");
    (stdout, stderr)
}

fn only_recording(root: &Path) -> PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

/// `tachycardia-episode` at `--speed max`, headless, recorded under `root`
/// (with `extra` arguments); its stdout.
fn simulate_into(root: &Path, extra: &[&str]) -> String {
    let root = root.to_str().unwrap();
    let mut args = vec!["simulate", "tachycardia-episode", "--speed", "max", "--headless", "--record-dir", root];
    args.extend_from_slice(extra);
    vigil(&args).0
}

fn alarm_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "alarm")
        .collect()
}

#[test]
fn replay_matches_the_live_run_and_other_limits_change_the_alarms() {
    let root = tempfile::tempdir().unwrap();
    let live = simulate_into(root.path(), &["--participant", "P017"]);
    let rec = only_recording(root.path());
    assert!(rec.file_name().unwrap().to_str().unwrap().contains("-P017-"));
    let rec_s = rec.to_str().unwrap();

    let (replayed, _) = vigil(&["replay", rec_s, "--speed", "max", "--headless"]);
    assert!(!alarm_lines(&live).is_empty(), "the scenario raises alarms");
    assert_eq!(live, replayed, "a replay prints exactly the live run's lines");

    // hr.high high at 180 bpm: the episode (~168 bpm) never reaches it, so
    // the alarm stays at medium priority.
    let config = root.path().join("strict.toml");
    std::fs::write(&config, "[alarms.hr_high]\nhigh = { above_bpm = 180.0, for_s = 15.0 }\n").unwrap();
    let (other, _) = vigil(&["replay", rec_s, "--speed", "max", "--headless", "--config", config.to_str().unwrap()]);
    let chest_hr: Vec<_> =
        alarm_lines(&other).into_iter().filter(|l| l["alarm"] == "hr.high" && l["device"] == "chest").collect();
    assert!(!chest_hr.is_empty());
    assert!(chest_hr.iter().all(|l| l["priority"] != "high"), "{chest_hr:?}");
    assert!(chest_hr.iter().any(|l| l["priority"] == "medium"), "{chest_hr:?}");
    assert_ne!(alarm_lines(&live), alarm_lines(&other));

    // Readers never write: the recording is byte-for-byte unchanged.
    let before: Vec<_> = std::fs::read_dir(&rec).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    vigil(&["summary", rec_s]);
    let after: Vec<_> = std::fs::read_dir(&rec).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    assert_eq!(before, after);
}

/// `samples.arrow` keeps `t` in microseconds and `notifications.arrow` in
/// nanoseconds; a session starts on a whole microsecond, so a sample's `t`
/// is still its notification's and the two files join on it.
#[test]
fn samples_join_their_notifications_on_t() {
    let root = tempfile::tempdir().unwrap();
    simulate_into(root.path(), &[]);
    let recording = vigil::record::Recording::open(&only_recording(root.path())).unwrap();
    let notified: std::collections::HashSet<_> =
        recording.notifications().unwrap().into_iter().map(|n| (n.device, n.at)).collect();
    let heart_rates: Vec<_> = recording
        .samples()
        .unwrap()
        .into_iter()
        .filter(|s| s.quantity == vigil::model::Quantity::HeartRateBpm)
        .collect();
    assert!(heart_rates.len() > 100, "{}", heart_rates.len());
    for s in &heart_rates {
        assert!(notified.contains(&(s.device.clone(), s.at)), "no notification at the time of {s:?}");
    }
}
