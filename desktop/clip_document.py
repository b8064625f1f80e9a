"""The open clip and its mix: what every view of the window shows and subscribes to.

Views take this object and listen to its signals; it holds engine objects (the Multitrack
of the current clip) and never runs the model itself.
"""

from __future__ import annotations

from dataclasses import replace

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

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.history = ClipHistory()
        self.recent: list[ClipState] = []
        self.slots: dict[str, ClipState | None] = {"A": None, "B": None}
        self.state: ClipState | None = None
        self.multitrack: Multitrack | None = None
        self.mix = Mix()
        self.programs: dict[int, int] = {}  # track -> GM program chosen for export and playback
        self.focus = 0
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
        self.state = state
        self.multitrack = state.to_multitrack()
        n = len(self.multitrack.tracks)
        self.focus = min(self.focus, n - 1)
        self.locked = {t: roll for t, roll in self.locked.items() if t < n}  # another model's tracks
        self.clipChanged.emit()

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
        self.programs[track] = program
        self.mixChanged.emit()

    def audible(self, track: int) -> bool:
        """Heard in playback and kept on export (engine/mix.py has the rule)."""
        return self.mix.audible(track)

    def program(self, track: int) -> int:
        if track in self.programs:
            return self.programs[track]
        return self.multitrack.tracks[track].program if self.multitrack else 0

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
