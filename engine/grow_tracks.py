"""A five-family model grown into a seventeen-family one, as the start of its training.

LPD-5 is LPD-17 merged: its Drums, Piano, Guitar and Bass are one LPD-17 family each, and
its Strings are the other twelve together (engine/families.py). So a 17-family network can
begin where a 5-family one is, each of its tracks as the 5-family track it was merged into:

- the generator draws every track with one network told which by a learned embedding
  (engine/model.py: `Generator`): each new track's row is its LPD-5 family's, so organ,
  brass, pads... all begin as the model's strings and training tells them apart;
- the critic reads tracks as input channels: each new channel gets its LPD-5 channel's
  weights, divided by the square root of the copies made of them, so that its input
  gradient (which the gradient penalty holds at norm one) begins as it was. Copied whole,
  the twelve copies of the strings' weights began the penalty in the thousands; divided,
  the critic reads one of the twelve alone as about a third of the strings it was, and
  learns from there what each is. Its bar, onset and chord views read per-track numbers
  in the same way and grow alike.

Everything else is shared by the tracks and kept as it is. Used by `Trainer.warm_start`
when a run asks a five-family model for seventeen families (`train --tracks 17`).
"""

from __future__ import annotations

import torch

from .families import family_tracks, merged_families
from .model import OCTAVE, ModelConfig


def track_sources(old: int, new: int) -> list[int]:
    """For each track of the `new` track set, the track of the `old` one it was merged into
    (the identity when they are the same set)."""
    if old == new:
        return list(range(new))
    if old != 5:
        raise ValueError(f"a model of {old} families cannot grow into {new}: only five grow, into seventeen")
    return merged_families(new, old)


def _pitched_sources(old: int, new: int) -> list[int]:
    """`track_sources` over the pitched tracks alone (the chord view reads only those)."""
    old_pitched = [i for i, t in enumerate(family_tracks(old)) if not t.is_drum]
    sources = track_sources(old, new)
    return [old_pitched.index(sources[i]) for i, t in enumerate(family_tracks(new)) if not t.is_drum]


def _grow_axis(tensor: torch.Tensor, axis: int, n_old: int, sources: list[int], start: int = 0,
               length: int | None = None, split: bool = False) -> torch.Tensor:
    """`tensor` with the span of `axis` from `start` (all of it after, by default) read as
    n_old blocks of equal size, one per old track, made into one block per new track
    (`sources[i]`: the old block new track i copies). `split`: a block copied k times is
    divided by sqrt(k) in each copy, so that the weights' norm stays as it was (a critic's
    input weights: its gradient's norm, which the gradient penalty holds at one, begins
    where it was; copied whole, twelve copies of the strings' weights began the penalty
    at thousands)."""
    span = tensor.shape[axis] - start if length is None else length
    block = span // n_old
    head, part, tail = tensor.split([start, span, tensor.shape[axis] - start - span], dim=axis)
    shape = list(part.shape)
    blocks = part.reshape(shape[:axis] + [n_old, block] + shape[axis + 1:])
    grown = blocks.index_select(axis, torch.tensor(sources))
    if split:
        copies = torch.bincount(torch.tensor(sources), minlength=n_old)[sources].to(grown.dtype)
        grown = grown / copies.sqrt().view([-1 if a == axis else 1 for a in range(grown.dim())])
    grown = grown.reshape(shape[:axis] + [len(sources) * block] + shape[axis + 1:])
    return torch.cat([head, grown, tail], dim=axis)


def grown_generator(weights: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """The generator's weights of `old` as those of `new`, which has more tracks."""
    sources = track_sources(old.track_set, new.track_set)
    grown = dict(weights)
    grown["track_embedding.weight"] = _grow_axis(weights["track_embedding.weight"], 0, old.n_tracks, sources)
    if old.chord_register:  # the chord offsets are per track: (tracks x channels [x octaves]) outputs
        for key in [k for k in weights if k.startswith(("chord_to_beats.", "chord_to_octaves."))]:
            grown[key] = _grow_axis(weights[key], 0, old.n_tracks, sources)
    if old.bar_tie:  # a share per track and channel
        grown["bar_tie"] = _grow_axis(weights["bar_tie"], 0, old.n_tracks, sources)
    if old.manners:  # offsets per track and channel, the songs' manners per track
        per_track = [k for k in weights if k.startswith(("manner_to_bars.", "manner_to_beats."))]
        for key in [*per_track, "manner_mean", "manner_scale"]:
            grown[key] = _grow_axis(weights[key], 0, old.n_tracks, sources)
        grown["manner_table"] = _grow_axis(weights["manner_table"], 2, old.n_tracks, sources)
    return grown


def grown_critic(weights: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """The critic's weights of `old` as those of `new`, which has more tracks (input channels)."""
    sources = track_sources(old.track_set, new.track_set)
    grown = dict(weights)
    grown["layers.0.0.weight"] = _grow_axis(weights["layers.0.0.weight"], 1, old.n_tracks, sources, split=True)
    for view in ("bar_statistics", "onset_statistics"):  # numbers per track, in track order
        key = f"{view}.features.0.weight"
        if key in weights:
            grown[key] = _grow_axis(weights[key], 1, old.n_tracks, sources, split=True)
    key = "chord_statistics.per_beat.0.weight"  # each pitched track's 12 pitch classes, then the chord's
    if key in weights:
        pitched = _pitched_sources(old.track_set, new.track_set)
        n_old = len(family_tracks(old.track_set)) - 1
        grown[key] = _grow_axis(weights[key], 1, n_old, pitched, 0, n_old * OCTAVE, split=True)
    return grown
