"""The `bytes2beats` command: generate, train, phrases, eval, calibrate, info (stream and
ports in cli_live, the GUI with no command).

Every failure the user can cause ends as one line on stderr and exit status 1 or 2; heavy
modules (torch) are imported inside the commands so that `--help` and the GUI start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bytes2beats import __version__
from bytes2beats.cli_options import (
    add_chord_options,
    add_model_options,
    add_takes_option,
    add_timing_options,
    check_in,
    check_output,
    chord_model_default,
    chord_request,
    feel_amount,
    load_composer,
    make_output_folder,
    quantize_strength,
    takes_for,
)
from bytes2beats.engine.limits import BPM, CLIP_BARS, DEFAULT_BPM, SEED, THRESHOLD
from bytes2beats.engine.run_request import add_run_arguments
from bytes2beats.errors import UserError, error_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bytes2beats",
        description="Multi-track music ideas from a self-attention WGAN-GP, for your DAW.",
    )
    parser.add_argument("--version", action="version", version=f"bytes2beats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("generate", help="write generated clips as MIDI files")
    g.add_argument("--out", required=True, help="the .mid file (or, with --count, a folder)")
    add_model_options(g)
    g.add_argument("--bars", type=int, default=None, help="bars per clip (default: the model's phrase, 4)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threshold", type=float, default=None,
                   help="note probability that makes a note, 0-1 (default: the model's own)")
    add_timing_options(g)
    add_takes_option(g)
    add_chord_options(g)
    g.add_argument("--bpm", type=float, default=DEFAULT_BPM)
    g.add_argument("--count", type=int, default=1, help="write this many clips into the folder --out")
    g.add_argument("--image", help="also save a pianoroll picture of the (first) clip here")

    t = sub.add_parser("train", help="train a model on a folder of MIDI or LPD .npz files")
    add_run_arguments(t)  # one flag per field of engine/run_request.py's RunRequest

    ph = sub.add_parser("phrases", help="pack a folder's training phrases into one file, to train where the songs are not")
    ph.add_argument("--data", required=True, help="folder of songs (searched recursively)")
    ph.add_argument("--out", required=True, help="the pack, ending in .phrases.npz")
    ph.add_argument("--tracks", type=int, choices=(5, 17), default=5)
    ph.add_argument("--steps-per-beat", type=int, default=4)
    ph.add_argument("--bars-per-phrase", type=int, default=4)
    ph.add_argument("--cache-dir", help="phrase cache (default: the user cache folder)")

    e = sub.add_parser("eval", help="measure a model's music against real data")
    add_model_options(e)
    e.add_argument("--data", required=True, help="folder of songs to compare with")
    e.add_argument("--samples", type=int, default=1000, help="generated phrases to measure")
    e.add_argument("--json", help="write the figures here as JSON")
    e.add_argument("--images", help="folder for the self-similarity matrices and a pianoroll sheet")
    e.add_argument("--threshold", type=float, default=None)
    e.add_argument("--seed", type=int, default=10_000, help="the generated phrases are seeds SEED, SEED+1, ...")
    add_timing_options(e)
    add_takes_option(e)
    e.add_argument("--no-classifier", action="store_true",
                   help="skip the classifier two-sample test (generated against validation phrases)")
    e.add_argument("--novelty-samples", type=int, default=1000,
                   help="generated phrases compared with every training phrase for copying")
    e.add_argument("--cache-dir")

    c = sub.add_parser("calibrate", help="fit a model's decoding (each track's threshold, per genre) to songs")
    c.add_argument("--model", help="a model name (see `bytes2beats info`) or a .safetensors path")
    c.add_argument("--data",
                   help="the songs it was trained on: a folder, or a .phrases.npz pack (its training songs are used); "
                        "needed by all but --default-takes alone")
    c.add_argument("--out", help="write the model here (default: rewrite the model's own file)")
    c.add_argument("--samples", type=int, default=None, help="generated phrases per genre to fit to (1024)")
    c.add_argument("--register-only", action="store_true",
                   help="fit only each track's register (how far from its middle the players' notes go), "
                        "keeping the rest of the decoding as it is")
    c.add_argument("--rhythm-only", action="store_true",
                   help="fit only the phrase-wide rhythm: how far each track's bars are pulled toward the phrase's "
                        "mean bar (a groove that comes back bar after bar) and which phrases play straight 16ths and 8ths, "
                        "keeping the rest of the decoding as it is")
    c.add_argument("--feel-only", action="store_true",
                   help="fit only each genre's feels (the timing of real phrases, put back after quantize), "
                        "keeping the rest of the decoding as it is")
    c.add_argument("--kit-only", action="store_true",
                   help="fit only how the drums are played as a kit (each note a hit; no more pieces struck at once "
                        "than the songs' drummers strike), and the phrase-wide rhythm over it, keeping the rest of "
                        "the decoding as it is")
    c.add_argument("--genre-lean-only", action="store_true",
                   help="measure only how a classifier of the model's genres leans on real songs of every genre "
                        "alike, so that fine-tuning can choose the genre a user's songs sound most like; "
                        "the decoding is kept as it is")
    c.add_argument("--manners-only", action="store_true",
                   help="draw only a manner model's table of the songs' manners anew, from up to 2,048 training phrases "
                        "of each genre, in the songs' shares of which parts play; the decoding is kept as it is")
    c.add_argument("--takes-only", action="store_true",
                   help="fit only the take judges (per genre, how like its training songs a decoded phrase is), "
                        "so that generating can make several takes of an idea and keep the most song-like; "
                        "the decoding is kept as it is")
    c.add_argument("--default-takes", type=int, default=None,
                   help="the takes the app and `generate` make when not told: with --takes-only, set with the "
                        "judges it fits (when not given, the file's own, or the shipped model's for a file judged for "
                        "the first time); alone, set in a file whose judges are fitted, keeping them (no --data needed)")
    c.add_argument("--cache-dir")

    sub.add_parser("info", help="version, device and the models available")

    from bytes2beats.cli_gui import add_gui_command
    from bytes2beats.cli_live import add_live_commands  # stream, ports

    add_live_commands(sub)
    from bytes2beats.cli_accompany import add_accompany_command

    add_accompany_command(sub)
    add_gui_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the desktop app
        args = parser.parse_args(["gui"])
    try:
        return args.handler(args) if hasattr(args, "handler") else COMMANDS[args.command](args)
    except UserError as error:
        print(error_line(args.command, error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(error_line(args.command, "interrupted"), file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------


def cmd_generate(args) -> int:
    from bytes2beats.engine.music_io import MusicFileError, write_midi

    if args.count < 1:
        raise UserError("--count must be 1 or more")
    check_in("--bars", args.bars, CLIP_BARS)
    check_in("--threshold", args.threshold, THRESHOLD)
    check_in("--bpm", args.bpm, BPM)
    check_in("--seed", args.seed, SEED)
    strength, feel = quantize_strength(args), feel_amount(args)
    image_format = _image_format(args.image) if args.image else None
    out = Path(args.out)
    # every output checked before any work: nothing is made that cannot be kept
    for path in ([out] if args.count == 1 else []) + ([args.image] if args.image else []):
        check_output(path)
    chord_model_default(args)
    composer = load_composer(args)
    chords = chord_request(args, composer, args.seed)
    try:
        composer.genre_index(args.genre)  # an unknown genre, before the folder is made
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.count > 1:
        make_output_folder(out)
    # Clips are made in batches and each written as it comes: memory stays flat at any --count.
    clips = composer.iter_generate(args.seed, args.bars, args.genre, args.threshold, args.bpm, args.count,
                                   quantize_strength=strength, chords=chords, feel=feel,
                                   takes=takes_for(composer, args.takes, args.genre))
    try:
        for k, clip in enumerate(clips):
            path = out / f"{composer.name}-seed{args.seed + k}.mid" if args.count > 1 else out
            write_midi(clip, path)
            notes = sum(len(clip.notes(i)) for i in range(len(clip.tracks)))
            playing = [t.name for i, t in enumerate(clip.tracks) if clip.rolls[i].any()]
            print(f"{path}: {clip.n_bars:g} bars, {notes} notes ({', '.join(playing) or 'silent'})")
            if args.image and k == 0:
                _write_image(clip, args.image, image_format)
    except (MusicFileError, ValueError) as error:
        raise UserError(str(error)) from None
    return 0


def _image_format(path: str) -> str:
    """Pillow's format for a picture's file name, or a UserError for a suffix it cannot write."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    if suffix not in formats or formats[suffix] not in Image.SAVE:
        raise UserError(f"--image must end in .png, .jpg or another picture suffix, not {suffix or 'none'!r}")
    return formats[suffix]


