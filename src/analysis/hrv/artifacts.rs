//! Artifact detection and correction after Lipponen & Tarvainen (2019),
//! step for step as NeuroKit2 0.3.0's
//! `signal_fixpeaks(method="kubios", iterative=True)`, including its
//! quirks (the flow of its classification loop, its index bookkeeping),
//! so that both flag the same beats.
//!
//! One difference: NeuroKit2 keeps peaks as integer sample indices and
//! truncates moved peaks to a whole sample; here peak times stay f64
//! milliseconds, so a corrected interval can differ from NeuroKit2's by
//! less than one sample period.

use super::{Unavailable, check_intervals, mean};

/// Half-width factor of the adaptive thresholds: α × quartile deviation.
const ALPHA: f64 = 5.2;
/// Beats in the rolling window of the quartile deviation.
const THRESHOLD_WINDOW: usize = 91;
/// Beats in the rolling median the mRR series deviates from.
const MEDIAN_WINDOW: usize = 11;
/// The ectopic decision boundary in the (dRR, s12) plane.
const C1: f64 = 0.13;
const C2: f64 = 0.17;

/// What the detector made of a beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BeatClass {
    /// No artifact.
    Normal,
    /// A premature beat followed by a compensatory pause (or the reverse);
    /// moved to the midpoint of its neighbours.
    Ectopic,
    /// A beat was missed: the interval is about twice the median; a beat is
    /// inserted at its midpoint.
    Missed,
    /// An extra beat was detected: two short intervals add up to about the
    /// median; the beat between them is removed.
    Extra,
    /// Too long or too short, not explained as missed or extra; moved to
    /// the midpoint of its neighbours.
    LongShort,
}

/// Beats of each class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounts {
    /// [`BeatClass::Ectopic`] beats.
    pub ectopic: usize,
    /// [`BeatClass::Missed`] beats.
    pub missed: usize,
    /// [`BeatClass::Extra`] beats.
    pub extra: usize,
    /// [`BeatClass::LongShort`] beats.
    pub long_short: usize,
}

/// The outcome of [`correct`].
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    /// The corrected NN intervals, ms.
    pub nn: Vec<f64>,
    /// Per input RR interval, the class of the beat that ends it, as the
    /// first detection pass over the input found it (later passes look at
    /// a series already partly corrected, whose beats are no longer the
    /// input's).
    pub classes: Vec<BeatClass>,
    /// `classes` counted.
    pub counts: ClassCounts,
    /// Detection passes whose corrections were applied (0 when the input
    /// was clean).
    pub passes: usize,
}

/// Beat indices (into the peak series) of each class, as one detection
/// pass finds them.
#[derive(Debug, Clone, Default, PartialEq)]
struct Artifacts {
    ectopic: Vec<usize>,
    missed: Vec<usize>,
    extra: Vec<usize>,
    long_short: Vec<usize>,
}

impl Artifacts {
    fn len(&self) -> usize {
        self.ectopic.len() + self.missed.len() + self.extra.len() + self.long_short.len()
    }
}

