//! One dashboard frame at 160×48 with four devices and an 8-hour trend
//! (DESIGN.md budget: ≤ 1 ms), the chest strap with a live ECG strip (its
//! last 10 s at 130 Hz); `…_no_ecg` is the same frame without it.
//!
//! `cargo bench --bench vigil -- dashboard`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, SamplingMode};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use vigil::dashboard::{ViewState, render};
use vigil::history::EcgPoint;
use vigil::history::Trend;
use vigil::model::{AlarmState, AlarmStatus, Condition, Marker, MarkerKind, Priority, Quantity, SessionTime};
use vigil::snapshot::{Counters, DeviceView, EcgStatus, EcgStrip, Mode, Reading, ReadingStatus, Snapshot};

use crate::cpu::thread_cpu;

const HOURS: u64 = 8;

/// A reading with a 10-minute window at `rate_hz` and a whole-session
/// trend built the way the pipeline builds it (1 Hz pushes for 8 h).
fn reading(quantity: Quantity, rate_hz: u64, f: fn(f64) -> f64, status: ReadingStatus) -> Reading {
    let now = HOURS * 3600;
    let mut trend = Trend::default();
    for s in 0..now {
        trend.push(SessionTime::from_secs(s), f(s as f64));
    }
    let points = 600 * rate_hz;
    let recent =
        (0..points).map(|i| now as f64 - 600.0 + i as f64 / rate_hz as f64).map(|t| (t, f(t))).collect::<Vec<_>>();
    Reading {
        quantity,
        last: recent.last().map(|p| p.1),
        age: Some(Duration::from_secs(1)),
        status,
        recent,
        trend: trend.buckets().to_vec(),
        rmssd_ms: (quantity == Quantity::HeartRateBpm).then_some(41.0),
    }
}

fn device(label: &str, readings: Vec<Reading>) -> DeviceView {
    DeviceView {
        label: label.into(),
        name: Some(format!("{label} sensor")),
        address: None,
        connected: true,
        rssi: Some(-60),
        battery_pct: Some(80.0),
        contact: Some(true),
        decode_errors: 0,
        readings,
        ecg: None,
    }
}

/// The last 10 s of a 130 Hz ECG ending at `end_s`: baseline wander and a
/// QRS-like spike at 75 bpm, µV.
fn ecg(end_s: u64) -> EcgStrip {
    let period_ns = 1e9 / 130.0;
    let samples = (0..1300u32)
        .map(|i| {
            let at_ns = end_s as f64 * 1e9 - f64::from(1299 - i) * period_ns;
            let t = at_ns / 1e9;
            let beat = (t % 0.8 - 0.3) / 0.012;
            let uv = 150.0 * (t * 0.7).sin() + 1_200.0 * (-beat * beat).exp();
            EcgPoint { at_ns: at_ns as i64, uv: uv as i32 }
        })
        .collect();
    EcgStrip { status: EcgStatus::Live, rate_hz: 130.0, samples }
}

fn snapshot() -> Snapshot {
    let live = ReadingStatus::Live;
    let hr = |t: f64| 80.0 + 20.0 * (t / 3000.0).sin() + 5.0 * (t / 37.0).sin();
    let temp = |t: f64| 37.0 + 0.5 * (t / 5000.0).sin();
    let spo2 = |t: f64| 97.0 + (t / 50.0).sin();
    let sys = |t: f64| 130.0 + 15.0 * (t / 4000.0).sin();
    let dia = |t: f64| 85.0 + 8.0 * (t / 4000.0).sin();
    let dose = SessionTime::from_secs(1800);
    Snapshot {
        now: SessionTime::from_secs(HOURS * 3600),
        start_utc: Utc.with_ymd_and_hms(2026, 11, 27, 8, 0, 0).unwrap(),
        participant: Some("P-017".into()),
        record_dir: Some(PathBuf::from("recordings/20261127T080000Z-P-017-1a2b3c4d")),
        mode: Mode::Live,
        devices: vec![
            device("chest", vec![reading(Quantity::HeartRateBpm, 4, hr, live)]),
            device("thermo", vec![reading(Quantity::BodyTemperatureC, 1, temp, live)]),
            device(
                "finger",
                vec![reading(Quantity::Spo2Pct, 1, spo2, live), reading(Quantity::PulseRateBpm, 1, hr, live)],
            ),
            device(
                "cuff",
                vec![
                    reading(Quantity::SystolicMmhg, 1, sys, ReadingStatus::Intermittent),
                    reading(Quantity::DiastolicMmhg, 1, dia, ReadingStatus::Intermittent),
                ],
            ),
        ],
        alarms: vec![AlarmStatus {
            condition: Condition::HrHigh,
            device: Some("chest".into()),
            priority: Priority::High,
            state: AlarmState::Active,
            since: SessionTime::from_secs(HOURS * 3600 - 40),
            changed: SessionTime::from_secs(HOURS * 3600 - 40),
            value: Some(142.0),
            audible: true,
        }],
        audio_paused_until: None,
        markers: vec![(
            dose,
            Marker { label: "dose 120 mg".into(), kind: Some(MarkerKind::Dose), amount_mg: Some(120.0) },
        )],
        last_dose_at: Some(dose),
        counters: Counters::default(),
        limits: Vec::new(),
        window: Duration::from_secs(600),
        stalled: false,
        finished: false,
    }
}

pub fn benches(c: &mut Criterion) {
    let mut snap = snapshot();
    let no_ecg = snap.clone();
    snap.devices[0].ecg = Some(ecg(HOURS * 3600));
    let wall = Utc.with_ymd_and_hms(2026, 11, 27, 16, 0, 0).unwrap().fixed_offset();
    let mut view = ViewState::new(false, false, wall);
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut phase = 0u64;
    let mut frame = |view: &mut ViewState| {
        // Alternate the flash phase so the banner really changes.
        phase += 250;
        view.flash_clock = Duration::from_millis(phase);
        terminal.draw(|f| render(f, black_box(&snap), view)).unwrap();
    };
    c.bench_function("dashboard/frame_160x48_4dev_8h", |b| b.iter(|| frame(&mut view)));
    let mut plain = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let plain_view = view.clone();
    c.bench_function("dashboard/frame_160x48_4dev_8h_no_ecg", |b| {
        b.iter(|| {
            plain.draw(|f| render(f, black_box(&no_ecg), &plain_view)).unwrap();
        });
    });
    if thread_cpu().is_some() {
        // Flat sampling: every sample is a batch of ~50 frames (5 s / 100
        // samples), long enough for the tick-granular CPU clock.
        let mut group = c.benchmark_group("dashboard_cpu");
        group.sampling_mode(SamplingMode::Flat);
        group.bench_function("frame_160x48_4dev_8h_cpu_time", |b| {
            b.iter_custom(|iters| {
                let start = thread_cpu().unwrap_or_default();
                for _ in 0..iters {
                    frame(&mut view);
                }
                thread_cpu().unwrap_or_default().saturating_sub(start)
            });
        });
        group.finish();
    }
}
