//! A stream line may carry a Polar PMD payload like any other
//! characteristic: parsed, recorded in `notifications.arrow` byte for byte,
//! and replayed to the same output as the live run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use vigil::gatt::pmd::{self, EcgFrame};
use vigil::model::{EventBody, Payload, SessionTime};
use vigil::record::Recording;
use vigil::sources::simulate::ecg::{EcgConfig, EcgSynth};
use vigil::sources::stream::{ParsedLine, parse_line};

const PMD: &str = "fb005c82-02e7-f387-1cad-8acd2d8df0c8";

fn vigil(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).env("VIGIL_LOG", "/dev/null").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vigil {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// 20 s of a strap: heart rate every second and ECG frames of 73 samples at
/// 130 Hz (beats every 0.8 s), stamped with a strap clock; the payloads in
/// order, with their `at_ms`.
fn stream() -> (String, Vec<(u64, Payload)>) {
    let mut text = String::from(
        r#"{"at_ms": 0, "device": "chest", "event": "connected", "name": "Polar H10 0A0B0C0D", "address": "A0:9E:1A:0A:0B:0C"}"#,
    );
    text.push('\n');
    let beats = (0..40).map(|i| 0.8 * f64::from(i));
    let mut synth = EcgSynth::new(EcgConfig::default(), 5, beats);
    let mut frames = Vec::new();
    for k in 0..35u64 {
        let samples_uv: Vec<i32> = (0..73).map(|_| synth.next_sample(true)).collect();
        // The last sample's time, ms (at_ms is whole milliseconds).
        let at_ms = ((k * 73 + 72) * 1000).div_ceil(130);
        let frame = EcgFrame { timestamp_ns: 830_000_000_000_000_000 + at_ms * 1_000_000, samples_uv };
        let mut payload = Payload::new();
        frame.encode_into(&mut payload);
        frames.push((at_ms, payload));
    }
    let mut hr = (1..=20u64).map(|s| s * 1000).peekable();
    for (at_ms, payload) in &frames {
        while let Some(t) = hr.next_if(|t| t <= at_ms) {
            writeln!(text, r#"{{"at_ms": {t}, "device": "chest", "characteristic": "2a37", "payload": "064b"}}"#)
                .unwrap();
        }
        writeln!(
            text,
            r#"{{"at_ms": {at_ms}, "device": "chest", "characteristic": "{PMD}", "payload": "{}"}}"#,
            hex::encode(payload)
        )
        .unwrap();
    }
    (text, frames)
}

#[test]
fn a_pmd_line_parses_to_a_notification_of_the_data_characteristic() {
    let (text, frames) = stream();
    let line = text.lines().find(|l| l.contains(PMD)).unwrap();
    let ParsedLine::Event { at, device, body } = parse_line(2, line).unwrap() else { panic!("{line}") };
    assert_eq!(at, Some(SessionTime::from_millis(frames[0].0)));
    assert_eq!(device.as_deref(), Some("chest"));
    assert_eq!(
        body,
        EventBody::Notification { characteristic: pmd::DATA_CHARACTERISTIC, payload: frames[0].1.clone() }
    );
    // Upper case, as Polar writes the UUID, is the same characteristic.
    let upper = line.replace(PMD, &PMD.to_uppercase());
    assert!(
        matches!(parse_line(2, &upper).unwrap(), ParsedLine::Event { body, .. } if body == EventBody::Notification { characteristic: pmd::DATA_CHARACTERISTIC, payload: frames[0].1.clone() })
    );
}

#[test]
fn pmd_lines_are_recorded_byte_for_byte_and_replayed_like_the_live_run() {
    let dir = tempfile::tempdir().unwrap();
    let (text, frames) = stream();
    let file = dir.path().join("h10.ndjson");
    std::fs::write(&file, &text).unwrap();
    let root = dir.path().join("rec");
    let live = vigil(&[
        "monitor",
        "--stream",
        file.to_str().unwrap(),
        "--speed",
        "max",
        "--headless",
        "--record-dir",
        root.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(live.lines().next_back().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary", "{live}");
    assert_eq!((summary["decode_errors"].as_u64(), summary["skipped_lines"].as_u64()), (Some(0), Some(0)), "{live}");
    assert_eq!(summary["notifications"].as_u64(), Some(35 + 19), "{live}");
    let rec: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(rec.len(), 1, "{rec:?}");
    let recorded: Vec<(u64, Payload)> = Recording::open(Path::new(&rec[0]))
        .unwrap()
        .notifications()
        .unwrap()
        .into_iter()
        .filter(|n| n.characteristic == pmd::DATA_CHARACTERISTIC)
        .map(|n| {
            assert_eq!(&*n.device, "chest");
            (n.at.as_nanos() / 1_000_000, n.payload)
        })
        .collect();
    assert_eq!(recorded, frames);
    let replayed = vigil(&["replay", rec[0].to_str().unwrap(), "--speed", "max", "--headless"]);
    assert_eq!(live, replayed);
}
