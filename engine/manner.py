"""A phrase's manner: how each track plays, as a few numbers a producer would name (how many
notes a bar, how long they are held, how many last a beat or more, how wide the part ranges).

Why: the classifier two-sample test of issue 14 reads *spread* (docs/quality.md, "What the test
reads now"): the songs' players choose a manner per phrase (a bass of whole notes or of 8ths,
strings as a pad or as a line) and the generator played every phrase in between, which no
critic scoring phrase by phrase and no batch term moved. A manner model (`ModelConfig.manners`)
is told each track's manner: in training the manner of a real phrase of the batch, with a term
(`manner_gap`) that asks its notes to keep it; in generation a manner drawn from the songs'
own (`Generator.manner_table`, the manners of training phrases of each genre, kept in the model
file), so the spread of manners from phrase to phrase is the songs'.

Every number is computed in torch on notes, differentiably with straight-through notes, and
standardized per track by the training phrases' mean and spread.
"""

from __future__ import annotations

import torch

from .feature_critic import _ratio, note_edges, pitch_range
from .model import ModelConfig

# Per track: onsets a bar, mean note length (steps), share of notes of a beat or more, pitch
# range (semitones). Counts and lengths as log(1 + v): a bass of 2 or 4 notes a bar differ as
# much as one of 8 or 16.
MANNERS = ("onsets a bar", "note length", "notes of a beat or more", "pitch range")
N_MANNERS = len(MANNERS)
TABLE_PHRASES = 256  # training phrases of each genre whose manners a model file keeps to draw from
SOFTEN = 0.05  # added to a manner's spread over the songs before dividing by it


def manner_mask(cfg: ModelConfig) -> torch.Tensor:
    """(T, manners) 1 where a manner means something: a drum track has its onsets a bar only
    (its hits have no length to speak of and no range)."""
    mask = torch.ones(cfg.n_tracks, N_MANNERS)
    for k, track in enumerate(cfg.tracks):
        if track.is_drum:
            mask[k, 1:] = 0
    return mask


def phrase_manners(x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """(B, T, S, P) notes -> (B, T, manners), unstandardized; a silent track is all 0. Onsets a
    bar are counted over the bars the notes have (a clip's last phrase may be cut short)."""
    starts, held, _ = note_edges(x, cfg.steps_per_beat)
    bars = x.shape[2] / (4 * cfg.steps_per_beat)
    count = starts.sum((2, 3))  # (B, T)
    cells = x.sum((2, 3))
    sounds = (cells.detach() > 0).to(x.dtype)
    return torch.stack([
        torch.log1p(count / bars),
        torch.log1p(_ratio(cells, count)),
        _ratio(held.sum((2, 3)), count),
        torch.log1p(pitch_range(x.sum(2)).clamp(min=0) * sounds),
    ], dim=2) * manner_mask(cfg).to(x)


def manner_gap(fake: torch.Tensor, asked: torch.Tensor, cfg: ModelConfig, mean: torch.Tensor,
               scale: torch.Tensor, held_weight: float = 1.0) -> torch.Tensor:
    """How far generated notes (B, T, S, P) play from the manners they were asked for (B, T,
    manners; standardized): a Huber distance in units of the songs' spread, over the manners
    that mean something, the share of notes of a beat or more weighted `held_weight` (the one
    a generator follows least: docs/quality.md, "Manners")."""
    mine = (phrase_manners(fake.float(), cfg) - mean) / scale
    mask = manner_mask(cfg).to(fake.device)
    weights = torch.ones(N_MANNERS, device=fake.device)
    weights[MANNERS.index("notes of a beat or more")] = held_weight
    gap = torch.nn.functional.smooth_l1_loss(mine, asked, reduction="none") * mask * weights
    return gap.sum() / (mask.sum() * len(fake))


def manner_scale(manners: torch.Tensor, cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T, manners) of training phrases -> the mean and softened spread (T, manners) that
    standardize them; 0 and 1 where a manner means nothing."""
    mask = manner_mask(cfg)
    mean = manners.mean(0) * mask
    scale = (manners.std(0) + SOFTEN) * mask + (1 - mask)
    return mean, scale


def manner_table(manners: torch.Tensor, genre: torch.Tensor | None, n_genres: int, seed: int = 0,
                 playing: torch.Tensor | None = None) -> torch.Tensor:
    """Standardized manners of training phrases (N, T, manners) and their genres -> (genres,
    TABLE_PHRASES, T, manners): each genre's rows to draw from (drawn with replacement where a
    genre has fewer; a genre with none draws from all).

    With `playing` (N, T: which tracks play in each phrase), each genre's rows are drawn per
    arrangement, as many of each as its share of the genre's phrases gives (`stratified`):
    one plain draw of 256 rows asked for a piano in 49 % of rock phrases where the songs have
    one in 55 % (docs/quality.md, "The manner table drawn per arrangement")."""
    rng = torch.Generator().manual_seed(seed)
    labels = torch.zeros(len(manners), dtype=torch.long) if genre is None else genre.cpu()
    rows = []
    for g in range(max(1, n_genres)):
        own = (labels == g) if (labels == g).any() else torch.ones(len(manners), dtype=torch.bool)
        index = own.nonzero().flatten()
        if playing is not None and len(index) >= TABLE_PHRASES:
            pick = index[stratified(arrangements(playing[index].cpu()), TABLE_PHRASES, rng)]
        else:
            pick = index[torch.randperm(len(index), generator=rng)[:TABLE_PHRASES]]
            if len(pick) < TABLE_PHRASES:
                pick = pick[torch.arange(TABLE_PHRASES) % len(pick)]
        rows.append(manners[pick])
    return torch.stack(rows)


def arrangements(playing: torch.Tensor) -> torch.Tensor:
    """(N, T) bool: which tracks play -> (N,) one number per arrangement."""
    return (playing.long() << torch.arange(playing.shape[1])).sum(1)


def parts_playing(standardized: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(..., T, manners) manners standardized by `mean` and `scale` (T, manners) -> (..., T)
    bool: which tracks play (a resting track's manners are all 0 before standardizing)."""
    return ~torch.isclose(standardized[..., 0] * scale[:, 0] + mean[:, 0], torch.zeros(()), atol=1e-4)


def stratified(groups: torch.Tensor, n: int, rng: torch.Generator) -> torch.Tensor:
    """n of len(groups) >= n indices, drawn without replacement, each group's count its share
    of n (floored, the rows left over to the largest remainders): a draw whose groups' shares
    are the population's, not one random draw's. Returned group by group: a clip draws its row
    of the table at random, so the order does not matter."""
    keys, inverse, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    quota = counts.double() * n / len(groups)
    take = quota.floor().long()
    left = n - int(take.sum())
    take[torch.argsort(quota - take, descending=True, stable=True)[:left]] += 1
    picks = [(inverse == k).nonzero().flatten()[torch.randperm(int(counts[k]), generator=rng)[: int(take[k])]]
             for k in range(len(keys))]
    return torch.cat(picks)

