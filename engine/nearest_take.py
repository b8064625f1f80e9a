"""The nearest-take term: each real phrase of a batch pulls the nearest of a few phrases drawn
for it toward itself (implicit maximum likelihood estimation, Li and Malik 2019).

The critic and every term before this one compare batches: a statistic's mean or spread, a
phrase's score. None asks that each real phrase have a generated phrase near it, and what
separates the shipped rock from the songs is the phrase as a whole, spread over every track
(docs/quality.md, "What a fix could give"): which pitch classes sound over time, chords that
come back, a bass on the band's root. This term asks for that directly. For each real phrase
it draws `takes` noises under the phrase's own genre, chords and manners, keeps the take
nearest the phrase, and returns those noises; the generator step then plays them with
gradients and is charged the take's gap to the phrase. Two views of the gap: the notes (the
share of cells the take plays otherwise) or the band's harmony (which pitch classes sound,
half bar by half bar). Drawn in one batch without
gradients, the search costs `takes` forward passes of the generator a phrase and no critic.

Shape of use (engine/train.py's `_generator_step`): the kept noises are played in the same
forward pass as the critic's fakes, so that a distributed generator runs once a step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .model import pitch_classes_per_beat


def _each(t: torch.Tensor | None, takes: int) -> torch.Tensor | None:
    return None if t is None else t.repeat_interleave(takes, dim=0)


def note_gaps(takes: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """(B, T, S, P) notes and phrases -> (B,): the share of cells each take plays otherwise.
    On notes the critic is shown (binary neurons, straight-through) the gradient raises a
    missing note's probability and lowers an extra one's and leaves the cells already right
    alone, as the decoding's thresholds were fitted to them (a cross-entropy on the
    probabilities would pull every silent cell toward 0)."""
    return (takes - real).pow(2).flatten(1).mean(1)


class HarmonyGaps:
    """(B, T, S, P) notes and phrases -> (B,): how far each take's band harmony lies from its
    phrase's, half bar by half bar. The band's pitch-class profile of a half bar (the pitched
    tracks' sounding steps per class, over octaves) set against the phrase's as one minus
    their cosine, a mean over the half bars in which the phrase's band plays. A cosine asks for
    which pitch classes sound, not how many notes: a take is not thinned toward a mean.

    A profile has no register, so the gradient reaches the notes played alone (notes x notes,
    one factor detached): it may take a note away, never add one. Through every cell it raised
    each octave of a missing class alike, and in a screen the bass rose 30 semitones."""

    def __init__(self, pitched: list[int], steps_per_half_bar: int, lowest_pitch: int):
        self.pitched, self.half, self.lowest_pitch = pitched, steps_per_half_bar, lowest_pitch

    def profiles(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, S, P) -> (B, half bars, 12)
        return pitch_classes_per_beat(x[:, self.pitched], self.half, self.lowest_pitch).sum(1)

    def __call__(self, takes: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        have, want = self.profiles(takes * takes.detach()), self.profiles(real)
        plays = (want.sum(-1) > 0).float()
        cosine = torch.nn.functional.cosine_similarity(have, want, dim=-1, eps=1e-6)
        return ((1 - cosine) * plays).sum(1) / plays.sum(1).clamp(min=1)


@torch.no_grad()
def nearest_noises(generator: Callable, noise: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
                   real: torch.Tensor, genre: torch.Tensor | None, chords: torch.Tensor | None,
                   manners: torch.Tensor | None, takes: int,
                   gaps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = note_gaps
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The noises (z_shared, z_track) of the take nearest each real phrase by `gaps`, of
    `takes` drawn for it under its own conditions, its notes read at 0.5 as the critic is
    shown them."""
    b = real.shape[0]
    z_shared, z_track = noise(b * takes)
    drawn = generator(z_shared, z_track, _each(genre, takes), _each(chords, takes),
                      manners=_each(manners, takes)).float()
    distance = gaps((drawn > 0.5).float(), _each(real, takes)).view(b, takes)
    nearest = distance.argmin(dim=1) + torch.arange(b, device=real.device) * takes
    return z_shared[nearest], z_track[nearest]


def nearest_take_gap(takes: torch.Tensor, real: torch.Tensor,
                     gaps: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = note_gaps) -> torch.Tensor:
    """The nearest takes' gap to their phrases, a mean over the batch (`takes`: the notes the
    critic is shown, straight-through)."""
    return gaps(takes, real).mean()
