//! Detrended fluctuation analysis, short-term exponent α1 over box sizes
//! of 4 to 16 beats (Kubios' range), computed as NeuroKit2 0.3.0's
//! `fractal_dfa` does for one scale list: the profile is the cumulative
//! sum of NN minus its mean; boxes of each size start every half box
//! (overlapping) while they end before the last sample; each box loses its
//! least-squares line; F(n) is the root of the mean residual variance over
//! boxes (boxes with variance ≤ 1e-8 × the largest dropped); α1 is the
//! least-squares slope of log2 F(n) against log2 n.

use super::{Unavailable, check_intervals, mean, need_beats};

/// Smallest box, beats.
pub const MIN_BOX: usize = 4;
/// Largest box, beats.
pub const MAX_BOX: usize = 16;
/// Fewest NN intervals: the largest box must end before the series does.
pub const MIN_BEATS: usize = MAX_BOX + 1;

/// DFA α1 of `nn` (ms), or why it has none.
///
/// # Errors
/// [`Unavailable::InvalidInterval`] for a non-finite or non-positive
/// interval, [`Unavailable::TooFewBeats`] under [`MIN_BEATS`],
/// [`Unavailable::NoVariability`] when a box size has no fluctuation.
pub fn dfa_alpha1(nn: &[f64]) -> Result<f64, Unavailable> {
    check_intervals(nn)?;
    need_beats(nn, MIN_BEATS)?;
    let m = mean(nn);
    let mut profile = Vec::with_capacity(nn.len());
    let mut sum = 0.0;
    for &v in nn {
        sum += v - m;
        profile.push(sum);
    }
    let mut points = Vec::with_capacity(MAX_BOX - MIN_BOX + 1);
    for size in MIN_BOX..=MAX_BOX {
        let f = fluctuation(&profile, size).ok_or(Unavailable::NoVariability)?;
        points.push(((size as f64).log2(), f.log2()));
    }
    let slope = slope(&points);
    if slope.is_finite() { Ok(slope) } else { Err(Unavailable::NoVariability) }
}

/// F(size): root mean residual variance over the overlapping boxes; `None`
/// when no box has any.
fn fluctuation(profile: &[f64], size: usize) -> Option<f64> {
    let step = size / 2;
    let variances: Vec<f64> =
        (0..profile.len() - size).step_by(step).map(|start| residual_variance(&profile[start..start + size])).collect();
    let largest = variances.iter().copied().fold(0.0_f64, f64::max);
    let kept: Vec<f64> = variances.into_iter().filter(|&v| v > 1e-8 * largest).collect();
    if kept.is_empty() {
        return None;
    }
    Some(mean(&kept).sqrt())
}

/// Population variance of `y` around its least-squares line over 0, 1, ….
/// The residuals of a line fitted with an intercept have mean zero, so
/// their variance is their mean square. Sums, not vectors: this runs for
/// about three boxes per beat.
fn residual_variance(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let (mx, my) = ((n - 1.0) / 2.0, mean(y));
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, &v) in y.iter().enumerate() {
        let dx = x as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    let b = sxy / sxx;
    y.iter().enumerate().map(|(x, &v)| (v - my - b * (x as f64 - mx)).powi(2)).sum::<f64>() / n
}

/// Least-squares slope of y on x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_of_a_line_is_zero_and_of_a_vee_is_hand_computed() {
        assert!(residual_variance(&[1.0, 3.0, 5.0, 7.0]) < 1e-20);
        // y = 0, 1, 0, 1: fitted line 0.2 + 0.2x; residuals −0.2, 0.6, −0.6, 0.2.
        assert!((residual_variance(&[0.0, 1.0, 0.0, 1.0]) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn alternating_series_is_anticorrelated_and_a_random_walk_is_not() {
        // Strict alternation: the profile is bounded, α1 far below 0.5.
        let alternating: Vec<f64> = (0..300).map(|k| if k % 2 == 0 { 780.0 } else { 820.0 }).collect();
        assert!(dfa_alpha1(&alternating).unwrap() < 0.3);
        // A slow drift (integrated noise) gives α1 near 1.5.
        let mut state = 0x2545_f491_u64;
        let mut level = 0.0;
        let walk: Vec<f64> = (0..2000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                level += (state % 1000) as f64 / 1000.0 - 0.5;
                800.0 + level
            })
            .collect();
        let alpha = dfa_alpha1(&walk).unwrap();
        assert!((1.2..1.8).contains(&alpha), "α1 {alpha}");
    }

    #[test]
    fn needs_seventeen_beats_and_some_variability() {
        assert_eq!(dfa_alpha1(&[800.0; 16]), Err(Unavailable::TooFewBeats { needed: 17, got: 16 }));
        assert_eq!(dfa_alpha1(&[800.0; 40]), Err(Unavailable::NoVariability));
    }
}
