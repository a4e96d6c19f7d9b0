//! `vigil decode` as a user runs it: one payload in, one JSON object out;
//! a malformed payload gives one clear error and a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::process::Command;

fn vigil(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil")).args(args).output().expect("run vigil")
}

#[test]
fn decodes_heart_rate_with_rr() {
    let out = vigil(&["decode", "2a37", "163c1104"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["heart_rate_bpm"], 60);
    assert_eq!(v["sensor_contact"], "detected");
    let rr = v["samples"]["rr_interval_ms"][0].as_f64().unwrap();
    assert!((rr - 1016.6).abs() < 0.05, "{rr}");
}

#[test]
fn decodes_thermometer_vector_with_spaces() {
    let out = vigil(&["decode", "2a1c", "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = v["samples"]["body_temperature_c"].as_f64().unwrap();
    assert!((t - 37.6).abs() < 1e-9, "{t}");
}

#[test]
fn malformed_payload_is_one_clear_error() {
    let out = vigil(&["decode", "2a37", "16"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2a37") && err.contains("need at least 4"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_hex_and_bad_characteristic_are_errors() {
    let out = vigil(&["decode", "2a37", "zz"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a hex payload"));
    let out = vigil(&["decode", "2a3", "00"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a characteristic"));
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    // The pipe's reader is closed before vigil starts, so its first write
    // fails with EPIPE for certain (`vigil decode … | head -c0`).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["decode", "2a37", "163c1104"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_error_names_its_cause_once() {
    let out = vigil(&["simulate", "--headless", "--no-record", "--config", "/nonexistent/vigil.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/vigil.toml"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn decodes_the_polar_pmd_ecg_vector() {
    let uuid = "fb005c82-02e7-f387-1cad-8acd2d8df0c8";
    let out = vigil(&["decode", uuid, "00 00 94 35 77 00 00 00 00 00 02 80 ff 02 80 00"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["timestamp_ns"], 2_000_000_000u64);
    assert_eq!(v["samples_uv"], serde_json::json!([-32_766, 32_770]));
    assert_eq!(v["characteristic"], uuid);
    // A compressed frame, which the H10 does not send for ECG, is refused
    // by name.
    let out = vigil(&["decode", uuid, "00 00 94 35 77 00 00 00 00 80 02 80 ff"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compressed") && err.contains("offset 9"), "{err}");
}
