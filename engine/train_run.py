"""Run a training run: a RunRequest in, a model out.

    prepared = prepare(request, say)        # checks, reads the songs, builds the Trainer
    outcome = run(prepared, should_stop)    # trains, writes the model

`bytes2beats train` is the parsing of its flags plus these two calls; the wizard reaches
them through that command, in a process of its own (engine/training_job.py). Every problem
a user can fix is a RunRefused: one line, naming the file or the flag.

The rules that reconcile a request with what it starts from live here:
- resume: the checkpoint's model and training settings win, but for the number of epochs,
  which may be raised to train further;
- warm start: the checkpoint's model (plus the views and chords the request adds), trained
  under the request's settings;
- fine-tuning (the default: the shipped model, or --fine-tune MODEL): a warm start from a
  model file that carries its critic, at a quarter of the model's own learning rates, for
  FINE_TUNE_CRITIC_STEPS critic steps, keeping the model's decoding, unless the request
  says otherwise; a five-family model asked for seventeen families grows into them
  (engine/grow_tracks.py) and fits a decoding of its own; left to the default and asked for
  another shape (--steps-per-beat 4, say), the run trains from scratch instead, and says so;
- a phrase pack brings its own grid, which the model takes (and a checkpoint must match);
- genres: conditioned on the data's genre folders when asked, or when there are several.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .failures import os_reason
from .model_store import is_model_file, resolve_model
from .run_request import (
    BINARY_NEURONS,
    FINE_TUNE_ADAPT,
    FINE_TUNE_CRITIC_STEPS,
    FINE_TUNE_RATE_DIVISOR,
    RunPaths,
    RunRequest,
)

REJECTED_SHOWN = 5  # rejected files named on the terminal; rejected.txt in the run folder has all


class RunRefused(ValueError):
    """A training run that cannot start or go on, for a reason the user can fix (one line)."""


@dataclass
class PreparedRun:
    request: RunRequest
    paths: RunPaths
    trainer: object  # engine.train.Trainer
    phrases: object  # engine.dataset.Phrases: the training phrases
    rank: int
    world: int
    decoding: dict | None = None  # another model's decoding entries, kept (--decoding-from)


@dataclass
class RunOutcome:
    finished: bool
    model: Path | None  # the model written, when finished (on the first process of several)


# What a fine-tuning run says it adapts (TrainConfig.adapt), after its learning rates.
ADAPT_SAID = {"late": "; learning in its late layers only", "style": "; learning your songs' style (the genre row) only"}

def init_distributed() -> tuple[int, int]:
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


def prepare(request: RunRequest, say: Callable[[str], None] = lambda text: None) -> PreparedRun:
    """Check the request, read its data, and build the Trainer (resumed or warm-started as
    asked); RunRefused for anything the user can fix, before a batch is trained."""
    import torch

    from .dataset import default_cache_dir, is_phrase_pack, load_phrase_pack
    from .device import describe_device, pick_device
    from .model import ModelConfig
    from .music_io import MusicFileError
    from .train import TrainConfig, Trainer, read_checkpoint, read_fine_tuning_start

    # Every value checked before anything is read or written (the wizard makes the same check).
    problem = request.problem()
    if problem:
        raise RunRefused(problem)
    model_cfg, train_cfg = request.model_config(), request.train_config()
    rank, world = init_distributed()
    try:
        device = pick_device(request.device)
    except ValueError as error:
        raise RunRefused(str(error)) from None
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if rank != 0:
        say = lambda text: None  # noqa: E731 - one process speaks
    paths = request.paths()
    checkpoint = _checkpoint_of(request) or _fine_tuned_model_of(request, say)
    decoding = _decoding_of(request.decoding_from or (request.fine_tuned_model() if checkpoint else None),
                            "--decoding-from" if request.decoding_from else "--fine-tune")
    if checkpoint is not None:
        try:
            state = read_fine_tuning_start(checkpoint) if is_model_file(checkpoint) else read_checkpoint(checkpoint)
        except ValueError as error:
            raise RunRefused(str(error)) from None
        model_cfg = _model_from_checkpoint(ModelConfig.from_json(state["model_config"]), request)
        if is_model_file(checkpoint):
            checkpoint = _shape_kept(checkpoint, model_cfg, request, say)
        if checkpoint is None:  # the default model is not of the shape asked for: from scratch
            model_cfg, decoding = request.model_config(), None
        elif is_model_file(checkpoint):
            train_cfg = fine_tuning_settings(train_cfg, state, request)
        if decoding is not None and not request.decoding_from and len(decoding["tracks"]) != model_cfg.n_tracks:
            decoding = None  # grown into more families: a decoding for them is fitted
        if request.resume:
            train_cfg = TrainConfig.from_json(state["train_config"])
            if request.epochs is not None:  # else the epochs the run was started for
                train_cfg.epochs = request.epochs
            if train_cfg.epochs < state["epoch"]:  # as many: the model is written again (after a full disk)
                raise RunRefused(f"{checkpoint} has trained {state['epoch']} epochs already: "
                                 f"give --epochs {state['epoch']} or more to resume it")
    _check_like(request, model_cfg if checkpoint else None)
    try:
        if is_phrase_pack(request.data):
            say(f"reading the phrase pack {request.data} ...")
            phrases, packed = load_phrase_pack(request.data)
            # The pack was cut with its own settings: the model takes them.
            if checkpoint and not packed.cut_for(model_cfg):
                if not _fine_tunes_by_default(request, checkpoint):
                    raise RunRefused(f"{request.data} was cut for another model than the "
                                     f"{'model' if is_model_file(checkpoint) else 'checkpoint'}'s")
                say(f"training from scratch: {request.data} was cut for another model than {checkpoint.stem}'s "
                    "(its tracks, steps a beat or bars)")
                checkpoint, decoding, model_cfg, train_cfg = None, None, request.model_config(), request.train_config()
            model_cfg.track_set, model_cfg.steps_per_beat, model_cfg.n_bars = (
                packed.track_set, packed.steps_per_beat, packed.n_bars)
            problem = model_cfg.problem()
            if problem:
                raise RunRefused(f"{request.data}: its phrases cannot train a model: {problem}")
        else:
            from .dataset import PhraseSpec, build_phrases

            say(f"reading songs under {request.data} ...")
            spec = PhraseSpec(model_cfg.track_set, model_cfg.steps_per_beat, model_cfg.n_bars,
                              model_cfg.lowest_pitch, model_cfg.n_pitches)
            cache = Path(request.cache_dir) if request.cache_dir else default_cache_dir()
            phrases = build_phrases(request.data, spec, cache_dir=cache)
    except MusicFileError as error:
        raise RunRefused(str(error)) from None
    # a resumed run that was warm-started (or fine-tuned) labels its data as its start did
    warm = checkpoint is not None and (not request.resume or state.get("started_from", "null") != "null")
    grown = checkpoint is not None and ModelConfig.from_json(state["model_config"]).track_set != model_cfg.track_set
    if grown and train_cfg.adapt != "all":  # the new families start alike: the whole generator must tell them apart
        if request.adapt is not None:
            raise RunRefused(f"--adapt {request.adapt} keeps the track rows as they were, and growing into "
                             f"{model_cfg.n_tracks} families needs them to learn: leave --adapt out, or give all")
        train_cfg.adapt = "all"
    _choose_genres(model_cfg, phrases, request, from_checkpoint=checkpoint is not None, warm=warm, grown=grown)
    report = phrases.report
    train = phrases.split(validation=False)
    n_validation = len(phrases) - len(train)
    del phrases  # the training phrases are a copy: keeping both would double the memory
    if checkpoint is not None and is_model_file(checkpoint) and request.batch_size is None:
        # a small folder: batches small enough that each epoch steps the generator
        train_cfg.batch_size = max(1, min(train_cfg.batch_size, len(train) // (train_cfg.n_critic * world)))
    if len(train) < train_cfg.batch_size * world:
        raise RunRefused(f"only {len(train)} training phrases: fewer than one batch of {train_cfg.batch_size}")
    rejected = dict(report.get("rejected") or {})
    listed = write_rejected(rejected, paths) if rank == 0 else None
    say(f"{report['files_used']} of {report['files_found']} files used ({len(rejected)} rejected"
        f"{f', all listed in {listed}' if listed else ''}), "
        f"{len(train)} training phrases, {n_validation} validation; "
        f"genres: {', '.join(model_cfg.genres) or 'none'}; device: {describe_device(device)}")
    for name, reason in list(rejected.items())[:REJECTED_SHOWN]:
        say(f"  rejected {name}: {reason}")
    if len(rejected) > REJECTED_SHOWN:
        say(f"  ... and {len(rejected) - REJECTED_SHOWN} more (in {listed})")
    if decoding is not None and len(decoding.get("tracks", [])) != model_cfg.n_tracks:
        raise RunRefused(f"--decoding-from {request.decoding_from}: its model has {len(decoding.get('tracks', []))} "
                         f"tracks, this one {model_cfg.n_tracks}")
    _check_like(request, model_cfg if checkpoint else None)  # again: a phrase pack may have meant from scratch
    like = request.like
    if like is None and checkpoint is not None and is_model_file(checkpoint) and not request.resume and not grown:
        like = _genre_sounded_like(checkpoint, model_cfg, train, say)
    try:
        trainer = Trainer(model_cfg, train_cfg, train, paths, device, say)
    except ValueError as error:  # --term-decoding: a file that cannot decode for this model
        raise RunRefused(str(error)) from None
    if checkpoint is not None:
        try:
            trainer.load_checkpoint(checkpoint) if request.resume else trainer.warm_start(checkpoint, like)
        except ValueError as error:
            raise RunRefused(str(error)) from None
        if decoding is None and not request.decoding_from and (trainer.started_from or {}).get("decoding_from"):
            # a resumed fine-tuning run keeps the decoding its start kept
            decoding = _decoding_of(trainer.started_from["decoding_from"], "--fine-tune")
        if decoding is not None and not request.resume:  # recorded for a resume
            trainer.started_from["decoding_from"] = str(resolve_model(request.decoding_from) if request.decoding_from
                                                        else checkpoint)
        if is_model_file(checkpoint) and request.epochs is None:
            trainer.cfg.epochs = max(1, math.ceil(FINE_TUNE_CRITIC_STEPS / trainer.steps_per_epoch()))
        say(f"resuming at epoch {trainer.epoch} from {checkpoint}" if request.resume else
            f"fine-tuning the model {checkpoint.stem}: {trainer.cfg.epochs} epochs of {trainer.steps_per_epoch()} "
            f"critic steps, learning rates {trainer.cfg.g_lr:.3g} / {trainer.cfg.d_lr:.3g}"
            f"{f', the new genre starting as {like}' if like else ''}"
            f"{', its decoding kept' if decoding is not None and not request.decoding_from else ''}"
            f"{ADAPT_SAID.get(trainer.cfg.adapt, '')}"
            if is_model_file(checkpoint) else
            f"starting from the weights of {checkpoint} (its epoch {trainer.started_from['epoch']})")
    return PreparedRun(request, paths, trainer, train, rank, world, decoding)


def run(prepared: PreparedRun, should_stop: Callable[[], bool] | None = None) -> RunOutcome:
    """Train until the last epoch or until `should_stop()` (checked between batches; Ctrl-C
    stops there too), then write the model. RunRefused for a full disk or a run that
    diverged: the last checkpoint stays, and resumes."""
    from .train import TrainingDiverged, finish

    trainer, paths = prepared.trainer, prepared.paths
    try:
        try:
            finished = trainer.fit(should_stop=should_stop)
        except KeyboardInterrupt:
            finished = False
        except (OSError, TrainingDiverged) as error:  # each names its file, and the checkpoint kept
            raise RunRefused(str(error)) from None
        model = None
        if finished and prepared.rank == 0:
            try:
                model = finish(trainer, prepared.phrases, str(prepared.request.data), prepared.decoding)
            except OSError as error:
                raise RunRefused(f"{error}; the last checkpoint ({paths.checkpoint}) writes it again "
                                 f"with --resume") from None
        return RunOutcome(finished, model)
    finally:
        if prepared.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def write_rejected(rejected: dict[str, str], paths: RunPaths) -> Path | None:
    """Every rejected file and why, a line each (name, a tab, the reason), in the run folder's
    rejected.txt; None (and no file, nor an old one) when none was."""
    path = paths.rejected
    try:
        if not rejected:
            path.unlink(missing_ok=True)
            return None
        paths.folder.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{name}\t{reason}\n" for name, reason in rejected.items()), encoding="utf-8")
    except OSError as error:
        raise RunRefused(f"could not write {path} ({os_reason(error)})") from None
    return path


# -- the rules -----------------------------------------------------------------------------


def _decoding_of(model: str | os.PathLike | None, flag: str) -> dict | None:
    """The metadata of the model whose decoding the run keeps (--decoding-from, or the
    fine-tuned model's own), with its name and its tracks' names; RunRefused in one line for
    a model that cannot be read. A fine-tuned model without a fitted decoding: None (the
    run fits one)."""
    if not model:
        return None
    from .model import ModelFileError, load_model
    try:
        path = resolve_model(model)
        generator, meta = load_model(path, "cpu")
    except (OSError, ValueError, ModelFileError) as error:
        raise RunRefused(f"{flag} {model}: {error}") from None
    if "threshold" not in meta:
        if flag != "--decoding-from":
            return None
        raise RunRefused(f"{flag} {model}: {path} has no fitted decoding (`bytes2beats calibrate` fits one)")
    from .generate import decoding_problem

    problem = decoding_problem(meta, generator.cfg)
    if problem:  # refused now: kept as it is, it would fail when the run is written, the training done
        raise RunRefused(f"{flag} {model}: {path}: {problem}")
    return {**meta, "name": path.stem, "tracks": [t.name for t in generator.cfg.tracks]}


def _genre_sounded_like(model: Path, model_cfg, phrases, say: Callable[[str], None]) -> str | None:
    """For a fine-tune that adds a genre of the user's own (their folder) and names none for
    it to start as: the model's genre their songs sound most like (engine/genre_chooser.py),
    said with the scores, or None (the new genre starts at the mean of the known ones) when the
    model file cannot choose (no `genre_lean`) or the data adds no genre of its own."""
    from .generate import Composer
    from .genre_chooser import choose_genre

    known = Composer.load(model, "cpu")
    new = [k for k, g in enumerate(model_cfg.genres) if g not in known.config.genres]
    if len(new) != 1 or not known.meta.get("genre_lean"):
        return None
    try:
        import sklearn  # noqa: F401 - the chooser's classifier (a bundle leaves it out)
    except ImportError:
        say("the genre your songs sound most like is chosen with scikit-learn, which is not installed: "
            "the new genre starts between the model's genres (--like GENRE chooses one)")
        return None
    rows = np.flatnonzero(phrases.genre == new[0])
    chosen = choose_genre(known, np.asarray(phrases.rolls[rows]))
    if chosen is None:  # a lean that is not of the model's genres: as a model without one
        return None
    genre, scores = chosen
    ranked = sorted(scores, key=scores.get, reverse=True)
    say(f"your songs sound most like {genre} ({', '.join(f'{g} {scores[g]:.2f}' for g in ranked[:3])}): "
        f"the new genre starts as {genre} (--like GENRE chooses another)")
    return genre


def _check_like(request: RunRequest, start_cfg) -> None:
    """--like names one of the genres of the model the run starts from."""
    if request.like and request.like not in (start_cfg.genres if start_cfg else []):
        known = f" (it knows {', '.join(start_cfg.genres)})" if start_cfg and start_cfg.genres else ""
        raise RunRefused(f"--like {request.like}: the model it starts from knows no such genre{known}")


def _fine_tunes_by_default(request: RunRequest, start: Path | None) -> bool:
    """A run that fine-tunes the shipped model only because nothing else was asked for."""
    return start is not None and is_model_file(start) and not request.fine_tune


def _fine_tuned_model_of(request: RunRequest, say: Callable[[str], None]) -> Path | None:
    """The model file a run fine-tunes (`RunRequest.fine_tuned_model`), or None."""
    name = request.fine_tuned_model()
    if name is None:
        return None
    try:
        return resolve_model(name)
    except (OSError, ValueError) as error:
        if not request.fine_tune:  # the shipped model missing from an install: a new model, said
            say(f"training from scratch: the shipped model to fine-tune is missing ({error})")
            return None
        raise RunRefused(f"--fine-tune {request.fine_tune}: {error}") from None


SHAPE_OF_CONFIG = {  # a RunRequest shape setting: the ModelConfig value it asks for
    "tracks": lambda cfg: cfg.track_set, "steps_per_beat": lambda cfg: cfg.steps_per_beat,
    "bars_per_phrase": lambda cfg: cfg.n_bars, "width": lambda cfg: cfg.g_width,
    "time_layers": lambda cfg: cfg.time_layers, "no_attention": lambda cfg: not cfg.attention,
}


def _shape_kept(model: Path, model_cfg, request: RunRequest, say: Callable[[str], None]) -> Path | None:
    """The model to fine-tune, when the request asks for no other shape than its own; else
    RunRefused (it was asked for by name) or None (the default: trained from scratch)."""
    from .run_request import flag_of

    other = next(((key, value) for key, value in request.shape_asked().items()
                  if SHAPE_OF_CONFIG[key](model_cfg) != value and not _grows_tracks(key, value, model_cfg)), None)
    if other is None:
        if request.tracks and request.tracks != model_cfg.track_set:
            say(f"growing {model.stem}'s {model_cfg.track_set} families into {request.tracks}: each new family "
                "starts as the one it was merged into (organ, brass, pads... as its strings), and its decoding is "
                "fitted anew")
            model_cfg.track_set = request.tracks
        return model
    key, value = other
    asked = flag_of(key) if value is True else f"{flag_of(key)} {value}"
    theirs = SHAPE_OF_CONFIG[key](model_cfg)
    if request.fine_tune:
        raise RunRefused(f"--fine-tune {request.fine_tune}: the model's {key.replace('_', ' ')} is {theirs}, and "
                         f"{asked} asks for another: leave {flag_of(key)} out, or train --from-scratch")
    say(f"training from scratch: {asked} asks for another shape than the shipped model {model.stem}'s "
        f"({theirs}); give --fine-tune MODEL with a model of that shape to fine-tune one")
    return None


def _grows_tracks(key: str, value, model_cfg) -> bool:
    """A five-family model asked for seventeen families grows into them (engine/grow_tracks.py)."""
    return key == "tracks" and model_cfg.track_set == 5 and value == 17


def fine_tuning_settings(train_cfg, state: dict, request: RunRequest):
    """The training settings of a fine-tuning run: what the request gives, and where it
    leaves them open, the model's own binary neurons and a quarter of its learning rates."""
    import json

    source = json.loads(state["train_config"]) or {}
    if request.g_lr is None and source.get("g_lr"):
        train_cfg.g_lr = float(source["g_lr"]) / FINE_TUNE_RATE_DIVISOR
    if request.d_lr is None and source.get("d_lr"):
        train_cfg.d_lr = float(source["d_lr"]) / FINE_TUNE_RATE_DIVISOR
    if request.binary_neurons is None and source.get("binary_neurons") in BINARY_NEURONS:
        train_cfg.binary_neurons = source["binary_neurons"]
    if request.adapt is None:
        train_cfg.adapt = FINE_TUNE_ADAPT
    return train_cfg


def _checkpoint_of(request: RunRequest) -> Path | None:
    """The checkpoint a run starts from (to resume, or to warm-start from), or None."""
    given = request.resume or request.warm_start
    if not given:
        return None
    checkpoint = Path(given)
    return checkpoint / "checkpoint.pt" if checkpoint.is_dir() else checkpoint


def _model_from_checkpoint(model_cfg, request: RunRequest):
    """The checkpoint's model is the one trained on; a warm start (or fine-tuning) may add
    the critic's new views, the chords, the bar tie and the manners."""
    if not request.resume:
        model_cfg.critic_bar_statistics |= request.critic_bar_statistics
        model_cfg.critic_onset_statistics |= request.critic_onset_statistics
        model_cfg.critic_repetition_statistics |= request.critic_repetition_statistics
        model_cfg.critic_batch_variety |= request.critic_batch_variety
        model_cfg.bar_tie |= request.bar_tie
        model_cfg.manners |= request.manners
        model_cfg.chords |= request.chords or request.chord_register
        model_cfg.chord_register |= request.chord_register
    return model_cfg


def _choose_genres(model_cfg, phrases, request: RunRequest, from_checkpoint: bool, warm: bool = False,
                   grown: bool = False) -> None:
    """A new model is conditioned on the data's genre folders when asked (yes), or when
    there are two or more (auto); a warm start (or fine-tuning) adds the data's genres to
    the checkpoint's (`fine_tuning_genres`); a resumed checkpoint's genres must be the data's
    (as its warm start labelled them, when it was one). A model `grown` into more families
    keeps only the data's genres: the others never learned their new families."""
    if not from_checkpoint:
        want = request.genre_conditioned
        if want == "yes" and len(phrases.genres) < 2:
            raise RunRefused("--genre-conditioned yes needs a data folder with two or more genre folders")
        if want == "yes" or (want == "auto" and len(phrases.genres) >= 2):
            model_cfg.genres = list(phrases.genres)
    elif model_cfg.genres and warm:
        genres = fine_tuning_genres(model_cfg.genres, phrases, request.data, one_genre=request.genre_conditioned == "no",
                                    only_the_data=grown)
        if request.resume and genres != model_cfg.genres:
            raise RunRefused(f"the checkpoint knows genres {model_cfg.genres}, the data adds {genres[len(model_cfg.genres):]}")
        model_cfg.genres = genres
    elif model_cfg.genres and model_cfg.genres != phrases.genres:
        raise RunRefused(f"the checkpoint knows genres {model_cfg.genres}, the data has {phrases.genres}")


def fine_tuning_genres(known: list[str], phrases, data: str, one_genre: bool = False,
                       only_the_data: bool = False) -> list[str]:
    """The genres of a model warm-started on new data: the checkpoint's, then each of the
    data's genre folders it does not know, and for songs in no genre folder (a user's own
    folder) one genre named after the data. The phrases' labels are made the model's, so a
    folder of jazz songs called "jazz" fine-tunes what the model knows of jazz, and one
    called "my-songs" gets a genre of its own (its embedding starts at the mean of the
    others: engine/train.py's `genre_rows`). `one_genre` (--genre-conditioned no):
    the whole folder is that one genre, its sub-folders' names unread. `only_the_data`: the
    known genres the data has no songs of are left out."""
    own = Path(data).name.removesuffix(".npz").removesuffix(".phrases") or "mine"
    if one_genre:
        phrases.genre = np.full_like(phrases.genre, -1)
    names = [*phrases.genres, own]  # the labels' names, -1 (no genre folder) as the last
    labels = np.where(phrases.genre >= 0, phrases.genre, len(names) - 1)
    used = {names[index] for index in np.unique(labels)}
    genres = [g for g in known if g in used or not only_the_data]
    for index in np.unique(labels):
        if names[index] not in genres:
            genres.append(names[index])
    index_of = [genres.index(name) if name in genres else -1 for name in names]  # the folder's own may be unused
    phrases.genre = np.array(index_of, dtype=phrases.genre.dtype)[labels]
    phrases.genres = genres
    return genres
