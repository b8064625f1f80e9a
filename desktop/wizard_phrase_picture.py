"""Small pianoroll pictures of phrases for the training wizard (real phrases, samples).

A lane for each track that plays, cropped to the pitches it uses, in the engine's track
colors (engine/render.py), so that a 4-bar phrase reads at a few hundred pixels. Drawn with
numpy and PIL (safe on a pool thread); `to_pixmap` makes the QPixmap on the GUI thread.
"""

from __future__ import annotations

import html

import numpy as np
from bytes2beats.engine.families import merge_to_families
from bytes2beats.engine.pianoroll import Multitrack
from bytes2beats.engine.render import track_color
from PIL import Image
from PySide6.QtGui import QImage, QPixmap

STEP_PX, PITCH_PX = 4, 3
BACKGROUND, BAR_LINE, SEPARATOR = (250, 250, 250), (205, 205, 205), (90, 90, 90)


def phrase_picture(roll: np.ndarray, steps_per_bar: int) -> Image.Image:
    """(tracks, steps, pitches) of 0/1 or velocities -> a picture, highest pitch on top."""
    lanes = []
    for i in np.flatnonzero(roll.any(axis=(1, 2))):
        pitches = np.flatnonzero(roll[i].any(axis=0))
        low, high = max(0, pitches.min() - 1), min(roll.shape[2] - 1, pitches.max() + 1)
        cells = roll[i, :, low : high + 1] > 0  # (steps, pitches in use)
        lane = np.full((high - low + 1, roll.shape[1], 3), BACKGROUND, np.uint8)
        lane[:, ::steps_per_bar] = BAR_LINE
        lane[cells.T[::-1]] = track_color(int(i))
        lanes += [lane.repeat(PITCH_PX, 0), np.full((2, roll.shape[1], 3), SEPARATOR, np.uint8)]
    if not lanes:
        return Image.new("RGB", (roll.shape[1] * STEP_PX, 40), BACKGROUND)  # a silent phrase
    return Image.fromarray(np.concatenate(lanes[:-1]).repeat(STEP_PX, 1))


def clip_picture(clip: Multitrack, track_set: int) -> tuple[Image.Image, list[int]]:
    """A clip read from a file, its tracks merged into the model's families: (picture, families playing)."""
    merged = merge_to_families(clip, track_set)
    playing = [int(i) for i in np.flatnonzero(merged.rolls.any(axis=(1, 2)))]
    return phrase_picture(merged.rolls, merged.steps_per_bar), playing


def families_html(names: list[str], playing: list[int]) -> str:
    """The names of the tracks that play, each in its lane's color, top lane first."""
    spans = []
    for i in playing:
        r, g, b = track_color(i)
        spans.append(f'<span style="color: rgb({r},{g},{b}); font-weight: bold">{html.escape(names[i])}</span>')
    return " · ".join(spans) or "silent"


def to_pixmap(picture: Image.Image) -> QPixmap:
    rgb = picture.convert("RGB")
    image = QImage(rgb.tobytes(), rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # a copy: the bytes above are freed after this line