def _write_image(clip, path: str, image_format: str) -> None:
    from bytes2beats.engine.music_io import write_atomically
    from bytes2beats.engine.render import render_pianoroll

    picture = render_pianoroll(clip)
    write_atomically(path, lambda file: picture.save(file, format=image_format))


def cmd_train(args) -> int:
    import signal

    from bytes2beats.engine.run_request import RunRequest
    from bytes2beats.engine.train_run import RunRefused, prepare, run

    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    try:
        prepared = prepare(RunRequest.from_args(args), say)
        # SIGTERM (a cancel from the app, a shutdown) stops between two batches, like Ctrl-C.
        stop_requested = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
        outcome = run(prepared, should_stop=lambda: bool(stop_requested))
    except RunRefused as error:
        raise UserError(str(error)) from None
    paths = prepared.paths
    if prepared.rank != 0:
        return 0 if outcome.finished else (143 if stop_requested else 130)
    if not outcome.finished:
        say(f"\nstopped at epoch {prepared.trainer.epoch}; the last checkpoint ({paths.checkpoint}) resumes "
            "with --resume")
        return 143 if stop_requested else 130
    if outcome.model is not None:
        say(f"model written to {outcome.model} (run folder {paths.folder})")
    return 0


def cmd_phrases(args) -> int:
    from bytes2beats.engine.dataset import (
        PACK_SUFFIX,
        PhraseSpec,
        build_phrases,
        default_cache_dir,
        save_phrase_pack,
    )
    from bytes2beats.engine.model import ModelConfig
    from bytes2beats.engine.music_io import MusicFileError
    from bytes2beats.engine.run_request import flag_of

    if not args.out.endswith(PACK_SUFFIX):
        raise UserError(f"--out must end in {PACK_SUFFIX}")
    # The phrases are cut for a model: the model's rules for its grid, by their flags' names.
    problem = ModelConfig(track_set=args.tracks, steps_per_beat=args.steps_per_beat,
                          n_bars=args.bars_per_phrase).problem(flag_of)
    if problem:
        raise UserError(problem)
    spec = PhraseSpec(args.tracks, args.steps_per_beat, args.bars_per_phrase)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    check_output(args.out)  # before the songs are read, which can take minutes
    print(f"reading songs under {args.data} ...", file=sys.stderr)
    try:
        phrases = build_phrases(args.data, spec, cache_dir=cache)
        path = save_phrase_pack(phrases, spec, args.out)
    except MusicFileError as error:
        raise UserError(str(error)) from None
    n_val = int(phrases.validation_songs[phrases.song].sum())
    print(f"{path}: {len(phrases)} phrases ({len(phrases) - n_val} training, {n_val} validation) "
          f"from {len(phrases.files)} songs; genres: {', '.join(phrases.genres) or 'none'}; "
          f"{path.stat().st_size / 1e6:.1f} MB")
    return 0


