//! HRV analysis of an 8-hour recording, and NeuroKit2 doing the same work
//! on the same RR series in the same run. DESIGN.md's budget: ≤ 50 ms, and
//! at least 20× faster than NeuroKit2.
//!
//! The series (seeded, `tests/hrv_synthetic`): 8 hours of RR intervals in
//! 1/1024 s ticks, the heart rate drifting linearly from 60 to 100 bpm,
//! respiratory sinus arrhythmia at 0.25 Hz, LF and VLF waves and noise, an
//! ectopic, missed or extra beat (in turn) every 15–45 beats.
//!
//! - `hrv/vigil_8h`: what `vigil analyze --window every:5m --window all`
//!   does with one device's RR intervals once they are read: artifact
//!   correction over the whole series, then for each of the 96 five-minute
//!   windows and for the whole series the beats of each class, time
//!   domain, frequency domain and DFA α1 of the window's NN intervals.
//! - `hrv/neurokit2_8h`: the same in NeuroKit2 (`benches/py/hrv_neurokit2.py`,
//!   run by `$VIGIL_PYTHON`, else `python3`), timed by the script with
//!   `time.perf_counter`; criterion asks for N runs and gets their sum. It
//!   is left out, with the reason, when that Python has no neurokit2, and
//!   under `cargo test --benches`, where a minute of Python is no test.
//!
//! Before them it prints each stage's time (median of five runs); at the
//! end each side's median run (every run criterion made, warm-up
//! included) and their ratio. Run it with `cargo bench --bench hrv`.

// A bench whose setup fails should stop with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use serde_json::{Value, json};
use vigil::analysis::hrv::{Unavailable, artifacts, dfa, frequency, time};

#[path = "../tests/hrv_synthetic/mod.rs"]
mod hrv_synthetic;

use hrv_synthetic::{Rhythm, TICKS_PER_S, synthetic};

/// Seed of the series.
const SEED: u64 = 8;
/// The series: 8 hours, 60 → 100 bpm, a few per cent artifacts.
const RHYTHM: Rhythm = Rhythm {
    minutes: 8.0 * 60.0,
    hr_bpm: (60.0, 100.0),
    vlf_ms: 20.0,
    lf_ms: 30.0,
    hf_ms: 35.0,
    noise_ms: 10.0,
    artifact_gap: Some((15, 45)),
};
/// `every:5m` over 8 hours.
const WINDOW_S: f64 = 300.0;
const WINDOWS: usize = 96;

/// One window's results, kept so that the optimizer cannot drop the work.
type Measures = (
    artifacts::ClassCounts,
    Result<time::TimeDomain, Unavailable>,
    Result<frequency::FrequencyDomain, Unavailable>,
    Result<f64, Unavailable>,
);

/// The end of each interval, ms from the first beat.
fn ends(intervals: &[f64]) -> Vec<f64> {
    intervals
        .iter()
        .scan(0.0, |t, &v| {
            *t += v;
            Some(*t)
        })
        .collect()
}

/// The intervals ending in `[start, end)` ms, as index bounds.
fn window(ends: &[f64], start: f64, end: f64) -> std::ops::Range<usize> {
    ends.partition_point(|&t| t < start)..ends.partition_point(|&t| t < end)
}

fn counts(classes: &[artifacts::BeatClass]) -> artifacts::ClassCounts {
    let mut c = artifacts::ClassCounts::default();
    for class in classes {
        match class {
            artifacts::BeatClass::Normal => {}
            artifacts::BeatClass::Ectopic => c.ectopic += 1,
            artifacts::BeatClass::Missed => c.missed += 1,
            artifacts::BeatClass::Extra => c.extra += 1,
            artifacts::BeatClass::LongShort => c.long_short += 1,
        }
    }
    c
}

fn measures(classes: &[artifacts::BeatClass], nn: &[f64]) -> Measures {
    (counts(classes), time::time_domain(nn), frequency::frequency_domain(nn), dfa::dfa_alpha1(nn))
}

