"""Benchmark: which kinds of feature let the classifier two-sample test tell generated phrases
from real ones? (issue 14)

    .venv/bin/python bench/classifier_groups.py [--model genres] [--genre rock] [--samples 1500]
        [--quantize 0-1] [--data ../shared/data/lpd] [--weights CHECKPOINT.pt] [--all-only] [--json OUT]

`eval`'s classifier (engine/two_sample.py: gradient-boosted trees, folds keeping a song's
phrases together) run on one kind of feature at a time, and on all but one kind: onset
positions in the beat, note lengths, activity (density, empty bars, onsets a bar, notes at
once), pitch (height, spread, range, pitch classes a bar), harmony between tracks (tonal
distance) and repetition (bar similarity); then one track's features at a time. A kind whose
removal leaves the accuracy near 100 % is not the only tell: the ones that each reach it alone
must all be fixed before the test can fall to the issue's 75 %.

`--weights`: a training checkpoint's generator decoded as `--model` decodes (its thresholds,
bass line, quantizer, home keys), to screen a run's epochs without writing a model file for
each; `--all-only` prints the accuracy on all features, the most separating features, and
the phrases' mean bar similarity, and stops; with it, the generator's own figure (against the
validation phrases decoded as the model decodes its notes, as `eval` reports it).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import decoded_songs, generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import off_grid_onsets, on_grid, one_step_notes, onsets
from bytes2beats.engine.train import checkpoint_composer
from bytes2beats.engine.two_sample import classifier_two_sample_test, phrase_features

KINDS = {  # kind: what its features' names contain
    "onset positions": ("onsets at step",),
    "note lengths": ("mean note length", "one-step notes", "notes of a beat or more"),
    "activity": ("density", "empty bars", "onsets a bar", "notes at once"),
    "pitch": ("mean pitch", "pitch spread", "pitch range", "pitch classes a bar"),
    "harmony between tracks": ("tonal distance",),
    "repetition": ("bar similarity",),
}


def kind_columns(names: list[str]) -> dict[str, np.ndarray]:
    """Per kind, the feature columns it holds; every feature falls in exactly one kind."""
    columns = {kind: np.array([i for i, n in enumerate(names) if any(part in n for part in parts)])
               for kind, parts in KINDS.items()}
    counted = np.sort(np.concatenate(list(columns.values())))
    assert np.array_equal(counted, np.arange(len(names))), "a feature in no kind, or in two"
    return columns


def with_off_grid_onset(phrases: np.ndarray, steps_per_beat: int) -> float:
    """The share of phrases in which some track starts a note off the 16th and triplet grids:
    a decoding that quantizes every note leaves none, and that alone is a tell."""
    starts = onsets(phrases)  # (n, T, S, P)
    beats = starts.shape[2] // steps_per_beat
    per_position = starts[:, :, : beats * steps_per_beat].reshape(*starts.shape[:2], beats, steps_per_beat, -1)
    return float(per_position[:, :, :, ~on_grid(steps_per_beat)].any(axis=(1, 2, 3, 4)).mean())


@dataclass
class PhraseSets:
    """A model's generated phrases of a genre and the genre's validation phrases, each as
    the test's features."""
    composer: Composer
    phrases: object  # the data's phrases (engine/dataset.py: build_phrases)
    validation: np.ndarray  # their indices in `phrases`
    fake: np.ndarray  # the generated phrases, (n, T, S, P)
    generated: np.ndarray  # their features
    real: np.ndarray  # the validation phrases' features
    feature_names: list[str]
    songs: np.ndarray  # each validation phrase's song, for folds that keep a song together
    track_names: list[str]
    drum: int | None


