"""MIDI ports for live streaming: the API, outputs behind a small interface, and a lister.

python-rtmidi does the work. Its wheels carry several MIDI APIs and pick ALSA first on
Linux, so the API is chosen here: by name, or "auto" (the platform's own, then JACK).
An output's `send` checks and locks, `_send` talks to rtmidi; every output remembers its
sounding notes and the channels it used, so that `panic()` can silence exactly those.

A port "lost" is one whose receiver went away (a connected port that disappeared) or whose
send failed: sends to it are dropped until `check()` finds the receiver again and
reconnects. Virtual ports are our own and are never lost while the MIDI system lives.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import rtmidi

from ..failures import one_line
from ..limits import MIDI_APIS
from ..music_io import assign_channels, assign_ports, port_name_at
from ..pianoroll import Track
from .jack_graph import changing, close_client, opening_port
from .jack_server import shared_watch
from .priority import prioritized_new_threads

VIRTUAL_PORT_NAME = "Bytes to Beats"

API_IDS = {  # every name of MIDI_APIS but "auto"
    "alsa": rtmidi.API_LINUX_ALSA,
    "jack": rtmidi.API_UNIX_JACK,
    "coremidi": rtmidi.API_MACOSX_CORE,
    "winmm": rtmidi.API_WINDOWS_MM,
}
API_NAMES = {v: k for k, v in API_IDS.items()}

NOTE_OFF, NOTE_ON, CONTROL_CHANGE, PROGRAM_CHANGE = 0x80, 0x90, 0xB0, 0xC0
ALL_SOUND_OFF, ALL_NOTES_OFF = 120, 123
MAX_PITCHED = 15  # pitched tracks on one port: its sixteen channels less the drums' (DRUM_CHANNEL)


class PortError(Exception):
    """A MIDI port that cannot be opened; str() is one line saying why."""


def compiled_apis() -> list[str]:
    """The MIDI APIs this python-rtmidi was built with, by our names."""
    return [API_NAMES[a] for a in rtmidi.get_compiled_api() if a in API_NAMES]


def api_order(api: str = "auto") -> list[str]:
    """The APIs to try, in order: the named one, or for "auto" the platform's own, then JACK."""
    if api != "auto":
        if api not in API_IDS:
            raise PortError(f"unknown MIDI API {api!r} (choose from {', '.join(MIDI_APIS)})")
        if api not in compiled_apis():
            raise PortError(f"this python-rtmidi has no {api} support (it has {', '.join(compiled_apis())})")
        return [api]
    preferred = {"darwin": ["coremidi", "jack"], "win32": ["winmm"]}.get(sys.platform, ["alsa", "jack"])
    return [a for a in preferred if a in compiled_apis()]


def _unavailable_reason(api: str) -> str | None:
    """Why an API cannot work here, found without asking it (which prints C library noise)."""
    if api == "alsa" and sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
        return "no ALSA sequencer here (/dev/snd/seq does not exist)"
    return None


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C libraries' own stderr lines (libjack's "Cannot connect to server
    socket"...) while an API is tried: the PortError says it in one line instead."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            sys.stderr.flush()
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _open_rtmidi(kind: type, api: str, client_name: str):
    reason = _unavailable_reason(api)
    if reason:
        raise PortError(f"{api}: {reason}")
    try:
        # One change to the JACK graph at a time (jack_graph.py); the backend's threads start here
        with changing(), _quiet_stderr(), prioritized_new_threads():
            return kind(rtapi=API_IDS[api], name=client_name)
    except rtmidi.RtMidiError as error:
        raise PortError(f"{api}: {_rtmidi_reason(error)}") from None


def open_rtmidi(kind: type, api: str, client_name: str):
    """An rtmidi MidiOut or MidiIn (`kind`) on the first API that works, and that API's name.

    Raises PortError naming every API tried and why it failed.
    """
    reasons = []
    for name in api_order(api):
        try:
            return _open_rtmidi(kind, name, client_name), name
        except PortError as error:
            reasons.append(str(error))
    hint = " (start a JACK server, or see `bytes2beats ports`)" if "jack" in api_order(api) else ""
    raise PortError(f"no MIDI system works: {'; '.join(reasons) or 'none compiled in'}{hint}")


