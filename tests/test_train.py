"""Training: the WGAN-GP losses, a short real run on real songs, exact resumption, DDP."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, load_phrase_pack
from bytes2beats.engine.model import ModelConfig, load_model
from bytes2beats.engine.train import (
    RunPaths,
    TrainConfig,
    Trainer,
    binary_neurons,
    checkpoint_composer,
    critic_loss,
    gradient_penalty,
    interpolates,
    read_checkpoint,
    transpose_batch,
)

LPD = Path(__file__).parent / "fixtures" / "lpd"


class LinearCritic(torch.nn.Module):
    """D(x) = <w, x>: its gradient is w everywhere, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w):
        super().__init__()
        self.w = w
        self.seen = None

    def forward(self, x, genre=None):
        self.seen = x.detach()
        return (x * self.w).flatten(1).sum(1)


def test_gradient_penalty_is_taken_on_interpolates_and_its_norm_is_right():
    real, fake = torch.rand(4, 5, 64, 84), torch.rand(4, 5, 64, 84)
    w = torch.full((1, 5, 64, 84), 0.01)
    critic = LinearCritic(w)
    eps = torch.tensor([0.0, 0.25, 0.5, 1.0]).view(4, 1, 1, 1)
    losses = critic_loss(critic, real, fake, gp_lambda=10.0, eps=eps)
    points = critic.seen[8:]
    assert torch.allclose(points, eps * real + (1 - eps) * fake)
    norm = w.norm().item()
    assert losses["gp"].item() == pytest.approx((norm - 1) ** 2, rel=1e-5)
    wasserstein = (critic(real) - critic(fake)).mean().item()
    assert losses["wasserstein"].item() == pytest.approx(wasserstein, abs=1e-4)
    assert losses["loss"].item() == pytest.approx(-wasserstein + 10 * (norm - 1) ** 2, abs=1e-3)


def test_penalty_norms_are_per_sample():
    x = torch.randn(3, 2, 4, 12, requires_grad=True)
    scale = torch.tensor([1.0, 2.0, 3.0]).view(3, 1, 1, 1)
    scores = (x * scale).flatten(1).sum(1)  # sample k's gradient is scale_k everywhere
    _, norms = gradient_penalty(scores, x)
    expected = scale.flatten() * (2 * 4 * 12) ** 0.5
    assert torch.allclose(norms, expected)
    p = interpolates(torch.zeros(2, 1, 1, 1), torch.ones(2, 1, 1, 1))
    assert ((p >= 0) & (p <= 1)).all()


def test_transposition_moves_pitched_tracks_and_leaves_drums():
    x = torch.zeros(2, 3, 4, 84)
    x[:, :, 0, 40] = 1
    out = transpose_batch(x, torch.tensor([2, -3]))
    assert out[0, 0, 0, 40] == 1 and out[0, 1, 0, 42] == 1 and out[0, 2, 0, 42] == 1
    assert out[1, 1, 0, 37] == 1 and out[1, 1].sum() == 1


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    spec = PhraseSpec()
    return build_phrases(LPD, spec, cache_dir=tmp_path_factory.mktemp("cache"), workers=1)


def test_phrases_from_real_songs_with_genres_and_a_fixed_split(phrases, tmp_path):
    assert phrases.rolls.shape[1:] == (5, 64, 84) and len(phrases) > 50
    assert phrases.genres == ["pop", "rock"]
    assert set(phrases.genre.tolist()) == {0, 1}
    # One of the six real songs never has three families playing at once: it is reported.
    assert phrases.report["files_found"] == 6 and phrases.report["files_used"] == 5
    assert list(phrases.report["rejected"].values()) == ["no phrase with 3 or more instruments playing"]
    # Phrases keep the ones where three or more families play.
    assert (np.asarray(phrases.rolls).any(axis=(2, 3)).sum(axis=1) >= 3).all()
    train, val = phrases.split(False), phrases.split(True)
    assert len(train) + len(val) == len(phrases)
    assert not set(train.song.tolist()) & set(val.song.tolist())


def test_a_second_build_comes_from_the_cache(tmp_path):
    spec = PhraseSpec(n_bars=2)
    first = build_phrases(LPD / "rock", spec, cache_dir=tmp_path, workers=1)
    assert len(list(tmp_path.glob("phrases-*.npz"))) == 1
    second = build_phrases(LPD / "rock", spec, cache_dir=tmp_path, workers=1, progress=lambda *a: pytest.fail("read again"))
    assert np.array_equal(first.rolls, second.rolls) and first.files == second.files


