"""Per-track controls: name and color, the MIDI channel it plays on live, mute, solo, lock,
regenerate, instrument, and a drag grip; a MIDI file dropped on a row becomes that track's
part (locked), with the rest played around it.

Rows of tracks that play no note in the clip are folded away behind one line at the end
("▸ 6 empty tracks: Organ, Brass, …"): a 17-family model leaves several families silent in
most clips, and seventeen rows would push the clip list off the window. The folding follows
every new clip, threshold and regenerated track (ClipDocument.shown_tracks).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QMouseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .chord_lane import midi_path
from .clip_document import ClipDocument
from .drag_export import DragHandle
from .gm_names import GM_PROGRAMS
from .midi_channels import track_channels
from .theme import track_qcolor

NAME_WIDTH = (58, 112)  # the name column's pixels: at least, at most (longer names end in "…")


class TrackRow(QFrame):
    """One track's row. Clicking it focuses the track (M and S act on the focused track)."""

    def __init__(self, document: ClipDocument, index: int, panel: TrackPanel, channel: tuple[str, str]):
        super().__init__(panel)
        self.document, self.index, self.panel = document, index, panel
        track = document.multitrack.tracks[index]
        self.track_name = track.name
        self.setObjectName(f"track-row-{index}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 1, 4, 1)  # 30-pixel rows: seventeen of them fit an 800-pixel window
        layout.setSpacing(4)

        self.swatch = QLabel()
        self.swatch.setFixedWidth(12)
        self.swatch.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.swatch.setStyleSheet(f"background: {track_qcolor(index).name()}; border-radius: 3px;")
        self.swatch.setToolTip(f"{track.name} is drawn in this color")
        self.name = QLabel(track.name)
        bold = QFont(self.name.font())
        bold.setBold(True)
        self.name.setFont(bold)
        self.name.setToolTip(track.name)
        self.channel_text = channel[0]
        self.channel = QLabel(channel[0])
        small = QFont(self.channel.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        self.channel.setFont(small)
        self.channel.setForegroundRole(self.palette().ColorRole.PlaceholderText)
        self.channel.setToolTip(channel[1])
        names = QWidget()
        names.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        column = QVBoxLayout(names)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.name)
        column.addWidget(self.channel)
        self.names = names
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
        for widget in (self.swatch, self.names, self.mute, self.solo, self.lock, self.regenerate, self.instrument,
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

    def set_name_width(self, width: int) -> None:
        """The same name column on every row, so that the buttons line up; a longer name ends
        in "…" (its tooltip has all of it)."""
        self.names.setFixedWidth(width)
        metrics = QFontMetrics(self.name.font())
        self.name.setText(metrics.elidedText(self.track_name, Qt.TextElideMode.ElideRight, width))

    def refresh(self) -> None:
        doc = self.document
        plays = doc.plays(self.index)
        self.channel.setText(self.channel_text if plays else f"{self.channel_text} · no notes")
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


class FoldLine(QToolButton):
    """The line that shows or folds the empty tracks' rows: one line, its words cut with "…"
    to the panel's width (the tooltip names every track)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("fold-empty-tracks")
        self.setCheckable(True)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.words = ""

    def set_words(self, words: str) -> None:
        self.words = words
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = max(40, self.width() - 16)
        self.setText(self.fontMetrics().elidedText(self.words, Qt.TextElideMode.ElideRight, room))


class TrackPanel(QWidget):
    """The rows of the current clip's tracks (folded ones hidden, one line to show them);
    asks the window to regenerate a track."""

    regenerateRequested = Signal(int)
    partDropped = Signal(int, str)  # track, a MIDI file's path
    failed = Signal(str)
    rowsChanged = Signal()  # rows made for other tracks, or rows shown or folded: another size

    def __init__(self, document: ClipDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.rows: list[TrackRow] = []
        self._names: list[str] = []
        self.busy = False
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(4, 4, 4, 4)
        self.box.setSpacing(2)
        self.placeholder = QLabel("Tracks appear here once a clip is generated.")
        self.placeholder.setWordWrap(True)
        self.box.addWidget(self.placeholder)
        self.fold = FoldLine()
        self.fold.toggled.connect(document.set_show_empty)
        self.fold.hide()
        self.box.addWidget(self.fold)
        self.box.addStretch(1)
        self.port_name: str | None = None  # the live stream's first port; None: the virtual port's name
        document.clipChanged.connect(self.rebuild)
        document.foldingChanged.connect(self.apply_folding)
        document.mixChanged.connect(self.refresh)

    def rebuild(self) -> None:
        """New rows when the clip's tracks are others (another model); the folding in any case."""
        mt = self.document.multitrack
        names = mt.track_names if mt else []
        if names != self._names:
            self._names = names
            for row in self.rows:
                row.setParent(None)
                row.deleteLater()
            channels = track_channels(mt.tracks, self.port_name or _virtual_port_name()) if mt else []
            self.rows = [TrackRow(self.document, i, self, channels[i]) for i in range(len(names))]
            width = self._name_width()
            for i, row in enumerate(self.rows):
                row.set_name_width(width)
                self.box.insertWidget(i, row)
            self.placeholder.setVisible(not self.rows)
            self.rowsChanged.emit()
        self.apply_folding()

    def _name_width(self) -> int:
        if not self.rows:
            return NAME_WIDTH[0]
        metrics = QFontMetrics(self.rows[0].name.font())
        widest = max(metrics.horizontalAdvance(row.track_name) for row in self.rows) + 2
        return max(NAME_WIDTH[0], min(NAME_WIDTH[1], widest))

    def apply_folding(self) -> None:
        """Hide the rows of silent tracks (unless "Show empty tracks"), and word the fold line."""
        doc = self.document
        shown = set(doc.shown_tracks())
        before = [row.isHidden() for row in self.rows]
        for row in self.rows:
            row.setVisible(row.index in shown)
        empty = [row.track_name for row in self.rows if not doc.plays(row.index)]
        self.fold.blockSignals(True)
        self.fold.setChecked(doc.show_empty)
        self.fold.blockSignals(False)
        self.fold.setVisible(bool(empty))
        if empty:
            count = f"{len(empty)} empty track{'s' if len(empty) > 1 else ''}"
            self.fold.set_words(f"▾ Fold the {count}" if doc.show_empty else f"▸ {count}: {', '.join(empty)}")
            self.fold.setToolTip(f"{', '.join(empty)} {'play' if len(empty) > 1 else 'plays'} no note in this clip. "
                                 + ("Fold their rows and lanes away" if doc.show_empty else
                                    "Show their rows and lanes, to regenerate one, pick its instrument "
                                    "or drop a part on it") + " (View → Show empty tracks)")
        self.refresh()
        if [row.isHidden() for row in self.rows] != before:
            self.rowsChanged.emit()

    def refresh(self) -> None:
        for row in self.rows:
            row.refresh()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.refresh()

    def row(self, index: int) -> TrackRow:
        return self.rows[index]


def _virtual_port_name() -> str:
    """The live stream's port name; MIDI's modules load here, with the first clip, not at start."""
    from bytes2beats.engine.live import VIRTUAL_PORT_NAME

    return VIRTUAL_PORT_NAME
