"""The classifier two-sample test on real phrases: it cannot tell a set from itself, and it
finds notes moved off the grid, and says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.two_sample import classifier_two_sample_test, phrase_features

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["Drums", "Piano", "Guitar", "Bass", "Strings"]


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    return build_phrases(FIXTURES / "lpd", PhraseSpec(steps_per_beat=12), cache_dir=None).rolls[:]


def features(rolls: np.ndarray) -> np.ndarray:
    return phrase_features(rolls, NAMES, 0, 12, 24)[0]


def late(rolls: np.ndarray, steps: int = 1) -> np.ndarray:
    """Every pitched note a step late: what a jittery decoding does to real music."""
    out = rolls.copy()
    out[:, 1:, steps:] = rolls[:, 1:, :-steps]
    out[:, 1:, :steps] = False
    return out


def test_features_are_named_and_read_a_silent_track_as_missing(real):
    x, names = phrase_features(real, NAMES, 0, 12, 24)
    assert x.shape == (len(real), len(names)) and len(set(names)) == len(names)
    assert "Piano onsets at step 5 of the beat" in names and "tonal distance Piano-Bass" in names
    silent = real[:1].copy()
    silent[:, 4] = False
    row = dict(zip(names, features(silent)[0]))
    assert np.isnan(row["Strings mean pitch"]) and row["Strings density"] == 0


def test_a_set_against_itself_is_a_coin_toss(real):
    rng = np.random.default_rng(0)
    order = rng.permutation(len(real))
    half = len(real) // 2
    test = classifier_two_sample_test(features(real[order[:half]]), features(real[order[half:]]),
                                      phrase_features(real[:1], NAMES, 0, 12, 24)[1])
    assert test["phrases_per_set"] == half and len(test["fold_accuracies"]) == 5
    assert test["accuracy"] < 0.7


def test_notes_a_step_off_the_grid_give_themselves_away(real):
    names = phrase_features(real[:1], NAMES, 0, 12, 24)[1]
    test = classifier_two_sample_test(features(late(real)), features(real), names)
    assert test["accuracy"] > 0.9
    top = test["separating"][0]
    assert "onsets at step" in top["feature"] and abs(top["auc"] - 0.5) > 0.3  # and it says where


def test_too_few_phrases_is_a_reason_not_a_number(real):
    names = phrase_features(real[:1], NAMES, 0, 12, 24)[1]
    test = classifier_two_sample_test(features(real[:4]), features(real[4:8]), names)
    assert test["accuracy"] is None and "too few" in test["why"]


def test_a_feature_neither_set_has_is_left_out_not_fatal():
    # A 17-family model: a family that plays in no phrase of either set has only missing
    # (NaN) features; the classifier tells the sets apart by the rest.
    rng = np.random.default_rng(0)
    generated, real = rng.normal(1.0, 1.0, (120, 3)), rng.normal(0.0, 1.0, (120, 3))
    generated[:, 1] = real[:, 1] = np.nan
    result = classifier_two_sample_test(generated, real, ["a", "never", "b"])
    assert result["accuracy"] > 0.6
