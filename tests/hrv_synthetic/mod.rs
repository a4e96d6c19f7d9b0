//! Seeded synthetic RR series, shared by the HRV reference test
//! (`tests/hrv_reference.rs`) and the HRV bench (`benches/hrv.rs`, which
//! includes this file by path).

#![allow(dead_code)]

/// RR intervals are whole ticks of 1/1024 s, as the sensors send them.
pub const TICKS_PER_S: f64 = 1024.0;

/// splitmix64: a seeded generator with no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }
}

/// What a synthetic series looks like.
pub struct Rhythm {
    /// Length, minutes.
    pub minutes: f64,
    /// Heart rate at the start and at the end, bpm; it moves linearly in
    /// between.
    pub hr_bpm: (f64, f64),
    /// Amplitudes at the starting rate, ms, of the VLF (0.02 Hz), LF
    /// (0.1 Hz) and HF (0.25 Hz, respiratory sinus arrhythmia)
    /// oscillations. They shrink with the mean RR as the rate rises, as
    /// variability does.
    pub vlf_ms: f64,
    pub lf_ms: f64,
    pub hf_ms: f64,
    /// Standard deviation of the beat-to-beat noise, ms.
    pub noise_ms: f64,
    /// Beats from one injected artifact to the next (fewest, most), drawn
    /// uniformly; `None` for a clean series.
    pub artifact_gap: Option<(usize, usize)>,
}

/// RR ticks following `rhythm`; with artifacts, from beat 50 on, an
/// ectopic beat (30 % early, then the compensatory pause), a missed beat
/// (two intervals merged) or an extra one (an interval split 40/60), in
/// turn.
pub fn synthetic(seed: u64, rhythm: &Rhythm) -> Vec<i64> {
    let mut rng = Rng(seed);
    let tau = 2.0 * std::f64::consts::PI;
    let duration_s = rhythm.minutes * 60.0;
    let (hr_start, hr_end) = rhythm.hr_bpm;
    let first_mean_ms = 60_000.0 / hr_start;
    let mut t = 0.0;
    let mut rr = Vec::new();
    while t < duration_s {
        let mean_ms = 60_000.0 / (hr_start + (hr_end - hr_start) * (t / duration_s));
        let scale = mean_ms / first_mean_ms;
        let ms = mean_ms
            + scale * rhythm.vlf_ms * (tau * 0.02 * t).sin()
            + scale * rhythm.lf_ms * (tau * 0.1 * t).sin()
            + scale * rhythm.hf_ms * (tau * 0.25 * t + 1.0).sin()
            + rhythm.noise_ms * rng.normal();
        t += ms / 1000.0;
        rr.push(ms);
    }
    if let Some((fewest, most)) = rhythm.artifact_gap {
        let mut k = 50;
        let mut kind = 0;
        while k + 2 < rr.len() {
            match kind % 3 {
                0 => {
                    let early = 0.3 * rr[k];
                    rr[k] -= early;
                    rr[k + 1] += early;
                }
                1 => {
                    rr[k] += rr[k + 1];
                    rr.remove(k + 1);
                }
                _ => {
                    let whole = rr[k];
                    rr[k] = 0.4 * whole;
                    rr.insert(k + 1, 0.6 * whole);
                }
            }
            kind += 1;
            k += fewest + (rng.next() % (most - fewest + 1) as u64) as usize;
        }
    }
    rr.iter().map(|ms| (ms * TICKS_PER_S / 1000.0).round() as i64).collect()
}
