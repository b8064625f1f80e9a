"""Benchmark (issue 18): does `torch.compile` make this machine's engine faster? And the
training speed of the shipped configuration, measured two ways, to reconcile the figures.

    .venv/bin/python bench/compiled_engine.py [--model genres] [--device auto] [--threads 1]
        [--repeats 20] [--json docs/compiled-engine-cpu.json]

On the shipped model's own configuration (its critic views, genres, 48 steps a bar):
1. Generation, eager against `torch.compile(generator)` (inductor): one 4-bar phrase at
   batch 1, and batch 64; the compile's own time (the first call) apart.
2. Training: a critic step (real, fake and interpolates in one pass, the gradient penalty's
   double backward) and a generator step, eager against compiled networks. A step that
   torch cannot compile is reported with torch's reason, not hidden (the critic step twice:
   as it is, and with donated buffers off, as torch's first message suggests).
3. Samples per second per critic step at batch 64 through the real `Trainer` (real phrases
   of 20 songs of `--data`, binary neurons as the shipped run trained) beside the same through
   bench/train_throughput.py's bare loop, to say where the figures differ.

Medians of `--repeats` calls; timings here are noisy: read the ratios, each pair measured
side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, find_music_files
from bytes2beats.engine.device import describe_device, pick_device
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import Critic, load_critic_weights
from bytes2beats.engine.model_store import resolve_model
from bytes2beats.engine.run_request import RunPaths
from bytes2beats.engine.train import TrainConfig, Trainer
from train_throughput import (  # bench/ is on the path when run as a script
    step_functions,
    timed,
    training_speed,
)

ROOT = Path(__file__).resolve().parents[1]


def median_ms(fn, repeats: int, sync) -> float:
    return round(1000 * statistics.median(timed(fn, repeats, sync)), 2)


def first_call_s(fn, sync) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return round(time.perf_counter() - start, 1)


def generation(composer: Composer, device, repeats: int, sync) -> dict:
    g, cfg = composer.generator, composer.config
    compiled = torch.compile(g)
    result = {}
    for batch, n in ((1, repeats), (64, max(3, repeats // 4))):
        z = (torch.randn(batch, cfg.z_shared, device=device), torch.randn(batch, cfg.n_tracks, cfg.z_track, device=device))
        genre = torch.zeros(batch, dtype=torch.long, device=device) if cfg.genres else None
        with torch.inference_mode():
            eager = median_ms(lambda z=z, genre=genre: g(*z, genre), n, sync)
            try:
                compile_s = first_call_s(lambda z=z, genre=genre: compiled(*z, genre), sync)
                fast = median_ms(lambda z=z, genre=genre: compiled(*z, genre), n, sync)
            except Exception as error:  # noqa: BLE001 - torch's own reason is the finding
                result[f"batch {batch}"] = {"eager_ms": eager, "compiled": f"failed: {str(error)[:200]}"}
                continue
        result[f"batch {batch}"] = {"eager_ms": eager, "compiled_ms": fast, "first_compiled_call_s": compile_s,
                                    "eager_over_compiled": round(eager / fast, 2)}
        print(f"generate batch {batch}: eager {eager} ms, compiled {fast} ms ({eager / fast:.2f}x; "
              f"the first compiled call {compile_s} s)", flush=True)
    return result


def training_steps(composer: Composer, model: Path, device, repeats: int, sync, batch: int = 64) -> dict:
    cfg = composer.config
    g = composer.generator.train()
    d = Critic(cfg).to(device)
    d.load_state_dict(load_critic_weights(model))
    real = (torch.rand(batch, cfg.n_tracks, cfg.n_steps, cfg.n_pitches, device=device) < 0.018).float()
    genre = torch.zeros(batch, dtype=torch.long, device=device) if cfg.genres else None
    opt_d = torch.optim.Adam(d.parameters(), 6e-5, (0.5, 0.9))
    opt_g = torch.optim.Adam(g.parameters(), 3e-5, (0.5, 0.9))

    def steps(gen, critic):
        return step_functions(gen, critic, opt_g, opt_d, real, genre)

    result = {}
    eager_critic, eager_generator = steps(g, d)
    result["eager"] = {"critic_step_ms": median_ms(eager_critic, repeats, sync),
                       "generator_step_ms": median_ms(eager_generator, max(3, repeats // 2), sync)}
    print(f"train batch {batch}, eager: {result['eager']}", flush=True)
    compiled_critic, compiled_generator = steps(torch.compile(g), torch.compile(d))
    result["compiled"] = {}

    def critic_step_without_donated_buffers():
        # torch's own suggestion for the first failure: the gradient penalty's backward of a
        # backward (create_graph=True) cannot reuse the forward's buffers
        import torch._functorch.config

        torch._functorch.config.donated_buffer = False
        critic_again = Critic(cfg).to(device)
        critic_again.load_state_dict(d.state_dict())
        steps(g, torch.compile(critic_again))[0]()
    for name, fn, n in (("generator_step", compiled_generator, max(3, repeats // 2)),
                        ("critic_step", compiled_critic, repeats),
                        ("critic_step_without_donated_buffers", critic_step_without_donated_buffers, 1)):
        try:
            first = first_call_s(fn, sync)
            result["compiled"][f"{name}_ms"] = median_ms(fn, n, sync)
            result["compiled"][f"{name}_first_call_s"] = first
            result["compiled"][f"{name}_eager_over_compiled"] = round(
                result["eager"][f"{name}_ms"] / result["compiled"][f"{name}_ms"], 2)
        except Exception as error:  # noqa: BLE001 - torch's own reason is the finding
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            result["compiled"][name] = f"failed: {type(error).__name__}: {reason}"
        print(f"train batch {batch}, compiled {name}: "
              f"{ {k: v for k, v in result['compiled'].items() if k.startswith(name)} }", flush=True)
    return result


def trainer_speed(composer: Composer, model: Path, data: Path, device, batch: int = 64, batches: int = 10) -> dict:
    """Samples/s per critic step through the real Trainer on real phrases (20 songs of
    `data`, at the model's grid), after one warm-up epoch."""
    cfg = composer.config
    with tempfile.TemporaryDirectory() as folder:
        songs = Path(folder) / "songs"
        songs.mkdir()
        for song in sorted(find_music_files(data))[:20]:
            (songs / song.name).symlink_to(song.resolve())
        spec = PhraseSpec.of_model(cfg)
        phrases = build_phrases(songs, spec, cache_dir=Path(folder) / "cache")
        trained = composer.meta.get("trained", {}).get("train_config", {})
        train_cfg = TrainConfig(epochs=2, batch_size=batch, steps_per_epoch=batches, sample_every=1000,
                                checkpoint_every=1000, binary_neurons=trained.get("binary_neurons", "none"))
        trainer = Trainer(cfg, train_cfg, phrases, RunPaths.for_model(Path(folder) / "m.safetensors"), device,
                          lambda text: None)
        trainer.warm_start(model)
        trainer.run_epoch()  # warm-up
        start = time.perf_counter()
        trainer.run_epoch()
        seconds = time.perf_counter() - start
        steps = trainer.steps_per_epoch()
    return {"batch": batch, "critic_steps": steps, "phrases": len(phrases), "seconds": round(seconds, 2),
            "samples_per_s": round(steps * batch / seconds, 1),
            "binary_neurons": train_cfg.binary_neurons}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genres")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "lpd" / "rock",
                        help="songs for the Trainer's real phrases (the first 20)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    model = resolve_model(args.model)
    composer = Composer.load(model, str(device))
    report = {"machine": f"{platform.processor() or platform.machine()}, {describe_device(device)}, "
                         f"torch {torch.__version__}", "model": model.stem, "threads": torch.get_num_threads()}
    print(report, flush=True)
    report["generation"] = generation(composer, device, args.repeats, sync)
    report["training_steps"] = training_steps(composer, model, device, max(5, args.repeats // 2), sync)
    bare = training_speed(composer.config, 64, device, max(5, args.repeats // 2))
    report["bare_loop_batch_64"] = {"samples_per_s": round(bare["samples_per_s"], 1),
                                    "critic_step_ms": round(1000 * bare["critic_s"]),
                                    "generator_step_ms": round(1000 * bare["generator_s"])}
    print(f"bench/train_throughput.py's loop, batch 64: {report['bare_loop_batch_64']}", flush=True)
    report["trainer_batch_64"] = trainer_speed(composer, model, args.data, device)
    print(f"Trainer, batch 64: {report['trainer_batch_64']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
