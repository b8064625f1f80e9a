"""The pianoroll canvas: every track in its own color, a bar/beat grid, named pitches, a playhead.

Drawing follows pyqtgraph's customGraphicsItem example: each track's notes are drawn once
into a QPicture when the clip changes, and `paint()` only replays it, so zooming, scrolling
and repaints cost little (an 8-bar clip of 5 tracks, or of 17 lanes, redraws in a few
milliseconds; see bench/canvas_redraw.py). Mute and solo change an item's opacity, with no
redraw at all. Tracks that play no note have no lane unless "Show empty tracks" is on
(ClipDocument.shown_tracks).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from bytes2beats.engine.pianoroll import Multitrack
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPicture

from .clip_document import ClipDocument
from .pianoroll_layout import LANE_GAP, PianorollLayout
from .theme import Theme, track_qcolor

SHADES = 6  # alpha steps for shading notes by probability or velocity


class PictureItem(pg.GraphicsObject):
    """A QPicture replayed on paint: draw once with `begin()`/`end()`, paint many times."""

    def __init__(self):
        super().__init__()
        self.picture = QPicture()
        self._bounds = QRectF()

    def begin(self) -> QPainter:
        self.prepareGeometryChange()
        self.picture = QPicture()
        return QPainter(self.picture)

    def end(self, painter: QPainter, bounds: QRectF) -> None:
        painter.end()
        self._bounds = bounds
        self.update()

    def paint(self, painter, *args) -> None:
        painter.drawPicture(0, 0, self.picture)

    def boundingRect(self) -> QRectF:
        return self._bounds


def note_shades(mt: Multitrack, track: int, notes: np.ndarray) -> np.ndarray:
    """A 0..1 strength per note: its mean probability (spread over the clip's range), else its velocity.

    `notes` is an (n, 4) array of (start, end, pitch, velocity).
    """
    if not len(notes):
        return np.zeros(0)
    starts, ends, pitches, velocities = notes.T
    if mt.probabilities is None:
        return np.where(velocities <= 1, 1.0, velocities / 127.0)
    # Mean probability over each note's steps, from a running sum along time over the pitches
    # played only (a few of the 128: summing all of them was most of a 17-lane redraw):
    # (steps + 1, pitches used)
    used, column = np.unique(pitches, return_inverse=True)
    running = np.zeros((mt.n_steps + 1, len(used)), dtype=np.float64)
    np.cumsum(mt.probabilities[track, : mt.n_steps][:, used], axis=0, out=running[1:])
    values = (running[ends, column] - running[starts, column]) / (ends - starts)
    low = float(values.min())
    span = float(values.max()) - low
    return np.ones_like(values) if span < 1e-6 else (values - low) / span


def draw_notes(item: PictureItem, mt: Multitrack, track: int, lane, color: QColor) -> int:
    """Draw one track's notes into its item, brighter where the model was surer. Returns the count.

    No outlines (strokes cost more than fills to replay): a small gap keeps repeated notes apart.
    """
    notes = np.array(mt.notes(track), dtype=np.int64).reshape(-1, 4)
    notes = notes[(notes[:, 2] >= lane.low) & (notes[:, 2] <= lane.high)]
    buckets = np.minimum(SHADES - 1, (note_shades(mt, track, notes) * SHADES).astype(int))
    xs = notes[:, 0].astype(float) + 0.04
    widths = (notes[:, 1] - notes[:, 0]).astype(float) - 0.12
    ys = lane.base + (notes[:, 2] - lane.low) + 0.1
    painter = item.begin()
    painter.setPen(Qt.PenStyle.NoPen)
    for k in range(SHADES):
        chosen = buckets == k
        if chosen.any():
            fill = QColor(color)
            fill.setAlphaF(0.4 + 0.6 * (k + 1) / SHADES)
            painter.setBrush(QBrush(fill))
            painter.drawRects([QRectF(x, y, w, 0.8) for x, y, w in
                               zip(xs[chosen].tolist(), ys[chosen].tolist(), widths[chosen].tolist())])
    item.end(painter, QRectF(0, lane.base, mt.n_steps, lane.height))
    return len(notes)


def draw_grid(item: PictureItem, mt: Multitrack, layout: PianorollLayout, theme: Theme) -> None:
    """Lane backgrounds with shaded black-key rows, beat and bar lines, lane separators."""
    painter = item.begin()
    painter.setPen(Qt.PenStyle.NoPen)
    steps = mt.n_steps
    lanes = layout.lanes[:1] if layout.overlay else layout.lanes
    for lane in lanes:
        painter.setBrush(theme.lane)
        painter.drawRect(QRectF(0, lane.base, steps, lane.height))
        if not lane.is_drum:
            painter.setBrush(theme.black_key)
            for p in range(lane.low, lane.high + 1):
                if p % 12 in (1, 3, 6, 8, 10):
                    painter.drawRect(QRectF(0, lane.y(p), steps, 1))
    for step in range(0, steps + 1, mt.steps_per_beat):
        strong = step % mt.steps_per_bar == 0
        pen = QPen(theme.bar_line if strong else theme.beat_line)
        pen.setCosmetic(True)
        pen.setWidthF(1.4 if strong else 0.7)
        painter.setPen(pen)
        for lane in lanes:
            painter.drawLine(QPointF(step, lane.base), QPointF(step, lane.top))
    item.end(painter, QRectF(0, 0, steps, layout.height + LANE_GAP))


def fits(layout: PianorollLayout, mt: Multitrack) -> bool:
    """Whether every note of the clip falls inside its track's lane."""
    for lane in layout.lanes:
        rows = np.flatnonzero(mt.rolls[lane.track].any(axis=0))
        if rows.size and (rows[0] < lane.low or rows[-1] > lane.high):
            return False
    return True


def key_of(layout: PianorollLayout) -> tuple:
    return (layout.overlay, tuple((lane.track, lane.low, lane.high, lane.base) for lane in layout.lanes))


class PitchAxis(pg.AxisItem):
    """Note names on pitched lanes, General MIDI drum names on the drum lane."""

    def __init__(self):
        super().__init__("left")
        self.layout: PianorollLayout | None = None
        self.setWidth(118)

    def tickValues(self, minVal, maxVal, size):
        if self.layout is None:
            return []
        major, minor = self.layout.ticks(maxVal - minVal, size)
        return [(1.0, [v for v in major if minVal <= v <= maxVal]),
                (0.5, [v for v in minor if minVal <= v <= maxVal])]

    def tickStrings(self, values, scale, spacing):
        return [self.layout.label(v) if self.layout else "" for v in values]


class BarAxis(pg.AxisItem):
    """Bar numbers at bar lines, beat ticks between them."""

    def __init__(self):
        super().__init__("bottom")
        self.steps_per_beat = 4

    def tickValues(self, minVal, maxVal, size):
        beat, bar = self.steps_per_beat, 4 * self.steps_per_beat
        first = max(0, int(minVal // bar))
        bars = [b * bar for b in range(first, int(maxVal // bar) + 1)]
        beats = [s for s in range(int(minVal // beat) * beat, int(maxVal) + 1, beat) if s % bar]
        return [(bar, bars), (beat, beats if size / max(maxVal - minVal, 1) * beat > 6 else [])]

    def tickStrings(self, values, scale, spacing):
        bar = 4 * self.steps_per_beat
        return [str(int(v // bar) + 1) if v % bar == 0 else "" for v in values]


class RollViewBox(pg.ViewBox):
    """The wheel zooms time; with Shift it zooms pitch (as in most DAWs' piano rolls)."""

    def wheelEvent(self, ev, axis=None):
        if axis is None:
            axis = 1 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 0
        super().wheelEvent(ev, axis)


class PianorollView(pg.PlotWidget):
    """The canvas. Takes the ClipDocument and redraws when its clip or mix changes."""

    def __init__(self, document: ClipDocument, theme: Theme, parent=None):
        self.pitch_axis, self.bar_axis = PitchAxis(), BarAxis()
        super().__init__(parent, viewBox=RollViewBox(),
                         axisItems={"left": self.pitch_axis, "bottom": self.bar_axis})
        self.document = document
        self.theme = theme
        self.overlay = False
        self.layout_: PianorollLayout | None = None
        self._layout_key = None
        self._grid_key = None
        self._layout_identity = None
        self._labels_key = None
        self.note_items: list[PictureItem] = []
        self.lane_labels: list[pg.TextItem] = []
        self.grid_item = PictureItem()
        self.grid_item.setZValue(-10)
        self.addItem(self.grid_item)
        self.playhead = pg.InfiniteLine(angle=90, movable=False)
        self.playhead.setZValue(100)
        self.playhead.hide()
        self.addItem(self.playhead)
        self.message = pg.TextItem(anchor=(0.5, 0.5))
        self.addItem(self.message)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.showGrid(False, False)
        self.setToolTip("The clip: the wheel zooms time (Shift+wheel: pitch), drag to move,\n"
                        "double-click to see it all, click a lane to focus its track.\n"
                        "Brighter notes are the ones the model was surer of.")
        self.apply_theme(theme)
        self.show_message("Loading the model…")
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self._draw_step)
        self._steps = None
        document.clipChanged.connect(self._schedule_redraw)
        document.foldingChanged.connect(self._schedule_redraw)
        document.mixChanged.connect(self.update_mix)
        self.scene().sigMouseClicked.connect(self._clicked)

    # -- drawing -------------------------------------------------------------------------

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        for axis in (self.pitch_axis, self.bar_axis):
            axis.setPen(theme.axis)
            axis.setTextPen(theme.text)
        pen = pg.mkPen(theme.playhead, width=2)
        self.playhead.setPen(pen)
        self.message.setColor(theme.text)
        if self.document.multitrack is not None:
            self.redraw()

    @property
    def redraw_pending(self) -> bool:
        """A change waits for the next turn of the event loop to be drawn."""
        return self._steps is not None

    def set_overlay(self, overlay: bool) -> None:
        self.overlay = overlay
        self._layout_key = self._grid_key = None
        self.redraw()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text and self.document.multitrack is None:
            self.message.setPos(0.5, 0.5)
            self.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def redraw(self) -> None:
        """Draw the document's clip again, all at once (a new theme, overlay, or a benchmark)."""
        self._steps = None
        self._redraw_timer.stop()
        for _ in self._draw_steps():
            pass

    def _schedule_redraw(self) -> None:
        """Draw the new clip on the next turns of the event loop, a track per turn, so that the
        GUI thread's work comes in pieces of a few ms; a newer change restarts the drawing."""
        self._steps = self._draw_steps()
        self._redraw_timer.start()

    def _draw_step(self) -> None:
        if self._steps is None:
            return
        try:
            next(self._steps)
        except StopIteration:
            self._steps = None
        else:
            self._redraw_timer.start()

    def _draw_steps(self):
        mt = self.document.multitrack
        if mt is None:
            return
        layout = self._layout_for(mt)
        if layout.lanes:
            self.message.hide()
        else:  # every track folded: say why the canvas is bare
            self.message.setText("No track plays a note at this threshold: lower it, or View → Show empty tracks")
            self.message.setPos(mt.n_steps / 2, 0.5)
            self.message.show()
        labels = (key_of(layout), layout.focus if layout.overlay else None)
        if labels != self._labels_key:
            self._labels_key = labels
            self.pitch_axis.picture = None  # labels follow the new lanes
            self.pitch_axis.update()
        key = (mt.n_steps, key_of(layout))
        self.layout_ = layout
        self.pitch_axis.layout = layout
        self.bar_axis.steps_per_beat = mt.steps_per_beat
        while len(self.note_items) < len(mt.tracks):
            item = PictureItem()
            self.note_items.append(item)
            self.addItem(item)
        shown = set(layout.tracks)
        for k, item in enumerate(self.note_items):
            item.setVisible(k in shown)
        grid_key = (key_of(layout), mt.n_steps, mt.steps_per_beat, self.theme.dark)
        if grid_key != self._grid_key:  # the grid only changes with the lanes
            self._grid_key = grid_key
            draw_grid(self.grid_item, mt, layout, self.theme)
        self._place_lane_labels(mt, layout)
        if key != self._layout_key:  # a new shape: show all of it; otherwise keep the zoom
            self._layout_key = key
            self.getViewBox().setLimits(xMin=-1, xMax=mt.n_steps + 1, yMin=-2, yMax=layout.height + 2,
                                        minXRange=4, minYRange=6)
            self.fit()
        self.update_mix()
        for i in layout.tracks:
            yield
            draw_notes(self.note_items[i], mt, i, layout.lane_of(i), track_qcolor(i))

    def _layout_for(self, mt: Multitrack) -> PianorollLayout:
        """The lanes of this clip: kept while only the threshold moves (so the zoom stays put),
        unless notes come up outside them."""
        serial = self.document.state.serial if self.document.state else None
        shown = self.document.shown_tracks()
        identity = (serial, self.overlay, self.document.focus, self.theme.dark, tuple(shown))
        old = self.layout_
        if old is not None and identity == self._layout_identity and fits(old, mt):
            return old
        self._layout_identity = identity
        return PianorollLayout(mt.rolls, mt.tracks, self.overlay, self.document.focus, shown)

    def _place_lane_labels(self, mt: Multitrack, layout: PianorollLayout) -> None:
        lanes = layout.label_lanes() if layout.overlay else layout.lanes
        while len(self.lane_labels) < len(lanes):
            label = pg.TextItem(anchor=(0, 0))
            label.setZValue(50)
            self.addItem(label)
            self.lane_labels.append(label)
        for k, label in enumerate(self.lane_labels):
            label.setVisible(k < len(lanes))
            if k < len(lanes):
                lane = lanes[k]
                if label.textItem.toPlainText() != lane.name:
                    label.setText(lane.name)
                label.setColor(track_qcolor(lane.track))
                label.setPos(0.2, lane.top)

    def update_mix(self) -> None:
        """Mute, solo and focus as opacity: no note is drawn again."""
        doc = self.document
        for i, item in enumerate(self.note_items[: doc.track_count()]):
            opacity = 1.0 if doc.audible(i) else 0.18
            if self.overlay:
                opacity *= 1.0 if i == doc.focus else 0.35
                item.setZValue(10 if i == doc.focus else 1)
            item.setOpacity(opacity)
        if self.overlay and self.layout_ is not None and self.layout_.focus != doc.focus:
            self.redraw()

    def fit(self) -> None:
        if self.layout_ is not None and self.document.multitrack is not None:
            self.setRange(xRange=(0, self.document.multitrack.n_steps), yRange=(0, self.layout_.height),
                          padding=0.01)

    def track_at(self, y: float) -> int | None:
        """The track whose lane holds the height `y` (in view coordinates), if any."""
        if self.layout_ is None or self.layout_.overlay:
            return None
        for lane in self.layout_.lanes:
            if lane.base <= y < lane.top:
                return lane.track
        return None

    def _clicked(self, event) -> None:
        """A click on a lane focuses its track (M and S act on it)."""
        if event.double() or self.layout_ is None:
            return
        point = self.getViewBox().mapSceneToView(event.scenePos())
        track = self.track_at(point.y())
        if track is not None:
            self.document.set_focus(track)

    def mouseDoubleClickEvent(self, event) -> None:
        self.fit()
        event.accept()

    # -- the playhead --------------------------------------------------------------------

    def set_playhead(self, step: float | None) -> None:
        """Put the playhead at a step (fractions allowed); None hides it."""
        if step is None:
            self.playhead.hide()
        else:
            self.playhead.setValue(step)
            self.playhead.show()
