"""Benchmark: WGAN-GP training throughput across the model's shapes, on this machine.

    .venv/bin/python bench/train_throughput.py [--device auto] [--batch 32] [--repeats 10]
        [--threads N] [--width 32]

Samples per second per critic step (a critic step on real, fake and interpolates, plus a
generator step every n_critic = 5), for 16 and 48 steps a bar (48 with both kinds of time
layers: per-beat, and staged as the shipped `genres` model has them), with and without
self-attention, with genre conditioning (6 genres) as the genre model trains. Random binary
phrases of the data's density stand in for real ones: the cost does not depend on the notes.
Prints medians and each shape's cost relative to the shipped model's shape (16 steps a bar,
attention on); timings here are noisy, so read the ratios. The last column is what one
working session (2.5 hours of training) buys at that speed, in critic steps.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from bytes2beats.engine.device import describe_device, pick_device
from bytes2beats.engine.model import Critic, Generator, ModelConfig
from bytes2beats.engine.train import critic_loss

GENRES = ["country", "electronic", "jazz", "metal", "pop", "rock"]
SESSION_SECONDS = 2.5 * 3600


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


def step_functions(g, d, opt_g, opt_d, real: torch.Tensor, genre) -> tuple:
    """(critic_step, generator_step): one WGAN-GP step of each on `real`, as the Trainer
    takes them (the critic on real, fake and interpolates in one pass)."""
    cfg, batch, device = g.cfg, real.shape[0], real.device

    def noise():
        return torch.randn(batch, cfg.z_shared, device=device), torch.randn(batch, cfg.n_tracks, cfg.z_track, device=device)

    def critic_step():
        with torch.no_grad():
            fake = g(*noise(), genre)
        loss = critic_loss(d, real, fake, genre)["loss"]
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()

    def generator_step():
        loss = -d(g(*noise(), genre), genre).mean()
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    return critic_step, generator_step


def training_speed(cfg: ModelConfig, batch: int, device, repeats: int, n_critic: int = 5) -> dict:
    """Median critic and generator step times (s), and samples/s per critic step."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    g, d = Generator(cfg).to(device), Critic(cfg).to(device)
    opt_d = torch.optim.Adam(d.parameters(), 6e-4, (0.5, 0.9))
    opt_g = torch.optim.Adam(g.parameters(), 3e-4, (0.5, 0.9))
    real = (torch.rand(batch, cfg.n_tracks, cfg.n_steps, cfg.n_pitches, device=device) < 0.018).float()
    genre = torch.randint(len(cfg.genres), (batch,), device=device) if cfg.genres else None

    critic_step, generator_step = step_functions(g, d, opt_g, opt_d, real, genre)
    critic = statistics.median(timed(critic_step, repeats, sync))
    generator = statistics.median(timed(generator_step, max(3, repeats // 2), sync))
    per_critic_step = critic + generator / n_critic
    return {"critic_s": critic, "generator_s": generator, "samples_per_s": batch / per_critic_step,
            "per_critic_step_s": per_critic_step}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--width", type=int, default=32)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {describe_device(device)}, torch {torch.__version__}")
    print(f"batch {args.batch}, width {args.width}, 5 tracks, 4 bars, 84 pitches, genres: {len(GENRES)}\n")
    print("| steps a bar | time layers | attention | critic step | generator step | samples/s per critic step "
          "| cost vs 16/on | critic steps in 2.5 h |")
    print("|---|---|---|---|---|---|---|---|")
    base = None
    for steps_per_beat, time_layers in ((4, "per-beat"), (12, "per-beat"), (12, "staged")):
        for attention in (True, False):
            cfg = ModelConfig(steps_per_beat=steps_per_beat, g_width=args.width, d_width=args.width,
                              attention=attention, genres=GENRES, time_layers=time_layers)
            speed = training_speed(cfg, args.batch, device, args.repeats)
            base = base or speed["per_critic_step_s"]
            print(f"| {4 * steps_per_beat} | {time_layers} | {'on' if attention else 'off'} | {1000 * speed['critic_s']:.0f} ms "
                  f"| {1000 * speed['generator_s']:.0f} ms | {speed['samples_per_s']:.0f} "
                  f"| {speed['per_critic_step_s'] / base:.2f}x | {SESSION_SECONDS / speed['per_critic_step_s']:,.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
