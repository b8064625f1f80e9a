"""The model: shapes, self-attention, the hybrid noise, self-describing checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.model import (
    Critic,
    Generator,
    ModelConfig,
    ModelFileError,
    SelfAttention,
    load_model,
    overlapping,
    save_model,
    time_stages,
)


@pytest.mark.parametrize("track_set", [5, 17])
def test_generator_and_critic_shapes(track_set):
    cfg = ModelConfig(track_set=track_set, g_width=16, d_width=16)
    g, d = Generator(cfg), Critic(cfg)
    x = g(torch.randn(3, cfg.z_shared), torch.randn(3, track_set, cfg.z_track))
    assert x.shape == (3, track_set, 64, 84)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert d(x).shape == (3,)


def test_twelve_steps_a_beat_and_genres_fit_too():
    cfg = ModelConfig(steps_per_beat=12, n_bars=2, genres=["rock", "pop"], g_width=16, d_width=16)
    g, d = Generator(cfg), Critic(cfg)
    genre = torch.tensor([0, 1])
    x = g(torch.randn(2, cfg.z_shared), torch.randn(2, 5, cfg.z_track), genre)
    assert x.shape == (2, 5, 2 * 48, 84)
    assert d(x, genre).shape == (2,)


@pytest.mark.parametrize("steps_per_beat", [4, 6, 12])
@pytest.mark.parametrize("time_layers", ["staged", "per-beat"])
def test_both_time_layers_fit_every_grid(steps_per_beat, time_layers):
    cfg = ModelConfig(steps_per_beat=steps_per_beat, time_layers=time_layers, g_width=8, d_width=8)
    g, d = Generator(cfg), Critic(cfg)
    x = g(torch.randn(2, cfg.z_shared), torch.randn(2, 5, cfg.z_track))
    assert x.shape == (2, 5, cfg.n_steps, 84) and d(x).shape == (2,)
    # the seed paper's six transposed convolutions and five convolutions, whatever the grid
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == 6
    assert sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1) for m in d.modules()) == 5


def test_staged_time_layers_go_through_16ths_with_overlapping_kernels():
    assert time_stages(12) == [4, 3] and time_stages(4) == [4] and time_stages(6) == [6]
    for factor in (3, 4, 12):
        kernel, padding = overlapping(factor)
        assert kernel > factor
        assert (16 - 1) * factor - 2 * padding + kernel == 16 * factor  # exactly `factor` times longer
    # The 48-step generator's last layer spreads each 16th over seven steps (its own three and
    # two on each side), so every step is drawn from two or three neighbouring 16ths.
    cfg = ModelConfig(steps_per_beat=12, time_layers="staged", g_width=8, d_width=8)
    last = Generator(cfg).to_notes[-2]
    assert last.kernel_size == (7, 12) and last.stride == (3, 12)


def test_old_models_keep_their_per_beat_layers():
    from bytes2beats.engine.model_store import resolve_model

    generator, _ = load_model(resolve_model("rock"))
    assert generator.cfg.time_layers == "per-beat"
    with pytest.raises(ValueError, match="unknown time_layers"):
        ModelConfig(time_layers="sideways")


def test_self_attention_starts_as_identity_and_learns_a_gamma():
    block = SelfAttention(16)
    x = torch.randn(2, 16, 4, 7)
    assert torch.equal(block(x), x)
    block.gamma.data.fill_(0.5)
    assert not torch.equal(block(x), x)
    gen = Generator(ModelConfig(g_width=16))
    assert any(isinstance(m, SelfAttention) for m in gen.modules())
    assert not any(isinstance(m, SelfAttention) for m in Generator(ModelConfig(g_width=16, attention=False)).modules())


def test_regenerating_one_track_leaves_the_others_unchanged():
    torch.manual_seed(0)
    composer = Composer(Generator(ModelConfig(g_width=16)))
    idea = composer.new_idea(seed=3, bars=8)
    changed = composer.regenerate_track(idea, track=2, seed=99)
    before, after = composer.probabilities([idea, changed])
    assert before.shape == (5, 128, 128)
    for t in range(5):
        same = np.array_equal(before[t], after[t])
        assert same == (t != 2)


def test_generation_is_reproducible_by_seed():
    torch.manual_seed(0)
    composer = Composer(Generator(ModelConfig(g_width=16)))
    a = composer.generate(seed=7, threshold=0.5)[0]
    b = composer.generate(seed=7, threshold=0.5)[0]
    c = composer.generate(seed=8, threshold=0.5)[0]
    assert np.array_equal(a.rolls, b.rolls) and not np.array_equal(a.probabilities, c.probabilities)
    lower = composer.to_clip(a.probabilities, threshold=0.3)
    assert lower.rolls.sum() >= a.rolls.sum()


def test_interpolation_runs_from_one_idea_to_the_other():
    composer = Composer(Generator(ModelConfig(g_width=16)))
    a, b = composer.new_idea(1), composer.new_idea(2)
    path = composer.interpolate(a, b, 5)
    assert np.allclose(path[0].z_shared, a.z_shared) and np.allclose(path[-1].z_shared, b.z_shared, atol=1e-6)


def test_checkpoint_rebuilds_its_model_from_its_own_config(tmp_path):
    cfg = ModelConfig(track_set=17, g_width=16, genres=["jazz", "rock"])
    g = Generator(cfg).eval()
    path = save_model(g, tmp_path / "m.safetensors", {"threshold": 0.42})
    loaded, meta = load_model(path)
    assert loaded.cfg == cfg and meta["threshold"] == 0.42
    z = (torch.randn(1, cfg.z_shared), torch.randn(1, 17, cfg.z_track), torch.tensor([1]))
    assert torch.equal(loaded(*z), g(*z))


def test_a_file_that_is_not_a_model_is_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError) as caught:
        load_model(bad)
    assert "\n" not in str(caught.value)


def test_the_critics_bar_view_tells_a_silent_bar_from_one_with_a_stray_note():
    from bytes2beats.engine.model import BarStatistics

    cfg = ModelConfig(steps_per_beat=4, critic_bar_statistics=True)
    view = BarStatistics(cfg, 8)
    silent = torch.zeros(1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches)
    stray = silent.clone()
    stray[0, 1, 20, 40] = 1.0  # one 16th in bar 2 of track 1
    bars = stray.reshape(1, cfg.n_tracks, cfg.n_bars, -1)
    assert bars[0, 1, 1].amax() == 1 and bars[0, 1, 0].amax() == 0 and bars[0, 1, 2:].amax() == 0
    assert not torch.equal(view(silent), view(stray))
    critic = Critic(cfg)
    assert critic(stray).shape == (1,)
    critic.bar_score.weight.data.fill_(1.0)
    assert critic.eval()(stray) != critic(silent)
