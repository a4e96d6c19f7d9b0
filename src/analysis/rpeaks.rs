//! R-peaks in an ECG: the QRS detector of Pan and Tompkins (1985), "A
//! real-time QRS detection algorithm", IEEE Transactions on Biomedical
//! Engineering 32(3):230–236, with its filters scaled from the paper's
//! 200 Hz to the signal's rate, and each detection placed at the R peak.
//!
//! 1. Band-pass about 5–15 Hz with the paper's linear-phase integer
//!    filters: a low-pass that is a moving sum of length 30 ms applied
//!    twice, and a high-pass that is the signal delayed minus its moving
//!    mean over 160 ms (odd lengths in samples, so the delays are whole
//!    samples and the band-passed signal lines up exactly with the input).
//! 2. The five-point derivative, squared, and a moving-window integration
//!    over 150 ms.
//! 3. Peaks of the integrated signal, at least 200 ms apart (the
//!    refractory period), are QRS complexes when above the adaptive signal
//!    threshold `NPKI + 0.25 (SPKI − NPKI)`; SPKI and NPKI, the running
//!    levels of signal and noise peaks, are learnt over the first 2 s (a
//!    third of the largest value and half the mean of the integrated
//!    signal) and follow each peak with weight 1/8. A peak within 360 ms of
//!    the previous QRS whose largest squared slope is under half that QRS's
//!    is a T wave. When no QRS has come for 1.66 × the RR average (of the
//!    last eight regular RR intervals, those within 92–116 % of it), the
//!    largest noise peak since the last QRS above half the threshold is
//!    taken (search-back), and SPKI follows it with weight 1/4.
//! 4. Each QRS is placed at the largest |band-passed signal| within ±75 ms
//!    of the integrated peak's centre, interpolated between samples with a
//!    parabola: the R peak's time.
//!
//! The detector runs on frames as they come ([`RPeaks::push`]) with a few
//! kilobytes of state whatever the length; a gap or a clock going back in
//! the sample times restarts the filters (keeping the learnt levels).

use std::collections::VecDeque;

/// Filter and rule lengths of Pan & Tompkins, in seconds.
const LOW_PASS_S: f64 = 0.030;
const HIGH_PASS_S: f64 = 0.160;
const INTEGRATION_S: f64 = 0.150;
const REFRACTORY_S: f64 = 0.200;
const T_WAVE_S: f64 = 0.360;
const REFINE_S: f64 = 0.075;
const LEARNING_S: f64 = 2.0;
/// Search back after this many RR averages without a QRS.
const MISSED_RR: f64 = 1.66;
/// RR intervals counted as regular, fractions of the RR average.
const REGULAR_RR: (f64, f64) = (0.92, 1.16);
const RR_AVERAGED: usize = 8;
/// A sample time further than this many periods from the expected one is
/// a gap.
const GAP_PERIODS: f64 = 1.5;

/// A peak of the integrated signal.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    /// Input sample index of its centre (the QRS it stands for).
    at: u64,
    value: f64,
    /// R-peak time, ns.
    time_ns: f64,
    /// Largest squared slope around it (the T-wave test).
    slope: f64,
}

/// A moving sum over the last `n` values.
#[derive(Debug, Clone)]
struct MovingSum {
    ring: Vec<f64>,
    next: usize,
    sum: f64,
}

impl MovingSum {
    fn new(n: usize) -> Self {
        Self { ring: vec![0.0; n.max(1)], next: 0, sum: 0.0 }
    }

    fn push(&mut self, x: f64) -> f64 {
        self.sum += x - self.ring[self.next];
        self.ring[self.next] = x;
        self.next = (self.next + 1) % self.ring.len();
        self.sum
    }

    /// The value pushed `k` pushes ago (0 = the last).
    fn back(&self, k: usize) -> f64 {
        let n = self.ring.len();
        self.ring[(self.next + n - 1 - k % n) % n]
    }

    fn reset(&mut self) {
        self.ring.fill(0.0);
        self.next = 0;
        self.sum = 0.0;
    }
}

