"""The live jam over real JACK ports: a bass line played into the jam's input in time with its
clock; nothing plays during the first pass, then the other tracks play along on the bar grid
(the bass itself is not echoed), and when the bass changes, the accompaniment follows."""

from __future__ import annotations

import queue
import re
import threading
import time

import numpy as np
import pytest
import rtmidi
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.live import LiveSession, StampedInput, open_outputs
from bytes2beats.engine.live.clock import TICKS_PER_BEAT
from bytes2beats.engine.live.jam import HeardNote, Jam, JamSource, PartCapture, loop_roll
from bytes2beats.engine.live.monitor import MonitorProcess
from bytes2beats.engine.live.sources import TICKS_PER_BAR

BASS = 3
EIGHTH = TICKS_PER_BEAT // 2
# two-bar loops of eighth notes: A then F (Am, F), later D then G
PART_A = [45] * 8 + [41] * 8
PART_B = [38] * 8 + [43] * 8
PART_B_TONES = {2, 6, 7, 9, 11}  # D major and G major: D F# A, G B D


def test_the_capture_places_notes_on_the_bar_grid_and_keeps_the_latest_loop():
    clock = {"tick": 0.0}
    capture = PartCapture(lambda t_ns: clock["tick"], loop_bars=2)
    for k, pitch in enumerate(PART_A + PART_B):  # two passes: A, then B
        clock["tick"] = k * EIGHTH + 7  # a few ticks late, as played
        capture.message([0x90, pitch, 90], 0)
        clock["tick"] = k * EIGHTH + EIGHTH - 20
        capture.message([0x80, pitch, 0], 0)
    assert capture.first_pass_end() == 2 * TICKS_PER_BAR
    first, second = capture.loop(2 * TICKS_PER_BAR), capture.loop(4 * TICKS_PER_BAR)
    assert [n.pitch for n in first] == PART_A and [n.pitch for n in second] == PART_B
    roll = loop_roll(second, 2, 12)
    assert roll.shape == (96, 128) and np.flatnonzero(roll[:, 38])[0] == 0  # 7 ticks late: on the grid
    assert roll[6, 38] == 0 or roll[5, 38] == 90  # each eighth (6 steps) ends before the next


def _send_part(sender, clock, bars, stop):
    """Each bar's eighths of the part for it, at the clock's times (bars 0-5: A, 6-9: B)."""
    for bar in range(bars):
        part = PART_A if bar < 6 else PART_B
        for k in range(8):
            pitch = part[(bar % 2) * 8 + k]
            start = bar * TICKS_PER_BAR + k * EIGHTH
            for tick, message in ((start, [0x90, pitch, 90]), (start + EIGHTH - 40, [0x80, pitch, 0])):
                while not stop.is_set():
                    due = clock.time_of(tick) if clock.running else None
                    if due is not None and time.monotonic_ns() >= due:
                        break
                    time.sleep(0.0005)
                sender.send_message(message)


