"""Listening with a meter: how far the notes a synthesizer plays of a clip fall from the grid.

    .venv/bin/python bench/audio_onsets.py [--model genres] [--genre rock] [--seeds 0 1 2 3]
        [--quantize 0 100] [--feel 0] [--out DIR]

Each seed's clip (8 bars, 120 BPM) is written at each quantize strength and feel (the share of
its notes played with a real phrase's timing, engine/feel.py) and rendered with
FluidSynth (FluidR3_GM) as a listener would hear it; the `.wav` files stay in `--out` to be
played. From the audio alone, onsets are found by spectral flux (rises of energy between 23 ms
frames 2.9 ms apart, peaks well above the median), and each is placed against the nearest 16th and 8th-triplet
line of the 120 BPM grid. Prints per clip and strength the onsets found and the share more
than 8 ms from every line (after the median delay of the synth and the detector): a step (a
48th note) at 120 BPM is 41.7 ms, so these are the flams,
stutters and notes a 48th early or late that the quantizer is for. Real songs are not in
here: the point is the change between strengths of the same clips, heard through a synth.

What it found (docs/quality.md): little. The onsets it detects are mostly the drums', which
sat on the grid already, and strings and pads start too slowly for spectral flux to time
them; the notes the quantizer moves are the pitched tracks'. The symbolic measures of `eval`
(onsets at each step of the beat) are the ones to trust; these renders are for the ear.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.music_io import write_midi

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
RATE = 22050
HOP = 64  # 2.9 ms
BPM = 120.0


def render(midi: Path, out: Path) -> np.ndarray:
    subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(out), "-r", str(RATE), SOUNDFONT, str(midi)],
                   check=True, capture_output=True, timeout=120)
    with wave.open(str(out)) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, w.getnchannels())
    return audio.mean(axis=1) / 32768.0


def onset_times(audio: np.ndarray) -> np.ndarray:
    """Seconds of the onsets: peaks of positive spectral flux (log magnitude) over a median."""
    frame = 512
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::HOP] * np.hanning(frame)
    spectrum = np.log1p(100 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(spectrum, axis=0), 0).sum(axis=1)
    floor = np.median(flux) + 2 * flux.std()
    peaks = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] > floor)
    return (np.flatnonzero(peaks) + 1 + 1) * HOP / RATE + (frame / 2 - HOP) / RATE


def off_grid_share(times: np.ndarray, tolerance: float = 0.008) -> float:
    """Share of onsets further than `tolerance` from every grid line, once the synth's and
    the detector's own delay (the median signed distance to the nearest line) is taken off."""
    if not len(times):
        return float("nan")
    beat = 60.0 / BPM
    lines = np.unique(np.concatenate([np.arange(0, 4) * beat / 4, np.arange(0, 3) * beat / 3, [beat]]))

    def signed(t: np.ndarray) -> np.ndarray:
        d = np.mod(t, beat)[:, None] - lines[None, :]
        return d[np.arange(len(t)), np.abs(d).argmin(axis=1)]

    delay = np.median(signed(times))
    return float((np.abs(signed(times - delay)) > tolerance).mean())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--quantize", type=float, nargs="+", default=[0.0, 100.0])
    parser.add_argument("--feel", type=float, nargs="+", default=[0.0])
    parser.add_argument("--out", default="out/audio-onsets")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    composer = Composer.load(args.model, "cpu")
    print(f"machine: {platform.machine()}; FluidSynth with {SOUNDFONT}; {BPM:g} BPM, 8 bars; "
          f"onsets over 8 ms from the 16th/triplet grid")
    ways = [(q, f) for q in args.quantize for f in args.feel]
    print("| seed | " + " | ".join(f"quantize {q:g} %, feel {f:g} %: onsets, off grid" for q, f in ways) + " |")
    print("|---|" + "---|" * len(ways))
    totals = {way: [] for way in ways}
    for seed in args.seeds:
        idea = composer.new_idea(seed, 8, args.genre)
        probs = composer.probabilities([idea])[0]
        cells = []
        for q, f in ways:
            clip = composer.to_clip(probs, None, 8, BPM, f"seed{seed}", args.genre, quantize_strength=q / 100,
                                    feel=f / 100, seed=seed)
            stem = out / f"{args.genre}-seed{seed}-quantize{q:g}-feel{f:g}"
            write_midi(clip, stem.with_suffix(".mid"))
            times = onset_times(render(stem.with_suffix(".mid"), stem.with_suffix(".wav")))
            share = off_grid_share(times)
            totals[(q, f)].append(share)
            cells.append(f"{len(times)}, {100 * share:.1f} %")
        print(f"| {seed} | " + " | ".join(cells) + " |")
    print("| median | " + " | ".join(f"{100 * np.median(v):.1f} %" for v in totals.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
