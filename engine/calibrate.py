"""How a trained generator's probabilities become notes: thresholds fitted to the data.

A WGAN's sigmoid outputs are seldom exactly 0 or 1, and a fixed threshold (the seed
paper's 0.9) can leave a model with too few notes or too many. When training ends, the
decoding is fitted to the training phrases and stored with the model:

- `threshold`: the one at which all tracks together play as much as the data (the knob a
  user turns in the app and with `--threshold`);
- `track_scales`: per genre, each track's threshold as a multiple of it, fitted so that
  each track plays as much as it does in that genre's songs. One network can give drums
  lower probabilities than piano; one threshold for both leaves the drums with empty bars;
- `monophonic`: the tracks the data plays one note at a time (polyphonic rate under
  `MONOPHONIC_BELOW`, such as bass), decoded so (engine/binarize.py: monophonic);
- `onset_prior` and `onset_spread`: per genre, where in the beat each track's notes start
  in its songs, and how far off the grid the generator's notes of that track stray (the
  spread, in steps, among SPREADS, whose quantized onsets are nearest the songs'): the
  quantizer moves a note to the grid position it most likely meant (engine/binarize.py:
  snap_offsets), so a note between the beat and a 16th in rock goes to the beat;
- `repeats`: a one-step dip between two sure steps is a note played again (binarize);
- `register`: per genre, how far from a phrase's median pitch each track's players keep 99 %
  of their notes (in semitones); a generated note further out is moved by octaves into it
  (engine/binarize.py: keep_in_register): the chord model strayed two octaves and more in
  23-50 % of its phrases' pitched tracks, against the songs' 2-10 %;
- `bar_gate`: per genre, the fewest notes-cells a bar of each track must hold to be kept, so
  that a track plays in no more of its bars than in the songs (engine/binarize.py:
  gate_bars): a family the songs seldom play stays silent where they are silent;
- `repeat_bars`: per genre, how far each track's bars are pulled toward the phrase's mean bar
  (engine/binarize.py: repeat_bars), the share (of REPEAT_SHARES) at which its decoded bars
  start notes at the same steps as alike as the songs' do (metrics.track_repetition, onsets):
  rock's drums 0.90 alike bar to bar and its bass 0.80, the chord model's 0.76 and 0.44;
- `straight_sixteenths` and `straight_eighths`: per genre, each track's cutoff under which a
  phrase's few notes on the 8th triplets are played on the 16ths (binarize.straight_sixteenths),
  then its few notes on the 16ths between the 8ths on the 8ths (binarize.straight_eighths),
  each fitted so that as many phrases start none there as in the songs (63 % of rock's guitar
  phrases start no triplet, 74 % no 16th between the 8ths; 10 % of the chord model's);
- `feel`: per genre, FEELS of its training phrases' timings (engine/feel.py): how far off the
  grid position the quantizer gives them the songs' players started and ended their notes,
  put back on the quantized notes when a clip is made.
- `kit`: per genre, how sure the network must be of a step's 2nd, 3rd, ... drum hit for it to
  be struck (engine/binarize.py: kit_hits), fitted so that the drums stack as many pieces on a
  hit as the songs' drummers do; each drum note is played as a hit.

Notes are decoded with hysteresis (`hold_ratio`), as the model will decode them.
"""

from __future__ import annotations

import numpy as np

from .binarize import (
    HOLD_RATIO,
    KIT_RANKS,
    SNAP_SPREAD,
    STRAIGHTENINGS,
    binarize,
    calibrate,
    fitted_bar_gate,
    fitted_kit,
    hit_sureness,
    median_pitches,
    quantize,
)
from .dataset import Phrases
from .feel import fitted_feels, pack_feels, track_offsets
from .generate import Composer
from .metrics import (
    REPETITION_KINDS,
    on_grid,
    onset_positions,
    onsets,
    polyphonic_rate,
    track_repetition,
)
from .model import Generator

