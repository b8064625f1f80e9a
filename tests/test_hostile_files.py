"""Bad checkpoints and model files, made from real ones: each is one line naming the file and
what is wrong, exit status 1, never a traceback, and nothing in them is ever run.

The commands run in this process (`bytes2beats.cli.main`) to keep the many cases fast: an
exception that escaped would fail the test, as a traceback would in a terminal. Two cases
run as real processes, for what only a real process shows (warnings, peak memory).
"""

from __future__ import annotations

import collections
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.cli import main
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.feel import pack_feels
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import ModelConfig, ModelFileError, load_model
from bytes2beats.engine.model_store import shipped_models_dir
from bytes2beats.engine.train import RunPaths, TrainConfig, Trainer, read_checkpoint
from safetensors import safe_open
from safetensors.torch import save_file

ROCK = Path(__file__).parent / "fixtures" / "lpd" / "rock"
SHIPPED = shipped_models_dir() / "genres.safetensors"


def one_line_error(capsys, argv: list[str], command: str) -> str:
    """Run a command here; assert exit 1 and a single line of error; return that line."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"bytes2beats {command}: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# ---------------------------------------------------------------------------------------
# Checkpoints


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """A real one-epoch run on real songs: its checkpoint and its data's cache."""
    folder = tmp_path_factory.mktemp("run")
    phrases = build_phrases(ROCK, PhraseSpec(), cache_dir=folder / "cache", workers=1)
    cfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2, n_critic=2, sample_every=100)
    trainer = Trainer(ModelConfig(g_width=8, d_width=8), cfg, phrases, RunPaths.for_model(folder / "m.safetensors"),
                      torch.device("cpu"), log=lambda s: None)
    assert trainer.fit(show_progress=False)
    return trainer.paths.checkpoint, folder / "cache"


