"""Play/Stop: the current clip looped to a MIDI port through the engine's LiveSession.

The session keeps time on its own threads; this object only starts and stops it, passes
on mute, solo and tempo, and turns the session's events into Qt signals (delivered on
the GUI thread). Every way out of playback goes through `stop()`, which sends note-offs
and panic (the session does).
"""

from __future__ import annotations

from bytes2beats.engine.pianoroll import Multitrack
from PySide6.QtCore import QObject, QTimer, Signal

SYNC_MODES = {"internal": "Internal clock", "clock-out": "Internal clock, send MIDI clock",
              "external": "Follow the DAW's MIDI clock"}


class LivePlayer(QObject):
    """Loops a clip to the virtual port "Bytes to Beats" (or the one named) while playing."""

    playingChanged = Signal(bool)
    portState = Signal(str)  # words for the status bar
    event = Signal(object)  # engine LiveEvent, on the GUI thread
    failed = Signal(str)
    position = Signal(float)  # the playhead, in steps into the clip

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.session = None
        self.loop = None
        self.listen = None  # the jam's MIDI input, while jamming
        self.api = "auto"
        self.port_name = None
        # an existing input port to connect to (for a model of two ports, a list: the second port's
        # too), else virtual ports
        self.connect_to: str | list[str] | None = None
        self.sync_mode = "internal"
        self._steps = (4, 1)  # (steps per beat, steps in the clip)
        self._timer = QTimer(self)
        self._timer.setInterval(33)
        self._timer.timeout.connect(self._tick)
        self.event.connect(self._on_event)

    @property
    def playing(self) -> bool:
        return self.session is not None

    def start(self, clip: Multitrack, muted: set[int], soloed: set[int]) -> bool:
        """Start looping `clip`; False (and `failed`) when no port could be opened."""
        if self.session is not None:
            return True
        try:
            from bytes2beats.engine.live import (
                VIRTUAL_PORT_NAME,
                ClipLoop,
                LiveSession,
                SyncInput,
                open_outputs,
            )

            name = self.port_name or VIRTUAL_PORT_NAME
            # the Tracks, not their names: 17 families take a second port (engine.music_io.assign_ports)
            ports = open_outputs(list(clip.tracks), api=self.api, port_name=name, connect=self.connect_to)
            sync = SyncInput(api=self.api) if self.sync_mode == "external" else None
            self.loop = ClipLoop(clip)
            self.session = LiveSession(self.loop, ports, bpm=clip.tempo, sync=sync,
                                       clock_out=self.sync_mode == "clock-out",
                                       on_event=self.event.emit, freeze_gc=False)
            self.session.set_mix(muted, soloed)
            self.session.start()
        except Exception as error:  # no MIDI system, no server, a port refused: a message
            return self._refused(f"Cannot play: {error}")
        self._steps = (clip.steps_per_beat, clip.n_steps)
        self._timer.start()
        names = ", ".join(getattr(port, "name", name) for port in ports.ports)
        self.portState.emit(f"MIDI: {names} ({getattr(ports.main, 'api', self.api)})")
        self.playingChanged.emit(True)
        return True

    def start_jam(self, composer, genre: str | None, loop_bars: int, track: int, bpm: float,
                  seed: int = 0, feel: float | None = None) -> bool:
        """Jam: listen on a virtual input "<port> jam" for the user's looped part on `track`
        and play the other tracks along with it from its second pass (engine/live/jam.py);
        False (and `failed`) when no port could be opened."""
        if self.session is not None:
            return True
        try:
            from bytes2beats.engine.live import (
                VIRTUAL_PORT_NAME,
                LiveSession,
                StampedInput,
                SyncInput,
                open_outputs,
            )
            from bytes2beats.engine.live.jam import Jam, JamSource

            name = self.port_name or VIRTUAL_PORT_NAME
            source = JamSource(composer, loop_bars, seed, genre, track, feel=feel)
            jam = Jam(source)
            ports = open_outputs(list(source.tracks), api=self.api, port_name=name, connect=self.connect_to)
            self.listen = StampedInput(getattr(ports.main, "api", self.api), f"{name} jam")
            sync = SyncInput(api=self.api) if self.sync_mode == "external" else None

            def on_event(event) -> None:  # the session's events thread
                if event.kind == "bar":
                    jam.on_bar(event.bar)
                self.event.emit(event)

            self.session = LiveSession(source, ports, bpm=bpm, sync=sync, clock_out=self.sync_mode == "clock-out",
                                       on_event=on_event, freeze_gc=False)
            jam.attach(self.session, self.listen)
            self.session.start()
        except Exception as error:  # no MIDI system, no server, a port refused: a message
            return self._refused(f"Cannot jam: {error}")
        self.portState.emit(f"Jam: play your {loop_bars}-bar {composer.config.tracks[track].name} loop into "
                            f"'{self.listen.name}'")
        self.playingChanged.emit(True)
        return True

    def _refused(self, message: str) -> bool:
        """A session that could not start: nothing left open, one message; False."""
        self._drop()
        self.portState.emit("MIDI: not connected")
        self.failed.emit(message)
        return False

    def stop(self) -> None:
        if self.session is None:
            return
        self._drop()
        self.position.emit(-1.0)
        self.portState.emit("MIDI: stopped")
        self.playingChanged.emit(False)

    def _drop(self) -> None:
        self._timer.stop()
        session, self.session, self.loop = self.session, None, None
        listen, self.listen = self.listen, None
        if session is not None:
            try:
                session.close()
            except Exception as error:
                self.failed.emit(f"Stopping playback: {error}")
        if listen is not None:
            listen.close()

    def set_clip(self, clip: Multitrack) -> None:
        """Play another clip from the next bar on, in its place in the loop (the same
        tracks), or restart for new ones."""
        if self.session is None or self.loop is None:  # stopped, or jamming: the jam makes its own
            return
        if [t.name for t in clip.tracks] != [t.name for t in self.loop.tracks]:
            muted, soloed = self.session.muted, self.session.soloed
            self.stop()
            self.start(clip, muted, soloed)
            return
        from bytes2beats.engine.live import to_phrase

        phrase, loop = to_phrase(clip), self.loop
        self.session.change_source(lambda: setattr(loop, "phrase", phrase), "new clip")
        self._steps = (clip.steps_per_beat, clip.n_steps)

    def set_mix(self, muted: set[int], soloed: set[int]) -> None:
        if self.session is None:
            return
        self.session.set_mix(muted, soloed)

    def set_bpm(self, bpm: float) -> None:
        if self.session is not None:
            self.session.set_bpm(bpm)

    def _tick(self) -> None:
        if self.session is None:
            return
        beats = self.session.position()
        if beats is not None:
            steps_per_beat, n_steps = self._steps
            self.position.emit((beats * steps_per_beat) % max(1, n_steps))

    def _on_event(self, event) -> None:
        if event.kind == "change" and self.listen is not None:
            beat = f", beat {event.beat + 1}" if event.beat else ""
            self.portState.emit(f"Jam: {event.detail} (from bar {event.bar + 1}{beat})")
        if event.kind in ("port lost", "port back"):
            self.portState.emit(f"MIDI: {event.kind} ({event.detail})")
        elif event.kind == "error":
            self.failed.emit(f"Playback stopped: {event.detail}")
        if event.kind in ("stopped", "error") and self.session is not None:
            self.stop()
