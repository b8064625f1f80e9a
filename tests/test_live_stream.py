"""Live streaming over real JACK MIDI ports, received by a monitor in another process.

The monitor (`python -m bytes2beats.engine.live.monitor`) stamps every arrival with the
machine-wide monotonic clock, so arrivals compare directly with the session's schedule.
Tolerances are loose (a shared 2-core machine may be training a model meanwhile); the
strict figures are the benchmark's (bench/stream_timing.py, docs/streaming.md).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.live import (
    ClipLoop,
    LiveSession,
    ModelStream,
    RtMidiOutput,
    list_ports,
    open_outputs,
)
from bytes2beats.engine.live.clock import TICKS_PER_BEAT, ns_per_tick
from bytes2beats.engine.live.monitor import MonitorProcess
from bytes2beats.engine.live.ports import OutputPorts
from bytes2beats.engine.live.sources import TICKS_PER_BAR, to_phrase
from bytes2beats.engine.model import Generator, ModelConfig
from bytes2beats.engine.pianoroll import Multitrack

pytestmark = pytest.mark.jack

DRUMS, PIANO, BASS, STRINGS = 9, 0, 2, 3  # channels: drums on 10, the others in track order
KICK, PIANO_NOTE, BASS_NOTE, STRINGS_NOTE = 36, 60, 40, 67
# A message written just before a change can arrive after it: JACK delivers at its next period
# and the monitor stamps it when it reads it. "At once" is within this much.
DELIVERY_NS = 20_000_000
_names = itertools.count()


def one_bar_clip() -> Multitrack:
    """A kick on every beat, a bass note on each beat, piano and strings held all bar."""
    rolls = np.zeros((5, 16, 128), np.uint8)
    for step in range(0, 16, 4):
        rolls[0, step, KICK] = 100
        rolls[3, step : step + 2, BASS_NOTE] = 90
    rolls[1, :, PIANO_NOTE] = 80
    rolls[4, :, STRINGS_NOTE] = 70
    return Multitrack(family_tracks(5), rolls, steps_per_beat=4)


@pytest.fixture
def monitor(jack_server):
    receiver = MonitorProcess(f"mon{next(_names)}", api="jack")
    yield receiver
    receiver.close()


def start(source, monitor, **options) -> tuple[LiveSession, list]:
    ports = open_outputs([t.name for t in source.tracks], "jack", f"B2B test {next(_names)}",
                         connect=monitor.port)
    events: list = []
    session = LiveSession(source, ports, on_event=events.append, **options)
    session.start()
    return session, events


def wait_for(events, kind, timeout=5.0, **fields):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in list(events):
            if event.kind == kind and all(getattr(event, k) == v for k, v in fields.items()):
                return event
        time.sleep(0.005)
    raise AssertionError(f"no {kind} {fields} event within {timeout} s; got {[e.kind for e in events]}")


def note_ons(arrivals, channel=None, pitch=None):
    return [(t, m) for t, m in arrivals if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0
            and (channel is None or m[0] & 0x0F == channel) and (pitch is None or m[1] == pitch)]


def note_offs(arrivals, channel, pitch):
    return [t for t, m in arrivals if len(m) == 3 and m[0] & 0x0F == channel and m[1] == pitch
            and (m[0] & 0xF0 == 0x80 or (m[0] & 0xF0 == 0x90 and m[2] == 0))]


def assert_nothing_left_sounding(arrivals, channels):
    """Every note-on has its note-off (without counting on CC123), and the panic came last."""
    sounding: dict[tuple[int, int], int] = {}
    for _, m in arrivals:
        if len(m) == 3 and m[0] & 0xF0 in (0x80, 0x90):
            key = (m[0] & 0x0F, m[1])
            sounding[key] = sounding.get(key, 0) + (1 if m[0] & 0xF0 == 0x90 and m[2] > 0 else -1)
            sounding[key] = max(sounding[key], 0)
    assert {k: v for k, v in sounding.items() if v} == {}
    last_note = max(i for i, (_, m) in enumerate(arrivals) if m[0] & 0xF0 in (0x80, 0x90))
    tail = [m for _, m in arrivals[last_note + 1 :]]  # the panic comes after every note message
    for channel in channels:
        assert [0xB0 | channel, 123, 0] in tail and [0xB0 | channel, 120, 0] in tail


@pytest.mark.timing
def test_notes_arrive_on_time_in_another_process(monitor):
    session, events = start(ClipLoop(one_bar_clip()), monitor, bpm=240, bars=3)
    assert session.wait(10)
    session.close()
    arrivals = monitor.close()
    t0 = next(e.time_ns for e in events if e.kind == "started")
    assert [e.bar for e in events if e.kind == "bar"] == [0, 1, 2]
    assert events[-1].kind == "stopped" and "finished" in events[-1].detail

    step = ns_per_tick(240)
    errors = []
    for channel, pitch, starts in ((DRUMS, KICK, range(0, 16, 4)), (BASS, BASS_NOTE, range(0, 16, 4)),
                                   (PIANO, PIANO_NOTE, [0]), (STRINGS, STRINGS_NOTE, [0])):
        got = [t for t, _ in note_ons(arrivals, channel, pitch)]
        expected = [t0 + (bar * TICKS_PER_BAR + s * TICKS_PER_BEAT // 4) * step
                    for bar in range(3) for s in starts]
        assert len(got) == len(expected), (channel, pitch)
        errors += [a - e for a, e in zip(sorted(got), expected)]
    errors_ms = np.array(errors) / 1e6
    assert errors_ms.min() > -0.5  # never early
    assert np.median(errors_ms) < 3 and errors_ms.max() < 20
    programs = [m for _, m in arrivals if m[0] & 0xF0 == 0xC0]
    assert programs == [[0xC0, 0], [0xC1, 24], [0xC2, 32], [0xC3, 48]]  # pitched tracks, drums none
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


@pytest.mark.timing
def test_mute_and_solo_act_at_once(monitor):
    session, events = start(ClipLoop(one_bar_clip()), monitor, bpm=240)
    wait_for(events, "bar", bar=0)
    time.sleep(0.5)
    t_mute = time.monotonic_ns()
    session.mute("piano")
    time.sleep(1.0)
    t_solo = time.monotonic_ns()
    session.solo("Drums")
    time.sleep(1.0)
    t_back = time.monotonic_ns()
    session.solo("Drums", False)
    session.mute("Piano", False)
    time.sleep(1.2)
    session.close()
    arrivals = monitor.close()

    piano_off = [t for t in note_offs(arrivals, PIANO, PIANO_NOTE) if t >= t_mute]
    assert piano_off and piano_off[0] - t_mute < DELIVERY_NS  # the held note ends now, not at the bar's end
    assert not [t for t, _ in note_ons(arrivals, PIANO) if t_mute + DELIVERY_NS < t < t_back]
    strings_off = [t for t in note_offs(arrivals, STRINGS, STRINGS_NOTE) if t >= t_solo]
    assert strings_off and strings_off[0] - t_solo < DELIVERY_NS
    # the beat's notes written as the solo came may still arrive (the CI run of session 13: the
    # bass 7 us after a kick, both after t_solo): only what was sent after it must be drums
    soloed = note_ons([(t, m) for t, m in arrivals if t_solo + DELIVERY_NS < t < t_back])
    assert soloed and all(m[0] & 0x0F == DRUMS for _, m in soloed)
    assert [t for t, _ in note_ons(arrivals, PIANO) if t > t_back]  # back at the next bar
    assert session.muted == set() and session.soloed == set()
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


@pytest.mark.timing
def test_tempo_changes_at_the_next_beat(monitor):
    session, events = start(ClipLoop(one_bar_clip()), monitor, bpm=120)
    started = wait_for(events, "started")
    wait_for(events, "bar", bar=0)
    time.sleep(max(0.0, (started.time_ns + 0.7e9 - time.monotonic_ns()) / 1e9))  # during beat 1
    t_change = time.monotonic_ns()
    session.set_bpm(240)
    time.sleep(1.6)
    session.close()
    arrivals = monitor.close()
    assert wait_for(events, "tempo").detail == "240"
    kicks = np.array([t for t, _ in note_ons(arrivals, DRUMS, KICK)])
    before, after = kicks[kicks < t_change], kicks[kicks > t_change]
    beat2 = started.time_ns + 2 * 500e6  # the first beat after the change, where 120 BPM put it

    def off_grid_ms(times, origin, beat_ns):  # distance of each kick from its beat on a grid
        phase = (times - origin) % beat_ns
        return np.minimum(phase, beat_ns - phase) / 1e6

    # each kick on its place within 15 ms, and the median within 5: a CI run here once saw the
    # receiver take a kick 11 ms late, while a wrong place is a beat's half (125 ms) or more away
    assert len(before) >= 2 and off_grid_ms(before, started.time_ns, 500e6).max() < 15
    assert abs(after[0] - beat2) < 15e6
    # then a beat every 250 ms (on the grid: a kick lost in transit does not move the others)
    assert len(after) >= 5 and off_grid_ms(after, beat2, 250e6).max() < 15
    assert np.median(off_grid_ms(np.concatenate([before, after]), started.time_ns, 250e6)) < 5
    assert (after[-1] - beat2) / 250e6 > 4.5
    assert session.bpm == 240


@pytest.mark.timing
def test_stop_in_the_middle_of_notes_leaves_nothing_sounding(monitor):
    session, events = start(ClipLoop(one_bar_clip()), monitor, bpm=120)
    wait_for(events, "bar", bar=0)
    time.sleep(0.6)
    t_stop = time.monotonic_ns()
    session.stop()
    session.close()
    time.sleep(0.1)
    arrivals = monitor.close()
    for channel, pitch in ((PIANO, PIANO_NOTE), (STRINGS, STRINGS_NOTE)):
        offs = [t for t in note_offs(arrivals, channel, pitch) if t >= t_stop]
        assert offs and offs[0] - t_stop < 50e6
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])
    assert events[-1].kind == "stopped"


class FailingPort(RtMidiOutput):
    """A real port whose 30th message raises, as a bug in the stream would."""

    def _send(self, message):
        self.count = getattr(self, "count", 0) + 1
        if self.count == 30:
            raise RuntimeError("boom")
        super()._send(message)


def test_an_exception_on_the_clock_thread_still_silences(monitor):
    port = FailingPort("jack", f"B2B fail {next(_names)}", connect=monitor.port)
    events: list = []
    session = LiveSession(ClipLoop(one_bar_clip()), OutputPorts([port]), bpm=240, on_event=events.append)
    session.start()
    assert session.wait(5)
    session.close()
    arrivals = monitor.close()
    assert "RuntimeError: boom" in (session.failure or "")
    assert [e.kind for e in events][-2:] == ["error", "stopped"]
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


class BrokenSource(ClipLoop):
    """A source that fails on its seventh phrase (a few bars in), as a model can."""

    calls = 0

    def next_phrase(self):
        self.calls += 1
        if self.calls == 7:
            raise MemoryError("out of memory")
        return super().next_phrase()


def test_a_failing_source_stops_with_a_message_and_silence(monitor):
    session, events = start(BrokenSource(one_bar_clip()), monitor, bpm=240)
    assert session.wait(8)
    session.close()
    arrivals = monitor.close()
    assert "MemoryError: out of memory" in session.failure
    assert note_ons(arrivals)
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


@pytest.mark.timing
def test_a_receiver_that_goes_away_and_comes_back(jack_server):
    name = f"mon-lost{next(_names)}"
    first = MonitorProcess(name, api="jack")
    session, events = start(ClipLoop(one_bar_clip()), first, bpm=240)
    started = wait_for(events, "started")
    wait_for(events, "bar", bar=1)
    first.close()  # the receiver quits (a JACK server may take seconds to notice a killed one)
    lost = wait_for(events, "port lost", timeout=3)
    time.sleep(0.5)
    second = MonitorProcess(name, api="jack")
    back = wait_for(events, "port back", timeout=3)
    time.sleep(1.0)
    session.close()
    arrivals = second.close()

    bars = [e.bar for e in events if e.kind == "bar"]
    assert bars == list(range(len(bars)))  # the clock went on through the loss
    kicks = [t for t, _ in note_ons(arrivals, DRUMS, KICK) if t > back.time_ns]
    assert len(kicks) >= 3
    beat = 250e6
    phases = [((t - started.time_ns) % beat) / 1e6 for t in kicks]
    assert all(p < 10 or p > 240 for p in phases), phases  # still on the original grid
    assert lost.detail and back.detail
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


@pytest.mark.timing
def test_a_change_on_the_beat_plays_from_the_next_beat_it_is_ready_for(monitor):
    """The jam's change (`change_source(on_beat=True)`): the new clip comes in at a beat line
    inside the bar, in its place in the bar grid; the old clip's held notes end there."""
    source = ClipLoop(one_bar_clip())
    session, events = start(source, monitor, bpm=120)
    wait_for(events, "bar", bar=1)
    time.sleep(0.6)  # past the bar's first beat (0.5 s at 120 BPM)
    new = one_bar_clip()
    new.rolls[1] = 0
    new.rolls[1, :, PIANO_NOTE + 4] = 80  # the piano moves up a third
    session.change_source(lambda: setattr(source, "phrase", to_phrase(new)), "new clip", on_beat=True)
    change = wait_for(events, "change")
    time.sleep(1.2)
    session.close()
    arrivals = monitor.close()
    bar_one = next(e for e in events if e.kind == "bar" and e.bar == 1)
    assert change.bar == 1 and change.beat in (2, 3), change  # a beat of this bar, not the next bar line
    assert abs(change.time_ns - (bar_one.time_ns + change.beat * 500_000_000)) < 2_000_000
    new_note = note_ons(arrivals, PIANO, PIANO_NOTE + 4)  # held all bar: it sounds from the beat on
    assert new_note and abs(new_note[0][0] - change.time_ns) < 5_000_000  # in at the beat, not the bar
    old_off = [t for t in note_offs(arrivals, PIANO, PIANO_NOTE) if t > bar_one.time_ns + 50_000_000]
    assert old_off and abs(old_off[0] - change.time_ns) < 5_000_000  # the held piano note ended there
    assert_nothing_left_sounding(arrivals, [DRUMS, PIANO, BASS, STRINGS])


