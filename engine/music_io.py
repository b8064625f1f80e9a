"""Reading and writing music files: Standard MIDI Files and the LPD's pypianoroll `.npz`.

Plain functions with fixed verbs: `read_*` take a path and return a Multitrack, `write_*`
take a Multitrack and a path. Every failure is a MusicFileError whose message is one line
naming the file and the reason; nothing here prints a traceback at a user.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from .atomic import atomic_write
from .failures import one_line, os_reason
from .families import family_index, family_tracks
from .file_limits import (
    MAX_BEATS,
    MAX_EVENTS,
    MAX_FILE_BYTES,
    MAX_INSTRUMENTS,
    MAX_NOTES,
    MAX_RESOLUTION,
    MAX_ROLL_BYTES,
    MAX_SONG_NPZ_BYTES,
    FileLimitError,
    npz_members,
)
from .pianoroll import BEATS_PER_BAR, N_PITCHES, Multitrack, Track, notes_to_roll
from .smf import META, SmfError, iter_events, read_header

MIDI_SUFFIXES = {".mid", ".midi", ".kar", ".smf"}
NPZ_SUFFIXES = {".npz"}
PPQ = 480
DRUM_CHANNEL = 9  # channel 10 as musicians count


class MusicFileError(Exception):
    """A file that cannot be read or written; str() is one line naming file and reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = " ".join(reason.splitlines())  # a file's own text in a reason could break the line
        super().__init__(" ".join(f"{self.path}: {self.reason}".splitlines()))


def read_music(path: str | os.PathLike, steps_per_beat: int = 24, track_set: int | None = None) -> Multitrack:
    """Read a MIDI file or an LPD `.npz` by its suffix (an `.npz` keeps its own resolution).

    With `track_set` (5 or 17), the song's instruments are merged into that set's families
    (engine/families.py) as they are read: a song of many instruments then costs no more
    memory than one of few.
    """
    suffix = Path(path).suffix.lower()
    if suffix in NPZ_SUFFIXES:
        return read_npz(path, track_set)
    if suffix in MIDI_SUFFIXES:
        return read_midi(path, steps_per_beat, track_set)
    raise MusicFileError(path, f"not a MIDI (.mid) or LPD (.npz) file (suffix {suffix or 'none'!r})")


