"""Musical time against the monotonic clock: ticks to nanoseconds and back.

Positions are integer ticks, TICKS_PER_BEAT to a quarter note (480: divisible by MIDI
clock's 24 and by every grid the engine uses). A `BeatClock` is a chain of tempo segments,
each (first tick, its time in `time.monotonic_ns()`, ns per tick): a tempo change adds a
segment at the next beat, so events already queued in ticks simply fall at their new
times. Following an external MIDI clock, each clock pulse re-anchors the chain, and times
past the next expected pulse are unknown (None) until it arrives.

Not thread-safe: its owner (the scheduler) guards it with its lock.
"""

from __future__ import annotations

import math
from collections import deque

TICKS_PER_BEAT = 480
CLOCKS_PER_BEAT = 24  # MIDI clock
TICKS_PER_CLOCK = TICKS_PER_BEAT // CLOCKS_PER_BEAT  # 20
NS_PER_MINUTE = 60_000_000_000


def ns_per_tick(bpm: float) -> float:
    return NS_PER_MINUTE / (bpm * TICKS_PER_BEAT)


class BeatClock:
    """Tick <-> monotonic time as tempo segments; not running until anchored."""

    def __init__(self, bpm: float = 120.0):
        self.bpm = float(bpm)
        self._segments: list[tuple[int, float, float]] = []  # (tick, t_ns, ns_per_tick), by tick
        self.horizon: int | None = None  # no time is known past this tick (external clock)

    @property
    def running(self) -> bool:
        return bool(self._segments)

    def start(self, t_ns: int, tick: int = 0) -> None:
        """Tick `tick` falls at monotonic time `t_ns`, at the current tempo."""
        self._segments = [(tick, float(t_ns), ns_per_tick(self.bpm))]
        self.horizon = None

    def stop(self) -> None:
        self._segments = []

    def _segment(self, tick: float) -> tuple[int, float, float]:
        chosen = self._segments[0]
        for segment in self._segments[1:]:
            if segment[0] <= tick:
                chosen = segment
        return chosen

    def time_of(self, tick: float) -> int | None:
        """The monotonic ns at which `tick` falls, or None while unknown (stopped, or past
        the external clock's horizon)."""
        if not self._segments or (self.horizon is not None and tick > self.horizon):
            return None
        start, t0, step = self._segment(tick)
        return int(t0 + (tick - start) * step)

    def tick_at(self, t_ns: int) -> float:
        """The (fractional) tick at monotonic time `t_ns`; may lie before the start."""
        if not self._segments:
            raise RuntimeError("the clock is not running")
        chosen = self._segments[0]
        for segment in self._segments[1:]:
            if segment[1] <= t_ns:
                chosen = segment
        start, t0, step = chosen
        return start + (t_ns - t0) / step

    def set_tempo(self, bpm: float, now_ns: int) -> int | None:
        """Change the tempo at the next beat after `now_ns`; returns that beat's tick.

        A change not yet in effect is replaced by a newer one.
        """
        self.bpm = float(bpm)
        if not self._segments:
            return None
        first = self._segments[0][0]
        now_tick = self.tick_at(now_ns)
        tick = first if now_tick < first else (math.floor(now_tick / TICKS_PER_BEAT) + 1) * TICKS_PER_BEAT
        t = self.time_of(tick)
        if t is None:  # past an external horizon: no internal tempo to change
            return None
        self._segments = [s for s in self._segments if s[0] < tick]
        self._segments.append((tick, float(t), ns_per_tick(self.bpm)))
        return tick

    def anchor(self, tick: int, t_ns: float, bpm: float, horizon: int | None) -> None:
        """External clock: `tick` is at `t_ns` and the tempo is `bpm`; nothing past `horizon` is known."""
        self.bpm = float(bpm)
        self._segments = [(tick, float(t_ns), ns_per_tick(bpm))]
        self.horizon = horizon


class ClockFollower:
    """Tempo and phase from incoming MIDI clock pulses.

    A least-squares line through the arrival times of the last `window` pulses gives the
    tempo (its slope) and a smoothed time for the latest pulse, so one late arrival does
    not shift the notes after it. A pulse far off the line is held back until the next one
    tells what it was: alone, a late arrival (left out of the fit); followed by another off
    the line, a new tempo (the fit starts again from the two).
    """

    def __init__(self, window: int = CLOCKS_PER_BEAT):
        self._pulses: deque[tuple[int, int]] = deque(maxlen=window)  # (pulse number, t_ns)
        self._count = 0
        self._suspect: tuple[int, int] | None = None  # the last pulse, when it was off the line

    def reset(self) -> None:
        self._pulses.clear()
        self._count = 0
        self._suspect = None

    def _fit(self) -> tuple[float, float, float]:
        """The least-squares line through the pulses: (mean pulse number, mean time, ns per pulse)."""
        n = len(self._pulses)
        mean_k = sum(k for k, _ in self._pulses) / n
        mean_t = sum(t for _, t in self._pulses) / n
        var = sum((k - mean_k) ** 2 for k, _ in self._pulses)
        slope = sum((k - mean_k) * (t - mean_t) for k, t in self._pulses) / var
        return mean_k, mean_t, slope

    def pulse(self, t_ns: int) -> tuple[float, float | None]:
        """Add a pulse arriving at `t_ns`: (its smoothed time, bpm or None with < 3 pulses)."""
        self._pulses.append((self._count, t_ns))
        self._count += 1
        if len(self._pulses) < 3:
            return float(t_ns), None
        mean_k, mean_t, slope = self._fit()
        if slope <= 0:
            return float(t_ns), None
        last = self._pulses[-1][0]
        smoothed = mean_t + slope * (last - mean_k)
        if abs(smoothed - t_ns) > 0.25 * slope:
            previous = self._suspect or self._pulses[-2]
            gap = (t_ns - previous[1]) / (last - previous[0])  # ns per pulse since the one before
            # Off the line alone: a late arrival, or the first pulse of a new tempo. Pulses
            # arriving together (a sender or receiver that stalled, then caught up) are late
            # arrivals too, however many, never a tempo. Keep the fit as it was, and place
            # this pulse where it puts it, until a pulse on its own time says.
            if (self._suspect is None and len(self._pulses) > 3) or gap < 0.25 * slope:
                self._pulses.pop()
                self._suspect = (last, t_ns)
                mean_k, mean_t, slope = self._fit()
                return mean_t + slope * (last - mean_k), NS_PER_MINUTE / (slope * CLOCKS_PER_BEAT)
            # Two off the line in a row, each on its own time: the tempo changed (or the clock
            # jumped): start the fit again from the two.
            self._suspect = None
            self._pulses.clear()
            self._pulses.extend([previous, (last, t_ns)])
            return float(t_ns), NS_PER_MINUTE / (gap * CLOCKS_PER_BEAT)
        self._suspect = None
        return smoothed, NS_PER_MINUTE / (slope * CLOCKS_PER_BEAT)