SAMPLES = 1024  # generated phrases per genre: the fitted thresholds move by under 0.01 from one set to another
DATA_SAMPLE = 4096  # training phrases whose polyphonic rate is measured
MONOPHONIC_BELOW = 1.1  # a track sounding fewer notes at once than this, on average, is a line
SPREADS = (0.5, 0.75, 1.0, 1.25, 1.5)  # timing spreads (steps at 12 a beat) tried for the quantizer
REGISTER_SHARE = 0.99  # of a track's notes the register holds: the rest, in the songs, are the strays
REPEATS = True  # models fitted now keep a note played again at once as two (binarize: repeats)
REPEAT_SHARES = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0)  # shares of the pull toward the mean bar tried (fitted_rhythm)
AT_ONCE_DRIFT = 0.01  # share of its notes at once that the pull toward the mean bar may move a track away from the songs'
RHYTHM_ENTRIES = ("repeat_bars", *(entry for entry, _, _ in STRAIGHTENINGS))  # what fitted_rhythm fits
REPEAT_SAMPLES = 256  # generated phrases per genre decoded at each share: its bar similarity moves by about 0.01


def calibrate_threshold(generator: Generator, phrases: Phrases, samples: int = 256, seed: int = 99,
                        hold_ratio: float = HOLD_RATIO, rows: np.ndarray | None = None,
                        progressions: dict | None = None) -> float:
    """The one threshold at which generated clips have as many active cells as the data.

    A genre model is asked for each genre as often as the data has it, so that the density
    it is matched to is the one of the same mix of genres. `rows`: the phrases to match
    (all when None), so that a caller holding all the songs need not copy its training set.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(len(phrases)) if rows is None else rows
    density = float(_density(phrases, rows).mean())
    was_training = generator.training
    composer = Composer(generator, {"progressions": progressions or {}})  # eval mode: restored below
    genres = composer.config.genres
    labels = phrases.genre[rng.choice(rows, samples)] if genres else np.full(samples, -1)
    ideas = [composer.new_idea(seed + k, genre=phrases.genres[g] if g >= 0 and phrases.genres[g] in genres else None)
             for k, g in enumerate(labels)]
    probs = _probabilities(composer, ideas)
    generator.train(was_training)
    return calibrate(probs, density, hold_ratio, repeats=REPEATS)


def calibrate_decoding(generator: Generator, phrases: Phrases, samples: int = SAMPLES, seed: int = 99,
                       hold_ratio: float = HOLD_RATIO, rows: np.ndarray | None = None,
                       progressions: dict | None = None) -> dict:
    """The model file's decoding entries: threshold, hold_ratio, track_scales, monophonic,
    onset_prior, onset_spread, repeats, bar_gate, register, repeat_bars, straight_sixteenths,
    straight_eighths, feel, kit.

    `samples` generated phrases for the threshold, and as many again for each genre's
    scales; `rows`: the phrases to fit to (all when None). A chord model is fitted over
    `progressions` (per genre, drawn as the model will draw them: `phrase_progressions`).
    """
    rows = np.arange(len(phrases)) if rows is None else rows
    threshold = round(calibrate_threshold(generator, phrases, samples, seed, hold_ratio, rows, progressions), 4)
    was_training = generator.training
    composer = Composer(generator, {"progressions": progressions or {}})
    rng = np.random.default_rng(seed + 1)
    groups = genre_groups(phrases, rows, composer.config.genres)
    rate = polyphonic_rate(phrases.rolls[_pick(rng, rows)])
    lines = [i for i, r in enumerate(rate) if 0 < r < MONOPHONIC_BELOW]
    scales, priors, spreads, gates = {}, {}, {}, {}
    steps_per_bar = 4 * composer.config.steps_per_beat
    for genre, in_genre in groups.items():
        if not len(in_genre):
            continue
        priors[genre] = fitted_onset_prior(phrases, _pick(rng, in_genre), composer.config.steps_per_beat)
        density = _density(phrases, in_genre)
        ideas = [composer.new_idea(seed + k, genre=genre or None) for k in range(samples)]
        probs = _probabilities(composer, ideas)  # (samples, tracks, steps, pitches)
        # A line is fitted before it is drawn: drawn, the generator's lines rest more than
        # the data's, and matching their density sends the threshold to its floor.
        scales[genre] = [round(calibrate(probs[:, t], float(density[t]), hold_ratio, repeats=REPEATS) / threshold, 6)
                         for t in range(probs.shape[1])]
        notes = binarize(probs, threshold * np.asarray(scales[genre])[:, None, None], hold_ratio, REPEATS)
        playing = _bar_share(phrases, _pick(rng, in_genre), steps_per_bar)
        gates[genre] = [fitted_bar_gate(notes[:, t], float(playing[t]), steps_per_bar) for t in range(notes.shape[1])]
        spreads[genre] = [fitted_spread(notes[:, t], np.asarray(priors[genre][t]), composer.config.steps_per_beat,
                                        keep_lengths=track.is_drum)
                          for t, track in enumerate(composer.config.tracks)]
    decoding = {
        "threshold": threshold,
        "hold_ratio": hold_ratio,
        "track_scales": scales,
        "monophonic": [composer.config.tracks[t].name for t in lines],
        "onset_prior": priors,
        "onset_spread": spreads,
        "repeats": REPEATS,
        "bar_gate": gates,
        "register": fitted_registers(phrases, composer.config.genres, composer.config.tracks, rows),
    }
    if not on_grid(composer.config.steps_per_beat).all():  # at 4 steps a beat nothing is off the grid
        decoding["feel"] = {genre: fitted_genre_feel(phrases, in_genre, priors[genre], spreads[genre], composer.config, seed)
                            for genre, in_genre in groups.items() if len(in_genre)}
    composer.meta.update(decoding)
    kit = fitted_kits(composer, phrases, rows, min(samples, REPEAT_SAMPLES), seed=seed + 3)
    if kit:
        decoding["kit"] = kit
        composer.meta["kit"] = kit
    # Fitted last: the share is judged by the notes the rest of the decoding makes.
    decoding.update(fitted_rhythm(composer, phrases, rows, min(samples, REPEAT_SAMPLES), seed=seed + 2))
    generator.train(was_training)
    return decoding


def fitted_kits(composer: Composer, phrases: Phrases, rows: np.ndarray | None = None,
                samples: int = REPEAT_SAMPLES, seed: int = 102) -> dict[str, list[float]] | None:
    """`kit` per genre (`genre_groups`): the rank scales (binarize.fitted_kit) at which the
    drums of `samples` generated phrases, decoded as `composer` decodes them, hold as many
    hits at once as the genre's songs' drums; None for a model without drums."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(phrases)) if rows is None else rows
    cfg = composer.config
    drums = [t for t, track in enumerate(cfg.tracks) if track.is_drum]
    if not drums:
        return None
    saved = composer.meta.pop("kit", None)
    fitted = {}
    try:
        for genre, in_genre in genre_groups(phrases, rows, cfg.genres).items():
            if not len(in_genre):
                continue
            songs = onsets(phrases.rolls[_pick(rng, in_genre)][:, drums]).sum(-1)  # (n, drums, steps): hits a step
            at_once = np.bincount(songs[songs > 0], minlength=KIT_RANKS + 1) / max(1, int((songs > 0).sum()))
            probs = _probabilities(composer, [composer.new_idea(seed + k, genre=genre or None) for k in range(samples)])
            notes = composer.decode(probs, genre=genre or None)
            thresholds = composer.track_thresholds(None, genre or None)
            sureness = []
            for t in drums:
                hits = onsets(notes[:, t])  # (n, steps, pitches)
                sure = np.where(hits, hit_sureness(probs[:, t], thresholds[t], cfg.steps_per_beat), -np.inf)
                stepped = hits.any(-1)
                sureness.extend(np.sort(sure[stepped], axis=-1)[:, ::-1][:, :KIT_RANKS])
            fitted[genre] = fitted_kit(sureness, at_once)
    finally:
        composer.meta.pop("kit", None)
        if saved is not None:
            composer.meta["kit"] = saved
    return fitted


