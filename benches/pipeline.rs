//! The pipeline's hot path in notifications per second (DESIGN.md budget:
//! ≥ 5 M/s on one core, the recorder thread excluded): decode → ring buffers
//! → alarm engine → the message the recorder receives.
//!
//! Input: a session of `devices` sensors in batches of one session-second,
//! as a source sends them. Device `i` is a chest strap (HR with contact and
//! one or two RR intervals), a pulse oximeter (PLX: SpO2 and pulse), a
//! thermometer (0x2A1C body temperature) or a skin patch (0x2A6E) by
//! `i % 4`, each notifying once a second with plausible, slowly varying
//! values; every 30 s each also sends its battery level. Devices are
//! declared from their profiles first (`Pipeline::set_device`), as a
//! session does.
//!
//! Per batch the routine does what a `--speed max` session loop does with
//! the pipeline's products (`session::Sinks::drain`): the pipeline decodes
//! into the `record::Outbox`'s sample buffer, the batch's event vector moves
//! into the outbox with a copy of the output events, and the outbox's
//! message goes, when due (1,024 rows or 100 ms), on a channel of the
//! recorder's capacity to a thread that counts it and hands the emptied
//! sample buffer back, as the recorder does (the recorder thread is
//! excluded from the budget but not from the machine: criterion's wall time
//! includes whatever that thread takes from the shared cores).
//!
//! `cargo bench --bench vigil -- '^pipeline/'` (the plain filter `pipeline`
//! also matches `simulate/through_pipeline`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use tokio::sync::mpsc;
use vigil::alarms::{AlarmEngine, DeviceTiming};
use vigil::config::Config;
use vigil::model::{Characteristic, DeviceLabel, OutputEvent, Quantity, Sample, SessionTime, SourceEvent};
use vigil::pipeline::{DeviceSetup, Pipeline};
use vigil::record::{Outbox, RECORDER_CHANNEL_CAPACITY, RecordMsg, sample_returns};

use crate::cpu::thread_cpu;

/// Notifications per benchmark iteration, whatever the device count.
const NOTIFICATIONS: u64 = 20_000;

/// What the session loop reserves for a batch's samples (`session.rs`).
const SAMPLE_BUFFER: usize = 4096;

#[derive(Clone, Copy)]
enum Kind {
    Strap,
    Oximeter,
    Thermometer,
    Patch,
}

fn kind(i: usize) -> Kind {
    [Kind::Strap, Kind::Oximeter, Kind::Thermometer, Kind::Patch][i % 4]
}

fn label(i: usize) -> DeviceLabel {
    let name = match kind(i) {
        Kind::Strap => "strap",
        Kind::Oximeter => "oxi",
        Kind::Thermometer => "thermo",
        Kind::Patch => "patch",
    };
    DeviceLabel::from(format!("{name}{i}").as_str())
}

fn setup(i: usize) -> DeviceSetup {
    DeviceSetup {
        timing: DeviceTiming { expected_interval: Some(Duration::from_secs(1)), intermittent: false },
        env_quantity: match kind(i) {
            Kind::Patch => Quantity::SkinTemperatureC,
            _ => Quantity::AmbientTemperatureC,
        },
    }
}

/// IEEE-11073 SFLOAT with exponent 0 (an integer value).
fn sfloat(v: u16) -> [u8; 2] {
    (v & 0x0FFF).to_le_bytes()
}

/// The notification device `i` sends in second `s`.
fn notification(i: usize, s: u64, at: SessionTime, device: &DeviceLabel) -> SourceEvent {
    let wobble = (s + i as u64) % 20; // 0..20, slow enough to stay in range
    let (characteristic, payload): (Characteristic, Vec<u8>) = match kind(i) {
        Kind::Strap => {
            let bpm = 60 + wobble as u8;
            let rr = (60_000 / u32::from(bpm) * 1024 / 1000) as u16;
            let [lo, hi] = rr.to_le_bytes();
            // u8 HR, contact detected, RR present; every other beat two RR.
            let mut p = vec![0x16, bpm, lo, hi];
            if s % 2 == 1 {
                p.extend_from_slice(&(rr + 7).to_le_bytes());
            }
            (Characteristic::HeartRateMeasurement, p)
        }
        Kind::Oximeter => {
            let [a, b] = sfloat(95 + (wobble % 5) as u16);
            let [c, d] = sfloat(65 + wobble as u16);
            (Characteristic::PlxContinuousMeasurement, vec![0x00, a, b, c, d])
        }
        Kind::Thermometer => {
            // 36.9–37.0 °C (FLOAT mantissa × 10^-1, Celsius, no time or
            // type): less than `temp.rise`'s 0.5 °C.
            let m = 369 + (wobble / 10) as u32;
            let [a, b, c, _] = m.to_le_bytes();
            (Characteristic::TemperatureMeasurement, vec![0x00, a, b, c, 0xFF])
        }
        Kind::Patch => {
            let centi = 3300 + wobble as i16;
            (Characteristic::Temperature, centi.to_le_bytes().to_vec())
        }
    };
    SourceEvent::notification(at, device.clone(), characteristic, &payload)
}

