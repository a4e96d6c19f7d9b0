//! Frequency-domain measures, as hrv-analysis 1.0.6's
//! `get_frequency_domain_features(method="welch")` computes them: the NN
//! series linearly interpolated at 4 Hz, its mean removed, a Welch
//! periodogram (Hann, 256 samples, 50 % overlap, nfft 4096, each segment's
//! mean removed, density scaling, one-sided) and band powers by the
//! trapezoid rule.
//!
//! Each segment's 4096-point DFT is an FFT (`rustfft`, planned once per
//! process), two real segments to a complex transform. Of its bins only
//! the 410 below 0.4 Hz are kept.

use std::sync::{Arc, OnceLock};

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::{Unavailable, check_intervals, mean, need_beats};

/// Interpolation rate of the NN series, Hz.
const FS_HZ: f64 = 4.0;
/// Welch segment length, samples.
const SEGMENT: usize = 256;
/// DFT length (each segment zero-padded to it).
const NFFT: usize = 4096;
/// Bands, Hz, each [low, high).
pub const VLF_HZ: (f64, f64) = (0.003, 0.04);
/// Low-frequency band, Hz.
pub const LF_HZ: (f64, f64) = (0.04, 0.15);
/// High-frequency band, Hz.
pub const HF_HZ: (f64, f64) = (0.15, 0.4);
/// Shortest window for any frequency measure, s.
pub const MIN_SPAN_S: f64 = 120.0;
/// Shortest window for VLF (and so total power), s.
pub const VLF_MIN_SPAN_S: f64 = 300.0;

/// Longest window, s: bounds the interpolated series' memory and the
/// periodogram's work.
pub const MAX_SPAN_S: f64 = 48.0 * 3600.0;

/// Frequency-domain HRV of one window's NN intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrequencyDomain {
    /// Very-low-frequency power, ms²; windows under 5 min have none.
    pub vlf_ms2: Result<f64, Unavailable>,
    /// Low-frequency power, ms².
    pub lf_ms2: f64,
    /// High-frequency power, ms².
    pub hf_ms2: f64,
    /// VLF + LF + HF, ms²; as VLF, none under 5 min.
    pub total_power_ms2: Result<f64, Unavailable>,
    /// LF / HF; none when HF is 0.
    pub lf_hf: Result<f64, Unavailable>,
    /// 100 × LF / (LF + HF), %; none when both are 0.
    pub lf_nu: Result<f64, Unavailable>,
    /// 100 × HF / (LF + HF), %; none when both are 0.
    pub hf_nu: Result<f64, Unavailable>,
}

/// The frequency domain of `nn` (ms), or why it has none.
///
/// # Errors
/// [`Unavailable::InvalidInterval`] for a non-finite or non-positive
/// interval, [`Unavailable::TooShort`] when the intervals add up to less
/// than [`MIN_SPAN_S`], [`Unavailable::TooLong`] over [`MAX_SPAN_S`].
pub fn frequency_domain(nn: &[f64]) -> Result<FrequencyDomain, Unavailable> {
    check_intervals(nn)?;
    need_beats(nn, 2)?;
    let span_s = nn.iter().sum::<f64>() / 1000.0;
    if span_s < MIN_SPAN_S {
        return Err(Unavailable::TooShort { needed_s: MIN_SPAN_S, got_s: span_s });
    }
    if span_s > MAX_SPAN_S {
        return Err(Unavailable::TooLong { limit_s: MAX_SPAN_S, got_s: span_s });
    }
    let mut series = interpolate(nn);
    if series.len() < 2 {
        // Only a pathological first interval (most of the window) gets here.
        return Err(Unavailable::TooFewBeats { needed: 2, got: series.len() });
    }
    let m = mean(&series);
    for v in &mut series {
        *v -= m;
    }
    let (freq, psd) = welch(&series);
    let band = |(lo, hi): (f64, f64)| {
        let picked: Vec<(f64, f64)> =
            freq.iter().zip(&psd).filter(|(f, _)| **f >= lo && **f < hi).map(|(&f, &p)| (f, p)).collect();
        picked.windows(2).map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0).sum::<f64>()
    };
    let (vlf, lf, hf) = (band(VLF_HZ), band(LF_HZ), band(HF_HZ));
    let vlf_ms2 = if span_s < VLF_MIN_SPAN_S {
        Err(Unavailable::TooShort { needed_s: VLF_MIN_SPAN_S, got_s: span_s })
    } else {
        Ok(vlf)
    };
    let ratio = |num: f64, den: f64| if den > 0.0 { Ok(num / den) } else { Err(Unavailable::NoVariability) };
    Ok(FrequencyDomain {
        vlf_ms2,
        lf_ms2: lf,
        hf_ms2: hf,
        total_power_ms2: vlf_ms2.map(|v| v + lf + hf),
        lf_hf: ratio(lf, hf),
        lf_nu: ratio(100.0 * lf, lf + hf),
        hf_nu: ratio(100.0 * hf, lf + hf),
    })
}

