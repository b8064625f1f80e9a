"""Benchmark (issue 18): a model of your own from 40 songs, fine-tuned from the shipped model
against trained from scratch, side by side.

    .venv/bin/python bench/fine_tune.py --lpd ../shared/data/lpd --genre jazz --songs 40 \
        --steps 150 --out runs/fine-tune [--samples 300] [--runs fine-tuned "from scratch"
        "fine-tuned, known genre"] [--json docs/fine-tune-jazz.json]

1. A user's folder: `--songs` songs of the genre (symlinks, in no genre folder, as a user's
   own are), taken from the shipped model's training share; held out: the genre's validation
   songs (engine/dataset.is_validation_song), which neither the shipped model nor these runs
   trained on.
2. Runs of `bytes2beats train` at once, one thread each, the same critic steps (`--steps`,
   but for the default runs, which take their own), as a user would type them:
   - the default (`--runs "the default" "the default, known genre"`): `train --data FOLDER
     --out MODEL`, which fine-tunes the shipped model (engine/train_run.py);
   - fine-tuned: `--warm-start checkpoints/genres-harmony.pt` (the shipped model's run) with
     that run's own settings (deterministic binary neurons, Adam 1.27e-4 / 2.53e-4); the
     folder becomes a genre of its own (engine/train_run.fine_tuning_genres);
   - from scratch: a new run's defaults at the shipped model's grid (12 steps a beat);
   - (`--runs "fine-tuned, known genre"`) the same songs in a folder named after the genre,
     so that fine-tuning adapts the genre's own rows.
3. Each model, and the shipped one (`--genre G`), measured against the held-out songs
   (`eval`'s targets and classifier test), and the copy check against the 40 songs.

The wall times are of this machine under whatever else it runs (printed with the results);
the two runs share it equally, so their ratio is the fair figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = ROOT / "checkpoints" / "genres-harmony.pt"  # the shipped genres (session 27; before: genres-bar-view.pt)


def folders(lpd: Path, genre: str, songs: int, out: Path) -> tuple[Path, Path]:
    """The user's folder (named "my-<genre>") and the held-out folder, as symlinks."""
    from bytes2beats.engine.dataset import find_music_files, is_validation_song

    files = sorted(find_music_files(lpd / genre))
    mine, held_out = out / f"my-{genre}", out / f"held-out-{genre}"
    for folder, chosen in ((mine, [f for f in files if not is_validation_song(f)][:songs]),
                           (held_out, [f for f in files if is_validation_song(f)])):
        folder.mkdir(parents=True, exist_ok=True)
        for song in chosen:
            link = folder / song.name
            if not link.exists():
                link.symlink_to(song.resolve())
    return mine, held_out


FINE_TUNE = ["--warm-start", str(SHIPPED_CHECKPOINT), "--binary-neurons", "deterministic", "--g-lr", "1.27e-4",
             "--d-lr", "2.53e-4"]  # the shipped run's own settings
DEFAULT = None  # `train --data FOLDER --out MODEL` and nothing else: its own epochs (engine/run_request.py)


def default_with(*flags: str) -> tuple[str, ...]:
    """The default run with these flags added (and no others: its own epochs and rates)."""
    return ("default", *flags)
RUNS = {  # name: (the model file's stem, the data folder: "mine" or "known", the flags)
    "fine-tuned": ("fine-tuned", "mine", FINE_TUNE),  # the folder a genre of its own
    "fine-tuned, known genre": ("fine-tuned-known", "known", FINE_TUNE),  # the folder named after the genre
    "from scratch": ("from-scratch", "mine", ["--from-scratch", "--steps-per-beat", "12"]),
    # the recipe docs/model.md arrived at: a quarter of the rates, the shipped decoding kept
    "fine-tuned, known genre, rates / 4, decoding kept": (
        "fine-tuned-kept", "known", [*FINE_TUNE[:4], "--g-lr", "3.2e-5", "--d-lr", "6.3e-5", "--decoding-from", "genres"]),
    # that recipe as the default: what a user gets who types `train --data my-jazz --out NAME`
    "the default": ("default", "mine", DEFAULT),
    "the default, known genre": ("default-known", "known", DEFAULT),
    "the default, --like GENRE": ("default-like", "mine", default_with("--like")),  # the genre appended below
    # what of the generator adapts (engine/train.py: ADAPTED)
    "the default, --adapt late": ("default-late", "mine", default_with("--adapt", "late")),
    "the default, --adapt style": ("default-style", "mine", default_with("--adapt", "style")),
    "the default, known genre, --adapt late": ("default-known-late", "known", default_with("--adapt", "late")),
    "the default, known genre, --adapt style": ("default-known-style", "known", default_with("--adapt", "style")),
}


