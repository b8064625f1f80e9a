"""Where the bars come from: a fixed clip in a loop, or the model, phrase after phrase.

A source hands out `Phrase`s: a clip already turned into note events in ticks, so that
the scheduler's thread only shifts and queues them. `next_phrase()` may take a while (the
model runs in it) and is called on the session's worker thread, never on the clock's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ..pianoroll import BEATS_PER_BAR, Multitrack, Track
from ..takes import take_seeds
from .clock import TICKS_PER_BEAT

TICKS_PER_BAR = TICKS_PER_BEAT * BEATS_PER_BAR
DEFAULT_VELOCITY = 100


@dataclass(frozen=True)
class Phrase:
    """A clip ready to play.

    Attributes
    ----------
    clip : Multitrack
    n_ticks : int
        Its length; the next phrase starts there.
    notes : list of (start_tick, end_tick, track, pitch, velocity)
        Relative to the phrase's start, sorted by start.
    """

    clip: Multitrack
    n_ticks: int
    notes: list[tuple[int, int, int, int, int]]

    @property
    def n_bars(self) -> int:
        return -(-self.n_ticks // TICKS_PER_BAR)


def to_phrase(clip: Multitrack, velocity: int = DEFAULT_VELOCITY) -> Phrase:
    """A clip's notes in ticks; 0/1 rolls (generated clips) play at `velocity`."""
    def tick(step: int) -> int:
        return round(step * TICKS_PER_BEAT / clip.steps_per_beat)

    notes = []
    for i in range(len(clip.tracks)):
        for start, end, pitch, vel in clip.notes(i):
            notes.append((tick(start), tick(end), i, pitch, velocity if vel <= 1 else int(vel)))
    notes.sort()
    return Phrase(clip, tick(clip.n_steps), notes)


class ClipLoop:
    """A fixed clip, played again and again."""

    variation = 0.0

    def __init__(self, clip: Multitrack, velocity: int = DEFAULT_VELOCITY):
        if clip.n_steps == 0:
            raise ValueError("the clip is empty (no steps)")
        self.phrase = to_phrase(clip, velocity)

    @property
    def tracks(self) -> list[Track]:
        return self.phrase.clip.tracks

    def next_phrase(self) -> Phrase:
        return self.phrase


class ModelStream:
    """Phrases from a Composer, each a move in latent space from the one before.

    `variation` (0-1, may be changed while streaming, from any thread): 0 loops the first
    phrase; a small value walks the latent space smoothly; 1 draws a fresh phrase each time.
    """

    def __init__(self, composer, seed: int = 0, genre: str | None = None, variation: float = 0.3,
                 threshold: float | None = None, phrase_bars: int | None = None,
                 velocity: int = DEFAULT_VELOCITY, quantize_strength: float | None = None,
                 chords: list | None = None, feel: float | None = None, takes: int = 1):
        self.composer = composer
        # each phrase the best of this many takes (engine/takes.py), the first from the seed,
        # the rest as many moves from the phrase before
        self.takes = takes
        # A chord model's chords, one per beat (None: drawn from the genre's songs); may be
        # set from any thread, and the next phrase plays to them.
        self.chords = chords
        self.seed = seed
        self.genre = genre
        self.variation = variation
        self.threshold = threshold
        self.quantize_strength = quantize_strength  # 0..1, None: the engine's default
        self.feel = feel  # 0..1, None: the engine's default (engine/feel.py)
        self.phrase_bars = phrase_bars or composer.config.n_bars
        self.velocity = velocity
        composer.genre_index(genre)  # a ValueError now, rather than on the worker thread
        composer.check_takes(takes, genre)
        self._idea = None
        self._chords_played = None
        self._phrase: Phrase | None = None
        self._seeds = itertools.count(seed + 1)

    @property
    def tracks(self) -> list[Track]:
        return self.composer.config.tracks

    @property
    def variation(self) -> float:
        return self._variation

    @variation.setter
    def variation(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"variation must be between 0 and 1, not {value}")
        self._variation = value  # one attribute store: safe to set from another thread

    def next_phrase(self) -> Phrase:
        variation = self._variation
        chords = self.chords  # one read: another thread may set a new progression
        if self._idea is None:
            takes = [self.composer.new_idea(s, self.phrase_bars, self.genre, chords=chords)
                     for s in take_seeds(self.seed, self.takes)]
            self._idea = self.composer.best_of(takes, self.genre, feel_seed=self.seed)
        elif variation == 0.0 and self._phrase is not None and chords == self._chords_played:
            return self._phrase
        else:
            moves = [self.composer.vary(self._idea, variation, next(self._seeds)) for _ in range(self.takes)]
            self._idea = self.composer.best_of(moves, self.genre, feel_seed=self.seed)
            if chords != self._chords_played:
                self._idea = replace(self._idea, chords=self.composer.chords_for(
                    chords, self._idea.n_phrases, self.seed, self.genre))
        self._chords_played = chords
        probs = self.composer.probabilities([self._idea])[0]
        clip = self.composer.to_clip(probs, self.threshold, self.phrase_bars,
                                     name=f"{self.composer.name}-seed{self._idea.seed}", genre=self.genre,
                                     quantize_strength=self.quantize_strength, chords=self._idea.chords,
                                     feel=self.feel, seed=self.seed,  # one feel for the stream: one band
                                     manners=self._idea.manners)
        self._phrase = to_phrase(clip, self.velocity)
        return self._phrase
