"""`bytes2beats accompany` as a user meets it: a real POP909 piano part and a real LPD bass line
kept note for note in the file it writes, the other tracks generated to the part's chords, the
inversion measured to fit the part, and one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bytes2beats.engine.accompany import PART_STEPS_PER_BEAT, invert, part_chords, read_part
from bytes2beats.engine.chords import phrase_chord_features
from bytes2beats.engine.families import family_tracks, merge_to_families
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import chord_tone_share
from bytes2beats.engine.music_io import chord_changes, read_chord_markers, read_music, write_midi
from bytes2beats.engine.pianoroll import Multitrack, resample
from bytes2beats.engine.progression import chord_name

FIXTURES = Path(__file__).parent / "fixtures"
POP = FIXTURES / "pop909" / "001.mid"
PIANO, BASS = 1, 3


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True, timeout=300)


def families_of(path: Path) -> Multitrack:
    return merge_to_families(read_music(path, steps_per_beat=PART_STEPS_PER_BEAT), 5)


@pytest.fixture(scope="module")
def bass_line(tmp_path_factory) -> Path:
    """The bass of the first 4 bars where a real LPD rock song's bass plays, alone in a MIDI file."""
    song = merge_to_families(read_music(next((FIXTURES / "lpd" / "rock").glob("*.npz"))), 5)
    song = resample(song, PART_STEPS_PER_BEAT)
    bar = PART_STEPS_PER_BEAT * 4
    first = int(np.flatnonzero(song.rolls[BASS].any(axis=1))[0]) // bar * bar
    rolls = np.zeros((5, 4 * bar, 128), np.uint8)
    rolls[BASS] = song.rolls[BASS, first : first + 4 * bar]
    path = tmp_path_factory.mktemp("part") / "bass.mid"
    return write_midi(Multitrack(family_tracks(5), rolls, PART_STEPS_PER_BEAT, song.tempo, "bass"), path)


def test_a_pop909_piano_part_is_kept_note_for_note_and_the_rest_plays_to_its_chords(tmp_path):
    out = tmp_path / "full.mid"
    run = run_cli("accompany", "--part", str(POP), "--bars", "4", "--genre", "pop", "--out", str(out))
    assert run.returncode == 0, run.stderr[-800:]
    assert "your Piano with Drums" in run.stdout
    written = families_of(out)
    part = read_part(POP, 5, bars=4)
    assert np.array_equal(written.rolls[PIANO], part.song.rolls[PIANO])  # pitches, times, velocities
    others = [i for i in range(5) if i != PIANO]
    assert sum(written.rolls[i].any() for i in others) >= 3  # drums, guitar, bass, strings: most play
    # the chords it played to are the part's own, written as markers
    composer = Composer.load("genres-chords")
    chords = part_chords(part, composer, 0, "pop")
    expected = ["N.C." if c is None else chord_name(c) for _, c in chord_changes(chords[:16])]
    assert [name for _, name in read_chord_markers(out)] == expected
    # and the generated pitched tracks keep to them far more than chance (27 %)
    grid = resample(written, 12).rolls[:, :, 24:108] > 0
    share = chord_tone_share(grid[None], phrase_chord_features([list(chords[:16])], 16), [2, 3, 4], 24, 12)
    assert share >= 0.6, share


def test_a_bass_line_given_as_bass_is_the_files_bass_and_two_accompaniments_differ(bass_line, tmp_path):
    run = run_cli("accompany", "--part", str(bass_line), "--as", "bass", "--genre", "rock", "--count", "2",
                  "--seed", "5", "--out", str(tmp_path / "takes"))
    assert run.returncode == 0, run.stderr[-800:]
    files = sorted((tmp_path / "takes").glob("*.mid"))
    assert [f.name for f in files] == ["bass-accompanied-seed5.mid", "bass-accompanied-seed6.mid"]
    a, b = families_of(files[0]), families_of(files[1])
    given = families_of(bass_line)
    assert np.array_equal(a.rolls[BASS], given.rolls[BASS]) and np.array_equal(b.rolls[BASS], given.rolls[BASS])
    assert not np.array_equal(a.rolls[PIANO], b.rolls[PIANO])  # a new take, the same part


def test_inversion_makes_the_model_draw_the_part(bass_line):
    from bytes2beats.engine.accompany import accompaniment_idea

    composer = Composer.load("genres-chords")
    part = read_part(bass_line, 5)
    idea, _ = accompaniment_idea(composer, part, 3, "rock", steps=0)  # the seed's noise, the part's chords
    _, drawn = invert(composer, idea, part, steps=0)
    inverted, fit = invert(composer, idea, part, steps=80)
    assert fit > drawn + 0.2, (drawn, fit)
    assert np.array_equal(inverted.z_tracks[:, [0, 1, 2, 4]], idea.z_tracks[:, [0, 1, 2, 4]])  # theirs untouched