/// Every window's measures, the whole series' last. Classes belong to the
/// input intervals and so to the window where an input interval ends; NN
/// intervals to the window where a corrected one ends (DESIGN.md).
fn analyze(rr_ms: &[f64]) -> Vec<Measures> {
    let corrected = artifacts::correct(rr_ms).expect("the synthetic series is valid");
    let (rr_ends, nn_ends) = (ends(rr_ms), ends(&corrected.nn));
    let mut out = Vec::with_capacity(WINDOWS + 1);
    for w in 0..WINDOWS {
        let (start, end) = (w as f64 * WINDOW_S * 1000.0, (w + 1) as f64 * WINDOW_S * 1000.0);
        let beats = window(&rr_ends, start, end);
        let nn = window(&nn_ends, start, end);
        out.push(measures(&corrected.classes[beats], &corrected.nn[nn]));
    }
    out.push(measures(&corrected.classes, &corrected.nn));
    out
}

/// Where the time goes: the median of five runs of each stage, ms
/// (correction; then time domain, frequency domain and DFA α1 over every
/// window, the whole series' included).
fn stages(rr_ms: &[f64]) -> [f64; 4] {
    let corrected = artifacts::correct(rr_ms).expect("the synthetic series is valid");
    let nn_ends = ends(&corrected.nn);
    let mut windows: Vec<&[f64]> = (0..WINDOWS)
        .map(|w| &corrected.nn[window(&nn_ends, w as f64 * WINDOW_S * 1000.0, (w + 1) as f64 * WINDOW_S * 1000.0)])
        .collect();
    windows.push(&corrected.nn);
    let median_ms = |f: &dyn Fn()| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[2]
    };
    [
        median_ms(&|| {
            let _ = black_box(artifacts::correct(black_box(rr_ms)));
        }),
        median_ms(&|| {
            for nn in &windows {
                let _ = black_box(time::time_domain(nn));
            }
        }),
        median_ms(&|| {
            for nn in &windows {
                let _ = black_box(frequency::frequency_domain(nn));
            }
        }),
        median_ms(&|| {
            for nn in &windows {
                let _ = black_box(dfa::dfa_alpha1(nn));
            }
        }),
    ]
}

/// Every run's time, per side, for the medians printed at the end.
static VIGIL_RUNS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());
static NEUROKIT2_RUNS: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

fn median(runs: &Mutex<Vec<Duration>>) -> Option<(Duration, usize)> {
    let mut runs = runs.lock().unwrap().clone();
    runs.sort();
    let n = runs.len();
    (n > 0).then(|| (if n % 2 == 1 { runs[n / 2] } else { (runs[n / 2 - 1] + runs[n / 2]) / 2 }, n))
}