def fitted_rhythm(composer: Composer, phrases: Phrases, rows: np.ndarray | None = None,
                  samples: int = REPEAT_SAMPLES, seed: int = 101) -> dict[str, dict[str, list[float]]]:
    """The decoding entries that shape a phrase's rhythm as a whole, per genre (`genre_groups`),
    over `composer`'s decoding (the rest of it as its meta has it), from `samples` generated
    phrases a genre:

    - `repeat_bars`: each track's share (of REPEAT_SHARES) at which its decoded bars start notes
      at the same steps from bar to bar most nearly as alike as the genre's songs' do, among the
      shares that move its notes at once little (AT_ONCE_DRIFT) or toward the songs';
    - `straight_sixteenths`: each track's cutoff (binarize.straight_sixteenths), then, at which
      as many of its phrases start no note on the 8th triplets as the songs' do;
    - `straight_eighths`: each track's cutoff (binarize.straight_eighths), over those, at which
      as many of its phrases start no note on the 16ths between the 8ths as the songs' do.
    """
    rng = np.random.default_rng(seed)
    rows = np.arange(len(phrases)) if rows is None else rows
    cfg = composer.config
    steps_per_bar, onsets_kind = 4 * cfg.steps_per_beat, REPETITION_KINDS.index("onsets")
    saved = {entry: composer.meta.get(entry) for entry in RHYTHM_ENTRIES}
    fitted = {entry: {} for entry in RHYTHM_ENTRIES}
    try:
        for genre, in_genre in genre_groups(phrases, rows, cfg.genres).items():
            if not len(in_genre):
                continue
            songs = _pick(rng, in_genre)
            alike_songs = _songs_repetition(phrases, songs, steps_per_bar, cfg.lowest_pitch)[:, onsets_kind]
            probs = _probabilities(composer, [composer.new_idea(seed + k, genre=genre or None) for k in range(samples)])
            for entry, _, _ in STRAIGHTENINGS:
                composer.meta[entry] = {}
            at_once_songs = polyphonic_rate(phrases.rolls[songs[:DATA_SAMPLE // 4]])
            alike, at_once = [], []
            for share in REPEAT_SHARES:
                composer.meta["repeat_bars"] = {genre: [share] * cfg.n_tracks}
                notes = composer.decode(probs, genre=genre or None)
                alike.append(track_repetition(notes, steps_per_bar, cfg.lowest_pitch)[:, onsets_kind])
                at_once.append(polyphonic_rate(notes))
            gap = np.abs(np.nan_to_num(np.array(alike) - alike_songs, nan=np.inf))  # (shares, tracks)
            # Aligning the bars stacks notes (`genres`' rock drums 1.97 at once to 2.03 at 0.8, the
            # songs' 1.89): a share may move a track's notes at once by AT_ONCE_DRIFT of the plain
            # decoding's (share 0), or further only toward the songs'.
            at_once = np.array(at_once)  # (shares, tracks)
            drift = np.abs(at_once - at_once[0]) > AT_ONCE_DRIFT * at_once[0]
            gap[drift & (np.abs(at_once - at_once_songs) > np.abs(at_once[0] - at_once_songs))] = np.inf
            shares = [0.0 if not np.isfinite(alike_songs[t]) else float(REPEAT_SHARES[int(np.argmin(gap[:, t]))])
                      for t in range(cfg.n_tracks)]
            composer.meta["repeat_bars"] = {genre: shares}
            fitted["repeat_bars"][genre] = shares
            for entry, _, share_of in STRAIGHTENINGS:  # in the decoding's order, each over the last
                songs_none = _share_none(phrases, songs, cfg.steps_per_beat, share_of)
                notes = composer.decode(probs, genre=genre or None)
                fitted[entry][genre] = _straight_cutoffs(share_of(notes, cfg.steps_per_beat), songs_none)
                composer.meta[entry] = {genre: fitted[entry][genre]}
    finally:
        for entry, value in saved.items():
            composer.meta.pop(entry, None)
            if value is not None:
                composer.meta[entry] = value
    return fitted


def _share_none(phrases: Phrases, rows: np.ndarray, steps_per_beat: int, share_of, chunk: int = 512) -> np.ndarray:
    """(tracks,): per track, the share of its phrases among `rows` (those where it starts a note)
    whose `share_of` (binarize.sixteenths_share or triplets_share) is 0 (0 for a track that never
    plays)."""
    none, playing = np.zeros(phrases.rolls.shape[1]), np.zeros(phrases.rolls.shape[1])
    for start in range(0, len(rows), chunk):
        share = share_of(phrases.rolls[rows[start : start + chunk]], steps_per_beat)  # (n, tracks)
        none += (share == 0).sum(axis=0)
        playing += (~np.isnan(share)).sum(axis=0)
    return np.divide(none, playing, out=np.zeros_like(none), where=playing > 0)


def _straight_cutoffs(generated: np.ndarray, songs_none: np.ndarray) -> list[float]:
    """Per track, the cutoff under which a phrase's share (generated: (phrases, tracks), NaN
    where it starts no note) is played straight, so that as many of the decoded phrases have
    none as the songs' (`songs_none`); 0 where they have as many without it."""
    cutoffs = []
    for t, target in enumerate(songs_none):
        shares = generated[~np.isnan(generated[:, t]), t]
        none = float(np.mean(shares == 0)) if len(shares) else 1.0
        cutoffs.append(0.0 if none >= target else round(float(np.quantile(shares, target)), 4))
    return cutoffs


def _songs_repetition(phrases: Phrases, rows: np.ndarray, steps_per_bar: int, lowest_pitch: int,
                      chunk: int = 512) -> np.ndarray:
    """metrics.track_repetition over `rows`, a chunk at a time, each chunk weighted by its rows."""
    parts = [(track_repetition(phrases.rolls[rows[s : s + chunk]], steps_per_bar, lowest_pitch), len(rows[s : s + chunk]))
             for s in range(0, len(rows), chunk)]
    with np.errstate(invalid="ignore"):
        return np.nansum([p * n for p, n in parts], axis=0) / np.sum([n * ~np.isnan(p) for p, n in parts], axis=0)


def genre_groups(phrases: Phrases, rows: np.ndarray, genres: list[str]) -> dict[str, np.ndarray]:
    """Per genre of the model that the data names, its phrases among `rows`; with none (no
    genres, or none the data names), one group of them all under "" (one fit for all)."""
    groups = {g: rows[phrases.genre[rows] == phrases.genres.index(g)] for g in genres if g in phrases.genres}
    if not any(len(r) for r in groups.values()):
        groups = {"": rows}
    return groups


def phrase_progressions(phrases: Phrases, cfg, rows: np.ndarray | None = None, per_genre: int = 512,
                        seed: int = 5) -> dict[str, list[str]]:
    """Per genre (or "" for all), up to `per_genre` chord progressions of its phrases, one
    chord name (or N) per half bar: what a chord model plays over when given no chords."""
    from .chords import phrases_chords

    rows = np.arange(len(phrases)) if rows is None else rows
    chords = phrases_chords(phrases, cfg)
    rng = np.random.default_rng(seed)
    groups = {g: rows[phrases.genre[rows] == phrases.genres.index(g)] for g in cfg.genres if g in phrases.genres}
    if not any(len(r) for r in groups.values()):
        groups = {"": rows}
    out = {}
    for genre, in_genre in groups.items():
        picked = [chords[k] for k in rng.permutation(in_genre)]
        # progressions with a chord in at least half their half bars: a phrase of drums alone has none to give
        kept = [row for row in picked if sum(c is not None for c in row) * 2 >= len(row)][:per_genre]
        out[genre] = [" ".join("N" if c is None else c.name for c in row) for row in kept]
    return out


def fitted_spread(notes: np.ndarray, prior: np.ndarray, steps_per_beat: int, keep_lengths: bool = False) -> float:
    """The timing spread (of SPREADS) at which quantizing a track's decoded notes leaves
    their onsets spread over the beat most like the data's (`prior`; total variation)."""
    if not notes.any() or not prior.any():
        return SNAP_SPREAD
    distance = [np.abs(np.nan_to_num(onset_positions(quantize(notes, steps_per_beat, 1.0, prior, spread, keep_lengths)[:, None],
                                                     steps_per_beat)[0]) - prior).sum() for spread in SPREADS]
    return float(SPREADS[int(np.argmin(distance))])


def fitted_genre_feel(phrases: Phrases, rows: np.ndarray, prior, spreads, cfg, seed: int = 99) -> dict:
    """A genre's feels (engine/feel.py: fitted_feels) from its training phrases `rows`, timed
    against the grid its own quantize (`prior`, None for the nearest position, and `spreads`)
    snaps notes to; packed for the file."""
    offsets = track_offsets(None if prior is None else np.asarray(prior, dtype=float), spreads, cfg.steps_per_beat,
                            cfg.n_tracks)
    return pack_feels(fitted_feels(phrases.rolls, rows, offsets, cfg.steps_per_beat, seed=seed))


def fitted_feel(composer: Composer, phrases: Phrases, rows: np.ndarray | None = None, seed: int = 99) -> dict:
    """`feel` for each of the model's genres in `phrases` (all of them without genres), timed
    against the model's fitted quantize; what `calibrate --feel-only` writes. None for a model
    whose grid holds every step (4 a beat): its songs can be played off no grid."""
    rows = np.arange(len(phrases)) if rows is None else rows
    cfg = composer.config
    if on_grid(cfg.steps_per_beat).all():
        return None
    fitted = {}
    for genre, in_genre in genre_groups(phrases, rows, cfg.genres).items():
        if len(in_genre):
            prior = composer.onset_prior(genre or None)  # None: it quantizes to the nearest position, as decode does
            spreads = composer._fitted("onset_spread", genre or None) or [SNAP_SPREAD] * cfg.n_tracks
            fitted[genre] = fitted_genre_feel(phrases, in_genre, prior, spreads, cfg, seed)
    return fitted


def fitted_onset_prior(phrases: Phrases, rows: np.ndarray, steps_per_beat: int) -> list[list[float]]:
    """Per track, the share of its onsets at each step of the beat over `rows` (0 for a
    track that never plays there)."""
    shares = np.nan_to_num(onset_positions(phrases.rolls[rows], steps_per_beat))
    return [[round(float(v), 5) for v in track] for track in shares]


def fitted_registers(phrases: Phrases, genres: list[str], tracks, rows: np.ndarray | None = None,
                     seed: int = 100) -> dict[str, list[int]]:
    """`fitted_register` per genre (`genre_groups`), each over a sample of its phrases."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(phrases)) if rows is None else rows
    return {genre: fitted_register(phrases, _pick(rng, in_genre), tracks)
            for genre, in_genre in genre_groups(phrases, rows, genres).items() if len(in_genre)}


def fitted_register(phrases: Phrases, rows: np.ndarray, tracks, share: float = REGISTER_SHARE,
                    chunk: int = 512) -> list[int]:
    """Per track, the distance in semitones from each phrase's median sounding pitch within
    which `share` of the track's sounding cells over `rows` lie (0 for drums and for a track
    that never plays: no register kept). Read a chunk of phrases at a time."""
    by_distance = np.zeros((len(tracks), 2 * phrases.rolls.shape[-1]))
    for start in range(0, len(rows), chunk):
        cells = phrases.rolls[rows[start : start + chunk]].sum(axis=2)  # (n, T, P): cells per pitch
        distance = np.abs(np.arange(cells.shape[-1]) - median_pitches(cells)[..., None])  # (n, T, P)
        for t in range(len(tracks)):
            by_distance[t] += np.bincount(distance[:, t].ravel(), weights=cells[:, t].ravel(),
                                          minlength=by_distance.shape[1])
    return [0 if track.is_drum or not counts.any() else
            int(np.searchsorted(np.cumsum(counts), share * counts.sum()))
            for track, counts in zip(tracks, by_distance)]


def _pick(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    return np.sort(rng.choice(rows, min(DATA_SAMPLE, len(rows)), replace=False))


def _bar_share(phrases: Phrases, rows: np.ndarray, steps_per_bar: int, chunk: int = 512) -> np.ndarray:
    """Share of bars each track plays in (any note), over `rows`, a chunk at a time (4,096
    phrases of the 17 families are 1.1 GB unpacked)."""
    playing = np.zeros(phrases.rolls.shape[1])
    for start in range(0, len(rows), chunk):
        rolls = phrases.rolls[rows[start : start + chunk]]  # (n, tracks, steps, pitches)
        n, t, s, _ = rolls.shape
        playing += rolls.reshape(n, t, s // steps_per_bar, -1).any(axis=3).sum(axis=(0, 2))
    return playing / max(len(rows) * (phrases.rolls.shape[2] // steps_per_bar), 1)


def _density(phrases: Phrases, rows: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Share of active cells per track over all of `rows`. All, not a sample: a track such
    as piano plays in some songs and not others, so a sample's density moves with the songs
    drawn, and a track whose probabilities are near 0 or 1 turns such a move into a large
    change of threshold."""
    total = np.zeros(phrases.rolls.shape[1])
    for start in range(0, len(rows), chunk):
        total += phrases.rolls[rows[start : start + chunk]].sum(axis=(0, 2, 3), dtype=np.int64)
    cells = len(rows) * np.prod(phrases.rolls.shape[2:])
    return total / max(cells, 1)


def _probabilities(composer: Composer, ideas: list) -> np.ndarray:
    """(ideas, tracks, steps, pitches) probabilities over the model's pitch range."""
    low, n = composer.config.lowest_pitch, composer.config.n_pitches
    return np.stack([p[:, :, low : low + n] for p in composer.probabilities(ideas)])


def fitted_manner_table(generator: Generator, phrases: Phrases, seed: int = 0, chunk: int = 64):
    """A manner model's table of the songs' manners (genres, TABLE_PHRASES, tracks, manners)
    drawn anew from up to TABLE_PHRASES x 8 training phrases of each of its genres that
    `phrases` has (as training draws it), per arrangement (engine/manner.py: manner_table),
    standardized by the generator's own mean and spread (the scale it was trained with stays):
    the manners it draws, in the songs' shares of which parts play. A genre the data lacks
    keeps its rows. None for a model without manners. (Chunks of 64 phrases: the manners of
    larger ones take twice as long a phrase on this CPU, their tensors' allocation.)"""
    import torch

    from .manner import TABLE_PHRASES, manner_table, phrase_manners
    from .packed_rolls import unpack_torch

    cfg = generator.cfg
    if not cfg.manners:
        return None
    if cfg.genres:
        known = {name: k for k, name in enumerate(cfg.genres)}
        own = np.array([known.get(name, -1) for name in phrases.genres] + [-1])[phrases.genre]  # -1: unlabelled
    else:
        own = np.zeros(len(phrases), dtype=int)
    rng = np.random.default_rng(seed)
    present = sorted(set(own[own >= 0].tolist()))
    pools = [np.flatnonzero(own == g) for g in present]
    rows = np.sort(np.concatenate([rng.choice(pool, min(8 * TABLE_PHRASES, len(pool)), replace=False)
                                   for pool in pools]))
    low = cfg.lowest_pitch if phrases.rolls.n_pitches != cfg.n_pitches else 0
    with torch.no_grad():
        manners = torch.cat([
            phrase_manners(unpack_torch(torch.from_numpy(phrases.rolls.bits[part]), phrases.rolls.n_pitches)
                           [..., low : low + cfg.n_pitches].float(), cfg)
            for part in np.array_split(rows, max(1, -(-len(rows) // chunk)))])
    standard = (manners - generator.manner_mean.cpu()) / generator.manner_scale.cpu()
    fresh = manner_table(standard, torch.from_numpy(own[rows]), max(1, len(cfg.genres)), seed,
                         playing=manners[:, :, 0] > 0)
    table = generator.manner_table.detach().cpu().clone()
    table[present] = fresh[present]
    return table