def cmd_eval(args) -> int:
    from bytes2beats.engine.dataset import default_cache_dir
    from bytes2beats.engine.evaluate import evaluate, format_table
    from bytes2beats.engine.music_io import MusicFileError, write_atomically
    from bytes2beats.engine.targets import Check, format_checks

    if args.samples < 1:
        raise UserError(f"--samples must be 1 or more, not {args.samples}")
    if args.novelty_samples < 0:
        raise UserError(f"--novelty-samples must be 0 or more, not {args.novelty_samples}")
    check_in("--threshold", args.threshold, THRESHOLD)
    check_in("--seed", args.seed, SEED)
    strength, feel = quantize_strength(args), feel_amount(args)
    if args.json:
        check_output(args.json)  # before the measuring, which takes minutes
    composer = load_composer(args)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    genres = [args.genre]
    if args.genre == "all":
        if not composer.config.genres:
            raise UserError(f"model {composer.name!r} is not genre-conditioned: leave out --genre all")
        genres = list(composer.config.genres)
    results = {}
    for genre in genres:
        images = str(Path(args.images) / genre) if args.images and len(genres) > 1 else args.images
        takes = takes_for(composer, args.takes, genre)
        try:
            result = evaluate(composer, args.data, samples=args.samples, genre=genre, threshold=args.threshold,
                              cache_dir=cache, images=images, novelty_samples=args.novelty_samples, seed=args.seed,
                              classifier=not args.no_classifier, quantize_strength=strength, feel=feel, takes=takes)
        except (MusicFileError, ValueError) as error:
            raise UserError(str(error)) from None
        if len(genres) > 1:
            print(f"\n== genre: {genre} ==")
        print(format_table(result))
        print(format_checks([Check(**c) for c in result["targets"]["checks"]]))
        if "merged" in result:
            print("\nmerged into the five LPD-5 families (Drums, Piano, Guitar, Bass, Strings):")
            print(format_checks([Check(**c) for c in result["merged"]["targets"]["checks"]]))
        results[genre] = result
    if len(genres) > 1:
        print("\ntargets met per genre: " + ", ".join(
            f"{g} {r['targets']['met']}/{r['targets']['of']}" for g, r in results.items()))
    if args.json:
        import json

        document = results[genres[0]] if len(genres) == 1 else {"model": composer.name, "genres": results}
        try:
            write_atomically(args.json, lambda file: file.write(json.dumps(document, indent=2).encode()))
        except MusicFileError as error:
            raise UserError(str(error)) from None
    return 0


