"""Benchmark: how the hysteresis of decoding (engine/binarize.py) changes the notes a model makes.

    .venv/bin/python bench/hold_ratio.py [--model genres] [--genre rock] [--phrases 300]
        [--data ../shared/data/lpd] [--ratios 1 0.8 0.6 0.5 0.4]

For each hold ratio the threshold is calibrated to the same note density (as `train` does),
so the rows differ only in how notes are cut: QN (notes of 3 steps or more at 48 a bar) and
the short notes' share for the pitched tracks, beside the same for the genre's real phrases.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from bytes2beats.engine.binarize import binarize, calibrate
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import note_lengths


def describe(x: np.ndarray) -> str:
    lengths = note_lengths(x[:, 1:])  # the pitched tracks (track 0 is the drums)
    return (f"QN {100 * (lengths >= 3).mean():5.1f}% | 1-2 step notes {100 * (lengths <= 2).mean():4.1f}% | "
            f"median length {np.median(lengths):4.1f} steps | density {1000 * x.mean():.2f}/1000")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=300)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--ratios", type=float, nargs="+", default=[1.0, 0.8, 0.6, 0.5, 0.4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    rows = np.flatnonzero(~phrases.validation_songs[phrases.song])
    if args.genre in phrases.genres:
        rows = rows[phrases.genre[rows] == phrases.genres.index(args.genre)]
    rows = np.sort(np.random.default_rng(0).choice(rows, min(2000, len(rows)), replace=False))
    real = phrases.rolls[rows]
    genre = args.genre if args.genre in cfg.genres else None
    ideas = [composer.new_idea(10_000 + k, genre=genre) for k in range(args.phrases)]
    low = cfg.lowest_pitch
    probs = np.stack([p[:, :, low : low + cfg.n_pitches] for p in composer.probabilities(ideas)])
    print(f"{composer.name}, genre {genre or 'any'}, {args.phrases} phrases; {platform.machine()}, torch {torch.__version__}")
    print(f"{'data':>22}: {describe(real)}")
    for ratio in args.ratios:
        threshold = calibrate(probs, float(real.mean()), ratio)
        print(f"ratio {ratio:.1f} (threshold {threshold:.3f}): {describe(binarize(probs, threshold, ratio))}")


if __name__ == "__main__":
    main()
