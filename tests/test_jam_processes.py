"""The jam as a user runs it, every part a process of its own: a fake DAW plays a 4-bar bass
line in time with its own MIDI clock and changes it, `bytes2beats stream --listen ... --sync
external` plays along, and JACK's own `jack_midi_dump` hears both (bench/jam_timing.py, run
short). The accompaniment starts in the second pass, follows the changed part within the bar
after it, and every message arrives with no note left sounding."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "jam_timing.py"


@pytest.mark.jack
def test_a_jam_of_three_processes_plays_along_from_the_second_pass_and_follows_a_change(tmp_path):
    out = tmp_path / "jam.json"
    # 12 bars at 120 BPM: the line changes in bar 8 (passes start at bars 0, 4, 8)
    run = subprocess.run([sys.executable, str(BENCH), "--minutes", "0.4", "--change-every", "8",
                          "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["stream_exit"] == 0 and result["bars"] == 12
    clock, part, ours = result["clock_pulses"], result["part_notes"], result["accompaniment"]
    assert clock["heard"] == clock["sent"] and part["heard"] == part["sent"], (clock, part)
    assert ours["note_ons"] > 50 and ours["on_wrong_channel"] == 0
    assert ours["begun_twice"] == ours["offs_without_on"] == ours["left_sounding"] == 0
    # in from a beat of the second pass (bar 4; bar 5 only on a machine too loaded to make it in a bar)
    assert 4.0 <= ours["first_note_bar"] < 6.0, result
    # the change in bar 8 is heard at bar 9's line and followed from a beat of bar 9 (10 when loaded)
    assert result["following"]["followed"] == 1 and result["following"]["bars_after_the_change_began"][0] < 3
    # How close to the DAW's grid the notes fall is a timing goal, measured by the benchmark
    # over minutes (docs/jam-timing-5min.json: p50 1.5 ms), not asserted in a 12-bar test: on
    # this 2-core VM the fake DAW's own clock reached the receiver 7-26 ms off its line in
    # session 12, with the code of session 11 as with today's, so a 5 ms bound failed on
    # both (docs/streaming.md).
