//! Simulator throughput: generating and GATT-encoding scripted sensor
//! events with 100 simulated devices (events per second), the same through
//! the pipeline (simulate → decode → history → alarms, notifications per
//! second), and the whole 8-hour, 4-device `mdma-session` generated at
//! `--speed max` (DESIGN.md budget for the full headless run: ≤ 0.3 s).

use std::fmt::Write;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::device_table::DeviceTable;
use vigil::model::EventBody;
use vigil::pipeline::Pipeline;
use vigil::sources::simulate::{self, Scenario};

/// A mix that looks like a ward: straps, oximeters, thermometers, cuffs.
const MIX: [&str; 5] = ["polar-h10", "generic-hr", "pulse-oximeter", "health-thermometer", "bp-cuff"];

/// `devices` simulated sensors on one participant for `minutes`.
fn crowd(devices: usize, minutes: u32) -> Scenario {
    let mut text = format!("name = \"crowd\"\ndescription = \"bench\"\nduration = \"{minutes}m\"\nseed = 1\n");
    for i in 0..devices {
        let profile = MIX[i % MIX.len()];
        let _ = write!(
            text,
            "[[devices]]\nlabel = \"d{i}\"\nprofile = \"{profile}\"\nname = \"Sim {i}\"\naddress = \"02:00:00:00:{:02X}:{:02X}\"\n",
            i / 256,
            i % 256
        );
        if profile == "bp-cuff" {
            text.push_str("interval = \"5m\"\noffset = \"30s\"\n");
        }
    }
    text.push_str("[physiology.heart_rate_bpm]\nkeyframes = [[\"0:01\", 70], [\"0:05\", 120], [\"0:09\", 80]]\n");
    simulate::parse("crowd.toml", &text).unwrap_or_else(|e| panic!("the bench scenario is invalid: {e}"))
}

fn count_events(s: &Scenario) -> (u64, u64) {
    s.batches(1)
        .flat_map(|b| b.events)
        .fold((0, 0), |(all, n), e| (all + 1, n + u64::from(matches!(e.body, EventBody::Notification { .. }))))
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);

    let hundred = crowd(100, 10);
    let (events, notifications) = count_events(&hundred);
    group.throughput(Throughput::Elements(events));
    group.bench_with_input(BenchmarkId::new("generate_encode", "100_devices_10min"), &hundred, |b, s| {
        b.iter(|| s.batches(black_box(1)).map(|batch| batch.events.len()).sum::<usize>());
    });

    group.throughput(Throughput::Elements(notifications));
    group.bench_with_input(BenchmarkId::new("through_pipeline", "100_devices_10min"), &hundred, |b, s| {
        b.iter_batched_ref(
            // Room for the crowd's 100 devices (past the default `max_devices`).
            || Pipeline::new(AlarmEngine::with_devices(Config::default().alarms, DeviceTable::new(100))),
            |pipeline| {
                let mut samples = Vec::with_capacity(4096);
                let mut output = Vec::new();
                for batch in s.batches(1) {
                    pipeline.process(&batch.events, batch.until, &mut samples, &mut output);
                    samples.clear();
                    output.clear();
                }
                black_box(pipeline.totals())
            },
            criterion::BatchSize::LargeInput,
        );
    });

    let mdma = simulate::load("mdma-session").unwrap_or_else(|e| panic!("{e}"));
    let (events, _) = count_events(&mdma);
    group.throughput(Throughput::Elements(events));
    group.bench_with_input(BenchmarkId::new("generate_encode", "mdma_session_8h"), &mdma, |b, s| {
        b.iter(|| s.batches(black_box(42)).map(|batch| batch.events.len()).sum::<usize>());
    });
    group.finish();
}
