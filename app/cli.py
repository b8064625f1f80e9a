"""The `bytes2beats` command: generate, train, phrases, eval, calibrate, info (stream and
ports in cli_live, the GUI with no command).

Every failure the user can cause ends as one line on stderr and exit status 1 or 2; heavy
modules (torch) are imported inside the commands so that `--help` and the GUI start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bytes2beats import __version__


class UserError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a model name (see `bytes2beats info`) or a .safetensors path")
    p.add_argument("--genre", help="the genre, for models that know genres")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")


def add_quantize_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quantize", type=float, default=None, metavar="PERCENT",
                   help="how far notes move onto the 16th and triplet grid, 0-100, as a DAW's quantize "
                        "strength (default 100)")


def quantize_strength(args) -> float | None:
    """--quantize as a strength 0..1 (None: the default), or a UserError."""
    if args.quantize is None:
        return None
    if not 0.0 <= args.quantize <= 100.0:
        raise UserError(f"--quantize must be between 0 and 100, not {args.quantize:g}")
    return args.quantize / 100.0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bytes2beats",
        description="Multi-track music ideas from a self-attention WGAN-GP, for your DAW.",
    )
    parser.add_argument("--version", action="version", version=f"bytes2beats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("generate", help="write generated clips as MIDI files")
    g.add_argument("--out", required=True, help="the .mid file (or, with --count, a folder)")
    _add_model_options(g)
    g.add_argument("--bars", type=int, default=None, help="bars per clip (default: the model's phrase, 4)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--threshold", type=float, default=None,
                   help="note probability that makes a note, 0-1 (default: the model's own)")
    add_quantize_option(g)
    add_chord_options(g)
    g.add_argument("--bpm", type=float, default=120.0)
    g.add_argument("--count", type=int, default=1, help="write this many clips into the folder --out")
    g.add_argument("--image", help="also save a pianoroll picture of the (first) clip here")

    t = sub.add_parser("train", help="train a model on a folder of MIDI or LPD .npz files")
    t.add_argument("--data", required=True,
                   help="folder of songs (searched recursively), or a .phrases.npz pack from `bytes2beats phrases`")
    t.add_argument("--out", required=True, help="the model: a .safetensors path, or a name for your models folder")
    t.add_argument("--tracks", type=int, choices=(5, 17), default=5, help="instrument families")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--resume", help="a checkpoint.pt (or its run folder) to continue from")
    t.add_argument("--warm-start", metavar="CHECKPOINT",
                   help="begin from this checkpoint's weights (and its model's shape) with today's training settings")
    t.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    t.add_argument("--run-dir", help="where logs, samples and checkpoints go (default: beside the model)")
    t.add_argument("--steps-per-beat", type=int, default=4, help="time resolution (4: 16th notes)")
    t.add_argument("--bars-per-phrase", type=int, default=4)
    t.add_argument("--width", type=int, default=32, help="channels of the networks' narrowest layer")
    t.add_argument("--transpose", type=int, default=0, help="augment by up to this many semitones")
    t.add_argument("--n-critic", type=int, default=5)
    t.add_argument("--g-lr", type=float, default=3e-4)
    t.add_argument("--d-lr", type=float, default=6e-4)
    t.add_argument("--gp-lambda", type=float, default=10.0)
    t.add_argument("--no-attention", action="store_true", help="leave out self-attention (ablation)")
    t.add_argument("--time-layers", choices=("staged", "per-beat"), default="staged",
                   help="how beats become steps: staged (beats, 16ths, steps; default) or per-beat (the first models')")
    t.add_argument("--critic-bar-statistics", action="store_true",
                   help="let the critic also score each track's bars by how much plays and their loudest cell")
    t.add_argument("--critic-onset-statistics", action="store_true",
                   help="let the critic also score where within the beat each track's notes start and end")
    t.add_argument("--chords", action="store_true",
                   help="condition on each phrase's chords, so that it can be asked for a key and a progression")
    t.add_argument("--chord-register", action="store_true",
                   help="with --chords: learn the chords' offsets per track and octave, so each track "
                        "keeps to its register (a warm start from a chord model copies its shared ones)")
    t.add_argument("--chord-loss", type=float, default=20.0,
                   help="with --chords: weight of the generator's chord-fit term (0: the critic alone)")
    t.add_argument("--binary-neurons", choices=("none", "deterministic", "stochastic"), default="none",
                   help="show the critic notes (0/1) instead of probabilities, with straight-through gradients")
    t.add_argument("--genre-conditioned", choices=("auto", "yes", "no"), default="auto",
                   help="condition on the data's genre folders (auto: when there are several)")
    t.add_argument("--steps-per-epoch", type=int, default=0, help="cap the batches of an epoch (0: all)")
    t.add_argument("--checkpoint-every", type=int, default=20, help="epochs between checkpoints")
    t.add_argument("--sample-every", type=int, default=10, help="epochs between sample pictures")
    t.add_argument("--keep-checkpoints", action="store_true",
                   help="keep every checkpoint in the run folder's checkpoints/ (bench/targets_over_training.py)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cache-dir", help="phrase cache (default: the user cache folder)")

    ph = sub.add_parser("phrases", help="pack a folder's training phrases into one file, to train where the songs are not")
    ph.add_argument("--data", required=True, help="folder of songs (searched recursively)")
    ph.add_argument("--out", required=True, help="the pack, ending in .phrases.npz")
    ph.add_argument("--tracks", type=int, choices=(5, 17), default=5)
    ph.add_argument("--steps-per-beat", type=int, default=4)
    ph.add_argument("--bars-per-phrase", type=int, default=4)
    ph.add_argument("--cache-dir", help="phrase cache (default: the user cache folder)")

    e = sub.add_parser("eval", help="measure a model's music against real data")
    _add_model_options(e)
    e.add_argument("--data", required=True, help="folder of songs to compare with")
    e.add_argument("--samples", type=int, default=1000, help="generated phrases to measure")
    e.add_argument("--json", help="write the figures here as JSON")
    e.add_argument("--images", help="folder for the self-similarity matrices and a pianoroll sheet")
    e.add_argument("--threshold", type=float, default=None)
    e.add_argument("--seed", type=int, default=10_000, help="the generated phrases are seeds SEED, SEED+1, ...")
    add_quantize_option(e)
    e.add_argument("--no-classifier", action="store_true",
                   help="skip the classifier two-sample test (generated against validation phrases)")
    e.add_argument("--novelty-samples", type=int, default=1000,
                   help="generated phrases compared with every training phrase for copying")
    e.add_argument("--cache-dir")

    c = sub.add_parser("calibrate", help="fit a model's decoding (each track's threshold, per genre) to songs")
    c.add_argument("--model", help="a model name (see `bytes2beats info`) or a .safetensors path")
    c.add_argument("--data", required=True,
                   help="the songs it was trained on: a folder, or a .phrases.npz pack (its training songs are used)")
    c.add_argument("--out", help="write the model here (default: rewrite the model's own file)")
    c.add_argument("--samples", type=int, default=None, help="generated phrases per genre to fit to (1024)")
    c.add_argument("--cache-dir")

    sub.add_parser("info", help="version, device and the models available")

    from bytes2beats.cli_gui import add_gui_command
    from bytes2beats.cli_live import add_live_commands  # stream, ports

    add_live_commands(sub, _add_model_options)
    from bytes2beats.cli_accompany import add_accompany_command

    add_accompany_command(sub, _add_model_options)
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
        print(f"bytes2beats {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"bytes2beats {args.command}: interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------------------


def _load_composer(args):
    from bytes2beats.engine.generate import Composer
    from bytes2beats.engine.model import ModelFileError

    try:
        return Composer.load(args.model, args.device)
    except (FileNotFoundError, ModelFileError, ValueError) as error:
        raise UserError(str(error)) from None


def cmd_generate(args) -> int:
    from bytes2beats.engine.music_io import MusicFileError, write_midi

    if args.count < 1:
        raise UserError("--count must be 1 or more")
    if args.bars is not None and not 1 <= args.bars <= 256:
        raise UserError("--bars must be between 1 and 256")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise UserError("--threshold must be between 0 and 1")
    if not 20 <= args.bpm <= 400:
        raise UserError("--bpm must be between 20 and 400")
    strength = quantize_strength(args)
    image_format = _image_format(args.image) if args.image else None
    out = Path(args.out)
    # every output checked before any work: nothing is made that cannot be kept
    for path in ([out] if args.count == 1 else []) + ([args.image] if args.image else []):
        check_output(path)
    chord_model_default(args)
    composer = _load_composer(args)
    chords = chord_request(args, composer, args.seed)
    try:
        composer.genre_index(args.genre)  # an unknown genre, before the folder is made
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.count > 1:
        make_output_folder(out)
    # Clips are made in batches and each written as it comes: memory stays flat at any --count.
    clips = composer.iter_generate(args.seed, args.bars, args.genre, args.threshold, args.bpm, args.count,
                                   quantize_strength=strength, chords=chords)
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


def _init_distributed():
    """Join torchrun's process group when launched by it; (rank, world) either way."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return dist.get_rank(), dist.get_world_size()


