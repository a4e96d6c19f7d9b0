//! vigil's HRV against the Python references it follows: NeuroKit2 0.3.0
//! (kubios artifact correction, time domain, DFA) and hrv-analysis 1.0.6
//! (frequency domain), on seeded synthetic RR series, clean and with
//! injected ectopic, missed and extra beats. The correction is compared
//! beat by beat; the measures are compared on the same input (vigil's
//! corrected NN), so that each tolerance is the measure's own. Needs `$VIGIL_PYTHON` with
//! those packages (`.ci/run` makes one): fails under CI without it, says
//! it did not run otherwise (`tests/tools`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::{Value, json};
use vigil::analysis::hrv::{artifacts, dfa, frequency, time};

mod hrv_synthetic;
mod tools;

use hrv_synthetic::{Rhythm, TICKS_PER_S, synthetic};

/// Seeds of the synthetic series (name, seed, minutes, with artifacts).
const SERIES: [(&str, u64, f64, bool); 4] = [
    ("clean_5min", 11, 5.0, false),
    ("clean_30min", 12, 30.0, false),
    ("artifacts_5min", 21, 5.0, true),
    ("artifacts_30min", 22, 30.0, true),
];
/// Beats whose class agrees with NeuroKit2's, at least.
const CLASS_AGREEMENT: f64 = 0.98;
/// NeuroKit2-flagged beats flagged alike here, at least.
const FLAGGED_FOUND: f64 = 0.95;
/// Relative tolerance of the time domain.
const TIME_REL: f64 = 0.001;
/// Relative tolerance of the frequency domain.
const FREQUENCY_REL: f64 = 0.02;
/// Absolute tolerance of DFA α1.
const DFA_ABS: f64 = 0.02;
/// A corrected NN interval may differ from NeuroKit2's by one tick (it
/// truncates moved beats to whole samples), ms.
const NN_ABS_MS: f64 = 1000.0 / TICKS_PER_S + 1e-6;

/// The reference series: RR around 800 ms (75 bpm) with VLF (20 ms), LF
/// (40 ms) and HF (25 ms) oscillations and 12 ms of noise; with
/// artifacts, one every 40–80 beats.
fn series(seed: u64, minutes: f64, with_artifacts: bool) -> Vec<i64> {
    let rhythm = Rhythm {
        minutes,
        hr_bpm: (75.0, 75.0),
        vlf_ms: 20.0,
        lf_ms: 40.0,
        hf_ms: 25.0,
        noise_ms: 12.0,
        artifact_gap: with_artifacts.then_some((40, 80)),
    };
    synthetic(seed, &rhythm)
}

fn class_name(class: artifacts::BeatClass) -> &'static str {
    match class {
        artifacts::BeatClass::Normal => "normal",
        artifacts::BeatClass::Ectopic => "ectopic",
        artifacts::BeatClass::Missed => "missed",
        artifacts::BeatClass::Extra => "extra",
        artifacts::BeatClass::LongShort => "long_short",
    }
}

/// Asserts `ours` within `rel` of the reference; gives the relative error.
fn assert_rel(what: &str, ours: f64, theirs: &Value, rel: f64) -> f64 {
    let theirs = theirs.as_f64().unwrap_or_else(|| panic!("{what}: reference {theirs} is no number"));
    let err = (ours - theirs).abs() / theirs.abs().max(1e-12);
    assert!(err <= rel, "{what}: vigil {ours}, reference {theirs} (relative error {err:.2e} > {rel})");
    err
}

