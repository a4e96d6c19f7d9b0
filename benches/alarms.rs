//! Alarm engine cost per sample: 10 devices (4 heart-rate straps, 2
//! thermometers, 2 oximeters, a skin patch, a cuff) with every rule active.
//!
//! `mixed`: values sweep across every limit (hr.high/low/rise, temp.high and
//! rise, spo2.low, bp.high, battery), straps lose contact for 15 s every
//! 10 min and send an impossible value now and then, so alarms keep
//! activating, escalating, latching and clearing. `quiet`: normal values,
//! the common case. Each sample also counts as its notification (`on_data`
//! then `on_sample`, as the pipeline calls them).
//!
//! `cargo bench --bench vigil -- alarms`

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use vigil::alarms::{AlarmEngine, DeviceTiming};
use vigil::config::AlarmConfig;
use vigil::model::{DeviceLabel, Quantity, Sample, SessionTime};

const DEVICES: usize = 10;
/// Samples per run: about 2.8 h of session at 10 samples/s.
const SAMPLES: usize = 100_000;

fn stream(mixed: bool) -> Vec<Sample> {
    let labels: Vec<DeviceLabel> = (0..DEVICES)
        .map(|i| {
            let kind = match i {
                0..=3 => "strap",
                4 | 5 => "thermo",
                6 | 7 => "oxi",
                8 => "patch",
                _ => "cuff",
            };
            DeviceLabel::from(format!("{kind}{i}").as_str())
        })
        .collect();
    let mut out = Vec::with_capacity(SAMPLES);
    let mut n = 0usize;
    // Round-robin over devices, 100 ms apart: each device about once a second.
    while out.len() < SAMPLES {
        let d = n % DEVICES;
        let at_ms = n as u64 * 100;
        let t = at_ms as f64 / 1000.0;
        let phase = (t / 240.0 + d as f64).sin();
        let (quantity, value, contact) = match d {
            0..=3 => {
                let lost = mixed && (at_ms / 1000) % 600 < 15;
                let v = if !mixed {
                    70.0 + 5.0 * phase
                } else if n.is_multiple_of(997) {
                    0.0
                } else {
                    110.0 + 40.0 * phase
                };
                (Quantity::HeartRateBpm, v, Some(!lost))
            }
            4 | 5 => (Quantity::BodyTemperatureC, if mixed { 38.4 + 0.8 * phase } else { 36.9 + 0.1 * phase }, None),
            6 | 7 if n % 20 < 10 => (Quantity::Spo2Pct, if mixed { 91.0 + 6.0 * phase } else { 97.0 }, None),
            6 | 7 => (Quantity::PulseRateBpm, if mixed { 100.0 + 30.0 * phase } else { 72.0 }, None),
            8 => (Quantity::SkinTemperatureC, if mixed { 33.0 + 0.6 * phase } else { 33.0 }, None),
            // The cuff (intermittent): a reading each minute, its battery
            // level half a minute later, silence between.
            _ if (at_ms / 1000) % 60 == 30 => {
                (Quantity::BatteryPct, if mixed { 10.0 + 5.0 * phase } else { 80.0 }, None)
            }
            _ if !(at_ms / 1000).is_multiple_of(60) => {
                n += 1;
                continue;
            }
            _ => {
                // A reading: systolic and diastolic of the same moment.
                out.push(Sample {
                    at: SessionTime::from_millis(at_ms),
                    device: labels[d].clone(),
                    quantity: Quantity::SystolicMmhg,
                    value: if mixed { 160.0 + 25.0 * phase } else { 120.0 },
                    contact: None,
                    device_time_ns: None,
                });
                (Quantity::DiastolicMmhg, if mixed { 95.0 + 15.0 * phase } else { 80.0 }, None)
            }
        };
        out.push(Sample {
            at: SessionTime::from_millis(at_ms),
            device: labels[d].clone(),
            quantity,
            value,
            contact,
            device_time_ns: None,
        });
        n += 1;
    }
    out.truncate(SAMPLES);
    out
}

fn run(samples: &[Sample]) -> usize {
    let mut engine = AlarmEngine::new(AlarmConfig::default());
    let cuff: DeviceLabel = DeviceLabel::from("cuff9");
    engine.set_device_timing(&cuff, DeviceTiming { expected_interval: None, intermittent: true });
    let mut out = Vec::with_capacity(64);
    let mut events = 0;
    for s in samples {
        engine.on_data(s.at, &s.device, &mut out);
        engine.on_sample(s, &mut out);
        events += out.len();
        out.clear();
    }
    events
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("alarms");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    for (name, mixed) in [("mixed_10_devices", true), ("quiet_10_devices", false)] {
        let samples = stream(mixed);
        // The mixed stream must really exercise the rules.
        let events = run(&samples);
        assert!(!mixed || events > 500, "mixed stream raised only {events} alarm events");
        group.bench_function(name, |b| b.iter(|| run(black_box(&samples))));
    }
    group.finish();
}
