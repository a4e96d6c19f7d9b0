//! A synthetic ECG whose R peaks are given beats: the dynamical model of
//! McSharry, Clifford, Tarassenko and Smith (2003), "A dynamical model for
//! generating synthetic electrocardiogram signals", IEEE Transactions on
//! Biomedical Engineering 50(3):289–294 (ECGSYN).
//!
//! ECGSYN moves a point around a limit cycle with phase θ and lets its
//! height z be pushed by five Gaussian events at fixed angles, the P, Q, R,
//! S and T waves:
//!
//! dz/dt = −Σᵢ aᵢ Δθᵢ exp(−Δθᵢ² / 2bᵢ²) − (z − z₀),   Δθᵢ = (θ − θᵢ) mod 2π
//!
//! with θᵢ = (−π/3, −π/12, 0, π/12, π/2), aᵢ = (1.2, −5, 30, −7.5, 0.75),
//! bᵢ = (0.25, 0.1, 0.1, 0.1, 0.4), and z₀ a respiratory baseline wander.
//! As ECGSYN does, the widths scale with √(HR/60) and the angles of Q and S
//! with √(HR/60), of P and T with (HR/60)^¼, HR being the rate of the
//! current beat, so the waves keep plausible durations as the rate changes.
//!
//! Here the phase is not a free oscillator: it is driven by the given beat
//! times, θ = 2π (t − beatₖ) / (beatₖ₊₁ − beatₖ) between two beats, so the R
//! wave (θ = 0) peaks exactly at each beat — the beats whose RR intervals a
//! simulated strap reports. Within one RR interval θ is linear in t, so the
//! wave term is the time derivative of w(t) = Σᵢ Aᵢ exp(−Δθᵢ²/2bᵢ²) with
//! Aᵢ = aᵢbᵢ²/ω, and z = w + y where y' = −y + z₀ − w: the fast waves are
//! evaluated exactly at each sample and only the slow remainder y (time
//! constant 1 s) is integrated, with the exponential–trapezoid step, which
//! for that smooth low-pass is exact to far below a microvolt at the
//! sampling rate. This is the model's exact solution, not an approximation
//! of its shape, at the cost of a few exponentials per sample: an 8-hour
//! session is 3.7 million samples, made one at a time without memory.
//!
//! The model's arbitrary units are scaled so that the R wave is
//! [`EcgConfig::r_amplitude_uv`] high; seeded Gaussian noise is added and
//! the result rounded to whole microvolts, as a Polar H10 reports them.

use std::f64::consts::{PI, TAU};

use super::physiology::{Heart, Physiology, gauss};

/// `(θᵢ, aᵢ, bᵢ)` of P, Q, R, S, T (McSharry et al. 2003, Table 1).
const WAVES: [(f64, f64, f64); 5] =
    [(-PI / 3.0, 1.2, 0.25), (-PI / 12.0, -5.0, 0.1), (0.0, 30.0, 0.1), (PI / 12.0, -7.5, 0.1), (PI / 2.0, 0.75, 0.4)];
/// Index of the R wave in [`WAVES`].
const R: usize = 2;
/// How each wave's angle scales with the heart-rate factor √(HR/60): P and
/// T by its square root, Q and S by it, R not at all (ECGSYN's `ti`).
const ANGLE_POWER: [f64; 5] = [0.5, 1.0, 0.0, 1.0, 0.5];
/// A Gaussian beyond this many widths adds less than 10⁻⁷ of its height.
const CUTOFF_WIDTHS: f64 = 5.7;
/// Seconds integrated before the first sample, so the slow remainder has
/// settled (five time constants) and the first samples look like the rest.
const PRE_ROLL_S: f64 = 5.0;
/// Noise stream of the ECG in [`gauss`].
const NOISE_STREAM: u64 = 0xEC6;
/// The largest magnitude PMD's 24-bit samples carry.
const MAX_UV: f64 = 8_388_607.0;

