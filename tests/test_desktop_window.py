"""The desktop window on the real engine and a real model, offscreen (pytest-qt).

The model is the shipped `models/rock.safetensors` when present; until it lands, a
throwaway one trained for a few steps (made here once if /tmp does not have it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import mido
import numpy as np
import pytest
from bytes2beats.desktop.main_window import MainWindow
from bytes2beats.engine.render import TRACK_COLORS
from PIL import Image
from PySide6.QtCore import QPointF, QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import QApplication, QWidget

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "rock.safetensors"
THROWAWAY = Path("/tmp/gui-model.safetensors")
MODEL_WAIT_MS = 90_000


@pytest.fixture(scope="session")
def model_path(request) -> Path:
    if SHIPPED.is_file():
        return SHIPPED
    if not THROWAWAY.is_file():
        shared_data = request.getfixturevalue("shared_data")
        subprocess.run(
            [sys.executable, "-m", "bytes2beats", "train", "--data", str(shared_data / "lpd" / "rock"),
             "--out", str(THROWAWAY), "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "8"],
            check=True, capture_output=True, timeout=600,
        )
    return THROWAWAY


@pytest.fixture
def window(qtbot, tmp_path, model_path):
    QStandardPaths.setTestModeEnabled(True)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, model=str(model_path), device="cpu", generate_on_load=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.composer is not None, timeout=MODEL_WAIT_MS)
    yield win
    win.player.stop()
    win.worker.wait(30_000)


def generate(qtbot, win, seed=None):
    with qtbot.waitSignal(win.document.clipChanged, timeout=MODEL_WAIT_MS):
        if seed is None:
            win.commands["generate"].trigger()
        else:
            win.generate_seed(seed)
    qtbot.waitUntil(lambda: not win.worker.busy and not win.canvas.redraw_pending)
    return win.document.multitrack


def note_count(mt) -> int:
    return sum(len(mt.notes(i)) for i in range(len(mt.tracks)))


@contextmanager
def genres_window(qtbot, tmp_path):
    """A window on the shipped `genres` model (12 steps a beat), its own settings, no clip yet;
    stopped and its worker drained after."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, model="genres", device="cpu", generate_on_load=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.composer is not None, timeout=MODEL_WAIT_MS)
    try:
        yield win
    finally:
        win.player.stop()
        win.worker.wait(30_000)


@contextmanager
def model_runs(composer):
    """The model runs (Composer.probabilities calls) made while inside: a list, empty when a
    change was made from the kept probabilities alone."""
    runs = []
    original = composer.probabilities
    composer.probabilities = lambda *a, **k: runs.append(a) or original(*a, **k)
    try:
        yield runs
    finally:
        composer.probabilities = original


def test_the_shipped_genre_model_offers_its_genres_and_starts_on_rock(qtbot, tmp_path):
    with genres_window(qtbot, tmp_path) as win:
        combo = win.toolbar.genre
        assert [combo.itemText(i) for i in range(combo.count())] == ["country", "electronic", "jazz", "metal", "pop", "rock"]
        assert combo.isEnabled() and combo.currentText() == "rock"
        combo.setCurrentText("jazz")
        assert note_count(generate(qtbot, win, seed=7)) > 0
        assert win.document.state.genre == "jazz"


def test_quantize_moves_the_clips_notes_onto_the_grid_at_once_and_is_kept(qtbot, tmp_path):
    from bytes2beats.engine.metrics import off_grid_onsets

    with genres_window(qtbot, tmp_path) as win:  # 12 steps a beat
        assert win.toolbar.quantize.value() == 100
        win.toolbar.feel.setValue(0)  # the grid alone (the feel's own test is below)
        on_grid = generate(qtbot, win, seed=11)
        spb = on_grid.steps_per_beat
        assert np.nan_to_num(off_grid_onsets(on_grid.rolls[None] > 0, spb)).max() == 0
        with model_runs(win.document.state.composer) as runs:
            win.toolbar.quantize.setValue(0)  # as the user types or steps it
            loose = win.document.multitrack  # changed at once, from the kept probabilities
            assert win.document.state.quantize == 0.0 and runs == []
            assert np.nan_to_num(off_grid_onsets(loose.rolls[None] > 0, spb)).max() > 0
        again = generate(qtbot, win, seed=11)  # the next clip keeps the user's setting
        assert win.document.state.quantize == 0.0 and np.array_equal(again.rolls, loose.rolls)
        win.document.undo()
        assert win.toolbar.quantize.value() == 0  # the clip shown says how it is quantized