/// Lengths in samples at one rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Lengths {
    low_pass: usize,
    high_pass: usize,
    integration: usize,
    refractory: u64,
    t_wave: u64,
    refine: u64,
    learning: u64,
    /// Input sample index minus the index whose band-passed value comes
    /// out (the band-pass delay), and the same for the integration's
    /// centre.
    band_delay: u64,
    centre_delay: u64,
    history: usize,
}

impl Lengths {
    fn at(rate_hz: f64) -> Self {
        // Rates of ECG devices (100–1000 Hz) give lengths of a few to a
        // few hundred samples.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let samples = |s: f64| ((s * rate_hz).round() as usize).max(1);
        let odd = |n: usize| n | 1;
        let low_pass = samples(LOW_PASS_S);
        let high_pass = odd(samples(HIGH_PASS_S));
        let integration = odd(samples(INTEGRATION_S));
        let band_delay = (low_pass - 1) + (high_pass - 1) / 2;
        // The five-point derivative is centred two samples back.
        let centre_delay = band_delay + 2 + (integration - 1) / 2;
        let refractory = samples(REFRACTORY_S) as u64;
        let refine = samples(REFINE_S) as u64;
        let history = (centre_delay + refractory as usize + refine as usize + 8).next_power_of_two();
        Self {
            low_pass,
            high_pass,
            integration,
            refractory,
            t_wave: samples(T_WAVE_S) as u64,
            refine,
            learning: samples(LEARNING_S) as u64,
            band_delay: band_delay as u64,
            centre_delay: centre_delay as u64,
            history,
        }
    }
}

/// Pan–Tompkins R-peak detection over a stream of ECG samples.
#[derive(Debug, Clone)]
pub struct RPeaks {
    len: Lengths,
    // Filters.
    low1: MovingSum,
    low2: MovingSum,
    high: MovingSum,
    derivative: MovingSum,
    integration: MovingSum,
    /// Input offset (the first sample of a run), so a run does not start
    /// with a step.
    offset: f64,
    /// Per input index modulo the history length: sample time, band-passed
    /// value and squared slope, each at the input index it belongs to.
    times: Vec<f64>,
    band: Vec<f64>,
    slopes: Vec<f64>,
    /// Next input index, index where the current run began, expected time
    /// and period of the next sample.
    n: u64,
    run_start: u64,
    expected_ns: Option<f64>,
    period_ns: f64,
    previous_integrated: f64,
    // Peak finding.
    candidate: Option<Candidate>,
    learning: Option<Learning>,
    levels: Option<(f64, f64)>,
    last_qrs: Option<Candidate>,
    noise_peaks: Vec<Candidate>,
    /// Index up to which a search-back found nothing.
    searched_to: u64,
    rr: VecDeque<u64>,
    rr_average: Option<f64>,
    /// The latest RR intervals that were not regular, in a row: eight of
    /// them are the new rhythm, and become the average.
    irregular: Vec<u64>,
}

/// What the first seconds teach.
#[derive(Debug, Clone, Default)]
struct Learning {
    max: f64,
    sum: f64,
    count: u64,
    peaks: Vec<Candidate>,
}

impl RPeaks {
    /// A detector for an ECG sampled at about `rate_hz` (the nominal rate
    /// is close enough: the lengths are tens of milliseconds).
    #[must_use]
    pub fn new(rate_hz: f64) -> Self {
        let len = Lengths::at(rate_hz);
        Self {
            low1: MovingSum::new(len.low_pass),
            low2: MovingSum::new(len.low_pass),
            high: MovingSum::new(len.high_pass),
            derivative: MovingSum::new(5),
            integration: MovingSum::new(len.integration),
            offset: 0.0,
            times: vec![0.0; len.history],
            band: vec![0.0; len.history],
            slopes: vec![0.0; len.history],
            n: 0,
            run_start: 0,
            expected_ns: None,
            period_ns: 1e9 / rate_hz,
            previous_integrated: 0.0,
            candidate: None,
            learning: Some(Learning::default()),
            levels: None,
            last_qrs: None,
            noise_peaks: Vec::new(),
            searched_to: 0,
            rr: VecDeque::with_capacity(RR_AVERAGED),
            rr_average: None,
            irregular: Vec::with_capacity(RR_AVERAGED),
            len,
        }
    }