/// Detects and corrects artifacts in one contiguous segment of RR
/// intervals (ms), repeating detection and correction while the number of
/// artifacts found keeps falling.
///
/// # Errors
/// [`Unavailable::InvalidInterval`] for a non-finite or non-positive
/// interval.
pub fn correct(rr: &[f64]) -> Result<Correction, Unavailable> {
    check_intervals(rr)?;
    let mut peaks = Vec::with_capacity(rr.len() + 1);
    let mut t = 0.0;
    peaks.push(t);
    for &interval in rr {
        t += interval;
        peaks.push(t);
    }

    let first = find_artifacts(&peaks);
    let mut classes = vec![BeatClass::Normal; rr.len()];
    let mut counts = ClassCounts::default();
    for (indices, class) in [
        (&first.ectopic, BeatClass::Ectopic),
        (&first.missed, BeatClass::Missed),
        (&first.extra, BeatClass::Extra),
        (&first.long_short, BeatClass::LongShort),
    ] {
        // Peak k ends interval k − 1; peak 0 ends no input interval.
        for &peak in indices.iter().filter(|&&p| p >= 1) {
            classes[peak - 1] = class;
            match class {
                BeatClass::Ectopic => counts.ectopic += 1,
                BeatClass::Missed => counts.missed += 1,
                BeatClass::Extra => counts.extra += 1,
                BeatClass::LongShort => counts.long_short += 1,
                BeatClass::Normal => {}
            }
        }
    }

    let mut current = first.len();
    let mut passes = 0;
    if current > 0 {
        peaks = correct_artifacts(&first, &peaks);
        passes = 1;
        loop {
            let next = find_artifacts(&peaks);
            if next.len() >= current {
                break;
            }
            current = next.len();
            peaks = correct_artifacts(&next, &peaks);
            passes += 1;
        }
    }
    let nn = peaks.windows(2).map(|w| w[1] - w[0]).collect();
    Ok(Correction { nn, classes, counts, passes })
}

/// One detection pass over peak times (ms): NeuroKit2's `_find_artifacts`.
fn find_artifacts(peaks: &[f64]) -> Artifacts {
    let n = peaks.len();
    if n == 0 {
        return Artifacts::default();
    }
    // rr[k] ends at peak k; rr[0] has no start, so it gets the mean of the
    // rest to stay in a realistic range for the median filter.
    let mut rr = vec![0.0; n];
    for k in 1..n {
        rr[k] = peaks[k] - peaks[k - 1];
    }
    rr[0] = if n > 1 { mean(&rr[1..]) } else { 1.0 };

    let mut drrs = vec![0.0; n];
    for k in 1..n {
        drrs[k] = rr[k] - rr[k - 1];
    }
    drrs[0] = if n > 1 { mean(&drrs[1..]) } else { 0.0 };
    let th1 = threshold(&drrs);
    normalise(&mut drrs, &th1);

    let padded = |d: isize| drrs[reflect(d, n)];
    let mut s12 = vec![0.0; n];
    let mut s22 = vec![0.0; n];
    for k in 0..n {
        let d = k as isize;
        let x = drrs[k];
        if x > 0.0 {
            s12[k] = nan_max(padded(d - 1), padded(d + 1));
        } else if x < 0.0 {
            s12[k] = nan_min(padded(d - 1), padded(d + 1));
        }
        if x >= 0.0 {
            s22[k] = nan_min(padded(d + 1), padded(d + 2));
        } else if x < 0.0 {
            s22[k] = nan_max(padded(d + 1), padded(d + 2));
        }
    }

    let medrr = rolling(&rr, MEDIAN_WINDOW, |w| quantile(w, 0.5));
    let mut mrrs: Vec<f64> = rr.iter().zip(&medrr).map(|(r, m)| r - m).collect();
    for m in &mut mrrs {
        if *m < 0.0 {
            *m *= 2.0;
        }
    }
    let th2 = threshold(&mrrs);
    normalise(&mut mrrs, &th2);

    classify(&rr, &drrs, &mrrs, &s12, &s22, &medrr, &th2)
}

