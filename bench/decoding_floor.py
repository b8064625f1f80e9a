"""Benchmark: how much of the classifier two-sample test does the decoding alone explain? (issue 14)

    OMP_NUM_THREADS=2 .venv/bin/python bench/decoding_floor.py [--model genres-chords] [--genre rock]
        [--phrases 1500] [--data ../shared/data/lpd] [--json OUT]

Real training phrases are decoded as the model decodes its generator's notes, as though the
generator had given each of the songs' cells probability 1 or 0, one part of the decoding at a
time (the others left out) and then all of it; each set goes through `eval`'s classifier
(engine/two_sample.py) against the validation phrases as they are. A generator that made the
training songs exactly would score what the whole decoding scores here: the floor a decoding
sets, below which the test cannot fall however good the network becomes. `eval` reports that
floor and the generator's own distance beside the issue's test ("decoded as the model decodes").

The last rows play the decoded phrases with the genre's feels (engine/feel.py), as clips are
played: one real phrase's timing for each, and then, as the ablation, one feel pooled over all
of them (every phrase as loose as the genre on average).
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import decoded_songs
from bytes2beats.engine.feel import pack_feels
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.two_sample import MAX_PER_SET, classifier_two_sample_test, phrase_features

PARTS = {  # what each row keeps of the decoding: its meta entries, and whether it quantizes
    "thresholds only": ((), False),
    "bar gate": (("bar_gate",), False),
    "quantize (onto the grid)": ((), True),
    "quantize and straight 8ths": (("straight_eighths",), True),
    "quantize and straight 16ths": (("straight_sixteenths",), True),
    "drums as a kit (hits)": (("kit",), False),
    "bass as a line": (("monophonic",), False),
    "register": (("register",), False),
}
LEFT_OUT = ("bar_gate", "straight_sixteenths", "straight_eighths", "kit", "monophonic", "register")  # the pull: never, as in eval


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=MAX_PER_SET)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()
    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    in_genre = phrases.genre == phrases.genres.index(args.genre)
    is_validation = phrases.validation_songs[phrases.song]
    rng = np.random.default_rng(0)
    training = np.sort(rng.choice(np.flatnonzero(in_genre & ~is_validation), args.phrases, replace=False))
    validation = np.flatnonzero(in_genre & is_validation)
    names = [t.name for t in cfg.tracks]
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    real, feature_names = phrase_features(phrases.rolls[validation], names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
    meta = copy.deepcopy(composer.meta)

    def decoded(keep: tuple[str, ...], quantize: bool, whole: bool = False, feel: float = 0.0) -> np.ndarray:
        """The training phrases as `eval` decodes songs (evaluate.decoded_songs), with only the
        parts `keep` names (all when `whole`), played with `feel` of the genre's feels."""
        kept = composer.meta.get("feel")
        composer.meta = copy.deepcopy(meta)
        composer.meta["feel"] = kept
        if not whole:
            for entry in LEFT_OUT:
                if entry not in keep:
                    composer.meta.pop(entry, None)
        return np.concatenate(list(decoded_songs(composer, phrases.rolls, training, args.genre,
                                                 quantize_strength=None if whole else float(quantize), feel=feel)))

    rows = {"as they are": phrases.rolls[training]}
    rows.update({part: decoded(*how) for part, how in PARTS.items()})
    rows["the whole decoding"] = decoded((), True, whole=True)
    if len(composer.feels(args.genre)):
        rows["the whole decoding, played with a feel"] = decoded((), True, whole=True, feel=1.0)
        pooled = composer.feels(args.genre).sum(axis=0, keepdims=True, dtype=np.float64)
        pooled = np.round(pooled * 255 / pooled.max(axis=-1, keepdims=True).clip(min=1))  # counts as shares, in a byte
        composer.meta["feel"] = {**(meta.get("feel") or {}), args.genre: pack_feels(pooled.astype(np.uint8))}
        rows["the whole decoding, one feel pooled over the genre"] = decoded((), True, whole=True, feel=1.0)
    print(f"{composer.name}, {args.genre}: {len(training)} training phrases, decoded, against {len(validation)} "
          f"validation phrases ({platform.machine()})")
    print("| training phrases | classifier | what tells most (AUC) |")
    print("|---|---|---|")
    results = {}
    for label, notes in rows.items():
        features, _ = phrase_features(notes, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)
        test = classifier_two_sample_test(features, real, feature_names, generated_songs=phrases.song[training],
                                          real_songs=phrases.song[validation])
        results[label] = test
        tells = ", ".join(f"{row['feature']} ({row['auc']:.2f})" for row in test["separating"][:3])
        print(f"| {label} | {100 * test['accuracy']:.1f} % | {tells} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": composer.name, "genre": args.genre, "tests": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
