//! Time-domain measures and the Poincaré plot's SD1, SD2.

use super::{Unavailable, check_intervals, mean, need_beats, std_sample};

/// Fewest NN intervals the time domain needs: SDSD takes a sample standard
/// deviation of successive differences, so two differences at least.
pub const MIN_BEATS: usize = 3;

/// Time-domain HRV of one window's NN intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeDomain {
    /// Mean NN interval, ms.
    pub mean_nn_ms: f64,
    /// Standard deviation of NN intervals (n − 1), ms.
    pub sdnn_ms: f64,
    /// Root mean square of successive differences, ms.
    pub rmssd_ms: f64,
    /// Standard deviation of successive differences (n − 1), ms.
    pub sdsd_ms: f64,
    /// Successive differences larger than 50 ms in magnitude.
    pub nn50: usize,
    /// `nn50` as a percentage of the successive differences.
    pub pnn50_percent: f64,
    /// Mean of the instantaneous heart rates 60000 / NN, beats/min.
    pub mean_hr_bpm: f64,
    /// Lowest instantaneous heart rate (from the longest NN), beats/min.
    pub min_hr_bpm: f64,
    /// Highest instantaneous heart rate (from the shortest NN), beats/min.
    pub max_hr_bpm: f64,
    /// Poincaré SD1 = √(SDSD² / 2), ms.
    pub sd1_ms: f64,
    /// Poincaré SD2 = √(2 SDNN² − SDSD² / 2), ms.
    pub sd2_ms: f64,
}

/// The time domain of `nn` (ms), or why it has none.
///
/// # Errors
/// [`Unavailable::InvalidInterval`] for a non-finite or non-positive
/// interval, [`Unavailable::TooFewBeats`] under [`MIN_BEATS`].
pub fn time_domain(nn: &[f64]) -> Result<TimeDomain, Unavailable> {
    check_intervals(nn)?;
    need_beats(nn, MIN_BEATS)?;
    let diffs: Vec<f64> = nn.windows(2).map(|w| w[1] - w[0]).collect();
    let sdnn_ms = std_sample(nn);
    let sdsd_ms = std_sample(&diffs);
    let nn50 = diffs.iter().filter(|d| d.abs() > 50.0).count();
    let rate = |interval: f64| 60_000.0 / interval;
    let (shortest, longest) = nn.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    Ok(TimeDomain {
        mean_nn_ms: mean(nn),
        sdnn_ms,
        rmssd_ms: (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt(),
        sdsd_ms,
        nn50,
        pnn50_percent: 100.0 * nn50 as f64 / diffs.len() as f64,
        mean_hr_bpm: nn.iter().map(|&v| rate(v)).sum::<f64>() / nn.len() as f64,
        min_hr_bpm: rate(longest),
        max_hr_bpm: rate(shortest),
        sd1_ms: (sdsd_ms * sdsd_ms / 2.0).sqrt(),
        // Rounding can push a tiny difference below zero for a constant
        // series; SD2 is then 0, not NaN.
        sd2_ms: (2.0 * sdnn_ms * sdnn_ms - sdsd_ms * sdsd_ms / 2.0).max(0.0).sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn hand_computed_four_beats() {
        // NN 800, 860, 790, 810: diffs +60, −70, +20.
        let t = time_domain(&[800.0, 860.0, 790.0, 810.0]).unwrap();
        assert!(close(t.mean_nn_ms, 815.0));
        // Deviations −15, 45, −25, −5: squares sum 2900, / 3.
        assert!(close(t.sdnn_ms, (2900.0_f64 / 3.0).sqrt()));
        // (3600 + 4900 + 400) / 3.
        assert!(close(t.rmssd_ms, (8900.0_f64 / 3.0).sqrt()));
        // Diffs mean 10/3; deviations 170/3, −220/3, 50/3.
        let sdsd = ((170.0_f64.powi(2) + 220.0_f64.powi(2) + 50.0_f64.powi(2)) / 9.0 / 2.0).sqrt();
        assert!(close(t.sdsd_ms, sdsd));
        assert_eq!(t.nn50, 2);
        assert!(close(t.pnn50_percent, 200.0 / 3.0));
        assert!(close(t.min_hr_bpm, 60_000.0 / 860.0));
        assert!(close(t.max_hr_bpm, 60_000.0 / 790.0));
        let hr = (60_000.0 / 800.0 + 60_000.0 / 860.0 + 60_000.0 / 790.0 + 60_000.0 / 810.0) / 4.0;
        assert!(close(t.mean_hr_bpm, hr));
        assert!(close(t.sd1_ms, (sdsd * sdsd / 2.0).sqrt()));
        // 2·SDNN² < SDSD²/2 for this alternating series: SD2 clamps to 0.
        assert_eq!(t.sd2_ms, 0.0);
    }

    #[test]
    fn sd2_of_a_trending_series() {
        // Deviations from 825: −25, −5, 25, 5 → SDNN² = 1300/3.
        // Diffs 20, 30, −20 (mean 10) → SDSD² = (100 + 400 + 900) / 2 = 700.
        let t = time_domain(&[800.0, 820.0, 850.0, 830.0]).unwrap();
        assert!(close(t.sd1_ms, 350.0_f64.sqrt()));
        assert!(close(t.sd2_ms, (2600.0_f64 / 3.0 - 350.0).sqrt()));
    }

    #[test]
    fn constant_series_has_zero_variability() {
        let t = time_domain(&[1000.0; 10]).unwrap();
        assert_eq!((t.sdnn_ms, t.rmssd_ms, t.sd1_ms, t.sd2_ms, t.nn50), (0.0, 0.0, 0.0, 0.0, 0));
        assert!(close(t.mean_hr_bpm, 60.0));
    }

    #[test]
    fn refuses_short_and_invalid_input() {
        assert_eq!(time_domain(&[800.0, 810.0]), Err(Unavailable::TooFewBeats { needed: 3, got: 2 }));
        assert!(matches!(time_domain(&[800.0, f64::NAN, 810.0]), Err(Unavailable::InvalidInterval { index: 1, .. })));
        assert!(matches!(time_domain(&[800.0, 0.0, 810.0]), Err(Unavailable::InvalidInterval { index: 1, .. })));
    }
}