def test_binary_neurons_pass_notes_forward_and_the_probabilities_gradient_back():
    p = torch.tensor([0.1, 0.49, 0.5, 0.93], requires_grad=True)
    notes = binary_neurons(p, "deterministic")
    assert notes.tolist() == [0.0, 0.0, 1.0, 1.0]
    (notes * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert p.grad.tolist() == [1.0, 2.0, 3.0, 4.0]  # straight through, as if notes were p
    assert binary_neurons(p, "none") is p

    torch.manual_seed(0)
    many = torch.full((20000,), 0.3)
    drawn = binary_neurons(many, "stochastic")
    assert set(drawn.unique().tolist()) == {0.0, 1.0}
    assert abs(drawn.mean().item() - 0.3) < 0.02
    with pytest.raises(ValueError, match="binary_neurons"):
        TrainConfig(binary_neurons="sometimes")


@pytest.mark.parametrize("kind", ["deterministic", "stochastic"])
def test_with_binary_neurons_the_critic_sees_notes_and_the_generator_still_learns(phrases, tmp_path, kind):
    trainer = _trainer(phrases, tmp_path, epochs=1)
    trainer.cfg.binary_neurons = kind
    seen = []
    trainer.critic.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    before = [w.clone() for w in trainer.generator.parameters()]
    assert trainer.fit(show_progress=False)
    # critic steps see real, fake and interpolates in one batch; generator steps fakes alone
    b = trainer.cfg.batch_size
    fakes = [x[b : 2 * b] for x in seen if len(x) == 3 * b] + [x for x in seen if len(x) == b]
    assert fakes and all(set(x.unique().tolist()) <= {0.0, 1.0} for x in fakes)
    assert any(not torch.equal(a, w) for a, w in zip(before, trainer.generator.parameters()))
    assert read_checkpoint(trainer.paths.checkpoint)["train_config"].count(kind) == 1


def _trainer(phrases, folder, epochs, **model_changes):
    cfg = ModelConfig(**{"g_width": 8, "d_width": 8, "genres": phrases.genres, **model_changes})
    tcfg = TrainConfig(epochs=epochs, batch_size=8, steps_per_epoch=3, n_critic=2, transpose=2, sample_every=1, checkpoint_every=1)
    return Trainer(cfg, tcfg, phrases, RunPaths.for_model(folder / "m.safetensors"), torch.device("cpu"), log=lambda s: None)


def test_a_short_real_run_resumes_exactly(phrases, tmp_path):
    straight = _trainer(phrases, tmp_path / "a", epochs=2)
    assert straight.fit(show_progress=False)
    assert (tmp_path / "a" / "m-run" / "samples" / "epoch_0002.png").exists()
    lines = (tmp_path / "a" / "m-run" / "log.jsonl").read_text().splitlines()
    assert len(lines) == 6 and '"wasserstein"' in lines[0] and '"gp"' in lines[0]

    first = _trainer(phrases, tmp_path / "b", epochs=1)
    assert first.fit(show_progress=False)
    resumed = _trainer(phrases, tmp_path / "b", epochs=2)
    resumed.load_checkpoint(first.paths.checkpoint)
    assert resumed.epoch == 1
    assert resumed.fit(show_progress=False)
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.critic.state_dict().values(), resumed.critic.state_dict().values()):
        assert torch.equal(a, b)
    state = read_checkpoint(resumed.paths.checkpoint)
    assert state["epoch"] == 2


def test_kept_checkpoints_stay_one_per_epoch(phrases, tmp_path):
    trainer = _trainer(phrases, tmp_path, epochs=2)
    trainer.cfg.keep_checkpoints = True
    assert trainer.fit(show_progress=False)
    kept = sorted(trainer.paths.kept_checkpoints.glob("*.pt"))
    assert [p.name for p in kept] == ["epoch_0001.pt", "epoch_0002.pt"]
    assert [read_checkpoint(p)["epoch"] for p in kept] == [1, 2]  # the first survived the second's write


def test_stopping_midway_keeps_the_last_checkpoint_whole(phrases, tmp_path):
    trainer = _trainer(phrases, tmp_path, epochs=3)
    calls = []
    assert not trainer.fit(should_stop=lambda: len(calls) > 4 or calls.append(1), show_progress=False)
    assert read_checkpoint(trainer.paths.checkpoint)["epoch"] == 1


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True, timeout=600, **kw)


def test_train_command_end_to_end_then_generate(tmp_path):
    model = tmp_path / "tiny.safetensors"
    run = _cli("train", "--data", str(LPD / "rock"), "--out", str(model), "--epochs", "1", "--batch-size", "8",
               "--steps-per-epoch", "2", "--width", "8", "--cache-dir", str(tmp_path / "cache"))
    assert run.returncode == 0, run.stderr[-800:]
    generator, meta = load_model(model)
    assert 0 < meta["threshold"] < 1 and meta["trained"]["epochs"] == 1
    assert meta["hold_ratio"] == 0.5 and meta["trained"]["device"].startswith("CPU")
    assert len(meta["track_scales"][""]) == 5 and meta["monophonic"] == ["Bass"]  # fitted to the songs too
    assert generator.cfg.time_layers == "staged"
    run = _cli("generate", "--model", str(model), "--out", str(tmp_path / "clip.mid"), "--bars", "8")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "clip.mid").stat().st_size > 0