def run_flags(name: str, common: list[str], genre: str) -> list[str]:
    """A run's own flags: the default's (with what it adds), or the shared ones and its own."""
    flags = RUNS[name][2]
    if flags is DEFAULT:
        return []
    if isinstance(flags, tuple):  # default_with(...)
        return [part for flag in flags[1:] for part in ((flag, genre) if flag == "--like" else (flag,))]
    return [*common, *flags]


def known_genre_folder(mine: Path, genre: str, out: Path) -> Path:
    """The same songs in a folder named after the genre, so that fine-tuning adapts its rows."""
    folder = out / "known" / genre
    folder.mkdir(parents=True, exist_ok=True)
    for song in mine.iterdir():
        if not (folder / song.name).exists():
            (folder / song.name).symlink_to(song.resolve())
    return folder


def train_runs(names: list[str], folders: dict, out: Path, steps: int, batch: int, genre: str) -> dict:
    """The runs side by side, one thread each; their commands, wall times and exit codes."""
    epochs, per_epoch = max(1, steps // 25), min(25, steps)
    common = ["--epochs", str(epochs), "--steps-per-epoch", str(per_epoch), "--batch-size", str(batch),
              "--sample-every", "1000", "--checkpoint-every", str(epochs)]
    runs = {name: ["--data", str(folders[RUNS[name][1]]), "--out", str(out / f"{RUNS[name][0]}.safetensors"),
                   "--cache-dir", str(out / "cache"), *run_flags(name, common, genre)]
            for name in names}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started, processes = time.monotonic(), {}
    for name, args in runs.items():
        log = open(out / f"{RUNS[name][0]}.log", "w")
        command = [sys.executable, "-m", "bytes2beats", "train", *args]
        processes[name] = (command, subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log)
    result = {}
    while len(result) < len(processes):  # each run's own end, not the later one's
        for name, (command, process, log) in processes.items():
            if name not in result and process.poll() is not None:
                log.close()
                result[name] = {"command": " ".join(command[2:]), "exit": process.returncode,
                                "seconds": round(time.monotonic() - started), "critic_steps": critic_steps(out, name)}
        time.sleep(0.5)
    return result


def critic_steps(out: Path, name: str) -> int | None:
    """The critic steps a run took: the lines of its log.jsonl (one a batch)."""
    log = out / f"{RUNS[name][0]}-run" / "log.jsonl"
    return sum(1 for line in log.open() if '"batch"' in line) if log.exists() else None


def measure(model: str, genre: str | None, held_out: Path, mine: Path, out: Path, samples: int) -> dict:
    from bytes2beats.engine.evaluate import copy_verdict, evaluate
    from bytes2beats.engine.generate import Composer

    composer = Composer.load(model, device="cpu")
    result = evaluate(composer, held_out, samples=samples, genre=genre, cache_dir=out / "cache", novelty_samples=0)
    copies = evaluate(composer, mine, samples=min(samples, 200), genre=genre, cache_dir=out / "cache",
                      classifier=False, novelty_samples=min(samples, 200))
    classifier = result.get("classifier", {})
    return {
        "targets_met": result["targets"]["met"], "targets": result["targets"]["of"],
        "missed": [c["target"] for c in result["targets"]["checks"] if not c["met"]],
        "classifier": {name: test.get("accuracy") for name, test in classifier.items()},
        "copying": copies["novelty"], "copy_verdict": copy_verdict(copies["novelty"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lpd", type=Path, default=ROOT.parent / "shared" / "data" / "lpd")
    parser.add_argument("--genre", default="jazz")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=150, help="critic steps of each run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=300, help="generated phrases measured per model")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "fine-tune")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=["fine-tuned", "from scratch"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    mine, held_out = folders(args.lpd, args.genre, args.songs, args.out)
    data = {"mine": mine, "known": known_genre_folder(mine, args.genre, args.out)}
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "genre": args.genre, "songs": len(list(mine.iterdir())), "held_out_songs": len(list(held_out.iterdir())),
              "runs": train_runs(args.runs, data, args.out, args.steps, args.batch_size, args.genre)}
    print(json.dumps(report["runs"], indent=1), flush=True)
    # the genre each model is asked for: the folder's own (its name), none for one from scratch
    genres = {name: None if name == "from scratch" else args.genre if RUNS[name][1] == "known" else mine.name
              for name in args.runs}
    models = {"shipped (genres)": ("genres", args.genre),
              **{name: (str(args.out / f"{RUNS[name][0]}.safetensors"), genres[name]) for name in args.runs}}
    report["models"] = {}
    for name, (model, genre) in models.items():
        if name in report["runs"] and report["runs"][name]["exit"] != 0:
            print(f"{name}: the run failed (its log: {args.out / RUNS[name][0]}.log)", flush=True)
            continue
        report["models"][name] = measure(model, genre, held_out, mine, args.out, args.samples)
        m = report["models"][name]
        print(f"{name}: {m['targets_met']} of {m['targets']} targets against the held-out songs; "
              f"classifier {m['classifier']}; {m['copy_verdict']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