def test_the_inversion_draws_the_other_tracks_to_the_parts_harmony(monkeypatch):
    """The harmony term (HARMONY_WEIGHT): the guitar, bass and strings made around real LPD
    rock piano parts (the fixture songs' first 4 bars of piano) agree with them more (tonal
    distance, bar by bar) than without the term, as bench/accompaniment.py measures on 30
    validation phrases (docs/model.md, "Accompaniment")."""
    import bytes2beats.engine.accompany as accompany_module
    from bytes2beats.engine.accompany import Part
    from bytes2beats.engine.metrics import bars_of, tonal_distance

    composer = Composer.load("genres-chords")
    bar = PART_STEPS_PER_BEAT * 4
    parts = []
    for path in sorted((FIXTURES / "lpd" / "rock").glob("*.npz")):
        song = resample(merge_to_families(read_music(path), 5), PART_STEPS_PER_BEAT)
        playing = np.flatnonzero(song.rolls[PIANO].any(axis=1))
        if len(playing):
            first = int(playing[0]) // bar * bar
            rolls = np.zeros_like(song.rolls[:, : 4 * bar])
            rolls[PIANO] = song.rolls[PIANO, first : first + 4 * bar]
            parts.append(Part(Multitrack(song.tracks, rolls, PART_STEPS_PER_BEAT, song.tempo, path.stem), [PIANO], 4))
    assert len(parts) >= 2

    def distance() -> float:
        made = [a.clip for part in parts for a in accompany_module.accompany(composer, part, seed=1, genre="rock",
                                                                             count=2)]
        rolls = np.stack([resample(clip, 12).rolls[:, :, 24:108] > 0 for clip in made])
        bars = bars_of(rolls, 48)
        return float(np.nanmean([tonal_distance(bars, PIANO, other, 24) for other in (2, 3, 4)]))

    with_term = distance()
    monkeypatch.setattr(accompany_module, "HARMONY_WEIGHT", 0.0)
    without = distance()
    assert with_term < without - 0.03, (with_term, without)


@pytest.mark.parametrize("args, message", [
    (["--bars", "0"], "--bars must be from 1 to 32"),
    (["--count", "0"], "--count must be from 1 to 100"),
    (["--genre", "polka"], "no genre 'polka'"),
])
def test_bad_options_are_one_line(args, message, tmp_path, cli_in_process):
    out = tmp_path / "x.mid"
    code, _, err = cli_in_process("accompany", "--part", POP, "--out", out, *args)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_part_with_no_notes_or_not_music_is_one_line(tmp_path, cli_in_process):
    empty = write_midi(Multitrack(family_tracks(5), np.zeros((5, 48, 128), np.uint8), 12), tmp_path / "empty.mid",
                       keep_empty=True)
    for part, message in ((empty, "no notes"), (FIXTURES / "README.md", "not a MIDI")):
        code, _, err = cli_in_process("accompany", "--part", part, "--out", tmp_path / "x.mid")
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.mid").exists()



def test_inversion_in_a_key_away_from_home_draws_the_part_in_the_key_asked_for(bass_line):
    """A phrase made in a home key a semitone away (engine/key_homing.py) is inverted there:
    the part moves with the chords, and the clip made from the idea draws it back in its key.
    An accompaniment itself is made in its part's own key."""
    from bytes2beats.engine.accompany import _targets, accompaniment_idea
    from bytes2beats.engine.progression import Key, estimate_key

    shipped = Composer.load("genres-chords")
    part = read_part(bass_line, 5)
    chords = list(part_chords(part, shipped, 3, "rock"))
    key = estimate_key([c for c in chords if c is not None])
    home = Key((key.tonic + 1) % 12, key.minor)  # up: this bass reaches the model's lowest pitch
    composer = Composer(shipped.generator, {**shipped.meta, "home_keys": [home.name]}, "away")
    idea = composer.new_idea(3, part.n_bars, "rock", chords=chords)
    assert set(composer.chord_inputs(idea)[1].tolist()) == {1}
    _, drawn = invert(composer, idea, part, steps=0)
    inverted, fit = invert(composer, idea, part, steps=80)
    assert fit > drawn + 0.2, (drawn, fit)
    cfg = composer.config
    bass = composer.probabilities([inverted])[0][BASS, :, cfg.lowest_pitch:cfg.lowest_pitch + cfg.n_pitches]
    played = bass.reshape(idea.n_phrases, cfg.n_steps, -1) >= composer.default_threshold
    wanted = _targets(part, composer)[:, 0] > 0.5
    hits = (played & wanted).sum()
    assert abs(2 * hits / (played.sum() + wanted.sum()) - fit) < 0.02  # the fit, in the key asked for

    down = Composer(shipped.generator, {**shipped.meta, "home_keys": [Key((key.tonic - 1) % 12, key.minor).name]})
    own, _ = accompaniment_idea(down, part, 3, "rock", chords=chords, steps=0)
    assert not own.home_keys and set(down.chord_inputs(own)[1].tolist()) == {0}
