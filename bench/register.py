"""Benchmark: do a model's pitched tracks stray from their register, and does the fitted
register bring them home? (engine/binarize.py: keep_in_register)

    .venv/bin/python bench/register.py [--model genres-chords] [--genre rock] [--samples 1500]
        [--data ../shared/data/lpd] [--json OUT]

The same generated phrases decoded twice, without the model's `register` entry and with it,
against the genre's validation songs. Per pitched track: the share of phrases with a note
further from the phrase's median pitch than the register (the genre's players keep 99 % of
their notes within it, fitted on the training songs), and the mean pitch range a phrase, in
semitones (a feature the classifier two-sample test reads).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from bytes2beats.engine.binarize import median_pitches
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer


def strays(phrases: np.ndarray, track: int, reach: int) -> tuple[float, float]:
    """The share of the phrases in which `track` sounds a note more than `reach` semitones from
    its median sounding pitch, and the track's mean pitch range a phrase (phrases it plays in)."""
    counts = phrases[:, track].sum(axis=1)  # (n, P)
    playing = counts.sum(axis=1) > 0
    counts = counts[playing]
    middle = median_pitches(counts)
    pitch = np.arange(counts.shape[1])
    far = ((counts > 0) & (np.abs(pitch[None, :] - middle[:, None]) > reach)).any(axis=1)
    used = counts > 0
    span = (counts.shape[1] - 1 - used[:, ::-1].argmax(axis=1)) - used.argmax(axis=1)
    return float(far.mean()), float(span.mean())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()
    composer = Composer.load(args.model, "cpu")
    reach = composer._fitted("register", args.genre)
    if not reach:
        print(f"{args.model} has no register for {args.genre}: `bytes2beats calibrate --register-only` fits one")
        return 1
    cfg = composer.config
    unkept = Composer(composer.generator, {k: v for k, v in composer.meta.items() if k != "register"}, composer.name)
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    validation = np.flatnonzero((phrases.genre == phrases.genres.index(args.genre))
                                & phrases.validation_songs[phrases.song])
    sets = {"validation songs": phrases.rolls[validation],
            "without the register": generated_phrases(unkept, args.samples, args.genre, None),
            "with the register": generated_phrases(composer, args.samples, args.genre, None)}
    print(f"{composer.name}, {args.genre}, {args.samples} generated phrases, {len(validation)} validation phrases "
          f"({platform.machine()}): phrases with a note outside the register / mean pitch range a phrase")
    pitched = [t for t, track in enumerate(cfg.tracks) if not track.is_drum]
    print("| | " + " | ".join(f"{cfg.tracks[t].name} (reach {reach[t]})" for t in pitched) + " |")
    print("|---|" + "---|" * len(pitched))
    results = {"model": composer.name, "genre": args.genre, "samples": args.samples,
               "register": {cfg.tracks[t].name: reach[t] for t in pitched}, "sets": {}}
    for name, rolls in sets.items():
        row = {cfg.tracks[t].name: strays(rolls, t, reach[t]) for t in pitched}
        results["sets"][name] = {track: {"outside": far, "range": span} for track, (far, span) in row.items()}
        print(f"| {name} | " + " | ".join(f"{100 * far:.1f} % / {span:.1f}" for far, span in row.values()) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
