"""Benchmark: the fuzzing suite run long. Hostile files of every kind (tests/fuzz_inputs.py),
and the issue's own cases, against the commands that read them.

    .venv/bin/python bench/fuzz_files.py [--examples 300] [--json fuzz.json]

Each kind of file is first read in this process, `--examples` of them, with what each read
allocates traced (tracemalloc sees NumPy's arrays too). The example of each kind that
allocated most then goes through the real command in a process of its own, as do the
issue's cases, and that process's peak memory is measured (wait4's ru_maxrss). Prints each
kind's outcomes and its worst case, then the worst peak of all and the worst of a refusal,
with their inputs' sizes.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import tempfile
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import fuzz_inputs as hostile  # noqa: E402 (tests/ is put on the path just above)
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, load_phrase_pack, save_phrase_pack  # noqa: E402
from bytes2beats.engine.generate import Composer  # noqa: E402
from bytes2beats.engine.model import ModelFileError  # noqa: E402
from bytes2beats.engine.model_store import shipped_models_dir  # noqa: E402
from bytes2beats.engine.music_io import MusicFileError, read_music  # noqa: E402

MODEL = shipped_models_dir() / "rock.safetensors"


def read_traced(call, trace: bool = True) -> tuple[str, int]:
    """("read" or "refused", the most memory the call had allocated at once, or 0 untraced).
    Anything but a refusal of one line propagates: the benchmark stops on a bug, as the
    tests do."""
    if trace:
        tracemalloc.start()
    try:
        try:
            call()
            outcome = "read"
        except (MusicFileError, ModelFileError, ValueError, FileNotFoundError) as error:
            assert "\n" not in str(error), str(error)
            outcome = "refused"
        return outcome, tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        tracemalloc.stop()


def fuzz_kind(strategy, suffix: str, read, examples: int, folder: Path, trace: bool = True) -> dict:
    """Outcomes of `examples` files drawn from `strategy`, and the one that allocated most
    (untraced: the largest file)."""
    outcomes, worst = collections.Counter(), {"traced": -1}
    path = folder / f"example{suffix}"

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=strategy)
    def run(data):
        path.write_bytes(data)
        outcome, peak = read_traced(lambda: read(path), trace)
        outcomes[outcome] += 1
        peak = peak if trace else len(data)
        if peak > worst["traced"]:
            worst.update(traced=peak, data=data)

    run()
    return {"outcomes": dict(outcomes), "traced": worst["traced"], "data": worst["data"]}


def command_for(kind: str, path: Path, out: Path) -> list[str]:
    """The real command that reads a file of this kind."""
    if kind == "pack":
        return ["train", "--data", str(path), "--out", str(out / "m.safetensors"), "--epochs", "1",
                "--steps-per-epoch", "1", "--device", "cpu"]
    if kind == "model":
        return ["generate", "--model", str(path), "--out", str(out / "x.mid"), "--device", "cpu"]
    return ["phrases", "--data", str(path.parent), "--out", str(out / "x.phrases.npz"),
            "--cache-dir", str(out / "cache")]


def measure(kind: str, name: str, data: bytes, work: Path) -> dict:
    """The real command on one file: exit status, its error line, peak MiB, the file's size."""
    folder = Path(tempfile.mkdtemp(dir=work))
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    path = folder / "in" / name
    path.write_bytes(data)
    code, stderr, peak_mb, seconds = hostile.run_measured(command_for(kind, path, folder / "out"))
    lines = [line for line in stderr.splitlines() if line.startswith("bytes2beats ")]
    assert "Traceback" not in stderr, stderr
    return {"kind": kind, "file": name, "bytes": len(data), "exit": code, "peak_mb": round(peak_mb),
            "seconds": seconds, "line": lines[-1][:160] if lines else ""}


def issue_cases() -> list[tuple[str, str, bytes]]:
    """The issue's files, as it measured them on the old main."""
    return [
        ("midi", "many-instruments.mid", hostile.many_instruments(2000)),  # 22 KB: 8.3 GB before
        ("midi", "program-changes.mid", hostile.program_changes(3_150_000)),  # 11 MB: 5.2 GB before
        ("midi", "controllers.mid", hostile.controller_events(1_200_000)),
        ("lpd", "bomb.npz", hostile.lpd_bomb(2**31)),  # 2 MB inflating to 2 GiB: 2.1 GB before
        ("pack", "bomb.phrases.npz", hostile.pack_bomb(2**31)),
        ("pack", "bomb-inconsistent.phrases.npz", hostile.pack_bomb(2**31, consistent=False)),  # 2.3 GB before
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=300, help="files drawn of each kind")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fuzz-files-"))
    pack = save_phrase_pack(*_pack(), work / "rock.phrases.npz")
    kinds = {
        "midi": (hostile.midi_files(), ".mid", lambda p: read_music(p, 4, track_set=5)),
        "absurd midi": (hostile.absurd_midi(), ".mid", lambda p: read_music(p, 4, track_set=5)),
        "lpd": (hostile.lpd_song_files(), ".npz", lambda p: read_music(p, 4, track_set=5)),
        "pack": (hostile.phrase_pack_files(pack), ".phrases.npz", load_phrase_pack),
        "model": (hostile.model_files(MODEL), ".safetensors", lambda p: Composer.load(p, "cpu")),
    }
    results, runs = {}, []
    for kind, (strategy, suffix, read) in kinds.items():
        trace = kind != "model"  # tracing slows building a network tenfold; its size is bounded by its rules
        found = fuzz_kind(strategy, suffix, read, args.examples, work, trace)
        results[kind] = {"examples": args.examples, "outcomes": found["outcomes"],
                         "traced_mb" if trace else "largest_file_bytes": round(found["traced"] / 2**20, 1) if trace
                         else found["traced"]}
        command_kind = kind.replace("absurd ", "")
        runs.append(measure(command_kind, f"worst-{command_kind}{suffix}", found["data"], work))
        print(f"{kind}: {results[kind]}; worst through the command: {runs[-1]}", flush=True)
    for kind, name, data in issue_cases():
        runs.append(measure(kind, name, data, work))
        print(f"issue case: {runs[-1]}", flush=True)
    shutil.rmtree(work)
    # A file that is read goes on through the command (a pack that loads trains a step): the
    # worst of all is that work's cost; the worst refusal is what a hostile file costs.
    worst = max(runs, key=lambda r: r["peak_mb"])
    worst_refused = max((r for r in runs if r["exit"] != 0), key=lambda r: r["peak_mb"])
    for what, run in (("worst peak", worst), ("worst peak of a refusal", worst_refused)):
        print(f"{what}: {run['peak_mb']} MiB (exit {run['exit']}), from a {run['bytes']:,}-byte {run['kind']} file "
              f"({run['file']}) {run['line'][:100]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"kinds": results, "runs": runs, "worst": worst,
                                               "worst_refused": worst_refused}, indent=2))


def _pack():
    """The fixtures' rock songs as phrases: the real pack the pack examples start from."""
    spec = PhraseSpec()
    return build_phrases(hostile.FIXTURES / "lpd" / "rock", spec, workers=1), spec


if __name__ == "__main__":
    main()
