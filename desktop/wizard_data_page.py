"""Page 1 of the training wizard: the folder of songs, and whether sub-folders are genres."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from .wizard_plan import TrainingPlan

ERROR_STYLE = "color: #c0392b;"
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
        return True
