"""Benchmark: does the bass keep to a register, as a bass player does?

    .venv/bin/python bench/bass_register.py [--model genres-chords] [--genre rock] [--phrases 200]
        [--pack /work/data/lpd48.phrases.npz]

Generates `--phrases` phrases of the genre (over the progressions a chord model draws) and
measures the bass track against the validation songs' basses (from the phrase pack `--pack`,
`bytes2beats phrases --steps-per-beat 12`): the mean span between a phrase's lowest and highest
bass note, the share of intervals between consecutive bass notes wider than an octave, and of
exactly an octave, and the median interval. A line that jumps between octaves of the root has a
wide span and many octave-plus leaps.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
from bytes2beats.engine.dataset import load_phrase_pack_for
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import pitch_range


def intervals(bass: np.ndarray) -> np.ndarray:
    """(n, steps, pitches) -> the semitones between each note's start and the next's."""
    out = []
    for roll in bass:
        starts = np.argwhere(np.diff(np.pad(roll, ((1, 0), (0, 0))).astype(np.int8), axis=0) == 1)
        starts = starts[np.argsort(starts[:, 0], kind="stable")]
        out += list(np.abs(np.diff(starts[:, 1])))
    return np.array(out)


def describe(name: str, phrases: np.ndarray, bass: int) -> None:
    leaps = intervals(phrases[:, bass])
    print(f"| {name} | {pitch_range(phrases)[bass]:.1f} | {100 * (leaps > 12).mean():.1f} % | "
          f"{100 * (leaps == 12).mean():.1f} % | {np.median(leaps):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=200)
    parser.add_argument("--pack", default="/work/data/lpd48.phrases.npz")
    args = parser.parse_args()

    composer = Composer.load(args.model)
    cfg = composer.config
    bass = [t.name for t in cfg.tracks].index("Bass")
    ideas = [composer.new_idea(100 + k, cfg.n_bars, args.genre) for k in range(args.phrases)]
    low = cfg.lowest_pitch
    made = []
    for start in range(0, len(ideas), 100):
        batch = ideas[start : start + 100]
        for probs, idea in zip(composer.probabilities(batch, batch_size=100), batch):
            made.append(composer.decode(probs[:, :, low : low + cfg.n_pitches], None, args.genre, chords=idea.chords))
    phrases, _ = load_phrase_pack_for(args.pack, composer.config)
    validation = phrases.split(True)
    rows = np.flatnonzero(validation.genre == validation.genres.index(args.genre))[:1000]
    print(f"{args.model}, {args.genre}, {args.phrases} phrases; {platform.machine()}")
    print("| | bass span in a phrase (semitones) | leaps over an octave | octave leaps | median interval |")
    print("|---|---|---|---|---|")
    describe(f"validation songs ({len(rows)} phrases)", validation.rolls[rows].astype(bool), bass)
    describe("generated", np.stack(made).astype(bool), bass)


if __name__ == "__main__":
    main()