def test_a_warm_start_takes_the_weights_and_trains_under_its_own_settings(phrases, tmp_path):
    source = _trainer(phrases, tmp_path / "source", epochs=2)
    assert source.fit(show_progress=False)
    warm = _trainer(phrases, tmp_path / "warm", epochs=1)
    warm.cfg.binary_neurons = "deterministic"
    warm.warm_start(source.paths.checkpoint)
    for a, b in zip(source.generator.state_dict().values(), warm.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert warm.epoch == 0 and not warm.opt_g.state  # its own optimizers, from the start
    assert warm.started_from["epoch"] == 2 and warm.started_from["train_config"]["binary_neurons"] == "none"
    assert warm.fit(show_progress=False)
    state = read_checkpoint(warm.paths.checkpoint)
    assert state["epoch"] == 1 and '"deterministic"' in state["train_config"]
    resumed = _trainer(phrases, tmp_path / "again", epochs=2)
    resumed.load_checkpoint(warm.paths.checkpoint)  # the source stays recorded through a resume
    assert resumed.started_from == warm.started_from


def test_a_warm_start_may_give_the_critic_its_bar_view_and_nothing_else(phrases, tmp_path):
    source = _trainer(phrases, tmp_path / "source", epochs=1)
    assert source.fit(show_progress=False)
    warm = _trainer(phrases, tmp_path / "warm", epochs=1)
    warm.model_cfg.critic_bar_statistics = True
    warm.critic = type(warm.critic)(warm.model_cfg)
    warm.warm_start(source.paths.checkpoint)
    x, genre = torch.as_tensor(source.phrases.rolls[:4]).float(), source.genres[:4]
    source.critic.eval(), warm.critic.eval()
    # the new view starts at zero: the warm critic scores as its source did, until it learns
    assert torch.allclose(source.critic(x, genre), warm.critic(x, genre))
    other = _trainer(phrases, tmp_path / "other", epochs=1)
    other.model_cfg.g_width = 16
    other.generator = type(other.generator)(other.model_cfg)
    with pytest.raises(ValueError, match="another model configuration"):
        other.warm_start(source.paths.checkpoint)


def test_a_warm_start_may_give_the_critic_its_new_views_and_nothing_else(phrases, tmp_path):
    # a critic with the bar view already, like checkpoints/genres-bar-view.pt
    source = _trainer(phrases, tmp_path / "source", epochs=1, critic_bar_statistics=True)
    source.save_checkpoint()
    warm = _trainer(phrases, tmp_path / "warm", epochs=1, critic_bar_statistics=True, critic_onset_statistics=True)
    warm.warm_start(source.paths.checkpoint)
    for a, b in zip(source.generator.state_dict().values(), warm.generator.state_dict().values()):
        assert torch.equal(a, b)
    x, genre = torch.as_tensor(source.phrases.rolls[:4]).float(), source.genres[:4]
    source.critic.eval(), warm.critic.eval()
    assert torch.allclose(source.critic(x, genre), warm.critic(x, genre))  # the new view starts at zero
    # every view at once, from a critic with none
    plain = _trainer(phrases, tmp_path / "plain", epochs=1)
    plain.save_checkpoint()
    every = _trainer(phrases, tmp_path / "every", epochs=1, critic_bar_statistics=True, critic_onset_statistics=True,
                     critic_repetition_statistics=True, critic_batch_variety=True)
    every.warm_start(plain.paths.checkpoint)
    plain.critic.eval(), every.critic.eval()
    assert torch.allclose(plain.critic(x, genre), every.critic(x, genre))
    critic_rates = {id(p): group["lr"] for group in every.opt_d.param_groups for p in group["params"]}
    assert critic_rates[id(every.critic.variety_score.weight)] == every.cfg.d_lr * every.cfg.variety_lr_scale
    assert critic_rates[id(every.critic.score.weight)] == every.cfg.d_lr
    # the generator may gain its bar tie, starting at zero and learning faster than the rest
    tie = _trainer(phrases, tmp_path / "tie", epochs=1, bar_tie=True)
    tie.warm_start(plain.paths.checkpoint)
    noise = plain._noise(4)
    plain.generator.eval(), tie.generator.eval()
    with torch.no_grad():
        assert torch.equal(plain.generator(*noise, genre), tie.generator(*noise, genre))
    rates = {id(p): group["lr"] for group in tie.opt_g.param_groups for p in group["params"]}
    assert rates[id(tie.generator.bar_tie)] == tie.cfg.g_lr * tie.cfg.tie_lr_scale
    assert rates[id(tie.generator.track_embedding.weight)] == tie.cfg.g_lr
    # anything else is still refused: another shape, or a view taken away
    wider = _trainer(phrases, tmp_path / "wider", epochs=1, critic_bar_statistics=True, critic_onset_statistics=True,
                     d_width=16)
    with pytest.raises(ValueError, match="another model configuration"):
        wider.warm_start(source.paths.checkpoint)
    fewer = _trainer(phrases, tmp_path / "fewer", epochs=1, critic_onset_statistics=True)
    with pytest.raises(ValueError, match="does not fit"):
        fewer.warm_start(source.paths.checkpoint)
    # and the view learns: a short run moves its score off zero
    assert warm.fit(show_progress=False)
    assert warm.critic.onset_score.weight.abs().sum() > 0


def test_a_checkpoint_is_screened_with_a_model_files_decoding_whatever_it_grew(phrases, tmp_path):
    from bytes2beats.engine.generate import Composer

    shipped = _trainer(phrases, tmp_path / "shipped", epochs=1)
    composer = Composer(shipped.generator, {"threshold": 0.7}, "shipped")
    grown = _trainer(phrases, tmp_path / "grown", epochs=1, bar_tie=True)
    with torch.no_grad():
        grown.generator.bar_tie.fill_(0.5)
    grown.save_checkpoint()
    screened = checkpoint_composer(grown.paths.checkpoint, composer)
    assert screened.config.bar_tie and torch.equal(screened.generator.bar_tie, grown.generator.bar_tie)
    assert screened.meta == composer.meta and screened.name.endswith("decoded as shipped")
    assert not composer.config.bar_tie  # the model file's composer is left as it was


def test_warm_start_from_the_command_line_records_its_source(tmp_path):
    first = tmp_path / "first.safetensors"
    common = ["--data", str(LPD / "rock"), "--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "2",
              "--width", "8", "--cache-dir", str(tmp_path / "cache")]
    assert _cli("train", "--out", str(first), *common).returncode == 0
    checkpoint = tmp_path / "first-run" / "checkpoint.pt"
    run = _cli("train", "--out", str(tmp_path / "second.safetensors"), *common, "--width", "16",
               "--warm-start", str(checkpoint), "--binary-neurons", "stochastic", "--critic-onset-statistics")
    assert run.returncode == 0, run.stderr[-800:]
    assert f"starting from the weights of {checkpoint} (its epoch 1)" in run.stderr
    generator, meta = load_model(tmp_path / "second.safetensors")
    assert generator.cfg.g_width == 8  # the checkpoint's shape, not today's --width
    assert generator.cfg.critic_onset_statistics  # but for the critic's new view
    assert meta["trained"]["started_from"]["checkpoint"] == "checkpoint.pt"
    assert meta["trained"]["train_config"]["binary_neurons"] == "stochastic"
    both = _cli("train", "--out", str(tmp_path / "third.safetensors"), *common,
                "--warm-start", str(checkpoint), "--resume", str(checkpoint))
    assert both.returncode == 1 and "give one of them" in both.stderr and "Traceback" not in both.stderr


def test_a_phrase_pack_trains_where_the_songs_are_not(tmp_path):
    pack = tmp_path / "lpd12.phrases.npz"
    run = _cli("phrases", "--data", str(LPD), "--out", str(pack), "--steps-per-beat", "12",
               "--cache-dir", str(tmp_path / "cache"))
    assert run.returncode == 0, run.stderr[-800:]
    assert "from 5 songs; genres: pop, rock" in run.stdout
    phrases, spec = load_phrase_pack(pack)
    direct = build_phrases(LPD, PhraseSpec(steps_per_beat=12), cache_dir=tmp_path / "cache")
    assert spec.steps_per_beat == 12 and np.array_equal(phrases.rolls, direct.rolls) and phrases.genres == direct.genres
    assert pack.stat().st_size < direct.rolls.nbytes / 4  # compressed
    # trained from the pack alone (the model takes the pack's grid), in another folder
    model = tmp_path / "from-pack.safetensors"
    run = _cli("train", "--data", str(pack), "--out", str(model), "--epochs", "1", "--batch-size", "8",
               "--steps-per-epoch", "2", "--width", "8", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-800:]
    generator, meta = load_model(model)
    assert generator.cfg.steps_per_beat == 12 and generator.cfg.genres == ["pop", "rock"]


@pytest.mark.parametrize("args, message", [
    (["phrases", "--data", "{lpd}", "--out", "x.npz"], "--out must end in .phrases.npz"),
    (["train", "--data", "{garbage}", "--out", "m.safetensors"], "not a phrase pack"),
    (["train", "--data", "{cut}", "--out", "m.safetensors"], "not a phrase pack"),
    # a pack of 16ths for the 48-step model (engine/dataset.py: PhraseSpec.cut_for)
    (["calibrate", "--model", "genres", "--data", "{whole}", "--out", "m.safetensors"],
     "was cut for another model than 'genres'"),
])
def test_phrase_pack_errors_are_one_line(tmp_path, args, message, cli_in_process, monkeypatch):
    garbage = tmp_path / "garbage.phrases.npz"
    garbage.write_bytes(b"not a zip")
    whole = tmp_path / "whole.phrases.npz"
    assert cli_in_process("phrases", "--data", LPD / "rock", "--out", whole, "--cache-dir", tmp_path / "c")[0] == 0
    cut = tmp_path / "cut.phrases.npz"  # an upload that broke off half-way
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    monkeypatch.chdir(tmp_path)
    code, _, err = cli_in_process(*[a.format(lpd=LPD, garbage=garbage, cut=cut, whole=whole) for a in args])
    # the error is one line, after the line that says what is being read, if any
    lines = err.strip().splitlines()
    assert code == 1 and "Traceback" not in err and len(lines) <= 2, err
    assert message in lines[-1] and lines[-1].startswith("bytes2beats "), err


@pytest.mark.slow
def test_torchrun_two_cpu_processes_with_gloo(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this Python")
    model = tmp_path / "ddp.safetensors"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "bytes2beats", "train",
         "--data", str(LPD), "--out", str(model), "--epochs", "2", "--batch-size", "4", "--steps-per-epoch", "2",
         "--width", "8", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"), "--checkpoint-every", "1"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-1500:]
    assert model.exists()
    assert read_checkpoint(tmp_path / "ddp-run" / "checkpoint.pt")["epoch"] == 2
    assert shutil.which("true")


# ---------------------------------------------------------------------------------------
# A full disk at the wrong moment loses nothing: a real small disk (tmpfs), filled as another
# program would fill it; every failed write is one line naming its file, the last good
# checkpoint stays whole, and the run resumes from it exactly.


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "--lazy", str(disk)], capture_output=True)  # busy: detach it all the same


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill the disk with a ballast file, leaving about `leave` bytes (0: none at all)."""
    ballast = disk / "ballast"
    stats = os.statvfs(disk)
    size = max(0, stats.f_bavail * stats.f_frsize - leave)
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while size > 0:
            size -= os.write(fd, b"\0" * min(size, 1 << 16))
        while leave == 0:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return ballast


def strict_json_lines(path: Path) -> list[dict]:
    """Every line of a log as strict JSON (Python's json takes NaN; JSON does not)."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def straight_run(phrases, tmp_path_factory):
    """Two epochs never interrupted: what a run stopped by a full disk must resume into."""
    trainer = _trainer(phrases, tmp_path_factory.mktemp("straight"), epochs=2)
    assert trainer.fit(show_progress=False)
    return trainer


@pytest.mark.parametrize("moment", ["log", "checkpoint", "samples"])
def test_a_disk_that_fills_during_training_loses_nothing_and_the_run_resumes_exactly(
        phrases, small_disk, straight_run, monkeypatch, moment):
    trainer = _trainer(phrases, small_disk, epochs=2)
    said = []
    trainer.say = said.append
    log = trainer.paths.log

    def at_epoch_two():  # called before each batch: the disk fills as epoch 2 begins
        if trainer.epoch == 1 and not (small_disk / "ballast").exists():
            if moment == "log":  # the log a hundred bytes short of a page: the flush is cut mid-line
                short = (-log.stat().st_size) % 4096 + 4096 - 100
                with open(log, "a") as handle:
                    handle.write(json.dumps({"epoch": 1, "batch": 0, "pad": "x" * (short - 40)}).ljust(short - 1) + "\n")
            fill(small_disk, leave=0 if moment == "log" else 64 * 1024)  # room for the log, not a checkpoint
        return False

    if moment == "samples":  # the disk fills right after epoch 1's checkpoint, before its samples
        save = trainer.save_checkpoint

        def save_then_fill():
            save()
            if trainer.epoch == 1:
                fill(small_disk)
        monkeypatch.setattr(trainer, "save_checkpoint", save_then_fill)

    with pytest.raises(OSError) as error:
        trainer.fit(should_stop=at_epoch_two, show_progress=False)
    message = str(error.value)
    assert "\n" not in message and "No space left on device" in message
    if moment == "log":
        assert message.startswith(f"could not write the log {log} ")
    elif moment == "checkpoint":
        assert message.startswith(f"could not write checkpoint {trainer.paths.checkpoint} ")
    else:  # the sample was skipped with a line; epoch 2 then stopped at its log or checkpoint
        skipped = [s for s in said if "epoch_0001.mid" in s]
        assert skipped and skipped[0].strip().endswith("skipped, training goes on"), said
        assert str(log) in message or str(trainer.paths.checkpoint) in message
        assert not [p.name for p in trainer.paths.samples.iterdir() if "part" in p.name]
    assert read_checkpoint(trainer.paths.checkpoint)["epoch"] == 1  # whole, and epoch 1's
    assert not [p.name for p in trainer.paths.folder.iterdir() if "part" in p.name]

    (small_disk / "ballast").unlink()  # the user frees some space, and resumes
    resumed = _trainer(phrases, small_disk, epochs=2)
    resumed.load_checkpoint(resumed.paths.checkpoint)
    assert resumed.fit(show_progress=False)
    for a, b in zip(straight_run.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight_run.critic.state_dict().values(), resumed.critic.state_dict().values()):
        assert torch.equal(a, b)
    records = strict_json_lines(log)  # a line the full disk cut was cut away on reopening
    assert [r["epoch"] for r in records if "pad" not in r][-3:] == [2, 2, 2]
    assert (resumed.paths.samples / "epoch_0002.png").exists()


def test_a_nan_loss_is_logged_as_null_and_stops_training_keeping_the_last_checkpoint(phrases, tmp_path):
    from bytes2beats.engine.train import TrainingDiverged

    trainer = _trainer(phrases, tmp_path, epochs=3)

    def poison():  # from epoch 2 on the penalty's weight is NaN, and so is the critic's loss
        if trainer.epoch == 1:
            trainer.cfg.gp_lambda = float("nan")
        return False

    with pytest.raises(TrainingDiverged) as error:
        trainer.fit(should_stop=poison, show_progress=False)
    assert str(error.value) == (
        f"training diverged: d_loss became NaN or infinite at epoch 2, batch 1; the last checkpoint "
        f"({trainer.paths.checkpoint}) is kept: --warm-start from it with lower learning rates (--g-lr, --d-lr)")
    records = strict_json_lines(trainer.paths.log)
    assert records[-1]["epoch"] == 2 and records[-1]["d_loss"] is None and records[-1]["gp"] is not None
    assert read_checkpoint(trainer.paths.checkpoint)["epoch"] == 1  # read_checkpoint checks its weights are finite


def test_a_run_that_diverges_from_the_command_line_is_one_line(phrases, tmp_path):
    first = _trainer(phrases, tmp_path, epochs=1)
    assert first.fit(show_progress=False)
    state = torch.load(first.paths.checkpoint, weights_only=True)
    for moments in state["opt_d"]["state"].values():  # a checkpoint whose critic's Adam has gone NaN
        moments["exp_avg_sq"].fill_(float("nan"))
    torch.save(state, first.paths.checkpoint)
    before = first.paths.checkpoint.read_bytes()
    run = _cli("train", "--data", str(LPD), "--out", str(tmp_path / "m.safetensors"), "--epochs", "2",
               "--resume", str(first.paths.checkpoint), "--cache-dir", str(tmp_path / "cache"))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-1500:]
    line = run.stderr.strip().replace("\r", "\n").splitlines()[-1]
    assert line.startswith("bytes2beats train: training diverged: d_loss") and "at epoch 2, batch" in line, line
    assert first.paths.checkpoint.read_bytes() == before and not (tmp_path / "m.safetensors").exists()
    assert strict_json_lines(first.paths.log)[-1]["d_loss"] is None


