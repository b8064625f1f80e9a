"""A real synthesizer as the listener: FluidSynth plays the stream over JACK while jack_rec
records what it plays. Sound while the notes play; silence after stop (CC120 cuts the
release tails)."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.live import ClipLoop, LiveSession, open_outputs
from bytes2beats.engine.pianoroll import Multitrack

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
_names = itertools.count()

pytestmark = [pytest.mark.jack, pytest.mark.external]


def rms(wav: Path, start: float, length: float) -> float:
    """The RMS amplitude of a stretch of a recording, by sox."""
    out = subprocess.run(["sox", str(wav), "-n", "trim", f"{start}", f"{length}", "stat"],
                         capture_output=True, text=True)
    match = re.search(r"RMS\s+amplitude:\s+([0-9.eE+-]+)", out.stderr)
    assert match, out.stderr
    return float(match.group(1))


def wait_for_port(name: str, synth: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    """Wait for FluidSynth's port. Loading its 140 MB soundfont took over 10 s on a CI run
    whose 2 cores were busy, so the wait is long; a synth that died says why at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if name in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout:
            return
        if synth.poll() is not None:
            raise AssertionError(f"fluidsynth exited ({synth.returncode}) before {name} appeared:\n"
                                 f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise AssertionError(f"JACK port {name} did not appear in {timeout:.0f} s; fluidsynth said:\n"
                         f"{log.read_text(errors='replace')[-2000:]}")


@pytest.fixture
def fluidsynth(jack_server, tmp_path):
    for tool in ("fluidsynth", "jack_rec", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not SOUNDFONT.exists():
        pytest.skip(f"no soundfont at {SOUNDFONT}")
    name = f"fsynth{next(_names)}"
    log = tmp_path / "fluidsynth.log"
    log_file = log.open("wb")
    synth = subprocess.Popen(
        ["fluidsynth", "-a", "jack", "-m", "jack", "-o", f"audio.jack.id={name}", "-o", f"midi.jack.id={name}",
         str(SOUNDFONT)],
        # Its shell on a pipe keeps it running (no -s: that server's fixed TCP port may be taken).
        stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(f"{name}:midi_00", synth, log)
        wait_for_port(f"{name}:left", synth, log)
        yield name
    finally:
        synth.stdin.close()
        synth.terminate()
        synth.wait(10)
        log_file.close()


def test_fluidsynth_sounds_while_playing_and_falls_silent_after_stop(fluidsynth, tmp_path):
    rolls = np.zeros((5, 16, 128), np.uint8)
    rolls[1, :, 60] = rolls[1, :, 64] = rolls[1, :, 67] = 100  # a held C major chord on piano
    rolls[4, :, 48] = 100  # and strings, whose release rings long unless cut
    clip = Multitrack(family_tracks(5), rolls, steps_per_beat=4)
    wav = tmp_path / "rec.wav"
    recorder = subprocess.Popen(["jack_rec", "-f", str(wav), "-d", "3.5", "-b", "16",
                                 f"{fluidsynth}:left", f"{fluidsynth}:right"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # recording: 0.5 s silence first
    ports = open_outputs([t.name for t in clip.tracks], "jack", f"B2B synth{next(_names)}",
                         connect=f"{fluidsynth}:midi_00")
    session = LiveSession(ClipLoop(clip), ports, bpm=120)
    session.start()  # notes from 0.6 s
    time.sleep(1.5)
    session.close()  # at about 2.1 s: note-offs, CC123, CC120
    recorder.wait(10)
    assert wav.exists()
    before = rms(wav, 0.0, 0.4)
    playing = rms(wav, 0.9, 1.0)
    after = rms(wav, 2.6, 0.8)
    assert before < 1e-4
    assert playing > 0.01
    assert after < 1e-4, (before, playing, after)
