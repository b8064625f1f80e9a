"""Chord progressions as musicians write them: names, keys and Roman numerals.

A progression is text: bars separated by spaces, two or more chords within one bar joined by
a comma ("Am F C,G"), `N` (or `NC`, `N.C.`, `-`) where nothing is played. A chord is a name
("C", "F#m7", "Bb/D", "Cadd9": pychord reads every name it knows, a few symbols it lacks are
mapped first: "B°", "Bø", "C+", "C-7") or, given a key, a Roman numeral ("vi", "bVII", "V7",
"vii°", "V/V"). Every mistake is a ChordError whose message is one line naming the bad input.

The chords themselves are engine/chords.py's `Chord`: a root, the quality of the extractor's
vocabulary that fits, the bass note, and the exact pitch classes when the name asks for more
than that quality has (a C6 is a C major with an A: `Chord(0, "", tones=(0, 4, 7, 9))`).
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass

import numpy as np
import pychord
from pychord.constants.qualities import DEFAULT_QUALITIES
from pychord.utils import note_to_val

from .chords import PITCH_NAMES, QUALITIES, Chord, extract_chords

NO_CHORD_NAMES = {"N", "NC", "N.C.", "-"}

# Symbols musicians write that pychord does not read, as suffixes it does.
_SUFFIX_SYNONYMS = {
    "°": "dim", "o": "dim", "°7": "dim7", "o7": "dim7", "ø": "m7b5", "ø7": "m7b5",
    "+": "aug", "-7": "m7", "mi": "m", "mi7": "m7", "M": "", "Δ": "maj7", "Δ7": "maj7",
    "add2": "add9", "m(maj7)": "mM7", "7sus": "7sus4", "6/9": "69",
}
_ACCIDENTALS = str.maketrans({"♭": "b", "♯": "#"})

# Key profiles (Krumhansl and Kessler 1982): how well each scale degree fits a major or minor key.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor
# Key names as they are spelled: Db major rather than C# major, G# minor rather than Ab minor.
_MAJOR_KEY_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


class ChordError(ValueError):
    """A chord, key or progression that cannot be read; str() is one line naming it."""


@dataclass(frozen=True)
class Key:
    tonic: int  # 0-11, C = 0
    minor: bool

    @property
    def name(self) -> str:
        names = _MINOR_KEY_NAMES if self.minor else _MAJOR_KEY_NAMES
        return f"{names[self.tonic]} {'minor' if self.minor else 'major'}"

    @property
    def scale(self) -> tuple[int, ...]:
        """The key's seven pitch classes from the tonic up (minor: the natural minor)."""
        return tuple((self.tonic + i) % 12 for i in (_MINOR_SCALE if self.minor else _MAJOR_SCALE))

    def __str__(self) -> str:
        return self.name


_KEY = re.compile(r"([A-Ga-g])([#b]?)\s*-?\s*((?i:major|minor|maj|min)|m|M)?")


def parse_key(text: str) -> Key:
    """A key as musicians write it: "A minor", "Am", "a minor", "F# major", "Bb" (major), "c#m"."""
    match = _KEY.fullmatch(text.strip().translate(_ACCIDENTALS))
    if match is None:
        raise ChordError(f"not a key: {text!r}")
    letter, accidental, mode = match.groups()
    minor = mode is not None and (mode == "m" or mode.lower() in ("min", "minor"))
    return Key(note_to_val(letter.upper() + accidental) % 12, minor)


# ---------------------------------------------------------------------------------------
# Chords


_DEGREE = "VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i"
# a numeral, its suffix, then "/" and the numeral of the key it is in (V/V) or a bass note (I/E)
_NUMERAL = re.compile(rf"(?P<acc>[b#]?)(?P<degree>{_DEGREE})(?P<suffix>[^/]*)"
                      rf"(?:/(?P<of_acc>[b#]?)(?P<of>{_DEGREE})|/(?P<bass>[A-G][b#]?))?")
_DEGREES = ("i", "ii", "iii", "iv", "v", "vi", "vii")


