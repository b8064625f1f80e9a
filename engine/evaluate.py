"""`bytes2beats eval`: a model's music against its data, metric by metric, side by side."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .binarize import QUANTIZE
from .dataset import Phrases, PhraseSpec, build_phrases
from .families import family_tracks, merge_rolls
from .feel import FEEL
from .generate import Composer
from .metrics import bass_on_chord_root, chord_tone_share, measure, self_similarity, shuffled_tracks
from .render import save_pianoroll_sheet
from .targets import check_targets, targets_json
from .two_sample import MAX_PER_SET, classifier_two_sample_test, phrase_features

MAX_DATA_PHRASES = 4000  # enough for stable means; keeps eval quick on a CPU


def generated_phrases(composer: Composer, samples: int, genre: str | None, threshold: float | None,
                      seed: int = 10_000, quantize_strength: float | None = None,
                      feel: float | None = None, takes: int = 1) -> np.ndarray:
    """`samples` generated phrases, binarized, articulated and played with the feel as a clip
    of the same seed is (Composer.to_clip), cropped to the model's pitch range: (n, T, S, P) bool.
    Each the best of `takes` takes (Composer.best_idea), as the app keeps them."""
    cfg = composer.config
    ideas = [composer.best_idea(seed + k, takes, cfg.n_bars, genre) for k in range(samples)]
    low = cfg.lowest_pitch
    # Decoded a chunk at a time: 5,000 phrases of probabilities at 48 steps a bar are 2.4 GB.
    chunks = [
        np.stack([composer.play_with_feel(composer.decode(p[:, :, low : low + cfg.n_pitches], threshold, genre,
                                                          quantize_strength, manners=idea.manners),
                                          genre, feel, idea.seed)
                  for idea, p in composer.iter_probabilities(ideas[start : start + 256], batch_size=128)])
        for start in range(0, len(ideas), 256)
    ]
    return np.concatenate(chunks)


def nearest_overlap(generated: np.ndarray, training: np.ndarray, rows: np.ndarray | None = None,
                    chunk: int = 2048) -> np.ndarray:
    """For each generated phrase, the largest share of its notes found in one training phrase.

    `rows`: which phrases of `training` to compare with (all when None); taken a chunk at a
    time, so the comparison never copies the whole set.
    """
    rows = np.arange(len(training)) if rows is None else rows
    g = torch.as_tensor(generated.reshape(len(generated), -1), dtype=torch.float32)
    g_notes = g.sum(1).clamp(min=1)
    best = torch.zeros(len(g))
    for start in range(0, len(rows), chunk):
        t = torch.as_tensor(training[rows[start : start + chunk]].reshape(-1, g.shape[1]), dtype=torch.float32)
        shared = g @ t.T  # (generated, chunk): active cells in common
        best = torch.maximum(best, (shared / g_notes[:, None]).max(1).values)
    return best.numpy()


def evaluate(composer: Composer, data: str | os.PathLike, samples: int = 1000, genre: str | None = None,
             threshold: float | None = None, cache_dir: str | os.PathLike | None = None,
             images: str | os.PathLike | None = None, novelty_samples: int = 200,
             phrases: Phrases | None = None, seed: int = 10_000, classifier: bool = True,
             quantize_strength: float | None = None, like_for_like: bool = True, feel: float | None = None,
             takes: int = 1) -> dict:
    """Metrics of generated, training and validation phrases; optional images.

    `seed`: the generated phrases are those of seeds seed, seed + 1, ... (another seed
    gives another set, to see how much the figures move).

    `phrases`: the data's phrases at the model's resolution, when the caller has them
    already (they are read from `data`, through the cache, otherwise).

    `classifier`: also run the classifier two-sample test (engine/two_sample.py), generated
    against validation phrases and, as the floor real music sets, training against validation;
    then, with `like_for_like`, with the songs decoded as the model decodes its generator's
    notes (`decoded_songs`, CLASSIFIER_PAIRS).

    `feel` (0..1; default FEEL): how much of the genre's feels the generated phrases are
    played with, as clips are (Composer.to_clip); the songs decoded like for like take it too.
    """
    cfg = composer.config
    if genre is None and cfg.genres:  # it generates its default genre: compare it with that genre's songs
        genre = composer.default_genre
    if phrases is None:
        spec = PhraseSpec.of_model(cfg)
        phrases = build_phrases(data, spec, cache_dir=cache_dir)
    # Rows, not copies: at 48 steps a bar the LPD's phrases take gigabytes.
    in_genre = np.ones(len(phrases), dtype=bool)
    if genre is not None and genre in phrases.genres:
        in_genre = phrases.genre == phrases.genres.index(genre)
    is_validation = phrases.validation_songs[phrases.song]
    train_rows = np.flatnonzero(in_genre & ~is_validation)
    validation_rows = np.flatnonzero(in_genre & is_validation)
    rng = np.random.default_rng(0)

    def sample(rows: np.ndarray) -> np.ndarray:
        if len(rows) > MAX_DATA_PHRASES:
            rows = np.sort(rng.choice(rows, MAX_DATA_PHRASES, replace=False))
        return rows

    fake = generated_phrases(composer, samples, genre, threshold, seed, quantize_strength, feel, takes)
    names = [t.name for t in cfg.tracks]
    drum = next((i for i, t in enumerate(cfg.tracks) if t.is_drum), None)
    steps_per_bar = 4 * cfg.steps_per_beat
    data_rows = {"training": sample(train_rows), "validation": sample(validation_rows)}
    sets = {"generated": fake, **{name: phrases.rolls[rows] for name, rows in data_rows.items()}}
    songs = {"generated": None, **{name: phrases.song[rows] for name, rows in data_rows.items()}}
    result = {
        "model": composer.name,
        "genre": genre,
        "threshold": composer.default_threshold if threshold is None else threshold,
        "seed": seed,
        "quantize": QUANTIZE if quantize_strength is None else float(quantize_strength),
        "feel": (FEEL if feel is None else float(feel)) if len(composer.feels(genre)) else 0.0,
        "takes": int(takes),  # each generated phrase the best of this many (Composer.best_idea)
        "track_thresholds": {t.name: round(float(v), 4) for t, v in zip(cfg.tracks, composer.track_thresholds(threshold, genre).ravel())},
        "monophonic": [cfg.tracks[t].name for t in composer.monophonic_tracks],
        "data": str(data),
        "resolution": {"steps_per_bar": steps_per_bar, "bars": cfg.n_bars, "pitches": cfg.n_pitches},
        "sets": {name: measure(x, names, drum, steps_per_bar, cfg.lowest_pitch) for name, x in sets.items() if len(x)},
    }
    if len(validation_rows):
        shuffled = measure(shuffled_tracks(sets["validation"]), names, drum, steps_per_bar, cfg.lowest_pitch)
        result["TD_shuffled_validation"] = shuffled["TD"]
    overlap = nearest_overlap(fake[:novelty_samples], phrases.rolls, train_rows) if len(train_rows) else np.zeros(0)
    result["novelty"] = {
        "samples": int(len(overlap)),
        "max_overlap": round(float(overlap.max()), 4),
        "median_overlap": round(float(np.median(overlap)), 4),
        "over_90_percent": int((overlap > 0.9).sum()),
        "histogram": np.histogram(overlap, bins=10, range=(0, 1))[0].tolist(),
    } if len(overlap) else {"samples": 0, "max_overlap": 0.0, "median_overlap": 0.0, "over_90_percent": 0,
                            "histogram": [0] * 10}
    if cfg.chords:
        result["chords"] = _chord_fit(composer, sets, phrases, data_rows, genre, seed)
    if classifier and len(validation_rows):
        def featured(x: np.ndarray) -> tuple[np.ndarray, list[str]]:
            return phrase_features(x, names, drum, cfg.steps_per_beat, cfg.lowest_pitch)

        features = {name: featured(x) for name, x in sets.items() if len(x)}
        if like_for_like:
            decoded, decoded_songs = _decoded_features(composer, sets, songs, genre, threshold, quantize_strength, featured,
                                                       feel)
            features, songs = {**features, **decoded}, {**songs, **decoded_songs}
        result["classifier"] = _classifier_tests(features, songs)
    result["targets"] = targets_json(check_targets(result))
    if cfg.track_set == FAMILIES_MERGED:
        result["merged"] = merged_result(result, sets, cfg)
    if images:
        folder = Path(images)
        folder.mkdir(parents=True, exist_ok=True)
        for name, x in sets.items():
            if len(x):
                _save_matrix(self_similarity(x, steps_per_bar, cfg.lowest_pitch), folder / f"self_similarity_{name}.png")
        clips = [composer.to_clip(p, threshold, genre=genre, quantize_strength=quantize_strength, feel=feel, seed=idea.seed,
                                  manners=idea.manners)
                 for idea, p in composer.iter_probabilities([composer.new_idea(10_000 + k, genre=genre) for k in range(16)])]
        save_pianoroll_sheet(clips, folder / "generated_sheet.png")
    return result


FAMILIES_MERGED = 17  # a model of the LPD-17 families is also measured merged into LPD-5's (`merged_result`)


def merged_result(result: dict, sets: dict, cfg) -> dict:
    """A 17-family model's sets merged into the five LPD-5 families, measured again and
    checked against the five-family targets (engine/targets.py), as LPD-5 was made from
    LPD-17: so it stands beside the five-family models' figures. Novelty is the 17-family
    result's (copying is of what the model plays)."""
    names = [t.name for t in family_tracks(5)]
    steps_per_bar = 4 * cfg.steps_per_beat
    merged = {name: merge_rolls(x, cfg.track_set, 5) for name, x in sets.items() if len(x)}
    out = {
        "tracks": names,
        "resolution": result["resolution"],
        "novelty": result["novelty"],
        "sets": {name: measure(x, names, 0, steps_per_bar, cfg.lowest_pitch) for name, x in merged.items()},
    }
    if "validation" in merged:
        out["TD_shuffled_validation"] = measure(shuffled_tracks(merged["validation"]), names, 0, steps_per_bar,
                                                cfg.lowest_pitch)["TD"]
    out["targets"] = targets_json(check_targets(out))
    return out


