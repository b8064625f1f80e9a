"""How long after an rtmidi port's opening or closing returns the JACK server is still
telling clients about it: the measurement behind engine/live/jack_graph.py's SETTLE_S.

    PYTHONPATH=bench .venv/bin/python bench/jack_settle.py [--rounds 40] [--server NAME] [--json out.json]

A JACK-Client client of our own, activated with a graph-order callback, stamps each
notification it gets (the server sends the latency notifications, whose handling in libjack
races with `jack_port_unregister`, just before the graph-order one). Each round opens a
client with a virtual port, then closes it, and after each step waits 0.3 s and takes the
last notification's time less the moment the step returned. Starts a realtime JACK server
with the dummy driver (period 64 at 48 kHz) unless --server names a running one; on a
server that others are changing, the figures are theirs too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import rtmidi
from stream_timing import jack_server

QUIET_S = 0.3  # how long each step is watched for late notifications


def measure(rounds: int) -> dict[str, list[float]]:
    import jack

    seen: list[float] = []
    observer = jack.Client("settle observer", no_start_server=True)
    observer.set_graph_order_callback(lambda: seen.append(time.monotonic()))
    observer.activate()
    time.sleep(QUIET_S)
    after: dict[str, list[float]] = {"open": [], "close": []}
    try:
        for i in range(rounds):
            midi = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=f"settle {i}")
            time.sleep(QUIET_S)  # the client's own activation is a change too: not this step's
            for step in ("open", "close"):
                seen.clear()
                if step == "open":
                    midi.open_virtual_port("out")
                else:
                    midi.close_port()
                    midi.delete()
                returned = time.monotonic()
                time.sleep(QUIET_S)
                after[step].append(max(seen) - returned if seen else float("nan"))
    finally:
        observer.deactivate()
        observer.close()
    return after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--server", help="a running JACK server to use (default: start one)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with jack_server(args.server, realtime=True):
        after = measure(args.rounds)
    report = {}
    for step, delays in after.items():
        ms = np.array(delays) * 1000
        heard = ms[~np.isnan(ms)]
        report[step] = {"rounds": len(ms), "notified": int(len(heard)),
                        "median_ms": float(np.median(heard)) if len(heard) else None,
                        "max_ms": float(heard.max()) if len(heard) else None}
        print(f"{step:5s}: a notification in {len(heard)} of {len(ms)} rounds; the last one "
              f"{report[step]['median_ms']:+.2f} ms after the step returned (median), "
              f"{report[step]['max_ms']:+.2f} ms at most")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
