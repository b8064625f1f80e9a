"""Benchmark: how closely a manner model's clips play the manner each was asked for (issue 14).

    OMP_NUM_THREADS=1 .venv/bin/python bench/manner_following.py [--model genres] [--genre rock]
        [--phrases 300] [--seed 20000] [--json OUT]

A manner model (engine/manner.py) is told, per phrase, how each track plays (onsets a bar, note
length, share of notes held a beat or more, pitch range), drawn from the songs' own; the
articulation (engine/articulation.py) then plays each pitched track as decoded, held or pulsed,
whichever is nearest. Per pitched track, over the phrases asked to play it: the correlation of
the asked and the played manners, for three articulations side by side on the same network
output: none (as decoded), held only (session 34's candidates and fit), and the shipped one.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch
from bytes2beats.engine import articulation
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.manner import MANNERS, phrase_manners

FOLLOWED = ("onsets a bar", "note length", "notes of a beat or more")
# name: (the articulation's pulses, the manners it is fitted on); None: not articulated
VARIANTS = {
    "as decoded": None,
    "decoded or held (session 34)": ((), ["note length", "notes of a beat or more"]),
    "decoded, held or pulsed (shipped)": (articulation.PULSES_IN_BEATS, [MANNERS[k] for k in articulation.FITTED]),
}


def played_manners(composer: Composer, ideas, probabilities, genre: str, variant) -> np.ndarray:
    """(phrases, T, manners) standardized, of the clips decoded with `variant`'s articulation."""
    cfg, g = composer.config, composer.generator
    low, n = cfg.lowest_pitch, cfg.n_pitches
    mean, scale = g.manner_mean.numpy(), g.manner_scale.numpy()
    notes = np.stack([composer.decode(p[:, :, low : low + n], genre=genre) for p in probabilities])
    if variant is not None:
        pulses, fitted = variant[0], [MANNERS.index(m) for m in variant[1]]
        notes = np.stack([articulation.fit_articulation(x, idea.manners, cfg, mean, scale, pulses, fitted)
                          for idea, x in zip(ideas, notes)])
    played = phrase_manners(torch.as_tensor(notes, dtype=torch.float32), cfg).numpy()
    return (played - mean) / scale


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    if not cfg.manners:
        raise SystemExit(f"{args.model} is not a manner model: it is asked for no manners")
    ideas = [composer.new_idea(args.seed + k, genre=args.genre) for k in range(args.phrases)]
    probabilities = composer.probabilities(ideas)
    asked = np.stack([idea.manners[0] for idea in ideas])  # (phrases, T, manners), standardized
    pitched = [t for t, track in enumerate(cfg.tracks) if not track.is_drum]
    result = {}
    print(f"{args.model}, {args.genre}: {args.phrases} phrases ({platform.machine()}, cpu); "
          "correlation of asked and played, " + " / ".join(FOLLOWED))
    print("| articulation | " + " | ".join(cfg.tracks[t].name for t in pitched) + " |")
    print("|---|" + "---|" * len(pitched))
    for name, variant in VARIANTS.items():
        played = played_manners(composer, ideas, probabilities, args.genre, variant)
        row = {}
        for t in pitched:
            asked_to_play = asked[:, t, 0] > asked[:, t, 0].min() + 1e-6  # the lowest: asked for silence
            row[cfg.tracks[t].name] = [float(np.corrcoef(asked[asked_to_play, t, k], played[asked_to_play, t, k])[0, 1])
                                       for k in (MANNERS.index(m) for m in FOLLOWED)]
        result[name] = row
        print(f"| {name} | " + " | ".join(" / ".join(f"{r:.2f}" for r in rs) for rs in row.values()) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "genre": args.genre, "phrases": args.phrases, "seed": args.seed,
                       "followed": FOLLOWED, "correlation": result}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
