//! How far a strap's own RR intervals can be trusted: each RR interval
//! the strap reported, paired with the interval between two R-peaks found
//! in its raw ECG.
//!
//! The strap's beat times are not the R-peaks' times: a notification is
//! stamped when it arrives, up to about a second after its last beat, and
//! its earlier beats are counted back from there (see [`super::beats`]).
//! So a strap interval is paired by its *value* within a time window, not
//! by its time alone:
//!
//! - the first strap beat of a segment, or one whose predecessor found no
//!   partner, looks for the ECG interval that ends within
//!   [`LATENCY_S`] before its stamp (or [`EARLY_S`] after it) and differs
//!   least from it;
//! - the next strap beat then expects the next ECG interval (the strap's
//!   and the ECG's beats advance together), and looks afresh only when
//!   that one differs by more than [`TOLERANCE_MS`];
//! - a pair counts when the two intervals differ by at most
//!   [`TOLERANCE_MS`]; each ECG interval pairs at most once.
//!
//! What is left over is the disagreement: an ECG interval no strap
//! interval paired with is a beat the strap *missed* (it reported the sum
//! of two intervals, or nothing while it was off the skin); a strap
//! interval that paired with nothing is *extra* (an interval the ECG does
//! not show).

/// Two intervals agree when they differ by at most this, ms. The ECG's
/// R-peak times are exact to about one sample (7.7 ms at 130 Hz), the
/// strap's intervals to 1/1024 s.
pub const TOLERANCE_MS: f64 = 20.0;

/// How long after a beat its notification may arrive, s.
pub const LATENCY_S: f64 = 1.5;

/// How far a beat's stamp may precede the R-peak's time (clock offsets
/// between the strap's ECG and its notifications), s.
pub const EARLY_S: f64 = 0.1;

/// A strap interval to check: it ends at `at_s` (session s, as stamped)
/// and lasts `rr_ms`; `segment` changes where the strap's beats have a
/// hole between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrapBeat {
    pub at_s: f64,
    pub rr_ms: f64,
    pub segment: usize,
}

/// An interval between two consecutive R-peaks of one ECG run: it ends at
/// `at_s` and lasts `rr_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EcgInterval {
    pub at_s: f64,
    pub rr_ms: f64,
}

impl EcgInterval {
    /// The intervals between consecutive peaks (session s) of each run;
    /// no interval spans two runs.
    #[must_use]
    pub fn from_runs<'a>(runs: impl IntoIterator<Item = &'a [f64]>) -> Vec<EcgInterval> {
        let mut out = Vec::new();
        for peaks in runs {
            out.extend(peaks.windows(2).map(|w| EcgInterval { at_s: w[1], rr_ms: (w[1] - w[0]) * 1000.0 }));
        }
        out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        out
    }
}

/// The pairing of a device's strap intervals with its ECG intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    /// Per strap beat (in the order given), the index of its ECG partner.
    pub strap: Vec<Option<usize>>,
    /// Per ECG interval, whether a strap interval paired with it.
    pub ecg_paired: Vec<bool>,
}

