"""Benchmark: how low could the classifier two-sample test go if a part of each generated
phrase were played as the songs play it? (issue 14)

    .venv/bin/python bench/classifier_oracle.py [--model genres] [--weights CHECKPOINT.pt]
        [--genre rock] [--samples 1000] [--data ../shared/data/lpd] [--splits 3] [--json OUT]

Every decoding fix since session 15 moved the feature it aimed at and left the test within a
point or two: this asks what a fix *could* give before one is built. The validation songs are
split in two halves by song (A and B); the test is run against B, with the generated phrases
(`eval`'s classifier, engine/two_sample.py, folds keeping a song's phrases together):

- as they are;
- with one track's notes replaced by the same track of a phrase of A, moved into the key of the
  rest (the transposition of up to a tritone whose pitch classes agree most with the other
  tracks'; every feature measured again on the new notes, the tonal distances with the other
  tracks too): what the test would read if that track were a real player's, the rest left as
  generated;
- with every track but one replaced (that one moved into the real phrase's key): what that
  track alone, among real parts, still tells;
- with the n features that separate most (Kolmogorov-Smirnov against B) taken together from one
  phrase of A: what fixing those features alone could give (a mix of two phrases' features,
  which the classifier may also read: an estimate, not a bound);
- and A against B, the control: two sets of real phrases, so near 50 %.

A part from another song cannot follow this phrase's chords, whatever its key, so each figure is
given twice: on every feature, and without the tonal distances between tracks (where a mix of
two songs' parts tells most). A replaced phrase counts, for the folds, as one of its source
song's phrases. Each figure is the median over `--splits` random halvings.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from bytes2beats.engine.metrics import chroma
from bytes2beats.engine.two_sample import classifier_two_sample_test, phrase_features
from classifier_groups import phrase_sets  # the same phrase sets and features as its screen
from classifier_spread import ks_distances

FEATURE_COUNTS = (10, 30, 60, 90)


def halves(songs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """True for the phrases of a random half of the songs (A), False for the rest (B)."""
    unique = np.unique(songs)
    chosen = rng.permutation(unique)[: len(unique) // 2]
    return np.isin(songs, chosen)


def sources(n: int, available: int, rng: np.random.Generator) -> np.ndarray:
    """`n` rows of A to take parts from, each once where A has enough."""
    return rng.permutation(available)[:n] if n <= available else rng.integers(available, size=n)


def transposed(part: np.ndarray, shift: int) -> np.ndarray:
    """(steps, pitches) notes moved `shift` semitones; notes moved past the range dropped."""
    out = np.zeros_like(part)
    if shift >= 0:
        out[:, shift:] = part[:, : part.shape[1] - shift]
    else:
        out[:, :shift] = part[:, -shift:]
    return out


def in_key(part: np.ndarray, rest: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """A pitched part (steps, pitches) moved by up to a tritone to where its pitch classes agree
    most with the rest of the band's (12,)."""
    own = chroma(part.sum(0), lowest_pitch)
    agreement = [own @ np.roll(rest, -shift) for shift in range(-5, 7)]
    return transposed(part, int(np.argmax(agreement)) - 5)


def with_track(phrases: np.ndarray, parts: np.ndarray, track: int, drum: int | None,
               lowest_pitch: int) -> np.ndarray:
    """`phrases` (n, T, S, P) with track `track` replaced by `parts` (n, S, P), each moved into
    its phrase's key (the other pitched tracks') unless it is the drums."""
    out = phrases.copy()
    pitched = [t for t in range(phrases.shape[1]) if t not in (track, drum)]
    for k in range(len(out)):
        if track == drum:
            out[k, track] = parts[k]
        else:
            rest = chroma(phrases[k, pitched].sum((0, 1)), lowest_pitch)
            out[k, track] = in_key(parts[k], rest, lowest_pitch)
    return out


