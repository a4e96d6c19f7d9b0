//! Snapshots for the dashboard's unit tests: one place that spells out every
//! field, so each test states only what it is about.

use std::time::Duration;

use chrono::TimeZone;

use crate::model::{AlarmStatus, Quantity, SessionTime};
use crate::snapshot::{Counters, DeviceView, Mode, Reading, ReadingStatus, Snapshot};

/// A live session at `now` with these alarms and no devices.
pub fn snapshot(now: SessionTime, alarms: Vec<AlarmStatus>) -> Snapshot {
    Snapshot {
        now,
        start_utc: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
        participant: None,
        record_dir: None,
        mode: Mode::Live,
        devices: Vec::new(),
        alarms,
        audio_paused_until: None,
        markers: Vec::new(),
        last_dose_at: None,
        counters: Counters::default(),
        limits: Vec::new(),
        window: Duration::from_secs(600),
        stalled: false,
        finished: false,
    }
}

/// A connected chest strap with skin contact showing one heart rate.
pub fn chest(last: f64, age: Duration, status: ReadingStatus, recent: Vec<(f64, f64)>) -> DeviceView {
    DeviceView {
        label: "chest".into(),
        name: None,
        address: None,
        connected: true,
        rssi: None,
        battery_pct: None,
        contact: Some(true),
        decode_errors: 0,
        readings: vec![Reading {
            quantity: Quantity::HeartRateBpm,
            last: Some(last),
            age: Some(age),
            status,
            recent,
            trend: Vec::new(),
            rmssd_ms: None,
        }],
        ecg: None,
    }
}
