"""A quick look at a chord model while it trains: a checkpoint (or model file) decoded as a
shipped model decodes, over given chords.

    PYTHONPATH=bench .venv/bin/python bench/checkpoint_probe.py [CHECKPOINT.pt | MODEL.safetensors ...]
        [--decoding genres-chords] [--phrases 200] [--keys "Db major,C major"]

Each checkpoint's generator is loaded into the `--decoding` model (its thresholds, hysteresis,
bass line and onset prior: what a user of that model hears; not its home keys, which were
measured on its own weights, so every key is played as it is), so that runs warm-started from it
compare without fitting a decoding anew (a model file's own `train --resume CKPT` takes
minutes; this, one). Phrases: `--phrases` in rock over random diatonic progressions in eight
random keys (the same for every checkpoint). Printed per checkpoint: the bass's probability
mass on the chord's root ("soft") and its decoded lowest note on the root ("decoded", as
bench/chord_control.py counts it), the pitched tracks' share on chord tones, each track's
pitch classes a bar (UPC) and empty bars (EB, %), and each pair of pitched tracks' tonal
distance as a multiple of the validation rock songs' (REAL_TD: bench/chord_control.py's,
same phrase). A screen, not a verdict: 200 phrases move a tonal distance by a few hundredths,
and the model file with its own decoding, measured by bench/chord_control.py and
`bytes2beats eval`, is what a result rests on.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.metrics import measure
from bytes2beats.engine.model import load_model
from bytes2beats.engine.progression import Key, diatonic_progression, parse_key, parse_progression
from bytes2beats.engine.progression import per_beat as bars_per_beat
from bytes2beats.engine.train import checkpoint_composer
from chord_control import fit

# The validation rock songs' tonal distance per pair, as bench/chord_control.py measures it
# (its "real" figures, docs/eval-chord-control-shipped-per-key200.json).
REAL_TD = {"Piano-Guitar": 0.5326, "Piano-Bass": 0.8131, "Piano-Strings": 0.5531, "Guitar-Bass": 0.7437,
           "Guitar-Strings": 0.6512, "Bass-Strings": 0.9054}


def probe(composer: Composer, given: list, genre: str = "rock", seed: int = 20000) -> dict:
    cfg = composer.config
    low, spb = cfg.lowest_pitch, cfg.steps_per_beat
    ideas = [composer.new_idea(seed + k, cfg.n_bars, genre, chords=chords) for k, chords in enumerate(given)]
    probs = np.concatenate([composer.probabilities(ideas[s:s + 100], batch_size=100)
                            for s in range(0, len(ideas), 100)])[..., low:low + cfg.n_pitches]
    bass = [t.name for t in cfg.tracks].index("Bass")
    pitch_class = (np.arange(cfg.n_pitches) + low) % 12
    on_root = mass = 0.0
    for p, chords in zip(probs, given):
        for beat, chord in enumerate(chords):
            if chord is not None:
                m = p[bass, beat * spb:(beat + 1) * spb].sum(0)
                on_root, mass = on_root + m[pitch_class == chord.root].sum(), mass + m.sum()
    x = np.stack([composer.decode(p, None, genre, chords=chords) for p, chords in zip(probs, given)])
    tones, root = fit(x, given, cfg)
    m = measure(x, [t.name for t in cfg.tracks], 0, 4 * spb, low)
    return {"notes": x, "soft root": on_root / mass, "decoded root": root, "tones": tones, "UPC": m["UPC"], "EB": m["EB"],
            "TD ratio": {pair: value / REAL_TD[pair] for pair, value in m["TD"].items() if pair in REAL_TD}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="checkpoints (.pt) or model files; none: the --decoding model itself")
    parser.add_argument("--decoding", default="genres-chords", help="the model whose decoding every one is heard by")
    parser.add_argument("--phrases", type=int, default=200)
    parser.add_argument("--keys", help="keys to play in, comma-separated (\"Db major,C major\"), each with its "
                                       "bass on the root printed (default: eight random keys, pooled)")
    args = parser.parse_args()

    loaded = Composer.load(args.decoding, "cpu")
    # every key played as it is: the decoding model's home keys were measured on its own weights
    composer = Composer(loaded.generator, {k: v for k, v in loaded.meta.items() if k != "home_keys"}, loaded.name)
    rng = np.random.default_rng(1)
    if args.keys:
        keys = [parse_key(name.strip()) for name in args.keys.split(",")]
    else:
        keys = [Key(int(rng.integers(12)), bool(k % 2)) for k in range(8)]
    given, per_key = [], args.phrases // len(keys)
    for key in keys:
        given += [bars_per_beat(parse_progression(diatonic_progression(key, rng), key), composer.config.n_bars)
                  for _ in range(per_key)]
    for name in args.models or [args.decoding]:
        decoded = composer
        if name.endswith(".pt"):
            decoded = checkpoint_composer(name, composer)
        elif name != args.decoding:
            composer.generator.load_state_dict(load_model(name)[0].state_dict())
        r = probe(decoded, given)
        print(f"{name}: soft root {r['soft root']:.3f} decoded root {r['decoded root']:.3f} tones {r['tones']:.3f}")
        print("  UPC", {k: round(v, 2) for k, v in r["UPC"].items()}, "EB %", {k: round(v, 1) for k, v in r["EB"].items()})
        print("  TD ratio", {k: round(v, 3) for k, v in r["TD ratio"].items()})
        if args.keys:
            print("  bass on the root by key", {key.name: round(fit(r["notes"][k * per_key:(k + 1) * per_key],
                                                                     given[k * per_key:(k + 1) * per_key],
                                                                     composer.config)[1], 3)
                                                for k, key in enumerate(keys)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
