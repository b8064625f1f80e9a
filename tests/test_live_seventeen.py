"""Seventeen families streamed live: sixteen pitched tracks and the drums need two MIDI ports.

A port has sixteen channels, one of them the drums': the first fifteen pitched families fill
port 1 around channel 10, and the sixteenth (Sound Effects) plays on port 2, channel 1
(`music_io.assign_ports`). Here every note is counted on both ports by JACK's own
`jack_midi_dump`, a receiver in another process, against a realtime server (what users run:
no message lost in transit, docs/ENVIRONMENT.md); the stream runs as `bytes2beats stream`
does, from the shipped 17-family model `rock17` and from a clip whose every family holds a
note, so that the second port always has one to end.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.live import (
    ClipLoop,
    LiveSession,
    OutputPort,
    OutputPorts,
    PortError,
    list_ports,
    open_outputs,
)
from bytes2beats.engine.live.monitor import MonitorProcess
from bytes2beats.engine.music_io import assign_ports, write_midi
from bytes2beats.engine.pianoroll import Multitrack, Track
from jack_servers import dumped, start_dummy_server, stop_server

pytestmark = pytest.mark.jack

SEVENTEEN = family_tracks(17)
LAYOUT = assign_ports(SEVENTEEN)  # (port, channel) per track, both from 0
SOUND_EFFECTS = 16  # the track past port 1's channels
KICK, BASE_PITCH = 36, 40  # each pitched family k holds pitch BASE_PITCH + k all bar
CLOCK_OR_START_OR_STOP = {0xF8, 0xFA, 0xFC}
_names = itertools.count()


def seventeen_clip() -> Multitrack:
    """A bar of the seventeen families: a kick on every beat, every other family its own
    pitch held all bar (so that every track sounds whenever a stream is stopped)."""
    rolls = np.zeros((17, 16, 128), np.uint8)
    rolls[0, 0:16:4, KICK] = 100
    for k in range(1, 17):
        rolls[k, :, BASE_PITCH + k] = 80
    return Multitrack(SEVENTEEN, rolls, steps_per_beat=4)


def expected_programs() -> dict[int, list[list[int]]]:
    """Port -> the program changes it hears at the start: each pitched track's, in track
    order, on its channel of that port (the drums have none)."""
    programs: dict[int, list[list[int]]] = {0: [], 1: []}
    for track, (port, channel) in zip(SEVENTEEN, LAYOUT):
        if not track.is_drum:
            programs[port].append([0xC0 | channel, track.program])
    return programs


def note_ons(messages) -> Counter:
    return Counter((m[0] & 0x0F, m[1]) for m in messages if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0)


def left_sounding(messages) -> tuple[dict, int]:
    """(channel, pitch) -> note-ons without their own note-off (CC123 not counted: every
    note must end by itself), and how many note-offs came for no note-on."""
    sounding: Counter = Counter()
    orphans = 0
    for m in messages:
        if len(m) != 3 or m[0] & 0xF0 not in (0x80, 0x90):
            continue
        key = (m[0] & 0x0F, m[1])
        if m[0] & 0xF0 == 0x90 and m[2] > 0:
            sounding[key] += 1
        elif sounding[key]:
            sounding[key] -= 1
        else:
            orphans += 1
    return {k: v for k, v in sounding.items() if v}, orphans


def panicked(messages, channels) -> bool:
    return all([0xB0 | c, 123, 0] in messages and [0xB0 | c, 120, 0] in messages for c in channels)


# -- a realtime JACK server of this module's own, and JACK's own receivers on it ---------------

@pytest.fixture(scope="module")
def rt_env(jack_server):
    """The environment of processes on a realtime JACK server of this module's own (the
    session's server stays the default of this process: its port watch knows one server)."""
    name, server = start_dummy_server("seventeen", realtime=True)
    yield {**os.environ, "JACK_DEFAULT_SERVER": name}
    stop_server(server)


