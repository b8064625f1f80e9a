"""Benchmark: how long training takes to reach issue 3's targets, from a run's checkpoints.

    .venv/bin/python bench/targets_over_training.py --checkpoints MODEL-run/checkpoints
        --data ../shared/data/lpd [--genre rock] [--samples 1000] [--every 5] [--quantize 0-100]

(a run trained with `bytes2beats train --keep-checkpoints` keeps one checkpoint per epoch there)

Each checkpoint (`*.pt`, any epoch) becomes a generator with its threshold calibrated on the
training phrases, as `train` does at the end, and is measured with `eval`'s code against the
validation songs. Prints, per checkpoint: the epoch, the training time it took, the critic
steps, how many targets it meets, the figures furthest from their targets, the rhythm (share
of onsets off the grid and of one-step notes, per track) and the classifier two-sample test's
accuracy (generated against validation phrases, engine/two_sample.py) and the generator's
own (against the validation phrases decoded as the checkpoint decodes its notes); then the
first checkpoint that meets them all, if one does. Time is the run's own clock (its machine
and load: see the run's log), so compare runs made on the same machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
from bytes2beats.engine.binarize import HOLD_RATIO
from bytes2beats.engine.calibrate import calibrate_decoding, calibrate_threshold
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import evaluate, rhythm_cells
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import ModelConfig
from bytes2beats.engine.train import TrainConfig, generator_from_checkpoint, read_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", required=True, help="a folder of a run's checkpoints (*.pt)")
    parser.add_argument("--data", required=True)
    parser.add_argument("--genre", default=None)
    parser.add_argument("--samples", type=int, default=1000, help="generated phrases per checkpoint")
    parser.add_argument("--every", type=int, default=1, help="measure every Nth checkpoint")
    parser.add_argument("--json", help="write every checkpoint's result here")
    parser.add_argument("--hold-ratio", type=float, default=HOLD_RATIO,
                        help=f"decoding as `train` writes models ({HOLD_RATIO}); 1: one plain threshold")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decode at this threshold instead of calibrating one (0.5 with --hold-ratio 1: "
                             "the notes a critic with deterministic binary neurons was shown)")
    parser.add_argument("--decoding", choices=("fitted", "single"), default="fitted",
                        help="fitted: each track's threshold per genre and monophonic lines, as `train` writes "
                             "models (default); single: one threshold for every track (models before session 5)")
    parser.add_argument("--quantize", type=float, default=None, metavar="PERCENT",
                        help="quantize strength, 0-100 (default: the engine's, 100): 0 shows the network's own rhythm")
    args = parser.parse_args()
    strength = None if args.quantize is None else args.quantize / 100

    paths = sorted(Path(args.checkpoints).glob("*.pt"))[:: args.every]
    if not paths:
        print(f"no checkpoints (*.pt) in {args.checkpoints}", file=sys.stderr)
        return 1
    first = read_checkpoint(paths[0])
    cfg = ModelConfig.from_json(first["model_config"])
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())  # the cache `train` wrote
    # Calibrated on the training rows in place: a copy of them would be 3.2 GB at 48 steps a bar.
    training_rows = np.flatnonzero(~phrases.validation_songs[phrases.song])
    print(f"machine: {platform.machine()}, torch {torch.__version__}; hold ratio {args.hold_ratio}, threshold {args.threshold or 'calibrated'}, decoding {args.decoding}; model: {4 * cfg.steps_per_beat} steps a bar, "
          f"width {cfg.g_width}, attention {'on' if cfg.attention else 'off'}, genres {cfg.genres or 'none'}")
    print(f"quantize: {'the default' if strength is None else f'{args.quantize:g} %'}")
    print("| epoch | hours | critic steps | targets met | furthest misses | off-grid % D/P/G/B/S | one-step % P/G/B/S "
          "| classifier | the generator's own |")
    print("|---|---|---|---|---|---|---|---|---|")
    results, reached = [], None
    for path in paths:
        state = read_checkpoint(path)
        train_cfg = TrainConfig.from_json(state["train_config"])
        generator = generator_from_checkpoint(state)
        if args.decoding == "fitted":
            decoding = calibrate_decoding(generator, phrases, hold_ratio=args.hold_ratio, rows=training_rows)
        else:
            decoding = {"threshold": calibrate_threshold(generator, phrases, hold_ratio=args.hold_ratio, rows=training_rows),
                        "hold_ratio": args.hold_ratio}
        if args.threshold:
            decoding["threshold"] = args.threshold
        threshold = decoding["threshold"]
        composer = Composer(generator, decoding, path.stem)
        result = evaluate(composer, args.data, samples=args.samples, genre=args.genre, phrases=phrases,
                          novelty_samples=min(args.samples, 500), quantize_strength=strength)
        targets = result["targets"]
        misses = [c for c in targets["checks"] if not c["met"]]
        shown = ", ".join(f"{c['target']} {c['measured'] if c['measured'] is None else round(c['measured'], 2)}"
                          for c in misses[:4])
        epoch, hours = int(state["epoch"]), float(state.get("elapsed", 0.0)) / 3600
        off_grid, one_step = rhythm_cells(result["sets"]["generated"])
        # the issue's test, and like against like: the songs decoded as this checkpoint decodes
        accuracy, own = (result.get("classifier", {}).get(pair, {}).get("accuracy")
                         for pair in ("generated_vs_validation", "generated_vs_decoded_validation"))
        shown_accuracy = lambda a: "-" if a is None else f"{100 * a:.1f} %"  # noqa: E731
        print(f"| {epoch} | {hours:.2f} | {epoch * train_cfg.steps_per_epoch:,} | {targets['met']} of {targets['of']} "
              f"| {shown}{' ...' if len(misses) > 4 else ''} | {off_grid} | {one_step} "
              f"| {shown_accuracy(accuracy)} | {shown_accuracy(own)} |", flush=True)
        results.append({"checkpoint": str(path), "epoch": epoch, "hours": hours, "threshold": threshold, **result})
        if reached is None and targets["met"] == targets["of"]:
            reached = (epoch, hours)
    print(f"all targets first met at epoch {reached[0]} ({reached[1]:.2f} h)" if reached
          else "no checkpoint meets every target")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
