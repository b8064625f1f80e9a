"""The nearest-take term (engine/nearest_take.py): each real phrase pulls the nearest of a few
phrases drawn for it toward itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.model import Generator, ModelConfig
from bytes2beats.engine.nearest_take import HarmonyGaps, nearest_noises, nearest_take_gap
from bytes2beats.engine.run_request import RunPaths
from bytes2beats.engine.train import TrainConfig, Trainer, binary_neurons

LPD = Path(__file__).parent / "fixtures" / "lpd"


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    return build_phrases(LPD, PhraseSpec(), cache_dir=tmp_path_factory.mktemp("cache"), workers=1)


def test_the_take_kept_is_the_one_that_plays_fewest_cells_otherwise():
    # a generator that plays its shared noise's sign in the first cells: the nearest take is
    # the draw whose signs agree most with the phrase's notes, whatever its other noise
    def generator(z_shared, z_track, genre, chords, manners=None):
        played = torch.zeros(len(z_shared), 1, 2, 8)
        played.view(len(z_shared), -1)[:, :4] = (z_shared[:, :4] > 0).float()
        return played

    draws = iter([torch.tensor([[1.0, 1, 1, 1], [-1, 1, -1, 1], [-1, -1, -1, -1],  # phrase 0's three takes
                                [1, -1, 1, 1], [-1, -1, -1, 1], [1, 1, 1, 1]])])  # phrase 1's

    def noise(n):
        z_shared = next(draws)
        assert len(z_shared) == n
        return z_shared, torch.arange(n, dtype=torch.float32).view(n, 1, 1)

    real = torch.zeros(2, 1, 2, 8)
    real[0].view(-1)[:4] = torch.tensor([0.0, 1, 0, 1])  # take 1 plays it exactly
    real[1].view(-1)[:4] = torch.tensor([1.0, 1, 1, 0])  # takes 0, 1, 2 differ in 2, 4 and 1 cells
    z_shared, z_track = nearest_noises(generator, noise, real, None, None, None, takes=3)
    assert z_track.flatten().tolist() == [1.0, 5.0]
    assert z_shared.tolist() == [[-1.0, 1, -1, 1], [1, 1, 1, 1]]


def test_the_gap_counts_the_cells_played_otherwise_and_moves_only_those():
    real = torch.zeros(1, 1, 2, 4)
    real[0, 0, 0, :2] = 1
    probabilities = torch.full((1, 1, 2, 4), 0.3, requires_grad=True)
    with torch.no_grad():
        probabilities[0, 0, 0, 0] = 0.8  # a note played where the phrase plays one
        probabilities[0, 0, 1, 3] = 0.6  # a note the phrase does not play
    gap = nearest_take_gap(binary_neurons(probabilities, "deterministic"), real)
    assert gap.item() == pytest.approx(2 / 8)  # the missing note and the extra one
    gap.backward()
    moved = probabilities.grad[0, 0] != 0
    assert moved.tolist() == [[False, True, False, False], [False, False, False, True]]
    assert probabilities.grad[0, 0, 0, 1] < 0 < probabilities.grad[0, 0, 1, 3]  # the one raised, the other lowered


def test_the_harmony_view_reads_the_bands_pitch_classes_half_bar_by_half_bar():
    # two tracks (a drum track and one pitched), 2 half bars of 4 steps, two octaves from C
    gaps = HarmonyGaps(pitched=[1], steps_per_half_bar=4, lowest_pitch=24)
    real = torch.zeros(4, 2, 8, 24)
    real[:, 1, :4, 4] = 1  # E in the first half bar, the second silent
    takes = torch.zeros(4, 2, 8, 24)
    takes[0, 1, :2, 16] = 1  # the same pitch class an octave up, held half as long
    takes[1, 1, :4, 5] = 1  # F: another pitch class
    takes[2, 1, :4, 4] = takes[2, 0, :4, 5] = 1  # E, and a drum on F's row, which is no pitch
    takes[3, 1, :4, 4] = takes[3, 1, :4, 5] = 1  # E and F
    takes[:, 1, 4:, 7] = 1  # every take plays G where the phrase rests: not counted
    assert gaps(takes, real).tolist() == pytest.approx([0.0, 1.0, 0.0, 1 - 0.5 ** 0.5])

    # on straight-through notes its gradient reaches the notes played alone: the E and F take's
    # F taken away and its E kept, no E added to the F take (a profile has no register to add
    # it in), no cell that is silent moved
    probabilities = (0.2 + 0.6 * takes).requires_grad_(True)
    gaps(binary_neurons(probabilities, "deterministic"), real).sum().backward()
    grad = probabilities.grad
    assert grad[3, 1, :4, 5].gt(0).all() and grad[3, 1, :4, 4].lt(0).all()  # descent: F down, E up
    assert grad[takes == 0].eq(0).all()


def test_the_term_brings_the_takes_nearer_the_songs_phrases(phrases):
    torch.manual_seed(0)
    cfg = ModelConfig(g_width=8, d_width=8)
    generator = Generator(cfg)
    real = torch.as_tensor(phrases.rolls[:16]).float()
    noise = lambda n: (torch.randn(n, cfg.z_shared), torch.randn(n, cfg.n_tracks, cfg.z_track))  # noqa: E731
    optimizer = torch.optim.Adam(generator.parameters(), lr=3e-3)

    def step():
        kept = nearest_noises(generator, noise, real, None, None, None, takes=4)
        gap = nearest_take_gap(binary_neurons(generator(*kept, None, None), "deterministic"), real)
        optimizer.zero_grad()
        gap.backward()
        optimizer.step()
        return gap.item()

    first = step()
    for _ in range(30):
        last = step()
    assert last < first / 2  # an untrained generator plays about half its cells


def test_a_training_run_with_the_term_trains_and_the_setting_is_checked(phrases, tmp_path):
    cfg = ModelConfig(g_width=8, d_width=8)
    tcfg = TrainConfig(epochs=1, batch_size=4, steps_per_epoch=2, n_critic=1, binary_neurons="deterministic",
                       nearest_take_loss=100, nearest_takes=3, nearest_take_view="harmony")
    trainer = Trainer(cfg, tcfg, phrases, RunPaths.for_model(tmp_path / "m.safetensors"), torch.device("cpu"),
                      log=lambda s: None)
    before = [p.detach().clone() for p in trainer.generator.parameters()]
    assert trainer.fit(show_progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters()))
    assert "nearest_takes" in TrainConfig(nearest_takes=0).problem()
    assert "nearest_take_loss" in TrainConfig(nearest_take_loss=-1).problem()
    assert "nearest_take_view" in TrainConfig(nearest_take_view="chords").problem()
