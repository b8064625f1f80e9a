"""Where each track plays live: its MIDI port and channel, in the words a DAW's MIDI set-up uses.

The layout is the engine's (`assign_ports`: drums on channel 10, the other tracks on
channels of their own, past fifteen of them on a second port); this module only words it,
counting ports and channels from 1 as DAWs do. Plain Python, no Qt.
"""

from __future__ import annotations

from bytes2beats.engine.music_io import assign_ports, port_name_at, ports_needed
from bytes2beats.engine.pianoroll import Track


def channel_label(port: int, channel: int) -> str:
    """A row's short label: "ch 10" on the first port, "port 2 · ch 1" past it (most models
    need one port, and a label on every row naming it would only repeat it)."""
    return f"ch {channel + 1}" if port == 0 else f"port {port + 1} · ch {channel + 1}"


def channel_tip(track: Track, port: int, channel: int, first: str, ports: int) -> str:
    """A row's tooltip: the port's name and the channel, and why a second port when there is one."""
    where = f"MIDI channel {channel + 1} of the port “{port_name_at(first, port)}”"
    if track.is_drum:
        where += " (General MIDI's drum channel)"
    tip = f"Live (Play, and `bytes2beats stream`), {track.name} plays on {where}."
    if ports > 1:
        tip += (f" This model's tracks need {ports} ports: one port's sixteen channels hold the drums"
                " and fifteen other tracks.")
    return tip


def track_channels(tracks: list[Track], first: str) -> list[tuple[str, str]]:
    """(label, tooltip) for each track, in order."""
    layout, ports = assign_ports(tracks), ports_needed(tracks)
    return [(channel_label(port, channel), channel_tip(track, port, channel, first, ports))
            for track, (port, channel) in zip(tracks, layout)]
