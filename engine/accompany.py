"""Accompany the user's own part: the other tracks generated around it, the part kept note for note.

The method is latent inversion of the shipped generator (docs/model.md, "Accompaniment"):
a generated phrase's tracks share one noise vector (`z_shared`, the phrase's "idea") and
each has its own (`z_track`), so the noise that makes the model draw the user's part on the
part's track also sets the idea the other tracks are drawn from. Gradient descent finds
that noise: the shared noise and the given tracks' own, from the seed's draw, so that the
generator's probabilities for the given tracks match the part (a balanced binary
cross-entropy: the part's notes and its silence weigh alike, as a part is mostly silence),
with the noise kept near the normal prior it was trained on; for a part on a track the
model plays in chords (piano, guitar, strings: not a bass line), also so that the other
pitched tracks sound the part's pitch classes (`_harmony_loss`). The other tracks then come
from that idea with the seed's own noise, and the given tracks are replaced by the part
itself. A chord model also plays to the part's chords (extracted from it, one per half
bar); a drum part leaves the chords to the genre's progressions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .chords import extract_chords
from .chords import per_beat as chords_per_beat
from .families import family_tracks, merge_to_families
from .generate import Composer, Idea
from .key_homing import move_pitches
from .manner import N_MANNERS, phrase_manners
from .music_io import MusicFileError, read_music
from .pianoroll import BEATS_PER_BAR, Multitrack, resample

PART_STEPS_PER_BEAT = 48  # the part is kept on this grid: 1/192 notes, 10 ticks at 480 a beat
MAX_BARS = 32  # as a generated clip
INVERSION_STEPS = 150  # measured in bench/accompaniment.py: the fit flattens out by then
INVERSION_LR = 0.05
PRIOR_WEIGHT = 0.01  # how strongly the noise is held near N(0, 1)
HARMONY_WEIGHT = 0.5  # how strongly the other pitched tracks are drawn to the part's pitch classes


class PartError(ValueError):
    """A part that cannot be accompanied, in one line naming the file."""


@dataclass
class Part:
    """The user's part on the model's tracks: which tracks it gives, and those tracks'
    notes at PART_STEPS_PER_BEAT (velocities kept)."""

    song: Multitrack  # the model's tracks; only `given` hold notes
    given: list[int]
    n_bars: int

    @property
    def names(self) -> list[str]:
        return [self.song.tracks[i].name for i in self.given]


def read_part(path: str | Path, track_set: int, as_track: str = "auto", bars: int | None = None) -> Part:
    """A MIDI (or LPD .npz) file as a part: its instruments merged into the model's
    families (`as_track` "auto"), or all of its notes on one track (`as_track` a family's
    name, e.g. "bass"); `bars` from its start (default: its length, up to MAX_BARS)."""
    try:
        song = read_music(path, steps_per_beat=PART_STEPS_PER_BEAT)
    except MusicFileError as error:
        raise PartError(str(error)) from None
    tracks = family_tracks(track_set)
    if as_track == "auto":
        song = merge_to_families(song, track_set)
    else:
        names = [t.name.lower() for t in tracks]
        if as_track.lower() not in names:
            raise PartError(f"--as must be auto or one of {', '.join(names)}, not {as_track!r}")
        index = names.index(as_track.lower())
        rolls = np.zeros((len(tracks), *song.rolls.shape[1:]), dtype=np.uint8)
        rolls[index] = song.rolls.max(axis=0)
        song = Multitrack(tracks, rolls, song.steps_per_beat, song.tempo, song.name)
    steps_per_bar = PART_STEPS_PER_BEAT * BEATS_PER_BAR
    played = np.flatnonzero(song.rolls.any(axis=(0, 2)))
    if not len(played):
        raise PartError(f"{path}: no notes to accompany")
    length = math.ceil((played[-1] + 1) / steps_per_bar)
    n_bars = bars if bars is not None else min(length, MAX_BARS)
    if not 1 <= n_bars <= MAX_BARS:
        raise PartError(f"--bars must be from 1 to {MAX_BARS}, not {n_bars}")
    rolls = np.zeros((len(tracks), n_bars * steps_per_bar, song.rolls.shape[2]), dtype=np.uint8)
    kept = min(rolls.shape[1], song.rolls.shape[1])
    rolls[:, :kept] = song.rolls[:, :kept]
    given = [i for i in range(len(tracks)) if rolls[i].any()]
    if not given:
        raise PartError(f"{path}: no notes in its first {n_bars} bars")
    return Part(Multitrack(tracks, rolls, PART_STEPS_PER_BEAT, song.tempo, Path(path).stem), given, n_bars)


def part_chords(part: Part, composer: Composer, seed: int, genre: str | None) -> tuple | None:
    """The chords a chord model plays to: the part's own (one per half bar, from its pitched
    tracks), or the genre's drawn progression when the part has no pitched notes; None for
    a model without chords."""
    if not composer.takes_chords:
        return None
    pitched = [i for i in part.given if not part.song.tracks[i].is_drum]
    cfg = composer.config
    phrases = math.ceil(part.n_bars / cfg.n_bars)
    if not pitched:
        return composer.chords_for(None, phrases, seed, genre)
    coarse = resample(part.song, 4)  # chords need no finer grid than 16ths
    half_bars = extract_chords(coarse.rolls, coarse.tracks, lowest_pitch=0, steps_per_beat=4)
    chords = chords_per_beat(half_bars, len(half_bars) * 2)
    return composer.chords_for(chords, phrases, seed, genre) if any(c is not None for c in chords) \
        else composer.chords_for(None, phrases, seed, genre)


def _targets(part: Part, composer: Composer) -> np.ndarray:
    """The given tracks on the model's grid and pitch range, one row per phrase:
    (phrases, given, steps, pitches) 0/1."""
    cfg = composer.config
    on_grid = resample(part.song, cfg.steps_per_beat).rolls > 0  # (T, steps, 128)
    phrases = math.ceil(part.n_bars / cfg.n_bars)
    steps = phrases * cfg.n_steps
    rolls = np.zeros((len(part.given), steps, cfg.n_pitches), dtype=np.float32)
    kept = min(steps, on_grid.shape[1])
    rolls[:, :kept] = on_grid[part.given, :kept, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches]
    return rolls.reshape(len(part.given), phrases, cfg.n_steps, cfg.n_pitches).transpose(1, 0, 2, 3)


def invert(composer: Composer, idea: Idea, part: Part, steps: int = INVERSION_STEPS,
           harmony: float | None = None) -> tuple[Idea, float]:
    """The idea whose given tracks come out as the part: its shared noise and the given
    tracks' own moved by gradient descent (see the module's docstring). Returns the idea and
    how well the generator's notes then match the part (F1 over cells, at the decoding's
    threshold, before the part replaces them). `harmony`: the weight of `_harmony_loss`
    (default HARMONY_WEIGHT)."""
    cfg = composer.config
    generator = composer.generator
    device = composer.device
    targets = _targets(part, composer)  # (phrases, given, S, P)
    chords = None
    if cfg.chords:  # the part moved with the chords into the key the model makes each phrase in
        features, shifts = composer.chord_inputs(idea)
        chords = torch.as_tensor(features, device=device)
        targets = np.stack([move_pitches(phrase, int(shift)) for phrase, shift in zip(targets, shifts)])
    target = torch.as_tensor(targets, device=device)
    z_shared = torch.tensor(idea.z_shared, device=device, requires_grad=True)
    z_tracks = torch.tensor(idea.z_tracks, device=device)
    z_given = z_tracks[:, part.given].clone().requires_grad_(True)
    genre = None
    if cfg.genres:
        genre = torch.full((idea.n_phrases,), idea.genre or 0, dtype=torch.long, device=device)
    manners = _part_manners(composer, idea, target, part.given)
    given_manners = None if manners is None else manners[:, part.given]
    positive = target > 0.5
    optimizer = torch.optim.Adam([z_shared, z_given], lr=INVERSION_LR)
    given = torch.as_tensor(part.given, device=device)
    weight = HARMONY_WEIGHT if harmony is None else harmony
    harmony_loss = _harmony_loss(composer, part, target) if weight > 0 else None
    others = [i for i in range(cfg.n_tracks) if i not in part.given and not cfg.tracks[i].is_drum]
    if not others:
        harmony_loss = None
    z_others, other_tracks = z_tracks[:, others], torch.as_tensor(others, device=device)
    was_training = generator.training
    generator.eval()
    try:
        # drawing the given tracks alone (and, for the harmony, the other pitched ones): a
        # track is drawn from the shared noise and its own, never from another track
        for _ in range(steps):
            probs = generator(z_shared, z_given, genre, chords, tracks=given, manners=given_manners).clamp(1e-6, 1 - 1e-6)
            notes = -torch.log(probs[positive]).mean() if positive.any() else probs.new_zeros(())
            silence = -torch.log(1 - probs[~positive]).mean()
            prior = (z_shared.pow(2).mean() - 1).abs() + (z_given.pow(2).mean() - 1).abs()
            loss = notes + silence + PRIOR_WEIGHT * prior
            if harmony_loss is not None:
                others_manners = None if manners is None else manners[:, others]
                loss = loss + weight * harmony_loss(generator(z_shared, z_others, genre, chords, tracks=other_tracks,
                                                              manners=others_manners))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            tracks = z_tracks.index_copy(1, given, z_given)
            probs = generator(z_shared, z_given, genre, chords, tracks=given, manners=given_manners)
    finally:
        generator.train(was_training)
    threshold = composer.default_threshold
    played = probs >= threshold
    hits = (played & positive).sum().item()
    f1 = 2 * hits / max(1, played.sum().item() + positive.sum().item())
    inverted = replace(idea, z_shared=z_shared.detach().cpu().numpy().astype(np.float32),
                       z_tracks=tracks.detach().cpu().numpy().astype(np.float32),
                       manners=None if manners is None else manners.cpu().numpy())
    return inverted, f1


def _part_manners(composer: Composer, idea: Idea, target: torch.Tensor, given: list[int]) -> torch.Tensor | None:
    """A manner model's manners for an accompaniment (phrases, T, manners): the given tracks
    play as the user's part does (measured on it), the others as the idea drew."""
    cfg = composer.config
    if not cfg.manners:
        return None
    g = composer.generator
    manners = torch.as_tensor(idea.manners if idea.manners is not None else
                              np.zeros((idea.n_phrases, cfg.n_tracks, N_MANNERS), np.float32), device=target.device)
    played = torch.zeros(len(target), cfg.n_tracks, *target.shape[2:], device=target.device)
    played[:, given] = (target > 0.5).float()
    measured = (phrase_manners(played, cfg) - g.manner_mean) / g.manner_scale
    manners = manners.clone()
    manners[:, given] = measured[:, given]
    return manners