class Evil:
    """A pickle that would touch a file if it were ever unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _state(checkpoint: Path) -> dict:
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def _without(key):
    def change(state):
        del state[key]
    return change


def _set(key, value):
    def change(state):
        state[key] = value
    return change


def _config(key, **changes):
    def change(state):
        state[key] = json.dumps({**json.loads(state[key]), **changes})
    return change


def _weight(change_tensor, net="generator"):
    """The first weight matrix of `net` changed (None: taken out)."""
    def change(state):
        name = sorted(k for k, t in state[net].items() if t.is_floating_point() and t.dim() > 1)[0]
        changed = change_tensor(state[net][name])
        if changed is None:
            del state[net][name]
        else:
            state[net][name] = changed
    return change


def _adam_moment(state):
    moments = next(iter(state["opt_g"]["state"].values()))
    moments["exp_avg"] = torch.zeros(3)


CHECKPOINT_CASES = [
    # (what, how the real checkpoint is changed, what the line says)
    ("no generator", _without("generator"), "a damaged checkpoint: it has no generator"),
    ("no opt_g", _without("opt_g"), "a damaged checkpoint: it has no opt_g"),
    ("model_config not JSON", _set("model_config", "{g_width: 8"), "its model_config cannot be read (the config is not JSON"),
    ("model_config a list", _set("model_config", "[8, 8]"), "its model_config cannot be read (the config is a JSON list"),
    ("train_config not JSON", _set("train_config", "]"), "its train_config cannot be read"),
    ("width 2500", _config("model_config", g_width=2500), "its model_config cannot train: g_width must be from 1 to 512, not 2500"),
    ("n_bars 10**6", _config("model_config", n_bars=10**6), "n_bars must be from 1 to 32, not 1000000"),
    ("batch size 0", _config("train_config", batch_size=0), "its train_config cannot train: batch_size must be from 1 to 4096"),
    ("NaN learning rate", _config("train_config", g_lr=float("nan")), "g_lr must be a finite number, not nan"),
    ("epoch as text", _set("epoch", "one"), "its epoch is a str"),
    ("a weight of another shape", _weight(lambda t: t[:1]), "is not of the shape its model config makes"),
    ("a NaN weight", _weight(lambda t: t * float("nan"), "critic"), "holds NaN or infinite numbers"),
    ("a weight missing", _weight(lambda t: None), "a damaged checkpoint: its generator weight"),
]
# What a resumed run reads beside the weights (a warm start takes the weights alone).
RESUME_CASES = [
    ("scheduler of another kind", _set("sched_g", {"step_size": "often"}), "a damaged checkpoint (its sched_g has other entries"),
    ("Adam moment of another shape", _adam_moment, "a damaged checkpoint (its opt_g state exp_avg does not fit"),
    ("a random state of another size", _set("rng_cpu", torch.zeros(3, dtype=torch.uint8)), "a damaged checkpoint ("),
]


@pytest.mark.parametrize("flag, what, change, message", [
    pytest.param(flag, *case, id=f"{flag[2:]}: {case[0]}")
    for flag, cases in (("--resume", CHECKPOINT_CASES + RESUME_CASES), ("--warm-start", CHECKPOINT_CASES))
    for case in cases
])
def test_a_bad_checkpoint_is_one_line_naming_it(real_run, tmp_path, capsys, flag, what, change, message):
    checkpoint, cache = real_run
    state = _state(checkpoint)
    change(state)
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    line = one_line_error(capsys, ["train", "--data", str(ROCK), "--out", str(tmp_path / "m.safetensors"),
                                   flag, str(bad), "--cache-dir", str(cache), "--device", "cpu"], "train")
    assert line.startswith(f"bytes2beats train: {bad}: ") and message in line, line
    assert not (tmp_path / "m.safetensors").exists() and not (tmp_path / "m-run" / "checkpoint.pt").exists()


@pytest.mark.parametrize("flag", ["--resume", "--warm-start"])
@pytest.mark.parametrize("how", ["pickle.dumps", "torch.save"])
def test_a_pickle_is_never_unpickled(tmp_path, capsys, flag, how):
    marker = tmp_path / "it-ran"
    bad = tmp_path / "evil.pt"
    if how == "pickle.dumps":
        bad.write_bytes(pickle.dumps({"format": "bytes2beats-train-1", "generator": Evil(marker)}))
    else:
        torch.save({"format": "bytes2beats-train-1", "generator": Evil(marker)}, bad)
    line = one_line_error(capsys, ["train", "--data", str(ROCK), "--out", str(tmp_path / "m.safetensors"), flag, str(bad)],
                          "train")
    assert not marker.exists()
    assert f"{bad}: not a Bytes to Beats checkpoint" in line and "never unpickles code" in line
    assert "weights_only" not in line


def test_a_pickle_of_plain_objects_is_not_a_checkpoint_either(tmp_path, capsys):
    bad = tmp_path / "counter.pt"
    bad.write_bytes(pickle.dumps(collections.Counter("bytes to beats")))
    line = one_line_error(capsys, ["train", "--data", str(ROCK), "--out", str(tmp_path / "m.safetensors"),
                                   "--resume", str(bad)], "train")
    assert f"{bad}: not a Bytes to Beats checkpoint" in line


def test_a_pickle_through_a_real_process_says_nothing_of_weights_only(tmp_path):
    marker = tmp_path / "it-ran"
    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"generator": Evil(marker)}))
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "train", "--data", str(ROCK), "--out",
                          str(tmp_path / "m.safetensors"), "--resume", str(bad)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1 and not marker.exists()
    assert run.stderr.strip().splitlines() == [
        f"bytes2beats train: {bad}: not a Bytes to Beats checkpoint: it holds Python objects, not only tensors "
        "and numbers, and Bytes to Beats never unpickles code"], run.stderr  # no warning, no advice


def test_resuming_with_fewer_epochs_than_the_checkpoint_has_is_one_line(real_run, tmp_path, capsys):
    checkpoint, cache = real_run
    state = _state(checkpoint)
    state["epoch"] = 3
    three = tmp_path / "three.pt"
    torch.save(state, three)
    line = one_line_error(capsys, ["train", "--data", str(ROCK), "--out", str(tmp_path / "m.safetensors"),
                                   "--resume", str(three), "--epochs", "2", "--cache-dir", str(cache)], "train")
    assert "has trained 3 epochs already: give --epochs 3 or more" in line
    assert read_checkpoint(three)["epoch"] == 3


# ---------------------------------------------------------------------------------------
# Model files


def _rewrite(path: Path, out: Path, config=None, drop: str | None = None, weights=None, **meta) -> Path:
    """The model at `path` written again with its config (a dict, or raw text) and metadata
    entries (values JSON-encoded; raw text when given as bytes) changed."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        state = {k: handle.get_tensor(k) for k in handle.keys()}
    if config is not None:
        metadata["config"] = config if isinstance(config, str) else json.dumps({**json.loads(metadata["config"]), **config})
    for key, value in meta.items():
        metadata[key] = value.decode() if isinstance(value, bytes) else json.dumps(value)
    if drop in metadata:
        del metadata[drop]
    elif drop:
        del state[drop]
    if weights:
        weights(state)
    save_file(state, str(out), metadata=metadata)
    return out


