"""Music I/O with real files: POP909 MIDI, LPD .npz, the edge cases in fixtures/bad/."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from bytes2beats.engine.families import family_tracks, merge_to_families
from bytes2beats.engine.music_io import (
    MusicFileError,
    assign_channels,
    read_folder,
    read_midi,
    read_music,
    read_npz,
    write_midi,
)
from bytes2beats.engine.pianoroll import Multitrack, Track, notes_to_roll, resample
from conftest import musescore_musicxml

FIXTURES = Path(__file__).parent / "fixtures"
BAD = sorted((FIXTURES / "bad").glob("*.mid"))


def test_midi_to_pianoroll_to_midi_keeps_the_notes(tmp_path):
    song = read_midi(FIXTURES / "pop909" / "001.mid", steps_per_beat=4)
    assert song.track_names == ["MELODY", "BRIDGE", "PIANO"]
    out = write_midi(song, tmp_path / "again.mid")
    again = read_midi(out, steps_per_beat=4)
    for i in range(len(song.tracks)):
        assert again.notes(i) == song.notes(i)
        assert len(song.notes(i)) > 100


def test_written_file_is_type1_with_named_tracks_programs_channels_tempo(tmp_path):
    tracks = family_tracks(5)
    rolls = np.zeros((5, 64, 128), np.uint8)
    rolls[0, ::4, 36] = 1  # kick on every beat
    rolls[1, 0:16, 60] = 1  # one held piano note over a bar
    rolls[3, 0:8, 40] = 1
    rolls[3, 9:16, 40] = 1  # two bass notes, one step apart
    clip = Multitrack(tracks, rolls, steps_per_beat=4, tempo=96.0, name="test")
    path = write_midi(clip, tmp_path / "clip.mid")
    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == 480
    names = [t.name for t in midi.tracks]
    assert names == ["test", "Drums", "Piano", "Bass"]  # empty tracks are left out
    conductor = midi.tracks[0]
    assert any(m.type == "set_tempo" and round(mido.tempo2bpm(m.tempo)) == 96 for m in conductor)
    assert any(m.type == "time_signature" and (m.numerator, m.denominator) == (4, 4) for m in conductor)
    assert midi.length == pytest.approx(16 * 60 / 96)  # the clip's 4 bars, though its last note ends before them
    channels = {t.name: {m.channel for m in t if m.type == "note_on"} for t in midi.tracks[1:]}
    assert channels["Drums"] == {9}
    assert len({min(c) for c in channels.values()}) == 3
    programs = {t.name: [m.program for m in t if m.type == "program_change"] for t in midi.tracks[1:]}
    assert programs["Bass"] == [32] and programs["Piano"] == [0]

    pm = pretty_midi.PrettyMIDI(str(path))
    piano = next(i for i in pm.instruments if i.name == "Piano")
    assert len(piano.notes) == 1  # a held note is one long note
    assert piano.notes[0].end - piano.notes[0].start == pytest.approx(4 * 60 / 96, abs=1e-3)
    bass = next(i for i in pm.instruments if i.name == "Bass")
    assert len(bass.notes) == 2
    drums = next(i for i in pm.instruments if i.is_drum)
    assert len(drums.notes) == 16


def test_lpd_file_loads_and_merges_into_five_and_seventeen_families():
    path = next((FIXTURES / "lpd" / "rock").glob("*.npz"))
    song = read_npz(path)
    assert song.steps_per_beat == 24 and len(song.tracks) > 1
    five = merge_to_families(song, 5)
    seventeen = merge_to_families(song, 17)
    assert five.track_names == ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    assert len(seventeen.tracks) == 17 and seventeen.track_names[5] == "Bass"
    # Merging keeps every sounding (step, pitch): the union of the song's tracks.
    everything = song.rolls.any(axis=0)
    assert np.array_equal(five.rolls.any(axis=0), everything)
    assert np.array_equal(seventeen.rolls.any(axis=0), everything)
    drums_in = song.rolls[[t.is_drum for t in song.tracks]].any(axis=0)
    assert np.array_equal(five.rolls[0] > 0, drums_in)


def lpd_songs_to_compare() -> list[Path]:
    """The fixtures' LPD songs, and a few of every genre from the shared data where present."""
    from conftest import SHARED_DATA

    songs = sorted((FIXTURES / "lpd").rglob("*.npz"))
    for genre in sorted((SHARED_DATA / "lpd").glob("*/")) if (SHARED_DATA / "lpd").is_dir() else []:
        songs += sorted(genre.glob("*.npz"))[:3]
    return songs


@pytest.mark.parametrize("path", lpd_songs_to_compare(), ids=lambda p: f"{p.parent.name}/{p.stem[:8]}")
def test_our_npz_reader_reads_what_pypianoroll_reads(path):
    # Our reader needs only NumPy; pypianoroll (a test dependency) is the reference.
    pypianoroll = pytest.importorskip("pypianoroll")
    ours = read_npz(path)
    theirs = pypianoroll.load(path)
    assert ours.steps_per_beat == theirs.resolution
    assert ours.tempo == pytest.approx(float(theirs.tempo[0]))
    assert [(t.name, t.program, t.is_drum) for t in ours.tracks] == [
        (t.name, t.program, t.is_drum) for t in theirs.tracks
    ]
    for i, track in enumerate(theirs.tracks):
        roll = track.pianoroll
        assert np.array_equal(ours.rolls[i, : roll.shape[0]], roll)
        assert not ours.rolls[i, roll.shape[0]:].any()


