"""A second critic that listens as the classifier two-sample test does: per phrase, the things a
listener hears (engine/two_sample.py's features), and a small network that tells generated
phrases from real ones by them.

Why: every single-tell term since session 15 (onsets, repetition, harmony, spread, hold) moved
the issue-14 test by about a point and brought the next tell forward, because each pulls one
batch mean while the test reads the whole joint spread of a phrase's features. This critic
reads all of them at once, per phrase, and the generator is trained to raise its score (a
Wasserstein critic with a gradient penalty, as the main critic is, but on the statistics: in
the way of Salimans et al. 2016's feature matching, adversarial, so the joint distribution of
the statistics is what is matched, not their means).

The statistics are computed in torch, differentiably, on binary notes with straight-through
gradients, and equal `phrase_features`' values on real phrases (a silent track's undefined
ones, NaN there, are 0 here; a spread or tonal distance is kept off zero under its square root;
the bar similarity is the repetition term's). The critic lives in training only; model files do
not carry it.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from .metrics import TONAL_CENTROID_BASIS
from .model import ModelConfig, pitch_classes_per_beat

STANDARDIZE_PHRASES = 4096  # training phrases whose statistics' mean and spread scale the critic's input
WIDTH = 256
SOFTEN = 0.01  # added to each statistic's spread over the songs before dividing by it
# Kept off zero under a square root, where its gradient is not finite: a track on one pitch
# (no spread) or two tracks on the same pitch classes (no tonal distance) took gradients of
# 500-5,000 with 1e-6 and 1e-8, larger than the rest of the term together.
SPREAD_FLOOR, DISTANCE_FLOOR = 1e-2, 1e-3


def _ratio(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """top / bottom, 0 where bottom is 0 (a silent track): the gradient stays finite."""
    return top / bottom.clamp(min=1e-6) * (bottom.detach() > 0)


def note_edges(x: torch.Tensor, steps_per_beat: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, T, S, P) notes -> where notes start, where a note of a beat or more starts (a start
    with the next steps_per_beat - 1 steps sounding), and each cell's next step; differentiable
    on straight-through notes."""
    pad = torch.nn.functional.pad
    before, after = pad(x[:, :, :-1], (0, 0, 1, 0)), pad(x[:, :, 1:], (0, 0, 0, 1))
    starts = x * (1 - before)
    held = starts
    for j in range(1, steps_per_beat):
        held = held * pad(x[:, :, j:], (0, 0, 0, j))
    return starts, held, after


def pitch_range(pitch_cells: torch.Tensor) -> torch.Tensor:
    """(..., P) cells sounding per pitch -> (...): the pitches between the lowest and the highest
    used, less one (cumulative maxima carry the gradient to every pitch between); -1 for none."""
    used = pitch_cells.clamp(max=1)
    reached_up = torch.cummax(used, dim=-1).values  # at or above the lowest pitch used
    reached_down = torch.cummax(used.flip(-1), dim=-1).values.flip(-1)  # at or below the highest
    return (reached_up * reached_down).sum(-1) - 1


