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
    assert float(x.detach().min()) >= 0 and float(x.detach().max()) <= 1
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


def test_the_critics_onset_view_reads_where_in_the_beat_notes_start_and_end():
    from bytes2beats.engine.model import OnsetStatistics

    cfg = ModelConfig(steps_per_beat=12, n_bars=1, critic_onset_statistics=True)
    view = OnsetStatistics(cfg, 8)
    roll = torch.zeros(1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches)  # one bar: 4 beats of 12 steps
    roll[0, 1, 0:6, 40] = 1  # beat 1: starts on the beat (position 0), ends at position 5
    roll[0, 1, 12 + 5 : 12 + 6, 41] = 1  # beat 2: a one-step note at position 5
    roll[0, 1, 24:36, 50] = 1  # beat 3: a whole beat, position 0 to 11
    roll[0, 1, 36:48, 50] = 1  # beat 4: the same pitch held on: no new onset
    roll[0, 0, 47, 30] = 1  # drums: one note on the very last step, ended by the phrase's end
    profiles = view.profiles(roll)
    assert profiles.shape == (1, cfg.n_tracks, 2 * 12 + 1)
    onsets, offsets, per_step = profiles[0, :, :12], profiles[0, :, 12:24], profiles[0, :, 24]
    n = 3  # track 1 starts three notes: on positions 0, 5 and 0
    expected_on = torch.zeros(12)
    expected_on[0], expected_on[5] = 2 / (n + 1), 1 / (n + 1)
    expected_off = torch.zeros(12)
    expected_off[5], expected_off[11] = 2 / (n + 1), 1 / (n + 1)  # positions 5, 5 and 11 (the held note)
    assert torch.allclose(onsets[1], expected_on) and torch.allclose(offsets[1], expected_off)
    assert per_step[1] == pytest.approx(n / 48)
    assert onsets[0, 11] == offsets[0, 11] == 0.5 and per_step[0] == pytest.approx(1 / 48)
    assert onsets[2:].abs().sum() == offsets[2:].abs().sum() == per_step[2:].abs().sum() == 0  # silent tracks
    # a profile, not a count: the same rhythm twice as dense (an octave doubling) reads nearly the same
    doubled = roll.clone()
    doubled[0, 1, :, 52:66] = roll[0, 1, :, 40:54]
    again = view.profiles(doubled)[0, 1]
    assert torch.allclose(again[:12] / again[:12].sum(), onsets[1] / onsets[1].sum())
    assert again[24] == pytest.approx(2 * n / 48)
    assert view(roll).shape == (1, 8)


@pytest.mark.parametrize("view, name", [("critic_onset_statistics", "onset"), ("critic_repetition_statistics", "repetition")])
def test_a_new_view_starts_at_zero_and_passes_the_generators_gradient(view, name):
    from dataclasses import replace

    from bytes2beats.engine.train import binary_neurons

    torch.manual_seed(0)
    base = ModelConfig(steps_per_beat=12, n_bars=2, genres=["rock", "pop"], g_width=8, d_width=8,
                       time_layers="staged", critic_bar_statistics=True)
    with_view = replace(base, **{view: True})
    before, after = Critic(base).eval(), Critic(with_view).eval()
    missing, unexpected = after.load_state_dict(before.state_dict(), strict=False)
    assert not unexpected and missing and all(key.startswith(f"{name}_") for key in missing)
    assert all(n.startswith(f"{name}_") for n, _ in after.named_parameters() if n not in before.state_dict())
    g = Generator(with_view)
    genre = torch.tensor([0, 1, 1])
    probabilities = g(torch.randn(3, base.z_shared), torch.randn(3, 5, base.z_track), genre)
    notes = binary_neurons(probabilities, "deterministic")
    for x in (probabilities, notes):
        assert torch.equal(after(x, genre), before(x, genre))  # the zero branch adds exactly nothing
    # once it has weight, the view's own score reaches the generator, through binary neurons too
    getattr(after, f"{name}_score").weight.data.fill_(1.0)
    getattr(after, f"{name}_genre_projection").weight.data.fill_(0.1)
    assert not torch.equal(after(notes, genre), before(notes, genre))
    h = getattr(after, f"{name}_statistics")(notes)
    view_score = getattr(after, f"{name}_score")(h).squeeze(1) + (getattr(after, f"{name}_genre_projection")(genre) * h).sum(1)
    g.zero_grad()
    view_score.sum().backward()
    grads = [p.grad for p in g.parameters() if p.grad is not None]
    assert grads and any(grad.abs().sum() > 0 for grad in grads)


