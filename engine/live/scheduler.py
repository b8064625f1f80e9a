"""The streaming clock: a thread that sends every note-on and note-off at its time.

After python-rtmidi's `examples/sequencer`: a heap of tick-stamped events, a `BeatClock`
that turns ticks into `time.monotonic_ns()`, and a condition variable that the other
threads notify (mute, tempo, stop, an external clock pulse). The thread sleeps until about
SPIN_NS before an event is due, then spins to the exact time, since a sleep alone wakes
late by a scheduler slice on a busy machine. Phrases come from the session's worker thread
already turned into ticks, and are queued about LOOKAHEAD_TICKS before they are due.

Lock order: the scheduler's condition, then a port's lock; never the other way round.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..limits import BPM
from ..mix import Mix
from ..music_io import assign_channels
from ..pianoroll import Track
from .clock import TICKS_PER_BEAT, TICKS_PER_CLOCK, BeatClock, ClockFollower
from .ports import NOTE_OFF, NOTE_ON, PROGRAM_CHANGE, OutputPorts
from .priority import raise_priority
from .sources import TICKS_PER_BAR, Phrase

SPIN_NS = 2_000_000  # wake this long before an event and spin to its time
MAX_WAIT_S = 0.05  # wake at least this often to queue the next phrase
LOOKAHEAD_TICKS = TICKS_PER_BAR  # queue the next phrase one bar before it is due
LATE_TICKS = TICKS_PER_BEAT // 2  # no new phrase this close to its start: play the last again
PREROLL_NS = 100_000_000  # the first bar starts this long after the first phrase is ready
SPLICE_GUARD_TICKS = TICKS_PER_BEAT // 8  # a change lands on the first line (bar or beat) at least this far ahead

CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2

# Event kinds, in the order they go out when they share a tick.
_CLOCK, _OFF, _BAR, _ON, _END = range(5)


@dataclass(frozen=True)
class LiveEvent:
    """A status report from a live session.

    kind : "started", "bar", "tempo", "late", "change", "port lost", "port back",
           "sync started", "sync stopped", "error" or "stopped"
    bar : the bar number (from 0) for "bar", else the bar playing, or None
    time_ns : when, in time.monotonic_ns() (for "bar": the bar's scheduled start)
    detail : words for people (the port's name, the new BPM, the error...)
    beat : for "change", the beat of `bar` it plays from (0: the bar line)
    """

    kind: str
    bar: int | None = None
    time_ns: int = 0
    detail: str = ""
    beat: int = 0


def _check_channels(ports: OutputPorts, tracks: list[Track], channels: list[int]) -> None:
    """Refuse ports where two pitched tracks would share a channel of one port (seventeen
    tracks on one port): each would end the other's notes and take its program.
    `open_outputs(tracks)` opens as many ports as the tracks need. Drum tracks (a file's kit
    split over tracks) all play on channel 10 of the first port, as General MIDI has it."""
    if ports.track_ports is not None and len(ports.track_ports) != len(tracks):
        raise ValueError(f"the ports are laid out for {len(ports.track_ports)} tracks, not {len(tracks)}")
    taken: dict[tuple[int, int], int] = {}
    for track, channel in enumerate(channels):
        if tracks[track].is_drum:
            continue
        other = taken.setdefault((id(ports.for_track(track)), channel), track)
        if other != track:
            raise ValueError(f"{tracks[other].name} and {tracks[track].name} would share channel {channel + 1} "
                             f"of the port {ports.for_track(track).name!r}: open the ports with open_outputs(tracks)")


class BarScheduler:
    """Sends a stream of phrases on time; mute, solo and tempo act while it plays.

    Parameters
    ----------
    ports : OutputPorts; each track plays on `ports.for_track(track)`, on its channel there
        (`assign_channels`); no two tracks may share a channel of one port (ValueError)
    tracks : the tracks of every phrase (their programs and drum flags)
    next_phrase : returns the next Phrase, or None when none is ready yet; never blocks
    emit : receives LiveEvents; called on this thread, so it must only queue them
    bpm : the internal clock's tempo (ignored while following an external clock)
    bars : stop after this many bars (None: until stopped)
    external : follow MIDI clock given to `external_message` instead of the internal clock
    clock_out : send MIDI clock (24 a beat) with Start and Stop on the first port only
        (`ports.main`): a DAW follows one clock, and a second port carries only notes
    program_changes : send each pitched track's program at the start, on its own port
    realtime : ask the OS for a realtime priority for this thread (see `raise_priority`)
    """

    def __init__(self, ports: OutputPorts, tracks: list[Track], next_phrase: Callable[[], Phrase | None],
                 emit: Callable[[LiveEvent], None], *, bpm: float = 120.0, bars: int | None = None,
                 external: bool = False, clock_out: bool = False, program_changes: bool = True,
                 realtime: bool = True):
        self.ports = ports
        self.tracks = tracks
        self.channels = assign_channels(tracks)  # within each track's port (`ports.for_track`)
        _check_channels(ports, tracks, self.channels)
        self._next_phrase = next_phrase
        self._emit = emit
        self.external = external
        self.clock_out = clock_out and not external
        self.program_changes = program_changes
        self.end_tick = None if bars is None else bars * TICKS_PER_BAR

        self._cond = threading.Condition()
        self.clock = BeatClock(bpm)
        self._heap: list[tuple[int, int, int, int, int, int]] = []  # (tick, kind, seq, track, pitch, vel)
        self._seq = 0
        self._queued_until = 0  # the tick where the next phrase goes
        self._last_phrase: Phrase | None = None
        self._splice: str | None = None  # a change waiting for its phrase (its words), see `change_at_next_line`
        self._splice_line = TICKS_PER_BAR  # ... and the lines it may start on
        self._sounding: list[set[int]] = [set() for _ in tracks]  # pitches sounding per track
        self._mix = Mix()
        self._stopping = False
        self._reason = "stopped"
        self.error: BaseException | None = None
        # External clock state: the song position (ticks) of the last pulse; armed after
        # Start or Continue until the first pulse.
        self._follower = ClockFollower()
        self._song_tick = 0
        self._armed = False
        self.realtime = realtime
        self.priority = "not started"
        self._thread = threading.Thread(target=self._run, name="b2b-live-clock", daemon=True)

    # -- control, from any thread --------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str = "stopped") -> None:
        with self._cond:
            if not self._stopping:
                self._reason = reason
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def bpm(self) -> float:
        return self.clock.bpm

    def set_bpm(self, bpm: float) -> None:
        """Change the internal tempo at the next beat (ignored while following a clock)."""
        if bpm not in BPM:
            raise ValueError(f"tempo must be {BPM.describe()} BPM, not {bpm}")
        if self.external:
            return
        with self._cond:
            tick = self.clock.set_tempo(bpm, time.monotonic_ns())
            when = self.clock.time_of(tick) if tick is not None else None
            self._cond.notify_all()
        if tick is not None:
            self._emit(LiveEvent("tempo", tick // TICKS_PER_BAR, when or 0, f"{bpm:g}"))

    def position(self) -> float | None:
        """The position now in beats from the start, or None when not playing."""
        with self._cond:
            if not self.clock.running:
                return None
            return max(0.0, self.clock.tick_at(time.monotonic_ns()) / TICKS_PER_BEAT)

    def set_mix(self, mix: Mix) -> None:
        """New mute and solo sets, at once: silenced tracks get their note-offs now."""
        with self._cond:
            self._mix = mix.copy()  # the caller's goes on changing on its own thread
            for track, pitches in enumerate(self._sounding):
                if pitches and not self._mix.audible(track):
                    self._silence(track)

    def change_at_next_line(self, detail: str = "", line_ticks: int = TICKS_PER_BAR) -> None:
        """Play the source's next phrase from the next bar line (or, with `line_ticks`
        TICKS_PER_BEAT, beat) after it is ready, in place of what is queued: the caller has
        changed the source (new chords, a new clip, the jam's new loop) and dropped the phrases
        made before. The phrase keeps its place in the bar grid (its bar k plays at the song's
        bars k, k + length...), notes sounding across the line end there, and a "change" event
        with `detail` says from which bar (and beat) it plays. Until that phrase is ready,
        what is queued plays on."""
        if TICKS_PER_BAR % line_ticks:
            raise ValueError(f"a change starts on a bar's division, not every {line_ticks} ticks")
        with self._cond:
            self._splice = detail
            self._splice_line = line_ticks
            self._cond.notify_all()

    def resend_setup(self, port) -> None:
        """Programs again on a port that came back."""
        with self._cond:
            if self.program_changes:
                self._send_programs(port)

    # -- external clock, from the MIDI input's thread -------------------------------------

    def external_message(self, message: list[int], t_ns: int) -> None:
        """Follow one realtime message: Start, Continue, Stop, Song Position Pointer or clock."""
        status = message[0]
        with self._cond:
            if status == CLOCK:
                self._external_pulse(t_ns)
            elif status in (START, CONTINUE):
                if status == START:
                    self._song_tick = 0
                self._armed = True
            elif status == STOP:
                if self.clock.running or self._armed:
                    self._armed = False
                    self.clock.stop()
                    self._clear()
                    self._emit(LiveEvent("sync stopped", self._song_tick // TICKS_PER_BAR, t_ns))
                    if self.end_tick is not None and self._song_tick >= self.end_tick:
                        # The DAW played past the end and stopped: the stream is done, even
                        # where this side fell behind (a stalled machine) and never got there.
                        self._stopping = True
                        self._reason = f"finished ({self.end_tick // TICKS_PER_BAR} bars)"
            elif status == SONG_POSITION and len(message) == 3:
                sixteenths = message[1] | (message[2] << 7)
                self._song_tick = sixteenths * (TICKS_PER_BEAT // 4)
                if self.clock.running:  # a jump while playing: go on from there at the next pulse
                    self.clock.stop()
                    self._clear()
                    self._armed = True
            self._cond.notify_all()

    def _external_pulse(self, t_ns: int) -> None:
        # Between pulses, times come from the tempo; an event on the next pulse's own tick
        # waits for that pulse (the horizon), so nothing plays past where the DAW stopped.
        smoothed, bpm = self._follower.pulse(t_ns)
        if bpm is not None:
            self.clock.bpm = bpm
        if self._armed:
            # The first pulse after Start or Continue is the song position itself.
            self._armed = False
            self._follower.reset()
            self._follower.pulse(t_ns)
            self.clock.anchor(self._song_tick, t_ns, self.clock.bpm, self._song_tick + TICKS_PER_CLOCK - 1)
            self._restart_at(self._song_tick)
            self._emit(LiveEvent("sync started", self._song_tick // TICKS_PER_BAR, t_ns,
                                 f"{self.clock.bpm:.1f}"))
        elif self.clock.running:
            self._song_tick += TICKS_PER_CLOCK
            self.clock.anchor(self._song_tick, smoothed, self.clock.bpm, self._song_tick + TICKS_PER_CLOCK - 1)

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        self.priority = raise_priority() if self.realtime else "normal"
        try:
            if not self.external:
                self._start_internal()
            elif self.program_changes:
                with self._cond:
                    for port in self.ports.ports:
                        self._send_programs(port)
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    now = time.monotonic_ns()
                    self._top_up(now)
                    due = self._head_due()
                    if due is None or due - now > SPIN_NS:
                        wait = MAX_WAIT_S if due is None else min(MAX_WAIT_S, (due - now - SPIN_NS) / 1e9)
                        self._cond.wait(wait)
                        continue
                while time.monotonic_ns() < due:  # spin: holds the GIL for at most SPIN_NS
                    pass
                with self._cond:
                    now = time.monotonic_ns()
                    while self._heap and not self._stopping:
                        due = self.clock.time_of(self._heap[0][0])
                        if due is None or due > now:
                            break
                        self._dispatch(heapq.heappop(self._heap), due)
        except BaseException as error:  # noqa: B036 - reported, then every way out silences
            self.error = error
            self._reason = f"error: {type(error).__name__}: {error}"
            self._emit(LiveEvent("error", None, time.monotonic_ns(), self._reason))
        finally:
            self._finish()

    def _start_internal(self) -> None:
        phrase = None
        while phrase is None:
            with self._cond:
                if self._stopping:
                    return
                phrase = self._next_phrase()
                if phrase is None:
                    self._cond.wait(0.01)
        with self._cond:
            if self.program_changes:
                for port in self.ports.ports:
                    self._send_programs(port)
            t0 = time.monotonic_ns() + PREROLL_NS
            self.clock.start(t0)
            if self.clock_out:
                self._push_event(0, _CLOCK, -1, START, 0)  # queued first: just before the first pulse
            self._push(phrase)
        self._emit(LiveEvent("started", 0, t0, f"{self.clock.bpm:g}"))

    def _finish(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            for track in range(len(self.tracks)):
                self._sounding[track].clear()
            self.ports.panic()
            if self.clock_out:
                self.ports.main.send([STOP])
        self._emit(LiveEvent("stopped", None, time.monotonic_ns(), self._reason))

    # -- with the condition held ----------------------------------------------------------

    def _head_due(self) -> int | None:
        return self.clock.time_of(self._heap[0][0]) if self._heap else None

    def _top_up(self, now: int) -> None:
        """Queue the next phrase once the queued events run less than LOOKAHEAD_TICKS ahead."""
        if not self.clock.running:
            return
        tick_now = self.clock.tick_at(now)
        if self._splice is not None:
            phrase = self._next_phrase()
            if phrase is not None:
                self._splice_in(phrase, tick_now, self._splice)
                self._splice = None
        while self._queued_until - tick_now < LOOKAHEAD_TICKS:
            if self.end_tick is not None and self._queued_until >= self.end_tick:
                return
            phrase = self._next_phrase()
            if phrase is None:
                if self._queued_until - tick_now > LATE_TICKS or self._last_phrase is None:
                    return
                phrase = self._last_phrase
                self._emit(LiveEvent("late", self._queued_until // TICKS_PER_BAR, now,
                                     "the next phrase was not ready: playing the last one again"))
            elif self._splice is not None:  # the changed phrase came in time for its place anyway
                self._emit(LiveEvent("change", self._queued_until // TICKS_PER_BAR,
                                     self.clock.time_of(self._queued_until) or 0, self._splice))
                self._splice = None
            self._push(phrase)

    def _push(self, phrase: Phrase, from_tick: int | None = None, chase: bool = False) -> None:
        """Queue a phrase at `_queued_until` (its events from `from_tick` on). `chase`: a
        note that would be sounding at `from_tick` starts there (a change spliced in at a
        beat: the new accompaniment's held chord is heard from that beat, not the next bar);
        else it is left out (a DAW's Continue from a song position)."""
        base, end = self._queued_until, self.end_tick
        first = base if from_tick is None else from_tick
        for start, stop, track, pitch, velocity in phrase.notes:
            on, off = base + start, base + stop
            if chase and on < first < off:
                on = first
            if on < first or (end is not None and on >= end):
                continue
            self._push_event(on, _ON, track, pitch, velocity)
            self._push_event(off if end is None else min(off, end), _OFF, track, pitch, 0)
        for bar_tick in range(base, base + phrase.n_ticks, TICKS_PER_BAR):
            if bar_tick >= first and (end is None or bar_tick < end):
                self._push_event(bar_tick, _BAR, -1, 0, 0)
        if self.clock_out:
            for pulse in range(base, base + phrase.n_ticks, TICKS_PER_CLOCK):
                if pulse >= first and (end is None or pulse < end):
                    self._push_event(pulse, _CLOCK, -1, CLOCK, 0)
        self._queued_until = base + phrase.n_ticks
        self._last_phrase = phrase
        if end is not None and self._queued_until >= end:
            self._push_event(end, _END, -1, 0, 0)

    def _splice_in(self, phrase: Phrase, tick_now: int, detail: str) -> None:
        """`phrase` from the first line SPLICE_GUARD_TICKS or more ahead, in place of the
        queued events from there on (see `change_at_next_line`)."""
        line = self._splice_line
        at = -(-int(tick_now + SPLICE_GUARD_TICKS) // line) * line
        if self.end_tick is not None and at >= self.end_tick:
            return
        kept, ending = [], set()
        for event in self._heap:
            tick, kind, _, track, a, _ = event
            if tick < at:
                kept.append(event)
            elif kind == _OFF:
                ending.add((track, a))
        heapq.heapify(kept)
        self._heap = kept
        for track, pitch in sorted(ending):  # a no-op for notes that have not started by then
            self._push_event(at, _OFF, track, pitch, 0)
        self._queued_until = at - at % phrase.n_ticks  # where the phrase would start in the grid
        self._push(phrase, from_tick=at, chase=True)
        self._emit(LiveEvent("change", at // TICKS_PER_BAR, self.clock.time_of(at) or 0, detail,
                             beat=at % TICKS_PER_BAR // TICKS_PER_BEAT))

    def _push_event(self, tick: int, kind: int, track: int, a: int, b: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (tick, kind, self._seq, track, a, b))

    def _restart_at(self, tick: int) -> None:
        """Play on from song position `tick` (external clock): the phrase of that place."""
        self._clear()
        phrase = self._last_phrase or self._next_phrase()
        if phrase is None:
            return
        self._queued_until = tick - tick % phrase.n_ticks
        self._push(phrase, from_tick=tick)

    def _clear(self) -> None:
        self._heap.clear()
        for track in range(len(self.tracks)):
            self._silence(track)

    def _dispatch(self, event: tuple[int, int, int, int, int, int], due: int) -> None:
        tick, kind, _, track, a, b = event
        if kind == _ON:
            if self._mix.audible(track):
                channel = self.channels[track]
                if a in self._sounding[track]:  # the same pitch again: end the old one first
                    self.ports.for_track(track).send([NOTE_OFF | channel, a, 0])
                self.ports.for_track(track).send([NOTE_ON | channel, a, b])
                self._sounding[track].add(a)
        elif kind == _OFF:
            if a in self._sounding[track]:
                self._sounding[track].discard(a)
                self.ports.for_track(track).send([NOTE_OFF | self.channels[track], a, 0])
        elif kind == _CLOCK:
            self.ports.main.send([a])
        elif kind == _BAR:
            self._emit(LiveEvent("bar", tick // TICKS_PER_BAR, due))
        elif kind == _END:
            self._stopping = True
            self._reason = f"finished ({tick // TICKS_PER_BAR} bars)"

    def _silence(self, track: int) -> None:
        port, channel = self.ports.for_track(track), self.channels[track]
        for pitch in sorted(self._sounding[track]):
            port.send([NOTE_OFF | channel, pitch, 0])
        self._sounding[track].clear()

    def _send_programs(self, port) -> None:
        for track, channel in enumerate(self.channels):
            if self.ports.for_track(track) is port and not self.tracks[track].is_drum:
                port.send([PROGRAM_CHANGE | channel, self.tracks[track].program])