def _nan_weight(state):
    name = sorted(state)[0]
    state[name] = state[name] * float("nan")


MODEL_CASES = [
    ("config a list", dict(config="[32, 32]"), "its config cannot be read (the config is a JSON list, not an object)"),
    ("config not JSON", dict(config="{width: 32"), "its config cannot be read (the config is not JSON"),
    ("no config", dict(drop="config"), "not a Bytes to Beats model (it has no config)"),
    ("width 2500", dict(config={"g_width": 2500}), "g_width must be from 1 to 512, not 2500"),
    ("n_bars 10**6", dict(config={"n_bars": 10**6}), "n_bars must be from 1 to 32, not 1000000"),
    ("n_pitches 0", dict(config={"n_pitches": 0}), "n_pitches must be a multiple of 12 from 12 to 120, not 0"),
    ("a negative size", dict(config={"z_shared": -64}), "z_shared must be from 1 to 1024, not -64"),
    ("a size as text", dict(config={"n_bars": "4"}), "n_bars must be a whole number, not '4'"),
    ("7 steps a beat", dict(config={"steps_per_beat": 7}), "steps_per_beat must be one of 1, 2, 3, 4, 6, 8, 12, 16, 24 or 48"),
    ("a smaller config than its weights", dict(config={"g_width": 16}), "weights do not fit its config"),
    ("a weight missing", dict(drop="attention.gamma"), "weights do not fit its config (attention.gamma is missing)"),
    ("a NaN weight", dict(weights=_nan_weight), "its weights hold NaN or infinite numbers"),
    ("an entry not JSON", dict(threshold=b"0.5.5"), "its metadata entry 'threshold' is not JSON"),
    ("track_scales a string", dict(track_scales="loud"), "its track_scales is a str, not a table by genre"),
    ("track_scales too short", dict(track_scales={"rock": [1.0, 1.0]}),
     "its track_scales for 'rock' must be 5 positive numbers, one a track"),
    ("track_scales of an unknown genre", dict(track_scales={"polka": [1.0] * 5}), "names a genre the model does not know"),
    ("monophonic a number", dict(monophonic=3), "its monophonic must be a list of its track names"),
    ("monophonic an unknown track", dict(monophonic=["Kazoo"]), "its monophonic must be a list of its track names"),
    ("threshold NaN", dict(threshold=float("nan")), "its threshold must be a number between 0 and 1, not nan"),
    ("threshold 1.5", dict(threshold=1.5), "its threshold must be a number between 0 and 1, not 1.5"),
    ("threshold 0", dict(threshold=0), "its threshold must be a number between 0 and 1, not 0"),
    ("threshold as text", dict(threshold="0.5"), "its threshold must be a number between 0 and 1, not 0.5"),
    ("hold_ratio negative", dict(hold_ratio=-1), "its hold_ratio must be a number above 0 and at most 1"),
    ("repeats a string", dict(repeats="yes"), "its repeats must be true or false"),
    ("onset_prior of another shape", dict(onset_prior={"rock": [[1.0] * 4] * 5}), "its onset_prior for 'rock' must be 5 rows"),
    ("onset_spread negative", dict(onset_spread={"": [-1.0] * 5}), "its onset_spread for 'all genres' must be 5 numbers"),
    ("register one short", dict(register={"rock": [0, 29, 21, 21]}), "its register for 'rock' must be 5 numbers"),
    ("repeat_bars above 1", dict(repeat_bars={"rock": [0.8, 1, 1, 1.5, 0.6]}),
     "its repeat_bars for 'rock' must be 5 numbers from 0 to 1"),
    ("straight_eighths negative", dict(straight_eighths={"rock": [0, 0, -0.2, 0, 0]}),
     "its straight_eighths for 'rock' must be 5 numbers from 0 to 1"),
    ("default_genre a list", dict(default_genre=["rock"]), "its default_genre must be a genre's name"),
    ("kit of too few ranks", dict(kit={"rock": [0, 1.4]}), "its kit for 'rock' must be 5 numbers of 0 or more"),
    ("feel not packed", dict(feel={"rock": {"shape": [2, 5, 2, 4, 7], "counts": "%%"}}), "its feel for 'rock' is not a packed feel"),
    ("feel of another grid", dict(feel={"rock": pack_feels(np.zeros((2, 5, 2, 4, 7), dtype=np.uint8))}),
     "its feel for 'rock' must time 5 tracks at 12 steps a beat"),
    ("progressions of no chords", dict(progressions={"rock": ["C G Xq7 F"]}), "names an unknown chord ('Xq7')"),
]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize("what, changes, message", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_a_bad_model_file_is_one_line_naming_it(model_folder, tmp_path, capsys, what, changes, message):
    bad = _rewrite(SHIPPED, model_folder / f"{what.replace(' ', '-')}.safetensors", **changes)
    with pytest.raises(ModelFileError) as error:
        Composer.load(bad, "cpu")
    assert str(error.value).startswith(f"{bad}: ") and message in str(error.value), str(error.value)
    assert "\n" not in str(error.value)
    out = tmp_path / "clip.mid"
    line = one_line_error(capsys, ["generate", "--model", str(bad), "--out", str(out), "--device", "cpu"], "generate")
    assert line == f"bytes2beats generate: {error.value}" and not out.exists()


def test_a_decoding_kept_from_a_bad_file_is_refused_before_training(model_folder, tmp_path, capsys):
    # a fine-tune keeps the source's decoding: a broken entry must be said before the epochs,
    # not found when the trained model is written
    changes = dict((c[0], c[1]) for c in MODEL_CASES)["feel not packed"]
    bad = _rewrite(SHIPPED, model_folder / "decoding-from-bad-feel.safetensors", **changes)
    out = tmp_path / "mine.safetensors"
    line = one_line_error(capsys, ["train", "--data", str(ROCK), "--out", str(out), "--decoding-from", str(bad),
                                   "--epochs", "1", "--cache-dir", str(tmp_path)], "train")
    assert f"--decoding-from {bad}: " in line and "its feel for 'rock' is not a packed feel" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["eval", "calibrate"])
