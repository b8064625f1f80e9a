"""A training run in a process of its own, which outlives the window that started it.

The wizard (and anything else) starts `bytes2beats train` as a separate process in its own
session, so closing the window does not stop it. The run folder is the whole interface:
`job.json` says what was asked and which process runs it, `log.jsonl` grows a line per batch,
`samples/` gets pictures, `checkpoint.pt` lets a crashed or killed run start again where it
was. Pause and resume stop and continue the process (POSIX signals); cancel ends it, keeping
the last checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

JOB_FILE = "job.json"


@dataclass
class JobSpec:
    """What to train: the `bytes2beats train` options, as plain values."""

    data: str
    model: str  # the .safetensors path to write
    tracks: int = 5
    epochs: int = 100
    batch_size: int = 64
    steps_per_beat: int = 4
    bars_per_phrase: int = 4
    width: int = 32
    n_critic: int = 5
    g_lr: float = 3e-4
    d_lr: float = 6e-4
    gp_lambda: float = 10.0
    transpose: int = 0
    device: str = "auto"
    steps_per_epoch: int = 0
    sample_every: int = 1
    checkpoint_every: int = 1
    extra: list[str] = field(default_factory=list)

    def arguments(self) -> list[str]:
        flags = {
            "--data": self.data, "--out": self.model, "--tracks": self.tracks, "--epochs": self.epochs,
            "--batch-size": self.batch_size, "--steps-per-beat": self.steps_per_beat,
            "--bars-per-phrase": self.bars_per_phrase, "--width": self.width, "--n-critic": self.n_critic,
            "--g-lr": self.g_lr, "--d-lr": self.d_lr, "--gp-lambda": self.gp_lambda,
            "--transpose": self.transpose, "--device": self.device, "--steps-per-epoch": self.steps_per_epoch,
            "--sample-every": self.sample_every, "--checkpoint-every": self.checkpoint_every,
        }
        return [part for flag, value in flags.items() for part in (flag, str(value))] + list(self.extra)

    def problem(self) -> str | None:
        """The first setting `bytes2beats train` would refuse, as one line naming its flag, or
        None: the command line's own check (engine/train.py: settings_problem). Imports torch."""
        from .model import ModelConfig
        from .train import TrainConfig, settings_problem

        model = ModelConfig(track_set=self.tracks, steps_per_beat=self.steps_per_beat, n_bars=self.bars_per_phrase,
                            g_width=self.width, d_width=self.width)
        train = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, n_critic=self.n_critic,
                            gp_lambda=self.gp_lambda, g_lr=self.g_lr, d_lr=self.d_lr, transpose=self.transpose,
                            steps_per_epoch=self.steps_per_epoch, sample_every=self.sample_every,
                            checkpoint_every=self.checkpoint_every)
        return settings_problem(model, train)

    @property
    def run_folder(self) -> Path:
        model = Path(self.model)
        return model.parent / f"{model.stem}-run"


class TrainingJob:
    """One training run, found by its run folder; works whether or not we started the process."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    # -- starting ------------------------------------------------------------------------

    @classmethod
    def start(cls, spec: JobSpec, resume: bool = False) -> TrainingJob:
        """Start (or, with `resume`, continue from the checkpoint) a run in a new process."""
        job = cls(spec.run_folder)
        job.folder.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "bytes2beats", "train", *spec.arguments(), "--run-dir", str(job.folder)]
        if resume and job.checkpoint.exists():
            args += ["--resume", str(job.checkpoint)]
        output = open(job.folder / "output.log", "ab")
        process = subprocess.Popen(
            args, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own session: closing the app does not end it
        )
        output.close()
        job._write({"spec": asdict(spec), "pid": process.pid, "started": time.time(), "state": "running"})
        job._process = process
        return job

    def resume(self) -> TrainingJob:
        """Start again from the last checkpoint, after a crash, a kill or a cancel."""
        return TrainingJob.start(self.spec, resume=True)

    # -- what it is doing ----------------------------------------------------------------

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint.pt"

    @property
    def log_path(self) -> Path:
        return self.folder / "log.jsonl"

    @property
    def spec(self) -> JobSpec:
        return JobSpec(**self._read()["spec"])

    @property
    def pid(self) -> int | None:
        return self._read().get("pid")

    def is_alive(self) -> bool:
        process = getattr(self, "_process", None)
        if process is not None:
            return process.poll() is None
        pid = self.pid
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return _is_our_training(pid)

    def state(self) -> str:
        """'running', 'paused', 'finished', 'cancelled', or 'stopped' (died: resume it)."""
        recorded = self._read().get("state", "stopped")
        if self.is_alive():
            return "paused" if recorded == "paused" else "running"
        if Path(self.spec.model).exists() and self._finished_epochs() >= self.spec.epochs:
            return "finished"
        return "cancelled" if recorded == "cancelled" else "stopped"

    def exit_message(self) -> str:
        """The last line the process wrote: its error, when it failed."""
        path = self.folder / "output.log"
        if not path.exists():
            return ""
        lines = [line.strip() for line in path.read_text(errors="replace").replace("\r", "\n").splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def read_log(self, start: int = 0) -> tuple[list[dict], int]:
        """Log records from byte offset `start`: (records, the offset to read from next)."""
        if not self.log_path.exists():
            return [], start
        with open(self.log_path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
        records = []
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line a full disk cut short, in a log from before RunLog mended them
                continue
            if isinstance(record, dict):
                records.append(record)
        return records, start + end

    def samples(self) -> list[Path]:
        return sorted((self.folder / "samples").glob("epoch_*.png"))

    def _finished_epochs(self) -> int:
        if not self.checkpoint.exists():
            return 0
        from .train import read_checkpoint

        try:
            return int(read_checkpoint(self.checkpoint)["epoch"])
        except ValueError:
            return 0

    # -- control -------------------------------------------------------------------------

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)
        self._update(state="paused")

    def unpause(self) -> None:
        self._signal(signal.SIGCONT)
        self._update(state="running")

    def cancel(self, wait: float = 10.0) -> None:
        """End the process; the last checkpoint stays, and `resume()` continues from it."""
        self._update(state="cancelled")
        self._signal(signal.SIGCONT)  # a paused process must run to hear the TERM
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + wait
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.is_alive():
            self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"training still running after {timeout} s")
            time.sleep(0.1)
        return self.state()

    def _signal(self, sig) -> None:
        pid = self.pid
        if pid and self.is_alive():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _read(self) -> dict:
        try:
            return json.loads((self.folder / JOB_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict) -> None:
        tmp = self.folder / f".{JOB_FILE}.part"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(self.folder / JOB_FILE)

    def _update(self, **changes) -> None:
        self._write({**self._read(), **changes})


def find_jobs(folder: str | os.PathLike) -> list[TrainingJob]:
    """Every run folder under `folder` (the user's models folder), newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    jobs = [TrainingJob(p.parent) for p in folder.glob(f"*-run/{JOB_FILE}")]
    return sorted(jobs, key=lambda j: j._read().get("started", 0), reverse=True)


def _is_our_training(pid: int) -> bool:
    """Guard against a reused pid: is it still a `bytes2beats train` process? (Linux; elsewhere trust it.)"""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return sys.platform != "linux"
    try:
        parts = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return b"bytes2beats" in b" ".join(parts) and b"train" in parts