/// What the generated ECG looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgConfig {
    /// Samples per second.
    pub rate_hz: f64,
    /// Time of sample 0, seconds (session time for the simulator).
    pub start_s: f64,
    /// Height of the R wave, µV.
    pub r_amplitude_uv: f64,
    /// Standard deviation of the added noise, µV.
    pub noise_uv: f64,
    /// Amplitude of the respiratory baseline wander z₀, µV (before the
    /// model's own smoothing, which halves it at 0.25 Hz).
    pub wander_uv: f64,
    /// Frequency of the baseline wander, Hz.
    pub respiration_hz: f64,
}

impl Default for EcgConfig {
    fn default() -> Self {
        Self {
            rate_hz: 130.0,
            start_s: 0.0,
            r_amplitude_uv: 1300.0,
            noise_uv: 15.0,
            wander_uv: 60.0,
            respiration_hz: 0.25,
        }
    }
}

/// The waves of one RR interval: each `(angle, A, 1/(2b²), cutoff)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval {
    start: f64,
    rr: f64,
    waves: [(f64, f64, f64, f64); 5],
}

impl Interval {
    fn new(start: f64, rr: f64) -> Self {
        let omega = TAU / rr;
        let hr_factor = (60.0 / rr / 60.0).sqrt();
        let waves = std::array::from_fn(|i| {
            let (theta, a, b) = WAVES[i];
            let b = b * hr_factor;
            (theta * hr_factor.powf(ANGLE_POWER[i]), a * b * b / omega, 1.0 / (2.0 * b * b), CUTOFF_WIDTHS * b)
        });
        Self { start, rr, waves }
    }

    /// The fast part w of z at time `t`.
    fn waves_at(&self, t: f64) -> f64 {
        let theta = TAU * (t - self.start) / self.rr;
        let mut w = 0.0;
        for &(angle, amplitude, inv_2b2, cutoff) in &self.waves {
            // Wrapped into [−π, π): the nearest occurrence of the wave.
            let d = (theta - angle + PI).rem_euclid(TAU) - PI;
            if d.abs() < cutoff {
                w += amplitude * (-d * d * inv_2b2).exp();
            }
        }
        w
    }
}

/// Height of the R wave in model units: the same at every heart rate,
/// since bᵢ² grows with the rate as fast as ω does.
fn r_height_units() -> f64 {
    let (_, a, b) = WAVES[R];
    a * b * b / TAU
}

/// The ECG, one sample at a time, driven by beat times (seconds, strictly
/// increasing). Before the first beat the first RR interval is repeated
/// backwards; after the beats run out, the last one is repeated.
#[derive(Debug, Clone)]
pub struct EcgSynth<B> {
    beats: B,
    config: EcgConfig,
    seed: u64,
    interval: Interval,
    /// Index of the next sample (negative during the pre-roll).
    n: i64,
    /// The slow remainder y and the last input to it (z₀ − w).
    y: f64,
    last_input: f64,
    decay: f64,
    step_s: f64,
    uv_per_unit: f64,
    wander_units: f64,
}

impl<B: Iterator<Item = f64>> EcgSynth<B> {
    /// A generator of `config`'s samples with R peaks at `beats` (at least
    /// two beats; with fewer, a beat a second is assumed).
    pub fn new(config: EcgConfig, seed: u64, mut beats: B) -> Self {
        let first = beats.next().unwrap_or(config.start_s);
        let second = beats.next().filter(|b| *b > first).unwrap_or(first + 1.0);
        let step_s = 1.0 / config.rate_hz;
        let uv_per_unit = config.r_amplitude_uv / r_height_units();
        // Pre-roll length in samples: a few hundred.
        #[allow(clippy::cast_possible_truncation)]
        let pre_roll = (PRE_ROLL_S * config.rate_hz).ceil() as i64;
        let mut s = Self {
            beats,
            config,
            seed,
            interval: Interval::new(first, second - first),
            n: -pre_roll,
            y: 0.0,
            last_input: 0.0,
            decay: (-step_s).exp(),
            step_s,
            uv_per_unit,
            wander_units: config.wander_uv / uv_per_unit,
        };
        let before = s.time_s(s.n - 1);
        s.last_input = s.wander(before) - s.wave_at(before);
        while s.n < 0 {
            s.advance();
        }
        s
    }