def find_port(names: list[str], wanted: str) -> int | None:
    """The index of the port called `wanted`: an exact name first, else the first that contains
    it, case-insensitive (JACK may rename a client that comes back to "name-01")."""
    if wanted in names:
        return names.index(wanted)
    hits = [i for i, n in enumerate(names) if wanted.lower() in n.lower()]
    return hits[0] if hits else None


def open_port(midi, api: str, port_name: str, connect: str | None, kind: str) -> str | None:
    """Open the port of an rtmidi client (`midi`, a MidiOut or a MidiIn on `api`): a virtual
    port `port_name`, or one named `port_name` connected to the `kind` ("input" or "output")
    port `connect`, found as `find_port` finds it. Returns the full name of the port connected
    to (None for a virtual port); PortError, listing the ports there, when it is not there.
    rtmidi's own errors pass through: the caller says what they mean for it."""
    if connect is None:
        with opening_port(midi, port_name):
            midi.open_virtual_port(port_name)
        return None
    names = midi.get_ports()
    index = find_port(names, connect)
    if index is None:
        raise PortError(f"no MIDI {kind} port {connect!r} on {api} (ports: {', '.join(names) or 'none'})")
    with opening_port(midi, port_name):
        midi.open_port(index, port_name)
    return names[index]


def _rtmidi_reason(error: BaseException) -> str:
    """An rtmidi error in one line (engine/failures.py), less the C++ method rtmidi puts in
    front of its reason: "MidiOutJack::initialize: ..." -> "..."."""
    return " ".join(re.sub(r"^\w+::\w+: ", "", one_line(error)).split()) or type(error).__name__


# ---------------------------------------------------------------------------------------


class OutputPort:
    """One MIDI output. `send` checks a message, locks, and tracks notes; `_send` sends.

    Thread-safe: the scheduler, the GUI (mute) and the port watcher all call in.
    """

    name = "output"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sounding: Counter[tuple[int, int]] = Counter()  # (channel, note) -> note-ons
        self._channels: set[int] = set()
        self.lost = False
        self._lost_said = False

    def send(self, message: list[int] | tuple[int, ...]) -> bool:
        """Send one MIDI message; False when it was not delivered (the port is lost)."""
        if not message or not 0x80 <= message[0] <= 0xFF or any(not 0 <= b <= 0x7F for b in message[1:]):
            raise ValueError(f"not a MIDI message: {list(message)}")
        status = message[0]
        kind, channel = status & 0xF0, status & 0x0F
        ends = status < 0xF0 and (kind == NOTE_OFF or (kind == NOTE_ON and message[2] == 0))
        with self._lock:
            if status < 0xF0:
                self._channels.add(channel)
                if kind == NOTE_ON and message[2] > 0:
                    self._sounding[(channel, message[1])] += 1
            if not self.lost:
                try:
                    self._send(list(message))
                except (rtmidi.RtMidiError, OSError):
                    self.lost = True
                    return False  # the note stays "sounding": panic() will try its note-off
            # A note-off that raised anything else leaves the note sounding, for panic().
            if ends:
                key = (channel, message[1])
                if self._sounding[key] > 1:
                    self._sounding[key] -= 1
                else:
                    self._sounding.pop(key, None)
            return not self.lost

    def _send(self, message: list[int]) -> None:
        raise NotImplementedError

    @property
    def sounding(self) -> set[tuple[int, int]]:
        """(channel, note) of every note sent on and not yet off."""
        with self._lock:
            return set(self._sounding)

    def panic(self) -> None:
        """A note-off for every sounding note, then All Notes Off (CC123) and All Sound Off
        (CC120) on every channel used. Best effort: a lost port is tried all the same."""
        with self._lock:
            messages = [[NOTE_OFF | ch, note, 0] for ch, note in sorted(self._sounding)]
            for ch in sorted(self._channels):
                messages += [[CONTROL_CHANGE | ch, ALL_NOTES_OFF, 0], [CONTROL_CHANGE | ch, ALL_SOUND_OFF, 0]]
            self._sounding.clear()
            for message in messages:
                try:
                    self._send(message)
                except (rtmidi.RtMidiError, OSError):
                    pass

    def check(self) -> str | None:
        """Look for the receiver: "lost" or "back" when that changed, else None."""
        if self.lost and not self._lost_said:  # a send failed
            self._lost_said = True
            return "lost"
        return None

    def close(self) -> None:
        pass


