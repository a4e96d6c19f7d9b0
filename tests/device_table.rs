//! One device table per session, bounded by `[session] max_devices`: input
//! that names ever new devices gets the first `max_devices` monitored and
//! every later one refused, line by line, while the session goes on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use vigil::config::Config;
use vigil::model::{Batch, Characteristic, DeviceLabel, SessionTime, SourceEvent};

/// A heart-rate notification line for `device` at `at_ms` (200 bpm).
fn line(at_ms: u64, device: &str) -> String {
    format!(r#"{{"at_ms":{at_ms},"device":"{device}","characteristic":"2a37","payload":"00c8"}}"#)
}

fn monitor(stream: &Path, config: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.args(["monitor", "--stream"]).arg(stream).args(["--speed", "max", "--headless", "--no-record"]);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.env("VIGIL_LOG", "/dev/null").output().unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

#[test]
fn a_stream_of_5000_labels_monitors_the_first_32_and_refuses_each_later_line() {
    const LABELS: u64 = 5000;
    let dir = tempfile::tempdir().unwrap();
    let stream = dir.path().join("many.ndjson");
    let mut text: String = (0..LABELS).map(|i| line(i * 10, &format!("d{i:05}")) + "\n").collect();
    // A known device a minute later: the session goes on after the refusals,
    // and the first 32 have gone stale by then.
    text.push_str(&(line(60_000, "d00000") + "\n"));
    std::fs::write(&stream, text).unwrap();

    let out = monitor(&stream, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines = json_lines(&out);

    let errors = of_type(&lines, "decode_error");
    assert_eq!(errors.len() as u64, LABELS - 32, "one decode_error per refused line");
    for (n, e) in errors.iter().enumerate() {
        let i = n as u64 + 32;
        assert_eq!(e["line"], i + 1, "{e}");
        assert_eq!(
            e["message"],
            format!("device `d{i:05}` would be device 33; this session takes at most 32 (max_devices)"),
        );
    }

    let monitored: BTreeSet<String> = (0..32).map(|i| format!("d{i:05}")).collect();
    let stale: BTreeSet<String> = of_type(&lines, "alarm")
        .iter()
        .filter(|a| a["alarm"] == "tech.stale")
        .map(|a| a["device"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stale, monitored, "alarms for the first 32 devices and no others");

    let summary = of_type(&lines, "summary");
    let summary = summary.first().expect("a summary line");
    assert_eq!(summary["notifications"], 33);
    assert_eq!(summary["samples"], 33);
    assert_eq!(summary["skipped_lines"], LABELS - 32);
    assert_eq!(summary["duration_ms"], 60_000, "the line after the refusals was taken");
}

#[test]
fn max_devices_comes_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[session]\nmax_devices = 2\n").unwrap();
    let stream = dir.path().join("three.ndjson");
    let text = [line(0, "chest"), line(10, "finger"), line(20, "thermo"), line(30, "chest")].join("\n");
    std::fs::write(&stream, text + "\n").unwrap();

    let out = monitor(&stream, Some(&config));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let errors = of_type(&lines, "decode_error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert_eq!(errors[0]["line"], 3);
    assert_eq!(errors[0]["message"], "device `thermo` would be device 3; this session takes at most 2 (max_devices)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 3: device `thermo` would be device 3; this session takes at most 2 (max_devices)"),
        "{stderr}"
    );
    assert_eq!(of_type(&lines, "summary")[0]["samples"], 3);
}

#[test]
fn max_devices_out_of_range_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[session]\nmax_devices = 0\n").unwrap();
    let stream = dir.path().join("one.ndjson");
    std::fs::write(&stream, line(0, "chest") + "\n").unwrap();

    let out = monitor(&stream, Some(&config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("session.max_devices") && stderr.contains("between 1 and 256"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A source without line numbers (BLE, a simulator) is held to the same
/// table by the pipeline: the device is named, the session goes on.
#[test]
fn the_pipeline_refuses_a_device_past_the_limit_from_any_source() {
    let at = SessionTime::from_millis(0);
    let note = |device: &str| {
        SourceEvent::notification(at, DeviceLabel::new(device), Characteristic::HeartRateMeasurement, &[0, 72])
    };
    let batches = vec![Batch { events: vec![note("chest"), note("finger"), note("chest")], until: at }];
    let mut config = Config::default();
    config.session.max_devices = 1;

    let (_, lines) = common::run_headless(common::batches_source(batches), Vec::new(), config);
    let errors = of_type(&lines, "decode_error");
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert_eq!(errors[0]["device"], "finger");
    assert_eq!(errors[0]["message"], "device `finger` would be device 2; this session takes at most 1 (max_devices)");
    assert_eq!(of_type(&lines, "summary")[0]["samples"], 2);
}
