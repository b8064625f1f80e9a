"""The live jam: the user plays a looped part into a MIDI input; from its next pass on, the
model plays the other tracks around it, in time; when the part changes, so does the rest.

Shape:
- `PartCapture` takes the input's messages (stamped on arrival, on the input's thread),
  places each note on the song's tick grid through the session's clock (internal, or the
  DAW's through --sync external), and keeps the latest `loop_bars` bars: the loop as the
  user plays it now, each bar its last played version.
- `JamSource` is the session's phrase source: silence until a whole pass has been heard,
  then the accompaniment of the loop (engine/accompany.py: latent inversion with few steps,
  to the loop's own chords), the user's track left out (their DAW or keyboard plays it).
- `Jam` ties them to a LiveSession: at each bar line it looks at the loop, and when it
  differs from the one being accompanied, asks the session for a change from the next beat
  the new accompaniment is ready for (`LiveSession.change_source(..., on_beat=True)`), so
  the accompaniment follows within the bar after the changed one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ..pianoroll import Multitrack
from .clock import TICKS_PER_BEAT
from .sources import TICKS_PER_BAR, Phrase, to_phrase

# A phrase with 10 steps of inversion takes 0.3 s on one loaded core of this project's CPU (40
# steps: 1.05 s, none: 0.05 s; measured with training beside it): a change must be playing by
# the next bar line, 2 s away at 120 BPM, on a machine that is also running a DAW.
JAM_INVERSION_STEPS = 10
CHANGED = 0.25  # a loop whose notes differ this much (1 - Jaccard of its (16th, pitch) set) is a new part
NOTE_ON, NOTE_OFF, DRUM_CHANNEL = 0x90, 0x80, 9


@dataclass(frozen=True, order=True)
class HeardNote:
    start: int  # song tick
    end: int
    pitch: int
    velocity: int
    channel: int


class PartCapture:
    """The user's looped part from a MIDI input, on the song's bar grid."""

    def __init__(self, tick_at, loop_bars: int):
        self.tick_at = tick_at  # monotonic ns -> song tick (float), or None while no clock runs
        self.loop_ticks = loop_bars * TICKS_PER_BAR
        self.loop_bars = loop_bars
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], tuple[float, int]] = {}
        self._notes: list[HeardNote] = []
        self.first_tick: float | None = None  # when the first note came

    def message(self, message: list[int], t_ns: int) -> None:
        """One MIDI message with its arrival time (the input's thread)."""
        if len(message) < 3 or message[0] >= 0xF0:
            return
        kind, channel, pitch, velocity = message[0] & 0xF0, message[0] & 0x0F, message[1], message[2]
        if kind not in (NOTE_ON, NOTE_OFF):
            return
        tick = self.tick_at(t_ns)
        if tick is None:
            return
        with self._lock:
            if kind == NOTE_ON and velocity > 0:
                self._open[(channel, pitch)] = (tick, velocity)
                if self.first_tick is None:
                    self.first_tick = tick
            elif (channel, pitch) in self._open:
                start, velocity = self._open.pop((channel, pitch))
                self._notes.append(HeardNote(round(start), max(round(tick), round(start) + 1), pitch, velocity, channel))
                cutoff = tick - 4 * self.loop_ticks  # older passes are not needed
                self._notes = [n for n in self._notes if n.start >= cutoff]

    def first_pass_end(self) -> int | None:
        """The tick where the first whole pass ends: the end of the loop window (loops start
        at bar 0, loop_bars, ...) in which the first note came; None before any note."""
        if self.first_tick is None:
            return None
        # a note played a little ahead of the loop's first bar line belongs to that bar
        first = int(self.first_tick + TICKS_PER_BEAT / 4)
        return (first // self.loop_ticks + 1) * self.loop_ticks

    def loop(self, end_tick: int) -> list[HeardNote]:
        """The notes of the last loop_bars bars before `end_tick` (a bar line), each moved to
        its place in the loop (ticks from 0), notes still held cut at `end_tick`."""
        start = end_tick - self.loop_ticks
        with self._lock:
            notes = [n for n in self._notes if start <= n.start < end_tick]
            notes += [HeardNote(round(s), end_tick, p, v, c) for (c, p), (s, v) in self._open.items()
                      if start <= s < end_tick]
        return sorted(HeardNote(n.start % self.loop_ticks, min(n.end, end_tick) - n.start + n.start % self.loop_ticks,
                                n.pitch, n.velocity, n.channel) for n in notes)


def loop_roll(notes: list[HeardNote], loop_bars: int, steps_per_beat: int) -> np.ndarray:
    """Heard notes -> (steps, 128) velocity roll on the model's grid (a note at least a step)."""
    steps = loop_bars * 4 * steps_per_beat
    roll = np.zeros((steps, 128), np.uint8)
    per_step = TICKS_PER_BEAT / steps_per_beat
    for n in notes:
        a = min(steps - 1, round(n.start / per_step))
        b = min(steps, max(a + 1, round(n.end / per_step)))
        roll[a:b, n.pitch] = np.maximum(roll[a:b, n.pitch], n.velocity)
    return roll


def auto_track(notes: list[HeardNote], tracks) -> int:
    """Which track a part is, when not told: drums on channel 10; else bass if its mean pitch
    is below E3 (a bass line's sits around A1-A2, a piano part's near C4), else piano."""
    names = [t.name for t in tracks]
    if any(n.channel == DRUM_CHANNEL for n in notes):
        return next(i for i, t in enumerate(tracks) if t.is_drum)
    if notes and np.mean([n.pitch for n in notes]) < 52 and "Bass" in names:
        return names.index("Bass")
    return names.index("Piano") if "Piano" in names else 1


def similarity(a: list[HeardNote], b: list[HeardNote], per_step: float) -> float:
    """Jaccard similarity of two loops' (onset step, pitch) sets."""
    sa = {(round(n.start / per_step), n.pitch) for n in a}
    sb = {(round(n.start / per_step), n.pitch) for n in b}
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


class JamSource:
    """The phrases a jam plays: silence before a whole pass was heard, then the other tracks
    around the loop. `loop` is set by `Jam` (any thread); each phrase reads it once."""

    def __init__(self, composer, loop_bars: int, seed: int = 0, genre: str | None = None,
                 track: int | None = None, threshold: float | None = None, steps: int = JAM_INVERSION_STEPS,
                 feel: float | None = None):
        self.composer = composer
        self.loop_bars = loop_bars
        self.seed = seed
        self.genre = genre
        self.track = track  # None: decided from the first pass (`auto_track`)
        self.threshold = threshold
        self.feel = feel  # 0..1, None: the engine's default (engine/feel.py)
        self.steps = steps
        self.loop: list[HeardNote] | None = None
        self.fit = float("nan")
        self._made: tuple | None = None  # (loop, phrase): a loop heard again plays the same accompaniment
        composer.genre_index(genre)  # a ValueError now, rather than on the worker thread
        self._warm_up()

    def _warm_up(self) -> None:
        """One accompaniment of a made-up loop, thrown away: the first run of the model's
        backward pass costs several times a later one, and the first real loop must be
        playing by the next bar line."""
        self.loop = [HeardNote(0, TICKS_PER_BEAT, 48, 90, 0)]
        track = self.track
        self.next_phrase()
        self.loop, self._made, self.track = None, None, track

    @property
    def tracks(self):
        return self.composer.config.tracks

    def silence(self) -> Phrase:
        cfg = self.composer.config
        steps = self.loop_bars * 4 * cfg.steps_per_beat
        clip = Multitrack(cfg.tracks, np.zeros((cfg.n_tracks, steps, 128), np.uint8), cfg.steps_per_beat)
        return to_phrase(clip)

    def next_phrase(self) -> Phrase:
        loop = self.loop  # one read: the jam may set a new one
        if not loop:
            return self.silence()
        if self._made is not None and self._made[0] is loop:
            return self._made[1]
        from ..accompany import Part, accompaniment_idea

        cfg = self.composer.config
        track = self.track if self.track is not None else auto_track(loop, cfg.tracks)
        self.track = track
        rolls = np.zeros((cfg.n_tracks, self.loop_bars * 4 * cfg.steps_per_beat, 128), np.uint8)
        rolls[track] = loop_roll(loop, self.loop_bars, cfg.steps_per_beat)
        part = Part(Multitrack(cfg.tracks, rolls, cfg.steps_per_beat), [track], self.loop_bars)
        # no harmony term: in 10 steps it moved nothing (bench/accompaniment.py, a piano given)
        # and it doubles a step's cost
        idea, self.fit = accompaniment_idea(self.composer, part, self.seed, self.genre, steps=self.steps, harmony=0.0)
        probs = self.composer.probabilities([idea])[0]
        clip = self.composer.to_clip(probs, self.threshold, self.loop_bars, genre=self.genre, chords=idea.chords,
                                     feel=self.feel, seed=idea.seed, manners=idea.manners)
        clip.rolls[track] = 0  # the user plays their own part
        phrase = to_phrase(clip)
        self._made = (loop, phrase)
        return phrase


class Jam:
    """A PartCapture and a JamSource on one LiveSession (see the module's docstring)."""

    def __init__(self, source: JamSource):
        self.source = source
        self.session = None
        self.capture: PartCapture | None = None

    def attach(self, session, midi_input) -> None:
        """Listen on `midi_input` (a StampedInput) through `session`'s clock."""
        self.session = session
        clock = session.scheduler.clock

        def tick_at(t_ns: int):
            return clock.tick_at(t_ns) if clock.running else None

        self.capture = PartCapture(tick_at, self.source.loop_bars)
        midi_input.attach(self.capture.message)

    def on_bar(self, bar: int) -> str | None:
        """At each bar line (a "bar" event): the loop heard up to it, played from the next
        beat its accompaniment is ready for when it is new. Returns words for the change
        made, or None."""
        capture, source = self.capture, self.source
        if capture is None:
            return None
        end = bar * TICKS_PER_BAR
        first_end = capture.first_pass_end()
        if first_end is None or end < first_end:
            return None
        loop = capture.loop(end)
        if not loop:
            return None
        # compared on 16ths: a player's timing wobbles by tens of ms, a new part moves notes or pitches
        if source.loop is not None and similarity(loop, source.loop, TICKS_PER_BEAT / 4) >= 1 - CHANGED:
            return None
        first = source.loop is None
        words = (f"heard {len(loop)} notes over {source.loop_bars} bars: playing along" if first
                 else f"the part changed ({len(loop)} notes): following it")
        # from the next beat the new accompaniment is ready for, not the next bar line: a
        # jam that waited for the bar line would sit out the second pass's first bar (the
        # loop is whole only at its line) and lag a change by a bar more
        self.session.change_source(lambda: setattr(source, "loop", loop), words, on_beat=True)
        return words
