"""What the training wizard's pages share: the plan of one training run, and plain helpers.

No Qt here: the pages read and write a `TrainingPlan`; the helpers name a model, check a
name, estimate the time and rename a finished model with its run folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bytes2beats.engine.dataset import PhraseSpec
from bytes2beats.engine.model_store import MODEL_SUFFIX, FineTuningStart, list_models
from bytes2beats.engine.run_request import RunRequest
from bytes2beats.engine.training_job import TrainingJob

# Seconds per critic step on the CPU (generator steps included), measured on this project's
# 2-core machine with other work beside it: a real 1,700-batch run at width 32, batch 32
# averaged 0.60 s (its log.jsonl "time" column). Short timed runs of 10 steps gave width 64
# about 2.7 times width 32, and small widths and batches little faster than width 32 (fixed
# costs dominate), hence half fixed, half growing with batch x width^2.
CPU_SECONDS_PER_STEP = 0.6
REFERENCE_WIDTH, REFERENCE_BATCH = 32, 32


@dataclass
class ScanResult:
    """What the scan found: the phrases (engine's Phrases) or why there are none."""

    phrases: object | None  # engine.dataset.Phrases
    error: str | None
    rejected: dict[str, str] = field(default_factory=dict)  # file (relative) -> reason
    files_found: int = 0
    previews: list = field(default_factory=list)  # PIL images of a few real phrases
    devices: list[tuple[str, str]] = field(default_factory=list)  # (--device value, description)
    spec: PhraseSpec = field(default_factory=PhraseSpec)  # what the phrases are

    @property
    def training_phrases(self) -> int:
        if self.phrases is None:
            return 0
        return int((~self.phrases.validation_songs[self.phrases.song]).sum())


@dataclass
class TrainingPlan:
    """The wizard's shared state: each page writes its part in its validatePage()."""

    models_dir: Path
    cache_dir: Path
    data_folder: Path | None = None
    use_genres: bool = True
    # What a phrase is (instruments, resolution, bars): chosen on the first page, cut by the
    # scan, and trained on as it is, so that what the scan shows is what trains.
    phrase_spec: PhraseSpec = field(default_factory=PhraseSpec)
    # The model to adapt to the songs (chosen on the first page), or None: from scratch.
    fine_tune: FineTuningStart | None = None
    like: str | None = None  # the model's genre the songs' own starts from (train --like), or None: the mean
    scan: ScanResult | None = None
    request: RunRequest | None = None
    job: TrainingJob | None = None

    @property
    def genres(self) -> list[str]:
        """The genre folders that have phrases (the engine also lists those whose songs all failed)."""
        if self.scan is None or self.scan.phrases is None:
            return []
        phrases = self.scan.phrases
        return [g for i, g in enumerate(phrases.genres) if (phrases.genre == i).any()]


def slug(text: str) -> str:
    """A file-name-safe model name: letters, digits, '-' and '_'."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:40]


def taken_names(models_dir: Path) -> set[str]:
    """Names in use: every model the picker lists, and every run folder of ours."""
    names = {entry.name for entry in list_models()}
    if models_dir.is_dir():
        names |= {p.name.removesuffix("-run") for p in models_dir.glob("*-run")}
        names |= {p.stem for p in models_dir.glob(f"*{MODEL_SUFFIX}")}
    return names


def draft_model_name(data_folder: Path, models_dir: Path) -> str:
    """A free name from the data folder's: 'pop909', else 'pop909-2', 'pop909-3', ..."""
    base = slug(data_folder.name) or "my-model"
    taken = taken_names(models_dir)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def check_model_name(name: str, models_dir: Path, current: str | None = None) -> str | None:
    """Why `name` cannot be used (one sentence), or None when it can."""
    if not name:
        return "Give the model a name."
    if slug(name) != name:
        return "Use letters, digits, '-' and '_' only (no spaces), at most 40 characters."
    if name != current and name in taken_names(models_dir):
        return f"A model named {name!r} already exists: choose another name."
    return None


def rename_model(job: TrainingJob, name: str) -> TrainingJob:
    """Move a finished model and its run folder to a new name; the job, found again there."""
    return job.rename(job.request.model_path().with_name(f"{name}{MODEL_SUFFIX}"))


def steps_per_epoch(training_phrases: int, batch_size: int, cap: int = 0) -> int:
    """Batches in one epoch, as engine/train.py counts them."""
    full = training_phrases // max(1, batch_size)
    return max(1, min(full, cap) if cap else full)


def seconds_per_step(width: int, batch_size: int) -> float:
    """The CPU time of one critic step (see CPU_SECONDS_PER_STEP)."""
    work = (batch_size / REFERENCE_BATCH) * (width / REFERENCE_WIDTH) ** 2
    return CPU_SECONDS_PER_STEP * (0.5 + 0.5 * work)


def format_duration(seconds: float) -> str:
    """'45 s', '12 min', '3 h 20 min', '2 days 4 h'."""
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h"