#[test]
fn hrv_matches_neurokit2_and_hrv_analysis() {
    let Some(python) = tools::python("the HRV reference test (neurokit2, hrv-analysis)") else { return };
    let series: Vec<(&str, Vec<i64>, artifacts::Correction)> = SERIES
        .iter()
        .map(|&(name, seed, minutes, bad)| {
            let ticks = series(seed, minutes, bad);
            let rr: Vec<f64> = ticks.iter().map(|&t| t as f64 * 1000.0 / TICKS_PER_S).collect();
            (name, ticks, artifacts::correct(&rr).unwrap())
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rr.json");
    let spec = json!({
        "sampling_rate": TICKS_PER_S,
        "series": series
            .iter()
            .map(|(name, ticks, c)| json!({"name": name, "ticks": ticks, "nn_ms": c.nn}))
            .collect::<Vec<_>>(),
    });
    std::fs::write(&input, spec.to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/hrv_reference.py");
    let out = Command::new(python).arg(&script).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Value = serde_json::from_slice(&out.stdout).unwrap();

    let (mut worst_time, mut worst_freq, mut worst_dfa, mut worst_nn) = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
    for (name, _, corrected) in &series {
        let r = &reference[name];

        let theirs: Vec<&str> = r["classes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        let ours: Vec<&str> = corrected.classes.iter().map(|&c| class_name(c)).collect();
        assert_eq!(ours.len(), theirs.len(), "{name}: beats");
        let agree = ours.iter().zip(&theirs).filter(|(a, b)| a == b).count();
        let flagged = theirs.iter().filter(|&&c| c != "normal").count();
        let found = ours.iter().zip(&theirs).filter(|(a, b)| **b != "normal" && a == b).count();
        let agreement = agree as f64 / ours.len() as f64;
        eprintln!(
            "{name}: {} beats, classes agree {agreement:.4}, NeuroKit2 flags {flagged}, found {found}",
            ours.len()
        );
        assert!(agreement >= CLASS_AGREEMENT, "{name}: classes agree on {agreement:.4} of beats");
        if name.starts_with("artifacts") {
            assert!(flagged > 0, "{name}: the injected artifacts must be flagged");
            let recall = found as f64 / flagged as f64;
            assert!(recall >= FLAGGED_FOUND, "{name}: {found} of NeuroKit2's {flagged} flagged beats found");
        }

        let their_nn: Vec<f64> = r["nn_ms"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(corrected.nn.len(), their_nn.len(), "{name}: corrected beats");
        let worst = corrected.nn.iter().zip(&their_nn).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= NN_ABS_MS, "{name}: a corrected NN differs from NeuroKit2's by {worst} ms");

        let nn = &corrected.nn;
        let t = time::time_domain(nn).unwrap();
        let rt = &r["time"];
        for (key, ours) in [
            ("mean_nn_ms", t.mean_nn_ms),
            ("sdnn_ms", t.sdnn_ms),
            ("rmssd_ms", t.rmssd_ms),
            ("sdsd_ms", t.sdsd_ms),
            ("nn50", t.nn50 as f64),
            ("pnn50_percent", t.pnn50_percent),
            ("mean_hr_bpm", t.mean_hr_bpm),
            ("min_hr_bpm", t.min_hr_bpm),
            ("max_hr_bpm", t.max_hr_bpm),
            ("sd1_ms", t.sd1_ms),
            ("sd2_ms", t.sd2_ms),
        ] {
            worst_time = worst_time.max(assert_rel(&format!("{name} {key}"), ours, &rt[key], TIME_REL));
        }

        let f = frequency::frequency_domain(nn).unwrap();
        let rf = &r["frequency"];
        let vlf = f.vlf_ms2.unwrap();
        for (key, ours) in [
            ("vlf", vlf),
            ("lf", f.lf_ms2),
            ("hf", f.hf_ms2),
            ("total_power", f.total_power_ms2.unwrap()),
            ("lf_hf_ratio", f.lf_hf.unwrap()),
            ("lfnu", f.lf_nu.unwrap()),
            ("hfnu", f.hf_nu.unwrap()),
        ] {
            worst_freq = worst_freq.max(assert_rel(&format!("{name} {key}"), ours, &rf[key], FREQUENCY_REL));
        }

        let alpha = dfa::dfa_alpha1(nn).unwrap();
        let theirs = r["dfa_alpha1"].as_f64().unwrap();
        assert!((alpha - theirs).abs() <= DFA_ABS, "{name}: DFA α1 {alpha}, NeuroKit2 {theirs}");
        worst_dfa = worst_dfa.max((alpha - theirs).abs());
        worst_nn = worst_nn.max(worst);
    }
    eprintln!(
        "worst: time domain {worst_time:.1e} relative, frequency domain {worst_freq:.1e} relative, \
         DFA α1 {worst_dfa:.1e}, corrected NN {worst_nn:.3} ms"
    );
}

proptest! {
    /// No input panics any of the HRV functions: empty, one beat, NaN, 0,
    /// negative, huge, or a mix.
    #[test]
    fn no_input_panics(rr in prop::collection::vec(prop_oneof![
        4 => 300.0..2000.0f64,
        1 => Just(f64::NAN),
        1 => Just(0.0),
        1 => Just(-800.0),
        1 => Just(1e300),
        1 => Just(f64::INFINITY),
        1 => 1e-9..1e12f64,
    ], 0..400)) {
        let corrected = artifacts::correct(&rr);
        let nn = corrected.as_ref().map_or(rr.as_slice(), |c| c.nn.as_slice());
        let _ = time::time_domain(nn);
        let _ = frequency::frequency_domain(nn);
        let _ = dfa::dfa_alpha1(nn);
        if let Ok(c) = corrected {
            prop_assert_eq!(c.classes.len(), rr.len());
        }
    }
}