def parse_chord(name: str, key: Key | None = None) -> Chord | None:
    """One chord name -> a Chord, or None for no chord ("N", "NC", "N.C.", "-").

    Names as pychord reads them ("C", "Am", "F#m7", "Bb", "G7", "Dsus4", "Cmaj7", "Bdim",
    "Caug", "C6", "Fadd9", "C/E", "Am/G") plus "°", "ø", "+" and "-" for dim, m7b5, aug and
    minor. With a `key`, Roman numerals too: degrees of the key's scale (a minor key's is the
    natural minor, so in A minor "III" is C and "VII" is G), upper case major and lower case
    minor ("V" is a major chord in a minor key too, as written), a flat or sharp before the
    numeral counts from the major scale of the tonic ("bVII" in C is Bb), a suffix as after
    a letter ("V7", "ii7", "IVmaj7", "vii°"), and "V/V" for the V of the V.
    """
    text = name.strip().translate(_ACCIDENTALS)
    if not text:
        raise ChordError("empty chord name")
    if text.upper() in NO_CHORD_NAMES:
        return None
    numeral = _NUMERAL.fullmatch(text)
    if numeral is not None:
        if key is None:
            raise ChordError(f"{name.strip()!r} is a Roman numeral: a key is needed to read it")
        return _parse_numeral(numeral, key, name)
    head, slash, bass_name = text.partition("/")
    head, bass_name = _capitalized(head), _capitalized(bass_name)  # "am", "d/f#": roots all the same
    if head.endswith("6") and bass_name == "9":  # C6/9
        head, slash, bass_name = head + "9", "", ""
    root_name = head[:2] if head[1:2] in ("#", "b") else head[:1]
    suffix = head[len(root_name):]
    suffix = _SUFFIX_SYNONYMS.get(suffix, suffix)
    try:
        written = pychord.Chord(root_name + suffix)
        bass = note_to_val(bass_name) % 12 if slash else None
    except (ValueError, KeyError, IndexError, AttributeError):
        raise ChordError(f"unknown chord {name.strip()!r}") from None
    root = note_to_val(written.root) % 12
    tones = {v % 12 for v in written.components(visible=False)}
    return _from_tones(root, tones, bass)


def _capitalized(note: str) -> str:
    return note[:1].upper() + note[1:] if note[:1] in ("a", "b", "c", "d", "e", "f", "g") else note


def _from_tones(root: int, tones: set[int], bass: int | None) -> Chord:
    """Our Chord for a root and its pitch classes: the vocabulary's quality when they are
    exactly one, else the closest one (most tones shared, fewest apart) with the tones kept."""
    relative = {(pc - root) % 12 for pc in tones}
    bass = None if bass == root else bass
    for suffix, intervals, _ in QUALITIES:
        if set(intervals) == relative:
            return Chord(root, suffix, bass)
    closest = max(QUALITIES, key=lambda q: len(relative & set(q[1])) / len(relative | set(q[1])))
    return Chord(root, closest[0], bass, tuple(sorted(tones)))


def _parse_numeral(match: re.Match, key: Key, name: str) -> Chord:
    tonic_key = key
    if match["of"]:  # V/V: the chord in the key of the given degree's chord
        tonic_key = Key(_degree_root(match["of"], match["of_acc"], key), match["of"].islower())
    root = _degree_root(match["degree"], match["acc"], tonic_key)
    suffix = _SUFFIX_SYNONYMS.get(match["suffix"], match["suffix"])
    if match["degree"].islower():  # a minor chord unless the suffix says what else
        if suffix.startswith("maj"):
            suffix = "mM" + suffix[3:]  # imaj7: minor with a major seventh
        elif suffix.startswith("M") or not suffix.startswith(("m", "dim", "aug")):
            suffix = "m" + suffix  # ii7 -> m7
    try:
        written = pychord.Chord(PITCH_NAMES[root] + suffix)
        bass = note_to_val(match["bass"]) % 12 if match["bass"] else None
    except (ValueError, KeyError, IndexError, AttributeError):
        raise ChordError(f"unknown chord {name.strip()!r}") from None
    return _from_tones(root, {v % 12 for v in written.components(visible=False)}, bass)


def _degree_root(degree: str, accidental: str, key: Key) -> int:
    step = _DEGREES.index(degree.lower())
    if accidental:  # bVII, #iv: counted from the major scale of the tonic
        return (key.tonic + _MAJOR_SCALE[step] + (1 if accidental == "#" else -1)) % 12
    return key.scale[step]


# pychord's chord suffixes, in its order (the plain ones first), with their intervals above the root
_PYCHORD_TONES = [(q, {i % 12 for i in pychord.QualityManager().get_quality(q).components})
                  for q, _ in DEFAULT_QUALITIES]


