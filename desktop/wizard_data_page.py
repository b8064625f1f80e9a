"""Page 1 of the training wizard: the folder of songs, and whether sub-folders are genres."""

from __future__ import annotations

from pathlib import Path

from bytes2beats.engine.dataset import PhraseSpec
from bytes2beats.engine.run_request import RunRequest
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWizardPage,
)

from .wizard_plan import TrainingPlan

ERROR_STYLE = "color: #c0392b;"
RESOLUTIONS = [(4, "16th notes (4 steps a beat)"), (8, "32nd notes (8 a beat)"),
               (12, "16ths and triplets (12 a beat)")]
NOTE_STYLE = "color: #5d6468;"


def note(text: str) -> QLabel:
    """A plain sentence under a setting, wrapped, in a quieter color."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(NOTE_STYLE)
    return label


class DataPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, parent=None):
        super().__init__(parent)
        self.plan = plan
        self.setTitle("Your music")
        self.setSubTitle("Train a model on your own songs: choose the folder they are in.")

        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder of MIDI files (.mid) or LPD files (.npz)")
        self.folder_edit.textChanged.connect(self.completeChanged)
        self.folder_edit.textChanged.connect(lambda: self.error.hide())
        choose = QPushButton("Choose…")
        choose.clicked.connect(self.choose_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(choose)

        self.genres_box = QCheckBox("Sub-folders are genres (rock/, jazz/, …)")
        self.genres_box.setChecked(True)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()

        # What a phrase is, chosen before the scan: the scan cuts the phrases that train.
        defaults = RunRequest(data="", out="")
        self.tracks = QComboBox()
        self.tracks.addItem("5 families: drums, piano, guitar, bass, strings", 5)
        self.tracks.addItem("17 families: drums and the 16 General MIDI groups", 17)
        self.tracks.setCurrentIndex(self.tracks.findData(defaults.tracks))
        self.bars = QSpinBox()
        self.bars.setRange(1, 16)
        self.bars.setValue(defaults.bars_per_phrase)
        self.resolution = QComboBox()
        for value, text in RESOLUTIONS:
            self.resolution.addItem(text, value)
        self.resolution.setCurrentIndex(self.resolution.findData(defaults.steps_per_beat))
        phrase_rows = [
            ("Instruments", self.tracks, "The tracks the model writes. The paper uses 5."),
            ("Bars per phrase", self.bars, "How long one idea is. The paper's 4 bars loop well in a DAW."),
            ("Resolution", self.resolution, "The shortest note. 16ths are the paper's; finer costs time."),
        ]
        phrase_grid = QGridLayout()
        phrase_grid.setColumnStretch(2, 1)
        for k, (label, widget, sentence) in enumerate(phrase_rows):
            phrase_grid.addWidget(QLabel(label), k, 0)
            widget.setMaximumWidth(330)
            phrase_grid.addWidget(widget, k, 1)
            phrase_grid.addWidget(note(sentence), k, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(note(
            "Every sub-folder is searched too. Songs in 4/4 work best; files that cannot be "
            "used are listed on the next page, each with its reason, and are left out."))
        layout.addSpacing(12)
        layout.addWidget(self.genres_box)
        layout.addWidget(note(
            "With two or more sub-folders, each sub-folder's name becomes a genre: the model "
            "learns them apart, and you pick one when you generate. Leave it off to learn "
            "everything as one style."))
        layout.addSpacing(12)
        layout.addWidget(QLabel("<b>The phrases</b> the songs are cut into, and the model learns:"))
        layout.addLayout(phrase_grid)
        layout.addSpacing(12)
        layout.addWidget(self.error)
        layout.addStretch(1)

    def choose_folder(self) -> None:
        start = self.folder_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "The folder of your songs", start)
        if folder:
            self.folder_edit.setText(folder)

    def isComplete(self) -> bool:
        return bool(self.folder_edit.text().strip())

    def validatePage(self) -> bool:
        folder = Path(self.folder_edit.text().strip()).expanduser()
        if not folder.is_dir():
            self.error.setText(f"{folder} is not a folder: choose one that holds your songs.")
            self.error.show()
            return False
        self.plan.data_folder = folder.resolve()
        self.plan.use_genres = self.genres_box.isChecked()
        self.plan.phrase_spec = self.phrase_spec()
        return True

    def phrase_spec(self) -> PhraseSpec:
        return PhraseSpec(self.tracks.currentData(), self.resolution.currentData(), self.bars.value())
