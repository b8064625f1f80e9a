"""Key homing (engine/key_homing.py): a chord model plays a key it learned poorly in the
nearest home key and moves the notes back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.key_homing import (
    home_keys_from,
    home_shift,
    move_chord_features,
    move_pitches,
)
from bytes2beats.engine.model import Generator, ModelConfig, ModelFileError, load_model, save_model
from bytes2beats.engine.progression import Key, parse_key, parse_progression, per_beat


def chords(text: str, key: str | None = None) -> list:
    return per_beat(parse_progression(text, parse_key(key) if key else None), 4)


def test_a_phrase_goes_to_the_nearest_home_key_of_its_mode_downward_first():
    home = home_keys_from(["C major", "E major", "A minor"])
    assert home_shift(chords("Db Gb Ab Db"), home) == -1  # Db major -> C major
    assert home_shift(chords("D G A D"), home) == -2  # D major: C (-2) before E (+2)
    assert home_shift(chords("B E F# B"), home) == +1  # B major -> C major
    assert home_shift(chords("C F G C"), home) == 0  # at home
    assert home_shift(chords("G C D G"), home) == -3  # G major -> E major, a minor third down
    assert home_shift(chords("Ab Db Eb Ab"), home) == 0  # nothing within three semitones: as it is
    assert home_shift(chords("Bbm Ebm F Bbm"), home) == -1  # Bb minor -> A minor
    assert home_shift(chords("Gm Cm D Gm"), home) == +2  # G minor -> A minor (F# and F minor are not home)
    assert home_shift([None] * 16, home) == 0 and home_shift(chords("Db Gb Ab Db"), frozenset()) == 0


def test_moving_chords_and_notes():
    features = np.zeros((2, 24), np.float32)
    features[0, [1, 5, 8]] = features[0, 12 + 1] = 1  # Db major, Db in the bass
    moved = move_chord_features(features, -1)
    assert set(np.flatnonzero(moved[0, :12])) == {0, 4, 7} and np.flatnonzero(moved[0, 12:]).tolist() == [0]
    assert np.array_equal(move_chord_features(moved, 1), features) and not moved[1].any()
    roll = np.zeros((3, 8, 84), np.float32)
    roll[:, :, [0, 40, 83]] = 1
    up = move_pitches(roll, 1)
    assert np.flatnonzero(up[0, 0]).tolist() == [1, 41]  # the top note left the range
    assert np.array_equal(move_pitches(up, -1)[..., :83], roll[..., :83]) and move_pitches(roll, 0) is roll


def test_a_composer_with_home_keys_plays_a_db_phrase_as_its_c_phrase_a_semitone_up():
    torch.manual_seed(3)
    generator = Generator(ModelConfig(g_width=8, d_width=8, chords=True, chord_register=True))
    for layer in (generator.chord_to_beats, generator.chord_to_octaves):  # chords that matter
        torch.nn.init.normal_(layer.weight)
    homed, plain = Composer(generator, {"home_keys": ["C major"]}), Composer(generator, {})
    in_db, in_c = chords("Db Gb Ab Db"), chords("C F G C")
    db = homed.probabilities([homed.new_idea(5, 4, chords=in_db)])[0]
    c = plain.probabilities([plain.new_idea(5, 4, chords=in_c)])[0]
    low, high = 24, 24 + 84  # the model's range within the 128 MIDI pitches
    assert np.allclose(db[..., low + 1:high], c[..., low:high - 1], atol=1e-6)  # the C phrase, a semitone up
    assert not db[..., low].any()
    assert not np.allclose(plain.probabilities([plain.new_idea(5, 4, chords=in_db)])[0], db, atol=1e-3)
    idea = homed.new_idea(5, 4, chords=in_db)
    assert idea.chords == tuple(in_db)  # the chords shown and written stay those asked for
    # a home key, and a phrase without chords, are made as they are
    assert np.array_equal(homed.probabilities([homed.new_idea(5, 4, chords=in_c)])[0], c)
    assert np.array_equal(homed.probabilities([homed.new_idea(5, 4, chords=[None] * 16)])[0],
                          plain.probabilities([plain.new_idea(5, 4, chords=[None] * 16)])[0])


@pytest.mark.parametrize("homes", [["H major"], "C major", [3]])
def test_a_model_file_with_home_keys_that_are_no_keys_is_one_line(tmp_path, homes):
    path = save_model(Generator(ModelConfig(g_width=8, d_width=8, chords=True)), tmp_path / "m.safetensors",
                      {"home_keys": homes})
    with pytest.raises(ModelFileError, match="its home_keys must be a list of key names") as error:
        Composer.load(path, "cpu")
    assert "\n" not in str(error.value)
    load_model(path)  # the weights themselves are fine
    plain = save_model(Generator(ModelConfig(g_width=8, d_width=8)), tmp_path / "p.safetensors",
                       {"home_keys": ["C major"]})
    with pytest.raises(ModelFileError, match="for a chord model"):
        Composer.load(plain, "cpu")



def test_the_shipped_chord_model_names_its_home_keys():
    composer = Composer.load("genres-chords", "cpu")
    assert 6 <= len(composer.home_keys) < 24
    assert Key(0, False) in composer.home_keys or home_shift(chords("C F G C"), composer.home_keys) != 0