def test_the_variety_view_compares_a_group_of_real_or_of_fake_phrases_never_both():
    from dataclasses import replace

    from bytes2beats.engine.model import group_variety
    from bytes2beats.engine.train import critic_loss

    torch.manual_seed(0)
    base = ModelConfig(steps_per_beat=12, n_bars=2, genres=["rock", "pop"], g_width=8, d_width=8,
                       time_layers="staged", critic_bar_statistics=True)
    before, after = Critic(base).eval(), Critic(replace(base, critic_batch_variety=True)).eval()
    missing, _ = after.load_state_dict(before.state_dict(), strict=False)
    assert missing == ["variety_score.weight", "variety_score.bias"]
    real = (torch.rand(8, 5, base.n_steps, base.n_pitches) > 0.97).float()
    genre = torch.randint(0, 2, (8,))
    assert torch.equal(after(real, genre), before(real, genre))  # zero at first: a warm start scores as before
    # each feature's spread over the group: alike phrases have none, a group of one none either
    features = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 1.0]])
    assert torch.allclose(group_variety(features)[:, 0], torch.full((4,), 5.0 ** 0.5))
    assert torch.allclose(group_variety(features)[:, 1], torch.full((4,), 1e-4))
    assert torch.equal(group_variety(features[:3]), torch.zeros(3, 2))
    # with weight, a phrase's score depends on its group: in the critic's joined batch (real,
    # fake, interpolates) a real phrase's score never depends on a fake one
    after.variety_score.weight.data.normal_()
    fake = torch.rand_like(real)
    scores = lambda f: after(torch.cat([real, f, (real + f) / 2]), genre.repeat(3))  # noqa: E731
    moved = fake.clone()
    moved[0] = 1.0
    a, b = scores(fake), scores(moved)
    assert torch.equal(a[:8], b[:8]) and not torch.equal(a[8:12], b[8:12]) and torch.equal(a[12:16], b[12:16])
    assert critic_loss(after, real, fake, genre)["loss"].isfinite()


def test_the_bar_tie_starts_at_zero_and_pulls_each_tracks_bars_to_one():
    from dataclasses import replace

    torch.manual_seed(0)
    base = ModelConfig(steps_per_beat=12, n_bars=4, genres=["rock", "pop"], g_width=8, time_layers="staged",
                       chords=True, chord_register=True)
    before, tied = Generator(base).eval(), Generator(replace(base, bar_tie=True)).eval()
    missing, unexpected = tied.load_state_dict(before.state_dict(), strict=False)
    assert missing == ["bar_tie"] and not unexpected
    z, z_tracks, genre = torch.randn(3, base.z_shared), torch.randn(3, 5, base.z_track), torch.tensor([0, 1, 1])
    with torch.no_grad():
        assert torch.equal(tied(z, z_tracks, genre), before(z, z_tracks, genre))  # at zero it adds nothing
    # what the tie does to the first layer's bars: a share of 1 makes them the phrase's mean
    # bar, 0 leaves them, and each track has its own
    with torch.no_grad():
        tied.bar_tie.zero_()
        tied.bar_tie[0] = 1.0
        tied.bar_tie[3] = 0.5
    first = torch.randn(3 * 5, 32, 4, 1)
    out = tied._tied_bars(first, 3).view(3, 5, 32, 4)
    bars = first.view(3, 5, 32, 4)
    mean = bars.mean(3, keepdim=True)
    assert torch.allclose(out[:, 0], mean[:, 0].expand(-1, -1, 4))  # drums: every bar alike
    assert torch.equal(out[:, 1], bars[:, 1])  # piano: drawn apart as before
    assert torch.allclose(out[:, 3], (bars[:, 3] + mean[:, 3]) / 2)  # bass: half-way
    # regenerating a track alone still draws it exactly as the whole phrase does
    with torch.no_grad():
        whole = tied(z, z_tracks, genre)
        bass = tied(z, z_tracks[:, [3]], genre, tracks=[3])
    assert torch.allclose(bass[:, 0], whole[:, 3], atol=1e-6)
    # and the share learns from the generator's loss
    tied.train()
    tied(z, z_tracks, genre).mean().backward()
    assert tied.bar_tie.grad is not None and tied.bar_tie.grad.abs().sum() > 0


