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
from bytes2beats.engine.metrics import chroma, onsets
from bytes2beats.engine.train import checkpoint_composer

KINDS = ("chroma", "rhythm", "onsets")


def pair_similarity(vectors: np.ndarray) -> float:
    """(n, bars, k) -> the mean cosine similarity of every pair of bars where both are non-zero."""
    norms = np.linalg.norm(vectors, axis=2, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    first, second = np.triu_indices(vectors.shape[1], 1)
    alike = np.einsum("nik,nik->ni", unit[:, first], unit[:, second])
    both = (norms[:, first, 0] > 0) & (norms[:, second, 0] > 0)
    return float(alike[both].mean()) if both.any() else float("nan")


def track_repetition(phrases: np.ndarray, steps_per_bar: int, lowest_pitch: int) -> np.ndarray:
    """(n, T, S, P) notes -> (T, 3): each track's bar-pair similarity in chroma, rhythm, onsets."""
    n, t, s, p = phrases.shape
    bars = s // steps_per_bar
    x = phrases[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p)
    starts = onsets(phrases)[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p)
    kinds = (chroma(x.any(axis=3), lowest_pitch), x.any(axis=4), starts.any(axis=4))  # (n, T, bars, k) each
    return np.array([[pair_similarity(kind[:, track].astype(float)) for kind in kinds] for track in range(t)])


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
    spec = PhraseSpec(cfg.track_set, cfg.steps_per_beat, cfg.n_bars, cfg.lowest_pitch, cfg.n_pitches)
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
