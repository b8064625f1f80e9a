"""Feel: the songs' own timing put back on notes that were quantized onto the grid.

Quantizing moves every note onto the 16th or 8th-triplet grid, as a DAW does; the songs are
looser than that. In rock, 65 % of the validation phrases start some note a 48th or two off
the grid (7.5 % of all the training songs' onsets and ends), and a phrase is tight or loose
as its song was played or programmed: played songs are loose in every part at once. A
decoding that leaves every note on the grid is told from the songs by its timing alone
(real rock training phrases decoded so: 86 % for the classifier two-sample test,
bench/decoding_floor.py), as a drum machine is told from a drummer.

A *feel* is the timing of one real phrase: per track, for the starts and for the ends of
its notes, how often a note meant for each grid position (the one the decoding's quantize
snaps it to) was played 3, 2, 1 steps early, on time, or late. Each model keeps `FEELS` of
them per genre, drawn from its training songs (`fitted_feels`), as a DAW keeps groove
templates extracted from recordings; decoding a phrase draws one of them and moves each of
its notes' starts and ends by offsets drawn from that feel's table at the note's grid
position (`apply_feel`). One feel for the whole phrase keeps its parts tight or loose
together, as the song's players were; a table pooled over all the songs instead makes every
phrase a little loose, which no song is (the classifier: 88 % against 66 % for one feel a
phrase; docs/quality.md).

Only timing is taken from the songs, never notes. `amount` (0..1, the app's Feel knob) is the
chance that a note takes its drawn offset rather than staying on the grid.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from .binarize import note_edges, snap_offsets
from .metrics import on_grid

FEELS = 1000  # feels kept per genre: their off-grid shares within about a point of 4,000 phrases' (100: 2-4 points off)
REACH = 3  # steps early or late a feel records (a 16th at 12 steps a beat); further is clipped
FEEL = 1.0  # the knob when a caller does not say: the songs' own timing (docs/model.md, "Feel")
MAX_FEELS, MAX_TRACKS, MAX_STEPS_PER_BEAT = 10_000, 64, 96  # beyond these a file's feel entry is no feel
ENDS = ("start", "end")  # what a feel's tables time: the notes' starts and their ends


def phrase_feels(rolls: np.ndarray, offsets: list[np.ndarray], steps_per_beat: int) -> np.ndarray:
    """(n, T, S, P) bool rolls of real phrases -> (n, T, 2, steps_per_beat, 2 * REACH + 1) counts:
    per phrase and track, for starts then ends, at each grid position (where the decoding's
    quantize, `offsets[t]` = binarize.snap_offsets, puts the step), how many were played
    -REACH..REACH steps from it."""
    n, tracks, steps, pitches = rolls.shape
    width = 2 * REACH + 1
    out = np.zeros((n, tracks, 2, steps_per_beat, width), dtype=np.int64)
    for t in range(tracks):
        rows = np.moveaxis(rolls[:, t], -2, -1).reshape(-1, steps)  # (n * P, S)
        row, start, end = note_edges(rows)
        phrase = row // pitches
        for e, at in enumerate((start, end)):
            grid = at + offsets[t][at % steps_per_beat]
            played = np.clip(at - grid, -REACH, REACH) + REACH
            np.add.at(out, (phrase, t, e, grid % steps_per_beat, played), 1)
    return out


def fitted_feels(rolls: np.ndarray, rows: np.ndarray, offsets: list[np.ndarray], steps_per_beat: int,
                 count: int = FEELS, seed: int = 0) -> np.ndarray:
    """`count` feels drawn from the phrases `rows` of `rolls` (each phrase's `phrase_feels`),
    the silent phrases left out: (count or fewer, T, 2, steps_per_beat, 2 * REACH + 1) uint8,
    counts above 255 scaled down with their shares kept."""
    rng = np.random.default_rng(seed)
    rows = rng.permutation(rows)
    chosen, kept = [], 0
    for begin in range(0, len(rows), count):  # most phrases play: one pass or two
        feels = phrase_feels(rolls[np.sort(rows[begin : begin + count])], offsets, steps_per_beat)
        feels = feels[feels.sum(axis=(1, 2, 3, 4)) > 0][: count - kept]
        chosen.append(feels)
        kept += len(feels)
        if kept >= count:
            break
    feels = np.concatenate(chosen) if chosen else np.zeros((0,), dtype=np.int64)
    top = feels.max(axis=-1, keepdims=True) if feels.size else 0
    scaled = np.where(top > 255, np.round(feels * 255 / np.maximum(top, 1)), feels)
    return scaled.astype(np.uint8)


def pack_feels(feels: np.ndarray) -> dict:
    """A genre's feels as a model file's metadata holds them: compressed bytes, in base64
    (100 feels of 5 tracks are 84 KB of counts, nearly all 0; about 6 KB packed)."""
    return {"shape": list(feels.shape), "counts": base64.b64encode(zlib.compress(feels.astype(np.uint8).tobytes(), 9)).decode()}


def unpack_feels(packed: dict) -> np.ndarray:
    """`pack_feels`'s inverse; ValueError when the entry is not one. The shape is checked
    before anything is unpacked, and no more than it holds is: a damaged or hostile file
    cannot ask for gigabytes (zlib expands a thousandfold)."""
    try:
        shape = tuple(int(v) for v in packed["shape"])
        compressed = base64.b64decode(packed["counts"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a packed feel ({error})") from None
    if (len(shape) != 5 or shape[2] != 2 or shape[4] != 2 * REACH + 1 or not 0 < shape[0] <= MAX_FEELS
            or not 0 < shape[1] <= MAX_TRACKS or not 0 < shape[3] <= MAX_STEPS_PER_BEAT):
        raise ValueError(f"not a packed feel (shape {list(shape)[:6]})")
    size = int(np.prod(shape))
    try:
        raw = zlib.decompressobj().decompress(compressed, size + 1)
    except zlib.error as error:
        raise ValueError(f"not a packed feel ({error})") from None
    if len(raw) != size:
        raise ValueError(f"not a packed feel ({len(raw)} counts for shape {list(shape)})")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def apply_feel(notes: np.ndarray, feels: np.ndarray, steps_per_beat: int, amount: float = FEEL, seed: int = 0,
               whole_notes: tuple[int, ...] = ()) -> np.ndarray:
    """(..., T, S, P) notes on the grid -> the same notes played with a feel: each phrase (each
    leading index) draws one of `feels` (`fitted_feels`), and each note's start and end move by
    an offset drawn from the feel's table for the note's track at its grid position, taken with
    chance `amount`. Tracks in `whole_notes` (drums: a hit is its start) move whole. A line
    (bass) may overlap a step or two where its notes move toward each other, as the songs'
    bass rings into its next note.

    A grid position the feel's track has no notes at borrows the track's table over all
    positions; a track the feel's phrase left silent stays on the grid; a note that is not on
    the grid (quantize turned down) keeps the network's own timing. Each note's draws depend on
    `seed`, the phrase, the track and the note's own pitch and step alone: a track regenerated
    keeps the others' timing, and a note added or taken away (the threshold moved) moves no
    other. Notes of a pitch keep a step of silence between them (one moved onto or just past
    the note before starts two steps after it); one moved past the phrase's ends is moved back
    to them, or left out when nothing of it would sound.
    """
    amount = float(np.clip(amount, 0.0, 1.0))
    if amount == 0.0 or not len(feels) or not notes.any():
        return notes.copy()
    lead, (tracks, steps, pitches) = notes.shape[:-3], notes.shape[-3:]
    flat = notes.reshape(-1, tracks, steps, pitches)
    out = np.zeros_like(flat)
    width = 2 * REACH + 1
    stay = np.zeros(width)
    stay[REACH] = 1.0
    gridded = on_grid(steps_per_beat)
    for phrase in range(len(flat)):
        feel = feels[np.random.default_rng([seed, phrase]).integers(len(feels))].astype(np.float64)
        for t in range(tracks):
            rows = flat[phrase, t].T  # (P, S)
            pitch, start, end = note_edges(rows)
            if not len(pitch):
                continue
            draws = np.stack([hashed_uniform(seed, phrase, t, e, pitch, start) for e in range(2)])  # a note's own
            moved = []
            for e, at in enumerate((start, end)):
                table = feel[t, e, at % steps_per_beat]  # (notes, width)
                whole = feel[t, e].sum(axis=0)
                fallback = whole / whole.sum() if whole.sum() else stay
                total = table.sum(axis=1, keepdims=True)
                shares = np.where(total > 0, table / np.maximum(total, 1), fallback)
                shares = np.where(gridded[at % steps_per_beat, None], shares, stay)
                shares = amount * shares + (1 - amount) * stay
                offset = (draws[e][:, None] > np.cumsum(shares, axis=1)[:, :-1]).sum(axis=1) - REACH
                moved.append(at + offset)
            new_start, new_end = moved
            if t in whole_notes:
                new_end = new_start + (end - start)
            new_start = np.clip(new_start, 0, steps - 1)
            new_end = np.clip(np.maximum(new_end, new_start + 1), 1, steps)
            out[phrase, t] = _painted(pitch, new_start, new_end, pitches, steps).T
    return out.reshape(*lead, tracks, steps, pitches)


def hashed_uniform(*keys) -> np.ndarray:
    """A number in [0, 1) for each combination of the integer `keys` (broadcast), the same
    every time for the same keys and unrelated for any other: splitmix64's mixer over each
    key in turn. A note's draw is then its own, whatever notes come before it."""
    x = np.zeros(np.broadcast(*[np.asarray(k) for k in keys]).shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in keys:
            x = x ^ (np.asarray(key).astype(np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _painted(pitch: np.ndarray, start: np.ndarray, end: np.ndarray, pitches: int, steps: int) -> np.ndarray:
    """(P, S) bool with each note (pitch, start..end-1) painted; notes of a pitch in start
    order, each starting at least two steps after the one before (pushed later if moved
    nearer) and ended a step before the next starts, so that two notes stay two."""
    order = np.lexsort((start, pitch))
    pitch, start, end = pitch[order], start[order], end[order]
    # start[i] = max(start[i], start[i-1] + 2) along each pitch: a running maximum of
    # start - 2i, the pitches kept apart by an offset larger than any step
    first = np.ones(len(pitch), dtype=bool)
    first[1:] = pitch[1:] != pitch[:-1]
    rank = np.arange(len(pitch)) - np.maximum.accumulate(np.where(first, np.arange(len(pitch)), 0))
    apart = 4 * (steps + 2 * len(pitch) + 1)
    start = np.maximum.accumulate(start - 2 * rank + pitch * apart) - pitch * apart + 2 * rank
    keep = start < steps
    pitch, start, end = pitch[keep], start[keep], np.maximum(end[keep], start[keep] + 1)
    same = np.zeros(len(pitch), dtype=bool)
    same[:-1] = pitch[1:] == pitch[:-1]
    next_start = np.append(start[1:], steps)
    end = np.minimum(np.where(same, np.minimum(end, next_start - 1), end), steps)
    out = np.zeros((pitches, steps + 1), dtype=np.int32)
    np.add.at(out, (pitch, start), 1)
    np.add.at(out, (pitch, end), -1)
    return np.cumsum(out[:, :steps], axis=1) > 0


def track_offsets(prior: np.ndarray | None, spreads: list[float], steps_per_beat: int, tracks: int) -> list[np.ndarray]:
    """Per track, the quantize's move from each position in the beat to the grid position it
    snaps to (binarize.snap_offsets with the model's fitted onset prior and spread)."""
    return [snap_offsets(steps_per_beat, None if prior is None else prior[t], spreads[t]) for t in range(tracks)]
