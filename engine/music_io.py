"""Reading and writing music files: Standard MIDI Files and the LPD's pypianoroll `.npz`.

Plain functions with fixed verbs: `read_*` take a path and return a Multitrack, `write_*`
take a Multitrack and a path. Every failure is a MusicFileError whose message is one line
naming the file and the reason; nothing here prints a traceback at a user.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np

from .pianoroll import BEATS_PER_BAR, N_PITCHES, Multitrack, Track, notes_to_roll

MIDI_SUFFIXES = {".mid", ".midi", ".kar", ".smf"}
NPZ_SUFFIXES = {".npz"}
PPQ = 480
DRUM_CHANNEL = 9  # channel 10 as musicians count
# Longer than any song: a file that claims more is broken or hostile (4 hours at 120 BPM).
MAX_BEATS = 4 * 60 * 120
MAX_FILE_BYTES = 64 * 1024 * 1024


class MusicFileError(Exception):
    """A file that cannot be read or written; str() is one line naming file and reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def read_music(path: str | os.PathLike, steps_per_beat: int = 24) -> Multitrack:
    """Read a MIDI file or an LPD `.npz` by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in NPZ_SUFFIXES:
        return read_npz(path)
    if suffix in MIDI_SUFFIXES:
        return read_midi(path, steps_per_beat)
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


def read_npz(path: str | os.PathLike) -> Multitrack:
    """Read a Lakh Pianoroll Dataset `.npz` (pypianoroll's format) as a velocity Multitrack.

    The format is a NumPy archive: `info.json` (resolution, and per track index its name,
    program and is_drum), a `tempo` array, and each track's (time, 128) pianoroll as the three
    arrays of a compressed-sparse-column matrix. Read here with NumPy alone, not pypianoroll,
    which would bring matplotlib and SciPy (about 100 MB) into every install and the frozen
    app; tests/test_music_io.py checks this reader against pypianoroll on real LPD songs.
    """
    _check_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            info = json.loads(bytes(archive["info.json"]).decode("utf-8"))
            resolution = int(info.get("resolution") or info["beat_resolution"])
            tracks, rolls = [], []
            while str(len(tracks)) in info:
                meta = info[str(len(tracks))]
                rolls.append(_sparse_roll(archive, f"pianoroll_{len(tracks)}"))
                tracks.append(Track(meta.get("name") or "", int(meta.get("program") or 0), bool(meta.get("is_drum"))))
            tempo = archive["tempo"] if "tempo" in archive.files else None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, TypeError, IndexError) as error:
        raise MusicFileError(path, f"not a readable LPD .npz file ({_short(error)})") from None
    if not tracks:
        raise MusicFileError(path, "no tracks")
    if resolution <= 0:
        raise MusicFileError(path, f"invalid resolution ({resolution})")
    n_steps = max(roll.shape[0] for roll in rolls)
    if n_steps == 0:
        raise MusicFileError(path, "no notes")
    if n_steps > MAX_BEATS * resolution:
        raise MusicFileError(path, f"absurd length ({n_steps} steps)")
    stacked = np.zeros((len(tracks), n_steps, N_PITCHES), dtype=np.uint8)
    for i, roll in enumerate(rolls):
        stacked[i, : roll.shape[0]] = roll
    if not stacked.any():
        raise MusicFileError(path, "no notes")
    bpm = float(tempo[0]) if tempo is not None and len(tempo) else 120.0
    return Multitrack(tracks, stacked, resolution, bpm, Path(path).stem)


def _sparse_roll(archive, name: str) -> np.ndarray:
    """One track's (time, 128) uint8 velocities from its CSC arrays (column = pitch)."""
    data = archive[f"{name}_csc_data"]
    rows = archive[f"{name}_csc_indices"]
    starts = archive[f"{name}_csc_indptr"]
    n_steps, n_pitches = (int(n) for n in archive[f"{name}_csc_shape"])
    if n_pitches != N_PITCHES or len(starts) != n_pitches + 1 or len(rows) != len(data):
        raise ValueError(f"{name}: a pianoroll of shape ({n_steps}, {n_pitches})")
    if n_steps > MAX_BEATS * 96:
        raise ValueError(f"{name}: absurd length ({n_steps} steps)")
    if len(rows) and (rows.min() < 0 or rows.max() >= n_steps):
        raise ValueError(f"{name}: a note outside the pianoroll")
    pitches = np.repeat(np.arange(n_pitches), np.diff(starts))
    roll = np.zeros((n_steps, n_pitches), dtype=np.uint8)
    if data.dtype == bool:
        values = np.where(data, 100, 0)  # binarized LPD variants: a note at a middle velocity
    else:
        values = np.clip(data, 0, 127)
    roll[rows, pitches] = values.astype(np.uint8)
    return roll


# ---------------------------------------------------------------------------------------
# MIDI


def read_midi(path: str | os.PathLike, steps_per_beat: int = 24) -> Multitrack:
    """Read a type-0 or type-1 MIDI file onto a grid of `steps_per_beat`.

    Each (track, channel, program) that plays notes becomes one instrument. Positions are
    taken in beats (ticks / ticks per beat), so tempo changes do not move notes off the grid.
    Meters of 1/4, 2/4 and 4/4 (POP909 marks its files 1/4) are read as 4/4 bars; other meters are refused, since the model's
    bars are 4/4.
    """
    _check_file(path)
    try:
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        raise MusicFileError(path, f"not a readable MIDI file ({_short(error)})") from None
    if midi.type == 2:
        raise MusicFileError(path, "type-2 MIDI (independent sequences) is not supported")
    if midi.ticks_per_beat <= 0:
        raise MusicFileError(path, f"invalid ticks per beat ({midi.ticks_per_beat})")

    tempo_bpm = None
    # instrument key (track, channel, program) -> list of (start_tick, end_tick, pitch, velocity)
    instruments: dict[tuple[int, int, int], list[tuple[int, int, int, int]]] = {}
    names: dict[int, str] = {}
    for track_index, track in enumerate(midi.tracks):
        tick = 0
        programs = [0] * 16
        sounding: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for message in track:
            tick += message.time
            if message.type == "track_name" and track_index not in names:
                names[track_index] = message.name.strip()
            elif message.type == "set_tempo" and tempo_bpm is None:
                tempo_bpm = mido.tempo2bpm(message.tempo)
            elif message.type == "time_signature":
                if message.denominator != 4 or message.numerator not in (1, 2, 4):
                    raise MusicFileError(
                        path, f"not in 4/4 (time signature {message.numerator}/{message.denominator})"
                    )
            elif message.type == "program_change":
                programs[message.channel] = message.program
            elif message.type == "note_on" and message.velocity > 0:
                key = (message.channel, message.note)
                sounding.setdefault(key, []).append((tick, message.velocity, programs[message.channel]))
            elif message.type in ("note_off", "note_on"):
                started = sounding.get((message.channel, message.note))
                if started:
                    # First in, first out: overlapping notes of one pitch end in the order they began.
                    start, velocity, program = started.pop(0)
                    instruments.setdefault((track_index, message.channel, program), []).append(
                        (start, tick, message.note, velocity)
                    )
        for (channel, pitch), starts in sounding.items():  # never ended: end at the track's end
            for start, velocity, program in starts:
                instruments.setdefault((track_index, channel, program), []).append(
                    (start, max(tick, start + 1), pitch, velocity)
                )
    if not instruments:
        raise MusicFileError(path, "no notes")

    scale = steps_per_beat / midi.ticks_per_beat
    last_tick = max(end for notes in instruments.values() for _, end, _, _ in notes)
    n_beats = last_tick / midi.ticks_per_beat
    if n_beats > MAX_BEATS:
        raise MusicFileError(path, f"absurd length ({n_beats:.0f} beats)")
    steps_per_bar = steps_per_beat * BEATS_PER_BAR
    n_steps = max(steps_per_bar, int(np.ceil(last_tick * scale / steps_per_bar)) * steps_per_bar)

    tracks, rolls = [], []
    for (track_index, channel, program), notes in sorted(instruments.items()):
        is_drum = channel == DRUM_CHANNEL
        stepped = [
            (int(round(s * scale)), max(int(round(e * scale)), int(round(s * scale)) + 1), p, v)
            for s, e, p, v in notes
        ]
        name = names.get(track_index, "") or f"Track {track_index}"
        tracks.append(Track(name, program, is_drum))
        rolls.append(notes_to_roll(stepped, n_steps, drum=is_drum))
    return Multitrack(tracks, np.stack(rolls), steps_per_beat, float(tempo_bpm or 120.0), Path(path).stem)


def assign_channels(tracks: list[Track]) -> list[int]:
    """A MIDI channel per track: drums on channel 10 (index 9), the others on their own.

    Past fifteen pitched tracks the channels run out; the extra ones share the last.
    """
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    channels, k = [], 0
    for track in tracks:
        if track.is_drum:
            channels.append(DRUM_CHANNEL)
        else:
            channels.append(free[min(k, len(free) - 1)])
            k += 1
    return channels


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
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)

    indices = [i for i in range(len(mt.tracks)) if keep_empty or mt.rolls[i].any()]
    channels = assign_channels([mt.tracks[i] for i in indices])
    ticks_per_step = PPQ // mt.steps_per_beat if PPQ % mt.steps_per_beat == 0 else PPQ / mt.steps_per_beat
    notes = {i: mt.notes(i) for i in indices}
    # each chord change's XF event: on the first track (pitched ones first) with a note starting there
    unplaced = {beat * PPQ: chord for beat, chord in changes if chord is not None}
    xf_events: dict[int, list[tuple[int, float, str, tuple[int, ...], int]]] = {i: [] for i in indices}
    for i in sorted(indices, key=lambda i: mt.tracks[i].is_drum):
        for tick in sorted({int(round(n[0] * ticks_per_step)) for n in notes[i]} & unplaced.keys()):
            xf_events[i].append((tick, 0.5, "xf", xf_chord_data(unplaced.pop(tick)), 0))
    for i, channel in zip(indices, channels):
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
        midi = mido.MidiFile(path)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as error:
        raise MusicFileError(path, f"not a readable MIDI file ({_short(error)})") from None
    if midi.ticks_per_beat <= 0:
        raise MusicFileError(path, f"invalid ticks per beat ({midi.ticks_per_beat})")
    markers = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "marker":
                markers.append((tick / midi.ticks_per_beat, message.text))
    return sorted(markers, key=lambda m: m[0])


def write_midi(mt: Multitrack, path: str | os.PathLike, velocity: int = 100, keep_empty: bool = False) -> Path:
    """Write a type-1 MIDI file atomically: the file at `path` is whole or untouched."""
    path = Path(path)
    midi = to_midi_file(mt, velocity, keep_empty)
    _write_atomically(path, midi.save)
    return path


def _write_atomically(path: Path, save) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise MusicFileError(path, f"folder {directory} does not exist")
    # Not mkstemp: its files are private (0600), and a MIDI file is for sharing (the DAW, a
    # sampler on another account); os.open's mode passes through the user's umask.
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as error:
        raise MusicFileError(path, f"cannot write ({error.strerror or error})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            save(file=handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise MusicFileError(path, f"cannot write ({error.strerror or error})") from None


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


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:120]
