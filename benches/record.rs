//! Recording costs:
//! - write throughput (samples/s through the recorder thread, the final
//!   compaction included) for one hour of a synthetic 4-device session (per
//!   device 1 Hz heart rate with RR + 1 Hz body temperature);
//! - bytes per sample after compaction (printed once, DESIGN.md's budget is
//!   ≤ 4) for the simulator's 8-hour `mdma-session` run through the real
//!   pipeline, and for 8 hours of the synthetic session;
//! - replay of the recorded `mdma-session` at `--speed max`: reading it back
//!   as batches, and batches through a fresh pipeline (alarms re-run; budget
//!   ≤ 0.2 s).

// A bench whose setup fails should stop with the reason.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use vigil::alarms::AlarmEngine;
use vigil::config::Config;
use vigil::pipeline::Pipeline;
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording, RecordingInfo, synthetic};
use vigil::sources::{replay, simulate};

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_772_355_600, 0).unwrap_or_default()
}

fn synthetic_messages(seconds: u64) -> Vec<RecordMsg> {
    synthetic::session(4, seconds, 1)
        .map(|s| RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
        .collect()
}

fn pipeline(scenario: &simulate::Scenario) -> Pipeline {
    let mut p = Pipeline::new(AlarmEngine::new(Config::default().alarms));
    for (label, profile) in scenario.device_profiles() {
        p.set_device(&label, vigil::app::device_setup(&profile));
    }
    p
}

fn scenario_messages(scenario: &simulate::Scenario) -> Vec<RecordMsg> {
    let mut p = pipeline(scenario);
    scenario
        .batches(1)
        .map(|b| {
            let (mut samples, mut output) = (Vec::new(), Vec::new());
            p.process(&b.events, b.until, &mut samples, &mut output);
            RecordMsg::Batch { events: b.events, samples, output }
        })
        .collect()
}

fn record(root: &std::path::Path, msgs: Vec<RecordMsg>) -> RecordingInfo {
    let opts = RecordOptions { root: root.to_owned(), participant: None, resume: None };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).expect("start recorder");
    let tx = rec.sender();
    for m in msgs {
        tx.blocking_send(m).expect("recorder alive");
    }
    drop(tx);
    rec.finish().expect("finish recording")
}

fn print_size(what: &str, info: &RecordingInfo) {
    #[allow(clippy::cast_precision_loss)]
    let per_sample = info.samples_bytes as f64 / info.samples as f64;
    eprintln!(
        "record: {what}: {} samples, samples.arrow {} B = {per_sample:.2} bytes/sample (budget 4); all files {} B",
        info.samples, info.samples_bytes, info.bytes
    );
}

pub fn benches(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("record");
    group.sample_size(10);

    let hour = synthetic_messages(3600);
    let samples: usize = hour
        .iter()
        .map(|m| match m {
            RecordMsg::Batch { samples, .. } => samples.len(),
            RecordMsg::Reached(_) | RecordMsg::Finish => 0,
        })
        .sum();
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("write_1h_4dev_samples", |b| {
        b.iter_batched(|| clone_msgs(&hour), |msgs| black_box(record(root.path(), msgs)), BatchSize::PerIteration);
    });
    drop(hour);

    print_size("synthetic 8 h x 4 devices", &record(root.path(), synthetic_messages(8 * 3600)));
    let scenario = simulate::load("mdma-session").expect("mdma-session scenario");
    let t0 = std::time::Instant::now();
    let info = record(root.path(), scenario_messages(&scenario));
    eprintln!("record: mdma-session simulated + recorded + compacted once in {:?}", t0.elapsed());
    print_size("mdma-session (8 h)", &info);

    let recording = Recording::open(&info.dir).expect("open recording");
    group.throughput(Throughput::Elements(info.notifications as u64));
    group.bench_function("replay_batches_mdma_session_notifications", |b| {
        b.iter(|| replay::batches(black_box(&recording)).expect("read").map(|b| b.events.len()).sum::<usize>());
    });
    group.bench_function("replay_mdma_session_with_alarms_notifications", |b| {
        b.iter(|| {
            let mut p = pipeline(&scenario);
            let (mut samples, mut output) = (Vec::new(), Vec::new());
            for batch in replay::batches(&recording).expect("read") {
                samples.clear();
                p.process(&batch.events, batch.until, &mut samples, &mut output);
            }
            black_box(output.len())
        });
    });
    group.finish();
}

fn clone_msgs(msgs: &[RecordMsg]) -> Vec<RecordMsg> {
    msgs.iter()
        .map(|m| match m {
            RecordMsg::Batch { events, samples, output } => {
                RecordMsg::Batch { events: events.clone(), samples: samples.clone(), output: output.clone() }
            }
            RecordMsg::Reached(at) => RecordMsg::Reached(*at),
            RecordMsg::Finish => RecordMsg::Finish,
        })
        .collect()
}