    /// Time of sample `n`, seconds.
    #[must_use]
    pub fn time_s(&self, n: i64) -> f64 {
        // Sample indices stay far below 2^53.
        #[allow(clippy::cast_precision_loss)]
        let n = n as f64;
        self.config.start_s + n * self.step_s
    }

    /// Index of the next sample [`EcgSynth::next_sample`] returns.
    #[must_use]
    pub fn next_index(&self) -> u64 {
        u64::try_from(self.n).unwrap_or(0)
    }

    /// The baseline z₀, model units.
    fn wander(&self, t: f64) -> f64 {
        self.wander_units * (TAU * self.config.respiration_hz * t).sin()
    }

    /// w at `t`, moving to the RR interval that holds it. The waves'
    /// widths change with the rate at each beat, which makes w step there
    /// while the model's z is continuous: the step goes into y, decayed to
    /// the next sample (at `t`).
    fn wave_at(&mut self, t: f64) -> f64 {
        while t >= self.interval.start + self.interval.rr {
            let start = self.interval.start + self.interval.rr;
            let next = self.beats.next().filter(|b| *b > start).unwrap_or(start + self.interval.rr);
            let before = self.interval.waves_at(start);
            self.interval = Interval::new(start, next - start);
            let step = before - self.interval.waves_at(start);
            // The sample's update decays y by one step; the jump happened
            // only `t - start` before the sample.
            self.y += step * (self.step_s - (t - start)).exp();
        }
        self.interval.waves_at(t)
    }

    /// z at the next sample, model units, and moves on.
    fn advance(&mut self) -> f64 {
        let t = self.time_s(self.n);
        self.n += 1;
        let w = self.wave_at(t);
        let input = self.wander(t) - w;
        self.y = self.decay * self.y + 0.5 * self.step_s * (self.decay * self.last_input + input);
        self.last_input = input;
        w + self.y
    }

    fn noise_uv(&self, n: u64) -> f64 {
        self.config.noise_uv * gauss(self.seed, NOISE_STREAM, n)
    }

    /// The next sample, µV. Without skin contact the electrodes pick up no
    /// heart: the sample is noise alone (the model runs on regardless).
    pub fn next_sample(&mut self, skin_contact: bool) -> i32 {
        let n = self.next_index();
        let z = self.advance();
        let uv = if skin_contact { z * self.uv_per_unit + self.noise_uv(n) } else { self.noise_uv(n) };
        // Clamped to the 24-bit range first.
        #[allow(clippy::cast_possible_truncation)]
        let s = uv.clamp(-MAX_UV, MAX_UV).round() as i32;
        s
    }
}

impl<B: Iterator<Item = f64>> Iterator for EcgSynth<B> {
    type Item = i32;

    fn next(&mut self) -> Option<i32> {
        Some(self.next_sample(true))
    }
}

/// The beats of a simulated participant's heart, as times in seconds: the
/// same sequence a strap's copy of the [`Heart`] produces (its RR
/// intervals are the strap's 0x2A37 RR), preceded by the heart's start at
/// 0, from which the first RR interval counts.
#[derive(Debug, Clone)]
pub struct HeartBeats {
    heart: Heart,
    physiology: Physiology,
    started: bool,
}

impl HeartBeats {
    #[must_use]
    pub fn new(seed: u64, physiology: &Physiology) -> Self {
        Self { heart: Heart::new(seed), physiology: physiology.clone(), started: false }
    }
}

