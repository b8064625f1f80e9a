"""Fitting a model's decoding to its data: a threshold, each track's scale per genre, lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from bytes2beats.engine.binarize import PLAIN, binarize
from bytes2beats.engine.calibrate import MONOPHONIC_BELOW, calibrate_decoding
from bytes2beats.engine.dataset import PhraseSpec, build_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import onsets, polyphonic_rate
from bytes2beats.engine.model import (
    Critic,
    Generator,
    ModelConfig,
    load_critic_weights,
    load_model,
    save_model,
)

LPD = Path(__file__).parent / "fixtures" / "lpd"


@pytest.fixture(scope="module")
def training(tmp_path_factory):
    phrases = build_phrases(LPD, PhraseSpec(), cache_dir=tmp_path_factory.mktemp("cache"), workers=1)
    return phrases.split(validation=False)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)  # untrained, real: its probabilities differ from track to track
    return Generator(ModelConfig(genres=["pop", "rock"], g_width=8, d_width=8)).eval()


def calibrated_alone(generator, tmp_path, flag: str, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`bytes2beats calibrate FLAG` on a file of `generator` whose decoding is a threshold of 0.5
    and rock's scales all 1, on the fixture songs: the run, and the file's metadata after it,
    checked to keep that threshold and those scales (the part it fits, alone, moves)."""
    model = save_model(generator, tmp_path / f"{flag.strip('-')}.safetensors",
                       {"threshold": 0.5, "track_scales": {"rock": [1] * 5}})
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data", str(LPD),
                          flag, *options, "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    _, meta = load_model(model)
    assert meta["threshold"] == 0.5 and meta["track_scales"] == {"rock": [1] * 5}  # the rest as it was
    return run, meta


def test_each_track_of_each_genre_plays_as_much_as_in_the_songs(training, generator):
    decoding = calibrate_decoding(generator, training, samples=48)
    composer = Composer(generator, decoding)
    assert set(decoding["track_scales"]) == {"pop", "rock"}
    low, n = composer.config.lowest_pitch, composer.config.n_pitches
    for genre in ("pop", "rock"):
        rows = training.genre == training.genres.index(genre)
        wanted = training.rolls[rows].mean(axis=(0, 2, 3))
        ideas = [composer.new_idea(99 + k, genre=genre) for k in range(48)]  # the phrases it was fitted on
        probs = np.stack([p[:, :, low : low + n] for p in composer.probabilities(ideas)])
        # before the lines are drawn, as the scales are fitted
        notes = binarize(probs, composer.track_thresholds(genre=genre), composer.hold_ratio, decoding["repeats"])
        got = notes.mean(axis=(0, 2, 3))
        assert np.allclose(got, wanted, rtol=0.02), (genre, got, wanted)
        # one threshold for every track would not do it
        single = binarize(probs, composer.default_threshold, composer.hold_ratio).mean(axis=(0, 2, 3))
        assert not np.allclose(single, wanted, rtol=0.1)


