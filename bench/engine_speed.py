"""Benchmark: generation latency and throughput, and training speed, on this machine.

    .venv/bin/python bench/engine_speed.py [--model rock] [--device auto] [--repeats 20]

Prints medians (timings here are noisy: medians and ratios, never single runs) and the
machine. Generation: one 4-bar phrase at batch 1 (what the app waits for), and phrases per
second at batch 64. Training: samples per second per critic step (a critic step, plus a
generator step every n_critic), on random binary phrases of the data's density.
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch
from bytes2beats.engine.device import describe_device, pick_device
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import ModelConfig
from train_throughput import timed, training_speed  # bench/ is on the path when run as a script


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="rock")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train-batch", type=int, default=32)
    args = parser.parse_args()
    device = pick_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    composer = Composer.load(args.model, str(device))
    cfg = composer.config
    print(f"machine: {platform.processor() or platform.machine()}, {describe_device(device)}, torch {torch.__version__}")
    print(f"model: {composer.name} (tracks {cfg.n_tracks}, {cfg.n_steps} steps x {cfg.n_pitches} pitches, width {cfg.g_width})")

    one = [composer.new_idea(1)]
    batch = [composer.new_idea(k) for k in range(64)]
    t1 = timed(lambda: composer.probabilities(one), args.repeats, sync)
    t64 = timed(lambda: composer.probabilities(batch, batch_size=64), max(3, args.repeats // 4), sync)
    print(f"generate 1 phrase (batch 1): median {1000 * statistics.median(t1):.1f} ms")
    print(f"generate batch 64: median {1000 * statistics.median(t64):.0f} ms = {64 / statistics.median(t64):.0f} phrases/s")

    # The same measurement as bench/train_throughput.py, for this model's own shape.
    b = args.train_batch
    speed = training_speed(ModelConfig(**{**cfg.__dict__}), b, device, max(3, args.repeats // 2))
    print(f"train batch {b}: critic step {1000 * speed['critic_s']:.0f} ms, generator step "
          f"{1000 * speed['generator_s']:.0f} ms -> {speed['samples_per_s']:.0f} samples/s per critic step (n_critic 5)")

if __name__ == "__main__":
    main()