def test_feel_plays_the_clip_with_a_real_players_timing_at_once_and_is_kept(qtbot, tmp_path):
    from bytes2beats.engine.metrics import off_grid_onsets

    with genres_window(qtbot, tmp_path) as win:
        assert win.toolbar.feel.value() == 100  # the songs' own timing, by default
        played = generate(qtbot, win, seed=3)
        spb = played.steps_per_beat
        assert np.nan_to_num(off_grid_onsets(played.rolls[None] > 0, spb)).max() > 0
        with model_runs(win.document.state.composer) as runs:
            win.toolbar.feel.setValue(0)
            gridded = win.document.multitrack  # changed at once, from the kept probabilities
            assert win.document.state.feel == 0.0 and runs == []
            assert np.nan_to_num(off_grid_onsets(gridded.rolls[None] > 0, spb)).max() == 0
            win.toolbar.feel.setValue(100)  # the same feel again: it is the clip's, drawn by its seed
            assert np.array_equal(win.document.multitrack.rolls, played.rolls)
            win.toolbar.feel.setValue(0)
        again = generate(qtbot, win, seed=3)  # the next clip keeps the user's setting
        assert win.document.state.feel == 0.0 and np.array_equal(again.rolls, gridded.rolls)
        win.document.undo()
        assert win.toolbar.feel.value() == 0  # the clip shown says how it is played (as it was last heard)


def test_generate_shows_a_clip_with_its_seed(qtbot, window):
    mt = generate(qtbot, window, seed=1234)
    assert window.toolbar.seed.value() == 1234
    assert mt.n_bars == window.toolbar.bars.value() == 8
    assert note_count(mt) > 0
    assert len(window.tracks.rows) == len(mt.tracks)
    assert window.time_label.text().startswith("Generated in")
    assert "CPU" in window.device_label.text()
    # the same seed makes the same clip
    again = generate(qtbot, window, seed=1234)
    assert np.array_equal(again.rolls, mt.rolls)


def test_mute_with_the_button_and_the_key(qtbot, window):
    generate(qtbot, window, seed=1)
    row = window.tracks.row(1)
    qtbot.mouseClick(row.mute, Qt.MouseButton.LeftButton)
    assert window.document.muted == {1}
    assert window.canvas.note_items[1].opacity() < 0.5
    assert window.canvas.note_items[0].opacity() == 1.0
    exported = window.document.export_multitrack()
    assert "Piano" not in exported.track_names and len(exported.tracks) == len(window.document.multitrack.tracks) - 1
    # M mutes the focused track: focus the bass by clicking its row, then press M
    qtbot.mouseClick(window.tracks.row(3), Qt.MouseButton.LeftButton)
    assert window.document.focus == 3
    window.commands["mute"].trigger()
    assert window.document.muted == {1, 3}
    window.commands["solo"].trigger()
    assert window.document.soloed == {3}
    assert not window.document.audible(0)


def test_regenerate_one_track_keeps_the_others(qtbot, window):
    before = generate(qtbot, window, seed=7).copy()
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        qtbot.mouseClick(window.tracks.row(3).regenerate, Qt.MouseButton.LeftButton)
    after = window.document.multitrack
    for i in range(len(after.tracks)):
        if i != 3:
            assert after.notes(i) == before.notes(i), f"track {i} changed"
    assert not np.array_equal(after.rolls[3], before.rolls[3])
    assert window.document.state.label.startswith("Bass regenerated")


