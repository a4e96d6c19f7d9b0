//! The pipeline's hot path in notifications per second (DESIGN.md budget:
//! ≥ 1 M/s on one core, the recorder thread excluded): decode → ring buffers
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
//! the pipeline's products (`Sinks::drain` in `session/sinks.rs`): the pipeline decodes
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
use vigil::device_table::DeviceTable;
use vigil::devices::DeviceSetup;
use vigil::model::{Characteristic, DeviceLabel, OutputEvent, Quantity, Sample, SessionTime, SourceEvent};
use vigil::pipeline::Pipeline;
use vigil::record::{Outbox, RECORDER_CHANNEL_CAPACITY, RecordMsg, sample_returns};

use crate::cpu::{Reference, thread_cpu, thread_minor_faults};

/// Notifications per benchmark iteration, whatever the device count.
const NOTIFICATIONS: u64 = 20_000;

/// What the session loop reserves for a batch's samples (`session/sinks.rs`).
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

/// The bench's stream: `(labels, warm, measured)`, two stretches of
/// [`NOTIFICATIONS`] each, the second continuing the first in time. Every
/// run first takes the pipeline through `warm`, untimed, and measures
/// `measured`: a session's pipeline has long since made each device's ring
/// buffers and alarm state, which at 100 devices and 200 notifications per
/// device per run would otherwise be a fifth of a cold run's time
/// (`Series::new` with its page faults, `perf record`). Page faults of
/// ring pages not yet touched still fall in the measured part at the rate a
/// session meets them.
fn session(devices: usize) -> (Vec<DeviceLabel>, Batches, Batches) {
    let labels: Vec<DeviceLabel> = (0..devices).map(label).collect();
    let (warm, s) = stretch(&labels, 0);
    let (measured, _) = stretch(&labels, s);
    (labels, warm, measured)
}

