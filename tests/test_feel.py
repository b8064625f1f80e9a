"""Feel: real phrases' timing put back on quantized notes (engine/feel.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.binarize import quantize, snap_offsets
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.feel import (
    REACH,
    apply_feel,
    fitted_feels,
    pack_feels,
    phrase_feels,
    unpack_feels,
)
from bytes2beats.engine.metrics import off_grid_onsets, on_grid

SPB = 12
LPD = Path(__file__).parent / "fixtures" / "lpd"
NEAREST = [snap_offsets(SPB)] * 2  # two tracks, each snapped to the nearest grid position


def roll(*notes: tuple[int, int, int], steps: int = 96, pitches: int = 4) -> np.ndarray:
    """(steps, pitches) bool with notes (pitch, start, end)."""
    out = np.zeros((steps, pitches), dtype=bool)
    for pitch, start, end in notes:
        out[start:end, pitch] = True
    return out


def one_feel(track_offsets: dict[int, int], tracks: int = 2) -> np.ndarray:
    """A feel (1, tracks, 2, SPB, width) that moves every start and end of track t by
    track_offsets[t] steps at every grid position (the others stay on it)."""
    feel = np.zeros((1, tracks, 2, SPB, 2 * REACH + 1), dtype=np.uint8)
    for t in range(tracks):
        feel[0, t, :, :, REACH + track_offsets.get(t, 0)] = 1
    return feel


def test_a_phrase_feel_counts_where_each_note_was_played_against_its_grid_position():
    notes = np.zeros((1, 2, 96, 4), dtype=bool)
    notes[0, 0] = roll((0, 1, 7), (1, 12, 23))  # a start a step late (grid 0), an end a step early (grid 24)
    feel = phrase_feels(notes, NEAREST, SPB)
    assert feel.shape == (1, 2, 2, SPB, 2 * REACH + 1)
    starts, ends = feel[0, 0, 0], feel[0, 0, 1]
    assert starts[0, REACH + 1] == 1 and starts[0, REACH] == 1 and starts.sum() == 2
    assert ends[6, REACH + 1] == 1 and ends[0, REACH - 1] == 1 and ends.sum() == 2  # 7 -> 6, 23 -> 24
    assert not feel[0, 1].any()  # a silent track has no timing


def test_no_feel_or_amount_zero_leaves_the_notes_as_they_are():
    notes = np.zeros((3, 2, 96, 4), dtype=bool)
    notes[:, 0] = roll((0, 0, 6), (2, 24, 30))
    feel = one_feel({0: 1})
    assert np.array_equal(apply_feel(notes, feel, SPB, amount=0.0), notes)
    assert np.array_equal(apply_feel(notes, np.zeros((0,)), SPB), notes)


def test_a_feel_moves_starts_and_ends_drums_whole_and_keeps_same_pitch_notes_apart():
    notes = np.zeros((2, 96, 4), dtype=bool)
    notes[0] = roll((0, 0, 3), (0, 4, 12), (1, 95, 96))  # two notes of a pitch a step apart; one at the end
    notes[1] = roll((3, 12, 13), (3, 24, 25))  # drum hits
    played = apply_feel(notes, one_feel({0: 1, 1: 1}), SPB, whole_notes=(1,))
    assert played[0, :, 0].nonzero()[0].tolist() == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12]  # a step of silence kept
    assert played[0, 95, 1] and played[0, :, 1].sum() == 1  # moved past the end, back to it
    assert played[1, :, 3].nonzero()[0].tolist() == [13, 25]  # hits move whole: still one step
    early = apply_feel(notes, one_feel({0: -2}), SPB)
    assert early[0, :, 0].nonzero()[0].tolist()[:3] == [0, 2, 3]  # moved before the first step: kept at it
    loose = np.zeros((2, 96, 4), dtype=bool)
    loose[0] = roll((2, 1, 5), (2, 24, 28))  # one note off the grid (quantize turned down), one on it
    assert apply_feel(loose, one_feel({0: 1}), SPB)[0, :, 2].nonzero()[0].tolist() == [1, 2, 3, 4, 25, 26, 27, 28]


def test_notes_of_a_pitch_moved_together_stay_two_notes():
    notes = np.zeros((1, 96, 4), dtype=bool)
    notes[0] = roll((0, 0, 2), (0, 3, 5), (0, 6, 8))  # a hi-hat's 16ths
    feel = np.zeros((1, 1, 2, SPB, 2 * REACH + 1), dtype=np.uint8)
    feel[0, 0, :, 0, REACH + 2] = 1  # the beat played two steps late: onto the next 16th's step
    feel[0, 0, :, 3:, REACH] = 1
    played = apply_feel(notes, feel, SPB)
    starts = np.flatnonzero(played[0, :, 0] & ~np.concatenate([[False], played[0, :-1, 0]]))
    assert starts.tolist() == [2, 4, 6]  # three hits still, the later ones pushed apart


def test_a_damaged_or_hostile_packed_feel_is_refused_before_it_is_unpacked():
    import base64
    import zlib

    bomb = base64.b64encode(zlib.compress(bytes(50_000_000), 9)).decode()  # 50 MB from a few kB
    for shape in ([10, 5, 2, 12, 7], [10**9, 5, 2, 12, 7]):
        with pytest.raises(ValueError, match="not a packed feel"):
            unpack_feels({"shape": shape, "counts": bomb})


def test_the_draws_depend_on_the_seed_and_the_track_alone():
    rng = np.random.default_rng(0)
    notes = np.zeros((4, 2, 96, 4), dtype=bool)
    for k in range(4):
        for t in range(2):
            for start in rng.choice(np.arange(0, 96, 3), 10, replace=False):
                notes[k, t, start : start + 2, rng.integers(4)] = True
    feels = np.zeros((5, 2, 2, SPB, 2 * REACH + 1), dtype=np.uint8)
    feels[..., REACH] = 3
    feels[..., REACH - 1] = 1
    feels[..., REACH + 1] = 1
    a = apply_feel(notes, feels, SPB, seed=7)
    assert np.array_equal(a, apply_feel(notes, feels, SPB, seed=7))
    assert not np.array_equal(a, apply_feel(notes, feels, SPB, seed=8))
    other = notes.copy()
    other[:, 1] = np.roll(notes[:, 1], 6, axis=1)  # another part for track 1 (a track regenerated)
    assert np.array_equal(apply_feel(other, feels, SPB, seed=7)[:, 0], a[:, 0])  # track 0 keeps its timing
    fewer = notes.copy()
    fewer[:, 0, :12] = False  # a note or two taken away (the threshold moved): the rest keep their timing
    assert np.array_equal(apply_feel(fewer, feels, SPB, seed=7)[:, 0, 24:], a[:, 0, 24:])
    half = apply_feel(notes, feels, SPB, amount=0.5, seed=7)
    moved = lambda x: (x != notes).sum()  # noqa: E731
    assert 0 < moved(half) < moved(a)


def test_feels_pack_into_a_model_file_and_a_damaged_one_is_refused():
    feels = np.random.default_rng(1).integers(0, 4, (3, 2, 2, SPB, 2 * REACH + 1)).astype(np.uint8)
    packed = pack_feels(feels)
    assert np.array_equal(unpack_feels(packed), feels)
    for damaged in ({}, {"shape": [3, 2, 2, SPB, 7], "counts": "not base64!"},
                    {"shape": [3, 2, 2, SPB, 5], "counts": packed["counts"]}):
        with pytest.raises(ValueError):
            unpack_feels(damaged)


def test_feels_from_real_songs_give_quantized_songs_back_their_looseness():
    phrases = build_phrases(LPD, PhraseSpec(steps_per_beat=SPB), cache_dir=None, workers=1)
    rolls = phrases.rolls[np.arange(len(phrases))]  # unpacked
    offsets = [snap_offsets(SPB)] * rolls.shape[1]
    feels = fitted_feels(rolls, np.arange(len(rolls)), offsets, SPB, count=len(rolls))
    assert feels.dtype == np.uint8 and 0 < len(feels) <= len(rolls)
    gridded = np.stack([quantize(rolls[:, t], SPB, 1.0, keep_lengths=t == 0) for t in range(rolls.shape[1])], axis=1)
    played = apply_feel(gridded, feels, SPB, whole_notes=(0,))
    songs, on, back = (np.nan_to_num(off_grid_onsets(x, SPB)) for x in (rolls, gridded, played))
    assert on.max() == 0 and songs.max() > 0
    loose = songs > 1  # tracks the songs play off the grid (percent of onsets)
    # every loose part takes some back, and all together about as much as the songs have (a
    # phrase draws a feel whatever its density, so a dense loose song's weight is not kept)
    assert (back[loose] > 0).all() and songs.mean() / 3 < back.mean() < songs.mean()
    changed, playing = (played != gridded).any(axis=(2, 3)), gridded.any(axis=(2, 3))
    assert changed.mean() < 0.75 * playing.mean()  # parts of tight songs stay on the grid (here 0.45 of 0.78)
    assert on_grid(SPB).sum() == 6