def test_the_quantizer_is_fitted_to_where_each_genres_songs_start_notes(tmp_path):
    from bytes2beats.engine.calibrate import SPREADS
    from bytes2beats.engine.metrics import off_grid_onsets, onset_positions

    phrases = build_phrases(LPD, PhraseSpec(steps_per_beat=12), cache_dir=tmp_path, workers=1).split(validation=False)
    torch.manual_seed(0)
    generator = Generator(ModelConfig(genres=["pop", "rock"], steps_per_beat=12, time_layers="staged",
                                      g_width=8, d_width=8)).eval()
    decoding = calibrate_decoding(generator, phrases, samples=16)
    assert decoding["repeats"] is True and set(decoding["onset_prior"]) == set(decoding["onset_spread"]) == {"pop", "rock"}
    rock = np.asarray(decoding["onset_prior"]["rock"])
    songs = onset_positions(phrases.rolls[phrases.genre == phrases.genres.index("rock")], 12)
    assert rock.shape == (5, 12) and np.allclose(rock, np.nan_to_num(songs), atol=1e-4)  # all of a small genre's phrases
    assert rock[:, 0].min() > 0.3  # the beat: where these songs start most of every track's notes
    assert all(s in SPREADS for spreads in decoding["onset_spread"].values() for s in spreads)
    composer = Composer(generator, {**decoding, "repeat_bars": {}})  # the quantizer alone: the pull has its own test
    low, n = composer.config.lowest_pitch, composer.config.n_pitches
    probs = np.stack([p[:, :, low : low + n] for p in composer.probabilities([composer.new_idea(k, genre="rock") for k in range(8)])])
    assert off_grid_onsets(composer.decode(probs, genre="rock", quantize_strength=0.0), 12).max() > 10  # untrained: anywhere
    assert np.nan_to_num(off_grid_onsets(composer.decode(probs, genre="rock"), 12)).max() == 0

    # each genre's feels: its own songs' timing, against the grid its quantize snaps to
    from bytes2beats.engine.feel import REACH, unpack_feels

    assert set(decoding["feel"]) == {"pop", "rock"}
    feels = unpack_feels(decoding["feel"]["rock"])
    assert feels.shape[1:] == (5, 2, 12, 2 * REACH + 1) and feels[:, :, :, :, REACH].sum() > 0
    assert feels.sum() - feels[..., REACH].sum() > 0  # the songs play some notes off the grid
    played = composer.play_with_feel(composer.decode(probs, genre="rock"), "rock", seed=1)
    assert np.nan_to_num(off_grid_onsets(played, 12)).max() > 0
    assert np.array_equal(composer.play_with_feel(composer.decode(probs, genre="rock"), "rock", 0.0),
                          composer.decode(probs, genre="rock"))


def test_feel_only_adds_the_feels_and_moves_nothing_else_and_a_16th_grid_has_none(training, generator, tmp_path):
    assert "feel" not in calibrate_decoding(generator, training, samples=8)  # 4 steps a beat: all on the grid
    model = save_model(generator, tmp_path / "m.safetensors", {"threshold": 0.5, "track_scales": {"rock": [1] * 5}})
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data", str(LPD),
                          "--feel-only", "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 1 and "there is no timing off it to fit" in run.stderr
    torch.manual_seed(0)
    fine = Generator(ModelConfig(genres=["pop", "rock"], steps_per_beat=12, time_layers="staged", g_width=8, d_width=8))
    run, meta = calibrated_alone(fine, tmp_path, "--feel-only")
    assert "rock: " in run.stdout and "starts off the grid: Drums" in run.stdout
    assert set(meta["feel"]) == {"pop", "rock"} and len(Composer.load(tmp_path / "feel-only.safetensors", "cpu").feels("rock")) > 0


def test_the_tracks_the_songs_play_one_note_at_a_time_become_lines(training, generator):
    decoding = calibrate_decoding(generator, training, samples=16)
    rate = polyphonic_rate(np.asarray(training.rolls))
    names = [t.name for t in generator.cfg.tracks]
    assert decoding["monophonic"] == [names[t] for t in range(len(names)) if 0 < rate[t] < MONOPHONIC_BELOW]
    assert "Bass" in decoding["monophonic"]  # these songs' bass: about one note at a time
    composer = Composer(generator, decoding)
    probs = composer.probabilities([composer.new_idea(1, genre="rock")])[0]
    notes = composer.decode(probs, genre="rock")
    assert notes[names.index("Bass")].sum(-1).max() == 1
    assert notes[names.index("Piano")].sum(-1).max() > 1  # the others are left as they are


def test_a_model_without_scales_decodes_every_track_at_its_threshold(generator):
    composer = Composer(generator, {"threshold": 0.6})
    probs = composer.probabilities([composer.new_idea(3)])[0]
    assert np.array_equal(composer.decode(probs), binarize(probs, 0.6, PLAIN))


