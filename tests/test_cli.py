"""The command line as a user meets it: output files, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from bytes2beats import __version__
from bytes2beats.engine.model import Generator, ModelConfig, save_model
from bytes2beats.engine.model_store import shipped_models_dir

FIXTURES = Path(__file__).parent / "fixtures"


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """The shipped default model when it is there; else a real (untrained) one of the same config."""
    shipped = shipped_models_dir() / "rock.safetensors"
    if shipped.exists():
        return shipped
    path = tmp_path_factory.mktemp("model") / "untrained.safetensors"
    return save_model(Generator(ModelConfig()), path, {"threshold": 0.5})


def test_version():
    run = run_cli("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"bytes2beats {__version__}"


def test_info_lists_device_and_models():
    run = run_cli("info")
    assert run.returncode == 0
    assert "device: CPU" in run.stdout or "device: CUDA" in run.stdout
    assert "models:" in run.stdout


def test_generate_writes_a_type1_file(tmp_path, model_path):
    out = tmp_path / "clip.mid"
    run = run_cli("generate", "--model", str(model_path), "--out", str(out), "--bars", "8", "--seed", "3",
                  "--bpm", "100", "--image", str(tmp_path / "clip.png"))
    assert run.returncode == 0, run.stderr
    midi = mido.MidiFile(out)
    assert midi.type == 1 and midi.ticks_per_beat == 480
    assert abs(midi.length - 8 * 4 * 60 / 100) < 60 / 100 * 4  # eight bars at 100 BPM, give or take the tail
    assert (tmp_path / "clip.png").stat().st_size > 0


def test_the_default_model_knows_six_genres_and_asks_for_rock(tmp_path):
    clips = {}
    for genre in (None, "rock", "jazz"):
        out = tmp_path / f"{genre}.mid"
        run = run_cli("generate", "--out", str(out), "--seed", "11", *(["--genre", genre] if genre else []))
        assert run.returncode == 0, run.stderr
        clips[genre] = out.read_bytes()
    assert clips[None] == clips["rock"] and clips["jazz"] != clips["rock"]
    run = run_cli("generate", "--out", str(tmp_path / "x.mid"), "--genre", "polka")
    assert run.returncode == 1 and "(genres: country, electronic, jazz, metal, pop, rock)" in run.stderr


def test_quantize_puts_the_notes_on_the_grid_and_zero_leaves_the_networks_timing(tmp_path):
    from bytes2beats.engine.metrics import off_grid_onsets
    from bytes2beats.engine.music_io import read_music

    def off_grid(*quantize: str) -> float:
        out = tmp_path / f"q{'-'.join(quantize)}.mid"
        run = run_cli("generate", "--out", str(out), "--seed", "3", "--bars", "8", "--feel", "0", *quantize)
        assert run.returncode == 0, run.stderr  # the 48-step model, its feel left out: the grid alone
        clip = read_music(out, steps_per_beat=12)
        return float(np.nan_to_num(off_grid_onsets(clip.rolls[None] > 0, 12)).max())

    assert off_grid() == 0 == off_grid("--quantize", "100")  # the default
    assert off_grid("--quantize", "0") > 5  # the network's own onsets stray off the grid


def test_feel_plays_the_notes_with_real_players_timing_and_zero_leaves_them_on_the_grid(tmp_path):
    from bytes2beats.engine.metrics import off_grid_onsets
    from bytes2beats.engine.music_io import read_music

    def clips(*feel: str) -> list:
        out = tmp_path / f"feel{'-'.join(feel)}"
        run = run_cli("generate", "--out", str(out), "--seed", "3", "--count", "6", *feel)
        assert run.returncode == 0, run.stderr
        return [read_music(path, steps_per_beat=12) for path in sorted(out.iterdir())]

    def off(clip) -> np.ndarray:  # per track, percent of its onsets off the grid
        return np.nan_to_num(off_grid_onsets(clip.rolls[None] > 0, 12))

    def notes(clip) -> int:
        return sum(len(clip.notes(i)) for i in range(len(clip.tracks)))

    played, gridded = clips(), clips("--feel", "0")  # the default is the songs' feel
    assert all(off(c).max() == 0 for c in gridded)
    assert any(off(c).max() > 0 for c in played)
    # the same notes, moved: a step early or late, none added or lost (two may join)
    assert all(abs(notes(a) - notes(b)) <= 0.02 * notes(b) for a, b in zip(played, gridded))
    assert clips("--feel", "100")[0].rolls.tobytes() == played[0].rolls.tobytes()


def test_generate_is_reproducible_and_count_writes_a_folder(tmp_path, model_path):
    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    for out in (a, b):
        assert run_cli("generate", "--model", str(model_path), "--out", str(out), "--seed", "5").returncode == 0
    assert a.read_bytes() == b.read_bytes()
    run = run_cli("generate", "--model", str(model_path), "--out", str(tmp_path / "many"), "--count", "3", "--seed", "5")
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "many").iterdir())
    assert names == [f"{model_path.stem}-seed{s}.mid" for s in (5, 6, 7)]
    assert (tmp_path / "many" / names[0]).read_bytes() == a.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["generate", "--out", "x.mid", "--model", "no-such-model"], "no model named 'no-such-model'"),
    (["generate", "--out", "x.mid", "--model", "/nowhere/m.safetensors"], "does not exist"),
    (["generate", "--out", "x.mid", "--threshold", "1.5"], "--threshold must be between 0 and 1"),
    (["generate", "--out", "x.mid", "--quantize", "120"], "--quantize must be between 0 and 100"),
    (["stream", "--bars", "1", "--quantize", "-5"], "--quantize must be between 0 and 100"),
    (["generate", "--out", "x.mid", "--feel", "120"], "--feel must be between 0 and 100"),
    (["stream", "--bars", "1", "--feel", "-1"], "--feel must be between 0 and 100"),
    (["generate", "--out", "/no/such/folder/x.mid"], "does not exist"),
    (["generate", "--out", "x.mid", "--genre", "polka"], "genre"),
    (["train", "--data", "/no/such/folder", "--out", "m.safetensors"], "no such folder"),
    (["train", "--data", str(FIXTURES / "bad"), "--out", "m.safetensors"], "no usable songs"),
    (["train", "--data", ".", "--out", "m.safetensors", "--resume", str(FIXTURES / "bad" / "empty.mid")], "not a readable checkpoint"),
    (["train", "--data", ".", "--out", "m.safetensors", "--device", "cuda"], None),
])
def test_errors_are_one_line_and_nonzero(args, message, model_path, tmp_path):
    if args[0] == "generate" and "--model" not in args:
        args = [*args, "--model", str(model_path)]
    if "--device" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is here")
        message = "no CUDA GPU"
    run = subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("bytes2beats ")]
    assert len(errors) == 1, run.stderr
    assert message in errors[0]
    assert "Traceback" not in run.stderr
