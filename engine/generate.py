"""From noise to clips: sampling, binarization, regenerating one track, latent walks.

An `Idea` is the noise behind a clip, kept as plain numpy so that the desktop can hold it,
undo it and change one track of it. A `Composer` wraps a loaded generator and turns ideas
into note probabilities and then into Multitracks.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .articulation import fit_articulation
from .binarize import (
    KIT_RANKS,
    PLAIN,
    QUANTIZE,
    SNAP_SPREAD,
    STRAIGHTENINGS,
    binarize,
    chord_lock,
    gate_bars,
    hit_sureness,
    keep_in_register,
    kit_hits,
    monophonic,
    quantize,
    repeat_bars,
)
from .device import pick_device
from .feel import FEEL, apply_feel, unpack_feels
from .key_homing import home_keys_from, home_shift, is_key_name, move_chord_features, move_pitches
from .manner import N_MANNERS
from .model import Generator, ModelConfig, ModelFileError, load_model, load_take_judges
from .model_store import resolve_model
from .pianoroll import N_PITCHES, Multitrack

# Takes decoded in one call (Composer._decoded_takes): the default 8 at once; a long clip's 64
# takes eight at a time, so that its probabilities and their copies stay tens of megabytes.
TAKES_DECODED_AT_ONCE = 8


@dataclass(frozen=True)
class Idea:
    """The noise behind a clip: one latent per phrase of `n_bars` bars."""

    z_shared: np.ndarray  # (phrases, z_shared)
    z_tracks: np.ndarray  # (phrases, tracks, z_track)
    genre: int | None = None
    seed: int = 0
    # For a chord model: the clip's chords, one engine.chords.Chord (or None) per beat of
    # every phrase; None: no chords given.
    chords: tuple | None = None
    # Whether its phrases may be made in a home key of a chord model (engine/key_homing.py);
    # False for an accompaniment, whose part fixes the key and the register.
    home_keys: bool = True
    # For a manner model: each phrase's manner per track, standardized (phrases, tracks, 4;
    # engine/manner.py), drawn from the songs'; None: the songs' mean manner.
    manners: np.ndarray | None = None

    @property
    def n_phrases(self) -> int:
        return len(self.z_shared)


def _randn(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def walk(previous: np.ndarray, fresh: np.ndarray, variation: float) -> np.ndarray:
    """One step of a latent walk: 0 keeps `previous`, 1 is `fresh`, and every step between
    keeps the noise's N(0, 1) distribution (the weights' squares sum to one)."""
    v = float(np.clip(variation, 0.0, 1.0))
    return math.sqrt(1 - v * v) * previous + v * fresh


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _shown(value) -> str:
    """A file's value as a message shows it: at most 40 characters, on one line."""
    return " ".join(str(value)[:40].split())


def _per_genre_problem(entry: str, fits, cfg: ModelConfig, one_fit) -> str | None:
    """A per-genre decoding entry ({genre or "": fit}) with each fit checked by `one_fit`."""
    if not isinstance(fits, dict):
        return f"its {entry} is a {type(fits).__name__}, not a table by genre"
    for genre, fit in fits.items():
        if genre and genre not in cfg.genres:
            return f"its {entry} names a genre the model does not know ({genre[:40]!r})"
        problem = one_fit(fit)
        if problem:
            return f"its {entry} for {genre or 'all genres'!r} {problem}"
    return None