def cmd_calibrate(args) -> int:
    from bytes2beats.engine.calibrate import SAMPLES, calibrate_decoding
    from bytes2beats.engine.dataset import (
        PhraseSpec,
        build_phrases,
        default_cache_dir,
        is_phrase_pack,
        load_phrase_pack,
    )
    from bytes2beats.engine.music_io import MusicFileError

    if args.samples is not None and args.samples < 1:
        raise UserError(f"--samples must be 1 or more, not {args.samples}")
    only = [flag for flag, given in vars(args).items() if flag.endswith("_only") and given]  # the --*-only asked
    if len(only) > 1:
        raise UserError("give one of " + ", ".join("--" + f.replace("_", "-") for f in only) + ", not several")
    if args.default_takes is not None and only and only != ["takes_only"]:
        raise UserError("--default-takes goes with --takes-only, or alone")
    args.device = "cpu"
    if args.default_takes is not None and not only:  # only the default changes: no songs needed
        if args.data is not None:
            raise UserError("--default-takes alone keeps the judges and needs no --data "
                            "(add --takes-only to fit them to the songs again)")
        return _set_default_takes(args, load_composer(args))
    if args.data is None:
        raise UserError("calibrate needs --data: the songs the model was trained on")
    composer = load_composer(args)
    cfg = composer.config
    spec = PhraseSpec.of_model(cfg)
    try:
        if is_phrase_pack(args.data):
            phrases, packed = load_phrase_pack(args.data)
            if not packed.cut_for(cfg):
                raise UserError(f"{args.data} was cut for another model than {composer.name!r}")
        else:
            cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
            phrases = build_phrases(args.data, spec, cache_dir=cache)
    except MusicFileError as error:
        raise UserError(str(error)) from None
    if cfg.genres:  # a folder named after one of the model's genres (rock/) is that genre's songs, as in train
        from bytes2beats.engine.train_run import fine_tuning_genres

        fine_tuning_genres(cfg.genres, phrases, args.data)
    training = phrases.split(validation=False)
    del phrases
    if not len(training):
        raise UserError(f"no training phrases in {args.data}")
    if args.takes_only:  # the decoding stays: the lean measured on its phrases stays too
        return _write_takes(args, composer, training)
    if args.manners_only:  # the network and the decoding stay, and with them the judges and the lean
        return _write_manners(args, composer, training)
    if not args.genre_lean_only:  # a new decoding makes other phrases: the lean was measured on the old ones
        composer.meta.pop("genre_lean", None)
    if composer.take_judges and not args.genre_lean_only:  # fitted to the old decoding's phrases, as the lean
        composer.meta.pop("takes", None)
        composer.take_judges = {}
        print("its take judges were fitted to the old decoding: fit them again with `calibrate --takes-only`")
    if args.register_only:
        return _write_register(args, composer, training)
    if args.rhythm_only:
        return _write_rhythm(args, composer, training)
    if args.feel_only:
        return _write_feel(args, composer, training)
    if args.kit_only:
        return _write_kit(args, composer, training)
    if args.genre_lean_only:
        return _write_genre_lean(args, composer, training)
    progressions = None
    if cfg.chords:  # a chord model is fitted over the progressions it draws: its own, or the data's
        from bytes2beats.engine.calibrate import phrase_progressions

        progressions = composer.meta.get("progressions") or phrase_progressions(training, cfg)
        composer.meta["progressions"] = progressions
    decoding = calibrate_decoding(composer.generator, training, samples=args.samples or SAMPLES,
                                  progressions=progressions)
    # Genres the data lacks keep what they had (or, with none, decode at the knob).
    unfitted = [g for g in cfg.genres if g not in decoding["track_scales"]]
    for entry in ("track_scales", "onset_prior", "onset_spread", "bar_gate", "register", "repeat_bars",
                  "straight_sixteenths", "straight_eighths", "feel", "kit"):
        decoding[entry] = {**(composer.meta.get(entry) or {}), **decoding.get(entry, {})}
    composer.meta.update(decoding)
    out = _save_calibrated(args, composer)
    print(f"{out}: threshold {decoding['threshold']}, monophonic: {', '.join(decoding['monophonic']) or 'none'}")
    for genre, scales in decoding["track_scales"].items():
        print(f"  {genre or 'all'}: " + ", ".join(f"{t.name} x{s:.3f}" for t, s in zip(cfg.tracks, scales))
              + (" (kept: not in the data)" if genre in unfitted else ""))
    for genre, spreads in decoding["onset_spread"].items():
        print(f"  {genre or 'all'}, quantize spread in steps: "
              + ", ".join(f"{t.name} {s:g}" for t, s in zip(cfg.tracks, spreads)))
    for genre, gates in decoding["bar_gate"].items():
        gated = [f"{t.name} {g:g}" for t, g in zip(cfg.tracks, gates) if g]
        print(f"  {genre or 'all'}, fewest notes-cells a bar keeps: {', '.join(gated) or 'none gated'}")
    _print_kit(cfg, decoding.get("kit") or {})
    _print_rhythm(cfg, decoding)
    if unfitted:
        print(f"  not in {args.data}, so not fitted: {', '.join(unfitted)}")
    return 0


