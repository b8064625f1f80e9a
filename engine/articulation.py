"""Articulation: each pitched track of a phrase played as long, and as often, as the manner it
was asked for.

Why: a manner model (engine/manner.py) follows the range it is asked for, the onsets a bar
only part way, and barely the share of notes held a beat or more (docs/quality.md, "Manners"):
asked for a pad, its strings still let go between chords; asked for a driving bass, it holds.
The decoding finishes the job as a DAW's legato and note-repeat transforms would: a phrase's
track is played as decoded, *held* (re-strikes of a pitch a 16th apart tied into one note, then
every note held over the rest to the track's next onset, up to a reach of half a beat, a beat,
two beats or a bar) or *pulsed* (every note longer than an 8th, or a beat, struck again on each
8th, or each beat, inside it: chugged chords, a driving bass), whichever plays nearest the
manner asked for (its onsets a bar, mean note length and share of notes of a beat or more).
Pitches and the decoded onsets stay; a held note only ever lengthens, a pulsed one is only
ever struck again inside itself.
"""

from __future__ import annotations

import numpy as np
import torch

from .manner import MANNERS, phrase_manners
from .model import ModelConfig

# The manners an articulation is chosen by: what holding or pulsing notes changes.
FITTED = [MANNERS.index("onsets a bar"), MANNERS.index("note length"), MANNERS.index("notes of a beat or more")]
REACHES_IN_BEATS = (0.5, 1, 2, 4)  # how far a note may be held over a rest, per candidate
PULSES_IN_BEATS = (0.5, 1)  # how often a long note is struck again, per candidate


def tie_restrikes(track: np.ndarray, gap: int) -> np.ndarray:
    """(..., steps, pitches) notes with each rest of at most `gap` steps between two notes of
    the same pitch filled: one held note."""
    x = track.astype(bool)
    steps = np.arange(x.shape[-2]).reshape(-1, 1)
    last_on = np.maximum.accumulate(np.where(x, steps, -1), axis=-2)  # latest sounding step at or before
    later = np.where(x, steps, x.shape[-2])
    next_on = np.flip(np.minimum.accumulate(np.flip(later, -2), axis=-2), -2)  # earliest at or after
    hole = ~x & (last_on >= 0) & (next_on < x.shape[-2]) & (next_on - last_on - 1 <= gap)
    return (x | hole).astype(track.dtype)


def hold_to_next_onset(track: np.ndarray, reach: int) -> np.ndarray:
    """(steps, pitches) notes with every note held over the rest after it up to the track's
    next onset, when that is at most `reach` steps away; a note whose pitch starts again
    there keeps one step of air before it. The last notes of the phrase are left as they are."""
    x = track.astype(bool)
    out = x.copy()
    steps = x.shape[0]
    before = np.vstack([np.zeros((1, x.shape[1]), bool), x[:-1]])
    starts = x & ~before
    onset_steps = np.where(starts.any(axis=1), np.arange(steps), steps)
    next_onset = np.minimum.accumulate(onset_steps[::-1])[::-1]  # at or after each step
    for s, p in zip(*np.nonzero(before & ~x)):  # a note of pitch p ended just before step s
        o = int(next_onset[s])
        if o >= steps or o - s > reach:
            continue
        stop = o - 1 if starts[o, p] else o
        out[s:stop, p] = True
    return out.astype(track.dtype)


def pulse(track: np.ndarray, every: int) -> np.ndarray:
    """(steps, pitches) notes with every note longer than `every` steps struck again at each
    multiple of `every` inside it (the step before a re-strike left silent, so that it sounds);
    no piece shorter than two steps: a note a step past a grid line is not struck there, and a
    pulse of under three steps leaves every note whole."""
    x = track.astype(bool)
    if every < 3:
        return track.copy()
    steps = np.arange(x.shape[0]).reshape(-1, 1)
    before = np.vstack([np.zeros((1, x.shape[1]), bool), x[:-1]])
    after = np.vstack([x[1:], np.zeros((1, x.shape[1]), bool)])
    start = np.maximum.accumulate(np.where(x & ~before, steps, -1), axis=0)  # its note's first step
    last = np.where(x & ~after, steps, x.shape[0])
    end = np.flip(np.minimum.accumulate(np.flip(last, 0), axis=0), 0)  # its note's last step
    line = np.zeros(x.shape[0], bool)
    line[every::every] = True
    cut = np.zeros_like(x)  # the step before each re-strike
    cut[:-1] = (line[1:, None] & x[:-1] & x[1:] & (end[1:] - start[1:] + 1 > every)
                & (steps[:-1] - start[:-1] >= 2) & (end[1:] - steps[1:] >= 1))
    return (x & ~cut).astype(track.dtype)


def articulated_versions(phrase: np.ndarray, cfg: ModelConfig,
                         pulses_in_beats: tuple = PULSES_IN_BEATS) -> list[np.ndarray]:
    """(T, S, P) notes -> the candidates: as decoded, held at each reach, then pulsed at each
    pulse (drums as decoded)."""
    spb = cfg.steps_per_beat
    pitched = [t for t, track in enumerate(cfg.tracks) if not track.is_drum]
    tied = {t: tie_restrikes(phrase[t], max(1, spb // 4)) for t in pitched}  # the same at every reach
    out = [phrase]
    for beats in REACHES_IN_BEATS:
        held = phrase.copy()
        for t in pitched:
            held[t] = hold_to_next_onset(tied[t], int(beats * spb))
        out.append(held)
    for beats in pulses_in_beats:
        pulsed = phrase.copy()
        for t in pitched:
            pulsed[t] = pulse(phrase[t], max(1, int(beats * spb)))
        out.append(pulsed)
    return out


def fit_articulation(notes: np.ndarray, manners: np.ndarray, cfg: ModelConfig, mean: np.ndarray,
                     scale: np.ndarray, pulses_in_beats: tuple = PULSES_IN_BEATS,
                     fitted: list[int] = FITTED) -> np.ndarray:
    """Decoded notes (T, steps, P) of one or more phrases and their asked manners (phrases, T,
    manners; standardized by `mean` and `scale`, as a manner model keeps them) -> the notes
    with each phrase's pitched tracks played as decoded, held or pulsed, whichever is nearest. (A
    clip's last phrase may be cut short: its onsets are counted over the bars it has.)
    `pulses_in_beats` and `fitted` (manner indices): the candidates and what chooses among
    them, for a comparison (bench/manner_following.py)."""
    out = notes.copy()
    n = cfg.n_steps
    mean_t, scale_t = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(scale, dtype=torch.float32)
    for k in range(min(len(manners), -(-notes.shape[-2] // n))):  # a clip's last phrase may be cut short
        phrase = notes[:, k * n : (k + 1) * n]
        versions = articulated_versions(phrase, cfg, pulses_in_beats)
        played = (phrase_manners(torch.as_tensor(np.stack(versions), dtype=torch.float32), cfg) - mean_t) / scale_t
        asked = torch.as_tensor(manners[k], dtype=torch.float32)
        distance = ((played[..., fitted] - asked[..., fitted]) ** 2).sum(-1)  # (versions, T)
        choice = distance.argmin(0).numpy()  # the first (as decoded) where several tie, as for a silent track
        for t, track in enumerate(cfg.tracks):
            if not track.is_drum:
                out[t, k * n : (k + 1) * n] = versions[choice[t]][t]
    return out