/// [`NOTIFICATIONS`] (or a batch more) from session-second `from_s` on, and
/// the second after them.
fn stretch(labels: &[DeviceLabel], from_s: u64) -> (Batches, u64) {
    let devices = labels.len() as u64;
    let mut batches = Vec::new();
    let (mut n, mut s) = (0, from_s);
    while n < NOTIFICATIONS {
        let mut events = Vec::new();
        for (i, device) in labels.iter().enumerate() {
            let at = SessionTime::from_millis(s * 1000 + i as u64 * 1000 / devices);
            events.push(notification(i, s, at, device));
            if (s + i as u64).is_multiple_of(30) {
                events.push(SourceEvent::notification(at, device.clone(), Characteristic::BatteryLevel, &[80]));
            }
        }
        n += events.len() as u64;
        batches.push((events, SessionTime::from_millis(s * 1000 + 999)));
        s += 1;
    }
    (batches, s)
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

/// What a `--speed max` session loop does with the pipeline's products
/// (`Sinks::drain` in `session/sinks.rs`), sending them to a stand-in recorder thread
/// that counts and drops them (lossless: a virtual-clock session awaits the
/// send) and hands the emptied sample buffers back, as the recorder does.
/// One per session, as the recorder is.
struct Handoff {
    tx: mpsc::Sender<RecordMsg>,
    outbox: Outbox,
    output: Vec<OutputEvent>,
    recorder: std::thread::JoinHandle<usize>,
}

impl Handoff {
    fn start() -> Self {
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
        let mut outbox = Outbox::with_returns(returns);
        outbox.samples().reserve(SAMPLE_BUFFER);
        Self { tx, outbox, output: Vec::new(), recorder }
    }

    /// Every batch through the pipeline, its products into the outbox, and
    /// the outbox's message to the recorder when due.
    fn feed(&mut self, pipeline: &mut Pipeline, batches: Batches) {
        for (events, until) in batches {
            pipeline.process(&events, until, self.outbox.samples(), &mut self.output);
            let now = Instant::now();
            self.outbox.push(now, events, &self.output);
            self.output.clear();
            if self.outbox.is_due(now)
                && let Some(msg) = self.outbox.take()
                && self.tx.blocking_send(msg).is_err()
            {
                break;
            }
        }
    }

    /// The last message, and the number of events the recorder received.
    fn finish(mut self) -> usize {
        if let Some(msg) = self.outbox.take() {
            let _ = self.tx.blocking_send(msg);
        }
        drop(self.tx);
        self.recorder.join().unwrap_or(0)
    }
}

/// The measured stretch through the pipeline and the hand-off, and the
/// hand-off's end (the recorder thread's last message and exit).
#[inline(never)] // a symbol for callgrind's --toggle-collect
fn run(pipeline: &mut Pipeline, mut handoff: Handoff, batches: Batches) -> usize {
    handoff.feed(pipeline, batches);
    handoff.finish()
}

/// The pipeline alone: products cleared instead of sent (the part of the
/// budget that is the pipeline's own code).
#[inline(never)] // a symbol for callgrind's --toggle-collect
fn run_core(pipeline: &mut Pipeline, batches: &Batches) -> u64 {
    process_all(pipeline, batches)
}

#[inline(always)]
fn process_all(pipeline: &mut Pipeline, batches: &Batches) -> u64 {
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

/// A pipeline with the bench's devices declared, as a session declares them
/// from their profiles.
fn declared(labels: &[DeviceLabel]) -> Pipeline {
    // A table with room for every bench device (the 100-device case is past
    // the default `max_devices`).
    let table = DeviceTable::new(labels.len());
    let mut pipeline = Pipeline::new(AlarmEngine::with_devices(Config::default().alarms, table));
    for (i, label) in labels.iter().enumerate() {
        pipeline.set_device(label, setup(i));
    }
    pipeline
}

/// A declared pipeline that has processed the warm stretch.
fn warmed(labels: &[DeviceLabel], warm: &Batches) -> Pipeline {
    let mut pipeline = declared(labels);
    process_all(&mut pipeline, warm);
    pipeline
}

/// [`warmed`], through a hand-off that is then the session's.
fn warmed_with_handoff(labels: &[DeviceLabel], warm: &Batches) -> (Pipeline, Handoff) {
    let mut pipeline = declared(labels);
    let mut handoff = Handoff::start();
    handoff.feed(&mut pipeline, warm.clone());
    (pipeline, handoff)
}

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    // Flat: every sample is whole runs of ~5 ms, long enough for the
    // tick-granular thread CPU clock of the `_cpu` variant.
    group.sampling_mode(SamplingMode::Flat);
    for devices in [4usize, 100] {
        let (labels, warm, batches) = session(devices);
        let count = |batches: &Batches| batches.iter().map(|(e, _)| e.len() as u64).sum::<u64>();
        let notifications = count(&batches);
        let with_handoff = |warm: &Batches, measured: &Batches| {
            let (pipeline, handoff) = warmed_with_handoff(&labels, warm);
            (pipeline, Some(handoff), measured.clone())
        };
        let fresh = || with_handoff(&warm, &batches);
        // The stream must be what it claims: every notification decodes,
        // gives samples, and raises no alarm (a quiet, healthy session).
        let (mut pipeline, handoff, input) = fresh();
        let received = handoff.map_or(0, |handoff| run(&mut pipeline, handoff, input));
        let totals = pipeline.totals();
        let both = count(&warm) + notifications;
        assert_eq!(received as u64, both, "every event reached the recorder");
        assert_eq!(totals.counters.notifications, both);
        assert_eq!(totals.counters.decode_errors, 0);
        assert!(totals.counters.samples > both, "{totals:?}");
        assert_eq!(totals.alarms, [0; 3], "alarm activations in a healthy stream");

        let measure = |(pipeline, handoff, input): &mut (Pipeline, Option<Handoff>, Batches)| {
            handoff.take().map(|handoff| run(pipeline, handoff, std::mem::take(input)))
        };
        group.throughput(Throughput::Elements(notifications));
        group.bench_function(BenchmarkId::new("decode_history_alarms_record", devices), |b| {
            b.iter_batched_ref(fresh, |state| black_box(measure(state)), BatchSize::LargeInput);
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
                        let mut state = fresh();
                        let start = thread_cpu().unwrap_or_default();
                        black_box(measure(&mut state));
                        spent += thread_cpu().unwrap_or_default().saturating_sub(start);
                    }
                    spent
                });
            });
        }
        group.bench_function(BenchmarkId::new("decode_history_alarms", devices), |b| {
            b.iter_batched_ref(
                || (warmed(&labels, &warm), batches.clone()),
                |(pipeline, input)| black_box(run_core(pipeline, input)),
                BatchSize::LargeInput,
            );
        });
        // The same events in batches of up to 1024 (what the stream and
        // replay sources send at full speed): how much of the record
        // variant's cost is per batch (the channel send and the wake-up of
        // the recorder thread) rather than per notification.
        let (warm_coarse, coarse) = (regroup(&warm, 1024), regroup(&batches, 1024));
        group.bench_function(BenchmarkId::new("decode_history_alarms_record_1024", devices), |b| {
            b.iter_batched_ref(
                || with_handoff(&warm_coarse, &coarse),
                |state| black_box(measure(state)),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// For `examples/pipeline_profile.rs` (callgrind / perf): the measured
/// stretch through [`run_core`] or [`run`] `runs` times, each after an
/// untimed warm stretch, with the counts needed to turn instructions into
/// instructions per notification, and the pipeline thread's CPU time per
/// run (best and median: a shared machine only ever adds to it).
#[allow(dead_code)] // used by the example, not by the bench binary
pub fn profile(devices: usize, runs: usize, with_recorder: bool) {
    let (labels, warm, batches) = session(devices);
    let notifications: u64 = batches.iter().map(|(e, _)| e.len() as u64).sum();
    let mut samples = 0;
    let mut spent = Vec::with_capacity(runs);
    let mut faults = 0;
    let reference = Reference::new();
    let mut reference_spent = Vec::with_capacity(runs);
    for _ in 0..runs {
        reference_spent.push(reference.time());
        let (mut pipeline, handoff) = if with_recorder {
            let (pipeline, handoff) = warmed_with_handoff(&labels, &warm);
            (pipeline, Some(handoff))
        } else {
            (warmed(&labels, &warm), None)
        };
        let before = pipeline.totals().counters.samples;
        let input = batches.clone();
        let faults_before = thread_minor_faults();
        let start = thread_cpu().unwrap_or_default();
        match handoff {
            Some(handoff) => black_box(run(&mut pipeline, handoff, input) as u64),
            None => black_box(run_core(&mut pipeline, &input)),
        };
        spent.push(thread_cpu().unwrap_or_default().saturating_sub(start));
        if let (Some(before), Some(after)) = (faults_before, thread_minor_faults()) {
            faults += after - before;
        }
        samples += pipeline.totals().counters.samples - before;
    }
    eprintln!(
        "{devices} devices, {runs} runs: {} notifications, {samples} samples, {} batches (measured stretches)",
        notifications * runs as u64,
        batches.len() * runs
    );
    eprintln!("page faults on the pipeline thread in the measured stretches: {faults}");
    report_runs(&spent, &reference_spent, notifications);
}

/// The pipeline thread's CPU time per run (best, median, deciles, each run
/// in order with `PP_TRACE`), and its spread next to the reference work's
/// timed before each run.
fn report_runs(spent: &[Duration], reference: &[Duration], notifications: u64) {
    if std::env::var_os("PP_TRACE").is_some() {
        let trace: Vec<String> = spent.iter().map(|d| format!("{:.2}", d.as_secs_f64() * 1e3)).collect();
        eprintln!("run times in order (ms): {}", trace.join(" "));
    }
    let sorted = |v: &[Duration]| {
        let mut v: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    if spent.is_empty() || thread_cpu().is_none() {
        eprintln!("no per-thread CPU time on this system: nothing timed");
        return;
    }
    let (runs, reference) = (sorted(spent), sorted(reference));
    let decile = |v: &[f64], d: usize| v[v.len() * d / 10];
    let spread = |v: &[f64]| decile(v, 9) / decile(v, 1).max(1e-12);
    let rate = |t: f64| notifications as f64 / t / 1e6;
    eprintln!(
        "pipeline thread CPU per run: best {:.3} ms ({:.2} M/s), median {:.3} ms ({:.2} M/s)",
        runs[0] * 1e3,
        rate(runs[0]),
        decile(&runs, 5) * 1e3,
        rate(decile(&runs, 5))
    );
    let deciles: Vec<String> = (1..10).map(|d| format!("{:.2}", rate(decile(&runs, d)))).collect();
    eprintln!("M/s at the 10th … 90th percentile of run time: {}", deciles.join(" "));
    if !reference.is_empty() {
        eprintln!(
            "90th/10th percentile of run time: pipeline {:.2}, reference work {:.2} (median {:.3} ms)",
            spread(&runs),
            spread(&reference),
            decile(&reference, 5) * 1e3
        );
    }
}

/// For `examples/pipeline_profile.rs`: one pipeline through `runs`
/// consecutive stretches of [`NOTIFICATIONS`] (the pipeline alone), each
/// timed, to compare with [`profile`]'s fresh pipeline per run: if the
/// spread of run times came from each run's memory layout (where its
/// allocations fall in the caches), one pipeline's runs would spread less.
#[allow(dead_code)] // used by the example, not by the bench binary
pub fn profile_same_pipeline(devices: usize, runs: usize) {
    let labels: Vec<DeviceLabel> = (0..devices).map(label).collect();
    let (warm, mut s) = stretch(&labels, 0);
    let mut pipeline = warmed(&labels, &warm);
    let reference = Reference::new();
    let (mut spent, mut reference_spent) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    let mut notifications = 0;
    for _ in 0..runs {
        let (batches, next) = stretch(&labels, s);
        s = next;
        notifications += batches.iter().map(|(e, _)| e.len() as u64).sum::<u64>();
        reference_spent.push(reference.time());
        let start = thread_cpu().unwrap_or_default();
        black_box(run_core(&mut pipeline, &batches));
        spent.push(thread_cpu().unwrap_or_default().saturating_sub(start));
    }
    eprintln!("{devices} devices, one pipeline, {runs} consecutive stretches: {notifications} notifications");
    report_runs(&spent, &reference_spent, notifications / runs.max(1) as u64);
}
