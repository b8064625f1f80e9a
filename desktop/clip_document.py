"""The open clip and its mix: what every view of the window shows and subscribes to.

Views take this object and listen to its signals; it holds engine objects (the Multitrack
of the current clip) and never runs the model itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from bytes2beats.engine.mix import Mix
from bytes2beats.engine.pianoroll import Multitrack
from PySide6.QtCore import QObject, Signal

from .clip_state import ClipHistory, ClipState

RECENT_LIMIT = 24


class ClipDocument(QObject):
    """The current clip, the undo history, recent clips, A/B slots and the mixer."""

    clipChanged = Signal()  # a new clip, or the same clip at a new threshold or tempo
    mixChanged = Signal()  # mute, solo, instrument or focus
    historyChanged = Signal()  # undo/redo availability, recent list, A/B slots
    foldingChanged = Signal()  # "Show empty tracks" turned on or off

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.history = ClipHistory()
        self.recent: list[ClipState] = []
        self.slots: dict[str, ClipState | None] = {"A": None, "B": None}
        self.state: ClipState | None = None
        self.multitrack: Multitrack | None = None
        self.mix = Mix()
        # A track's name -> the GM program chosen for it (export and playback). By name, so that
        # a pick for Guitar stays with Guitar when a model of 17 families follows one of 5.
        self.programs: dict[str, int] = {}
        self.focus = 0
        # Tracks that play no note in the clip shown are folded (no row, no lane) unless this
        # is on: a 17-family clip often leaves half of its families silent.
        self.show_empty = False
        self._playing = np.zeros(0, dtype=bool)
        # Locked lanes: track -> the roll the next clips keep there (the lane as it was when
        # locked, or a part the user dropped on it); Generate plays around them.
        self.locked: dict[int, object] = {}

    # -- clips ---------------------------------------------------------------------------

    def push(self, state: ClipState) -> None:
        """A newly generated clip: current, undoable, and first in the recent list."""
        self.history.push(state)
        self.recent.insert(0, state)
        del self.recent[RECENT_LIMIT:]
        self._show(state)
        self.historyChanged.emit()

    def show(self, state: ClipState) -> None:
        """Show a clip from the recent list or an A/B slot without a new history step."""
        self._show(state)
        self.historyChanged.emit()

    def undo(self) -> None:
        if self.history.can_undo():
            self._show(self.history.undo())
            self.historyChanged.emit()

    def redo(self) -> None:
        if self.history.can_redo():
            self._show(self.history.redo())
            self.historyChanged.emit()

    def set_threshold(self, threshold: float) -> None:
        """Re-binarize the current clip at once from its kept probabilities."""
        if self.state is not None and threshold != self.state.threshold:
            self.state.threshold = threshold
            self._show(self.state)

    def set_quantize(self, strength: float) -> None:
        """Move the current clip's notes onto the grid by `strength` (0..1), from its kept
        probabilities: no model run."""
        if self.state is not None and strength != self.state.quantize:
            self.state.quantize = strength
            self._show(self.state)

    def set_feel(self, amount: float) -> None:
        """Play the current clip's notes with `amount` (0..1) of its feel: no model run."""
        if self.state is not None and amount != self.state.feel:
            self.state.feel = amount
            self._show(self.state)

    def set_bpm(self, bpm: float) -> None:
        if self.state is not None and bpm != self.state.bpm:
            self.state.bpm = bpm
            self._show(self.state)

    def store_slot(self, slot: str) -> None:
        if self.state is not None:
            self.slots[slot] = self.state
            self.historyChanged.emit()

    def toggle_ab(self) -> str | None:
        """Show the other A/B slot; returns the slot now shown (None with fewer than two)."""
        a, b = self.slots["A"], self.slots["B"]
        if a is None or b is None:
            return None
        target = "B" if self.state is a else "A"
        self.show(self.slots[target])
        return target

    def _show(self, state: ClipState) -> None:
        before = self.multitrack.track_names if self.multitrack is not None else None
        self.state = state
        self.multitrack = state.to_multitrack()
        n = len(self.multitrack.tracks)
        other_tracks = before is not None and before != self.multitrack.track_names
        if other_tracks:
            self._follow_tracks(before, self.multitrack.track_names)
        self.focus = min(self.focus, n - 1)
        self._playing = self.multitrack.rolls.reshape(n, -1).any(axis=1)
        self.clipChanged.emit()
        if other_tracks:
            self.mixChanged.emit()

    def _follow_tracks(self, before: list[str], after: list[str]) -> None:
        """Another model's tracks (5 families and 17 share names, not places): mute, solo and
        focus follow the track's name; locks go, since a locked roll belongs to the model and
        grid that made it (the window does not play around it with another model either)."""
        place = {name: i for i, name in enumerate(after)}

        def moved(tracks: set[int]) -> set[int]:
            return {place[before[t]] for t in tracks if t < len(before) and before[t] in place}

        self.mix = Mix(moved(self.mix.muted), moved(self.mix.soloed))
        self.focus = next(iter(moved({self.focus})), 0)
        self.locked = {}

    # -- folding -------------------------------------------------------------------------

    def plays(self, track: int) -> bool:
        """Whether the track has a note in the clip shown."""
        return bool(track < len(self._playing) and self._playing[track])

    def shown_tracks(self) -> list[int]:
        """The tracks with a row and a lane: those that play, or all with "Show empty tracks"."""
        return [t for t in range(self.track_count()) if self.show_empty or self.plays(t)]

    def set_show_empty(self, on: bool) -> None:
        if on != self.show_empty:
            self.show_empty = on
            self.foldingChanged.emit()

    # -- the mix -------------------------------------------------------------------------

    def track_count(self) -> int:
        return 0 if self.multitrack is None else len(self.multitrack.tracks)

    def toggle_lock(self, track: int) -> None:
        """Lock a lane as it is now (the next clips keep it and play around it), or unlock it."""
        if track in self.locked:
            del self.locked[track]
        elif self.multitrack is not None:
            self.locked[track] = self.multitrack.rolls[track].copy()
        self.mixChanged.emit()

    def set_part(self, track: int, roll) -> None:
        """The user's own part on a lane, locked there: (steps, 128) on the clip's grid."""
        self.locked[track] = roll
        self.mixChanged.emit()

    @property
    def muted(self) -> set[int]:
        return self.mix.muted

    @property
    def soloed(self) -> set[int]:
        return self.mix.soloed

    def toggle_mute(self, track: int) -> None:
        self.mix.mute(track, track not in self.mix.muted)
        self.mixChanged.emit()

    def toggle_solo(self, track: int) -> None:
        self.mix.solo(track, track not in self.mix.soloed)
        self.mixChanged.emit()

    def set_focus(self, track: int) -> None:
        if track != self.focus and 0 <= track < max(1, self.track_count()):
            self.focus = track
            self.mixChanged.emit()

    def set_program(self, track: int, program: int) -> None:
        self.programs[self.multitrack.tracks[track].name] = program
        self.mixChanged.emit()

    def audible(self, track: int) -> bool:
        """Heard in playback and kept on export (engine/mix.py has the rule)."""
        return self.mix.audible(track)

    def program(self, track: int) -> int:
        if self.multitrack is None:
            return 0
        family = self.multitrack.tracks[track]
        return self.programs.get(family.name, family.program)

    def export_multitrack(self, track: int | None = None) -> Multitrack:
        """The clip to write: one track, or the audible tracks, with the chosen instruments and
        the clip's chords."""
        mt = self.multitrack
        if mt is None:
            raise ValueError("there is no clip yet: generate one first")
        indices = [track] if track is not None else [i for i in range(len(mt.tracks)) if self.audible(i)]
        if not indices:
            raise ValueError("every track is muted: unmute one to export")
        tracks = [replace(mt.tracks[i], program=self.program(i)) for i in indices]
        name = mt.name if track is None else f"{mt.name}-{mt.tracks[track].name.lower()}"
        return Multitrack(tracks, mt.rolls[indices].copy(), mt.steps_per_beat, mt.tempo, name,
                          chords=mt.chords)  # written as markers

    def playback_multitrack(self) -> Multitrack:
        """Every track, with the chosen instruments (playback mutes by itself, live)."""
        mt = self.multitrack
        tracks = [replace(t, program=self.program(i)) for i, t in enumerate(mt.tracks)]
        return replace(mt, tracks=tracks)
