"""Training in its own process: pause, cancel, kill and resume; a disk that fills."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.model import ModelConfig
from bytes2beats.engine.run_request import RunRequest
from bytes2beats.engine.train import RunPaths, TrainConfig, Trainer, read_checkpoint
from bytes2beats.engine.training_job import TrainingJob, find_jobs

LPD_ROCK = Path(__file__).parent / "fixtures" / "lpd" / "rock"


def tiny_request(tmp_path: Path, epochs: int) -> RunRequest:
    return RunRequest(
        data=str(LPD_ROCK), out=str(tmp_path / "mine.safetensors"), epochs=epochs, batch_size=8,
        width=8, steps_per_epoch=2, device="cpu", cache_dir=str(tmp_path / "cache"), checkpoint_every=1,
        sample_every=1,
    )


def wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.1)


@pytest.mark.slow
def test_a_job_runs_apart_pauses_cancels_and_resumes_to_the_end(tmp_path):
    job = TrainingJob.start(tiny_request(tmp_path, epochs=400))
    wait_for(lambda: job.checkpoint.exists())
    assert job.state() == "running"
    job.pause()
    assert job.state() == "paused"
    _, size = job.read_log()
    time.sleep(1.0)
    assert job.read_log(size)[0] == []  # nothing moves while paused
    job.unpause()
    wait_for(lambda: job.read_log(size)[0])
    job.cancel()
    assert job.state() == "cancelled"
    done = read_checkpoint(job.checkpoint)["epoch"]
    assert 1 <= done < 400
    assert "resumes with --resume" in job.exit_message()

    # The same run continues, to a shorter end, from its checkpoint.
    request = job.request
    request.epochs = done + 1
    again = TrainingJob.start(request, resume=True)
    assert again.wait(timeout=300) == "finished", again.exit_message()
    assert read_checkpoint(again.checkpoint)["epoch"] == done + 1
    assert request.model_path().exists()
    assert [j.folder for j in find_jobs(tmp_path)] == [job.folder]


@pytest.mark.slow
def test_a_killed_job_is_resumed_from_its_last_checkpoint(tmp_path):
    job = TrainingJob.start(tiny_request(tmp_path, epochs=400))
    wait_for(lambda: job.checkpoint.exists())
    os.kill(job.pid, signal.SIGKILL)
    wait_for(lambda: not job.is_alive())
    assert job.state() == "stopped"
    before = read_checkpoint(job.checkpoint)["epoch"]
    resumed = job.resume()
    wait_for(lambda: read_checkpoint(resumed.checkpoint)["epoch"] > before)
    resumed.cancel()
    assert resumed.state() == "cancelled"


def test_a_disk_that_fills_during_a_checkpoint_keeps_the_previous_one(tmp_path):
    phrases = build_phrases(LPD_ROCK, PhraseSpec(), cache_dir=tmp_path / "cache", workers=1)
    disk = tmp_path / "disk"
    disk.mkdir()

    def trainer(folder):
        cfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=1, checkpoint_every=1, sample_every=100)
        return Trainer(ModelConfig(g_width=8, d_width=8), cfg, phrases, RunPaths.for_model(folder / "m.safetensors"),
                       torch.device("cpu"), log=lambda s: None)

    probe = trainer(tmp_path / "probe")
    probe.save_checkpoint()
    size = probe.paths.checkpoint.stat().st_size
    kib = (size * 3 // 2) // 1024 + 16  # room for one checkpoint, not for a second beside it
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        run = trainer(disk)
        run.save_checkpoint()
        first = run.paths.checkpoint.read_bytes()
        run.epoch = 1
        with pytest.raises(OSError, match="previous one is kept"):
            run.save_checkpoint()
        assert run.paths.checkpoint.read_bytes() == first
        assert read_checkpoint(run.paths.checkpoint)["epoch"] == 0
        assert [p.name for p in run.paths.folder.iterdir()] == ["checkpoint.pt"]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
