"""`bytes2beats accompany`: the user's part from a MIDI file, with the other tracks generated
around it (engine/accompany.py), written as one MIDI file per accompaniment."""

from __future__ import annotations

import argparse
from pathlib import Path

from bytes2beats.cli_options import (
    add_model_options,
    add_timing_options,
    check_in,
    check_output,
    feel_amount,
    load_composer,
    make_output_folder,
    quantize_strength,
)
from bytes2beats.engine.limits import SEED, THRESHOLD
from bytes2beats.errors import UserError

TRACK_CHOICES = ("auto", "drums", "piano", "guitar", "bass", "strings")
MAX_COUNT = 100


def add_accompany_command(sub) -> None:
    a = sub.add_parser(
        "accompany", help="generate the other tracks around your own part (a MIDI clip)",
        description="Your part (a bass line, a riff, a groove) kept note for note, and the other "
                    "tracks generated to fit its chords and rhythm. With no --model: the chord model.",
    )
    add_model_options(a)
    a.add_argument("--part", required=True, metavar="FILE.mid", help="your part: a MIDI (or LPD .npz) file")
    a.add_argument("--as", dest="as_track", default="auto", type=str.lower, choices=TRACK_CHOICES,
                   help="the track your part is (auto: by each instrument's program and drum channel)")
    a.add_argument("--out", required=True, help="the .mid file (or, with --count, a folder)")
    a.add_argument("--bars", type=int, default=None, help="bars from the part's start (default: its length, up to 32)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--count", type=int, default=1, help=f"accompaniments to make, from seeds seed, seed+1, ... "
                                                        f"(at most {MAX_COUNT})")
    a.add_argument("--threshold", type=float, default=None, help="note probability that makes a note, 0-1")
    add_timing_options(a)
    a.set_defaults(handler=cmd_accompany)


def cmd_accompany(args: argparse.Namespace) -> int:
    from bytes2beats.engine.accompany import PartError, accompany, read_part
    from bytes2beats.engine.model_store import DEFAULT_CHORD_MODEL
    from bytes2beats.engine.music_io import MusicFileError, write_midi

    if not 1 <= args.count <= MAX_COUNT:
        raise UserError(f"--count must be from 1 to {MAX_COUNT}")
    check_in("--threshold", args.threshold, THRESHOLD)
    check_in("--seed", args.seed, SEED)
    strength, feel = quantize_strength(args), feel_amount(args)
    out = Path(args.out)
    if args.count == 1:
        check_output(out)  # before any work
    if args.model is None:
        args.model = DEFAULT_CHORD_MODEL  # it plays to the part's chords
    composer = load_composer(args)
    try:
        composer.genre_index(args.genre)
        part = read_part(args.part, composer.config.track_set, args.as_track, args.bars)
        results = accompany(composer, part, args.seed, args.genre, args.count, args.threshold, strength, feel=feel)
    except (PartError, ValueError) as error:
        raise UserError(str(error)) from None
    if args.count > 1:
        make_output_folder(out)
        paths = [out / f"{part.song.name}-accompanied-seed{args.seed + k}.mid" for k in range(args.count)]
    else:
        paths = [out]
    try:
        for result, path in zip(results, paths):
            clip = result.clip
            write_midi(clip, path)
            made = [t.name for i, t in enumerate(clip.tracks) if i not in part.given and clip.rolls[i].any()]
            print(f"{path}: {part.n_bars} bars, your {' and '.join(part.names)} with "
                  f"{', '.join(made) or 'nothing'} (the model drew your part with F1 {result.fit:.2f})")
    except MusicFileError as error:
        raise UserError(str(error)) from None
    return 0