def cmd_train(args) -> int:
    import torch
    from bytes2beats.engine.dataset import PhraseSpec, build_phrases
    from bytes2beats.engine.device import describe_device, pick_device
    from bytes2beats.engine.model import ModelConfig
    from bytes2beats.engine.model_store import MODEL_SUFFIX, user_models_dir
    from bytes2beats.engine.music_io import MusicFileError
    from bytes2beats.engine.train import (
        RunPaths,
        TrainConfig,
        Trainer,
        TrainingDiverged,
        finish,
        read_checkpoint,
        settings_problem,
    )

    model_cfg = ModelConfig(
        track_set=args.tracks, steps_per_beat=args.steps_per_beat, n_bars=args.bars_per_phrase,
        g_width=args.width, d_width=args.width, attention=not args.no_attention, time_layers=args.time_layers,
        critic_bar_statistics=args.critic_bar_statistics, critic_onset_statistics=args.critic_onset_statistics,
        chords=args.chords or args.chord_register, chord_register=args.chord_register,
    )
    train_cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, n_critic=args.n_critic, gp_lambda=args.gp_lambda,
        g_lr=args.g_lr, d_lr=args.d_lr, transpose=args.transpose, seed=args.seed,
        steps_per_epoch=args.steps_per_epoch, checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every, keep_checkpoints=args.keep_checkpoints, binary_neurons=args.binary_neurons,
        chord_loss=args.chord_loss,
    )
    # Every value checked before anything is read or written (the wizard makes the same check).
    problem = settings_problem(model_cfg, train_cfg)
    if problem:
        raise UserError(problem)
    if args.resume and args.warm_start:
        raise UserError("--resume continues a run, --warm-start begins a new one: give one of them")
    rank, world = _init_distributed()
    try:
        device = pick_device(args.device)
    except ValueError as error:
        raise UserError(str(error)) from None
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    out = Path(args.out)
    if out.suffix != MODEL_SUFFIX:
        out = (user_models_dir() / f"{args.out}{MODEL_SUFFIX}") if os.sep not in args.out else out.with_suffix(MODEL_SUFFIX)
    paths = RunPaths.for_model(out, args.run_dir)
    checkpoint = None  # the run's start: a checkpoint to resume or to warm-start from
    if args.resume or args.warm_start:
        checkpoint = Path(args.resume or args.warm_start)
        if checkpoint.is_dir():
            checkpoint = checkpoint / "checkpoint.pt"
        try:
            state = read_checkpoint(checkpoint)
        except ValueError as error:
            raise UserError(str(error)) from None
        # The checkpoint's model is the one trained on. A resumed run is the same run: its
        # own training settings win over today's flags, but for the number of epochs, which
        # may be raised to train further; a warm start trains under today's flags.
        model_cfg = ModelConfig.from_json(state["model_config"])
        # the changes a warm start may make to the model: the critic's new views, chords
        if args.warm_start and args.critic_bar_statistics:
            model_cfg.critic_bar_statistics = True
        if args.warm_start and args.critic_onset_statistics:
            model_cfg.critic_onset_statistics = True
        if args.warm_start and (args.chords or args.chord_register):
            model_cfg.chords = True
        if args.warm_start and args.chord_register:
            model_cfg.chord_register = True
        if args.resume:
            train_cfg = TrainConfig.from_json(state["train_config"])
            train_cfg.epochs = args.epochs
            if args.epochs < state["epoch"]:  # as many: the model is written again (after a full disk)
                raise UserError(f"{checkpoint} has trained {state['epoch']} epochs already: "
                                f"give --epochs {state['epoch']} or more to resume it")
    spec = PhraseSpec(model_cfg.track_set, model_cfg.steps_per_beat, model_cfg.n_bars,
                      model_cfg.lowest_pitch, model_cfg.n_pitches)
    from bytes2beats.engine.dataset import default_cache_dir, is_phrase_pack, load_phrase_pack

    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    say = (lambda text: print(text, file=sys.stderr)) if rank == 0 else (lambda text: None)
    try:
        if is_phrase_pack(args.data):
            say(f"reading the phrase pack {args.data} ...")
            phrases, packed = load_phrase_pack(args.data)
            # The pack was cut with its own settings: the model takes them.
            if checkpoint and (packed.track_set, packed.steps_per_beat, packed.n_bars) != (
                    model_cfg.track_set, model_cfg.steps_per_beat, model_cfg.n_bars):
                raise UserError(f"{args.data} was cut for another model than the checkpoint's")
            model_cfg.track_set, model_cfg.steps_per_beat, model_cfg.n_bars = (
                packed.track_set, packed.steps_per_beat, packed.n_bars)
            problem = model_cfg.problem()
            if problem:
                raise UserError(f"{args.data}: its phrases cannot train a model: {problem}")
        else:
            say(f"reading songs under {args.data} ...")
            phrases = build_phrases(args.data, spec, cache_dir=cache)
    except MusicFileError as error:
        raise UserError(str(error)) from None
    report = phrases.report
    if not checkpoint:
        want = args.genre_conditioned
        if want == "yes" and len(phrases.genres) < 2:
            raise UserError("--genre-conditioned yes needs a data folder with two or more genre folders")
        if want == "yes" or (want == "auto" and len(phrases.genres) >= 2):
            model_cfg.genres = list(phrases.genres)
    elif model_cfg.genres and model_cfg.genres != phrases.genres:
        raise UserError(f"the checkpoint knows genres {model_cfg.genres}, the data has {phrases.genres}")
    train = phrases.split(validation=False)
    n_validation = len(phrases) - len(train)
    del phrases  # the training phrases are a copy: keeping both would double the memory
    if len(train) < train_cfg.batch_size * world:
        raise UserError(f"only {len(train)} training phrases: fewer than one batch of {train_cfg.batch_size}")
    rejected = dict(report.get("rejected") or {})
    listed = _write_rejected(rejected, paths.folder) if rank == 0 else None
    say(f"{report['files_used']} of {report['files_found']} files used ({len(rejected)} rejected"
        f"{f', all listed in {listed}' if listed else ''}), "
        f"{len(train)} training phrases, {n_validation} validation; "
        f"genres: {', '.join(model_cfg.genres) or 'none'}; device: {describe_device(device)}")
    for name, reason in list(rejected.items())[:REJECTED_SHOWN]:
        say(f"  rejected {name}: {reason}")
    if len(rejected) > REJECTED_SHOWN:
        say(f"  ... and {len(rejected) - REJECTED_SHOWN} more (in {listed})")
    trainer = Trainer(model_cfg, train_cfg, train, paths, device, say)
    if checkpoint:
        try:
            trainer.load_checkpoint(checkpoint) if args.resume else trainer.warm_start(checkpoint)
        except ValueError as error:
            raise UserError(str(error)) from None
        say(f"resuming at epoch {trainer.epoch} from {checkpoint}" if args.resume
            else f"starting from the weights of {checkpoint} (its epoch {trainer.started_from['epoch']})")
    # SIGTERM (a cancel from the app, a shutdown) stops between two batches, like Ctrl-C.
    import signal

    stop_requested = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.append(signum))
    try:
        finished = trainer.fit(should_stop=lambda: bool(stop_requested))
    except KeyboardInterrupt:
        finished = False
    except (OSError, TrainingDiverged) as error:  # each names its file, and the checkpoint kept
        raise UserError(str(error)) from None
    if not finished:
        say(f"\nstopped at epoch {trainer.epoch}; the last checkpoint ({paths.checkpoint}) resumes with --resume")
        return 143 if stop_requested else 130
    if rank == 0 and finished:
        try:
            model = finish(trainer, train, str(args.data))
        except OSError as error:
            raise UserError(f"{error}; the last checkpoint ({paths.checkpoint}) writes it again "
                            f"with --resume") from None
        say(f"model written to {model} (run folder {paths.folder})")
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0


