"""Mute and solo: which tracks are heard, decided one way wherever a clip sounds or is
written (live playback, the window's lanes, export)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mix:
    """The muted and the soloed tracks, by index."""

    muted: set[int] = field(default_factory=set)
    soloed: set[int] = field(default_factory=set)

    def audible(self, track: int) -> bool:
        """Not muted, and soloed when any track is: as in a DAW's mixer, a muted track stays
        silent even soloed."""
        return track not in self.muted and (not self.soloed or track in self.soloed)

    def mute(self, track: int, muted: bool = True) -> None:
        (self.muted.add if muted else self.muted.discard)(track)

    def solo(self, track: int, soloed: bool = True) -> None:
        (self.soloed.add if soloed else self.soloed.discard)(track)

    def copy(self) -> Mix:
        return Mix(set(self.muted), set(self.soloed))