@pytest.mark.parametrize("what", ["width 2500", "threshold NaN", "track_scales a string", "monophonic a number"])
def test_eval_and_calibrate_refuse_them_too(model_folder, tmp_path, capsys, command, what):
    changes = dict((c[0], c[1]) for c in MODEL_CASES)[what]
    bad = _rewrite(SHIPPED, model_folder / f"{command}-{what.replace(' ', '-')}.safetensors", **changes)
    before = bad.read_bytes()
    line = one_line_error(capsys, [command, "--model", str(bad), "--data", str(ROCK), "--cache-dir", str(tmp_path)],
                          command)
    assert str(bad) in line and bad.read_bytes() == before  # calibrate did not rewrite it


def test_the_real_models_pass_every_check():
    for path in sorted(shipped_models_dir().glob("*.safetensors")):
        composer = Composer.load(path, "cpu")
        assert composer.generate(seed=1)[0].rolls.any(), path


def test_a_wide_config_is_refused_before_any_layer_is_built(model_folder):
    """The issue's 1 MB file whose config says width 2500 took 4.4 GB before its error: now
    the whole command stays within what torch itself takes."""
    wide = _rewrite(SHIPPED, model_folder / "wide.safetensors", config={"g_width": 2500, "d_width": 2500})
    with pytest.raises(ModelFileError, match="g_width must be from 1 to 512"):
        load_model(wide)
    # Through a small launcher: a child forked straight from this test process would count
    # the test process's own pages (resident at the fork) in its peak.
    launcher = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE); "
                "err = p.stderr.read(); _, status, usage = os.wait4(p.pid, 0); "
                "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss); sys.stderr.buffer.write(err)")
    run = subprocess.run([sys.executable, "-c", launcher, sys.executable, "-m", "bytes2beats", "generate",
                          "--model", str(wide), "--out", str(model_folder / "wide.mid")],
                         capture_output=True, text=True, timeout=300)
    code, max_rss = (int(v) for v in run.stdout.split())
    assert code == 1 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    peak_mb = max_rss / 1024  # kilobytes on Linux; wait4 measures that child alone
    assert peak_mb < 1024, f"peak {peak_mb:.0f} MB"
