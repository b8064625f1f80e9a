"""The chord lane: each bar's chords above the pianoroll, in step with its bars.

A bar's cell spans the pixels its bar spans on the canvas below, through every zoom and
scroll (the lane asks the canvas's view box where a step is). It can be typed into (a
double-click, or Enter when it has the focus, opens a line for the whole progression), takes
MIDI files dropped on it, and asks for its menu on a right-click; what the text means is
the chord bar's business (desktop/chord_bar.py): the lane only shows and collects.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLineEdit, QWidget

from .theme import Theme

LANE_HEIGHT = 26
MIDI_SUFFIXES = (".mid", ".midi", ".kar")
ERROR_COLOR = QColor(220, 50, 47)
PLACEHOLDER = "Chords: double-click to type a progression (Am F C G), or drop a MIDI file"


def midi_path(mime) -> str | None:
    """The first local MIDI file among a drag's URLs, if any."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in MIDI_SUFFIXES:
            return url.toLocalFile()
    return None


class ChordLane(QWidget):
    """Shows `cells` (per bar, the chord names to write) under the canvas's time axis."""

    textEntered = Signal(str)  # Enter in the editor: the progression typed
    midiDropped = Signal(str)  # a MIDI file's path
    menuRequested = Signal(QPoint)  # a right-click, at this global position

    def __init__(self, canvas, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.theme = theme
        self.cells: list[str] = []  # per bar: "Am", "C,G"
        self.steps_per_bar = 16
        self.given = False  # the chords were asked for (drawn plain), not the model's (italic)
        self.editable = False
        self.error = ""
        self.edit_text = ""  # what the editor opens with
        self.placeholder = PLACEHOLDER  # shown with no clip
        self.setFixedHeight(LANE_HEIGHT)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.editor = QLineEdit(self)
        self.editor.hide()
        self.editor.setPlaceholderText("Chords per bar: Am F C G   (C,G: two in a bar; i VI III VII in a key)")
        self.editor.returnPressed.connect(lambda: self.textEntered.emit(self.editor.text()))
        self.editor.installEventFilter(self)
        box = canvas.getViewBox()
        box.sigXRangeChanged.connect(self.update)
        box.sigResized.connect(self.update)

    # -- what it shows -------------------------------------------------------------------

    def show_cells(self, cells: list[str], steps_per_bar: int, given: bool) -> None:
        self.cells, self.steps_per_bar, self.given = cells, steps_per_bar, given
        self.update()

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()

    def show_error(self, message: str) -> None:
        """A red frame and the message as the tooltip until the next edit; "" clears it."""
        self.error = message
        self.editor.setStyleSheet(f"border: 2px solid {ERROR_COLOR.name()};" if message else "")
        self.editor.setToolTip(message)
        self.update()

    # -- where bars are ------------------------------------------------------------------

    def x_of(self, step: float) -> float:
        """The lane's x of a step of the clip: where the canvas draws it."""
        box = self.canvas.getViewBox()
        at = self.canvas.viewportTransform().map(box.mapViewToScene(QPointF(step, 0)))
        origin = self.mapFromGlobal(self.canvas.viewport().mapToGlobal(QPoint(0, 0)))
        return origin.x() + at.x()

    def visible_span(self) -> tuple[float, float]:
        """The lane's x from the left to the right edge of the canvas's notes area."""
        box = self.canvas.getViewBox()
        rect = self.canvas.viewportTransform().mapRect(box.sceneBoundingRect())
        origin = self.mapFromGlobal(self.canvas.viewport().mapToGlobal(QPoint(0, 0)))
        return max(0.0, origin.x() + rect.left()), min(float(self.width()), origin.x() + rect.right())

    # -- painting ------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        theme = self.theme
        painter = QPainter(self)
        painter.fillRect(self.rect(), theme.background)
        left, right = self.visible_span()
        span = QRectF(left, 0, max(0.0, right - left), self.height())
        painter.fillRect(span, theme.lane)
        painter.setClipRect(span)
        font = QFont(self.font())
        font.setBold(self.given)
        font.setItalic(not self.given)
        painter.setFont(font)
        metrics = QFontMetrics(font)
        text_color = theme.text if self.given else theme.axis
        for bar, text in enumerate(self.cells):
            x0, x1 = self.x_of(bar * self.steps_per_bar), self.x_of((bar + 1) * self.steps_per_bar)
            if x1 < left or x0 > right:
                continue
            pen = QPen(theme.bar_line)
            pen.setWidthF(1.4)
            painter.setPen(pen)
            painter.drawLine(QPointF(x0, 0), QPointF(x0, self.height()))
            start = max(x0, left) + 5  # the name stays in sight while its bar is scrolled half away
            width = int(x1 - start - 4)
            if width > 8:
                painter.setPen(text_color)
                painter.drawText(QRectF(start, 0, width, self.height()), Qt.AlignmentFlag.AlignVCenter,
                                 metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        if not self.cells:
            painter.setPen(theme.axis)
            painter.drawText(span.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, self.placeholder)
        painter.setClipping(False)
        painter.setPen(QPen(theme.bar_line))
        painter.drawLine(QPointF(left, self.height() - 0.5), QPointF(right, self.height() - 0.5))
        if self.error:
            painter.setPen(QPen(ERROR_COLOR, 2))
            painter.drawRect(QRectF(left + 1, 1, right - left - 2, self.height() - 2))
        if self.hasFocus() and not self.editor.isVisible():
            painter.setPen(QPen(self.palette().highlight().color(), 1, Qt.PenStyle.DotLine))
            painter.drawRect(QRectF(left + 0.5, 0.5, right - left - 1, self.height() - 1))
        painter.end()

    # -- typing --------------------------------------------------------------------------

    def open_editor(self) -> None:
        if not self.editable:
            return
        left, right = self.visible_span()
        self.editor.setGeometry(int(left), 0, int(right - left), self.height())
        self.editor.setText(self.edit_text)
        self.editor.selectAll()
        self.editor.show()
        self.editor.setFocus()

    def close_editor(self) -> None:
        self.editor.hide()
        self.show_error("")

    def eventFilter(self, watched, event) -> bool:
        if watched is self.editor:
            if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape:
                self.close_editor()
                self.setFocus()
                return True
            if event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.editor.returnPressed.emit()  # and no further: the line edit would pass it on to the lane
                return True
            if event.type() == QEvent.Type.FocusOut and not self.error:
                self.editor.hide()  # clicked elsewhere: nothing typed is applied
        return super().eventFilter(watched, event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.open_editor()
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2) and self.editable:
            self.open_editor()
            event.accept()
        else:
            super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:
        self.menuRequested.emit(event.globalPos())
        event.accept()

    # -- dropping a MIDI file ------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if self.editable and midi_path(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = midi_path(event.mimeData())
        if self.editable and path:
            event.acceptProposedAction()
            self.midiDropped.emit(path)
        else:
            event.ignore()