class RtMidiOutput(OutputPort):
    """An rtmidi output: a virtual port of our own, or a connection to someone's input port."""

    def __init__(self, api: str = "auto", port_name: str = VIRTUAL_PORT_NAME, connect: str | None = None,
                 client_name: str | None = None):
        super().__init__()
        self._midi, self.api = open_rtmidi(rtmidi.MidiOut, api, client_name or port_name)
        self._port_name = port_name
        self._closed = False
        self._client_name = client_name or port_name
        self._wanted = connect  # what the user asked for: found again when the receiver returns
        try:
            self.connect_to = open_port(self._midi, self.api, port_name, connect, "input")
        except PortError:
            close_client(self._midi)
            raise
        except rtmidi.InvalidUseError as error:
            raise PortError(f"{self.api}: {_rtmidi_reason(error)}") from None
        except (rtmidi.RtMidiError, NotImplementedError) as error:
            close_client(self._midi)
            reason = "virtual ports are not supported (use loopMIDI and --connect)" \
                if isinstance(error, NotImplementedError) else _rtmidi_reason(error)
            raise PortError(f"{self.api}: {reason}") from None
        self.name = port_name if connect is None else f"{port_name} -> {self.connect_to}"
        # A second client only for looking up the receiver, so that the watcher thread
        # never holds up a send, nor uses the sending client while it closes.
        self._probe_lock = threading.Lock()
        self._probe = None
        if connect is not None:
            self._probe = self._open_probe()
        # rtmidi cannot see a JACK server die: the process's watch can (see jack_server.py).
        self._server = shared_watch() if self.api == "jack" else None
        self.released = False  # our clients of a dead server are closed (the watch waits for it)
        if self._server is not None:
            self._server_generation = self._server.generation
            self._server.register(self)

    def _open_probe(self):
        return open_rtmidi(rtmidi.MidiOut, self.api, f"{self._client_name} probe")[0]

    def _send(self, message: list[int]) -> None:
        if self._midi is None:
            raise OSError("the port is closed")
        self._midi.send_message(message)

    def check(self) -> str | None:
        if self._server is not None and (self._server.down or self._server_generation != self._server.generation):
            return self._check_server()
        if self.connect_to is None:
            return super().check()
        with self._probe_lock:  # never the send lock: listing ports takes up to a millisecond
            if self._probe is None:
                return None
            try:
                names = self._probe.get_ports()
            except rtmidi.RtMidiError:
                names = []
        index = find_port(names, self._wanted)
        if index is None:
            with self._lock:
                self.lost = True
            return super().check()
        if self.lost and not self._lost_said:  # a send failed: say so before reconnecting
            return super().check()
        if self.lost:
            return self._reconnect(names[index])
        return None

    def _check_server(self) -> str | None:
        """The JACK server went away: our clients of it are closed at once (before anything
        opens on a new one: see jack_server.py), "lost" is said once, and "back" when a
        server runs again and the port is open on it (for --connect, once the receiver is
        there too: until then the receiver's own watch in `check` finds it)."""
        server = self._server
        if server.down:
            if not self._lost_said:  # said first: closing the dead clients holds up this thread for a while
                with self._lock:
                    self.lost = True
                return super().check()
            if not self.released:
                with self._lock:
                    self.lost = True
                    old, self._midi = self._midi, None
                with self._probe_lock:
                    old_probe, self._probe = self._probe, None
                for client in (old, old_probe):  # clients of the dead server: about 1 s each
                    if client is not None:
                        close_client(client)
                self.released = True
            if not server.back():
                return None
        try:
            new, _ = open_rtmidi(rtmidi.MidiOut, self.api, self._client_name)
        except PortError:  # the server went again: look once more later
            server.mark_down()
            return None
        self._server_generation, self.released = server.generation, False
        try:
            if self._wanted is not None:
                with self._probe_lock:
                    self._probe = self._open_probe()
            try:
                target = open_port(new, self.api, self._port_name, self._wanted, "input")
            except PortError:  # the receiver is not back yet: `check` looks for it from now on
                target = None
        except (PortError, rtmidi.RtMidiError):
            close_client(new)
            server.mark_down()
            return None
        with self._lock:
            if self._closed:
                close_client(new)
                return None
            self._midi = new
            if self._wanted is not None and target is None:
                return None  # open, but the receiver is not back yet
            if target is not None:
                self.connect_to = target
            self.lost = self._lost_said = False
        return "back"

    def _reconnect(self, target: str) -> str | None:
        """A new client connected to `target` in place of the old one, which is closed whole
        (jack_graph.close_client: unregistering a port under libjack's notifications of a
        change to the graph is a race inside libjack)."""
        with self._lock:
            old, self._midi = self._midi, None  # sends are dropped meanwhile (the port is lost)
        if old is None:
            return None
        close_client(old)
        try:
            new, _ = open_rtmidi(rtmidi.MidiOut, self.api, self._client_name)
            open_port(new, self.api, self._port_name, target, "input")  # PortError if it went again
        except (PortError, rtmidi.RtMidiError):
            try:
                new, _ = open_rtmidi(rtmidi.MidiOut, self.api, self._client_name)  # lost, but open
            except PortError:
                return None
            target = None
        with self._lock:
            if self._closed:  # closed meanwhile
                close_client(new)
                return None
            self._midi = new
            if target is None:
                return None
            self.connect_to = target
            self.lost = self._lost_said = False
        return "back"

    def close(self) -> None:
        with self._probe_lock:
            if self._probe is not None:
                close_client(self._probe)
                self._probe = None
        with self._lock:
            self._closed = True
            self.released = True  # holds no client after this: the server watch need not wait for it
            if self._midi is None:
                return
            try:
                close_client(self._midi)
            finally:
                self._midi = None
                self.lost = True


