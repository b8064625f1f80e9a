"""The multitrack pianoroll: the one music type the whole engine speaks.

A clip is a stack of per-track pianorolls on a fixed grid of `steps_per_beat` steps a
beat, always in 4/4 (the LPD is, and the model's bars are). Values are MIDI velocities
(0 = silent) or, for generated clips, 0/1. A run of active steps on one pitch is one held
note, except on drum tracks, where every active step is a hit of its own (a drum has no
sustain, and repeated 16th hi-hats must stay repeated hits).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

BEATS_PER_BAR = 4
N_PITCHES = 128


@dataclass(frozen=True)
class Track:
    """One instrument: its name, General MIDI program (0-127) and drum flag."""

    name: str
    program: int = 0
    is_drum: bool = False


@dataclass
class Multitrack:
    """Tracks over a shared grid.

    Attributes
    ----------
    tracks : list of Track
    rolls : np.ndarray, shape (n_tracks, n_steps, 128), uint8
        Velocity (or 0/1) per track, step and MIDI pitch.
    steps_per_beat : int
    tempo : float
        Beats per minute.
    name : str
    chords : tuple or None
        The clip's chord per beat (engine/chords.py: Chord, or None where none), when it was
        made to chords or they were detected; written to MIDI files as markers.
    """

    tracks: list[Track]
    rolls: np.ndarray
    steps_per_beat: int = 4
    tempo: float = 120.0
    name: str = ""
    probabilities: np.ndarray | None = field(default=None, repr=False)
    chords: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.rolls.ndim != 3 or self.rolls.shape[2] != N_PITCHES:
            raise ValueError(f"rolls must be (tracks, steps, 128), got {self.rolls.shape}")
        if self.rolls.shape[0] != len(self.tracks):
            raise ValueError(f"{len(self.tracks)} tracks but {self.rolls.shape[0]} rolls")

    @property
    def n_steps(self) -> int:
        return self.rolls.shape[1]

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_beat * BEATS_PER_BAR

    @property
    def n_bars(self) -> float:
        return self.n_steps / self.steps_per_bar

    @property
    def track_names(self) -> list[str]:
        return [t.name for t in self.tracks]

    def track_index(self, name_or_index: str | int) -> int:
        """The index of a track given by name (case-insensitive) or by index."""
        if isinstance(name_or_index, int) or str(name_or_index).isdigit():
            i = int(name_or_index)
            if 0 <= i < len(self.tracks):
                return i
        else:
            lowered = [n.lower() for n in self.track_names]
            if str(name_or_index).lower() in lowered:
                return lowered.index(str(name_or_index).lower())
        raise KeyError(f"no track {name_or_index!r}; tracks are {', '.join(self.track_names)}")

    def copy(self) -> Multitrack:
        probs = None if self.probabilities is None else self.probabilities.copy()
        return replace(self, tracks=list(self.tracks), rolls=self.rolls.copy(), probabilities=probs)

    def is_empty(self) -> bool:
        return not self.rolls.any()

    def notes(self, track: int) -> list[tuple[int, int, int, int]]:
        """The notes of one track as (start_step, end_step, pitch, velocity), sorted by start."""
        return roll_to_notes(self.rolls[track], drum=self.tracks[track].is_drum)


def roll_to_notes(roll: np.ndarray, drum: bool = False) -> list[tuple[int, int, int, int]]:
    """Notes of a (steps, 128) roll: a run of active steps is one note; on drums each step is.

    Returns (start, end, pitch, velocity) tuples, end exclusive, sorted by (start, pitch).
    """
    active = roll > 0
    if drum:
        steps, pitches = np.nonzero(active)
        notes = [(int(s), int(s) + 1, int(p), int(roll[s, p])) for s, p in zip(steps, pitches)]
        return sorted(notes)
    # Pad one silent step at both ends so that every run has a rising and a falling edge.
    padded = np.zeros((active.shape[0] + 2, active.shape[1]), dtype=np.int8)
    padded[1:-1] = active
    edges = np.diff(padded, axis=0)  # (steps + 1, 128): +1 at onsets, -1 just after offsets
    # Transposed, argwhere lists (pitch, step) in pitch-major order, so the k-th onset of a
    # pitch pairs with its k-th offset.
    onsets = np.argwhere(edges.T == 1)
    offsets = np.argwhere(edges.T == -1)
    notes = [
        (int(on[1]), int(off[1]), int(on[0]), int(roll[on[1], on[0]]))
        for on, off in zip(onsets, offsets)
    ]
    return sorted(notes)


def notes_to_roll(
    notes: list[tuple[int, int, int, int]], n_steps: int, drum: bool = False
) -> np.ndarray:
    """A (n_steps, 128) uint8 roll from (start, end, pitch, velocity) notes.

    Pitched notes that would touch the next note of the same pitch are cut one step
    short, so that two repeated notes stay two notes in the roll.
    """
    roll = np.zeros((n_steps, N_PITCHES), dtype=np.uint8)
    by_pitch: dict[int, list[tuple[int, int, int]]] = {}
    for start, end, pitch, velocity in notes:
        if 0 <= pitch < N_PITCHES and start < n_steps:
            by_pitch.setdefault(pitch, []).append((start, end, velocity))
    for pitch, pitch_notes in by_pitch.items():
        pitch_notes.sort()
        for k, (start, end, velocity) in enumerate(pitch_notes):
            end = start + 1 if drum else max(end, start + 1)
            if not drum and k + 1 < len(pitch_notes):
                next_start = pitch_notes[k + 1][0]
                if next_start > start and end >= next_start:
                    end = max(start + 1, next_start - 1)
            roll[start : min(end, n_steps), pitch] = max(1, min(127, velocity))
    return roll


def resample(mt: Multitrack, steps_per_beat: int) -> Multitrack:
    """The same music on a grid of `steps_per_beat`, notes re-quantized by onset and offset."""
    if steps_per_beat == mt.steps_per_beat:
        return mt.copy()
    factor = steps_per_beat / mt.steps_per_beat
    n_steps = int(round(mt.n_steps * factor))
    rolls = np.zeros((len(mt.tracks), n_steps, N_PITCHES), dtype=np.uint8)
    for i, track in enumerate(mt.tracks):
        notes = [
            (int(round(s * factor)), int(round(e * factor)), p, v)
            for s, e, p, v in roll_to_notes(mt.rolls[i], drum=track.is_drum)
        ]
        rolls[i] = notes_to_roll(notes, n_steps, drum=track.is_drum)
    return replace(mt, rolls=rolls, steps_per_beat=steps_per_beat, probabilities=None)
