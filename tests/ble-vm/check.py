"""Host-side checks of one BLE VM run (tests/ble-vm/run).

    python3 check.py OUT_DIR

OUT_DIR holds what the guest wrote: peripheral.log (what BlueZ's example
peripheral sent), scan.out, vigil.out (vigil's stdout) and, for
`vigil monitor --record-dir`, rec/<session>/*.arrow.

vigil.out is either the probe's event lines (examples/ble_probe.rs, the
`--stream` input format of DESIGN.md) or `vigil monitor --headless` lines
(DESIGN.md "Headless output"); the checks follow whichever it is.
Exit status 0 when every check passed.
"""

import json
import re
import sys
from pathlib import Path

# Values sent before vigil subscribed or after it stopped listening (the
# notification in flight at power-off, the last one before SIGTERM) may be
# missed; any more missing is a failure.
MAY_MISS = 4
MIN_PER_PHASE = 5

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
ECG_FRAME_SAMPLES = 73


class Sent:
    """What one strap's peripheral log says it did, per start of the
    peripheral (a phase): heart rate (2a37), temperature (2a1c) and ECG
    frame payloads (hex), and the PMD start commands it was written. Only
    up to the `=== vigil stopping` mark: what a strap sends while vigil
    shuts down need not arrive. The PMD stop commands are counted after
    the mark."""

    def __init__(self, path):
        self.hr, self.temp, self.ecg, self.starts = [], [], [], []
        self.stops_on_exit = 0
        stopping = False
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("=== vigil stopping"):
                stopping = True
            elif stopping:
                self.stops_on_exit += line.startswith("PMD stop")
            elif line.startswith("=== peripheral start"):
                for phases in (self.hr, self.temp, self.ecg):
                    phases.append([])
                self.starts.append(0)
            elif not self.hr:
                continue
            elif line.startswith("Updating value:"):
                values = [int(b) for b in re.findall(r"dbus\.Byte\((\d+)\)", line)]
                self.hr[-1].append(bytes(values).hex())
            elif line.startswith("Thermometer value:"):
                self.temp[-1].append(line.split(":", 1)[1].strip())
            elif line.startswith("ECG frame:"):
                self.ecg[-1].append(line.split(":", 1)[1].strip())
            elif line.startswith("PMD start"):
                self.starts[-1] += 1


def sent_phases(path):
    """Heart-rate and temperature payloads per phase (see `Sent`)."""
    sent = Sent(path)
    return sent.hr, sent.temp


def match_positions(needle, haystack):
    """Positions in haystack of an in-order match of every needle item, or
    None when needle is not a subsequence of haystack."""
    positions, start = [], 0
    for n in needle:
        try:
            start = haystack.index(n, start)
        except ValueError:
            return None
        positions.append(start)
        start += 1
    return positions


def is_subsequence(needle, haystack):
    return match_positions(needle, haystack) is not None


def json_lines(path):
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def check_payloads(received, phases, source, what="heart-rate", per_phase=MIN_PER_PHASE, may_miss=MAY_MISS):
    sent = [p for phase in phases for p in phase]
    check(len(phases) >= 2, f"the peripheral was started at least twice ({len(phases)})")
    check(len(received) > 0, f"{source}: {what} values arrived ({len(received)})")
    positions = match_positions(received, sent)
    check(positions is not None, f"{source}: every {what} payload is one the peripheral sent, in order")
    positions = positions or []
    end = 0
    for i, phase in enumerate(phases, 1):
        begin, end = end, end + len(phase)
        got = sum(1 for p in positions if begin <= p < end)
        check(got >= per_phase, f"{source}: {got} of the {len(phase)} {what} values sent in phase {i} arrived")
    check(
        len(received) >= len(sent) - may_miss,
        f"{source}: {len(received)} of {len(sent)} sent {what} values arrived (at most {may_miss} missed)",
    )


def check_temperatures(received, temp_phases, source):
    # Indications every 2 s: fewer per phase, and each phase may lose one at
    # either end.
    check_payloads(received, temp_phases, source, "temperature", per_phase=1, may_miss=4)