def phrase_sets(model: str, weights: str | None, genre: str, samples: int, data: str,
                quantize: float | None = None) -> PhraseSets:
    """`samples` phrases of `model` (or of a checkpoint's generator decoded as `model`
    decodes) against every validation phrase of `genre` in `data`, as features."""
    composer = Composer.load(model, "cpu")
    if weights:
        composer = checkpoint_composer(weights, composer)
    cfg = composer.config
    phrases = build_phrases(data, PhraseSpec.of_model(cfg), cache_dir=default_cache_dir())
    in_genre = phrases.genre == phrases.genres.index(genre)
    validation = np.flatnonzero(in_genre & phrases.validation_songs[phrases.song])
    names = [t.name for t in cfg.tracks]
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    fake = generated_phrases(composer, samples, genre, None, quantize_strength=quantize)
    generated, feature_names = phrase_features(fake, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
    real, _ = phrase_features(phrases.rolls[validation], names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
    return PhraseSets(composer, phrases, validation, fake, generated, real, feature_names,
                      phrases.song[validation], names, drum)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--quantize", type=float, help="quantize strength (default: the model's decoding)")
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--weights", help="a training checkpoint whose generator to decode as --model does")
    parser.add_argument("--all-only", action="store_true", help="all features only, with what separates most")
    parser.add_argument("--json")
    args = parser.parse_args()
    sets = phrase_sets(args.model, args.weights, args.genre, args.samples, args.data, args.quantize)
    composer, phrases, validation, fake = sets.composer, sets.phrases, sets.validation, sets.fake
    generated, real, feature_names, songs = sets.generated, sets.real, sets.feature_names, sets.songs
    cfg, names, drum = composer.config, sets.track_names, sets.drum

    def accuracy(columns: np.ndarray) -> float:
        test = classifier_two_sample_test(generated[:, columns], real[:, columns],
                                          [feature_names[i] for i in columns], real_songs=songs)
        return test["accuracy"]

    everything = np.arange(len(feature_names))
    if args.all_only:
        test = classifier_two_sample_test(generated, real, feature_names, real_songs=songs)
        similarity = feature_names.index("bar similarity")
        # like against like: the validation songs decoded as this model decodes its notes (eval's "generator's own")
        decoded = np.concatenate(list(decoded_songs(composer, phrases.rolls, validation, args.genre,
                                                    quantize_strength=args.quantize)))
        like, _ = phrase_features(decoded, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
        own = classifier_two_sample_test(generated, like, feature_names, real_songs=songs)
        print(f"{composer.name}, {args.genre}: {args.samples} generated phrases against {len(validation)} validation "
              f"phrases: {100 * test['accuracy']:.1f} % (against them decoded as the model decodes: "
              f"{100 * own['accuracy']:.1f} %); bar similarity {np.nanmean(generated[:, similarity]):.3f} "
              f"against {np.nanmean(real[:, similarity]):.3f}")
        for row in test["separating"]:
            print(f"  {row['feature']}: AUC {row['auc']:.3f}, generated {row['generated']:.4g}, real {row['real']:.4g}")
        shown = lambda values: " / ".join(f"{v:.1f}" for v in values)  # noqa: E731
        real_rolls = phrases.rolls[validation]
        timing = {"off_grid": {"generated": off_grid_onsets(fake, cfg.steps_per_beat).tolist(),
                               "validation": off_grid_onsets(real_rolls, cfg.steps_per_beat).tolist()},
                  "one_step": {"generated": one_step_notes(fake).tolist(), "validation": one_step_notes(real_rolls).tolist()}}
        for what, sets in timing.items():
            print(f"{what.replace('_', '-')} % ({' / '.join(names)}): generated {shown(sets['generated'])}; "
                  f"validation {shown(sets['validation'])}")
        test.update(timing, generators_own=own["accuracy"])
        if args.json:
            Path(args.json).write_text(json.dumps({"model": composer.name, "genre": args.genre, **test}, indent=2))
        return 0
    kinds = kind_columns(feature_names)
    quantized = "the model's quantize" if args.quantize is None else f"quantize {args.quantize:g}"
    print(f"{composer.name}, {args.genre}, {quantized}: {args.samples} generated phrases against {len(validation)} validation "
          f"phrases ({platform.machine()}); all {len(feature_names)} features: {100 * accuracy(everything):.1f} %")
    off_real = with_off_grid_onset(phrases.rolls[validation], cfg.steps_per_beat)
    off_fake = with_off_grid_onset(fake, cfg.steps_per_beat)
    print(f"phrases with a note starting off the grid: generated {100 * off_fake:.1f} %, validation "
          f"{100 * off_real:.1f} %")
    print("| features | how many | that kind alone | all but that kind |")
    print("|---|---|---|---|")
    results = {"model": composer.name, "genre": args.genre, "samples": args.samples, "quantize": args.quantize,
               "all": accuracy(everything),
               "with_off_grid_onset": {"generated": off_fake, "validation": off_real}, "kinds": {}, "tracks": {}}
    for kind, columns in kinds.items():
        alone, without = accuracy(columns), accuracy(np.setdiff1d(everything, columns))
        results["kinds"][kind] = {"features": len(columns), "alone": alone, "all_but": without}
        print(f"| {kind} | {len(columns)} | {100 * alone:.1f} % | {100 * without:.1f} % |", flush=True)
    for track in names:
        columns = np.array([i for i, n in enumerate(feature_names) if n.startswith(f"{track} ")])
        alone, without = accuracy(columns), accuracy(np.setdiff1d(everything, columns))
        results["tracks"][track] = {"features": len(columns), "alone": alone, "all_but": without}
        print(f"| {track}'s own | {len(columns)} | {100 * alone:.1f} % | {100 * without:.1f} % |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