type Batches = Vec<(Vec<SourceEvent>, SessionTime)>;

fn session(devices: usize) -> (Vec<DeviceLabel>, Batches) {
    let labels: Vec<DeviceLabel> = (0..devices).map(label).collect();
    let mut batches = Vec::new();
    let mut n = 0;
    let mut s = 0;
    while n < NOTIFICATIONS {
        let mut events = Vec::new();
        for (i, device) in labels.iter().enumerate() {
            let at = SessionTime::from_millis(s * 1000 + i as u64 * 1000 / devices as u64);
            events.push(notification(i, s, at, device));
            if (s + i as u64).is_multiple_of(30) {
                events.push(SourceEvent::notification(at, device.clone(), Characteristic::BatteryLevel, &[80]));
            }
        }
        n += events.len() as u64;
        batches.push((events, SessionTime::from_millis(s * 1000 + 999)));
        s += 1;
    }
    (labels, batches)
}

/// The same events in batches of up to `max` events (whole source batches,
/// so the watermarks stay true).
fn regroup(batches: &Batches, max: usize) -> Batches {
    let mut out: Batches = Vec::new();
    for (events, until) in batches {
        match out.last_mut() {
            Some((last, last_until)) if last.len() + events.len() <= max => {
                last.extend(events.iter().cloned());
                *last_until = *until;
            }
            _ => out.push((events.clone(), *until)),
        }
    }
    out
}

/// One run: every batch through the pipeline, and its products sent to a
/// stand-in recorder thread that drops them, as the session loop does
/// (lossless: a virtual-clock session awaits the send). Returns the
/// number of events the recorder received.
#[inline(never)]
fn run(pipeline: &mut Pipeline, batches: Batches) -> usize {
    let (tx, mut rx) = mpsc::channel::<RecordMsg>(RECORDER_CHANNEL_CAPACITY);
    let (returns_tx, returns) = sample_returns();
    let recorder = std::thread::spawn(move || {
        let mut received = 0;
        while let Some(msg) = rx.blocking_recv() {
            if let RecordMsg::Gathered { batches, mut samples, .. } = msg {
                received += batches.iter().map(Vec::len).sum::<usize>();
                // As the recorder does once it has written them.
                samples.clear();
                let _ = returns_tx.try_send(samples);
            }
        }
        received
    });
    let mut output: Vec<OutputEvent> = Vec::new();
    let mut outbox = Outbox::with_returns(returns);
    outbox.samples().reserve(SAMPLE_BUFFER);
    for (events, until) in batches {
        pipeline.process(&events, until, outbox.samples(), &mut output);
        let now = Instant::now();
        outbox.push(now, events, &output);
        output.clear();
        if outbox.is_due(now)
            && let Some(msg) = outbox.take()
            && tx.blocking_send(msg).is_err()
        {
            break;
        }
    }
    if let Some(msg) = outbox.take() {
        let _ = tx.blocking_send(msg);
    }
    drop(tx);
    recorder.join().unwrap_or(0)
}

