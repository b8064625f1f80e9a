"""Clip > Takes: how many takes of an idea Generate makes, keeping the one the model's take
judge finds most like the genre's songs (engine/takes.py). "The model's choice" follows the
loaded model (8 for the shipped genres model; 1 for a model without take judges); the choice
is kept in the settings and takes effect at the next Generate."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

MODEL_CHOICE = 0  # the settings' value for "the model's choice"
CHOICES = (MODEL_CHOICE, 1, 2, 4, 8, 16, 32)
KEY = "generate/takes"


class TakesMenu(QMenu):
    def __init__(self, settings: QSettings, parent: QWidget):
        super().__init__("&Takes", parent)
        self.settings = settings
        self.setToolTipsVisible(True)
        try:
            saved = int(settings.value(KEY, MODEL_CHOICE))
        except (TypeError, ValueError):
            saved = MODEL_CHOICE
        self.choice = saved if saved in CHOICES else MODEL_CHOICE
        self.default_takes = 1  # the loaded model's own choice
        self.judged = False  # whether the loaded model has take judges
        group = QActionGroup(self)
        self.actions_by_choice = {}
        for choice in CHOICES:
            action = self.addAction("")
            action.setCheckable(True)
            action.setChecked(choice == self.choice)
            action.setToolTip("Each Generate makes this many takes of the idea and keeps the one most like "
                              "the genre's songs,\nits parts playing in the same bars as the first take's; "
                              "more takes, more time. Takes effect at the next Generate.")
            action.triggered.connect(lambda _=False, c=choice: self.choose(c))
            group.addAction(action)
            self.actions_by_choice[choice] = action
        self.set_model(1, False)

    def set_model(self, default_takes: int, judged: bool) -> None:
        """The loaded model's own number of takes, and whether it can make more than one."""
        self.default_takes, self.judged = default_takes, judged
        for choice, action in self.actions_by_choice.items():
            action.setText(f"The model's choice ({default_takes})" if choice == MODEL_CHOICE
                           else f"Best of {choice}" if choice > 1 else "One take")
            action.setEnabled(judged or choice in (MODEL_CHOICE, 1))

    def choose(self, choice: int) -> None:
        self.choice = choice
        self.settings.setValue(KEY, choice)

    def takes(self) -> int:
        """The takes the next Generate makes with the loaded model."""
        if self.choice == MODEL_CHOICE or not self.judged:
            return self.default_takes if self.judged else 1
        return self.choice
