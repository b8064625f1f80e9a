"""Instrument families: the track sets a model generates.

A song's own instruments (a median of ten in the LPD) merge by General MIDI program into
a fixed set of families, as the Lakh Pianoroll Dataset does for LPD-5 and LPD-17. A model's
configuration names its track set; every clip it makes has exactly those tracks.
"""

from __future__ import annotations

import numpy as np

from .pianoroll import Multitrack, Track

# Each family: (name, GM program used on export, is_drum). LPD-5 as in the LPD's merger:
# drums, then programs 0-7, 24-31 and 32-39, and every other instrument into Strings.
FIVE = (
    ("Drums", 0, True),
    ("Piano", 0, False),
    ("Guitar", 24, False),
    ("Bass", 32, False),
    ("Strings", 48, False),
)

# LPD-17: drums, then the sixteen GM families of eight programs each, in GM order.
SEVENTEEN = (("Drums", 0, True),) + tuple(
    (name, 8 * k, False)
    for k, name in enumerate(
        [
            "Piano", "Chromatic Percussion", "Organ", "Guitar", "Bass", "Strings",
            "Ensemble", "Brass", "Reed", "Pipe", "Synth Lead", "Synth Pad",
            "Synth Effects", "Ethnic", "Percussive", "Sound Effects",
        ]
    )
)

TRACK_SETS = {5: FIVE, 17: SEVENTEEN}


def family_tracks(track_set: int) -> list[Track]:
    """The tracks of a track set (5 or 17), in order."""
    try:
        families = TRACK_SETS[track_set]
    except KeyError:
        raise ValueError(f"track set must be 5 or 17, not {track_set}") from None
    return [Track(name, program, drum) for name, program, drum in families]


def family_index(program: int, is_drum: bool, track_set: int) -> int:
    """The index of the family an instrument belongs to within a track set."""
    if is_drum:
        return 0
    group = program // 8  # GM groups instruments in eights: 0 pianos, 3 guitars, 4 basses...
    if track_set == 17:
        return 1 + group
    return {0: 1, 3: 2, 4: 3}.get(group, 4)


def merge_to_families(mt: Multitrack, track_set: int) -> Multitrack:
    """Merge a song's instruments into the families of a track set (loudest velocity wins)."""
    tracks = family_tracks(track_set)
    rolls = np.zeros((len(tracks), mt.n_steps, mt.rolls.shape[2]), dtype=np.uint8)
    for track, roll in zip(mt.tracks, mt.rolls):
        i = family_index(track.program, track.is_drum, track_set)
        np.maximum(rolls[i], roll, out=rolls[i])
    return Multitrack(tracks, rolls, mt.steps_per_beat, mt.tempo, mt.name)


def merged_families(track_set: int, into: int) -> list[int]:
    """For each family of `track_set`, the family of `into` it merges into (LPD-17 into LPD-5:
    Drums, Piano, Guitar and Bass to themselves, the other twelve into Strings); the
    identity for the same set."""
    return [family_index(t.program, t.is_drum, into) for t in family_tracks(track_set)]


def merge_rolls(rolls: np.ndarray, track_set: int, into: int) -> np.ndarray:
    """(n, T, S, P) rolls of `track_set` families merged into `into` families: a cell plays
    where any family merged into it plays (as the LPD merged LPD-17 into LPD-5)."""
    targets = merged_families(track_set, into)
    merged = np.zeros((rolls.shape[0], len(family_tracks(into)), *rolls.shape[2:]), dtype=rolls.dtype)
    for source, target in enumerate(targets):
        np.maximum(merged[:, target], rolls[:, source], out=merged[:, target])
    return merged
