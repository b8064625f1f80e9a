"""A MIDI monitor that stamps every arrival: `python -m bytes2beats.engine.live.monitor`.

It opens an input (a virtual one, or connected to an output port by name) and prints one
JSON line per message: {"t": arrival in time.monotonic_ns(), "chain": the backend's own
arrival clock, "msg": [bytes]}. The first line is {"ready": "<port>"} once the port is
open; the last, when stdin closes or on SIGTERM, {"offset": ns}: arrival = chain + offset
is the best estimate, known only at the end (see `inputs.StampedInput`). CLOCK_MONOTONIC
is one clock for every process of a machine, so the arrivals compare directly with a
sender's schedule: the live tests and `bench/stream_timing.py` use it as a receiver in
another process.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading

from .inputs import StampedInput
from .ports import PortError


def read_arrivals(lines) -> list[tuple[int, list[int]]]:
    """(arrival ns, message) from the monitor's JSON lines, with the final offset when given."""
    records, offset = [], None
    for line in lines:
        record = json.loads(line) if isinstance(line, str) else line
        if "msg" in record:
            records.append(record)
        elif "offset" in record:
            offset = record["offset"]
    if offset is None:
        return [(r["t"], r["msg"]) for r in records]
    return [(int(r["chain"] + offset), r["msg"]) for r in records]


class MonitorProcess:
    """The monitor run in another process; `close()` returns every arrival.

    Parameters are the monitor's: `name` of its virtual input ("<name>:in"), or `connect`
    to follow an output port; `api` (default "auto").
    """

    def __init__(self, name: str = "b2b monitor", connect: str | None = None, api: str = "auto",
                 timeout: float = 10.0):
        command = [sys.executable, "-m", "bytes2beats.engine.live.monitor", "--api", api, "--name", name]
        if connect:
            command += ["--connect", connect]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        first = self._first_line(timeout)
        if "ready" not in first:
            self.process.kill()
            raise RuntimeError(f"the monitor did not start: {first}")
        self.port = first["ready"]
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def _first_line(self, timeout: float) -> dict:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return json.loads(box[0]) if box and box[0] else {"error": "no answer"}

    def arrivals_so_far(self) -> list[tuple[int, list[int]]]:
        """Arrivals read until now, stamped with the online estimate (see read_arrivals)."""
        return read_arrivals(list(self.lines))

    def close(self) -> list[tuple[int, list[int]]]:
        """Stop the monitor; every arrival as (monotonic ns, message)."""
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        return read_arrivals(self.lines)

    def kill(self) -> None:
        """Go away at once, as a crashed receiver does."""
        self.process.kill()
        self.process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bytes2beats.engine.live.monitor")
    parser.add_argument("--api", default="auto")
    parser.add_argument("--name", default="b2b monitor", help="client name (the port is '<name>:in')")
    parser.add_argument("--connect", help="follow this output port instead of opening a virtual input")
    args = parser.parse_args(argv)

    try:
        midi = StampedInput(args.api, args.name, args.connect, port_name="in", timing=True)
    except PortError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    lock = threading.Lock()

    def on_message(message: list[int], t_ns: int) -> None:
        chain = t_ns - midi.offset_ns
        with lock:
            sys.stdout.write(json.dumps({"t": t_ns, "chain": chain, "msg": message}) + "\n")
            sys.stdout.flush()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    with lock:
        print(json.dumps({"ready": midi.name, "api": midi.api}), flush=True)
    midi.attach(on_message)
    done.wait()
    midi.close()
    with lock:
        print(json.dumps({"offset": midi.offset_ns}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