/// NN (ms) at each beat's time (s, from the first beat), linearly
/// interpolated at 0, 1/4, … s up to, not including, the last beat, as
/// scipy's `interp1d` evaluates it.
fn interpolate(nn: &[f64]) -> Vec<f64> {
    let mut t = Vec::with_capacity(nn.len());
    let mut sum = 0.0;
    for &v in nn {
        sum += v;
        t.push(sum / 1000.0);
    }
    let t0 = t[0];
    for x in &mut t {
        *x -= t0;
    }
    let last = t[t.len() - 1];
    let samples = (last * FS_HZ).ceil() as usize;
    let mut out = Vec::with_capacity(samples);
    let mut hi = 1;
    for i in 0..samples {
        let at = i as f64 / FS_HZ;
        // interp1d: the first knot not below `at`, kept within [1, n − 1].
        while hi < t.len() - 1 && t[hi] < at {
            hi += 1;
        }
        let lo = hi - 1;
        let slope = (nn[hi] - nn[lo]) / (t[hi] - t[lo]);
        out.push(slope * (at - t[lo]) + nn[lo]);
    }
    out
}

/// scipy's `welch(x, fs=4, window="hann", nfft=4096)` for the bins below
/// the HF band's top: frequencies (Hz) and density (ms²/Hz).
fn welch(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
    // scipy shortens the segment to the series when the series is shorter.
    let seg = SEGMENT.min(x.len());
    let step = seg - seg / 2;
    let window: Vec<f64> =
        (0..seg).map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / seg as f64).cos()).collect();
    let scale = 1.0 / (FS_HZ * window.iter().map(|w| w * w).sum::<f64>());
    let bins = (HF_HZ.1 * NFFT as f64 / FS_HZ).ceil() as usize + 1;
    static FFT: OnceLock<Arc<dyn Fft<f64>>> = OnceLock::new();
    let fft = FFT.get_or_init(|| FftPlanner::new().plan_fft_forward(NFFT));
    let mut buffer = vec![Complex::default(); NFFT];
    let mut scratch = vec![Complex::default(); fft.get_inplace_scratch_len()];
    let tapered = |s: usize| {
        let part = &x[s * step..s * step + seg];
        let m = mean(part);
        part.iter().zip(&window).map(move |(&v, &w)| (v - m) * w)
    };
    let mut psd = vec![0.0; bins];
    let segments = (x.len() - seg) / step + 1;
    // Two real segments per complex transform, one as the real part and
    // one as the imaginary: Z = A + iB, and with Z*[k] = conj(Z[N − k]),
    // A = (Z + Z*) / 2 and B = (Z − Z*) / 2i; only |B|² counts, so the
    // division by i is left out.
    for s in (0..segments).step_by(2) {
        buffer.fill(Complex::default());
        for (z, a) in buffer.iter_mut().zip(tapered(s)) {
            z.re = a;
        }
        if s + 1 < segments {
            for (z, b) in buffer.iter_mut().zip(tapered(s + 1)) {
                z.im = b;
            }
        }
        fft.process_with_scratch(&mut buffer, &mut scratch);
        for (k, p) in psd.iter_mut().enumerate() {
            let (z, mirror) = (buffer[k], buffer[(NFFT - k) % NFFT].conj());
            let (a, b) = ((z + mirror) * 0.5, (z - mirror) * 0.5);
            // One-sided: every bin but DC (and Nyquist, never reached) twice.
            let sides = if k == 0 { 1.0 } else { 2.0 };
            *p += sides * scale * (a.norm_sqr() + b.norm_sqr());
        }
    }
    for p in &mut psd {
        *p /= segments as f64;
    }
    let freq = (0..bins).map(|k| k as f64 * FS_HZ / NFFT as f64).collect();
    (freq, psd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_follows_the_beats() {
        // Beats at 0, 1, 3 s (NN 1000 → t 0, then 1000, 2000).
        let y = interpolate(&[1000.0, 1000.0, 2000.0]);
        assert_eq!(y.len(), 12);
        assert_eq!(y[..4], [1000.0; 4]);
        // Halfway from t = 1 s (1000 ms) to t = 3 s (2000 ms).
        assert!((y[8] - 1500.0).abs() < 1e-9);
    }

    #[test]
    fn a_sine_lands_in_its_band_with_its_variance() {
        // NN = 1000 + 30 sin(2π 0.1 t): beats every second, so the 4 Hz
        // series is the sine, power 30² / 2 = 450 ms², all in LF, seen
        // through linear interpolation between 1 s samples, whose
        // amplitude response at f is sinc²(f): power × sinc⁴(0.1).
        let nn: Vec<f64> =
            (0..600).map(|k| 1000.0 + 30.0 * (2.0 * std::f64::consts::PI * 0.1 * f64::from(k)).sin()).collect();
        let f = frequency_domain(&nn).unwrap();
        let sinc = (std::f64::consts::PI * 0.1).sin() / (std::f64::consts::PI * 0.1);
        let expected = 450.0 * sinc.powi(4);
        assert!((f.lf_ms2 - expected).abs() < 0.01 * expected, "LF {} expected {expected}", f.lf_ms2);
        assert!(f.hf_ms2 < 0.01 * f.lf_ms2 && f.vlf_ms2.unwrap() < 0.01 * f.lf_ms2);
        assert!(f.lf_nu.unwrap() > 99.0);
    }

    #[test]
    fn short_windows_give_reasons() {
        assert!(matches!(frequency_domain(&[1000.0; 119]), Err(Unavailable::TooShort { .. })));
        let f = frequency_domain(&[1000.0; 200]).unwrap();
        assert!(matches!(f.vlf_ms2, Err(Unavailable::TooShort { needed_s, .. }) if needed_s == VLF_MIN_SPAN_S));
        assert_eq!(f.lf_hf, Err(Unavailable::NoVariability));
    }
}
