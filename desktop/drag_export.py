"""Dragging MIDI out of the window: a real type-1 .mid written for the drag, offered as a URL.

DAWs and file managers take `text/uri-list` (QMimeData.setUrls); some also read the raw
file as `audio/midi`. Files go to a folder in the user cache and stay there a day, since
a DAW may read a dropped file only after the drag has ended.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from bytes2beats.engine.music_io import MusicFileError, write_midi
from bytes2beats.engine.pianoroll import Multitrack
from PySide6.QtCore import QMimeData, QPoint, QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QWidget

KEEP_SECONDS = 24 * 3600


def drag_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    folder = Path(base or Path.home() / ".cache" / "bytes2beats") / "drags"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prune_drag_folder(folder: Path | None = None, keep_seconds: float = KEEP_SECONDS) -> None:
    folder = folder or drag_folder()
    now = time.time()
    for path in folder.glob("*.mid"):
        try:
            if now - path.stat().st_mtime > keep_seconds:
                path.unlink()
        except OSError:
            pass


def safe_file_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "-", name).strip(" .-")
    return (cleaned or "bytes2beats")[:80]


def write_drag_file(mt: Multitrack, folder: Path | None = None) -> Path:
    """Write the clip to a fresh .mid for a drag; raises MusicFileError."""
    folder = folder or drag_folder()
    path = folder / f"{safe_file_name(mt.name)}.mid"
    return write_midi(mt, path)


def midi_mime_data(path: Path) -> QMimeData:
    """The MIME forms a drop target may read: the file's URL, its path as text, its bytes."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    mime.setText(str(path))
    data = path.read_bytes()
    mime.setData("audio/midi", data)
    mime.setData("audio/x-midi", data)
    return mime


class DragHandle(QLabel):
    """A grip that starts a drag of a .mid made by `make_clip` when pulled out of the window.

    `make_clip` returns the Multitrack to drag (or raises ValueError when there is none).
    Failures are reported through `failed`, never raised.
    """

    failed = Signal(str)
    dragStarted = Signal(str)  # the path offered

    def __init__(self, make_clip: Callable[[], Multitrack], text: str = "⠿", tooltip: str = "",
                 parent: QWidget | None = None):
        super().__init__(text, parent)
        self.make_clip = make_clip
        self._press: QPoint | None = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(tooltip or "Drag this into your DAW or a folder: it drops a .mid file")
        self.setMinimumWidth(22)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        if (event.position().toPoint() - self._press).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        self.start_drag()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._press = None
        super().mouseReleaseEvent(event)

    def start_drag(self) -> Qt.DropAction:
        try:
            path = write_drag_file(self.make_clip())
        except (ValueError, MusicFileError) as error:
            self.failed.emit(str(error))
            return Qt.DropAction.IgnoreAction
        drag = QDrag(self)
        drag.setMimeData(midi_mime_data(path))
        self.dragStarted.emit(str(path))
        return drag.exec(Qt.DropAction.CopyAction)
