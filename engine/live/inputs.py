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

from .jack_graph import close_client
from .jack_server import shared_watch
from .ports import PortError, find_port, open_port, open_rtmidi

POLL_S = 0.0002
SERVER_LOOK_S = 0.2  # how often the poll thread looks at the JACK server's state and at the sender


class StampedInput:
    """An rtmidi input (virtual, or connected to an output port) that delivers
    (message, arrival monotonic ns) to a handler on its own thread "b2b-midi-in"."""

    def __init__(self, api: str = "auto", name: str = "Bytes to Beats in", connect: str | None = None,
                 port_name: str = "in", timing: bool = True,
                 on_sender: Callable[[str, str], None] | None = None):
        """`on_sender(kind, port)`, with `connect`: called on the input's thread with "input
        lost" when the sender's port goes (the DAW closed, its track was deleted), and "input
        back" once a port of that name is there again and connected."""
        self._client_name, self._connect, self._port_name, self._timing = name, connect, port_name, timing
        self._on_sender = on_sender
        self.sender_lost = False
        self._midi, self.api = self._open(api)
        self._handler: Callable[[list[int], int], None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.offset_ns: float | None = None  # monotonic ns minus the backend's chained time
        # On JACK, the process's server watch (jack_server.py): when the server dies, the
        # poll thread closes this input's client before anything opens on the next server,
        # and opens it again once one runs.
        self._server = shared_watch() if self.api == "jack" else None
        self.released = False
        if self._server is not None:
            self._server_generation = self._server.generation
            self._server.register(self)

    def _open(self, api: str):
        midi, api = open_rtmidi(rtmidi.MidiIn, api, self._client_name)
        try:
            connected = open_port(midi, api, self._port_name, self._connect, "output")
            virtual = f"{self._client_name}:{self._port_name}" if api == "jack" else self._client_name
            self.name = connected or virtual
        except (rtmidi.RtMidiError, NotImplementedError, PortError) as error:
            close_client(midi)
            if isinstance(error, PortError):
                raise
            raise PortError(f"{api}: cannot open a MIDI input ({error})") from None
        midi.ignore_types(sysex=True, timing=not self._timing, active_sense=True)
        return midi, api

    def _follow_server(self) -> None:
        """On the poll thread: a dead server's client closed at once; a new one opened when a
        server runs again (for --connect, once the output is there too)."""
        server = self._server
        if server.down and not self.released:
            midi, self._midi = self._midi, None
            if midi is not None:
                close_client(midi)  # about 1 s on a dead server
            self.released = True
        elif self.released and server.back():
            try:
                self._midi, _ = self._open(self.api)
            except PortError:  # not back yet (the sender's port): look again later
                return
            self.released = False
            self._server_generation = server.generation

    def _follow_sender(self) -> None:
        """On the poll thread, with --connect: a sender's port that went is said once, and
        connected again as soon as a port of its name is back (a DAW restarted). Neither
        JACK nor ALSA connects a port that comes back by itself."""
        try:
            names = self._midi.get_ports()
        except rtmidi.RtMidiError:
            return
        there = find_port(names, self._connect) is not None
        if not there and not self.sender_lost:
            self.sender_lost = True
            self._tell("input lost", self.name)
        elif there and self.sender_lost:
            try:
                close_client(self._midi, keep_client=True)
                self.name = open_port(self._midi, self.api, self._port_name, self._connect, "output")
            except (rtmidi.RtMidiError, PortError):
                return  # gone again, or not ready: look again at the next look
            self.sender_lost = False
            self._tell("input back", self.name)

    def _tell(self, kind: str, port: str) -> None:
        if self._on_sender is not None:
            self._on_sender(kind, port)

    def attach(self, handler: Callable[[list[int], int], None]) -> None:
        """Start delivering each message to handler(message, t_ns) on the input's thread."""
        self._handler = handler
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll, name="b2b-midi-in", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        chained = 0.0  # seconds since the first message, by the backend's deltas
        next_look = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + SERVER_LOOK_S
                if self._server is not None:
                    self._follow_server()
                if self._connect is not None and self._midi is not None:
                    self._follow_sender()
            event = self._midi.get_message() if self._midi is not None else None
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
            self._thread.join(3.0)  # it may be closing a dead server's client
        midi, self._midi = self._midi, None
        self.released = True
        if midi is None:
            return
        close_client(midi)
