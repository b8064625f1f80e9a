"""Benchmark (issue 18): the fine-tuned models of bench/fine_tune.py measured again on other
generated phrases (seeds 20,000 and 30,000; bench/fine_tune.py's own are 10,000 on), to see
how much a target count moves between sets of 300 phrases.

    .venv/bin/python bench/fine_tune_seeds.py [--out runs/fine-tune] [--json docs/fine-tune-jazz-seeds.json]

Run after `bench/fine_tune.py --runs "the default" "the default, known genre"
"the default, --like GENRE"`, whose models and held-out folder it reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bytes2beats.engine.evaluate import evaluate
from bytes2beats.engine.generate import Composer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "fine-tune")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = args.out
    held = out / "held-out-jazz"
    res = {}
    for name, model, genre in [("shipped", "genres", "jazz"), ("the default", str(out / "default.safetensors"), "my-jazz"),
                               ("the default, --like jazz", str(out / "default-like.safetensors"), "my-jazz"),
                               ("the default, known genre", str(out / "default-known.safetensors"), "jazz")]:
        composer = Composer.load(model, device="cpu")
        for seed in (20_000, 30_000):
            result = evaluate(composer, held, samples=300, genre=genre, cache_dir=out / "cache", novelty_samples=0,
                              seed=seed)
            missed = [check["target"] for check in result["targets"]["checks"] if not check["met"]]
            classifier = result.get("classifier", {}).get("generated_vs_validation", {}).get("accuracy")
            res[f"{name}, seed {seed}"] = {"met": result["targets"]["met"], "missed": missed, "classifier": classifier}
            print(name, seed, res[f"{name}, seed {seed}"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
