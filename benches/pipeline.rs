//! The pipeline's hot path: decode → ring buffers → alarm engine, in
//! notifications per second (DESIGN.md budget: ≥ 5 M/s on one core, the
//! recorder thread excluded).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput};
use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::model::{Characteristic, DeviceLabel, SessionTime, SourceEvent};
use vigil::pipeline::Pipeline;

/// One second of heart-rate notifications per device, in batches as a
/// source sends them: `16 3C 11 04` style payloads (HR, contact, one RR).
fn hr_batches(devices: usize, seconds: u64) -> Vec<(Vec<SourceEvent>, SessionTime)> {
    let labels: Vec<DeviceLabel> = (0..devices).map(|i| Arc::from(format!("hr{i}").as_str())).collect();
    (0..seconds)
        .map(|s| {
            let events = labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let at = SessionTime::from_millis(s * 1000 + i as u64);
                    let bpm = 60 + ((s + i as u64) % 40) as u8;
                    let rr = (60_000 / u32::from(bpm) * 1024 / 1000) as u16;
                    let [lo, hi] = rr.to_le_bytes();
                    SourceEvent::notification(
                        at,
                        label.clone(),
                        Characteristic::HeartRateMeasurement,
                        &[0x16, bpm, lo, hi],
                    )
                })
                .collect();
            (events, SessionTime::from_millis(s * 1000 + 999))
        })
        .collect()
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    for devices in [4usize, 100] {
        let seconds = 20_000 / devices as u64;
        let batches = hr_batches(devices, seconds);
        let notifications: u64 = batches.iter().map(|(e, _)| e.len() as u64).sum();
        group.throughput(Throughput::Elements(notifications));
        group.bench_with_input(BenchmarkId::new("decode_history_alarms", devices), &batches, |b, batches| {
            b.iter_batched_ref(
                || Pipeline::new(AlarmEngine::new(Config::default().alarms)),
                |pipeline| {
                    let mut samples = Vec::with_capacity(4096);
                    let mut output = Vec::new();
                    for (events, until) in batches {
                        pipeline.process(events, *until, &mut samples, &mut output);
                        samples.clear();
                        output.clear();
                    }
                    black_box(pipeline.totals())
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}