def check_probe(rows, address, phases, temp_phases):
    kinds = []
    for r in rows:
        if r.get("event") in ("connected", "disconnected"):
            kinds.append(r["event"])
        elif r.get("characteristic") == "2a37":
            if not kinds or kinds[-1] != "hr":
                kinds.append("hr")
    print("     event sequence:", " ".join(kinds))
    check(
        is_subsequence(["connected", "hr", "disconnected", "connected", "hr"], kinds),
        "connected, data, disconnected, connected again, data again",
    )
    if len(phases) >= 3:
        reasons = [r.get("reason") or "" for r in rows if r.get("event") == "disconnected"]
        stale = [i for i, r in enumerate(rows) if r.get("event") == "disconnected" and (r.get("reason") or "").startswith("stale")]
        check(bool(stale), f"the quiet stream was found stale and dropped (reasons: {reasons})")
        after = rows[stale[0]:] if stale else []
        check(
            any(r.get("event") == "connected" for r in after) and any(r.get("characteristic") == "2a37" for r in after),
            "re-acquired after the stale drop, data again",
        )
    connected = [r for r in rows if r.get("event") == "connected"]
    check(
        bool(connected) and all((r.get("address") or "").upper() == address for r in connected),
        f"connected only to the chosen device {address}",
    )
    check(
        any("0x180D" in r.get("services", []) for r in connected),
        "the connection lists the Heart Rate service",
    )
    check(
        any(r.get("characteristic") == "2a19" for r in rows),
        "battery level was read and forwarded",
    )
    received = [r["payload"] for r in rows if r.get("characteristic") == "2a37"]
    check_payloads(received, phases, "probe")
    temps = [r["payload"] for r in rows if r.get("characteristic") == "2a1c"]
    check_temperatures(temps, temp_phases, "probe")


def check_headless(rows, phases, temp_phases, out):
    """`vigil monitor --headless` lines, then the recording."""
    seq = []
    for r in rows:
        if r.get("type") == "connection":
            seq.append(r.get("event"))
        elif r.get("type") == "alarm" and r.get("alarm") == "tech.disconnected":
            seq.append("tech.disconnected:" + r.get("state", "?"))
    print("     connection/alarm sequence:", " ".join(seq))
    check(
        is_subsequence(["connected", "disconnected", "tech.disconnected:active", "connected"], seq)
        or is_subsequence(["connected", "tech.disconnected:active", "disconnected", "connected"], seq),
        "tech.disconnected raised when the peripheral went away",
    )
    raised = [i for i, s in enumerate(seq) if s == "tech.disconnected:active"]
    reconnected = [i for i, s in enumerate(seq) if s == "connected" and raised and i > raised[0]]
    # An outage longer than 60 s escalates the alarm to high priority, and an
    # unacknowledged high alarm whose condition ends is latched (DESIGN.md):
    # under a slow emulator either ending is right.
    ended = {"tech.disconnected:cleared", "tech.disconnected:latched"}
    check(
        bool(reconnected) and bool(ended & set(seq[reconnected[0]:])),
        "tech.disconnected cleared (or latched, if escalated) after the reconnection",
    )
    if len(phases) >= 3:
        stale = [
            i
            for i, r in enumerate(rows)
            if r.get("type") == "connection"
            and r.get("event") == "disconnected"
            and (r.get("reason") or "").startswith("stale")
        ]
        check(bool(stale), "the quiet stream was found stale and dropped")
        check(
            bool(stale) and any(r.get("event") == "connected" for r in rows[stale[0]:]),
            "re-acquired after the stale drop",
        )
    check(any(r.get("type") == "summary" for r in rows), "a summary line ended the run (clean SIGTERM)")
    check_recording(out / "rec", phases, temp_phases)


def check_recording(rec, phases, temp_phases):
    try:
        import pyarrow.ipc as ipc
    except ImportError:
        print("skip recording checks: pyarrow is not installed for this python (set VIGIL_PYTHON)")
        return
    sessions = sorted(p for p in rec.glob("*") if (p / "notifications.arrow").exists())
    if not check(len(sessions) == 1, f"one recording under {rec} ({len(sessions)})"):
        return

    def read(path, columns):
        # Only the columns checked: `t` is timestamp[ns], which to_pylist
        # cannot turn into datetime without pandas.
        with open(path, "rb") as f:
            return ipc.open_file(f).read_all().select(columns)

    try:
        notes = read(sessions[0] / "notifications.arrow", ["characteristic", "payload"]).to_pylist()
    except Exception as e:  # an unfinished file (no footer) is a failure here
        check(False, f"notifications.arrow is a finished Arrow IPC file ({e})")
        return
    check_ecg(notes, rec.parent)
    received = [bytes(r["payload"]).hex() for r in notes if r["characteristic"] == "2a37"]
    check_payloads(received, phases, "notifications.arrow")
    temps = [bytes(r["payload"]).hex() for r in notes if r["characteristic"] == "2a1c"]
    check_temperatures(temps, temp_phases, "notifications.arrow")
    try:
        samples = read(sessions[0] / "samples.arrow", ["quantity", "value"]).to_pylist()
    except Exception as e:
        check(False, f"samples.arrow is a finished Arrow IPC file ({e})")
        return
    hr = [r["value"] for r in samples if r["quantity"] == "heart_rate_bpm"]
    expected = [float(bytes.fromhex(p)[1]) for p in received]
    check(hr == expected, f"samples.arrow heart_rate_bpm equals the notified bpm ({len(hr)} samples)")


