"""Following a DAW: a MIDI input that takes clock, Start, Stop, Continue and Song Position.

The input is a virtual port of our own ("Bytes to Beats sync": the DAW sends its clock
there) or a connection to an existing output port by name. rtmidi calls back on its own
thread with each message; the realtime ones go to the scheduler, stamped with
`time.monotonic_ns()` on arrival.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import rtmidi

from .ports import VIRTUAL_PORT_NAME, PortError, find_port, open_rtmidi

SYNC_MESSAGES = {0xF8, 0xFA, 0xFB, 0xFC, 0xF2}  # clock, Start, Continue, Stop, Song Position


class SyncInput:
    """A MIDI input for an external clock; `attach(handler)` starts delivering to handler(msg, t_ns)."""

    def __init__(self, api: str = "auto", port_name: str = f"{VIRTUAL_PORT_NAME} sync",
                 connect: str | None = None):
        self._midi, self.api = open_rtmidi(rtmidi.MidiIn, api, port_name)
        try:
            if connect is None:
                self._midi.open_virtual_port(port_name)
                self.name = port_name
            else:
                names = self._midi.get_ports()
                index = find_port(names, connect)
                if index is None:
                    listing = ", ".join(names) or "none"
                    raise PortError(f"no MIDI output port {connect!r} to follow on {self.api} (ports: {listing})")
                self._midi.open_port(index, port_name)
                self.name = names[index]
        except (rtmidi.RtMidiError, NotImplementedError) as error:
            self._midi.delete()
            raise PortError(f"{self.api}: cannot open the sync input ({error})") from None
        self._midi.ignore_types(sysex=True, timing=False, active_sense=True)

    def attach(self, handler: Callable[[list[int], int], None]) -> None:
        def on_message(event, _data=None) -> None:
            now = time.monotonic_ns()
            message, _delta = event
            if message and message[0] in SYNC_MESSAGES:
                handler(message, now)

        self._midi.set_callback(on_message)

    def close(self) -> None:
        try:
            self._midi.cancel_callback()
            self._midi.close_port()
        finally:
            self._midi.delete()