/// The classification loop of Lipponen & Tarvainen's Figure 1, with
/// NeuroKit2's flow: a second candidate beat advances the loop twice.
fn classify(rr: &[f64], drrs: &[f64], mrrs: &[f64], s12: &[f64], s22: &[f64], medrr: &[f64], th2: &[f64]) -> Artifacts {
    let mut found = Artifacts::default();
    let mut i = 0;
    while i + 2 < rr.len() {
        if drrs[i].abs() <= 1.0 {
            i += 1;
            continue;
        }
        let eq1 = drrs[i] > 1.0 && s12[i] < -C1 * drrs[i] - C2;
        let eq2 = drrs[i] < -1.0 && s12[i] > -C1 * drrs[i] + C2;
        if eq1 || eq2 {
            found.ectopic.push(i);
            i += 1;
            continue;
        }
        // Only a NaN (zero threshold) gets here without |dRR| > 1.
        if !(drrs[i].abs() > 1.0 || mrrs[i].abs() > 3.0) {
            i += 1;
            continue;
        }
        let mut candidates = vec![i];
        if drrs[i + 1].abs() < drrs[i + 2].abs() {
            candidates.push(i + 1);
        }
        for j in candidates {
            i += 1;
            let eq3 = drrs[j] > 1.0 && s22[j] < -1.0;
            let eq4 = mrrs[j].abs() > 3.0;
            let eq5 = drrs[j] < -1.0 && s22[j] > 1.0;
            if !(eq3 || eq4 || eq5) {
                continue;
            }
            let eq6 = (rr[j] / 2.0 - medrr[j]).abs() < th2[j];
            let eq7 = (rr[j] + rr[j + 1] - medrr[j]).abs() < th2[j];
            if eq5 && eq7 {
                found.extra.push(j);
            } else if eq3 && eq6 {
                found.missed.push(j);
            } else {
                found.long_short.push(j);
            }
        }
    }
    found
}

/// NeuroKit2's `_correct_artifacts`: delete extra beats, insert missed
/// ones, move ectopic and long/short ones to their neighbours' midpoint,
/// keeping the other classes' indices pointing at the same beats.
fn correct_artifacts(found: &Artifacts, peaks: &[f64]) -> Vec<f64> {
    let mut peaks = peaks.to_vec();
    let mut missed = found.missed.clone();
    let mut ectopic = found.ectopic.clone();
    let mut long_short = found.long_short.clone();
    if !found.extra.is_empty() {
        let extra = mask(&found.extra, peaks.len());
        let mut k = 0;
        peaks.retain(|_| {
            k += 1;
            !extra[k - 1]
        });
        missed = update_indices(&found.extra, &missed, -1);
        ectopic = update_indices(&found.extra, &ectopic, -1);
        long_short = update_indices(&found.extra, &long_short, -1);
    }
    if !missed.is_empty() {
        peaks = insert_missed(&missed, &peaks);
        ectopic = update_indices(&missed, &ectopic, 1);
        long_short = update_indices(&missed, &long_short, 1);
    }
    if !ectopic.is_empty() {
        peaks = move_misaligned(&ectopic, &peaks);
    }
    if !long_short.is_empty() {
        peaks = move_misaligned(&long_short, &peaks);
    }
    peaks
}

/// A beat halfway between each missed index's neighbours, inserted before
/// it; indices 0, 1 and past the end are left alone (as NeuroKit2 does).
fn insert_missed(missed: &[usize], peaks: &[f64]) -> Vec<f64> {
    let valid: Vec<usize> = missed.iter().copied().filter(|&m| m > 1 && m < peaks.len()).collect();
    let mut out = Vec::with_capacity(peaks.len() + valid.len());
    let mut next = valid.iter().peekable();
    for (k, &peak) in peaks.iter().enumerate() {
        while next.peek().is_some_and(|&&m| m == k) {
            out.push(peaks[k - 1] + (peaks[k] - peaks[k - 1]) / 2.0);
            next.next();
        }
        out.push(peak);
    }
    out
}

/// Each index (not the first two, not the last) moved to the midpoint of
/// its neighbours as they were before any move; then sorted (NeuroKit2
/// appends the moved peaks and sorts). A midpoint lies between its
/// neighbours, so the peaks are nearly always still in order where they
/// stand, and only a move that broke the order costs a sort.
fn move_misaligned(indices: &[usize], peaks: &[f64]) -> Vec<f64> {
    let mut out = peaks.to_vec();
    for &m in indices.iter().filter(|&&m| m > 1 && m + 1 < peaks.len()) {
        out[m] = peaks[m - 1] + (peaks[m + 1] - peaks[m - 1]) / 2.0;
    }
    if !out.is_sorted_by(|a, b| a.total_cmp(b).is_le()) {
        out.sort_by(f64::total_cmp);
    }
    out
}

