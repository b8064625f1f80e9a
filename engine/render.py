"""Pianoroll pictures as PNG files (PIL only: no plotting library, no Qt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .pianoroll import Multitrack

# One color per track, cycled past ten: drums, piano, guitar, bass, strings first.
TRACK_COLORS = [
    (231, 76, 60), (52, 152, 219), (46, 204, 113), (155, 89, 182), (241, 196, 15),
    (230, 126, 34), (26, 188, 156), (236, 112, 160), (149, 165, 166), (52, 73, 94),
]


def track_color(index: int) -> tuple[int, int, int]:
    return TRACK_COLORS[index % len(TRACK_COLORS)]


def render_pianoroll(mt: Multitrack, cell: int = 3, lowest: int = 24, n_pitches: int = 84) -> Image.Image:
    """Stacked lanes, one per track, with bar lines; time runs right, pitch runs up."""
    lanes = []
    steps = mt.n_steps
    for i in range(len(mt.tracks)):
        roll = mt.rolls[i, :, lowest : lowest + n_pitches] > 0  # (steps, pitches)
        lane = np.full((n_pitches, steps, 3), 250, dtype=np.uint8)
        for bar in range(0, steps, mt.steps_per_bar):
            lane[:, bar] = (200, 200, 200)
        lane[roll.T[::-1]] = track_color(i)  # highest pitch in the top row
        lanes.append(lane)
        lanes.append(np.full((2, steps, 3), 60, dtype=np.uint8))  # lane separator
    image = np.concatenate(lanes[:-1]) if lanes else np.zeros((1, 1, 3), np.uint8)
    image = image.repeat(cell, axis=0).repeat(cell, axis=1)
    return Image.fromarray(image)


def pianoroll_sheet(clips: list[Multitrack], columns: int = 4) -> Image.Image:
    """Several clips in a grid, one picture (training samples, eval sheets)."""
    pictures = [render_pianoroll(c, cell=2) for c in clips]
    w, h = pictures[0].size
    rows = (len(pictures) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (w + 8), rows * (h + 8)), (40, 40, 40))
    for k, picture in enumerate(pictures):
        sheet.paste(picture, ((k % columns) * (w + 8) + 4, (k // columns) * (h + 8) + 4))
    return sheet


def save_pianoroll_sheet(clips: list[Multitrack], path: str | Path, columns: int = 4) -> Path:
    """`pianoroll_sheet` saved at `path` (its format by the suffix)."""
    path = Path(path)
    pianoroll_sheet(clips, columns).save(path)
    return path
