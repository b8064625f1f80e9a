"""One training run, described once: what the user asks for, and where the run writes.

`RunRequest` is the single description of a training run. The command line's `train`
flags are made from its fields (`add_run_arguments`), the wizard fills one in, a training
job stores one in its job.json and spawns `bytes2beats train` with `argv()`, and
engine/train_run.py runs one. Its defaults are the defaults of a *new* run.

`ModelConfig` and `TrainConfig` (engine/model.py, engine/train.py) are what a run stores in
its checkpoints and models; their own defaults say what a field absent from an older file
meant (the first models' per-beat time layers, width 64), so old files read as they were
written. A request makes both (`model_config`, `train_config`).

`RunPaths` is the run folder's layout, the one place it is written down.

No torch here: the wizard and the job runner import this module cheaply.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from .model_store import DEFAULT_MODEL  # the model `train` fine-tunes unless told otherwise

BINARY_NEURONS = ("none", "deterministic", "stochastic")
JOB_FILE = "job.json"
# A new run's shape and training where the request leaves them open and nothing is fine-tuned.
SCRATCH_SHAPE = {"tracks": 5, "steps_per_beat": 4, "bars_per_phrase": 4, "width": 32, "time_layers": "staged"}
SCRATCH_TRAINING = {"epochs": 100, "g_lr": 3e-4, "d_lr": 6e-4, "binary_neurons": "none", "batch_size": 64}
# Fine-tuning on a folder of a user's songs, measured on 40 jazz songs against 21 held-out
# ones (docs/model.md, "Fine-tuning on your own songs"): 150 critic steps at a quarter of the
# shipped model's own rates, its decoding kept, only the genre row of the generator learning
# (session 14: 84 targets over four sets of generated phrases against the shipped model's 85;
# the whole generator learning, 79).
FINE_TUNE_CRITIC_STEPS = 150
FINE_TUNE_RATE_DIVISOR = 4.0
FINE_TUNE_ADAPT = "style"
TIME_LAYERS = ("staged", "per-beat")
GENRE_CONDITIONED = ("auto", "yes", "no")
# What of the generator a fine-tuning run changes (engine/train.py: ADAPTED); the critic learns whole.
ADAPT = ("all", "late", "style")
CHORD_FIT = ("at-least", "match", "bass-match", "bass-by-root")  # the chord-fit term's sides (engine/train.py: chord_fit_loss)
NEAREST_TAKE_VIEWS = ("notes", "harmony")  # how near a take is (engine/nearest_take.py)


def _setting(default, help: str, choices=None, metavar: str | None = None, type=None):
    """A field of RunRequest with what its command-line flag (--field-name) needs (`type`:
    the flag's, where the default None does not tell it)."""
    meta = {"help": help, "choices": choices, "metavar": metavar, "type": type}
    if default is MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunRequest:
    """A training run as a user asks for it (`bytes2beats train`'s flags, the wizard's pages)."""

    # What to train on, and what to write
    data: str = _setting(MISSING, "folder of songs (searched recursively), or a .phrases.npz pack from "
                                  "`bytes2beats phrases`")
    out: str = _setting(MISSING, "the model: a .safetensors path, or a name for your models folder")
    fine_tune: str | None = _setting(None, "the model to adapt to your songs: a name, or a .safetensors file that "
                                           f"carries its critic (default: the shipped {DEFAULT_MODEL!r}, unless "
                                           "--from-scratch, or a shape flag it does not have)", metavar="MODEL")
    like: str | None = _setting(None, "fine-tuning on songs in no genre folder the model knows: their genre "
                                      "starts as a copy of this one of the model's (its style and its "
                                      "decoding), not between them all", metavar="GENRE")
    from_scratch: bool = _setting(False, "train a new model from random weights (hours on a CPU) instead of "
                                         "fine-tuning the shipped one (minutes)")
    resume: str | None = _setting(None, "a checkpoint.pt (or its run folder) to continue from")
    warm_start: str | None = _setting(None, "begin from this checkpoint's weights (and its model's shape) with "
                                            "today's training settings", metavar="CHECKPOINT")
    adapt: str | None = _setting(None, "what of the generator learns: all of it (the default from scratch, "
                                        "and growing into 17 families), its late layers (attention and the "
                                        "notes), or only the songs' style (the genre row: the default "
                                        "fine-tuning); the critic always learns whole", choices=ADAPT)
    decoding_from: str | None = _setting(None, "keep this model's decoding (its threshold, each track's per genre, "
                                               "the lines, the onset priors) instead of fitting one to the data: "
                                               "for fine-tuning on a few songs", metavar="MODEL")
    device: str = _setting("auto", "auto (default), cpu, cuda or mps")
    run_dir: str | None = _setting(None, "where logs, samples and checkpoints go (default: beside the model)")
    cache_dir: str | None = _setting(None, "phrase cache (default: the user cache folder)")
    # The phrases, and so the model's shape
    # (None: the fine-tuned model's; from scratch, SCRATCH_SHAPE's)
    tracks: int | None = _setting(None, "instrument families: 5 (default) or the 17 of LPD-17 (fine-tuning a "
                                        "five-family model grows it into seventeen)", choices=(5, 17), type=int)
    steps_per_beat: int | None = _setting(None, "time resolution (default: the fine-tuned model's, 12: 16ths and "
                                                "triplets; from scratch, 4: 16th notes)", type=int)
    bars_per_phrase: int | None = _setting(None, "bars in one phrase (default: 4)", type=int)
    # The networks
    width: int | None = _setting(None, "channels of the networks' narrowest layer (default: 32)", type=int)
    no_attention: bool = _setting(False, "leave out self-attention (ablation)")
    time_layers: str | None = _setting(None, "how beats become steps: staged (beats, 16ths, steps; default) or "
                                             "per-beat (the first models')", choices=TIME_LAYERS)
    critic_bar_statistics: bool = _setting(False, "let the critic also score each track's bars by how much "
                                                  "plays and their loudest cell")
    critic_onset_statistics: bool = _setting(False, "let the critic also score where within the beat each "
                                                    "track's notes start and end")
    critic_repetition_statistics: bool = _setting(False, "let the critic also score how alike each track's bars "
                                                         "are, in rhythm and in pitch classes")
    critic_batch_variety: bool = _setting(False, "let the critic also score how much the phrases of a small group "
                                                 "of the batch differ, feature by feature (ProGAN's minibatch "
                                                 "standard deviation; a warm start adds it at zero)")
    bar_tie: bool = _setting(False, "let the generator pull each track's bars toward the phrase's mean bar by a "
                                    "learned share, so that a groove can come back bar after bar (a warm "
                                    "start adds it at zero)")
    manners: bool = _setting(False, "tell the generator each track's manner (onsets a bar, note length, notes of "
                                    "a beat or more, pitch range), drawn in generation from the songs' own, so "
                                    "that its phrases vary as the songs' do (a warm start adds it at zero)")
    chords: bool = _setting(False, "condition on each phrase's chords, so that it can be asked for a key and a "
                                   "progression")
    chord_register: bool = _setting(False, "with --chords: learn the chords' offsets per track and octave, so "
                                           "each track keeps to its register (a warm start from a chord model "
                                           "copies its shared ones)")
    genre_conditioned: str = _setting("auto", "condition on the data's genre folders (auto: when there are "
                                              "several; fine-tuning: a folder the model does not know becomes "
                                              "a genre of its own, and no makes the whole data one)",
                                      choices=GENRE_CONDITIONED)
    # The training
    epochs: int | None = _setting(None, "passes over the training phrases (default: 100 from scratch; "
                                        f"fine-tuning, enough for {FINE_TUNE_CRITIC_STEPS} critic steps)", type=int)
    batch_size: int | None = _setting(None, "phrases per step (default: 64; fine-tuning a small folder, fewer, so "
                                            "that an epoch has --n-critic batches)", type=int)
    n_critic: int = _setting(5, "critic steps per generator step")
    g_lr: float | None = _setting(None, "the generator's learning rate (default: 3e-4 from scratch; fine-tuning, "
                                        f"the model's own / {FINE_TUNE_RATE_DIVISOR:g})", type=float)
    d_lr: float | None = _setting(None, "the critic's learning rate (default: 6e-4 from scratch; fine-tuning, "
                                        f"the model's own / {FINE_TUNE_RATE_DIVISOR:g})", type=float)
    gp_lambda: float = _setting(10.0, "the gradient penalty's weight")
    transpose: int = _setting(0, "augment by up to this many semitones")
    chord_loss: float = _setting(20.0, "with --chords: weight of the generator's chord-fit term (0: the critic "
                                       "alone)")
    chord_fit: str = _setting("at-least", "with --chords: pull the generator's fit to the chords up to the real "
                                          "songs' (at-least), to it from either side (match: players also "
                                          "play passing notes), or the bass's alone from either side "
                                          "(bass-match), or that per bass note so that every key is alike "
                                          "(bass-by-root)", choices=CHORD_FIT)
    chord_bass_dropout: float = _setting(0.0, "with --chords: the share of phrases shown with their chords in root "
                                              "position (C/E as C), so that a chord asked for without a bass note "
                                              "does not tie the bass to its root more than players do")
    harmony_loss: float = _setting(0.0, "weight of the generator's harmony term: the pitched tracks' bar harmony "
                                        "pulled together up to the real phrases' agreement (tonal distance; "
                                        "0: none)")
    harmony_notes_only: bool = _setting(False, "the harmony term moves only the notes played: it may take a "
                                               "note away, never add one (through every cell it filled bars)")
    harmony_tracks: str = _setting("", "the tracks the harmony term pulls together, by name, separated by commas "
                                       "(default: every pitched track)")
    harmony_anchors: str = _setting("", "tracks the harmony term pulls the others toward and leaves as they play, "
                                        "by name, separated by commas (default: none)")
    bar_fill_loss: float = _setting(0.0, "weight of the generator's bar-fill term: each track's share of bars "
                                         "with notes pulled to the real phrases' (0: none)")
    pitch_variety_loss: float = _setting(0.0, "weight of the generator's pitch-variety term: each pitched track's "
                                              "pitch classes a bar pulled up to the real phrases', never past "
                                              "them (0: none)")
    repetition_loss: float = _setting(0.0, "weight of the generator's repetition term: each phrase's bar "
                                           "similarity pulled up to the real phrases', never past them, by taking away "
                                           "notes that set a bar apart (0: none)")
    onset_loss: float = _setting(0.0, "weight of the generator's onset term: each track's note starts and ends "
                                      "in the beat, and its one-step notes, pulled to the real phrases' (0: none)")
    spread_loss: float = _setting(0.0, "weight of the generator's pitch-spread term: each pitched track's spread "
                                       "of pitch over a phrase pulled down to the real phrases', by taking away "
                                       "notes far from the rest (0: none)")
    hold_loss: float = _setting(0.0, "weight of the generator's hold term: each pitched track's note starts per "
                                     "sounding step pulled down to the real phrases' (its notes held as long; "
                                     "0: none)")
    feature_critic_loss: float = _setting(0.0, "weight of the feature critic's term: a second critic reads each "
                                               "phrase's statistics as the classifier two-sample test does "
                                               "(onsets, note lengths, pitch, harmony between tracks) and the "
                                               "generator is asked to make it say real (0: none)")
    marginal_loss: float = _setting(0.0, "weight of the generator's marginal term: each of the classifier "
                                         "test's phrase statistics, its distribution over a batch's phrases "
                                         "pulled to the songs' of their genre (0: none)")
    manner_loss: float = _setting(0.0, "with --manners: weight of the term that asks each generated track to "
                                       "play the manner it was given (0: none)")
    manner_held_weight: float = _setting(1.0, "with --manner-loss: how much more the term weighs the share of "
                                              "notes of a beat or more than the other manners")
    nearest_take_loss: float = _setting(0.0, "weight of the generator's nearest-take term: each real phrase pulls "
                                             "the nearest of --nearest-takes phrases drawn for it toward itself, "
                                             "by --nearest-take-view (0: none)")
    nearest_takes: int = _setting(8, "with --nearest-take-loss: phrases drawn for each real phrase")
    nearest_take_view: str = _setting("notes", "with --nearest-take-loss: how near a take is, by its notes or by "
                                               "its band's harmony (the pitch classes sounding each half bar)",
                                      choices=NEAREST_TAKE_VIEWS)
    term_decoding: str = _setting("", "count the generator's terms' notes (and show the feature critic the "
                                      "phrases) as this model file decodes them (its per-track thresholds, bass "
                                      "as a line), not as the critic's notes at 0.5 (default: the critic's)")
    binary_neurons: str | None = _setting(None, "show the critic notes (0/1) instead of probabilities, with "
                                                "straight-through gradients (default: none from scratch; the "
                                                "model's own when fine-tuning)", choices=BINARY_NEURONS)
    steps_per_epoch: int = _setting(0, "cap the batches of an epoch (0: all)")
    checkpoint_every: int = _setting(20, "epochs between checkpoints")
    sample_every: int = _setting(10, "epochs between sample pictures")
    keep_checkpoints: bool = _setting(False, "keep every checkpoint in the run folder's checkpoints/ "
                                             "(bench/targets_over_training.py)")
    seed: int = _setting(0, "the random seed of the weights and the batches")

    # -- the command line ------------------------------------------------------------------

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunRequest:
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, values: dict) -> RunRequest:
        """From a job.json's record; unknown keys (a newer version's) are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)

    def argv(self) -> list[str]:
        """The `bytes2beats train` arguments that ask for this run: every setting that is not
        the default, so that a job's command line reads as what the user chose."""
        parts = ["--data", self.data, "--out", self.out]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("data", "out") or value == f.default:
                continue
            if isinstance(value, bool):
                parts.append(flag_of(f.name))
            else:
                parts += [flag_of(f.name), str(value)]
        return parts

    # -- what it makes -----------------------------------------------------------------------

    def model_path(self) -> Path:
        """The .safetensors file: `out` as given, or a bare name in the user's models folder."""
        from .model_store import MODEL_SUFFIX, user_models_dir

        out = Path(self.out)
        if out.suffix == MODEL_SUFFIX:
            return out
        if os.sep not in self.out:
            return user_models_dir() / f"{self.out}{MODEL_SUFFIX}"
        return out.with_suffix(MODEL_SUFFIX)

    def paths(self) -> RunPaths:
        return RunPaths.for_model(self.model_path(), self.run_dir)

    def model_config(self):
        """The ModelConfig of a new run (a resumed or warm-started one takes its checkpoint's)."""
        from .model import ModelConfig

        shape = self.shape()
        return ModelConfig(
            track_set=shape["tracks"], steps_per_beat=shape["steps_per_beat"], n_bars=shape["bars_per_phrase"],
            g_width=shape["width"], d_width=shape["width"], attention=not self.no_attention,
            time_layers=shape["time_layers"], critic_bar_statistics=self.critic_bar_statistics,
            critic_onset_statistics=self.critic_onset_statistics,
            critic_repetition_statistics=self.critic_repetition_statistics,
            critic_batch_variety=self.critic_batch_variety, bar_tie=self.bar_tie,
            manners=self.manners, chords=self.chords or self.chord_register, chord_register=self.chord_register,
        )

    def train_config(self):
        from .train import TrainConfig

        training = {key: SCRATCH_TRAINING[key] if getattr(self, key) is None else getattr(self, key)
                    for key in SCRATCH_TRAINING}
        return TrainConfig(
            epochs=training["epochs"], batch_size=training["batch_size"], n_critic=self.n_critic,
            gp_lambda=self.gp_lambda,
            g_lr=training["g_lr"], d_lr=training["d_lr"], transpose=self.transpose, seed=self.seed,
            steps_per_epoch=self.steps_per_epoch, checkpoint_every=self.checkpoint_every,
            sample_every=self.sample_every, keep_checkpoints=self.keep_checkpoints,
            binary_neurons=training["binary_neurons"], chord_loss=self.chord_loss, adapt=self.adapt or "all",
            chord_fit=self.chord_fit, chord_bass_dropout=self.chord_bass_dropout,
            harmony_loss=self.harmony_loss, harmony_notes_only=self.harmony_notes_only,
            harmony_tracks=self.harmony_tracks, harmony_anchors=self.harmony_anchors,
            bar_fill_loss=self.bar_fill_loss, pitch_variety_loss=self.pitch_variety_loss,
            repetition_loss=self.repetition_loss, onset_loss=self.onset_loss,
            spread_loss=self.spread_loss, hold_loss=self.hold_loss,
            feature_critic_loss=self.feature_critic_loss, marginal_loss=self.marginal_loss,
            manner_loss=self.manner_loss, manner_held_weight=self.manner_held_weight,
            nearest_take_loss=self.nearest_take_loss, nearest_takes=self.nearest_takes,
            nearest_take_view=self.nearest_take_view, term_decoding=self.term_decoding,
        )

    def shape(self) -> dict:
        """The phrases' and networks' shape asked for, SCRATCH_SHAPE's where left open."""
        return {key: SCRATCH_SHAPE[key] if getattr(self, key) is None else getattr(self, key)
                for key in SCRATCH_SHAPE}

    def shape_asked(self) -> dict:
        """The shape settings the request gives (the rest it leaves to what it starts from)."""
        asked = {key: getattr(self, key) for key in SCRATCH_SHAPE if getattr(self, key) is not None}
        return {**asked, **({"no_attention": True} if self.no_attention else {})}

    def fine_tuned_model(self) -> str | None:
        """The model this run adapts (its name or file), or None: a resumed run, a warm
        start from a checkpoint, or one from scratch. Left open, the shipped DEFAULT_MODEL
        (engine/train_run.py trains from scratch instead when the request asks for another
        shape, and says so)."""
        if self.resume or self.warm_start or self.from_scratch:
            return None
        return self.fine_tune or DEFAULT_MODEL

    def phrase_spec(self):
        """The phrases this run cuts from a folder of songs (the wizard's scan cuts the same)."""
        from .dataset import PhraseSpec

        shape = self.shape()
        return PhraseSpec(shape["tracks"], shape["steps_per_beat"], shape["bars_per_phrase"])

    def problem(self) -> str | None:
        """The first setting that cannot train, as one line naming its flag ("--batch-size
        must be from 1 to 4096, not 0"), or None: checked before anything is read or
        written, by the command line and by the wizard alike. Imports torch."""
        if self.resume and self.warm_start:
            return "--resume continues a run, --warm-start begins a new one: give one of them"
        if self.like and (self.resume or self.from_scratch):
            return f"--like is for fine-tuning a model, not with {'--resume' if self.resume else '--from-scratch'}"
        if self.adapt not in (None, "all") and self.from_scratch:
            return f"--adapt {self.adapt} keeps the rest of a model as it was: it is for fine-tuning, not --from-scratch"
        starts = [flag_of(name) for name in ("fine_tune", "from_scratch", "resume", "warm_start") if getattr(self, name)]
        if len(starts) > 1:
            return f"{' and '.join(starts)} are different starts: give one of them"
        from .train import settings_problem

        return settings_problem(self.model_config(), self.train_config())


