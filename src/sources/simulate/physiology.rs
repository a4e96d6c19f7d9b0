//! The simulated participant: slowly varying signals and a beating heart.
//!
//! Every signal is a pure function of session time (a scripted curve plus
//! smooth noise drawn from a hash of the seed), so any number of devices can
//! read the same participant in any order and still agree, and a scenario
//! gives the same numbers for a seed however it is paced.
//!
//! The heart is the one sequential part: beat times come from integrating
//! the RR intervals, each modulated by respiratory sinus arrhythmia (RSA,
//! shrinking as heart rate rises, as vagal tone withdraws), a 0.1 Hz Mayer
//! wave and beat-to-beat jitter. Two straps on the same participant run two
//! copies of the same heart and see the same beats.

use std::f64::consts::TAU;

/// How a curve goes from one keyframe to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    Linear,
    /// Monotone cubic (PCHIP): passes through every keyframe, no corners,
    /// never overshoots between them, flat at the first and last (the
    /// default; drug effects and temperatures do not turn on a sixpence).
    #[default]
    Smooth,
    /// Hold each value until the next keyframe.
    Step,
}

/// One scripted quantity of the participant.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// `(seconds, value)`, strictly increasing in time. Before the first
    /// keyframe the value is `baseline`; after the last, the last value.
    keyframes: Vec<(f64, f64)>,
    /// Slope at each keyframe for [`Interpolation::Smooth`].
    slopes: Vec<f64>,
    pub baseline: f64,
    pub interpolation: Interpolation,
    /// Standard deviation of the slow wander around the curve (about).
    pub noise: f64,
    /// Time between independent noise knots (seconds): how slowly it wanders.
    pub noise_period_s: f64,
}

impl Signal {
    #[must_use]
    pub fn new(
        keyframes: Vec<(f64, f64)>,
        baseline: f64,
        interpolation: Interpolation,
        noise: f64,
        noise_period_s: f64,
    ) -> Self {
        let slopes = pchip_slopes(&keyframes);
        Self { keyframes, slopes, baseline, interpolation, noise, noise_period_s }
    }

    #[must_use]
    pub fn constant(value: f64, noise: f64, noise_period_s: f64) -> Self {
        Self::new(Vec::new(), value, Interpolation::Smooth, noise, noise_period_s)
    }

    #[must_use]
    pub fn keyframes(&self) -> &[(f64, f64)] {
        &self.keyframes
    }

    /// The scripted curve without noise.
    #[must_use]
    pub fn curve(&self, t: f64) -> f64 {
        let k = &self.keyframes;
        let Some(first) = k.first() else { return self.baseline };
        if t < first.0 {
            return self.baseline;
        }
        // First keyframe strictly after t.
        let i = k.partition_point(|(at, _)| *at <= t);
        if i >= k.len() {
            return k[k.len() - 1].1;
        }
        let (t0, v0) = k[i - 1];
        let (t1, v1) = k[i];
        let h = t1 - t0;
        let x = (t - t0) / h;
        match self.interpolation {
            Interpolation::Linear => v0 + (v1 - v0) * x,
            Interpolation::Smooth => {
                // Cubic Hermite basis.
                let (x2, x3) = (x * x, x * x * x);
                let h00 = 2.0 * x3 - 3.0 * x2 + 1.0;
                let h10 = x3 - 2.0 * x2 + x;
                let h01 = -2.0 * x3 + 3.0 * x2;
                let h11 = x3 - x2;
                h00 * v0 + h10 * h * self.slopes[i - 1] + h01 * v1 + h11 * h * self.slopes[i]
            }
            Interpolation::Step => v0,
        }
    }

    /// Curve plus noise, for the participant with this seed; `stream`
    /// keeps the noise of different signals independent.
    #[must_use]
    pub fn value(&self, t: f64, seed: u64, stream: u64) -> f64 {
        if self.noise == 0.0 {
            return self.curve(t);
        }
        // Two octaves: a slow wander and a faster, smaller one.
        let slow = smooth_noise(t / self.noise_period_s, seed, stream);
        let fast = smooth_noise(t * 5.0 / self.noise_period_s, seed, stream ^ 0x5EED);
        self.curve(t) + self.noise * (0.9 * slow + 0.45 * fast)
    }
}

/// Fritsch–Butland slopes (as in PCHIP): zero at extrema and at both ends,
/// a weighted harmonic mean of the neighbouring secants elsewhere, which
/// keeps each segment monotone.
fn pchip_slopes(k: &[(f64, f64)]) -> Vec<f64> {
    let mut slopes = vec![0.0; k.len()];
    for i in 1..k.len().saturating_sub(1) {
        let (h0, h1) = (k[i].0 - k[i - 1].0, k[i + 1].0 - k[i].0);
        let (d0, d1) = ((k[i].1 - k[i - 1].1) / h0, (k[i + 1].1 - k[i].1) / h1);
        if d0 * d1 > 0.0 {
            slopes[i] = 3.0 * (h0 + h1) / ((2.0 * h1 + h0) / d0 + (h1 + 2.0 * h0) / d1);
        }
    }
    slopes
}

