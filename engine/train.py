"""WGAN-GP training: critic and generator steps, logs, samples, checkpoints that resume exactly.

One epoch is one pass of the critic over the training phrases; the generator steps once
every `n_critic` critic batches. Checkpoints are taken at epoch ends and hold everything a
resumed run needs to continue as if never stopped: weights, optimizers, schedulers, the
random state. Under `torchrun` the same loop runs DistributedDataParallel (NCCL on GPUs,
gloo on CPUs); rank 0 alone logs and writes.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .atomic import atomic_write
from .binarize import HOLD_RATIO
from .calibrate import SAMPLES, calibrate_decoding, phrase_progressions
from .dataset import Phrases
from .device import describe_device
from .failures import os_reason
from .feature_critic import (
    MARGINAL_PHRASES,
    STANDARDIZE_PHRASES,
    FeatureCritic,
    StatisticsMarginals,
    feature_critic_loss,
    feature_generator_loss,
    phrase_statistics,
)
from .generate import Composer
from .grow_tracks import grown_critic, grown_generator
from .manner import TABLE_PHRASES, manner_gap, manner_scale, manner_table, phrase_manners
from .metrics import TONAL_CENTROID_BASIS
from .model import (
    OCTAVE,
    Critic,
    Generator,
    ModelConfig,
    between,
    config_fields,
    config_problem,
    pitch_classes_per_beat,
    registered_chord_weights,
    save_model,
)
from .model_store import is_model_file
from .nearest_take import HarmonyGaps, nearest_noises, nearest_take_gap, note_gaps
from .packed_rolls import unpack_torch
from .render import pianoroll_sheet
from .run_request import ADAPT, BINARY_NEURONS, CHORD_FIT, NEAREST_TAKE_VIEWS, RunPaths, flag_of  # noqa: F401 - RunPaths: where runs write

CHECKPOINT_FORMAT = "bytes2beats-train-1"


@dataclass
class TrainConfig:
    """Training settings, the seed paper's by default; saved in every checkpoint."""

    epochs: int = 100
    batch_size: int = 64
    n_critic: int = 5
    gp_lambda: float = 10.0
    g_lr: float = 3e-4
    d_lr: float = 6e-4
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: float = 0.75
    lr_decay_every: int = 25  # epochs
    transpose: int = 0  # augmentation: shift pitched tracks by up to this many semitones
    sample_every: int = 10  # epochs
    checkpoint_every: int = 20  # epochs
    keep_checkpoints: bool = False  # also keep each one as checkpoints/epoch_NNNN.pt (for the benches)
    seed: int = 0
    steps_per_epoch: int = 0  # 0: a full pass over the data
    # What the critic is shown of the generator's output: "none", the probabilities (the
    # seed paper); "deterministic" or "stochastic", notes (see `binary_neurons`).
    binary_neurons: str = "none"
    # For a chord model: the share of phrases shown with no chords (all-zero features), so
    # that it still generates freely when no chords are given.
    chord_dropout: float = 0.1
    # For a chord model: the weight of the chord-fit term in the generator's loss (`chord_fit_loss`;
    # 0: the critic alone teaches the chords), and how much faster than the rest the new
    # chord layers learn (they start at zero in a warm start, and at the base rate move too
    # little in the few thousand steps a CPU run has).
    chord_loss: float = 20.0
    chord_lr_scale: float = 10.0
    # With the generator's bars tied (ModelConfig.bar_tie): how much faster than the rest its
    # shares learn. They start at zero in a warm start, and a run of a few thousand critic
    # steps has a few hundred generator steps, in which Adam at the base rate moves a weight
    # by a few hundredths at most.
    tie_lr_scale: float = 100.0
    # With the critic's variety view (ModelConfig.critic_batch_variety): how much faster than
    # the rest its score learns. It starts at zero in a warm start, and the group spreads it
    # reads are small (a few hundredths): at the base rate, 300 critic steps left it adding a
    # tenth of a point to scores that differ by two between real and fake phrases.
    variety_lr_scale: float = 100.0
    # With a manner model (ModelConfig.manners): how much faster than the rest its manner
    # offsets learn; they start at zero in a warm start, as the chord layers do (at the base
    # rate, 100 generator steps moved the notes toward the manners asked for by a tenth).
    manner_lr_scale: float = 10.0
    # The chord-fit term's sides (CHORD_FIT): "at-least", a hinge up to the real phrases' fit
    # (the first chord models'); "match", pulled to it from either side, so that a model that
    # keeps to the chord tones and the bass note more than players do is pulled back too;
    # "bass-match", the bass note's share pulled from either side, the tones' a hinge;
    # "bass-by-root", the same per bass note, so that every key's bass is alike.
    chord_fit: str = "at-least"
    # For a chord model: the share of phrases shown with their chords in root position. The
    # extractor names the inversion from the bass's longest note (C/E when the bass holds E),
    # so a chord with the root in the bass was, in training, one whose bass held the root: a
    # model asked for "C" then ties its bass to C more than players do (issue 15: 90-100 % of
    # chord spans against the songs' 79 %). Shown as "C" also when the bass walked, it learns
    # what a bass plays under a chord named without one.
    chord_bass_dropout: float = 0.0
    # For a model with two or more pitched tracks: the weight of the harmony term
    # (`harmony_gap`; 0: none). The chord-fit term keeps each track on the chord's tones, but
    # not on the same ones: the piano on the root and fifth, the guitar on the third, agree
    # less than players do (tonal distance 1.13-1.15x the songs', issue 15). The term pulls
    # the tracks' bar harmony together up to the real phrases' agreement, never past it.
    harmony_loss: float = 0.0
    # The harmony term through the notes played alone: it may take a note away (push its
    # probability under the cut), never add one. Through every cell it added the agreeing
    # pitch classes wherever it could, and the tracks filled their bars (docs/quality.md,
    # "Session 18": at weight 0.25 too, where the same run without it kept its empty bars).
    harmony_notes_only: bool = False
    # The tracks the harmony term pulls together, by name, comma-separated ("": every pitched
    # track). The term moved the bass most (Piano-Bass and Bass-Strings to 0.93-0.94x of the
    # songs' tonal distance at weight 3) and put it back on the root and into every bar,
    # while the pairs that were apart were the piano's with the guitar and the strings
    # (docs/quality.md "Session 18"): "Piano,Guitar,Strings" leaves the bass to its own terms.
    harmony_tracks: str = ""
    # Tracks the harmony term pulls the others toward and leaves where they are, by name,
    # comma-separated ("": none). Left out, the bass let the guitar drift from it (Guitar-Bass
    # 1.10x the songs' tonal distance over given chords, 1.14x over drawn ones: docs/quality.md
    # "Session 19"); pulled with the others, it went back onto the root and into every bar
    # ("Session 18"). Held, the guitar moves toward the bass and the bass stays as it plays.
    harmony_anchors: str = ""
    # The weight of the bar-fill term (`bar_fill_gap`; 0: none): each track's share of bars
    # with notes pulled to the real phrases' from either side. The harmony term alone lowered
    # the tracks' tonal distance partly by filling bars (strings and bass rested in 3 and 1 %
    # of bars against the songs' 15.5 and 7.7, docs/quality.md "Session 17").
    bar_fill_loss: float = 0.0
    # The weight of the pitch-variety term (`pitch_variety_gap`; 0: none): each pitched track's
    # pitch classes a sounding bar (UPC) pulled up to the real phrases', never past them. The
    # chord-fit and harmony terms keep the tracks on the chord's tones and take disagreeing
    # notes away; the piano and the bass then played fewer pitch classes than players do (UPC
    # 3.68 and 1.64 against 4.31 and 2.14, rock, docs/quality.md "Session 20").
    pitch_variety_loss: float = 0.0
    # The weight of the repetition term (`repetition_gap`; 0: none): each phrase's bar
    # similarity (its bars' pitch classes and rhythm, as the seed paper's self-similarity
    # matrix and the classifier two-sample test count it) pulled up to the real phrases',
    # never past them, through the notes played alone. Generated rock bars repeated less than
    # the songs' (0.75 against 0.85), the feature that told the classifier most
    # (docs/quality.md, "The network's own timing, taught directly").
    repetition_loss: float = 0.0
    # The weight of the onset term (`onset_gap`; 0: none): each track's share of note starts and
    # of note ends at each step of the beat, and of notes a step long, pulled to the real
    # phrases', from either side (summed over the tracks). The network started 7-10 % of its strings' and
    # guitar's notes on the 16ths between the 8ths against the songs' 1.3-1.7 %, and 13-25 % off
    # the grid before the quantizer: onset positions alone told the classifier 97 % of the time
    # (docs/quality.md "Session 15"); the critic's onset view needed more steps than a CPU gives.
    onset_loss: float = 0.0
    # The weight of the pitch-spread term (`pitch_spread_gap`; 0: none): each pitched track's
    # spread of pitch over a phrase pulled down to the real phrases', never below them, by
    # taking away the notes far from the rest. After the harmony term, what told `genres`'s
    # rock from the songs first was the bass's range (14.2 semitones a phrase against 10.6)
    # and spread (4.2 against 3.5), then the guitar's (docs/quality.md "The harmony term on
    # `genres`"); the register decoding moves only notes two octaves out.
    spread_loss: float = 0.0
    # The weight of the hold term (`hold_gap`; 0: none): each pitched track's note starts per
    # sounding step (one over its mean note length) pulled down to the real phrases', never
    # below them. Generated rock strings held a quarter of their notes a beat or more, the
    # songs' strings nearly half (25 % against 46 %).
    hold_loss: float = 0.0
    # The weight of the feature critic's term (engine/feature_critic.py; 0: none, and no such
    # critic). A second critic reads each phrase's statistics as the classifier two-sample
    # test does (onsets in the beat, note lengths, density, pitch, harmony between tracks, bar
    # similarity), all at once and per phrase, as a Wasserstein critic; the generator is asked
    # to raise its score.
    # The single-statistic terms above each moved the test about a point and brought the
    # next tell forward (docs/quality.md, "The spread and hold terms").
    feature_critic_loss: float = 0.0
    # The weight of the marginal term (engine/feature_critic.py's `StatisticsMarginals`; 0:
    # none): each of the test's phrase statistics, its distribution over the batch's phrases of
    # a genre pulled to the songs' of that genre (a 1-D Wasserstein distance per statistic, in
    # units of the songs' spread). The critics score phrase by phrase, and a phrase played in
    # between the songs' manners scores well; the test told the shipped rock from the songs by
    # the spread of its statistics, not their means (docs/quality.md, "What the test reads now").
    marginal_loss: float = 0.0
    # With a manner model (ModelConfig.manners): the weight of the term that asks each
    # generated track to play the manner it was given, a real phrase's (engine/manner.py's
    # `manner_gap`; 0: none, the critic alone).
    manner_loss: float = 0.0
    # How much more the manner term weighs the share of notes of a beat or more than the other
    # manners (a manner model followed onsets at r 0.83-0.95 and held notes at 0.2-0.65 with 1;
    # docs/quality.md, "Manners").
    manner_held_weight: float = 1.0
    # The weight of the nearest-take term (engine/nearest_take.py; 0: none): each real phrase
    # of a batch pulls the nearest of `nearest_takes` phrases drawn for it (its genre, chords
    # and manners) toward itself, by the cells it plays otherwise or by the band's harmony
    # (`nearest_take_view`). The terms above compare batches; this one asks that every real
    # phrase, whole, have a generated phrase near it.
    nearest_take_loss: float = 0.0
    nearest_takes: int = 8
    nearest_take_view: str = "notes"  # or "harmony": the band's pitch classes, half bar by half bar
    # A model file (name or path) whose decoding the generator's terms (and the feature critic,
    # trained and asked alike) count notes by ("": the notes the critic is shown). The critic's notes are cut at 0.5;
    # the user hears each track decoded at its own threshold with hysteresis, its bass made a
    # line: a share matched at 0.5 was not matched as heard (docs/quality.md "Session 17").
    # The warm start's own file is the natural choice: its decoding is what the user gets.
    term_decoding: str = ""
    # What of the generator learns (ADAPTED): all of it, or, fine-tuning on a few songs, only
    # its late layers or only the genre rows, the rest kept as the model had it.
    adapt: str = "all"

    def __post_init__(self):
        if self.binary_neurons not in BINARY_NEURONS:
            raise ValueError(f"unknown binary_neurons {self.binary_neurons!r} ({', '.join(BINARY_NEURONS)})")

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """ValueError (one line) for text that is not a JSON object; `problem()` checks the values."""
        return cls(**config_fields(cls, text))

    def problem(self, name=lambda field: field) -> str | None:
        """The first setting that cannot train, as one line, or None (`settings_problem`)."""
        return config_problem(self, TRAIN_RULES, name)


