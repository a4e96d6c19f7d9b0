#!/usr/bin/env python3
"""Join a vigil recording's samples and events on `t` with polars, no cast.

    join_recording.py DIR

Prints JSON: each file's `t` dtype as polars names it; each file's schema
metadata (through pyarrow: polars does not expose it); for each dose marker
(`dose_kind` set) its `t` in microseconds, `dose_mg`, `dose_kind` and the
last `chest` heart rate at or before it (a backward `join_asof`); the rows
of an inner join of samples and events on equal `t`. Run by
tests/record_python.rs through $VIGIL_PYTHON, which compares the figures
with vigil's own reading.
"""
import json
import sys
from pathlib import Path

import polars as pl
import pyarrow.ipc as ipc


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__)
    d = Path(argv[1])
    samples = pl.read_ipc(d / "samples.arrow")
    events = pl.read_ipc(d / "events.arrow")
    hr = (
        samples.filter((pl.col("device") == "chest") & (pl.col("quantity") == "heart_rate_bpm"))
        .select("t", pl.col("value").alias("hr"))
        .sort("t")
    )
    doses = (
        events.filter(pl.col("dose_kind").is_not_null())
        .select("t", "dose_mg", pl.col("dose_kind").cast(pl.Utf8))
        .sort("t")
        .join_asof(hr, on="t", strategy="backward")
    )
    inner = samples.join(events, on="t", how="inner")
    metadata = {}
    for p in sorted(d.glob("*.arrow")):
        schema = ipc.open_file(str(p)).schema
        metadata[p.name] = {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()}
    out = {
        "t": {"samples": str(samples.schema["t"]), "events": str(events.schema["t"])},
        "metadata": metadata,
        "doses": doses.select(pl.col("t").dt.epoch("us"), "dose_mg", "dose_kind", "hr").rows(),
        "inner_rows": inner.height,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv)
