"""The status bar's training button: a training run that goes on (or stopped) without its wizard.

A run started by the wizard is a process of its own (engine/training_job.py), so the user
may close the wizard, or the whole app, while it trains. This button finds such runs in
the user's models folder, says how far the newest one is, and a click asks the main
window to open the wizard on it again (to watch, pause, cancel or resume).

Runs are looked up every POLL_MS. A live run costs a read of job.json and of its log's
tail; a dead one's state needs its checkpoint (torch), so it is worked out once per
checkpoint written.
"""

from __future__ import annotations

from pathlib import Path

from bytes2beats.engine.training_job import TrainingJob, find_jobs
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QPushButton, QWidget

POLL_MS = 2000
SHOWN_STATES = ("running", "paused", "stopped")  # finished and cancelled runs need nothing


class TrainingStatusButton(QPushButton):
    """Hidden while no run needs the user; else "Training “name”: epoch 3 of 100"."""

    openRequested = Signal(object)  # the TrainingJob to open the wizard on

    def __init__(self, models_dir: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.models_dir = Path(models_dir)
        self.setFlat(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet("text-decoration: underline;")  # a link: it opens the run's wizard
        self.setToolTip("A training run of yours: click to watch it, pause, cancel or resume it")
        self.job: TrainingJob | None = None
        self._dead_states: dict[tuple[Path, float], str] = {}
        self.clicked.connect(lambda: self.job is not None and self.openRequested.emit(self.job))
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(POLL_MS)
        self.hide()
        # The first look once the window has painted: a stopped run's state reads its checkpoint.
        QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        """Look at the runs again: show the newest one that runs or stopped unasked."""
        shown = None
        for job in find_jobs(self.models_dir):
            state = self._state(job)
            if state in SHOWN_STATES:
                shown = (job, state)
                break
        if shown is None:
            self.job = None
            self.hide()
            return
        self.job, state = shown
        self.setText(describe(self.job, state))
        self.show()

    def _state(self, job: TrainingJob) -> str:
        if job.is_alive():
            return job.state()
        try:
            key = (job.folder, job.checkpoint.stat().st_mtime)
        except OSError:
            key = (job.folder, 0.0)
        if key not in self._dead_states:
            self._dead_states[key] = job.state()
        return self._dead_states[key]


def describe(job: TrainingJob, state: str) -> str:
    """One line for the status bar: which run, how far, and what a click does."""
    request = job.request
    name = request.model_path().stem
    record = job.last_record() or {}
    epoch = record.get("epoch")
    where = f"epoch {epoch} of {request.epochs}" if isinstance(epoch, int) else "starting"
    if state == "running":
        return f"Training “{name}”: {where}"
    if state == "paused":
        return f"Training “{name}” paused at {where}"
    return f"Training “{name}” stopped at {where}: click to resume"
