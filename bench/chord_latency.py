"""Benchmark: what chords cost the one-phrase generation a user waits for.

    .venv/bin/python bench/chord_latency.py [--repeats 40]

Alternating runs (medians, and the ratio to the plain model's), one 4-bar phrase at batch 1 on
the CPU, noise to decoded clip:
- plain: the `genres` model, decoded as before chords existed (`decode`, no chord detection);
- plain + detected chords: the same, as `to_clip` does now (the extractor names the clip's
  chords for the window's chord lane);
- chords given: the `genres-chords` model over "Am F C G" (`to_clip` with the given chords);
- chords given away from home: the same over "i VI III VII" in a minor key the model does not
  name a home key (engine/key_homing.py: the phrase made a semitone or two away and moved back).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.key_homing import home_shift
from bytes2beats.engine.progression import Key, parse_progression, per_beat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    plain, chordal = Composer.load("genres", "cpu"), Composer.load("genres-chords", "cpu")
    given = per_beat(parse_progression("Am F C G"), 4)
    low, n = plain.config.lowest_pitch, plain.config.n_pitches

    def old():
        probs = plain.probabilities([plain.new_idea(1)])[0]
        plain.decode(probs[:, :, low : low + n])

    def detected():
        plain.to_clip(plain.probabilities([plain.new_idea(1)])[0])

    def with_chords():
        idea = chordal.new_idea(1, chords=given)
        chordal.to_clip(chordal.probabilities([idea])[0], chords=idea.chords)

    away = next((key for key in (Key(t, True) for t in range(12))
                 if home_shift(per_beat(parse_progression("i VI III VII", key), 4), chordal.home_keys)), None)

    def away_from_home():
        idea = chordal.new_idea(1, chords=per_beat(parse_progression("i VI III VII", away), 4))
        chordal.to_clip(chordal.probabilities([idea])[0], chords=idea.chords)

    runs = {"plain": old, "plain + detected chords": detected, "chords given": with_chords}
    if away is not None:
        runs[f"chords given in {away.name} (homed)"] = away_from_home
    times = {name: [] for name in runs}
    for _ in range(3):
        for run in runs.values():
            run()  # warm up
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["plain"])
    print(f"machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.repeats} alternating runs each")
    for name, t in times.items():
        m = statistics.median(t)
        print(f"{name:34s} median {1000 * m:6.1f} ms   x{m / base:.2f}")


if __name__ == "__main__":
    main()