def _harmony_loss(composer: Composer, part: Part, target: torch.Tensor):
    """A function of the other pitched tracks' probabilities (phrases, others, S, P): one
    minus the cosine between each one's pitch-class mass and the part's, per half bar where
    the part plays pitched notes. None when the part gives no track the model plays in
    chords: a drum part, or a bass line (the tracks its songs play as lines, the decoding's
    `monophonic`), whose pitch classes are the roots: pulling the others to them narrows
    their voicings, and the chords extracted from the part carry its harmony instead.

    Measured (docs/model.md, "Accompaniment"): with a real piano part given, the guitar's
    tonal distance to it went from 1.38x the real guitarists' to 1.11x; with a real bass line
    given, the term took the others' far below the real players' (0.62-0.67x, against
    0.87-1.04x without it), so it is off there."""
    cfg = composer.config
    lines = set(composer.monophonic_tracks)
    pitched = [k for k, i in enumerate(part.given) if not cfg.tracks[i].is_drum and i not in lines]
    if not pitched:
        return None
    classes = (torch.arange(cfg.n_pitches) + cfg.lowest_pitch) % 12
    to_classes = torch.nn.functional.one_hot(classes, 12).float().to(target.device)  # (P, 12)
    half = cfg.steps_per_beat * BEATS_PER_BAR // 2

    def per_half_bar(rolls):  # (B, T, S, P) -> (B, T, half bars, 12)
        b, t, s, _ = rolls.shape
        return (rolls @ to_classes).view(b, t, s // half, half, 12).sum(3)

    want = per_half_bar(target[:, pitched]).sum(1, keepdim=True)  # (B, 1, H, 12)
    plays = want.sum(-1) > 0

    def loss(drawn):
        have = per_half_bar(drawn)
        cosine = torch.nn.functional.cosine_similarity(have, want.expand_as(have), dim=-1, eps=1e-6)
        return (1 - cosine)[plays.expand_as(cosine)].mean()

    return loss


def accompaniment_idea(composer: Composer, part: Part, seed: int, genre: str | None = None,
                       chords: list | None = None, steps: int = INVERSION_STEPS,
                       harmony: float | None = None) -> tuple[Idea, float]:
    """The noise (and chords) for the tracks around `part`, and how well it draws the part
    (F1; NaN with `steps` 0, the seed's noise as drawn). `chords`: one per beat, to play to
    instead of the part's own (a chord model)."""
    if chords is None or not any(c is not None for c in chords):
        chords = part_chords(part, composer, seed, genre)
    idea = composer.new_idea(seed, part.n_bars, genre, chords=list(chords) if chords else None)
    # made in the part's own key: moved to a home key, a bass part at the foot of the model's
    # range (LPD basses reach its C1) would lose its lowest notes (engine/key_homing.py)
    idea = replace(idea, home_keys=False)
    if steps <= 0:
        return idea, float("nan")
    return invert(composer, idea, part, steps, harmony)


@dataclass
class Accompaniment:
    clip: Multitrack  # the part's tracks note for note, the others generated
    fit: float  # how well the inverted generator drew the part (F1), before the part replaced it
    idea: Idea


def accompany(composer: Composer, part: Part, seed: int = 0, genre: str | None = None, count: int = 1,
              threshold: float | None = None, quantize_strength: float | None = None,
              steps: int = INVERSION_STEPS, invert_noise: bool = True, feel: float | None = None) -> list[Accompaniment]:
    """`count` accompaniments of `part` from seeds seed, seed + 1, ...: at the part's tempo
    and length, on PART_STEPS_PER_BEAT, with the chords they were made to.
    `invert_noise` False: the seed's noise as drawn (the ablation bench/accompaniment.py
    measures)."""
    cfg = composer.config
    if [t.name for t in part.song.tracks] != [t.name for t in cfg.tracks]:
        raise PartError(f"the part is on {len(part.song.tracks)} tracks, the model has {cfg.n_tracks}")
    out = []
    for k in range(count):
        idea, fit = accompaniment_idea(composer, part, seed + k, genre, steps=steps if invert_noise else 0)
        probs = composer.probabilities([idea])[0]
        made = composer.to_clip(probs, threshold, part.n_bars, part.song.tempo,
                                name=f"{part.song.name}-accompanied-seed{seed + k}", genre=genre,
                                quantize_strength=quantize_strength, chords=idea.chords, feel=feel, seed=seed + k,
                                manners=idea.manners)
        clip = resample(made, PART_STEPS_PER_BEAT)
        clip.rolls[part.given] = part.song.rolls[part.given]  # the part itself, note for note
        clip.chords = made.chords
        out.append(Accompaniment(clip, fit, idea))
    return out