def test_the_threshold_knob_moves_every_track_and_stays_below_one(generator):
    scales = [0.5, 1.0, 1.2, 1.0, 0.9]
    composer = Composer(generator, {"threshold": 0.6, "track_scales": {"rock": scales, "pop": [1.0] * 5}})
    assert composer.track_thresholds(genre="rock").ravel() == pytest.approx([0.3, 0.6, 0.72, 0.6, 0.54])
    assert composer.track_thresholds(0.9, "rock").ravel() == pytest.approx([0.45, 0.9, 0.99, 0.9, 0.81])
    assert composer.track_thresholds(0.9, "pop").ravel() == pytest.approx([0.9] * 5)


def test_calibrate_command_rewrites_a_models_decoding_and_keeps_its_weights(training, generator, tmp_path,
                                                                           cli_in_process):
    critic = Critic(generator.cfg)
    model = save_model(generator, tmp_path / "m.safetensors", {"threshold": 0.5, "note": "kept"}, critic=critic)
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data", str(LPD),
                          "--samples", "16", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "rock:" in run.stdout and "monophonic: Bass" in run.stdout
    fitted, meta = load_model(model)
    assert meta["note"] == "kept" and set(meta["track_scales"]) == {"pop", "rock"} and meta["threshold"] != 0.5
    assert all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), generator.state_dict().values()))
    kept = load_critic_weights(model)  # the critic too: the model can still be fine-tuned
    assert kept is not None and all(torch.equal(kept[k], v) for k, v in critic.state_dict().items())
    assert set(meta["bar_gate"]) == {"pop", "rock"} and len(meta["bar_gate"]["rock"]) == 5
    for bad_args in (["--data", str(tmp_path / "nothing-here")], ["--data", str(LPD), "--samples", "0"],
                     ["--data", str(LPD), "--samples", "8", "--out", str(tmp_path / "no-such-folder" / "m.safetensors")]):
        code, _, err = cli_in_process("calibrate", "--model", model, *bad_args, "--cache-dir", tmp_path / "cache")
        assert code == 1 and err.count("\n") == 1, err
    assert not list(tmp_path.rglob("*.part"))  # a failed write leaves nothing behind
    # Refitted on the songs of a folder named after one of its genres: that genre is refitted,
    # the others keep their fit.
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data",
                          str(LPD / "rock"), "--samples", "16", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "not fitted: pop" in run.stdout
    _, refitted = load_model(model)
    assert refitted["track_scales"]["pop"] == meta["track_scales"]["pop"] and "" not in refitted["track_scales"]
    # On a folder of no genre it knows: an entry for all ("") is added, which a genre the
    # model gets no fit for falls back on.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for song in (LPD / "rock").glob("*.npz"):
        (mixed / song.name).symlink_to(song.resolve())
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", str(model), "--data",
                          str(mixed), "--samples", "16", "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "not fitted: pop, rock" in run.stdout, run.stderr[-800:]
    assert "" in load_model(model)[1]["track_scales"]


def test_fitting_leaves_a_training_generator_training(training, generator):
    generator.train()
    try:
        calibrate_decoding(generator, training, samples=8)
        assert generator.training  # `train` fits its sample pictures mid-run
    finally:
        generator.eval()