@pytest.mark.parametrize("member, value", [
    ("pianoroll_0_csc_indices", lambda a: a + 10**7),
    ("tempo", lambda a: a.astype(complex)),  # the fuzzing found it read, with numpy's warning
])
def test_a_tampered_npz_is_one_clear_line(tmp_path, recwarn, member, value):
    path = next((FIXTURES / "lpd" / "rock").glob("*.npz"))
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays[member] = value(arrays[member])
    bad = tmp_path / "tampered.npz"
    np.savez_compressed(bad, **arrays)
    with pytest.raises(MusicFileError, match="not a readable LPD .npz file") as caught:
        read_npz(bad)
    assert "\n" not in str(caught.value) and not recwarn.list


def test_resampling_keeps_onsets_and_repeated_notes_apart():
    roll = notes_to_roll([(0, 24, 60, 100), (24, 48, 60, 100), (48, 96, 64, 100)], 96)
    mt = Multitrack([Track("Piano")], roll[None], steps_per_beat=24)
    coarse = resample(mt, 4)
    assert coarse.notes(0) == [(0, 3, 60, 100), (4, 8, 60, 100), (8, 16, 64, 100)]


def test_assign_channels_puts_drums_on_ten_and_others_apart():
    channels = assign_channels(family_tracks(17))
    assert channels[0] == 9
    assert len(set(channels[1:16])) == 15 and 9 not in channels[1:]


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_midi_gives_one_clear_line(path):
    with pytest.raises(MusicFileError) as caught:
        read_music(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) < 200


def test_corrupt_npz_and_unknown_suffix(tmp_path):
    bad = tmp_path / "song.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(MusicFileError, match="not a readable LPD"):
        read_npz(bad)
    other = tmp_path / "song.wav"
    other.write_bytes(b"RIFF")
    with pytest.raises(MusicFileError, match="not a MIDI"):
        read_music(other)


def test_reading_a_folder_skips_bad_files_and_uses_the_rest(tmp_path):
    for p in BAD:
        shutil.copy(p, tmp_path / p.name)
    shutil.copy(FIXTURES / "pop909" / "002.mid", tmp_path / "sub" / "good.mid") if (tmp_path / "sub").mkdir() is None else None
    results = dict(read_folder(tmp_path, steps_per_beat=4))
    good = [p for p, r in results.items() if isinstance(r, Multitrack)]
    assert [p.name for p in good] == ["good.mid"]
    assert len(results) == len(BAD) + 1


def test_writing_into_a_missing_folder_is_one_line(tmp_path):
    clip = read_midi(FIXTURES / "pop909" / "003.mid", 4)
    with pytest.raises(MusicFileError, match="does not exist"):
        write_midi(clip, tmp_path / "nowhere" / "x.mid")


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    clip = read_midi(FIXTURES / "pop909" / "003.mid", 4)
    path = write_midi(clip, tmp_path / "x.mid")
    before = path.read_bytes()

    def disk_full(self, file=None, filename=None):
        file.write(b"MThd partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mido.MidiFile, "save", disk_full)
    with pytest.raises(MusicFileError, match="No space left"):
        write_midi(clip, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind


def test_a_written_file_is_readable_by_others_as_the_umask_allows(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_midi(read_midi(FIXTURES / "pop909" / "003.mid", 4), tmp_path / "x.mid")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.external
def test_musescore_reads_a_written_file(tmp_path):
    clip = read_midi(FIXTURES / "pop909" / "001.mid", 4)
    start = next(s for s in range(0, clip.n_steps, 16) if clip.rolls[:, s : s + 64].any(axis=(1, 2)).all())
    clip.rolls = clip.rolls[:, start : start + 64]  # four bars where all three play keep MuseScore quick
    path = write_midi(clip, tmp_path / "clip.mid")
    text = musescore_musicxml(path, tmp_path)
    assert text.count("<score-part ") == 3
    for name in ("MELODY", "BRIDGE", "PIANO"):
        assert name in text
    assert text.count("<note") >= 30


def test_a_type0_file_reads_with_the_same_notes(tmp_path):
    source = mido.MidiFile(FIXTURES / "pop909" / "002.mid")
    single = mido.MidiFile(type=0, ticks_per_beat=source.ticks_per_beat)
    single.tracks.append(mido.merge_tracks(source.tracks))
    single.save(tmp_path / "type0.mid")
    as_type1 = read_midi(FIXTURES / "pop909" / "002.mid", 4)
    as_type0 = read_midi(tmp_path / "type0.mid", 4)
    assert mido.MidiFile(tmp_path / "type0.mid").type == 0
    assert np.array_equal(as_type0.rolls.any(axis=0), as_type1.rolls.any(axis=0))
