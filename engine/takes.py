"""The best of several takes (issue 14): a judge, fitted per genre, that scores how like the
genre's songs a decoded phrase is, so that generation can make a few takes of an idea and keep
the one most like the songs (discriminator rejection sampling, Azadi et al. 2019, as a best-of-N).

The judge is two classifiers trained to tell the model's own phrases (decoded and played as a
user gets them) from the genre's *training* phrases, each reading the phrase its own way:

- gradient-boosted trees on the 118 phrase features of engine/two_sample.py (densities, pitch,
  note lengths, where in the beat notes start, the tracks' tonal distances, bar similarity);
- a small convolutional network on the rolls (each track's sounding notes and its onsets).

A take's score is the two log odds of "song", each in units of its spread over the model's
phrases, added. One judge alone moves mostly what it reads (bench/selection_cross_check.py:
the trees' best of 8 lowered the feature test 7 points and the roll test 3; the network's the
roll test 10 and the features none); the two together lowered both (docs/quality.md, session 38).

The trees are kept as arrays (`TreeEnsemble`), evaluated here with numpy, so a model file holds
them as safetensors like its weights and loading never unpickles anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .model_store import TAKES_PREFIX

SAMPLES = 3000  # generated and real phrases a genre's judge is fitted on
EPOCHS = 12
BATCH = 64
TAKE_SEED_STRIDE = 1_000_003  # take k of seed s is drawn from seed s + k * stride (take 0: s itself)
MAX_TAKES = 64
# The takes a file judged for the first time makes when not told: the shipped model's choice,
# read over every genre with 1, 8 and 16 (docs/quality.md, "Sixteen takes by default").
FIRST_DEFAULT_TAKES = 16
# What a bar of a part that plays in the first take and rests in another (or the other way)
# costs a take, in the judge's units (the spread of its scores over an idea's 8 takes is about 1.7):
# the judge alone prefers takes whose parts drop out (fewer notes, fewer tells), and a best of 8
# left every pitched part's bars silent 4-10 points past the songs'. Takes vary the playing,
# not the arrangement (docs/quality.md, session 39).
ARRANGEMENT_COST = 1.0


def take_seeds(seed: int, takes: int) -> list[int]:
    """The seeds of an idea's takes: the first is the seed itself, so one take is the idea as
    it always was."""
    return [seed + k * TAKE_SEED_STRIDE for k in range(max(1, takes))]


def bars_playing(phrases: np.ndarray, bars: int) -> np.ndarray:
    """(n, T, S, P) bool -> (n, T): how many of each phrase's `bars` bars each track plays in."""
    from .metrics import bars_of

    return bars_of(phrases, phrases.shape[2] // bars).any(axis=(2, 3)).reshape(len(phrases), bars, -1).sum(1)


def arrangement_change(playing: np.ndarray, first: np.ndarray) -> float:
    """How far a take's arrangement (`bars_playing` of its phrases) lies from the first take's:
    bars played or rested otherwise, summed over the tracks, a phrase's mean."""
    return float(np.abs(playing - first).sum(1).mean())


def roll_channels(rolls: np.ndarray) -> torch.Tensor:
    """(n, T, S, P) bool -> (n, 2T, S, P) float: each track's sounding cells, then its onsets."""
    x = torch.as_tensor(np.asarray(rolls), dtype=torch.float32)
    before = nn.functional.pad(x, (0, 0, 1, 0))[:, :, :-1]
    return torch.cat([x, (x - before).clamp(min=0)], dim=1)


def roll_net(tracks: int) -> nn.Sequential:
    """Three strided convolutions over steps x pitches, pooled, one score (about 24k weights)."""
    return nn.Sequential(
        nn.Conv2d(2 * tracks, 16, 4, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(16, 32, 3, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(32, 64, 3, 2), nn.LeakyReLU(0.2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 1),
    )


def fit_roll_net(first: np.ndarray, second: np.ndarray, seed: int = 0, epochs: int = EPOCHS) -> nn.Sequential:
    """`roll_net` trained to score `second`'s rolls above `first`'s (log odds of "second")."""
    torch.manual_seed(seed)
    x = torch.cat([roll_channels(first), roll_channels(second)])
    y = torch.cat([torch.zeros(len(first)), torch.ones(len(second))])
    net = roll_net(first.shape[1])
    optimizer = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    net.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(BATCH):
            loss = nn.functional.binary_cross_entropy_with_logits(net(x[batch]).squeeze(1), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


def roll_scores(net: nn.Module, rolls: np.ndarray, chunk: int = 256) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([net(roll_channels(rolls[i : i + chunk])).squeeze(1).numpy()
                               for i in range(0, len(rolls), chunk)]) if len(rolls) else np.zeros(0)


@dataclass
class TreeEnsemble:
    """A fitted binary HistGradientBoostingClassifier as arrays: every tree's nodes one after
    another (children as indices into the whole), `roots` the first node of each tree.
    `columns`: the feature columns the trees were fitted on (their feature indices index it)."""

    baseline: float
    roots: np.ndarray  # (trees,) int
    feature: np.ndarray  # (nodes,) int
    threshold: np.ndarray  # (nodes,) float: a value <= it goes left
    missing_left: np.ndarray  # (nodes,) bool: where a missing value (NaN) goes
    left: np.ndarray  # (nodes,) int
    right: np.ndarray  # (nodes,) int
    leaf: np.ndarray  # (nodes,) bool
    value: np.ndarray  # (nodes,) float: a leaf's share of the log odds
    columns: np.ndarray  # (features read,) int

    @classmethod
    def from_sklearn(cls, classifier, columns: np.ndarray) -> TreeEnsemble:
        trees = [stage[0].nodes for stage in classifier._predictors]  # binary: one tree a stage
        if any(t["is_categorical"].any() for t in trees):
            raise ValueError("categorical splits are not supported")
        offsets = np.cumsum([0] + [len(t) for t in trees[:-1]])
        nodes = np.concatenate(trees)
        shift = np.repeat(offsets, [len(t) for t in trees])
        return cls(float(np.ravel(classifier._baseline_prediction)[0]), offsets.astype(np.int64),
                   nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(np.float64),
                   nodes["missing_go_to_left"].astype(bool), (nodes["left"] + shift).astype(np.int64),
                   (nodes["right"] + shift).astype(np.int64), nodes["is_leaf"].astype(bool),
                   nodes["value"].astype(np.float64), np.asarray(columns, dtype=np.int64))

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Log odds for rows of features (NaN where missing), as the classifier's
        decision_function gives them: all trees walked at once, one level a step."""
        x = np.asarray(features, dtype=np.float64)[:, self.columns]
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        while not self.leaf[node].all():
            v = x[rows, self.feature[node]]
            go_left = np.where(np.isnan(v), self.missing_left[node], v <= self.threshold[node])
            node = np.where(self.leaf[node], node, np.where(go_left, self.left[node], self.right[node]))
        return self.baseline + self.value[node].sum(axis=1)

    def tensors(self) -> dict[str, torch.Tensor]:
        # indices as int32 and leaf values as float32 (a third of the bytes); thresholds stay
        # float64, so that a feature at a threshold goes the way it went in the fit
        small = {"roots": np.int32, "feature": np.int32, "left": np.int32, "right": np.int32, "columns": np.int32,
                 "value": np.float32, "threshold": np.float64, "missing_left": np.bool_, "leaf": np.bool_}
        return {"baseline": torch.tensor([self.baseline], dtype=torch.float64),
                **{name: torch.from_numpy(np.ascontiguousarray(getattr(self, name), dtype=kind))
                   for name, kind in small.items()}}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], features: int) -> TreeEnsemble:
        """Rebuilt from `tensors()`; a ValueError when the arrays do not make trees over
        `features` columns (a damaged file must not walk out of its arrays)."""
        kinds = {"roots": np.int64, "feature": np.int64, "threshold": np.float64, "missing_left": bool,
                 "left": np.int64, "right": np.int64, "leaf": bool, "value": np.float64, "columns": np.int64}
        trees = cls(float(t["baseline"].reshape(-1)[0]), *(t[name].numpy().reshape(-1).astype(kind)
                                                           for name, kind in kinds.items()))
        n = len(trees.feature)
        sizes = {len(getattr(trees, k)) for k in ("threshold", "missing_left", "left", "right", "leaf", "value")}
        inner = ~trees.leaf
        if (sizes != {n} or not len(trees.roots) or trees.roots.min() < 0 or trees.roots.max() >= n
                or not len(trees.columns) or trees.columns.min() < 0 or trees.columns.max() >= features
                or trees.feature.min() < 0 or trees.feature.max() >= len(trees.columns)
                or trees.left[inner].min(initial=0) < 0 or trees.right[inner].min(initial=0) < 0
                or trees.left[inner].max(initial=0) >= n or trees.right[inner].max(initial=0) >= n
                # children come after their parent, so every walk ends at a leaf
                or (trees.left[inner] <= np.flatnonzero(inner)).any() or (trees.right[inner] <= np.flatnonzero(inner)).any()
                or not np.isfinite(trees.value).all()):
            raise ValueError("its take judge's trees are damaged")
        return trees


@dataclass
class TakeJudge:
    """A genre's judge: the trees on features and the network on rolls, each log odds put in
    units of its spread over the model's own phrases (`scales`: mean and spread of each)."""

    trees: TreeEnsemble
    net: nn.Sequential
    scales: np.ndarray  # (4,): trees' mean, spread; network's mean, spread

    def score(self, rolls: np.ndarray, features: np.ndarray) -> np.ndarray:
        """How like the songs each phrase is (higher: more): (n, T, S, P) rolls and their
        phrase features -> (n,)."""
        m_trees, s_trees, m_net, s_net = self.scales
        return (self.trees.decision(features) - m_trees) / s_trees + (roll_scores(self.net, rolls) - m_net) / s_net

    def tensors(self) -> dict[str, torch.Tensor]:
        return {**{"trees." + k: v for k, v in self.trees.tensors().items()},
                **{"net." + k: v.detach().contiguous() for k, v in self.net.state_dict().items()},
                "scales": torch.as_tensor(self.scales, dtype=torch.float64)}

    @classmethod
    def from_tensors(cls, t: dict[str, torch.Tensor], tracks: int, features: int) -> TakeJudge:
        """A ValueError of one line when the tensors are not a judge for this model."""
        net = roll_net(tracks)
        try:
            net.load_state_dict({k[4:]: v.float() for k, v in t.items() if k.startswith("net.")})
        except RuntimeError:
            raise ValueError("its take judge's network does not fit the model's tracks") from None
        scales = t["scales"].numpy().astype(np.float64)
        if scales.shape != (4,) or not np.isfinite(scales).all() or scales[1] <= 0 or scales[3] <= 0:
            raise ValueError("its take judge's scales are damaged")
        trees = TreeEnsemble.from_tensors({k[6:]: v for k, v in t.items() if k.startswith("trees.")}, features)
        return cls(trees, net.eval(), scales)


def fit_take_judge(generated: np.ndarray, songs: np.ndarray, generated_features: np.ndarray,
                   song_features: np.ndarray, seed: int = 0) -> TakeJudge:
    """A judge fitted to tell `generated` phrases (the model's, as decoded) from `songs`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.concatenate([generated_features, song_features])
    y = np.concatenate([np.zeros(len(generated), dtype=int), np.ones(len(songs), dtype=int)])
    columns = np.flatnonzero(~np.isnan(x).all(axis=0))  # a feature no phrase has tells nothing
    classifier = HistGradientBoostingClassifier(random_state=seed).fit(x[:, columns], y)
    trees = TreeEnsemble.from_sklearn(classifier, columns)
    net = fit_roll_net(generated, songs, seed)
    by_trees, by_net = trees.decision(generated_features), roll_scores(net, generated)
    scales = np.array([by_trees.mean(), by_trees.std() + 1e-6, by_net.mean(), by_net.std() + 1e-6])
    return TakeJudge(trees, net, scales)


def judges_to_tensors(judges: dict[str, TakeJudge]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(tensors under TAKES_PREFIX, the genres in their order: judge i is genre i's)."""
    genres = list(judges)
    tensors = {f"{TAKES_PREFIX}{i}.{k}": v for i, g in enumerate(genres) for k, v in judges[g].tensors().items()}
    return tensors, genres


def judges_from_tensors(tensors: dict[str, torch.Tensor], genres: list[str], tracks: int,
                        features: int) -> dict[str, TakeJudge]:
    judges = {}
    for i, genre in enumerate(genres):
        prefix = f"{TAKES_PREFIX}{i}."
        mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not mine:
            raise ValueError(f"its take judge for {genre or 'its phrases'} is missing")
        try:
            judges[genre] = TakeJudge.from_tensors(mine, tracks, features)
        except KeyError as missing:
            raise ValueError(f"its take judge for {genre or 'its phrases'} lacks {missing}") from None
    return judges


def fit_take_judges(composer, training, samples: int = SAMPLES, seed: int = 50_000,
                    progress=None) -> dict[str, TakeJudge]:
    """A judge for each of the model's genres that `training` (a Phrases of training songs)
    holds (one, under "", for a model without genres): `samples` of the model's phrases
    (seeds `seed` on, decoded and played as `eval` and a clip make them) against as many of the
    genre's training phrases. `progress(genre, seconds)` after each."""
    import time

    from .evaluate import generated_phrases
    from .two_sample import model_phrase_features

    started = time.monotonic()
    cfg = composer.config
    rng = np.random.default_rng(seed)
    groups = {"": np.arange(len(training.genre))}
    if cfg.genres:
        groups = {g: np.flatnonzero(training.genre == training.genres.index(g))
                  for g in cfg.genres if g in training.genres}
    judges = {}
    for genre, rows in groups.items():
        if len(rows) < 10:
            continue
        n = min(samples, len(rows))
        songs = np.asarray(training.rolls[np.sort(rng.choice(rows, n, replace=False))])
        made = generated_phrases(composer, n, genre or None, None, seed)
        judges[genre] = fit_take_judge(made, songs, model_phrase_features(cfg, made)[0],
                                       model_phrase_features(cfg, songs)[0])
        if progress:
            progress(genre, time.monotonic() - started)
    return judges
