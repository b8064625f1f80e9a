"""Standard MIDI File events read straight from the file's bytes, without mido's objects.

mido builds a Python object of about 260 bytes for every event of a file, kept until the
whole file is read: an 11 MB file of program changes took 800 MB before a note was looked
at. Here events are yielded one by one as plain tuples, so a reader keeps only what it needs
(the notes), and every event counts against a limit as it is read, so a file of millions
of events is refused after the first million rather than parsed to the end.

The bytes are read as mido 1.3 reads them (signed header fields, running status also after
sysex, a meta event's length as a variable-length number, mido's refusals of undefined
status bytes and data bytes over 127); tests/test_music_io.py checks that the notes come out
as mido's on real files. Where mido reads on past a track's end, this refuses the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .file_limits import FileLimitError

META = 0xFF
# Data bytes after the status byte of system messages (mido's specs); sysex (0xF0, 0xF7) and
# meta events (0xFF) carry a length instead, and 0xF4, 0xF5, 0xF9 and 0xFD are undefined.
_SYSTEM_DATA_BYTES = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}
PAST_THE_END = "an event runs past the end of its track"


class SmfError(ValueError):
    """Bytes that are not a Standard MIDI File, or one that claims more than it may."""


def read_header(data: bytes) -> tuple[int, int, int, int]:
    """(format, number of tracks, ticks per beat, offset of the first chunk after the header).

    The three fields are signed, as mido reads them: a negative division (SMPTE time) comes
    back negative for the caller to refuse.
    """
    if len(data) < 8 or data[:4] != b"MThd":
        raise SmfError("MThd not found. Probably not a MIDI file")
    (size,) = struct.unpack(">L", data[4:8])
    if size < 6 or len(data) < 8 + 6:
        raise SmfError("the file ends inside its header")
    midi_format, n_tracks, division = struct.unpack(">hhh", data[8:14])
    return midi_format, n_tracks, division, 8 + size


def iter_events(data: bytes, max_events: int) -> Iterator[tuple[int, int, int, int, int | bytes]]:
    """Every event of every track as (track, delta ticks, status, first, second).

    Channel messages: status 0x80-0xEF and their data bytes (second 0 for those with one).
    Meta events: status 0xFF, first the meta type, second its data as bytes. Sysex (0xF0,
    0xF7) and system messages: first and second 0. Chunks other than MTrk are skipped, as
    the standard asks. FileLimitError past `max_events` events (counted as they are read);
    SmfError on bytes that are no MIDI file.
    """
    _, n_tracks, _, offset = read_header(data)
    count = [0]  # events read so far, by all the tracks' readers
    for track in range(max(0, n_tracks)):
        start, offset = _next_track(data, offset)
        yield from _track_events(data, start, offset, track, count, max_events)


def _next_track(data: bytes, offset: int) -> tuple[int, int]:
    """(start, end) of the next MTrk chunk's events from `offset`, skipping other chunks."""
    while True:
        if offset + 8 > len(data):
            raise SmfError("the file ends before its last track")
        name, size = struct.unpack(">4sL", data[offset : offset + 8])
        start, end = offset + 8, offset + 8 + size
        if end > len(data):
            raise SmfError("the file ends inside a track")
        if name == b"MTrk":
            return start, end
        if not name.isalnum():  # not a chunk name at all: the bytes are something else
            raise SmfError("no MTrk header at start of track")
        offset = end


def _track_events(data: bytes, pos: int, end: int, track: int, count: list[int],
                  max_events: int) -> Iterator[tuple[int, int, int, int, int | bytes]]:
    """(track, delta, status, first, second) of each event between `pos` and `end`, each
    counted in `count[0]`."""
    last_status = None
    while pos < end:
        count[0] += 1
        if count[0] > max_events:
            raise FileLimitError(f"more than {max_events:,} events (the most a song may have)")
        delta = data[pos]
        if delta < 0x80:  # most deltas take one byte
            pos += 1
        else:
            delta, pos = _variable_int(data, pos, end)
        status, pos = _byte(data, pos, end), pos + 1
        if status < 0x80:  # running status: this byte is the first data byte
            if last_status is None:
                raise SmfError("running status without last_status")
            status, pos = last_status, pos - 1
            if status in (0xF0, 0xF7):
                pos += 1  # mido drops the byte it peeked at before a running sysex
        elif status != META:  # meta events do not set running status
            last_status = status
        if status < 0xF0:  # a channel message: one data byte for programs and pressure, else two
            n = 1 if 0xC0 <= status < 0xE0 else 2
            if pos + n > end:
                raise SmfError(PAST_THE_END)
            first, second = data[pos], data[pos + 1] if n == 2 else 0
            if first > 127 or second > 127:
                raise SmfError("data byte must be in range 0..127")
            pos += n
            yield track, delta, status, first, second
        elif status == META:
            meta_type, pos = _byte(data, pos, end), pos + 1
            length, pos = _variable_int(data, pos, end)
            if pos + length > end:
                raise SmfError(PAST_THE_END)
            yield track, delta, META, meta_type, data[pos : pos + length]
            pos += length
        elif status in (0xF0, 0xF7):
            length, pos = _variable_int(data, pos, end)
            if pos + length > end:
                raise SmfError(PAST_THE_END)
            pos += length
            yield track, delta, status, 0, 0
        else:
            n = _SYSTEM_DATA_BYTES.get(status)
            if n is None:
                raise SmfError(f"undefined status byte 0x{status:02x}")
            if pos + n > end:
                raise SmfError(PAST_THE_END)
            if any(b > 127 for b in data[pos : pos + n]):
                raise SmfError("data byte must be in range 0..127")
            pos += n
            yield track, delta, status, 0, 0


def _byte(data: bytes, pos: int, end: int) -> int:
    if pos >= end:
        raise SmfError(PAST_THE_END)
    return data[pos]


def _variable_int(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A MIDI variable-length number at `pos` and the position after it."""
    value = 0
    for _ in range(4):  # the standard's numbers take at most four bytes (28 bits)
        byte = _byte(data, pos, end)
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise SmfError("a variable-length number of more than four bytes")
