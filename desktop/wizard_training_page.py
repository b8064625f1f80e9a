"""Page 4 of the training wizard: the training process, watched.

The process (engine/training_job.py) runs apart from the app; this page only reads its run
folder: a QTimer polls the log for loss curves and the time left, and the samples folder
for the newest pianoroll (wizard_sample_view, which also plays it on a MIDI port). Pause, continue, cancel and resume are signals to the process.
Closing the wizard leaves it running; a process that died is found here and offered to
resume from its last checkpoint. Anything that reads a checkpoint (torch) runs off the GUI
thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from bytes2beats.engine.training_job import TrainingJob
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from .wizard_background import BackgroundCall
from .wizard_data_page import ERROR_STYLE, note
from .wizard_plan import TrainingPlan, format_duration
from .wizard_sample_view import SampleView

POLL_MS = 500
CURVES = [("d_loss", "critic loss", (231, 76, 60)), ("g_loss", "generator loss", (52, 152, 219)),
          ("wasserstein", "Wasserstein estimate", (46, 204, 113))]


def job_outcome(job: TrainingJob) -> tuple[str, int | None]:
    """(state, epoch of the last checkpoint or None): reads the checkpoint, so off the GUI thread."""
    from bytes2beats.engine.train import read_checkpoint

    state = job.state()
    try:
        epoch = int(read_checkpoint(job.checkpoint)["epoch"]) if job.checkpoint.exists() else None
    except ValueError:
        epoch = None
    return state, epoch


def why_it_stopped(last_line: str) -> str:
    """The reason to show for a process that died, from the last line it wrote."""
    if last_line.startswith("bytes2beats train: "):  # the command's own one-line error
        reason = last_line.removeprefix("bytes2beats train: ")
        if "could not write" in reason:
            reason += ". Is the disk full? Free some space, then resume."
        return reason
    if not last_line or last_line.startswith("epoch "):  # its progress line: it was cut off
        return "the training process ended unexpectedly (it was killed, or the computer stopped)."
    return f"the training process crashed: {last_line}"


class TrainingPage(QWizardPage):
    stateChanged = Signal(str)  # 'running', 'paused', 'finished', 'cancelled', 'stopped'

    def __init__(self, plan: TrainingPlan, parent=None):
        super().__init__(parent)
        self.plan = plan
        self.setTitle("Training")
        self.state = ""
        self.offset = 0
        self.points: dict[str, tuple[list[int], list[float]]] = {key: ([], []) for key, _, _ in CURVES}
        self.epochs: list[int] = []
        self.batches: list[int] = []
        self.times: list[float] = []
        self.checker: BackgroundCall | None = None  # finds out how a process that ended, ended

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "critic steps")
        self.plot.setMinimumHeight(200)
        self.plot.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.plot.getPlotItem().setClipToView(True)
        self.curves = {key: self.plot.plot([], [], name=name, pen=pg.mkPen(color, width=1.5))
                       for key, name, color in CURVES}

        self.samples = SampleView()

        self.pause_button = QPushButton("Pause")
        self.continue_button = QPushButton("Continue")
        self.cancel_button = QPushButton("Cancel training")
        self.resume_button = QPushButton("Resume from checkpoint")
        self.pause_button.clicked.connect(self.pause)
        self.continue_button.clicked.connect(self.unpause)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)

        controls = QHBoxLayout()
        for button in (self.pause_button, self.continue_button, self.cancel_button, self.resume_button):
            controls.addWidget(button)
        controls.addStretch(1)
        middle = QGridLayout()
        middle.addWidget(self.plot, 0, 0)
        middle.addWidget(self.samples, 0, 1)
        middle.setColumnStretch(0, 3)
        middle.setColumnStretch(1, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addLayout(middle, 1)
        layout.addWidget(self.message)
        layout.addLayout(controls)
        layout.addWidget(note("You can close this window: training goes on by itself, and the main "
                              "window shows it in its status bar."))

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    # -- life ----------------------------------------------------------------------------

    @property
    def job(self) -> TrainingJob:
        return self.plan.job

    def initializePage(self) -> None:
        request = self.job.request
        self.setSubTitle(f"Training “{request.model_path().stem}”: {request.epochs} epochs on {request.data}")
        self.poll()
        self.timer.start()

    def isComplete(self) -> bool:
        return self.state == "finished"

    def shutdown(self) -> None:
        """The wizard closes: stop watching and playing; the training process goes on."""
        self.timer.stop()
        self.samples.stop()

    # -- polling -------------------------------------------------------------------------

    def poll(self) -> None:
        records, self.offset = self.job.read_log(self.offset)
        if records:
            self._add(records)
        self.samples.show_newest(self.job)
        if self.job.is_alive():
            self._set_state(self.job.state())  # cheap while alive: job.json only
            self._show_progress()
        elif self.state in ("", "running", "paused") and self.checker is None:
            # It ended: finished, cancelled or died? Reading the checkpoint needs torch.
            self.checker = BackgroundCall(lambda call, job=self.job: job_outcome(job))
            self.checker.done.connect(self.on_outcome)
            self.checker.failed.connect(self.on_outcome_failed)
            self.checker.start()

    def on_outcome(self, outcome) -> None:
        self.checker = None
        state, epoch = outcome
        records, self.offset = self.job.read_log(self.offset)
        if records:
            self._add(records)
        self.samples.show_newest(self.job)
        self._set_state(state, epoch)

    def on_outcome_failed(self, message: str) -> None:
        self.checker = None
        self._set_state("stopped", None, message)

    def _add(self, records: list[dict]) -> None:
        for record in records:
            self.epochs.append(int(record["epoch"]))
            self.batches.append(int(record["batch"]))
            self.times.append(float(record.get("time", 0.0)))
            for key, (xs, ys) in self.points.items():
                if record.get(key) is not None:  # no generator loss before its first step
                    xs.append(len(self.epochs))
                    ys.append(float(record[key]))
        for key, curve in self.curves.items():
            xs, ys = self.points[key]
            curve.setData(np.asarray(xs), np.asarray(ys))

    def steps_per_epoch(self) -> int | None:
        """Known from the log once an epoch has ended (its last batch number)."""
        if not self.epochs:
            return None
        last = self.epochs[-1]
        done = [b for e, b in zip(self.epochs, self.batches) if e < last]
        return max(done) if done else None

    def _show_progress(self) -> None:
        request = self.job.request
        if not self.epochs:
            self.bar.setRange(0, 0)
            self.status.setText(f"Starting: {self.job.exit_message() or 'loading'} …")
            return
        epoch, batch = self.epochs[-1], self.batches[-1]
        per_epoch = self.steps_per_epoch()
        text = f"Epoch {epoch} of {request.epochs}, step {batch}" + (f" of {per_epoch}" if per_epoch else "")
        text += f" · {format_duration(self.times[-1])} spent"
        if per_epoch:
            total = request.epochs * per_epoch
            done = (epoch - 1) * per_epoch + batch
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            window = min(len(self.times) - 1, 50)
            if window >= 1:
                rate = (self.times[-1] - self.times[-1 - window]) / window  # seconds a step, lately
                if rate > 0:
                    text += f" · about {format_duration((total - done) * rate)} left"
        else:
            self.bar.setRange(0, request.epochs)
            self.bar.setValue(epoch - 1)
            text += " · the time left is known after the first epoch"
        if self.state == "paused":
            text = "Paused. " + text
        self.status.setText(text)

    # -- states --------------------------------------------------------------------------

    def _set_state(self, state: str, checkpoint_epoch: int | None = None, error: str = "") -> None:
        changed = state != self.state
        self.state = state
        alive = state in ("running", "paused")
        self.pause_button.setVisible(state == "running")
        self.continue_button.setVisible(state == "paused")
        self.cancel_button.setVisible(alive)
        self.resume_button.setVisible(state in ("cancelled", "stopped"))
        if alive:
            self.message.hide()
        else:
            self.timer.stop()
            self._show_ending(state, checkpoint_epoch, error)
        if changed:
            self.completeChanged.emit()
            self.stateChanged.emit(state)

    def _show_ending(self, state: str, checkpoint_epoch: int | None, error: str) -> None:
        request = self.job.request
        kept = (f"Its last checkpoint (epoch {checkpoint_epoch}) is kept: Resume continues from there."
                if checkpoint_epoch else "No checkpoint was written yet: Resume starts from the beginning.")
        self.message.setStyleSheet("" if state in ("finished", "cancelled") else ERROR_STYLE)
        if state == "finished":
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
            self.status.setText(f"Done: {request.epochs} epochs" +
                                (f" in {format_duration(self.times[-1])}" if self.times else "") + ".")
            text = f"“{request.model_path().stem}” is trained. Next: see how its music compares with yours, and name it."
        elif state == "cancelled":
            text = f"Training was cancelled. {kept}"
        else:
            text = f"Training stopped: {error or why_it_stopped(self.job.exit_message())}\n{kept}"
        if state != "finished" and self.epochs:
            self.status.setText(f"Stopped in epoch {self.epochs[-1]} of {request.epochs}.")
        self.message.setText(text)
        self.message.show()

    # -- the buttons ---------------------------------------------------------------------

    def pause(self) -> None:
        self.job.pause()
        self._set_state("paused")
        self._show_progress()

    def unpause(self) -> None:
        self.job.unpause()
        self._set_state("running")
        self._show_progress()

    def cancel(self) -> None:
        self.job.cancel()  # SIGTERM: it stops between two batches, within a second
        self.poll()

    def resume(self) -> None:
        try:
            self.plan.job = self.job.resume()
        except OSError as error:
            self._set_state("stopped", None, f"could not start again ({error})")
            return
        self._set_state("running")
        self.timer.start()
        self.poll()
