"""Benchmark (issue 14): how far would keeping the generated phrases most like the training songs
take the classifier two-sample test? A feasibility screen for discriminator rejection sampling
(Azadi et al., 2019), with the features of `eval`'s classifier.

    .venv/bin/python bench/rejection_sampling.py [--model genres] [--genre rock] [--pool 6000]
        [--samples 1500] [--data runs/lpd48.phrases.npz] [--json OUT]

1. A selector: `eval`'s classifier (engine/two_sample.py: gradient-boosted trees on the phrase
   features) fitted to tell generated phrases (seeds 50,000 on) from the genre's *training*
   phrases; its odds of "real" estimate the ratio of the songs' density to the model's.
2. A pool of `--pool` generated phrases (seeds 10,000 on: `eval`'s own set among them), scored.
3. `--samples` phrases taken from the pool three ways: the first ones (what `eval` measures),
   the highest odds, and by rejection sampling (each phrase kept with probability odds / M, M the
   pool's 95th percentile of the odds, the rest drawn from the first ones left).
4. Each set against the *validation* phrases, which neither the model nor the selector saw:
   `eval`'s classifier test; and the copy check (the share of a phrase's notes in its nearest
   training phrase of the genre, over 300 of the set), since the phrases most like the
   songs might be those nearest one song.

Not a decoding the app runs: what it would gain, for the next session to weigh against making
several phrases for each one kept.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import load_phrase_pack_for
from bytes2beats.engine.evaluate import generated_phrases, nearest_overlap
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.two_sample import classifier_two_sample_test, phrase_features

ROOT = Path(__file__).resolve().parents[1]


def featured(composer: Composer, rolls: np.ndarray) -> tuple[np.ndarray, list[str]]:
    cfg = composer.config
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    return phrase_features(rolls, [t.name for t in cfg.tracks], drum, cfg.steps_per_beat, cfg.lowest_pitch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "lpd48.phrases.npz")
    parser.add_argument("--pool", type=int, default=6000)
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--selector-samples", type=int, default=3000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    started = time.monotonic()
    composer = Composer.load(args.model, "cpu")
    phrases, _ = load_phrase_pack_for(args.data, composer.config)
    genre = phrases.genres.index(args.genre)
    is_validation = phrases.validation_songs[phrases.song]
    rng = np.random.default_rng(0)
    all_train_rows = np.flatnonzero((phrases.genre == genre) & ~is_validation)
    train_rows = np.sort(rng.choice(all_train_rows, min(len(all_train_rows), args.selector_samples), replace=False))
    validation_rows = np.flatnonzero((phrases.genre == genre) & is_validation)
    real_train, names = featured(composer, np.asarray(phrases.rolls[train_rows]))
    real_validation, _ = featured(composer, np.asarray(phrases.rolls[validation_rows]))

    selector_set, _ = featured(composer, generated_phrases(composer, args.selector_samples, args.genre, None, 50_000))
    pool_rolls = generated_phrases(composer, args.pool, args.genre, None, 10_000)
    pool, _ = featured(composer, pool_rolls)
    print(f"phrases made and featured in {time.monotonic() - started:.0f} s", flush=True)

    x = np.concatenate([selector_set, real_train])
    y = np.concatenate([np.ones(len(selector_set), dtype=int), np.zeros(len(real_train), dtype=int)])
    known = ~np.isnan(x).all(axis=0)
    with threadpool_limits(1):
        selector = HistGradientBoostingClassifier(random_state=0).fit(x[:, known], y)
        generated_p = np.clip(selector.predict_proba(pool[:, known])[:, 1], 1e-6, 1 - 1e-6)
    odds = (1 - generated_p) / generated_p  # ~ p_songs(x) / p_model(x)

    n = args.samples
    first = np.arange(n)
    best = np.sort(np.argsort(-odds)[:n])
    m = np.percentile(odds, 95)
    kept = np.flatnonzero(np.random.default_rng(1).random(len(odds)) < odds / m)[:n]
    if len(kept) < n:  # too few accepted: the rest as they come
        kept = np.sort(np.concatenate([kept, np.setdiff1d(first, kept)[: n - len(kept)]]))
    sets = {"the first (eval's)": first, "highest odds": best, "rejection sampling": kept}

    results = {"model": args.model, "genre": args.genre, "pool": args.pool, "samples": n,
               "machine": platform.processor() or platform.machine(), "sets": {}}
    validation_songs = phrases.song[validation_rows]
    for name, rows in sets.items():
        test = classifier_two_sample_test(pool[rows], real_validation, names, real_songs=validation_songs)
        overlap = nearest_overlap(pool_rolls[rows[:300]], phrases.rolls, all_train_rows)
        results["sets"][name] = {"accuracy": test["accuracy"], "separating": test["separating"][:5],
                                 "median_odds": float(np.median(odds[rows])),
                                 "nearest_overlap": {"max": float(overlap.max()), "median": float(np.median(overlap)),
                                                     "over_90": int((overlap > 0.9).sum())}}
        print(f"{name}: classifier {test['accuracy']:.1%} against the validation phrases; median odds "
              f"{np.median(odds[rows]):.3f}; nearest training phrase at most {overlap.max():.1%} of a phrase's "
              f"notes (median {np.median(overlap):.1%}, {(overlap > 0.9).sum()} of 300 over 90 %)", flush=True)
        for f in test["separating"][:4]:
            print(f"  {f['feature']}: AUC {f['auc']:.3f}, generated {f['generated']:.4g}, real {f['real']:.4g}")
    results["seconds"] = round(time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
