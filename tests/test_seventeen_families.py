"""The LPD-17 families past the engine: a 17-family clip written as a MIDI file (seventeen
named tracks, their programs, drums on channel 10, the seventeenth on a second MIDI port),
read back by us and by MuseScore 3; and the shipped 17-family model generating one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.music_io import assign_ports, read_music, write_midi
from bytes2beats.engine.pianoroll import resample
from conftest import musescore_musicxml

LPD = Path(__file__).parent / "fixtures" / "lpd"


def every_family_playing():
    """Four bars of a real rock song in the 17 families, with a few notes added to each
    family the song leaves silent there (a C major arpeggio in the family's own octave)."""
    song = resample(read_music(sorted((LPD / "rock").glob("*.npz"))[0], track_set=17), 4)
    start = next(s for s in range(0, song.n_steps - 64, 16) if song.rolls[[0, 1, 5], s : s + 64].any(axis=(1, 2)).all())
    song.rolls = song.rolls[:, start : start + 64].copy()
    for family in range(1, 17):
        if not song.rolls[family].any():
            for k, pitch in enumerate((60, 64, 67, 72)):
                song.rolls[family, 16 * k : 16 * k + 8, pitch - 12 * (family % 3)] = 100
    return song


def test_a_17_family_clip_is_a_type1_file_of_seventeen_named_tracks_on_two_ports(tmp_path):
    clip = every_family_playing()
    path = write_midi(clip, tmp_path / "seventeen.mid")
    midi = mido.MidiFile(path)
    assert midi.type == 1 and len(midi.tracks) == 18  # the conductor, then one per family
    layout = assign_ports(family_tracks(17))
    for track, family, (port, channel) in zip(midi.tracks[1:], family_tracks(17), layout):
        metas = {m.type: m for m in track if m.is_meta}
        notes = [m for m in track if m.type == "note_on"]
        assert metas["track_name"].name == family.name and metas["midi_port"].port == port
        assert notes and {m.channel for m in notes} == {channel}
        programs = [m.program for m in track if m.type == "program_change"]
        assert programs == ([] if family.is_drum else [family.program])
    assert layout[0] == (0, 9) and layout[16] == (1, 0)  # drums on 10; Sound Effects on port 2, channel 1
    assert len({c for p, c in layout if p == 0}) == 16  # the first port's sixteen channels, each once
    # Read back, every family holds the notes it was written with.
    back = read_music(path, 4, track_set=17)
    assert np.array_equal(back.rolls[:, :64] > 0, clip.rolls > 0)


@pytest.mark.external
def test_musescore_reads_seventeen_parts(tmp_path):
    path = write_midi(every_family_playing(), tmp_path / "seventeen.mid")
    text = musescore_musicxml(path, tmp_path)
    assert text.count("<score-part ") == 17
    for family in family_tracks(17):  # MuseScore names a part "<its instrument>, <our track name>"
        assert f", {family.name}</part-name>" in text
    sound_effects = text[text.index(", Sound Effects</part-name>"):]
    assert "<midi-program>121</midi-program>" in sound_effects[:2000]  # GM 120 (counted from 1): its own program


def test_the_17_family_model_generates_and_exports(tmp_path):
    out = tmp_path / "clip.mid"
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "generate", "--model", "rock17", "--seed", "3",
                          "--bars", "8", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-1000:]
    midi = mido.MidiFile(out)
    names = [next(m.name for m in t if m.type == "track_name") for t in midi.tracks[1:]]
    families = [t.name for t in family_tracks(17)]
    assert names and set(names) <= set(families) and names == sorted(names, key=families.index)
    assert all(any(m.type == "note_on" for m in t) for t in midi.tracks[1:])  # only the families that play
    assert "Drums" in names and "Bass" in names  # a rock band's core plays in a rock clip
