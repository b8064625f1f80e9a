"""Benchmark: one model's weights decoded three ways, to see what each part of the fitted decoding does.

    .venv/bin/python bench/decoding_ablation.py [--model genres] [--genre rock] [--samples 5000]
        [--data ../shared/data/lpd] [--json OUT]

The ways: one threshold for every track (the model's own, fitted to all tracks together);
each track's threshold per genre but bass left as decoded; and the model's full decoding
(per-track thresholds, and lines for the tracks the data plays one note at a time). Each is
measured with `eval`'s code against the validation songs; prints the targets met and missed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import evaluate
from bytes2beats.engine.generate import Composer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--novelty-samples", type=int, default=1000)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    composer = Composer.load(args.model, "cpu")
    if "track_scales" not in composer.meta:
        print(f"{args.model}: no fitted decoding (run `bytes2beats calibrate` on it first)", file=sys.stderr)
        return 1
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    fitted = dict(composer.meta)
    ways = {
        f"one threshold ({fitted['threshold']})": {k: v for k, v in fitted.items() if k not in ("track_scales", "monophonic")},
        "per-track thresholds, no lines": {**fitted, "monophonic": []},
        "fitted: per-track thresholds and lines": fitted,
    }
    print(f"{composer.name}, genre {args.genre}, {args.samples} generated phrases")
    results = {}
    for name, meta in ways.items():
        composer.meta = meta
        result = evaluate(composer, args.data, samples=args.samples, genre=args.genre, phrases=phrases,
                          novelty_samples=args.novelty_samples)
        checks = result["targets"]["checks"]
        misses = ", ".join(f"{c['target']} {c['measured']:.3g}" for c in checks if not c["met"])
        print(f"| {name} | {result['targets']['met']} of {result['targets']['of']} | {misses or 'none'} |", flush=True)
        results[name] = result
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
