"""Page 5 of the training wizard: how the model's music compares with the data, and its name.

The comparison is the engine's `evaluate` with a small sample, run off the GUI thread. The
model is already in the user's models folder under the name the wizard gave it; a new
name here moves it (with its run folder) before the wizard says it is ready.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWizardPage,
)

from .wizard_background import BackgroundCall
from .wizard_data_page import ERROR_STYLE, note
from .wizard_plan import TrainingPlan, check_model_name, rename_model

EVAL_SAMPLES = 64  # generated phrases measured: enough for a first look, seconds on a CPU


def measure_model(model: Path, data: Path, cache_dir: Path) -> tuple[str, str, bool]:
    """The metrics table of generated, training and validation phrases (engine/evaluate.py),
    the sentence on whether the model copies the user's songs, and whether it does."""
    from bytes2beats.engine.evaluate import copies_training, copy_verdict, evaluate, format_table
    from bytes2beats.engine.generate import Composer

    composer = Composer.load(model, device="cpu")
    # the first look: the tests against songs decoded as the model decodes are `eval`'s
    result = evaluate(composer, data, samples=EVAL_SAMPLES, cache_dir=cache_dir, like_for_like=False)
    novelty = result["novelty"]
    return format_table(result), copy_verdict(novelty).removeprefix("copying: "), copies_training(novelty)


class FinishPage(QWizardPage):
    modelFinished = Signal(str)  # the model's path, once named: the wizard's model_ready

    def __init__(self, plan: TrainingPlan, parent=None):
        super().__init__(parent)
        self.plan = plan
        self.call: BackgroundCall | None = None
        self.finished_model: Path | None = None
        self.setTitle("Your model")
        self.setSubTitle("How its music compares with yours, and the name it goes by.")

        self.table = QPlainTextEdit()
        self.table.setReadOnly(True)
        self.table.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.table.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.name = QLineEdit()
        self.name.textChanged.connect(self.check_name)
        self.copying = QLabel()  # whether the model copies the user's songs, in a sentence
        self.copying.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()

        row = QHBoxLayout()
        row.addWidget(QLabel("Name"))
        row.addWidget(self.name, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(note(
            f"{EVAL_SAMPLES} generated phrases measured beside your training and validation phrases: "
            "the nearer the generated column is to the other two, the better the model caught your "
            "music's habits."))
        layout.addWidget(self.copying)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(note("The model picker lists it under this name; it is saved in your models folder."))
        layout.addWidget(self.error)

    def initializePage(self) -> None:
        request = self.plan.job.request
        model = request.model_path()
        self.name.setText(model.stem)
        self.table.setPlainText("Measuring the model against your songs …")
        self.copying.setText("")
        self.copying.setStyleSheet("")
        self.call = BackgroundCall(lambda call: measure_model(model, Path(request.data), self.plan.cache_dir))
        self.call.done.connect(self.on_measured)
        self.call.failed.connect(self.on_failed)
        self.call.start()

    def on_measured(self, measured: tuple[str, str, bool]) -> None:
        self.call = None
        table, verdict, copies = measured
        self.table.setPlainText(table)
        self.copying.setText(f"Does it copy your songs? {verdict[0].upper()}{verdict[1:]}")
        self.copying.setStyleSheet(ERROR_STYLE if copies else "")

    def on_failed(self, message: str) -> None:
        self.call = None
        self.table.setPlainText(f"The model could not be measured: {message}\n"
                                "It is trained and saved all the same.")

    def current_name(self) -> str:
        return self.plan.job.request.model_path().stem

    def check_name(self) -> bool:
        problem = check_model_name(self.name.text().strip(), self.plan.models_dir, self.current_name())
        self.error.setText(problem or "")
        self.error.setVisible(bool(problem))
        return problem is None

    def validatePage(self) -> bool:
        if not self.check_name():
            return False
        try:
            self.plan.job = rename_model(self.plan.job, self.name.text().strip())
        except OSError as error:
            self.error.setText(f"Could not rename the model: {error}")
            self.error.show()
            return False
        if self.call is not None:
            self.call.cancel()  # the table is no longer wanted
        self.finished_model = self.plan.job.request.model_path()
        self.modelFinished.emit(str(self.finished_model))
        return True