def _print_rhythm(cfg, fitted: dict) -> None:
    for genre, shares in fitted["repeat_bars"].items():
        pulled = [f"{t.name} {s:g}" for t, s in zip(cfg.tracks, shares) if s]
        print(f"  {genre or 'all'}, bars pulled toward the phrase's mean bar: {', '.join(pulled) or 'none'}")
    for entry, what in (("straight_sixteenths", "straight 16ths below this share of triplets"),
                        ("straight_eighths", "straight 8ths below this share of 16ths")):
        for genre, cutoffs in fitted.get(entry, {}).items():
            straight = [f"{t.name} {c:g}" for t, c in zip(cfg.tracks, cutoffs) if c]
            print(f"  {genre or 'all'}, {what}: {', '.join(straight) or 'none'}")


def _print_kit(cfg, kits: dict) -> None:
    for genre, scales in kits.items():
        cuts = [f"{rank}: x{scale:.2f}" for rank, scale in enumerate(scales, start=2) if scale]
        print(f"  {genre or 'all'}, drums: hits at once past the surest kept at the threshold times "
              f"{', '.join(cuts) or 'none (every hit kept)'}")


def _save_calibrated(args, composer) -> Path:
    """The model with its new decoding, written to --out or over its own file, its critic kept
    (so that it can still be fine-tuned)."""
    from bytes2beats.engine.model import Critic, load_critic_weights, save_model
    from bytes2beats.engine.model_store import resolve_model
    from bytes2beats.engine.takes import judges_to_tensors

    out = Path(args.out) if args.out else resolve_model(args.model)
    critic, critic_weights = None, load_critic_weights(resolve_model(args.model))
    if critic_weights is not None:
        critic = Critic(composer.config)
        critic.load_state_dict(critic_weights)
    takes = judges_to_tensors(composer.take_judges)[0] if composer.take_judges else None
    try:
        save_model(composer.generator, out, composer.meta, critic=critic, takes=takes)
    except OSError as error:
        raise UserError(str(error)) from None
    return out


