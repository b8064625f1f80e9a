"""One generated clip as the desktop holds it, and the undo history of clips.

Plain Python (no Qt): a `ClipState` keeps the noise (`Idea`) and the note probabilities a
model made from it, so that re-binarizing at another threshold needs no model run and
regenerating one track keeps the others.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bytes2beats.engine.binarize import QUANTIZE
from bytes2beats.engine.feel import FEEL

from .chord_setting import ChordSetting

_serial = itertools.count(1)


@dataclass(eq=False)
class ClipState:
    """A clip: its model, noise and probabilities, plus the threshold, bars, tempo, quantize
    strength and feel it is shown at, and the chords and key it was asked for.

    `composer` is the engine's Composer that made it (kept, so that regenerating a track of an
    older clip uses the model that made it). `threshold`, `quantize`, `feel` and `bpm` change in place:
    a clip remembers the settings it was last heard with, wherever it is listed.
    """

    composer: Any
    idea: Any
    probabilities: np.ndarray  # (tracks, steps, 128) float32
    threshold: float
    bars: int
    bpm: float
    model: str
    genre: str | None
    label: str
    quantize: float = QUANTIZE  # 0..1: how far notes move onto the beat's grid
    feel: float = FEEL  # 0..1: how much of a real phrase's timing they take back (engine/feel.py)
    chord_setting: ChordSetting = field(default_factory=ChordSetting)  # the chords and key asked for
    # The seed Generate was given, where the idea kept is another's (the best of several takes:
    # take k is seed + k * stride); None: the idea's own. What the window shows and generates
    # again, so that the seed box and Enter make this clip again with the same takes.
    asked_seed: int | None = None
    # Lanes that are the user's own (a dropped part) or locked as they were: track -> its
    # (steps, 128) roll on the clip's grid, shown and exported as is whatever the threshold.
    fixed: dict = field(default_factory=dict)
    serial: int = field(default_factory=lambda: next(_serial))
    created: float = field(default_factory=time.time)

    @property
    def seed(self) -> int:
        """The idea's own seed (its noise; the feel is drawn by it)."""
        return int(self.idea.seed)

    @property
    def shown_seed(self) -> int:
        """The seed the user knows the clip by: the one asked for."""
        return self.seed if self.asked_seed is None else int(self.asked_seed)

    @property
    def title(self) -> str:
        return f"#{self.serial} {self.label}"

    def to_multitrack(self):
        """The clip decoded at its threshold, quantize strength and feel (no model run: numpy
        only; the feel drawn by the idea's seed), with its fixed lanes as they are."""
        clip = self.composer.to_clip(
            self.probabilities, self.threshold, self.bars, self.bpm,
            name=f"{self.model}-seed{self.shown_seed}", genre=self.genre, quantize_strength=self.quantize,
            chords=getattr(self.idea, "chords", None), feel=self.feel, seed=self.seed,
            manners=getattr(self.idea, "manners", None),
        )
        for track, roll in self.fixed.items():
            steps = min(clip.n_steps, len(roll))
            clip.rolls[track] = 0
            clip.rolls[track, :steps] = roll[:steps]
        return clip


class ClipHistory:
    """Undo and redo across generations: a list of clips and a cursor into it."""

    def __init__(self, limit: int = 200):
        self.limit = limit
        self._clips: list[ClipState] = []
        self._cursor = -1

    @property
    def current(self) -> ClipState | None:
        return self._clips[self._cursor] if self._cursor >= 0 else None

    def push(self, clip: ClipState) -> None:
        """Make `clip` current; whatever could be redone is dropped."""
        del self._clips[self._cursor + 1 :]
        self._clips.append(clip)
        if len(self._clips) > self.limit:
            del self._clips[0]
        self._cursor = len(self._clips) - 1

    def can_undo(self) -> bool:
        return self._cursor > 0

    def can_redo(self) -> bool:
        return self._cursor < len(self._clips) - 1

    def undo(self) -> ClipState | None:
        if self.can_undo():
            self._cursor -= 1
        return self.current

    def redo(self) -> ClipState | None:
        if self.can_redo():
            self._cursor += 1
        return self.current

    def __len__(self) -> int:
        return len(self._clips)