def test_a_model_that_cannot_be_written_is_one_line_and_a_resume_writes_it(tmp_path, small_disk):
    # The data: real songs and broken files, which `train` names with the reason for each.
    data = tmp_path / "songs" / "rock"
    data.mkdir(parents=True)
    for song in sorted((LPD / "rock").glob("*.npz")):
        shutil.copy(song, data)
    bad = sorted((Path(__file__).parent / "fixtures" / "bad").glob("*.mid"))
    for name in bad:
        shutil.copy(name, data)
    fill(small_disk, leave=32 * 1024)  # too little for the model (over 100 kB at width 8)
    common = ["--data", str(data.parent), "--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "2",
              "--width", "8", "--cache-dir", str(tmp_path / "cache"), "--run-dir", str(tmp_path / "run")]
    run = _cli("train", "--out", str(small_disk / "m.safetensors"), *common)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-1500:]
    lines = run.stderr.replace("\r", "\n").splitlines()
    assert lines[-1].startswith(f"bytes2beats train: could not write the model {small_disk / 'm.safetensors'} (")
    assert lines[-1].endswith(f"; the last checkpoint ({tmp_path / 'run' / 'checkpoint.pt'}) writes it again with --resume")
    assert "No space left on device" in lines[-1]
    assert [p.name for p in small_disk.iterdir()] == ["ballast"]  # no part-written model left behind

    # Which files were rejected, and why: the first five here, all of them in the run folder.
    listed = tmp_path / "run" / "rejected.txt"
    rows = dict(line.split("\t") for line in listed.read_text().splitlines())
    assert rows["rock/corrupt-header.mid"].startswith("not a readable MIDI file") and len(rows) >= 7
    summary = next(line for line in lines if "files used" in line)
    assert summary.startswith(f"4 of {4 + len(bad)} files used ({len(rows)} rejected, all listed in {listed})")
    named = [line.strip() for line in lines if line.startswith("  rejected ")]
    assert named == [f"rejected {name}: {reason}" for name, reason in list(rows.items())[:5]]
    assert named[0] == "rejected rock/absurd-length.mid: too long (279,620 beats; at most 8,192)"
    assert f"  ... and {len(rows) - 5} more (in {listed})" in lines

    model = tmp_path / "m.safetensors"
    again = _cli("train", "--out", str(model), *common, "--resume", str(tmp_path / "run" / "checkpoint.pt"))
    assert again.returncode == 0, again.stderr[-1500:]
    assert "resuming at epoch 1" in again.stderr
    generator, meta = load_model(model)
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert meta["trained"]["epochs"] == 1
    for key, value in generator.state_dict().items():
        assert torch.equal(value, checkpoint["generator"][key])


