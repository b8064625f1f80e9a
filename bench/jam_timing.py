"""A long live jam, timed at JACK's own receiver: the user's part from another process, the
accompaniment from `bytes2beats stream --listen`, both heard by `jack_midi_dump`.

    .venv/bin/python bench/jam_timing.py [--minutes 5] [--bpm 120] [--loop-bars 4]
        [--change-every 16] [--json out.json]

Three processes on a realtime JACK server of the dummy driver (period 64 at 48 kHz: a cycle is
1.33 ms), none of them this one:
- a fake DAW (this file with --daw) sends MIDI clock, Start and Stop, and plays a 4-bar bass
  line on channel 16, in time with its own clock; every `--change-every` bars it changes to
  the other of two lines (A minor: A F C G; then D G C E), so the jam must follow;
- `bytes2beats stream --listen DAW --sync external --sync-port DAW --as bass` plays along,
  exactly as a user starts it;
- `jack_midi_dump -a` hears both the DAW and the stream on one port, each message stamped
  with JACK's frame time, so the part, the DAW's clock and the accompaniment share one clock
  that belongs to neither side.

Measured from the dump alone:
- timing: each accompaniment note-on against the DAW's clock (the pulses' frames fitted to a
  line: where the DAW's clock put each 48th at this receiver), to the nearest 48th, p50/p99;
- pass latency: from the last note the part played in a pass to the accompaniment's first
  note of the next pass;
- following: the bar the stream said it follows a changed part from, against the bar the
  part changed in;
- loss: every clock pulse and part note the DAW sent arrived, once; every accompaniment
  note-on has its note-off (or an all-notes-off) and none sounds twice; nothing sounds at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from jack_servers import dumped, start_dummy_server, stop_server  # noqa: E402  (the tests' JACK helpers)

RATE = 48_000
PPQN = 24
PULSES_PER_BAR = 4 * PPQN
STEPS_PER_BEAT = 12  # the accompaniment's grid: a 48th, 2 clock pulses
PART_CHANNEL = 15
ACCOMPANIMENT_CHANNELS = {0, 1, 3, 9}  # piano, guitar, strings, drums; bass (2) is the user's
DAW_NAME = "b2b jam daw"
# Two 4-bar bass lines of eighths (the second half of each bar an octave up on beat 3)
LINE_A = [45, 41, 48, 43]  # A F C G
LINE_B = [38, 43, 48, 40]  # D G C E


def bar_notes(root: int) -> list[tuple[int, int, int]]:
    """(start pulse in the bar, end pulse, pitch): eighths on the root, beat 3 an octave up."""
    notes = []
    for k in range(8):
        pitch = root + (12 if k in (4, 5) else 0)
        notes.append((k * PPQN // 2, k * PPQN // 2 + PPQN // 2 - 2, pitch))
    return notes


def run_daw(bars: int, bpm: float, change_every: int) -> None:
    """The fake DAW: wait for a line on stdin, then play `bars` bars and Stop. Its clock runs
    at a raised priority, as a DAW's does (its MIDI thread and the thread that keeps time):
    at an ordinary one, beside a stream generating on this 2-core machine, its pulses
    reached the receiver 26 ms off their line (p50; 7-10 ms raised, session 12), a clock no
    DAW has."""
    import rtmidi
    from bytes2beats.engine.live.priority import prioritized_new_threads, raise_priority

    with prioritized_new_threads():  # libjack's process thread, made inside rtmidi
        out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=DAW_NAME)
        out.open_virtual_port("out")
    raise_priority()
    subprocess.run(["jack_connect", f"{DAW_NAME}:out", "midi-monitor:input"], check=True)
    print("daw ready", flush=True)
    sys.stdin.readline()
    pulse_ns = 60e9 / bpm / PPQN
    events: dict[int, list[list[int]]] = {}
    for bar in range(bars):
        line = LINE_A if (bar // change_every) % 2 == 0 else LINE_B
        for start, end, pitch in bar_notes(line[bar % 4]):
            events.setdefault(bar * PULSES_PER_BAR + start, []).append([0x90 | PART_CHANNEL, pitch, 96])
            events.setdefault(bar * PULSES_PER_BAR + end, []).append([0x80 | PART_CHANNEL, pitch, 0])
    sent = {"pulses": 0, "notes": 0}
    t0 = time.monotonic_ns() + 200_000_000
    out.send_message([0xFA])
    for pulse in range(bars * PULSES_PER_BAR + PPQN):  # a beat more: the stream ends on a Stop past its end
        due = t0 + pulse * pulse_ns
        while (left := due - time.monotonic_ns()) > 0:
            time.sleep(min(left, 2_000_000) / 1e9 if left > 2_500_000 else 0.0002)
        for message in events.get(pulse, []):  # the notes of a pulse go before it, as a DAW's do
            out.send_message(message)
            sent["notes"] += 1
        out.send_message([0xF8])
        sent["pulses"] += 1
    out.send_message([0xFC])
    time.sleep(0.5)
    print(json.dumps(sent), flush=True)
    sys.stdin.readline()  # stay until the dump is stopped: a port that goes may lose its last cycle
    out.delete()


def note_check(messages: list[list[int]]) -> dict:
    """Every note-on ended, none begun twice, no note-off for a silent note, none left on."""
    sounding: set[tuple[int, int]] = set()
    twice = orphan_offs = ons = 0
    for m in messages:
        kind, channel = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and m[2] > 0:
            ons += 1
            twice += (channel, m[1]) in sounding
            sounding.add((channel, m[1]))
        elif kind in (0x80, 0x90):
            if (channel, m[1]) in sounding:
                sounding.discard((channel, m[1]))
            else:
                orphan_offs += 1
        elif kind == 0xB0 and m[1] == 123:
            sounding = {s for s in sounding if s[0] != channel}
    return {"note_ons": ons, "begun_twice": twice, "offs_without_on": orphan_offs, "left_sounding": len(sounding)}


def analyse(events: list[tuple[int, list[int]]], said: list[str], sent: dict, bars: int, loop_bars: int,
            change_every: int) -> dict:
    pulses = np.array([f for f, m in events if m == [0xF8]], dtype=float)
    k = np.arange(len(pulses))
    slope, intercept = np.polyfit(k, pulses, 1)  # the DAW's clock at this receiver: frame of pulse k
    clock_jitter_ms = (pulses - (intercept + slope * k)) / RATE * 1e3
    step_frames = slope * PPQN / STEPS_PER_BEAT
    bar_frames = slope * PULSES_PER_BAR

    part = [(f, m) for f, m in events if m[0] & 0x0F == PART_CHANNEL and m[0] & 0xF0 in (0x80, 0x90)]
    ours = [(f, m) for f, m in events if m[0] & 0x0F != PART_CHANNEL and m[0] & 0xF0 in (0x80, 0x90, 0xB0)]
    wrong_channel = [m for _, m in ours if m[0] & 0xF0 == 0x90 and m[0] & 0x0F not in ACCOMPANIMENT_CHANNELS]
    onsets = np.array([f for f, m in ours if m[0] & 0xF0 == 0x90 and m[2] > 0], dtype=float)
    steps = (onsets - intercept) / step_frames
    error_ms = (steps - np.round(steps)) * step_frames / RATE * 1e3

    part_ons = np.array([f for f, m in part if m[0] & 0xF0 == 0x90 and m[2] > 0], dtype=float)
    latencies = []
    for start_bar in range(loop_bars, bars, loop_bars):  # each pass from the second
        line = intercept + start_bar * bar_frames
        # the part's notes of the pass that ends at `line` (its next note, on the line, may
        # reach the receiver in the same JACK cycle as the line's accompaniment)
        before = part_ons[(part_ons < line - 0.5 * step_frames) & (part_ons >= line - loop_bars * bar_frames)]
        after = onsets[(onsets >= line - 0.5 * step_frames) & (onsets < line + loop_bars * bar_frames)]
        if len(before) and len(after):
            latencies.append((after.min() - before.max()) / RATE * 1e3)

    follows = []  # in bars from the start of the bar the part changed in: 1 is its end
    said_at = [int(m.group(1)) + (int(m.group(2) or 1) - 1) / 4 for line in said
               if (m := re.match(r"change from bar (\d+)(?: beat (\d))?: .*following it", line))]
    for change_bar in range(change_every, bars, change_every):
        later = [b for b in said_at if b > change_bar]
        if later:
            follows.append(min(later) - change_bar)

    # where pulses may have gone missing: each gap of more than 1.5 pulse periods between two
    # heard pulses, as [the pulse before it, the gap in periods] (a late pulse followed by one
    # on time shows as a long gap and a short one: delayed, not lost)
    periods = np.diff(pulses) / slope if len(pulses) > 1 else np.array([])
    gaps = [[int(i), round(float(p), 2)] for i, p in enumerate(periods) if p > 1.5]

    pct = lambda a, q: float(np.percentile(a, q)) if len(a) else None  # noqa: E731
    return {
        "clock_pulses": {"sent": sent["pulses"], "heard": len(pulses), "long_gaps": gaps,
                         "last_heard_frame": float(pulses[-1]) if len(pulses) else None,
                         "last_heard_frame_expected": float(intercept + slope * (sent["pulses"] - 1)),
                         "jitter_ms_p50_abs": pct(np.abs(clock_jitter_ms), 50),
                         "jitter_ms_p99_abs": pct(np.abs(clock_jitter_ms), 99)},
        "part_notes": {"sent": sent["notes"], "heard": len(part), **note_check([m for _, m in part])},
        "accompaniment": {**note_check([m for _, m in ours]), "on_wrong_channel": len(wrong_channel),
                          "first_note_bar": float((onsets.min() - intercept) / bar_frames) if len(onsets) else None},
        "timing_error_ms": {"p50": pct(error_ms, 50), "p99": pct(error_ms, 99), "p1": pct(error_ms, 1),
                            "p50_abs": pct(np.abs(error_ms), 50), "p99_abs": pct(np.abs(error_ms), 99),
                            "max_abs": float(np.abs(error_ms).max()) if len(error_ms) else None,
                            "within_5ms": float(np.mean(np.abs(error_ms) <= 5)) if len(error_ms) else None},
        "pass_latency_ms": {"passes": len(latencies), "p50": pct(latencies, 50), "p99": pct(latencies, 99),
                            "max": max(latencies) if latencies else None},
        "following": {"changes": len(range(change_every, bars, change_every)), "followed": len(follows),
                      "bars_after_the_change_began": follows},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--loop-bars", type=int, default=4, choices=(2, 4, 8))
    parser.add_argument("--change-every", type=int, default=16, help="bars between changes of the part")
    parser.add_argument("--json")
    parser.add_argument("--raw", help="write what jack_midi_dump printed here")
    parser.add_argument("--daw", action="store_true", help=argparse.SUPPRESS)  # the fake DAW's process
    parser.add_argument("--bars", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bars = args.bars or round(args.minutes * args.bpm / 4)
    if args.daw:
        run_daw(bars, args.bpm, args.change_every)
        return

    name, server = start_dummy_server("bench", realtime=True)
    os.environ["JACK_DEFAULT_SERVER"] = name
    processes = []
    try:
        # into a file: a pipe that fills (64 KB, under a minute of clock) blocks the dump, whose
        # ring buffer then drops what JACK hands it
        dump_file, dump_said = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        dump = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a"], stdout=dump_file,
                                stderr=dump_said, text=True)  # silent, but for a ring buffer that overflowed
        processes.append(dump)
        for _ in range(50):
            if "midi-monitor:input" in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout:
                break
            time.sleep(0.1)
        daw = subprocess.Popen([sys.executable, __file__, "--daw", "--bars", str(bars), "--bpm", str(args.bpm),
                                "--change-every", str(args.change_every)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        processes.append(daw)
        assert daw.stdout.readline().strip() == "daw ready"
        stream = subprocess.Popen(
            [sys.executable, "-m", "bytes2beats", "stream", "--listen", f"{DAW_NAME}:out", "--sync", "external",
             "--sync-port", f"{DAW_NAME}:out", "--loop-bars", str(args.loop_bars), "--as", "bass",
             "--genre", "rock", "--bars", str(bars), "--api", "jack", "--connect", "midi-monitor"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        processes.append(stream)
        said: list[str] = []
        threading.Thread(target=lambda: said.extend(line.rstrip() for line in stream.stdout), daemon=True).start()
        for line in stream.stderr:
            if line.startswith("ready: waiting for the DAW's Start"):
                break
        started = time.monotonic()
        daw.stdin.write("go\n")
        daw.stdin.flush()
        sent = json.loads(daw.stdout.readline())
        stream.wait(60)
        err = stream.stderr.read()
        time.sleep(0.5)
        dump.terminate()
        dump.wait(10)
        dump_file.seek(0)
        text = dump_file.read()
        dump_said.seek(0)
        dump_err = dump_said.read()
        daw.stdin.write("done\n")
        daw.stdin.flush()
        daw.wait(10)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        stop_server(server)
    if args.raw:
        Path(args.raw).write_text(text)
    result = analyse(dumped(text), said, sent, bars, args.loop_bars, args.change_every)
    result.update({
        "stream_exit": stream.returncode, "stream_stderr_tail": err.strip().splitlines()[-3:],
        "dump_stderr_tail": dump_err.strip().splitlines()[-3:],
        "late_lines": sum(line.startswith("late") for line in said),
        "changes_said": [line for line in said if line.startswith("change")], "minutes": (time.monotonic() - started) / 60,
        "args": {k: v for k, v in vars(args).items() if k not in ("daw", "bars")}, "bars": bars,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
    })
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