class OutputPorts:
    """The outputs of a session and which track goes to which.

    `track_ports[i]` is the index in `ports` of track i's port: `assign_ports`' layout
    (one port, or a second past fifteen pitched tracks), or one port per track; None puts
    every track on the first port.
    """

    def __init__(self, ports: list[OutputPort], track_ports: list[int] | None = None):
        if not ports:
            raise ValueError("no output ports")
        if track_ports is not None and not all(0 <= p < len(ports) for p in track_ports):
            raise ValueError(f"track ports {track_ports} name ports beyond the {len(ports)} given")
        self.ports = ports
        self.track_ports = track_ports

    def for_track(self, track: int) -> OutputPort:
        if self.track_ports is None:
            return self.ports[0]
        return self.ports[self.track_ports[track]]

    @property
    def main(self) -> OutputPort:
        """The port for session-wide messages: MIDI clock, Start and Stop."""
        return self.ports[0]

    def layout(self, tracks: list[Track]) -> list[tuple[OutputPort, list[tuple[Track, int]]]]:
        """Each port with the tracks it carries and their channels (from 0), as the scheduler
        sends them: for a start line that tells a DAW user what to route where."""
        channels = assign_channels(tracks)
        return [(port, [(t, channels[i]) for i, t in enumerate(tracks) if self.for_track(i) is port])
                for port in self.ports]

    def panic(self) -> None:
        for port in self.ports:
            port.panic()

    def close(self) -> None:
        for port in self.ports:
            port.close()


