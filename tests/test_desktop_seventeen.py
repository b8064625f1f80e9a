"""The window with a model of the 17 LPD-17 families (`rock17`), offscreen (pytest-qt): 17 rows
and lanes, the silent families folded and unfolded, mute, solo, regenerate and the instrument of
one lane, the MIDI port and channel each track plays on live, and the file a 17-family clip
exports to (its 17th track on a second MIDI port). Then the same for real: Play to two JACK
receivers, one per port; the clip and one lane dragged into another process under Xvfb.

The tests name the model, not the notes it plays: `rock17` is replaced by a better-trained one
of the same shape. Where a test needs a family to be silent, it takes a real clip of the model
and zeroes that family's probabilities (what a model that never plays it would give), and
decodes it with the model as the window does.
"""

from __future__ import annotations

import json
import subprocess
import sys

import mido
import pytest
from bytes2beats.desktop.clip_state import ClipState
from bytes2beats.desktop.main_window import MainWindow
from bytes2beats.desktop.midi_channels import channel_label, track_channels
from bytes2beats.engine.families import SEVENTEEN, family_tracks
from bytes2beats.engine.music_io import assign_ports
from PySide6.QtCore import QSettings, QStandardPaths, Qt
from test_desktop_drag import _line, drag, xvfb  # noqa: F401  (the Xvfb fixture)
from test_desktop_window import MODEL_WAIT_MS, generate

FAMILIES = [name for name, _, _ in SEVENTEEN]
BRASS, REED, SOUND_EFFECTS = FAMILIES.index("Brass"), FAMILIES.index("Reed"), FAMILIES.index("Sound Effects")


@pytest.fixture
def window(qtbot, tmp_path):
    QStandardPaths.setTestModeEnabled(True)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, model="rock17", device="cpu", generate_on_load=False)
    qtbot.addWidget(win)
    win.resize(1400, 860)
    win.show()
    qtbot.waitUntil(lambda: win.composer is not None, timeout=MODEL_WAIT_MS)
    yield win
    win.player.stop()
    win.worker.wait(30_000)


def silenced(win, tracks: list[int]) -> ClipState:
    """The window's clip again, with `tracks` playing nothing, shown as a new clip."""
    state = win.document.state
    probabilities = state.probabilities.copy()
    probabilities[tracks] = 0.0
    return shown_with(win, probabilities, "silenced")


def shown_with(win, probabilities, label: str) -> ClipState:
    """The window's clip with other probabilities, shown as a new clip (decoded as the window does)."""
    state = win.document.state
    clip = ClipState(state.composer, state.idea, probabilities, state.threshold, state.bars, state.bpm,
                     state.model, state.genre, label, state.quantize)
    win.document.push(clip)
    return clip


def wait_drawn(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not win.worker.busy and not win.canvas.redraw_pending)


def shown_rows(win) -> list[int]:
    return [row.index for row in win.tracks.rows if not row.isHidden()]


def playing(win) -> list[int]:
    mt = win.document.multitrack
    return [i for i in range(len(mt.tracks)) if mt.rolls[i].any()]


def every_family_playing(win) -> ClipState:
    """The window's clip again, with each family the model left silent in it playing a held
    C major chord through the first bar (the probabilities a model that plays it there would
    give), shown as a new clip: the tests then need no seed where the model plays all 17."""
    state = win.document.state
    probabilities = state.probabilities.copy()
    steps_per_bar = 4 * state.composer.config.steps_per_beat
    low = 0 if probabilities.shape[-1] == 128 else state.composer.config.lowest_pitch  # MIDI pitches, or the model's
    silent = [t for t in range(17) if t not in playing(win)]
    for t in silent:
        probabilities[t, :steps_per_bar, [60 - low, 64 - low, 67 - low]] = 1.0
    full = shown_with(win, probabilities, "every family")
    assert playing(win) == list(range(17)), "a family still plays no note"
    return full


# -- plain parts ----------------------------------------------------------------------------


