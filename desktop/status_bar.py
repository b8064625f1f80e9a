"""The status bar: a training run of the user's, where the model runs, how long the last
clip took, and the MIDI port's state."""

from __future__ import annotations

from bytes2beats.engine.model_store import user_models_dir
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from .training_status import TrainingStatusButton


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.training = TrainingStatusButton(user_models_dir())
        self.device = QLabel("Device: loading…")
        self.device.setToolTip("Where the model runs")
        self.time = QLabel("")
        self.time.setToolTip("How long the model took for the last clip")
        self.port = QLabel("MIDI: stopped")
        self.port.setToolTip("The MIDI port clips play to, and its state")
        for label in (self.training, self.device, self.time, self.port):
            self.addPermanentWidget(label)
