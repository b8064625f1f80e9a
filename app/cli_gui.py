"""`bytes2beats gui` (and `bytes2beats` with no command): the desktop window."""

from __future__ import annotations


def add_gui_command(sub) -> None:
    g = sub.add_parser("gui", help="open the desktop app (the default with no command)")
    g.add_argument("--model", help="the model to start with (a name or a .safetensors path)")
    g.add_argument("--device", default="auto", help="where the model runs: auto (default), cpu, cuda or mps")
    g.add_argument("--screenshot", help="generate a clip, save a picture of the window here, and quit")
    g.set_defaults(handler=run_gui)


def run_gui(args) -> int:
    from bytes2beats.desktop.app import run

    return run(args)
