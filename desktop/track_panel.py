"""Per-track controls: name and color, mute, solo, lock, regenerate, instrument, and a drag
grip; a MIDI file dropped on a row becomes that track's part (locked), with the rest played
around it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .chord_lane import midi_path
from .clip_document import ClipDocument
from .drag_export import DragHandle
from .gm_names import GM_PROGRAMS
from .theme import track_qcolor


class TrackRow(QFrame):
    """One track's row. Clicking it focuses the track (M and S act on the focused track)."""

    def __init__(self, document: ClipDocument, index: int, panel: TrackPanel):
        super().__init__(panel)
        self.document, self.index, self.panel = document, index, panel
        track = document.multitrack.tracks[index]
        self.setObjectName(f"track-row-{index}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(4)

        self.swatch = QLabel()
        self.swatch.setFixedSize(12, 28)
        self.swatch.setStyleSheet(f"background: {track_qcolor(index).name()}; border-radius: 3px;")
        self.swatch.setToolTip(f"{track.name} is drawn in this color")
        self.name = QLabel(f"<b>{track.name}</b>")
        self.name.setMinimumWidth(58)
        self.mute = self._toggle("M", f"Mute {track.name} (M mutes the focused track)")
        self.solo = self._toggle("S", f"Solo {track.name} (S solos the focused track)")
        self.lock = self._toggle("L", f"Lock {track.name}: Generate and Vary keep it as it is and play "
                                      f"around it (or drop your own MIDI part on this row)")
        self.mute.clicked.connect(lambda: document.toggle_mute(index))
        self.solo.clicked.connect(lambda: document.toggle_solo(index))
        self.lock.clicked.connect(lambda: document.toggle_lock(index))
        self.setAcceptDrops(True)
        self.setToolTip(f"Drop a MIDI file here to make it your {track.name} part")
        self.regenerate = QToolButton()
        self.regenerate.setText("↻")
        self.regenerate.setToolTip(f"Regenerate {track.name} alone: new noise for this track, "
                                   "the other tracks stay as they are")
        self.regenerate.clicked.connect(lambda: panel.regenerateRequested.emit(index))
        self.instrument = QComboBox()
        self.instrument.setMinimumWidth(120)
        self.instrument.setMaximumWidth(190)
        if track.is_drum:
            self.instrument.addItem("Drum kit (channel 10)")
            self.instrument.setEnabled(False)
            self.instrument.setToolTip("Drums play on General MIDI channel 10")
        else:
            self.instrument.addItems([f"{p + 1}. {name}" for p, name in enumerate(GM_PROGRAMS)])
            self.instrument.setCurrentIndex(document.program(index))
            self.instrument.setToolTip(f"The General MIDI instrument {track.name} gets on export and playback")
            self.instrument.currentIndexChanged.connect(lambda p: document.set_program(index, p))
        self.handle = DragHandle(lambda: document.export_multitrack(index),
                                 tooltip=f"Drag {track.name} alone into your DAW as a .mid file")
        self.handle.failed.connect(panel.failed)
        for widget in (self.swatch, self.name, self.mute, self.solo, self.lock, self.regenerate, self.instrument,
                       self.handle):
            layout.addWidget(widget)
        layout.setStretchFactor(self.instrument, 1)
        self.refresh()

    def _toggle(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setFixedWidth(26)
        return button

    def refresh(self) -> None:
        doc = self.document
        self.mute.setChecked(self.index in doc.muted)
        self.solo.setChecked(self.index in doc.soloed)
        focused = doc.focus == self.index
        self.setFrameShadow(QFrame.Shadow.Sunken if focused else QFrame.Shadow.Plain)
        self.setBackgroundRole(self.palette().ColorRole.AlternateBase if focused
                               else self.palette().ColorRole.Window)
        self.setLineWidth(2 if focused else 1)
        self.name.setEnabled(doc.audible(self.index))
        self.lock.setChecked(self.index in doc.locked)
        self.regenerate.setEnabled(not self.panel.busy and self.index not in doc.locked)

    def dragEnterEvent(self, event) -> None:
        if midi_path(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = midi_path(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.panel.partDropped.emit(self.index, path)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.document.set_focus(self.index)
        super().mousePressEvent(event)


class TrackPanel(QWidget):
    """The rows of the current clip's tracks; asks the window to regenerate a track."""

    regenerateRequested = Signal(int)
    partDropped = Signal(int, str)  # track, a MIDI file's path
    failed = Signal(str)

    def __init__(self, document: ClipDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.rows: list[TrackRow] = []
        self._names: list[str] = []
        self.busy = False
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(4, 4, 4, 4)
        self.box.setSpacing(3)
        self.placeholder = QLabel("Tracks appear here once a clip is generated.")
        self.placeholder.setWordWrap(True)
        self.box.addWidget(self.placeholder)
        self.box.addStretch(1)
        document.clipChanged.connect(self.rebuild)
        document.mixChanged.connect(self.refresh)

    def rebuild(self) -> None:
        mt = self.document.multitrack
        names = mt.track_names if mt else []
        if names == self._names:
            return
        self._names = names
        for row in self.rows:
            row.setParent(None)
            row.deleteLater()
        self.rows = [TrackRow(self.document, i, self) for i in range(len(names))]
        for i, row in enumerate(self.rows):
            self.box.insertWidget(i, row)
        self.placeholder.setVisible(not self.rows)

    def refresh(self) -> None:
        for row in self.rows:
            row.refresh()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.refresh()

    def row(self, index: int) -> TrackRow:
        return self.rows[index]