def test_the_register_is_where_the_songs_keep_their_notes_and_register_only_moves_nothing_else(
        training, generator, tmp_path):
    from bytes2beats.engine.calibrate import fitted_register

    rows = np.arange(len(training))
    reach = fitted_register(training, rows, generator.cfg.tracks)
    assert reach[0] == 0 and all(r > 0 for r in reach[1:])  # drums keep no register
    rolls = training.rolls[rows]
    for t in range(1, 5):  # within its reach of each phrase's median pitch lie 99 % of a track's cells or more
        counts = rolls[:, t].sum(axis=1)
        counts = counts[counts.sum(axis=1) > 0]
        middle = (np.cumsum(counts, axis=1) < counts.sum(axis=1, keepdims=True) / 2).sum(axis=1)
        near = np.abs(np.arange(counts.shape[1])[None, :] - middle[:, None]) <= reach[t]
        assert (counts * near).sum() / counts.sum() >= 0.99 > (counts * (near & (np.abs(
            np.arange(counts.shape[1])[None, :] - middle[:, None]) < reach[t]))).sum() / counts.sum()

    _, meta = calibrated_alone(generator, tmp_path, "--register-only")
    model = tmp_path / "register-only.safetensors"
    assert set(meta["register"]) == {"pop", "rock"} and len(meta["register"]["rock"]) == 5
    assert Composer.load(model, "cpu")._fitted("register", "rock") == meta["register"]["rock"]


def test_the_phrase_rhythm_is_fitted_to_the_songs_and_rhythm_only_moves_nothing_else(training, generator, tmp_path):
    from bytes2beats.engine.calibrate import REPEAT_SHARES, fitted_rhythm
    from bytes2beats.engine.metrics import track_repetition

    decoding = calibrate_decoding(generator, training, samples=32)
    assert set(decoding["repeat_bars"]) == set(decoding["straight_eighths"]) == {"pop", "rock"}
    assert set(decoding["straight_sixteenths"]) == {"pop", "rock"}
    composer = Composer(generator, decoding)
    rock = np.flatnonzero(training.genre == training.genres.index("rock"))
    bar = 4 * composer.config.steps_per_beat
    songs = track_repetition(training.rolls[rock], bar, composer.config.lowest_pitch)[:, 2]
    ideas = [composer.new_idea(7_000 + k, genre="rock") for k in range(32)]
    low, n = composer.config.lowest_pitch, composer.config.n_pitches
    probs = np.stack([p[:, :, low : low + n] for p in composer.probabilities(ideas)])
    fitted = track_repetition(composer.decode(probs, genre="rock"), bar, low)[:, 2]
    shares = decoding["repeat_bars"]["rock"]
    assert all(s in REPEAT_SHARES for s in shares) and any(shares)  # an untrained network repeats nothing
    composer.meta["repeat_bars"] = {}
    unfitted = track_repetition(composer.decode(probs, genre="rock"), bar, low)[:, 2]
    playing = ~np.isnan(songs)
    # on phrases it was not fitted on, the bars start notes nearer as alike as the songs'
    assert np.nanmean(np.abs(fitted - songs)[playing]) < np.nanmean(np.abs(unfitted - songs)[playing])
    assert all(0 <= c <= 1 for c in decoding["straight_eighths"]["rock"] + decoding["straight_sixteenths"]["rock"])

    run, meta = calibrated_alone(generator, tmp_path, "--rhythm-only", "--samples", "16")
    assert "bars pulled toward the phrase's mean bar" in run.stdout
    assert set(meta["repeat_bars"]) == set(meta["straight_eighths"]) == set(meta["straight_sixteenths"]) == {"pop", "rock"}
    again = fitted_rhythm(Composer.load(tmp_path / "rhythm-only.safetensors", "cpu"), training, samples=16)
    assert again["repeat_bars"] == meta["repeat_bars"]  # the same fit from the same songs


