"""A live session: a source of phrases, the clock that plays them, and the ports they go to.

Threads (all daemons, all started by `start()`):
- "b2b-live-clock": the BarScheduler, which sends every event at its time;
- "b2b-live-worker": makes the next phrase ahead of time (the model runs here, never on
  the clock's thread) and watches the ports, reconnecting a receiver that comes back;
- "b2b-live-events": calls `on_event` with each LiveEvent, so that a slow callback cannot
  hold up the clock. Without `on_event`, events are put in `session.events` to poll.
- with external sync, rtmidi's input thread delivers the DAW's clock.

`on_event` runs on "b2b-live-events", not on the caller's thread: a GUI must hand the
event over to its own thread (a Qt signal does) before touching widgets.
"""

from __future__ import annotations

import atexit
import gc
import queue
import threading
import time
from collections.abc import Callable

from ..mix import Mix
from .clock import TICKS_PER_BEAT
from .ports import OutputPorts
from .scheduler import BarScheduler, LiveEvent
from .sources import TICKS_PER_BAR, ModelStream
from .sync import SyncInput

PORT_CHECK_S = 0.2


class LiveSession:
    """Stream phrases from `source` to `ports`, in time.

    Parameters
    ----------
    source : ClipLoop or ModelStream (anything with `tracks` and `next_phrase()`)
    ports : OutputPorts; the session closes them in `close()`
    bpm : internal tempo
    bars : stop after this many bars; None streams until `stop()`
    sync : a SyncInput to follow an external clock; None for the internal clock
    clock_out : send MIDI clock with Start and Stop (internal clock only)
    program_changes : send the tracks' programs at the start
    on_event : called with each LiveEvent on the session's event thread
    lookahead_phrases : phrases made ahead of the one queued on the clock (at least 1)
    realtime : ask for a realtime priority for the clock's thread (granted or not: see
        `session.scheduler.priority`)
    freeze_gc : `gc.freeze()` at start, so that a full garbage collection (which holds
        the GIL, and so the clock, for as long as it takes) need not walk torch's heap
    """

    def __init__(self, source, ports: OutputPorts, *, bpm: float = 120.0, bars: int | None = None,
                 sync: SyncInput | None = None, clock_out: bool = False, program_changes: bool = True,
                 on_event: Callable[[LiveEvent], None] | None = None, lookahead_phrases: int = 1,
                 realtime: bool = True, freeze_gc: bool = True):
        if bars is not None and bars < 1:
            raise ValueError("bars must be 1 or more")
        if clock_out and sync is not None:
            raise ValueError("MIDI clock out needs the internal clock, not an external one")
        self.source = source
        self.ports = ports
        self.sync = sync
        self.tracks = list(source.tracks)
        self.events: queue.Queue[LiveEvent] = queue.Queue()
        self.on_event = on_event
        # Phrases made ahead, each with the generation of the source it was made from: a
        # change (`change_source`) starts a new generation, and older phrases are dropped.
        self._ready: queue.Queue = queue.Queue(maxsize=max(1, lookahead_phrases))
        self._generation = 0
        self._outbox: queue.SimpleQueue[LiveEvent | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._mix = Mix()
        self.scheduler = BarScheduler(
            ports, self.tracks, self._take_phrase, self._queue_event, bpm=bpm, bars=bars,
            external=sync is not None, clock_out=clock_out, program_changes=program_changes,
            realtime=realtime,
        )
        self.freeze_gc = freeze_gc
        self._worker = threading.Thread(target=self._work, name="b2b-live-worker", daemon=True)
        self._notifier = threading.Thread(target=self._notify, name="b2b-live-events", daemon=True)
        self._started = False
        self._failure: str | None = None

    # -- the public controls (any thread) --------------------------------------------------

    def start(self) -> None:
        """Start streaming; returns at once (the first bar follows when its phrase is ready)."""
        if self._started:
            raise RuntimeError("a LiveSession starts once; make a new one to play again")
        self._started = True
        if self.freeze_gc:
            # A full collection of the heap torch builds stops every thread for 100+ ms
            # (measured: 132 ms on the test machine): move what exists now out of the
            # collector's reach, so that later collections only look at new objects.
            gc.collect()
            gc.freeze()
        atexit.register(self.close)
        self._notifier.start()
        self._worker.start()
        self.scheduler.start()
        if self.sync is not None:
            self.sync.attach(self.scheduler.external_message)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop: note-offs for the sounding notes, then CC123 and CC120 on the channels used."""
        self._stop.set()
        self.scheduler.stop()
        if self._started:
            self.scheduler.join(timeout)
            self._worker.join(timeout)
            self._outbox.put(None)
            if threading.current_thread() is not self._notifier:
                self._notifier.join(timeout)

    def close(self) -> None:
        """Stop, then close the ports and the sync input."""
        self.stop()
        atexit.unregister(self.close)
        if self.sync is not None:
            self.sync.close()
            self.sync = None
        if self.ports is not None:
            self.ports.close()
            self.ports = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream ends by itself (bars played, an error); True if it has."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.scheduler.alive:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.scheduler.join(0.1 if left is None else min(0.1, left))
        return True

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def playing(self) -> bool:
        return self._started and self.scheduler.alive

    @property
    def failure(self) -> str | None:
        """Why the stream stopped on an error (the clock's or the model's), else None."""
        return self._failure

    @property
    def bpm(self) -> float:
        return self.scheduler.bpm

    def set_bpm(self, bpm: float) -> None:
        """The new tempo starts at the next beat (ignored while following an external clock)."""
        self.scheduler.set_bpm(float(bpm))

    def track_index(self, track: str | int) -> int:
        """A track by index or name (case-insensitive)."""
        names = [t.name.lower() for t in self.tracks]
        if isinstance(track, int) or str(track).isdigit():
            if 0 <= int(track) < len(self.tracks):
                return int(track)
        elif str(track).lower() in names:
            return names.index(str(track).lower())
        raise KeyError(f"no track {track!r}; tracks are {', '.join(t.name for t in self.tracks)}")

    def mute(self, track: str | int, muted: bool = True) -> None:
        """Mute (or unmute) a track at once; its sounding notes end now."""
        self._mix.mute(self.track_index(track), muted)
        self.scheduler.set_mix(self._mix)

    def solo(self, track: str | int, soloed: bool = True) -> None:
        """Solo (or unsolo) a track at once: while any is soloed, only soloed tracks play."""
        self._mix.solo(self.track_index(track), soloed)
        self.scheduler.set_mix(self._mix)

    def set_mix(self, muted: set[int], soloed: set[int]) -> None:
        """Every track's mute and solo at once (the window's mixer): one change, not a note
        cut by each step on the way."""
        self._mix = Mix(set(muted), set(soloed))
        self.scheduler.set_mix(self._mix)

    @property
    def muted(self) -> set[int]:
        return set(self._mix.muted)

    @property
    def soloed(self) -> set[int]:
        return set(self._mix.soloed)

    def change_source(self, change: Callable[[], None] | None = None, detail: str = "",
                      on_beat: bool = False) -> None:
        """Change the source (`change` does it, e.g. sets new chords) and play it from the
        next bar line on (`on_beat`: the next beat, as soon as the phrase is ready) rather
        than after the phrases made ahead: those are dropped, and the scheduler splices the
        first phrase made since into the bar grid (a "change" event with `detail` says from
        which bar and beat). Any thread."""
        if change is not None:
            change()
        self._generation += 1  # one store: the worker and the clock read it
        while True:
            try:
                self._ready.get_nowait()
            except queue.Empty:
                break
        self.scheduler.change_at_next_line(detail, TICKS_PER_BEAT if on_beat else TICKS_PER_BAR)

    def set_chords(self, chords: list | None, detail: str = "") -> None:
        """New chords (one per beat, as ModelStream takes them) from the next bar on."""
        if not isinstance(self.source, ModelStream):
            raise ValueError("only a model's stream plays to chords")
        self.change_source(lambda: setattr(self.source, "chords", chords), detail)

    def position(self) -> float | None:
        """Beats since the start, or None while not playing."""
        return self.scheduler.position()

    # -- threads ---------------------------------------------------------------------------

    def _take_phrase(self):
        while True:
            try:
                generation, phrase = self._ready.get_nowait()
            except queue.Empty:
                return None
            if generation == self._generation:
                return phrase

    def _queue_event(self, event: LiveEvent) -> None:
        if event.kind == "error" and self._failure is None:
            self._failure = event.detail
        self._outbox.put(event)
        if event.kind == "stopped":
            self._stop.set()

    def _work(self) -> None:
        next_check = 0.0
        pending = None
        while not self._stop.is_set():
            if pending is not None and pending[0] != self._generation:
                pending = None  # made before a change: make it again
            if pending is None:
                try:
                    generation = self._generation
                    pending = (generation, self.source.next_phrase())
                except Exception as error:  # the model failed: say so and stop, with panic
                    self._queue_event(LiveEvent("error", None, time.monotonic_ns(),
                                                f"making the next phrase failed: {type(error).__name__}: {error}"))
                    self.scheduler.stop(f"error: {error}")
                    return
            try:
                self._ready.put(pending, timeout=PORT_CHECK_S / 2)
                pending = None
            except queue.Full:
                pass
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + PORT_CHECK_S
                self._check_ports()

    def _check_ports(self) -> None:
        for port in self.ports.ports if self.ports else []:
            change = port.check()
            if change == "lost":
                port.panic()  # best effort: a port that errored may still reach its receiver
                self._queue_event(LiveEvent("port lost", None, time.monotonic_ns(), port.name))
            elif change == "back":
                port.panic()  # whatever it heard before it went, it hears silence first
                self.scheduler.resend_setup(port)
                self._queue_event(LiveEvent("port back", None, time.monotonic_ns(), port.name))

    def _notify(self) -> None:
        while True:
            event = self._outbox.get()
            if event is None:
                return
            if self.on_event is None:
                self.events.put(event)
                continue
            try:
                self.on_event(event)
            except Exception as error:  # a broken callback must not stop the music
                self.events.put(LiveEvent("error", event.bar, event.time_ns, f"on_event failed: {error}"))