def test_channel_labels_count_from_one_and_name_the_second_port():
    five = track_channels(family_tracks(5), "Bytes to Beats")
    assert [label for label, _ in five] == ["ch 10", "ch 1", "ch 2", "ch 3", "ch 4"]
    assert "channel 10 of the port “Bytes to Beats”" in five[0][1] and "second" not in five[1][1]
    seventeen = track_channels(family_tracks(17), "Bytes to Beats")
    labels = [label for label, _ in seventeen]
    assert labels[0] == "ch 10" and labels[1:10] == [f"ch {c}" for c in range(1, 10)]
    assert labels[10:16] == [f"ch {c}" for c in range(11, 17)]  # channel 10 is the drums'
    assert labels[16] == "port 2 · ch 1"
    assert "channel 1 of the port “Bytes to Beats 2”" in seventeen[16][1]
    assert "need 2 ports" in seventeen[16][1]
    assert channel_label(0, 9) == "ch 10"


# -- the window -----------------------------------------------------------------------------


def test_seventeen_rows_and_lanes_each_with_its_channel(qtbot, window):
    mt = generate(qtbot, window, seed=17)
    assert mt.track_names == FAMILIES and len(window.tracks.rows) == 17
    layout = assign_ports(mt.tracks)
    for row, (port, channel) in zip(window.tracks.rows, layout):
        assert row.channel_text == channel_label(port, channel)
        assert f"channel {channel + 1} of the port" in row.channel.toolTip()
        assert row.name.toolTip() == row.track_name  # long names end in "…" on the row
    assert window.tracks.row(SOUND_EFFECTS).channel_text == "port 2 · ch 1"
    assert "Bytes to Beats 2" in window.tracks.row(SOUND_EFFECTS).channel.toolTip()
    assert window.tracks.row(0).channel_text == "ch 10"
    # the rows line up: one name column for all
    assert len({row.names.width() for row in window.tracks.rows}) == 1
    # the rows and lanes shown are the families that play, in order
    assert shown_rows(window) == playing(window) == window.canvas.layout_.tracks
    assert all(window.canvas.note_items[t].isVisible() for t in playing(window))


def test_silent_families_fold_and_unfold(qtbot, window):
    generate(qtbot, window, seed=3)
    silenced(window, [BRASS, REED])
    wait_drawn(qtbot, window)
    doc, canvas, fold = window.document, window.canvas, window.tracks.fold
    assert BRASS not in playing(window) and REED not in playing(window)
    assert shown_rows(window) == playing(window) == canvas.layout_.tracks
    assert canvas.layout_.lane_of(BRASS) is None and not canvas.note_items[BRASS].isVisible()
    assert fold.isVisible() and "Brass" in fold.words and "Reed" in fold.words
    assert "Brass" in fold.toolTip() and not window.commands["empty"].isChecked()

    qtbot.mouseClick(fold, Qt.MouseButton.LeftButton)  # unfold: every row and lane
    wait_drawn(qtbot, window)
    assert doc.show_empty and window.commands["empty"].isChecked()
    assert shown_rows(window) == list(range(17)) == canvas.layout_.tracks
    assert canvas.layout_.lane_of(BRASS) is not None
    assert window.tracks.row(BRASS).channel.text().endswith("no notes")
    assert fold.words.startswith("▾ Fold")

    window.commands["empty"].trigger()  # View → Show empty tracks, off: folded again
    wait_drawn(qtbot, window)
    assert not doc.show_empty and not fold.isChecked()
    assert shown_rows(window) == playing(window) == canvas.layout_.tracks

    window.commands["empty"].trigger()  # on, and kept for the next start
    window.close()
    assert window.settings.value("view/show_empty") in (True, "true")


def test_the_folding_follows_the_threshold(qtbot, window):
    generate(qtbot, window, seed=5)
    every_family_playing(window)
    wait_drawn(qtbot, window)
    assert shown_rows(window) == list(range(17)) == window.canvas.layout_.tracks
    assert not window.tracks.fold.isVisible()
    window.toolbar.threshold.setValue(window.toolbar.threshold.maximum())
    wait_drawn(qtbot, window)
    assert shown_rows(window) == playing(window) == window.canvas.layout_.tracks
    if not playing(window):  # nothing plays: the canvas says why
        assert window.canvas.message.isVisible()


