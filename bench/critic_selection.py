"""Benchmark: keep the phrases the model's own critic finds most real; does the classifier
two-sample test then tell them from real songs less often? (issue 14)

    .venv/bin/python bench/critic_selection.py [--model genres] [--genre rock]
        [--candidates 6000] [--keep 1500] [--data ../shared/data/lpd] [--json OUT]

Discriminator rejection sampling (Azadi et al. 2019) in its simplest form: generate
`--candidates` phrases with the shipped decoding, score each with the critic the model file
carries, and keep the `--keep` best. The kept phrases, the same number taken at random, and
the `--keep` worst are each tested against the validation songs with `eval`'s classifier
(engine/two_sample.py: folds keep a song's phrases together). Also printed: how well the
critic's score alone tells generated phrases from validation phrases (its AUC), and each
set's empty-bar rates, since a selection that keeps only sparse phrases would be a cheat.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import measure
from bytes2beats.engine.model import Critic, load_critic_weights
from bytes2beats.engine.model_store import resolve_model
from bytes2beats.engine.two_sample import (
    classifier_two_sample_test,
    phrase_features,
    single_feature_auc,
)


def critic_scores(critic: Critic, rolls: np.ndarray, genre_row: int | None, chunk: int = 256) -> np.ndarray:
    """The critic's score of each phrase (higher: more real), a chunk at a time."""
    scores = []
    with torch.no_grad():
        for start in range(0, len(rolls), chunk):
            x = torch.as_tensor(rolls[start : start + chunk], dtype=torch.float32)
            genre = None if genre_row is None else torch.full((len(x),), genre_row, dtype=torch.long)
            scores.append(critic(x, genre).numpy())
    return np.concatenate(scores)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--candidates", type=int, default=6000)
    parser.add_argument("--keep", type=int, default=1500)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    weights = load_critic_weights(resolve_model(args.model))
    if weights is None:
        print(f"{args.model}: the model file carries no critic", file=sys.stderr)
        return 1
    critic = Critic(cfg)
    critic.load_state_dict(weights)
    critic.eval()
    genre_row = cfg.genres.index(args.genre) if cfg.genres else None
    started = time.perf_counter()
    fake = generated_phrases(composer, args.candidates, args.genre, None)
    scores = critic_scores(critic, fake, genre_row)
    seconds = time.perf_counter() - started

    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    in_genre = phrases.genre == phrases.genres.index(args.genre)
    validation = np.flatnonzero(in_genre & phrases.validation_songs[phrases.song])
    real = phrases.rolls[validation]
    real_scores = critic_scores(critic, real, genre_row)
    names = [t.name for t in cfg.tracks]
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    real_features, feature_names = phrase_features(real, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
    steps_per_bar = 4 * cfg.steps_per_beat
    auc = float(single_feature_auc(real_scores[:, None], scores[:, None])[0])
    print(f"{composer.name}, {args.genre}: {args.candidates} phrases generated and scored in {seconds:.0f} s "
          f"(one thread, {platform.machine()}); {len(validation)} validation phrases")
    print(f"critic score, median (10th-90th percentile): generated {np.median(scores):.2f} "
          f"({np.quantile(scores, 0.1):.2f} to {np.quantile(scores, 0.9):.2f}), validation "
          f"{np.median(real_scores):.2f} ({np.quantile(real_scores, 0.1):.2f} to {np.quantile(real_scores, 0.9):.2f}); "
          f"the score alone tells them apart with AUC {auc:.3f}")
    order = np.argsort(-scores)
    sets = {
        "random": np.arange(args.keep),
        "critic's best": np.sort(order[: args.keep]),
        "critic's worst": np.sort(order[-args.keep :]),
    }
    print("| phrases | classifier | EB % D/P/G/B/S | what tells most (AUC) |")
    print("|---|---|---|---|")
    results = {"model": composer.name, "genre": args.genre, "candidates": args.candidates, "keep": args.keep,
               "critic_auc_validation_over_generated": round(auc, 4), "sets": {}}
    for label, rows in sets.items():
        features, _ = phrase_features(fake[rows], names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
        test = classifier_two_sample_test(features, real_features, feature_names,
                                          real_songs=phrases.song[validation])
        empty = measure(fake[rows], names, drum, steps_per_bar, cfg.lowest_pitch)["EB"]
        tells = ", ".join(f"{s['feature']} ({s['auc']:.2f})" for s in test["separating"][:3])
        print(f"| {label} | {100 * test['accuracy']:.1f} % | {' / '.join(f'{v:.1f}' for v in empty.values())} | {tells} |",
              flush=True)
        results["sets"][label] = {"classifier": test, "EB": empty}
    real_empty = measure(real, names, drum, steps_per_bar, cfg.lowest_pitch)["EB"]
    print(f"| validation songs | | {' / '.join(f'{v:.1f}' for v in real_empty.values())} | |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
