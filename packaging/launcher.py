"""The frozen app's entry point: the `bytes2beats` command, the desktop app included.

A frozen program carries no Python to run modules with, yet the app starts its helpers as
`sys.executable -m MODULE ARGS` (a training job, the MIDI monitor). Here `-m` runs the
module from inside the bundle, as Python would, so those helpers work frozen and unfrozen
alike. `freeze_support` lets multiprocessing's spawned workers (macOS, Windows) start.
"""

from __future__ import annotations

import multiprocessing
import runpy
import sys


def main() -> int:
    multiprocessing.freeze_support()
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from bytes2beats.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
