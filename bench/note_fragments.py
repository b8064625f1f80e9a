"""Diagnostic: where in the beat notes start, and how long they last, generated vs the data.

    .venv/bin/python bench/note_fragments.py --checkpoint RUN/checkpoint.pt [--genre rock] [--phrases 300]
    .venv/bin/python bench/note_fragments.py --model MODEL [--genre rock]

QN and DP fail when a generator chops notes into fragments and starts them anywhere in the
beat; this shows both directly, for the pitched tracks: the share of onsets at each step of
the beat (12 steps a beat at 48 a bar; the data puts most on 0 and 6, the beat and the 8th)
and the quantiles of note lengths in steps, beside the same for the genre's real phrases.

EB fails when a track plays in too many bars; the last lines show, per track, the bars that
are empty and the bars with only one or two notes started in them (stray notes: a bar that
real piano parts almost never have, and that keeps a bar from counting as empty).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bytes2beats.engine.binarize import HOLD_RATIO
from bytes2beats.engine.calibrate import calibrate_decoding
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import note_lengths
from bytes2beats.engine.train import generator_from_checkpoint, read_checkpoint


def note_starts(x: np.ndarray) -> np.ndarray:
    """(n, tracks, steps, pitches): True where a note starts (on, and off the step before)."""
    return x & ~np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 0)))[:, :, :-1]


def onset_positions(x: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Step within the beat of each note start of the pitched tracks (track 0 is the drums)."""
    return np.nonzero(note_starts(x)[:, 1:])[2] % steps_per_beat


def report(name: str, x: np.ndarray, steps_per_beat: int) -> None:
    counts = np.bincount(onset_positions(x, steps_per_beat), minlength=steps_per_beat)
    lengths = note_lengths(x[:, 1:])
    print(f"{name:>9}: onsets by step of the beat (%) {np.round(100 * counts / counts.sum()).astype(int).tolist()}")
    print(f"{'':>9}  note length in steps, quantiles 10/25/50/75: {np.percentile(lengths, [10, 25, 50, 75]).tolist()}; "
          f"notes of 1-2 steps: {100 * (lengths <= 2).mean():.0f}%")


def bar_report(name: str, x: np.ndarray, steps_per_bar: int, track_names: list[str]) -> None:
    n, t, s, p = x.shape
    per_bar = note_starts(x).reshape(n, t, s // steps_per_bar, steps_per_bar, p).sum(axis=(3, 4))  # (n, tracks, bars)
    cells = [f"{track} {100 * (per_bar[:, k] == 0).mean():.1f} / {100 * ((per_bar[:, k] > 0) & (per_bar[:, k] <= 2)).mean():.1f}"
             for k, track in enumerate(track_names)]
    print(f"{name:>9}: bars empty / with 1-2 notes (%): {'; '.join(cells)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint")
    source.add_argument("--model")
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--genre", default=None)
    parser.add_argument("--phrases", type=int, default=300)
    parser.add_argument("--hold-ratio", type=float, default=None,
                        help=f"a model's own by default, {HOLD_RATIO} for a checkpoint; 1: one plain threshold")
    args = parser.parse_args()
    if args.checkpoint:
        state = read_checkpoint(args.checkpoint)
        composer = Composer(generator_from_checkpoint(state), {}, f"epoch {state['epoch']}")
        composer.meta["hold_ratio"] = HOLD_RATIO
    else:
        composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    rows = np.arange(len(phrases))
    if args.genre in phrases.genres:
        rows = np.flatnonzero(phrases.genre == phrases.genres.index(args.genre))
    rows = np.random.default_rng(0).choice(rows, min(4096, len(rows)), replace=False)
    real = phrases.take(rows)
    if args.hold_ratio is not None and args.hold_ratio != composer.hold_ratio:
        composer.meta.update(hold_ratio=args.hold_ratio, threshold=None)  # recalibrated below
    if not composer.meta.get("threshold"):
        composer.meta.update(calibrate_decoding(composer.generator, real, hold_ratio=composer.hold_ratio))
    threshold = composer.meta["threshold"]
    genre = args.genre if args.genre in cfg.genres else None
    with torch.no_grad():
        probs = composer.probabilities([composer.new_idea(k, genre=genre) for k in range(args.phrases)])
    low = cfg.lowest_pitch
    fake = np.stack([composer.decode(p[:, :, low : low + cfg.n_pitches], genre=genre) for p in probs])
    print(f"{composer.name}, {4 * cfg.steps_per_beat} steps a bar, threshold {threshold:.3f} "
          f"(hold ratio {composer.hold_ratio}), genre {genre or 'any'}")
    report("data", real.rolls[: args.phrases], cfg.steps_per_beat)
    report("generated", fake, cfg.steps_per_beat)
    names = [t.name for t in cfg.tracks]
    bar_report("data", real.rolls[: args.phrases], 4 * cfg.steps_per_beat, names)
    bar_report("generated", fake, 4 * cfg.steps_per_beat, names)


if __name__ == "__main__":
    main()
