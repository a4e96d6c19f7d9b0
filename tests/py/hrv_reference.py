"""HRV references for tests/hrv_reference.rs.

Reads {"sampling_rate": Hz, "series": [{"name", "ticks": [RR in samples],
"nn_ms": [NN]}]} from the file named by argv[1]; prints, per series,
NeuroKit2's first-pass kubios classification of the ticks (per RR interval)
and its iterative correction, and the time domain, hrv-analysis frequency
domain and NeuroKit2 DFA alpha1 of the given NN series (vigil's corrected
one, so that the measures are compared on the same input), as JSON.
"""

import json
import sys
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import neurokit2 as nk  # noqa: E402
from hrvanalysis import get_frequency_domain_features  # noqa: E402
from neurokit2.signal.signal_fixpeaks import _find_artifacts  # noqa: E402

CLASSES = {"ectopic": "ectopic", "missed": "missed", "extra": "extra", "longshort": "long_short"}


def reference(ticks, given_nn, fs):
    peaks = np.concatenate([[0], np.cumsum(ticks)]).astype(np.int64)
    first, _ = _find_artifacts(peaks, sampling_rate=fs)
    classes = ["normal"] * len(ticks)
    for key, name in CLASSES.items():
        for peak in first[key]:
            if peak >= 1:
                classes[peak - 1] = name
    _, fixed = nk.signal_fixpeaks(peaks, sampling_rate=fs, iterative=True, method="kubios")
    fixed_nn = np.diff(np.asarray(fixed, dtype=float)) * 1000.0 / fs
    nn = np.asarray(given_nn, dtype=float)
    ht = nk.hrv_time(np.concatenate([[0.0], np.cumsum(nn)]), sampling_rate=1000)
    diffs = np.diff(nn)
    sdnn = float(np.std(nn, ddof=1))
    sdsd = float(np.std(diffs, ddof=1))
    nn50 = int(np.sum(np.abs(diffs) > 50))
    time = {
        "mean_nn_ms": float(ht["HRV_MeanNN"].iloc[0]),
        "sdnn_ms": float(ht["HRV_SDNN"].iloc[0]),
        "rmssd_ms": float(ht["HRV_RMSSD"].iloc[0]),
        "sdsd_ms": float(ht["HRV_SDSD"].iloc[0]),
        "nn50": nn50,
        "pnn50_percent": 100.0 * nn50 / len(diffs),
        "mean_hr_bpm": float(np.mean(60000.0 / nn)),
        "min_hr_bpm": float(60000.0 / np.max(nn)),
        "max_hr_bpm": float(60000.0 / np.min(nn)),
        "sd1_ms": float(np.sqrt(sdsd**2 / 2)),
        "sd2_ms": float(np.sqrt(2 * sdnn**2 - sdsd**2 / 2)),
    }
    freq = get_frequency_domain_features(list(nn), method="welch")
    dfa, _ = nk.fractal_dfa(nn, scale=np.arange(4, 17), multifractal=False)
    return {
        "classes": classes,
        "nn_ms": fixed_nn.tolist(),
        "time": time,
        "frequency": {k: float(v) for k, v in freq.items()},
        "dfa_alpha1": float(dfa),
    }


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    fs = spec["sampling_rate"]
    out = {s["name"]: reference(s["ticks"], s["nn_ms"], fs) for s in spec["series"]}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