@pytest.mark.timing
def test_midi_clock_out_with_start_and_stop(monitor):
    session, events = start(ClipLoop(one_bar_clip()), monitor, bpm=240, bars=1, clock_out=True)
    assert session.wait(5)
    session.close()
    arrivals = monitor.close()
    realtime = [(t, m[0]) for t, m in arrivals if len(m) == 1]
    kinds = [k for _, k in realtime]
    assert kinds[0] == 0xFA and kinds[-1] == 0xFC
    pulses = np.array([t for t, k in realtime if k == 0xF8])
    # 96 pulses span the bar. A receiver that misses its JACK cycle (JACK2 runs clients
    # asynchronously; the monitor is an ordinary process on a busy machine) loses that
    # cycle's events, so one lost pulse is allowed here; their times must still fit.
    # The lost one may be the first or the last, so the pulses that came span 95 or 96 places;
    # a receiver that stalls takes a few late, together (one run here: two 26 ms late), so
    # nine in ten must sit on their place within 2 ms (arrivals fall on 1.33 ms cycles).
    places = np.round((pulses - pulses[0]) / (250e6 / 24))
    off = pulses - pulses[0] - places * (250e6 / 24)
    assert places[-1] + 1 in (4 * 24 - 1, 4 * 24)
    on_place = np.abs(off - np.median(off)) < 2e6
    assert np.mean(on_place) >= 0.9
    assert len(pulses) >= 4 * 24 - 1
    # Arrivals fall on JACK cycles (1.33 ms), so single intervals are 9.3 or 10.7 ms: the
    # interval a line fitted through the pulses on their places gives.
    interval = np.polyfit(places[on_place], pulses[on_place], 1)[0]
    assert interval / 1e6 == pytest.approx(250 / 24, abs=0.05)
    first_kick = note_ons(arrivals, DRUMS, KICK)[0][0]
    assert abs(first_kick - pulses[0]) < 2e6