def test_mute_solo_and_regenerate_one_lane(qtbot, window, tmp_path):
    generate(qtbot, window, seed=11)
    every_family_playing(window)
    doc = window.document
    row = window.tracks.row(SOUND_EFFECTS)
    qtbot.mouseClick(row.mute, Qt.MouseButton.LeftButton)
    assert doc.muted == {SOUND_EFFECTS} and window.canvas.note_items[SOUND_EFFECTS].opacity() < 0.5
    written = mido.MidiFile(window.export(str(tmp_path / "muted.mid")))
    assert [t.name for t in written.tracks[1:]] == FAMILIES[:-1]
    # sixteen tracks fit one port: no port meta events
    assert not any(m.type == "midi_port" for t in written.tracks for m in t)
    qtbot.mouseClick(row.mute, Qt.MouseButton.LeftButton)

    qtbot.mouseClick(window.tracks.row(REED).solo, Qt.MouseButton.LeftButton)
    assert doc.soloed == {REED} and [t for t in range(17) if doc.audible(t)] == [REED]
    assert window.canvas.note_items[0].opacity() < 0.5 and window.canvas.note_items[REED].opacity() == 1.0
    soloed = mido.MidiFile(window.export(str(tmp_path / "solo.mid")))
    assert [t.name for t in soloed.tracks[1:]] == ["Reed"]
    qtbot.mouseClick(window.tracks.row(REED).solo, Qt.MouseButton.LeftButton)

    # a silent family, unfolded to reach its regenerate button; the others stay as they were
    generate(qtbot, window, seed=12)
    before = silenced(window, [BRASS]).to_multitrack()
    wait_drawn(qtbot, window)
    assert window.tracks.row(BRASS).isHidden()
    qtbot.mouseClick(window.tracks.fold, Qt.MouseButton.LeftButton)
    assert not window.tracks.row(BRASS).isHidden()
    with qtbot.waitSignal(doc.clipChanged, timeout=MODEL_WAIT_MS):
        qtbot.mouseClick(window.tracks.row(BRASS).regenerate, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.tracks.fold, Qt.MouseButton.LeftButton)  # folded again while the model works
    wait_drawn(qtbot, window)
    after = doc.multitrack
    assert doc.state.label.startswith("Brass regenerated")
    for t in range(17):
        if t != BRASS:
            assert after.notes(t) == before.notes(t), f"{FAMILIES[t]} changed"
    # the folding follows the new notes, whichever way the model went
    plays = bool(after.rolls[BRASS].any())
    print(f"Brass regenerated: {len(after.notes(BRASS))} notes")
    assert window.tracks.row(BRASS).isHidden() == (not plays)
    assert (window.canvas.layout_.lane_of(BRASS) is not None) == plays
    assert shown_rows(window) == playing(window) == window.canvas.layout_.tracks


def test_every_familys_instrument_picker_and_the_exported_file(qtbot, window, tmp_path):
    mt = generate(qtbot, window, seed=21)
    every_family_playing(window)
    drums = window.tracks.row(0).instrument
    assert not drums.isEnabled() and "channel 10" in drums.currentText()
    for index, (name, program, _) in enumerate(SEVENTEEN[1:], start=1):
        picker = window.tracks.row(index).instrument
        assert picker.count() == 128 and picker.currentIndex() == program, name
    window.tracks.row(SOUND_EFFECTS).instrument.setCurrentIndex(127)  # Gunshot
    window.tracks.row(BRASS).instrument.setCurrentIndex(61)  # Brass Section
    midi = mido.MidiFile(window.export(str(tmp_path / "all.mid")))
    assert midi.type == 1
    tracks = midi.tracks[1:]
    assert [t.name for t in tracks] == FAMILIES
    layout = assign_ports(mt.tracks)
    for track, (port, channel), (name, program, is_drum) in zip(tracks, layout, SEVENTEEN):
        ports = [m.port for m in track if m.type == "midi_port"]
        channels = {m.channel for m in track if m.type in ("note_on", "note_off", "program_change")}
        programs = [m.program for m in track if m.type == "program_change"]
        assert ports == [port] and channels == {channel}, name
        expected = {"Sound Effects": 127, "Brass": 61}.get(name, program)
        assert programs == ([] if is_drum else [expected]), name
    sfx = tracks[SOUND_EFFECTS]
    assert [m.port for m in sfx if m.type == "midi_port"] == [1]
    assert {m.channel for m in sfx if not m.is_meta} == {0}
    # one lane alone: one track on the first port
    lane = window.document.export_multitrack(SOUND_EFFECTS)
    assert lane.track_names == ["Sound Effects"] and lane.tracks[0].program == 127


