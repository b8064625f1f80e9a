"""Benchmark (issue 18): can the genre a user's folder is most like be chosen for them, so that
fine-tuning starts from it (`train --like`) without asking? A screen of the simplest chooser.

    .venv/bin/python bench/nearest_genre.py [--model genres] [--data runs/lpd48.phrases.npz]
        [--songs 40] [--folders 3] [--phrases 128] [--chooser nearest|classifier [--no-lean]]

The model's phrases of each genre (`--phrases` a genre, seeds 70,000 on, decoded as clips are)
and each folder's phrases (`--songs` training songs of one LPD genre, drawn `--folders` times a
genre) are described by `eval`'s classifier features (engine/two_sample.py); a feature's
values are put in units of its spread over all the generated phrases (features that do not
vary left out, a folder's mean clipped at 3 units), and the folder goes to the genre whose mean
is nearest (root mean square). Prints each folder's choice and its three nearest genres.

`--chooser classifier`: what `train` chooses by (engine/genre_chooser.py): a classifier trained
to tell the model's genres apart by their generated phrases' features gives each of a folder's
phrases a probability per genre; the folder goes to the genre with the highest mean, divided by
the model file's `genre_lean` (its mean over training songs of every genre alike; `--no-lean`:
not divided).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bytes2beats.engine.dataset import load_phrase_pack_for
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.genre_chooser import choose_genre, genre_classifier
from bytes2beats.engine.two_sample import phrase_features

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genres")
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "lpd48.phrases.npz")
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--folders", type=int, default=3)
    parser.add_argument("--phrases", type=int, default=128)
    parser.add_argument("--chooser", choices=["nearest", "classifier"], default="nearest")
    parser.add_argument("--no-lean", action="store_true",
                        help="with --chooser classifier: the mean probabilities as they are, not divided by the "
                             "model file's genre_lean")
    args = parser.parse_args()

    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    names = [t.name for t in cfg.tracks]
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)

    def features(rolls: np.ndarray) -> np.ndarray:
        return phrase_features(rolls, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)[0]

    classifier = genre_classifier(composer) if args.chooser == "classifier" else None
    if classifier is None:
        generated = {g: features(generated_phrases(composer, args.phrases, g, None, 70_000)) for g in cfg.genres}
        pooled = np.concatenate(list(generated.values()))
        centre, spread = np.nanmean(pooled, axis=0), np.nanstd(pooled, axis=0)
        varies = spread > 1e-3
        centre, spread = centre[varies], spread[varies]
        genre_means = {g: np.nan_to_num((np.nanmean(v, axis=0)[varies] - centre) / spread) for g, v in generated.items()}
    phrases, _ = load_phrase_pack_for(args.data, composer.config)
    training = ~phrases.validation_songs[phrases.song]
    if classifier is not None and args.no_lean:
        composer.meta["genre_lean"] = {g: 1.0 for g in cfg.genres}
    elif classifier is not None:
        print("the classifier's lean on real songs, from the model file:",
              ", ".join(f"{g} {p:.3f}" for g, p in composer.meta["genre_lean"].items()))

    def closeness(rolls: np.ndarray) -> dict:
        """Each genre's score for a folder's phrases, higher for nearer."""
        if classifier is not None:  # what `train` chooses by
            return choose_genre(composer, rolls, classifier)[1]
        mean = np.clip(np.nan_to_num((np.nanmean(features(rolls), axis=0)[varies] - centre) / spread), -3, 3)
        return {g: -float(np.sqrt(((mean - m) ** 2).mean())) for g, m in genre_means.items()}

    rng = np.random.default_rng(0)
    right = 0
    for index, genre in enumerate(phrases.genres):
        songs = np.unique(phrases.song[(phrases.genre == index) & training])
        for folder in range(args.folders):
            rows = np.flatnonzero(np.isin(phrases.song, rng.choice(songs, args.songs, replace=False)))
            score = closeness(np.asarray(phrases.rolls[rows]))
            nearest = sorted(score, key=score.get, reverse=True)
            right += nearest[0] == genre
            print(f"{genre} folder {folder}: {nearest[0]}  ({', '.join(f'{g} {score[g]:.2f}' for g in nearest[:3])})",
                  flush=True)
    print(f"chosen right: {right} of {len(phrases.genres) * args.folders} folders")


if __name__ == "__main__":
    main()
