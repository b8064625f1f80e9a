"""The band above the canvas: the key box, the chord menu, and the chord lane.

It turns what the user does (types a progression, picks one from the menu, drops a MIDI
file, picks a key, clears) into a ChordSetting (desktop/chord_setting.py) and asks the
window for it with `settingRequested`; what cannot be read becomes one line on `failed`, and
nothing changes. The chords shown are the clip's (`show_clip`), so undo and A/B bring back
a clip's chords and key with it.
"""

from __future__ import annotations

from bytes2beats.engine.progression import (
    ChordError,
    Key,
    chord_name,
    describe,
    parse_progression,
    per_beat,
)
from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QMenu, QToolButton, QWidget

from .chord_lane import PLACEHOLDER, ChordLane
from .chord_setting import ChordSetting, bars_of_clip, move_to_key, to_bars
from .common_progressions import COMMON_PROGRESSIONS
from .theme import Theme

KEYS = [Key(tonic, minor) for tonic in range(12) for minor in (False, True)]  # C, Cm, Db, C#m, ...
TIP_EDITABLE = ("The chords of each bar: the ones asked for in bold, the model's own in italics.\n"
                "Double-click (or Enter) to type a progression, a bar at a time: Am F C G;\n"
                "two chords in a bar: C,G; Roman numerals once a key is chosen: i VI III VII.\n"
                "Right-click for common progressions; drop a MIDI file here to take its chords.\n"
                "New chords make the clip again from the same seed.")
TIP_KEY = ("The key to generate in. Alone, the model picks chords in it; with a progression,\n"
           "Roman numerals are read in it, and choosing another key moves the chords into it.")


def _name(chord) -> str:
    return "N.C." if chord is None else chord_name(chord)


