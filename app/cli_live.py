"""`bytes2beats stream` and `bytes2beats ports` (live MIDI): filled in by the streaming work."""

from __future__ import annotations


def add_live_commands(sub, add_model_options) -> None:
    """Register the live commands; each sets `handler` to its function."""