def decoding_problem(meta: dict, cfg: ModelConfig) -> str | None:
    """The first decoding entry of a model file's metadata (engine/calibrate.py writes them)
    that the Composer could not decode with, as one line; None when all can. Unchecked,
    a NaN threshold decodes every clip to silence and a wrong type fails mid-generation."""
    tracks, spb = cfg.n_tracks, cfg.steps_per_beat

    def numbers(value, count: int, low: float, what: str) -> str | None:
        if not isinstance(value, list) or len(value) != count or not all(_is_number(v) and v >= low for v in value):
            return f"must be {count} {what}"
        return None

    def names(value) -> str | None:
        from .chords import Chord

        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            return "must be a list of chord progressions"
        for progression in value:
            for chord in progression.split():
                try:
                    if chord != "N":
                        Chord.from_name(chord)
                except (KeyError, ValueError):
                    return f"names an unknown chord ({chord[:20]!r})"
        return None

    def shares(value) -> str | None:
        return numbers(value, tracks, 0, "numbers from 0 to 1, one a track") or (
            None if max(value, default=0) <= 1 else f"must be {tracks} numbers from 0 to 1, one a track")

    threshold = meta.get("threshold")
    if threshold is not None and not (_is_number(threshold) and 0 < threshold < 1):
        return f"its threshold must be a number between 0 and 1, not {_shown(threshold)}"
    hold = meta.get("hold_ratio")
    if hold is not None and not (_is_number(hold) and 0 < hold <= 1):
        return f"its hold_ratio must be a number above 0 and at most 1, not {_shown(hold)}"
    if not isinstance(meta.get("repeats", False), bool):
        return f"its repeats must be true or false, not {_shown(meta['repeats'])}"
    mono = meta.get("monophonic")
    known = {t.name for t in cfg.tracks}
    if mono is not None and not (isinstance(mono, list) and all(isinstance(n, str) and n in known for n in mono)):
        return f"its monophonic must be a list of its track names ({', '.join(sorted(known))}), not {_shown(mono)}"
    default = meta.get("default_genre")
    if default is not None and not isinstance(default, str):
        return f"its default_genre must be a genre's name, not {_shown(default)}"
    checks = {
        "track_scales": lambda fit: numbers(fit, tracks, 1e-6, "positive numbers, one a track"),
        "onset_spread": lambda fit: numbers(fit, tracks, 0, "numbers of 0 or more, one a track"),
        "bar_gate": lambda fit: numbers(fit, tracks, 0, "numbers of 0 or more, one a track"),
        "register": lambda fit: numbers(fit, tracks, 0, "numbers of 0 or more, one a track"),
        "repeat_bars": shares,
        "straight_sixteenths": shares,
        "straight_eighths": shares,
        "kit": lambda fit: numbers(fit, KIT_RANKS - 1, 0, f"numbers of 0 or more, one for each of a step's 2nd..{KIT_RANKS}th hit"),
        "onset_prior": lambda fit: (
            None if isinstance(fit, list) and len(fit) == tracks
            and not any(numbers(row, spb, 0, "") for row in fit)
            else f"must be {tracks} rows (one a track) of {spb} numbers of 0 or more (one a step of the beat)"),
        "progressions": names,
        "feel": lambda fit: _feel_problem(fit, tracks, spb),
    }
    homes = meta.get("home_keys")
    if homes is not None and not (cfg.chords and isinstance(homes, list) and all(map(is_key_name, homes))):
        return f"its home_keys must be a list of key names for a chord model, not {_shown(homes)}"
    for entry, check in checks.items():
        if meta.get(entry) is not None:
            problem = _per_genre_problem(entry, meta[entry], cfg, check)
            if problem:
                return problem
    return None


def _feel_problem(fit, tracks: int, steps_per_beat: int) -> str | None:
    """What is wrong with one genre's packed feels (engine/feel.py), or None."""
    try:
        feels = unpack_feels(fit)
    except ValueError as error:
        return f"is {error}"
    if feels.shape[1] != tracks or feels.shape[3] != steps_per_beat:
        return f"must time {tracks} tracks at {steps_per_beat} steps a beat"
    return None


