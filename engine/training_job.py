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
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from .atomic import atomic_write
from .run_request import JOB_FILE, RunPaths, RunRequest


def _legacy_request(spec: dict) -> RunRequest:
    """The RunRequest of a job.json written before there was one (its "spec": the wizard's
    JobSpec, with `model` for `out` and the flags it did not name as raw `extra` flags)."""
    values = {k: v for k, v in spec.items() if k not in ("model", "extra")}
    values["out"] = spec.get("model", "")
    extra = list(spec.get("extra") or [])
    for flag, value in zip(extra[::2], extra[1::2]):
        values[flag.removeprefix("--").replace("-", "_")] = value
    return RunRequest.from_dict(values)


class TrainingJob:
    """One training run, found by its run folder; works whether or not we started the process."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self._request: RunRequest | None = None  # job.json's, read once: the pages poll paths

    # -- starting ------------------------------------------------------------------------

    @classmethod
    def start(cls, request: RunRequest, resume: bool = False) -> TrainingJob:
        """Start (or, with `resume`, continue from the checkpoint) a run in a new process."""
        paths = request.paths()
        job = cls(paths.folder)
        job.folder.mkdir(parents=True, exist_ok=True)
        asked = request
        if resume and paths.checkpoint.exists():  # the checkpoint knows how the run started (and its --like)
            asked = replace(request, resume=str(paths.checkpoint), fine_tune=None, from_scratch=False, like=None,
                            warm_start=None)
        args = [sys.executable, "-m", "bytes2beats", "train", *asked.argv()]
        output = open(paths.output, "ab")
        process = subprocess.Popen(
            args, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own session: closing the app does not end it
        )
        output.close()
        job._write({"request": request.to_dict(), "pid": process.pid, "started": time.time(), "state": "running"})
        job._process = process
        return job

    def rename(self, model: str | os.PathLike) -> TrainingJob:
        """Move a finished run's model and its run folder to the model path `model` (its
        default run folder beside it); the job, found again there. FileExistsError when
        either is taken."""
        request = self.request
        old_model = request.model_path()
        moved = replace(request, out=str(model), run_dir=None)
        new_paths = moved.paths()
        if new_paths.model == old_model:
            return self
        if new_paths.model.exists() or new_paths.folder.exists():
            raise FileExistsError(f"{new_paths.model.name} or {new_paths.folder.name} already exists")
        old_model.rename(new_paths.model)  # the model first: the picker sees it at once
        shutil.move(str(self.folder), str(new_paths.folder))
        job = TrainingJob(new_paths.folder)
        job._update(request=moved.to_dict())
        return job

    def resume(self) -> TrainingJob:
        """Start again from the last checkpoint, after a crash, a kill or a cancel."""
        return TrainingJob.start(self.request, resume=True)

    # -- what it is doing ----------------------------------------------------------------

    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.request.model_path(), self.folder)

    @property
    def checkpoint(self) -> Path:
        return self.paths.checkpoint

    @property
    def log_path(self) -> Path:
        return self.paths.log

    @property
    def request(self) -> RunRequest:
        """What the run was asked to do (a copy: a caller may change it to start another)."""
        if self._request is None:
            record = self._read()
            self._request = (RunRequest.from_dict(record["request"]) if "request" in record
                             else _legacy_request(record.get("spec") or {}))
        return replace(self._request)

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
        request = self.request
        # (a request that leaves the epochs to the run, as fine-tuning may: its model is written at its end)
        if request.model_path().exists() and self._finished_epochs() >= (request.epochs or 1):
            return "finished"
        return "cancelled" if recorded == "cancelled" else "stopped"

    def exit_message(self) -> str:
        """The last line the process wrote: its error, when it failed."""
        path = self.paths.output
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

    def last_record(self, tail_bytes: int = 8192) -> dict | None:
        """The log's last whole record (its epoch and step), read from the end: cheap enough
        to poll while a long run's log grows to megabytes."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - tail_bytes))
                lines = handle.read().split(b"\n")
        except OSError:
            return None
        for line in reversed(lines[:-1]):  # the last piece is a line being written, or nothing
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                return record
        return None

    def samples(self) -> list[Path]:
        return sorted(self.paths.samples.glob("epoch_*.png"))

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
        self._request = None
        atomic_write(self.folder / JOB_FILE, lambda handle: handle.write(json.dumps(data, indent=1).encode()))

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
