"""Benchmark (issue 14): a second classifier two-sample test, a small network on the rolls, to
check what `eval`'s test says with a judge that none of the decoding was tuned against.

    OMP_NUM_THREADS=2 .venv/bin/python bench/roll_judge.py [--model genres] [--genre rock]
        [--samples 1500] [--data runs/lpd48.phrases.npz] [--control] [--takes N ...]
        [--each-track [--skip-whole]] [--json OUT]

`eval`'s test reads 118 features of each phrase with gradient-boosted trees, and thirty
sessions of decoding work were measured by it; a decoding can learn to move those features
without the phrase sounding more like a song. This judge sees the rolls themselves: each
track's sounding notes and its onsets (10 channels, 192 steps x 84 pitches) through three
strided convolutions, pooled, one score. It is trained to tell `--samples` generated phrases
(`eval`'s seeds) from as many real validation phrases of the genre, five folds that keep a
song's phrases together (as `eval`'s), twelve epochs a fold; the accuracy on the held-out fold,
averaged, is the test (50 %: it cannot tell). `--control` runs it on real *training* phrases
against the validation ones first: the judge's floor (songs differ from songs), which should
read near 50 %. `eval`'s feature test is reported beside it on the same phrases. `--each-track`
then trains it on one track at a time (the generated track against the same track of the songs):
which parts it tells by.

A weaker judge than the trees (it sees no hand-made feature, and trains 12 epochs on 2,400
phrases), so its figure is not the issue's target; what it is for is a second view: a change
that the trees see and this judge does not may have moved the features more than the music, and
wants listening to before it is believed.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bytes2beats.engine.dataset import Phrases, load_phrase_pack_for
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.takes import roll_channels as channels
from bytes2beats.engine.takes import roll_net as judge_net
from bytes2beats.engine.two_sample import classifier_two_sample_test, model_phrase_features
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FOLDS = 5
EPOCHS = 12
BATCH = 64


@dataclass
class GenreSongs:
    """A genre's songs in a phrase pack, for one model: `real`, validation phrases drawn (their
    `real_songs`), the genre's `training_rows`, and the model's phrase features."""

    composer: Composer
    phrases: Phrases
    real: np.ndarray
    real_songs: np.ndarray
    training_rows: np.ndarray
    rng: np.random.Generator  # what draws from the songs next, after `real`

    @classmethod
    def load(cls, model: str, data: Path, genre: str, samples: int) -> GenreSongs:
        composer = Composer.load(model, "cpu")
        phrases, _ = load_phrase_pack_for(data, composer.config)
        index = phrases.genres.index(genre)
        is_validation = phrases.validation_songs[phrases.song]
        rng = np.random.default_rng(0)
        validation_rows = np.flatnonzero((phrases.genre == index) & is_validation)
        real_rows = np.sort(rng.choice(validation_rows, min(samples, len(validation_rows)), replace=False))
        real = np.asarray(phrases.rolls[real_rows])
        return cls(composer, phrases, real, phrases.song[real_rows],
                   np.flatnonzero((phrases.genre == index) & ~is_validation), rng)

    @property
    def feature_names(self) -> list[str]:
        return self.phrase_features(self.real[:1])[1]

    def phrase_features(self, rolls: np.ndarray) -> tuple[np.ndarray, list[str]]:
        return model_phrase_features(self.composer.config, rolls)

    def features(self, rolls: np.ndarray) -> np.ndarray:
        return self.phrase_features(rolls)[0]


def pitch_class_channels(rolls: np.ndarray) -> torch.Tensor:
    """(n, T, S, P) bool -> (n, 14T, S): each track's 12 pitch classes sounding at each step
    (folded over the octaves), its onsets at each step (counted over the pitches) and its mean
    sounding pitch (in octaves from the roll's middle; 0 where silent): the phrase as harmony and
    rhythm over time, without the keyboard's layout the roll judge's 2-D convolutions read."""
    x = torch.as_tensor(np.asarray(rolls), dtype=torch.float32)
    n, t, s, p = x.shape
    before = nn.functional.pad(x, (0, 0, 1, 0))[:, :, :-1]
    starts = (x - before).clamp(min=0).sum(3, keepdim=True)
    folded = nn.functional.pad(x, (0, (-p) % 12)).reshape(n, t, s, -1, 12).amax(3)
    pitch = torch.arange(p, dtype=torch.float32)
    sounding = x.sum(3, keepdim=True)
    middle = (x * pitch).sum(3, keepdim=True) / sounding.clamp(min=1)
    height = torch.where(sounding > 0, (middle - p / 2) / 12, torch.zeros_like(middle))
    return torch.cat([folded, starts, height], dim=3).permute(0, 1, 3, 2).reshape(n, 14 * t, s)


def pitch_class_net(tracks: int) -> nn.Module:
    """Three strided 1-D convolutions over time, pooled, one score."""
    return nn.Sequential(
        nn.Conv1d(14 * tracks, 32, 5, 2), nn.LeakyReLU(0.2),
        nn.Conv1d(32, 64, 5, 2), nn.LeakyReLU(0.2),
        nn.Conv1d(64, 64, 5, 2), nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 1),
    )


JUDGES = {"roll": (channels, judge_net), "pitch-class": (pitch_class_channels, pitch_class_net)}


def roll_two_sample_test(a: np.ndarray, b: np.ndarray, songs_a: np.ndarray, songs_b: np.ndarray,
                         seed: int = 0, judge: str = "roll") -> dict:
    """Cross-validated accuracy of the judge telling rolls `a` from rolls `b` (equal numbers;
    each row's song, so that the folds keep a song's phrases on one side). `judge`: "roll" (the
    2-D network on the rolls) or "pitch-class" (a 1-D network on each track's pitch classes,
    onsets and height over time)."""
    from sklearn.model_selection import StratifiedGroupKFold

    inputs, make_net = JUDGES[judge]
    n = min(len(a), len(b))
    x = torch.cat([inputs(a[:n]), inputs(b[:n])])
    y = torch.cat([torch.ones(n), torch.zeros(n)])
    groups = np.concatenate([np.unique(songs_a[:n], return_inverse=True)[1],
                             np.unique(songs_b[:n], return_inverse=True)[1] + len(songs_a)])
    accuracies = []
    folds = StratifiedGroupKFold(FOLDS, shuffle=True, random_state=seed).split(np.zeros(2 * n), y.numpy(), groups)
    for fold, (train, test) in enumerate(folds):
        torch.manual_seed(seed + fold)
        net = make_net(a.shape[1])
        optimizer = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
        train = torch.as_tensor(train)
        net.train()
        for _ in range(EPOCHS):
            for batch in train[torch.randperm(len(train))].split(BATCH):
                loss = nn.functional.binary_cross_entropy_with_logits(net(x[batch]).squeeze(1), y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        net.eval()
        with torch.no_grad():
            scores = torch.cat([net(x[rows]).squeeze(1) for rows in torch.as_tensor(test).split(256)])
        accuracies.append(float(((scores > 0).float() == y[test]).float().mean()))
    return {"accuracy": round(float(np.mean(accuracies)), 4), "fold_accuracies": [round(v, 4) for v in accuracies],
            "phrases_per_set": int(n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--data", type=Path, default=ROOT / "runs" / "lpd48.phrases.npz")
    parser.add_argument("--control", action="store_true", help="the judge's floor first: real training phrases")
    parser.add_argument("--each-track", action="store_true",
                        help="then the generated phrases' tracks one at a time, against the same tracks of the songs")
    parser.add_argument("--skip-whole", action="store_true", help="with --each-track: only the tracks one at a time")
    parser.add_argument("--takes", type=int, nargs="+", default=[1],
                        help="judge the generated phrases made with each of these numbers of takes (the best of N by "
                             "the model's take judge, engine/takes.py; default 1)")
    parser.add_argument("--pitch-class-judge", action="store_true",
                        help="beside the roll judge, a third of another kind: a 1-D network on each track's pitch "
                             "classes, onsets and height over time (neither the features nor the roll judge's input)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    started = time.monotonic()
    songs = GenreSongs.load(args.model, args.data, args.genre, args.samples)
    composer, phrases, real = songs.composer, songs.phrases, songs.real
    real_features = songs.features(real)
    sets = {}
    if args.control:
        rows = np.sort(songs.rng.choice(songs.training_rows, len(real), replace=False))
        sets["real training phrases (control)"] = (np.asarray(phrases.rolls[rows]), phrases.song[rows])
    for takes in args.takes:
        generated = generated_phrases(composer, len(real), args.genre, None, takes=takes)
        sets[f"{composer.name}, generated" + (f", best of {takes} takes" if takes > 1 else "")] = (
            generated, np.arange(len(generated)))

    results = {"model": args.model, "genre": args.genre, "samples": len(real), "takes": args.takes, "folds": FOLDS,
               "epochs": EPOCHS, "machine": platform.processor() or platform.machine(),
               "threads": torch.get_num_threads(), "sets": {}}
    if args.skip_whole:
        sets = {}
    for name, (rolls, rows_songs) in sets.items():
        roll_test = roll_two_sample_test(rolls, real, rows_songs, songs.real_songs)
        feature_test = classifier_two_sample_test(songs.features(rolls), real_features, songs.feature_names,
                                                  generated_songs=rows_songs, real_songs=songs.real_songs)
        results["sets"][name] = {"roll_judge": roll_test, "feature_test": feature_test["accuracy"]}
        third = ""
        if args.pitch_class_judge:
            results["sets"][name]["pitch_class_judge"] = pc = roll_two_sample_test(
                rolls, real, rows_songs, songs.real_songs, judge="pitch-class")
            third = f"; pitch-class judge {pc['accuracy']:.1%}"
        print(f"{name}: roll judge {roll_test['accuracy']:.1%} (folds "
              f"{', '.join(f'{v:.1%}' for v in roll_test['fold_accuracies'])}); eval's feature test "
              f"{feature_test['accuracy']:.1%}{third}  [{time.monotonic() - started:.0f} s]", flush=True)
    if args.each_track:  # which track does the judge tell by? each alone, the songs' same track against it
        generated = sets[next(name for name in sets if "control" not in name)][0] if sets else \
            generated_phrases(composer, len(real), args.genre, None, takes=args.takes[0])
        results["each_track"] = {}
        for t, track in enumerate(composer.config.tracks):
            alone = roll_two_sample_test(generated[:, [t]], real[:, [t]], np.arange(len(generated)), songs.real_songs)
            results["each_track"][track.name] = alone
            print(f"{track.name} alone: roll judge {alone['accuracy']:.1%}  [{time.monotonic() - started:.0f} s]", flush=True)
    results["seconds"] = round(time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