def _write_takes(args, composer, training) -> int:
    """`calibrate --takes-only`: a take judge per genre fitted to the training songs against
    the model's phrases as it decodes them now; the decoding is kept."""
    from bytes2beats.engine.takes import FIRST_DEFAULT_TAKES, SAMPLES, fit_take_judges

    # Refitted judges keep the file's own default; a file judged for the first time the shipped one's.
    kept = composer.default_takes if composer.take_judges else FIRST_DEFAULT_TAKES
    default = _checked_default_takes(kept if args.default_takes is None else args.default_takes)
    judges = fit_take_judges(composer, training, samples=args.samples or SAMPLES,
                             progress=lambda genre, s: print(f"  {genre or 'all'}: judge fitted [{s:.0f} s]", flush=True))
    if not judges:
        raise UserError(f"too few training phrases in {args.data} to fit a take judge")
    composer.take_judges = judges
    composer.meta["takes"] = {"genres": list(judges), "default": default}
    out = _save_calibrated(args, composer)
    print(f"{out}: take judges for {', '.join(g or 'all' for g in judges)}; {default} takes by default")
    return 0


def _checked_default_takes(takes: int) -> int:
    from bytes2beats.engine.takes import MAX_TAKES

    if not 1 <= takes <= MAX_TAKES:
        raise UserError(f"--default-takes must be 1 to {MAX_TAKES}, not {takes}")
    return takes


def _set_default_takes(args, composer) -> int:
    """`calibrate --default-takes N` alone: the takes made when not told, rewritten in the file;
    the judges, the decoding and the weights are kept as they are (the judges read decoded
    phrases, and the number of takes drawn changes none of those)."""
    default = _checked_default_takes(args.default_takes)
    if not composer.take_judges:
        raise UserError(f"{args.model or 'the model'} has no take judges: fit them with "
                        "`calibrate --takes-only --data DIR` (which sets the default too)")
    before = composer.default_takes
    composer.meta["takes"] = {**composer.meta["takes"], "default": default}
    out = _save_calibrated(args, composer)
    print(f"{out}: {default} takes by default (was {before}); its take judges kept")
    return 0


