"""From note probabilities to notes: a threshold with hysteresis.

A generator's sigmoid outputs hover around any single threshold along a held note, and
each dip below it cuts the note in two: MuseGAN blamed its low share of qualified notes on
exactly these fragments. Hysteresis, as in onset/offset decoding and edge tracing, takes
two thresholds: a note starts where the probability reaches `threshold` and is held while
it stays at or above `hold_ratio * threshold`. With `hold_ratio` 1 this is the plain
threshold of the seed paper.
"""

from __future__ import annotations

import numpy as np

PLAIN = 1.0  # hold_ratio of models calibrated before hysteresis: one threshold
HOLD_RATIO = 0.5  # the models' default since; bench/hold_ratio.py measures the choice


def binarize(probabilities: np.ndarray, threshold: float, hold_ratio: float = PLAIN) -> np.ndarray:
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