def _chord_fit(composer: Composer, sets: dict, phrases: Phrases, data_rows: dict, genre: str | None,
               seed: int) -> dict:
    """A chord model's fit to its chords: generated phrases against the progressions they
    were drawn over (the genre's songs'), the real sets against their own extracted chords
    (engine/chords.py). Chord tones: the share of pitched sounding time on the beat's chord;
    bass on root: the share of chord spans whose lowest bass note is its root or written bass."""
    from .chords import per_beat, phrase_chord_features, phrases_chords

    cfg = composer.config
    beats = 4 * cfg.n_bars
    real_chords = phrases_chords(phrases, cfg)
    per_set = {"generated": [composer.drawn_progression(seed + k, genre) or [None] * beats
                             for k in range(len(sets["generated"]))]}
    for name, rows in data_rows.items():
        per_set[name] = [per_beat(real_chords[r], beats) for r in rows]
    pitched = [i for i, t in enumerate(cfg.tracks) if not t.is_drum]
    bass = next((i for i, t in enumerate(cfg.tracks) if t.name == "Bass"), None)
    out = {}
    for name, chords in per_set.items():
        x = sets[name]
        if not len(x):
            continue
        features = phrase_chord_features(chords, beats)
        out[name] = {
            "chord_tones": _num(chord_tone_share(x, features, pitched, cfg.lowest_pitch, cfg.steps_per_beat)),
            "bass_on_root": None if bass is None else _num(bass_on_chord_root(x, chords, bass, cfg.lowest_pitch,
                                                                                cfg.steps_per_beat)),
        }
    return out