    /// Samples (µV) taken at `first_ns + i × period_ns` (session time, as
    /// [`crate::ecg::FrameTiming`] gives them); the R peaks found are
    /// appended to `peaks` as times in ns, in order.
    pub fn push(&mut self, first_ns: f64, period_ns: f64, samples: &[i32], peaks: &mut Vec<f64>) {
        if let Some(expected) = self.expected_ns {
            let gap = (first_ns - expected).abs() > GAP_PERIODS * period_ns.max(self.period_ns);
            if gap {
                self.restart(peaks);
            }
        }
        self.period_ns = period_ns;
        for (i, &s) in samples.iter().enumerate() {
            // Frame lengths are far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            let t = first_ns + period_ns * i as f64;
            self.sample(t, f64::from(s), peaks);
        }
        #[allow(clippy::cast_precision_loss)]
        let next = first_ns + period_ns * samples.len() as f64;
        self.expected_ns = Some(next);
    }

    /// The end of the signal: a peak still waiting out its refractory
    /// period is decided.
    pub fn finish(&mut self, peaks: &mut Vec<f64>) {
        if let Some(c) = self.candidate.take() {
            self.decide(c, peaks);
        }
        if self.learning.is_some() {
            self.end_learning(peaks);
        }
    }

    /// After a gap: the filters start again, the levels and RR average
    /// are kept (a learning under way goes on in the new run).
    fn restart(&mut self, peaks: &mut Vec<f64>) {
        if let Some(c) = self.candidate.take() {
            self.decide(c, peaks);
        }
        for f in [&mut self.low1, &mut self.low2, &mut self.high, &mut self.derivative, &mut self.integration] {
            f.reset();
        }
        self.run_start = self.n;
        self.last_qrs = None;
        self.noise_peaks.clear();
        self.previous_integrated = 0.0;
    }

    fn slot(&self, index: u64) -> usize {
        // The history length is a power of two well below usize::MAX.
        #[allow(clippy::cast_possible_truncation)]
        let i = (index % self.len.history as u64) as usize;
        i
    }

    fn sample(&mut self, t: f64, x: f64, peaks: &mut Vec<f64>) {
        let n = self.n;
        self.n += 1;
        if n == self.run_start {
            self.offset = x;
        }
        let slot = self.slot(n);
        self.times[slot] = t;
        let len = self.len;
        let low = self.low2.push(self.low1.push(x - self.offset));
        let mean = self.high.push(low) / len.high_pass as f64;
        let band = self.high.back((len.high_pass - 1) / 2) - mean;
        let band_at = n.saturating_sub(len.band_delay);
        let band_slot = self.slot(band_at);
        self.band[band_slot] = band;
        self.derivative.push(band);
        let d = &self.derivative;
        let slope = 2.0 * d.back(0) + d.back(1) - d.back(3) - 2.0 * d.back(4);
        let slope_slot = self.slot(band_at.saturating_sub(2));
        self.slopes[slope_slot] = slope * slope;
        let integrated = self.integration.push(slope * slope) / len.integration as f64;

        // Filters fill over the first centre_delay samples of a run.
        if n < self.run_start + len.centre_delay + len.integration as u64 {
            self.previous_integrated = integrated;
            return;
        }
        let centre = n - len.centre_delay;
        if let Some(learning) = &mut self.learning {
            learning.max = learning.max.max(integrated);
            learning.sum += integrated;
            learning.count += 1;
        }
        match self.candidate {
            Some(c) if integrated > c.value => self.candidate = Some(self.candidate_at(centre, integrated)),
            None if integrated > self.previous_integrated => {
                self.candidate = Some(self.candidate_at(centre, integrated));
            }
            Some(c) if centre - c.at >= len.refractory => {
                self.candidate = None;
                self.decide(c, peaks);
            }
            _ => {}
        }
        self.previous_integrated = integrated;
        if self.learning.as_ref().is_some_and(|l| l.count >= len.learning) {
            self.end_learning(peaks);
        }
        self.search_back(centre, peaks);
    }

