#!/usr/bin/env python3
"""Open a vigil recording with pyarrow and polars; print what they see as JSON.

    check_recording.py DIR                 every *.arrow file of a recording
    check_recording.py --unfinished FILE   one unfinished (footer-less) file,
                                           read as the IPC stream after the
                                           8-byte magic, up to the last whole
                                           message

Run by tests/record_python.rs and tests/record_kill.rs through $VIGIL_PYTHON,
which compare the output with vigil's own reading.
"""
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import polars as pl


def arrow_schema(schema):
    return [[f.name, str(f.type), f.nullable] for f in schema]


def check_file(path):
    with pa.memory_map(str(path)) as source:
        table = ipc.open_file(source).read_all()
    frame = pl.read_ipc(path)
    return {
        "pyarrow": {"rows": table.num_rows, "schema": arrow_schema(table.schema)},
        "polars": {
            "rows": frame.height,
            "schema": [[name, str(dtype)] for name, dtype in frame.schema.items()],
        },
    }


def check_unfinished(path):
    data = Path(path).read_bytes()
    if data[:6] != b"ARROW1":
        raise SystemExit(f"{path}: no Arrow magic")
    reader = ipc.open_stream(pa.BufferReader(pa.py_buffer(data[8:])))
    rows = batches = 0
    stopped = None
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError) as e:  # the cut last message
            stopped = str(e)
            break
        rows += batch.num_rows
        batches += 1
    return {"rows": rows, "batches": batches, "schema": arrow_schema(reader.schema), "stopped": stopped}


def main(argv):
    if len(argv) == 3 and argv[1] == "--unfinished":
        out = check_unfinished(argv[2])
    elif len(argv) == 2:
        out = {"files": {p.name: check_file(p) for p in sorted(Path(argv[1]).glob("*.arrow"))}}
    else:
        raise SystemExit(__doc__)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv)
