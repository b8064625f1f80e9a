"""Where a generator's note probabilities sit, track by track: for a model file or a training
checkpoint (decoded as `--decoding` decodes), the mean probability of a cell, the share of
cells over 0.5 (what the critic and the generator's terms see through deterministic binary
neurons) and over 0.9, and the share over the track's decoding threshold (what a clip plays),
beside the validation songs' share of sounding cells.

    PYTHONPATH=bench .venv/bin/python bench/probability_mass.py [shipped | CHECKPOINT.pt |
        MODEL.safetensors ...] [--decoding genres] [--genre rock] [--phrases 256]

Why (docs/quality.md, "The fine-tune's drift on the CPU, run on (session 48)"): the shipped
recipe, run on from the shipped weights, thins the drums at every checkpoint, and a decoding
refitted to the run does not bring them back. What thins is the probabilities' shape: the
cells over 0.5 fall while the mean probability rises many times, mass spread thin below the
line the critic sees. A screen of a training run reads this in seconds a checkpoint (eleven in
30 s on one thread here), before the minutes of the classifier test (bench/classifier_groups.py).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.train import checkpoint_composer


def composer_of(name: str, decoding: Composer) -> Composer:
    """'shipped' -> the decoding's own model; a .safetensors file -> itself, with its own
    decoding; a checkpoint -> its generator decoded as `decoding` decodes."""
    if name == "shipped":
        return decoding
    if name.endswith(".safetensors"):
        return Composer.load(name, "cpu")
    return checkpoint_composer(name, decoding)


def probability_mass(composer: Composer, genre: str, phrases: int) -> dict[str, list[float]]:
    """Per track over `phrases` one-take phrases (seeds 0..phrases-1): the mean cell
    probability, the shares of cells over 0.5, 0.9 and the track's decoding threshold."""
    ideas = [composer.new_idea(seed, genre=genre) for seed in range(phrases)]
    p = np.concatenate([np.asarray(q).reshape(-1, *q.shape[-3:]) for q in composer.probabilities(ideas)])
    thresholds = composer.track_thresholds(genre=genre)  # (tracks, 1, 1)
    by_track = p.transpose(1, 0, 2, 3).reshape(p.shape[1], -1)  # (tracks, cells)
    return {
        "mean": by_track.mean(axis=1).tolist(),
        "over 0.5": (by_track > 0.5).mean(axis=1).tolist(),
        "over 0.9": (by_track > 0.9).mean(axis=1).tolist(),
        "over threshold": (by_track > thresholds.reshape(-1, 1)).mean(axis=1).tolist(),
    }


def songs_density(composer: Composer, data: str, genre: str) -> list[float]:
    """Per track, the validation songs' share of sounding cells in the genre."""
    phrases = build_phrases(data, PhraseSpec.of_model(composer.config), cache_dir=default_cache_dir())
    pick = (phrases.genre == phrases.genres.index(genre)) & phrases.validation_songs[phrases.song]
    rolls = phrases.rolls[np.flatnonzero(pick)]
    return rolls.transpose(1, 0, 2, 3).reshape(rolls.shape[1], -1).mean(axis=1).tolist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", nargs="+", help="'shipped', checkpoints (.pt) or model files (.safetensors)")
    parser.add_argument("--decoding", default="genres", help="the model whose decoding a checkpoint is read through")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=256)
    parser.add_argument("--data", default="../shared/data/lpd")
    args = parser.parse_args()
    decoding = Composer.load(args.decoding, "cpu")
    names = [t.name for t in decoding.config.tracks]
    print(f"{args.genre}, {args.phrases} phrases a checkpoint; per track: " + " / ".join(names))
    print(f"  the validation songs' sounding cells: {_row(songs_density(decoding, args.data, args.genre))}")
    for name in args.weights:
        mass = probability_mass(composer_of(name, decoding), args.genre, args.phrases)
        print(name)
        for what, values in mass.items():
            print(f"  {what:>15}: {_row(values)}")
    return 0


def _row(values: list[float]) -> str:
    return " / ".join(f"{v:.4f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
