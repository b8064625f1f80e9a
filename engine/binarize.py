"""From note probabilities to notes: a threshold with hysteresis.

A generator's sigmoid outputs hover around any single threshold along a held note, and
each dip below it cuts the note in two: MuseGAN blamed its low share of qualified notes on
exactly these fragments. Hysteresis, as in onset/offset decoding and edge tracing, takes
two thresholds: a note starts where the probability reaches `threshold` and is held while
it stays at or above `hold_ratio * threshold`. With `hold_ratio` 1 this is the plain
threshold of the seed paper.

A threshold may also be an array that broadcasts against the probabilities, e.g. one per
track, shape (tracks, 1, 1): a model's decoding gives each track its own (engine/generate.py).
Tracks that the data plays one note at a time (bass) are then made lines (`monophonic`).
"""

from __future__ import annotations

import numpy as np

PLAIN = 1.0  # hold_ratio of models calibrated before hysteresis: one threshold
HOLD_RATIO = 0.5  # the models' default since; bench/hold_ratio.py measures the choice


def binarize(probabilities: np.ndarray, threshold: float | np.ndarray, hold_ratio: float = PLAIN) -> np.ndarray:
    """(..., steps, pitches) probabilities -> bool notes of the same shape.

    Time is the second-last axis; each pitch of each track is decoded on its own.
    """
    start = probabilities >= threshold
    if hold_ratio >= PLAIN:
        return start
    keep = probabilities >= hold_ratio * threshold
    out = np.empty_like(start)
    held = np.zeros(start.shape[:-2] + start.shape[-1:], dtype=bool)  # (..., pitches)
    for step in range(start.shape[-2]):
        held = start[..., step, :] | (held & keep[..., step, :])
        out[..., step, :] = held
    return out


def calibrate(probabilities: np.ndarray, density: float, hold_ratio: float = PLAIN,
              low: float = 0.05, high: float = 0.99) -> float:
    """The threshold in [low, high] at which `binarize` makes `density` of the cells notes.

    The share of notes falls as the threshold rises, so a bisection finds it; with one
    threshold (hold_ratio 1) it is the (1 - density) quantile, found directly.
    """
    if hold_ratio >= PLAIN:
        return float(np.clip(np.quantile(probabilities, 1 - density), low, high))
    lo, hi = low, high
    for _ in range(20):  # (0.99 - 0.05) / 2**20: far finer than the slider's steps
        mid = (lo + hi) / 2
        if binarize(probabilities, mid, hold_ratio).mean() > density:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


def monophonic(notes: np.ndarray, probabilities: np.ndarray, shortest: int = 1) -> np.ndarray:
    """(..., steps, pitches) notes -> one note at a time: the line through the decoded notes
    that carries the most probability.

    A note sounds until its end or until the line's next note starts, which cuts it; a
    note may only be cut once it has sounded `shortest` steps, so cutting leaves no
    fragment shorter than that. A note whose start lies within that span of the note
    before is left out, as is one that the line gains more from skipping. A note's share
    of the line is the sum of its probabilities over the steps it sounds, so long, sure
    notes win over short blips. Cutting where the next note starts is a mono synth's
    last-note priority; choosing which notes to keep is weighted interval scheduling.
    """
    out = np.zeros_like(notes)
    for index in np.ndindex(notes.shape[:-2]):
        out[index] = _best_line(notes[index], probabilities[index], shortest)
    return out


def _best_line(notes: np.ndarray, probabilities: np.ndarray, shortest: int) -> np.ndarray:
    """`monophonic` for one (steps, pitches) roll."""
    edges = np.diff(np.pad(notes, ((1, 1), (0, 0))).astype(np.int8), axis=0)  # +1 at a start, -1 after an end
    by_pitch = lambda cells: cells[np.lexsort((cells[:, 0], cells[:, 1]))]  # noqa: E731
    starts, ends = by_pitch(np.argwhere(edges == 1)), by_pitch(np.argwhere(edges == -1))
    out = np.zeros_like(notes)
    if not len(starts):
        return out
    order = np.argsort(starts[:, 0], kind="stable")
    start, pitch, end = starts[order, 0], starts[order, 1], ends[order, 0]  # sounding over start..end-1
    mass = np.vstack([np.zeros((1, notes.shape[1])), np.cumsum(probabilities, axis=0)])
    # line[i]: the most a line that begins with note i can carry; then[i]: its next note (-1: none)
    n = len(start)
    line, then = np.zeros(n), np.full(n, -1)
    first_allowed = np.searchsorted(start, start + shortest, side="left")  # notes far enough after i
    for i in range(n - 1, -1, -1):
        line[i] = mass[end[i], pitch[i]] - mass[start[i], pitch[i]]
        nexts = np.arange(first_allowed[i], n)
        if len(nexts):
            cut = np.minimum(end[i], start[nexts])
            gains = mass[cut, pitch[i]] - mass[start[i], pitch[i]] + line[nexts]
            best = int(gains.argmax())
            if gains[best] > line[i]:
                line[i], then[i] = gains[best], nexts[best]
    i = int(line.argmax())
    while i >= 0:
        stop = end[i] if then[i] < 0 else min(end[i], start[then[i]])
        out[start[i] : stop, pitch[i]] = True
        i = then[i]
    return out