# What each training setting may be (types are checked against the defaults'): an epoch of
# training, or a crash after one, is too late to learn that a setting cannot work.
TRAIN_RULES = {
    "epochs": between(1, 1_000_000),
    "batch_size": between(1, 4096),
    "n_critic": between(1, 100),
    "gp_lambda": between(0, 1000),
    "g_lr": ((lambda v: 0 < v <= 1), "above 0 and at most 1"),
    "d_lr": ((lambda v: 0 < v <= 1), "above 0 and at most 1"),
    "beta1": ((lambda v: 0 <= v < 1), "from 0 up to (not including) 1"),
    "beta2": ((lambda v: 0 <= v < 1), "from 0 up to (not including) 1"),
    "lr_decay": ((lambda v: 0 < v <= 1), "above 0 and at most 1"),
    "lr_decay_every": between(1, 1_000_000),
    "transpose": between(0, 12),
    "sample_every": between(1, 1_000_000),
    "checkpoint_every": between(1, 1_000_000),
    "seed": between(0, 2**32 - 1),
    "steps_per_epoch": between(0, 10**9),
    "binary_neurons": ((lambda v: v in BINARY_NEURONS), " or ".join(BINARY_NEURONS)),
    "chord_dropout": between(0, 1),
    "chord_loss": between(0, 1000),
    "chord_lr_scale": ((lambda v: 0 < v <= 1000), "above 0 and at most 1000"),
    "tie_lr_scale": ((lambda v: 0 < v <= 1000), "above 0 and at most 1000"),
    "variety_lr_scale": ((lambda v: 0 < v <= 1000), "above 0 and at most 1000"),
    "manner_lr_scale": ((lambda v: 0 < v <= 1000), "above 0 and at most 1000"),
    "adapt": ((lambda v: v in ADAPT), " or ".join(ADAPT)),
    "chord_fit": ((lambda v: v in CHORD_FIT), " or ".join(CHORD_FIT)),
    "chord_bass_dropout": between(0, 1),
    "harmony_loss": between(0, 1000),
    "bar_fill_loss": between(0, 1000),
    "pitch_variety_loss": between(0, 1000),
    "repetition_loss": between(0, 1000),
    "onset_loss": between(0, 1000),
    "spread_loss": between(0, 1000),
    "hold_loss": between(0, 1000),
    "feature_critic_loss": between(0, 1000),
    "marginal_loss": between(0, 1000),
    "manner_loss": between(0, 1000),
    "manner_held_weight": between(0, 1000),
    "nearest_take_loss": between(0, 1e6),
    "nearest_takes": ((lambda v: isinstance(v, int) and 1 <= v <= 64), "a whole number from 1 to 64"),
    "nearest_take_view": ((lambda v: v in NEAREST_TAKE_VIEWS), " or ".join(NEAREST_TAKE_VIEWS)),
    "harmony_tracks": ((lambda v: v == "" or len(track_names(v)) >= 2),
                       "two or more track names separated by commas, or empty for every pitched track"),
    "harmony_anchors": ((lambda v: v == "" or len(track_names(v)) >= 1),
                        "track names separated by commas, or empty for none"),
}


def track_names(text: str) -> list[str]:
    """"Piano, Guitar,Strings" -> ["Piano", "Guitar", "Strings"] (blanks dropped)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _pitched_track_index(model_cfg: ModelConfig, name: str, flag: str) -> int:
    """The index of the pitched track `name` (any case); ValueError (one line) naming `flag` else."""
    pitched = [i for i, t in enumerate(model_cfg.tracks) if not t.is_drum]
    index = {t.name.lower(): i for i, t in enumerate(model_cfg.tracks)}.get(name.lower())
    if index is None or index not in pitched:
        known = ", ".join(model_cfg.tracks[i].name for i in pitched)
        raise ValueError(f"{flag}: {name!r} is not a pitched track of this model ({known})")
    return index


def harmony_track_indices(model_cfg: ModelConfig, names: str) -> list[int]:
    """The track indices the harmony term pulls together: the named ones ("": every pitched
    track). ValueError (one line) for a name the model has not, a drum track, or fewer than two."""
    if not names:
        return [i for i, t in enumerate(model_cfg.tracks) if not t.is_drum]
    chosen = []
    for name in track_names(names):
        index = _pitched_track_index(model_cfg, name, "--harmony-tracks")
        if index not in chosen:
            chosen.append(index)
    if len(chosen) < 2:
        raise ValueError("--harmony-tracks needs two or more different pitched tracks")
    return chosen


def harmony_anchor_indices(model_cfg: ModelConfig, names: str, pulled: list[int]) -> list[int]:
    """The track indices the harmony term holds (`harmony_anchors`), none of them among the
    `pulled` ones. ValueError (one line) for a name the model has not, a drum track, or a
    track both pulled and held."""
    held = []
    for name in track_names(names):
        index = _pitched_track_index(model_cfg, name, "--harmony-anchors")
        if index in pulled:
            raise ValueError(f"--harmony-anchors: {name!r} is also pulled (--harmony-tracks); "
                             "a track is either pulled or held")
        if index not in held:
            held.append(index)
    return held


def settings_problem(model_cfg: ModelConfig, train_cfg: TrainConfig) -> str | None:
    """The first setting of a training run that cannot train, as one line naming its flag
    ("--batch-size must be from 1 to 4096, not 0"), or None: the one check that both
    `bytes2beats train` (right after parsing) and the wizard (before it starts) make."""
    return train_cfg.problem(flag_of) or model_cfg.problem(flag_of)


class TrainingDiverged(RuntimeError):
    """The losses (or weights) became NaN or infinite: training stops, the last checkpoint stays."""


# ---------------------------------------------------------------------------------------
# The losses


def interpolates(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """Points on the segments between real and fake samples, one random mix per sample."""
    if eps is None:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    return eps * real + (1 - eps) * fake


def gradient_penalty(scores: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP's E[(||grad_x D(x)||_2 - 1)^2] at `points`, and the per-sample gradient norms."""
    (grads,) = torch.autograd.grad(scores.sum(), points, create_graph=True)
    norms = grads.flatten(1).float().norm(2, dim=1)  # (B,)
    return ((norms - 1) ** 2).mean(), norms


def critic_loss(critic: nn.Module, real, fake, genre=None, gp_lambda: float = 10.0, eps=None, chords=None) -> dict:
    """E[D(fake)] - E[D(real)] + lambda * GP, with real, fake and interpolates in one pass.

    One forward pass matters under DistributedDataParallel, which allows one per backward;
    the critic's layer norm keeps the samples of the joined batch independent.
    """
    b = real.shape[0]
    points = interpolates(real, fake, eps).requires_grad_(True)
    genres = None if genre is None else genre.repeat(3)
    if chords is None:
        scores = critic(torch.cat([real, fake, points]), genres).float()  # (3B,)
    else:  # real and fake are judged against the same chords: the real phrase's
        scores = critic(torch.cat([real, fake, points]), genres, chords.repeat(3, 1, 1)).float()
    s_real, s_fake, s_points = scores[:b], scores[b : 2 * b], scores[2 * b :]
    gp, _ = gradient_penalty(s_points, points)
    wasserstein = s_real.mean() - s_fake.mean()
    return {"loss": -wasserstein + gp_lambda * gp, "gp": gp, "wasserstein": wasserstein}


def binary_neurons(probabilities: torch.Tensor, kind: str) -> torch.Tensor:
    """Notes in the forward pass, the probabilities' gradient in the backward pass.

    BinaryMuseGAN's binary neurons (Dong & Yang, 2018) with the straight-through
    estimator: the critic judges the notes a user will get, 0 or 1 like the real data,
    rather than probabilities, so a stray note below any threshold it would have passed
    unseen is now a note the critic can hold against the generator. "deterministic"
    rounds at 0.5; "stochastic" draws each note with its probability.
    """
    if kind == "none":
        return probabilities
    p = probabilities.float()  # bf16 would round p + (notes - p) off 0 and 1
    if kind == "deterministic":
        notes = p >= 0.5
    elif kind == "stochastic":
        notes = torch.rand_like(p) < p
    else:
        raise ValueError(f"unknown binary neurons {kind!r}")
    return p + (notes.to(p.dtype) - p).detach()


