"""The window plays around the user's own lanes (pytest-qt, offscreen, the shipped chord model):
a locked lane stays as it was through Generate, Vary and regenerate; a MIDI part dropped on a
track's row becomes that lane, note for note on the model's grid, and the rest is made around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bytes2beats.desktop.main_window import MainWindow
from bytes2beats.engine.accompany import read_part
from bytes2beats.engine.families import family_tracks, merge_to_families
from bytes2beats.engine.music_io import read_music, write_midi
from bytes2beats.engine.pianoroll import Multitrack, resample
from PySide6.QtCore import QSettings, QStandardPaths
from test_chord_lane import drop_file
from test_desktop_window import MODEL_WAIT_MS, generate

FIXTURES = Path(__file__).parent / "fixtures"
DRUMS, PIANO, BASS = 0, 1, 3


@pytest.fixture
def window(qtbot, tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, model="genres-chords", device="cpu", generate_on_load=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.composer is not None, timeout=MODEL_WAIT_MS)
    yield win
    win.worker.wait(60_000)


def settle(qtbot, win):
    qtbot.waitUntil(lambda: not win.worker.busy and not win.canvas.redraw_pending, timeout=MODEL_WAIT_MS)


def test_a_locked_lane_stays_through_generate_vary_and_regenerate(qtbot, window):
    for seed in range(1, 12):  # a clip whose piano plays
        first = generate(qtbot, window, seed=seed)
        if first.rolls[PIANO].any():
            break
    piano = first.rolls[PIANO].copy()
    assert piano.any()
    row = window.tracks.row(PIANO)
    row.lock.click()
    assert PIANO in window.document.locked and row.lock.isChecked()
    assert not row.regenerate.isEnabled()  # a locked lane is not regenerated
    second = generate(qtbot, window, seed=7)
    assert np.array_equal(second.rolls[PIANO], piano)
    assert not np.array_equal(second.rolls[DRUMS], first.rolls[DRUMS])
    assert "around your Piano" in window.document.state.label
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.regenerate(BASS)
    settle(qtbot, window)
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.vary()
    settle(qtbot, window)
    assert np.array_equal(window.document.multitrack.rolls[PIANO], piano)
    window.toolbar.threshold.setValue(window.toolbar.threshold.value() // 2)  # a lower threshold: more notes ...
    assert np.array_equal(window.document.multitrack.rolls[PIANO], piano)  # ... but not on the locked lane
    row.lock.click()  # unlocked: the next clip makes the lane again
    assert PIANO not in window.document.locked and row.regenerate.isEnabled()
    third = generate(qtbot, window, seed=9)
    assert not np.array_equal(third.rolls[PIANO], piano)


def test_a_midi_part_dropped_on_a_row_is_that_lane_and_the_rest_plays_around_it(qtbot, window, tmp_path):
    generate(qtbot, window, seed=4)
    before = window.document.multitrack.rolls.copy()
    song = resample(merge_to_families(read_music(next((FIXTURES / "lpd" / "rock").glob("*.npz"))), 5), 48)
    bar = 48 * 4
    first = int(np.flatnonzero(song.rolls[BASS].any(axis=1))[0]) // bar * bar
    rolls = np.zeros((5, 4 * bar, 128), np.uint8)
    rolls[PIANO] = song.rolls[BASS, first : first + 4 * bar]  # a line on the piano channel: --as decides
    path = write_midi(Multitrack(family_tracks(5), rolls, 48, 120.0, "line"), tmp_path / "my-line.mid")
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        assert drop_file(window.tracks.row(BASS), path)
    settle(qtbot, window)
    clip = window.document.multitrack
    assert clip.n_bars == 8  # the window's default: the 4-bar part loops
    once = resample(read_part(path, 5, "bass").song, clip.steps_per_beat).rolls[BASS]
    expected = np.concatenate([once, once])
    assert np.array_equal(clip.rolls[BASS], expected) and expected.any()
    assert BASS in window.document.locked and window.tracks.row(BASS).lock.isChecked()
    assert not np.array_equal(clip.rolls[DRUMS], before[DRUMS])  # the rest made again, around it
    assert "around your Bass" in window.document.state.label
    exported = window.document.export_multitrack()
    assert np.array_equal(exported.rolls[BASS] > 0, expected > 0)
    assert not drop_file(window.tracks.row(BASS), FIXTURES / "README.md")  # not MIDI: not taken


@pytest.mark.jack
def test_jam_from_the_window_plays_along_with_the_focused_track(qtbot, window, jack_server):
    import threading

    import rtmidi
    from bytes2beats.engine.live.monitor import MonitorProcess
    from test_jam import _send_part

    monitor = MonitorProcess("mon-window-jam", api="jack")
    window.player.api = "jack"
    window.player.connect_to = monitor.port
    window.toolbar.bars.setValue(2)
    generate(qtbot, window, seed=1)
    window.document.set_focus(BASS)  # the part is the focused track
    assert window.document.focus == BASS
    events = []
    window.player.event.connect(events.append)
    sender = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="b2b window jam player")
    stop = threading.Event()
    try:
        window.commands["jam"].trigger()
        assert window.player.playing, window.last_error
        assert window.commands["jam"].text() == "Stop jam"
        sender.open_port(sender.get_ports().index(window.player.listen.name), "out")
        player = threading.Thread(target=_send_part, args=(sender, window.player.session.scheduler.clock, 6, stop),
                                  daemon=True)
        player.start()
        qtbot.waitUntil(lambda: any(e.kind == "change" for e in events), timeout=30_000)
        assert window.port_label.text().startswith("Jam: heard")
        qtbot.wait(2500)
    finally:
        stop.set()
        window.commands["jam"].trigger()
        sender.delete()
    assert not window.player.playing and window.commands["jam"].text() == "Jam"
    change = next(e for e in events if e.kind == "change")
    notes = [(t, m) for t, m in monitor.close() if m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert notes and all(t >= change.time_ns - 5_000_000 for t, _ in notes)
    assert not [m for _, m in notes if m[0] & 0x0F == 2]  # the bass is the user's
