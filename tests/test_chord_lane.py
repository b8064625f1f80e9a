"""The key box and the chord lane above the canvas, on the real engine and real models (pytest-qt).

The chord model is `models/genres-chords.safetensors`, an early one: these tests check that
the clip follows the lane's chords as data (the chords given end up in `clip.chords` and in
the exported file's markers), not how well the music fits them. Set
BYTES2BEATS_SCREENSHOTS=docs/screenshots to save the window with a progression typed in.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mido
import numpy as np
import pytest
from bytes2beats.desktop.chord_setting import ChordSetting, bars_of_clip, move_to_key, to_bars
from bytes2beats.desktop.common_progressions import COMMON_PROGRESSIONS
from bytes2beats.desktop.main_window import MainWindow
from bytes2beats.engine.generate import detect_chords
from bytes2beats.engine.music_io import read_chord_markers
from bytes2beats.engine.progression import (
    chord_name,
    chords_from_midi,
    parse_key,
    parse_progression,
    per_beat,
)
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
CHORD_MODEL = ROOT / "models" / "genres-chords.safetensors"
MODEL_WAIT_MS = 90_000
SCREENSHOTS = os.environ.get("BYTES2BEATS_SCREENSHOTS")


def open_window(qtbot, tmp_path, model: str) -> MainWindow:
    QStandardPaths.setTestModeEnabled(True)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, model=model, device="cpu", generate_on_load=False)
    win.keep_settings = False
    qtbot.addWidget(win)
    win.resize(1400, 860)
    win.show()
    qtbot.waitUntil(lambda: win.composer is not None, timeout=MODEL_WAIT_MS)
    return win


@pytest.fixture
def window(qtbot, tmp_path):
    if not CHORD_MODEL.is_file():
        pytest.skip(f"the chord model {CHORD_MODEL.name} is not here")
    win = open_window(qtbot, tmp_path, str(CHORD_MODEL))
    yield win
    win.worker.wait(30_000)


def settle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not win.worker.busy and not win.canvas.redraw_pending, timeout=MODEL_WAIT_MS)


def generate(qtbot, win, seed: int):
    with qtbot.waitSignal(win.document.clipChanged, timeout=MODEL_WAIT_MS):
        win.generate_seed(seed)
    settle(qtbot, win)
    return win.document.multitrack


def names_per_bar(clip) -> list[str]:
    """Each bar's distinct chords in order, as the lane writes them: "Am", "C,G"."""
    return [",".join("N.C." if c is None else chord_name(c) for c in bar)
            for bar in bars_of_clip(clip.chords, clip.steps_per_bar // clip.steps_per_beat)]


def type_into_lane(qtbot, win, text: str) -> None:
    """As a user does: double-click the lane, type, press Enter."""
    lane = win.chord_bar.lane
    qtbot.mouseDClick(lane, Qt.MouseButton.LeftButton, pos=QPoint(lane.width() // 2, lane.height() // 2))
    assert lane.editor.isVisible()
    lane.editor.selectAll()
    qtbot.keyClick(lane.editor, Qt.Key.Key_Backspace)
    qtbot.keyClicks(lane.editor, text)
    qtbot.keyClick(lane.editor, Qt.Key.Key_Return)


def canvas_x(win, step: float) -> float:
    """Where the canvas draws a step, in the chord lane's coordinates."""
    canvas = win.canvas
    scene = canvas.getViewBox().mapViewToScene(QPointF(step, 0))
    on_canvas = canvas.mapFromScene(scene)
    return win.chord_bar.lane.mapFromGlobal(canvas.mapToGlobal(on_canvas)).x()


def test_the_lane_shows_the_chords_of_the_clip_in_step_with_the_canvas(qtbot, window):
    clip = generate(qtbot, window, seed=5)
    lane = window.chord_bar.lane
    assert clip.chords is not None and len(clip.chords) == clip.n_bars * 4
    assert lane.cells == names_per_bar(clip) and len(lane.cells) == clip.n_bars
    assert window.chord_bar.editable and not lane.given  # the model's own chords: none asked for
    bar = clip.steps_per_bar
    for b in (0, 3, 8):
        assert abs(lane.x_of(b * bar) - canvas_x(window, b * bar)) <= 1.5
    # zoom into bars 3-4 of the canvas: the lane follows
    window.canvas.setXRange(2 * bar, 4 * bar, padding=0)
    qtbot.waitUntil(lambda: abs(lane.x_of(2 * bar) - lane.visible_span()[0]) <= 1.5)
    assert abs(lane.x_of(3 * bar) - canvas_x(window, 3 * bar)) <= 1.5
    assert lane.x_of(4 * bar) == pytest.approx(lane.visible_span()[1], abs=1.5)
    # the key box and the chord menu fill the pitch axis's width: the lane starts with the notes
    assert abs(lane.visible_span()[0] - 0) <= 1.5


def test_typing_a_progression_makes_the_clip_again_over_it(qtbot, window, tmp_path):
    before = generate(qtbot, window, seed=5)
    first = window.document.state
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        type_into_lane(qtbot, window, "Am F C G")
    settle(qtbot, window)
    state, clip = window.document.state, window.document.multitrack
    assert state is not first and state.seed == first.seed
    assert np.array_equal(state.idea.z_shared, first.idea.z_shared)  # the same noise, new chords
    assert names_per_bar(clip) == ["Am", "F", "C", "G"] * 2
    assert window.chord_bar.lane.cells == names_per_bar(clip) and window.chord_bar.lane.given
    assert not window.chord_bar.lane.editor.isVisible()
    assert not np.array_equal(clip.rolls, before.rolls)
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        QApplication.processEvents()
        window.grab().save(str(Path(SCREENSHOTS) / "chord-lane.png"))

    # the exported file (and the drag's) carries the chords as markers at every change
    path = window.export(str(tmp_path / "clip.mid"))
    markers = read_chord_markers(path)
    assert markers[:5] == [(0.0, "Am"), (4.0, "F"), (8.0, "C"), (12.0, "G"), (16.0, "Am")]
    texts = [m.text for t in mido.MidiFile(path).tracks for m in t if m.type == "marker"]
    assert texts == ["Am", "F", "C", "G"] * 2
    one_track = window.document.export_multitrack(3)
    assert one_track.chords == clip.chords

    # Regenerate, Variation and Generate keep the chords asked for
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.regenerate(3)
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["Am", "F", "C", "G"] * 2
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.vary()
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["Am", "F", "C", "G"] * 2
    assert names_per_bar(generate(qtbot, window, seed=77)) == ["Am", "F", "C", "G"] * 2

    # undo goes back through them to the model's own chords; redo forward again
    for _ in range(4):
        window.commands["undo"].trigger()
    assert window.document.state is first
    assert window.chord_bar.lane.cells == names_per_bar(before) and not window.chord_bar.lane.given
    assert window.chord_bar.setting == ChordSetting()
    window.commands["redo"].trigger()
    assert window.chord_bar.lane.cells == ["Am", "F", "C", "G"] * 2

    # Clear: back to the chords the model picks, from the same noise: the first clip again
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        window.chord_bar.clear()
    settle(qtbot, window)
    assert window.document.multitrack.chords == before.chords
    assert np.array_equal(window.document.multitrack.rolls, before.rolls)


def test_two_chords_in_a_bar_and_roman_numerals_in_a_key(qtbot, window):
    generate(qtbot, window, seed=9)
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        type_into_lane(qtbot, window, "C,G Am")
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["C,G", "Am"] * 4
    clip = window.document.multitrack
    assert [chord_name(c) for c in clip.chords[:4]] == ["C", "C", "G", "G"]

    key = parse_key("A minor")
    state = window.document.state
    window.chord_bar.choose_key(key)  # C G Am is A minor's already: the key is named, nothing to play again
    assert window.document.state is state and state.chord_setting.key == key and not window.worker.busy
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        type_into_lane(qtbot, window, "i VI III VII")
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["Am", "F", "C", "G"] * 2
    assert window.document.state.chord_setting.key == key
    assert window.chord_bar.key_box.currentText() == "A minor"


def test_a_key_alone_and_the_menu_of_progressions(qtbot, window):
    generate(qtbot, window, seed=3)
    bar = window.chord_bar
    assert bar.key_box.count() == 25 and bar.key_box.currentText() == "Any key"
    key = parse_key("E minor")
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        bar.key_box.setCurrentIndex(bar.key_box.findText("E minor"))
        bar.key_box.activated.emit(bar.key_box.currentIndex())  # as a pick in the box does
    settle(qtbot, window)
    state = window.document.state
    # a key alone: chords the model picks in it, the same for the same seed
    wanted = state.composer.key_progression(key, state.seed, state.genre)
    assert list(window.document.multitrack.chords) == (wanted * 2)[: len(window.document.multitrack.chords)]
    assert state.chord_setting == ChordSetting(None, key) and not bar.lane.given

    # the menu renders each progression in the key (major ones in E minor's relative, G major)
    bar.menu.aboutToShow.emit()
    texts = [a.text() for a in bar.menu.actions()]
    assert any(t.startswith("I–V–vi–IV") and t.endswith("\tG D Em C") for t in texts)
    assert any(t.startswith("i–VI–III–VII") and t.endswith("\tEm C G D") for t in texts)
    assert any(t.startswith("I–I–I–I–IV–IV–I–I–V–IV–I–V") for t in texts)  # the 12-bar blues
    pop = next(a for a in bar.menu.actions() if a.text().startswith("I–V–vi–IV"))
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        pop.trigger()
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["G", "D", "Em", "C"] * 2

    # another key moves the progression into it
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        bar.choose_key(parse_key("A minor"))
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["C", "G", "Am", "F"] * 2

    # a progression longer than the clip: its first bars, and a word on how to hear all of it
    blues = next(i for i, p in enumerate(COMMON_PROGRESSIONS) if p.known_as == "12-bar blues")
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        bar.choose_progression(blues)
    settle(qtbot, window)
    assert names_per_bar(window.document.multitrack) == ["C", "C", "C", "C", "F", "F", "C", "C"]
    assert "12 bars" in window.statusBar().currentMessage()


def test_the_menu_with_any_key_uses_c_major_and_a_minor():
    major = next(p for p in COMMON_PROGRESSIONS if p.numerals == "I V vi IV")
    minor = next(p for p in COMMON_PROGRESSIONS if p.numerals == "i VI III VII")
    assert [[chord_name(c) for c in b] for b in major.bars(None)] == [["C"], ["G"], ["Am"], ["F"]]
    assert [[chord_name(c) for c in b] for b in minor.bars(None)] == [["Am"], ["F"], ["C"], ["G"]]
    assert [[chord_name(c) for c in b] for b in minor.bars(parse_key("D major"))] == [["Bm"], ["G"], ["D"], ["A"]]
    ii_v_i = next(p for p in COMMON_PROGRESSIONS if p.known_as.startswith("jazz"))
    assert [chord_name(b[0]) for b in ii_v_i.bars(parse_key("Bb"))] == ["Cm7", "F7", "Bbmaj7", "Bbmaj7"]
    for progression in COMMON_PROGRESSIONS:  # every one reads in every key
        for text in ("C", "F# major", "Eb minor", "B minor"):
            assert progression.bars(parse_key(text))
    moved = move_to_key(to_bars(parse_progression("Am F C G")), None, parse_key("D major"))
    assert [chord_name(b[0]) for b in moved] == ["Bm", "G", "D", "A"]


@pytest.mark.parametrize("text, says", [("Hmaj9", "unknown chord 'Hmaj9'"),
                                        ("", "empty chord progression"),
                                        ("vi IV I V", "a key is needed"),
                                        ("C,D,E,F,G", "at most 4")])
def test_bad_input_is_one_message_and_changes_nothing(qtbot, window, text, says):
    generate(qtbot, window, seed=5)
    state, rolls = window.document.state, window.document.multitrack.rolls.copy()
    lane = window.chord_bar.lane
    cells = list(lane.cells)
    with qtbot.assertNotEmitted(window.document.clipChanged, wait=300):
        type_into_lane(qtbot, window, text)
    message = window.statusBar().currentMessage()
    assert says in message and "unchanged" in message and "\n" not in message
    if text == "vi IV I V":
        assert "key box" in message
    assert window.document.state is state and np.array_equal(window.document.multitrack.rolls, rolls)
    assert not window.worker.busy and lane.cells == cells and window.chord_bar.setting == state.chord_setting
    assert lane.error and lane.editor.isVisible()  # a red frame, the text kept to mend
    qtbot.keyClick(lane.editor, Qt.Key.Key_Escape)
    assert not lane.editor.isVisible() and not lane.error


def test_a_model_without_chords_shows_them_but_takes_none(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path, "genres")
    try:
        assert not win.composer.takes_chords
        clip = generate(qtbot, win, seed=5)
        bar = win.chord_bar
        assert clip.chords == detect_chords(clip)  # detected in what the model played
        assert bar.lane.cells == names_per_bar(clip) and any(c != "N.C." for c in bar.lane.cells)
        assert not bar.editable and not bar.key_box.isEnabled() and not bar.menu_button.isEnabled()
        assert "takes no chords" in bar.lane.toolTip() and "genres-chords" in bar.lane.toolTip()
        qtbot.mouseDClick(bar.lane, Qt.MouseButton.LeftButton, pos=QPoint(bar.lane.width() // 2, 5))
        assert not bar.lane.editor.isVisible()
        mids = sorted((ROOT / "tests" / "fixtures").rglob("*.mid"))
        with qtbot.assertNotEmitted(win.worker.chordsRead, wait=200):
            assert not drop_file(bar.lane, mids[0])
        assert win.document.multitrack.chords == clip.chords
    finally:
        win.worker.wait(30_000)


def test_choosing_the_chord_model_as_the_tooltip_says_makes_the_clip_over_the_chords(qtbot, tmp_path):
    if not CHORD_MODEL.is_file():
        pytest.skip(f"the chord model {CHORD_MODEL.name} is not here")
    win = open_window(qtbot, tmp_path, "genres")
    try:
        generate(qtbot, win, seed=5)
        assert not win.chord_bar.editable
        combo = win.toolbar.model
        combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemText(i).startswith("genres-chords (")))
        with qtbot.waitSignal(win.worker.modelLoaded, timeout=MODEL_WAIT_MS):
            win.load_selected_model()
        assert win.chord_bar.editable and win.document.state.model == "genres"  # the clip shown is still the old one
        with qtbot.waitSignal(win.document.clipChanged, timeout=MODEL_WAIT_MS):
            type_into_lane(qtbot, win, "Dm G C")
        settle(qtbot, win)
        state = win.document.state
        assert state.model == "genres-chords" and state.seed == 5
        assert names_per_bar(win.document.multitrack) == ["Dm", "G", "C", "Dm", "G", "C", "Dm", "G"]
    finally:
        win.worker.wait(30_000)


def drop_file(lane, path: Path) -> bool:
    """Drag a file onto the middle of the lane and drop it there, as Qt delivers a drop: the
    enter first (it makes the lane the drop's target), then the drop. True if it was taken."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    where = QPoint(lane.width() // 2, lane.height() // 2)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide6 marks the QPoint constructor deprecated; Qt 6 has no other
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(lane, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(where), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(lane, drop)
    return drop.isAccepted()


def test_dropping_a_midi_file_on_the_lane_takes_its_chords(qtbot, window, shared_data):
    song = shared_data / "pop909" / "001.mid"
    if not song.is_file():
        pytest.skip(f"{song} is not here")
    generate(qtbot, window, seed=5)
    lane = window.chord_bar.lane
    with qtbot.waitSignal(window.document.clipChanged, timeout=MODEL_WAIT_MS):
        assert drop_file(lane, song)
    settle(qtbot, window)
    bars = chords_from_midi(song)
    while all(c is None for c in bars[0]):
        bars = bars[1:]
    clip = window.document.multitrack
    assert list(clip.chords) == per_beat(bars, int(clip.n_bars))
    assert window.document.state.label.startswith("chords of 001.mid")
    assert lane.given and lane.cells == names_per_bar(clip)
