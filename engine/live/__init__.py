"""Live streaming of generated bars to a DAW over MIDI ports, in time.

The GUI and the `bytes2beats stream` command use this much:

    source = ModelStream(composer, seed=0, variation=0.3)      # or ClipLoop(clip)
    ports = open_outputs(source.tracks, api="auto")  # PortError: one line; 17 families: two ports
    session = LiveSession(source, ports, bpm=120, on_event=print)
    session.start(); session.mute("Drums"); session.set_bpm(100); ...; session.close()

Nothing here imports Qt. `on_event` is called on the session's own thread, not the
caller's. docs/streaming.md has the design and the measured timing.
"""

from .clock import TICKS_PER_BEAT, BeatClock
from .inputs import StampedInput
from .ports import (
    VIRTUAL_PORT_NAME,
    ApiPorts,
    OutputPort,
    OutputPorts,
    PortError,
    RtMidiOutput,
    api_order,
    compiled_apis,
    list_ports,
    open_outputs,
)
from .scheduler import BarScheduler, LiveEvent
from .session import LiveSession
from .sources import ClipLoop, ModelStream, Phrase, to_phrase
from .sync import SyncInput

__all__ = [
    "TICKS_PER_BEAT", "VIRTUAL_PORT_NAME", "ApiPorts", "BarScheduler", "BeatClock", "ClipLoop",
    "LiveEvent", "LiveSession", "ModelStream", "OutputPort", "OutputPorts", "Phrase", "PortError",
    "RtMidiOutput", "StampedInput", "SyncInput", "api_order", "compiled_apis", "list_ports", "open_outputs", "to_phrase",
]