@pytest.mark.jack
@pytest.mark.timing
def test_a_jam_plays_along_from_the_next_pass_and_follows_a_change(jack_server):
    composer = Composer.load("genres-chords")
    source = JamSource(composer, loop_bars=2, seed=1, genre="rock", track=BASS)
    jam = Jam(source)
    monitor = MonitorProcess("mon-jam", api="jack")
    listen = StampedInput("jack", "b2b jam test in")
    ports = open_outputs([t.name for t in source.tracks], "jack", "b2b jam test out", monitor.port)
    events: queue.Queue = queue.Queue()

    def on_event(event):
        events.put(event)
        if event.kind == "bar":
            jam.on_bar(event.bar)

    session = LiveSession(source, ports, bpm=120, bars=12, on_event=on_event)
    jam.attach(session, listen)
    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="b2b jam player")
    sender.open_port(sender.get_ports().index(listen.name), "out")
    stop = threading.Event()
    player = threading.Thread(target=_send_part, args=(sender, session.scheduler.clock, 12, stop), daemon=True)
    changes = []
    try:
        session.start()
        player.start()
        while True:
            event = events.get(timeout=60)
            if event.kind == "change":
                changes.append(event)
            if event.kind in ("stopped", "error"):
                break
    finally:
        stop.set()
        session.close()
        listen.close()
        sender.delete()
    arrivals = monitor.close()
    kinds = [c.detail.split(":")[-1].strip() for c in changes]
    assert kinds[0] == "playing along" and set(kinds[1:]) == {"following it"}, changes
    first, second, last = changes[0], changes[1], changes[-1]
    # the second pass, from the first beat of it the accompaniment is ready for (its loop is
    # whole at bar 2's line; the model's time on a loaded machine may take it into bar 3)
    assert first.bar in (2, 3)
    # the part changed in bar 6: once that bar is heard (bar 7's line), bar 7 follows it from
    # a beat, and once the new loop is whole (bar 8's line), bar 8 follows that
    assert second.bar in (7, 8) and last.bar in (8, 9) and len(changes) <= 4, [(c.bar, c.beat, c.detail) for c in changes]
    notes = [(t, m) for t, m in arrivals if m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert notes and all(t >= first.time_ns - 5_000_000 for t, _ in notes)  # nothing in the first pass
    assert not [m for _, m in notes if m[0] & 0x0F == 2]  # the bass's channel (3rd pitched track) is silent
    # on the grid: every note starts within 5 ms of one of the accompaniment's 48ths
    step_ns = 60e9 / 120 / 12
    offsets = [((t - first.time_ns) / step_ns) % 1 for t, _ in notes]
    assert np.mean([min(o, 1 - o) * step_ns < 5e6 for o in offsets]) > 0.95
    pitched = lambda a, b: [m for t, m in notes if a <= t < b and m[0] & 0x0F != 9]  # noqa: E731
    before, after = pitched(first.time_ns, second.time_ns), pitched(last.time_ns, 1 << 62)
    share = lambda ms: np.mean([m[1] % 12 in PART_B_TONES for m in ms])  # noqa: E731
    assert len(before) >= 8 and len(after) >= 8
    assert share(after) > share(before) + 0.3, (share(before), share(after))


def test_the_source_is_silent_until_a_loop_is_heard_and_leaves_the_users_track_out():
    composer = Composer.load("genres-chords")
    source = JamSource(composer, loop_bars=2, seed=1, genre="rock")
    assert source.next_phrase().notes == []
    source.loop = [HeardNote(k * EIGHTH, (k + 1) * EIGHTH - 40, p, 90, 0) for k, p in enumerate(PART_A)]
    phrase = source.next_phrase()
    assert source.track == BASS  # low notes on a melodic channel: a bass line
    assert phrase.notes and not [n for n in phrase.notes if n[2] == BASS]
    assert source.next_phrase() is phrase  # the same loop: the same accompaniment, not made again


@pytest.mark.jack
def test_stream_listen_follows_the_daws_clock_and_plays_along_from_the_second_pass(jack_server):
    import subprocess
    import sys

    daw = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="b2b fake daw")
    daw.open_virtual_port("out")
    monitor = MonitorProcess("mon-jam-cli", api="jack")
    stream = subprocess.Popen(
        [sys.executable, "-m", "bytes2beats", "stream", "--listen", "b2b fake daw:out", "--sync", "external",
         "--sync-port", "b2b fake daw:out", "--loop-bars", "2", "--as", "bass", "--genre", "rock", "--bars", "6",
         "--api", "jack", "--connect", monitor.port],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in stream.stderr:
            if line.startswith("ready: waiting for the DAW's Start"):
                break
        pulse_ns = 60e9 / 120 / 24
        t0 = time.monotonic_ns() + 100_000_000
        daw.send_message([0xFA])  # Start
        for pulse in range(6 * 96 + 24):  # six bars and a beat of clock, the loop's eighths on it
            while time.monotonic_ns() < t0 + pulse * pulse_ns:
                time.sleep(0.0003)
            if pulse % 12 == 0 and pulse < 6 * 96:
                k = (pulse // 12) % 16
                daw.send_message([0x90, PART_A[k], 90])
            elif pulse % 12 == 10:
                daw.send_message([0x80, PART_A[((pulse - 10) // 12) % 16], 0])
            daw.send_message([0xF8])
        daw.send_message([0xFC])  # Stop
        try:
            out, err = stream.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stream.kill()
            out, err = stream.communicate()
            pytest.fail(f"the stream did not end after the DAW's Stop:\n{out}\n{err}")
    finally:
        stream.kill()
        daw.delete()
    arrivals = monitor.close()
    lines = out.splitlines()
    change = next((line for line in lines if line.startswith("change from bar")), None)
    assert change is not None and "playing along" in change, (lines, err)
    # the second pass (bar 2), from a beat of it the accompaniment was ready for
    assert re.match(r"change from bar [23]( beat [234])?:", change), change
    notes = [m for _, m in arrivals if m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert len(notes) >= 8 and not [m for m in notes if m[0] & 0x0F == 2]  # played along, bass left to the DAW


@pytest.mark.jack
def test_a_jam_whose_jack_server_dies_and_comes_back_says_so_and_exits_cleanly(jack_server, monkeypatch):
    import subprocess
    import sys

    from jack_servers import start_dummy_server, stop_server
    from test_live_cli import _own_jack_server, _stream_until

    name, server = start_dummy_server("jam-dies")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    stream = subprocess.Popen(
        [sys.executable, "-m", "bytes2beats", "stream", "--listen", "virtual", "--loop-bars", "2", "--bars", "10",
         "--bpm", "240", "--api", "jack", "--genre", "rock"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        assert _stream_until(stream, "bar 2", lines), lines
        server.kill()
        server.wait()
        assert _stream_until(stream, "port lost", lines), lines
        server = _own_jack_server(name)
        assert _stream_until(stream, "port back", lines), lines
        for _ in range(30):  # the jam's input reopens on its own thread, within 0.2 s of the outputs
            ports = subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout
            if "Bytes to Beats jam:in" in ports:
                break
            time.sleep(0.1)
        _, err = stream.communicate(timeout=60)
    finally:
        stream.kill()
        stop_server(server)
    assert "Bytes to Beats jam:in" in ports  # the jam's input is back on the new server too
    assert stream.returncode == 1, err  # not a crash at exit (a libjack client freed twice)
    assert "not all of the stream reached its receiver" in err and "Traceback" not in err