def test_the_model_makes_phrases_while_playing(monitor):
    torch.manual_seed(0)
    composer = Composer(Generator(ModelConfig(g_width=8, d_width=8)), name="random")
    probs = composer.probabilities([composer.new_idea(0)])[0]
    composer.meta["threshold"] = float(np.quantile(probs[probs > 0], 0.999))
    source = ModelStream(composer, seed=0, variation=0.5)
    made = []
    original = source.next_phrase
    source.next_phrase = lambda: made.append(original()) or made[-1]
    session, events = start(source, monitor, bpm=400, bars=8)
    assert session.wait(15)
    session.close()
    arrivals = monitor.close()
    assert not [e for e in events if e.kind == "late"]
    assert len(made) >= 2 and made[0].notes != made[1].notes
    expected = sum(1 for phrase in made[:2] for note in phrase.notes)
    assert len(note_ons(arrivals)) == expected
    assert_nothing_left_sounding(arrivals, sorted({m[0] & 0x0F for _, m in note_ons(arrivals)}))


def test_one_port_per_track(jack_server):
    name = f"B2B pt{next(_names)}"
    ports = open_outputs([t.name for t in family_tracks(5)], "jack", name, per_track=True)
    try:
        jack = next(p for p in list_ports() if p.api == "jack")
        assert f"{name} Drums:{name} Drums" in jack.inputs
        drums_only = MonitorProcess(f"mon{next(_names)}", connect=f"{name} Drums", api="jack")
        session = LiveSession(ClipLoop(one_bar_clip()), ports, bpm=240, bars=1)
        session.start()
        assert session.wait(5)
        session.close()
        arrivals = drums_only.close()
    finally:
        ports.close()
    assert len(note_ons(arrivals)) == 4
    assert {m[0] & 0x0F for _, m in arrivals if m[0] < 0xF0} == {DRUMS}