def find_music_files(folder: str | os.PathLike) -> list[Path]:
    """Every MIDI and `.npz` file under a folder, recursively, in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MusicFileError(folder, "no such folder")
    suffixes = MIDI_SUFFIXES | NPZ_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def read_folder(
    folder: str | os.PathLike, steps_per_beat: int = 24
) -> Iterator[tuple[Path, Multitrack | MusicFileError]]:
    """Each music file of a folder with what it read as: a Multitrack or the error that says why not."""
    for path in find_music_files(folder):
        try:
            yield path, read_music(path, steps_per_beat)
        except MusicFileError as error:
            yield path, error


# ---------------------------------------------------------------------------------------
# LPD .npz


def read_npz(path: str | os.PathLike, track_set: int | None = None) -> Multitrack:
    """Read a Lakh Pianoroll Dataset `.npz` (pypianoroll's format) as a velocity Multitrack.

    The format is a NumPy archive: `info.json` (resolution, and per track index its name,
    program and is_drum), a `tempo` array, and each track's (time, 128) pianoroll as the three
    arrays of a compressed-sparse-column matrix. Read here with NumPy alone, not pypianoroll,
    which would bring matplotlib and SciPy (about 100 MB) into every install and the frozen
    app; tests/test_music_io.py checks this reader against pypianoroll on real LPD songs.
    With `track_set` (5 or 17), tracks merge into that set's families as they are read.

    Nothing is inflated before the zip directory and the arrays' headers are checked, and no
    pianoroll is allocated before the song's notes and length are (engine/file_limits.py).
    """
    _check_file(path)
    try:
        npz_members(path, MAX_SONG_NPZ_BYTES)
        with np.load(path, allow_pickle=False) as archive:
            resolution, tracks, tempo = _npz_info(archive)
            sparse = [_sparse_track(archive, f"pianoroll_{i}") for i in range(len(tracks))]
    except FileLimitError as error:
        raise MusicFileError(path, str(error)) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError, TypeError, IndexError,
            RecursionError) as error:
        raise MusicFileError(path, f"not a readable LPD .npz file ({short_reason(error)})") from None
    if not tracks:
        raise MusicFileError(path, "no tracks")
    n_steps = max(n for *_, n in sparse)
    if n_steps == 0:
        raise MusicFileError(path, "no notes")
    notes = sum(_csc_notes(values, rows, pitches, track.is_drum) for (values, rows, pitches, _), track
                in zip(sparse, tracks))
    _check_song(path, n_steps / resolution, notes, len(tracks))
    out_tracks = family_tracks(track_set) if track_set else tracks
    rolls = _empty_rolls(path, len(out_tracks), n_steps, resolution)
    for i, ((values, rows, pitches, _), track) in enumerate(zip(sparse, tracks)):
        if track_set:  # loudest velocity wins, as merge_to_families does
            roll = rolls[family_index(track.program, track.is_drum, track_set)]
            roll[rows, pitches] = np.maximum(roll[rows, pitches], values)
        else:
            rolls[i, rows, pitches] = values
    if not rolls.any():
        raise MusicFileError(path, "no notes")
    return Multitrack(out_tracks, rolls, resolution, tempo, Path(path).stem)


def _npz_info(archive) -> tuple[int, list[Track], float]:
    """(resolution, tracks, tempo in BPM) of an LPD archive; ValueError when they make no sense."""
    info = json.loads(bytes(archive["info.json"]).decode("utf-8"))
    if not isinstance(info, dict):
        raise ValueError("its info.json is not a table")
    resolution = info.get("resolution") or info.get("beat_resolution")
    if not isinstance(resolution, int) or not 0 < resolution <= MAX_RESOLUTION:
        raise ValueError(f"a resolution of {str(resolution)[:20]} steps a beat")
    tracks = []
    while str(len(tracks)) in info:
        meta = info[str(len(tracks))]
        program = (meta.get("program") or 0) if isinstance(meta, dict) else None
        if not isinstance(program, int) or not 0 <= program <= 127:
            raise ValueError(f"track {len(tracks)}: a program of {str(program)[:20]}")
        name = meta.get("name")
        tracks.append(Track(name if isinstance(name, str) else "", program, bool(meta.get("is_drum"))))
        if len(tracks) > MAX_INSTRUMENTS:
            raise FileLimitError(f"more than {MAX_INSTRUMENTS} tracks (the most a song may have)")
    tempo = archive["tempo"] if "tempo" in archive.files else np.zeros(0)
    if tempo.dtype.kind not in "iuf":  # complex, text, objects: no tempo
        raise ValueError(f"its tempo is {tempo.dtype}, not numbers")
    bpm = float(tempo.reshape(-1)[0]) if tempo.size else 120.0
    if not 0 < bpm < 10_000:  # NaN fails this too
        raise ValueError(f"a tempo of {bpm:g} BPM")
    return resolution, tracks, bpm


def _sparse_track(archive, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One track's notes as (velocities, steps, pitches, length in steps) from its CSC arrays
    (column = pitch), each checked before it is used to index anything."""
    data = archive[f"{name}_csc_data"]
    rows = archive[f"{name}_csc_indices"]
    starts = archive[f"{name}_csc_indptr"]
    shape = archive[f"{name}_csc_shape"]
    if data.dtype.kind not in "biuf" or any(a.dtype.kind not in "iu" for a in (rows, starts, shape)):
        raise ValueError(f"{name}: arrays of types {data.dtype}, {rows.dtype}, {starts.dtype}, {shape.dtype}")
    if shape.shape != (2,) or rows.ndim != 1 or data.shape != rows.shape:
        raise ValueError(f"{name}: a pianoroll of shape {tuple(shape.tolist())[:4]}")
    n_steps, n_pitches = (int(n) for n in shape)
    if n_pitches != N_PITCHES or starts.shape != (n_pitches + 1,) or n_steps < 0:
        raise ValueError(f"{name}: a pianoroll of shape ({n_steps}, {n_pitches})")
    if starts[0] != 0 or starts[-1] != len(rows) or (np.diff(starts) < 0).any():
        raise ValueError(f"{name}: its columns do not add up")
    if len(rows) and (rows.min() < 0 or rows.max() >= n_steps):
        raise ValueError(f"{name}: a note outside the pianoroll")
    pitches = np.repeat(np.arange(n_pitches), np.diff(starts))
    if data.dtype == bool:
        values = np.where(data, 100, 0)  # binarized LPD variants: a note at a middle velocity
    else:
        values = np.clip(np.nan_to_num(data), 0, 127)
    return values.astype(np.uint8), rows.astype(np.intp), pitches, n_steps


def _csc_notes(values: np.ndarray, rows: np.ndarray, pitches: np.ndarray, is_drum: bool) -> int:
    """How many notes a track's cells make, as Multitrack.notes would count them: each cell
    on a drum track, each run of cells on one pitch on the others."""
    active = values > 0
    if is_drum:
        return int(active.sum())
    steps, pitch = rows[active], pitches[active]
    # CSC lists cells pitch by pitch, by step within a pitch when canonical: not trusted
    key = pitch.astype(np.int64) * (int(steps.max(initial=0)) + 2) + steps
    if (np.diff(key) < 0).any():
        order = np.argsort(key, kind="stable")
        steps, pitch = steps[order], pitch[order]
    starts_note = np.ones(len(steps), dtype=bool)
    starts_note[1:] = (pitch[1:] != pitch[:-1]) | (steps[1:] != steps[:-1] + 1)
    return int(starts_note.sum())


# ---------------------------------------------------------------------------------------
# MIDI


def read_midi(path: str | os.PathLike, steps_per_beat: int = 24, track_set: int | None = None) -> Multitrack:
    """Read a type-0 or type-1 MIDI file onto a grid of `steps_per_beat`.

    Each (track, channel, program) that plays notes becomes one instrument; with `track_set`
    (5 or 17), instruments merge into that set's families as they are laid on the grid.
    Positions are taken in beats (ticks / ticks per beat), so tempo changes do not move notes
    off the grid. Meters of 1/4, 2/4 and 4/4 (POP909 marks its files 1/4) are read as 4/4
    bars; other meters are refused, since the model's bars are 4/4. Events are read without
    keeping them (engine/smf.py), and no pianoroll is allocated before the song's events,
    notes, instruments and length are counted (engine/file_limits.py).
    """
    _check_file(path)
    try:
        data = Path(path).read_bytes()
        midi_format, _, ticks_per_beat, _ = read_header(data)
        if midi_format == 2:
            raise MusicFileError(path, "type-2 MIDI (independent sequences) is not supported")
        if ticks_per_beat <= 0:
            raise MusicFileError(path, f"not a readable MIDI file (invalid ticks per beat: {ticks_per_beat})")
        song = _midi_notes(data, path)
    except FileLimitError as error:
        raise MusicFileError(path, str(error)) from None
    except (OSError, SmfError) as error:
        raise MusicFileError(path, f"not a readable MIDI file ({short_reason(error)})") from None
    if not song.instruments:
        raise MusicFileError(path, "no notes")

    scale = steps_per_beat / ticks_per_beat
    last_tick = max(end for notes in song.instruments.values() for _, end, _, _ in notes)
    _check_song(path, last_tick / ticks_per_beat, song.n_notes, len(song.instruments))
    steps_per_bar = steps_per_beat * BEATS_PER_BAR
    n_steps = max(steps_per_bar, int(np.ceil(last_tick * scale / steps_per_bar)) * steps_per_bar)

    keys = sorted(song.instruments)
    tracks = [Track(song.names.get(t, "") or f"Track {t}", program, channel == DRUM_CHANNEL)
              for t, channel, program in keys]
    out_tracks = family_tracks(track_set) if track_set else tracks
    rolls = _empty_rolls(path, len(out_tracks), n_steps, steps_per_beat)
    for i, (key, track) in enumerate(zip(keys, tracks)):
        stepped = [
            (int(round(s * scale)), max(int(round(e * scale)), int(round(s * scale)) + 1), p, v)
            for s, e, p, v in song.instruments.pop(key)  # each instrument's notes freed once laid out
        ]
        roll = notes_to_roll(stepped, n_steps, drum=track.is_drum)
        if track_set:  # loudest velocity wins, as merge_to_families does
            target = rolls[family_index(track.program, track.is_drum, track_set)]
            np.maximum(target, roll, out=target)
        else:
            rolls[i] = roll
    return Multitrack(out_tracks, rolls, steps_per_beat, song.tempo, Path(path).stem)


@dataclass
class _MidiNotes:
    """What read_midi takes from a file's events: notes by instrument, names, first tempo."""

    instruments: dict = field(default_factory=dict)  # (track, channel, program) -> [(start, end, pitch, velocity)]
    names: dict = field(default_factory=dict)  # track -> its name
    tempo: float = 120.0
    n_notes: int = 0


def _midi_notes(data: bytes, path) -> _MidiNotes:
    """The notes of a MIDI file by instrument, counted against the limits as they are read."""
    song, tempo = _MidiNotes(), None
    current, tick, programs, sounding = -1, 0, [0] * 16, {}
    for track, delta, status, first, second in iter_events(data, MAX_EVENTS):
        if track != current:
            _end_sounding(song, current, tick, sounding)
            current, tick, programs, sounding = track, 0, [0] * 16, {}
        tick += delta
        kind, channel = status & 0xF0, status & 0x0F
        if status == META:
            if first == 0x03 and track not in song.names:  # track name
                song.names[track] = second.decode("latin-1").strip()
            elif first == 0x51 and tempo is None:  # set tempo: microseconds per beat
                tempo = _tempo_bpm(second)
            elif first == 0x58:  # time signature
                _check_meter(path, second)
        elif kind == 0xC0:
            programs[channel] = first
        elif kind == 0x90 and second > 0:
            song.n_notes += 1
            if song.n_notes > MAX_NOTES:
                raise FileLimitError(f"more than {MAX_NOTES:,} notes (the most a song may have)")
            sounding.setdefault((channel, first), deque()).append((tick, second, programs[channel]))
        elif kind in (0x80, 0x90):
            started = sounding.get((channel, first))
            if started:
                # First in, first out: overlapping notes of one pitch end in the order they began.
                start, velocity, program = started.popleft()
                _add_note(song, (track, channel, program), (start, tick, first, velocity))
    _end_sounding(song, current, tick, sounding)
    song.tempo = tempo or 120.0
    return song


def _end_sounding(song: _MidiNotes, track: int, tick: int, sounding: dict) -> None:
    """Notes never ended: they end at their track's end."""
    for (channel, pitch), starts in sounding.items():
        for start, velocity, program in starts:
            _add_note(song, (track, channel, program), (start, max(tick, start + 1), pitch, velocity))


def _add_note(song: _MidiNotes, key: tuple[int, int, int], note: tuple[int, int, int, int]) -> None:
    notes = song.instruments.get(key)
    if notes is None:
        if len(song.instruments) >= MAX_INSTRUMENTS:
            raise FileLimitError(f"more than {MAX_INSTRUMENTS} instruments (the most a song may have)")
        notes = song.instruments[key] = []
    notes.append(note)


def _tempo_bpm(data: bytes) -> float:
    if len(data) < 3:
        raise SmfError("a damaged tempo event")
    microseconds = int.from_bytes(data[:3], "big")
    if microseconds == 0:
        raise SmfError("a tempo of 0 microseconds a beat")
    return mido.tempo2bpm(microseconds)


def _check_meter(path, data: bytes) -> None:
    if len(data) < 4:
        raise SmfError("a damaged time signature")
    numerator, denominator = data[0], 2 ** data[1]
    if denominator != 4 or numerator not in (1, 2, 4):
        raise MusicFileError(path, f"not in 4/4 (time signature {numerator}/{denominator})")


def _check_song(path, n_beats: float, n_notes: int, n_instruments: int) -> None:
    """MusicFileError for a song that claims more than any real one (engine/file_limits.py)."""
    if n_instruments > MAX_INSTRUMENTS:
        raise MusicFileError(path, f"{n_instruments:,} instruments (at most {MAX_INSTRUMENTS})")
    if n_notes > MAX_NOTES:
        raise MusicFileError(path, f"{n_notes:,} notes (at most {MAX_NOTES:,})")
    if n_beats > MAX_BEATS:
        raise MusicFileError(path, f"too long ({n_beats:,.0f} beats; at most {MAX_BEATS:,})")


def _empty_rolls(path, n_rolls: int, n_steps: int, steps_per_beat: int) -> np.ndarray:
    """A silent (n_rolls, n_steps, 128) pianoroll, if it fits MAX_ROLL_BYTES."""
    size = n_rolls * n_steps * N_PITCHES
    if size > MAX_ROLL_BYTES:
        raise MusicFileError(path, f"too big: {n_rolls} tracks over {n_steps / steps_per_beat:,.0f} beats "
                                   f"make a {size / 2**20:,.0f} MiB pianoroll (at most {MAX_ROLL_BYTES // 2**20} MiB)")
    return np.zeros((n_rolls, n_steps, N_PITCHES), dtype=np.uint8)


def assign_ports(tracks: list[Track]) -> list[tuple[int, int]]:
    """A (port, channel) per track, both from 0: drums on channel 10 (index 9), each pitched
    track on a channel of its own, on the first port while it has channels free, then on a
    second one (channel 1, 2, ... again, 10 left to drums).

    A MIDI port (and a file's channel space) has sixteen channels, one taken by drums:
    fifteen pitched tracks fit on one port. The seventeen LPD-17 families have sixteen, so
    the last (Sound Effects) plays on port 2, channel 1: `stream` opens a second port for
    it, and an exported file marks its track with a MIDI-port meta event
    (docs/streaming.md, "Seventeen families").
    """
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    layout, k = [], 0
    for track in tracks:
        if track.is_drum:
            layout.append((0, DRUM_CHANNEL))
        else:
            layout.append((k // len(free), free[k % len(free)]))
            k += 1
    return layout


def ports_needed(tracks: list[Track]) -> int:
    """How many MIDI ports `assign_ports` spreads the tracks over."""
    return 1 + max((port for port, _ in assign_ports(tracks)), default=0)


def port_name_at(first: str, port: int) -> str:
    """The name of port `port` (from 0) of a stream whose first port is named `first`:
    "Bytes to Beats", then "Bytes to Beats 2", ..."""
    return first if port == 0 else f"{first} {port + 1}"


def assign_channels(tracks: list[Track]) -> list[int]:
    """The channel of each track (from 0) within its port (`assign_ports`)."""
    return [channel for _, channel in assign_ports(tracks)]


def to_midi_file(mt: Multitrack, velocity: int = 100, keep_empty: bool = False) -> mido.MidiFile:
    """A type-1 mido.MidiFile at 480 PPQ: a conductor track (tempo, 4/4, and the chords as
    markers when the clip has them), then one named track per instrument.

    A clip's chords go in twice: as a marker at each change on the conductor track (DAWs show
    markers on their timeline) and as a Yamaha XF chord event beside the first note that
    starts with the change (MuseScore imports those as chord symbols; it ignores markers).
    """
    midi = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=mt.name or "Bytes to Beats", time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(mt.tempo), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    changes = [] if mt.chords is None else chord_changes(mt.chords)
    conductor.extend(chord_markers(changes))
    ticks_per_step = PPQ // mt.steps_per_beat if PPQ % mt.steps_per_beat == 0 else PPQ / mt.steps_per_beat
    # the conductor ends where the clip does: a clip whose last notes end early is still its
    # whole length in a DAW (its loop lines up), not cut at its last note
    clip_end = int(round(mt.n_steps * ticks_per_step))
    conductor.append(mido.MetaMessage("end_of_track", time=max(0, clip_end - sum(m.time for m in conductor))))
    midi.tracks.append(conductor)

    indices = [i for i in range(len(mt.tracks)) if keep_empty or mt.rolls[i].any()]
    # laid out over all the clip's tracks, written or not: a track keeps the port and channel
    # it streams on live, whichever others are silent
    layout = [assign_ports(mt.tracks)[i] for i in indices]
    two_ports = any(port for port, _ in layout)
    notes = {i: mt.notes(i) for i in indices}
    # each chord change's XF event: on the first track (pitched ones first) with a note starting there
    unplaced = {beat * PPQ: chord for beat, chord in changes if chord is not None}
    xf_events: dict[int, list[tuple[int, float, str, tuple[int, ...], int]]] = {i: [] for i in indices}
    for i in sorted(indices, key=lambda i: mt.tracks[i].is_drum):
        for tick in sorted({int(round(n[0] * ticks_per_step)) for n in notes[i]} & unplaced.keys()):
            xf_events[i].append((tick, 0.5, "xf", xf_chord_data(unplaced.pop(tick)), 0))
    for i, (port, channel) in zip(indices, layout):
        track = mt.tracks[i]
        # (tick, order, kind, pitch, velocity): at one tick note-offs (order 0), then a chord, then note-ons
        events = list(xf_events[i])
        for start, end, pitch, vel in notes[i]:
            vel = velocity if vel <= 1 else vel
            events.append((int(round(start * ticks_per_step)), 1, "note_on", pitch, vel))
            events.append((int(round(end * ticks_per_step)), 0, "note_off", pitch, 0))
        events.sort()
        midi_track = mido.MidiTrack()
        midi_track.append(mido.MetaMessage("track_name", name=track.name, time=0))
        if two_ports:  # past sixteen channels: each track says its port (FF 21), as multi-port files do
            midi_track.append(mido.MetaMessage("midi_port", port=port, time=0))
        if not track.is_drum:
            midi_track.append(mido.Message("program_change", channel=channel, program=track.program, time=0))
        now = 0
        for tick, _, kind, pitch, vel in events:
            if kind == "xf":
                midi_track.append(mido.MetaMessage("sequencer_specific", data=pitch, time=tick - now))
            else:
                midi_track.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=tick - now))
            now = tick
        midi_track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(midi_track)
    return midi


def chord_changes(chords) -> list[tuple[int, object]]:
    """A clip's chords (one per beat: engine/chords.py's Chord, or None) -> (beat, chord) at
    the first beat and at each beat where the chord changes."""
    changes, previous = [], object()
    for beat, chord in enumerate(chords):
        if chord != previous:
            changes.append((beat, chord))
            previous = chord
    return changes


def chord_markers(changes: list[tuple[int, object]]) -> list[mido.MetaMessage]:
    """Marker events for the conductor track, one per chord change, named as musicians write
    chords ("F#m7", "C6/E"); no chord is "N.C.", as on a lead sheet."""
    if not changes:
        return []
    from .progression import chord_name  # pychord's names, only when there are chords

    markers, now = [], 0
    for beat, chord in changes:
        text = "N.C." if chord is None else chord_name(chord)
        markers.append(mido.MetaMessage("marker", text=text, time=beat * PPQ - now))
        now = beat * PPQ
    return markers


# The chord types of Yamaha's XF format (XF Format Specifications 2.01), by intervals above the root.
_XF_TYPES = {
    (0, 4, 7): 0, (0, 4, 7, 9): 1, (0, 4, 7, 11): 2, (0, 2, 4, 7): 4, (0, 2, 4, 7, 11): 5,
    (0, 2, 4, 7, 9): 6, (0, 4, 8): 7, (0, 3, 7): 8, (0, 3, 7, 9): 9, (0, 3, 7, 10): 10,
    (0, 3, 6, 10): 11, (0, 2, 3, 7): 12, (0, 2, 3, 7, 10): 13, (0, 3, 7, 11): 15, (0, 3, 6): 17,
    (0, 3, 6, 9): 18, (0, 4, 7, 10): 19, (0, 5, 7, 10): 20, (0, 4, 6, 10): 21, (0, 2, 4, 7, 10): 22,
    (0, 4, 8, 10): 29, (0, 7): 31, (0, 5, 7): 32, (0, 2, 7): 33,
}


def xf_chord_data(chord) -> tuple[int, ...]:
    """The data of an XF chord event (sequencer-specific 43 7B 01): root, type, bass, bass type."""
    from .chords import PITCH_NAMES, QUALITY_INTERVALS

    def note(pc: int) -> int:  # high nibble the accidental (3 natural, 2 flat, 4 sharp), low C=1..B=7
        name = PITCH_NAMES[pc]
        return ({"": 3, "b": 2, "#": 4}[name[1:]] << 4) | ("CDEFGAB".index(name[0]) + 1)

    intervals = tuple(sorted((pc - chord.root) % 12 for pc in chord.pitch_classes))
    kind = _XF_TYPES.get(intervals, _XF_TYPES.get(QUALITY_INTERVALS[chord.quality], 0))
    bass = 0x7F if chord.bass is None or chord.bass == chord.root else note(chord.bass)
    return (0x43, 0x7B, 0x01, note(chord.root), kind, bass, 0x7F)


def read_chord_markers(path: str | os.PathLike) -> list[tuple[float, str]]:
    """The marker events of a MIDI file as (beat, text), in order: the chords `to_midi_file`
    wrote (and any other markers the file has)."""
    _check_file(path)
    try:
        data = Path(path).read_bytes()
        _, _, ticks_per_beat, _ = read_header(data)
        if ticks_per_beat <= 0:
            raise MusicFileError(path, f"not a readable MIDI file (invalid ticks per beat: {ticks_per_beat})")
        markers, current, tick = [], -1, 0
        for track, delta, status, first, second in iter_events(data, MAX_EVENTS):
            tick = tick + delta if track == current else delta
            current = track
            if status == META and first == 0x06:
                markers.append((tick / ticks_per_beat, second.decode("latin-1")))
    except FileLimitError as error:
        raise MusicFileError(path, str(error)) from None
    except (OSError, SmfError) as error:
        raise MusicFileError(path, f"not a readable MIDI file ({short_reason(error)})") from None
    return sorted(markers, key=lambda m: m[0])


def write_midi(mt: Multitrack, path: str | os.PathLike, velocity: int = 100, keep_empty: bool = False) -> Path:
    """Write a type-1 MIDI file atomically: the file at `path` is whole or untouched."""
    path = Path(path)
    midi = to_midi_file(mt, velocity, keep_empty)
    write_atomically(path, midi.save)
    return path


def write_atomically(path: str | os.PathLike, save) -> None:
    """Write a file whole or not at all (engine/atomic.py: `save(file=handle)` writes beside
    `path`, flushed to the disk, and the file then takes the name); MusicFileError (one line)
    when it cannot be.

    What was at `path` stays whole until then, and a file replaced keeps its permissions. A
    symbolic link is written through, as `cp` does. A folder, a device (/dev/full) or a pipe
    is refused rather than replaced, and a failure or Ctrl-C leaves no part-written file.
    """
    path = check_output_path(path)
    try:
        atomic_write(path, lambda handle: save(file=handle))
    except OSError as error:
        raise MusicFileError(path, f"cannot write ({os_reason(error)})") from None


def check_output_path(path: str | os.PathLike) -> Path:
    """The path a file will be written at (a symbolic link's target); MusicFileError, one line,
    for a path no file can be written at: a folder, a device, a pipe, or one in a missing
    folder. Commands check their outputs before long work; write_atomically checks again."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise MusicFileError(path, f"not a plain file ({_kind(path)}): give a file's path")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise MusicFileError(path, f"folder {directory} does not exist")
    return path


def _kind(path: Path) -> str:
    """What a path that is no plain file is, in words."""
    if path.is_dir():
        return "a folder"
    if path.is_char_device() or path.is_block_device():
        return "a device"
    return "a pipe" if path.is_fifo() else "a socket" if path.is_socket() else "not a regular file"


def _check_file(path: str | os.PathLike) -> None:
    p = Path(path)
    if not p.exists():
        raise MusicFileError(path, "no such file")
    if not p.is_file():
        raise MusicFileError(path, "not a file")
    size = p.stat().st_size
    if size == 0:
        raise MusicFileError(path, "empty file")
    if size > MAX_FILE_BYTES:
        raise MusicFileError(path, f"absurdly large for a music file ({size // 2**20} MiB)")


def short_reason(error: Exception) -> str:
    """An exception as a reason for one line: its first line, at most 120 characters."""
    return one_line(error, limit=120)
