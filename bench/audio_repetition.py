"""Listening for the groove: do a clip's bars sound alike from one to the next, as the songs' do?

    .venv/bin/python bench/audio_repetition.py [--model genres-chords ...] [--genre rock]
        [--phrases 12] [--data ../shared/data/lpd] [--out DIR]

Each model's 4-bar phrases (seeds 0 .. phrases-1), and as many of the genre's validation
songs' phrases (one drawn from each song), are written as MIDI (120 BPM) and rendered with FluidSynth
(FluidR3_GM) as a listener would hear them; the `.wav` files stay in `--out` to be played. From
the audio alone: the onsets a listener hears (peaks of spectral flux, bench/audio_onsets.py)
counted per 16th of each bar, and the mean cosine similarity of every pair of a phrase's bars. A groove or a riff that comes
back bar after bar sounds alike; bars drawn anew do not. The symbolic measure of the same thing
is bench/bar_repetition.py; this is what a synth makes of it, drums and all.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
from audio_onsets import BPM, onset_times, render  # bench/ is on the path when run as a script
from bytes2beats.engine.dataset import PhraseSpec, build_phrases, default_cache_dir
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.music_io import write_midi
from bytes2beats.engine.pianoroll import N_PITCHES, Multitrack


def bar_alike(audio: np.ndarray, bars: int = 4) -> float:
    """Mean cosine similarity of every pair of bars' onsets heard (audio_onsets.onset_times),
    counted per 16th (each onset in the 16th it falls nearest the start of)."""
    sixteenth = 60.0 / BPM / 4
    times = onset_times(audio)
    slot = np.round(times / sixteenth).astype(int)
    keep = slot < bars * 16
    per_slot = np.bincount(slot[keep], minlength=bars * 16).reshape(bars, 16).astype(float)
    unit = per_slot / np.maximum(np.linalg.norm(per_slot, axis=1, keepdims=True), 1e-9)
    first, second = np.triu_indices(bars, 1)
    return float((unit[first] * unit[second]).sum(axis=1).mean())


def real_clip(roll: np.ndarray, composer: Composer) -> Multitrack:
    """A validation phrase (T, S, P) on the model's pitch range as a clip."""
    cfg = composer.config
    full = np.zeros((cfg.n_tracks, roll.shape[1], N_PITCHES), dtype=np.uint8)
    full[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches] = roll
    return Multitrack(cfg.tracks, full, cfg.steps_per_beat, BPM, "song")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=["genres-chords"])
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--phrases", type=int, default=12)
    parser.add_argument("--data", default="../shared/data/lpd")
    parser.add_argument("--out", default="out/audio-repetition")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = Composer.load(args.model[0], "cpu")
    cfg = first.config
    spec = PhraseSpec.of_model(cfg)
    phrases = build_phrases(args.data, spec, cache_dir=default_cache_dir())
    validation = np.flatnonzero((phrases.genre == phrases.genres.index(args.genre))
                                & phrases.validation_songs[phrases.song])
    rng = np.random.default_rng(0)  # one phrase of each song, drawn (a song's first is often its intro)
    songs = rng.permutation(np.unique(phrases.song[validation]))[: args.phrases]
    picked = [rng.choice(validation[phrases.song[validation] == song]) for song in songs]
    clips = {"validation songs": [real_clip(phrases.rolls[k], first) for k in picked]}
    for name in args.model:
        composer = Composer.load(name, "cpu")
        clips[name] = [composer.generate(seed, bars=4, genre=args.genre, bpm=BPM)[0] for seed in range(args.phrases)]
    print(f"{args.genre}, {args.phrases} phrases a set, rendered with FluidSynth ({platform.machine()}): "
          "bar-pair similarity of the onsets heard per 16th, median (quartiles)")
    for k, (name, made) in enumerate(clips.items()):
        alike = []
        for i, clip in enumerate(made):
            midi = out / f"set{k}-{i}.mid"
            write_midi(clip, midi)
            alike.append(bar_alike(render(midi, midi.with_suffix(".wav"))))
        q = np.quantile(alike, [0.25, 0.5, 0.75])
        print(f"  {name}: {q[1]:.3f} ({q[0]:.3f}-{q[2]:.3f})   files {out}/set{k}-*.wav")
    return 0


if __name__ == "__main__":
    sys.exit(main())
