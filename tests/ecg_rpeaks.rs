//! The R-peak detector (`analysis::rpeaks`, Pan–Tompkins) on the simulator's
//! ECG (`sources::simulate::ecg`, ECGSYN) driven by the simulator's own
//! heart: realistic beat series from 50 to 160 bpm with respiratory and
//! beat-to-beat variability. On clean signal (the generator's 15 µV noise)
//! sensitivity and positive predictivity must be ≥ 99.5 % with 50 ms
//! tolerance (issue 23, Must show 3), and the peaks must sit on the beats.

use vigil::analysis::rpeaks::{Agreement, RPeaks, agreement};
use vigil::sources::simulate::ecg::{EcgConfig, EcgSynth};
use vigil::sources::simulate::physiology::{Heart, Interpolation, Physiology, Signal};

const TOLERANCE_NS: f64 = 50e6;
const FRAME: usize = 73;

/// Beat times (s) of a heart following `keyframes` (time s, bpm) for
/// `seconds`, with the default variability scaled by `hrv`.
fn beats(keyframes: Vec<(f64, f64)>, hrv: f64, seed: u64, seconds: f64) -> Vec<f64> {
    let baseline = keyframes[0].1;
    let phys = Physiology {
        heart_rate_bpm: Signal::new(keyframes, baseline, Interpolation::Smooth, 2.0, 60.0),
        hrv_scale: hrv,
        ..Physiology::default()
    };
    let mut heart = Heart::new(seed);
    let mut out = vec![0.0];
    loop {
        let (t, _) = heart.next_beat(&phys);
        if t > seconds {
            return out;
        }
        out.push(t);
    }
}

struct Figures {
    agreement: Agreement,
    /// Largest and mean |detected − true| of the matched peaks, ms.
    worst_ms: f64,
    mean_ms: f64,
}

/// Generate the ECG at `rate` in PMD-sized frames, detect, compare.
fn run(beats: &[f64], rate: f64, seed: u64) -> Figures {
    let end = beats[beats.len() - 1];
    let config = EcgConfig { rate_hz: rate, ..EcgConfig::default() };
    let mut synth = EcgSynth::new(config, seed, beats.iter().copied());
    let mut detector = RPeaks::new(130.0);
    let mut found = Vec::new();
    let period_ns = 1e9 / rate;
    let mut frame = Vec::with_capacity(FRAME);
    let mut n = 0u64;
    while synth.time_s(n as i64) < end + 0.5 {
        frame.clear();
        frame.extend((0..FRAME).map(|_| synth.next_sample(true)));
        detector.push(n as f64 * period_ns, period_ns, &frame, &mut found);
        n += FRAME as u64;
    }
    detector.finish(&mut found);
    // The generator's first beat is its phase origin (at 0 s); the last is
    // where the series stops.
    let reference: Vec<f64> = beats[1..beats.len() - 1].iter().map(|b| b * 1e9).collect();
    let last = reference[reference.len() - 1] + TOLERANCE_NS;
    let found: Vec<f64> = found.into_iter().filter(|t| *t > reference[0] - TOLERANCE_NS && *t <= last).collect();
    let agreement = agreement(&reference, &found, TOLERANCE_NS);
    let mut errors = Vec::new();
    let mut j = 0;
    for r in &reference {
        while j < found.len() && found[j] < r - TOLERANCE_NS {
            j += 1;
        }
        if j < found.len() && (found[j] - r).abs() <= TOLERANCE_NS {
            errors.push((found[j] - r).abs() / 1e6);
            j += 1;
        }
    }
    let worst_ms = errors.iter().copied().fold(0.0, f64::max);
    let mean_ms = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
    Figures { agreement, worst_ms, mean_ms }
}

fn check(name: &str, f: &Figures) {
    let a = f.agreement;
    eprintln!(
        "{name}: {} beats, TP {}, FN {}, FP {}, sensitivity {:.4} %, positive predictivity {:.4} %, |error| mean {:.2} ms, max {:.2} ms",
        a.true_positives + a.false_negatives,
        a.true_positives,
        a.false_negatives,
        a.false_positives,
        100.0 * a.sensitivity(),
        100.0 * a.positive_predictivity(),
        f.mean_ms,
        f.worst_ms
    );
    assert!(a.sensitivity() >= 0.995, "{name}: sensitivity {:?}", a);
    assert!(a.positive_predictivity() >= 0.995, "{name}: positive predictivity {:?}", a);
    // The peak is the R wave's, not just the QRS's: within one sample.
    assert!(f.worst_ms < 1e3 / 130.0, "{name}: a peak {} ms from its beat", f.worst_ms);
}

#[test]
fn steady_rates_from_50_to_160_bpm() {
    for (i, bpm) in [50.0, 70.0, 100.0, 130.0, 160.0].into_iter().enumerate() {
        let seed = 100 + i as u64;
        let b = beats(vec![(0.0, bpm)], 1.0, seed, 600.0);
        check(&format!("10 min at {bpm} bpm"), &run(&b, 130.0, seed));
    }
}

#[test]
fn fast_changes_and_high_variability() {
    // 50 → 160 → 55 bpm within ten minutes, variability doubled, at a
    // strap rate 1.5 % off nominal.
    let b = beats(vec![(0.0, 50.0), (240.0, 160.0), (330.0, 160.0), (600.0, 55.0)], 2.0, 7, 600.0);
    check("10 min 50-160-55 bpm, hrv x2, 131.95 Hz", &run(&b, 131.95, 7));
}

#[test]
fn one_hour_session() {
    let b = beats(
        vec![(0.0, 62.0), (900.0, 75.0), (1500.0, 140.0), (2100.0, 150.0), (2700.0, 90.0), (3600.0, 65.0)],
        1.0,
        11,
        3600.0,
    );
    check("1 h 62-150-65 bpm", &run(&b, 130.0, 11));
}

/// Must show 3: an 8-hour session, 3.77 million samples (about 5 s in a
/// debug build).
#[test]
fn eight_hour_session() {
    let h = |x: f64| x * 3600.0;
    let b = beats(
        vec![
            (0.0, 66.0),
            (h(0.7), 66.0),
            (h(1.5), 95.0),
            (h(2.2), 118.0),
            (h(3.0), 112.0),
            (h(4.5), 85.0),
            (h(6.0), 70.0),
            (h(8.0), 58.0),
        ],
        1.0,
        23,
        h(8.0),
    );
    let started = std::time::Instant::now();
    let f = run(&b, 131.2, 23);
    eprintln!("8 h generated and detected in {:.2} s", started.elapsed().as_secs_f64());
    check("8 h 58-118 bpm at 131.2 Hz", &f);
}
