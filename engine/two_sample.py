"""Can a classifier tell generated phrases from real ones? A classifier two-sample test.

Lopez-Paz & Oquab (ICLR 2017): train a classifier to tell two sets apart; its accuracy on
phrases it was not trained on (cross-validated, equal numbers from each set) measures how
different the sets are. 50 % means it cannot tell them apart; 100 % that every phrase gives
itself away. Unlike a table of means, it catches any difference a listener could, as long as
the features carry it, and says which features do the telling.

The features are per phrase and per track, the things a listener hears: how much plays and
where it sits (density, empty bars, pitch height, spread and range, notes at once, pitch
classes a bar), how notes last (mean length, one-step fragments, notes of a beat or more),
where in the beat they start (the share of onsets at each step of the beat), and how the
tracks agree on harmony (tonal distance per pair) and how the bars repeat (bar similarity).
The classifier is gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier),
which take missing values (a silent track has no pitch height) as they are.
"""

from __future__ import annotations

import numpy as np

from .metrics import chroma, onsets, phrase_self_similarity, tonal_centroid

MAX_PER_SET = 1500  # phrases drawn from each set: the test's size, and a bound on its time
FOLDS = 5
TOP = 8  # separating features reported


def model_phrase_features(cfg, phrases: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """`phrase_features` of (n, T, S, P) phrases of a model's shape (a ModelConfig: its tracks,
    drum track, grid and pitch range)."""
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    return phrase_features(phrases, [t.name for t in cfg.tracks], drum, cfg.steps_per_beat, cfg.lowest_pitch)


def phrase_features(phrases: np.ndarray, track_names: list[str], drum_track: int | None,
                    steps_per_beat: int, lowest_pitch: int) -> tuple[np.ndarray, list[str]]:
    """(n, T, S, P) bool -> ((n, features) float, feature names); NaN where a feature has no
    value (the pitch of a silent track)."""
    n, t, s, p = phrases.shape
    steps_per_bar = 4 * steps_per_beat
    bars = s // steps_per_bar
    columns: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, values: np.ndarray) -> None:
        columns.append(np.asarray(values, dtype=np.float64))
        names.append(name)

    for k, track in enumerate(track_names):
        x = phrases[:, k]  # (n, S, P)
        add(f"{track} density", x.mean(axis=(1, 2)))
        in_bars = x[:, : bars * steps_per_bar].reshape(n, bars, steps_per_bar, p)
        add(f"{track} empty bars", (~in_bars.any(axis=(2, 3))).mean(axis=1))
        starts = onsets(x)
        count = starts.sum(axis=(1, 2))
        add(f"{track} onsets a bar", count / bars)
        at = starts[:, : (s // steps_per_beat) * steps_per_beat].reshape(n, -1, steps_per_beat, p).sum(axis=(1, 3))
        shares = _ratio(at, count[:, None])
        for position in range(steps_per_beat):
            add(f"{track} onsets at step {position} of the beat", shares[:, position])
        lengths, phrase = _notes(x)
        notes = np.bincount(phrase, minlength=n)
        add(f"{track} mean note length", _ratio(np.bincount(phrase, lengths, minlength=n), notes))
        add(f"{track} one-step notes", _ratio(np.bincount(phrase, lengths == 1, minlength=n), notes))
        add(f"{track} notes of a beat or more", _ratio(np.bincount(phrase, lengths >= steps_per_beat, minlength=n), notes))
        sounding = x.sum(axis=2)  # (n, S): notes at once
        add(f"{track} notes at once", _ratio(sounding.sum(axis=1), (sounding > 0).sum(axis=1)))
        if k == drum_track:
            continue  # a drum kit's "pitches" are instruments: no height, no harmony
        pitch_cells = x.sum(axis=1).astype(np.float64)  # (n, P)
        total = pitch_cells.sum(axis=1)
        pitch = np.arange(p) + lowest_pitch
        mean = _ratio(pitch_cells @ pitch, total)
        add(f"{track} mean pitch", mean)
        add(f"{track} pitch spread", np.sqrt(np.maximum(_ratio(pitch_cells @ pitch**2, total) - mean**2, 0)))
        used = pitch_cells > 0
        lowest = np.where(used.any(axis=1), used.argmax(axis=1), -1)
        highest = np.where(used.any(axis=1), p - 1 - used[:, ::-1].argmax(axis=1), -1)
        add(f"{track} pitch range", np.where(lowest >= 0, highest - lowest, np.nan))
        bar_classes = chroma(in_bars.any(axis=2), lowest_pitch) > 0  # (n, bars, 12)
        playing = in_bars.any(axis=(2, 3))
        add(f"{track} pitch classes a bar", _ratio((bar_classes.sum(axis=2) * playing).sum(axis=1), playing.sum(axis=1)))
    pitched = [k for k in range(t) if k != drum_track]
    bar_chroma = chroma(phrases[:, :, : bars * steps_per_bar].reshape(n, t, bars, steps_per_bar, p).sum(axis=3)
                        .astype(np.float64), lowest_pitch)  # (n, T, bars, 12)
    centroids = tonal_centroid(bar_chroma)  # (n, T, bars, 6)
    plays = bar_chroma.sum(axis=3) > 0  # (n, T, bars)
    for i, a in enumerate(pitched):
        for b in pitched[i + 1 :]:
            both = plays[:, a] & plays[:, b]
            distance = np.linalg.norm(centroids[:, a] - centroids[:, b], axis=2)
            add(f"tonal distance {track_names[a]}-{track_names[b]}", _ratio((distance * both).sum(axis=1), both.sum(axis=1)))
    similarity = phrase_self_similarity(phrases, steps_per_bar, lowest_pitch)  # (n, bars, bars)
    off_diagonal = ~np.eye(bars, dtype=bool)
    add("bar similarity", similarity[:, off_diagonal].mean(axis=1) if bars > 1 else np.full(n, np.nan))
    return np.stack(columns, axis=1), names


def classifier_two_sample_test(generated: np.ndarray, real: np.ndarray, names: list[str],
                               max_per_set: int = MAX_PER_SET, folds: int = FOLDS, seed: int = 0,
                               generated_songs: np.ndarray | None = None,
                               real_songs: np.ndarray | None = None) -> dict:
    """Cross-validated accuracy of a classifier telling `generated` feature rows from `real`
    ones, equal numbers of each, with the features that separate the sets most on their own
    (`single_feature_auc`) and their means in each set.

    `*_songs`: the song each row comes from (None: every row its own). The folds keep a
    song's phrases together: phrases of one song are alike (a chorus comes back), and with
    a song on both sides of a fold the classifier would learn to know the song, not to tell
    generated music from real. (Real training phrases against real validation phrases: 87 %
    with phrases split at random, because the validation songs give 15 phrases each.)

    A dict with `accuracy` None (and the reason) when the sets are too small to split or
    scikit-learn is not installed."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedGroupKFold
        from threadpoolctl import threadpool_limits
    except ImportError:
        return {"accuracy": None, "why": "scikit-learn is not installed (pip install scikit-learn)"}
    n = min(len(generated), len(real), max_per_set)
    if n < 2 * folds:
        return {"accuracy": None, "why": f"too few phrases to test ({n} a set; {2 * folds} needed)"}
    rng = np.random.default_rng(seed)
    rows_a = np.sort(rng.choice(len(generated), n, replace=False))
    rows_b = np.sort(rng.choice(len(real), n, replace=False))
    a, b = generated[rows_a], real[rows_b]
    songs_a = np.arange(len(generated)) if generated_songs is None else np.unique(generated_songs, return_inverse=True)[1]
    songs_b = np.arange(len(real)) if real_songs is None else np.unique(real_songs, return_inverse=True)[1]
    groups = np.concatenate([songs_a[rows_a], songs_b[rows_b] + songs_a.max() + 1])
    x = np.concatenate([a, b])
    y = np.concatenate([np.ones(n, dtype=int), np.zeros(n, dtype=int)])  # 1: generated
    if len(np.unique(groups[:n])) < folds or len(np.unique(groups[n:])) < folds:
        return {"accuracy": None, "why": f"too few songs to test (fewer than {folds} on a side)"}
    accuracies = []
    # One thread: the trees are small, and OpenMP's spinning threads on a busy machine (a
    # training run beside) made a fit of 3,000 rows take minutes instead of a second.
    with threadpool_limits(1):
        for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups):
            # a feature no training row has (the notes of a family that plays in none of
            # them: NaN) tells nothing, and the trees' binning cannot take it
            known = ~np.isnan(x[train]).all(axis=0)
            classifier = HistGradientBoostingClassifier(random_state=seed).fit(x[train][:, known], y[train])
            accuracies.append(float(classifier.score(x[test][:, known], y[test])))
    alone = single_feature_auc(a, b)
    order = np.argsort(-np.abs(alone - 0.5))[:TOP]
    return {
        "accuracy": round(float(np.mean(accuracies)), 4),
        "fold_accuracies": [round(v, 4) for v in accuracies],
        "phrases_per_set": int(n),
        "separating": [
            {"feature": names[i], "auc": round(float(alone[i]), 4), "generated": _mean(a[:, i]), "real": _mean(b[:, i])}
            for i in order
        ],
    }


def single_feature_auc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per feature, the chance that a row of `a` has a higher value than a row of `b` (ties
    half; the area under the ROC curve of that feature alone): 0.5 when it does not tell the
    sets apart, near 0 or 1 when it does. Missing values rank below every number."""
    x = np.concatenate([a, b])
    x = np.where(np.isnan(x), -np.inf, x)
    auc = np.empty(x.shape[1])
    for k in range(x.shape[1]):
        values, inverse, counts = np.unique(x[:, k], return_inverse=True, return_counts=True)
        ranks = (np.cumsum(counts) - (counts - 1) / 2)[inverse]  # mid-ranks for ties
        auc[k] = (ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2) / (len(a) * len(b))
    return auc


def _notes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The notes of rolls (n, S, P): their lengths in steps and the phrase each is in."""
    runs = np.pad(x.transpose(0, 2, 1), ((0, 0), (0, 0), (1, 1))).astype(np.int8)  # (n, P, S + 2)
    edges = np.diff(runs, axis=2)
    starts = np.argwhere(edges == 1)  # row-major: phrase, pitch, step; ends in the same order
    ends = np.argwhere(edges == -1)
    return ends[:, 2] - starts[:, 2], starts[:, 0]


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    top, bottom = np.asarray(top, dtype=np.float64), np.asarray(bottom, dtype=np.float64)
    return np.divide(top, bottom, out=np.full(np.broadcast(top, bottom).shape, np.nan), where=bottom > 0)


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(values.mean()), 4) if len(values) else None
