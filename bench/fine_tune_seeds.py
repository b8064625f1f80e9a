"""Benchmark (issue 18): the fine-tuned models of bench/fine_tune.py measured again on other
generated phrases (seeds 20,000 and 30,000; bench/fine_tune.py's own are 10,000 on), to see
how much a target count moves between sets of 300 phrases.

    .venv/bin/python bench/fine_tune_seeds.py [--out runs/fine-tune] [--json docs/fine-tune-jazz-seeds.json]

Run after `bench/fine_tune.py`, whose models and held-out folder it reads: the shipped model
and every run's model found in --out (`--runs` to name some).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bytes2beats.engine.evaluate import evaluate
from bytes2beats.engine.generate import Composer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from fine_tune import RUNS  # noqa: E402 - the bench beside this one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "fine-tune")
    parser.add_argument("--genre", default="jazz")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), help="the runs measured (default: all found)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[20_000, 30_000])
    parser.add_argument("--samples", type=int, default=300, help="generated phrases a set")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = args.out
    held = out / f"held-out-{args.genre}"
    res = {}
    found = [(name, str(out / f"{stem}.safetensors"), None if name == "from scratch" else args.genre if data == "known" else f"my-{args.genre}")
             for name, (stem, data, _) in RUNS.items()
             if (out / f"{stem}.safetensors").exists() and (args.runs is None or name in args.runs)]
    for name, model, genre in [("shipped", "genres", args.genre), *found]:
        composer = Composer.load(model, device="cpu")
        for seed in args.seeds:
            result = evaluate(composer, held, samples=args.samples, genre=genre, cache_dir=out / "cache", novelty_samples=0,
                              seed=seed)
            missed = [check["target"] for check in result["targets"]["checks"] if not check["met"]]
            classifier = result.get("classifier", {}).get("generated_vs_validation", {}).get("accuracy")
            res[f"{name}, seed {seed}"] = {"met": result["targets"]["met"], "missed": missed, "classifier": classifier}
            print(name, seed, res[f"{name}, seed {seed}"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