def chord_fit_loss(fake: torch.Tensor, real: torch.Tensor, chords: torch.Tensor, pitched: list[int],
                   bass: int | None, lowest_pitch: int, steps_per_beat: int, match: bool = False,
                   match_bass: bool = False, bass_by_root: bool = False) -> torch.Tensor:
    """How far the generated phrases fall short of the real ones in fitting their chords:
    relu(real share - fake share) for the share of the pitched tracks' sounding mass on the
    beat's chord tones, and the same for the bass's mass on the chord's bass note. A hinge:
    it pulls the generator up to the real songs' fit, never past it (real players play
    passing notes). `match`: |real share - fake share|, pulled to the real fit from either
    side (a model that plays only chord tones, its bass only the root, is pulled back too).
    `match_bass`: the bass's share alone pulled from either side, the tones' a hinge as before
    (pulling the tones down too made the tracks agree less: docs/quality.md, "Session 16").
    `bass_by_root`: as `match_bass`, but the generated bass's share is taken per bass note
    (the chord's root, or its written bass) and each pulled to the real phrases' share over
    all of them, so that a bass on C is as often on the root as a bass on F#: one share over
    the batch let the keys part (72.8-93.5 % by key, session 16).
    Shares are the batch's, over the beats that have a chord; the real phrases are measured
    against the same chords, so the target moves with the data."""

    tones, bass_note = chords[..., :12], chords[..., 12:]  # (B, beats, 12) each
    has = tones.amax(-1, keepdim=True)  # (B, beats, 1): 1 where a chord is given

    def shares(x, by_root: bool = False):
        m = pitch_classes_per_beat(x, steps_per_beat, lowest_pitch)  # (B, T, beats, 12)
        mp = m[:, pitched]
        tone_share = (mp * tones[:, None] * has[:, None]).sum() / ((mp * has[:, None]).sum() + 1e-6)
        if bass is None:
            return tone_share, None
        mb = m[:, bass]
        on_note, sounding = (mb * bass_note * has).sum(-1), (mb * has).sum(-1)  # (B, beats)
        if not by_root:
            return tone_share, on_note.sum() / (sounding.sum() + 1e-6)
        # (12,): per bass note's pitch class, over the beats whose chord has it
        per_root = lambda v: (v[..., None] * bass_note).sum((0, 1))  # noqa: E731
        played = per_root(sounding)
        return tone_share, (per_root(on_note) / (played + 1e-6))[played > 0]

    fake_tones, fake_bass = shares(fake.float(), bass_by_root)
    with torch.no_grad():
        real_tones, real_bass = shares(real.float())
    gap = torch.abs if match else torch.relu
    loss = gap(real_tones - fake_tones)
    if fake_bass is not None:
        bass_gap = torch.abs if match or match_bass or bass_by_root else torch.relu
        loss = loss + bass_gap(real_bass - fake_bass).mean()
    return loss


def pairwise_tonal_distances(x: torch.Tensor, pitched: list[int], steps_per_bar: int,
                             lowest_pitch: int, pairs: list[tuple[int, int]] | None = None) -> torch.Tensor:
    """(B, T, S, P) -> (pairs,): per pair of pitched tracks (itertools.combinations order, or
    `pairs` of positions in `pitched`), the mean distance between their bars' tonal centroids
    over the bars where both sound, as engine/metrics.py's tonal_distance, differentiable in x."""
    # a bar's steps in place of a beat's: (B, k, bars, 12), C = 0
    per_bar = pitch_classes_per_beat(x[:, pitched], steps_per_bar, lowest_pitch)
    total = per_bar.sum(-1, keepdim=True)
    sounds = (total.detach() > 0).squeeze(-1)  # (B, k, bars)
    basis = torch.as_tensor(TONAL_CENTROID_BASIS, dtype=x.dtype, device=x.device)
    centroid = (per_bar / total.clamp(min=1e-6)) @ basis.T  # (B, k, bars, 6)
    distances = []
    for i, j in pairs if pairs is not None else itertools.combinations(range(len(pitched)), 2):
        both = (sounds[:, i] & sounds[:, j]).float()
        # the norm's square root kept off zero, where its gradient is not finite
        d = torch.sqrt(((centroid[:, i] - centroid[:, j]) ** 2).sum(-1) + 1e-8)
        distances.append((d * both).sum() / both.sum().clamp(min=1))
    return torch.stack(distances)


def harmony_gap(fake: torch.Tensor, real: torch.Tensor, pitched: list[int], steps_per_bar: int,
                lowest_pitch: int, anchors: list[int] | tuple = ()) -> torch.Tensor:
    """How much further apart the generated tracks are in harmony than the real phrases'
    tracks: the sum over pairs of pitched tracks of relu(fake TD - real TD), the tonal
    distances (Harte et al.) of the batch's phrases. A hinge, like the chord fit's: it pulls
    the tracks together up to the players' agreement, never into unisons past it.

    `anchors`: tracks each of `pitched` is also paired with, held where they are (no
    gradient reaches them), so that the pulled track moves toward the held one alone."""
    k = len(pitched)
    pairs = list(itertools.combinations(range(k), 2)) + [(i, k + j) for i in range(k) for j in range(len(anchors))]
    tracks = list(pitched) + list(anchors)
    fake = fake.float()
    if anchors:
        held = torch.zeros(fake.shape[1], dtype=torch.bool, device=fake.device)
        held[list(anchors)] = True
        fake = torch.where(held[None, :, None, None], fake.detach(), fake)
    fake_td = pairwise_tonal_distances(fake, tracks, steps_per_bar, lowest_pitch, pairs)
    with torch.no_grad():
        real_td = pairwise_tonal_distances(real.float(), tracks, steps_per_bar, lowest_pitch, pairs)
    return torch.relu(fake_td - real_td).sum()


def through_notes(notes: torch.Tensor) -> torch.Tensor:
    """Binary notes (straight-through) whose gradient reaches the cells that are notes alone:
    a term on them may take a note away, never add one. notes * notes is the notes."""
    return notes * notes.detach()


def bar_fill_gap(fake: torch.Tensor, real: torch.Tensor, steps_per_bar: int) -> torch.Tensor:
    """How far each track's share of bars with a note falls from the real phrases', summed
    over the tracks: |real share - generated share|, pulled from either side. A bar sounds
    where its loudest step-pitch does; on binary notes with straight-through gradients that
    maximum's gradient reaches the bar's probabilities (all of an empty bar's, alike)."""

    def filled(x):
        b, t, s, p = x.shape
        return x.reshape(b, t, s // steps_per_bar, steps_per_bar * p).amax(-1).mean((0, 2))  # (T,)

    fake_fill = filled(fake.float())
    with torch.no_grad():
        real_fill = filled(real.float())
    return torch.abs(real_fill - fake_fill).sum()


def pitch_classes_a_bar(x: torch.Tensor, tracks: list[int], steps_per_bar: int,
                        lowest_pitch: int) -> torch.Tensor:
    """(B, T, S, P) notes -> (k,): each of `tracks`' mean pitch classes in a bar where it sounds
    (UPC, as engine/metrics.py counts it). A pitch class counts once however often it sounds
    (its sum clamped at 1): on binary notes with straight-through gradients, an absent pitch
    class's cells take the gradient of a note that would add it, a present one's none."""
    per_bar = pitch_classes_per_beat(x[:, tracks], steps_per_bar, lowest_pitch)  # (B, k, bars, 12)
    sounds = (per_bar.detach().sum(-1) > 0).float()
    used = per_bar.clamp(max=1).sum(-1)
    return (used * sounds).sum((0, 2)) / sounds.sum((0, 2)).clamp(min=1)


def pitch_variety_gap(fake: torch.Tensor, real: torch.Tensor, tracks: list[int], steps_per_bar: int,
                      lowest_pitch: int) -> torch.Tensor:
    """How many fewer pitch classes a sounding bar the generated tracks play than the real
    phrases' tracks, summed over `tracks`: relu(real UPC - fake UPC). A hinge: a track that
    plays as many as the players, or more, is left alone."""
    fake_upc = pitch_classes_a_bar(fake.float(), tracks, steps_per_bar, lowest_pitch)
    with torch.no_grad():
        real_upc = pitch_classes_a_bar(real.float(), tracks, steps_per_bar, lowest_pitch)
    return torch.relu(real_upc - fake_upc).sum()


def bar_similarities(x: torch.Tensor, steps_per_bar: int, lowest_pitch: int) -> torch.Tensor:
    """(B, T, S, P) notes -> (B,): each phrase's bar similarity, as engine/metrics.py's
    phrase_self_similarity and bar_similarity count it but for octaves: a bar is each track's
    pitch classes present (an octave doubled counts once) and its steps with a note, the bars'
    cosine similarities averaged off the diagonal. The metrics sum a class over its octaves;
    a term on that sum rewarded adding a bar's pitch classes in more octaves, and a first run
    spread the bass over four (docs/quality.md "Session 21"). "Present" and "with a note" are
    maxima, so on binary notes with straight-through gradients the gradient reaches the cells
    that make them."""
    b, t, s, p = x.shape
    bars = s // steps_per_bar
    y = x[:, :, : bars * steps_per_bar].reshape(b, t, bars, steps_per_bar, p)
    classes = y.amax(3).reshape(b, t, bars, p // OCTAVE, OCTAVE).amax(3)  # the order of classes: no matter here
    features = torch.cat([classes, y.amax(4)], dim=3).transpose(1, 2).reshape(b, bars, -1)
    unit = features / features.norm(dim=2, keepdim=True).clamp(min=1e-6)
    similarity = unit @ unit.transpose(1, 2)
    off = ~torch.eye(bars, dtype=torch.bool, device=x.device)
    return similarity[:, off].mean(1)


def repetition_gap(fake: torch.Tensor, real: torch.Tensor, steps_per_bar: int, lowest_pitch: int) -> torch.Tensor:
    """How much less the generated phrases' bars repeat than the real phrases': relu(real mean
    bar similarity - generated). A hinge: phrases that repeat as much as the songs, or more,
    are left alone. Through the notes played alone (`through_notes`): bars come to repeat by
    losing the notes that set them apart, never by gaining notes; through every cell, a run
    added notes that made no bar like another and spread the bass over four octaves."""
    fake_similarity = bar_similarities(through_notes(fake.float()), steps_per_bar, lowest_pitch).mean()
    with torch.no_grad():
        real_similarity = bar_similarities(real.float(), steps_per_bar, lowest_pitch).mean()
    return torch.relu(real_similarity - fake_similarity)


def note_edges_in_beat(x: torch.Tensor, steps_per_beat: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, T, S, P) notes -> each track's share of note starts and of note ends (a note's last
    step) at each step of the beat, (T, steps_per_beat) each, and its share of notes a single
    step long, (T,). The starts' shares are engine/metrics.py's onset_positions over all the
    phrases. A start is a note where the step before has none (x[t] * (1 - x[t-1])), so on
    binary notes with straight-through gradients a start can move, appear or go."""
    pad = torch.nn.functional.pad
    before, after = pad(x[:, :, :-1], (0, 0, 1, 0)), pad(x[:, :, 1:], (0, 0, 0, 1))
    starts, ends = x * (1 - before), x * (1 - after)
    b, t, s, p = x.shape
    whole = s // steps_per_beat * steps_per_beat

    def in_beat(edges):
        per_step = edges[:, :, :whole].reshape(b, t, -1, steps_per_beat, p).sum((0, 2, 4))
        return per_step / per_step.sum(1, keepdim=True).clamp(min=1e-6)

    one_step = (starts * (1 - after)).sum((0, 2, 3)) / starts.sum((0, 2, 3)).clamp(min=1e-6)
    return in_beat(starts), in_beat(ends), one_step


def onset_gap(fake: torch.Tensor, real: torch.Tensor, steps_per_beat: int) -> torch.Tensor:
    """How far the generated tracks' rhythm in the beat lies from the real phrases': summed
    over tracks, |real share - generated share| of the note starts at each step of the beat,
    the same for the note ends, and for the notes a single step long. Either side counts. The
    starts alone were learned in one epoch by holding a note over the step where a start was
    too many: drums' hits grew longer, the pitched tracks' notes broke into fragments."""
    fake_edges = note_edges_in_beat(fake.float(), steps_per_beat)
    with torch.no_grad():
        real_edges = note_edges_in_beat(real.float(), steps_per_beat)
    return sum(torch.abs(r - f).sum() for r, f in zip(real_edges, fake_edges))


def pitch_spreads(x: torch.Tensor, tracks: list[int], lowest_pitch: int) -> torch.Tensor:
    """(B, T, S, P) notes -> (k,): each of `tracks`' spread of pitch over a phrase (the standard
    deviation of its sounding cells' pitches, as engine/two_sample.py's "pitch spread" counts
    it), the mean over the phrases where the track sounds."""
    cells = x[:, tracks].sum(2)  # (B, k, P)
    pitch = torch.arange(cells.shape[-1], device=x.device, dtype=x.dtype) + lowest_pitch
    total = cells.sum(-1)
    mean = (cells * pitch).sum(-1) / total.clamp(min=1e-6)
    variance = (cells * (pitch - mean.unsqueeze(-1).detach()) ** 2).sum(-1) / total.clamp(min=1e-6)
    sounds = (total.detach() > 0).float()
    spread = torch.sqrt(variance.clamp(min=0) + 1e-6)
    return (spread * sounds).sum(0) / sounds.sum(0).clamp(min=1)


def pitch_spread_gap(fake: torch.Tensor, real: torch.Tensor, tracks: list[int], lowest_pitch: int) -> torch.Tensor:
    """How much wider the generated tracks spread their pitches over a phrase than the real
    phrases' tracks, summed over `tracks`: relu(generated spread - real spread). A hinge: a
    track as narrow as the players, or narrower, is left alone. Through the notes played alone
    (`through_notes`): a track narrows by losing the notes far from the rest, never by adding
    notes at its middle (which would fill it)."""
    fake_spread = pitch_spreads(through_notes(fake.float()), tracks, lowest_pitch)
    with torch.no_grad():
        real_spread = pitch_spreads(real.float(), tracks, lowest_pitch)
    return torch.relu(fake_spread - real_spread).sum()


def starts_per_step(x: torch.Tensor, tracks: list[int]) -> torch.Tensor:
    """(B, T, S, P) notes -> (k,): each of `tracks`' note starts per sounding cell over the
    batch (one over its mean note length). A start is a note where the step before has none,
    so on binary notes with straight-through gradients the gradient fills a gap between two
    notes of a pitch, holds a note a step longer and takes a one-step note away."""
    y = x[:, tracks]
    before = torch.nn.functional.pad(y[:, :, :-1], (0, 0, 1, 0))
    starts = (y * (1 - before)).sum((0, 2, 3))
    return starts / y.sum((0, 2, 3)).clamp(min=1e-6)


def hold_gap(fake: torch.Tensor, real: torch.Tensor, tracks: list[int]) -> torch.Tensor:
    """How much shorter the generated tracks' notes are than the real phrases', as note starts
    per sounding cell, summed over `tracks`: relu(generated - real). A hinge: notes held as
    long as the players', or longer, are left alone."""
    fake_rate = starts_per_step(fake.float(), tracks)
    with torch.no_grad():
        real_rate = starts_per_step(real.float(), tracks)
    return torch.relu(fake_rate - real_rate).sum()


