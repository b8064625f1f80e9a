"""Page 1 of the training wizard: the folder of songs, and whether sub-folders are genres."""

from __future__ import annotations

from pathlib import Path

from bytes2beats.engine.dataset import PhraseSpec
from bytes2beats.engine.model_store import FineTuningStart, fine_tuning_starts
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

        # Where the model starts: a model to fine-tune (the shipped one first), or nothing.
        self.start = QComboBox()
        for start in fine_tuning_starts():
            whose = "The shipped model" if start.source == "shipped" else "Your model"
            self.start.addItem(f"{whose} “{start.name}”: adapt it to your songs (minutes)", start)
        self.start.addItem("Nothing: a new model from scratch (hours on a CPU)", None)
        self.start.setCurrentIndex(0)
        self.start.currentIndexChanged.connect(self.follow_start)
        self.like = QComboBox()  # filled by follow_start with the start model's genres

        # What a phrase is, chosen before the scan: the scan cuts the phrases that train.
        self.tracks = QComboBox()
        self.tracks.addItem("5 families: drums, piano, guitar, bass, strings", 5)
        self.tracks.addItem("17 families: drums and the 16 General MIDI groups", 17)
        self.bars = QSpinBox()
        self.bars.setRange(1, 16)
        self.resolution = QComboBox()
        for value, text in RESOLUTIONS:
            self.resolution.addItem(text, value)
        self.phrase_note = note("")
        self.follow_start()
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
        layout.addWidget(QLabel("<b>Start from</b>"))
        layout.addWidget(self.start)
        layout.addWidget(note(
            "Adapting a trained model keeps what it knows of drums, bass and harmony, and learns "
            "your songs' style in minutes, even from 20 or 40 files. From scratch, a model learns "
            "everything from your songs alone: hours, and it needs hundreds of them."))
        like_row = QHBoxLayout()
        like_row.addWidget(QLabel("Your songs sound most like"))
        like_row.addWidget(self.like, 1)
        layout.addLayout(like_row)
        layout.addWidget(note(
            "Your songs become a genre of their own, which starts as the genre chosen here and "
            "learns from there (a sub-folder named after one of the model's genres adapts that "
            "genre instead)."))
        layout.addSpacing(12)
        layout.addWidget(QLabel("<b>The phrases</b> the songs are cut into, and the model learns:"))
        layout.addLayout(phrase_grid)
        layout.addWidget(self.phrase_note)
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
        self.plan.fine_tune = self.start.currentData()
        self.plan.like = self.like.currentData() if self.plan.fine_tune else None
        return True

    def follow_start(self) -> None:
        """A model to adapt fixes the phrases (its own; a five-family one may grow into the
        seventeen families); from scratch, they are the user's."""
        start: FineTuningStart | None = self.start.currentData()
        if start is None:
            shape = RunRequest(data="", out="").shape()  # a new run's
            values = (shape["tracks"], shape["bars_per_phrase"], shape["steps_per_beat"])
            self.phrase_note.setText("")
        else:
            config = start.config
            values = (config.get("track_set", 5), config.get("n_bars", 4), config.get("steps_per_beat", 4))
            grows = " 17 families grow its five into seventeen (organ, brass, pads… start as its strings)." \
                if values[0] == 5 else ""
            self.phrase_note.setText(f"Adapting “{start.name}” keeps its bars and resolution: choose “Nothing” "
                                     f"above to train other ones.{grows}")
        self.tracks.setCurrentIndex(self.tracks.findData(values[0]))
        self.bars.setValue(values[1])
        self.resolution.setCurrentIndex(self.resolution.findData(values[2]))
        for widget in (self.bars, self.resolution):
            widget.setEnabled(start is None)
        self.tracks.setEnabled(start is None or values[0] == 5)
        self.like.clear()
        self.like.addItem("the genre they sound most like (chosen from them as training starts)"
                          if start is not None and start.chooses_genre else
                          "a style of their own (between the model's genres)", None)
        for genre in (start.config.get("genres") or []) if start else []:
            self.like.addItem(genre, genre)
        self.like.setEnabled(self.like.count() > 1)

    def phrase_spec(self) -> PhraseSpec:
        return PhraseSpec(self.tracks.currentData(), self.resolution.currentData(), self.bars.value())