def test_threshold_rebinarizes_at_once_without_the_model(qtbot, window):
    mt = generate(qtbot, window, seed=3)
    probs = window.document.state.probabilities
    calls = []
    composer = window.document.state.composer
    original = composer.probabilities
    composer.probabilities = lambda *a, **k: calls.append(a) or original(*a, **k)
    try:
        lower = max(0.001, window.document.state.threshold - 0.02)
        window.toolbar.threshold.setValue(round(lower * 1000))  # as a drag of the slider does
        lowered = window.document.multitrack  # changed synchronously: no job, no waiting
        assert window.document.state.threshold == pytest.approx(round(lower * 1000) / 1000)
        assert note_count(lowered) != note_count(mt)
        state = window.document.state
        assert np.array_equal(lowered.rolls > 0, state.composer.decode(probs[:, : mt.n_steps], state.threshold, state.genre))
        assert calls == [] and not window.worker.busy
    finally:
        composer.probabilities = original


def test_undo_and_redo_across_generations(qtbot, window):
    first = generate(qtbot, window, seed=11).copy()
    second = generate(qtbot, window, seed=12).copy()
    assert window.commands["undo"].isEnabled() and not window.commands["redo"].isEnabled()
    window.commands["undo"].trigger()
    assert np.array_equal(window.document.multitrack.rolls, first.rolls)
    assert window.toolbar.seed.value() == 11
    window.commands["redo"].trigger()
    assert np.array_equal(window.document.multitrack.rolls, second.rolls)
    assert window.commands["undo"].shortcut().toString() == "Ctrl+Z"
    assert window.commands["redo"].shortcut().toString() == "Ctrl+Shift+Z"


def test_recent_clips_and_ab(qtbot, window):
    generate(qtbot, window, seed=21)
    a = window.document.state
    window.clips.set_a.click()
    generate(qtbot, window, seed=22)
    b = window.document.state
    window.clips.set_b.click()
    assert window.clips.list.count() == 2
    window.commands["ab"].trigger()
    assert window.document.state is a
    window.commands["ab"].trigger()
    assert window.document.state is b
    window.clips.list.itemClicked.emit(window.clips.list.item(1))
    assert window.document.state is a


def test_export_writes_a_type1_file_with_the_chosen_instrument(qtbot, window, tmp_path):
    generate(qtbot, window, seed=5)
    window.tracks.row(2).instrument.setCurrentIndex(30)  # Distortion Guitar
    path = window.export(str(tmp_path / "clip.mid"))
    midi = mido.MidiFile(path)
    assert midi.type == 1
    names = [t.name for t in midi.tracks]
    assert "Guitar" in names
    guitar = midi.tracks[names.index("Guitar")]
    assert [m.program for m in guitar if m.type == "program_change"] == [30]
    assert sum(m.type == "note_on" for t in midi.tracks for m in t) > 0


def test_errors_become_messages(qtbot, window, tmp_path):
    generate(qtbot, window, seed=5)
    window.export(str(tmp_path / "no-such-folder" / "clip.mid"))
    assert "does not exist" in window.last_error
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model")
    window.toolbar.model.addItem("broken (file)", str(broken))
    window.toolbar.model.setCurrentIndex(window.toolbar.model.count() - 1)
    with qtbot.waitSignal(window.worker.failed, timeout=MODEL_WAIT_MS):
        window.load_selected_model()
    assert window.last_error
    assert window.isVisible()


def test_settings_are_kept(qtbot, window):
    window.toolbar.bars.setValue(4)
    window.toolbar.bpm.setValue(96.0)
    window.close()
    settings = window.settings
    assert int(settings.value("clip/bars")) == 4
    assert float(settings.value("clip/bpm")) == 96.0


def test_screenshot_command_shows_notes(tmp_path, model_path):
    shot = tmp_path / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "gui", "--model", str(model_path),
                          "--screenshot", str(shot)], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert Image.open(shot).size == (1400, 860)
    # every track's color appears on many pixels (the notes, shaded from 45% to full strength)
    for color in TRACK_COLORS[:5]:
        close = np.abs(pixels - np.array(color)).sum(axis=1) < 60
        assert close.sum() > 150, f"too few pixels of {color}"