class Composer:
    """A loaded generator that makes clips."""

    def __init__(self, generator: Generator, meta: dict | None = None, name: str = "",
                 take_judges: dict | None = None):
        self.generator = generator.eval()
        self.meta = meta or {}
        self.name = name
        # genre ("" for a model without genres) -> engine.takes.TakeJudge; empty: one take only
        self.take_judges = take_judges or {}

    @classmethod
    def load(cls, model: str | Path | None = None, device: str = "auto") -> Composer:
        """A model by name or path; a ModelFileError of one line for a file that cannot
        make clips (engine/model.py: load_model; its decoding entries: `decoding_problem`)."""
        path = resolve_model(model)
        generator, meta = load_model(path, pick_device(device))
        problem = decoding_problem(meta, generator.cfg)
        if problem:
            raise ModelFileError(f"{path}: {problem}")
        return cls(generator, meta, path.stem, load_take_judges(path, meta, generator.cfg))

    @property
    def config(self) -> ModelConfig:
        return self.generator.cfg

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @property
    def default_threshold(self) -> float:
        threshold = self.meta.get("threshold")  # null in a file is no threshold, as decoding_problem reads it
        return float(self.config.threshold if threshold is None else threshold)

    @property
    def hold_ratio(self) -> float:
        """A note, once started, is held while p >= hold_ratio * threshold (engine/binarize.py)."""
        hold = self.meta.get("hold_ratio")
        return float(PLAIN if hold is None else hold)

    def _fitted(self, entry: str, genre: str | None):
        """A decoding entry fitted per genre (engine/calibrate.py), for `genre` (the default
        one when None), or for all ("") when the model has no such genre; None if absent."""
        fits = self.meta.get(entry) or {}
        if genre is None and self.config.genres:
            genre = self.default_genre
        return fits.get(genre or "", fits.get(""))

    def track_thresholds(self, threshold: float | None = None, genre: str | None = None) -> np.ndarray:
        """Each track's threshold, (tracks, 1, 1): the model's `threshold` (the one knob a user
        turns) times the track's scale, calibrated for the genre when training ended so that
        each track plays as much as it does in the data (engine/calibrate.py: calibrate_decoding).
        Models written before per-track scales decode every track at `threshold`."""
        threshold = self.default_threshold if threshold is None else float(threshold)
        scale = self._fitted("track_scales", genre) or [1.0] * self.config.n_tracks
        return np.clip(threshold * np.asarray(scale, dtype=np.float32), 0.01, 0.99)[:, None, None]

    @property
    def monophonic_tracks(self) -> list[int]:
        """Tracks decoded one note at a time: those the data plays so (a bass line)."""
        names = set(self.meta.get("monophonic") or [])
        return [i for i, t in enumerate(self.config.tracks) if t.name in names]

    def onset_prior(self, genre: str | None = None) -> np.ndarray | None:
        """(tracks, steps_per_beat): where in the beat each track's notes start in the genre's
        songs, or None for models fitted before it was stored."""
        prior = self._fitted("onset_prior", genre)
        return None if prior is None else np.asarray(prior, dtype=np.float64)

    def feels(self, genre: str | None = None) -> np.ndarray:
        """The genre's feels (engine/feel.py: fitted_feels); none (shape (0,)) for models
        fitted before feels were stored, which then stay on the grid."""
        packed = self._fitted("feel", genre)
        if packed is None:
            return np.zeros((0,), dtype=np.uint8)
        # Unpacked once a genre, not once a clip; one tuple read and written whole, as the window
        # decodes on its worker thread and the jam on the live one.
        key, feels = getattr(self, "_unpacked_feels", (None, None))
        if key != (genre, id(packed)):
            feels = unpack_feels(packed)
            self._unpacked_feels = ((genre, id(packed)), feels)
        return feels

    def play_with_feel(self, notes: np.ndarray, genre: str | None = None, amount: float | None = None,
                       seed: int = 0) -> np.ndarray:
        """Decoded notes (..., tracks, steps, pitches), each phrase played with one of the
        genre's feels (engine/feel.py: apply_feel), `amount` (0..1, default FEEL) of its notes
        taking its timing; drums move whole. `seed` picks the feel and the offsets."""
        amount = FEEL if amount is None else float(amount)
        drums = tuple(t for t, track in enumerate(self.config.tracks) if track.is_drum)
        return apply_feel(notes, self.feels(genre), self.config.steps_per_beat, amount, seed, drums)

    def decode(self, probabilities: np.ndarray, threshold: float | None = None,
               genre: str | None = None, quantize_strength: float | None = None,
               chords: list | None = None, lock: float = 0.0, pull: bool = True,
               manners: np.ndarray | None = None) -> np.ndarray:
        """(..., tracks, steps, pitches) probabilities -> bool notes: each track at its own
        threshold with the model's hysteresis (a note played again at once kept two notes,
        for models fitted so: `repeats`), its bars of a stray note or two silenced where the
        model's fitted `bar_gate` says, moved `quantize_strength` (0..1, default QUANTIZE)
        of the way onto the beat's grid (to where the genre's players start notes, drums as
        hits; a phrase of a track that the model's fitted `straight_eighths` says plays 8ths
        has its few 16ths between them moved onto them), its drums played as a kit is where the
        model's fitted `kit` says (each note a hit, a step's hits past its surest few kept only
        where the network was sure of them: binarize.kit_hits), then its monophonic tracks made lines,
        then each pitched track's strays moved by octaves into the register the genre's players
        keep to (`register`: keep_in_register). `chords` (one per beat) and `lock` (0..1): notes
        off the beat's chord made that much less likely first (binarize.chord_lock).

        Where the model's fitted `repeat_bars` gives a track a share, the phrase is decoded
        twice: once as it comes, to see which bars each track plays in, then with those bars
        pulled toward their mean bar by the share (binarize.repeat_bars: a groove that comes
        back bar after bar, as in the songs); the bars it rests in stay rests. `pull` False
        leaves that out (songs' own rolls decoded as the model decodes, to compare like with
        like: their bars repeat as they do already).

        `manners` (an idea's: phrases, tracks, manners), for a manner model: each phrase's
        pitched tracks then played as decoded, held or pulsed, whichever is nearer the manner asked for
        (engine/articulation.py); for (tracks, steps, pitches) probabilities, or for several
        ideas' (ideas, tracks, steps, pitches) with their manners stacked (ideas, phrases,
        tracks, manners): one call decodes a clip's takes, each as it would be alone."""
        args = (threshold, genre, quantize_strength, chords, lock)
        shares = self._fitted("repeat_bars", genre) if pull else None  # models fitted before it have none
        if not shares or not any(shares):
            return self._articulate(self._decode(probabilities, *args), manners)
        steps_per_bar = 4 * self.config.steps_per_beat
        plain = self._decode(probabilities, *args)
        bars = plain.shape[-2] // steps_per_bar
        playing = plain[..., : bars * steps_per_bar, :].reshape(
            *plain.shape[:-2], bars, steps_per_bar, plain.shape[-1]).any(axis=(-2, -1))  # (..., tracks, bars)
        pulled = probabilities.copy()
        for t, track in enumerate(self.config.tracks):
            pulled[..., t, :, :] = repeat_bars(probabilities[..., t, :, :], steps_per_bar, shares[t],
                                               whole_bar=track.is_drum, playing=playing[..., t, :])
        return self._articulate(self._decode(pulled, *args), manners)

    def _articulate(self, notes: np.ndarray, manners: np.ndarray | None) -> np.ndarray:
        """Decoded notes played as long as their manners ask (a manner model's, given them)."""
        if manners is None or not self.config.manners:
            return notes
        g = self.generator
        mean, scale = g.manner_mean.cpu().numpy(), g.manner_scale.cpu().numpy()
        if notes.ndim == 3:
            return fit_articulation(notes, manners, self.config, mean, scale)
        return np.stack([fit_articulation(n, m, self.config, mean, scale) for n, m in zip(notes, manners)])

    def _decode(self, probabilities: np.ndarray, threshold: float | None, genre: str | None,
                quantize_strength: float | None, chords: list | None, lock: float) -> np.ndarray:
        """`decode` without the pull toward the mean bar."""
        if lock > 0 and chords:
            pitched = [t for t, track in enumerate(self.config.tracks) if not track.is_drum]
            probabilities = probabilities.copy()
            low = self.config.lowest_pitch if probabilities.shape[-1] == self.config.n_pitches else 0
            probabilities[..., pitched, :, :] = chord_lock(probabilities[..., pitched, :, :], chords,
                                                           self.config.steps_per_beat, low, lock)
        thresholds = self.track_thresholds(threshold, genre)
        notes = binarize(probabilities, thresholds, self.hold_ratio, repeats=bool(self.meta.get("repeats", False)))
        gate = self._fitted("bar_gate", genre)  # models fitted before it have none
        if gate:
            notes = gate_bars(notes, 4 * self.config.steps_per_beat, gate)
        strength = QUANTIZE if quantize_strength is None else float(quantize_strength)
        if strength > 0:
            spb, prior = self.config.steps_per_beat, self.onset_prior(genre)
            spreads = self._fitted("onset_spread", genre) or [SNAP_SPREAD] * self.config.n_tracks
            for t, track in enumerate(self.config.tracks):
                notes[..., t, :, :] = quantize(notes[..., t, :, :], spb, strength, None if prior is None else prior[t],
                                               spreads[t], keep_lengths=track.is_drum)
            for entry, straighten, _ in STRAIGHTENINGS:
                cutoffs = self._fitted(entry, genre) or [0.0] * self.config.n_tracks  # models fitted before have none
                for t, track in enumerate(self.config.tracks):
                    notes[..., t, :, :] = straighten(notes[..., t, :, :], spb, cutoffs[t],
                                                     None if prior is None else prior[t], keep_lengths=track.is_drum)
        kit = self._fitted("kit", genre)  # models fitted before it have none
        if kit:
            for t, track in enumerate(self.config.tracks):
                if track.is_drum:
                    sureness = hit_sureness(probabilities[..., t, :, :], thresholds[t], self.config.steps_per_beat)
                    certain = (1 - 1e-6) / float(thresholds[t].item())  # probability 1, allowing for float32's rounding
                    notes[..., t, :, :] = kit_hits(notes[..., t, :, :], sureness, kit, certain)
        sixteenth = max(1, self.config.steps_per_beat // 4)  # the shortest piece a cut may leave
        for t in self.monophonic_tracks:
            notes[..., t, :, :] = monophonic(notes[..., t, :, :], probabilities[..., t, :, :], sixteenth)
        reach = self._fitted("register", genre)  # models fitted before it have none
        for t, track in enumerate(self.config.tracks):
            if reach and reach[t] and not track.is_drum:
                notes[..., t, :, :] = keep_in_register(notes[..., t, :, :], reach[t])
        return notes

    @property
    def default_genre(self) -> str | None:
        """The genre asked for when none is named: the one the model was trained on most."""
        genres = self.config.genres
        if not genres:
            return None
        return self.meta.get("default_genre") if self.meta.get("default_genre") in genres else genres[0]

    def genre_index(self, genre: str | None) -> int | None:
        genres = self.config.genres
        if genre is None:
            return None if not genres else genres.index(self.default_genre)
        if genre not in genres:
            offered = ", ".join(genres) if genres else "none: it is not genre-conditioned"
            raise ValueError(f"model {self.name!r} has no genre {genre!r} (genres: {offered})")
        return genres.index(genre)

    # -- ideas ---------------------------------------------------------------------------

    @property
    def takes_chords(self) -> bool:
        return bool(self.config.chords)

    @property
    def home_keys(self) -> frozenset:
        """The keys this chord model plays as in its median key (engine/key_homing.py), where a
        phrase in another key is made; empty: every key is made as it is."""
        return home_keys_from(self.meta.get("home_keys"))

    def drawn_progression(self, seed: int, genre: str | None = None) -> list | None:
        """One phrase's chords (one Chord or None per beat) drawn by `seed` from the genre's
        songs (the model file's `progressions`): what a chord model plays over when given
        none; None when the model has none to draw from."""
        from .chords import Chord, per_beat

        drawn = self._fitted("progressions", genre) or []
        if not self.takes_chords or not drawn:
            return None
        names = drawn[int(np.random.default_rng([seed, 7]).integers(len(drawn)))].split()
        return per_beat([None if n == "N" else Chord.from_name(n) for n in names], self.config.n_beats)

    def key_progression(self, key, seed: int, genre: str | None = None) -> list:
        """Chords the model picks in `key` (engine/progression.py: Key), one per beat of a
        phrase: a progression of the genre's songs in the key's mode, moved into the key."""
        from .chords import per_beat
        from .progression import ChordError, progression_in_key

        drawn = self._fitted("progressions", genre) or []
        if not drawn:
            raise ChordError(f"model {self.name!r} has no progressions to pick from")
        return per_beat(progression_in_key(drawn, key, seed), self.config.n_beats)

    def chords_for(self, chords: list | None, phrases: int, seed: int, genre: str | None = None) -> tuple | None:
        """An idea's chords, one per beat of its `phrases` phrases: `chords` (one Chord or
        None per beat; a shorter list repeats) or, when None, a progression of the genre's
        songs drawn by `seed` (repeated in every phrase); None for a model without chords."""
        if not self.takes_chords:
            if chords is not None and any(c is not None for c in chords):
                raise ValueError(f"model {self.name!r} does not take chords (train one with --chords)")
            return None
        if chords is None:
            chords = self.drawn_progression(seed, genre)
        if not chords:
            return None
        return tuple(chords[b % len(chords)] for b in range(phrases * self.config.n_beats))

    def new_idea(self, seed: int, bars: int | None = None, genre: str | None = None,
                 variation: float = 0.3, chords: list | None = None) -> Idea:
        """Noise for a clip of `bars` bars; phrases after the first walk from the one before.
        `chords`: one Chord (or None) per beat for a chord model (`chords_for`)."""
        cfg = self.config
        phrases = max(1, math.ceil((bars or cfg.n_bars) / cfg.n_bars))
        rng = np.random.default_rng(seed)
        shared = [_randn(rng, cfg.z_shared)]
        tracks = [_randn(rng, cfg.n_tracks, cfg.z_track)]
        for _ in range(phrases - 1):
            shared.append(walk(shared[-1], _randn(rng, cfg.z_shared), variation))
            tracks.append(walk(tracks[-1], _randn(rng, cfg.n_tracks, cfg.z_track), variation))
        chosen = self.chords_for(chords, phrases, seed, genre)
        index = self.genre_index(genre)
        return Idea(np.stack(shared), np.stack(tracks), index, seed, chosen,
                    manners=self.drawn_manners(rng, phrases, index))

    @property
    def default_takes(self) -> int:
        """How many takes of an idea the app and the command line make when not told: the
        model file's choice where it carries take judges, else one."""
        if not self.take_judges:
            return 1
        return int(self.meta.get("takes", {}).get("default", 1))

    def take_judge(self, genre: str | None):
        """The judge of takes of `genre` (the model's default genre for None), or None."""
        if not self.take_judges:
            return None
        return self.take_judges.get((genre or self.default_genre or "") if self.config.genres else "")

    def best_idea(self, seed: int, takes: int = 1, bars: int | None = None, genre: str | None = None,
                  chords: list | None = None) -> Idea:
        """Of `takes` ideas (seeds engine/takes.py: take_seeds, the first `seed` itself), the one
        the genre's take judge finds most like its songs (`best_of`). One take is
        `new_idea(seed, ...)`. A ValueError of one line for more takes than MAX_TAKES or a
        model without judges."""
        from .takes import take_seeds

        self.check_takes(takes, genre)
        ideas = [self.new_idea(s, bars, genre, chords=chords) for s in take_seeds(seed, takes)]
        return self.best_of(ideas, genre)

    def check_takes(self, takes: int, genre: str | None) -> None:
        from .takes import MAX_TAKES

        if not 1 <= takes <= MAX_TAKES:
            raise ValueError(f"takes must be 1 to {MAX_TAKES}, not {takes}")
        if takes > 1 and self.take_judge(genre) is None:
            raise ValueError(f"model {self.name!r} has no take judge for {genre or 'its phrases'}, so it makes "
                             f"one take (fit judges with `bytes2beats calibrate --takes-only`)")

    def best_of(self, ideas: list[Idea], genre: str | None = None, feel_seed: int | None = None) -> Idea:
        """The idea whose phrases, decoded and played as `to_clip` makes them by default (the
        feel drawn by `feel_seed`, each idea's own seed for None), the genre's take judge scores
        most like its songs (their mean score), less ARRANGEMENT_COST for each bar a part
        plays or rests in otherwise than in the first idea: the takes vary the playing, not
        which parts play when. The first where there is one idea. The default decoding, not
        the user's threshold, quantize and feel: those shape the idea kept, and a seed keeps
        its idea whatever they are."""
        from .takes import ARRANGEMENT_COST, arrangement_change, bars_playing
        from .two_sample import model_phrase_features

        if len(ideas) == 1:
            return ideas[0]
        judge = self.take_judge(genre)
        cfg = self.config
        steps = cfg.n_steps
        scores, first = [], None
        for idea, notes in zip(ideas, self._decoded_takes(ideas, genre)):
            played = self.play_with_feel(notes, genre, None, idea.seed if feel_seed is None else feel_seed)
            phrases = played[:, : played.shape[1] // steps * steps].reshape(cfg.n_tracks, -1, steps, cfg.n_pitches)
            phrases = phrases.transpose(1, 0, 2, 3)
            playing = bars_playing(phrases, cfg.n_bars)
            first = playing if first is None else first
            scores.append(float(judge.score(phrases, model_phrase_features(cfg, phrases)[0]).mean())
                          - ARRANGEMENT_COST * arrangement_change(playing, first))
        return ideas[int(np.argmax(scores))]

    def _decoded_takes(self, ideas: list[Idea], genre: str | None) -> Iterator[np.ndarray]:
        """Each take's notes as `decode` gives them by default, `TAKES_DECODED_AT_ONCE` takes
        to a `decode` call: the numpy work of one call is spread over several ideas (an 8-bar
        clip's 8 takes decode in about 85 % of the time one by one: bench/decode_speed.py), and
        memory stays bounded."""
        cfg = self.config
        low = cfg.lowest_pitch
        pairs = self.iter_probabilities(ideas)
        while chunk := list(itertools.islice(pairs, TAKES_DECODED_AT_ONCE)):
            probs = np.stack([p[:, :, low : low + cfg.n_pitches] for _, p in chunk])
            manners = None if chunk[0][0].manners is None else np.stack([idea.manners for idea, _ in chunk])
            yield from self.decode(probs, None, genre, manners=manners)

    def drawn_manners(self, rng: np.random.Generator, phrases: int, genre: int | None) -> np.ndarray | None:
        """A manner model's manners for a clip: one phrase of the genre's songs' (its tracks'
        manners together, as one band played them), the same for every phrase of the clip."""
        if not self.config.manners:
            return None
        table = self.generator.manner_table[genre or 0].cpu().numpy()  # (rows, T, manners)
        return np.repeat(table[rng.integers(len(table))][None], phrases, axis=0).astype(np.float32)

    def regenerate_track(self, idea: Idea, track: int, seed: int) -> Idea:
        """The same idea with new noise (and, for a manner model, a new manner) for one track:
        the other tracks come out unchanged."""
        z_tracks = idea.z_tracks.copy()
        rng = np.random.default_rng(seed)
        z_tracks[:, track] = _randn(rng, idea.n_phrases, self.config.z_track)
        manners = idea.manners
        if manners is not None:
            manners = manners.copy()
            manners[:, track] = self.drawn_manners(rng, idea.n_phrases, idea.genre)[:, track]
        return replace(idea, z_tracks=z_tracks, manners=manners)

    def vary(self, idea: Idea, amount: float, seed: int) -> Idea:
        """A small move in latent space (`amount` 0..1) away from an idea."""
        rng = np.random.default_rng(seed)
        return replace(
            idea,
            z_shared=walk(idea.z_shared, _randn(rng, *idea.z_shared.shape), amount),
            z_tracks=walk(idea.z_tracks, _randn(rng, *idea.z_tracks.shape), amount),
            seed=seed,
        )

    def interpolate(self, a: Idea, b: Idea, steps: int) -> list[Idea]:
        """`steps` ideas from a to b along a spherical path (keeps the noise's scale)."""
        out = []
        for t in np.linspace(0.0, 1.0, steps):
            angle = t * math.pi / 2
            out.append(replace(
                a,
                z_shared=(math.cos(angle) * a.z_shared + math.sin(angle) * b.z_shared).astype(np.float32),
                z_tracks=(math.cos(angle) * a.z_tracks + math.sin(angle) * b.z_tracks).astype(np.float32),
                manners=None if a.manners is None or b.manners is None else
                ((1 - t) * a.manners + t * b.manners).astype(np.float32),
            ))
        return out

    # -- the model -----------------------------------------------------------------------

    def probabilities(self, ideas: list[Idea], batch_size: int = 64) -> list[np.ndarray]:
        """Note probabilities per idea, each (tracks, bars * steps_per_bar, 128) float32."""
        return [probs for _, probs in self.iter_probabilities(ideas, batch_size)]

    def iter_probabilities(self, ideas: Iterable[Idea], batch_size: int = 64) -> Iterator[tuple[Idea, np.ndarray]]:
        """(idea, its probabilities) for each idea, in order, as soon as its phrases are made.

        Ideas are taken as they are needed and their phrases run through the generator in
        batches of `batch_size` phrases, the same batches as for a list of all of them (so the
        same numbers), while memory holds one batch and one idea rather than all of them.
        """
        waiting: deque[Idea] = deque()  # ideas taken, not yet handed out
        queued = None  # generator inputs not yet run: arrays of as many rows (phrases)
        made = None  # (phrases, T, S, P) made, not yet handed out
        for idea in ideas:
            waiting.append(idea)
            queued = _join_rows(queued, self._generator_inputs(idea))
            while len(queued[0]) >= batch_size:
                batch, queued = _split_rows(queued, batch_size)
                made = _join_rows(made, (self._run_generator(batch),))
            while waiting and made is not None and len(made[0]) >= waiting[0].n_phrases:
                own, made = _split_rows(made, waiting[0].n_phrases)
                yield waiting.popleft(), self._full_pitch_range(own[0])
        if queued is not None and len(queued[0]):
            made = _join_rows(made, (self._run_generator(queued),))
        for idea in waiting:
            own, made = _split_rows(made, idea.n_phrases)
            yield idea, self._full_pitch_range(own[0])

    def _generator_inputs(self, idea: Idea) -> tuple[np.ndarray, ...]:
        """An idea's rows for the generator: z_shared, z_tracks, genre, manners (zeros, the
        songs' mean, where none) and (chord models) chords."""
        genres = np.full(idea.n_phrases, idea.genre if idea.genre is not None else 0)
        manners = idea.manners
        if manners is None:
            manners = np.zeros((idea.n_phrases, self.config.n_tracks, N_MANNERS), dtype=np.float32)
        if not self.config.chords:
            return idea.z_shared, idea.z_tracks, genres, manners
        return idea.z_shared, idea.z_tracks, genres, manners, *self.chord_inputs(idea)

    def chord_inputs(self, idea: Idea) -> tuple[np.ndarray, np.ndarray]:
        """A chord model's chords for an idea as the generator takes them: (phrases, beats, 24)
        features, each phrase's moved into the nearest home key (engine/key_homing.py), and the
        semitones each was moved (phrases,): its notes are moved back by as many."""
        from .chords import chord_features

        beats = self.config.n_beats
        per_phrase = [(idea.chords or [None] * (idea.n_phrases * beats))[k * beats:(k + 1) * beats]
                      for k in range(idea.n_phrases)]
        homes = self.home_keys if idea.home_keys else frozenset()
        shifts = np.array([home_shift(chords, homes) for chords in per_phrase], dtype=np.int64)
        features = np.stack([move_chord_features(chord_features(chords), int(shift))
                             for chords, shift in zip(per_phrase, shifts)])
        return features, shifts

    @torch.no_grad()
    def _run_generator(self, rows: tuple[np.ndarray, ...]) -> np.ndarray:
        """One batch of generator inputs -> (batch, T, S, P) probabilities."""
        shared, tracks, genres, manners, *chords = (torch.as_tensor(a, device=self.device) for a in rows[:5])
        probs = self.generator(shared, tracks, genres if self.config.genres else None,
                               chords[0] if chords else None,
                               manners=manners if self.config.manners else None).float().cpu().numpy()
        if len(rows) > 5:  # phrases made in a home key go back to the key asked for
            for row, shift in enumerate(rows[5]):
                probs[row] = move_pitches(probs[row], -int(shift))
        return probs

    def _full_pitch_range(self, phrases: np.ndarray) -> np.ndarray:
        """An idea's (phrases, T, S, P) -> (T, phrases * S, 128): its phrases one after the
        other, on the full MIDI pitch range."""
        cfg = self.config
        joined = phrases.transpose(1, 0, 2, 3).reshape(cfg.n_tracks, -1, cfg.n_pitches)
        full = np.zeros((cfg.n_tracks, joined.shape[1], N_PITCHES), dtype=np.float32)
        full[:, :, cfg.lowest_pitch : cfg.lowest_pitch + cfg.n_pitches] = joined
        return full

    def to_clip(self, probabilities: np.ndarray, threshold: float | None = None, bars: int | None = None,
                bpm: float = 120.0, name: str = "", genre: str | None = None,
                quantize_strength: float | None = None, chords: tuple | None = None,
                feel: float | None = None, seed: int = 0, manners: np.ndarray | None = None) -> Multitrack:
        """Decode probabilities into a clip of `bars` bars (`decode`; the genre picks the
        per-track thresholds of a genre model), played with `feel` (0..1, default FEEL) of
        the genre's feels (`play_with_feel`, drawn by `seed`: the idea's), a manner model's
        notes as long as the idea's `manners` ask (`decode`). The clip's chords
        are `chords` (those it was made to, one per beat) or else those detected in what was
        generated."""
        cfg = self.config
        steps = (bars or cfg.n_bars) * 4 * cfg.steps_per_beat
        probs = probabilities[:, :steps]
        notes = self.decode(probs, threshold, genre, quantize_strength, manners=manners)
        rolls = self.play_with_feel(notes, genre, feel, seed).astype(np.uint8)
        clip = Multitrack(cfg.tracks, rolls, cfg.steps_per_beat, float(bpm), name, probabilities=probs)
        beats = steps // cfg.steps_per_beat
        clip.chords = tuple(chords[:beats]) if chords else detect_chords(clip)
        return clip

    def generate(self, seed: int = 0, bars: int | None = None, genre: str | None = None,
                 threshold: float | None = None, bpm: float = 120.0, count: int = 1,
                 quantize_strength: float | None = None, chords: list | None = None,
                 feel: float | None = None, takes: int = 1) -> list[Multitrack]:
        """`count` clips from seeds seed, seed + 1, ...; `chords`: one Chord (or None) per
        beat for a chord model (repeating when shorter than the clip); each clip the best of
        `takes` takes of its seed's idea (`best_idea`)."""
        return list(self.iter_generate(seed, bars, genre, threshold, bpm, count, quantize_strength, chords, feel,
                                       takes))

    def iter_generate(self, seed: int = 0, bars: int | None = None, genre: str | None = None,
                      threshold: float | None = None, bpm: float = 120.0, count: int = 1,
                      quantize_strength: float | None = None, chords: list | None = None,
                      feel: float | None = None, takes: int = 1) -> Iterator[Multitrack]:
        """The clips of `generate`, one by one as they are made: memory does not grow with
        `count`, and the clips are the same as `generate`'s."""
        self.check_takes(takes, genre)
        ideas = (self.best_idea(seed + k, takes, bars, genre, chords) for k in range(count))
        for k, (idea, probs) in enumerate(self.iter_probabilities(ideas)):
            # named by the seed asked for: with takes, the idea's own seed is the kept take's
            yield self.to_clip(probs, threshold, bars, bpm, name=f"{self.name}-seed{seed + k}", genre=genre,
                               quantize_strength=quantize_strength, chords=idea.chords, feel=feel, seed=idea.seed,
                               manners=idea.manners)


def _join_rows(rows: tuple[np.ndarray, ...] | None, more: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Arrays of as many rows each, with `more`'s rows after theirs (None: none yet)."""
    return more if rows is None else tuple(np.concatenate(pair) for pair in zip(rows, more))


def _split_rows(rows: tuple[np.ndarray, ...], n: int) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """(the first `n` rows of each array, the rest)."""
    return tuple(a[:n] for a in rows), tuple(a[n:] for a in rows)


def detect_chords(clip: Multitrack) -> tuple:
    """A clip's chords as the extractor hears them (engine/chords.py), one per beat."""
    from .chords import extract_chords, per_beat

    half_bars = extract_chords(clip.rolls > 0, clip.tracks, 0, clip.steps_per_beat)
    return tuple(per_beat(half_bars, 2 * len(half_bars)))
