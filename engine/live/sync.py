"""Following a DAW: a MIDI input that takes clock, Start, Stop, Continue and Song Position.

The input is a virtual port of our own ("Bytes to Beats sync": the DAW sends its clock
there) or a connection to an existing output port by name. Messages arrive stamped on the
monotonic clock (see `inputs.StampedInput`) and the realtime ones go to the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable

from .inputs import StampedInput
from .ports import VIRTUAL_PORT_NAME

SYNC_MESSAGES = {0xF8, 0xFA, 0xFB, 0xFC, 0xF2}  # clock, Start, Continue, Stop, Song Position


class SyncInput:
    """A MIDI input for an external clock; `attach(handler)` delivers handler(message, t_ns)
    on the input's own thread."""

    def __init__(self, api: str = "auto", port_name: str = f"{VIRTUAL_PORT_NAME} sync",
                 connect: str | None = None, on_sender: Callable[[str, str], None] | None = None):
        """`on_sender`: StampedInput's, for a clock sender that goes and comes back."""
        self._input = StampedInput(api, port_name, connect, port_name=port_name, timing=True, on_sender=on_sender)
        self.api = self._input.api
        self.name = self._input.name

    def attach(self, handler: Callable[[list[int], int], None]) -> None:
        def on_message(message: list[int], t_ns: int) -> None:
            if message and message[0] in SYNC_MESSAGES:
                handler(message, t_ns)

        self._input.attach(on_message)

    def close(self) -> None:
        self._input.close()
