"""Benchmark: how well do accompaniments fit the part they were made around?

    PYTHONPATH=bench .venv/bin/python bench/accompaniment.py [--model genres-chords] [--genre rock]
        [--given Bass] [--phrases 30] [--steps 100] [--harmony W] [--json OUT]

From `--phrases` validation phrases of the genre (real songs held out from training, from the
phrase pack `--pack`), the `--given` track is handed to `engine/accompany.py` as the user's
part, and the other tracks are generated around it three ways, from the same seeds:
- "inverted": the noise found by latent inversion (the method `bytes2beats accompany` uses),
- "drawn": the seed's noise as drawn, over the same chords (what the part's chords alone give),
- "real": the song's own other tracks (what players did).
Measured against the part, per phrase: the tonal distance (Harte et al.) between each other
pitched track and the part, bar by bar where both play (lower: they agree on harmony), and
the share of the other tracks' onsets (on 16ths) that fall where the part starts a note too
(rhythm in common; a drum part has only this), with the drums' and the bass's apart. Over all
the phrases of each way: MuseGAN's EB, UPC and QN of the tracks not given, and DP of the
drums, as its track-conditional table reports them. Also the inversion's fit (F1 of the
generator's own drawing of the part) and its time per phrase.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import bytes2beats.engine.accompany as accompany_module
import numpy as np
import torch
from bytes2beats.engine.accompany import Part, accompany
from bytes2beats.engine.dataset import load_phrase_pack_for
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import measure, tonal_distance
from bytes2beats.engine.pianoroll import Multitrack, resample


def on_model_grid(clip: Multitrack, composer: Composer) -> np.ndarray:
    """(T, steps, pitches) 0/1 at the model's grid and pitch range."""
    cfg = composer.config
    rolls = resample(clip, cfg.steps_per_beat).rolls > 0
    return rolls[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches]


def measures(rolls: np.ndarray, given: int, tracks, steps_per_bar: int) -> dict:
    bars = rolls.reshape(rolls.shape[0], -1, steps_per_bar, rolls.shape[2]).transpose(1, 0, 2, 3)[None]
    out = {}
    for i, track in enumerate(tracks):
        if i != given and not track.is_drum and not tracks[given].is_drum:  # a drum part has no harmony
            out[f"TD {track.name}"] = tonal_distance(bars[0], i, given, 0)
    sixteenth = steps_per_bar // 16

    def onsets(roll: np.ndarray) -> np.ndarray:  # (steps, pitches) -> on which 16ths a note starts
        starts = np.diff(np.pad(roll.astype(np.int8), ((1, 0), (0, 0))), axis=0) == 1
        return starts.any(axis=1).reshape(-1, sixteenth).any(axis=1)

    part = onsets(rolls[given])
    shares = {}
    for i, track in enumerate(tracks):
        if i != given and onsets(rolls[i]).any():
            shares[track.name] = (onsets(rolls[i]) & part).sum() / onsets(rolls[i]).sum()
            if track.name in ("Drums", "Bass"):  # the issue's: drum and bass onsets with the part's
                out[f"{track.name} onsets on the part's"] = float(shares[track.name])
    out["others' onsets on the part's"] = float(np.mean(list(shares.values()))) if shares else float("nan")
    return out


def musegan_measures(rolls: np.ndarray, given: int, tracks, composer) -> dict:
    """MuseGAN's per-track figures (EB, UPC, QN; DP of the drums) of the tracks not given,
    over all the phrases of one way at once, as its track-conditional table reports them."""
    cfg = composer.config
    drum = next((i for i, t in enumerate(tracks) if t.is_drum), None)
    names = [t.name for t in tracks]
    table = measure(rolls, names, drum, 4 * cfg.steps_per_beat, cfg.lowest_pitch)
    out = {}
    for i, name in enumerate(names):
        if i == given:
            continue
        out[f"EB {name}"] = table["EB"][name]
        if name in table["UPC"]:
            out[f"UPC {name}"] = table["UPC"][name]
            out[f"QN {name}"] = table["QN"][name]
    if drum is not None and drum != given:
        out["DP"] = table["DP"]
    return {k: float("nan") if v is None else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="genres-chords")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--given", default="Bass")
    parser.add_argument("--phrases", type=int, default=30)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--pack", default="/work/data/lpd48.phrases.npz")
    parser.add_argument("--harmony", type=float, default=None,
                        help="the inversion's harmony weight (default: engine/accompany.py's HARMONY_WEIGHT)")
    parser.add_argument("--json")
    args = parser.parse_args()

    if args.harmony is not None:
        accompany_module.HARMONY_WEIGHT = args.harmony
    composer = Composer.load(args.model)
    cfg = composer.config
    tracks = family_tracks(cfg.track_set)
    given = [t.name for t in tracks].index(args.given)
    phrases, _ = load_phrase_pack_for(args.pack, composer.config)
    validation = phrases.split(True)
    rows = np.flatnonzero(validation.genre == validation.genres.index(args.genre))
    rows = [r for r in rows if validation.rolls[r, given].any()]
    rng = np.random.default_rng(0)
    rows = rng.choice(rows, min(args.phrases, len(rows)), replace=False)
    results = {"inverted": [], "drawn": [], "real": []}
    stacks = {name: [] for name in results}  # each way's phrases on the model's grid, for MuseGAN's figures
    fits, seconds = [], []
    steps_per_bar = 4 * cfg.steps_per_beat
    for k, row in enumerate(rows):
        real = validation.rolls[row].astype(np.uint8)  # (T, S, P) at the model's grid
        full = np.zeros((len(tracks), real.shape[1], 128), np.uint8)
        full[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches] = real * 100
        song = resample(Multitrack(tracks, full, cfg.steps_per_beat, 120.0, f"val{row}"), 48)
        only = song.copy()
        only.rolls[[i for i in range(len(tracks)) if i != given]] = 0
        part = Part(only, [given], cfg.n_bars)
        results["real"].append(measures(real > 0, given, tracks, steps_per_bar))
        stacks["real"].append(real > 0)
        start = time.perf_counter()
        inverted = accompany(composer, part, seed=k, genre=args.genre, steps=args.steps)[0]
        seconds.append(time.perf_counter() - start)
        fits.append(inverted.fit)
        drawn = accompany(composer, part, seed=k, genre=args.genre, invert_noise=False)[0]
        for name, result in (("inverted", inverted), ("drawn", drawn)):
            rolls = on_model_grid(result.clip, composer)
            results[name].append(measures(rolls, given, tracks, steps_per_bar))
            stacks[name].append(rolls)
        print(f"phrase {k + 1}/{len(rows)}: fit {inverted.fit:.3f}, {seconds[-1]:.1f} s", flush=True)

    table = {}
    for name, rows_ in results.items():
        keys = list(dict.fromkeys(k for r in rows_ for k in r))  # a track silent in one phrase has no share there
        table[name] = {key: float(np.nanmean([r.get(key, np.nan) for r in rows_])) for key in keys}
        table[name].update(musegan_measures(np.stack(stacks[name]), given, tracks, composer))
    print(f"\n{args.model}, {args.genre}, given {args.given}, {len(rows)} validation phrases, "
          f"{args.steps} inversion steps; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads")
    keys = list(table["real"])
    print("| | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name in ("real", "inverted", "drawn"):
        print(f"| {name} | " + " | ".join(f"{table[name].get(k, np.nan):.3f}" for k in keys) + " |")
    print(f"inversion fit (F1) median {np.median(fits):.3f}; time per phrase median {np.median(seconds):.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"table": table, "fit_median": float(np.median(fits)),
                       "seconds_median": float(np.median(seconds)), "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