def test_the_gui_command_shows_the_window(tmp_path):
    """`bytes2beats gui` in a fresh process shows its window (how soon: bench/window_startup.py)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "BYTES2BEATS_STARTUP_TIMING": "exit"}
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "gui"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert "window shown" in run.stdout, run.stderr[-2000:]
    assert run.returncode == 0


def test_gui_stays_responsive_while_the_model_works(qtbot, window):
    """The model runs off the GUI thread, and the GUI's event loop keeps turning while it does.

    A 5 ms timer on the GUI thread counts its ticks during each job: a model run on the GUI
    thread would hold the event loop for the whole job, and no tick would land in it. How many
    milliseconds the GUI thread is held (drawing a clip, re-binarizing) is a benchmark, with
    the machine and its load: bench/gui_responsiveness.py.
    """
    import threading

    from PySide6.QtCore import QTimer

    generate(qtbot, window, seed=30)  # the first clip builds the track rows
    composer, gui_thread = window.composer, threading.get_ident()
    model_threads, ticks_during_jobs, ticks = [], [], [0]
    for name in ("new_idea", "vary"):
        method = getattr(composer, name)

        def recorded(*args, _method=method, **kwargs):
            model_threads.append(threading.get_ident())
            time.sleep(0.05)  # a model at least this slow: ten ticks' time for the loop to show it turns
            return _method(*args, **kwargs)

        setattr(composer, name, recorded)

    def busy(now_busy: bool) -> None:
        if now_busy:
            ticks[0] = 0
        else:
            ticks_during_jobs.append(ticks[0])

    window.worker.busyChanged.connect(busy)
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    timer.start()
    for seed in (31, 32):
        generate(qtbot, window, seed=seed)
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.commands["variation"].trigger()
    qtbot.waitUntil(lambda: not window.worker.busy)
    timer.stop()
    window.worker.busyChanged.disconnect(busy)
    print(f"ticks of the GUI's timer during each job: {ticks_during_jobs}")
    assert len(model_threads) == 3 and gui_thread not in model_threads
    assert len(ticks_during_jobs) == 3 and min(ticks_during_jobs) > 0


def test_keyboard_shortcuts(qtbot, window):
    window.activateWindow()
    qtbot.waitActive(window)
    window.canvas.setFocus()
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: not window.worker.busy)
    focus = window.document.focus
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert focus in window.document.muted
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert focus in window.document.soloed
    first = window.document.state
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_G)
    qtbot.waitUntil(lambda: not window.worker.busy)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.document.state is first
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.document.state is not first
    assert all(a.toolTip() for a in window.commands.values())


def test_preview_renders_the_clip_with_fluidsynth(qtbot, window, tmp_path):
    import wave

    from bytes2beats.desktop.drag_export import write_drag_file

    if window.preview is None:
        pytest.skip("FluidSynth or a GM soundfont is not installed (the Preview action is hidden)")
    assert window.commands["preview"].isVisible()
    generate(qtbot, window, seed=8)
    wav = tmp_path / "preview.wav"
    with qtbot.waitSignal(window.preview.playingChanged, timeout=120_000,
                          check_params_cb=lambda playing: not playing):
        window.preview.play(write_drag_file(window.document.export_multitrack(), tmp_path), wav)
    with wave.open(str(wav)) as audio:
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
    assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 100  # sound, not silence


@pytest.mark.parametrize("model, message", [("/tmp/no-such-model.safetensors", "does not exist"),
                                            ("no-such-name", "no model named")])
def test_gui_with_a_missing_model_is_one_line(tmp_path, model, message):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "gui", "--model", model, "--screenshot",
                          str(tmp_path / "x.png")], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr


def test_dark_theme_and_overlay(qtbot, window):
    generate(qtbot, window, seed=40)
    window.set_theme("dark")
    try:
        qtbot.waitUntil(lambda: window.palette().color(window.backgroundRole()).lightness() < 100)
        assert window.canvas.theme.dark and window.canvas.backgroundBrush().color().lightness() < 60
        assert window.settings.value("view/theme", "system") in ("system", "dark")
    finally:
        window.set_theme("light")
    window.commands["overlay"].setChecked(True)
    qtbot.waitUntil(lambda: window.canvas.layout_.overlay)
    window.document.set_focus(3)
    items = window.canvas.note_items
    assert items[3].zValue() > items[0].zValue() and items[3].opacity() > items[0].opacity()
    assert window.canvas.pitch_axis.layout.label_lanes()[0].name == "Bass"
    window.document.set_focus(0)  # the drum track in focus: drum names on the axis
    assert window.canvas.layout_.label_lanes()[0].is_drum


def test_a_newly_trained_model_joins_the_picker(qtbot, window, tmp_path, monkeypatch, model_path):
    import shutil as sh

    from PySide6.QtWidgets import QWizard

    monkeypatch.setenv("BYTES2BEATS_USER_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    mine = Path(sh.copy(model_path, tmp_path / "models" / "mine.safetensors"))
    with qtbot.waitSignal(window.worker.modelLoaded, timeout=MODEL_WAIT_MS):
        window.refresh_models(str(mine))  # as the training wizard's model_ready does
    assert window.toolbar.model.currentText() == "mine (user)"
    assert window.model_name == "mine"
    window.commands["train"].trigger()
    wizards = [w for w in window.findChildren(QWizard) if w.isVisible()]
    assert wizards
    wizards[0].close()


def test_every_control_has_a_tooltip(qtbot, window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSlider,
        QAbstractSpinBox,
        QComboBox,
        QListWidget,
    )

    generate(qtbot, window, seed=50)
    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QListWidget)
    missing = [f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
               for w in window.findChildren(QWidget) if isinstance(w, kinds) and w.isVisible()
               and not w.toolTip() and not (isinstance(w, QAbstractSlider) and w.parent().inherits("QAbstractScrollArea"))
               and w.objectName() not in ("qt_toolbar_ext_button", "qt_dockwidget_closebutton", "qt_dockwidget_floatbutton")]
    assert missing == []


def test_clicking_a_lane_focuses_its_track(qtbot, window):
    generate(qtbot, window, seed=60)
    canvas = window.canvas
    bass = canvas.layout_.lane_of(3)
    scene_point = canvas.getViewBox().mapViewToScene(QPointF(8.0, (bass.base + bass.top) / 2))
    view_point = canvas.mapFromScene(scene_point)
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point)
    qtbot.waitUntil(lambda: window.document.focus == 3)
    assert window.tracks.row(3).lineWidth() == 2  # the row shows the focus


def test_ctrl_e_asks_where_and_exports(qtbot, window, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QFileDialog

    mt = generate(qtbot, window, seed=70)

    def answer():  # the user picks a folder and keeps the offered name
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QFileDialog):
            QTimer.singleShot(100, answer)
            return
        dialog.setDirectory(str(tmp_path))
        dialog.accept()

    QTimer.singleShot(200, answer)
    window.commands["export"].trigger()
    written = tmp_path / f"{mt.name}.mid"
    assert mido.MidiFile(written).type == 1
    assert window.settings.value("export/folder") == str(tmp_path)


def test_no_display_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    run = subprocess.run([sys.executable, "-m", "bytes2beats", "gui"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert "no display" in run.stderr and "Traceback" not in run.stderr


def test_wheel_zooms_time_and_shift_wheel_pitch(qtbot, window):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    generate(qtbot, window, seed=80)
    view = window.canvas
    box = view.getViewBox()

    def wheel(modifiers):
        centre = view.viewport().rect().center()
        event = QWheelEvent(QPointF(centre), QPointF(view.viewport().mapToGlobal(centre)), QPoint(0, 0),
                            QPoint(0, 120), Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(view.viewport(), event)

    (x0, y0) = [list(r) for r in box.viewRange()]
    wheel(Qt.KeyboardModifier.NoModifier)
    (x1, y1) = [list(r) for r in box.viewRange()]
    assert x1[1] - x1[0] < x0[1] - x0[0] and y1 == y0
    wheel(Qt.KeyboardModifier.ShiftModifier)
    (x2, y2) = [list(r) for r in box.viewRange()]
    assert x2 == x1 and y2[1] - y2[0] < y1[1] - y1[0]
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton)
    assert box.viewRange()[0][1] - box.viewRange()[0][0] >= window.document.multitrack.n_steps * 0.99