/// `len` flags, set at `indices` (those below `len`): a lookup per beat
/// where a search of the indices made correction quadratic.
fn mask(indices: &[usize], len: usize) -> Vec<bool> {
    let mut flags = vec![false; len];
    for &i in indices.iter().filter(|&&i| i < len) {
        flags[i] = true;
    }
    flags
}

/// NeuroKit2's `_update_indices`: for each source index in turn, shift the
/// indices above it by `by`; then sort and deduplicate. `source` is sorted
/// and distinct.
fn update_indices(source: &[usize], update: &[usize], by: isize) -> Vec<usize> {
    // Source j shifts an index that is still above it after the j shifts
    // before: u + j·by > s_j. As s_j − j·by never falls with j, an index is
    // shifted by every source up to the first that fails, found by bisection
    // instead of a pass over the indices per source.
    let bar: Vec<isize> = source.iter().enumerate().map(|(j, &s)| s as isize - j as isize * by).collect();
    let mut out: Vec<usize> = update
        .iter()
        .map(|&u| {
            let shifts = bar.partition_point(|&b| b < u as isize);
            u.saturating_add_signed(shifts as isize * by)
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// α × quartile deviation of |x| over a centred 91-beat window.
fn threshold(x: &[f64]) -> Vec<f64> {
    let abs: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    rolling(&abs, THRESHOLD_WINDOW, |w| ALPHA * (quantile(w, 0.75) - quantile(w, 0.25)) / 2.0)
}

/// x / th where th ≠ 0, NaN where th = 0 (as NeuroKit2).
fn normalise(x: &mut [f64], th: &[f64]) {
    for (v, &t) in x.iter_mut().zip(th) {
        *v = if t == 0.0 { f64::NAN } else { *v / t };
    }
}

/// `f` over pandas' centred rolling window of `width` (odd) with
/// `min_periods=1`: clipped at the ends, NaNs skipped, NaN when none is
/// left. `f` gets the window's values sorted.
fn rolling(x: &[f64], width: usize, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let half = width / 2;
    // The window stays sorted as it slides, one value in and one out per
    // beat, instead of being sorted afresh for every beat; where both
    // happen, the values between the two places shift by one, in one
    // move. Values equal under `total_cmp` are the same bits, so the
    // window is the one a sort gives.
    let mut window: Vec<f64> = Vec::with_capacity(width);
    let first_at_least = |window: &[f64], v: f64| window.partition_point(|w| w.total_cmp(&v).is_lt());
    let present = |v: &f64| !v.is_nan();
    for &v in x[..half.min(x.len())].iter().filter(|v| present(v)) {
        window.insert(first_at_least(&window, v), v);
    }
    (0..x.len())
        .map(|k| {
            let entering = x.get(k + half).copied().filter(present);
            let leaving = k.checked_sub(half + 1).map(|out| x[out]).filter(present);
            match (entering, leaving) {
                (Some(v), Some(old)) => {
                    let (from, to) = (first_at_least(&window, old), first_at_least(&window, v));
                    if to > from {
                        window.copy_within(from + 1..to, from);
                        window[to - 1] = v;
                    } else {
                        window.copy_within(to..from, to + 1);
                        window[to] = v;
                    }
                }
                (Some(v), None) => window.insert(first_at_least(&window, v), v),
                (None, Some(old)) => {
                    window.remove(first_at_least(&window, old));
                }
                (None, None) => {}
            }
            if window.is_empty() { f64::NAN } else { f(&window) }
        })
        .collect()
}

/// The `q` quantile of sorted, non-empty values, linearly interpolated
/// (pandas' and numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    // `pos` ≥ 0, so truncation is `floor`, without its libm call.
    let lo = pos as usize;
    let hi = if pos > lo as f64 { lo + 1 } else { lo };
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// numpy's `pad(mode="reflect")` index: mirror without repeating the edge.
fn reflect(d: isize, n: usize) -> usize {
    // Inside, as all but the first and last two beats are, no division.
    if (0..n as isize).contains(&d) {
        return d as usize;
    }
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = d.rem_euclid(period);
    (if m >= n as isize { period - m } else { m }) as usize
}

/// numpy's `max` of two: NaN if either is.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// numpy's `min` of two: NaN if either is.
fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean, irregular series around 800 ms (a constant one would have
    /// zero quartile deviation, hence no threshold).
    fn clean(n: usize) -> Vec<f64> {
        (0..n).map(|k| 800.0 + 10.0 * (k as f64 * 1.3).sin() + 7.0 * (k as f64 * 0.37).sin()).collect()
    }

    #[test]
    fn clean_series_is_left_alone() {
        let rr = clean(200);
        let c = correct(&rr).unwrap();
        assert_eq!(c.counts, ClassCounts::default());
        assert_eq!(c.passes, 0);
        assert!(c.nn.iter().zip(&rr).all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn missed_beat_is_found_and_split() {
        let mut rr = clean(200);
        rr[100] += rr[101];
        rr.remove(101);
        let c = correct(&rr).unwrap();
        assert_eq!(c.classes[100], BeatClass::Missed);
        assert_eq!(c.counts, ClassCounts { missed: 1, ..ClassCounts::default() });
        assert_eq!(c.nn.len(), 200);
        assert!((c.nn[100] - rr[100] / 2.0).abs() < 1e-9 && (c.nn[101] - rr[100] / 2.0).abs() < 1e-9);
    }

    #[test]
    fn extra_beat_is_found_and_removed() {
        let mut rr = clean(200);
        let whole = rr[100];
        rr[100] = 0.35 * whole;
        rr.insert(101, 0.65 * whole);
        let c = correct(&rr).unwrap();
        // NeuroKit2 0.3.0 flags the beat after the extra one long/short as
        // well, and moves it once the extra beat is gone.
        assert_eq!(c.classes[100..102], [BeatClass::Extra, BeatClass::LongShort]);
        assert_eq!(c.counts, ClassCounts { extra: 1, long_short: 1, ..ClassCounts::default() });
        assert_eq!(c.nn.len(), 200);
        let half = (whole + rr[102]) / 2.0;
        assert!((c.nn[100] - half).abs() < 1e-9 && (c.nn[101] - half).abs() < 1e-9);
    }

    #[test]
    fn ectopic_beat_is_found_and_moved() {
        let mut rr = clean(200);
        // A premature beat 200 ms early, then the compensatory pause.
        rr[100] -= 200.0;
        rr[101] += 200.0;
        let c = correct(&rr).unwrap();
        // As NeuroKit2 0.3.0: the short interval's beat is long/short, the
        // pause's ectopic; the pause's beat moves first, then the other.
        assert_eq!(c.classes[100..102], [BeatClass::LongShort, BeatClass::Ectopic]);
        assert_eq!(c.counts, ClassCounts { ectopic: 1, long_short: 1, ..ClassCounts::default() });
        assert!((c.nn[100] - c.nn[101]).abs() < 1e-9);
        let span: f64 = rr[100..103].iter().sum();
        assert!((c.nn[100..103].iter().sum::<f64>() - span).abs() < 1e-9);
        // Peak 102 to the middle of 101 and 103, then 101 to the middle of
        // 100 and the moved 102.
        assert!((c.nn[100] - (2.0 * rr[100] + rr[101] + rr[102]) / 4.0).abs() < 1e-9);
    }

    #[test]
    fn tiny_inputs_give_what_they_can() {
        assert_eq!(correct(&[]).unwrap().nn, Vec::<f64>::new());
        assert_eq!(correct(&[800.0]).unwrap().nn, vec![800.0]);
        assert_eq!(correct(&[800.0, 1600.0]).unwrap().classes.len(), 2);
        assert!(matches!(correct(&[800.0, -1.0]), Err(Unavailable::InvalidInterval { index: 1, .. })));
    }

    #[test]
    fn helpers_match_numpy_and_pandas() {
        // np.pad([a, b, c, d], 2, "reflect") = [c, b, a, b, c, d, c, b].
        let idx: Vec<usize> = (-2..6).map(|d| reflect(d, 4)).collect();
        assert_eq!(idx, [2, 1, 0, 1, 2, 3, 2, 1]);
        // np.quantile([1, 2, 3, 4], 0.25) = 1.75.
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        // Pandas rolling(3, center=True, min_periods=1).median() of [1, 5, 2, NaN].
        let med = rolling(&[1.0, 5.0, 2.0, f64::NAN], 3, |w| quantile(w, 0.5));
        assert_eq!(med, [3.0, 2.0, 3.5, 2.0]);
        // Sequential shifting: source 5 moves 11 to 10, which source 10 no
        // longer moves.
        assert_eq!(update_indices(&[5, 10], &[11, 3], -1), [3, 10]);
    }

    #[test]
    fn index_update_is_the_sequential_one() {
        // NeuroKit2's loop, source by source over every index.
        let sequential = |source: &[usize], update: &[usize], by: isize| {
            let mut out = update.to_vec();
            for &s in source {
                for u in &mut out {
                    if *u > s {
                        *u = u.saturating_add_signed(by);
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        };
        let mut state = 0x9e37_79b9_u64;
        let mut draw = |below: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below) as usize
        };
        for _ in 0..500 {
            let mut source: Vec<usize> = (0..draw(12)).map(|_| draw(60)).collect();
            source.sort_unstable();
            source.dedup();
            let update: Vec<usize> = (0..draw(12)).map(|_| draw(70)).collect();
            for by in [-1, 1] {
                assert_eq!(
                    update_indices(&source, &update, by),
                    sequential(&source, &update, by),
                    "{source:?} {update:?} {by}"
                );
            }
        }
    }

    #[test]
    fn moves_keep_neighbours_and_order() {
        // Peaks 3 and 4 both move, each to the middle of its neighbours as
        // they were: 3 to (200 + 390) / 2, 4 to (310 + 500) / 2; 0 and the
        // last stay.
        let peaks = [0.0, 100.0, 200.0, 310.0, 390.0, 500.0];
        assert_eq!(move_misaligned(&[3, 4, 0, 5], &peaks), [0.0, 100.0, 200.0, 295.0, 405.0, 500.0]);
    }

    #[test]
    fn sliding_window_is_the_sorted_window() {
        // Repeated values, both zeros, NaNs and runs of NaN, clipped ends.
        let pool = [3.0, -1.0, 0.0, -0.0, 7.5, 3.0, f64::NAN, 2.0, f64::NAN, f64::NAN, 7.5, -4.0];
        let x: Vec<f64> = (0..500_usize).map(|k| pool[(k * k + 3 * k) % pool.len()] + (k % 5) as f64).collect();
        for width in [1, 3, 11, 91, 1001] {
            let half = width / 2;
            let sorted_afresh: Vec<Vec<u64>> = (0..x.len())
                .map(|k| {
                    let mut w: Vec<f64> = x[k.saturating_sub(half)..(k + half + 1).min(x.len())]
                        .iter()
                        .copied()
                        .filter(|v| !v.is_nan())
                        .collect();
                    w.sort_by(f64::total_cmp);
                    w.iter().map(|v| v.to_bits()).collect()
                })
                .collect();
            let seen = std::cell::RefCell::new(Vec::new());
            rolling(&x, width, |w| {
                seen.borrow_mut().push(w.iter().map(|v| v.to_bits()).collect::<Vec<u64>>());
                0.0
            });
            let nonempty: Vec<Vec<u64>> = sorted_afresh.into_iter().filter(|w| !w.is_empty()).collect();
            assert_eq!(seen.into_inner(), nonempty, "width {width}");
        }
    }
}
