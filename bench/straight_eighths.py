"""Benchmark: does each track play 16ths in the phrases where the songs do? (issue 14)

    .venv/bin/python bench/straight_eighths.py [--model genres-chords ...] [--genre rock]
        [--samples 1000] [--data ../shared/data/lpd] [--json OUT]

A rock part either plays 16ths or it does not: most of the songs' phrases start no note on the
16ths between the 8ths (the "e" and the "a"), a few start many there. Per track, over the
phrases where it starts a note: the share of phrases that start none there, and the quartiles
and 90th percentile of a phrase's share of its notes started there; each model decoded as its
file decodes (engine/binarize.py: straight_eighths is the decoding step this measures), against
the genre's validation songs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from bytes2beats.engine.binarize import sixteenths_share
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer

QUANTILES = (0.25, 0.5, 0.75, 0.9)


def phrase_shares(phrases: np.ndarray, steps_per_beat: int) -> list[dict]:
    """Per track: the share of its playing phrases with no 16th between the 8ths, and quantiles."""
    shares = sixteenths_share(phrases, steps_per_beat)  # (n, tracks)
    rows = []
    for t in range(shares.shape[1]):
        played = shares[:, t][~np.isnan(shares[:, t])]
        rows.append({"none": float(np.mean(played == 0)) if len(played) else float("nan"),
                     "quantiles": np.quantile(played, QUANTILES).round(3).tolist() if len(played) else []})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=["genres-chords"])
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()
    first = Composer.load(args.model[0], "cpu")
    cfg = first.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    validation = np.flatnonzero((phrases.genre == phrases.genres.index(args.genre))
                                & phrases.validation_songs[phrases.song])
    sets = {"validation songs": phrase_shares(phrases.rolls[validation], cfg.steps_per_beat)}
    for name in args.model:
        composer = Composer.load(name, "cpu")
        sets[name] = phrase_shares(generated_phrases(composer, args.samples, args.genre, None), cfg.steps_per_beat)
    names = [t.name for t in cfg.tracks]
    print(f"{args.genre}: {args.samples} generated phrases a model, {len(validation)} validation phrases "
          f"({platform.machine()}); per track, phrases with no note on a 16th between the 8ths, then a "
          f"phrase's share of notes there at the {' / '.join(f'{q:g}' for q in QUANTILES)} quantiles")
    print("| set | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, rows in sets.items():
        print(f"| {name} | " + " | ".join(f"{100 * r['none']:.0f} % ({' / '.join(f'{q:.2f}' for q in r['quantiles'])})"
                                          for r in rows) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"genre": args.genre, "samples": args.samples, "machine": platform.machine(),
                                               "tracks": names, "sets": sets}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