    /// A peak of the integrated signal centred at input index `centre`:
    /// placed at the largest |band-passed| within ±75 ms.
    fn candidate_at(&self, centre: u64, value: f64) -> Candidate {
        let from = centre.saturating_sub(self.len.refine).max(self.run_start);
        let to = centre + self.len.refine;
        let mut best = (centre, f64::MIN);
        let mut slope: f64 = 0.0;
        for i in from..=to {
            let b = self.band[self.slot(i)].abs();
            if b > best.1 {
                best = (i, b);
            }
            slope = slope.max(self.slopes[self.slot(i)]);
        }
        let (i, y0) = best;
        let mut time_ns = self.times[self.slot(i)];
        if i > from && i < to {
            let (ym, yp) = (self.band[self.slot(i - 1)].abs(), self.band[self.slot(i + 1)].abs());
            let curvature = ym - 2.0 * y0 + yp;
            if curvature < 0.0 {
                let shift = (0.5 * (ym - yp) / curvature).clamp(-0.5, 0.5);
                time_ns += shift * (self.times[self.slot(i + 1)] - self.times[self.slot(i - 1)]) / 2.0;
            }
        }
        Candidate { at: centre, value, time_ns, slope }
    }

    fn thresholds(&self) -> (f64, f64) {
        let (signal, noise) = self.levels.unwrap_or((0.0, 0.0));
        let high = noise + 0.25 * (signal - noise);
        (high, high / 2.0)
    }

    fn end_learning(&mut self, peaks: &mut Vec<f64>) {
        let Some(learning) = self.learning.take() else { return };
        #[allow(clippy::cast_precision_loss)]
        let mean = learning.sum / learning.count.max(1) as f64;
        self.levels = Some((learning.max / 3.0, mean / 2.0));
        for c in learning.peaks {
            self.decide(c, peaks);
        }
    }

    fn decide(&mut self, c: Candidate, peaks: &mut Vec<f64>) {
        if let Some(learning) = &mut self.learning {
            learning.peaks.push(c);
            return;
        }
        let (high, _) = self.thresholds();
        let t_wave =
            self.last_qrs.is_some_and(|q| c.at.saturating_sub(q.at) < self.len.t_wave && c.slope < q.slope / 2.0);
        if c.value > high && !t_wave {
            self.accept(c, 0.125, peaks);
        } else {
            if let Some((_, noise)) = &mut self.levels {
                *noise = 0.125 * c.value + 0.875 * *noise;
            }
            self.noise_peaks.push(c);
        }
    }

    fn accept(&mut self, c: Candidate, weight: f64, peaks: &mut Vec<f64>) {
        if let Some((signal, _)) = &mut self.levels {
            *signal = weight * c.value + (1.0 - weight) * *signal;
        }
        if let Some(last) = self.last_qrs {
            self.count_rr(c.at.saturating_sub(last.at));
        }
        self.last_qrs = Some(c);
        self.noise_peaks.clear();
        peaks.push(c.time_ns);
    }

    fn count_rr(&mut self, rr: u64) {
        #[allow(clippy::cast_precision_loss)]
        let x = rr as f64;
        let regular = self.rr_average.is_none_or(|avg| (REGULAR_RR.0 * avg..=REGULAR_RR.1 * avg).contains(&x));
        if regular {
            self.irregular.clear();
            if self.rr.len() == RR_AVERAGED {
                self.rr.pop_front();
            }
            self.rr.push_back(rr);
        } else {
            self.irregular.push(rr);
            if self.irregular.len() < RR_AVERAGED {
                return;
            }
            self.rr = self.irregular.drain(..).collect();
        }
        #[allow(clippy::cast_precision_loss)]
        let avg = self.rr.iter().sum::<u64>() as f64 / self.rr.len() as f64;
        self.rr_average = Some(avg);
    }

