"""The feature critic: a second critic that reads each phrase's statistics as the classifier
two-sample test does. Its statistics are the test's own, it learns to tell notes off the grid
from the songs', and a real training run carries it through a checkpoint. The marginal term,
which compares a batch's distribution of those statistics with the songs', hears a batch of
phrases all alike in manner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.feature_critic import (
    FeatureCritic,
    StatisticsMarginals,
    feature_critic_loss,
    feature_generator_loss,
    phrase_statistics,
)
from bytes2beats.engine.model import ModelConfig
from bytes2beats.engine.run_request import RunPaths
from bytes2beats.engine.train import TrainConfig, Trainer
from bytes2beats.engine.two_sample import phrase_features

LPD = Path(__file__).parent / "fixtures" / "lpd"


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    return build_phrases(LPD, PhraseSpec(steps_per_beat=12), cache_dir=tmp_path_factory.mktemp("cache"), workers=1)


def late(rolls: torch.Tensor) -> torch.Tensor:
    """Every pitched note a step late (a 48th): the jitter the issue hears."""
    out = torch.zeros_like(rolls)
    out[:, 1:, 1:] = rolls[:, 1:, :-1]
    out[:, 0] = rolls[:, 0]
    return out


def test_the_statistics_are_the_classifier_tests_features(phrases):
    cfg = ModelConfig(steps_per_beat=12)
    rolls = np.asarray(phrases.rolls[:])
    theirs, names = phrase_features(rolls, [t.name for t in cfg.tracks], 0, 12, cfg.lowest_pitch)
    ours = phrase_statistics(torch.as_tensor(rolls, dtype=torch.float32), cfg).numpy()
    assert ours.shape == theirs.shape
    # a silent track's undefined values (NaN in the test) are 0 here; the bar similarity is
    # counted as the repetition term counts it; a spread or a tonal distance is kept off zero
    # under its square root (at most 0.1 and 0.03 more at zero, nothing to speak of elsewhere)
    assert np.isnan(theirs).any()  # the fixtures have silent tracks: the NaN case is compared
    theirs = np.nan_to_num(theirs)
    floored = [k for k, name in enumerate(names) if "spread" in name or "tonal distance" in name]
    same = [k for k, name in enumerate(names) if name != "bar similarity" and k not in floored]
    assert np.allclose(ours[:, same], theirs[:, same], atol=2e-3)
    assert np.allclose(ours[:, floored], theirs[:, floored], atol=0.1)


def test_it_learns_to_hear_notes_off_the_grid_and_asks_the_generator_for_the_songs(phrases):
    torch.manual_seed(0)
    cfg = ModelConfig(steps_per_beat=12)
    real = torch.as_tensor(np.asarray(phrases.rolls[:]), dtype=torch.float32)
    off = late(real)
    critic = FeatureCritic(cfg, real.bool())
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
    for _ in range(30):
        loss, accuracy = feature_critic_loss(critic, real, off, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert accuracy > 0.9
    with torch.no_grad():
        assert feature_generator_loss(critic, off, None) > feature_generator_loss(critic, real, None) + 1
    # its gradient reaches the generated notes (straight-through, every cell the statistics count)
    notes = off.clone().requires_grad_(True)
    feature_generator_loss(critic, notes, None).backward()
    assert notes.grad is not None and notes.grad[:, 1:].abs().sum() > 0


def test_a_real_run_with_the_feature_critic_keeps_it_in_its_checkpoint_and_resumes_it(phrases, tmp_path):
    cfg = ModelConfig(steps_per_beat=12, g_width=8, d_width=8, genres=phrases.genres)
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=4, n_critic=2, feature_critic_loss=1.0)
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    assert trainer.fit(show_progress=False)
    records = [json.loads(line) for line in trainer.paths.log.read_text().splitlines()]
    assert all(0 <= r["feature_critic_accuracy"] <= 1 for r in records)
    state = torch.load(trainer.paths.checkpoint, weights_only=False)
    assert "feature_critic" in state and "opt_f" in state
    resumed = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    resumed.load_checkpoint(trainer.paths.checkpoint)
    for name, value in trainer.feature_critic.state_dict().items():
        assert torch.equal(value, resumed.feature_critic.state_dict()[name]), name
    assert "feature_critic_loss" in TrainConfig(feature_critic_loss=-1).problem()


def test_the_marginal_term_hears_a_batch_all_alike_where_the_songs_vary(phrases, tmp_path):
    cfg = ModelConfig(steps_per_beat=12, genres=phrases.genres)
    real = torch.as_tensor(np.asarray(phrases.rolls[:]), dtype=torch.float32)
    genre = torch.as_tensor(phrases.genre)
    stats = phrase_statistics(real, cfg)
    marginals = StatisticsMarginals(cfg, stats, genre)
    rock = genre == phrases.genres.index("rock")
    songs = marginals(real[rock], genre[rock])
    # every phrase the rock phrase nearest the rock phrases' mean statistics: each statistic's
    # mean about the songs', its spread none (what a phrase-by-phrase critic scores well)
    z = (stats[rock] - marginals.mean) / marginals.scale
    middle = real[rock][(z - z.mean(0)).norm(dim=1).argmin()]
    alike = marginals(middle.expand(int(rock.sum()), -1, -1, -1), genre[rock])
    assert songs < 0.05 and alike > 4 * songs
    # its gradient reaches the notes (straight-through, every cell the statistics count)
    notes = middle.expand(8, -1, -1, -1).clone().requires_grad_(True)
    marginals(notes, genre[rock][:8]).backward()
    assert torch.isfinite(notes.grad).all() and notes.grad.abs().sum() > 0

    # a real run with the term
    cfg = ModelConfig(steps_per_beat=12, g_width=8, d_width=8, genres=phrases.genres)
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=2, n_critic=1, marginal_loss=0.1,
                       binary_neurons="deterministic")
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    assert trainer.marginals.quantiles.shape[:2] == (2, 257) and trainer.fit(show_progress=False)
    assert "marginal_loss" in TrainConfig(marginal_loss=-1).problem()
