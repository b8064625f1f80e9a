"""Where each track's pitches sit on the canvas: stacked lanes, or one shared pitch axis.

Plain Python: the canvas asks a layout for the y of a (track, pitch) and for the label of
a y; lanes are fitted to whole octaves around the notes, and the drum lane spans the
General MIDI percussion keys it uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gm_names import GM_DRUMS, MAIN_DRUMS, drum_name, note_name

LANE_GAP = 2.0  # rows of space between lanes
DRUM_LOW, DRUM_HIGH = min(GM_DRUMS), max(GM_DRUMS)


@dataclass(frozen=True)
class Lane:
    track: int
    name: str
    is_drum: bool
    low: int  # lowest pitch shown
    high: int  # highest pitch shown (inclusive)
    base: float  # y of the lowest pitch's row

    @property
    def height(self) -> int:
        return self.high - self.low + 1

    @property
    def top(self) -> float:
        return self.base + self.height

    def y(self, pitch: int) -> float:
        return self.base + (pitch - self.low)

    def label(self, pitch: int) -> str:
        return drum_name(pitch) if self.is_drum else note_name(pitch)

    def major_pitches(self) -> list[int]:
        """The pitches labelled when rows are small: C of every octave, or the main drums."""
        if self.is_drum:
            return [p for p in MAIN_DRUMS if self.low <= p <= self.high]
        return [p for p in range(self.low, self.high + 1) if p % 12 == 0]


def pitch_span(roll: np.ndarray, is_drum: bool) -> tuple[int, int]:
    """The rows a track's lane shows: its notes widened to whole octaves (at least two)."""
    active = np.flatnonzero(roll.any(axis=0)) if roll.size else np.array([], dtype=int)
    if is_drum:
        low = int(active.min()) if active.size else 36
        high = int(active.max()) if active.size else 51
        return max(DRUM_LOW, min(low, 36)), min(DRUM_HIGH, max(high, 51))
    if not active.size:
        return 48, 71
    low = int(active.min()) // 12 * 12
    high = int(active.max()) // 12 * 12 + 11
    if high - low < 23:
        high = low + 23
    return max(0, low), min(127, high)


class PianorollLayout:
    """Lanes for the tracks of a clip, first track at the top.

    `shown` names the tracks that get a lane (all by default): the window folds the tracks
    that play no note, so that a 17-family clip gives its rows to the families that play.
    In overlay mode every shown track shares one lane (the union of their pitch ranges), and
    the labels follow the focused track (drum names when it is the drum track).
    """

    def __init__(self, rolls: np.ndarray, tracks, overlay: bool = False, focus: int = 0,
                 shown: list[int] | None = None):
        self.overlay = overlay
        self.focus = focus
        shown = list(range(len(tracks))) if shown is None else list(shown)
        spans = {i: pitch_span(rolls[i], tracks[i].is_drum) for i in shown}
        self.lanes: list[Lane] = []
        self._label_lane: Lane | None = None
        if overlay:
            low = min((s[0] for s in spans.values()), default=48)
            high = max((s[1] for s in spans.values()), default=71)
            for i in shown:
                self.lanes.append(Lane(i, tracks[i].name, False, low, high, 0.0))
            if tracks:
                focused = tracks[focus]
                self._label_lane = Lane(focus, focused.name, focused.is_drum, low, high, 0.0)
        else:
            base = 0.0
            for i in reversed(shown):  # the last track at the bottom
                low, high = spans[i]
                lane = Lane(i, tracks[i].name, tracks[i].is_drum, low, high, base)
                self.lanes.append(lane)
                base = lane.top + LANE_GAP
            self.lanes.reverse()
        self._by_track = {lane.track: lane for lane in self.lanes}

    @property
    def height(self) -> float:
        return max((lane.top for lane in self.lanes), default=1.0)

    def lane_of(self, track: int) -> Lane | None:
        """The track's lane; None for a folded track."""
        return self._by_track.get(track)

    @property
    def tracks(self) -> list[int]:
        """The tracks with a lane, top to bottom."""
        return [lane.track for lane in self.lanes]

    def label_lanes(self) -> list[Lane]:
        """The lanes whose rows the pitch axis names (one in overlay mode)."""
        if self.overlay:
            return [self._label_lane] if self._label_lane else []
        return self.lanes

    def ticks(self, rows_visible: float, pixels: float, min_gap: float = 13.0) -> tuple[list[float], list[float]]:
        """(labelled, unlabelled) tick positions on the pitch axis, at row centres.

        Every row is named when rows are tall enough; otherwise the Cs (or the main drums, in
        order of importance), keeping labels at least `min_gap` pixels apart.
        """
        per_row = pixels / max(rows_visible, 1.0)
        major: list[float] = []
        minor: list[float] = []
        kept: list[float] = []  # across lanes: seventeen thin lanes put one's top label by the next one's bottom
        for lane in self.label_lanes():
            if per_row >= min_gap:
                major += [lane.y(p) + 0.5 for p in range(lane.low, lane.high + 1)]
                continue
            for p in lane.major_pitches():
                y = lane.y(p) + 0.5
                if all(abs(y - k) * per_row >= min_gap for k in kept):
                    kept.append(y)
        return sorted(major + kept), minor

    def label(self, y: float) -> str:
        for lane in self.label_lanes():
            if lane.base <= y < lane.top:
                return lane.label(lane.low + int(y - lane.base))
        return ""