def phrase_statistics(x: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """(B, T, S, P) notes -> (B, features), per phrase and track: density, empty bars, onsets a
    bar, the share of onsets at each step of the beat, mean note length, one-step notes, notes
    of a beat or more, notes at once; for pitched tracks mean pitch, pitch spread, pitch range
    and pitch classes a bar; then the tonal distance of every pair of pitched tracks and the
    phrase's bar similarity. Straight-through notes carry gradients to every cell these count
    (a start is a note whose step before has none; a range is the pitches between the lowest
    and the highest, cumulative maxima)."""
    from .train import bar_similarities  # the repetition term's similarity, differentiable

    b, t, s, p = x.shape
    spb = cfg.steps_per_beat
    steps_per_bar = s // cfg.n_bars
    bars = cfg.n_bars
    starts, held, after = note_edges(x, spb)
    count = starts.sum((2, 3))  # (B, T)
    cells = x.sum((2, 3))
    at = starts[:, :, : s // spb * spb].reshape(b, t, -1, spb, p).sum((2, 4))  # (B, T, spb)
    sounding = x.sum(3)  # (B, T, S): notes at once
    plays_step = x.amax(3)
    in_bars = x.reshape(b, t, bars, steps_per_bar * p)
    per_track = [  # each (B, T, k)
        x.mean((2, 3)).unsqueeze(-1),  # density
        (1 - in_bars.amax(3).mean(2)).unsqueeze(-1),  # empty bars
        (count / bars).unsqueeze(-1),  # onsets a bar
        _ratio(at, count.unsqueeze(-1)),  # onsets at each step of the beat
        _ratio(cells, count).unsqueeze(-1),  # mean note length
        _ratio((starts * (1 - after)).sum((2, 3)), count).unsqueeze(-1),  # one-step notes
        _ratio(held.sum((2, 3)), count).unsqueeze(-1),  # notes of a beat or more
        _ratio(sounding.sum(2), plays_step.sum(2)).unsqueeze(-1),  # notes at once
    ]
    rhythm = torch.cat(per_track, dim=2)  # (B, T, 3 + spb + 4)
    pitched = [k for k, track in enumerate(cfg.tracks) if not track.is_drum]
    columns: list[torch.Tensor] = []
    if pitched:
        y = x[:, pitched]
        pitch_cells = y.sum(2)  # (B, k, P)
        total = pitch_cells.sum(-1)
        pitch = torch.arange(p, device=x.device, dtype=x.dtype) + cfg.lowest_pitch
        mean = _ratio((pitch_cells * pitch).sum(-1), total)
        square = _ratio((pitch_cells * pitch**2).sum(-1), total)
        sounds = (total.detach() > 0).float()
        classes = pitch_classes_per_beat(y, steps_per_bar, cfg.lowest_pitch)  # (B, k, bars, 12)
        bar_sounds = (classes.detach().sum(-1) > 0).float()
        height = torch.stack([
            mean,
            torch.sqrt((square - mean**2).clamp(min=0) + SPREAD_FLOOR) * sounds,  # pitch spread
            pitch_range(pitch_cells) * sounds,  # pitch range
            _ratio((classes.clamp(max=1).sum(-1) * bar_sounds).sum(2), bar_sounds.sum(2)),  # pitch classes a bar
        ], dim=2)  # (B, k, 4)
    for k in range(t):  # phrase_features' order: each track's own, then the pairs
        columns.append(rhythm[:, k])
        if k in pitched:
            columns.append(height[:, pitched.index(k)])
    if pitched:
        basis = torch.as_tensor(TONAL_CENTROID_BASIS, dtype=x.dtype, device=x.device)
        centroid = _ratio(classes, classes.sum(-1, keepdim=True)) @ basis.T  # (B, k, bars, 6)
        for i, j in itertools.combinations(range(len(pitched)), 2):
            both = bar_sounds[:, i] * bar_sounds[:, j]
            distance = torch.sqrt(((centroid[:, i] - centroid[:, j]) ** 2).sum(-1) + DISTANCE_FLOOR)
            columns.append(_ratio((distance * both).sum(1), both.sum(1)).unsqueeze(1))
    if bars > 1:  # the repetition term's similarity (its octaves counted once, unlike the test's)
        columns.append(bar_similarities(x, steps_per_bar, cfg.lowest_pitch).unsqueeze(1))
    return torch.cat(columns, dim=1)


def statistics_scale(stats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, features) statistics of training phrases -> their mean and spread, the units the
    feature critic and the marginal term read statistics in. The spread is softened by a
    hundredth: a statistic the songs hardly vary (the drums' notes of a beat or more, none in
    the data: spread 0) would otherwise weigh a thousand times the rest."""
    return stats.mean(0), stats.std(0) + SOFTEN


class FeatureCritic(nn.Module):
    """Phrase statistics (standardized by the training phrases') and the genre -> an unbounded
    score, high for "real": a Wasserstein critic in the space of the statistics, kept near
    1-Lipschitz there by a gradient penalty, so that the generator is told how far each
    statistic is from the songs' and in which direction. Small: the statistics are a hundred
    or so numbers.

    A logistic critic (session 29's first run) told every generated phrase from the songs by
    the third epoch (logits near -18) and its gradient on the generator was 15 times the main
    critic's: saturated, it said "wrong" without saying where to go."""

    def __init__(self, cfg: ModelConfig, reference: torch.Tensor):
        """`reference`: training phrases (N, T, S, P), whose statistics set the scaling."""
        super().__init__()
        self.cfg = cfg
        with torch.no_grad():
            stats = torch.cat([phrase_statistics(chunk.float(), cfg) for chunk in reference.split(512)])
        mean, scale = statistics_scale(stats)
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        n_genres = len(cfg.genres)
        self.net = nn.Sequential(nn.Linear(stats.shape[1] + n_genres, WIDTH), nn.LeakyReLU(0.2),
                                 nn.Linear(WIDTH, WIDTH), nn.LeakyReLU(0.2), nn.Linear(WIDTH, 1))

    def standardized(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, S, P) notes -> (B, features), each statistic in units of the songs' spread."""
        return (phrase_statistics(x.float(), self.cfg) - self.mean) / self.scale

    def score(self, z: torch.Tensor, genre: torch.Tensor | None = None) -> torch.Tensor:
        if self.cfg.genres:
            z = torch.cat([z, nn.functional.one_hot(genre, len(self.cfg.genres)).float()], dim=1)
        return self.net(z).squeeze(1)

    def forward(self, x: torch.Tensor, genre: torch.Tensor | None = None) -> torch.Tensor:
        return self.score(self.standardized(x), genre)


def feature_critic_loss(critic: FeatureCritic, real: torch.Tensor, fake: torch.Tensor,
                        genre: torch.Tensor | None, gp_lambda: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The critic's WGAN-GP loss on a real and a generated batch (the penalty on statistics
    interpolated between them), and how often a threshold midway between the two batches'
    mean scores tells them apart (a gauge, not part of the loss)."""
    with torch.no_grad():
        real_z, fake_z = critic.standardized(real), critic.standardized(fake.detach())
    eps = torch.rand(len(real_z), 1, device=real_z.device)
    between = (eps * real_z + (1 - eps) * fake_z).requires_grad_(True)
    scores = critic.score(torch.cat([real_z, fake_z, between]), None if genre is None else genre.repeat(3))
    real_score, fake_score, between_score = scores.split(len(real_z))
    gradient, = torch.autograd.grad(between_score.sum(), between, create_graph=True)
    penalty = ((gradient.norm(dim=1) - 1) ** 2).mean()
    loss = fake_score.mean() - real_score.mean() + gp_lambda * penalty
    with torch.no_grad():
        middle = (real_score.mean() + fake_score.mean()) / 2
        accuracy = ((real_score > middle).float().mean() + (fake_score <= middle).float().mean()) / 2
    return loss, accuracy


def feature_generator_loss(critic: FeatureCritic, fake: torch.Tensor, genre: torch.Tensor | None) -> torch.Tensor:
    """The generator's term: minus the critic's score of its phrases."""
    return -critic(fake, genre).mean()


MARGINAL_PHRASES = 2048  # training phrases of each genre whose statistics make its quantiles
MARGINAL_LEVELS = 257  # quantile levels kept per genre and statistic


class StatisticsMarginals(nn.Module):
    """Each phrase statistic's distribution over the training phrases of each genre, kept as
    quantiles (in `statistics_scale`'s units, as `FeatureCritic` reads them): what `forward`
    compares a generated batch with.

    Why: the classifier two-sample test tells the shipped model's rock from the songs 90 % of
    the time, and 95 % with each statistic shuffled within its set (its distribution kept, how
    the statistics go together lost): it adds up many small differences of *spread*
    (docs/quality.md, "What the test reads now"). The songs' players choose a manner per phrase
    (whole notes or 8ths, stabs or pads); the generator plays every phrase in between. The
    critics score phrase by phrase, and a phrase in between scores well; a term on the batch's
    distribution asks for the manners themselves."""

    def __init__(self, cfg: ModelConfig, stats: torch.Tensor, genre: torch.Tensor | None):
        """`stats`: the `phrase_statistics` of training phrases (N, features); `genre`: each
        one's genre index (N,) or None."""
        super().__init__()
        with torch.no_grad():
            mean, scale = statistics_scale(stats)
            z = (stats - mean) / scale
            labels = torch.zeros(len(z), dtype=torch.long) if genre is None else genre.cpu()
            n_genres = max(1, len(cfg.genres))
            levels = torch.linspace(0, 1, MARGINAL_LEVELS)
            # a genre without phrases here keeps the pooled distribution
            quantiles = [torch.quantile(z[labels == g] if (labels == g).any() else z, levels, dim=0)
                         for g in range(n_genres)]
        self.cfg = cfg
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)
        self.register_buffer("quantiles", torch.stack(quantiles))  # (genres, levels, features)

    def reference_at(self, genre: int, n: int) -> torch.Tensor:
        """(n, features): the genre's quantiles at the mid-ranks (i + 0.5) / n of n phrases."""
        table = self.quantiles[genre]
        position = (torch.arange(n, device=table.device, dtype=table.dtype) + 0.5) / n * (len(table) - 1)
        below = position.floor().long().clamp(max=len(table) - 2)
        share = (position - below).unsqueeze(1)
        return table[below] * (1 - share) + table[below + 1] * share

    def forward(self, fake: torch.Tensor, genre: torch.Tensor | None = None) -> torch.Tensor:
        """The mean 1-D Wasserstein distance, over statistics, between the batch's phrases and
        the songs of their genre (each genre's phrases sorted per statistic against its
        quantiles), in units of the songs' spread; every phrase weighs alike."""
        z = (phrase_statistics(fake.float(), self.cfg) - self.mean) / self.scale
        labels = torch.zeros(len(z), dtype=torch.long, device=z.device) if genre is None else genre
        gap = z.new_zeros(())
        for g in labels.unique().tolist():
            rows = z[labels == g]
            gap = gap + (rows.sort(dim=0).values - self.reference_at(int(g), len(rows))).abs().sum()
        return gap / z.numel()