def test_redrawing_seventeen_lanes_leaves_none_alone(qtbot, window):
    """Qt calls from Python must not wear None's reference count down: PySide6 6.12.0 on
    Python 3.11 takes one off at every call that returns nothing, and the process aborts
    ("deallocating None") when it reaches zero: after about 3.5 minutes of the playhead
    moving, or some 90 new 17-lane clips. (Python 3.12 made None immortal.)"""
    import PySide6

    generate(qtbot, window, seed=51)
    window.document.set_show_empty(True)
    wait_drawn(qtbot, window)
    before = sys.getrefcount(None)
    for _ in range(5):
        window.canvas.redraw()
        window.canvas.viewport().repaint()
    worn = before - sys.getrefcount(None)
    assert worn < 200, (f"5 redraws of 17 lanes took {worn} references off None (PySide6 {PySide6.__version__}, "
                        f"Python {sys.version.split()[0]}): the window would abort after a few minutes")


def test_picks_and_mutes_follow_the_family_to_a_5_track_model(qtbot, window):
    generate(qtbot, window, seed=31)
    guitar = FAMILIES.index("Guitar")
    window.tracks.row(guitar).instrument.setCurrentIndex(30)  # Distortion Guitar
    qtbot.mouseClick(window.tracks.row(FAMILIES.index("Bass")).mute, Qt.MouseButton.LeftButton)
    combo = window.toolbar.model
    combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemText(i).startswith("rock (")))
    with qtbot.waitSignal(window.worker.modelLoaded, timeout=MODEL_WAIT_MS):
        window.load_selected_model()
    mt = generate(qtbot, window, seed=31)
    assert mt.track_names == ["Drums", "Piano", "Guitar", "Bass", "Strings"]
    assert len(window.tracks.rows) == 5
    assert window.tracks.row(2).instrument.currentIndex() == 30
    assert window.document.muted == {3}
    assert [row.channel_text for row in window.tracks.rows] == ["ch 10", "ch 1", "ch 2", "ch 3", "ch 4"]


@pytest.mark.jack
@pytest.mark.slow
def test_play_sends_each_family_where_its_row_says(qtbot, window, jack_server):
    """Play from the window to two real JACK receivers (one per port): every note arrives on
    the port and channel its row names, the 17th family's on the second port, channel 1."""
    from bytes2beats.engine.live.monitor import MonitorProcess

    generate(qtbot, window, seed=41)
    every_family_playing(window)
    monitors = [MonitorProcess(f"mon-window17-{k}", api="jack") for k in range(2)]
    try:
        window.player.api = "jack"
        window.player.connect_to = [m.port for m in monitors]
        window.toolbar.bpm.setValue(240.0)
        window.commands["play"].trigger()
        assert window.player.playing, window.last_error
        assert window.port_label.text().count("->") == 2  # both ports named in the status bar
        qtbot.wait(2500)  # over a bar at 240 BPM
        window.commands["play"].trigger()
    finally:
        arrivals = [m.close() for m in monitors]
    heard = [{m[0] & 0x0F for _, m in port if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0}
             for port in arrivals]
    mt = window.document.multitrack
    layout = assign_ports(mt.tracks)
    assert [row.channel_text for row in window.tracks.rows] == [channel_label(*place) for place in layout]
    first_bar: list[set[int]] = [set(), set()]  # the channels with a note in the first bar: heard for sure
    for track, (port, channel) in enumerate(layout):
        if min(start for start, *_ in mt.notes(track)) < mt.steps_per_bar:
            first_bar[port].add(channel)
    assert first_bar[0] <= heard[0] <= {channel for port, channel in layout if port == 0}
    assert first_bar[1] <= heard[1] <= {0}  # the second port carries Sound Effects alone, on channel 1
    assert heard[1] == {0}, "no Sound Effects note reached the second port"


# -- a real drag out of the window, under Xvfb (tests/test_desktop_drag.py does the 5-track one) --

