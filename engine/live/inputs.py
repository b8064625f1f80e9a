"""A MIDI input whose messages carry their arrival time on the monotonic clock.

rtmidi can call Python back from the MIDI system's own thread, but on JACK that thread is
the client's process callback: a callback that waits for the GIL makes the client late
for its cycle, and a late JACK client (JACK2 runs clients asynchronously) reads a buffer
the next cycle already refilled, so messages come out duplicated or lost. Measured here:
about 5% of note messages wrong with a callback that writes a line per message.

So a thread of our own polls rtmidi's queue, which rtmidi fills in C++ on time, each
message with the time since the one before (taken by the backend as it arrived). The
chain of those deltas is the arrival clock; its offset to `time.monotonic_ns()` is the
smallest (poll time - chained time) seen, since a poll can only come after the arrival.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import rtmidi

from .ports import PortError, find_port, open_rtmidi

POLL_S = 0.0002


class StampedInput:
    """An rtmidi input (virtual, or connected to an output port) that delivers
    (message, arrival monotonic ns) to a handler on its own thread "b2b-midi-in"."""

    def __init__(self, api: str = "auto", name: str = "Bytes to Beats in", connect: str | None = None,
                 port_name: str = "in", timing: bool = True):
        self._midi, self.api = open_rtmidi(rtmidi.MidiIn, api, name)
        try:
            if connect is None:
                self._midi.open_virtual_port(port_name)
                self.name = f"{name}:{port_name}" if self.api == "jack" else name
            else:
                names = self._midi.get_ports()
                index = find_port(names, connect)
                if index is None:
                    raise PortError(f"no MIDI output port {connect!r} on {self.api} "
                                    f"(ports: {', '.join(names) or 'none'})")
                self._midi.open_port(index, port_name)
                self.name = names[index]
        except (rtmidi.RtMidiError, NotImplementedError) as error:
            self._midi.delete()
            raise PortError(f"{self.api}: cannot open a MIDI input ({error})") from None
        self._midi.ignore_types(sysex=True, timing=not timing, active_sense=True)
        self._handler: Callable[[list[int], int], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.offset_ns: float | None = None  # monotonic ns minus the backend's chained time

    def attach(self, handler: Callable[[list[int], int], None]) -> None:
        """Start delivering each message to handler(message, t_ns) on the input's thread."""
        self._handler = handler
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="b2b-midi-in", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        chained = 0.0  # seconds since the first message, by the backend's deltas
        while not self._stop.is_set():
            event = self._midi.get_message()
            if event is None:
                time.sleep(POLL_S)
                continue
            polled = time.monotonic_ns()
            message, delta = event
            chained += delta
            candidate = polled - chained * 1e9
            if self.offset_ns is None or candidate < self.offset_ns:
                self.offset_ns = candidate
            if self._handler is not None:
                self._handler(message, int(chained * 1e9 + self.offset_ns))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
        try:
            self._midi.close_port()
        finally:
            self._midi.delete()
