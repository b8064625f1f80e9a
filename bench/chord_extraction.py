"""Benchmark: how often the chord extractor (engine/chords.py) agrees with music21 on real songs.

    .venv/bin/pip install music21   # for this benchmark only: not a dependency of the project
    .venv/bin/python bench/chord_extraction.py [--songs 50] [--data ../shared/data] [--show 2]

POP909 here is MIDI only (no chord annotations), so the reference is an independent analysis of
the same notes: per half bar (two beats, the extractor's unit) on a 16th-note grid, the pitch
classes that sound for at least `--hold` of it (any pitched track, any octave; the three longest
when fewer than two do so) plus the lowest note sounding, closed up within the octave above
that note, make a `music21.chord.Chord`, whose `root()` and `quality` (major, minor,
diminished, augmented, other) are compared with the extractor's chord (its quality reduced the same way: 7 and maj7 are
major, m7 minor, m7b5 diminished, sus other). Half bars where either names no chord are left out.
Songs are merged to the five families and read on the full 128 pitches, as `chords_from_midi`
does; the first `--songs` files of POP909 and of LPD rock, in name order.

Measured (x86_64, music21 10.5.1, 25 s):

    $ .venv/bin/python bench/chord_extraction.py --songs 50
    set        hold songs half bars   root root+quality root+maj/min their root in our chord
    POP909     0.50    50      8041  88.7%        71.8%        89.5%                   95.9%
    POP909     0.25    50      8041  80.0%        73.9%        79.5%                   85.9%
    LPD rock   0.50    50     10357  81.9%        67.3%        83.3%                   91.1%
    LPD rock   0.25    50     10357  74.6%        62.4%        73.5%                   82.8%

    pop909/002.mid: first 8 bars, extractor | music21 (per half bar)
      bar   2: B,F#             | B,F#
      bar   3: E,Emaj7          | E,E
      bar   4: Abm,Ebm/F#       | Abm,Ebm
      bar   5: Emaj7,E          | E,E
      bar   6: Emaj7,F#         | B,F#
      bar   7: Abm7,F#          | Abm,F#
      bar   8: Abm,F#           | Abm,F#
      bar   9: C#m7,F#7         | C#m,F#?

"root": the same root; "root+quality": and the same quality class (music21 calls a chord
without a plain third and fifth, a sus or a bare fifth, "other": "?" above); "root+maj/min":
the same root and quality where music21 hears a major or minor chord; "their root in our
chord": music21's root is one of the extractor's chord's tones. Most disagreements are that
last kind, the same notes read from another root: a sus4 over its bass against the sus2 a
fourth up (the most common, 150 of 910 in POP909), an m7 against the major sixth a minor third
up (Am7 = C6), a maj7 against the minor triad a third up (Cmaj7 over Em), and music21 leaves
out what sounds less than `--hold` of the half bar, so it hears fewer sevenths. Moving the
extractor's constants (NON_CHORD_COST 0.4-1.0, BASS_WEIGHT 1-3, the sevenths' penalty
0.08-0.16, the sus chords' 0.04-0.12) moves every figure above by about a point at most, over
30 songs of each set: they stay as they are.

music21 is a reference, not ground truth: it names whatever it is given, passing notes
included, and it knows no bass track (the extractor weighs LPD rock's bass double; with it
weighing single, rock's root agreement at hold 0.5 is 83.7% against 83.3% over 30 songs).
"""

from __future__ import annotations

import argparse
import functools
import platform
import time
from pathlib import Path

import numpy as np
from bytes2beats.engine.chords import extract_chords
from bytes2beats.engine.families import merge_to_families
from bytes2beats.engine.music_io import MusicFileError, find_music_files, read_music
from bytes2beats.engine.pianoroll import resample
from bytes2beats.engine.progression import chord_name

STEPS_PER_BEAT = 4
HALF_BAR = 2 * STEPS_PER_BEAT  # steps
QUALITY_CLASS = {"": "major", "7": "major", "maj7": "major", "m": "minor", "m7": "minor",
                 "dim": "diminished", "m7b5": "diminished", "aug": "augmented", "sus2": "other", "sus4": "other"}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SHORT = {"major": "", "minor": "m", "diminished": "dim", "augmented": "aug", "other": "?"}


def load(path: Path):
    """A song merged to the five families on a 16th-note grid, or None when it cannot be read."""
    try:
        song = read_music(path, steps_per_beat=STEPS_PER_BEAT)
    except MusicFileError:
        return None
    if song.steps_per_beat != STEPS_PER_BEAT:
        song = resample(song, STEPS_PER_BEAT)  # LPD .npz files come at 24 steps a beat
    return merge_to_families(song, 5)


def music21_chord(bass: int, pitch_classes: set[int]) -> tuple[int, str]:
    """(root pitch class, quality) of a chord as music21 names it: the pitch classes over the
    bass, closed up within the octave above it (music21 spells them as it sees fit)."""
    root, quality = _music21_shape(tuple(sorted(int(pc - bass) % 12 for pc in pitch_classes)))
    return (root + bass) % 12, quality