class ChordBar(QWidget):
    settingRequested = Signal(object, str)  # ChordSetting, a label for the clip it makes
    midiDropped = Signal(str)  # a MIDI file to take the chords of (the window reads it off the GUI thread)
    failed = Signal(str)  # one line: what could not be read (nothing changed)

    def __init__(self, canvas, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.setting = ChordSetting()
        self.editable = False

        self.key_box = QComboBox()
        self.key_box.addItem("Any key")
        for key in KEYS:
            self.key_box.addItem(key.name)
        self.key_box.setToolTip(TIP_KEY)
        self.key_box.activated.connect(self._key_chosen)
        self.menu = QMenu(self)
        self.menu.aboutToShow.connect(self._fill_menu)
        self.menu_button = QToolButton()
        self.menu_button.setText("♫")
        self.menu_button.setMenu(self.menu)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setToolTip("Chords: common progressions, a MIDI file's chords, type or clear them")
        self.lane = ChordLane(canvas, theme)
        self.lane.textEntered.connect(self._typed)
        self.lane.midiDropped.connect(self.midiDropped)
        self.lane.menuRequested.connect(self._menu_at)

        self.controls = QWidget()
        left = QHBoxLayout(self.controls)
        left.setContentsMargins(0, 0, 1, 0)
        left.setSpacing(1)
        left.addWidget(self.key_box)
        left.addWidget(self.menu_button)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.controls)
        row.addWidget(self.lane, 1)
        canvas.getViewBox().sigResized.connect(self.align)
        self.set_editable(False, "")

    # -- what it shows -------------------------------------------------------------------

    def show_clip(self, clip, setting: ChordSetting) -> None:
        """Show a clip's chords (per bar, its distinct chords in order) and the setting it was
        made with; with no clip, the setting's own progression."""
        self.setting = setting
        self.key_box.setCurrentIndex(0 if setting.key is None else 1 + KEYS.index(setting.key))
        if clip is not None and clip.chords is not None:
            bars = bars_of_clip(clip.chords, clip.steps_per_bar // clip.steps_per_beat)
            self.lane.show_cells([",".join(_name(c) for c in bar) for bar in bars], clip.steps_per_bar,
                                 given=setting.bars is not None)
        else:  # nothing on the canvas to line bars up with: the next clip's chords in words
            bars = [list(bar) for bar in setting.bars or ()]
            self.lane.show_cells([], self.lane.steps_per_bar, given=False)
        self.lane.placeholder = f"The next clip's chords: {setting.text}" if setting.text else PLACEHOLDER
        self.lane.edit_text = setting.text or describe(bars)

    def set_editable(self, editable: bool, model: str) -> None:
        """Chords can be asked for only of a model that takes them; others show what they played."""
        self.editable = self.lane.editable = editable
        self.key_box.setEnabled(editable)
        self.menu_button.setEnabled(editable)
        if editable:
            self.lane.setToolTip(TIP_EDITABLE)
            self.key_box.setToolTip(TIP_KEY)
        else:
            self.lane.close_editor()
            tip = (f"The model {model} takes no chords: choose genres-chords (or another chord model)\n"
                   "in the Model box to generate to a key and chords. Shown: the chords heard in the clip."
                   if model else "No model is loaded yet")
            self.lane.setToolTip(tip)
            self.key_box.setToolTip(tip)

    def apply_theme(self, theme: Theme) -> None:
        self.lane.apply_theme(theme)

    def align(self) -> None:
        """The lane starts where the canvas's notes start: the key box fills the pitch axis's width."""
        box = self.canvas.getViewBox()
        rect = self.canvas.viewportTransform().mapRect(box.sceneBoundingRect())
        start = self.mapFromGlobal(self.canvas.viewport().mapToGlobal(QPoint(0, 0))).x() + rect.left()
        self.controls.setFixedWidth(max(self.controls.sizeHint().width(), int(round(start))))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.align()

    # -- what the user does --------------------------------------------------------------

    def _request(self, setting: ChordSetting, label: str) -> None:
        if setting != self.setting:
            self.settingRequested.emit(setting, label)

    def _refuse(self, error: ChordError) -> None:
        message = str(error)
        if self.setting.key is None and "key is needed" in message:
            message += " (choose one in the key box)"
        message = f"Chords unchanged: {message}"
        self.lane.show_error(message)
        self.failed.emit(message)

    def _typed(self, text: str) -> None:
        try:
            bars = parse_progression(text, self.setting.key)
            per_beat(bars, len(bars))  # at most one chord a beat
        except ChordError as error:
            self._refuse(error)
            return
        self.lane.close_editor()
        setting = ChordSetting(to_bars(bars), self.setting.key)
        self._request(setting, f"chords {setting.text}")

    def _key_chosen(self, index: int) -> None:
        key = None if index <= 0 else KEYS[index - 1]
        if key == self.setting.key:
            return
        bars = self.setting.bars
        if bars and key is not None:
            bars = move_to_key(bars, self.setting.key, key)
        setting = ChordSetting(bars, key)
        self._request(setting, f"in {key.name}" if key else "in any key")

    def choose_key(self, key: Key | None) -> None:
        """As if the key were picked in the key box."""
        index = 0 if key is None else 1 + KEYS.index(key)
        self.key_box.setCurrentIndex(index)
        self._key_chosen(index)

    def choose_progression(self, index: int) -> None:
        progression = COMMON_PROGRESSIONS[index]
        setting = ChordSetting(to_bars(progression.bars(self.setting.key)), self.setting.key)
        self._request(setting, f"{progression.label} ({setting.text})")

    def clear(self) -> None:
        """Back to the chords the model picks (in the key, when one is chosen)."""
        self.lane.close_editor()
        self._request(ChordSetting(None, self.setting.key), "the model's chords")

    def take_midi(self, result) -> None:
        """A MIDI file's chords, read by the worker (model_worker.ChordsRead)."""
        if result.bars is None:
            self._refuse(ChordError(result.error))
            return
        name = result.path.replace("\\", "/").rsplit("/", 1)[-1]
        self._request(ChordSetting(result.bars, self.setting.key), f"chords of {name}")

    # -- the menu ------------------------------------------------------------------------

    def _fill_menu(self) -> None:
        menu = self.menu
        menu.clear()
        menu.addAction("Type chords…", self.lane.open_editor).setEnabled(self.editable)
        for minor in (False, True):
            menu.addSection("Minor-key progressions" if minor else "Major-key progressions")
            for index, progression in enumerate(COMMON_PROGRESSIONS):
                if progression.minor == minor:
                    chords = describe(progression.bars(self.setting.key))
                    action = menu.addAction(f"{progression.label}  ({progression.known_as})\t{chords}")
                    action.triggered.connect(lambda _=False, i=index: self.choose_progression(i))
                    action.setEnabled(self.editable)
        menu.addSeparator()
        menu.addAction("Chords from a MIDI file…", self._open_midi).setEnabled(self.editable)
        menu.addAction("Clear: the model picks the chords", self.clear).setEnabled(
            self.editable and self.setting.bars is not None)

    def _menu_at(self, where: QPoint) -> None:
        if self.editable:
            self.menu.popup(where)

    def _open_midi(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Take the chords of a MIDI file", "",
                                              "MIDI files (*.mid *.midi *.kar)")
        if path:
            self.midiDropped.emit(path)
