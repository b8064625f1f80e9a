"""Which of a model's genres a user's songs sound most like, so that fine-tuning on a folder
of one's own songs starts the new genre as that genre (what `train --like` asks for) when
nothing was asked.

The model's own phrases of each genre (decoded as clips are) train a classifier (eval's
gradient-boosted trees on engine/two_sample.py's features) to tell its genres apart; each of
the folder's phrases gets a probability per genre, and the folder the genre with the highest
mean. Real songs differ from every generated genre in the same ways (the classifier two-sample
test tells them apart), so the classifier leans toward whichever genre is nearest real music as
a whole: on the `genres` model it called the folders of four genres of six "electronic". That
lean is measured once, on the training songs of every genre alike, and stored in the model
file (`genre_lean`, written by `bytes2beats calibrate --genre-lean-only`); the folder's mean
probabilities are divided by it. On 18 folders of 40 songs (`bench/nearest_genre.py --chooser
classifier`): 15 chosen right, against 9 without the lean (`--no-lean`) and 4 for the nearest
mean of the features (docs/model.md, "The genre a folder sounds like, chosen").
"""

from __future__ import annotations

import numpy as np

PHRASES_A_GENRE = 128  # generated phrases of each genre the classifier learns from
SEED = 70_000  # their seeds, fixed: the classifier the lean was measured with is the one used
LEAN_PHRASES_A_GENRE = 100  # training phrases of each genre the lean is measured on


def phrase_features_of(composer, rolls: np.ndarray) -> np.ndarray:
    """The classifier two-sample test's features of phrases of this model's shape."""
    from .two_sample import model_phrase_features

    return model_phrase_features(composer.config, rolls)[0]


def genre_classifier(composer):
    """A classifier of the model's genres, fitted on its own phrases (PHRASES_A_GENRE of each,
    fixed seeds): the same for the same model file. None without scikit-learn."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    from .evaluate import generated_phrases

    genres = composer.config.genres
    x = np.concatenate([phrase_features_of(composer, generated_phrases(composer, PHRASES_A_GENRE, g, None, SEED))
                        for g in genres])
    y = np.repeat(np.arange(len(genres)), PHRASES_A_GENRE)
    with threadpool_limits(1):  # deterministic, and small
        return HistGradientBoostingClassifier(random_state=0).fit(x, y)


def genre_lean(composer, rolls: np.ndarray, genre: np.ndarray) -> dict[str, float] | None:
    """The classifier's mean probability of each genre over real phrases `rolls` of the model's
    genres (`genre`: each phrase's index into them), LEAN_PHRASES_A_GENRE of each genre alike;
    None when a genre has no phrases or scikit-learn is missing."""
    genres = composer.config.genres
    if not genres or any(not (genre == k).any() for k in range(len(genres))):
        return None
    classifier = genre_classifier(composer)
    if classifier is None:
        return None
    rng = np.random.default_rng(0)
    rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(genre == k), min(LEAN_PHRASES_A_GENRE, (genre == k).sum()),
                                              replace=False) for k in range(len(genres))]))
    mean = classifier.predict_proba(phrase_features_of(composer, np.asarray(rolls[rows]))).mean(axis=0)
    return {g: round(float(p), 4) for g, p in zip(genres, mean)}


def choose_genre(composer, rolls: np.ndarray, classifier=None) -> tuple[str, dict[str, float]] | None:
    """The model's genre the phrases `rolls` (a user's songs) sound most like, and each
    genre's score (its mean probability over them divided by the model's lean), or None when
    the model file has no `genre_lean` (or scikit-learn is missing). `classifier`: the
    model's `genre_classifier`, when made already."""
    lean = composer.meta.get("genre_lean")
    genres = composer.config.genres
    if not lean or set(lean) != set(genres) or not len(rolls):
        return None
    classifier = classifier or genre_classifier(composer)
    if classifier is None:
        return None
    mean = classifier.predict_proba(phrase_features_of(composer, np.asarray(rolls))).mean(axis=0)
    scores = {g: float(p / max(lean[g], 1e-6)) for g, p in zip(genres, mean)}
    return max(scores, key=scores.get), scores
