"""NeuroKit2's share of benches/hrv.rs: the work `vigil analyze` does on
an RR series, done with NeuroKit2 and timed.

Reads {"sampling_rate": Hz, "ticks": [RR in samples], "window_s": s,
"windows": n} from the file named by argv[1]; repeats argv[2] times. Each
repetition, timed with time.perf_counter: signal_fixpeaks(method="kubios")
on the whole series' peaks, then for each of the `windows` windows of
`window_s` and for the whole series: hrv_time, hrv_frequency (at vigil's
4 Hz interpolation rate) and DFA alpha1 (fractal_dfa over box sizes
4..16). A window holds the intervals whose ending beat lies in it. Prints
{"neurokit2": version, "seconds": [one per repetition], "median_s": s,
"beats": corrected peaks, "rmssd_all_ms": check value} as JSON. With 0
repetitions, only {"neurokit2": version}: the bench's check that the
packages are there. Exits 3 with a message on stderr when they are not.
"""

import json
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")

try:
    import numpy as np
    import neurokit2 as nk
except ImportError as e:
    print(f"NeuroKit2 comparison needs numpy and neurokit2: {e}", file=sys.stderr)
    sys.exit(3)


def measures(peaks, fs):
    """One window's time domain, frequency domain and DFA alpha1."""
    t = nk.hrv_time(peaks, sampling_rate=fs)
    f = nk.hrv_frequency(peaks, sampling_rate=fs, interpolation_rate=4, psd_method="welch")
    nn = np.diff(peaks) * 1000.0 / fs
    alpha1, _ = nk.fractal_dfa(nn, scale=np.arange(4, 17), multifractal=False)
    return float(t["HRV_RMSSD"].iloc[0]), float(f["HRV_HF"].iloc[0]), float(alpha1)


def analyze(peaks, fs, window_s, windows):
    _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=fs, iterative=True, method="kubios")
    fixed = np.asarray(fixed)
    seconds = fixed / fs
    for w in range(windows):
        # Intervals ending in [start, end): those peaks and the one before.
        lo = int(np.searchsorted(seconds, w * window_s, side="left"))
        hi = int(np.searchsorted(seconds, (w + 1) * window_s, side="left"))
        measures(fixed[max(lo - 1, 0):hi], fs)
    return len(fixed), measures(fixed, fs)


def main():
    repetitions = int(sys.argv[2])
    if repetitions == 0:
        json.dump({"neurokit2": nk.__version__}, sys.stdout)
        return
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    fs = spec["sampling_rate"]
    peaks = np.concatenate([[0], np.cumsum(spec["ticks"])]).astype(np.int64)
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        beats, (rmssd, _, _) = analyze(peaks, fs, spec["window_s"], spec["windows"])
        times.append(time.perf_counter() - start)
    json.dump(
        {
            "neurokit2": nk.__version__,
            "seconds": times,
            "median_s": statistics.median(times),
            "beats": beats,
            "rmssd_all_ms": rmssd,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
