//! NDJSON streams with a Polar H10's PMD ECG frames, for the tests of
//! `ecg.arrow`, its reader and its exports.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use rand::{Rng, SeedableRng};
use vigil::gatt::pmd::EcgFrame;
use vigil::model::Payload;

/// Samples per frame, as an H10 sends them.
pub const FRAME: usize = 73;

/// The PMD data characteristic as a stream line names it.
pub const PMD: &str = "fb005c82-02e7-f387-1cad-8acd2d8df0c8";

/// A realistic ECG at 130 Hz, µV: P, QRS and T waves (Gaussian bumps, R
/// about 1,000 µV) at ~70 bpm with beat-to-beat variation, baseline wander
/// of ±230 µV, and white noise of `noise_uv` (standard deviation).
pub fn realistic_uv(n: usize, noise_uv: f64, seed: u64) -> Vec<i32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let fs = 130.0;
    let mut out = Vec::with_capacity(n);
    let waves =
        [(-0.2, 120.0, 0.025), (-0.03, -100.0, 0.01), (0.0, 1000.0, 0.012), (0.03, -250.0, 0.012), (0.25, 300.0, 0.05)];
    let mut beats = vec![0.5];
    let gauss = |rng: &mut rand_chacha::ChaCha8Rng| {
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    for i in 0..n {
        let t = i as f64 / fs;
        while *beats.last().unwrap() < t + 1.0 {
            let next = beats.last().unwrap() + 0.85 + 0.05 * gauss(&mut rng);
            beats.push(next);
        }
        let mut v =
            150.0 * (std::f64::consts::TAU * 0.2 * t).sin() + 80.0 * (std::f64::consts::TAU * 0.05 * t + 1.0).sin();
        for b in beats.iter().rev().take(4) {
            for (off, a, w) in waves {
                let d = (t - b - off) / w;
                if d.abs() < 6.0 {
                    v += a * (-0.5 * d * d).exp();
                }
            }
        }
        v += noise_uv * gauss(&mut rng);
        out.push(v.round() as i32);
    }
    out
}

/// One frame as recorded: when it arrived (stream ms), its strap time
/// (ns since 2000) and samples.
#[derive(Debug, Clone)]
pub struct SentFrame {
    pub at_ms: u64,
    pub timestamp_ns: u64,
    pub samples_uv: Vec<i32>,
}

/// A stream of `samples` of a strap whose clock runs at `rate_hz` (its
/// frame timestamps advance by 73 samples at that rate), frames arriving
/// `first_ms` after the strap starts and then as they are due, with 0–19 ms
/// of radio jitter; a heart-rate notification every second; `connected`
/// at 0. Returns the stream lines (sorted) and the frames.
pub fn stream(device: &str, uv: &[i32], rate_hz: f64, first_ms: u64, seed: u64) -> (Vec<String>, Vec<SentFrame>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let strap0: u64 = 850_000_000_000_000_000; // 2026-12-08 in the strap's 2000 epoch
    let mut frames = Vec::new();
    let mut lines: Vec<(u64, String)> =
        vec![(0, format!(r#"{{"at_ms": 0, "device": "{device}", "event": "connected", "name": "Polar H10 1234"}}"#))];
    let mut last_at = 0;
    for (k, chunk) in uv.chunks(FRAME).enumerate() {
        let n = (k * FRAME + chunk.len()) as f64;
        let span_ns = ((n - 1.0) / rate_hz * 1e9).round() as u64;
        let at_ms = (first_ms + span_ns / 1_000_000 + rng.random_range(0..20)).max(last_at);
        last_at = at_ms;
        let frame = EcgFrame { timestamp_ns: strap0 + span_ns, samples_uv: chunk.to_vec() };
        let mut payload = Payload::new();
        frame.encode_into(&mut payload);
        lines.push((
            at_ms,
            format!(
                r#"{{"at_ms": {at_ms}, "device": "{device}", "characteristic": "{PMD}", "payload": "{}"}}"#,
                hex::encode(&payload)
            ),
        ));
        frames.push(SentFrame { at_ms, timestamp_ns: frame.timestamp_ns, samples_uv: frame.samples_uv });
    }
    for s in 1..=last_at / 1000 {
        lines.push((
            s * 1000,
            format!(r#"{{"at_ms": {}, "device": "{device}", "characteristic": "2a37", "payload": "0648"}}"#, s * 1000),
        ));
    }
    lines.sort_by_key(|l| l.0);
    (lines.into_iter().map(|l| l.1).collect(), frames)
}

/// Write `lines` as an NDJSON stream file.
pub fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
