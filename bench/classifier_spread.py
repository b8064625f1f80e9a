"""Benchmark: what does the classifier two-sample test read when no single feature tells much?
(issue 14)

    .venv/bin/python bench/classifier_spread.py [--model genres] [--weights CHECKPOINT.pt]
        [--genre rock] [--samples 1000] [--data ../shared/data/lpd] [--top 15] [--json OUT]

`eval`'s classifier (engine/two_sample.py) run twice on the same phrase features: as they
are, and with each feature's column shuffled within its set, which keeps every feature's
distribution in each set and loses how the features go together. If the second accuracy is
as high as the first, the test is adding up many small differences of single features, not
reading combinations of them. Then, per feature, how far the two sets' distributions lie
apart: the area under the ROC curve (which sees a shift of the middle) and the
Kolmogorov-Smirnov distance (which also sees a narrower or wider spread), with each set's
mean, standard deviation and 10th-90th percentiles for the features furthest apart.
A generator whose phrases are each a little too alike (every phrase played in between the
songs' manners) shows here as AUCs near 0.5 beside large KS distances and small deviations.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
from bytes2beats.engine.two_sample import classifier_two_sample_test, single_feature_auc
from classifier_groups import phrase_sets  # the same phrase sets and features as its screen
from scipy.stats import ks_2samp


def shuffled_columns(features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each column permuted on its own: every feature's values kept, their rows' pairing lost."""
    out = features.copy()
    for column in range(out.shape[1]):
        out[:, column] = out[rng.permutation(len(out)), column]
    return out


def ks_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per feature, the Kolmogorov-Smirnov distance of the two sets' values; a missing value
    (a silent track's pitch) counts below every number, as the AUC counts it. (scipy is
    scikit-learn's own dependency: there wherever eval's classifier is.)"""
    low = np.nanmin(np.concatenate([a, b]), axis=0) - 1
    a, b = np.where(np.isnan(a), low, a), np.where(np.isnan(b), low, b)
    return np.array([ks_2samp(a[:, k], b[:, k]).statistic for k in range(a.shape[1])])


def spread(values: np.ndarray) -> dict:
    values = values[~np.isnan(values)]
    if not len(values):
        return {"mean": None, "sd": None, "p10": None, "p90": None}
    p10, p90 = np.quantile(values, [0.1, 0.9])
    return {"mean": float(values.mean()), "sd": float(values.std()), "p10": float(p10), "p90": float(p90)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--weights", help="a training checkpoint's generator, decoded as --model decodes")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json")
    args = parser.parse_args()
    sets = phrase_sets(args.model, args.weights, args.genre, args.samples, args.data)
    composer, generated, real, feature_names = sets.composer, sets.generated, sets.real, sets.feature_names
    validation, songs = sets.validation, sets.songs

    as_they_are = classifier_two_sample_test(generated, real, feature_names, real_songs=songs)["accuracy"]
    rng = np.random.default_rng(0)
    marginals_only = classifier_two_sample_test(shuffled_columns(generated, rng), shuffled_columns(real, rng),
                                                feature_names, real_songs=songs)["accuracy"]
    auc = np.nan_to_num(single_feature_auc(generated, real), nan=0.5)
    ks = ks_distances(generated, real)
    off = np.abs(auc - 0.5)
    print(f"{composer.name}, {args.genre}: {args.samples} generated phrases against {len(validation)} validation "
          f"phrases ({platform.machine()}, {platform.processor() or 'cpu'})")
    print(f"classifier: {100 * as_they_are:.1f} %; each feature's column shuffled within its set: "
          f"{100 * marginals_only:.1f} %")
    print(f"|AUC - 0.5| over the {len(feature_names)} features: median {np.median(off):.3f}, 90th percentile "
          f"{np.quantile(off, 0.9):.3f}, largest {off.max():.3f}; {(off > 0.05).sum()} over 0.05")
    print(f"KS distance: median {np.median(ks):.3f}, 90th percentile {np.quantile(ks, 0.9):.3f}, largest {ks.max():.3f}")
    print("| feature | KS | AUC | generated: mean, sd, 10th-90th | validation: mean, sd, 10th-90th |")
    print("|---|---|---|---|---|")
    rows = []
    for k in np.argsort(-ks)[: args.top]:
        ours, theirs = spread(generated[:, k]), spread(real[:, k])
        rows.append({"feature": feature_names[k], "ks": float(ks[k]), "auc": float(auc[k]),
                     "generated": ours, "validation": theirs})
        shown = lambda s: "-" if s["mean"] is None else f"{s['mean']:.4g}, {s['sd']:.3g}, {s['p10']:.3g}-{s['p90']:.3g}"  # noqa: E731
        print(f"| {feature_names[k]} | {ks[k]:.3f} | {auc[k]:.3f} | {shown(ours)} | {shown(theirs)} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": composer.name, "genre": args.genre, "samples": args.samples, "accuracy": as_they_are,
            "accuracy_marginals_only": marginals_only, "auc_off_median": float(np.median(off)),
            "ks_median": float(np.median(ks)), "furthest": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