/// The Python that runs the NeuroKit2 side, with its neurokit2 version, or
/// why there is none.
fn neurokit2(script: &Path, input: &Path) -> Result<(String, String), String> {
    let python = std::env::var("VIGIL_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into());
    let out = Command::new(&python)
        .arg(script)
        .arg(input)
        .arg("0")
        .output()
        .map_err(|e| format!("cannot run {python} (set VIGIL_PYTHON): {e}"))?;
    if !out.status.success() {
        return Err(format!("{python}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("{python} {}: {e}", script.display()))?;
    Ok((python, v["neurokit2"].as_str().unwrap_or("?").to_owned()))
}

/// `repetitions` runs of the NeuroKit2 side in one Python process: their
/// times, and its corrected beats and RMSSD of the whole series.
fn run_neurokit2(python: &str, script: &Path, input: &Path, repetitions: u64) -> (Vec<Duration>, Value) {
    let out = Command::new(python).arg(script).arg(input).arg(repetitions.to_string()).output().expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    let times = v["seconds"]
        .as_array()
        .expect("seconds")
        .iter()
        .map(|s| Duration::from_secs_f64(s.as_f64().unwrap()))
        .collect();
    (times, v)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // there criterion runs each bench once as a test: timings mean nothing.
    let benching = std::env::args().any(|a| a == "--bench");
    let ticks = synthetic(SEED, &RHYTHM);
    let rr_ms: Vec<f64> = ticks.iter().map(|&t| t as f64 * 1000.0 / TICKS_PER_S).collect();
    let whole = analyze(&rr_ms);
    let c = artifacts::correct(&rr_ms).expect("valid series");
    let all = whole.last().expect("the whole series");
    let rmssd = all.1.as_ref().map_or(f64::NAN, |t| t.rmssd_ms);
    eprintln!(
        "hrv: {} RR intervals over {:.2} h; flagged {} ectopic, {} missed, {} extra, {} long/short; {} NN; \
         {} windows; whole-series RMSSD {rmssd:.2} ms",
        rr_ms.len(),
        rr_ms.iter().sum::<f64>() / 3.6e6,
        c.counts.ectopic,
        c.counts.missed,
        c.counts.extra,
        c.counts.long_short,
        c.nn.len(),
        whole.len()
    );
    if benching {
        let [correction, time_domain, frequency_domain, dfa_alpha1] = stages(&rr_ms);
        eprintln!(
            "hrv: stages, median of 5 runs: correction {correction:.1} ms, then over all windows time domain \
             {time_domain:.1} ms, frequency domain {frequency_domain:.1} ms, DFA α1 {dfa_alpha1:.1} ms"
        );
    }
    assert!(
        whole[..WINDOWS].iter().all(|m| m.1.is_ok() && m.2.is_ok() && m.3.is_ok()),
        "every 5-minute window has every measure"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("rr.json");
    let spec = json!({"sampling_rate": TICKS_PER_S, "ticks": ticks, "window_s": WINDOW_S, "windows": WINDOWS});
    std::fs::write(&input, spec.to_string()).expect("write the series");
    let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/py/hrv_neurokit2.py");
    let reference = if benching {
        neurokit2(&script, &input)
    } else {
        Err("not run under `cargo test`, only under `cargo bench`".into())
    };

    let mut criterion = Criterion::default().configure_from_args();
    criterion.bench_function("hrv/vigil_8h", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                black_box(analyze(black_box(&rr_ms)));
                let took = start.elapsed();
                VIGIL_RUNS.lock().unwrap().push(took);
                total += took;
            }
            total
        });
    });
    let mut neurokit2_check = None;
    match &reference {
        Ok((python, version)) => {
            let mut group = criterion.benchmark_group("hrv");
            // A run takes seconds: ten samples of one run each.
            group.sample_size(10).sampling_mode(SamplingMode::Flat).warm_up_time(Duration::from_millis(1));
            group.measurement_time(Duration::from_secs(30));
            group.bench_function("neurokit2_8h", |b| {
                b.iter_custom(|iters| {
                    let (times, v) = run_neurokit2(python, &script, &input, iters);
                    neurokit2_check = Some(v);
                    NEUROKIT2_RUNS.lock().unwrap().extend(&times);
                    times.iter().sum()
                });
            });
            group.finish();
            eprintln!("hrv: NeuroKit2 {version} by {python}");
        }
        Err(why) => eprintln!("hrv: NeuroKit2 side skipped: {why}"),
    }
    criterion.final_summary();

    if let Some((vigil, n)) = median(&VIGIL_RUNS).filter(|_| benching) {
        let verdict = if vigil <= Duration::from_millis(50) { "within" } else { "OVER" };
        eprintln!(
            "hrv: vigil      {:>9.2} ms  median of {n} runs ({verdict} the 50 ms budget)",
            vigil.as_secs_f64() * 1e3
        );
        if let Some((theirs, m)) = median(&NEUROKIT2_RUNS) {
            eprintln!("hrv: NeuroKit2  {:>9.2} ms  median of {m} runs", theirs.as_secs_f64() * 1e3);
            eprintln!("hrv: ratio      {:>9.1}×    (target ≥ 20×)", theirs.as_secs_f64() / vigil.as_secs_f64());
        }
    }
    if let Some(v) = neurokit2_check {
        eprintln!(
            "hrv: NeuroKit2 corrected {} beats (vigil {}), whole-series RMSSD {:.2} ms (vigil {rmssd:.2})",
            v["beats"].as_u64().unwrap_or(0).saturating_sub(1),
            c.nn.len(),
            v["rmssd_all_ms"].as_f64().unwrap_or(f64::NAN)
        );
    }
}
