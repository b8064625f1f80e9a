"""A five-family model grown into seventeen families (engine/grow_tracks.py): the grown
networks begin where the five-family ones are, and `train --tracks 17` grows the shipped
model on real songs."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.families import family_tracks, merge_rolls, merged_families
from bytes2beats.engine.grow_tracks import grown_critic, grown_generator, track_sources
from bytes2beats.engine.model import Critic, Generator, load_critic_weights, load_model
from bytes2beats.engine.model_store import resolve_model
from bytes2beats.engine.run_request import RunRequest
from bytes2beats.engine.train_run import RunRefused, prepare

LPD = Path(__file__).parent / "fixtures" / "lpd"
STRINGS_17 = [i for i, t in enumerate(family_tracks(17)) if merged_families(17, 5)[i] == 4]


@pytest.fixture(scope="module")
def shipped():
    generator, _ = load_model(resolve_model("genres"))
    return generator, load_critic_weights(resolve_model("genres"))


def test_lpd17_families_merge_into_lpd5_as_the_lpd_merged_them():
    assert merged_families(17, 5) == [0, 1, 4, 4, 2, 3] + [4] * 11
    assert [family_tracks(17)[i].name for i in STRINGS_17][:3] == ["Chromatic Percussion", "Organ", "Strings"]
    rolls = np.zeros((1, 17, 4, 3), dtype=bool)
    rolls[0, 3, 0, 0] = rolls[0, 8, 1, 1] = rolls[0, 5, 2, 2] = True  # organ, brass, bass
    merged = merge_rolls(rolls, 17, 5)
    assert merged.shape == (1, 5, 4, 3) and merged[0, 4, 0, 0] and merged[0, 4, 1, 1] and merged[0, 3, 2, 2]
    assert merged.sum() == 3
    with pytest.raises(ValueError, match="only five grow, into seventeen"):
        track_sources(17, 5)


def test_the_grown_generator_draws_each_family_as_the_one_it_was_merged_into(shipped):
    generator, _ = shipped
    cfg17 = replace(generator.cfg, track_set=17)
    grown = Generator(cfg17)
    grown.load_state_dict(grown_generator(generator.state_dict(), generator.cfg, cfg17))
    grown.eval()
    torch.manual_seed(0)
    z_shared, z_tracks = torch.randn(2, 64), torch.randn(2, 5, 32)
    genre = torch.tensor([5, 2])
    sources = track_sources(5, 17)
    manners = generator.manner_table[genre, torch.tensor([0, 1])]  # (2, 5, manners): a phrase of the songs' each
    with torch.no_grad():
        five = generator(z_shared, z_tracks, genre, manners=manners)
        # each family the noise and the manner of its source
        seventeen = grown(z_shared, z_tracks[:, sources], genre, manners=manners[:, sources])
    assert seventeen.shape[1] == 17
    assert torch.equal(grown.manner_table, generator.manner_table[..., sources, :])  # each family its source's manners
    for family, source in enumerate(sources):
        assert torch.allclose(seventeen[:, family], five[:, source], atol=1e-5), family_tracks(17)[family].name


def test_the_grown_critic_scores_a_phrase_as_the_five_family_one_scored_it_merged(shipped):
    generator, critic_weights = shipped
    cfg17 = replace(generator.cfg, track_set=17)
    critic5, critic17 = Critic(generator.cfg), Critic(cfg17)
    critic5.load_state_dict(critic_weights)
    critic17.load_state_dict(grown_critic(critic_weights, generator.cfg, cfg17))
    critic5.eval(), critic17.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        five = (generator(torch.randn(3, 64), torch.randn(3, 5, 32), torch.tensor([5, 5, 1])) > 0.5).float()
        seventeen = torch.zeros(3, 17, *five.shape[2:])
        for family, source in enumerate(track_sources(5, 17)):
            if source != 4:
                seventeen[:, family] = five[:, source]
        seventeen[:, STRINGS_17[2]] = five[:, 4]  # the strings play as the family Strings
        merged = five.clone()
        # one of twelve copies of the strings' input weights, each divided by sqrt(12)
        merged[:, 4] /= math.sqrt(len(STRINGS_17))
        genre = torch.tensor([5, 5, 1])
        assert torch.allclose(critic17(seventeen, genre), critic5(merged, genre), atol=1e-3)
    # the input weights' norm is kept, so the gradient penalty begins where it was
    first5, first17 = critic_weights["layers.0.0.weight"], critic17.state_dict()["layers.0.0.weight"]
    assert torch.allclose(first17.norm(), first5.norm())


def test_train_grows_the_shipped_model_into_seventeen_families(tmp_path):
    folder = tmp_path / "rock"  # a genre the shipped model knows
    folder.mkdir()
    for song in sorted((LPD / "rock").glob("*.npz")):
        (folder / song.name).symlink_to(song.resolve())
    model = tmp_path / "mine17.safetensors"
    run = subprocess.run(
        [sys.executable, "-m", "bytes2beats", "train", "--data", str(folder), "--out", str(model), "--tracks", "17",
         "--epochs", "1", "--batch-size", "4", "--steps-per-epoch", "2", "--n-critic", "2",
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-1500:]
    assert "growing genres's 5 families into 17" in run.stderr
    generator, meta = load_model(model)
    # only the folder's genre: the model's others never learned their new families
    assert generator.cfg.track_set == 17 and generator.cfg.genres == ["rock"]
    grown = prepare(RunRequest(data=str(folder), out=str(tmp_path / "x.safetensors"), tracks=17, batch_size=4,
                               cache_dir=str(tmp_path / "cache"))).trainer
    shipped, shipped_meta = load_model(resolve_model("genres"))
    assert torch.equal(grown.generator.genre_embedding.weight[0], shipped.genre_embedding.weight[5])  # rock's row
    own_rate = shipped_meta["trained"]["train_config"]["g_lr"]
    assert grown.cfg.binary_neurons == "deterministic" and grown.cfg.g_lr == pytest.approx(own_rate / 4)  # fine-tuning's
    assert grown.cfg.adapt == "all"  # not fine-tuning's style alone: the new families must learn to differ
    with pytest.raises(RunRefused, match="--adapt style keeps the track rows"):
        prepare(RunRequest(data=str(folder), out=str(tmp_path / "x.safetensors"), tracks=17, adapt="style",
                           cache_dir=str(tmp_path / "cache")))
    assert meta["trained"]["started_from"]["tracks_grown_from"] == 5
    assert "decoding_from" not in meta["trained"]  # the five-family decoding cannot be kept: fitted anew
    assert len(meta["track_scales"]["rock"]) == 17 and len(meta["onset_prior"]["rock"]) == 17
    assert load_critic_weights(model) is not None  # it can be fine-tuned again, as seventeen families
    again = subprocess.run(
        [sys.executable, "-m", "bytes2beats", "train", "--data", str(folder), "--out", str(tmp_path / "again.safetensors"),
         "--fine-tune", str(model), "--epochs", "1", "--batch-size", "4", "--steps-per-epoch", "2", "--n-critic", "2",
         "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "fine-tuning the model mine17:" in again.stderr, again.stderr[-1500:]
    assert "its decoding kept" in again.stderr
    shrink = subprocess.run(
        [sys.executable, "-m", "bytes2beats", "train", "--data", str(folder), "--out", str(tmp_path / "no.safetensors"),
         "--fine-tune", str(model), "--tracks", "5", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600)
    lines = shrink.stderr.strip().splitlines()
    assert shrink.returncode == 1 and "the model's tracks is 17, and --tracks 5 asks for another" in lines[-1], \
        shrink.stderr[-800:]
    assert not (tmp_path / "no.safetensors").exists()
