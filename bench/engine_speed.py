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
import time

import torch
from bytes2beats.engine.device import describe_device, pick_device
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import Critic, Generator, ModelConfig
from bytes2beats.engine.train import critic_loss


def timed(fn, repeats: int, sync) -> list[float]:
    fn()  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


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

    train_cfg = ModelConfig(**{**cfg.__dict__})
    g, d = Generator(train_cfg).to(device), Critic(train_cfg).to(device)
    opt_d = torch.optim.Adam(d.parameters(), 6e-4, (0.5, 0.9))
    opt_g = torch.optim.Adam(g.parameters(), 3e-4, (0.5, 0.9))
    b = args.train_batch
    real = (torch.rand(b, cfg.n_tracks, cfg.n_steps, cfg.n_pitches, device=device) < 0.018).float()

    def noise():
        return torch.randn(b, cfg.z_shared, device=device), torch.randn(b, cfg.n_tracks, cfg.z_track, device=device)

    def critic_step():
        with torch.no_grad():
            fake = g(*noise())
        loss = critic_loss(d, real, fake)["loss"]
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

    def generator_step():
        loss = -d(g(*noise())).mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    tc = timed(critic_step, max(3, args.repeats // 2), sync)
    tg = timed(generator_step, max(3, args.repeats // 4), sync)
    per_critic_step = statistics.median(tc) + statistics.median(tg) / 5
    print(f"train batch {b}: critic step {1000 * statistics.median(tc):.0f} ms, generator step "
          f"{1000 * statistics.median(tg):.0f} ms -> {b / per_critic_step:.0f} samples/s per critic step (n_critic 5)")


if __name__ == "__main__":
    main()