@functools.cache
def _music21_shape(intervals: tuple[int, ...]) -> tuple[int, str]:
    """One chord shape over a C bass (0 among `intervals`), named once: music21 takes 60 ms a chord."""
    from music21 import chord as m21chord

    c = m21chord.Chord([60 + i for i in intervals])
    return c.root().pitchClass, c.quality


def reference_chords(song, hold: float) -> list:
    """music21's (root, quality class) per half bar, None where nothing pitched sounds."""
    pitched = np.array([not t.is_drum for t in song.tracks])
    union = (song.rolls[pitched] > 0).any(0)  # (steps, 128)
    n = union.shape[0] // HALF_BAR
    out = []
    for k in range(n):
        seg = union[k * HALF_BAR : (k + 1) * HALF_BAR]  # (8, 128)
        pitches = np.flatnonzero(seg.any(0))
        if not len(pitches):
            out.append(None)
            continue
        by_pc = np.zeros((HALF_BAR, 12), dtype=bool)
        for p in pitches:
            by_pc[:, p % 12] |= seg[:, p]
        share = by_pc.mean(0)
        chosen = set(np.flatnonzero(share >= hold))
        if len(chosen) < 2:
            chosen = set(np.argsort(-share, kind="stable")[:3]) & set(np.flatnonzero(share > 0))
        chosen.add(int(pitches[0] % 12))  # the lowest note sounding
        out.append(music21_chord(int(pitches[0] % 12), chosen))
    return out


def compare(songs: dict, hold: float) -> tuple[dict, dict]:
    """Agreement counts over songs, and per song the two analyses (for the eyeball print)."""
    counts = {"songs": 0, "half bars": 0, "root": 0, "root+quality": 0, "root+maj/min": 0, "maj/min bars": 0,
              "root a tone": 0}
    analyses = {}
    for path, song in songs.items():
        ours = extract_chords(song.rolls, song.tracks, lowest_pitch=0, steps_per_beat=STEPS_PER_BEAT)
        theirs = reference_chords(song, hold)
        analyses[path] = (ours, theirs)
        counts["songs"] += 1
        for a, b in zip(ours, theirs):
            if a is None or b is None:
                continue
            counts["half bars"] += 1
            root = a.root == b[0]
            counts["root"] += root
            counts["root a tone"] += b[0] in a.pitch_classes  # the same harmony, read from another root
            counts["root+quality"] += root and QUALITY_CLASS[a.quality] == b[1]
            if b[1] in ("major", "minor"):  # triad quality where music21 hears a major or minor chord
                counts["maj/min bars"] += 1
                counts["root+maj/min"] += root and QUALITY_CLASS[a.quality] == b[1]
    return counts, analyses


def show(path: Path, ours: list, theirs: list, bars: int = 8) -> None:
    print(f"\n{path.parent.name}/{path.name}: first {bars} bars, extractor | music21 (per half bar)")
    start = next((k for k, c in enumerate(ours) if c is not None), 0) // 2 * 2
    for bar in range(bars):
        k = start + 2 * bar
        mine = ",".join(chord_name(c) for c in ours[k : k + 2])
        ref = ",".join("N" if c is None else PITCH_NAMES[c[0]] + SHORT[c[1]] for c in theirs[k : k + 2])
        print(f"  bar {k // 2 + 1:3d}: {mine:<16} | {ref}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", type=int, default=50)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--hold", type=float, nargs="+", default=[0.5, 0.25],
                        help="share of a half bar a pitch class must sound to be part of music21's chord")
    parser.add_argument("--show", type=int, default=2, help="songs of each set to print side by side")
    args = parser.parse_args()
    import music21

    data = Path(args.data)
    sets = {"POP909": find_music_files(data / "pop909")[: args.songs],
            "LPD rock": find_music_files(data / "lpd" / "rock")[: args.songs]}
    print(f"{platform.machine()}, music21 {music21.__version__}")
    print(f"{'set':<9} {'hold':>5} {'songs':>5} {'half bars':>9} {'root':>6} {'root+quality':>12} "
          f"{'root+maj/min':>12} {'their root in our chord':>23}")
    shown = {}
    for name, paths in sets.items():
        songs = {path: song for path in paths if (song := load(path)) is not None}
        for hold in args.hold:
            t0 = time.perf_counter()
            c, analyses = compare(songs, hold)
            n = max(c["half bars"], 1)
            print(f"{name:<9} {hold:>5.2f} {c['songs']:>5} {c['half bars']:>9} {100 * c['root'] / n:>5.1f}% "
                  f"{100 * c['root+quality'] / n:>11.1f}% {100 * c['root+maj/min'] / max(c['maj/min bars'], 1):>11.1f}% "
                  f"{100 * c['root a tone'] / n:>22.1f}%   ({time.perf_counter() - t0:.0f} s)")
            shown.setdefault(name, analyses)
    for analyses in shown.values():
        for path, (ours, theirs) in list(analyses.items())[: args.show]:
            show(path, ours, theirs)


if __name__ == "__main__":
    main()