def chord_name(chord: Chord | None) -> str:
    """A chord's name as musicians write it ("N" for none): the vocabulary's own name, or for
    a chord with tones of its own the first of pychord's names that has exactly them ("C6")."""
    if chord is None:
        return "N"
    if not chord.tones:
        return chord.name
    relative = {(pc - chord.root) % 12 for pc in chord.tones}
    suffix = next((q for q, intervals in _PYCHORD_TONES if intervals == relative), None)
    if suffix is None:
        return chord.name
    name = PITCH_NAMES[chord.root] + suffix
    return name if chord.bass is None else f"{name}/{PITCH_NAMES[chord.bass]}"


# ---------------------------------------------------------------------------------------
# Progressions


def parse_progression(text: str, key: Key | None = None) -> list[list[Chord | None]]:
    """"Am F C,G" -> one list of chords per bar: [[Am], [F], [C, G]]."""
    bars = text.split()
    if not bars:
        raise ChordError("empty chord progression")
    out = []
    for bar in bars:
        names = bar.split(",")
        if any(not n.strip() for n in names):
            raise ChordError(f"an empty chord in the bar {bar!r}")
        out.append([parse_chord(n, key) for n in names])
    return out


def describe(bars: list[list[Chord | None]]) -> str:
    """The inverse of `parse_progression`: [[Am], [F], [C, G]] -> "Am F C,G"."""
    return " ".join(",".join(chord_name(c) for c in bar) for bar in bars)


def per_beat(bars: list[list[Chord | None]], n_bars: int, beats_per_bar: int = 4) -> list[Chord | None]:
    """One chord per beat over `n_bars` bars, the progression repeating when it is shorter.

    A bar of k chords splits its beats as evenly as it can, the earlier chords taking the
    spare beats (in 4/4: 2 chords 2+2, 3 chords 2+1+1, 4 one a beat); more chords than beats
    is an error.
    """
    if not bars:
        raise ChordError("empty chord progression")
    out: list[Chord | None] = []
    for b in range(n_bars):
        chords = bars[b % len(bars)] or [None]
        if len(chords) > beats_per_bar:
            raise ChordError(f"{len(chords)} chords in one bar ({','.join(map(chord_name, chords))}): "
                             f"at most {beats_per_bar}, one a beat")
        base, spare = divmod(beats_per_bar, len(chords))
        for k, chord in enumerate(chords):
            out += [chord] * (base + (k < spare))
    return out


def bars_of(half_bars: list[Chord | None]) -> list[list[Chord | None]]:
    """One chord per half bar -> per bar, the two halves as one chord when they are the same."""
    bars = [half_bars[i : i + 2] for i in range(0, len(half_bars), 2)]
    return [bar[:1] if len(bar) == 2 and bar[0] == bar[1] else bar for bar in bars]


def estimate_key(chords: list[Chord | None]) -> Key:
    """The key of chords (one per beat, or per any fixed span: each counts as long as it is
    repeated).

    Chords name their key by the scale their tones keep to and by the chord they come home to,
    so each of the 24 keys scores, in this order of weight: the share of the chords' tones
    (each as long as its chord) inside its scale; the share of the time its tonic chord is
    played (a major chord on the tonic for a major key, a minor one for a minor key), at 0.3;
    0.05 each when that chord opens or closes the progression; and, to break what ties remain,
    a hundredth of the correlation of the tones with Krumhansl and Kessler's key profile.
    So "Am Dm E Am" is in A minor, "C F G C" in C major and "Am F C G" in A minor.
    """
    played = [c for c in chords if c is not None]
    if not played:
        raise ChordError("no chords to find a key from")
    chroma = np.zeros(12)
    for chord in played:
        chroma[list(chord.pitch_classes)] += 1.0
    chroma /= chroma.sum()
    correlation = _profile_correlations(chroma)  # (mode, tonic): one product for all 24 keys
    roots = np.array([c.root for c in played])
    # whether each chord can be a key's tonic chord: a third, major or minor as the chord is
    minors = np.array([_is_minor(c) if _has_a_third(c) else None for c in played], dtype=object)
    best, best_score = None, -np.inf
    for minor in (False, True):
        for tonic in range(12):
            key = Key(tonic, minor)
            home = (roots == tonic) & (minors == minor)
            score = (chroma[list(key.scale)].sum() + 0.3 * home.mean() + 0.05 * (int(home[0]) + int(home[-1]))
                     + 0.01 * correlation[int(minor), tonic])
            if score > best_score:
                best, best_score = key, score
    return best