def check_ecg(notes, out):
    """Polar PMD ECG: vigil wrote the start command after every connection
    (so after the forced disconnection and after the stale drop, by
    itself), recorded every frame the strap sent, and wrote the stop
    command when it was stopped."""
    sent = Sent(out / "peripheral.log")
    print(f"     ECG frames sent per phase {[len(p) for p in sent.ecg]}, PMD starts {sent.starts}")
    check(
        bool(sent.starts) and all(n >= 1 for n in sent.starts),
        f"vigil wrote the ECG start command after every connection ({sent.starts} per phase)",
    )
    received = [bytes(r["payload"]).hex() for r in notes if r["characteristic"] == PMD_DATA]
    # Frames come every 0.56 s: a few more than heart-rate values may be in
    # flight at an outage.
    check_payloads(received, sent.ecg, "notifications.arrow", "ECG frame", may_miss=8)
    check(
        all(len(bytes.fromhex(p)) == 10 + 3 * ECG_FRAME_SAMPLES for p in received),
        f"every recorded ECG frame is whole ({10 + 3 * ECG_FRAME_SAMPLES} bytes: no MTU truncation)",
    )
    check(sent.stops_on_exit >= 1, f"vigil wrote the ECG stop command on exit ({sent.stops_on_exit})")
    check_ecg_file(out / "rec", received)


def check_ecg_file(rec, received):
    """The finished recording's ecg.arrow holds every recorded frame's
    samples, as the frames carried them."""
    import pyarrow.ipc as ipc

    files = sorted(rec.glob("*/ecg.arrow"))
    if not check(len(files) == 1, f"the recording has an ecg.arrow ({len(files)})"):
        return
    with open(files[0], "rb") as f:
        table = ipc.open_file(f).read_all()
    uv = table.column("uv").to_pylist()
    frames = [bytes.fromhex(p) for p in received]
    expected = [
        [int.from_bytes(b[10 + 3 * i : 13 + 3 * i], "little", signed=True) for i in range((len(b) - 10) // 3)]
        for b in frames
    ]
    check(uv == expected, f"ecg.arrow holds the {len(expected)} frames' samples in µV ({sum(map(len, uv))} samples)")


SETUP_ERRORS = {
    "no-bluez": "BlueZ is not running",
    "no-adapter": "no Bluetooth adapter found",
    "powered-off": "is powered off",
    "permission": "permission denied",
}


def check_setup_errors(out):
    """Unusable Bluetooth: one sentence saying what to do, a non-zero exit,
    no panic."""
    for name, phrase in SETUP_ERRORS.items():
        path = out / f"setup-{name}.err"
        if not path.exists():
            check(False, f"setup error case {name} ran")
            continue
        lines = path.read_text(errors="replace").splitlines()
        status = lines[-1] if lines else ""
        said = [l for l in lines[:-1] if phrase in l]
        check(
            status not in ("exit 0", "") and bool(said) and not any("panicked" in l for l in lines),
            f"{name}: exits non-zero saying `{phrase}`: {said[0].strip() if said else lines[:-1]}",
        )


def main():
    out = Path(sys.argv[1])
    address = (out / "hci1-address").read_text().strip().upper()
    phases, temp_phases = sent_phases(out / "peripheral.log")
    print(f"     peripheral {address} sent {[len(p) for p in phases]} heart-rate values per phase")
    print(f"     and {[len(p) for p in temp_phases]} temperatures per phase")

    scan = json_lines(out / "scan.out")
    check(
        any(r.get("address", "").upper() == address and "0x180D" in r.get("services", []) for r in scan),
        f"scan lists {address} with the Heart Rate service",
    )
    check_setup_errors(out)
    rows = json_lines(out / "vigil.out")
    if any("type" in r for r in rows):
        check_headless(rows, phases, temp_phases, out)
    else:
        check_probe(rows, address, phases, temp_phases)
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
