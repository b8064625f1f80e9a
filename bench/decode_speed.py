"""Benchmark: how long the decoding takes, probabilities to notes, per model file.

    OMP_NUM_THREADS=1 .venv/bin/python bench/decode_speed.py [--model genres-chords ...] [--genre rock]
        [--repeats 15]

Medians (timings here are noisy) of `Composer.decode` for one 4-bar phrase (what the app and
`stream` decode at a time, on the full MIDI pitch range as `to_clip` passes it) and for 64, and
of a whole `generate` of one clip, the network included. A file with `repeat_bars` decodes each
phrase twice (the plain decoding finds the bars each track rests in), so compare files side by
side in one run. A manner model's phrase is also decoded with its idea's manners (each pitched
track then played as decoded, held or pulsed, whichever is nearer: engine/articulation.py), as
`generate` decodes it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.takes import take_seeds


def median_ms(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=["genres-chords"])
    parser.add_argument("--genre", default="rock")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"decode medians ({platform.machine()}, {platform.processor() or 'cpu'})")
    for name in args.model:
        measure(Composer.load(name, "cpu"), name, args.genre, args.repeats)


def measure(composer: Composer, name: str, genre: str, repeats: int) -> None:
    ideas = [composer.new_idea(k, genre=genre) for k in range(64)]
    probs = np.stack(composer.probabilities(ideas))
    one = median_ms(lambda: composer.decode(probs[0], genre=genre), repeats)
    many = median_ms(lambda: composer.decode(probs, genre=genre), max(3, repeats // 5))
    clip = median_ms(lambda: composer.generate(seed=1, genre=genre), repeats)
    articulated = ""
    if composer.config.manners:
        held = median_ms(lambda: composer.decode(probs[0], genre=genre, manners=ideas[0].manners), repeats)
        articulated = f", one phrase with its manners (articulated) {held:.1f} ms"
    print(f"  {name}: one phrase {one:.1f} ms{articulated}, 64 phrases {many:.0f} ms, generate one clip {clip:.0f} ms")
    if composer.take_judges:
        takes = [composer.new_idea(seed, 8, genre) for seed in take_seeds(1, 8)]
        low, pitches = composer.config.lowest_pitch, composer.config.n_pitches
        take_probs = [p[:, :, low : low + pitches] for _, p in composer.iter_probabilities(takes)]
        stacked, manners = np.stack(take_probs), np.stack([idea.manners for idea in takes])
        together = median_ms(lambda: composer.decode(stacked, None, genre, manners=manners), repeats)
        alone = median_ms(lambda: [composer.decode(p, None, genre, manners=idea.manners)
                                   for p, idea in zip(take_probs, takes)], repeats)
        best = median_ms(lambda: composer.generate(seed=1, bars=8, genre=genre, takes=8), repeats)
        first = median_ms(lambda: composer.generate(seed=1, bars=8, genre=genre, takes=1), repeats)
        print(f"  {name}: an 8-bar clip's 8 takes decoded together {together:.0f} ms, one by one {alone:.0f} ms "
              f"(the network's work not counted); generate an 8-bar clip of 8 takes {best:.0f} ms, of one {first:.0f} ms")

if __name__ == "__main__":
    main()