def test_fine_tuning_on_a_users_own_folder_gives_it_a_genre_of_its_own(tmp_path):
    from bytes2beats.engine.run_request import RunRequest
    from bytes2beats.engine.train_run import prepare, run

    common = ["--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "2", "--width", "8",
              "--cache-dir", str(tmp_path / "cache")]
    assert _cli("train", "--data", str(LPD), "--out", str(tmp_path / "base.safetensors"), *common).returncode == 0
    checkpoint = tmp_path / "base-run" / "checkpoint.pt"  # a model of two genres, pop and rock

    def fine_tune(folder_name, **settings):
        folder = tmp_path / folder_name
        folder.mkdir()
        for song in sorted((LPD / "rock").glob("*.npz")):  # songs in no genre folder, as a user's are
            shutil.copy(song, folder)
        # 5 batches: one generator step (n_critic 5), as every epoch of a real run has
        return prepare(RunRequest(data=str(folder), out=str(tmp_path / f"{folder_name}.safetensors"),
                                  warm_start=str(checkpoint), epochs=1, batch_size=8, steps_per_epoch=5,
                                  cache_dir=str(tmp_path / "cache"), **settings))

    base = tmp_path / "base.safetensors"
    mine = fine_tune("my-songs", decoding_from=str(base))  # its decoding kept, not fitted to a few songs
    trainer = mine.trainer
    assert trainer.model_cfg.genres == ["pop", "rock", "my-songs"]
    assert trainer.genres.unique().tolist() == [2]  # every phrase is of the new genre
    for table in (trainer.generator.genre_embedding.weight, trainer.critic.genre_projection.weight):
        table = table.detach()
        assert torch.allclose(table[2], table[:2].mean(0))  # it starts between the known ones
    outcome = run(mine)
    generator, meta = load_model(outcome.model)
    assert generator.cfg.genres == ["pop", "rock", "my-songs"] and meta["default_genre"] == "my-songs"
    assert generator.genre_embedding.weight.shape[0] == 3
    _, source = load_model(base)
    assert meta["threshold"] == source["threshold"] and meta["monophonic"] == source["monophonic"]
    for key in ("track_scales", "onset_spread", "register"):
        assert {g: meta[key][g] for g in ("pop", "rock")} == source[key]  # each known genre keeps its own
        assert np.allclose(meta[key]["my-songs"], np.mean([source[key]["pop"], source[key]["rock"]], axis=0))
    assert meta["trained"]["decoding_from"] == "base"
    missing = _cli("train", "--data", str(tmp_path / "my-songs"), "--out", str(tmp_path / "y.safetensors"), *common,
                   "--warm-start", str(checkpoint), "--decoding-from", str(tmp_path / "none.safetensors"))
    assert missing.returncode == 1 and "--decoding-from" in missing.stderr and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr

    rock = fine_tune("rock")  # a folder named after a genre the model knows adapts that genre
    assert rock.trainer.model_cfg.genres == ["pop", "rock"] and rock.trainer.genres.unique().tolist() == [1]
    again = prepare(RunRequest(data=str(LPD), out=str(tmp_path / "again.safetensors"), warm_start=str(checkpoint),
                               epochs=1, batch_size=8, cache_dir=str(tmp_path / "cache")))
    assert again.trainer.model_cfg.genres == ["pop", "rock"]  # its own genre folders: nothing added
    assert sorted(again.trainer.genres.unique().tolist()) == [0, 1]
    resumed = _cli("train", "--data", str(tmp_path / "my-songs"), "--out", str(tmp_path / "x.safetensors"), *common,
                   "--resume", str(checkpoint), "--epochs", "2")
    assert resumed.returncode == 1 and "the checkpoint knows genres ['pop', 'rock']" in resumed.stderr