    /// No QRS for 1.66 RR averages: the largest noise peak since the last
    /// QRS above half the threshold was one.
    fn search_back(&mut self, now: u64, peaks: &mut Vec<f64>) {
        let (Some(last), Some(avg)) = (self.last_qrs, self.rr_average) else { return };
        #[allow(clippy::cast_precision_loss)]
        let waited = now.saturating_sub(last.at.max(self.searched_to)) as f64;
        if waited <= MISSED_RR * avg {
            return;
        }
        let (_, low) = self.thresholds();
        let best = self
            .noise_peaks
            .iter()
            .filter(|c| c.value > low && c.at.saturating_sub(last.at) >= self.len.refractory)
            .max_by(|a, b| a.value.total_cmp(&b.value))
            .copied();
        match best {
            Some(c) => {
                // Noise peaks after it stay candidates for the next one.
                let later: Vec<Candidate> = self.noise_peaks.iter().filter(|p| p.at > c.at).copied().collect();
                self.accept(c, 0.25, peaks);
                self.noise_peaks = later;
            }
            None => {
                // Nothing to take (the rhythm stopped, contact lost): look
                // again after another 1.66 RR averages.
                self.searched_to = now;
                self.noise_peaks.clear();
            }
        }
    }
}

/// R-peak times (ns) of a whole signal sampled at `rate_hz` from
/// `start_ns`.
#[must_use]
pub fn detect(samples: &[i32], rate_hz: f64, start_ns: f64) -> Vec<f64> {
    let mut detector = RPeaks::new(rate_hz);
    let mut peaks = Vec::new();
    detector.push(start_ns, 1e9 / rate_hz, samples, &mut peaks);
    detector.finish(&mut peaks);
    peaks
}

/// How detected peaks match true ones within `tolerance_ns`: each true
/// peak pairs with at most one detection (nearest first, in time order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    pub true_positives: usize,
    pub false_negatives: usize,
    pub false_positives: usize,
}

impl Agreement {
    /// Sensitivity, TP / (TP + FN).
    #[must_use]
    pub fn sensitivity(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// Positive predictivity, TP / (TP + FP).
    #[must_use]
    pub fn positive_predictivity(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let r = if b == 0 { 1.0 } else { a as f64 / b as f64 };
    r
}

/// Match `detected` against `reference` (both sorted, ns).
#[must_use]
pub fn agreement(reference: &[f64], detected: &[f64], tolerance_ns: f64) -> Agreement {
    let (mut i, mut j, mut tp) = (0, 0, 0);
    while i < reference.len() && j < detected.len() {
        let d = detected[j] - reference[i];
        if d.abs() <= tolerance_ns {
            tp += 1;
            i += 1;
            j += 1;
        } else if d < 0.0 {
            j += 1;
        } else {
            i += 1;
        }
    }
    Agreement { true_positives: tp, false_negatives: reference.len() - tp, false_positives: detected.len() - tp }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Narrow bumps (a QRS-like spike of ±20 ms) at the given times.
    fn spikes(times_s: &[f64], rate: f64, seconds: f64) -> Vec<i32> {
        let n = (seconds * rate) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / rate;
                let v: f64 = times_s.iter().map(|b| 1000.0 * (-((t - b) / 0.012).powi(2) / 2.0).exp()).sum();
                v.round() as i32
            })
            .collect()
    }

    #[test]
    fn spikes_are_found_at_their_times_at_several_rates() {
        let beats: Vec<f64> = (0..30).map(|i| 0.5 + 0.8 * f64::from(i)).collect();
        for rate in [130.0, 250.0, 500.0] {
            let found = detect(&spikes(&beats, rate, 24.5), rate, 0.0);
            let a = agreement(&beats.iter().map(|b| b * 1e9).collect::<Vec<_>>(), &found, 10e6);
            assert_eq!(a.false_positives, 0, "{rate} Hz: {a:?}");
            // Beats in the first learning seconds count too.
            assert!(a.false_negatives <= 1, "{rate} Hz: {a:?}");
            for (f, b) in found.iter().zip(beats.iter().skip(a.false_negatives)) {
                assert!((f / 1e9 - b).abs() < 0.004, "{rate} Hz: found {f} for {b}");
            }
        }
    }

