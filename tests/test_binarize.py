"""Decoding probabilities into notes: the plain threshold and hysteresis."""

from __future__ import annotations

import numpy as np
from bytes2beats.engine.binarize import binarize, calibrate
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
