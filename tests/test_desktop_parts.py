"""The desktop's plain parts: lanes and pitch labels, the undo history, drag files."""

from __future__ import annotations

import mido
import numpy as np
import pytest
from bytes2beats.desktop.clip_state import ClipHistory
from bytes2beats.desktop.drag_export import midi_mime_data, safe_file_name, write_drag_file
from bytes2beats.desktop.gm_names import drum_name, note_name, program_name
from bytes2beats.desktop.pianoroll_layout import PianorollLayout, pitch_span
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.pianoroll import Multitrack


def clip() -> Multitrack:
    rolls = np.zeros((5, 32, 128), np.uint8)
    rolls[0, ::4, 36] = 1  # kick
    rolls[0, 2::4, 42] = 1  # closed hi-hat
    rolls[1, 0:8, 60] = 1  # piano C4
    rolls[3, 0:4, 40] = 1  # bass E2
    return Multitrack(family_tracks(5), rolls, steps_per_beat=4)


def test_names():
    assert note_name(60) == "C4" and note_name(61) == "C#4" and note_name(21) == "A0"
    assert drum_name(36) == "Bass Drum 1" and drum_name(42) == "Closed Hi-Hat"
    assert program_name(0) == "Acoustic Grand Piano" and program_name(127) == "Gunshot"


def test_lanes_fit_whole_octaves_and_drum_keys():
    assert pitch_span(clip().rolls[1], False) == (60, 83)  # one C4 widened to two octaves
    assert pitch_span(clip().rolls[2], False) == (48, 71)  # an empty track: a default range
    low, high = pitch_span(clip().rolls[0], True)
    assert low <= 36 and high >= 42


def test_stacked_lanes_first_track_on_top_and_labels():
    mt = clip()
    layout = PianorollLayout(mt.rolls, mt.tracks)
    tops = [lane.top for lane in layout.lanes]
    assert tops == sorted(tops, reverse=True)
    drums, piano = layout.lane_of(0), layout.lane_of(1)
    assert layout.label(drums.y(42) + 0.5) == "Closed Hi-Hat"
    assert layout.label(piano.y(60) + 0.5) == "C4"
    # zoomed out: Cs and the main drums only, never closer than the gap
    major, _ = layout.ticks(rows_visible=layout.height, pixels=400)
    assert all(b - a >= 13 / (400 / layout.height) - 1e-9 for a, b in zip(major, major[1:]))
    # zoomed in: every row of the lane in view is named
    major, _ = layout.ticks(rows_visible=12, pixels=400)
    assert len(major) == sum(lane.height for lane in layout.lanes)


def test_overlay_shares_one_axis_named_for_the_focused_track():
    mt = clip()
    layout = PianorollLayout(mt.rolls, mt.tracks, overlay=True, focus=0)
    assert len({(lane.low, lane.high, lane.base) for lane in layout.lanes}) == 1
    assert layout.label(layout.lane_of(0).y(38) + 0.5) == "Acoustic Snare"
    layout = PianorollLayout(mt.rolls, mt.tracks, overlay=True, focus=1)
    assert layout.label(layout.lane_of(1).y(60) + 0.5) == "C4"


def test_history_undo_redo_and_a_new_branch():
    history = ClipHistory(limit=3)
    for clip_ in "abcd":
        history.push(clip_)
    assert len(history) == 3 and history.current == "d"
    assert history.undo() == "c" and history.undo() == "b" and history.undo() == "b"
    assert history.redo() == "c"
    history.push("e")
    assert not history.can_redo() and history.current == "e"


def test_drag_file_is_a_type1_midi_offered_as_a_url(qapp, tmp_path):
    mt = clip()
    mt.name = "rock/seed 7: a*b"
    path = write_drag_file(mt, tmp_path)
    assert path.parent == tmp_path and path.name == "rock-seed 7- a-b.mid"
    midi = mido.MidiFile(path)
    assert midi.type == 1 and [t.name for t in midi.tracks[1:]] == ["Drums", "Piano", "Bass"]
    mime = midi_mime_data(path)
    assert mime.hasUrls() and mime.urls()[0].toLocalFile() == str(path)
    assert "text/uri-list" in mime.formats() and bytes(mime.data("audio/midi")) == path.read_bytes()


@pytest.mark.parametrize("name", ["", "...", "////"])
def test_odd_names_still_make_a_file_name(name):
    assert safe_file_name(name) == "bytes2beats"
