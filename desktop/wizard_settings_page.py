"""Page 3 of the training wizard: the settings, the seed paper's by default, and the time it takes.

Each setting has one plain sentence beside it. This is the wizard's commit page: its
validatePage() starts the training process, and there is no going back past it.
"""

from __future__ import annotations

import math

from bytes2beats.engine.model_store import MODEL_SUFFIX
from bytes2beats.engine.run_request import (
    FINE_TUNE_CRITIC_STEPS,
    FINE_TUNE_RATE_DIVISOR,
    RunRequest,
)
from bytes2beats.engine.training_job import TrainingJob
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from .wizard_data_page import ERROR_STYLE, note
from .wizard_plan import (
    TrainingPlan,
    draft_model_name,
    format_duration,
    seconds_per_step,
    steps_per_epoch,
)


def spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def real_spin(low: float, high: float, value: float, decimals: int, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class SettingsPage(QWizardPage):
    def __init__(self, plan: TrainingPlan, parent=None):
        super().__init__(parent)
        self.plan = plan
        self.setTitle("How to train")
        self.setSubTitle("The seed paper's settings are filled in; they suit most folders of songs.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start training")

        defaults = RunRequest(data="", out="", from_scratch=True)  # a new run's, as the command line's
        scratch = defaults.train_config()
        self.epochs = spin(1, 100_000, scratch.epochs)
        self.batch = spin(1, 4096, scratch.batch_size)
        self.g_lr = real_spin(1e-6, 1e-1, scratch.g_lr, 6, 1e-5)
        self.d_lr = real_spin(1e-6, 1e-1, scratch.d_lr, 6, 1e-5)
        self.n_critic = spin(1, 50, defaults.n_critic)
        self.gp_lambda = real_spin(0.0, 1000.0, defaults.gp_lambda, 1, 1.0)
        self.transpose = spin(0, 12, defaults.transpose)
        self.device = QComboBox()
        self.width = spin(4, 512, defaults.shape()["width"], 4)
        self.steps_cap = spin(0, 1_000_000, defaults.steps_per_epoch)
        self.sample_every = spin(1, 1000, 1)
        self.shown_for = None  # the start (plan.fine_tune) the settings were filled in for
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()

        rows = [
            ("Epochs", self.epochs, "Passes over your phrases. More is better, up to a point; 100 is the paper's."),
            ("Batch size", self.batch, "Phrases per step. 64 is the paper's; smaller fits small folders."),
            ("Generator rate", self.g_lr, "How big a step the generator takes. 0.0003, as in the paper."),
            ("Critic rate", self.d_lr, "The critic learns twice as fast (0.0006). Both shrink by a quarter every 25 epochs."),
            ("Critic steps", self.n_critic, "Critic updates per generator update: WGAN-GP's 5."),
            ("Gradient penalty λ", self.gp_lambda, "How firmly the critic is kept smooth. WGAN-GP's 10."),
            ("Transpose up to", self.transpose, "Augmentation: shift songs by up to this many semitones. 0 is off (the paper)."),
            ("Device", self.device, "Where training runs. A GPU is many times faster than the CPU."),
            ("Network width", self.width, "Channels of the narrowest layer: 32, as the shipped models'. A model adapted keeps its own."),
            ("Steps per epoch", self.steps_cap, "0 uses every phrase; a number caps each epoch, for a quick trial."),
            ("Sample every", self.sample_every, "Epochs between sample pianorolls on the next page."),
        ]
        grid = QGridLayout()
        grid.setColumnStretch(2, 1)
        grid.setVerticalSpacing(4)
        for k, (label, widget, sentence) in enumerate(rows):
            grid.addWidget(QLabel(label), k, 0)
            widget.setMaximumWidth(330)
            grid.addWidget(widget, k, 1)
            grid.addWidget(note(sentence), k, 2)
            for signal in ("valueChanged", "currentIndexChanged"):
                if hasattr(widget, signal):
                    getattr(widget, signal).connect(self.update_estimate)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addSpacing(8)
        layout.addWidget(self.estimate)
        layout.addWidget(self.error)
        layout.addStretch(1)

    def initializePage(self) -> None:
        self.device.clear()
        for value, text in self.plan.scan.devices or [("auto", "Automatic")]:
            self.device.addItem(text, value)
        start = self.plan.fine_tune
        if start == self.shown_for:  # back and forth: the user's own changes stay
            self.update_estimate()
            return
        self.shown_for = start
        scratch = RunRequest(data="", out="", from_scratch=True)
        self.setSubTitle("The seed paper's settings are filled in; they suit most folders of songs.")
        self.epochs.setValue(scratch.train_config().epochs)
        self.batch.setValue(scratch.train_config().batch_size)
        self.g_lr.setValue(scratch.train_config().g_lr)
        self.d_lr.setValue(scratch.train_config().d_lr)
        self.width.setValue(scratch.shape()["width"])
        if start is not None:  # the command line's own fine-tuning settings (engine/train_run.py)
            rates = start.trained.get("train_config") or {}
            self.setSubTitle(f"Adapting “{start.name}” to your songs: {FINE_TUNE_CRITIC_STEPS} critic steps at a "
                             f"quarter of its own learning rates are filled in, and it keeps its decoding. Of its "
                             f"generator only your songs' style learns (all of it, growing into 17 families).")
            # as `train` does: batches small enough for a small folder's epochs to step the generator
            self.batch.setValue(max(1, min(self.batch.value(), self.training_phrases() // self.n_critic.value())))
            steps = steps_per_epoch(self.training_phrases(), self.batch.value(), self.steps_cap.value())
            self.epochs.setValue(max(1, math.ceil(FINE_TUNE_CRITIC_STEPS / steps)))
            for box, key in ((self.g_lr, "g_lr"), (self.d_lr, "d_lr")):
                if rates.get(key):
                    box.setValue(float(rates[key]) / FINE_TUNE_RATE_DIVISOR)
            self.width.setValue(int(start.config.get("g_width", self.width.value())))
        self.width.setEnabled(start is None)  # a model adapted keeps its width
        self.update_estimate()

    # -- the estimate --------------------------------------------------------------------

    def training_phrases(self) -> int:
        """The scan's count: the scan cut the very phrases that train (plan.phrase_spec)."""
        return self.plan.scan.training_phrases

    def update_estimate(self) -> None:
        if self.plan.scan is None:
            return
        self.error.hide()
        phrases = self.training_phrases()
        steps = steps_per_epoch(phrases, self.batch.value(), self.steps_cap.value())
        total = self.epochs.value() * steps
        per_step = seconds_per_step(self.width.value(), self.batch.value()) * self.plan.phrase_spec.steps_per_beat / 4
        device = self.device.currentData() or "auto"
        gpu = device.startswith(("cuda", "mps")) or (device == "auto" and "CPU" not in self.device.currentText())
        cpu_time = (f"{format_duration(total * per_step)} — {total:,} steps ({self.epochs.value()} epochs "
                    f"× {steps} steps of about {per_step:.1f} s)")
        if gpu:
            text = (f"<b>Estimated time on a CPU: {cpu_time}.</b> On the GPU it is far less: the next "
                    "page shows the real time left once training runs.")
        else:
            text = f"<b>Estimated time on this CPU: {cpu_time}.</b>"
        self.estimate.setText(text + " Training runs by itself: you can close this window and keep working.")

    # -- starting ------------------------------------------------------------------------

    def validatePage(self) -> bool:
        phrases = self.training_phrases()
        if phrases < self.batch.value():
            self._fail(f"Only {phrases} phrases to train on: choose a batch size of {max(1, phrases)} "
                       "or less, or add songs.")
            return False
        steps = steps_per_epoch(phrases, self.batch.value(), self.steps_cap.value())
        if steps < self.n_critic.value():
            # engine/train.py steps the generator every n_critic critic steps of an epoch.
            self._fail(f"An epoch has only {steps} steps, fewer than the {self.n_critic.value()} critic steps "
                       "per generator step: the generator would never learn. Raise the steps per epoch, "
                       "lower the batch size or the critic steps, or add songs.")
            return False
        plan = self.plan
        genres = plan.use_genres and len(plan.genres) >= 2
        name = draft_model_name(plan.data_folder, plan.models_dir)
        phrase = plan.phrase_spec
        request = RunRequest(
            data=str(plan.data_folder), out=str(plan.models_dir / f"{name}{MODEL_SUFFIX}"),
            fine_tune=str(plan.fine_tune.path) if plan.fine_tune else None, from_scratch=plan.fine_tune is None,
            like=plan.like,
            tracks=phrase.track_set, steps_per_beat=phrase.steps_per_beat, bars_per_phrase=phrase.n_bars,
            epochs=self.epochs.value(), batch_size=self.batch.value(), width=self.width.value(),
            n_critic=self.n_critic.value(), g_lr=self.g_lr.value(), d_lr=self.d_lr.value(),
            gp_lambda=self.gp_lambda.value(), transpose=self.transpose.value(),
            device=self.device.currentData() or "auto", steps_per_epoch=self.steps_cap.value(),
            sample_every=self.sample_every.value(), checkpoint_every=1,  # a crash loses one epoch at most
            cache_dir=str(plan.cache_dir),
            # fine-tuning: sub-folders the model knows adapt their genres, others become new ones
            genre_conditioned=("auto" if plan.use_genres else "no") if plan.fine_tune else "yes" if genres else "no",
        )
        problem = request.problem()  # the command line's own check: the widgets' ranges should make it pass
        if problem:
            self._fail(f"These settings cannot train: {problem}")
            return False
        try:
            plan.models_dir.mkdir(parents=True, exist_ok=True)
            plan.job = TrainingJob.start(request)
        except OSError as error:
            self._fail(f"Training could not start: {error}")
            return False
        plan.request = request
        return True

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
