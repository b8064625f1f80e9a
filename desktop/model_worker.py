"""Model work off the GUI thread: loading models and turning noise into clips.

Every job is a BackgroundCall (background.py) on one background thread (a QThreadPool of
one, so jobs keep their order and the model is never used by two threads at once) and reports
back through signals, which Qt delivers on the GUI thread. torch is imported here, inside
the jobs, so the window opens before it is loaded. Errors come back as messages, never as
exceptions in the GUI.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from bytes2beats.engine.binarize import QUANTIZE
from bytes2beats.engine.feel import FEEL
from bytes2beats.engine.limits import SEED
from PySide6.QtCore import QObject, QThreadPool, Signal

from .background import BackgroundCall
from .chord_setting import ChordSetting, to_bars
from .clip_state import ClipState

# OpenMP's threads otherwise spin for a while after each model run, taking the cores the
# GUI thread needs to draw the result (on 2 cores: 70 ms stalls instead of 30). Read when
# torch loads, which happens on the worker after this module is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@dataclass
class LoadedModel:
    name: str
    composer: Any
    device: str  # a description for the status bar, e.g. "CPU (2 threads)"
    seconds: float


@dataclass
class JobResult:
    kind: str  # "generate", "variation", "regenerate", "chords"
    state: ClipState
    seconds: float  # the model's time, for the status bar
    track: int | None = None


@dataclass
class PartRead:
    track: int
    path: str
    roll: np.ndarray | None  # (steps, 128) on the clip's grid; None when the file could not be used
    error: str = ""


@dataclass
class ChordsRead:
    path: str
    bars: tuple | None  # per bar, a tuple of chords; None when the file has none
    error: str = ""


def _expected(error: Exception) -> bool:
    """Failures the user can cause and fix (a wrong device, a broken or missing model file)."""
    return isinstance(error, (ValueError, OSError)) or type(error).__name__ in ("ModelFileError", "MusicFileError")


def _one_line(error: Exception) -> str:
    """The message for people (engine/failures.py's one line): the reason alone for expected
    failures, else with its type."""
    from bytes2beats.engine.failures import one_line

    text = one_line(error)
    if _expected(error) or not str(error).strip():
        return text
    return f"{type(error).__name__}: {text}"


class ModelWorker(QObject):
    """Runs model jobs in the background. Connect to the signals; call the methods."""

    modelLoaded = Signal(object)  # LoadedModel
    clipReady = Signal(object)  # JobResult
    chordsRead = Signal(object)  # ChordsRead
    partRead = Signal(object)  # PartRead
    failed = Signal(str)  # a one-line message
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, device: str = "auto"):
        super().__init__(parent)
        self.device = device
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._calls: set[BackgroundCall] = set()  # the jobs not yet told back

    @property
    def busy(self) -> bool:
        return bool(self._calls)

    def _submit(self, work: Callable[[], Any], on_done) -> None:
        call = BackgroundCall(lambda _call: work(), pool=self.pool, describe=_one_line, expected=_expected)
        call.done.connect(on_done)
        call.failed.connect(self.failed)
        call.done.connect(lambda _r, c=call: self._finished(c))
        call.failed.connect(lambda _m, c=call: self._finished(c))
        self._calls.add(call)
        if len(self._calls) == 1:
            self.busyChanged.emit(True)
        call.start()

    def _finished(self, call: BackgroundCall) -> None:
        self._calls.discard(call)
        call.deleteLater()
        if not self._calls:
            self.busyChanged.emit(False)

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)

    # -- jobs ----------------------------------------------------------------------------

    def load(self, model: str) -> None:
        device = self.device

        def work() -> LoadedModel:
            start = time.perf_counter()
            from bytes2beats.engine.device import describe_device
            from bytes2beats.engine.generate import Composer

            composer = Composer.load(model, device)
            return LoadedModel(composer.name, composer, describe_device(composer.device),
                               time.perf_counter() - start)

        self._submit(work, self.modelLoaded)

    def generate(self, composer, model: str, seed: int, bars: int, genre: str | None,
                 threshold: float, bpm: float, quantize: float = QUANTIZE,
                 chords: ChordSetting | None = None, fixed: dict | None = None, feel: float = FEEL,
                 takes: int = 1) -> None:
        """A new clip; `chords`: the progression or key asked for (a chord model only);
        `fixed`: locked lanes (track -> roll), kept as they are, the rest played around them;
        `feel`: how much of its genre's feel it is played with (engine/feel.py); `takes`: the
        best of so many takes of the idea (engine/takes.py; not around locked lanes)."""
        setting = chords if chords is not None and composer.takes_chords else ChordSetting()
        fixed = dict(fixed or {})

        def work() -> JobResult:
            start = time.perf_counter()
            chords = setting.per_beat(composer, bars, seed, genre)
            label = f"seed {seed}"
            if fixed:
                idea = _around(composer, fixed, seed, bars, genre, chords)
                label += f", around your {' and '.join(composer.config.tracks[t].name for t in sorted(fixed))}"
            else:
                idea = composer.best_idea(seed, takes, bars, genre, chords)
                if takes > 1:
                    label += f", best of {takes} takes"
            probs = composer.probabilities([idea])[0]
            state = ClipState(composer, idea, probs, threshold, bars, bpm, model, genre, label, quantize,
                              feel=feel, chord_setting=setting, fixed=fixed, asked_seed=seed)
            return JobResult("generate", state, time.perf_counter() - start)

        self._submit(work, self.clipReady)

    def vary(self, base: ClipState, amount: float, seed: int, fixed: dict | None = None) -> None:
        fixed = dict(base.fixed if fixed is None else fixed)

        def work() -> JobResult:
            start = time.perf_counter()
            idea = base.composer.vary(base.idea, amount, seed)
            probs = base.composer.probabilities([idea])[0]
            state = ClipState(base.composer, idea, probs, base.threshold, base.bars, base.bpm,
                              base.model, base.genre, f"variation of #{base.serial}", base.quantize, feel=base.feel,
                              chord_setting=base.chord_setting, fixed=fixed)
            return JobResult("variation", state, time.perf_counter() - start)

        self._submit(work, self.clipReady)

    def regenerate(self, base: ClipState, track: int, seed: int) -> None:
        def work() -> JobResult:
            start = time.perf_counter()
            composer = base.composer
            idea = composer.regenerate_track(base.idea, track, seed)
            fresh = composer.probabilities([idea])[0]
            # Only the chosen track takes the new probabilities: the others stay exactly as
            # they were, whatever the model shares between tracks.
            probs = base.probabilities.copy()
            probs[track] = fresh[track]
            name = composer.config.tracks[track].name
            state = ClipState(composer, idea, probs, base.threshold, base.bars, base.bpm,
                              base.model, base.genre, f"{name} regenerated (#{base.serial})", base.quantize, feel=base.feel,
                              chord_setting=base.chord_setting, fixed=dict(base.fixed))
            return JobResult("regenerate", state, time.perf_counter() - start, track)

        self._submit(work, self.clipReady)

    def rechord(self, base: ClipState, setting: ChordSetting, label: str) -> None:
        """The clip again over other chords (or in another key): the same noise, a new model run."""
        def work() -> JobResult:
            start = time.perf_counter()
            composer = base.composer
            chords = setting.per_beat(composer, base.bars, base.seed, base.genre)
            idea = replace(base.idea, chords=composer.chords_for(chords, base.idea.n_phrases, base.seed, base.genre))
            probs = composer.probabilities([idea])[0]
            state = ClipState(composer, idea, probs, base.threshold, base.bars, base.bpm, base.model, base.genre,
                              f"{label} (#{base.serial})", base.quantize, feel=base.feel, chord_setting=setting,
                              fixed=dict(base.fixed))
            return JobResult("chords", state, time.perf_counter() - start)

        self._submit(work, self.clipReady)

    def read_chords(self, path: str, max_bars: int = 64) -> None:
        """The chords of a MIDI file, per bar from its first chord on (`chordsRead`: a
        ChordsRead, its error a one-line message for a file with none)."""
        def work() -> ChordsRead:
            from bytes2beats.engine.progression import ChordError, chords_from_midi

            try:
                bars = chords_from_midi(path)
            except ChordError as error:
                return ChordsRead(path, None, str(error))
            while bars and all(c is None for c in bars[0]):  # silence or a count-in before the song
                bars = bars[1:]
            if not bars:
                return ChordsRead(path, None, f"{Path(path).name}: no chords to take")
            return ChordsRead(path, to_bars(bars[:max_bars]))

        self._submit(work, self.chordsRead)


    def read_part(self, path: str, track: int, composer, bars: int) -> None:
        """A MIDI file as the user's part on `track`, on the model's grid over `bars` bars: a
        shorter part loops, as a clip does in a DAW; a longer one is cut (`partRead`: its
        error a one-line message for a file that cannot be used)."""
        def work() -> PartRead:
            from bytes2beats.engine.accompany import PartError, read_part
            from bytes2beats.engine.pianoroll import resample

            cfg = composer.config
            try:
                part = read_part(path, cfg.track_set, cfg.tracks[track].name)  # its own length
            except PartError as error:
                return PartRead(track, path, None, str(error))
            roll = resample(part.song, cfg.steps_per_beat).rolls[track]
            if part.n_bars < bars:  # the part's own bars again and again
                roll = np.tile(roll, (-(-bars // part.n_bars), 1))
            return PartRead(track, path, roll[: bars * 4 * cfg.steps_per_beat])

        self._submit(work, self.partRead)


def _around(composer, fixed: dict, seed: int, bars: int, genre: str | None, chords: list | None):
    """The idea for a clip around the locked lanes: latent inversion (engine/accompany.py),
    over the chords asked for, else the lanes' own."""
    from bytes2beats.engine.accompany import Part, accompaniment_idea
    from bytes2beats.engine.pianoroll import Multitrack

    cfg = composer.config
    steps = bars * 4 * cfg.steps_per_beat
    rolls = np.zeros((cfg.n_tracks, steps, 128), np.uint8)
    for track, roll in fixed.items():
        kept = min(steps, len(roll))
        rolls[track, :kept] = roll[:kept]
    part = Part(Multitrack(cfg.tracks, rolls, cfg.steps_per_beat), sorted(fixed), bars)
    idea, _ = accompaniment_idea(composer, part, seed, genre, chords)
    return idea


def random_seed() -> int:
    """A new seed the seed box can show and the command line takes."""
    return int(np.random.default_rng().integers(SEED.low, SEED.high, endpoint=True))
