"""Real JACK servers (dummy driver) for the tests, under names that a later run reuses.

JACK keeps a registry of at most 8 servers in /dev/shm. A server that ends cleanly frees
its slot; one killed with SIGKILL (as the tests that kill a server mid-stream do, and as a
test run killed by a timeout leaves its own) keeps the slot until a server *of the same
name* starts again. Names made of the test run's pid were never reused, so every run
leaked a slot until no server could start at all ("Too many servers already active").

So every server here is named `b2b-<role>-<i>`, with the first `i` no live server holds:
runs one after another always reuse `-0`, and reclaim whatever an earlier run left.
"""
from __future__ import annotations

import os
import re
import subprocess
import time

POOL = 4  # names per role: test runs side by side (a helper's and one's own) each get one


def start_dummy_server(role: str, realtime: bool = False) -> tuple[str, subprocess.Popen]:
    """Start a JACK server of the dummy driver (period 64 at 48 kHz) and wait until clients
    can reach it. Returns its name and process."""
    said = []
    for index in range(POOL):
        name = f"b2b-{role}-{index}"
        process = start_named_server(name, realtime)
        if process is not None:
            return name, process
        said.append(name)
    raise RuntimeError(f"no JACK server could start under any of {said}: JACK's registry in /dev/shm "
                       "may be full of servers that were killed (stop them, or start one of each name)")


def start_named_server(name: str, realtime: bool = False, timeout_s: float = 10.0) -> subprocess.Popen | None:
    """Start the server `name`; None where it cannot (a live server holds the name, or the
    registry is full)."""
    mode = ["-R"] if realtime else ["--no-realtime"]
    process = subprocess.Popen(["jackd", "-n", name, *mode, "-S", "-d", "dummy", "-r", "48000", "-p", "64"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "JACK_DEFAULT_SERVER": name}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None  # refused: the name is taken, or no slot is free
        ready = subprocess.run(["jack_wait", "-c"], capture_output=True, text=True, env=env)
        if ready.stdout.strip() == "running":
            time.sleep(0.3)  # a server already running under this name answers too: ours must stay up
            if process.poll() is None:
                return process
            return None
        time.sleep(0.1)
    stop_server(process)
    return None


def stop_server(process: subprocess.Popen) -> None:
    """End a server cleanly (SIGTERM frees its registry slot), by force after 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def dumped(text: str) -> list[tuple[int, list[int]]]:
    """(frame, message) per line `jack_midi_dump -a` printed ("  66432: 90 3c 50 note on ...")."""
    out = []
    for line in text.splitlines():
        match = re.match(r"\s*(\d+):((?: [0-9a-f]{2})+)", line)
        if match:
            out.append((int(match.group(1)), [int(b, 16) for b in match.group(2).split()]))
    return out
