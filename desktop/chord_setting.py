"""What the user asked of the harmony: a chord progression, a key, or neither. No Qt.

A `ChordSetting` travels with every clip (desktop/clip_state.py), so that undo, the recent
list and A/B bring back the chords a clip was made to; the worker turns it into the one
chord per beat a chord model reads (`per_beat`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bytes2beats.engine.progression import Key, describe, estimate_key, per_beat

Bars = tuple  # one tuple of engine.chords.Chord (or None) per bar


@dataclass(frozen=True)
class ChordSetting:
    """`bars`: the progression given, one tuple of chords per bar (None: the model picks the
    chords); `key`: the key chosen (None: any key)."""

    bars: Bars | None = None
    key: Key | None = None

    @property
    def text(self) -> str:
        """The progression as it is typed ("Am F C,G"), "" when none is given."""
        return describe([list(bar) for bar in self.bars]) if self.bars else ""

    def per_beat(self, composer, n_bars: int, seed: int, genre: str | None) -> list | None:
        """One chord per beat for an idea of `n_bars` bars (in whole phrases of the model):
        the progression, repeated; else the model's chords in the key; else None (the model
        picks). None too for a model that takes no chords."""
        if not composer.takes_chords:
            return None
        if self.bars:
            bars = math.ceil(n_bars / composer.config.n_bars) * composer.config.n_bars
            return per_beat([list(bar) for bar in self.bars], bars)
        if self.key is not None:
            return composer.key_progression(self.key, seed, genre)
        return None


def to_bars(bars: list) -> Bars:
    """engine/progression.py's lists of chords per bar -> the setting's tuples."""
    return tuple(tuple(bar) for bar in bars)


def bars_of_clip(chords, beats_per_bar: int = 4) -> list[list]:
    """A clip's chords (one per beat) -> per bar, its distinct chords in order: [[C, G], ...]."""
    out = []
    for start in range(0, len(chords or ()), beats_per_bar):
        bar: list = []
        for chord in chords[start : start + beats_per_bar]:
            if not bar or bar[-1] != chord:
                bar.append(chord)
        out.append(bar)
    return out


def move_to_key(bars: Bars, old: Key | None, new: Key) -> Bars:
    """A progression moved from its key (`old`, or the one it sounds in) into `new`: to its
    tonic when both have the same mode, else to its relative key (a minor progression for
    C major goes to A minor), so that the chords keep the notes of the new key."""
    chords = [c for bar in bars for c in bar]
    if not any(c is not None for c in chords):
        return bars
    old = old or estimate_key(chords)
    target = new.tonic if old.minor == new.minor else (new.tonic + (3 if new.minor else -3)) % 12
    shift = (target - old.tonic) % 12
    return tuple(tuple(None if c is None else c.transposed(shift) for c in bar) for bar in bars)
