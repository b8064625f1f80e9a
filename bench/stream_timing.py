"""Timing of live streaming at a real receiver: arrival against scheduled time.

    .venv/bin/python bench/stream_timing.py [--model PATH] [--bars 16] [--bpm 120]
        [--drift-minutes 0] [--server NAME] [--json out.json]

Starts a JACK server with the dummy driver (period 64 at 48 kHz; the cycle is 1.33 ms)
unless --server names a running one, a receiver in another process
(`python -m bytes2beats.engine.live.monitor`, which stamps each arrival with the
machine-wide monotonic clock), and streams from the model with variation 0.5, so that
the model makes the next phrase while this one plays. Every phrase handed to the clock is
recorded, so each note-on's scheduled time is known independently of the scheduler:
t0 + tick * ns_per_tick. Reports p50, p99 and max of (arrival - scheduled) in ms.

With --drift-minutes M it then streams M minutes with MIDI clock out and compares the
arrival of the clock pulses of the last bar with their scheduled times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
from bytes2beats.engine.live import LiveSession, ModelStream, open_outputs
from bytes2beats.engine.live.clock import TICKS_PER_CLOCK, ns_per_tick
from bytes2beats.engine.live.monitor import MonitorProcess
from bytes2beats.engine.live.sources import TICKS_PER_BAR
from bytes2beats.engine.music_io import assign_channels


@contextmanager
def jack_server(name: str | None, realtime: bool = False):
    if name:
        os.environ["JACK_DEFAULT_SERVER"] = name
        yield name
        return
    name = f"b2b-bench-{os.getpid()}"
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    mode = ["--realtime"] if realtime else ["--no-realtime"]
    server = subprocess.Popen(["jackd", "-n", name, *mode, "-d", "dummy", "-r", "48000", "-p", "64"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run(["jack_wait", "-w", "-t", "10"], check=True, capture_output=True)
        yield name
    finally:
        server.terminate()
        server.wait(15)


def stream(composer, bars: int, bpm: float, clock_out: bool, variation: float, threshold,
           realtime: bool = True):
    """Play `bars` bars to a fresh receiver; the phrases played, t0 and the arrivals."""
    receiver = MonitorProcess("b2b bench", api="jack")
    source = ModelStream(composer, seed=1, variation=variation, threshold=threshold)
    phrases = []
    made = source.next_phrase

    def recording_next_phrase():
        phrase = made()
        phrases.append(phrase)
        return phrase

    source.next_phrase = recording_next_phrase
    events = []
    sent = {"pulses": 0}
    ports = open_outputs([t.name for t in source.tracks], "jack", "Bytes to Beats bench", connect="b2b bench")
    main_send = ports.main._send

    def counting_send(message):  # how many pulses left us, to tell a loss on the way from ours
        sent["pulses"] += message == [0xF8]
        main_send(message)

    ports.main._send = counting_send
    session = LiveSession(source, ports, bpm=bpm, bars=bars, clock_out=clock_out, on_event=events.append,
                          realtime=realtime)
    session.start()
    session.wait()
    priority = session.scheduler.priority
    session.close()
    time.sleep(0.2)
    arrivals = receiver.close()
    late = [e for e in events if e.kind == "late"]
    t0 = next(e.time_ns for e in events if e.kind == "started")
    stream.pulses_sent = sent["pulses"]
    return phrases, t0, arrivals, late, [t.is_drum for t in source.tracks], priority


def note_errors(phrases, t0, arrivals, bpm, tracks_drum, bars):
    """(arrival - scheduled) in ns for every note-on, matched by channel, pitch and time."""
    from bytes2beats.engine.pianoroll import Track

    channels = assign_channels([Track("", 0, d) for d in tracks_drum])
    step = ns_per_tick(bpm)
    expected: dict[tuple[int, int], list[int]] = {}
    base = 0
    for phrase in phrases:
        for start, _end, track, pitch, _vel in phrase.notes:
            tick = base + start
            if tick < bars * TICKS_PER_BAR:
                expected.setdefault((channels[track], pitch), []).append(int(t0 + tick * step))
        base += phrase.n_ticks
    errors = []
    for t, msg in arrivals:
        if len(msg) == 3 and msg[0] & 0xF0 == 0x90 and msg[2] > 0:
            times = expected.get((msg[0] & 0x0F, msg[1]))
            if times:
                nearest = min(times, key=lambda s: abs(t - s))
                errors.append(t - nearest)
    return np.array(errors, dtype=np.int64)


def clock_errors(t0, arrivals, bpm):
    """(tick, arrival - scheduled in ns) of each MIDI clock pulse that arrived.

    Each arrival is matched to the nearest scheduled pulse, so a pulse lost on the way
    (counted apart) does not shift the ones after it.
    """
    interval = TICKS_PER_CLOCK * ns_per_tick(bpm)
    matched = []
    for t, msg in arrivals:
        if msg == [0xF8]:
            k = round((t - t0) / interval)
            matched.append((k * TICKS_PER_CLOCK, t - (t0 + k * interval)))
    return matched


def figures(errors_ns) -> dict:
    ms = np.asarray(errors_ns) / 1e6
    return {"n": int(ms.size), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "min_ms": float(ms.min())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="rock", help="a model name or .safetensors path")
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--variation", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--drift-minutes", type=float, default=0.0)
    parser.add_argument("--server", help="use this running JACK server instead of starting one")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--no-realtime", action="store_true",
                        help="leave our threads (clock, MIDI system) at normal priority")
    parser.add_argument("--jack-realtime", action="store_true",
                        help="start the JACK server realtime (as on a user's machine), not --no-realtime as the tests do")
    args = parser.parse_args()
    if args.no_realtime:
        os.environ["BYTES2BEATS_NO_REALTIME"] = "1"  # the monitor process inherits it

    from bytes2beats.engine.generate import Composer

    composer = Composer.load(args.model, "cpu")
    result = {"bpm": args.bpm, "bars": args.bars, "model": composer.name, "cpus": os.cpu_count(),
              "load_average": os.getloadavg()}
    result["jack_server"] = args.server or ("realtime" if args.jack_realtime else "no-realtime")
    with jack_server(args.server, args.jack_realtime):
        phrases, t0, arrivals, late, drums, priority = stream(
            composer, args.bars, args.bpm, False, args.variation, args.threshold, not args.no_realtime)
        result["clock_thread_priority"] = priority
        errors = note_errors(phrases, t0, arrivals, args.bpm, drums, args.bars)
        result["notes"] = figures(errors)
        result["phrases_made"] = len(phrases)
        result["late_phrases"] = len(late)
        print(f"{errors.size} note-ons at {args.bpm:g} BPM over {args.bars} bars, {len(phrases)} phrases made "
              f"by the model while playing ({len(late)} late), clock thread {priority}: arrival - scheduled "
              f"p50 {result['notes']['p50_ms']:.2f} ms, p99 {result['notes']['p99_ms']:.2f} ms, "
              f"max {result['notes']['max_ms']:.2f} ms")
        if args.drift_minutes > 0:
            bars = max(2, int(args.drift_minutes * args.bpm / 4))
            phrases, t0, arrivals, late, drums, priority = stream(
                composer, bars, args.bpm, True, args.variation, args.threshold, not args.no_realtime)
            pulses = clock_errors(t0, arrivals, args.bpm)
            first = [e for tick, e in pulses if tick < TICKS_PER_BAR]
            last_bar = (bars - 1) * TICKS_PER_BAR
            last = [e for tick, e in pulses if last_bar <= tick < last_bar + TICKS_PER_BAR]
            start = next((e for tick, e in pulses if tick == last_bar), None)
            result["drift"] = {
                "minutes": bars * 4 / args.bpm, "bars": bars, "pulses_scheduled": bars * 96,
                "pulses_sent": stream.pulses_sent, "pulses_arrived": len(pulses),
                "first_bar_median_ms": float(np.median(first) / 1e6),
                "last_bar_median_ms": float(np.median(last) / 1e6),
                "last_bar_start_ms": None if start is None else start / 1e6,
                "all_pulses": figures([e for _, e in pulses]),
            }
            d = result["drift"]
            print(f"drift over {d['minutes']:.1f} min ({bars} bars; clock pulses: {bars * 96} scheduled, "
                  f"{stream.pulses_sent} sent, {len(pulses)} arrived): last bar starts "
                  f"{d['last_bar_start_ms']:.2f} ms after its scheduled time; pulse error median first bar "
                  f"{d['first_bar_median_ms']:.2f} ms, last bar {d['last_bar_median_ms']:.2f} ms; all pulses p99 "
                  f"{d['all_pulses']['p99_ms']:.2f} ms, max {d['all_pulses']['max_ms']:.2f} ms")
    result["load_average_after"] = os.getloadavg()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
