"""Chords: a vocabulary, extraction from pianorolls, and the per-beat features a model reads.

A chord here is a root (pitch class 0-11, C = 0), a quality from `QUALITIES`, and the pitch
class in the bass (the root unless inverted: the pitch the bass holds longest); `NO_CHORD` when nothing pitched sounds. The
extractor names one chord per half bar of a phrase (two beats: the finest change a chord
progression in rock or pop makes as a rule) by template matching on how long each pitch
class sounds, with the bass track's notes weighing double and its lowest note choosing the
inversion. A model reads a chord as 24 numbers per beat (`chord_features`): the chord's
pitch classes and its bass note, so any chord a musician writes (a C6 or an Fadd9 as well)
is something the model can be given, not only the ones the extractor names.

Names as musicians write them (Am, F#m7, Bb/D, "C,G" for two in a bar) are parsed in
`engine/progression.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .atomic import atomic_write

# (suffix, intervals above the root, complexity penalty): a quality's extra tones must be
# heard to be chosen over the plain triad, and sevenths or suspensions over a triad that
# fits as well need more evidence than the triad does.
QUALITIES: tuple[tuple[str, tuple[int, ...], float], ...] = (
    ("", (0, 4, 7), 0.0),
    ("m", (0, 3, 7), 0.0),
    ("dim", (0, 3, 6), 0.08),
    ("aug", (0, 4, 8), 0.10),
    ("sus2", (0, 2, 7), 0.08),
    ("sus4", (0, 5, 7), 0.08),
    ("7", (0, 4, 7, 10), 0.08),
    ("maj7", (0, 4, 7, 11), 0.08),
    ("m7", (0, 3, 7, 10), 0.08),
    ("m7b5", (0, 3, 6, 10), 0.10),
)
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
N_FEATURES = 24  # per beat: the chord's 12 pitch classes, then its bass note's 12
BEATS_PER_CHORD = 2  # the extractor names one chord per two beats (half a bar)
NON_CHORD_COST = 0.6  # a sounding tone outside the chord costs this much of its weight
BASS_WEIGHT = 2.0  # the bass track's notes weigh double: the bass states the root
MIN_WEIGHT = 0.05  # below this share of a half bar's steps sounding: no chord


@dataclass(frozen=True)
class Chord:
    root: int  # 0-11, C = 0
    quality: str  # a suffix of QUALITIES ("" major, "m" minor, "7", ...)
    bass: int | None = None  # 0-11; None: the root
    tones: tuple[int, ...] = ()  # the pitch classes when not those of `quality` (a parsed C6)

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        if self.tones:
            return self.tones
        return tuple(sorted({(self.root + i) % 12 for i in QUALITY_INTERVALS[self.quality]}))

    @property
    def bass_note(self) -> int:
        return self.root if self.bass is None else self.bass

    @property
    def name(self) -> str:
        name = PITCH_NAMES[self.root] + self.quality
        return name if self.bass is None or self.bass == self.root else f"{name}/{PITCH_NAMES[self.bass]}"

    @classmethod
    def from_name(cls, name: str) -> Chord:
        """The inverse of `name` for the extractor's vocabulary ("F#m7", "C/E"); names as
        musicians write them in general: engine/progression.py."""
        head, _, bass = name.partition("/")
        root = max((p for p in PITCH_NAMES if head.startswith(p)), key=len, default=None)
        quality = head[len(root):] if root else None
        if root is None or quality not in QUALITY_INTERVALS or (bass and bass not in PITCH_NAMES):
            raise KeyError(f"not a chord of the vocabulary: {name!r}")
        return cls(PITCH_NAMES.index(root), quality, PITCH_NAMES.index(bass) if bass else None)

    def transposed(self, semitones: int) -> Chord:
        shift = lambda pc: (pc + semitones) % 12  # noqa: E731
        return Chord(shift(self.root), self.quality, None if self.bass is None else shift(self.bass),
                     tuple(sorted(shift(pc) for pc in self.tones)))

    def __str__(self) -> str:
        return self.name


NO_CHORD: Chord | None = None  # "N": nothing pitched sounds
QUALITY_INTERVALS = {suffix: intervals for suffix, intervals, _ in QUALITIES}

# The templates: (chords, 12) 0/1 and each one's penalty, all roots of every quality.
_TEMPLATE_CHORDS = [Chord(root, suffix) for suffix, _, _ in QUALITIES for root in range(12)]
_TEMPLATES = np.array([[pc in c.pitch_classes for pc in range(12)] for c in _TEMPLATE_CHORDS], dtype=np.float32)
_PENALTIES = np.array([penalty for _, _, penalty in QUALITIES for _ in range(12)], dtype=np.float32)


def pitch_class_weights(rolls: np.ndarray, pitched: list[int], bass_track: int | None, lowest_pitch: int,
                        steps_per_segment: int) -> tuple[np.ndarray, np.ndarray]:
    """(..., tracks, steps, pitches) bool -> per segment of `steps_per_segment` steps:
    (..., segments, 12) how long each pitch class sounds (bass doubled), as a share of the
    segment's steps, and (..., segments) the lowest pitch that sounds in the bass track
    (or in any pitched track when the bass is silent), -1 when none."""
    *lead, _, steps, pitches = rolls.shape
    n = steps // steps_per_segment
    x = rolls[..., : n * steps_per_segment, :].reshape(*lead, rolls.shape[-3], n, steps_per_segment, pitches)
    sounding = x.sum(-2, dtype=np.float32)  # (..., tracks, segments, pitches): steps each pitch sounds
    weights = np.zeros((*lead, n, 12), dtype=np.float32)
    octaves = -(-pitches // 12)
    pad = octaves * 12 - pitches
    for t in pitched:
        w = BASS_WEIGHT if t == bass_track else 1.0
        track = sounding[..., t, :, :]  # (..., segments, pitches)
        track = np.pad(track, [(0, 0)] * (track.ndim - 1) + [(0, pad)])
        by_class = track.reshape(*lead, n, octaves, 12).sum(-2)  # pitch index 0 is pitch class lowest_pitch % 12
        weights += w * np.roll(by_class, lowest_pitch % 12, axis=-1)
    weights /= steps_per_segment
    lowest = np.full((*lead, n), -1, dtype=np.int16)
    for t in [u for u in pitched if u != bass_track]:  # the lowest pitch of any pitched track...
        plays = sounding[..., t, :, :] > 0  # (..., segments, pitches)
        first = np.where(plays.any(-1), plays.argmax(-1) + lowest_pitch, 999)
        lowest = np.where((first < 999) & ((lowest < 0) | (first < lowest)), first, lowest).astype(np.int16)
    if bass_track is not None:  # ...unless the bass plays: then the pitch it holds longest
        held = sounding[..., bass_track, :, :]  # (..., segments, pitches); ties go to the lower
        lowest = np.where(held.any(-1), held.argmax(-1) + lowest_pitch, lowest).astype(np.int16)
    return weights, lowest


def match(weights: np.ndarray, lowest: np.ndarray) -> list:
    """Best chord per segment, from `pitch_class_weights`: a nested list of Chord or None."""
    flat_w = weights.reshape(-1, 12)
    flat_low = lowest.reshape(-1)
    total = flat_w.sum(1, keepdims=True)
    share = flat_w / np.maximum(total, 1e-9)  # each pitch class's share of what sounds
    bass_bonus = np.zeros_like(share)
    has_bass = flat_low >= 0
    bass_bonus[np.flatnonzero(has_bass), flat_low[has_bass] % 12] = 0.15
    # score = share on chord tones - cost * share off them - penalty + a bonus for the root in the bass
    on = share @ _TEMPLATES.T  # (segments, chords)
    scores = on - NON_CHORD_COST * (1 - on) - _PENALTIES
    roots = np.array([c.root for c in _TEMPLATE_CHORDS])
    scores += bass_bonus[:, roots]
    best = scores.argmax(1)
    out = []
    for k in range(len(flat_w)):
        if flat_w[k].sum() < MIN_WEIGHT:
            out.append(NO_CHORD)
            continue
        chord = _TEMPLATE_CHORDS[best[k]]
        bass = int(flat_low[k] % 12) if flat_low[k] >= 0 else None
        if bass is not None and bass in chord.pitch_classes and bass != chord.root:
            chord = Chord(chord.root, chord.quality, bass)
        out.append(chord)
    return np.array(out, dtype=object).reshape(weights.shape[:-1]).tolist()


def extract_chords(rolls: np.ndarray, tracks, lowest_pitch: int, steps_per_beat: int,
                   beats_per_chord: int = BEATS_PER_CHORD) -> list:
    """The chords of one phrase or clip, (tracks, steps, pitches) -> one Chord (or None) per
    `beats_per_chord` beats; of many phrases, (n, tracks, steps, pitches) -> n such lists.
    `tracks` are the rolls' Track objects (drums are left out, the family named Bass is the
    bass)."""
    pitched = [i for i, t in enumerate(tracks) if not t.is_drum]
    bass = next((i for i, t in enumerate(tracks) if t.name == "Bass"), None)
    weights, lowest = pitch_class_weights(np.asarray(rolls) > 0, pitched, bass, lowest_pitch,
                                          beats_per_chord * steps_per_beat)
    return match(weights, lowest)


def chord_features(chords_per_beat: list) -> np.ndarray:
    """One chord (or None) per beat -> (beats, N_FEATURES) float32: the chord's pitch classes
    (12) and its bass note (12); all zero where there is no chord."""
    out = np.zeros((len(chords_per_beat), N_FEATURES), dtype=np.float32)
    for b, chord in enumerate(chords_per_beat):
        if chord is None:
            continue
        out[b, list(chord.pitch_classes)] = 1.0
        out[b, 12 + chord.bass_note] = 1.0
    return out


def per_beat(chords: list, beats: int) -> list:
    """Chords spread evenly over `beats` beats (each of n chords lasts beats / n)."""
    if not chords:
        return [None] * beats
    return [chords[b * len(chords) // beats] for b in range(beats)]


def phrase_chord_features(chords_per_phrase: list, beats: int) -> np.ndarray:
    """(n, beats, N_FEATURES) from n lists of extracted chords (one per segment)."""
    return np.stack([chord_features(per_beat(c, beats)) for c in chords_per_phrase]) if chords_per_phrase \
        else np.zeros((0, beats, N_FEATURES), dtype=np.float32)




EXTRACTOR_VERSION = 1  # part of the cache key: bump when extraction changes


def phrases_chords(phrases, cfg, chunk: int = 2048) -> list:
    """The extracted chords (one per half bar) of every phrase of a `Phrases`, for a model
    config's tracks, pitch range and grid; cached in the user's cache folder, keyed by the
    songs, the phrases and the settings, so a second run starts at once."""
    import hashlib
    import json

    from .dataset import default_cache_dir

    key = hashlib.sha1(json.dumps([
        EXTRACTOR_VERSION, list(phrases.files), phrases.rolls.shape, cfg.track_set, cfg.lowest_pitch,
        cfg.steps_per_beat, hashlib.sha1(np.ascontiguousarray(phrases.song).tobytes()).hexdigest(),
    ]).encode()).hexdigest()[:16]
    cache = default_cache_dir() / f"chords-{key}.json"
    try:
        return [[None if c is None else Chord.from_name(c) for c in row] for row in json.loads(cache.read_text())]
    except (OSError, ValueError, KeyError):
        pass
    chords = []
    for start in range(0, len(phrases.rolls), chunk):
        chords += extract_chords(phrases.rolls[start : start + chunk], cfg.tracks, cfg.lowest_pitch, cfg.steps_per_beat)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        names = json.dumps([[None if c is None else c.name for c in row] for row in chords])
        atomic_write(cache, lambda handle: handle.write(names.encode()))
    except OSError:
        pass  # a cache that cannot be written is only slower next time
    return chords


def phrases_chord_features(phrases, cfg, root_position: bool = False) -> np.ndarray:
    """(n, beats, 24) bool: every phrase's chords as the model reads them. `root_position`:
    with each chord's bass note its root, as a chord written without one ("C", "vi") reads."""
    chords = phrases_chords(phrases, cfg)
    if root_position:
        chords = [[None if c is None else in_root_position(c) for c in row] for row in chords]
    return phrase_chord_features(chords, cfg.n_beats).astype(bool)


def in_root_position(chord: Chord) -> Chord:
    """The chord with its root in the bass (C/E -> C)."""
    return Chord(chord.root, chord.quality, None, chord.tones)
