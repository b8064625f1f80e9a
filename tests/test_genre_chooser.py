"""Choosing the genre a user's songs sound most like (engine/genre_chooser.py): the shipped
model carries its classifier's lean on real songs, a folder's choice divides by it, and a
model or data that cannot choose says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.genre_chooser import choose_genre, genre_classifier, phrase_features_of
from bytes2beats.engine.model import load_model
from bytes2beats.engine.model_store import resolve_model

LPD = Path(__file__).parent / "fixtures" / "lpd"


@pytest.fixture(scope="module")
def shipped():
    return Composer.load("genres", "cpu")


def test_the_choice_is_the_classifiers_mean_probability_divided_by_its_lean(shipped, tmp_path):
    rock = np.asarray(build_phrases(LPD / "rock", PhraseSpec.of_model(shipped.config), cache_dir=tmp_path).rolls[:])
    lean = shipped.meta["genre_lean"]
    assert set(lean) == set(shipped.config.genres) and abs(sum(lean.values()) - 1) < 0.01  # probabilities
    classifier = genre_classifier(shipped)
    genre, scores = choose_genre(shipped, rock, classifier)
    probabilities = classifier.predict_proba(phrase_features_of(shipped, rock)).mean(axis=0)
    assert scores == pytest.approx({g: p / lean[g] for g, p in zip(shipped.config.genres, probabilities)})
    assert genre == max(scores, key=scores.get)
    # a genre the classifier leans away from on real songs counts for more
    shipped.meta["genre_lean"] = {**lean, "pop": 1e-6}
    assert choose_genre(shipped, rock, classifier)[0] == "pop"
    shipped.meta["genre_lean"] = lean
    # a model file without a lean (any model before session 29, a fine-tune's) does not choose
    del shipped.meta["genre_lean"]
    assert choose_genre(shipped, rock, classifier) is None
    shipped.meta["genre_lean"] = lean


def test_calibrate_measures_the_lean_and_refuses_data_without_every_genre(cli_in_process, tmp_path):
    out = tmp_path / "g.safetensors"
    code, _, err = cli_in_process("calibrate", "--model", "genres", "--data", str(LPD), "--genre-lean-only",
                                  "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert code == 1 and "lacks songs of some of the model's genres" in err and not out.exists()
    # a full calibration makes other phrases: the lean measured on the old ones is dropped
    code, _, err = cli_in_process("calibrate", "--model", "genres", "--data", str(LPD), "--register-only",
                                  "--out", str(out), "--cache-dir", str(tmp_path / "cache"))
    assert code == 0, err
    assert "genre_lean" in load_model(resolve_model("genres"))[1] and "genre_lean" not in load_model(out)[1]
