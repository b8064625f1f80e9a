"""Benchmark: a 17-family model against the validation songs, decoded the seed paper's way and ours.

    .venv/bin/python bench/seventeen_families.py [--model rock17] [--genre rock] [--samples 5000]
        [--data ../shared/data/lpd/rock] [--json OUT]

The same generated phrases (probabilities drawn once) decoded two ways:
- the seed paper's: every cell at p >= 0.9, nothing else (no per-family thresholds, no
  hysteresis, no quantizing, no lines);
- the model's fitted decoding (what `generate`, the app and `eval` use).
For each, per family: empty bars (EB), used pitch classes (UPC), qualified notes (QN) and the
polyphonic rate, beside the validation songs' and how often the data plays each family; the
paper's two figures (a polyphonic rate over all families together, and self-similarity: the
mean similarity of a phrase's bars); and the five LPD-5 families merged from the seventeen
against the five-family targets (engine/evaluate.py: `merged_result`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import merged_result, nearest_overlap
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import measure

PAPER = {"polyphonic rate, real": 1.237, "polyphonic rate, generated": 1.296}  # "From Bytes to Beats", table


def pooled_polyphonic_rate(rolls: np.ndarray) -> float:
    """Notes sounding per step and family, where a family sounds, pooled over every family."""
    counts = rolls.sum(axis=3)
    return float(counts[counts > 0].mean()) if (counts > 0).any() else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="rock17")
    parser.add_argument("--data", default="../shared/data/lpd/rock")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    is_validation = phrases.validation_songs[phrases.song]
    validation = phrases.rolls[np.flatnonzero(is_validation)]
    training_rows = np.flatnonzero(~is_validation)
    names = [t.name for t in cfg.tracks]
    steps_per_bar = 4 * cfg.steps_per_beat
    low = cfg.lowest_pitch

    start = time.perf_counter()
    ideas = [composer.new_idea(args.seed + k, genre=args.genre) for k in range(args.samples)]
    # cropped to the model's pitches as they come (a copy: a view would keep all 128 alive)
    probabilities = [p[:, :, low : low + cfg.n_pitches].copy()
                     for _, p in composer.iter_probabilities(ideas, batch_size=128)]
    seconds = time.perf_counter() - start
    ways = {
        "paper (p >= 0.9)": np.stack([p >= 0.9 for p in probabilities]),
        "fitted": np.stack([composer.decode(p, genre=args.genre) for p in probabilities]),
    }
    del probabilities
    sets = {"validation": validation, **ways}
    measured = {name: measure(x, names, 0, steps_per_bar, low) for name, x in sets.items()}
    plays = {name: round(100 * float(np.mean(validation[:, t].any(axis=(1, 2)))), 1)
             for t, name in enumerate(names)}  # share of validation phrases the family plays in
    report = {"model": args.model, "genre": args.genre, "samples": args.samples,
              "validation_phrases": int(len(validation)), "generation_seconds_one_thread": round(seconds, 1),
              "plays_in_validation_phrases_percent": plays, "paper": PAPER, "ways": {}}
    print(f"{args.model}, {args.genre}: {args.samples} phrases generated in {seconds:.0f} s (one thread); "
          f"{len(validation)} validation phrases")
    print("| family | plays in % of phrases | EB val / paper / fitted | UPC val / paper / fitted | "
          "QN paper / fitted | polyphony val / paper / fitted |")
    print("|---|---|---|---|---|---|")

    def cell(metric: str, family: str, columns=("validation", *ways)) -> str:
        values = [measured[c][metric].get(family) for c in columns]
        return " / ".join("-" if v is None else f"{v:.3g}" for v in values)

    for family in names:
        upc = cell("UPC", family) if family in measured["validation"]["UPC"] else "-"
        qn = cell("QN", family, tuple(ways)) if family in measured["validation"]["QN"] else "-"
        print(f"| {family} | {plays[family]} | {cell('EB', family)} | {upc} | {qn} | {cell('polyphonic_rate', family)} |")
    overlap = nearest_overlap(ways["fitted"][:200], phrases.rolls, training_rows)
    novelty = {"samples": int(len(overlap)), "max_overlap": round(float(overlap.max()), 4),
               "median_overlap": round(float(np.median(overlap)), 4), "over_90_percent": int((overlap > 0.9).sum())}
    base = {"resolution": {"steps_per_bar": steps_per_bar, "bars": cfg.n_bars, "pitches": cfg.n_pitches},
            "novelty": novelty}
    for name in ("validation", *ways):
        print(f"{name}: polyphonic rate over all families {pooled_polyphonic_rate(sets[name]):.3f}, "
              f"self-similarity (mean of a phrase's bar pairs) {measured[name]['bar_similarity']:.3f}")
    for name, x in ways.items():
        merged = merged_result(base, {"generated": x, "validation": validation}, cfg)
        misses = [c["target"] for c in merged["targets"]["checks"] if not c["met"]]
        print(f"{name}, merged into LPD-5: {merged['targets']['met']} of {merged['targets']['of']} targets "
              f"(missed: {', '.join(misses) or 'none'})")
        report["ways"][name] = {
            "families": measured[name], "pooled_polyphonic_rate": pooled_polyphonic_rate(x),
            "merged_targets": merged["targets"],
        }
    report["validation"] = {"families": measured["validation"],
                            "pooled_polyphonic_rate": pooled_polyphonic_rate(validation)}
    report["novelty"] = novelty
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
