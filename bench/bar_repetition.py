"""Benchmark: which tracks repeat their bars as real songs do? (issue 14)

    .venv/bin/python bench/bar_repetition.py [--model genres-chords] [--weights CHECKPOINT.pt ...]
        [--genre rock] [--samples 1500] [--data ../shared/data/lpd] [--json OUT]

Bar similarity (`engine/metrics.py`, the classifier two-sample test's strongest single tell)
is one number over every track; this splits it. Per track, the mean cosine similarity of
every pair of a phrase's bars (pairs where both bars play), in three vectors a bar: its
pitch classes (chroma), its rhythm (the steps where a note sounds: what `bar_similarity`
reads) and its onsets (the steps where a note starts: a groove or a riff). Generated phrases
(the model file's decoding; with `--weights`, each training checkpoint's generator decoded as
the model file decodes) against the genre's validation songs.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import REPETITION_KINDS as KINDS
from bytes2beats.engine.metrics import track_repetition
from bytes2beats.engine.train import checkpoint_composer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--weights", nargs="*", default=[], help="training checkpoints decoded as --model decodes")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    validation = np.flatnonzero((phrases.genre == phrases.genres.index(args.genre))
                                & phrases.validation_songs[phrases.song])
    steps_per_bar = cfg.steps_per_beat * cfg.n_beats // cfg.n_bars
    names = [t.name for t in cfg.tracks]
    sets = {"validation songs": track_repetition(phrases.rolls[validation], steps_per_bar, cfg.lowest_pitch)}
    for weights in [None, *args.weights]:
        decoded = checkpoint_composer(weights, composer) if weights else composer
        fake = generated_phrases(decoded, args.samples, args.genre, None)
        sets[weights or args.model] = track_repetition(fake, steps_per_bar, cfg.lowest_pitch)
    print(f"{args.genre}: {args.samples} generated phrases a set, {len(validation)} validation phrases "
          f"({platform.machine()}); bar-pair similarity per track, {' / '.join(KINDS)}")
    print("| set | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, table in sets.items():
        print(f"| {name} | " + " | ".join(" / ".join(f"{v:.2f}" for v in row) for row in table) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "genre": args.genre, "samples": args.samples, "machine": platform.machine(), "kinds": KINDS,
            "tracks": names, "sets": {name: table.tolist() for name, table in sets.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
