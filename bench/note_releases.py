"""Diagnostic: where in the beat notes end, generated vs the songs (issue 14).

    .venv/bin/python bench/note_releases.py [--model genres] [--genre rock] [--samples 300]
        [--data ../shared/data/lpd] [--json OUT]

The generator's held notes are the tell no term has moved (docs/quality.md, "Manners"). This
shows how a note comes to be short: per pitched track, the chance that a sounding note ends
after each step of the beat (its release hazard: notes ending there / notes sounding there; 12
steps a beat at 48 a bar), for the genre's validation phrases, for the generator's notes at
the 0.5 cut the critic is shown, and as `eval` hears them (decoded, with the feel). A note's expected length is about one over the
mean hazard, so where the generated hazard stands above the songs' is where length is lost.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.evaluate import generated_phrases
from bytes2beats.engine.generate import Composer

SEED = 10_000  # eval's first seed


def release_hazard(notes: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """(N, T, S, P) bool -> (T, steps_per_beat): of the notes sounding at each step of the beat,
    the share that end after it (the phrase's last step is no end: the note may go on)."""
    following = np.zeros_like(notes)
    following[:, :, :-1] = notes[:, :, 1:]
    ends = notes & ~following
    ends[:, :, -1] = False
    sounding = notes.copy()
    sounding[:, :, -1] = False

    def per_step(x):
        n, t, s, p = x.shape
        return x[:, :, : s // steps_per_beat * steps_per_beat].reshape(n, t, -1, steps_per_beat, p).sum((0, 2, 4))

    return per_step(ends) / np.maximum(per_step(sounding), 1)


def phrase_notes(notes: np.ndarray, track: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, T, S, P) bool -> for one track, each note's length in steps and the phrase it is in."""
    x = np.moveaxis(notes[:, track], 1, -1).astype(np.int8)  # (N, P, S)
    edges = np.diff(np.pad(x, [(0, 0), (0, 0), (1, 1)]), axis=-1)
    start_rows, start_steps = np.nonzero(edges.reshape(-1, edges.shape[-1]) == 1)
    _, end_steps = np.nonzero(edges.reshape(-1, edges.shape[-1]) == -1)  # row-major: pairs with the starts
    return end_steps - start_steps, start_rows // x.shape[1]


def held_notes(notes: np.ndarray, track: int, steps_per_beat: int) -> dict:
    """Notes of a beat or more, counted two ways: as a share of all the track's notes (pooled)
    and per phrase (the classifier's feature: mean and spread over phrases where it plays), and
    how a phrase's share goes with its number of notes (Spearman's rho over those phrases)."""
    from scipy.stats import spearmanr

    lengths, phrase = phrase_notes(notes, track)
    count = np.bincount(phrase, minlength=len(notes))
    held = np.bincount(phrase, weights=lengths >= steps_per_beat, minlength=len(notes))
    playing = count > 0
    share = held[playing] / count[playing]
    return {"pooled": float((lengths >= steps_per_beat).mean()), "per phrase": float(share.mean()),
            "per phrase sd": float(share.std()), "rho with notes": float(spearmanr(share, count[playing])[0])}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="genres")
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--json")
    args = parser.parse_args()

    composer = Composer.load(args.model, "cpu")
    cfg = composer.config
    phrases = build_phrases(args.data, PhraseSpec.of_model(cfg), cache_dir=default_cache_dir())
    in_genre = phrases.genre == phrases.genres.index(args.genre)
    validation = np.flatnonzero(in_genre & phrases.validation_songs[phrases.song])
    real = np.asarray(phrases.rolls[validation]) > 0
    # the same seeds as `eval`'s phrases: their raw notes, and as decoded and played with the feel
    ideas = [composer.new_idea(SEED + k, genre=args.genre) for k in range(args.samples)]
    low = cfg.lowest_pitch
    probabilities = np.stack([p[:, :, low : low + cfg.n_pitches] for p in composer.probabilities(ideas)])
    sets = {"validation": real, "raw 0.5": probabilities > 0.5,
            "decoded": generated_phrases(composer, args.samples, args.genre, None, seed=SEED)}
    spb = cfg.steps_per_beat
    hazards = {name: release_hazard(notes, spb) for name, notes in sets.items()}
    pitched = [t for t, track in enumerate(cfg.tracks) if not track.is_drum]
    machine = f"{platform.machine()}, cpu"
    print(f"{composer.name}, {args.genre}: {args.samples} generated phrases against {len(validation)} validation "
          f"phrases ({machine}); the chance a sounding note ends after each step of the beat")
    print("| track | notes | " + " | ".join(str(k) for k in range(spb)) + " | mean (expected length, steps) |")
    print("|---|---|" + "---|" * spb + "---|")
    out = {"model": composer.name, "genre": args.genre, "samples": args.samples, "machine": machine, "tracks": {}}
    for t in pitched:
        name = cfg.tracks[t].name
        out["tracks"][name] = {}
        for which, hazard in hazards.items():
            h = hazard[t]
            print(f"| {name} | {which} | " + " | ".join(f"{v:.3f}" for v in h) + f" | {h.mean():.3f} ({1 / h.mean():.1f}) |")
            out["tracks"][name][which] = [round(float(v), 4) for v in h]
    print("\nnotes of a beat or more: their share of all the notes, of a phrase's notes (mean, sd), and "
          "how that share goes with the phrase's number of notes")
    print("| track | notes | pooled | per phrase: mean, sd | rho with the phrase's notes |")
    print("|---|---|---|---|---|")
    for t in pitched:
        name = cfg.tracks[t].name
        for which, notes in sets.items():
            held = held_notes(notes, t, spb)
            print(f"| {name} | {which} | {held['pooled']:.3f} | {held['per phrase']:.3f}, {held['per phrase sd']:.3f} | "
                  f"{held['rho with notes']:.2f} |")
            out["tracks"][name][which + " held"] = {k: round(v, 4) for k, v in held.items()}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