def test_train_fine_tunes_the_shipped_model_by_default(tmp_path):
    from bytes2beats.engine.model import load_critic_weights
    from bytes2beats.engine.model_store import resolve_model
    from bytes2beats.engine.run_request import FINE_TUNE_CRITIC_STEPS, RunRequest
    from bytes2beats.engine.train_run import prepare

    folder = tmp_path / "my-songs"  # a user's folder: songs in no genre folder
    folder.mkdir()
    for song in sorted((LPD / "rock").glob("*.npz")):
        shutil.copy(song, folder)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    model = tmp_path / "mine.safetensors"
    run = _cli("train", "--data", str(folder), "--out", str(model), "--epochs", "1", "--batch-size", "8",
               "--steps-per-epoch", "2", "--n-critic", "2", *cache)
    assert run.returncode == 0, run.stderr[-1500:]
    # the genre the songs sound most like is chosen (engine/genre_chooser.py) and said
    sounds_like = re.search(r"your songs sound most like (\w+) \(", run.stderr)
    assert sounds_like, run.stderr[-1500:]
    like = sounds_like.group(1)
    shipped_model, shipped = load_model(resolve_model("genres"))
    own = shipped["trained"]["train_config"]  # a quarter of the model's own learning rates
    assert (f"fine-tuning the model genres: 1 epochs of 2 critic steps, learning rates {own['g_lr'] / 4:.3g} / "
            f"{own['d_lr'] / 4:.3g}, the new genre starting as {like}, its decoding kept") in run.stderr
    generator, meta = load_model(model)
    shipped_genres = list(shipped_model.cfg.genres)
    # its manners: the shipped genres' and their scale kept, the new genre's the user's songs'
    assert torch.equal(generator.manner_table[: len(shipped_genres)], shipped_model.manner_table)
    assert torch.equal(generator.manner_scale, shipped_model.manner_scale)
    assert not torch.equal(generator.manner_table[-1], generator.manner_table[shipped_genres.index(like)])
    assert generator.cfg.steps_per_beat == 12 and generator.cfg.genres[-1] == "my-songs"  # the model's own shape
    assert meta["threshold"] == shipped["threshold"] and meta["trained"]["decoding_from"] == "genres"
    assert meta["trained"]["started_from"]["model"] == "genres.safetensors"
    assert meta["trained"]["train_config"]["binary_neurons"] == "deterministic"  # the model's own
    assert meta["trained"]["train_config"]["adapt"] == "style" and "the genre row) only" in run.stderr
    assert load_critic_weights(model) is not None  # it carries its critic: it can be fine-tuned again
    # Resumed (after a crash, say: the wizard's Resume), it still keeps the model's decoding.
    resumed = _cli("train", "--data", str(folder), "--out", str(model), "--resume", str(tmp_path / "mine-run"),
                   "--epochs", "2", *cache)
    assert resumed.returncode == 0 and "resuming at epoch 1" in resumed.stderr, resumed.stderr[-1500:]
    _, meta = load_model(model)
    assert meta["threshold"] == shipped["threshold"] and meta["trained"]["decoding_from"] == "genres"
    assert meta["track_scales"]["my-songs"] == shipped["track_scales"][like]
    # The whole decoding is kept, the kit, the phrase's rhythm and the feels too (a fine-tune
    # dropped them before session 28: its drums held notes, its notes sat on the bare grid).
    from bytes2beats.engine.feel import unpack_feels

    for key in ("kit", "straight_eighths", "repeat_bars"):
        assert {g: meta[key][g] for g in shipped[key]} == shipped[key]
        assert meta[key]["my-songs"] == shipped[key][like]
    assert {g: meta["feel"][g] for g in shipped["feel"]} == shipped["feel"]
    assert meta["feel"]["my-songs"] == shipped["feel"][like]
    assert "genre_lean" not in meta  # measured for the shipped model's genres, not for the new one
    mine_feels = unpack_feels(meta["feel"]["my-songs"])
    from bytes2beats.engine.generate import Composer

    composer = Composer.load(model, "cpu")
    assert composer.feels("my-songs").shape == mine_feels.shape
    clip = composer.generate(seed=3, genre="my-songs")[0]
    assert clip.rolls.any()  # the new genre plays with them
    again = _cli("train", "--data", str(folder), "--out", str(tmp_path / "again.safetensors"), "--fine-tune",
                 str(model), "--epochs", "1", "--batch-size", "8", "--steps-per-epoch", "2", "--n-critic", "2", *cache)
    assert again.returncode == 0 and "fine-tuning the model mine:" in again.stderr, again.stderr[-1500:]

    # Left to itself, a run takes enough epochs for FINE_TUNE_CRITIC_STEPS critic steps.
    prepared = prepare(RunRequest(data=str(folder), out=str(tmp_path / "x.safetensors"), batch_size=8,
                                  cache_dir=str(tmp_path / "cache")))
    steps = prepared.trainer.steps_per_epoch()
    assert prepared.trainer.cfg.epochs == -(-FINE_TUNE_CRITIC_STEPS // steps) and steps * prepared.trainer.cfg.epochs >= 150
    # A folder too small for 5 batches of 64 gets smaller ones, so that the generator steps.
    small = prepare(RunRequest(data=str(folder), out=str(tmp_path / "x.safetensors"), cache_dir=str(tmp_path / "cache")))
    assert small.trainer.cfg.batch_size == len(small.phrases) // 5 and small.trainer.steps_per_epoch() == 5
    # The new genre starts as the genre chosen, or, --like jazz, as a copy of jazz.
    table = prepared.trainer.generator.genre_embedding.weight.detach()
    assert torch.equal(table[6], table[shipped_genres.index(like)])
    like = prepare(RunRequest(data=str(folder), out=str(tmp_path / "x.safetensors"), batch_size=8, like="jazz",
                              cache_dir=str(tmp_path / "cache")))
    for table in (like.trainer.generator.genre_embedding.weight, like.trainer.critic.genre_projection.weight):
        assert torch.equal(table[6], table[2]) and like.trainer.started_from["like"] == "jazz"

    # Another shape asked for: from scratch, said; by name, refused in one line.
    scratch = _cli("train", "--data", str(folder), "--out", str(tmp_path / "new.safetensors"), "--epochs", "1",
                   "--batch-size", "8", "--steps-per-epoch", "2", "--width", "8", "--steps-per-beat", "4", *cache)
    assert scratch.returncode == 0, scratch.stderr[-1500:]
    assert "training from scratch: --steps-per-beat 4 asks for another shape than the shipped model genres's" \
        in scratch.stderr
    assert load_model(tmp_path / "new.safetensors")[0].cfg.steps_per_beat == 4
    for flags, message in ((["--fine-tune", "genres", "--steps-per-beat", "4"],
                            "--fine-tune genres: the model's steps per beat is 12, and --steps-per-beat 4 asks for "
                            "another: leave --steps-per-beat out, or train --from-scratch"),
                           (["--fine-tune", "rock"], "this model carries no critic, so it cannot be fine-tuned"),
                           (["--fine-tune", "nosuch"], "--fine-tune nosuch: no model named 'nosuch'"),
                           (["--fine-tune", "genres", "--from-scratch"], "are different starts: give one of them"),
                           (["--like", "polka"], "--like polka: the model it starts from knows no such genre (it "
                                                 "knows country, electronic, jazz, metal, pop, rock)"),
                           (["--like", "jazz", "--from-scratch"], "--like is for fine-tuning a model")):
        refused = _cli("train", "--data", str(folder), "--out", str(tmp_path / "no.safetensors"), *flags, *cache)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 1 and len(lines) <= 3 and message in lines[-1], refused.stderr[-800:]
        assert not (tmp_path / "no.safetensors").exists()


@pytest.mark.parametrize("adapt", ["style", "late"])
def test_fine_tuning_may_adapt_only_part_of_the_generator(tmp_path, adapt):
    from bytes2beats.engine.run_request import RunRequest
    from bytes2beats.engine.train import adapted_parameters
    from bytes2beats.engine.train_run import prepare, run

    folder = tmp_path / "my-songs"
    folder.mkdir()
    for song in sorted((LPD / "rock").glob("*.npz")):
        shutil.copy(song, folder)
    prepared = prepare(RunRequest(data=str(folder), out=str(tmp_path / "mine.safetensors"), batch_size=8,
                                  epochs=1, steps_per_epoch=5, adapt=adapt, cache_dir=str(tmp_path / "cache")))
    trainer = prepared.trainer
    trained = set(adapted_parameters(trainer.generator, adapt))
    assert "genre_embedding.weight" in trained
    assert ("to_notes.1.weight" in trained) == (adapt == "late") and "layers.0.0.weight" not in trained
    before = {name: p.detach().clone() for name, p in trainer.generator.named_parameters()}
    critic_before = [p.detach().clone() for p in trainer.critic.parameters()]
    run(prepared)
    after = dict(trainer.generator.named_parameters())
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and changed <= trained  # the rest is the shipped model's, exactly
    assert not torch.equal(before["genre_embedding.weight"][6], after["genre_embedding.weight"][6].detach())
    assert torch.equal(before["genre_embedding.weight"][:6], after["genre_embedding.weight"][:6].detach())
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, trainer.critic.parameters()))  # it learns whole
    _, meta = load_model(tmp_path / "mine.safetensors")
    assert meta["trained"]["train_config"]["adapt"] == adapt