    #[test]
    fn frames_give_the_same_peaks_as_the_whole_signal() {
        let beats: Vec<f64> = (0..40).map(|i| 0.3 + 0.7 * f64::from(i)).collect();
        let ecg = spikes(&beats, 130.0, 28.0);
        let whole = detect(&ecg, 130.0, 5e9);
        let mut d = RPeaks::new(130.0);
        let mut framed = Vec::new();
        for (k, chunk) in ecg.chunks(73).enumerate() {
            d.push(5e9 + (k * 73) as f64 * 1e9 / 130.0, 1e9 / 130.0, chunk, &mut framed);
        }
        d.finish(&mut framed);
        assert_eq!(whole.len(), framed.len());
        assert!(whole.iter().zip(&framed).all(|(a, b)| (a - b).abs() < 1.0), "{whole:?}\n{framed:?}");
        assert!(whole.len() >= 38);
    }

    #[test]
    fn a_missed_weak_beat_is_found_by_search_back() {
        // Every beat 1000 µV but one at 45 %: its integrated peak (the
        // square, 20 %) is below the threshold, above half of it.
        let beats: Vec<f64> = (0..30).map(|i| 0.5 + 0.8 * f64::from(i)).collect();
        let n = (25.0 * 130.0) as usize;
        let ecg: Vec<i32> = (0..n)
            .map(|i| {
                let t = i as f64 / 130.0;
                let v: f64 = beats
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        let h = if k == 20 { 450.0 } else { 1000.0 };
                        h * (-((t - b) / 0.012).powi(2) / 2.0).exp()
                    })
                    .sum();
                v.round() as i32
            })
            .collect();
        let found = detect(&ecg, 130.0, 0.0);
        assert!(found.iter().any(|f| (f / 1e9 - beats[20]).abs() < 0.01), "{found:?}");
    }

    #[test]
    fn a_gap_restarts_the_filters_without_a_false_peak() {
        let beats: Vec<f64> = (0..20).map(|i| 0.5 + 0.75 * f64::from(i)).collect();
        let ecg = spikes(&beats, 130.0, 15.0);
        let mut d = RPeaks::new(130.0);
        let mut peaks = Vec::new();
        d.push(0.0, 1e9 / 130.0, &ecg, &mut peaks);
        // Thirty seconds later, the same signal again.
        d.push(45e9, 1e9 / 130.0, &ecg, &mut peaks);
        d.finish(&mut peaks);
        let reference: Vec<f64> =
            beats.iter().map(|b| b * 1e9).chain(beats.iter().map(|b| (b + 45.0) * 1e9)).filter(|t| *t < 60e9).collect();
        let a = agreement(&reference, &peaks, 20e6);
        assert_eq!(a.false_positives, 0, "{a:?}");
        assert!(a.false_negatives <= 2, "{a:?}");
    }

    #[test]
    fn a_gap_during_learning_leaves_it_to_finish_on_the_next_run() {
        let beats: Vec<f64> = (0..20).map(|i| 0.5 + 0.75 * f64::from(i)).collect();
        let ecg = spikes(&beats, 130.0, 15.0);
        let mut d = RPeaks::new(130.0);
        let mut peaks = Vec::new();
        // One second, a gap, then the whole signal.
        d.push(0.0, 1e9 / 130.0, &ecg[..130], &mut peaks);
        d.push(20e9, 1e9 / 130.0, &ecg, &mut peaks);
        d.finish(&mut peaks);
        let reference: Vec<f64> = beats.iter().map(|b| b * 1e9).chain(beats.iter().map(|b| (b + 20.0) * 1e9)).collect();
        let a = agreement(&reference, &peaks, 20e6);
        assert_eq!(a.false_positives, 0, "{a:?}");
        assert!(a.true_positives >= 19, "{a:?}");
    }

    #[test]
    fn agreement_counts_misses_and_extras() {
        let a = agreement(&[1.0, 2.0, 3.0], &[1.01, 2.5, 3.0], 0.05);
        assert_eq!(a, Agreement { true_positives: 2, false_negatives: 1, false_positives: 1 });
        assert!((a.sensitivity() - 2.0 / 3.0).abs() < 1e-12);
        assert!((a.positive_predictivity() - 2.0 / 3.0).abs() < 1e-12);
    }
}
