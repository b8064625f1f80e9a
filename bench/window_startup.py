"""Benchmark: seconds from typing `bytes2beats gui` to the window on screen.

    .venv/bin/python bench/window_startup.py [--runs 5]

Each run is a fresh process (Python, Qt and the engine's imports included) with
BYTES2BEATS_STARTUP_TIMING=exit, which quits as soon as the window is shown (the model
loads on the worker meanwhile and is not waited for). The goal is under 3 s on a laptop;
prints the median and the slowest run with the machine and its load, since both move them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from canvas_redraw import cpu_name

    commands, shown = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               "XDG_CONFIG_HOME": str(Path(tmp) / "config"), "BYTES2BEATS_STARTUP_TIMING": "exit"}
        for _ in range(args.runs):
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "bytes2beats", "gui"], env=env, capture_output=True,
                                 text=True, timeout=120)
            commands.append(time.perf_counter() - start)
            line = next((x for x in run.stdout.splitlines() if x.startswith("window shown")), None)
            if line is None:
                sys.exit(f"the window was not shown: {run.stderr[-2000:]}")
            shown.append(float(line.split()[2]))
    load = os.getloadavg()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{args.runs} runs, Qt platform {env['QT_QPA_PLATFORM']}")
    print(f"  command to window shown     median {statistics.median(commands):.2f} s   slowest {max(commands):.2f} s")
    print(f"  of which after Qt started   median {statistics.median(shown):.2f} s   slowest {max(shown):.2f} s")


if __name__ == "__main__":
    main()