# The flag of each RunRequest field that has one, and of each ModelConfig or TrainConfig
# field a user sets through one, so that a problem names what to change.
CONFIG_FLAGS = {"track_set": "tracks", "n_bars": "bars_per_phrase", "g_width": "width", "d_width": "width"}


def flag_of(name: str) -> str:
    """'--batch-size' for batch_size (a RunRequest, ModelConfig or TrainConfig field); a
    field no flag sets (beta1, say, read from a checkpoint) keeps its own name."""
    name = CONFIG_FLAGS.get(name, name)
    if name not in {f.name for f in fields(RunRequest)}:
        return name
    return "--" + name.replace("_", "-")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """`bytes2beats train`'s flags, one per RunRequest field."""
    for f in fields(RunRequest):
        meta = f.metadata
        options = {"help": meta["help"]}
        if f.default is MISSING:
            options["required"] = True
        elif isinstance(f.default, bool):
            options["action"] = "store_true"
        else:
            options["default"] = f.default
            if meta.get("type") or type(f.default) in (int, float):  # the default's type is the flag's
                options["type"] = meta.get("type") or type(f.default)
        if meta.get("choices"):
            options["choices"] = meta["choices"]
        if meta.get("metavar"):
            options["metavar"] = meta["metavar"]
        parser.add_argument(flag_of(f.name), dest=f.name, **options)


@dataclass
class RunPaths:
    """Where a run writes: the model, and a run folder beside it (`<model>-run/`)."""

    model: Path
    folder: Path

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint.pt"

    @property
    def kept_checkpoints(self) -> Path:
        return self.folder / "checkpoints"

    @property
    def log(self) -> Path:
        return self.folder / "log.jsonl"

    @property
    def samples(self) -> Path:
        return self.folder / "samples"

    @property
    def rejected(self) -> Path:
        """Every file left out, and why: a line each."""
        return self.folder / "rejected.txt"

    @property
    def job(self) -> Path:
        """A job's record, when the run was started as a job (engine/training_job.py)."""
        return self.folder / JOB_FILE

    @property
    def output(self) -> Path:
        """A job's terminal output (its progress and its last error)."""
        return self.folder / "output.log"

    @classmethod
    def for_model(cls, model: str | Path, folder: str | Path | None = None) -> RunPaths:
        model = Path(model)
        return cls(model, Path(folder) if folder else run_folder_of(model))


def run_folder_of(model: str | Path) -> Path:
    """The default run folder of a model: `<name>-run/` beside it."""
    model = Path(model)
    return model.parent / f"{model.stem}-run"