def open_outputs(tracks: Sequence[Track | str], api: str = "auto", port_name: str = VIRTUAL_PORT_NAME,
                 connect: str | Sequence[str] | None = None, per_track: bool = False) -> OutputPorts:
    """The outputs for a stream of `tracks`, laid out as `assign_ports` lays them out.

    A port has sixteen channels, one of them the drums': fifteen pitched tracks fit on a
    virtual port `port_name`, and more (LPD-17's sixteen) go on "<port_name> 2" from its
    channel 1 on. `connect`, one input port or a list of them, connects the first port (the
    second...) to someone's existing input instead; a port with no input of its own given
    is a virtual one, for the user to connect (a DAW routes two MIDI inputs). `per_track`:
    one virtual port per track, "<port_name> <track>", each track on its usual channel.

    `tracks` are Tracks, or only their names for fifteen tracks or fewer (a name has no
    drum flag, and up to fifteen fit one port whatever they are). Raises PortError, with
    every port opened so far closed again.
    """
    connects = [connect] if isinstance(connect, str) else list(connect or [])
    if per_track and connects:
        raise PortError("one port per track makes virtual ports; it cannot go with --connect")
    names = [t if isinstance(t, str) else t.name for t in tracks]
    if per_track:
        return _open_each([(f"{port_name} {name}", None) for name in names], api, list(range(len(names))))
    layout = _track_ports(tracks)
    needed = 1 + max(layout, default=0)
    if len(connects) > needed:
        raise PortError(f"{len(connects)} input ports to connect to, but the {len(names)} tracks fill "
                        f"{'one port' if needed == 1 else f'{needed} ports'}")
    wanted = [(port_name_at(port_name, k), connects[k] if k < len(connects) else None)
              for k in range(needed)]
    return _open_each(wanted, api, layout)


def _track_ports(tracks: Sequence[Track | str]) -> list[int]:
    """The port of each track (`assign_ports`); bare names only where one port holds them all."""
    if all(isinstance(t, Track) for t in tracks):
        return [port for port, _ in assign_ports(list(tracks))]
    if len(tracks) > MAX_PITCHED:
        raise ValueError(f"{len(tracks)} tracks may need a second port, and only their drum flags tell: "
                         "give open_outputs the Tracks, not their names")
    return [0] * len(tracks)


def _open_each(wanted: list[tuple[str, str | None]], api: str, track_ports: list[int]) -> OutputPorts:
    """Open each (port name, input to connect to or None) in order; on any failure (or an
    interrupt) close those opened before it, so that no port outlives a stream that never began."""
    ports: list[OutputPort] = []
    try:
        for name, connect in wanted:
            try:
                ports.append(RtMidiOutput(api, name, connect))
            except PortError as error:
                if not ports:  # the first: the MIDI system's own answer says it all
                    raise
                # which port: "virtual ports are not supported" on the second of two asks
                # for a second --connect, not for the first
                raise PortError(f"port {len(ports) + 1} of {len(wanted)} ('{name}'): {error}") from None
    except BaseException:
        for port in ports:
            port.close()
        raise
    return OutputPorts(ports, track_ports)


# ---------------------------------------------------------------------------------------


@dataclass
class ApiPorts:
    """What one MIDI API sees: its output and input ports, or why it does not work."""

    api: str
    outputs: list[str]
    inputs: list[str]
    error: str | None = None


def list_ports() -> list[ApiPorts]:
    """Every compiled-in API with the ports it sees: `outputs` are ports we can send to
    (others' inputs), `inputs` ports we can follow (others' outputs)."""
    found = []
    for api in compiled_apis():
        try:
            out = _open_rtmidi(rtmidi.MidiOut, api, "Bytes to Beats lister")
            inp = _open_rtmidi(rtmidi.MidiIn, api, "Bytes to Beats lister")
            found.append(ApiPorts(api, out.get_ports(), inp.get_ports()))
            close_client(out)
            close_client(inp)
        except (PortError, rtmidi.RtMidiError) as error:
            found.append(ApiPorts(api, [], [], str(error).removeprefix(f"{api}: ")))
    return found