/// The participant's signals, as scripted.
#[derive(Debug, Clone, PartialEq)]
pub struct Physiology {
    pub heart_rate_bpm: Signal,
    pub core_temperature_c: Signal,
    pub skin_temperature_c: Signal,
    pub ambient_temperature_c: Signal,
    pub spo2_pct: Signal,
    pub systolic_mmhg: Signal,
    pub diastolic_mmhg: Signal,
    /// Breaths per minute; sets the RSA rhythm.
    pub respiration_rate_bpm: f64,
    /// Scales heart-rate variability (RSA and jitter); 1 is a healthy adult
    /// at rest.
    pub hrv_scale: f64,
}

/// Noise streams, one per signal.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    HeartRate = 1,
    Core,
    Skin,
    Ambient,
    Spo2,
    Systolic,
    Diastolic,
    Breathing,
    Beat,
}

impl Default for Physiology {
    fn default() -> Self {
        Self {
            heart_rate_bpm: Signal::constant(70.0, 2.0, 60.0),
            core_temperature_c: Signal::constant(37.0, 0.05, 300.0),
            skin_temperature_c: Signal::constant(33.5, 0.15, 120.0),
            ambient_temperature_c: Signal::constant(22.0, 0.2, 600.0),
            spo2_pct: Signal::constant(98.0, 0.5, 30.0),
            systolic_mmhg: Signal::constant(120.0, 2.0, 600.0),
            diastolic_mmhg: Signal::constant(78.0, 1.5, 600.0),
            respiration_rate_bpm: 14.0,
            hrv_scale: 1.0,
        }
    }
}

impl Physiology {
    /// Heart rate as the sinus node would set it now (before beat-level
    /// variability), bpm.
    #[must_use]
    pub fn heart_rate(&self, t: f64, seed: u64) -> f64 {
        self.heart_rate_bpm.value(t, seed, Stream::HeartRate as u64).clamp(20.0, 250.0)
    }
}

/// A beat sequence. Cloning it gives a second sensor the same heart.
#[derive(Debug, Clone)]
pub struct Heart {
    seed: u64,
    /// Time of the last beat, seconds.
    last: f64,
    /// Index of the last beat.
    n: u64,
    breathing_phase: f64,
}

/// RSA amplitude (fraction of RR) at 70 bpm for `hrv_scale` 1: about
/// ±35 ms, an RMSSD near 35 ms, typical of a healthy adult at rest.
const RSA_AT_REST: f64 = 0.042;
const MAYER_AMPLITUDE: f64 = 0.012;
/// Beat-to-beat jitter, fraction of RR.
const JITTER: f64 = 0.008;

