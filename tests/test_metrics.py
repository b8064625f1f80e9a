"""The metrics on phrases whose answers are known by hand, the targets check, and `eval` on real songs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.metrics import (
    bar_similarity,
    bars_of,
    drum_pattern,
    empty_bars,
    measure,
    off_grid_onsets,
    on_grid,
    one_step_notes,
    onset_positions,
    polyphonic_rate,
    qualified_notes,
    self_similarity,
    shuffled_tracks,
    tonal_distance,
    used_pitch_classes,
)
from bytes2beats.engine.targets import check_targets, format_checks

FIXTURES = Path(__file__).parent / "fixtures"
STEPS_PER_BAR = 48
C1 = 24  # the lowest pitch of the model's range: index 0 is a C


def silence(n=1, tracks=2, bars=4, pitches=84) -> np.ndarray:
    return np.zeros((n, tracks, bars * STEPS_PER_BAR, pitches), dtype=bool)


def test_empty_bars_and_used_pitch_classes_count_bars():
    x = silence()
    x[0, 0, 0:10, [0, 4, 7]] = True  # a C major triad in bar 1 of track 0; bars 2-4 empty
    x[0, 1, :, 12] = True  # track 1 holds one C through all four bars
    bars = bars_of(x, STEPS_PER_BAR)
    assert empty_bars(bars).tolist() == [75.0, 0.0]
    assert used_pitch_classes(bars, C1).tolist() == [3.0, 1.0]


def test_qualified_notes_are_three_steps_or_longer_at_48_a_bar():
    x = silence(tracks=1)
    x[0, 0, 0:2, 10] = True  # 2 steps: too short
    x[0, 0, 10:13, 10] = True  # 3 steps: a 32nd at 48 a bar... qualified
    x[0, 0, 20:40, 11] = True  # long
    x[0, 0, 50:51, 12] = True  # 1 step
    assert qualified_notes(x, STEPS_PER_BAR).tolist() == [50.0]


def test_drum_pattern_counts_hits_on_the_sixteenth_grid():
    drums = np.zeros((1, 4 * STEPS_PER_BAR, 84), dtype=bool)
    drums[0, 0:2, 12] = True  # a hit on step 0 held for two steps: one onset, on the grid
    drums[0, 3, 14] = True  # step 3: the second 16th, on the grid
    drums[0, 7, 14] = True  # step 7: between 16ths
    drums[0, 96, 12] = True  # bar 3's downbeat
    assert drum_pattern(drums, STEPS_PER_BAR) == pytest.approx(75.0)


def test_the_grid_is_the_sixteenths_and_the_eighth_triplets():
    assert np.flatnonzero(on_grid(12)).tolist() == [0, 3, 4, 6, 8, 9]
    assert on_grid(4).all()  # at 16ths every step is on the grid
    assert np.flatnonzero(on_grid(24)).tolist() == [0, 6, 8, 12, 16, 18]


def test_onset_positions_count_note_starts_by_their_step_in_the_beat():
    x = silence(tracks=2)
    x[0, 0, 0:12, 10] = True  # a held quarter: one onset, at step 0 (its held steps are not onsets)
    x[0, 0, 15:18, 10] = True  # the next beat's second 16th: step 3
    x[0, 0, 29, 11] = True  # beat 3, step 5: between a triplet and an 8th
    x[0, 0, 31, 12] = True  # step 7
    positions = onset_positions(x, 12)
    assert positions[0].tolist() == [0.25, 0, 0, 0.25, 0, 0.25, 0, 0.25, 0, 0, 0, 0]
    assert np.isnan(positions[1]).all()  # a silent track has no profile
    assert off_grid_onsets(x, 12)[0] == pytest.approx(50.0)


def test_one_step_notes_are_the_share_of_single_step_notes():
    x = silence(tracks=1)
    x[0, 0, 0:1, 10] = True
    x[0, 0, 5:6, 11] = True
    x[0, 0, 10:13, 12] = True
    x[0, 0, 20:40, 13] = True
    assert one_step_notes(x).tolist() == [50.0]


def test_tonal_distance_is_zero_for_the_same_chord_and_larger_for_a_distant_one():
    x = silence(tracks=3)
    x[0, 0, :, [0, 4, 7]] = True  # C major
    x[0, 1, :, [12, 16, 19]] = True  # C major an octave up
    x[0, 2, :, [6, 10, 13]] = True  # F# major: the tritone away
    bars = bars_of(x, STEPS_PER_BAR)
    assert tonal_distance(bars, 0, 1, C1) == pytest.approx(0.0, abs=1e-9)
    assert tonal_distance(bars, 0, 2, C1) > 0.5


def test_polyphonic_rate_counts_notes_where_any_sound():
    x = silence(tracks=1)
    x[0, 0, 0:96, [0, 4, 7]] = True  # a triad for two bars, then silence (not counted)
    x[0, 0, 96:192, 0] = True  # one note for two bars
    assert polyphonic_rate(x).tolist() == [2.0]


def test_bar_similarity_is_one_for_a_repeated_bar_and_lower_for_changing_bars():
    repeated = silence(tracks=2)
    for bar in range(4):
        repeated[0, 0, bar * 48 : bar * 48 + 24, [0, 4, 7]] = True  # the same chord, same rhythm
        repeated[0, 1, bar * 48 : bar * 48 + 48 : 12, 12] = True
    changing = repeated.copy()
    changing[0, 0, 48:96] = False
    changing[0, 0, 60:96, [2, 6, 9]] = True  # another chord, later in the bar
    same = bar_similarity(self_similarity(repeated, STEPS_PER_BAR, C1))
    assert same == pytest.approx(1.0)
    assert bar_similarity(self_similarity(changing, STEPS_PER_BAR, C1)) < same


def test_shuffled_tracks_keep_each_track_and_mix_them_between_phrases():
    rng = np.random.default_rng(1)
    x = rng.random((50, 3, 48, 12)) < 0.1
    y = shuffled_tracks(x)
    for t in range(3):  # the same set of parts for each track
        assert sorted(map(bytes, np.packbits(x[:, t].reshape(50, -1), axis=1))) == \
            sorted(map(bytes, np.packbits(y[:, t].reshape(50, -1), axis=1)))
    assert not np.array_equal(x, y)


def _result(generated: dict, validation: dict, shuffled_td: dict, over_90=0, phrases=5000) -> dict:
    return {"sets": {"generated": {**generated, "phrases": phrases}, "validation": validation},
            "TD_shuffled_validation": shuffled_td, "resolution": {"bars": 4},
            "novelty": {"samples": 1000, "over_90_percent": over_90}}


def test_targets_pass_and_miss_where_the_issue_draws_the_lines():
    data = {"EB": {"Drums": 4.5, "Bass": 7.7}, "QN": {"Bass": 88.0}, "DP": 95.0, "UPC": {"Bass": 2.1},
            "TD": {"Bass-Piano": 0.8}, "polyphonic_rate": {"Drums": 2.0, "Bass": 1.05}}
    good = {"EB": {"Drums": 9.4, "Bass": 3.0}, "QN": {"Bass": 80.0}, "DP": 85.0, "UPC": {"Bass": 2.5},
            "TD": {"Bass-Piano": 1.2}, "polyphonic_rate": {"Drums": 2.19, "Bass": 1.0}}
    checks = check_targets(_result(good, data, {"Bass-Piano": 1.3}))
    assert all(c.met for c in checks), format_checks(checks)
    assert len(checks) == 2 + 1 + 1 + 1 + 1 + 2 + 2  # EB x2, QN, DP, UPC, TD, poly x2, novelty, bars

    bad = {"EB": {"Drums": 10.0, "Bass": 3.0}, "QN": {"Bass": 79.9}, "DP": 84.0, "UPC": {"Bass": 2.7},
           "TD": {"Bass-Piano": 1.31}, "polyphonic_rate": {"Drums": 2.21, "Bass": 1.0}}
    checks = check_targets(_result(bad, data, {"Bass-Piano": 1.3}, over_90=1, phrases=4999))
    missed = {c.target for c in checks if not c.met}
    assert missed == {"EB Drums", "QN Bass", "DP", "UPC Bass", "TD Bass-Piano", "polyphonic_rate Drums",
                      "phrases over 90% like a training phrase", "generated bars measured"}
    assert "MISS  EB Drums" in format_checks(checks)


def test_measure_of_real_songs_has_every_metric():
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases

    phrases = build_phrases(FIXTURES / "lpd", PhraseSpec(steps_per_beat=12), cache_dir=None)
    names = ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    m = measure(np.asarray(phrases.rolls), names, 0, STEPS_PER_BAR, C1)
    assert set(m) == {"phrases", "EB", "UPC", "QN", "polyphonic_rate", "pitch_range", "in_scale", "TD", "DP",
                      "bar_similarity", "off_grid", "one_step", "onset_position"}
    assert all(len(shares) == 12 for shares in m["onset_position"].values())
    assert m["off_grid"]["Drums"] < 10  # real players start few notes between the 16ths and triplets
    assert 0 < m["bar_similarity"] < 1
    assert m["DP"] > 80 and all(q is None or q > 50 for q in m["QN"].values())  # real drums sit on the grid
    assert len(m["TD"]) == 6  # every pair of the four pitched tracks


@pytest.mark.slow
def test_eval_of_the_shipped_model_on_real_songs_writes_the_targets(tmp_path):
    out = tmp_path / "eval.json"
    done = subprocess.run(
        [sys.executable, "-m", "bytes2beats", "eval", "--data", str(FIXTURES / "lpd" / "rock"), "--samples", "40",
         "--novelty-samples", "20", "--json", str(out), "--images", str(tmp_path / "images"),
         "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "EB Drums" in done.stdout and "novelty:" in done.stdout
    result = json.loads(out.read_text())
    assert result["sets"]["generated"]["phrases"] == 40
    assert result["novelty"]["samples"] == 20 and sum(result["novelty"]["histogram"]) == 20
    assert (tmp_path / "images" / "self_similarity_generated.png").is_file()
    assert (tmp_path / "images" / "generated_sheet.png").is_file()
    assert result["seed"] == 10_000 and set(result["track_thresholds"]) == {"Drums", "Piano", "Guitar", "Bass", "Strings"}
    assert result["monophonic"] == ["Bass"]  # the shipped model decodes its bass as a line
    other = tmp_path / "other.json"
    done = subprocess.run(
        [sys.executable, "-m", "bytes2beats", "eval", "--data", str(FIXTURES / "lpd" / "rock"), "--samples", "40",
         "--novelty-samples", "20", "--json", str(other), "--seed", "777", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    moved = json.loads(other.read_text())
    assert moved["seed"] == 777 and moved["sets"]["generated"] != result["sets"]["generated"]  # another set of phrases
    assert moved["sets"]["training"] == result["sets"]["training"]  # against the same songs


def test_eval_genre_all_on_a_model_without_genres_is_one_clear_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bytes2beats", "eval", "--model", "rock", "--data", str(FIXTURES / "lpd"),
                           "--genre", "all"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "not genre-conditioned" in done.stderr


def test_the_copy_check_tells_copied_phrases_from_new_ones_on_real_songs(tmp_path):
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases
    from bytes2beats.engine.evaluate import copy_verdict, nearest_overlap

    phrases = build_phrases(FIXTURES / "lpd" / "rock", PhraseSpec(5, 12, 4), cache_dir=tmp_path)
    rolls = np.stack([phrases.rolls[i] for i in range(len(phrases.rolls))])
    copied = nearest_overlap(rolls[:10], rolls)  # a model that plays its training phrases back
    assert np.allclose(copied, 1.0)
    shifted = np.roll(rolls[:10], 7, axis=-1)  # the same phrases a fifth up: their own notes
    moved = nearest_overlap(shifted, rolls)
    assert moved.max() < 0.9

    def novelty(overlap):
        return {"samples": len(overlap), "over_90_percent": int((overlap > 0.9).sum()),
                "max_overlap": float(overlap.max())}

    said = copy_verdict(novelty(copied))
    assert "copies its training songs: 10 of 10" in said and "more files, or for fewer epochs" in said
    assert copy_verdict(novelty(moved)).startswith("copying: no, no generated phrase")
    one_in_forty = np.concatenate([copied[:1], np.resize(moved, 39)])
    assert copy_verdict(novelty(one_in_forty)).startswith("copying: a little: 1 of 40")  # under 5 %: not a copier
    assert copy_verdict({"samples": 0, "over_90_percent": 0, "max_overlap": 0.0}).endswith("not measured "
                                                                                          "(no training phrases to compare with)")


def test_eval_decodes_the_songs_as_the_model_decodes_to_compare_like_with_like(tmp_path):
    """The classifier's like-for-like tests: real phrases through the shipped model's own
    decoding come out on its grid, with its bass a line, and each comparison is reported with
    what it compares."""
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases
    from bytes2beats.engine.evaluate import (
        CLASSIFIER_PAIRS,
        _classifier_tests,
        _decoded_features,
        decoded_songs,
        format_classifier,
    )
    from bytes2beats.engine.generate import Composer
    from bytes2beats.engine.two_sample import phrase_features

    composer = Composer.load("genres-chords", "cpu")
    cfg = composer.config
    phrases = build_phrases(FIXTURES / "lpd", PhraseSpec.of_model(cfg), cache_dir=tmp_path, workers=1)
    first_songs = phrases.song < 3
    sets = {"training": phrases.rolls[first_songs], "validation": phrases.rolls[~first_songs]}
    songs = {"training": phrases.song[first_songs], "validation": phrases.song[~first_songs]}
    assert off_grid_onsets(sets["training"], cfg.steps_per_beat).sum() > 0  # the songs' own timing is loose
    notes = composer.decode(sets["training"].astype(np.float32), genre="rock", pull=False)
    assert off_grid_onsets(notes, cfg.steps_per_beat).sum() == 0  # on the grid, as the model's notes
    assert notes[:, 3].sum(axis=2).max() == 1  # the bass a line
    assert notes.sum() > 0.8 * sets["training"].sum()  # the songs' notes, not silence
    in_chunks = decoded_songs(composer, sets["training"], np.arange(len(notes)), "rock", chunk=16)
    assert np.array_equal(np.concatenate(list(in_chunks)), notes)  # chunk by chunk, the same
    played = [np.concatenate(list(decoded_songs(composer, sets["training"], np.arange(len(notes)), "rock", chunk=chunk,
                                                feel=1.0))) for chunk in (16, 256)]
    assert np.array_equal(*played)  # each phrase's feel is its own, whatever the chunks
    assert off_grid_onsets(played[0], cfg.steps_per_beat).sum() > 0  # played with the songs' feel: off the grid

    def featured(x):
        return phrase_features(x, [t.name for t in cfg.tracks], 0, cfg.steps_per_beat, cfg.lowest_pitch)

    decoded, decoded_songs = _decoded_features(composer, sets, songs, "rock", None, None, featured, 0.0)
    assert np.allclose(decoded["decoded_training"][0], featured(notes)[0], equal_nan=True)  # chunk by chunk, the same
    assert np.array_equal(decoded_songs["decoded_validation"], songs["validation"])
    features = {name: featured(x) for name, x in sets.items()}
    features["generated"], songs["generated"] = decoded["decoded_training"], None  # any phrases stand in
    tests = _classifier_tests({**features, **decoded}, {**songs, **decoded_songs})
    assert list(tests) == [f"{a}_vs_{b}" for a, b in CLASSIFIER_PAIRS]
    lines = "\n".join(format_classifier(tests))
    assert "training phrases decoded as the model decodes vs validation phrases" in lines
    assert "generated phrases vs validation phrases decoded as the model decodes" in lines