# The key profiles in every key, centred, and their lengths: a chroma's correlation with all 24 at once.
_PROFILES = np.stack([[np.roll(p, tonic) for tonic in range(12)] for p in (_MAJOR_PROFILE, _MINOR_PROFILE)])
_PROFILES_CENTRED = _PROFILES - _PROFILES.mean(-1, keepdims=True)
_PROFILE_LENGTHS = np.linalg.norm(_PROFILES_CENTRED, axis=-1)


def _profile_correlations(chroma: np.ndarray) -> np.ndarray:
    """(12,) -> (2, 12): Pearson's correlation of the chroma with each mode's profile on each
    tonic (0 for a flat chroma, where it is undefined)."""
    centred = chroma - chroma.mean()
    length = np.linalg.norm(centred)
    if length == 0:
        return np.zeros((2, 12))
    return (_PROFILES_CENTRED @ centred) / (_PROFILE_LENGTHS * length)


def _has_a_third(chord: Chord) -> bool:
    return bool({(chord.root + 3) % 12, (chord.root + 4) % 12} & set(chord.pitch_classes))


def _is_minor(chord: Chord) -> bool:
    return (chord.root + 3) % 12 in chord.pitch_classes and (chord.root + 4) % 12 not in chord.pitch_classes


# The diatonic chords of each mode as Roman numerals (the minor's from the natural minor).
MAJOR_NUMERALS = ("I", "ii", "iii", "IV", "V", "vi")
MINOR_NUMERALS = ("i", "iv", "v", "VI", "III", "VII")


def diatonic_progression(key: Key, rng: np.random.Generator) -> str:
    """Four diatonic chords as Roman numerals, one a bar, starting on the tonic or the
    relative chord ("vi IV I V"): what a chord model is measured over in every key."""
    degrees = MINOR_NUMERALS if key.minor else MAJOR_NUMERALS
    first = rng.choice([degrees[0], degrees[3] if key.minor else degrees[5]])
    return " ".join([str(first), *rng.choice(degrees, 3)])


def progression_in_key(progressions: list[str], key: Key, seed: int) -> list[Chord | None]:
    """A progression of the model's songs moved into `key`: one chord per half bar.

    `progressions` are the model metadata's strings (the vocabulary's names, one per half
    bar, "N" for none). One whose own key has the mode of `key` is drawn (the same seed, the
    same draw) and transposed to its tonic; when none has, one of the other mode goes to the
    relative key (a C major progression for A minor is played as it is).
    """
    parsed = []
    for text in progressions:
        try:
            chords = [None if n == "N" else Chord.from_name(n) for n in text.split()]
        except KeyError:
            continue
        if any(c is not None for c in chords):
            parsed.append((chords, estimate_key(chords)))
    if not parsed:
        raise ChordError("the model has no chord progressions to choose from")
    same_mode = [p for p in parsed if p[1].minor == key.minor]
    chords, own = random.Random(seed).choice(same_mode or parsed)
    # the relative key's tonic: a minor third below the major tonic, above the minor one
    target = key.tonic if own.minor == key.minor else (key.tonic + (3 if key.minor else -3)) % 12
    shift = (target - own.tonic) % 12
    return [None if c is None else c.transposed(shift) for c in chords]


def chords_from_midi(path: str | os.PathLike, n_bars: int | None = None) -> list[list[Chord | None]]:
    """The chords of a MIDI (or LPD .npz) file, per bar from its first: two a bar (one per half
    bar), one where both halves are the same; the first `n_bars` bars when given."""
    from .music_io import MusicFileError, read_music

    try:
        song = read_music(path, steps_per_beat=4, track_set=5)  # merged as it is read: any file costs little
    except MusicFileError as error:
        raise ChordError(str(error)) from None
    pitched = [i for i, t in enumerate(song.tracks) if not t.is_drum]
    if not song.rolls[pitched].any():
        raise ChordError(f"{path}: no pitched notes to take chords from")
    rolls = song.rolls if n_bars is None else song.rolls[:, : n_bars * song.steps_per_bar]
    return bars_of(extract_chords(rolls, song.tracks, lowest_pitch=0, steps_per_beat=song.steps_per_beat))