def test_adapting_part_of_a_model_needs_a_model(tmp_path):
    refused = _cli("train", "--data", str(LPD), "--out", str(tmp_path / "x.safetensors"), "--from-scratch",
                   "--adapt", "late")
    assert refused.returncode != 0 and "--adapt late" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_a_new_genre_without_a_chosen_one_starts_between_the_genres():
    """What a model that cannot choose (no genre_lean) keeps for a folder's new genre: each
    per-genre number the mean of its genres', the feels an equal share of each genre's."""
    from bytes2beats.engine.feel import unpack_feels
    from bytes2beats.engine.model_store import resolve_model
    from bytes2beats.engine.train import kept_decoding

    model, shipped = load_model(resolve_model("genres"))
    genres = [*model.cfg.genres, "my-songs"]
    kept = kept_decoding(shipped, genres)
    for key in ("track_scales", "kit", "straight_sixteenths", "straight_eighths", "repeat_bars"):
        assert {g: kept[key][g] for g in shipped[key]} == shipped[key]
        assert kept[key]["my-songs"] == np.mean(list(shipped[key].values()), axis=0).round(6).tolist()
    mine = unpack_feels(kept["feel"]["my-songs"])
    per_genre = [unpack_feels(packed) for packed in shipped["feel"].values()]
    share = len(per_genre[0]) // len(per_genre)
    assert len(mine) == share * len(per_genre)  # each one song's timing, never an average
    assert all(np.array_equal(mine[k * share : (k + 1) * share], feels[:share]) for k, feels in enumerate(per_genre))
    assert kept_decoding(shipped, genres, like="jazz")["kit"]["my-songs"] == shipped["kit"]["jazz"]
