"""Chord names, keys, Roman numerals and progressions (engine/progression.py); the extractor
(engine/chords.py) on hand-made phrases and on a real POP909 song; chords written into MIDI
files as markers and XF chord events, read back by mido and by MuseScore 3."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
import pytest
from bytes2beats.engine.chords import Chord, extract_chords
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.music_io import read_chord_markers, read_midi, write_midi
from bytes2beats.engine.pianoroll import Multitrack, Track
from bytes2beats.engine.progression import (
    ChordError,
    Key,
    chord_name,
    chords_from_midi,
    describe,
    estimate_key,
    parse_chord,
    parse_key,
    parse_progression,
    per_beat,
    progression_in_key,
)
from conftest import musescore_musicxml

FIXTURES = Path(__file__).parent / "fixtures"
POP909 = Path(__file__).parents[1].parent / "shared/data/pop909"
C, Db, D, Eb, E, F, Gb, G, Ab, A, Bb, B = range(12)


def pcs(*names: int) -> tuple[int, ...]:
    return tuple(sorted(n % 12 for n in names))


# ---------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("name, root, quality, bass, pitch_classes", [
    ("C", C, "", None, pcs(C, E, G)),
    ("Am", A, "m", None, pcs(A, C, E)),
    ("Cmin", C, "m", None, pcs(C, Eb, G)),
    ("F#m7", Gb, "m7", None, pcs(Gb, A, Db, E)),
    ("Bb", Bb, "", None, pcs(Bb, D, F)),
    ("Bbm", Bb, "m", None, pcs(Bb, Db, F)),
    ("Db", Db, "", None, pcs(Db, F, Ab)),
    ("C#", Db, "", None, pcs(Db, F, Ab)),
    ("G7", G, "7", None, pcs(G, B, D, F)),
    ("Dsus4", D, "sus4", None, pcs(D, G, A)),
    ("Dsus2", D, "sus2", None, pcs(D, E, A)),
    ("Cmaj7", C, "maj7", None, pcs(C, E, G, B)),
    ("CM7", C, "maj7", None, pcs(C, E, G, B)),
    ("Bdim", B, "dim", None, pcs(B, D, F)),
    ("B°", B, "dim", None, pcs(B, D, F)),
    ("Bm7b5", B, "m7b5", None, pcs(B, D, F, A)),
    ("Bø", B, "m7b5", None, pcs(B, D, F, A)),
    ("Caug", C, "aug", None, pcs(C, E, Ab)),
    ("C+", C, "aug", None, pcs(C, E, Ab)),
    ("C6", C, "", None, pcs(C, E, G, A)),  # no sixth chord in the vocabulary: C major, tones kept
    ("Fadd9", F, "", None, pcs(F, A, C, G)),
    ("Cdim7", C, "dim", None, pcs(C, Eb, Gb, A)),
    ("C/E", C, "", E, pcs(C, E, G)),
    ("Am/G", A, "m", G, pcs(A, C, E)),
    ("G7/B", G, "7", B, pcs(G, B, D, F)),
    ("Bb/D", Bb, "", D, pcs(Bb, D, F)),
    ("C/C", C, "", None, pcs(C, E, G)),
    ("E♭m", Eb, "m", None, pcs(Eb, Gb, Bb)),
    ("am", A, "m", None, pcs(A, C, E)),
    ("d/f#", D, "", Gb, pcs(D, Gb, A)),
])
def test_chord_names_as_musicians_write_them(name, root, quality, bass, pitch_classes):
    chord = parse_chord(name)
    assert (chord.root, chord.quality, chord.bass) == (root, quality, bass)
    assert chord.pitch_classes == pitch_classes
    assert chord.bass_note == (root if bass is None else bass)


def test_a_chord_in_the_vocabulary_is_the_extractors_own():
    assert parse_chord("Am") == Chord(A, "m")
    assert parse_chord("C/E") == Chord(C, "", E)
    assert parse_chord("F#m7") == Chord.from_name("F#m7")
    assert parse_chord("C6") != Chord(C, "")  # the A counts


@pytest.mark.parametrize("name", ["C", "Am", "F#m7", "Bb", "G7", "Dsus4", "Cmaj7", "Bdim", "Caug", "C6",
                                  "Fadd9", "C/E", "Am/G", "C6/E", "Bm7b5", "C9"])
def test_names_come_back_as_written(name):
    assert chord_name(parse_chord(name)) == name


@pytest.mark.parametrize("name", ["N", "NC", "N.C.", "-", "nc"])
def test_no_chord(name):
    assert parse_chord(name) is None


@pytest.mark.parametrize("name, message", [
    ("Hmaj9", "unknown chord 'Hmaj9'"),
    ("Xm", "unknown chord 'Xm'"),
    ("Cfoo", "unknown chord 'Cfoo'"),
    ("C/X", "unknown chord 'C/X'"),
    ("", "empty chord name"),
    ("   ", "empty chord name"),
    ("IV", "'IV' is a Roman numeral: a key is needed to read it"),
])
def test_a_bad_chord_is_one_line_naming_it(name, message):
    with pytest.raises(ChordError) as caught:
        parse_chord(name)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


# ---------------------------------------------------------------------------------------
# Keys and Roman numerals


@pytest.mark.parametrize("text, tonic, minor, name", [
    ("A minor", A, True, "A minor"),
    ("Am", A, True, "A minor"),
    ("a minor", A, True, "A minor"),
    ("A min", A, True, "A minor"),
    ("F# major", Gb, False, "F# major"),
    ("Bb", Bb, False, "Bb major"),
    ("C", C, False, "C major"),
    ("Eb minor", Eb, True, "Eb minor"),
    ("c#m", Db, True, "C# minor"),
    ("Db major", Db, False, "Db major"),
    ("G# minor", Ab, True, "G# minor"),
])
def test_keys(text, tonic, minor, name):
    key = parse_key(text)
    assert key == Key(tonic, minor)
    assert key.name == name


def test_a_keys_scale_is_its_seven_pitch_classes_from_the_tonic():
    assert Key(C, False).scale == (C, D, E, F, G, A, B)
    assert Key(A, True).scale == (A, B, C, D, E, F, G)  # natural minor
    assert Key(Gb, False).scale == (Gb, Ab, Bb, B, Db, Eb, F)


@pytest.mark.parametrize("text", ["H lydian", "C lydian", "", "Amm", "X", "minor", "C##"])
def test_a_key_that_is_no_key_is_one_line(text):
    with pytest.raises(ChordError) as caught:
        parse_key(text)
    assert str(caught.value) == f"not a key: {text!r}"


@pytest.mark.parametrize("numeral, name", [
    ("I", "C"), ("ii", "Dm"), ("iii", "Em"), ("IV", "F"), ("V", "G"), ("vi", "Am"),
    ("vii°", "Bdim"), ("viio", "Bdim"), ("viidim", "Bdim"), ("viiø7", "Bm7b5"),
    ("bVII", "Bb"), ("bIII", "Eb"), ("bVI", "Ab"), ("#iv", "F#m"),
    ("V7", "G7"), ("ii7", "Dm7"), ("IVmaj7", "Fmaj7"), ("I6", "C6"), ("Vsus4", "Gsus4"),
    ("V/V", "D"), ("V7/ii", "A7"), ("vii°7/V", "F#dim7"), ("I/E", "C/E"), ("iv", "Fm"),
])
def test_roman_numerals_in_a_major_key(numeral, name):
    assert chord_name(parse_chord(numeral, Key(C, False))) == name


@pytest.mark.parametrize("numeral, name", [
    ("i", "Am"), ("ii°", "Bdim"), ("III", "C"), ("iv", "Dm"), ("v", "Em"), ("V", "E"),
    ("VI", "F"), ("VII", "G"), ("bVII", "G"), ("i7", "Am7"), ("V7", "E7"),
])
def test_roman_numerals_in_a_minor_key(numeral, name):
    assert chord_name(parse_chord(numeral, Key(A, True))) == name


def test_numerals_follow_the_key():
    in_a_minor = parse_progression("i VI III VII", parse_key("A minor"))
    assert describe(in_a_minor) == "Am F C G"
    in_f_sharp = parse_progression("I V vi IV", parse_key("F# major"))
    assert describe(in_f_sharp) == "F# C# Ebm B"


# ---------------------------------------------------------------------------------------
# Progressions


def test_a_progression_is_bars_of_chords():
    bars = parse_progression("Am F C,G")
    assert bars == [[Chord(A, "m")], [Chord(F, "")], [Chord(C, ""), Chord(G, "")]]
    assert describe(bars) == "Am F C,G"
    assert describe(parse_progression("  C/E   N  F#m7,Bbmaj7,C6  ")) == "C/E N F#m7,Bbmaj7,C6"


@pytest.mark.parametrize("text, message", [
    ("", "empty chord progression"),
    ("   \n ", "empty chord progression"),
    ("Am Hmaj9 C", "unknown chord 'Hmaj9'"),
    ("C,,G", "an empty chord in the bar 'C,,G'"),
    ("I IV V", "'I' is a Roman numeral: a key is needed to read it"),
])
def test_a_bad_progression_is_one_line(text, message):
    with pytest.raises(ChordError) as caught:
        parse_progression(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_per_beat_splits_bars_evenly_and_repeats_the_progression():
    c, g, am, f = (parse_chord(n) for n in ("C", "G", "Am", "F"))
    assert per_beat([[c]], 1) == [c] * 4
    assert per_beat([[c, g]], 1) == [c, c, g, g]
    assert per_beat([[c, g, am]], 1) == [c, c, g, am]
    assert per_beat([[c, g, am, f]], 1) == [c, g, am, f]
    assert per_beat([[am], [f]], 4) == [am] * 4 + [f] * 4 + [am] * 4 + [f] * 4  # repeats
    assert per_beat(parse_progression("Am F C G"), 2) == [am] * 4 + [f] * 4  # cut
    assert per_beat([[c, g]], 1, beats_per_bar=3) == [c, c, g]
    assert per_beat([[None]], 1) == [None] * 4
    assert len(per_beat(parse_progression("C G,Am"), 8)) == 32


def test_more_chords_in_a_bar_than_beats_is_an_error():
    with pytest.raises(ChordError, match="5 chords in one bar"):
        per_beat(parse_progression("C,D,E,F,G"), 1)
    with pytest.raises(ChordError, match="empty chord progression"):
        per_beat([], 4)


@pytest.mark.parametrize("shift", range(12))
def test_estimate_key_in_every_key(shift):
    major = [c.transposed(shift) for c in per_beat(parse_progression("C F G C Am Dm G C"), 8)]
    minor = [c.transposed(shift) for c in per_beat(parse_progression("Am Dm E Am F G E Am"), 8)]
    assert estimate_key(major) == Key(shift, False)
    assert estimate_key(minor) == Key((A + shift) % 12, True)


@pytest.mark.parametrize("text, key", [
    ("Am F C G", "A minor"), ("C G Am F", "C major"), ("Am Dm E Am", "A minor"), ("G D Em C", "G major"),
    ("Cm Fm G7 Cm", "C minor"), ("E A B E", "E major"), ("Bm G D A", "B minor"), ("C5 F5 G5", "C major"),
])
def test_estimate_key_of_common_progressions(text, key):
    assert estimate_key(per_beat(parse_progression(text), 4)).name == key


def test_estimate_key_needs_chords():
    assert estimate_key(per_beat(parse_progression("N G D Em C N"), 6)) == Key(G, False)
    with pytest.raises(ChordError):
        estimate_key([None, None])


STORED = ["C C G G Am Am F F", "Am Am F F C C G G", "Am Am Dm Dm E E Am Am", "N N D D A A Bm G"]


def test_progression_in_key_moves_a_stored_progression_of_the_same_mode_into_the_key():
    for key in (Key(E, True), Key(Bb, False), Key(Gb, True)):
        for seed in range(6):
            chords = progression_in_key(STORED, key, seed)
            assert len(chords) == 8
            assert progression_in_key(STORED, key, seed) == chords  # the same seed, the same chords
            assert estimate_key(chords) == key
    draws = {tuple(progression_in_key(STORED, Key(C, False), seed)) for seed in range(20)}
    assert len(draws) > 1  # seeds draw different progressions


def test_progression_in_key_uses_the_relative_key_when_no_progression_has_the_mode():
    chords = progression_in_key(["C C G G Am Am F F"], Key(E, True), 0)
    assert [chord_name(c) for c in chords] == ["G", "G", "D", "D", "Em", "Em", "C", "C"]
    with pytest.raises(ChordError):
        progression_in_key(["N N", "not chords"], Key(C, False), 0)


# ---------------------------------------------------------------------------------------
# Extraction on hand-made phrases


def phrase(*half_bars: dict[str, list[int]], steps_per_beat: int = 4) -> Multitrack:
    """A clip of the five families, one half bar (two beats) per dict of track -> pitches held."""
    tracks = family_tracks(5)
    names = [t.name for t in tracks]
    half = 2 * steps_per_beat
    rolls = np.zeros((len(tracks), half * len(half_bars), 128), dtype=np.uint8)
    for k, parts in enumerate(half_bars):
        for track, pitches in parts.items():
            rolls[names.index(track), k * half : (k + 1) * half, pitches] = 100
    return Multitrack(tracks, rolls, steps_per_beat)


def chords_of(clip: Multitrack) -> list[str]:
    return [chord_name(c) for c in extract_chords(clip.rolls, clip.tracks, 0, clip.steps_per_beat)]


def test_a_held_triad_then_another():
    clip = phrase({"Piano": [60, 64, 67]}, {"Piano": [57, 60, 64]})
    assert chords_of(clip) == ["C", "Am"]


def test_the_bass_chooses_the_inversion_and_the_root():
    clip = phrase({"Piano": [60, 64, 67], "Bass": [40]},  # E under C: C/E
                  {"Piano": [60, 64, 67], "Bass": [36]},  # C under C
                  {"Guitar": [57, 60, 64], "Bass": [43]},  # G under Am: the G is a tone too
                  {"Piano": [60, 64], "Bass": [45]})  # C and E over A: Am
    assert chords_of(clip) == ["C/E", "C", "Am7/G", "Am"]


def test_sevenths_sus_dim_and_silence():
    clip = phrase({"Piano": [55, 59, 62, 65]}, {"Strings": [62, 67, 69]}, {"Piano": [59, 62, 65]},
                  {"Drums": [36, 42]}, {"Piano": [57, 60, 64, 67], "Bass": [45]})
    assert chords_of(clip) == ["G7", "Dsus4", "Bdim", "N", "Am7"]


def test_a_passing_note_does_not_change_the_chord():
    clip = phrase({"Piano": [60, 64, 67]})
    clip.rolls[1, 3, 62] = 100  # one 16th of D in a half bar of C major
    assert chords_of(clip) == ["C"]


def test_chords_from_a_hand_made_midi_file(tmp_path):
    clip = phrase({"Piano": [57, 60, 64], "Bass": [45]}, {"Piano": [57, 60, 64], "Bass": [45]},
                  {"Piano": [53, 57, 60], "Bass": [41]}, {"Piano": [53, 57, 60], "Bass": [41]},
                  {"Piano": [60, 64, 67], "Bass": [40]}, {"Piano": [55, 59, 62], "Bass": [43]},
                  {"Drums": [36]}, {"Drums": [36]})
    path = write_midi(clip, tmp_path / "am-f-c-g.mid")
    bars = chords_from_midi(path)
    assert describe(bars) == "Am F C/E,G N"
    assert describe(chords_from_midi(path, n_bars=2)) == "Am F"


# ---------------------------------------------------------------------------------------
# A real song


def pop909(name: str) -> Path:
    shared = POP909 / name
    return shared if shared.exists() else FIXTURES / "pop909" / name  # the fixture is the same file


def test_chords_from_a_pop909_song():
    bars = chords_from_midi(pop909("001.mid"))
    assert len(bars) == 73
    chords = [c for bar in bars for c in bar]
    assert estimate_key(chords) == Key(Gb, False)  # F# major
    in_key = [c.root in Key(Gb, False).scale for c in chords if c is not None]
    assert np.mean(in_key) > 0.9
    # its verse, bar 2 on: IV V | iii vi | IV V | I, as the extractor names them
    assert describe(bars[1:5]) == "B,C# Bbm,Ebm7 Bmaj7,C# F#"
    assert describe(chords_from_midi(pop909("001.mid"), n_bars=4)) == describe(bars[:4])


def test_chords_from_more_pop909_songs_are_mostly_in_their_key():
    paths = sorted(POP909.glob("*.mid"))[:10]
    if not paths:
        pytest.skip(f"POP909 is not in {POP909}")
    for path in paths:
        chords = [c for bar in chords_from_midi(path) for c in bar]
        key = estimate_key(chords)
        in_key = np.mean([c.root in key.scale for c in chords if c is not None])
        assert in_key > 0.8, (path.name, key.name, in_key)


def test_a_file_with_no_pitched_notes_is_refused_in_one_line(tmp_path):
    drums = np.zeros((1, 32, 128), dtype=np.uint8)
    drums[0, ::4, 36] = 100
    path = write_midi(Multitrack([Track("Drums", 0, True)], drums, 4), tmp_path / "drums.mid")
    with pytest.raises(ChordError) as caught:
        chords_from_midi(path)
    assert str(caught.value) == f"{path}: no pitched notes to take chords from"


@pytest.mark.parametrize("name", ["not-midi.mid", "empty.mid", "truncated.mid"])
def test_an_unreadable_file_is_refused_in_one_line(name):
    with pytest.raises(ChordError) as caught:
        chords_from_midi(FIXTURES / "bad" / name)
    message = str(caught.value)
    assert message.startswith(str(FIXTURES / "bad" / name) + ": ") and "\n" not in message


def test_a_missing_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(ChordError, match="no such file"):
        chords_from_midi(tmp_path / "nothing.mid")


# ---------------------------------------------------------------------------------------
# Chords in MIDI files


def clip_with_chords(progression: str) -> Multitrack:
    """Four bars of POP909 001 (from bar 5, where all three tracks play) over a progression."""
    clip = read_midi(pop909("001.mid"), 4)
    clip.rolls = clip.rolls[:, 64:128]
    clip.chords = tuple(per_beat(parse_progression(progression), 4))
    return clip


def test_chords_are_written_as_markers_at_each_change(tmp_path):
    path = write_midi(clip_with_chords("F#,N C6/E Bmaj7,C# F#"), tmp_path / "clip.mid")
    expected = [(0.0, "F#"), (2.0, "N.C."), (4.0, "C6/E"), (8.0, "Bmaj7"), (10.0, "C#"), (12.0, "F#")]
    assert read_chord_markers(path) == expected
    conductor = mido.MidiFile(path).tracks[0]  # with mido alone: on the conductor track, in beats
    tick, markers = 0, []
    for message in conductor:
        tick += message.time
        if message.type == "marker":
            markers.append((tick / 480, message.text))
    assert markers == expected
    again = read_midi(path, 4)  # the notes are as they were
    original = read_midi(pop909("001.mid"), 4)
    for i in range(3):
        assert np.array_equal(again.rolls[i, :64] > 0, original.rolls[i, 64:128] > 0)


def test_xf_chord_events_sit_beside_a_note_that_starts_with_the_chord(tmp_path):
    path = write_midi(clip_with_chords("F#,N C6/E Bmaj7,C# F#"), tmp_path / "clip.mid")
    found = {}
    for track in mido.MidiFile(path).tracks[1:]:
        tick, onsets, chords = 0, set(), {}
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity:
                onsets.add(tick)
            elif message.type == "sequencer_specific":
                chords[tick] = tuple(message.data)
        assert set(chords) <= onsets
        found.update(chords)
    # 43 7B 01 (XF chord), root (accidental << 4 | C=1..B=7), type, bass, bass type
    assert found[0] == (0x43, 0x7B, 0x01, 0x44, 0, 0x7F, 0x7F)  # F# major
    assert found[4 * 480] == (0x43, 0x7B, 0x01, 0x31, 1, 0x33, 0x7F)  # C6 over E
    assert found[8 * 480] == (0x43, 0x7B, 0x01, 0x37, 2, 0x7F, 0x7F)  # Bmaj7
    assert 2 * 480 not in found  # no chord: a marker only


def test_a_clip_without_chords_is_written_as_before(tmp_path):
    clip = read_midi(pop909("001.mid"), 4)
    assert clip.chords is None
    path = write_midi(clip, tmp_path / "clip.mid")
    assert read_chord_markers(path) == []
    midi = mido.MidiFile(path)
    assert [m.type for m in midi.tracks[0]] == ["track_name", "set_tempo", "time_signature", "end_of_track"]
    assert not any(m.type == "sequencer_specific" for t in midi.tracks for m in t)


@pytest.mark.external
def test_musescore_reads_the_chords_back(tmp_path):
    path = write_midi(clip_with_chords("F#,N C6/E Bmaj7,C# F#"), tmp_path / "clip.mid")
    text = musescore_musicxml(path, tmp_path)
    assert text.count("<score-part ") == 3
    assert text.count("<note") >= 30
    harmonies = text.split("<harmony")[1:]
    assert len(harmonies) == 5  # F#, C6/E, Bmaj7, C#, F#: every chord, as a chord symbol
    assert sum("<kind text=\"6\">major-sixth</kind>" in h and "<bass-step>E</bass-step>" in h for h in harmonies) == 1
    assert sum("major-seventh" in h and "<root-step>B</root-step>" in h for h in harmonies) == 1