def term_decoder(model: str, generator: Generator) -> Composer:
    """The decoding of the model file `model` (name or path), as a Composer of that file's own
    generator (one for the `generator` being trained would put it in eval mode): what
    `decoded_straight_through` decodes by. ValueError (one line) for a file that cannot make
    clips or was made for other tracks, genres or steps."""
    try:
        composer = Composer.load(model, "cpu")
    except Exception as error:  # ModelFileError, FileNotFoundError: one line either way
        raise ValueError(f"--term-decoding {model}: {error}") from None
    mine, theirs = generator.cfg, composer.config
    if [t.name for t in theirs.tracks] != [t.name for t in mine.tracks] or theirs.genres != mine.genres or \
            (theirs.steps_per_beat, theirs.n_pitches) != (mine.steps_per_beat, mine.n_pitches):
        raise ValueError(f"--term-decoding {model}: made for other tracks, genres or steps than the trained model")
    return composer


def decoded_straight_through(composer, probabilities: torch.Tensor, genre: torch.Tensor | None) -> torch.Tensor:
    """(B, T, S, P) probabilities -> the notes `composer.decode` makes of them (each phrase at
    its genre's thresholds, hysteresis, bar gate, lines; not quantized: a moved onset would
    take its gradient to another cell), with the probabilities' gradient (straight-through)."""
    p = probabilities.detach().float().cpu().numpy()
    notes = np.zeros(p.shape, dtype=bool)
    names = composer.config.genres
    if genre is None or not names:
        notes[:] = composer.decode(p, quantize_strength=0)
    else:
        labels = genre.detach().cpu().numpy()
        for g in np.unique(labels):
            rows = labels == g
            notes[rows] = composer.decode(p[rows], genre=names[int(g)], quantize_strength=0)
    notes = torch.from_numpy(notes).to(probabilities.device, probabilities.dtype)
    return probabilities + (notes - probabilities).detach()


# The generator's parameters each `adapt` trains, by name prefix (None: all). "late": what
# turns its features into notes (the last time layer, self-attention, the note layers) and
# the genre rows; "style": the genre rows alone, so every genre's drums, bass and harmony stay
# the model's and the folder's songs choose among them.
ADAPTED = {"all": None, "late": ("genre_embedding", "attention.", "to_notes."), "style": ("genre_embedding",)}


def adapted_parameters(generator: nn.Module, adapt: str) -> list[str]:
    """The names of the generator's parameters that `adapt` trains (ADAPTED): the last of
    its time layers joins "late"'s."""
    names = [name for name, _ in generator.named_parameters()]
    prefixes = ADAPTED[adapt]
    if prefixes is None:
        return names
    if adapt == "late":
        time_layers = sorted({name.split(".")[1] for name in names if name.startswith("layers.")}, key=int)
        prefixes = (*prefixes, f"layers.{time_layers[-1]}.") if time_layers else prefixes
    return [name for name in names if name.startswith(prefixes)]


def _param_groups(net: nn.Module, lr: float, chord_scale: float, only: list[str] | None = None,
                  tie_scale: float = 1.0, manner_scale: float = 1.0, variety_scale: float = 1.0) -> list[dict]:
    """The network's parameters (`only` these names, the rest frozen) at `lr`, its chord
    layers (named chord_*) at lr * chord_scale, its bar tie at lr * tie_scale, its manner
    offsets (manner_to_*) at lr * manner_scale, a critic's variety score at lr * variety_scale."""
    trained = [(name, p) for name, p in net.named_parameters() if only is None or name in only]
    for name, p in net.named_parameters():
        p.requires_grad_(only is None or name in only)
    scales = {"chord_": chord_scale, "bar_tie": tie_scale, "manner_": manner_scale, "variety_": variety_scale}
    groups = [{"params": [p for name, p in trained if not name.startswith(tuple(scales))], "lr": lr}]
    for prefix, scale in scales.items():
        params = [p for name, p in trained if name.startswith(prefix)]
        if params:
            groups.append({"params": params, "lr": lr * scale})
    return groups


# ---------------------------------------------------------------------------------------
# Data on the device


def transpose_batch(x: torch.Tensor, shifts: torch.Tensor, drum_track: int | None = 0) -> torch.Tensor:
    """Shift each sample's pitched tracks by its own number of semitones (drums stay)."""
    k = int(shifts.abs().max()) if len(shifts) else 0
    if k == 0:
        return x
    padded = nn.functional.pad(x, (k, k))  # (B, T, S, P + 2k)
    out = x.clone()
    p = x.shape[-1]
    pitched = [t for t in range(x.shape[1]) if t != drum_track]
    for shift in shifts.unique().tolist():
        rows = (shifts == shift).nonzero().squeeze(1)
        start = k - shift  # shifting up by s reads from s below
        out[rows[:, None], torch.tensor(pitched)] = padded[rows][:, pitched, :, start : start + p]
    return out


