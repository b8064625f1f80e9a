"""Manners (engine/manner.py): each track of a phrase told how to play. The numbers are what a
producer would count on a made-up part; the term asks generated notes for the manner given and
its gradient reaches them; a real run keeps the songs' manners in the model file, a warm start
adds the manners at zero, and a manner model's clips draw a manner from the songs' and keep it
when another track is regenerated."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.accompany import _targets, accompany, read_part
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.families import merge_to_families
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.manner import (
    TABLE_PHRASES,
    arrangements,
    manner_gap,
    manner_mask,
    manner_table,
    phrase_manners,
    stratified,
)
from bytes2beats.engine.model import ModelConfig
from bytes2beats.engine.music_io import read_music, write_midi
from bytes2beats.engine.pianoroll import Multitrack, resample
from bytes2beats.engine.run_request import RunPaths
from bytes2beats.engine.train import TrainConfig, Trainer, binary_neurons, finish

LPD = Path(__file__).parent / "fixtures" / "lpd"
CFG = ModelConfig(steps_per_beat=4, n_bars=4)  # 16 steps a bar


@pytest.fixture(scope="module")
def phrases(tmp_path_factory):
    return build_phrases(LPD, PhraseSpec(), cache_dir=tmp_path_factory.mktemp("cache"), workers=1)


def test_the_manners_count_what_a_producer_hears():
    x = torch.zeros(1, 5, 64, 84)
    x[0, 3, :, 10] = 1  # bass: one pitch, with a step of air at each bar line: a note of 15 steps a bar
    x[0, 3, ::16, 10] = 0
    for step in range(0, 64, 2):  # piano: 8ths-ish stabs of one step, a fifth apart in turn
        x[0, 1, step, 30 + 7 * (step // 2 % 2)] = 1
    x[0, 0, ::4, 2] = 1  # drums: four hits a bar
    m = phrase_manners(x, CFG)[0]
    drums, piano, bass = m[0].tolist(), m[1].tolist(), m[3].tolist()
    assert drums == [pytest.approx(math.log1p(4)), 0, 0, 0]  # the drums' onsets a bar only
    assert bass == pytest.approx([math.log1p(1), math.log1p(15), 1.0, 0.0])
    assert piano == pytest.approx([math.log1p(8), math.log1p(1), 0.0, math.log1p(7)])
    assert m[2].tolist() == [0, 0, 0, 0]  # a silent guitar
    assert manner_mask(CFG)[0].tolist() == [1, 0, 0, 0]


def test_the_term_asks_for_the_manner_given_and_reaches_the_notes(phrases):
    real = torch.as_tensor(np.asarray(phrases.rolls[:16])).float()
    manners = phrase_manners(real, CFG)
    mean, scale = manners.mean(0), manners.std(0) + 0.05
    asked = (manners - mean) / scale
    assert manner_gap(real, asked, CFG, mean, scale).item() == 0  # each phrase plays its own
    assert manner_gap(real.roll(1, 0), asked, CFG, mean, scale).item() > 0.1  # another's: far
    held_only = asked.clone()
    held_only[:, 1:, 2] += 1  # asked for held notes a spread further than played, and nothing else
    plain, weighted = (manner_gap(real, held_only, CFG, mean, scale, w).item() for w in (1, 4))
    assert plain > 0 and weighted == pytest.approx(4 * plain)
    probabilities = torch.full_like(real, 0.3).requires_grad_(True)
    probabilities.data[real > 0] = 0.7
    manner_gap(binary_neurons(probabilities, "deterministic"), asked.roll(1, 0), CFG, mean, scale).backward()
    assert probabilities.grad.abs().sum() > 0


def _trainer(phrases, folder, **model_changes):
    cfg = ModelConfig(g_width=8, d_width=8, genres=phrases.genres, **model_changes)
    tcfg = TrainConfig(epochs=1, batch_size=8, steps_per_epoch=3, n_critic=1, transpose=2, sample_every=100,
                       checkpoint_every=1, manner_loss=1.0)
    return Trainer(cfg, tcfg, phrases, RunPaths.for_model(folder / "m.safetensors"), torch.device("cpu"),
                   log=lambda s: None)


def test_a_manner_model_trains_keeps_the_songs_manners_and_draws_them(phrases, tmp_path):
    plain = _trainer(phrases, tmp_path / "plain")
    plain.save_checkpoint()
    trainer = _trainer(phrases, tmp_path / "manners", manners=True)
    trainer.warm_start(plain.paths.checkpoint)
    # a warm start adds the manners at zero: the same notes as its source, whatever the manner
    noise, genre = plain._noise(4), plain.genres[:4]
    plain.generator.eval(), trainer.generator.eval()
    with torch.no_grad():
        asked = torch.randn(4, 5, 4)
        assert torch.equal(plain.generator(*noise, genre), trainer.generator(*noise, genre, manners=asked))
    trainer.generator.train()
    assert trainer.fit(show_progress=False)
    g = trainer.generator
    # the songs' manners are kept per genre: rows of real phrases of that genre, standardized
    assert g.manner_table.shape == (2, TABLE_PHRASES, 5, 4)
    rock = g.manner_table[phrases.genres.index("rock")].std(0)  # the fixtures' rock: four songs
    assert (rock[manner_mask(g.cfg) > 0] > 0.5).all()  # every manner that means something varies
    assert not torch.equal(g.manner_table[0], g.manner_table[1])
    # after training the manner moves the notes: another manner, other probabilities
    g.eval()
    with torch.no_grad():
        a = g(*noise, genre, manners=g.manner_table[1, :4])
        b = g(*noise, genre, manners=g.manner_table[1, 4:8])
    assert not torch.allclose(a, b)

    composer = Composer.load(finish(trainer, phrases, "the test's songs"), "cpu")
    assert composer.config.manners
    idea = composer.new_idea(3, bars=8, genre="rock")
    assert idea.manners.shape == (2, 5, 4) and np.array_equal(idea.manners[0], idea.manners[1])
    table = composer.generator.manner_table[1].numpy()
    assert any(np.allclose(idea.manners[0], row) for row in table)  # one phrase of the songs' rock
    again = composer.regenerate_track(idea, 2, seed=9)
    others = [0, 1, 3, 4]
    assert np.array_equal(again.manners[:, others], idea.manners[:, others])
    before, after = composer.probabilities([idea, again])
    assert np.array_equal(before[others], after[others])  # only the guitar came out anew
    assert not np.array_equal(before[2], after[2])

    # an accompaniment plays its given bass in the manner of the user's part, measured on it
    song = resample(merge_to_families(read_music(next((LPD / "rock").glob("*.npz"))), 5), 4)
    first = int(np.flatnonzero(song.rolls[3].any(axis=1))[0]) // 16 * 16  # the first bar the bass plays in
    rolls = np.zeros((5, 64, 128), np.uint8)
    rolls[3] = song.rolls[3, first : first + 64]
    path = write_midi(Multitrack(song.tracks, rolls, 4, song.tempo, "bass"), tmp_path / "bass.mid")
    part = read_part(path, 5, as_track="bass", bars=4)
    made = accompany(composer, part, seed=1, genre="rock", steps=2)[0]
    asked = made.idea.manners[0, 3]
    notes = torch.zeros(1, 5, 64, 84)
    notes[0, 3] = torch.as_tensor(_targets(part, composer)[0, 0] > 0.5).float()  # the part on the model's grid
    g = composer.generator
    own = (phrase_manners(notes, composer.config)[0, 3] - g.manner_mean[3]) / g.manner_scale[3]
    assert np.allclose(asked, own.numpy(), atol=1e-5)


def test_a_stratified_draw_takes_each_group_in_its_share_and_no_phrase_twice():
    rng = torch.Generator().manual_seed(3)
    groups = torch.tensor([0] * 55 + [1] * 30 + [2] * 14 + [3])  # shares 55, 30, 14 and 1 %
    pick = stratified(groups, 20, rng)
    assert len(pick) == 20 and len(pick.unique()) == 20
    assert torch.bincount(groups[pick], minlength=4).tolist() == [11, 6, 3, 0]  # 11, 6, 2.8 and 0.2, rounded to 20
    assert torch.equal(stratified(groups, 20, torch.Generator().manual_seed(3)), pick)  # the seed decides the rows


def test_the_manner_table_asks_for_each_part_in_the_songs_share_of_phrases():
    # 1,000 phrases of one genre, a piano in 55 % of them: one plain draw of 256 misses that share
    # by a few points (the shipped rock table asked for a piano in 49 % of phrases where the
    # songs have one in 55 %); a draw per arrangement meets it to the row
    rng = np.random.default_rng(0)
    playing = torch.from_numpy(rng.random((1000, 5)) < [0.97, 0.55, 0.8, 0.95, 0.88])
    manners = torch.randn(1000, 5, 4) + playing[:, :, None] * 3
    table = manner_table(manners, None, 0, seed=1, playing=playing)
    assert table.shape == (1, TABLE_PHRASES, 5, 4)
    chosen = [next(k for k in range(1000) if torch.equal(manners[k], row)) for row in table[0]]
    assert len(set(chosen)) == TABLE_PHRASES  # rows of the songs, none twice
    counts = torch.bincount(arrangements(playing[chosen]), minlength=32).double()
    wanted = torch.bincount(arrangements(playing), minlength=32).double() * TABLE_PHRASES / 1000
    assert ((counts - wanted).abs() < 1).all()  # every arrangement within a row of its share