def test_the_pull_toward_the_mean_bar_never_stacks_notes_away_from_the_songs(training, generator):
    from bytes2beats.engine.calibrate import AT_ONCE_DRIFT, fitted_rhythm

    composer = Composer(generator, calibrate_decoding(generator, training, samples=16))
    fitted = fitted_rhythm(composer, training, samples=16, seed=300)
    low, n = composer.config.lowest_pitch, composer.config.n_pitches
    for genre in ("pop", "rock"):
        rows = training.genre == training.genres.index(genre)
        songs = polyphonic_rate(training.rolls[rows])
        ideas = [composer.new_idea(300 + k, genre=genre) for k in range(16)]  # the phrases it was fitted on
        probs = np.stack([p[:, :, low : low + n] for p in composer.probabilities(ideas)])
        composer.meta.update(straight_sixteenths={}, straight_eighths={}, repeat_bars={})
        plain = polyphonic_rate(composer.decode(probs, genre=genre))
        composer.meta["repeat_bars"] = fitted["repeat_bars"]
        pulled = polyphonic_rate(composer.decode(probs, genre=genre))
        for t in range(len(plain)):
            assert (abs(pulled[t] - plain[t]) <= AT_ONCE_DRIFT * plain[t] + 1e-9
                    or abs(pulled[t] - songs[t]) <= abs(plain[t] - songs[t])), (genre, t, plain, pulled, songs)


def test_the_drums_are_played_as_a_kit_that_stacks_as_the_songs_drummers_do(training, generator, tmp_path):
    from bytes2beats.engine.calibrate import fitted_kits

    decoding = calibrate_decoding(generator, training, samples=32)
    assert set(decoding["kit"]) == {"pop", "rock"}
    # drums decoded at a low threshold stack more pieces on a hit than the songs' drummers
    decoding.update(repeat_bars={}, straight_sixteenths={}, straight_eighths={})
    decoding["track_scales"]["rock"][0] *= 0.5
    composer = Composer(generator, decoding)
    drums = [t for t, track in enumerate(composer.config.tracks) if track.is_drum]
    low, n = composer.config.lowest_pitch, composer.config.n_pitches

    def hits_at_once(rolls):
        hits = onsets(rolls[:, drums]).sum(-1)
        return hits[hits > 0].mean()

    composer.meta["kit"] = fitted_kits(composer, training, samples=32)
    ideas = [composer.new_idea(8_000 + k, genre="rock") for k in range(32)]  # not the phrases it was fitted on
    probs = np.stack([p[:, :, low : low + n] for p in composer.probabilities(ideas)])
    kit = composer.decode(probs, genre="rock")
    assert np.array_equal(kit[:, drums], onsets(kit[:, drums]))  # each drum a hit
    composer.meta["kit"] = {}
    plain = composer.decode(probs, genre="rock")
    assert np.array_equal(kit[:, drums].any(-1), onsets(plain[:, drums]).any(-1))  # no step's surest hit lost
    songs = hits_at_once(training.rolls[training.genre == training.genres.index("rock")])
    assert hits_at_once(plain) > songs * 1.1
    assert abs(hits_at_once(kit) - songs) < 0.5 * abs(hits_at_once(plain) - songs), (hits_at_once(kit), hits_at_once(plain), songs)

    run, meta = calibrated_alone(generator, tmp_path, "--kit-only", "--samples", "16")
    assert "drums: hits at once past the surest kept" in run.stdout
    assert set(meta["kit"]) == set(meta["repeat_bars"]) == {"pop", "rock"}


def test_manners_only_draws_the_table_anew_per_arrangement_and_keeps_the_rest(tmp_path):
    # the shipped manner model, its table drawn anew from the fixture songs (rock and pop): those
    # two genres' rows are the songs' phrases, every other genre's rows, the network, the
    # decoding, the take judges and the genre lean are the file's own
    out = tmp_path / "manners.safetensors"
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "calibrate", "--model", "genres", "--data", str(LPD),
                          "--manners-only", "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-800:]
    assert "drawn per arrangement" in run.stdout and "rock: phrases asking each part to play" in run.stdout
    shipped, fitted = Composer.load("genres", "cpu"), Composer.load(out, "cpu")
    assert fitted.meta == shipped.meta and set(fitted.take_judges) == set(shipped.take_judges)
    before, after = shipped.generator.state_dict(), fitted.generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k != "manner_table")
    genres = shipped.config.genres
    changed = [g for k, g in enumerate(genres) if not torch.equal(before["manner_table"][k], after["manner_table"][k])]
    assert changed == ["pop", "rock"]