DRAG_SOURCE = r"""
import json, sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from bytes2beats.desktop.main_window import MainWindow
window = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat), model=sys.argv[1], device="cpu")
window.setGeometry(0, 0, 1400, 860)
window.show()
lowered = []
def centre(widget):
    point = widget.mapToGlobal(widget.rect().center())
    return [point.x(), point.y()]
def report():
    row = window.tracks.row(16)
    window.tracks_scroll.ensureWidgetVisible(row)
    app.processEvents()
    mt = window.document.multitrack
    print(json.dumps({"clip": centre(window.clip_handle), "lane": centre(row.handle),
                      "playing": [t.name for i, t in enumerate(mt.tracks) if mt.rolls[i].any()],
                      "programs": [window.document.program(i) for i in range(len(mt.tracks))],
                      "notes": [len(mt.notes(i)) for i in range(len(mt.tracks))]}), flush=True)
def clip_shown():
    if not lowered:  # every family plays (as every_family_playing); Sound Effects gets a Gunshot
        lowered.append(True)
        from bytes2beats.desktop.clip_state import ClipState
        state = window.document.state
        probabilities = state.probabilities.copy()
        mt = window.document.multitrack
        for t in range(len(mt.tracks)):
            if not mt.rolls[t].any():
                probabilities[t, :4 * state.composer.config.steps_per_beat, [60, 64, 67]] = 1.0
        window.document.push(ClipState(state.composer, state.idea, probabilities, state.threshold, state.bars,
                                       state.bpm, state.model, state.genre, "every family", state.quantize))
        window.tracks.row(16).instrument.setCurrentIndex(127)
        QTimer.singleShot(800, report)
window.document.clipChanged.connect(clip_shown)
app.exec()
"""

DRAG_TARGET = r"""
import json, sys
import mido
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
class Target(QLabel):
    def __init__(self):
        super().__init__("drop a .mid here")
        self.setAcceptDrops(True)
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
    def dragMoveEvent(self, event):
        event.acceptProposedAction()
    def dropEvent(self, event):
        for url in event.mimeData().urls():
            midi = mido.MidiFile(url.toLocalFile())
            print(json.dumps({"type": midi.type, "tracks": [{
                "name": t.name, "ports": [m.port for m in t if m.type == "midi_port"],
                "channels": sorted({m.channel for m in t if not m.is_meta}),
                "programs": [m.program for m in t if m.type == "program_change"],
                "notes": sum(m.type == "note_on" and m.velocity > 0 for m in t)} for t in midi.tracks[1:]]}),
                flush=True)
        event.acceptProposedAction()
target = Target()
target.setGeometry(1500, 150, 400, 400)
target.show()
print("ready", flush=True)
app.exec()
"""


@pytest.mark.external
@pytest.mark.slow
def test_drag_a_17_family_clip_and_one_lane_into_another_process(xvfb, tmp_path):  # noqa: F811
    (tmp_path / "source.py").write_text(DRAG_SOURCE)
    (tmp_path / "target.py").write_text(DRAG_TARGET)
    env = {**xvfb, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    target = subprocess.Popen([sys.executable, str(tmp_path / "target.py")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    source = subprocess.Popen([sys.executable, str(tmp_path / "source.py"), "rock17", str(tmp_path / "settings.ini")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert _line(target, 30) == "ready"
        app = json.loads(_line(source, 120))
        assert app["playing"] == FAMILIES, "some family plays no note"
        programs = [program for _, program, _ in SEVENTEEN[:-1]] + [127]
        assert app["programs"] == programs

        drag(xvfb, app["clip"], (1700, 350))
        clip = json.loads(_line(target, 30))
        assert clip["type"] == 1 and [t["name"] for t in clip["tracks"]] == FAMILIES
        layout = assign_ports(family_tracks(17))
        for track, (port, channel), program, (name, _, is_drum), notes in zip(
                clip["tracks"], layout, programs, SEVENTEEN, app["notes"]):
            assert track["ports"] == [port] and track["channels"] == [channel], name
            assert track["programs"] == ([] if is_drum else [program]) and track["notes"] == notes, name
        assert clip["tracks"][SOUND_EFFECTS]["ports"] == [1] and clip["tracks"][SOUND_EFFECTS]["channels"] == [0]

        drag(xvfb, app["lane"], (1700, 350))
        lane = json.loads(_line(target, 30))
        assert lane["type"] == 1 and len(lane["tracks"]) == 1
        alone = lane["tracks"][0]
        assert alone["name"] == "Sound Effects" and alone["ports"] == [] and alone["channels"] == [0]
        assert alone["programs"] == [127] and alone["notes"] == app["notes"][SOUND_EFFECTS]
    finally:
        for process in (source, target):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
