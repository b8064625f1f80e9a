"""Benchmark: does a chord model play the chords it is given, in every key?

    .venv/bin/python bench/chord_control.py [--model genres-chords] [--genre rock] [--per-key 60]
        [--data ../shared/data/lpd] [--lock 0-1] [--json OUT]

For each of the 24 keys, `--per-key` phrases are generated over random diatonic four-chord
progressions in that key (one chord a bar, as `--chords "vi IV I V" --key ...` asks; the same
Roman numerals in every key of a mode, so that keys differ by their key alone), and
measured against the chords they were given (engine/metrics.py): the share of the pitched
tracks' sounding time on a chord tone, and the share of chord spans whose lowest bass note is
the chord's root (or written bass), with a 95 % interval (phrases resampled) and whether the
key is within 5 points of the songs' figure (the chord issue's target). The real figures are the validation songs' own, against
the chords extracted from them (engine/chords.py). Also: the tonal distance between every
pair of pitched tracks (generated over given chords, pooled over keys, against the validation
songs', same phrase) and the same figures for the model over chords it drew itself.
`--lock`: decode with notes off the beat's chord made that much less likely (engine/binarize.py:
chord_lock), to compare the network's own following with a decoding that enforces it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np
from bytes2beats.engine.chords import per_beat, phrase_chord_features, phrases_chords
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import (
    bass_on_chord_root,
    bass_root_counts,
    chord_tone_share,
    measure,
)
from bytes2beats.engine.progression import (
    Key,
    diatonic_progression,
    estimate_key,
    parse_progression,
)
from bytes2beats.engine.progression import per_beat as bars_per_beat


def fit(x: np.ndarray, chords: list, cfg) -> tuple[float, float]:
    pitched = [i for i, t in enumerate(cfg.tracks) if not t.is_drum]
    bass = next(i for i, t in enumerate(cfg.tracks) if t.name == "Bass")
    features = phrase_chord_features(chords, 4 * cfg.n_bars)
    return (chord_tone_share(x, features, pitched, cfg.lowest_pitch, cfg.steps_per_beat),
            bass_on_chord_root(x, chords, bass, cfg.lowest_pitch, cfg.steps_per_beat))


def bass_interval(x: np.ndarray, chords: list, cfg, rng: np.random.Generator, draws: int = 2000) -> tuple[float, float]:
    """The 95 % interval of the bass-on-root share over phrases resampled with replacement."""
    bass = next(i for i, t in enumerate(cfg.tracks) if t.name == "Bass")
    hits, spans = bass_root_counts(x, chords, bass, cfg.lowest_pitch, cfg.steps_per_beat)
    pick = rng.integers(len(x), size=(draws, len(x)))
    shares = hits[pick].sum(1) / np.maximum(spans[pick].sum(1), 1)
    return float(np.quantile(shares, 0.025)), float(np.quantile(shares, 0.975))


def songs_by_key(real: np.ndarray, chords: list, cfg) -> dict:
    """The songs' own bass on the root in each key, each phrase in the key its chords name
    (engine/progression.py: estimate_key): how much a key moves the figure in real playing."""
    bass = next(i for i, t in enumerate(cfg.tracks) if t.name == "Bass")
    hits, spans = bass_root_counts(real, chords, bass, cfg.lowest_pitch, cfg.steps_per_beat)
    keys: dict[str, list[int]] = {}
    for k, row in enumerate(chords):
        if spans[k]:
            keys.setdefault(estimate_key(row).name, []).append(k)
    return {name: {"phrases": len(rows), "bass_on_root": round(float(hits[rows].sum() / spans[rows].sum()), 4)}
            for name, rows in keys.items()}


def songs_cell(songs: dict | None) -> str:
    return "none" if songs is None else f"{songs['phrases']}, {100 * songs['bass_on_root']:.1f}"


def decode_over(composer: Composer, progressions: list[list], genre: str, seed: int, lock: float = 0.0) -> np.ndarray:
    cfg = composer.config
    low = cfg.lowest_pitch
    ideas = [composer.new_idea(seed + k, cfg.n_bars, genre, chords=chords) for k, chords in enumerate(progressions)]
    out = []
    for start in range(0, len(ideas), 128):
        probs = composer.probabilities(ideas[start : start + 128], batch_size=128)
        out += [composer.decode(p[:, :, low : low + cfg.n_pitches], None, genre, chords=chords, lock=lock)
                for p, chords in zip(probs, progressions[start : start + 128])]
    return np.stack(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--per-key", type=int, default=60)
    parser.add_argument("--lock", type=float, default=0.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    composer = Composer.load(args.model, "cpu")
    if not composer.takes_chords:
        print(f"{args.model} takes no chords", file=sys.stderr)
        return 1
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    rows = np.flatnonzero((phrases.genre == phrases.genres.index(args.genre)) & phrases.validation_songs[phrases.song])
    rows = np.sort(np.random.default_rng(0).choice(rows, min(2000, len(rows)), replace=False))
    real = phrases.rolls[rows]
    extracted = phrases_chords(phrases, cfg)
    real_chords = [per_beat(extracted[r], 4 * cfg.n_bars) for r in rows]
    names = [t.name for t in cfg.tracks]
    steps_per_bar = 4 * cfg.steps_per_beat
    real_fit = fit(real, real_chords, cfg)
    real_td = measure(real, names, 0, steps_per_bar, cfg.lowest_pitch)["TD"]
    real_by_key = songs_by_key(real, real_chords, cfg)
    print(f"{composer.name}, genre {args.genre}, {args.per_key} phrases a key, lock {args.lock:g}; "
          f"machine {platform.machine()}")
    print(f"validation songs ({len(rows)} phrases), against their own chords: "
          f"{100 * real_fit[0]:.1f}% chord tones, {100 * real_fit[1]:.1f}% bass on the root")
    rng = np.random.default_rng(1)
    numerals = {minor: [diatonic_progression(Key(0, minor), rng) for _ in range(args.per_key)] for minor in (False, True)}
    per_key, pooled = {}, []
    print("| key | chord tones % | bass on root % | 95 % interval | within 5 points | songs in the key: phrases, bass on root % |")
    print("|---|---|---|---|---|---|")
    for minor in (False, True):
        for tonic in range(12):
            key = Key(tonic, minor)
            given = [bars_per_beat(parse_progression(text, key), cfg.n_bars) for text in numerals[minor]]
            x = decode_over(composer, given, args.genre, 20_000 + 1000 * len(per_key), args.lock)
            tones, bass = fit(x, given, cfg)
            low, high = bass_interval(x, given, cfg, rng)
            near = abs(bass - real_fit[1]) <= 0.05
            per_key[key.name] = {"chord_tones": round(tones, 4), "bass_on_root": round(bass, 4),
                                 "bass_interval": [round(low, 4), round(high, 4)], "bass_within_5": bool(near),
                                 "songs": real_by_key.get(key.name)}
            pooled.append(x)
            print(f"| {key.name} | {100 * tones:.1f} | {100 * bass:.1f} | {100 * low:.1f}-{100 * high:.1f} | "
                  f"{'yes' if near else 'no'} | {songs_cell(real_by_key.get(key.name))} |", flush=True)
    given_all = np.concatenate(pooled)
    tones = [v["chord_tones"] for v in per_key.values()]
    basses = [v["bass_on_root"] for v in per_key.values()]
    print(f"over the keys: chord tones {100 * min(tones):.1f}-{100 * max(tones):.1f}% "
          f"(real {100 * real_fit[0]:.1f}%), bass on root {100 * min(basses):.1f}-{100 * max(basses):.1f}% "
          f"(real {100 * real_fit[1]:.1f}%), mean {100 * np.mean(basses):.1f}%; "
          f"{sum(v['bass_within_5'] for v in per_key.values())} of 24 keys' bass and "
          f"{sum(abs(t - real_fit[0]) <= 0.05 for t in tones)} of 24 keys' chord tones within 5 points")
    drawn = generated_phrases(composer, 24 * args.per_key, args.genre, None, seed=30_000)
    drawn_chords = [composer.drawn_progression(30_000 + k, args.genre) for k in range(len(drawn))]
    drawn_fit = fit(drawn, drawn_chords, cfg)
    print(f"over chords it drew from the genre's songs: {100 * drawn_fit[0]:.1f}% chord tones, "
          f"{100 * drawn_fit[1]:.1f}% bass on the root")
    td_given = measure(given_all, names, 0, steps_per_bar, cfg.lowest_pitch)["TD"]
    td_drawn = measure(drawn, names, 0, steps_per_bar, cfg.lowest_pitch)["TD"]
    print("| tonal distance | validation | given chords | ratio | drawn chords | ratio |")
    print("|---|---|---|---|---|---|")
    for pair, v in real_td.items():
        if v is None or td_given.get(pair) is None:
            continue
        g, d = td_given[pair], td_drawn.get(pair) or float("nan")
        print(f"| {pair} | {v:.3f} | {g:.3f} | {g / v:.2f} | {d:.3f} | {d / v:.2f} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": composer.name, "genre": args.genre, "per_key_phrases": args.per_key, "lock": args.lock,
                       "real": {"chord_tones": real_fit[0], "bass_on_root": real_fit[1], "TD": real_td},
                       "given": {"per_key": per_key, "TD": td_given},
                       "drawn": {"chord_tones": drawn_fit[0], "bass_on_root": drawn_fit[1], "TD": td_drawn}},
                      handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