/// Pair `strap` (in time order) with `ecg` (in time order).
#[must_use]
pub fn pair(strap: &[StrapBeat], ecg: &[EcgInterval]) -> Pairing {
    let mut strap_partner = vec![None; strap.len()];
    let mut ecg_paired = vec![false; ecg.len()];
    // The ECG interval the previous strap beat paired with, and its segment.
    let mut previous: Option<(usize, usize)> = None;
    let agrees = |s: &StrapBeat, e: &EcgInterval| (s.rr_ms - e.rr_ms).abs() <= TOLERANCE_MS;
    for (k, beat) in strap.iter().enumerate() {
        let next = previous
            .filter(|&(_, segment)| segment == beat.segment)
            .map(|(j, _)| j + 1)
            .filter(|&j| j < ecg.len() && !ecg_paired[j] && agrees(beat, &ecg[j]));
        let partner = next.or_else(|| {
            let from = ecg.partition_point(|e| e.at_s < beat.at_s - LATENCY_S);
            let to = ecg.partition_point(|e| e.at_s <= beat.at_s + EARLY_S);
            // After the previous partner only: the beats advance together.
            let after = previous.map_or(0, |(j, _)| j + 1);
            (from.max(after)..to)
                .filter(|&j| !ecg_paired[j] && agrees(beat, &ecg[j]))
                .min_by(|&a, &b| (beat.rr_ms - ecg[a].rr_ms).abs().total_cmp(&(beat.rr_ms - ecg[b].rr_ms).abs()))
        });
        if let Some(j) = partner {
            ecg_paired[j] = true;
            strap_partner[k] = Some(j);
            previous = Some((j, beat.segment));
        } else if previous.is_some_and(|(_, segment)| segment != beat.segment) {
            previous = None;
        }
    }
    Pairing { strap: strap_partner, ecg_paired }
}

/// The agreement within one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Agreement {
    /// Strap RR intervals ending in the window.
    pub strap_beats: usize,
    /// ECG intervals (R-peak to R-peak) ending in the window.
    pub ecg_beats: usize,
    /// Strap intervals that paired with an ECG interval.
    pub paired: usize,
    /// ECG intervals no strap interval paired with.
    pub missed: usize,
    /// Strap intervals that paired with nothing.
    pub extra: usize,
    /// 100 × `paired / strap_beats`; `None` without strap beats.
    pub agreement_percent: Option<f64>,
    /// Mean |strap − ECG| over the pairs, ms; `None` without pairs.
    pub mean_abs_diff_ms: Option<f64>,
}

