//! A full disk, at the start and in the middle of a session: monitoring
//! goes on with `tech.recording` raised, and the headless summary counts
//! what never reached the disk.
//!
//! The disk is "full" through RLIMIT_FSIZE (`ulimit -f` in `sh`, SIGXFSZ
//! ignored so a write past the limit fails with EFBIG instead of killing
//! vigil): it needs no privileges and no filesystem of its own, and vigil
//! meets it where it meets ENOSPC, as a failed write. Pipes (stdout) and
//! `/dev/null` (the log) have no size limit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// `vigil ARGS` with regular files limited to `blocks` × 512 bytes.
fn vigil_with_file_limit(blocks: u32, args: &[&str]) -> Output {
    let setup = format!("trap '' XFSZ; ulimit -f {blocks}");
    common::vigil_under_sh(&setup, args).env("VIGIL_LOG", "/dev/null").output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn recording_alarm_raised(lines: &[Value]) -> bool {
    lines.iter().any(|l| l["type"] == "alarm" && l["alarm"] == "tech.recording" && l["state"] == "active")
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().expect("a summary line");
    assert_eq!(last["type"], "summary", "{last}");
    last
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).map_or_else(|_| Vec::new(), |d| d.map(|e| e.unwrap().path().display().to_string()).collect())
}

#[test]
fn a_full_disk_at_start_still_monitors_with_the_recording_alarm() {
    let root = tempfile::tempdir().unwrap();
    let record_dir = root.path().join("recordings");
    let out = vigil_with_file_limit(
        0,
        &[
            "simulate",
            "tachycardia-episode",
            "--speed",
            "max",
            "--headless",
            "--record-dir",
            record_dir.to_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = lines(&out);
    assert!(recording_alarm_raised(&lines), "stderr: {err}\nstdout: {lines:?}");
    assert!(lines.iter().any(|l| l["type"] == "alarm" && l["alarm"] == "hr.high"), "monitoring went on: {lines:?}");
    let summary = summary(&lines);
    let total = summary["notifications"].as_u64().unwrap();
    assert!(total > 1000, "{summary}");
    assert_eq!(summary["not_recorded"]["notifications"].as_u64(), Some(total), "{summary}");
    assert_eq!(summary["not_recorded"]["samples"], summary["samples"], "{summary}");
    // Not a clean run: the exit status and one sentence say the recording failed.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large") && err.contains("record"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Nothing half-made is left for `recover` or a reader to trip over.
    assert!(entries(&record_dir).is_empty(), "{:?}", entries(&record_dir));
}

#[test]
fn a_disk_that_fills_mid_session_counts_what_was_not_recorded() {
    let root = tempfile::tempdir().unwrap();
    let record_dir = root.path().join("recordings");
    // 512 KiB per file (1 MiB where `sh` is bash, whose blocks are 1 KiB):
    // the first batches fit, 8 hours do not.
    let out = vigil_with_file_limit(
        1024,
        &["simulate", "mdma-session", "--speed", "max", "--headless", "--record-dir", record_dir.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = lines(&out);
    assert!(recording_alarm_raised(&lines), "stderr: {err}\nstdout: {lines:?}");
    let summary = summary(&lines);
    let total = summary["notifications"].as_u64().unwrap();
    let lost = summary["not_recorded"]["notifications"].as_u64().expect("not_recorded counts notifications");
    assert!(lost > 0 && lost < total, "{summary}");
    assert!(summary["not_recorded"]["samples"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
}

/// The count is the whole story: nothing lost, nothing counted.
#[test]
fn a_session_with_room_counts_nothing_unrecorded() {
    let root = tempfile::tempdir().unwrap();
    let out = vigil_with_file_limit(
        100_000,
        &[
            "simulate",
            "tachycardia-episode",
            "--speed",
            "max",
            "--headless",
            "--record-dir",
            root.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = lines(&out);
    let summary = summary(&lines);
    assert_eq!(summary["not_recorded"], serde_json::json!({"notifications": 0, "samples": 0, "events": 0}));
    assert!(!recording_alarm_raised(&lines));
}