def _write_manners(args, composer, training) -> int:
    """`calibrate --manners-only`: a manner model's table drawn anew from the training songs,
    per arrangement (engine/calibrate.py: fitted_manner_table). The network, its manners' scale
    and the decoding stay, so the take judges and the genre lean stay too: they read decoded
    phrases, and only which of the songs' own manners are asked for changes."""
    from bytes2beats.engine.calibrate import fitted_manner_table
    from bytes2beats.engine.manner import arrangements, parts_playing

    g = composer.generator
    before = g.manner_table.detach().cpu().clone()
    table = fitted_manner_table(g, training)
    if table is None:
        raise UserError(f"model {composer.name!r} has no manners: there is no table to draw")
    g.manner_table.copy_(table)
    out = _save_calibrated(args, composer)
    print(f"{out}: the songs' manners, {table.shape[1]} phrases a genre, drawn per arrangement")
    mean, scale = g.manner_mean.cpu(), g.manner_scale.cpu()
    for k, genre in enumerate(composer.config.genres or [None]):
        was, now = parts_playing(before[k], mean, scale), parts_playing(table[k], mean, scale)
        shares = [f"{t.name} {old:.0%} -> {new:.0%}" for t, old, new in zip(
            composer.config.tracks, was.float().mean(0).tolist(), now.float().mean(0).tolist())]
        print(f"  {genre or 'all'}: phrases asking each part to play: {', '.join(shares)}; "
              f"{len(arrangements(now).unique())} arrangements")
    return 0


def _write_register(args, composer, training) -> int:
    """`calibrate --register-only`: each genre's register fitted to the training songs, every
    other decoding entry as the file has it (its measured thresholds do not move)."""
    from bytes2beats.engine.calibrate import fitted_registers

    cfg = composer.config
    fitted = fitted_registers(training, cfg.genres, cfg.tracks)
    composer.meta["register"] = {**(composer.meta.get("register") or {}), **fitted}
    out = _save_calibrated(args, composer)
    print(f"{out}: register (semitones from a phrase's middle)")
    for genre, reach in fitted.items():
        print(f"  {genre or 'all'}: " + ", ".join(f"{t.name} {r}" for t, r in zip(cfg.tracks, reach) if r))
    return 0


def _write_feel(args, composer, training) -> int:
    """`calibrate --feel-only`: each genre's feels taken from the training songs, timed against
    the file's own quantize; every other entry as the file has it."""
    from bytes2beats.engine.calibrate import fitted_feel
    from bytes2beats.engine.feel import REACH, unpack_feels

    fitted = fitted_feel(composer, training)
    if fitted is None:
        raise UserError(f"model {composer.name!r} has every step of its beat on the grid "
                        f"({composer.config.steps_per_beat} a beat): there is no timing off it to fit")
    composer.meta["feel"] = {**(composer.meta.get("feel") or {}), **fitted}
    out = _save_calibrated(args, composer)
    print(f"{out}: feel (real phrases' timing, put back after quantize)")
    for genre, packed in fitted.items():
        feels = unpack_feels(packed).astype(float)
        starts = feels[:, :, 0].sum(axis=(0, 2))  # (tracks, offsets): the notes' starts
        off = [f"{t.name} {100 * (1 - s[REACH] / s.sum()):.1f} %" for t, s in zip(composer.config.tracks, starts) if s.sum()]
        print(f"  {genre or 'all'}: {len(feels)} phrases' timings; starts off the grid: {', '.join(off)}")
    return 0


def _draw_progressions(composer, training) -> None:
    """A chord model's progressions, its own or the songs', set where its fits will draw them,
    as a full calibrate fits it; a model without chords is left as it is."""
    if composer.config.chords:
        from bytes2beats.engine.calibrate import phrase_progressions

        composer.meta["progressions"] = composer.meta.get("progressions") or phrase_progressions(training, composer.config)