/// The agreement of the beats ending in `[from_s, to_s)`: strap beats by
/// their stamp, ECG intervals by their R-peak.
#[must_use]
pub fn agreement(strap: &[StrapBeat], ecg: &[EcgInterval], pairing: &Pairing, from_s: f64, to_s: f64) -> Agreement {
    let inside = |t: f64| t >= from_s && t < to_s;
    let mut a = Agreement::default();
    let mut diff_sum = 0.0;
    for (beat, partner) in strap.iter().zip(&pairing.strap) {
        if !inside(beat.at_s) {
            continue;
        }
        a.strap_beats += 1;
        match partner {
            Some(j) => {
                a.paired += 1;
                diff_sum += (beat.rr_ms - ecg[*j].rr_ms).abs();
            }
            None => a.extra += 1,
        }
    }
    for (interval, paired) in ecg.iter().zip(&pairing.ecg_paired) {
        if inside(interval.at_s) {
            a.ecg_beats += 1;
            a.missed += usize::from(!paired);
        }
    }
    a.mean_abs_diff_ms = (a.paired > 0).then(|| diff_sum / a.paired as f64);
    a.agreement_percent = (a.strap_beats > 0).then(|| 100.0 * a.paired as f64 / a.strap_beats as f64);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R-peaks of a varying rhythm from `start_s`, `n` beats.
    fn peaks(start_s: f64, n: usize) -> Vec<f64> {
        let mut t = start_s;
        (0..n)
            .map(|k| {
                t += 0.8 + 0.1 * (k as f64 * 0.7).sin() + 0.03 * (k as f64 * 2.3).cos();
                t
            })
            .collect()
    }

    /// What a strap reports of `peaks`: once a second, the intervals of the
    /// beats since its last notification, stamped at the notification and
    /// counted back; the beats at `skip` are not reported (the strap
    /// missed them: the next interval is the sum of two).
    fn strap_of(peaks: &[f64], skip: &[usize]) -> Vec<StrapBeat> {
        let mut out = Vec::new();
        let mut pending: Vec<f64> = Vec::new();
        let mut last_reported = peaks[0];
        let mut next_notification = peaks[0].ceil() + 0.37;
        for (k, &p) in peaks.iter().enumerate().skip(1) {
            while p > next_notification {
                flush(&mut pending, next_notification, &mut out);
                next_notification += 1.0;
            }
            if skip.contains(&k) {
                continue;
            }
            pending.push((p - last_reported) * 1000.0);
            last_reported = p;
        }
        flush(&mut pending, next_notification, &mut out);
        out
    }

    fn flush(pending: &mut Vec<f64>, at: f64, out: &mut Vec<StrapBeat>) {
        let mut t = at;
        let mut beats: Vec<StrapBeat> = pending
            .iter()
            .rev()
            .map(|&rr| {
                let b = StrapBeat { at_s: t, rr_ms: (rr * 1.024).round() / 1.024, segment: 0 };
                t -= rr / 1000.0;
                b
            })
            .collect();
        beats.reverse();
        out.extend(beats);
        pending.clear();
    }

    #[test]
    fn a_strap_that_reports_every_beat_agrees_fully_despite_its_notification_latency() {
        let p = peaks(10.0, 400);
        let ecg = EcgInterval::from_runs([p.as_slice()]);
        let strap = strap_of(&p, &[]);
        let pairing = pair(&strap, &ecg);
        let a = agreement(&strap, &ecg, &pairing, 0.0, 1e9);
        assert_eq!(a.strap_beats, 399);
        assert_eq!((a.paired, a.extra), (399, 0), "{a:?}");
        assert_eq!(a.missed, 0);
        assert!(a.mean_abs_diff_ms.unwrap() < 1.0, "{a:?}");
        // Each strap interval paired with the ECG interval of its own beat.
        for (k, partner) in pairing.strap.iter().enumerate() {
            assert_eq!(*partner, Some(k));
        }
    }

    #[test]
    fn a_missed_beat_shows_as_one_missed_and_one_extra() {
        let p = peaks(10.0, 200);
        let ecg = EcgInterval::from_runs([p.as_slice()]);
        let strap = strap_of(&p, &[50, 120]);
        let pairing = pair(&strap, &ecg);
        let a = agreement(&strap, &ecg, &pairing, 0.0, 1e9);
        assert_eq!(a.strap_beats, 197);
        assert_eq!(a.extra, 2, "the two long intervals: {a:?}");
        assert_eq!(a.paired, 195);
        assert_eq!(a.missed, 4, "each skipped beat leaves two ECG intervals unpaired: {a:?}");
    }

    #[test]
    fn windows_count_their_own_beats() {
        let p = peaks(0.0, 300);
        let ecg = EcgInterval::from_runs([p.as_slice()]);
        let strap = strap_of(&p, &[]);
        let pairing = pair(&strap, &ecg);
        let whole = agreement(&strap, &ecg, &pairing, 0.0, 1e9);
        let first = agreement(&strap, &ecg, &pairing, 0.0, 100.0);
        let rest = agreement(&strap, &ecg, &pairing, 100.0, 1e9);
        assert_eq!(first.strap_beats + rest.strap_beats, whole.strap_beats);
        assert_eq!(first.ecg_beats + rest.ecg_beats, whole.ecg_beats);
        assert!(first.strap_beats > 50 && rest.strap_beats > 50);
    }

    #[test]
    fn no_ecg_means_every_strap_interval_is_unpaired_and_nothing_panics() {
        let p = peaks(0.0, 20);
        let strap = strap_of(&p, &[]);
        let pairing = pair(&strap, &[]);
        let a = agreement(&strap, &[], &pairing, 0.0, 1e9);
        assert_eq!((a.paired, a.extra, a.ecg_beats, a.missed), (0, strap.len(), 0, 0));
        assert_eq!(a.mean_abs_diff_ms, None);
        assert_eq!(agreement(&[], &[], &pair(&[], &[]), 0.0, 1.0), Agreement::default());
    }
}