def test_the_critics_repetition_view_reads_how_alike_a_tracks_bars_are():
    from bytes2beats.engine.model import RepetitionStatistics

    cfg = ModelConfig(steps_per_beat=4, n_bars=4, lowest_pitch=24, critic_repetition_statistics=True)
    view = RepetitionStatistics(cfg, 8)
    bar = cfg.n_steps // cfg.n_bars  # 16 steps
    roll = torch.zeros(1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches)
    for b in range(4):  # drums: the same groove every bar, a hit on each beat
        roll[0, 0, b * bar : (b + 1) * bar : 4, 12] = 1
    for b in range(4):  # piano: one C held through bars 1 and 2 (one onset), an E in bar 3, silent in bar 4
        pitch, start = (24, 0) if b < 2 else (28, 0)
        if b < 3:
            roll[0, 1, b * bar + start : (b + 1) * bar, pitch] = 1
    alike = view.similarities(roll)[0]  # (T, 2, pairs): pairs (1,2) (1,3) (1,4) (2,3) (2,4) (3,4)
    assert alike.shape == (cfg.n_tracks, 2, 6)
    busy = (2 / 3) ** 2  # four onsets a bar: |v| = 2, scaled to 2 / 3
    assert torch.allclose(alike[0, 0], torch.full((6,), busy))  # a groove repeated alike in every pair
    classes = (4 / 5) ** 2  # four hits on one pitch class: |v| = 4
    assert torch.allclose(alike[0, 1], torch.full((6,), classes))
    rhythm, pitch_classes = alike[1]
    # bar 2 holds bar 1's C (no onset of its own), bar 3 starts an E on its first step
    assert rhythm[0] == 0 and rhythm[1] == pytest.approx(0.25) and rhythm.max() == pytest.approx(0.25)
    c_held = (16 / 17) ** 2  # sixteen steps of C in bars 1 and 2
    assert pitch_classes[0] == pytest.approx(c_held) and pitch_classes[1] == 0  # C against E
    assert pitch_classes[2] == pitch_classes[4] == pitch_classes[5] == 0  # against the silent bar 4
    assert alike[2:].abs().sum() == 0  # silent tracks
    assert view(roll).shape == (1, 8)
    # nearly silent bars read near zero, and their gradient stays bounded (the gradient penalty)
    faint = torch.full((1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches), 1e-4, requires_grad=True)
    view.similarities(faint).sum().backward()
    assert view.similarities(faint.detach()).abs().max() < 1e-2 and faint.grad.abs().max() < 1


def test_the_onset_view_gives_the_gradient_penalty_nothing_to_push_on_in_silence():
    """Onsets and offsets each through their own relu, whose gradient at 0 is 0: where silence
    meets silence (most of a real roll, and of an interpolate between two) the view's gradient
    is zero, as the definition's relu(x[s] - x[s-1]) and relu(x[s] - x[s+1]) have it. An
    algebraically equal relu(d) - d for relu(-d) put a gradient on every cell instead."""
    from bytes2beats.engine.model import OnsetStatistics

    cfg = ModelConfig(steps_per_beat=4, n_bars=1, critic_onset_statistics=True)
    view = OnsetStatistics(cfg, 8)
    weights = torch.randn(cfg.n_tracks, 2 * 4 + 1)
    silent = torch.zeros(1, cfg.n_tracks, cfg.n_steps, cfg.n_pitches, requires_grad=True)
    (view.profiles(silent) * weights).sum().backward()
    assert torch.equal(silent.grad, torch.zeros_like(silent))
    # a real-like roll: the gradient is the definition's, taken literally
    roll = (torch.rand(2, cfg.n_tracks, cfg.n_steps, cfg.n_pitches) < 0.1).float().requires_grad_(True)
    (view.profiles(roll) * weights).sum().backward()
    x = roll.detach().clone().requires_grad_(True)
    pad = x.new_zeros(2, cfg.n_tracks, 1, cfg.n_pitches)
    on = torch.relu(x - torch.cat([pad, x[:, :, :-1]], 2)).sum(3).view(2, cfg.n_tracks, -1, 4).sum(2)
    off = torch.relu(x - torch.cat([x[:, :, 1:], pad], 2)).sum(3).view(2, cfg.n_tracks, -1, 4).sum(2)
    total = on.sum(2, keepdim=True)
    literal = torch.cat([on / (total + 1), off / (total + 1), total / cfg.n_steps], 2)
    assert torch.allclose(view.profiles(roll), literal)
    (literal * weights).sum().backward()
    assert torch.allclose(roll.grad, x.grad)