class Dump:
    """`jack_midi_dump -a NAME`: JACK's own MIDI monitor, an input "NAME:input"."""

    def __init__(self, name: str, env: dict):
        self.name, self.env = name, env
        self.process = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a", name], stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, env=env)
        for _ in range(50):
            if f"{name}:input" in subprocess.run(["jack_lsp"], capture_output=True, text=True, env=env).stdout:
                return
            time.sleep(0.1)
        self.close()
        raise RuntimeError(f"jack_midi_dump {name} did not open its input")

    def close(self) -> list[list[int]]:
        """Every message it heard, in order."""
        if self.process.poll() is None:
            time.sleep(0.3)  # the last cycle's messages
            self.process.terminate()
        text, _ = self.process.communicate(timeout=10)
        return [m for _, m in dumped(text)]


@pytest.fixture
def dumps(rt_env):
    n = next(_names)
    first, second = Dump(f"b2b17-first{n}", rt_env), Dump(f"b2b17-second{n}", rt_env)
    yield first, second
    first.close()
    second.close()


def stream(env, *args, **popen):
    return subprocess.Popen([sys.executable, "-m", "bytes2beats", "stream", "--api", "jack", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **popen)


# -- through `bytes2beats stream`, counted by JACK's own receivers ------------------------------

def test_every_note_of_seventeen_families_on_its_port_and_channel(dumps, rt_env, tmp_path):
    clip = write_midi(seventeen_clip(), tmp_path / "seventeen.mid")
    first, second = dumps
    run = stream(rt_env, "--clip", str(clip), "--bars", "3", "--bpm", "240", "--clock-out",
                 "--connect", first.name, "--connect", second.name)
    out, err = run.communicate(timeout=60)
    port1, port2 = first.close(), second.close()
    assert run.returncode == 0, err
    assert "stopped: finished (3 bars)" in out
    assert f"  port 2 'Bytes to Beats 2 -> {second.name}:input': Sound Effects ch 1" in err.splitlines()

    expected: dict[int, Counter] = {0: Counter(), 1: Counter()}
    for k, (port, channel) in enumerate(LAYOUT):
        if k == 0:
            expected[port][(channel, KICK)] = 4 * 3
        else:
            expected[port][(channel, BASE_PITCH + k)] = 3
    assert expected[0][(9, KICK)] == 12 and expected[1] == Counter({(0, BASE_PITCH + SOUND_EFFECTS): 3})
    assert note_ons(port1) == expected[0]  # every note, drums on channel 10 of port 1
    assert note_ons(port2) == expected[1]  # the 17th family on port 2, channel 1, and nothing else
    for heard in (port1, port2):
        assert left_sounding(heard) == ({}, 0)  # every note-on has its note-off, on its port and channel
    programs = expected_programs()
    assert [m for m in port1 if m[0] & 0xF0 == 0xC0] == programs[0]  # one track per channel of a port
    assert [m for m in port2 if m[0] & 0xF0 == 0xC0] == programs[1] == [[0xC0, 120]]
    realtime = [m[0] for m in port1 if m[0] in CLOCK_OR_START_OR_STOP]
    assert realtime[0] == 0xFA and realtime[-1] == 0xFC and realtime.count(0xF8) > 3 * 96 - 3
    assert not [m for m in port2 if m[0] >= 0xF0]  # MIDI clock, Start and Stop: the first port only
    assert panicked(port1, range(16)) and panicked(port2, [0])


def test_stream_rock17_to_two_daw_inputs(dumps, rt_env):
    first, second = dumps
    run = stream(rt_env, "--model", "rock17", "--bars", "2", "--bpm", "400",
                 "--connect", first.name, "--connect", second.name, "--port-name", "b2b rock17")
    out, err = run.communicate(timeout=120)
    port1, port2 = first.close(), second.close()
    assert run.returncode == 0, err
    assert "stopped: finished (2 bars)" in out
    lines = err.splitlines()
    assert lines[0].startswith(f"streaming to b2b rock17 -> {first.name}:input, b2b rock17 2 -> {second.name}:input")
    assert lines[1].startswith(f"  port 1 'b2b rock17 -> {first.name}:input': Drums ch 10, Piano ch 1,")
    assert lines[2] == f"  port 2 'b2b rock17 2 -> {second.name}:input': Sound Effects ch 1"

    assert sum(note_ons(port1).values()) + sum(note_ons(port2).values()) > 0  # which notes: the model's own
    assert {channel for channel, _ in note_ons(port2)} <= {0}  # Sound Effects, when it plays: port 2, channel 1
    for heard in (port1, port2):
        assert left_sounding(heard) == ({}, 0)
    programs = expected_programs()
    assert [m for m in port1 if m[0] & 0xF0 == 0xC0] == programs[0]
    assert [m for m in port2 if m[0] & 0xF0 == 0xC0] == programs[1]
    assert {m[0] & 0x0F for m in port2 if m[0] < 0xF0} == {0}  # nothing else on the second port
    assert panicked(port1, range(16)) and panicked(port2, [0])


def test_sigterm_ends_every_sounding_note_on_both_ports(dumps, rt_env, tmp_path):
    """One --connect for two ports: the second is a virtual port the user connects, as the
    terminal says; SIGTERM in the middle of the held notes ends them on both."""
    clip = write_midi(seventeen_clip(), tmp_path / "seventeen.mid")
    first, second = dumps
    name = f"b2b seventeen {next(_names)}"
    run = stream(rt_env, "--clip", str(clip), "--forever", "--bpm", "240", "--connect", first.name,
                 "--port-name", name, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        said = []
        for line in run.stderr:
            said.append(line.rstrip("\n"))
            if line.endswith("connect it in your DAW\n"):
                break
        assert said[-1] == f"Sound Effects plays on channel 1 of the virtual port '{name} 2': connect it in your DAW"
        connected = subprocess.run(["jack_connect", f"{name} 2:{name} 2", f"{second.name}:input"],
                                   capture_output=True, text=True, env=rt_env)
        assert connected.returncode == 0, connected.stderr  # as the user does in the DAW's patchbay
        for line in run.stdout:
            if line.startswith("bar 2"):  # port 2 connected well before: its held note is on
                break
        time.sleep(0.3)  # in the middle of every held note
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=20)
    finally:
        run.kill()
    port1, port2 = first.close(), second.close()
    assert run.returncode == 143, err
    assert err.strip().splitlines()[-1].endswith("stopped by SIGTERM")
    sound_effects = (0, BASE_PITCH + SOUND_EFFECTS)
    assert note_ons(port2)[sound_effects] >= 1 and set(note_ons(port2)) == {sound_effects}
    assert note_ons(port1)[(9, KICK)] >= 8
    assert left_sounding(port1) == ({}, 0)
    assert left_sounding(port2)[0] == {}  # (a note-off for a note begun before it was connected is no fault)
    assert port2[-1][0] & 0xF0 == 0xB0 and panicked(port2, [0]) and panicked(port1, range(16))


# -- the engine: the ports, their names and layout, a mute on the second port ------------------

def test_seventeen_families_open_two_named_ports_and_close_them(jack_server):
    name = f"B2B seventeen {next(_names)}"
    ports = open_outputs(SEVENTEEN, "jack", name)
    try:
        jack = next(p for p in list_ports() if p.api == "jack")
        assert [p.name for p in ports.ports] == [name, f"{name} 2"]
        assert {f"{name}:{name}", f"{name} 2:{name} 2"} <= set(jack.inputs)
        assert ports.track_ports == [port for port, _ in LAYOUT]
        assert ports.main is ports.ports[0] and ports.for_track(SOUND_EFFECTS) is ports.ports[1]
        (_, on_first), (_, on_second) = ports.layout(SEVENTEEN)
        assert [(t.name, c) for t, c in on_second] == [("Sound Effects", 0)]
        assert ("Drums", 9) in [(t.name, c) for t, c in on_first] and len(on_first) == 16
    finally:
        ports.close()
    jack = next(p for p in list_ports() if p.api == "jack")
    assert not [p for p in jack.inputs if p.startswith(name)]

    per_track = open_outputs(SEVENTEEN, "jack", name, per_track=True)
    try:
        assert len(per_track.ports) == 17 and per_track.for_track(SOUND_EFFECTS).name == f"{name} Sound Effects"
    finally:
        per_track.close()
    five = open_outputs([t.name for t in family_tracks(5)], "jack", name)  # names alone: fifteen fit one port
    five.close()
    assert len(five.ports) == 1
    with pytest.raises(ValueError, match="give open_outputs the Tracks"):
        open_outputs([t.name for t in SEVENTEEN], "jack", name)


def test_ports_closed_one_after_another_leave_the_server_time_to_notify_between(jack_server):
    """Seventeen ports closed in a row, as a per-track stream stops: each port goes only once
    the server has had jack_graph.SETTLE_S to tell every client of the one before (libjack
    walks a client's port list for those notifications while an unregister erases from it:
    CI's stop 52 was a segfault in the second of two closes). Seen by another JACK client."""
    import jack
    from bytes2beats.engine.live.jack_graph import SETTLE_S

    name = f"B2B spaced {next(_names)}"
    gone: list[float] = []
    observer = jack.Client(f"observer {next(_names)}", no_start_server=True)

    @observer.set_port_registration_callback(only_available=False)
    def _registration(port, registered):
        if not registered and port is not None and port.name.startswith(name):
            gone.append(time.monotonic())

    observer.activate()
    try:
        observer.get_ports()  # so that the callback is given every port, the ones there before too
        ports = open_outputs(SEVENTEEN, "jack", name, per_track=True)
        ports.close()
        deadline = time.monotonic() + 5
        while len(gone) < 17 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        observer.deactivate()
        observer.close()
    assert len(gone) == 17
    gaps = np.diff(gone)
    # Without the wait they came 0.0-36 ms apart (0.1 ms or less for 5 of 16, measured); with
    # it 58-64 ms. The observer's notification thread adds jitter of its own.
    assert SETTLE_S >= 0.02 and gaps.min() > 0.6 * SETTLE_S, np.round(gaps * 1000, 1)


def test_a_port_that_cannot_open_leaves_none_open(jack_server):
    name = f"B2B half {next(_names)}"
    receiver = MonitorProcess(f"mon17-{next(_names)}", api="jack")
    try:
        with pytest.raises(PortError, match=rf"^port 2 of 2 \('{name} 2'\): no MIDI input port 'no such port'"):
            open_outputs(SEVENTEEN, "jack", name, connect=[receiver.port, "no such port"])
        with pytest.raises(PortError, match="3 input ports to connect to, but the 17 tracks fill 2 ports"):
            open_outputs(SEVENTEEN, "jack", name, connect=[receiver.port] * 3)
        jack = next(p for p in list_ports() if p.api == "jack")
        assert not [p for p in jack.inputs if p.startswith(name)]  # the first port, opened, was closed
    finally:
        receiver.close()


def test_seventeen_tracks_on_one_port_are_refused():
    """Sixteen pitched tracks on one port's fifteen channels would share one: refused, not
    played. Two drum tracks (a kit split over a file's tracks) share channel 10, as always."""
    with pytest.raises(ValueError, match="Piano and Sound Effects would share channel 1"):
        LiveSession(ClipLoop(seventeen_clip()), OutputPorts([OutputPort()]))
    kit = Multitrack([Track("Kick", 0, True), Track("Hats", 0, True), Track("Piano")], np.ones((3, 16, 128), np.uint8),
                     steps_per_beat=4)
    LiveSession(ClipLoop(kit), OutputPorts([OutputPort()])).close()


@pytest.mark.timing
def test_mute_on_the_second_port_ends_its_note_at_once(jack_server):
    monitors = [MonitorProcess(f"mon17-{next(_names)}", api="jack") for _ in range(2)]
    try:
        ports = open_outputs(SEVENTEEN, "jack", f"B2B mute17 {next(_names)}", connect=[m.port for m in monitors])
        events: list = []
        session = LiveSession(ClipLoop(seventeen_clip()), ports, bpm=240, on_event=events.append)
        session.start()
        deadline = time.monotonic() + 5
        while not [e for e in events if e.kind == "bar"] and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # half way through the bar's held notes
        t_mute = time.monotonic_ns()
        session.mute("Sound Effects")
        time.sleep(1.2)
        session.close()
    finally:
        port1, port2 = (m.close() for m in monitors)
    pitch = BASE_PITCH + SOUND_EFFECTS
    offs = [t for t, m in port2 if m[:2] in ([0x80, pitch], [0x90, pitch]) and (m[0] == 0x80 or m[2] == 0)]
    assert [t for t in offs if t >= t_mute] and min(t for t in offs if t >= t_mute) - t_mute < 20e6
    assert not [m for t, m in port2 if t > t_mute and m[0] == 0x90 and m[2] > 0]  # silent from then on
    assert [m for t, m in port1 if t > t_mute + 300e6 and m[0] == 0x99 and m[2] > 0]  # port 1 plays on
    assert panicked([m for _, m in port2], [0])
