"""Phrases held as bits (engine/packed_rolls.py): every way of reading them gives the bool
array they stand for, the pack file's layout is kept, and training's batches unpack alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bytes2beats.engine.dataset import (
    PhraseSpec,
    build_phrases,
    load_phrase_pack,
    load_phrase_pack_for,
    save_phrase_pack,
)
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.music_io import MusicFileError
from bytes2beats.engine.packed_rolls import PACK_CHUNK, PackedRolls, unpack_torch
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 12), tracks=st.integers(1, 3), steps=st.sampled_from([4, 8, 12]),
       pitches=st.integers(1, 20), density=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_packed_rolls_read_as_the_bool_array_they_hold(n, tracks, steps, pitches, density, seed):
    rng = np.random.default_rng(seed)
    rolls = rng.random((n, tracks, steps, pitches)) < density
    packed = PackedRolls.pack(rolls)
    assert packed.shape == rolls.shape and len(packed) == n
    assert np.array_equal(np.asarray(packed), rolls)
    assert np.array_equal(packed.flat_bits(), np.packbits(rolls.reshape(-1)))  # the pack file's layout
    assert np.array_equal(PackedRolls.from_flat_bits(np.packbits(rolls.reshape(-1)), rolls.shape).bits, packed.bits)
    assert np.array_equal(unpack_torch(torch.as_tensor(packed.bits), pitches).numpy(), rolls.astype(np.uint8))
    if n:
        rows, mask = rng.integers(0, n, 3), rng.random(n) < 0.5
        for key in (0, n - 1, slice(1, None), rows, mask, (rows, 0), (n - 1, slice(None), 1), (mask, slice(0, 1))):
            assert np.array_equal(packed[key], rolls[key]), key
        assert np.array_equal(np.asarray(packed.take(rows)), rolls[rows])


def test_a_set_larger_than_a_chunk_converts_across_the_chunks():
    rolls = np.random.default_rng(1).random((PACK_CHUNK * 2 + 3, 2, 4, 61)) < 0.3  # 61: no phrase ends on a byte
    flat = np.packbits(rolls.reshape(-1))
    assert np.array_equal(np.asarray(PackedRolls.from_flat_bits(flat, rolls.shape)), rolls)
    assert np.array_equal(PackedRolls.pack(rolls).flat_bits(), flat)


def test_a_real_pack_holds_an_eighth_of_its_bools_and_reads_back_the_same(tmp_path):
    phrases = build_phrases(FIXTURES / "lpd", PhraseSpec(steps_per_beat=12), cache_dir=None, workers=1)
    n, tracks, steps, pitches = phrases.rolls.shape
    assert phrases.rolls.nbytes == n * tracks * steps * -(-pitches // 8)  # bits, not bools
    path = save_phrase_pack(phrases, PhraseSpec(steps_per_beat=12), tmp_path / "songs.phrases.npz")
    again, _ = load_phrase_pack(path)
    assert np.array_equal(again.rolls.bits, phrases.rolls.bits) and np.array_equal(again.song, phrases.song)
    # the shipped 48-step model reads it; a pack of 16ths is refused in one line saying how to cut one
    model = Composer.load("genres", "cpu").config
    assert load_phrase_pack_for(path, model)[1] == PhraseSpec(steps_per_beat=12)
    sixteenths = save_phrase_pack(build_phrases(FIXTURES / "lpd", PhraseSpec(), cache_dir=None, workers=1), PhraseSpec(),
                                  tmp_path / "sixteenths.phrases.npz")
    with pytest.raises(MusicFileError, match=r"cut at 4 steps a beat.*--steps-per-beat 12") as refused:
        load_phrase_pack_for(sixteenths, model)
    assert "\n" not in str(refused.value)
    validation = phrases.split(True)
    assert np.array_equal(np.asarray(validation.rolls),
                          np.asarray(phrases.rolls)[phrases.validation_songs[phrases.song]])
