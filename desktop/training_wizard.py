"""Tools → Train a model…: a wizard from a folder of songs to a model in the picker.

Five pages, each in its own module and each owning its settings and its validatePage():
data (wizard_data_page), scan (wizard_scan_page), settings (wizard_settings_page, which
starts the training process), training (wizard_training_page) and finish
(wizard_finish_page). They share one TrainingPlan (wizard_plan). Training runs in a
process of its own (engine/training_job.py): closing the wizard leaves it running, and
`TrainingWizard(job=...)` opens a running or stopped job again at the training page.

The main window needs only:

    wizard = TrainingWizard(self)
    wizard.model_ready.connect(self.refresh_models)   # the path of the new .safetensors
    wizard.show()
"""

from __future__ import annotations

from pathlib import Path

from bytes2beats.engine.dataset import default_cache_dir
from bytes2beats.engine.model_store import user_models_dir
from bytes2beats.engine.training_job import TrainingJob
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWizard

from .wizard_data_page import DataPage
from .wizard_finish_page import FinishPage
from .wizard_plan import TrainingPlan
from .wizard_scan_page import ScanPage
from .wizard_settings_page import SettingsPage
from .wizard_training_page import TrainingPage

DATA, SCAN, SETTINGS, TRAINING, FINISH = range(5)


class TrainingWizard(QWizard):
    """Train a model on the user's own songs.

    Parameters
    ----------
    parent : the main window, or None
    job : a TrainingJob (from `find_jobs(user_models_dir())`) to watch again; the wizard
        then opens at its training page
    cache_dir : the phrase cache (default: the user's cache folder, as the CLI's)
    """

    model_ready = Signal(str)  # the finished model's .safetensors path, under user_models_dir()

    def __init__(self, parent=None, job: TrainingJob | None = None, cache_dir: str | Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Close")
        self.resize(940, 760)
        self.plan = TrainingPlan(models_dir=user_models_dir(),
                                 cache_dir=Path(cache_dir) if cache_dir else default_cache_dir())
        self.data_page = DataPage(self.plan)
        self.scan_page = ScanPage(self.plan)
        self.settings_page = SettingsPage(self.plan)
        self.training_page = TrainingPage(self.plan)
        self.finish_page = FinishPage(self.plan)
        for page_id, page in enumerate((self.data_page, self.scan_page, self.settings_page,
                                        self.training_page, self.finish_page)):
            self.setPage(page_id, page)
        self.finish_page.modelFinished.connect(self.model_ready)
        if job is not None:
            self.plan.job = job
            self.plan.data_folder = Path(job.request.data)
            self.setStartId(TRAINING)

    @property
    def job(self) -> TrainingJob | None:
        """The training process this wizard started or watches."""
        return self.plan.job

    def done(self, result: int) -> None:
        """Closed by any way: stop watching; the training process goes on."""
        self.training_page.shutdown()
        self.scan_page.cleanupPage()
        super().done(result)
