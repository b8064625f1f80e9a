"""Listening for the chords: does a synthesizer's rendering of a clip sound the chords asked for?

    .venv/bin/python bench/chord_audio.py [--model genres-chords] [--genre rock]
        [--chords "Am F C G"] [--seeds 0 1 2 3 4 5 6 7] [--out DIR]

Each seed's 8-bar clip over `--chords` is written (drums left out: their noise is in every
pitch class) and rendered with FluidSynth (FluidR3_GM) as a listener would hear it; the `.wav`
files stay in `--out` to be played. From the audio alone, each bar's chroma (the energy of the
spectrum's 130 Hz-2 kHz bins folded onto the 12 pitch classes) is matched against the 24 major
and minor triads; the bar counts as heard right when the best triad is the one asked for (for
a seventh or a sus chord, its triad: Am7 as Am). Also: over chords shifted by one bar (what a
clip that ignored the chords would score by chance), and the same clips' notes from the model
without chords given (`--model genres`), so the audio check has its own floor.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from audio_onsets import BPM, RATE, render  # bench/ is on the path when run as a script
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.music_io import write_midi
from bytes2beats.engine.progression import parse_progression, per_beat

TRIADS = [(root, minor) for minor in (False, True) for root in range(12)]


def bar_chroma(audio: np.ndarray, bars: int) -> np.ndarray:
    """(bars, 12): each bar's spectral energy per pitch class, from 4096-sample frames."""
    samples_per_bar = int(RATE * 4 * 60 / BPM)
    frame = 4096
    freqs = np.fft.rfftfreq(frame, 1 / RATE)
    band = (freqs >= 130) & (freqs <= 2000)  # below C3 a 5 Hz bin spans a semitone
    classes = (np.round(12 * np.log2(freqs[band] / 440.0)).astype(int) + 9) % 12  # A = 9
    out = np.zeros((bars, 12))
    for b in range(bars):
        chunk = audio[b * samples_per_bar : (b + 1) * samples_per_bar]
        for start in range(0, len(chunk) - frame, frame // 2):
            power = np.abs(np.fft.rfft(chunk[start : start + frame] * np.hanning(frame))) ** 2
            np.add.at(out[b], classes, power[band])
    return out


def heard_triad(chroma: np.ndarray) -> tuple[int, bool]:
    """The major or minor triad whose three pitch classes hold the most of the bar's energy
    (less the energy of the other nine)."""
    share = chroma / max(chroma.sum(), 1e-12)
    scores = [share[[r, (r + (3 if m else 4)) % 12, (r + 7) % 12]].sum() for r, m in TRIADS]
    return TRIADS[int(np.argmax(scores))]


def asked_triad(chord) -> tuple[int, bool]:
    third_minor = (chord.root + 3) % 12 in chord.pitch_classes and (chord.root + 4) % 12 not in chord.pitch_classes
    return chord.root, third_minor


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--chords", default="Am F C G")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--out", default="chord-audio")
    args = parser.parse_args()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    bars = parse_progression(args.chords)
    per = per_beat(bars, 8)
    asked = [asked_triad(per[4 * b]) for b in range(8)]
    shifted = asked[1:] + asked[:1]
    composer = Composer.load(args.model, "cpu")
    plain = Composer.load("genres", "cpu")
    print(f"{composer.name} over '{args.chords}', {len(args.seeds)} clips of 8 bars, genre {args.genre}, drums out; "
          f"machine {platform.machine()}")
    results = {}
    for name, model, chords in (("chords given", composer, per), ("no chords (genres)", plain, None)):
        right = chance = 0
        for seed in args.seeds:
            clip = model.generate(seed=seed, bars=8, genre=args.genre, chords=chords)[0]
            clip = replace(clip, rolls=clip.rolls.copy(), chords=tuple(per))
            clip.rolls[[i for i, t in enumerate(clip.tracks) if t.is_drum]] = 0
            stem = folder / f"{model.name}-seed{seed}"
            audio = render(write_midi(clip, stem.with_suffix(".mid")), stem.with_suffix(".wav"))
            heard = [heard_triad(c) for c in bar_chroma(audio, 8)]
            right += sum(h == a for h, a in zip(heard, asked))
            chance += sum(h == a for h, a in zip(heard, shifted))
        total = 8 * len(args.seeds)
        results[name] = (right / total, chance / total)
        print(f"{name:20s} bars heard as the chord asked for: {100 * right / total:5.1f}%   "
              f"as the chord a bar later: {100 * chance / total:5.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