def accuracy(generated: np.ndarray, generated_songs: np.ndarray | None, real: np.ndarray,
             real_songs: np.ndarray, names: list[str], columns: np.ndarray) -> float:
    """`eval`'s classifier on the feature `columns` of two sets of rows."""
    return classifier_two_sample_test(generated[:, columns], real[:, columns], [names[c] for c in columns],
                                      real_songs=real_songs, generated_songs=generated_songs)["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--weights", help="a training checkpoint's generator, decoded as --model decodes")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    started = time.perf_counter()
    sets = phrase_sets(args.model, args.weights, args.genre, args.samples, args.data)
    cfg = sets.composer.config
    real_rolls = np.asarray(sets.phrases.rolls[sets.validation]).astype(bool)
    fake = sets.fake.astype(bool)
    names, songs = sets.feature_names, sets.songs

    def features(rolls: np.ndarray) -> np.ndarray:
        return phrase_features(rolls, sets.track_names, sets.drum, cfg.steps_per_beat, cfg.lowest_pitch)[0]

    every = np.arange(len(names))
    no_harmony = np.array([c for c, name in enumerate(names) if "tonal distance" not in name])
    rows: dict[str, list[float]] = {}
    rows_no_harmony: dict[str, list[float]] = {}
    for split in range(args.splits):
        rng = np.random.default_rng(split)
        in_a = halves(songs, rng)
        b_features, b_songs = sets.real[~in_a], songs[~in_a]
        a_rolls, a_features, a_songs = real_rolls[in_a], sets.real[in_a], songs[in_a]

        cases = [("control: real phrases of A against B", a_features, a_songs),
                 ("as generated", sets.generated, None)]
        pick = sources(len(fake), len(a_rolls), rng)
        for t, track in enumerate(sets.track_names):
            one = with_track(fake, a_rolls[pick, t], t, sets.drum, cfg.lowest_pitch)
            cases.append((f"{track} replaced by a real phrase's", features(one), a_songs[pick]))
            others = with_track(a_rolls[pick], fake[:, t], t, sets.drum, cfg.lowest_pitch)
            cases.append((f"every track but {track} replaced", features(others), a_songs[pick]))
        order = np.argsort(-ks_distances(sets.generated, b_features))
        for n in FEATURE_COUNTS:
            mixed = sets.generated.copy()
            mixed[:, order[:n]] = a_features[pick][:, order[:n]]
            cases.append((f"the {n} features that separate most taken from a real phrase", mixed, a_songs[pick]))
        for label, generated, generated_songs in cases:
            for columns, kept in ((every, rows), (no_harmony, rows_no_harmony)):
                kept.setdefault(label, []).append(
                    accuracy(generated, generated_songs, b_features, b_songs, names, columns))

    medians = {label: float(np.median(values)) for label, values in rows.items()}
    medians_no_harmony = {label: float(np.median(values)) for label, values in rows_no_harmony.items()}
    print(f"{sets.composer.name}, {args.genre}: {len(fake)} generated phrases against half of "
          f"{len(real_rolls)} validation phrases, median of {args.splits} halvings "
          f"({platform.machine()}, {platform.processor() or 'cpu'}; {time.perf_counter() - started:.0f} s)")
    print("| generated phrases ... | classifier | each halving | without tonal distances | each halving |")
    print("|---|---|---|---|---|")
    for label, values in rows.items():
        print(f"| {label} | {100 * medians[label]:.1f} % | {', '.join(f'{100 * v:.1f}' for v in values)} "
              f"| {100 * medians_no_harmony[label]:.1f} % | "
              f"{', '.join(f'{100 * v:.1f}' for v in rows_no_harmony[label])} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": sets.composer.name, "weights": args.weights, "genre": args.genre, "samples": len(fake),
            "validation_phrases": len(real_rolls), "splits": args.splits, "machine": platform.machine(),
            "median": medians, "each": rows,
            "median_without_tonal_distances": medians_no_harmony, "each_without_tonal_distances": rows_no_harmony}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