impl Iterator for HeartBeats {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if !self.started {
            self.started = true;
            return Some(0.0);
        }
        Some(self.heart.next_beat(&self.physiology).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beats from 55 to 150 bpm with respiratory variability.
    fn beats(n: usize) -> Vec<f64> {
        let mut t = 0.3;
        (0..n)
            .map(|i| {
                let x = i as f64;
                let hr = 55.0 + 95.0 * (0.5 - 0.5 * (x / n as f64 * TAU).cos());
                let rr = 60.0 / hr * (1.0 + 0.04 * (x * 0.9).sin());
                t += rr;
                t - rr
            })
            .collect()
    }

    fn generate(beats: &[f64], config: EcgConfig, seed: u64, seconds: f64) -> Vec<i32> {
        let mut synth = EcgSynth::new(config, seed, beats.iter().copied());
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (seconds * config.rate_hz) as usize;
        (0..n).map(|_| synth.next_sample(true)).collect()
    }

    #[test]
    fn r_peaks_fall_on_the_given_beats() {
        let beats = beats(400);
        let config = EcgConfig { start_s: 0.0, ..EcgConfig::default() };
        let period = 1.0 / config.rate_hz;
        let ecg = generate(&beats, config, 7, beats[399]);
        let mut heights = Vec::new();
        for b in &beats[1..398] {
            // The largest sample within 100 ms of the beat.
            let lo = ((b - 0.1) / period).ceil() as usize;
            let hi = ((b + 0.1) / period).floor() as usize;
            let (i, v) = (lo..=hi).map(|i| (i, ecg[i])).max_by_key(|&(_, v)| v).unwrap();
            let t = i as f64 * period;
            assert!((t - b).abs() <= period, "beat at {b:.4} s, QRS maximum at {t:.4} s");
            heights.push(v);
        }
        let (lo, hi) = (heights.iter().min().unwrap(), heights.iter().max().unwrap());
        assert!(*lo > 900 && *hi < 1500, "R heights {lo}..{hi} µV");
        // A real ECG's range: nothing far beyond the R wave, troughs (S,
        // baseline) a few hundred µV below zero at most.
        let (min, max) = (ecg.iter().min().unwrap(), ecg.iter().max().unwrap());
        assert!(*min > -600 && *max < 1600, "range {min}..{max} µV");
    }

    #[test]
    fn waves_have_plausible_heights() {
        // At 60 bpm: a T wave a quarter to a half of R, a P wave smaller,
        // Q and S below the baseline.
        let beats: Vec<f64> = (0..40).map(f64::from).collect();
        let config = EcgConfig { noise_uv: 0.0, wander_uv: 0.0, rate_hz: 1000.0, ..EcgConfig::default() };
        let ecg = generate(&beats, config, 1, 39.0);
        let at = |t: f64| ecg[(t * 1000.0).round() as usize];
        let beat = 20.0;
        let baseline = at(beat - 0.45);
        let r = at(beat) - baseline;
        let peak = |from: f64, to: f64| ((from * 1000.0) as usize..(to * 1000.0) as usize).map(|i| ecg[i]).max();
        let trough = |from: f64, to: f64| ((from * 1000.0) as usize..(to * 1000.0) as usize).map(|i| ecg[i]).min();
        let t_wave = peak(beat + 0.15, beat + 0.45).unwrap() - baseline;
        let p_wave = peak(beat - 0.3, beat - 0.1).unwrap() - baseline;
        let q = trough(beat - 0.06, beat - 0.01).unwrap() - baseline;
        let s = trough(beat + 0.01, beat + 0.06).unwrap() - baseline;
        assert!((1100..1500).contains(&r), "R {r}");
        assert!(t_wave > r / 5 && t_wave < r / 2, "T {t_wave}, R {r}");
        assert!(p_wave > 50 && p_wave < t_wave, "P {p_wave}");
        assert!(q < 0 && s < q, "Q {q}, S {s}");
    }

    #[test]
    fn the_same_seed_gives_the_same_samples_and_another_seed_other_noise() {
        let beats = beats(50);
        let a = generate(&beats, EcgConfig::default(), 3, 20.0);
        assert_eq!(a, generate(&beats, EcgConfig::default(), 3, 20.0));
        let b = generate(&beats, EcgConfig::default(), 4, 20.0);
        assert_ne!(a, b);
        let diff: Vec<f64> = a.iter().zip(&b).map(|(x, y)| f64::from(x - y)).collect();
        let sd = (diff.iter().map(|d| d * d).sum::<f64>() / diff.len() as f64 / 2.0).sqrt();
        assert!((10.0..20.0).contains(&sd), "noise sd {sd} µV");
    }

    #[test]
    fn the_exact_step_matches_a_fine_runge_kutta_integration_of_the_model() {
        // Integrate ECGSYN's z equation directly (RK4 at 20 kHz) over beats
        // at changing rates and compare with the generator's samples.
        let beats = [0.0, 0.8, 1.45, 2.0, 2.5, 3.3, 4.4, 5.0, 5.6, 6.5];
        let config = EcgConfig { noise_uv: 0.0, start_s: 0.0, ..EcgConfig::default() };
        let mut synth = EcgSynth::new(config, 1, beats.iter().copied());
        let uv_per_unit = config.r_amplitude_uv / r_height_units();
        let wander = config.wander_uv / uv_per_unit;
        let interval_at = |t: f64| {
            let k = beats.partition_point(|b| *b <= t).clamp(1, beats.len() - 1);
            Interval::new(beats[k - 1], beats[k] - beats[k - 1])
        };
        let dz = |t: f64, z: f64| {
            let iv = interval_at(t);
            let omega = TAU / iv.rr;
            let theta = omega * (t - iv.start);
            let mut f = 0.0;
            for &(angle, amplitude, inv_2b2, _) in &iv.waves {
                let d = (theta - angle + PI).rem_euclid(TAU) - PI;
                // A = a b²/ω and 1/(2b²) give back a Δθ exp(−Δθ²/2b²).
                let a = amplitude * omega * 2.0 * inv_2b2;
                f -= a * d * (-d * d * inv_2b2).exp();
            }
            f - (z - wander * (TAU * config.respiration_hz * t).sin())
        };
        // Start the reference from the generator's own state at 0.5 s
        // (after its pre-roll), then compare for six seconds.
        let h = 1.0 / 20_000.0;
        let samples: Vec<i32> = (0..860).map(|_| synth.next_sample(true)).collect();
        let first = 65;
        let mut t = first as f64 / 130.0;
        let mut z = f64::from(samples[first]) / uv_per_unit;
        let mut worst: f64 = 0.0;
        for (i, s) in samples.iter().enumerate().skip(first + 1) {
            let until = i as f64 / 130.0;
            while t + h <= until + 1e-12 {
                let k1 = dz(t, z);
                let k2 = dz(t + h / 2.0, z + h / 2.0 * k1);
                let k3 = dz(t + h / 2.0, z + h / 2.0 * k2);
                let k4 = dz(t + h, z + h * k3);
                z += h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
                t += h;
            }
            let step = until - t;
            z += step * dz(t, z);
            t = until;
            worst = worst.max((z * uv_per_unit - f64::from(*s)).abs());
        }
        // Rounding to whole µV and the start's rounding: within 1 µV.
        assert!(worst < 1.0, "largest difference {worst} µV");
    }

    #[test]
    fn without_skin_contact_only_noise_remains() {
        let beats = beats(50);
        let mut synth = EcgSynth::new(EcgConfig::default(), 2, beats.iter().copied());
        let off: Vec<i32> = (0..2000).map(|_| synth.next_sample(false)).collect();
        let max = off.iter().map(|v| v.abs()).max().unwrap();
        assert!(max < 100, "largest |sample| off the skin {max} µV");
    }

    #[test]
    fn heart_beats_match_a_straps_heart() {
        let phys = Physiology::default();
        let mut heart = Heart::new(9);
        let mut beats = HeartBeats::new(9, &phys);
        assert_eq!(beats.next(), Some(0.0));
        for _ in 0..100 {
            assert_eq!(beats.next(), Some(heart.next_beat(&phys).0));
        }
    }
}