/// The pipeline alone: products cleared instead of sent (the part of the
/// budget that is the pipeline's own code).
#[inline(never)] // a symbol for callgrind's --toggle-collect
fn run_core(pipeline: &mut Pipeline, batches: &Batches) -> u64 {
    let mut samples: Vec<Sample> = Vec::with_capacity(SAMPLE_BUFFER);
    let mut output: Vec<OutputEvent> = Vec::new();
    let mut n = 0;
    for (events, until) in batches {
        pipeline.process(events, *until, &mut samples, &mut output);
        n += samples.len() as u64;
        samples.clear();
        output.clear();
    }
    n
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    // Flat: every sample is whole runs of ~5 ms, long enough for the
    // tick-granular thread CPU clock of the `_cpu` variant.
    group.sampling_mode(SamplingMode::Flat);
    for devices in [4usize, 100] {
        let (labels, batches) = session(devices);
        let notifications: u64 = batches.iter().map(|(e, _)| e.len() as u64).sum();
        let fresh = || {
            let mut pipeline = Pipeline::new(AlarmEngine::new(Config::default().alarms));
            for (i, label) in labels.iter().enumerate() {
                pipeline.set_device(label, setup(i));
            }
            (pipeline, batches.clone())
        };
        // The stream must be what it claims: every notification decodes,
        // gives samples, and raises no alarm (a quiet, healthy session).
        let (mut pipeline, input) = fresh();
        let received = run(&mut pipeline, input);
        let totals = pipeline.totals();
        assert_eq!(received as u64, notifications, "every event reached the recorder");
        assert_eq!(totals.counters.notifications, notifications);
        assert_eq!(totals.counters.decode_errors, 0);
        assert!(totals.counters.samples > notifications, "{totals:?}");
        assert_eq!(totals.alarms, [0; 3], "alarm activations in a healthy stream");

        group.throughput(Throughput::Elements(notifications));
        group.bench_function(BenchmarkId::new("decode_history_alarms_record", devices), |b| {
            b.iter_batched_ref(
                fresh,
                |(pipeline, input)| black_box(run(pipeline, std::mem::take(input))),
                BatchSize::LargeInput,
            );
        });
        // The budget as DESIGN.md states it: the pipeline thread's own CPU
        // time, recorder hand-off included, the recorder thread excluded.
        // Wall time (above) also counts whatever the stand-in recorder
        // thread and the machine's other users take from two shared cores.
        if thread_cpu().is_some() {
            group.bench_function(BenchmarkId::new("decode_history_alarms_record_cpu", devices), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let (mut pipeline, input) = fresh();
                        let start = thread_cpu().unwrap_or_default();
                        black_box(run(&mut pipeline, input));
                        spent += thread_cpu().unwrap_or_default().saturating_sub(start);
                    }
                    spent
                });
            });
        }
        group.bench_function(BenchmarkId::new("decode_history_alarms", devices), |b| {
            b.iter_batched_ref(fresh, |(pipeline, input)| black_box(run_core(pipeline, input)), BatchSize::LargeInput);
        });
        // The same events in batches of up to 1024 (what the stream and
        // replay sources send at full speed): how much of the record
        // variant's cost is per batch (the channel send and the wake-up of
        // the recorder thread) rather than per notification.
        let coarse = regroup(&batches, 1024);
        let fresh_coarse = || {
            let (pipeline, _) = fresh();
            (pipeline, coarse.clone())
        };
        group.bench_function(BenchmarkId::new("decode_history_alarms_record_1024", devices), |b| {
            b.iter_batched_ref(
                fresh_coarse,
                |(pipeline, input)| black_box(run(pipeline, std::mem::take(input))),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// For `examples/pipeline_profile.rs` (callgrind / perf): the same stream
/// through [`run_core`] or [`run`] `runs` times, with the counts needed to
/// turn instructions into instructions per notification.
#[allow(dead_code)] // used by the example, not by the bench binary
pub fn profile(devices: usize, runs: usize, with_recorder: bool) {
    let (labels, batches) = session(devices);
    let notifications: u64 = batches.iter().map(|(e, _)| e.len() as u64).sum();
    let mut samples = 0;
    for _ in 0..runs {
        let mut pipeline = Pipeline::new(AlarmEngine::new(Config::default().alarms));
        for (i, label) in labels.iter().enumerate() {
            pipeline.set_device(label, setup(i));
        }
        let input = batches.clone();
        if with_recorder {
            black_box(run(&mut pipeline, input));
        } else {
            black_box(run_core(&mut pipeline, &input));
        }
        samples += pipeline.totals().counters.samples;
    }
    eprintln!(
        "{devices} devices, {runs} runs: {} notifications, {samples} samples, {} batches",
        notifications * runs as u64,
        batches.len() * runs
    );
}