# A keyboard and the DAW input it plays into, one JACK client in a process of its own (its
# process callback is Python: in ours it would wait for the interpreter while a close held
# it, and the server's cycle with it). One event every cycle, from "go" on stdin to "stop";
# then the counts, as JSON. Each cycle it sleeps LATE_S first, as a DAW busy with its own
# work is late to read its inputs: what widens the window in which a closing port's buffer
# is read (on a quiet machine and a prompt receiver no event was lost either way).
KEYBOARD = """
import json, sys, time, jack
LATE_S = float(sys.argv[2])
client = jack.Client(sys.argv[1], no_start_server=True)
out, inp = client.midi_outports.register("out"), client.midi_inports.register("in")
counts = {"sent": 0, "heard": 0}
sending = False
@client.set_process_callback
def process(frames):
    counts["heard"] += sum(1 for _ in inp.incoming_midi_events())  # first: with one sender
    out.clear_buffer()  # connected, the input's buffer is that sender's own
    time.sleep(LATE_S)
    if sending:
        out.write_midi_event(0, b"\\xf8")
        counts["sent"] += 1
client.activate()
client.connect(out, inp)
print("ready", flush=True)
sys.stdin.readline()
sending = True
sys.stdin.readline()
sending = False
time.sleep(0.2)
print(json.dumps(counts), flush=True)
"""


