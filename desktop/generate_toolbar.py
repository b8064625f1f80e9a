"""The toolbar: model, genre, seed, Generate, Variation, threshold, quantize, bars, BPM, Play,
Export, drag (Overlay is in the View menu)."""

from __future__ import annotations

from bytes2beats.engine.feel import FEEL
from bytes2beats.engine.limits import (
    BPM,
    CLIP_BARS,
    DEFAULT_BPM,
    FEEL_PERCENT,
    QUANTIZE_PERCENT,
    SEED,
    THRESHOLD,
)
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QSlider,
    QSpinBox,
    QToolBar,
    QWidget,
)

from .drag_export import DragHandle

SLIDER_STEPS = 1000  # the threshold slider moves in thousandths


PERCENT_BOX = 60  # pixels: "100 %" and its arrows, no more, so that the toolbar fits 1320 pixels


def _labelled(toolbar: QToolBar, text: str, widget: QWidget, tip: str) -> None:
    label = QLabel(text)
    label.setContentsMargins(3, 0, 1, 0)  # narrower than spaces: Quantize, Feel and Drag MIDI fit 1320 pixels
    label.setToolTip(tip)
    widget.setToolTip(tip)
    toolbar.addWidget(label)
    toolbar.addWidget(widget)


class GenerateToolbar(QToolBar):
    """Widgets only: the window connects them to the document and the worker."""

    thresholdChanged = Signal(float)
    quantizeChanged = Signal(float)  # 0..1
    feelChanged = Signal(float)  # 0..1
    seedEntered = Signal(int)

    def __init__(self, actions: dict[str, QAction], drag_handle: DragHandle, parent=None):
        super().__init__("Generate", parent)
        self.setObjectName("generate-toolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

        self.model = QComboBox()
        self.model.setMinimumContentsLength(10)
        self.model.setMaximumWidth(120)  # a long name is elided (the list shows it whole)
        _labelled(self, "Model", self.model, "The trained model that writes the music")
        self.genre = QComboBox()
        _labelled(self, "Genre", self.genre, "The genre to ask for (models trained on several genres)")
        self.addSeparator()

        self.addAction(actions["generate"])
        self.seed = QSpinBox()
        self.seed.setRange(SEED.low, SEED.high)
        self.seed.setKeyboardTracking(False)
        self.seed.setMinimumWidth(90)  # ten digits; narrow enough that Drag MIDI fits 1320 pixels
        _labelled(self, "Seed", self.seed, "The seed of the current clip: type one and press Enter to generate it again")
        self.seed.lineEdit().returnPressed.connect(lambda: self.seedEntered.emit(self.seed.value()))
        self.addAction(actions["variation"])
        self.addSeparator()

        self.threshold = QSlider(Qt.Orientation.Horizontal)
        # the ends of the open range are no thresholds: one slider step inside each
        self.threshold.setRange(round(THRESHOLD.low * SLIDER_STEPS) + 1, round(THRESHOLD.high * SLIDER_STEPS) - 1)
        self.threshold.setMinimumWidth(64)
        self.threshold_label = QLabel("0.500")
        self.threshold_label.setMinimumWidth(36)
        _labelled(self, "Threshold", self.threshold,
                  "How sure the model must be to write a note: lower for more notes, higher for fewer.\n"
                  "Changes the clip at once, without running the model again.")
        self.addWidget(self.threshold_label)
        self.threshold.valueChanged.connect(self._threshold_moved)

        self.quantize = QSpinBox()
        self.quantize.setRange(round(QUANTIZE_PERCENT.low), round(QUANTIZE_PERCENT.high))
        self.quantize.setSingleStep(10)
        self.quantize.setSuffix(" %")
        self.quantize.setMaximumWidth(PERCENT_BOX)
        self.quantize.setValue(100)
        _labelled(self, "Quantize", self.quantize,
                  "How far notes move onto the 16th and triplet grid, as a DAW's quantize strength:\n"
                  "100 % puts every note on it, 0 % leaves them where the model put them.\n"
                  "Changes the clip at once, without running the model again.")
        self.quantize.valueChanged.connect(lambda value: self.quantizeChanged.emit(value / 100))
        self.feel = QSpinBox()
        self.feel.setRange(round(FEEL_PERCENT.low), round(FEEL_PERCENT.high))
        self.feel.setSingleStep(10)
        self.feel.setSuffix(" %")
        self.feel.setMaximumWidth(PERCENT_BOX)
        self.feel.setValue(round(100 * FEEL))
        _labelled(self, "Feel", self.feel,
                  "How much of a real player's timing the notes take back after quantize:\n"
                  "each clip plays with the timing of one phrase of the genre's songs, a step early or late\n"
                  "where its players were. 0 % leaves every note on the grid, 100 % is as loose as the songs.\n"
                  "Changes the clip at once, without running the model again.")
        self.feel.valueChanged.connect(lambda value: self.feelChanged.emit(value / 100))

        self.bars = QSpinBox()
        self.bars.setRange(CLIP_BARS.low, CLIP_BARS.high)
        self.bars.setValue(8)
        _labelled(self, "Bars", self.bars, "Bars per clip, used by the next Generate")
        self.bpm = QDoubleSpinBox()
        self.bpm.setRange(BPM.low, BPM.high)
        self.bpm.setDecimals(1)
        self.bpm.setValue(DEFAULT_BPM)
        self.bpm.setKeyboardTracking(False)
        _labelled(self, "BPM", self.bpm, "Tempo for playback and for the exported file")
        self.addSeparator()

        self.addAction(actions["play"])
        self.addAction(actions["export"])
        self.drag_handle = drag_handle
        drag_handle.setText(" ⠿ Drag MIDI ")
        self.addWidget(drag_handle)
        # Overlay lives in the View menu (O): with Quantize the toolbar would no longer fit
        # the first run's 1320 pixels, and Qt would fold its last buttons out of sight.

    def _threshold_moved(self, value: int) -> None:
        threshold = value / SLIDER_STEPS
        self.threshold_label.setText(f"{threshold:.3f}")
        self.thresholdChanged.emit(threshold)

    def set_threshold(self, threshold: float) -> None:
        """Show a threshold without emitting a change."""
        self.threshold.blockSignals(True)
        self.threshold.setValue(round(threshold * SLIDER_STEPS))
        self.threshold.blockSignals(False)
        self.threshold_label.setText(f"{threshold:.3f}")

    def set_quantize(self, strength: float) -> None:
        """Show a quantize strength (0..1) without emitting a change."""
        self.quantize.blockSignals(True)
        self.quantize.setValue(round(strength * 100))
        self.quantize.blockSignals(False)

    def set_feel(self, amount: float) -> None:
        """Show a feel (0..1) without emitting a change."""
        self.feel.blockSignals(True)
        self.feel.setValue(round(amount * 100))
        self.feel.blockSignals(False)

    def set_seed(self, seed: int) -> None:
        self.seed.blockSignals(True)
        self.seed.setValue(seed)
        self.seed.blockSignals(False)
