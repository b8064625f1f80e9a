"""Decoding probabilities into notes: the plain threshold and hysteresis."""

from __future__ import annotations

import numpy as np
from bytes2beats.engine.binarize import binarize, calibrate, monophonic, quantize
from bytes2beats.engine.metrics import note_lengths


def test_a_plain_threshold_is_a_comparison():
    p = np.random.default_rng(0).random((2, 3, 16, 5))
    assert (binarize(p, 0.7) == (p >= 0.7)).all()


def test_hysteresis_holds_a_note_through_a_dip_and_never_starts_one_low():
    # one pitch over 8 steps: a note at 0.95, a dip to 0.6, back up, then gone
    p = np.array([0.1, 0.95, 0.92, 0.6, 0.93, 0.3, 0.7, 0.1])[:, None]
    plain = binarize(p, 0.9)
    held = binarize(p, 0.9, hold_ratio=0.5)
    assert plain[:, 0].tolist() == [0, 1, 1, 0, 1, 0, 0, 0]  # two fragments
    assert held[:, 0].tolist() == [0, 1, 1, 1, 1, 0, 0, 0]  # one note; 0.7 after a gap starts none
    assert note_lengths(held[None, None]).tolist() == [4]


def test_pitches_and_tracks_are_decoded_apart():
    p = np.zeros((2, 4, 3))
    p[0, :, 0] = [0.95, 0.6, 0.6, 0.1]
    p[1, 1:, 0] = 0.6  # another track: only sustain-level, so no note
    out = binarize(p, 0.9, 0.5)
    assert out[0, :, 0].tolist() == [1, 1, 1, 0] and not out[1].any() and not out[:, :, 1:].any()


def test_calibration_finds_the_threshold_for_a_density():
    p = np.random.default_rng(1).random((20, 2, 48, 12)) ** 4
    for ratio in (1.0, 0.5):
        t = calibrate(p, 0.05, ratio)
        assert abs(binarize(p, t, ratio).mean() - 0.05) < 0.002
    assert calibrate(p, 0.05, 0.5) > calibrate(p, 0.05, 1.0)  # holding adds notes: it starts fewer