REJECTED_SHOWN = 5  # rejected files named on the terminal; rejected.txt in the run folder has all


def _write_rejected(rejected: dict[str, str], folder: Path) -> Path | None:
    """Every rejected file and why, a line each (name, a tab, the reason), in the run folder's
    rejected.txt; None (and no file, nor an old one) when none was."""
    path = folder / "rejected.txt"
    try:
        if not rejected:
            path.unlink(missing_ok=True)
            return None
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{name}\t{reason}\n" for name, reason in rejected.items()), encoding="utf-8")
    except OSError as error:
        raise UserError(f"could not write {path} ({error.strerror or error})") from None
    return path


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
    from bytes2beats.engine.train import FLAGS

    if not args.out.endswith(PACK_SUFFIX):
        raise UserError(f"--out must end in {PACK_SUFFIX}")
    # The phrases are cut for a model: the model's rules for its grid, by their flags' names.
    problem = ModelConfig(track_set=args.tracks, steps_per_beat=args.steps_per_beat,
                          n_bars=args.bars_per_phrase).problem(lambda field: FLAGS.get(field, field))
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
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise UserError(f"--threshold must be between 0 and 1, not {args.threshold:g}")
    if args.seed < 0:
        raise UserError(f"--seed must be 0 or more, not {args.seed}")
    strength = quantize_strength(args)
    if args.json:
        check_output(args.json)  # before the measuring, which takes minutes
    composer = _load_composer(args)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    genres = [args.genre]
    if args.genre == "all":
        if not composer.config.genres:
            raise UserError(f"model {composer.name!r} is not genre-conditioned: leave out --genre all")
        genres = list(composer.config.genres)
    results = {}
    for genre in genres:
        images = str(Path(args.images) / genre) if args.images and len(genres) > 1 else args.images
        try:
            result = evaluate(composer, args.data, samples=args.samples, genre=genre, threshold=args.threshold,
                              cache_dir=cache, images=images, novelty_samples=args.novelty_samples, seed=args.seed,
                              classifier=not args.no_classifier, quantize_strength=strength)
        except (MusicFileError, ValueError) as error:
            raise UserError(str(error)) from None
        if len(genres) > 1:
            print(f"\n== genre: {genre} ==")
        print(format_table(result))
        print(format_checks([Check(**c) for c in result["targets"]["checks"]]))
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
    from bytes2beats.engine.model import save_model
    from bytes2beats.engine.model_store import resolve_model
    from bytes2beats.engine.music_io import MusicFileError

    if args.samples is not None and args.samples < 1:
        raise UserError(f"--samples must be 1 or more, not {args.samples}")
    args.device = "cpu"
    composer = _load_composer(args)
    cfg = composer.config
    spec = PhraseSpec(cfg.track_set, cfg.steps_per_beat, cfg.n_bars, cfg.lowest_pitch, cfg.n_pitches)
    try:
        if is_phrase_pack(args.data):
            phrases, packed = load_phrase_pack(args.data)
            if (packed.track_set, packed.steps_per_beat, packed.n_bars) != (cfg.track_set, cfg.steps_per_beat, cfg.n_bars):
                raise UserError(f"{args.data} was cut for another model than {composer.name!r}")
        else:
            cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
            phrases = build_phrases(args.data, spec, cache_dir=cache)
    except MusicFileError as error:
        raise UserError(str(error)) from None
    training = phrases.split(validation=False)
    del phrases
    if not len(training):
        raise UserError(f"no training phrases in {args.data}")
    progressions = None
    if cfg.chords:  # a chord model is fitted over the progressions it draws: its own, or the data's
        from bytes2beats.engine.calibrate import phrase_progressions

        progressions = composer.meta.get("progressions") or phrase_progressions(training, cfg)
        composer.meta["progressions"] = progressions
    decoding = calibrate_decoding(composer.generator, training, samples=args.samples or SAMPLES,
                                  progressions=progressions)
    # Genres the data lacks keep what they had (or, with none, decode at the knob).
    unfitted = [g for g in cfg.genres if g not in decoding["track_scales"]]
    for entry in ("track_scales", "onset_prior", "onset_spread"):
        decoding[entry] = {**(composer.meta.get(entry) or {}), **decoding[entry]}
    composer.meta.update(decoding)
    out = Path(args.out) if args.out else resolve_model(args.model)
    try:
        save_model(composer.generator, out, composer.meta)
    except OSError as error:
        raise UserError(str(error)) from None
    print(f"{out}: threshold {decoding['threshold']}, monophonic: {', '.join(decoding['monophonic']) or 'none'}")
    for genre, scales in decoding["track_scales"].items():
        print(f"  {genre or 'all'}: " + ", ".join(f"{t.name} x{s:.3f}" for t, s in zip(cfg.tracks, scales))
              + (" (kept: not in the data)" if genre in unfitted else ""))
    for genre, spreads in decoding["onset_spread"].items():
        print(f"  {genre or 'all'}, quantize spread in steps: "
              + ", ".join(f"{t.name} {s:g}" for t, s in zip(cfg.tracks, spreads)))
    if unfitted:
        print(f"  not in {args.data}, so not fitted: {', '.join(unfitted)}")
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