def test_closing_our_port_loses_nothing_another_sender_plays_into_the_same_input(jack_server):
    """A DAW's MIDI input with our stream and a keyboard both connected to it: our port
    closing (a stream that stops, a per-track port going) must not cost the keyboard a note.
    jack2 mixes an input's senders into one buffer each cycle and gives the whole mix up when
    one sender's buffer is invalid, as a port unregistered while still connected is for a
    cycle or two. Here a keyboard sends one event every cycle to its own input, while our ports
    (one connected to that input, one virtual that the test connects) open and close beside
    it: 80 closes lost 2-3 of its events (3 runs of 3) before our ports were disconnected first
    (jack_graph.py), none since. Every event must arrive."""
    name = f"keyboard{next(_names)}"
    late_s = 0.0012  # of the cycle's 1.33 ms
    keyboard = subprocess.Popen([sys.executable, "-c", KEYBOARD, name, str(late_s)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        assert keyboard.stdout.readline().strip() == "ready"
        keyboard.stdin.write("go\n")
        keyboard.stdin.flush()
        for _ in range(40):
            connected = RtMidiOutput(api="jack", port_name=f"B2B into {next(_names)}", connect=f"{name}:in")
            virtual_name = f"B2B virtual {next(_names)}"
            virtual = RtMidiOutput(api="jack", port_name=virtual_name)
            subprocess.run(["jack_connect", f"{virtual_name}:{virtual_name}", f"{name}:in"], check=True)
            time.sleep(0.05)
            connected.close()
            virtual.close()
        keyboard.stdin.write("stop\n")
        keyboard.stdin.flush()
        counts = json.loads(keyboard.stdout.readline())
    finally:
        keyboard.kill()
        keyboard.wait()
    assert counts["sent"] > 500 and counts["heard"] == counts["sent"], counts
