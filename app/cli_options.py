"""What the commands share: their common options, the checks of values against the engine's
limits, loading a model, and checking an output path before any work.

Each raises `UserError` (bytes2beats.errors) for input the user can fix; nothing here
imports the module that registers the commands, so every command module can import this.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bytes2beats.engine.limits import FEEL_PERCENT, QUANTIZE_PERCENT, Limit, shown
from bytes2beats.errors import UserError


def check_in(flag: str, value: float | None, limit: Limit) -> None:
    """A UserError naming the flag, its range and the value given, when the value is outside
    the range; None (not given: the default) passes."""
    if value is not None and value not in limit:
        raise UserError(f"{flag} must be {limit.describe()}, not {shown(value)}")


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a model name (see `bytes2beats info`) or a .safetensors path")
    p.add_argument("--genre", help="the genre, for models that know genres")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def add_timing_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quantize", type=float, default=None, metavar="PERCENT",
                   help="how far notes move onto the 16th and triplet grid, 0-100, as a DAW's quantize "
                        "strength (default 100)")
    p.add_argument("--feel", type=float, default=None, metavar="PERCENT",
                   help="how much of a real phrase's timing the notes take back after quantize, 0-100: "
                        "0 leaves every note on the grid, 100 plays them as loosely as the genre's songs "
                        "(default 100; models fitted before feels stay on the grid)")


def add_takes_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--takes", type=int, default=None, metavar="N",
                   help="make N takes of each idea and keep the one the model's take judge finds most like "
                        "the genre's songs, 1-64 (default: the model's own choice, 8 for the shipped genres "
                        "model; 1 for a model without take judges); N times the work")


def takes_for(composer, takes: int | None, genre: str | None) -> int:
    """--takes, or the model's default when not given (None); a UserError for a genre the
    model lacks (checked first: a judge is missing because the genre is), a number out of
    range, or more than one take from a model without take judges for the genre."""
    takes = composer.default_takes if takes is None else takes
    try:
        composer.genre_index(genre)
        composer.check_takes(takes, genre)
    except ValueError as error:
        raise UserError(str(error)) from None
    return takes


def quantize_strength(args) -> float | None:
    """--quantize as a strength 0..1 (None: the default), or a UserError."""
    check_in("--quantize", args.quantize, QUANTIZE_PERCENT)
    return None if args.quantize is None else args.quantize / 100.0


def feel_amount(args) -> float | None:
    """--feel as an amount 0..1 (None: the default), or a UserError."""
    check_in("--feel", args.feel, FEEL_PERCENT)
    return None if args.feel is None else args.feel / 100.0


def add_chord_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chords", metavar='"Am F C G"',
                   help="a chord per bar as musicians write them (C, Am, F#m7, Bb/D, G7, Dsus4); two in a bar "
                        "joined by a comma (C,G); Roman numerals (i VI III VII) with --key; repeats to fill the clip")
    p.add_argument("--key", help='the key: "A minor", "Am", "F# major"; alone, the model picks chords in it')
    p.add_argument("--chords-from", metavar="FILE.mid", help="the chords of your own MIDI clip")


def asks_for_chords(args) -> bool:
    return bool(args.chords is not None or args.key or args.chords_from)


def chord_model_default(args) -> None:
    """With chords asked for and no --model, the shipped chord model plays them (the default
    model takes none)."""
    from bytes2beats.engine.model_store import DEFAULT_CHORD_MODEL

    if args.model is None and asks_for_chords(args):
        args.model = DEFAULT_CHORD_MODEL


def chord_request(args, composer, seed: int = 0) -> list | None:
    """--chords, --key and --chords-from as one chord (or None) per beat, or None when none
    was asked for; a UserError for bad input or a model that takes no chords."""
    from bytes2beats.engine import progression

    if not asks_for_chords(args):
        return None
    if args.chords and args.chords_from:
        raise UserError("give --chords or --chords-from, not both")
    if not composer.takes_chords:
        from bytes2beats.engine.model_store import DEFAULT_CHORD_MODEL

        raise UserError(f"model {composer.name!r} does not take chords or a key "
                        f"(use --model {DEFAULT_CHORD_MODEL}, or train one with --chords)")
    try:
        key = progression.parse_key(args.key) if args.key else None
        if args.chords_from:
            bars = progression.chords_from_midi(args.chords_from)
        elif args.chords is not None:
            bars = progression.parse_progression(args.chords, key)
        else:
            return composer.key_progression(key, seed, args.genre)
        return progression.per_beat(bars, len(bars))
    except progression.ChordError as error:
        raise UserError(str(error)) from None


def load_composer(args):
    """The model of --model on --device, or a UserError saying why it cannot be used."""
    from bytes2beats.engine.generate import Composer
    from bytes2beats.engine.model import ModelFileError

    try:
        return Composer.load(args.model, args.device)
    except (FileNotFoundError, ModelFileError, ValueError) as error:
        raise UserError(str(error)) from None


def make_output_folder(out: Path) -> None:
    """The folder that --count's files go into, or a UserError."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"cannot make folder {out} ({error.strerror})") from None


def check_output(path: str | os.PathLike) -> None:
    """A UserError, before any work, for an output path no file can be written at (a folder,
    a device, a pipe, a path in a missing folder); the write itself is atomic."""
    from bytes2beats.engine.music_io import MusicFileError, check_output_path

    try:
        check_output_path(path)
    except MusicFileError as error:
        raise UserError(str(error)) from None
