"""Benchmark (issue 14): does keeping the best of several takes make phrases more like the songs,
or only more like what the selector reads? Two selectors, two judges, crossed.

    OMP_NUM_THREADS=2 PYTHONPATH=bench .venv/bin/python bench/selection_cross_check.py
        [--model genres] [--genre rock] [--samples 1500] [--takes 8] [--json OUT]

Discriminator rejection sampling (Azadi et al., 2019) makes several phrases for each one
kept and keeps the one a selector, trained to tell the model's phrases from its training
songs, finds most like a song. `bench/rejection_sampling.py` measured it with `eval`'s own
features, which is the question's trap: a selector that reads the features the test reads
moves those features. Here each of two selectors, trained on the genre's *training* phrases
against 3,000 generated ones (seeds 50,000 on):

- **trees on features**: `eval`'s classifier (gradient-boosted trees on the 118 phrase
  features of engine/two_sample.py);
- **a network on the rolls**: `bench/roll_judge.py`'s network (each track's notes and onsets);

picks the best of `--takes` consecutive phrases of a pool (seeds 10,000 on, `eval`'s first),
`--samples` kept. Each set is then judged against the *validation* phrases by both tests:
`eval`'s feature test and the roll judge. A selection that makes the music more like the songs
lowers both judges; one that lowers only its own kind's moved what its selector reads.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.takes import fit_roll_net, roll_scores
from bytes2beats.engine.two_sample import classifier_two_sample_test
from roll_judge import GenreSongs, roll_two_sample_test

ROOT = Path(__file__).resolve().parents[1]
SELECTOR_SAMPLES = 3000


def trees_selector(generated: np.ndarray, songs: np.ndarray):
    """Log odds of "song" for feature rows, from trees fitted on the two sets."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    x = np.concatenate([generated, songs])
    y = np.concatenate([np.zeros(len(generated), dtype=int), np.ones(len(songs), dtype=int)])
    known = ~np.isnan(x).all(axis=0)
    with threadpool_limits(1):
        trees = HistGradientBoostingClassifier(random_state=0).fit(x[:, known], y)
    return lambda rows: trees.decision_function(rows[:, known])


def roll_selector(generated: np.ndarray, songs: np.ndarray, seed: int = 0):
    """Log odds of "song" for rolls, from the roll judge's network trained on the two sets
    (engine/takes.py's, as a take judge fits it)."""
    net = fit_roll_net(generated, songs, seed)
    return lambda rolls: roll_scores(net, rolls)


def best_of(scores: np.ndarray, takes: int, kept: int) -> np.ndarray:
    """The pool's rows kept: the highest score of each run of `takes` consecutive phrases."""
    return np.arange(kept) * takes + scores[: kept * takes].reshape(kept, takes).argmax(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--takes", type=int, default=8)
    parser.add_argument("--selector-samples", type=int, default=SELECTOR_SAMPLES)
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "lpd48.phrases.npz")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    started = time.monotonic()
    songs = GenreSongs.load(args.model, args.data, args.genre, args.samples)
    composer, real, features = songs.composer, songs.real, songs.features
    selector_rows = np.sort(songs.rng.choice(songs.training_rows, args.selector_samples, replace=False))
    songs_for_selectors = np.asarray(songs.phrases.rolls[selector_rows])
    made_for_selectors = generated_phrases(composer, args.selector_samples, args.genre, None, 50_000)
    n = len(real)
    pool = generated_phrases(composer, n * args.takes, args.genre, None, 10_000)
    pool_features = features(pool)
    print(f"{len(pool) + args.selector_samples} phrases made [{time.monotonic() - started:.0f} s]", flush=True)

    by_trees = trees_selector(features(made_for_selectors), features(songs_for_selectors))(pool_features)
    by_network = roll_selector(made_for_selectors, songs_for_selectors)(pool)
    del made_for_selectors, songs_for_selectors
    print(f"selectors trained [{time.monotonic() - started:.0f} s]; their scores' correlation over the pool "
          f"{np.corrcoef(by_trees, by_network)[0, 1]:.2f}", flush=True)
    sets = {"as generated (eval's first)": np.arange(n),
            f"best of {args.takes} by the trees on features": best_of(by_trees, args.takes, n),
            f"best of {args.takes} by the network on rolls": best_of(by_network, args.takes, n)}
    results = {"model": args.model, "genre": args.genre, "samples": n, "takes": args.takes,
               "selector_samples": args.selector_samples, "machine": platform.processor() or platform.machine(),
               "threads": torch.get_num_threads(),
               "selectors_correlation": round(float(np.corrcoef(by_trees, by_network)[0, 1]), 4), "sets": {}}
    real_features = features(real)
    for name, rows in sets.items():
        feature_test = classifier_two_sample_test(pool_features[rows], real_features, songs.feature_names,
                                                  real_songs=songs.real_songs)
        roll_test = roll_two_sample_test(pool[rows], real, np.arange(len(rows)), songs.real_songs)
        results["sets"][name] = {"feature_test": feature_test["accuracy"], "roll_judge": roll_test,
                                 "separating": feature_test["separating"][:5]}
        print(f"{name}: eval's feature test {feature_test['accuracy']:.1%}; roll judge {roll_test['accuracy']:.1%} "
              f"(folds {', '.join(f'{v:.1%}' for v in roll_test['fold_accuracies'])})  "
              f"[{time.monotonic() - started:.0f} s]", flush=True)
    results["seconds"] = round(time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
