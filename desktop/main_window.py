"""The main window: canvas in the middle under its chord bar, tracks and recent clips at the
side, toolbar on top.

It wires views to the ClipDocument, sends model work to the ModelWorker and playback to
the LivePlayer, and turns every failure into a message. Nothing here runs the model.
"""

from __future__ import annotations

import gc
from pathlib import Path

from bytes2beats.engine.model_store import DEFAULT_MODEL, list_models
from bytes2beats.engine.music_io import MusicFileError, write_midi
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .chord_bar import ChordBar
from .chord_setting import ChordSetting
from .clip_document import ClipDocument
from .clip_list import ClipList
from .drag_export import DragHandle, prune_drag_folder, write_drag_file
from .fluidsynth_preview import FluidSynthPreview
from .generate_toolbar import GenerateToolbar
from .live_player import LivePlayer
from .model_worker import JobResult, LoadedModel, ModelWorker, random_seed
from .pianoroll_view import PianorollView
from .status_bar import StatusBar
from .takes_menu import TakesMenu
from .theme import apply_system_theme
from .track_panel import TrackPanel
from .window_actions import make_actions, make_menus

VARIATION_AMOUNT = 0.25
CLIPS_MIN_HEIGHT = 170  # the Clips dock keeps room for a few clips and its A/B buttons


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, model: str | None = None,
                 device: str = "auto", generate_on_load: bool = True):
        super().__init__()
        self.settings = settings or QSettings()
        self.setWindowTitle("Bytes to Beats")
        self.resize(1320, 800)
        self.document = ClipDocument(self)
        self.worker = ModelWorker(self, device)
        self.player = LivePlayer(self)
        self.preview = FluidSynthPreview.find(self)  # None without FluidSynth and a soundfont
        self.composer = None
        self.model_name = None
        self.generate_on_load = generate_on_load
        self.last_error: str | None = None
        self.keep_settings = True  # False: leave the saved settings as they were (screenshots)
        self.theme_mode = str(self.settings.value("view/theme", "system"))
        self.theme = apply_system_theme(QApplication.instance(), None if self.theme_mode == "system" else self.theme_mode)

        self.commands = make_actions(self)  # by name: "generate", "play", "undo"… (not QWidget.actions())
        self.canvas = PianorollView(self.document, self.theme)
        self.chord_bar = ChordBar(self.canvas, self.theme)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.chord_bar)
        column.addWidget(self.canvas, 1)
        self.setCentralWidget(central)
        self._note: str | None = None  # a status line to show once the model is done
        self.clip_handle = DragHandle(lambda: self.document.export_multitrack(),
                                      tooltip="Drag the clip (its audible tracks) into your DAW as a .mid file")
        self.toolbar = GenerateToolbar(self.commands, self.clip_handle, self)
        self.addToolBar(self.toolbar)
        self.tracks = TrackPanel(self.document)
        self.tracks_scroll = self._scrolling(self.tracks)
        self.clips = ClipList(self.document)
        docks = [self._dock("Tracks", self.tracks_scroll, Qt.DockWidgetArea.LeftDockWidgetArea),
                 self._dock("Clips", self.clips, Qt.DockWidgetArea.LeftDockWidgetArea)]
        self.docks = {"tracks": docks[0], "clips": docks[1]}
        self.resizeDocks(docks[:1], [370], Qt.Orientation.Horizontal)
        self.resizeDocks(docks, [260, 400], Qt.Orientation.Vertical)
        self.takes_menu = TakesMenu(self.settings, self)
        self.playback_menu = make_menus(self)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.device_label, self.time_label, self.port_label = self.status.device, self.status.time, self.status.port
        self._connect()
        self._restore_settings()
        self._fill_models(model)
        prune_drag_folder()
        QTimer.singleShot(50, self.load_selected_model)  # once the window has painted

    # -- building ------------------------------------------------------------------------

    def _scrolling(self, panel: QWidget) -> QScrollArea:
        """The track rows in a scroll area: seventeen of them, unfolded, outgrow a small window."""
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.verticalScrollBar().setToolTip("More tracks")
        return scroll

    def _fit_tracks(self) -> None:
        """Give the Tracks dock the room its rows need (wider for longer names, taller for more
        rows, the Clips dock keeping CLIPS_MIN_HEIGHT); never smaller than the user made it."""
        scroll, tracks, clips = self.tracks_scroll, self.docks["tracks"], self.docks["clips"]
        bar = scroll.verticalScrollBar().sizeHint().width()
        width = self.tracks.minimumSizeHint().width() + bar
        scroll.setMinimumWidth(width)
        if tracks.width() < width:
            self.resizeDocks([tracks], [width], Qt.Orientation.Horizontal)
        room = tracks.height() + clips.height()
        title = tracks.height() - scroll.height()
        wanted = min(self.tracks.sizeHint().height() + title + 2, room - CLIPS_MIN_HEIGHT)
        if tracks.height() < wanted:
            self.resizeDocks([tracks, clips], [wanted, room - wanted], Qt.Orientation.Vertical)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        doc, bar = self.document, self.toolbar
        self.worker.modelLoaded.connect(self._model_loaded)
        self.worker.clipReady.connect(self._clip_ready)
        self.worker.chordsRead.connect(self.chord_bar.take_midi)
        self.worker.failed.connect(self.show_error)
        self.worker.busyChanged.connect(self._busy_changed)
        self.player.failed.connect(self.show_error)
        self.player.portState.connect(self.port_label.setText)
        self.status.training.openRequested.connect(self.open_training_wizard)
        self.player.playingChanged.connect(self._playing_changed)
        if self.preview is not None:
            self.preview.failed.connect(self.show_error)
            self.preview.playingChanged.connect(
                lambda on: self.commands["preview"].setText("Stop preview" if on else "Preview"))
        self.player.position.connect(lambda s: self.canvas.set_playhead(None if s < 0 else s))
        self.tracks.regenerateRequested.connect(self.regenerate)
        self.tracks.rowsChanged.connect(lambda: QTimer.singleShot(0, self._fit_tracks))  # once laid out
        doc.foldingChanged.connect(lambda: self.commands["empty"].setChecked(doc.show_empty))
        self.tracks.partDropped.connect(self.take_part)
        self.worker.partRead.connect(self._part_read)
        self.tracks.failed.connect(self.show_error)
        self.clip_handle.failed.connect(self.show_error)
        self.chord_bar.settingRequested.connect(self.set_chords)
        self.chord_bar.midiDropped.connect(self.worker.read_chords)
        self.chord_bar.failed.connect(self._chord_refused)
        doc.clipChanged.connect(self._clip_changed)
        doc.mixChanged.connect(lambda: self.player.set_mix(self._muted(), self._soloed()))
        doc.historyChanged.connect(self._history_changed)
        bar.thresholdChanged.connect(doc.set_threshold)
        bar.quantizeChanged.connect(doc.set_quantize)
        bar.feelChanged.connect(doc.set_feel)
        bar.seedEntered.connect(self.generate_seed)
        bar.bpm.valueChanged.connect(self._bpm_changed)
        bar.model.activated.connect(lambda _i: self.load_selected_model())
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda _s: self.theme_mode == "system" and self.set_theme("system"))

    # -- settings ------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        if s.value("window/geometry") is not None:
            self.restoreGeometry(s.value("window/geometry"))
            self.restoreState(s.value("window/state"))
        self.toolbar.bars.setValue(int(s.value("clip/bars", 8)))
        self.toolbar.bpm.setValue(float(s.value("clip/bpm", 120.0)))
        self.commands["overlay"].setChecked(s.value("view/overlay", "false") in (True, "true"))
        self.commands["empty"].setChecked(s.value("view/show_empty", "false") in (True, "true"))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("clip/bars", self.toolbar.bars.value())
        s.setValue("clip/bpm", self.toolbar.bpm.value())
        s.setValue("view/overlay", self.commands["overlay"].isChecked())
        s.setValue("view/show_empty", self.document.show_empty)
        s.setValue("view/theme", self.theme_mode)
        if self.model_name:
            s.setValue("model/name", self.toolbar.model.currentData())
        if self.toolbar.genre.currentText():
            s.setValue("model/genre", self.toolbar.genre.currentText())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.player.stop()
        if self.preview is not None:
            self.preview.stop()
        if self.keep_settings:
            self.save_settings()
        self.worker.wait(10_000)
        super().closeEvent(event)

    # -- models --------------------------------------------------------------------------

    def _fill_models(self, requested: str | None) -> None:
        combo = self.toolbar.model
        for entry in list_models():
            combo.addItem(f"{entry.name} ({entry.source})", str(entry.path))
        wanted = requested or self.settings.value("model/name") or DEFAULT_MODEL
        index = combo.findData(str(wanted))
        if index < 0:
            index = next((i for i in range(combo.count()) if combo.itemText(i).startswith(f"{wanted} (")), -1)
        if index < 0 and requested and Path(requested).is_file():
            combo.addItem(f"{Path(requested).stem} (file)", str(Path(requested)))
            index = combo.count() - 1
        if index < 0 and combo.count():
            index = 0
        combo.setCurrentIndex(index)

    def open_training_wizard(self, job=None) -> None:
        """The training wizard: a new run, or (`job`, from the status bar) one that trains or
        stopped, to watch, pause, cancel or resume; a wizard already open on it comes forward."""
        from bytes2beats.engine.training_job import TrainingJob

        from .training_wizard import TrainingWizard  # imported when asked for: it is big

        if not isinstance(job, TrainingJob):  # the menu's action passes its `checked` flag
            job = None
        open_one = getattr(self, "wizard", None)
        if open_one is not None and open_one.isVisible() and job is not None and open_one.job is not None \
                and open_one.job.folder == job.folder:
            open_one.raise_()
            open_one.activateWindow()
            return
        self.wizard = TrainingWizard(self, job=job)
        self.wizard.model_ready.connect(self.refresh_models)
        self.wizard.finished.connect(self.status.training.refresh)
        self.wizard.show()

    def refresh_models(self, select: str | None = None) -> None:
        """List the models again (a new one was trained), and load `select` if given."""
        combo = self.toolbar.model
        current = select or combo.currentData()
        combo.clear()
        self._fill_models(current)
        if select:
            self.load_selected_model()

    def load_selected_model(self) -> None:
        path = self.toolbar.model.currentData()
        if not path:
            self.device_label.setText("Device: no model")
            self.canvas.show_message("No model found. Train one: bytes2beats train --data FOLDER --out NAME")
            self.show_error("No model found: train one with `bytes2beats train`, or pass --model FILE")
            return
        self.commands["generate"].setEnabled(False)
        self.statusBar().showMessage(f"Loading model {Path(path).stem}…")
        self.worker.load(path)

    def _model_loaded(self, loaded: LoadedModel) -> None:
        # torch's many objects out of the cyclic collector's reach: a full collection that
        # walks them all holds every thread, the GUI's included, for 100 ms and more.
        gc.freeze()
        self.composer = loaded.composer
        self.model_name = loaded.name
        self.device_label.setText(f"Device: {loaded.device}")
        self.statusBar().showMessage(f"Model {loaded.name} loaded in {loaded.seconds:.1f} s", 4000)
        genres = list(self.composer.config.genres)
        combo = self.toolbar.genre
        combo.clear()
        combo.addItems(genres or ["(any)"])
        combo.setEnabled(bool(genres))
        saved = self.settings.value("model/genre")
        if saved in genres:
            combo.setCurrentText(saved)
        elif genres:
            combo.setCurrentText(self.composer.default_genre)
        self.toolbar.set_threshold(self.composer.default_threshold)
        self.toolbar.feel.setEnabled(bool(self.composer.meta.get("feel")))  # a 16th-grid model has no feel
        self.takes_menu.set_model(self.composer.default_takes, bool(self.composer.take_judges))
        self._update_chord_editing()
        self._busy_changed(self.worker.busy)
        if self.generate_on_load and self.document.state is None:
            self.generate()

    # -- model work ----------------------------------------------------------------------

    def _genre(self) -> str | None:
        return self.toolbar.genre.currentText() if self.composer and self.composer.config.genres else None

    def generate(self) -> None:
        self.generate_seed(random_seed())

    def generate_seed(self, seed: int) -> None:
        if self.composer is None:
            self.statusBar().showMessage("The model is still loading…", 3000)
            return
        self.toolbar.set_seed(seed)
        state = self.document.state
        same_model = state is not None and state.composer is self.composer
        threshold = state.threshold if same_model else self.composer.default_threshold
        self.worker.generate(self.composer, self.model_name, seed, self.toolbar.bars.value(), self._genre(),
                             threshold, self.toolbar.bpm.value(), self.toolbar.quantize.value() / 100,
                             self.chord_bar.setting, self._locked_for(self.composer), self.toolbar.feel.value() / 100,
                             self._takes())

    def _takes(self) -> int:
        """The takes the Takes menu asks for, where the loaded model's judge has the genre."""
        takes = self.takes_menu.takes()
        return takes if takes == 1 or self.composer.take_judge(self._genre()) is not None else 1

    def _locked_for(self, composer) -> dict:
        """The locked lanes, when they fit the model about to play around them (the same
        tracks and grid); a model of other tracks or grid starts without them."""
        state = self.document.state
        if state is None or not self.document.locked:
            return {}
        same = (state.composer.config.tracks == composer.config.tracks
                and state.composer.config.steps_per_beat == composer.config.steps_per_beat)
        return dict(self.document.locked) if same else {}

    def vary(self) -> None:
        if self.document.state is not None:
            self.worker.vary(self.document.state, VARIATION_AMOUNT, random_seed(), dict(self.document.locked))

    def take_part(self, track: int, path: str) -> None:
        """A MIDI file dropped on a track's row: read on the worker, then played around."""
        if self.composer is None or self.document.state is None:
            self.show_error("Generate a clip first, then drop your part on its track")
            return
        self.worker.read_part(path, track, self.document.state.composer, self.document.state.bars)

    def _part_read(self, read) -> None:
        if read.roll is None:
            self.show_error(read.error)
            return
        self.document.set_part(read.track, read.roll)
        self.generate_seed(self.document.state.shown_seed)

    def regenerate(self, track: int) -> None:
        if self.document.state is not None and 0 <= track < self.document.track_count():
            self.worker.regenerate(self.document.state, track, random_seed())

    # -- chords --------------------------------------------------------------------------

    def _update_chord_editing(self) -> None:
        """Chords can be asked for when the clip shown or the model loaded takes them."""
        shown = self.document.state.composer if self.document.state is not None else None
        editable = any(c is not None and c.takes_chords for c in (shown, self.composer))
        self.chord_bar.set_editable(editable, self.model_name or "")

    def set_chords(self, setting: ChordSetting, label: str = "new chords") -> None:
        """Make the clip again over the chords (or in the key) asked for: the same noise, a new
        model run on the worker. With no clip yet, the setting waits for Generate; a clip of a
        model without chords is made again, same seed, by the chord model loaded since."""
        state = self.document.state
        if state is None or not state.composer.takes_chords:
            self.chord_bar.show_clip(self.document.multitrack, setting)
            if state is not None and self.composer is not None and self.composer.takes_chords:
                self.generate_seed(state.shown_seed)
            return
        if setting.bars is not None and setting.bars == state.chord_setting.bars:
            state.chord_setting = setting  # the same chords, another key named: nothing to play again
            self.chord_bar.show_clip(self.document.multitrack, setting)
            return
        if setting.bars is not None and len(setting.bars) > state.bars:
            self._note = (f"The progression has {len(setting.bars)} bars and the clip {state.bars}: "
                          f"set Bars to {len(setting.bars)} and Generate to hear all of it")
        self.worker.rechord(state, setting, label)

    def _chord_refused(self, message: str) -> None:
        """Chords that cannot be read: one line in the status bar; nothing changed."""
        self.last_error = message
        self.statusBar().showMessage(message, 10_000)

    def _clip_ready(self, result: JobResult) -> None:
        self.document.push(result.state)
        self.time_label.setText(f"Generated in {result.seconds * 1000:.0f} ms")

    def _busy_changed(self, busy: bool) -> None:
        ready = self.composer is not None and not busy
        self.commands["generate"].setEnabled(ready)
        has_clip = self.document.state is not None
        for key in ("variation", "regenerate"):
            self.commands[key].setEnabled(ready and has_clip)
        self.tracks.set_busy(busy)
        if busy:
            self.statusBar().showMessage("The model is working…")
        elif self._note:
            self.statusBar().showMessage(self._note, 10_000)
            self._note = None
        else:
            self.statusBar().clearMessage()

    # -- the document --------------------------------------------------------------------

    def _clip_changed(self) -> None:
        state = self.document.state
        self.setWindowTitle(f"{state.title} – {state.model} – Bytes to Beats")
        self.toolbar.set_seed(state.shown_seed)
        self.toolbar.set_threshold(state.threshold)
        self.toolbar.set_quantize(state.quantize)
        self.toolbar.set_feel(state.feel)
        self.commands["export"].setEnabled(True)
        self.chord_bar.show_clip(self.document.multitrack, state.chord_setting)
        self._update_chord_editing()
        self._busy_changed(self.worker.busy)
        if self.player.playing:
            self.player.set_clip(self.document.playback_multitrack())

    def _history_changed(self) -> None:
        doc = self.document
        self.commands["undo"].setEnabled(doc.history.can_undo())
        self.commands["redo"].setEnabled(doc.history.can_redo())
        self.commands["ab"].setEnabled(all(doc.slots.values()))

    def _bpm_changed(self, bpm: float) -> None:
        self.document.set_bpm(bpm)
        self.player.set_bpm(bpm)

    def _muted(self) -> set[int]:
        return set(self.document.muted)

    def _soloed(self) -> set[int]:
        return set(self.document.soloed)

    def set_theme(self, mode: str) -> None:
        self.theme_mode = mode
        self.theme = apply_system_theme(QApplication.instance(), None if mode == "system" else mode)
        self.canvas.apply_theme(self.theme)
        self.chord_bar.apply_theme(self.theme)
        self.tracks.refresh()

    # -- play and export -----------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
        elif self.document.multitrack is None:
            self.statusBar().showMessage("Nothing to play yet: generate a clip first", 3000)
        else:
            self.player.start(self.document.playback_multitrack(), self._muted(), self._soloed())

    def toggle_jam(self) -> None:
        """Jam with the user's part on the focused track, or stop (as Play stops)."""
        if self.player.playing:
            self.player.stop()
            return
        if self.composer is None:
            self.statusBar().showMessage("The model is still loading…", 3000)
            return
        bars = self.toolbar.bars.value()
        loop_bars = bars if bars in (2, 4, 8) else 4
        track = min(self.document.focus, self.composer.config.n_tracks - 1)
        self.player.start_jam(self.composer, self._genre(), loop_bars, track, self.toolbar.bpm.value(),
                              self.document.state.seed if self.document.state else 0,
                              feel=self.toolbar.feel.value() / 100)

    def toggle_preview(self) -> None:
        if self.preview is None:
            return
        if self.preview.playing:
            self.preview.stop()
            return
        try:
            path = write_drag_file(self.document.export_multitrack())
        except (MusicFileError, ValueError) as error:
            self.show_error(str(error))
            return
        self.preview.play(path)

    def _playing_changed(self, playing: bool) -> None:
        jamming = playing and self.player.listen is not None
        self.commands["play"].setText("Stop" if playing else "Play")
        self.commands["jam"].setText("Stop jam" if jamming else "Jam")
        if not playing:
            self.canvas.set_playhead(None)

    def export(self, path: str | None = None) -> Path | None:
        """Write the clip's audible tracks to a type-1 .mid (asks where unless `path` is given)."""
        if self.document.multitrack is None:
            return None
        if not path:
            folder = str(self.settings.value("export/folder", str(Path.home())))
            name = f"{self.document.multitrack.name}.mid"
            path, _ = QFileDialog.getSaveFileName(self, "Export MIDI", str(Path(folder) / name),
                                                  "MIDI files (*.mid *.midi)")
            if not path:
                return None
        try:
            written = write_midi(self.document.export_multitrack(), path)
        except (MusicFileError, ValueError) as error:
            self.show_error(str(error))
            return None
        self.settings.setValue("export/folder", str(written.parent))
        self.statusBar().showMessage(f"Exported {written}", 5000)
        return written

    def show_error(self, message: str) -> None:
        """Every failure ends here: the status bar and a message box that does not block."""
        self.last_error = message
        self.statusBar().showMessage(message, 8000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Bytes to Beats", message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
