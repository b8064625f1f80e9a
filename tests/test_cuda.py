"""The model on a CUDA GPU (issue 18): generation, the device the app and the command line
choose and show, and a fine-tune, where torch sees a GPU. Skipped, and said so, where it sees
none (CI's machines have none; a session lent a GPU runs this file there)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.device import describe_device, pick_device
from bytes2beats.engine.generate import Composer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU here (torch sees none): the CUDA path runs where there is one")

LPD = Path(__file__).parent / "fixtures" / "lpd"
CUDA = "cuda"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True, timeout=600)


def test_auto_takes_the_gpu_and_names_it():
    device = pick_device("auto")
    assert device.type == CUDA
    assert describe_device(device).startswith("CUDA: ")
    info = _cli("info")
    assert info.returncode == 0 and "device: CUDA: " in info.stdout


def test_a_clip_made_on_the_gpu_is_the_one_made_on_the_cpu():
    cpu, gpu = Composer.load("genres", "cpu"), Composer.load("genres", CUDA)
    assert gpu.device.type == CUDA
    ideas = [cpu.new_idea(seed, genre="rock") for seed in range(16)]
    low, n = cpu.config.lowest_pitch, cpu.config.n_pitches
    agree = cells = 0
    for idea, on_cpu, on_gpu in zip(ideas, cpu.probabilities(ideas), gpu.probabilities(ideas)):
        # cuDNN may take TF32 for the convolutions: close, not equal to the last bit
        assert np.abs(on_cpu - on_gpu).max() < 0.02
        a = cpu.decode(on_cpu[:, :, low : low + n], genre="rock", manners=idea.manners)
        b = gpu.decode(on_gpu[:, :, low : low + n], genre="rock", manners=idea.manners)
        agree, cells = agree + int((a == b).sum()), cells + a.size
    assert agree / cells > 0.999  # a note a hair from its threshold may fall the other way


def test_a_batch_of_phrases_on_the_gpu():
    gpu = Composer.load("genres", CUDA)
    ideas = [gpu.new_idea(seed, genre="jazz") for seed in range(256)]
    probabilities = gpu.probabilities(ideas, batch_size=256)
    assert len(probabilities) == 256 and all(np.isfinite(p).all() for p in probabilities)
    assert len({p.tobytes() for p in probabilities[:8]}) == 8  # each seed its own phrase


def test_fine_tuning_on_the_gpu(tmp_path):
    folder = tmp_path / "my-songs"
    folder.mkdir()
    for song in sorted((LPD / "rock").glob("*.npz")):
        shutil.copy(song, folder)
    model = tmp_path / "mine.safetensors"
    run = _cli("train", "--data", str(folder), "--out", str(model), "--epochs", "1", "--batch-size", "8",
               "--steps-per-epoch", "2", "--n-critic", "2", "--device", CUDA, "--cache-dir", str(tmp_path / "cache"))
    assert run.returncode == 0, run.stderr[-1500:]
    assert "CUDA: " in run.stderr  # the run says where it trains
    mine = Composer.load(model, "cpu")  # the file is the device's own no longer: it plays anywhere
    low, n = mine.config.lowest_pitch, mine.config.n_pitches
    notes = mine.decode(mine.probabilities([mine.new_idea(1)])[0][:, :, low : low + n])
    assert notes.any()
