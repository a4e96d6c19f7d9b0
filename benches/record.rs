//! Recording costs: write throughput (samples/s, through the recorder thread
//! including the final compaction), bytes per sample after compaction for an
//! 8-hour, 4-device session, and reading that recording back as replay
//! batches.
//!
//! The session is `record::synthetic` (per device 1 Hz heart rate with RR +
//! 1 Hz body temperature: 12 samples/s for 4 devices), a stand-in for the
//! simulator's `mdma-session` until it is merged. The size figure is printed
//! once (`bytes/sample`); DESIGN.md's budget is ≤ 4.

// A bench whose setup fails should stop with the reason.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording, synthetic};
use vigil::sources::replay;

const DEVICES: usize = 4;

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_772_355_600, 0).unwrap_or_default()
}

fn messages(seconds: u64) -> Vec<RecordMsg> {
    synthetic::session(DEVICES, seconds, 1)
        .map(|s| RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
        .collect()
}

fn record(root: &std::path::Path, msgs: Vec<RecordMsg>) -> vigil::record::RecordingInfo {
    let opts = RecordOptions { root: root.to_owned(), participant: None, resume: None };
    let rec = Recorder::start(&opts, start(), serde_json::Value::Null).expect("start recorder");
    let tx = rec.sender();
    for m in msgs {
        tx.blocking_send(m).expect("recorder alive");
    }
    drop(tx);
    rec.finish().expect("finish recording")
}

pub fn benches(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temp dir");

    // One hour: write throughput.
    let hour = messages(3600);
    let samples: usize = hour
        .iter()
        .map(|m| match m {
            RecordMsg::Batch { samples, .. } => samples.len(),
            RecordMsg::Finish => 0,
        })
        .sum();
    let mut group = c.benchmark_group("record");
    group.sample_size(10);
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("write_1h_4dev_samples", |b| {
        b.iter_batched(|| clone_msgs(&hour), |msgs| black_box(record(root.path(), msgs)), BatchSize::PerIteration);
    });

    // Eight hours: size after compaction, then reading it back.
    let info = record(root.path(), messages(8 * 3600));
    #[allow(clippy::cast_precision_loss)]
    let per_sample = info.samples_bytes as f64 / info.samples as f64;
    eprintln!(
        "record: 8 h x {DEVICES} devices: {} samples, samples.arrow {} B = {per_sample:.2} bytes/sample (budget 4); all files {} B",
        info.samples, info.samples_bytes, info.bytes
    );
    let recording = Recording::open(&info.dir).expect("open recording");
    group.throughput(Throughput::Elements(info.notifications as u64));
    group.bench_function("replay_batches_8h_4dev_notifications", |b| {
        b.iter(|| replay::batches(black_box(&recording)).expect("read").map(|b| b.events.len()).sum::<usize>());
    });
    group.finish();
}

fn clone_msgs(msgs: &[RecordMsg]) -> Vec<RecordMsg> {
    msgs.iter()
        .map(|m| match m {
            RecordMsg::Batch { events, samples, output } => {
                RecordMsg::Batch { events: events.clone(), samples: samples.clone(), output: output.clone() }
            }
            RecordMsg::Finish => RecordMsg::Finish,
        })
        .collect()
}