def _num(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def decoded_songs(composer: Composer, rolls, rows: np.ndarray, genre: str | None, threshold: float | None = None,
                  quantize_strength: float | None = None, chunk: int = 256, feel: float | None = 0.0) -> Iterator[np.ndarray]:
    """`rolls[rows]` (songs' phrases) decoded as `composer` decodes its generator's notes
    (Composer.decode: the thresholds, the grid, the bass line, the register; then `feel` of
    the genre's feels, as clips are played: None is the default FEEL), as if the
    generator had given each cell of a song probability 1 or 0, `chunk` phrases at a time:
    decoded whole, 1,500 phrases of the 17 families would hold 0.4 GB more. Not pulled toward
    the phrase's mean bar: that pull gives the generator's phrases the repetition the songs
    have, and songs pulled so would repeat more than any song does."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        notes = composer.decode(rolls[part].astype(np.float32), threshold, genre, quantize_strength, pull=False)
        # each phrase's feel drawn by its own row: the same whatever the chunks
        yield np.stack([composer.play_with_feel(n, genre, feel, seed=int(row)) for n, row in zip(notes, part)])


def _decoded_features(composer: Composer, sets: dict, songs: dict, genre: str | None, threshold: float | None,
                      quantize_strength: float | None, featured, feel: float | None) -> tuple[dict, dict]:
    """`featured` (phrase_features) of the training and validation phrases (MAX_PER_SET of each,
    at most) as `decoded_songs`, with the song of each phrase."""
    rng = np.random.default_rng(1)
    features, feature_songs = {}, {}
    for name in ("training", "validation"):
        if not len(sets.get(name, ())):
            continue
        rows = np.sort(rng.choice(len(sets[name]), min(len(sets[name]), MAX_PER_SET), replace=False))
        parts = [featured(notes) for notes in decoded_songs(composer, sets[name], rows, genre, threshold, quantize_strength,
                                                            feel=feel)]
        features[f"decoded_{name}"] = (np.concatenate([values for values, _ in parts]), parts[0][1])
        feature_songs[f"decoded_{name}"] = songs[name][rows]
    return features, feature_songs


CLASSIFIER_PAIRS = (  # (one set, the other): what each test tells
    ("generated", "validation"),  # the test: the model's phrases against songs it never saw
    ("training", "validation"),  # the floor real music sets: songs against other songs
    # Songs decoded as the model decodes: what the decoding alone leaves for the test to see
    # (a generator that made the training songs exactly), and what the generator leaves
    # beyond it (its phrases against songs that went through the same decoding)
    ("decoded_training", "validation"),
    ("generated", "decoded_validation"),
)


def _classifier_tests(features: dict, songs: dict) -> dict:
    """The classifier two-sample test on each of CLASSIFIER_PAIRS that `features` holds (per
    set, phrase_features' rows and names). The folds keep each song's phrases together
    (engine/two_sample.py)."""
    return {
        f"{first}_vs_{second}": classifier_two_sample_test(
            features[first][0], features[second][0], features[second][1],
            generated_songs=songs[first], real_songs=songs[second])
        for first, second in CLASSIFIER_PAIRS if first in features and second in features
    }


def _save_matrix(matrix: np.ndarray, path: Path, cell: int = 48) -> None:
    from PIL import Image

    gray = (255 * np.clip(matrix, 0, 1)).astype(np.uint8)
    Image.fromarray(gray.repeat(cell, 0).repeat(cell, 1)).save(path)


def format_table(result: dict) -> str:
    """The metrics as a plain-text table: one row per metric and track, one column per set."""
    sets = result["sets"]
    columns = list(sets)
    rows = [("metric", *columns)]
    first = sets[columns[0]]
    for metric, value in first.items():
        if metric == "onset_position":
            continue  # a list per track: its own block below
        if metric == "phrases":
            rows.append(("phrases", *(str(sets[c]["phrases"]) for c in columns)))
        elif isinstance(value, dict):
            for key in value:
                rows.append((f"{metric} {key}", *(_fmt(sets[c][metric].get(key)) for c in columns)))
        else:
            rows.append((metric, *(_fmt(sets[c][metric]) for c in columns)))
    if "TD_shuffled_validation" in result:
        rows.append(("TD baseline: validation, tracks shuffled", *([""] * len(columns))))
        for pair, v in result["TD_shuffled_validation"].items():
            rows.append((f"  TD {pair}", _fmt(v), *([""] * (len(columns) - 1))))
    if "onset_position" in first:
        rows.append(("onsets at each step of the beat, %", *([""] * len(columns))))
        for track in first["onset_position"]:
            rows.append((f"  {track}", *(_profile(sets[c]["onset_position"].get(track)) for c in columns)))
    novelty = result["novelty"]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.append(
        f"novelty: nearest training phrase shares at most {100 * novelty['max_overlap']:.1f}% of a generated phrase's "
        f"notes (median {100 * novelty['median_overlap']:.1f}%, {novelty['over_90_percent']} of {novelty['samples']} over 90%)"
    )
    lines.append(copy_verdict(novelty))
    if result.get("takes", 1) > 1:
        lines.append(f"generated: each phrase the best of {result['takes']} takes by the model's take judge")
    for name, fit in result.get("chords", {}).items():
        lines.append(f"chords, {name}: {_percent(fit['chord_tones'])} of pitched sounding time on a chord tone, "
                     f"{_percent(fit['bass_on_root'])} of chord spans with the bass on the root")
    lines += format_classifier(result.get("classifier", {}))
    return "\n".join(lines)


COPYING_SHARE = 0.05  # generated phrases over 90 % like one training phrase, from which a model copies


def copies_training(novelty: dict) -> bool:
    """Whether COPYING_SHARE or more of the generated phrases copy a training phrase."""
    return bool(novelty["samples"]) and novelty["over_90_percent"] / novelty["samples"] >= COPYING_SHARE


def copy_verdict(novelty: dict) -> str:
    """Whether the model copies its training phrases, in one plain sentence, and what to do
    when it does (the wizard's finish page shows it above the table; `eval` prints it last).

    A phrase "copies" when one training phrase holds over 90 % of its notes. The shipped
    models have none in 5,000 (docs/quality.md); a model trained long on a few files learns
    them by heart, and then more than COPYING_SHARE of what it makes is one of them."""
    samples, copies = novelty["samples"], novelty["over_90_percent"]
    if not samples:
        return "copying: not measured (no training phrases to compare with)"
    if copies_training(novelty):
        return (f"copying: yes, the model copies its training songs: {copies} of {samples} generated phrases have over 90% "
                "of their notes in one training phrase. Train on more files, or for fewer epochs.")
    if copies:
        return (f"copying: a little: {copies} of {samples} generated phrases have over 90% of their notes in one "
                "training phrase; the rest are its own")
    return (f"copying: no, no generated phrase has over 90% of its notes in one training phrase "
            f"(at most {100 * novelty['max_overlap']:.0f}%)")


def format_classifier(tests: dict) -> list[str]:
    """The classifier two-sample tests as lines: accuracy, and what separates the sets most."""
    lines = []
    for pair, test in tests.items():
        names = pair.split("_vs_")
        # "decoded_validation": the validation phrases decoded as the model decodes its notes
        long = [f"{n.removeprefix('decoded_')} phrases" + (" decoded as the model decodes" if n.startswith("decoded_") else "")
                for n in names]
        first, second = (n.removeprefix("decoded_") + (" decoded" if n.startswith("decoded_") else "") for n in names)
        if test.get("accuracy") is None:
            lines.append(f"classifier, {long[0]} vs {long[1]}: not run ({test.get('why')})")
            continue
        lines.append(f"classifier, {long[0]} vs {long[1]} ({test['phrases_per_set']} each, "
                     f"{len(test['fold_accuracies'])}-fold, a song's phrases in one fold): {100 * test['accuracy']:.1f}% accurate (50% = indistinguishable)")
        for f in test["separating"][:5]:
            lines.append(f"  {f['feature']}: {_fmt(f['generated'])} {first} vs {_fmt(f['real'])} {second} "
                         f"(alone, AUC {f['auc']:.2f})")
    return lines


def rhythm_cells(measured: dict) -> tuple[str, str]:
    """A set's off-grid onsets per track and one-step notes per pitched track, in percent, as
    short table cells ("1.2/0.0/..."): what the benches print beside the targets."""
    off_grid = "/".join("-" if v is None else f"{v:.1f}" for v in measured["off_grid"].values())
    one_step = "/".join("-" if v is None else f"{v:.1f}" for t, v in measured["one_step"].items() if t in measured["QN"])
    return off_grid, one_step


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _profile(shares: list | None) -> str:
    """Onset shares per step of the beat as whole percents, e.g. '71 0 1 12 ...'."""
    if not shares or shares[0] is None:
        return "-"
    return " ".join(f"{100 * v:.0f}" for v in shares)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