def _write_kit(args, composer, training) -> int:
    """`calibrate --kit-only`: each genre's kit (how many drums a hit stacks) fitted to the
    training songs over the file's own decoding, then the phrase-wide rhythm fitted again over
    it, as a full calibrate fits the two; every other entry as the file has it."""
    from bytes2beats.engine.calibrate import RHYTHM_ENTRIES, fitted_kits, fitted_rhythm

    cfg = composer.config
    _draw_progressions(composer, training)
    rhythm = {entry: composer.meta.pop(entry, None) for entry in RHYTHM_ENTRIES}
    kits = fitted_kits(composer, training, samples=args.samples or 256)
    if kits is None:
        raise UserError(f"model {composer.name!r} has no drum track: there is no kit to fit")
    composer.meta["kit"] = {**(composer.meta.get("kit") or {}), **kits}
    fitted = fitted_rhythm(composer, training, samples=args.samples or 256)
    for entry, per_genre in fitted.items():
        composer.meta[entry] = {**(rhythm[entry] or {}), **per_genre}
    out = _save_calibrated(args, composer)
    print(f"{out}: kit, {', '.join(fitted)}")
    _print_kit(cfg, kits)
    _print_rhythm(cfg, fitted)
    return 0


def _write_genre_lean(args, composer, training) -> int:
    """`calibrate --genre-lean-only`: the lean of the classifier that chooses which genre a
    user's songs sound most like (engine/genre_chooser.py), measured on the training songs."""
    from bytes2beats.engine.genre_chooser import genre_lean

    if len(composer.config.genres) < 2:
        raise UserError(f"model {composer.name!r} has fewer than two genres: there is none to choose")
    lean = genre_lean(composer, training.rolls, training.genre)
    if lean is None:
        raise UserError(f"{args.data} lacks songs of some of the model's genres ({', '.join(composer.config.genres)}), "
                        "or scikit-learn is not installed: the lean cannot be measured")
    composer.meta["genre_lean"] = lean
    out = _save_calibrated(args, composer)
    print(f"{out}: genre_lean " + ", ".join(f"{g} {p:.3f}" for g, p in lean.items()))
    return 0


def _write_rhythm(args, composer, training) -> int:
    """`calibrate --rhythm-only`: each genre's repeat_bars, straight_sixteenths and straight_eighths fitted to the
    training songs over the file's own decoding, every other entry as the file has it."""
    from bytes2beats.engine.calibrate import fitted_rhythm

    cfg = composer.config
    _draw_progressions(composer, training)
    fitted = fitted_rhythm(composer, training, samples=args.samples or 256)
    for entry, per_genre in fitted.items():
        composer.meta[entry] = {**(composer.meta.get(entry) or {}), **per_genre}
    out = _save_calibrated(args, composer)
    print(f"{out}: {', '.join(fitted)}")
    _print_rhythm(cfg, fitted)
    return 0


def cmd_info(args) -> int:
    import torch
    from bytes2beats.engine.device import describe_device, pick_device
    from bytes2beats.engine.model_store import DEFAULT_MODEL, list_models, user_models_dir

    print(f"bytes2beats {__version__} (torch {torch.__version__})")
    print(f"device: {describe_device(pick_device('auto'))}")
    print("models:")
    entries = list_models()
    for entry in entries:
        mark = " (default)" if entry.name == DEFAULT_MODEL else ""
        print(f"  {entry.name}{mark}  [{entry.source}] {entry.path}")
    if not entries:
        print("  none")
    print(f"your models folder: {user_models_dir()}")
    return 0


COMMANDS = {"generate": cmd_generate, "train": cmd_train, "phrases": cmd_phrases, "eval": cmd_eval, "info": cmd_info,
            "calibrate": cmd_calibrate}