def transpose_chords(chords: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Chord features (B, beats, 24) moved up by each sample's shift: both 12s roll."""
    idx = (torch.arange(12, device=chords.device)[None, :] - shifts[:, None]) % 12  # (B, 12)
    idx = idx[:, None, :].expand(-1, chords.shape[1], -1)
    return torch.cat([chords[..., :12].gather(2, idx), chords[..., 12:].gather(2, idx)], dim=2)


# ---------------------------------------------------------------------------------------
# The loop


def _finite_or_null(value):
    """JSON has no NaN or infinity: such a number is logged as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


class RunLog:
    """log.jsonl: one JSON line per batch, appended; every failure an OSError naming the file.

    A line cut off by a full disk or a kill is cut away when the log is opened again, so
    that the lines a resumed run appends stay lines of their own."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._cut_partial_line()
            self.handle = open(path, "a", encoding="utf-8")
        except OSError as error:
            raise self._error(error) from None

    def _cut_partial_line(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, "rb+") as handle:
            end = handle.seek(0, os.SEEK_END)
            position = end
            while position > 0:
                start = max(0, position - 65536)
                handle.seek(start)
                chunk = handle.read(position - start)
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    position = start + newline + 1
                    break
                position = start
            if position < end:
                handle.truncate(position)

    def _error(self, error: OSError) -> OSError:
        return OSError(f"could not write the log {self.path} ({os_reason(error)})")

    def write(self, record: dict) -> None:
        line = json.dumps({k: _finite_or_null(v) for k, v in record.items()}, allow_nan=False)
        try:
            self.handle.write(line + "\n")
        except OSError as error:
            raise self._error(error) from None

    def flush(self) -> None:
        try:
            self.handle.flush()
        except OSError as error:
            raise self._error(error) from None

    def close(self) -> None:
        """Closes the file even when its last flush fails: `flush()` at each epoch's end is
        where a failure is reported; what a stopped epoch logged after it does not count."""
        with contextlib.suppress(OSError):
            self.handle.close()


class Trainer:
    """Holds the models, optimizers and data; `fit()` runs epochs until done or told to stop."""

    def __init__(self, model_cfg: ModelConfig, train_cfg: TrainConfig, phrases: Phrases, paths: RunPaths,
                 device: torch.device, log: Callable[[str], None] | None = None):
        self.model_cfg, self.cfg, self.paths, self.device = model_cfg, train_cfg, paths, device
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        self.say = log or (lambda text: print(text, file=sys.stderr))
        torch.manual_seed(train_cfg.seed)
        self.generator = Generator(model_cfg).to(device)
        self.critic = Critic(model_cfg).to(device)
        betas = (train_cfg.beta1, train_cfg.beta2)
        self.opt_g = torch.optim.Adam(_param_groups(self.generator, train_cfg.g_lr, train_cfg.chord_lr_scale,
                                                    adapted_parameters(self.generator, train_cfg.adapt),
                                                    train_cfg.tie_lr_scale, train_cfg.manner_lr_scale), betas=betas)
        self.opt_d = torch.optim.Adam(_param_groups(self.critic, train_cfg.d_lr, train_cfg.chord_lr_scale,
                                                    variety_scale=train_cfg.variety_lr_scale), betas=betas)
        self.sched_g = torch.optim.lr_scheduler.StepLR(self.opt_g, train_cfg.lr_decay_every, train_cfg.lr_decay)
        self.sched_d = torch.optim.lr_scheduler.StepLR(self.opt_d, train_cfg.lr_decay_every, train_cfg.lr_decay)
        self.g_step, self.d_step = self.generator, self.critic
        if self.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.g_step = nn.parallel.DistributedDataParallel(self.generator, device_ids=ids)
            self.d_step = nn.parallel.DistributedDataParallel(self.critic, device_ids=ids)
        # The data stays compact (bits: engine/packed_rolls.py) and on the device; batches
        # are unpacked and become float there.
        self.phrases = phrases
        self.bits = torch.as_tensor(phrases.rolls.bits).to(device)
        self.n_pitches = phrases.rolls.n_pitches
        self.genres = torch.as_tensor(phrases.genre).clamp(min=0).to(device)
        self.chords = None
        if model_cfg.chords:  # each phrase's chords, extracted once (engine/chords.py)
            from .chords import phrases_chord_features

            self.chords = torch.as_tensor(phrases_chord_features(phrases, model_cfg)).to(device)
            self.chords_in_root_position = None
            if train_cfg.chord_bass_dropout > 0:
                self.chords_in_root_position = torch.as_tensor(
                    phrases_chord_features(phrases, model_cfg, root_position=True)).to(device)
        self.harmony_tracks = harmony_track_indices(model_cfg, train_cfg.harmony_tracks)
        self.harmony_anchors = harmony_anchor_indices(model_cfg, train_cfg.harmony_anchors, self.harmony_tracks)
        self.feature_critic = None  # the critic of phrase statistics (feature_critic_loss)
        if train_cfg.feature_critic_loss > 0:
            reference = torch.randperm(len(self.bits), generator=torch.Generator().manual_seed(train_cfg.seed))
            reference = unpack_torch(self.bits[reference[:STANDARDIZE_PHRASES].to(device)], self.n_pitches)
            self.feature_critic = FeatureCritic(model_cfg, reference).to(device)
            self.opt_f = torch.optim.Adam(self.feature_critic.parameters(), lr=train_cfg.d_lr, betas=betas)
        self.marginals = None  # the songs' statistics' distributions, per genre (marginal_loss)
        if train_cfg.marginal_loss > 0:
            self.marginals = self._marginals(model_cfg, train_cfg.seed).to(device)
        if model_cfg.manners:
            self._set_manners(train_cfg.seed)
        self.nearest_gaps = note_gaps  # how far a take lies from a real phrase (nearest_take_loss)
        if train_cfg.nearest_take_view == "harmony":
            self.nearest_gaps = HarmonyGaps(harmony_track_indices(model_cfg, ""),  # every pitched track
                                            model_cfg.n_steps // model_cfg.n_bars // 2, model_cfg.lowest_pitch)
        self.term_composer = None  # the decoding the training terms count notes by (term_decoding)
        if train_cfg.term_decoding:
            self.term_composer = term_decoder(train_cfg.term_decoding, self.generator)
        self.epoch = 0
        self.elapsed = 0.0
        self.trained_on: list[str] = []  # the devices that ran its epochs, a resumed run's too
        self.started_from: dict | None = None  # the checkpoint a warm start took its weights from
        self.amp = device.type == "cuda"

    def _marginals(self, cfg: ModelConfig, seed: int) -> StatisticsMarginals:
        """The marginal term's reference: up to MARGINAL_PHRASES training phrases of each genre."""
        order = torch.randperm(len(self.bits), generator=torch.Generator().manual_seed(seed)).to(self.device)
        labels = self.genres[order] if cfg.genres else torch.zeros_like(order)
        chosen = torch.cat([order[labels == g][:MARGINAL_PHRASES] for g in labels.unique()])
        with torch.no_grad():  # a few thousand phrases at a time would take gigabytes unpacked
            stats = torch.cat([phrase_statistics(unpack_torch(self.bits[part], self.n_pitches).float(), cfg)
                               for part in chosen.split(512)])
        return StatisticsMarginals(cfg, stats.cpu(), self.genres[chosen] if cfg.genres else None)

    def _set_manners(self, seed: int) -> None:
        """A manner model's scale and table of the songs' manners (engine/manner.py), from up to
        TABLE_PHRASES x 8 training phrases: kept in the generator, so its files draw from them."""
        cfg = self.model_cfg
        order = torch.randperm(len(self.bits), generator=torch.Generator().manual_seed(seed))[:8 * TABLE_PHRASES]
        order = order.to(self.device)
        with torch.no_grad():
            manners = torch.cat([phrase_manners(unpack_torch(self.bits[part], self.n_pitches).float(), cfg)
                                 for part in order.split(512)]).cpu()
        mean, scale = manner_scale(manners, cfg)
        genre = self.genres[order].cpu() if cfg.genres else None
        table = manner_table((manners - mean) / scale, genre, len(cfg.genres), seed, playing=manners[:, :, 0] > 0)
        for name, value in (("manner_mean", mean), ("manner_scale", scale), ("manner_table", table)):
            getattr(self.generator, name).copy_(value.to(self.device))

    def _manners(self, real: torch.Tensor) -> torch.Tensor | None:
        """A manner model's manners of a real batch, standardized: what the generator is asked
        to play (as chords and genres, each generated phrase takes one real phrase's)."""
        if not self.model_cfg.manners:
            return None
        g = self.generator
        return (phrase_manners(real, self.model_cfg) - g.manner_mean) / g.manner_scale

    # -- checkpoints ---------------------------------------------------------------------

    def state(self) -> dict:
        state = {
            "format": CHECKPOINT_FORMAT,
            "model_config": self.model_cfg.to_json(),
            "train_config": json.dumps(asdict(self.cfg)),
            "epoch": self.epoch,
            "elapsed": self.elapsed,
            "trained_on": self.trained_on,
            "started_from": json.dumps(self.started_from),
            "generator": self.generator.state_dict(),
            "critic": self.critic.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if self.feature_critic is not None:
            state["feature_critic"] = self.feature_critic.state_dict()
            state["opt_f"] = self.opt_f.state_dict()
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def save_checkpoint(self) -> None:
        """Written beside, synced, then renamed: a full disk or a kill leaves the last one whole.

        Serialized in memory first (a checkpoint is megabytes): torch's own file writer
        reports a full disk as "unexpected pos", ours as the OSError it is."""
        buffer = io.BytesIO()
        torch.save(self.state(), buffer)
        try:
            self.paths.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.paths.checkpoint, lambda handle: handle.write(buffer.getbuffer()))
            if self.cfg.keep_checkpoints:  # a second name for the same file: no copy
                kept = self.paths.kept_checkpoints / f"epoch_{self.epoch:04d}.pt"
                kept.parent.mkdir(exist_ok=True)
                kept.unlink(missing_ok=True)
                os.link(self.paths.checkpoint, kept)
        except OSError as error:
            raise OSError(f"could not write checkpoint {self.paths.checkpoint} ({os_reason(error)}); "
                          "the previous one is kept") from None

    def load_checkpoint(self, path: Path) -> None:
        """Continue the run of a checkpoint; ValueError (one line naming it) when it cannot be."""
        state = read_checkpoint(path)
        if ModelConfig.from_json(state["model_config"]) != self.model_cfg:
            raise ValueError(f"{path}: checkpoint is of another model configuration")
        try:
            # read_checkpoint checked the networks' weights; the rest is checked here, so that
            # what does not fit fails now, not in the middle of an epoch.
            for name in ("sched_g", "sched_d"):
                _check_like(state[name], getattr(self, name).state_dict(), name)
            self.generator.load_state_dict(state["generator"])
            self.critic.load_state_dict(state["critic"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            _check_optimizer(self.opt_g, "opt_g")
            _check_optimizer(self.opt_d, "opt_d")
            if self.feature_critic is not None and "feature_critic" in state:
                self.feature_critic.load_state_dict(state["feature_critic"])
                self.opt_f.load_state_dict(state["opt_f"])
                _check_optimizer(self.opt_f, "opt_f")
            self.sched_g.load_state_dict(state["sched_g"])
            self.sched_d.load_state_dict(state["sched_d"])
            torch.set_rng_state(state["rng_cpu"])
            if "rng_cuda" in state and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng_cuda"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
            raise ValueError(f"{path}: a damaged checkpoint ({reason})") from None
        self.epoch = int(state["epoch"])
        self.elapsed = float(state.get("elapsed", 0.0))
        # checkpoints written before devices were recorded had trained somewhere already
        self.trained_on = list(state.get("trained_on", ["unrecorded"] if self.epoch > 0 else []))
        self.started_from = json.loads(state.get("started_from", "null"))

    def warm_start(self, path: Path, like: str | None = None) -> None:
        """Begin from another run's weights (its checkpoint, or a model file that carries its
        critic: `read_fine_tuning_start`), with this run's own optimizers, schedule and
        settings: to fine-tune a trained model under a changed training (binary neurons,
        new data). The epochs count from 0; the source is recorded with the model. Genres the
        data adds start at the mean of the known ones, or as a copy of `like`'s. A five-family
        model may grow into seventeen families (engine/grow_tracks.py)."""
        state = read_fine_tuning_start(path) if is_model_file(path) else read_checkpoint(path)
        source = ModelConfig.from_json(state["model_config"])
        # The critic may gain its bar, onset, repetition and variety views, the generator its chords
        # and its bar tie (new branches, starting at zero); nothing else may change.
        views = {"critic_bar_statistics": "bar_", "critic_onset_statistics": "onset_",
                 "critic_repetition_statistics": "repetition_", "critic_batch_variety": "variety_",
                 "chords": "chord_", "bar_tie": "bar_tie", "manners": "manner_"}
        # A chord model may also gain its offsets per track and octave, copied from the shared ones.
        changes = [*views, "chord_register"]
        # New data may add genres after the checkpoint's own (train_run.fine_tuning_genres);
        # a model grown into more families keeps only the data's.
        grows_tracks = source.track_set != self.model_cfg.track_set
        if grows_tracks:
            changes.append("track_set")
        new_genres = bool(source.genres) and (grows_tracks or self.model_cfg.genres[:len(source.genres)] == source.genres)
        if new_genres:
            changes.append("genres")
        if replace(source, **{view: getattr(self.model_cfg, view) for view in changes}) != self.model_cfg:
            raise ValueError(f"{path}: checkpoint is of another model configuration")
        new = tuple(prefix for view, prefix in views.items()
                    if getattr(self.model_cfg, view) and not getattr(source, view))
        weights = {"generator": state["generator"], "critic": state["critic"]}
        if grows_tracks:
            try:
                weights = {"generator": grown_generator(weights["generator"], source, self.model_cfg),
                           "critic": grown_critic(weights["critic"], source, self.model_cfg)}
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
        if new_genres and self.model_cfg.genres != source.genres:
            weights = {name: genre_rows(w, source.genres, self.model_cfg.genres, like) for name, w in weights.items()}
        if self.model_cfg.chord_register and not source.chord_register:
            cfg = self.model_cfg
            weights["generator"] = registered_chord_weights(weights["generator"], cfg.n_tracks, cfg.n_pitches // 12)
        # The songs' manners: a model given manners now takes this run's data's (set when it
        # began); one that had them keeps the source's scale (its offsets learned on it) and
        # table, the genres the data adds drawing from this run's songs.
        data_manners = {name: b.clone() for name, b in self.generator.named_buffers() if name.startswith("manner_")}
        if source.manners and self.model_cfg.manners and not grows_tracks:
            weights["generator"] = {**weights["generator"], "manner_table": kept_manner_table(
                weights["generator"], source.genres, self.model_cfg.genres, data_manners)}
            data_manners = {}
        for name, net in (("generator", self.generator), ("critic", self.critic)):
            try:
                missing, unexpected = net.load_state_dict(weights[name], strict=False)
            except RuntimeError as error:  # a weight of another shape
                reason = (str(error).strip().splitlines() or ["?"])[-1].strip()[:120]
                raise ValueError(f"{path}: its {name} does not fit this one ({reason})") from None
            if unexpected or any(not key.startswith(new) for key in missing):
                raise ValueError(f"{path}: its {name} does not fit this one ({(unexpected or missing)[0]})")
        for name, value in data_manners.items():
            getattr(self.generator, name).copy_(value)
        self.started_from = {
            ("model" if is_model_file(path) else "checkpoint"): Path(path).name, "epoch": int(state["epoch"]),
            "seconds": round(float(state.get("elapsed", 0.0))), "trained_on": list(state.get("trained_on", [])),
            "train_config": json.loads(state["train_config"]),
            **({"like": like} if like else {}),
            **({"tracks_grown_from": source.track_set} if grows_tracks else {}),
        }

    # -- steps ---------------------------------------------------------------------------

    def _noise(self, b: int):
        cfg = self.model_cfg
        return (torch.randn(b, cfg.z_shared, device=self.device),
                torch.randn(b, cfg.n_tracks, cfg.z_track, device=self.device))

    def _autocast(self):
        if self.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batch(self, index: torch.Tensor):
        x = unpack_torch(self.bits[index], self.n_pitches).float()  # (B, T, S, P)
        if self.cfg.transpose:
            k = self.cfg.transpose
            shifts = torch.randint(-k, k + 1, (len(index),), device=self.device)
            x = transpose_batch(x, shifts)
        genre = self.genres[index] if self.model_cfg.genres else None
        chords = None
        if self.chords is not None:
            chords = self.chords[index].float()  # (B, beats, 24)
            if self.chords_in_root_position is not None:
                rooted = torch.rand(len(index), 1, 1, device=self.device) < self.cfg.chord_bass_dropout
                chords = torch.where(rooted, self.chords_in_root_position[index].float(), chords)
            if self.cfg.transpose:
                chords = transpose_chords(chords, shifts)
            if self.cfg.chord_dropout > 0:
                keep = torch.rand(len(index), 1, 1, device=self.device) >= self.cfg.chord_dropout
                chords = chords * keep
        return x, genre, chords

    def _critic_step(self, real, genre, chords=None) -> dict:
        with torch.no_grad(), self._autocast():
            probabilities = self.generator(*self._noise(real.shape[0]), genre, chords,
                                           manners=self._manners(real)).float()
        fake = binary_neurons(probabilities, self.cfg.binary_neurons)
        with self._autocast():
            losses = critic_loss(self.d_step, real, fake, genre, self.cfg.gp_lambda, chords=chords)
        self.opt_d.zero_grad(set_to_none=True)
        losses["loss"].backward()
        self.opt_d.step()
        if self.feature_critic is not None:
            if self.term_composer is not None:  # the phrases as the generator's term will count them
                fake = decoded_straight_through(self.term_composer, probabilities, genre)
            loss, losses["feature_critic_accuracy"] = feature_critic_loss(self.feature_critic, real, fake, genre,
                                                                          self.cfg.gp_lambda)
            self.opt_f.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_f.step()
        return losses

    def _generator_step(self, b: int, genre, chords=None, real=None) -> torch.Tensor:
        self.critic.requires_grad_(False)
        manners = None if real is None else self._manners(real)
        z_shared, z_track = self._noise(b)
        nearest = self.cfg.nearest_take_loss > 0 and real is not None
        if nearest:  # the takes nearest the real phrases, played in the same pass as the fakes
            with self._autocast():
                kept = nearest_noises(self.generator, self._noise, real, genre, chords, manners, self.cfg.nearest_takes,
                                      self.nearest_gaps)
            z_shared, z_track = torch.cat([z_shared, kept[0]]), torch.cat([z_track, kept[1]])
        with self._autocast():
            both = lambda t: t if t is None or not nearest else torch.cat([t, t])  # noqa: E731
            probabilities = self.g_step(z_shared, z_track, both(genre), both(chords), manners=both(manners)).float()
            if nearest:
                probabilities, takes = probabilities[:b], probabilities[b:]
            fake = binary_neurons(probabilities, self.cfg.binary_neurons)
            # The bare critic, not its DDP wrapper: its gradients are not wanted here.
            loss = -self.critic(fake, genre, chords).float().mean()
        if self.term_composer is not None:  # the terms count the notes as the user will hear them
            fake = decoded_straight_through(self.term_composer, probabilities, genre)
        cfg = self.model_cfg
        pitched = [i for i, t in enumerate(cfg.tracks) if not t.is_drum]  # the tracks the pitch terms weigh
        if chords is not None and self.cfg.chord_loss > 0 and real is not None:
            bass = next((i for i, t in enumerate(cfg.tracks) if t.name == "Bass"), None)
            # on the notes the critic is shown (with binary neurons: rounded, straight-through),
            # so that the hinge compares notes with notes and stops where the real songs' fit is
            loss = loss + self.cfg.chord_loss * chord_fit_loss(fake, real, chords, pitched, bass, cfg.lowest_pitch,
                                                               cfg.steps_per_beat, self.cfg.chord_fit == "match",
                                                               self.cfg.chord_fit == "bass-match",
                                                               self.cfg.chord_fit == "bass-by-root")
        if self.cfg.bar_fill_loss > 0 and real is not None:
            loss = loss + self.cfg.bar_fill_loss * bar_fill_gap(fake, real, cfg.n_steps // cfg.n_bars)
        if self.cfg.pitch_variety_loss > 0 and real is not None:
            loss = loss + self.cfg.pitch_variety_loss * pitch_variety_gap(fake, real, pitched, cfg.n_steps // cfg.n_bars,
                                                                          cfg.lowest_pitch)
        if self.cfg.repetition_loss > 0 and real is not None:
            loss = loss + self.cfg.repetition_loss * repetition_gap(fake, real, cfg.n_steps // cfg.n_bars, cfg.lowest_pitch)
        if self.cfg.onset_loss > 0 and real is not None:
            loss = loss + self.cfg.onset_loss * onset_gap(fake, real, cfg.steps_per_beat)
        if self.cfg.spread_loss > 0 and real is not None:
            loss = loss + self.cfg.spread_loss * pitch_spread_gap(fake, real, pitched, cfg.lowest_pitch)
        if self.cfg.hold_loss > 0 and real is not None:
            loss = loss + self.cfg.hold_loss * hold_gap(fake, real, pitched)
        if self.feature_critic is not None:
            self.feature_critic.requires_grad_(False)
            loss = loss + self.cfg.feature_critic_loss * feature_generator_loss(self.feature_critic, fake, genre)
            self.feature_critic.requires_grad_(True)
        if self.marginals is not None:
            loss = loss + self.cfg.marginal_loss * self.marginals(fake, genre)
        if manners is not None and self.cfg.manner_loss > 0:
            g = self.generator
            loss = loss + self.cfg.manner_loss * manner_gap(fake, manners, cfg, g.manner_mean, g.manner_scale,
                                                            self.cfg.manner_held_weight)
        if self.cfg.harmony_loss > 0 and real is not None:
            played = through_notes(fake) if self.cfg.harmony_notes_only else fake
            loss = loss + self.cfg.harmony_loss * harmony_gap(played, real, self.harmony_tracks,
                                                              cfg.n_steps // cfg.n_bars, cfg.lowest_pitch,
                                                              self.harmony_anchors)
        if nearest:
            played = binary_neurons(takes, self.cfg.binary_neurons)
            loss = loss + self.cfg.nearest_take_loss * nearest_take_gap(played, real, self.nearest_gaps)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.critic.requires_grad_(True)
        return loss

    def steps_per_epoch(self) -> int:
        full = len(self.bits) // (self.cfg.batch_size * self.world)
        return max(1, min(full, self.cfg.steps_per_epoch) if self.cfg.steps_per_epoch else full)

    def run_epoch(self, on_batch: Callable[[int, int, dict], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> bool:
        """One epoch; False when stopped part-way (the epoch then does not count)."""
        self.generator.train()
        self.critic.train()
        order = torch.randperm(len(self.bits), generator=torch.Generator().manual_seed(self.cfg.seed * 100003 + self.epoch))
        order = order.to(self.device)
        n, b = self.steps_per_epoch(), self.cfg.batch_size
        g_loss = None  # until the first generator step
        for step in range(n):
            if should_stop and should_stop():
                return False
            first = (step * self.world + self.rank) * b
            real, genre, chords = self._batch(order[first : first + b])
            losses = self._critic_step(real, genre, chords)
            if (step + 1) % self.cfg.n_critic == 0:
                g_loss = self._generator_step(b, genre, chords, real)
            # one copy from the device for the four numbers, on every rank: each must see a NaN
            values = [losses["loss"], losses["gp"], losses["wasserstein"]] + ([] if g_loss is None else [g_loss])
            numbers = torch.stack([v.detach().float() for v in values]).tolist()
            record = {"epoch": self.epoch + 1, "batch": step + 1, "d_loss": numbers[0],
                      "g_loss": numbers[3] if g_loss is not None else None, "gp": numbers[1], "wasserstein": numbers[2]}
            if "feature_critic_accuracy" in losses:  # how often the phrase-statistics critic tells them apart
                record["feature_critic_accuracy"] = float(losses["feature_critic_accuracy"])
            if on_batch:
                on_batch(step, n, record)  # logged with null for a NaN, before training stops
            bad = [k for k in ("d_loss", "g_loss", "gp", "wasserstein")
                   if record[k] is not None and not math.isfinite(record[k])]
            if bad:
                raise TrainingDiverged(self._diverged(f"{' and '.join(bad)} became NaN or infinite at epoch "
                                                      f"{self.epoch + 1}, batch {step + 1}"))
        self.sched_g.step()
        self.sched_d.step()
        self.epoch += 1
        return True

    def _diverged(self, what: str) -> str:
        kept = (f"the last checkpoint ({self.paths.checkpoint}) is kept: --warm-start from it with lower "
                "learning rates (--g-lr, --d-lr)") if self.paths.checkpoint.exists() else \
            "no checkpoint had been written: try lower learning rates (--g-lr, --d-lr)"
        return f"training diverged: {what}; {kept}"

    def weights_are_finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for net in (self.generator, self.critic)
                   for t in net.state_dict().values() if t.is_floating_point())

    def sample(self, count: int = 8, seed: int = 1234) -> list:
        """Clips from fixed noise, so samples across epochs are comparable. The random state
        is left as it was: a run resumed from the epoch's checkpoint, which does not sample
        that epoch again, goes on exactly as the one that did."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            decoding = calibrate_decoding(self.generator, self.phrases, samples=32)
            composer = Composer(self.generator, decoding, self.paths.model.stem)
            clips = composer.generate(seed=seed, count=count)
        self.generator.train()
        return clips

    def write_samples(self) -> Path:
        """The epoch's sample clip (samples/epoch_NNNN.mid) and sheet (.png), each whole or
        not there at all; an OSError naming the file that could not be written."""
        from .music_io import MusicFileError, write_midi

        clips = self.sample()
        stem = self.paths.samples / f"epoch_{self.epoch:04d}"
        midi, sheet = stem.with_suffix(".mid"), stem.with_suffix(".png")
        try:
            self.paths.samples.mkdir(parents=True, exist_ok=True)
            write_midi(clips[0], midi)
            atomic_write(sheet, lambda handle: pianoroll_sheet(clips).save(handle, format="PNG"))
        except MusicFileError as error:
            raise OSError(f"could not write sample {midi}: {error.reason}") from None
        except OSError as error:
            where = sheet if midi.exists() else self.paths.samples
            raise OSError(f"could not write sample {where} ({os_reason(error)})") from None
        return sheet

    def fit(self, should_stop: Callable[[], bool] | None = None, show_progress: bool = True) -> bool:
        """Train up to `cfg.epochs`; True when finished, False when stopped (checkpoint kept)."""
        leader = self.rank == 0
        log = None
        if leader:
            try:
                self.paths.folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OSError(f"could not make the run folder {self.paths.folder} ({os_reason(error)})") from None
            log = RunLog(self.paths.log)
        bar = ProgressBar(self.cfg.epochs, self.steps_per_epoch(), self.epoch) if leader and show_progress else None

        def on_batch(step: int, n: int, record: dict) -> None:
            if log:
                record["time"] = round(self.elapsed + time.monotonic() - started, 3)
                log.write(record)
            if bar:
                bar.update(self.epoch, step + 1, record)

        try:
            while self.epoch < self.cfg.epochs:
                started = time.monotonic()
                finished = self.run_epoch(on_batch, should_stop)
                self.elapsed += time.monotonic() - started
                if finished and describe_device(self.device) not in self.trained_on:
                    self.trained_on.append(describe_device(self.device))
                if not finished:
                    return False
                if not leader:
                    continue
                # Each write fails with one line naming its file (an OSError), leaving the last
                # good checkpoint whole: the log first (a run stops on a disk that is full
                # before it writes anything else), then the checkpoint, then the samples.
                log.flush()
                last = self.epoch == self.cfg.epochs
                if self.epoch % self.cfg.checkpoint_every == 0 or last:
                    if not self.weights_are_finite():  # never a checkpoint of NaN weights
                        raise TrainingDiverged(self._diverged(f"the weights became NaN or infinite in epoch {self.epoch}"))
                    self.save_checkpoint()
                if self.epoch % self.cfg.sample_every == 0 or last:
                    # A sample is a look at the progress, not the product: one that cannot be
                    # written is skipped with a line and training goes on. A disk that stays full
                    # stops the run at its next log flush or checkpoint, which are what a resumed
                    # run needs (and this epoch's checkpoint is already written).
                    try:
                        self.write_samples()
                    except OSError as error:
                        self.say(f"\n{error}; skipped, training goes on")
            return True
        finally:
            if log:
                log.close()
            if bar:
                bar.close()


# What a checkpoint must hold, and of which type: a file without one of them cannot resume.
CHECKPOINT_ENTRIES = {
    "model_config": str, "train_config": str, "epoch": int, "generator": dict, "critic": dict,
    "opt_g": dict, "opt_d": dict, "sched_g": dict, "sched_d": dict, "rng_cpu": torch.Tensor,
}


def read_checkpoint(path: str | Path) -> dict:
    """A training checkpoint, loaded without unpickling arbitrary objects, and checked: every
    entry there and of its type, its configs usable (`problem()`), its networks' weights of
    the names and shapes its model config makes, and finite. Anything else is a ValueError
    of one line naming the file."""
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols on the way to refusing
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run the file's code
        raise ValueError(f"{path}: not a Bytes to Beats checkpoint: it holds Python objects, not only "
                         "tensors and numbers, and Bytes to Beats never unpickles code") from None
    except Exception as error:  # noqa: BLE001 - a hostile file can make the reader raise anything
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:100]
        raise ValueError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a Bytes to Beats training checkpoint")
    for key, kind in CHECKPOINT_ENTRIES.items():
        if key not in state:
            raise ValueError(f"{path}: a damaged checkpoint: it has no {key}")
        if not isinstance(state[key], kind) or (kind is int and isinstance(state[key], bool)):
            raise ValueError(f"{path}: a damaged checkpoint: its {key} is a {type(state[key]).__name__}")
    if state["epoch"] < 0:
        raise ValueError(f"{path}: a damaged checkpoint: its epoch is {state['epoch']}")
    configs = {}
    for key, cls in (("model_config", ModelConfig), ("train_config", TrainConfig)):
        try:
            configs[key] = cls.from_json(state[key])
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: its {key} cannot be read ({str(error)[:100]})") from None
        problem = configs[key].problem()
        if problem:
            raise ValueError(f"{path}: its {key} cannot train: {problem}")
    with torch.device("meta"):  # the shapes its config makes, with no memory taken
        nets = {"generator": Generator(configs["model_config"]), "critic": Critic(configs["model_config"])}
    for name, net in nets.items():
        weights = state[name]
        expected = net.state_dict()
        for key in sorted(set(expected) | set(weights)):
            if key not in weights or key not in expected:
                where = "is missing" if key in expected else "is not in its model config's network"
                raise ValueError(f"{path}: a damaged checkpoint: its {name} weight {key} {where}")
            tensor = weights[key]
            if not isinstance(tensor, torch.Tensor) or tensor.shape != expected[key].shape:
                raise ValueError(f"{path}: a damaged checkpoint: its {name} weight {key} is not of the shape "
                                 f"its model config makes ({list(expected[key].shape)})")
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError(f"{path}: its {name} weight {key} holds NaN or infinite numbers")
    for key, kind in (("elapsed", (int, float)), ("trained_on", list), ("started_from", str)):
        if key in state and not isinstance(state[key], kind):
            raise ValueError(f"{path}: a damaged checkpoint: its {key} is a {type(state[key]).__name__}")
    try:
        json.loads(state.get("started_from", "null"))
    except ValueError:
        raise ValueError(f"{path}: a damaged checkpoint: its started_from is not JSON") from None
    return state


def read_fine_tuning_start(path: str | Path) -> dict:
    """What a warm start needs from a model file, in a checkpoint's own entries: its config,
    its generator and the critic it carries (engine/model.py: `save_model`), the epochs and
    settings it was trained with. A ValueError of one line for a model that cannot be
    read, or that carries no critic (a model written before models kept theirs)."""
    from .model import ModelFileError, load_critic_weights, load_model

    try:
        generator, meta = load_model(path, "cpu")
    except (OSError, ModelFileError) as error:
        raise ValueError(str(error)) from None
    critic = load_critic_weights(path)
    if critic is None:
        raise ValueError(f"{path}: this model carries no critic, so it cannot be fine-tuned (it was written before "
                         "models kept theirs): train --from-scratch, or --warm-start from its run's checkpoint.pt")
    trained = meta.get("trained") if isinstance(meta.get("trained"), dict) else {}
    return {
        "model_config": generator.cfg.to_json(), "generator": generator.state_dict(), "critic": critic,
        "epoch": int(trained.get("epochs", 0)), "elapsed": float(trained.get("seconds", 0.0)),
        "trained_on": [trained["device"]] if trained.get("device") else [],
        "train_config": json.dumps(trained.get("train_config") or {}),
    }


def _check_like(theirs: dict, ours: dict, name: str) -> None:
    """A scheduler's state must have our scheduler's entries, each of the same type: its
    load_state_dict takes any dict as its attributes."""
    if set(theirs) != set(ours):
        raise ValueError(f"its {name} has other entries than a scheduler's")
    for key, value in ours.items():
        number = (int, float)
        same = isinstance(theirs[key], number) if isinstance(value, number) else type(theirs[key]) is type(value)
        if not same or isinstance(theirs[key], bool) != isinstance(value, bool):
            raise ValueError(f"its {name} entry {key} is a {type(theirs[key]).__name__}")
        if isinstance(value, float) and not math.isfinite(theirs[key]):
            raise ValueError(f"its {name} entry {key} is not a finite number")


def _check_optimizer(optimizer: torch.optim.Optimizer, name: str) -> None:
    """After load_state_dict: Adam's moments must be of their parameters' shapes (torch
    finds out only at the next step, in the middle of an epoch)."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for key, value in optimizer.state.get(parameter, {}).items():
                if key in ("exp_avg", "exp_avg_sq") and (not isinstance(value, torch.Tensor) or value.shape != parameter.shape):
                    raise ValueError(f"its {name} state {key} does not fit its parameters")


def generator_from_checkpoint(state: dict) -> Generator:
    """The generator of a training checkpoint (from `read_checkpoint`), in eval mode."""
    generator = Generator(ModelConfig.from_json(state["model_config"]))
    generator.load_state_dict(state["generator"])
    return generator.eval()


def checkpoint_composer(path: str | Path, decoded_like: Composer) -> Composer:
    """A training checkpoint's generator with a model file's decoding: to screen a checkpoint
    as the file it would become decodes (its shape may have grown, e.g. a bar tie)."""
    state = read_checkpoint(path)
    generator = generator_from_checkpoint(state).to(decoded_like.device)
    return Composer(generator, decoded_like.meta, f"{path} decoded as {decoded_like.name}")


def genre_rows(weights: dict, known: list[str], genres: list[str], like: str | None = None) -> dict:
    """A network's weights with its genre tables (the generator's embedding, the critic's
    projections) made `genres`' rows from those of `known`: a known genre keeps its row, and
    a new one starts at the mean of the known ones, a style between them that fine-tuning
    moves toward the new songs, or as a copy of `like`'s row (a genre the user says their
    songs are most like: train --like). Known genres left out of `genres` are dropped (a
    model grown into more families keeps only its folder's genres)."""
    out = dict(weights)
    for key, table in weights.items():
        # (a manner model's table of the songs' manners per genre: a new genre's rows are
        # then made its songs', in warm_start)
        if key.endswith(("genre_embedding.weight", "genre_projection.weight")) or key == "manner_table":
            start = table[known.index(like)] if like in known else table.mean(0)
            out[key] = torch.stack([table[known.index(g)] if g in known else start for g in genres])
    return out


def kept_manner_table(source: dict, known: list[str], genres: list[str], data: dict) -> torch.Tensor:
    """A fine-tuned manner model's table of the songs' manners (genres, rows, T, manners),
    standardized by the source's scale: a genre the source knew keeps its rows (`source`: the
    source generator's weights, its table already in `genres`' order: genre_rows), one the data
    adds takes this run's songs' (`data`: this run's manner_mean, manner_scale, manner_table)."""
    mean, scale = source["manner_mean"], source["manner_scale"]
    ours = (data["manner_table"] * data["manner_scale"] + data["manner_mean"] - mean) / scale
    table = source["manner_table"].clone()
    added = [k for k, g in enumerate(genres) if g not in known]
    table[added] = ours[added]
    return table


def _most_common_genre(phrases: Phrases) -> str | None:
    labelled = phrases.genre[phrases.genre >= 0]
    return phrases.genres[int(np.bincount(labelled).argmax())] if len(labelled) else None


DECODING_KEYS = ("threshold", "hold_ratio", "track_scales", "monophonic", "onset_prior", "onset_spread", "repeats",
                 "bar_gate", "register", "home_keys", "feel", "kit", "straight_sixteenths", "straight_eighths",
                 "repeat_bars")
# Per genre, numbers alike in every genre: a genre the source never saw may take their mean.
PER_GENRE_DECODING = ("track_scales", "onset_prior", "onset_spread", "bar_gate", "register", "kit", "straight_sixteenths",
                      "straight_eighths", "repeat_bars")


def kept_decoding(source: dict, genres: list[str], like: str | None = None) -> dict:
    """Another model's decoding entries (`source`: its file's metadata) for a model of
    `genres`: each genre the source fitted keeps its own; a genre it never saw (a user's
    folder fine-tuned into a genre of its own) takes `like`'s, or the mean of the source's.
    Measured: fitted on 40 songs alone, the decoding cost 3 of 27 targets against held-out
    songs that the source's decoding meets (docs/model.md, "Fine-tuning on your own songs")."""
    kept = {key: source[key] for key in DECODING_KEYS if key in source}
    for key in PER_GENRE_DECODING:
        fitted = kept.get(key) or {}
        if not fitted:
            continue
        mean = np.mean([np.asarray(v, dtype=float) for v in fitted.values()], axis=0).round(6).tolist()
        start = fitted.get(like, mean)
        kept[key] = {genre: fitted.get(genre, start) for genre in (genres or [""])}
    if kept.get("feel"):  # a feel is one phrase's timing, not a number to average: a new genre's are drawn from all
        feels, wanted = kept["feel"], genres or [""]
        start = feels.get(like) or (mixed_feels(list(feels.values())) if set(wanted) - set(feels) else None)
        kept["feel"] = {genre: feels.get(genre, start) for genre in wanted}
    return kept


def mixed_feels(packed: list[dict]) -> dict:
    """Feels for a genre between the given ones (each a genre's packed feels, engine/feel.py):
    an equal share of each genre's, in their order (drawn at random when they were fitted), as
    many as one genre keeps. Each stays one song's timing, so a phrase is as tight or as loose
    as a song of one of the genres was, never an average of songs."""
    from .feel import pack_feels, unpack_feels

    tables = [unpack_feels(p) for p in packed]
    share = max(1, max(len(t) for t in tables) // len(tables))
    return pack_feels(np.concatenate([t[:share] for t in tables]))


def calibration_samples(n_phrases: int) -> int:
    """Generated phrases to fit a decoding with: SAMPLES (engine/calibrate.py), or four for
    each of a small folder's phrases (at least 256): the data's own densities, from a few
    dozen phrases, are the rougher estimate of the two then, and a 17-family model's fit
    costs over three times a five-family one's."""
    return min(SAMPLES, max(256, 4 * n_phrases))


def fitted_home_keys(generator: Generator, phrases: Phrases, decoding: dict) -> list[str]:
    """A chord model's home keys, measured in its most common genre (engine/key_homing.py)."""
    from .key_homing import PHRASES_PER_KEY, fit_home_keys

    genre = _most_common_genre(phrases) if generator.cfg.genres else None
    was_training = generator.training
    try:  # a small folder's model is measured on fewer phrases a key: its fit takes seconds
        return fit_home_keys(Composer(generator, decoding), genre, min(PHRASES_PER_KEY, max(8, len(phrases) // 10)))
    finally:
        generator.train(was_training)


def finish(trainer: Trainer, phrases: Phrases, data_note: str, decoding: dict | None = None) -> Path:
    """Write the trained generator with its decoding fitted to the data (engine/calibrate.py),
    or `decoding` kept from another model (`kept_decoding`), and a note of its training."""
    progressions = phrase_progressions(phrases, trainer.model_cfg) if trainer.model_cfg.chords else None
    like = (trainer.started_from or {}).get("like")
    fitted = kept_decoding(decoding, trainer.model_cfg.genres, like) if decoding is not None else \
        calibrate_decoding(trainer.generator, phrases, calibration_samples(len(phrases)), hold_ratio=HOLD_RATIO,
                           progressions=progressions)
    if decoding is None and progressions:  # the keys it plays as its songs do (engine/key_homing.py)
        fitted["home_keys"] = fitted_home_keys(trainer.generator, phrases, {**fitted, "progressions": progressions})
    extra = {
        **fitted,
        **({"progressions": progressions} if progressions else {}),
        "default_genre": _most_common_genre(phrases),
        "trained": {
            "epochs": trainer.epoch, "seconds": round(trainer.elapsed), "phrases": len(phrases),
            "data": data_note, "device": " + ".join(trainer.trained_on) or str(trainer.device),
            "train_config": asdict(trainer.cfg),
            "started_from": trainer.started_from,
            **({"decoding_from": decoding.get("name")} if decoding is not None else {}),
        },
    }
    try:
        trainer.paths.model.parent.mkdir(parents=True, exist_ok=True)
        return save_model(trainer.generator, trainer.paths.model, extra, critic=trainer.critic)
    except OSError as error:
        raise OSError(f"could not write the model {trainer.paths.model} ({os_reason(error)})") from None


class ProgressBar:
    """One terminal line: epoch, a bar, losses and the time left."""

    def __init__(self, epochs: int, steps: int, start_epoch: int = 0, stream=sys.stderr):
        self.epochs, self.steps, self.stream = epochs, steps, stream
        self.start = time.monotonic()
        self.done_at_start = start_epoch * steps
        self.last = 0.0

    def update(self, epoch: int, step: int, record: dict) -> None:
        now = time.monotonic()
        total = self.epochs * self.steps
        done = epoch * self.steps + step
        if now - self.last < 0.5 and done < total:
            return
        self.last = now
        rate = (done - self.done_at_start) / max(now - self.start, 1e-6)
        eta = (total - done) / rate if rate > 0 else 0
        filled = int(30 * done / total)
        self.stream.write(
            f"\repoch {epoch + 1}/{self.epochs} [{'#' * filled}{'.' * (30 - filled)}] "
            f"D {record['d_loss']:+.3f} G {record['g_loss'] or 0:+.3f} W {record['wasserstein']:+.3f} "
            f"ETA {int(eta // 60):d}:{int(eta % 60):02d} "
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