def _notes(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """(pitch, start, end) of every note of a (steps, pitches) roll."""
    out = []
    for pitch in range(roll.shape[1]):
        edges = np.diff(np.concatenate([[0], roll[:, pitch].astype(int), [0]]))
        out += [(pitch, s, e) for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]
    return sorted(out, key=lambda n: n[1])


def test_a_line_cuts_a_note_where_the_next_starts_once_it_has_sounded_long_enough():
    notes, p = np.zeros((12, 3), dtype=bool), np.full((12, 3), 0.9)
    notes[0:6, 0] = True  # overlaps the next note by two steps
    notes[4:12, 1] = True
    line = monophonic(notes, p, shortest=3)
    assert _notes(line) == [(0, 0, 4), (1, 4, 12)]  # last-note priority: the first is cut at 4


def test_a_line_leaves_out_a_blip_rather_than_break_a_sure_note_into_fragments():
    notes, p = np.zeros((12, 3), dtype=bool), np.full((12, 3), 0.95)
    notes[:, 0] = True  # one long, sure note
    notes[5:6, 2], p[5, 2] = True, 0.5  # a one-step blip inside it
    assert _notes(monophonic(notes, p, shortest=3)) == [(0, 0, 12)]
    notes[1:3, 1] = True  # a note starting within `shortest` of the long one's start
    assert _notes(monophonic(notes, p, shortest=3)) == [(0, 0, 12)]


def test_a_line_of_random_notes_is_one_note_at_a_time_taken_from_them():
    rng = np.random.default_rng(3)
    p = rng.random((4, 2, 96, 24))
    notes = binarize(p, 0.8, hold_ratio=0.5)
    line = monophonic(notes, p, shortest=3)
    assert line.shape == notes.shape and line.sum(-1).max() == 1
    assert not (line & ~notes).any()  # nothing added
    for index in np.ndindex(notes.shape[:-2]):
        source = {(n[0], n[1]): n[2] for n in _notes(notes[index])}
        for pitch, start, end in _notes(line[index]):
            whole = source[(pitch, start)] - start  # every kept note begins where a decoded one does
            assert end - start >= min(3, whole)  # and a cut leaves at least `shortest` steps


def _row(length: int, *notes: tuple[int, int]) -> np.ndarray:
    """One pitch over `length` steps with notes sounding over start..end-1."""
    x = np.zeros((length, 1), dtype=bool)
    for start, end in notes:
        x[start:end, 0] = True
    return x


def _spans(x: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.pad(x[:, 0].astype(np.int8), 1))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def test_quantize_moves_starts_and_ends_to_the_nearest_sixteenth_or_triplet():
    x = _row(48, (1, 12), (22, 23), (29, 35))  # a 48th late; a blip at step 10 of beat 2; beat 3 at step 5
    assert _spans(quantize(x, 12)) == [(0, 12), (21, 24), (30, 36)]  # 5 -> 6: the 8th wins a tie with the triplet
    assert (quantize(_row(48, (4, 8), (24, 36)), 12) == _row(48, (4, 8), (24, 36))).all()  # on the grid: untouched


def test_quantize_ties_go_where_the_data_starts_spans():
    swing = np.zeros(12)
    swing[[0, 4, 8]] = [0.5, 0.1, 0.4]  # a swung 8th: the triplet at 8, not the 16th at 6
    assert _spans(quantize(_row(24, (7, 10)), 12, prior=swing)) == [(8, 12)]
    assert _spans(quantize(_row(24, (7, 10)), 12)) == [(6, 9)]


def test_quantize_strength_moves_part_of_the_way_and_zero_not_at_all():
    x = _row(48, (2, 12), (13, 24))  # 2 -> 3 is one step; 13 -> 12 one step
    assert _spans(quantize(x, 12, strength=0.0)) == _spans(x)
    assert _spans(quantize(_row(48, (22, 36)), 12, strength=0.5)) == [(21, 36)]  # 22 is one step from 21
    assert _spans(quantize(_row(48, (26, 40)), 12, strength=0.25)) == [(26, 40)]  # a quarter of a step: stays
    assert _spans(quantize(_row(48, (26, 40)), 12, strength=0.75)) == [(27, 40)]


def test_quantize_keeps_same_pitch_notes_apart_and_merges_notes_that_land_together():
    # two notes of one pitch: the first's end snaps onto the second's start, so it ends a step early
    assert _spans(quantize(_row(48, (0, 11), (12, 24)), 12)) == [(0, 11), (12, 24)]
    # a flam: two starts a step apart both land on step 12: one note
    assert _spans(quantize(_row(48, (11, 12), (13, 24)), 12)) == [(12, 24)]


def test_drums_move_whole_and_notes_never_pass_the_end():
    assert _spans(quantize(_row(24, (1, 4), (13, 14)), 12, keep_lengths=True)) == [(0, 3), (12, 13)]
    assert _spans(quantize(_row(24, (23, 24)), 12)) == []  # would start on the next phrase's downbeat


def test_quantized_random_rolls_are_on_the_grid_without_fragments():
    from bytes2beats.engine.metrics import off_grid_onsets, one_step_notes

    rng = np.random.default_rng(3)
    p = rng.random((8, 2, 96, 12)) * (rng.random((8, 2, 1, 12)) < 0.5)
    notes = binarize(p, 0.7, 0.5)
    assert off_grid_onsets(notes, 12).min() > 10  # random notes start anywhere
    once = quantize(notes, 12)
    assert off_grid_onsets(once, 12).max() == 0 and one_step_notes(once).max() == 0
    assert (quantize(once, 12).any(axis=2) == once.any(axis=2)).all()  # again: no pitch lost or gained
    assert (quantize(notes, 4) == notes).all()  # at 16ths everything is on the grid already


def test_a_bar_gate_silences_a_tracks_stray_notes_and_keeps_its_parts():
    from bytes2beats.engine.binarize import fitted_bar_gate, gate_bars

    notes = np.zeros((4, 2, 32, 12), dtype=bool)  # 4 phrases, 2 tracks, 2 bars of 16 steps
    notes[:, 0, 0:16, 0] = True  # track 0 plays a whole-bar note in the first bar of every phrase
    notes[0, 0, 20, 3] = True  # ... and one stray cell in a second bar
    notes[:, 1, 3:5, 7] = True  # track 1: a two-cell note in each first bar
    notes[1, 1, 17:18, 2] = True  # ... and a one-cell speck
    # Track 0 plays in 5 of 8 bars where the songs play it in half: near enough, no gate.
    # The songs play track 1 in a quarter of their bars, this one in 5 of 8: its specks go.
    gates = [fitted_bar_gate(notes[:, t], share, 16) for t, share in enumerate((0.5, 0.25))]
    assert gates == [0, 2]
    gated = gate_bars(notes, 16, gates)
    assert np.array_equal(gated[:, 0], notes[:, 0])
    assert gated[:, 1, 3:5, 7].all() and not gated[:, 1, 16:].any()  # its parts kept, its speck gone
    # Asked for a quarter of the bars where its parts fill a half: the stray goes, not the parts.
    kept = gate_bars(notes[:, :1], 16, [fitted_bar_gate(notes[:, 0], 0.25, 16)])
    assert kept[:, 0, :16].all(axis=0)[:, 0].all() and not kept[:, 0, 16:].any()
    assert fitted_bar_gate(notes[:, 0], 1.0, 16) == 0 and gate_bars(notes, 16, [0, 0]) is notes  # nothing to gate
    # A clip of a bar and a half: the whole bar is gated, the part-bar left as it is.
    part = np.ones((1, 24, 12), dtype=bool)
    part[0, :16] = False
    part[0, 2, 0] = True
    out = gate_bars(part, 16, [5])
    assert not out[0, :16].any() and out[0, 16:].all()


def test_keep_in_register_moves_strays_home_by_octaves_and_keeps_their_pitch_classes():
    from bytes2beats.engine.binarize import keep_in_register

    notes = np.zeros((2, 16, 84), dtype=bool)
    notes[0, 0:12, 30] = True  # a line around pitch 30
    notes[0, 12:14, 81] = True  # a blip four octaves up: 51 away
    notes[0, 14:16, 2] = True  # and one two octaves down: 28 away
    notes[1, :, 40] = True  # a phrase with nothing astray
    kept = keep_in_register(notes, 14)
    assert kept[0, 12:14, 81 - 48].all() and not kept[0, :, 81].any()  # 3 away now, a pitch class kept
    assert kept[0, 14:16, 2 + 24].all() and not kept[0, :, 2].any()  # 4 below
    assert kept[0, 0:12, 30].all() and kept.sum() == notes.sum()
    assert np.array_equal(kept[1], notes[1])
    # a stray landing on a note already sounding there joins it
    both = np.zeros((16, 84), dtype=bool)
    both[:, 30] = True
    both[0:4, 54] = True  # 24 above, with a reach of 11: two octaves down, onto 30 itself
    assert np.array_equal(keep_in_register(both, 11), np.pad(np.ones((16, 1), bool), ((0, 0), (30, 53))))
    assert keep_in_register(both, 12)[0:4, 42].all()  # with 12, one octave: 42 lies within it
    # a phrase whose middle lies at the top of the range: a stray moves to the octave inside it
    high = np.zeros((16, 84), dtype=bool)
    high[:, 83] = True
    high[0:2, 61] = True  # 22 below; two octaves up (85) would be past the top
    kept = keep_in_register(high, 6)
    assert kept[0:2, 73].all() and kept.sum() == high.sum()


def test_repeating_bars_keeps_the_probabilities_and_pulls_the_bars_toward_their_mean():
    from bytes2beats.engine.binarize import repeat_bars

    rng = np.random.default_rng(3)
    probs = rng.random((6, 64, 20)).astype(np.float32) ** 4  # 6 phrases of 4 bars of 16 steps
    assert np.array_equal(repeat_bars(probs, 16, 0.0, whole_bar=True), probs)
    for whole in (True, False):
        pulled = repeat_bars(probs, 16, 1.0, whole_bar=whole)
        # the very values each phrase had, so any threshold makes as many notes as before
        assert np.array_equal(np.sort(pulled.reshape(6, -1), axis=1), np.sort(probs.reshape(6, -1), axis=1))
        for threshold in (0.3, 0.7):
            assert (pulled >= threshold).sum() == (probs >= threshold).sum()
        bars = lambda x: x.reshape(6, 4, 16, 20)  # noqa: E731
        loudest = bars(pulled).max(axis=3)  # (phrase, bar, step)
        spread = lambda x: np.abs(x - x.mean(axis=1, keepdims=True)).mean()  # noqa: E731
        assert spread(loudest) < 0.2 * spread(bars(probs).max(axis=3))  # the bars far more alike in rhythm
    # a whole bar (drums) is pulled pitch by pitch: the same drums at the same steps
    drums = bars(repeat_bars(probs, 16, 1.0, whole_bar=True))
    assert (np.argsort(drums[0, 0].ravel())[-30:] == np.argsort(drums[0, 3].ravel())[-30:]).mean() > 0.9
    # a pitched track's rhythm only: a step made louder takes the pitches its own bar plays most
    line = np.zeros((1, 64, 20), dtype=np.float32)
    for bar, pitch in enumerate((2, 5, 9, 12)):
        line[0, bar * 16 + 4 * (bar == 0) : bar * 16 + 8, pitch] = 0.95  # bar 0 starts late
    pulled = repeat_bars(line, 16, 0.9, whole_bar=False)
    notes = pulled >= 0.5
    for bar, pitch in enumerate((2, 5, 9, 12)):
        assert notes[0, bar * 16 : bar * 16 + 16].any(axis=0).nonzero()[0].tolist() == [pitch]
    assert notes[0, 0:4, 2].sum() == 0 and notes[0, 16:20, 5].all()  # the rhythm most bars play wins
    # a bar the part rests in stays a rest, and the others are pulled toward their own mean
    line[0, 48:64] = 0.05
    for whole in (True, False):
        rested = repeat_bars(line, 16, 0.9, whole_bar=whole, playing=np.array([[True, True, True, False]])) >= 0.5
        assert not rested[0, 48:64].any() and rested[0, 16:20].any()


def test_a_phrase_that_plays_eighths_has_its_stray_sixteenths_moved_onto_them():
    from bytes2beats.engine.binarize import sixteenths_share, straight_eighths

    notes = np.zeros((2, 48, 10), dtype=bool)  # 4 beats at 12 steps
    for beat in range(4):
        notes[:, beat * 12 : beat * 12 + 5, 0] = True  # 8ths on the beat and "and"
        notes[:, beat * 12 + 6 : beat * 12 + 11, 1] = True
    notes[0, 15:17, 3] = True  # one stray "e" in phrase 0
    notes[1, 3:5, 3] = notes[1, 9:11, 4] = notes[1, 15:17, 3] = notes[1, 21:23, 4] = True  # a 16th part
    share = sixteenths_share(notes, 12)
    assert np.allclose(share, [1 / 9, 4 / 12])
    prior = np.zeros(12)
    prior[[0, 6]] = [0.5, 0.3]
    out = straight_eighths(notes, 12, 0.2, prior)
    assert np.array_equal(out[1], notes[1])  # a phrase that plays 16ths keeps them
    # the stray "e" starts on the beat and ends where it did: one note
    assert out[0, 12:17, 3].all() and not out[0, 11, 3] and not out[0, 17:, 3].any()
    assert np.array_equal(np.delete(out[0], 3, axis=1), np.delete(notes[0], 3, axis=1))
    assert sixteenths_share(out, 12)[0] == 0
    # the "and" wins where the data plays it more; no cutoff moves nothing
    prior[[0, 6]] = [0.3, 0.5]
    assert straight_eighths(notes, 12, 0.2, prior)[0, 18, 3]
    assert np.array_equal(straight_eighths(notes, 12, 0.0, prior), notes)
    assert np.isnan(sixteenths_share(np.zeros((48, 10), dtype=bool), 12))


def test_a_kit_plays_each_drum_as_a_hit_and_stacks_no_more_than_its_surest_few():
    from bytes2beats.engine.binarize import kit_hits, surest_nearby

    notes = np.zeros((2, 24, 8), dtype=bool)
    notes[0, 0, :5] = True  # five pieces struck at once
    notes[0, 6:10, 5] = True  # a crash held four steps
    notes[1, 12, [1, 2]] = True  # two at once
    sureness = np.zeros(notes.shape)
    sureness[0, 0, :5] = [1.2, 3.0, 1.5, 2.0, 1.1]
    sureness[0, 6:10, 5] = 1.0
    sureness[1, 12, [1, 2]] = [1.0, 1.05]
    # every hit kept, each one step long: the crash's tail goes, its start stays
    everything = kit_hits(notes, sureness, [0, 0, 0, 0, 0])
    assert everything[0, 0, :5].all() and everything[0, 6, 5] and not everything[0, 7:, 5].any()
    # the 3rd surest on needs 1.4 times the threshold, the 4th on 1.8: pieces 1 (3.0) and 3 (2.0)
    # as the two surest, piece 2 (1.5) as the 3rd; 0 and 4 (1.2, 1.1) are the 4th and 5th
    kit = kit_hits(notes, sureness, [0, 1.4, 1.8, 1.8, 1.8])
    assert list(np.flatnonzero(kit[0, 0])) == [1, 2, 3]
    assert kit[1, 12, [1, 2]].all() and kit[0, 6, 5]  # two at once, and the surest of a step, always stay
    # the hits kept are always a step's surest few, whatever the scales ask
    ranked = kit_hits(notes, sureness, [0, 2.5, 0, 0, 0])
    assert list(np.flatnonzero(ranked[0, 0])) == [1, 3]
    # how sure the network was of a hit the quantizer moved: the most within reach
    probabilities = np.zeros((1, 12, 2))
    probabilities[0, 4, 0] = 0.9
    near = surest_nearby(probabilities, 2)
    assert np.allclose(near[0, 2:7, 0], 0.9) and near[0, 1, 0] == 0 and near[0, 7, 0] == 0
    assert np.array_equal(surest_nearby(probabilities, 0), probabilities)


def test_a_kit_is_fitted_to_the_songs_hits_at_once_and_only_ever_thins_them():
    from bytes2beats.engine.binarize import KIT_RANKS, fitted_kit

    rng = np.random.default_rng(0)
    # generated: a step holds 1-6 hits, evenly; the songs' steps 1-3, mostly one or two
    sureness = [np.sort(rng.uniform(1, 3, KIT_RANKS))[::-1].copy() for _ in range(6000)]
    for s, k in zip(sureness, rng.integers(1, 7, 6000)):
        s[k:] = -np.inf
    songs = np.array([0, 0.5, 0.35, 0.15])
    scales = fitted_kit(sureness, songs)
    assert len(scales) == KIT_RANKS - 1 and scales == sorted(scales)
    kept = np.array([sum(s[r] >= ([-np.inf] + scales)[r] for r in range(KIT_RANKS)) for s in sureness])
    at_least = [np.mean(kept >= r) for r in range(2, 5)]
    assert np.allclose(at_least, [0.5, 0.15, 0.0], atol=0.02), at_least
    # where the network stacks fewer than the songs, nothing is cut
    assert fitted_kit(sureness, np.array([0, 0.05, 0.05, 0.05, 0.05, 0.05, 0.75])) == [0.0] * (KIT_RANKS - 1)


def test_a_kit_never_drops_a_certain_hit_and_fits_shares_that_sum_past_one():
    from bytes2beats.engine.binarize import KIT_RANKS, fitted_kit, kit_hits

    notes = np.zeros((1, 4, 6), dtype=bool)
    notes[0, 0, :4] = True  # four pieces at once, all certain: probability 1 at a threshold of 0.8
    sureness = np.where(notes, np.float32(1) / np.float32(0.8), 0)
    scales = [0, 1.3, 1.3, 1.3, 1.3]  # asks more than a probability can give at this threshold
    assert kit_hits(notes, sureness, scales).sum() == 2
    assert kit_hits(notes, sureness, scales, certain=(1 - 1e-6) / 0.8).sum() == 4
    # the songs' shares of 1-4 hits at once, whose sum a rounding takes just past 1: nothing at 5 or more
    songs = np.bincount(np.repeat([1, 2, 3, 4], [2685, 975, 2324, 506]), minlength=KIT_RANKS + 1) / 6490
    stacked = [np.array([3.0, 2.5, 2.0, 1.5, 1.2, -np.inf])] * 100
    scales = fitted_kit(stacked, songs)  # no crash on a share a hair under 0
    assert scales[3] > 1.2 and scales[4] >= scales[3]  # no 5th hit kept, where the songs strike none
    steps = np.zeros((1, 100, 6), dtype=bool)
    steps[0, ::2, :5] = True  # five pieces every other step, as sure as `stacked` says
    sureness = np.zeros(steps.shape)
    sureness[0, :, :5] = [3.0, 2.5, 2.0, 1.5, 1.2]
    kept = kit_hits(steps, sureness, scales).sum(-1)
    assert kept[0, ::2].min() >= 1 and kept.max() <= 4


def test_a_phrase_of_straight_sixteenths_has_its_stray_triplets_moved_onto_them():
    from bytes2beats.engine.binarize import straight_sixteenths, triplets, triplets_share

    assert np.flatnonzero(triplets(12)).tolist() == [4, 8] and not triplets(4).any()  # no triplets at 4 a beat
    notes = np.zeros((2, 48, 10), dtype=bool)  # 4 beats at 12 steps
    for beat in range(4):
        notes[:, beat * 12 : beat * 12 + 5, 0] = True  # 8ths
        notes[:, beat * 12 + 6 : beat * 12 + 11, 1] = True
    notes[0, 16:18, 3] = True  # one stray triplet (step 4 of beat 2) in phrase 0
    for beat in range(4):  # phrase 1 plays triplets throughout: a shuffle
        notes[1, beat * 12 + 4 : beat * 12 + 7, 3] = notes[1, beat * 12 + 8 : beat * 12 + 11, 4] = True
    share = triplets_share(notes, 12)
    assert np.allclose(share, [1 / 9, 8 / 16])
    prior = np.zeros(12)
    prior[[0, 3, 6, 9]] = [0.5, 0.05, 0.3, 0.05]
    out = straight_sixteenths(notes, 12, 0.2, prior)
    assert np.array_equal(out[1], notes[1])  # a phrase that plays triplets keeps them
    # the stray triplet goes to the 16th the songs play more (the "and", two steps on, not the "e")
    assert out[0, 18, 3] and not out[0, 16:18, 3].any()
    assert np.array_equal(np.delete(out[0], 3, axis=1), np.delete(notes[0], 3, axis=1))
    assert triplets_share(out, 12)[0] == 0
    prior[[3, 6]] = [0.3, 0.05]  # the "e" played more: the step before
    assert straight_sixteenths(notes, 12, 0.2, prior)[0, 15, 3]
    assert np.array_equal(straight_sixteenths(notes, 12, 0.0, prior), notes)  # no cutoff moves nothing
