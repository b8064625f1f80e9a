"""Objective measures of multitrack music, over phrases of shape (n, tracks, steps, pitches).

From MuseGAN (Dong et al., AAAI 2018): EB, UPC, QN, DP, TD. From the seed paper: the
polyphonic rate and the self-similarity matrix. Plus the in-scale rate, pitch ranges, and
what a listener hears of rhythm that those miss: where in the beat notes start (`onset_positions`,
`off_grid_onsets`) and how many notes are a single step long (`one_step_notes`).
Every function takes binary numpy arrays and plain numbers, so that generated music and
real data go through exactly the same code.
"""

from __future__ import annotations

import math

import numpy as np

REPETITION_KINDS = ("chroma", "rhythm", "onsets")  # what track_repetition compares bar to bar
MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool)


def bars_of(phrases: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """(n, T, S, P) -> (n * bars, T, steps_per_bar, P)."""
    n, t, s, p = phrases.shape
    bars = s // steps_per_bar
    # (n, T, bars, steps_per_bar, P) -> (n, bars, T, steps_per_bar, P) -> (n * bars, T, steps_per_bar, P)
    return phrases[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p).swapaxes(1, 2).reshape(
        n * bars, t, steps_per_bar, p
    )


def chroma(x: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """Pitch classes used: (..., P) -> (..., 12), summing octaves."""
    p = x.shape[-1]
    pad = (-p) % 12
    classes = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    classes = classes.reshape(x.shape[:-1] + (-1, 12)).sum(axis=-2)
    return np.roll(classes, lowest_pitch % 12, axis=-1)  # so that index 0 is C


def empty_bars(bars: np.ndarray) -> np.ndarray:
    """EB: percent of bars in which a track plays nothing, per track."""
    return 100.0 * (~bars.any(axis=(2, 3))).mean(axis=0)


def used_pitch_classes(bars: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """UPC: pitch classes used per non-empty bar, per track."""
    used = (chroma(bars.any(axis=2), lowest_pitch) > 0).sum(axis=-1).astype(float)  # (bars, T)
    playing = bars.any(axis=(2, 3))
    return _masked_mean(used, playing)


def note_lengths(roll: np.ndarray) -> np.ndarray:
    """Lengths in steps of the notes (runs along time) of rolls shaped (..., S, P)."""
    x = roll.reshape(-1, roll.shape[-2], roll.shape[-1]).swapaxes(1, 2).reshape(-1, roll.shape[-2])  # (rows, S)
    padded = np.pad(x.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    starts = np.argwhere(edges == 1)
    ends = np.argwhere(edges == -1)
    return ends[:, 1] - starts[:, 1]


def qualified_notes(phrases: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """QN: percent of notes at least a 32nd long (3 steps at 48 a bar), per track."""
    min_steps = max(1, math.ceil(3 * steps_per_bar / 48))
    out = []
    for t in range(phrases.shape[1]):
        lengths = note_lengths(phrases[:, t])
        out.append(100.0 * (lengths >= min_steps).mean() if len(lengths) else np.nan)
    return np.array(out)


def onsets(rolls: np.ndarray) -> np.ndarray:
    """Where notes start in rolls shaped (..., S, P): a cell that sounds after one that does not."""
    before = np.zeros_like(rolls)
    before[..., 1:, :] = rolls[..., :-1, :]
    return rolls & ~before


def on_grid(steps_per_beat: int) -> np.ndarray:
    """(steps_per_beat,) bool: the positions in a beat on the 16th grid or the 8th-triplet grid.

    At 12 steps a beat these are 0, 3, 6, 9 (16ths) and 4, 8 (triplets); 1, 2, 5, 7, 10 and 11
    lie between them, a 48th or two off, where real players start few notes. At 4 steps a
    beat every position is a 16th.
    """
    position = np.arange(steps_per_beat)
    return (position * 4 % steps_per_beat == 0) | (position * 3 % steps_per_beat == 0)


def onset_positions(phrases: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """(T, steps_per_beat): per track, the share of its onsets at each position in the beat
    (NaN for a track that starts no note)."""
    n, t, s, p = phrases.shape
    beats = s // steps_per_beat
    counts = onsets(phrases)[:, :, : beats * steps_per_beat].reshape(n, t, beats, steps_per_beat, p).sum(
        axis=(0, 2, 4), dtype=np.int64)  # (T, steps_per_beat)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.full(counts.shape, np.nan), where=total > 0)


def off_grid_onsets(phrases: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Percent of each track's onsets that fall off the 16th and triplet grids (`on_grid`)."""
    return 100.0 * onset_positions(phrases, steps_per_beat)[:, ~on_grid(steps_per_beat)].sum(axis=1)


def one_step_notes(phrases: np.ndarray) -> np.ndarray:
    """Percent of each track's notes that last a single step (a 48th at 12 steps a beat):
    the fragments a jittery decoding leaves."""
    out = []
    for t in range(phrases.shape[1]):
        lengths = note_lengths(phrases[:, t])
        out.append(100.0 * (lengths == 1).mean() if len(lengths) else np.nan)
    return np.array(out)


def drum_pattern(drums: np.ndarray, steps_per_bar: int) -> float:
    """DP: percent of drum hits on a 16th-note grid (MuseGAN's 8- or 16-beat patterns)."""
    onsets = drums & ~np.pad(drums, ((0, 0), (1, 0), (0, 0)))[:, :-1]  # (n, S, P): hits, not holds
    step = steps_per_bar // 16 if steps_per_bar >= 16 else 1
    positions = np.nonzero(onsets)[1]
    if len(positions) == 0:
        return float("nan")
    return 100.0 * float(np.mean(positions % step == 0))


_K = np.arange(12)
# Harte et al. (2006)'s tonal centroid basis, (6, 12): a pitch class's point on the tonal torus
# (engine/train.py's harmony term pulls on the same measure)
TONAL_CENTROID_BASIS = np.stack([
    np.sin(_K * 7 * np.pi / 6), np.cos(_K * 7 * np.pi / 6),  # fifths
    np.sin(_K * 3 * np.pi / 2), np.cos(_K * 3 * np.pi / 2),  # minor thirds
    0.5 * np.sin(_K * 2 * np.pi / 3), 0.5 * np.cos(_K * 2 * np.pi / 3),  # major thirds
])


def bar_pair_similarity(vectors: np.ndarray) -> float:
    """(n, bars, k) -> the mean cosine similarity of every pair of bars where both are non-zero."""
    norms = np.linalg.norm(vectors, axis=2, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    first, second = np.triu_indices(vectors.shape[1], 1)
    alike = np.einsum("nik,nik->ni", unit[:, first], unit[:, second])
    both = (norms[:, first, 0] > 0) & (norms[:, second, 0] > 0)
    return float(alike[both].mean()) if both.any() else float("nan")


def track_repetition(phrases: np.ndarray, steps_per_bar: int, lowest_pitch: int) -> np.ndarray:
    """(n, T, S, P) notes -> (T, 3): each track's bar-pair similarity in REPETITION_KINDS: its pitch
    classes (chroma), its rhythm (the steps where a note sounds) and its onsets (where notes start:
    a groove or a riff), each the mean cosine similarity of every pair of a phrase's bars where
    both play."""
    n, t, s, p = phrases.shape
    bars = s // steps_per_bar
    x = phrases[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p)
    starts = onsets(phrases)[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p)
    kinds = (chroma(x.any(axis=3), lowest_pitch), x.any(axis=4), starts.any(axis=4))  # (n, T, bars, k) each
    return np.array([[bar_pair_similarity(kind[:, track].astype(float)) for kind in kinds] for track in range(t)])


def tonal_centroid(chromas: np.ndarray) -> np.ndarray:
    """Harte et al. (2006): (..., 12) chroma -> (..., 6) point on the tonal torus."""
    total = chromas.sum(axis=-1, keepdims=True)
    normed = np.divide(chromas, total, out=np.zeros_like(chromas, dtype=float), where=total > 0)
    return normed @ TONAL_CENTROID_BASIS.T


def tonal_distance(bars: np.ndarray, a: int, b: int, lowest_pitch: int) -> float:
    """TD between tracks a and b: mean distance of their bars' tonal centroids where both play."""
    ca = chroma(bars[:, a].sum(axis=1).astype(float), lowest_pitch)  # (bars, 12)
    cb = chroma(bars[:, b].sum(axis=1).astype(float), lowest_pitch)
    both = (ca.sum(-1) > 0) & (cb.sum(-1) > 0)
    if not both.any():
        return float("nan")
    return float(np.linalg.norm(tonal_centroid(ca[both]) - tonal_centroid(cb[both]), axis=-1).mean())


def polyphonic_rate(phrases: np.ndarray) -> np.ndarray:
    """Mean number of notes sounding per step where any sounds, per track (the seed paper's)."""
    counts = phrases.sum(axis=3).astype(float)  # (n, T, S)
    return _masked_mean(counts.transpose(0, 2, 1).reshape(-1, phrases.shape[1]),
                        counts.transpose(0, 2, 1).reshape(-1, phrases.shape[1]) > 0)


def in_scale_rate(phrases: np.ndarray, pitched: list[int], lowest_pitch: int) -> float:
    """Percent of pitched notes (active steps) in the major scale that fits each phrase best."""
    c = chroma(phrases[:, pitched].sum(axis=(1, 2)).astype(float), lowest_pitch)  # (n, 12)
    scales = np.stack([np.roll(MAJOR, k) for k in range(12)]).astype(float)  # (12 keys, 12)
    inside = (c @ scales.T).max(axis=1)  # (n,)
    total = c.sum(axis=1)
    keep = total > 0
    return float(100.0 * inside[keep].sum() / total[keep].sum()) if keep.any() else float("nan")


def pitch_range(phrases: np.ndarray) -> np.ndarray:
    """Mean span in semitones between a phrase's lowest and highest note, per track."""
    used = phrases.any(axis=2)  # (n, T, P)
    playing = used.any(axis=2)
    p = used.shape[2]
    lowest = np.argmax(used, axis=2)
    highest = p - 1 - np.argmax(used[:, :, ::-1], axis=2)
    return _masked_mean((highest - lowest).astype(float), playing)


def self_similarity(phrases: np.ndarray, steps_per_bar: int, lowest_pitch: int) -> np.ndarray:
    """Mean bar-by-bar self-similarity: cosine similarity of bars' chroma-and-rhythm vectors."""
    return phrase_self_similarity(phrases, steps_per_bar, lowest_pitch).mean(axis=0)  # (bars, bars)


def phrase_self_similarity(phrases: np.ndarray, steps_per_bar: int, lowest_pitch: int) -> np.ndarray:
    """`self_similarity` of each phrase: (n, bars, bars)."""
    n, t, s, p = phrases.shape
    bars = s // steps_per_bar
    x = phrases[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p)
    features = np.concatenate([
        chroma(x.any(axis=3), lowest_pitch).reshape(n, t, bars, -1),  # harmony per track
        x.any(axis=4).reshape(n, t, bars, -1),  # rhythm per track
    ], axis=3).transpose(0, 2, 1, 3).reshape(n, bars, -1).astype(float)  # (n, bars, features)
    norms = np.linalg.norm(features, axis=2, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features), where=norms > 0)
    return unit @ unit.transpose(0, 2, 1)


def bar_similarity(matrix: np.ndarray) -> float:
    """The mean of a self-similarity matrix off its diagonal: how much a phrase's bars are alike
    (1 when every bar repeats the first; the seed paper reads coherence from this matrix)."""
    if len(matrix) < 2:
        return float("nan")  # one bar: nothing to compare it with
    off = ~np.eye(len(matrix), dtype=bool)
    return float(matrix[off].mean())


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    total = (values * mask).sum(axis=0)
    count = mask.sum(axis=0)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def measure(phrases: np.ndarray, track_names: list[str], drum_track: int | None, steps_per_bar: int,
            lowest_pitch: int) -> dict:
    """All the per-set metrics of a set of phrases, as a JSON-ready dict.

    `onset_position` is a list per track (the share of onsets at each step of the beat);
    every other entry is a number or a dict of numbers."""
    bars = bars_of(phrases, steps_per_bar)
    steps_per_beat = steps_per_bar // 4
    pitched = [t for t in range(len(track_names)) if t != drum_track]
    per_track = lambda values: {track_names[t]: _num(values[t]) for t in range(len(track_names))}  # noqa: E731
    result = {
        "phrases": int(len(phrases)),
        "EB": per_track(empty_bars(bars)),
        "UPC": {track_names[t]: _num(v) for t, v in zip(pitched, used_pitch_classes(bars, lowest_pitch)[pitched])},
        "QN": {track_names[t]: _num(v) for t, v in zip(pitched, qualified_notes(phrases, steps_per_bar)[pitched])},
        "polyphonic_rate": per_track(polyphonic_rate(phrases)),
        "pitch_range": per_track(pitch_range(phrases)),
        "in_scale": _num(in_scale_rate(phrases, pitched, lowest_pitch)),
        "TD": {
            f"{track_names[a]}-{track_names[b]}": _num(tonal_distance(bars, a, b, lowest_pitch))
            for i, a in enumerate(pitched) for b in pitched[i + 1 :]
        },
        "bar_similarity": _num(bar_similarity(self_similarity(phrases, steps_per_bar, lowest_pitch))),
        "off_grid": per_track(off_grid_onsets(phrases, steps_per_beat)),
        "one_step": per_track(one_step_notes(phrases)),
        "onset_position": {track_names[t]: [_num(v) for v in row]
                           for t, row in enumerate(onset_positions(phrases, steps_per_beat))},
    }
    if drum_track is not None:
        result["DP"] = _num(drum_pattern(phrases[:, drum_track], steps_per_bar))
    return result


def shuffled_tracks(phrases: np.ndarray, seed: int = 0) -> np.ndarray:
    """MuseGAN's TD baseline: each track taken from a different random phrase."""
    rng = np.random.default_rng(seed)
    out = phrases.copy()
    for t in range(phrases.shape[1]):
        out[:, t] = phrases[rng.permutation(len(phrases)), t]
    return out


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else round(x, 4)


# ---------------------------------------------------------------------------------------
# Chords: how well the tracks fit the chords they were asked for (or, for real songs, the
# chords extracted from them: engine/chords.py).


def chord_tone_share(phrases: np.ndarray, chords: np.ndarray, pitched: list[int], lowest_pitch: int,
                     steps_per_beat: int) -> float:
    """The share of the pitched tracks' sounding time (cells) on a pitch class of the beat's
    chord, over the beats that have one. `chords`: (n, beats, 24) chord features."""
    n, _, steps, pitches = phrases.shape
    beats = steps // steps_per_beat
    octaves = -(-pitches // 12)
    x = phrases[:, pitched].reshape(n, len(pitched), beats, steps_per_beat, pitches).sum((1, 3), dtype=np.int64)
    x = np.pad(x, [(0, 0), (0, 0), (0, octaves * 12 - pitches)]).reshape(n, beats, octaves, 12).sum(2)
    x = np.roll(x, lowest_pitch % 12, axis=-1)  # (n, beats, 12): index = pitch class
    tones = chords[..., :12] > 0
    has_chord = tones.any(-1)
    on = (x * tones).sum(-1)[has_chord].sum()
    total = x.sum(-1)[has_chord].sum()
    return float(on / total) if total else math.nan


def bass_on_chord_root(phrases: np.ndarray, chords_per_beat: list, bass_track: int, lowest_pitch: int,
                       steps_per_beat: int) -> float:
    """The share of chord spans (a chord held within one bar) whose lowest bass note is the
    chord's root or its written bass, over the spans where the bass plays. `chords_per_beat`:
    per phrase, one Chord or None per beat."""
    hits, spans = bass_root_counts(phrases, chords_per_beat, bass_track, lowest_pitch, steps_per_beat)
    return float(hits.sum() / spans.sum()) if spans.sum() else math.nan


def bass_root_counts(phrases: np.ndarray, chords_per_beat: list, bass_track: int, lowest_pitch: int,
                     steps_per_beat: int) -> tuple[np.ndarray, np.ndarray]:
    """Per phrase, the chord spans whose lowest bass note is the root (or written bass) and the
    spans where the bass plays: the counts behind `bass_on_chord_root`, kept apart so that a
    benchmark can resample phrases for an interval."""
    n, _, steps, pitches = phrases.shape
    beats = steps // steps_per_beat
    plays = phrases[:, bass_track].reshape(n, beats, steps_per_beat, pitches).any(2)  # (n, beats, pitches)
    lowest = np.where(plays.any(-1), plays.argmax(-1) + lowest_pitch, 10_000)  # (n, beats)
    hits, spans = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for k in range(n):
        row = chords_per_beat[k]
        start = 0
        for b in range(1, beats + 1):
            if b < beats and row[b] == row[start] and b % 4:
                continue  # the span goes on: same chord, same bar
            chord = row[start]
            low = int(lowest[k, start:b].min())
            if chord is not None and low < 10_000:
                spans[k] += 1
                hits[k] += (low % 12) in (chord.root, chord.bass_note)
            start = b
    return hits, spans