impl Heart {
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { seed, last: 0.0, n: 0, breathing_phase: unit(hash3(seed, Stream::Breathing as u64, 0)) * TAU }
    }

    /// The next beat: `(time of the beat, RR interval that ended there)`,
    /// both in seconds.
    pub fn next_beat(&mut self, phys: &Physiology) -> (f64, f64) {
        let t = self.last;
        let hr = phys.heart_rate(t, self.seed);
        let base = 60.0 / hr;
        // Vagal withdrawal: RSA falls off steeply as heart rate rises.
        let rsa = RSA_AT_REST * phys.hrv_scale * (70.0 / hr).powi(2);
        let breaths_hz = phys.respiration_rate_bpm / 60.0;
        let breathing = TAU * breaths_hz * t
            + self.breathing_phase
            + 0.6 * smooth_noise(t / 20.0, self.seed, Stream::Breathing as u64);
        let mayer = MAYER_AMPLITUDE * phys.hrv_scale.min(1.0) * (TAU * 0.1 * t).sin();
        self.n += 1;
        let jitter = JITTER * phys.hrv_scale * gauss(self.seed, Stream::Beat as u64, self.n);
        let rr = (base * (1.0 + rsa * breathing.sin() + mayer + jitter)).clamp(0.24, 3.0);
        self.last = t + rr;
        (self.last, rr)
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash.
#[must_use]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[must_use]
pub fn hash3(seed: u64, stream: u64, index: u64) -> u64 {
    mix(mix(mix(seed) ^ stream) ^ index)
}

/// Uniform in [0, 1).
#[must_use]
pub fn unit(h: u64) -> f64 {
    // 53 random bits -> exact f64 in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    let x = (h >> 11) as f64;
    x / (1u64 << 53) as f64
}

/// Approximately standard normal deviate for `(seed, stream, index)`: the
/// sum of four 16-bit uniforms from one hash (Irwin–Hall), scaled to unit
/// variance. One hash and no transcendental functions (it runs several
/// times per simulated beat), and bounded at ±3.5 sd, which suits
/// physiological noise better than a true normal's rare outliers.
#[must_use]
pub fn gauss(seed: u64, stream: u64, index: u64) -> f64 {
    let h = hash3(seed, stream, index);
    let sum: u64 = (0..4).map(|i| (h >> (16 * i)) & 0xFFFF).sum();
    // The sum is at most 4 × 65535: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let u = sum as f64 / 65535.0;
    (u - 2.0) * 3.0_f64.sqrt()
}

/// Value noise: independent standard normal knots at integer `x`, joined by
/// cosine interpolation. Smooth, stationary, and computable at any `x`
/// without state.
#[must_use]
pub fn smooth_noise(x: f64, seed: u64, stream: u64) -> f64 {
    let x = x.max(0.0);
    let k = x.floor();
    let f = x - k;
    // x is a session time over a period: far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = k as u64;
    let a = gauss(seed, stream, i);
    let b = gauss(seed, stream, i + 1);
    let w = (1.0 - (f * std::f64::consts::PI).cos()) / 2.0;
    a + (b - a) * w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(interpolation: Interpolation) -> Signal {
        Signal::new(vec![(10.0, 70.0), (20.0, 110.0), (30.0, 90.0)], 60.0, interpolation, 0.0, 60.0)
    }

    #[test]
    fn curves_interpolate_between_keyframes() {
        let s = ramp(Interpolation::Linear);
        assert_eq!(s.curve(0.0), 60.0);
        assert_eq!(s.curve(10.0), 70.0);
        assert_eq!(s.curve(15.0), 90.0);
        assert_eq!(s.curve(25.0), 100.0);
        assert_eq!(s.curve(99.0), 90.0);
        let smooth = ramp(Interpolation::Smooth);
        assert_eq!(smooth.curve(20.0), 110.0, "passes through keyframes");
        assert!(smooth.curve(11.0) < s.curve(11.0), "eases in");
        // Never overshoots: the peak keyframe is the maximum.
        let max = (1000..3000).map(|i| smooth.curve(f64::from(i) / 100.0)).fold(f64::MIN, f64::max);
        assert!(max <= 110.0 + 1e-9, "overshoot {max}");
        // Monotone on a monotone run of keyframes.
        let up =
            Signal::new(vec![(0.0, 0.0), (1.0, 10.0), (5.0, 11.0), (6.0, 30.0)], 0.0, Interpolation::Smooth, 0.0, 1.0);
        let ys: Vec<f64> = (0..600).map(|i| up.curve(f64::from(i) / 100.0)).collect();
        assert!(ys.windows(2).all(|w| w[1] >= w[0] - 1e-12));
        assert_eq!(ramp(Interpolation::Step).curve(19.9), 70.0);
    }

    #[test]
    fn noise_is_deterministic_and_about_unit_variance() {
        let xs: Vec<f64> = (0..20_000).map(|i| smooth_noise(f64::from(i) * 0.37, 7, 1)).collect();
        let again: Vec<f64> = (0..20_000).map(|i| smooth_noise(f64::from(i) * 0.37, 7, 1)).collect();
        assert_eq!(xs, again);
        let mean = xs.iter().sum::<f64>() / 20_000.0;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 20_000.0).sqrt();
        assert!(mean.abs() < 0.1, "mean {mean}");
        assert!((0.6..1.0).contains(&sd), "sd {sd}");
        assert_ne!(smooth_noise(3.3, 8, 1), smooth_noise(3.3, 7, 1), "seed matters");
    }

    #[test]
    fn rr_follows_heart_rate_with_resting_variability() {
        let phys = Physiology::default();
        let mut heart = Heart::new(3);
        let beats: Vec<(f64, f64)> = (0..2000).map(|_| heart.next_beat(&phys)).collect();
        let mean_rr = beats.iter().map(|b| b.1).sum::<f64>() / 2000.0;
        assert!((60.0 / mean_rr - 70.0).abs() < 3.0, "mean HR {}", 60.0 / mean_rr);
        let rmssd_ms = (beats.windows(2).map(|w| (w[1].1 - w[0].1).powi(2)).sum::<f64>() / 1999.0).sqrt() * 1000.0;
        assert!((15.0..80.0).contains(&rmssd_ms), "RMSSD {rmssd_ms} ms");
        // Beat times are the running sum of RR.
        assert!((beats[1999].0 - beats.iter().map(|b| b.1).sum::<f64>()).abs() < 1e-6);
    }

    #[test]
    fn variability_shrinks_at_high_heart_rate() {
        let rest = Physiology::default();
        let fast = Physiology { heart_rate_bpm: Signal::constant(130.0, 2.0, 60.0), ..Physiology::default() };
        let rmssd = |phys: &Physiology| {
            let mut h = Heart::new(5);
            let rr: Vec<f64> = (0..1000).map(|_| h.next_beat(phys).1).collect();
            (rr.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>() / 999.0).sqrt()
        };
        assert!(rmssd(&fast) < rmssd(&rest) / 2.0);
    }
}
