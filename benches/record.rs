//! Recording costs:
//! - `record/mdma_record_session`: the simulator's 8-hour 4-device
//!   `mdma-session` run as `vigil simulate mdma-session --speed max
//!   --headless` runs it (a fresh runtime, `session::run` with the simulator
//!   source, headless lines to a sink), recording into a temp dir, compaction
//!   included. DESIGN.md's budget: ≤ 0.3 s.
//! - `record/mdma_replay_session`: that recording replayed as `vigil replay
//!   DIR --speed max --headless` runs it (alarms re-run, no recording).
//!   Budget: ≤ 0.2 s.
//! - write throughput (samples/s through the recorder thread, the final
//!   compaction included) for one hour of a synthetic 4-device session (per
//!   device 1 Hz heart rate with RR + 1 Hz body temperature);
//! - bytes per sample after compaction (printed once, budget ≤ 4) for the
//!   8-hour `mdma-session` and for 8 hours of the synthetic session;
//! - replay's parts without the session around them: reading the recording
//!   back as batches, and batches through a fresh pipeline.
//!
//! Run one alone with e.g. `cargo bench --bench vigil -- mdma_record`; the
//! expensive inputs are made only by the benchmarks that need them.

// A bench whose setup fails should stop with the reason.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use criterion::{BatchSize, Criterion, Throughput};
use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::record::{RecordMsg, RecordOptions, Recorder, Recording, RecordingInfo};
use vigil::session::{SessionPlan, SourceFactory};
use vigil::snapshot::Mode;
use vigil::sources::{replay, simulate};

use crate::messages::{pipeline, scenario_messages, synthetic_messages};

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_772_355_600, 0).unwrap_or_default()
}

fn record(root: &Path, msgs: Vec<RecordMsg>) -> RecordingInfo {
    let opts = RecordOptions { root: root.to_owned(), participant: None, resume: None, ..Default::default() };
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

/// `vigil simulate SCENARIO --speed max --headless --record-dir ROOT`,
/// without the command line and logging: the recording's directory.
fn simulate_session(scenario: &simulate::Scenario, root: &Path) -> PathBuf {
    let devices = scenario.device_profiles().into_iter().map(|(l, p)| (l, vigil::app::device_setup(&p))).collect();
    let owned = scenario.clone();
    let seed = scenario.seed;
    let source: SourceFactory = Box::new(move |tx, clock, _devices| {
        Box::pin(async move { simulate::run(&owned, seed, clock, tx).await.map_err(anyhow::Error::from) })
    });
    let plan = SessionPlan {
        clock: Clock::virtual_at(Speed::Max, start()),
        source,
        mode: Mode::Simulated,
        config: Config::default(),
        participant: None,
        devices,
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(std::io::sink())),
        record: Some(RecordOptions { root: root.to_owned(), participant: None, resume: None, ..Default::default() }),
        resume: None,
        publish: None,
    };
    run(plan).recording.expect("the session recorded")
}

/// `vigil replay DIR --speed max --headless`, without the command line and
/// logging: the replayed session's end.
fn replay_session(dir: &Path) -> vigil::model::SessionTime {
    let recording = Recording::open(dir).expect("open recording");
    let config: Config = serde_json::from_value(recording.meta.config.clone()).expect("recorded config");
    let mut plan = vigil::app::replay_plan(recording, config, Speed::Max);
    plan.headless_out = Some(Box::new(std::io::sink()));
    run(plan).end
}

/// As the binary runs a plan: a fresh runtime each time.
fn run(plan: SessionPlan) -> vigil::session::SessionOutcome {
    let rt = vigil::app::runtime().expect("runtime");
    let outcome = rt.block_on(vigil::session::run(plan)).expect("session");
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    outcome
}

pub fn benches(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("record");
    group.sample_size(10);
    let scenario = simulate::load("mdma-session").expect("mdma-session scenario");

    // The session of DESIGN.md's budget, as the binary runs it. Each
    // iteration records into a fresh directory of its own.
    group.bench_function("mdma_record_session", |b| {
        b.iter_batched(
            || tempfile::tempdir_in(root.path()).expect("temp dir"),
            |dir| {
                let recording = simulate_session(&scenario, dir.path());
                black_box(recording);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    // One recording for the replay benchmarks, made on first use.
    let recorded: OnceLock<PathBuf> = OnceLock::new();
    let recording_dir = || recorded.get_or_init(|| simulate_session(&scenario, root.path())).clone();
    group.bench_function("mdma_replay_session", |b| {
        let dir = recording_dir();
        b.iter(|| black_box(replay_session(&dir)));
    });

    // A figure, not a timing: computed and printed once (criterion calls
    // this closure for the warm-up and again for the measurement).
    let sizes: OnceLock<u64> = OnceLock::new();
    group.bench_function("size_mdma_session_bytes", |b| {
        let bytes = *sizes.get_or_init(|| {
            let info = record(root.path(), scenario_messages(&scenario));
            print_size("mdma-session (8 h)", &info);
            print_size("synthetic 8 h x 4 devices", &record(root.path(), synthetic_messages(8 * 3600)));
            info.samples_bytes
        });
        b.iter(|| black_box(bytes));
    });

    group.bench_function("replay_batches_mdma_session", |b| {
        let recording = Recording::open(&recording_dir()).expect("open recording");
        b.iter(|| replay::batches(black_box(&recording)).expect("read").map(|b| b.events.len()).sum::<usize>());
    });
    group.bench_function("replay_mdma_session_with_alarms", |b| {
        let recording = Recording::open(&recording_dir()).expect("open recording");
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
    // Last: the throughput setting stays on the group.
    let hour = synthetic_messages(3600);
    let samples: usize = hour
        .iter()
        .map(|m| match m {
            RecordMsg::Batch { samples, .. } | RecordMsg::Gathered { samples, .. } => samples.len(),
            RecordMsg::Reached(_) | RecordMsg::Finish => 0,
        })
        .sum();
    group.throughput(Throughput::Elements(samples as u64));
    group.bench_function("write_1h_4dev_samples", |b| {
        b.iter_batched(|| clone_msgs(&hour), |msgs| black_box(record(root.path(), msgs)), BatchSize::PerIteration);
    });
    group.finish();
}

fn clone_msgs(msgs: &[RecordMsg]) -> Vec<RecordMsg> {
    msgs.iter()
        .map(|m| match m {
            RecordMsg::Batch { events, samples, output } => {
                RecordMsg::Batch { events: events.clone(), samples: samples.clone(), output: output.clone() }
            }
            RecordMsg::Gathered { batches, samples, output } => {
                RecordMsg::Gathered { batches: batches.clone(), samples: samples.clone(), output: output.clone() }
            }
            RecordMsg::Reached(at) => RecordMsg::Reached(*at),
            RecordMsg::Finish => RecordMsg::Finish,
        })
        .collect()
}
