"""From note probabilities to notes: a threshold with hysteresis.

A generator's sigmoid outputs hover around any single threshold along a held note, and
each dip below it cuts the note in two: MuseGAN blamed its low share of qualified notes on
exactly these fragments. Hysteresis, as in onset/offset decoding and edge tracing, takes
two thresholds: a note starts where the probability reaches `threshold` and is held while
it stays at or above `hold_ratio * threshold`. With `hold_ratio` 1 this is the plain
threshold of the seed paper.

A threshold may also be an array that broadcasts against the probabilities, e.g. one per
track, shape (tracks, 1, 1): a model's decoding gives each track its own (engine/generate.py).
Tracks that the data plays one note at a time (bass) are then made lines (`monophonic`),
after each note has been moved onto the beat's grid (`quantize`), as a DAW quantizes.
"""

from __future__ import annotations

import numpy as np

from .metrics import onsets

OCTAVE = 12

PLAIN = 1.0  # hold_ratio of models calibrated before hysteresis: one threshold
HOLD_RATIO = 0.5  # the models' default since; bench/hold_ratio.py measures the choice
QUANTIZE = 1.0  # how far notes move onto the grid when a caller does not say (docs/model.md, "Quantize")
GATE_OVER = 1.25  # a track playing in more than this many times its songs' share of bars is gated (fitted_bar_gate)
SNAP_SPREAD = 1.0  # the timing error, in steps at 12 a beat, that `snap_offsets` allows for


def binarize(probabilities: np.ndarray, threshold: float | np.ndarray, hold_ratio: float = PLAIN,
             repeats: bool = False) -> np.ndarray:
    """(..., steps, pitches) probabilities -> bool notes of the same shape.

    Time is the second-last axis; each pitch of each track is decoded on its own.

    `repeats`: a dip of exactly one step below `threshold` between two steps at or above it
    ends the held note and starts the next, rather than being held through. That is how the
    data writes a note played again at once (its last step silent, engine/pianoroll.py:
    resample), and the generator learns it: a bass pumping 8ths on one pitch comes out as
    1.00 ... 1.00 0.56 1.00 ..., which hysteresis alone would hold as one long note.
    """
    start = probabilities >= threshold
    if hold_ratio >= PLAIN:
        return start
    keep = probabilities >= hold_ratio * threshold
    if repeats:
        dip = np.zeros_like(start)
        dip[..., 1:-1, :] = ~start[..., 1:-1, :] & start[..., :-2, :] & start[..., 2:, :]
        keep &= ~dip
    out = np.empty_like(start)
    held = np.zeros(start.shape[:-2] + start.shape[-1:], dtype=bool)  # (..., pitches)
    for step in range(start.shape[-2]):
        held = start[..., step, :] | (held & keep[..., step, :])
        out[..., step, :] = held
    return out


def calibrate(probabilities: np.ndarray, density: float, hold_ratio: float = PLAIN,
              low: float = 0.05, high: float = 0.99, repeats: bool = False) -> float:
    """The threshold in [low, high] at which `binarize` makes `density` of the cells notes.

    The share of notes falls as the threshold rises, so a bisection finds it; with one
    threshold (hold_ratio 1) it is the (1 - density) quantile, found directly.
    """
    if hold_ratio >= PLAIN:
        return float(np.clip(np.quantile(probabilities, 1 - density), low, high))
    lo, hi = low, high
    for _ in range(20):  # (0.99 - 0.05) / 2**20: far finer than the slider's steps
        mid = (lo + hi) / 2
        if binarize(probabilities, mid, hold_ratio, repeats).mean() > density:
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


def gate_bars(notes: np.ndarray, steps_per_bar: int, min_cells) -> np.ndarray:
    """(..., tracks, steps, pitches) notes with each track's bars of fewer than its
    `min_cells` notes-cells (one per track; 0: every bar kept) silenced.

    A family the data seldom plays (in rock, sound effects or ethnic instruments in 2-3 % of
    bars) is one a generator seldom gives a sure probability; decoded at the highest
    threshold, it still leaves a stray held note in a bar here and there: a sound where the
    songs are silent. The gate keeps a bar only where the track plays a part in it; its
    minimum is fitted (`fitted_bar_gate`) so that the track plays in as many bars as it does
    in the songs."""
    gate = np.asarray(min_cells).reshape(-1, 1, 1, 1)  # (tracks, 1, 1, 1) against (tracks, bars, step, pitch)
    if not gate.any():
        return notes
    whole = notes.shape[-2] // steps_per_bar * steps_per_bar  # a last part-bar is left as it is
    head = notes[..., :whole, :]
    bars = head.reshape(*head.shape[:-2], whole // steps_per_bar, steps_per_bar, head.shape[-1])
    cells = bars.sum(axis=(-1, -2), keepdims=True)
    out = notes.copy()
    out[..., :whole, :] = (bars & (cells >= gate)).reshape(head.shape)
    return out


def fitted_bar_gate(notes: np.ndarray, playing_share: float, steps_per_bar: int) -> int:
    """The fewest notes-cells a bar of one track must hold to be kept (`gate_bars`), so that
    the track's decoded `notes` (n, steps, pitches) play in as near `playing_share` of their
    bars (the songs' share) as a whole number of cells can; 0 (no gate) when they play in
    fewer than GATE_OVER times as many bars as the songs. Measured on the 17-family model
    (docs/model.md, "Seventeen families"): gating every track to its training songs' share
    also cut piano to 48 % of bars where the held-out songs play it in 54.5 %; the families
    that need it play in 2-8 times their songs' bars."""
    n, steps, pitches = notes.shape
    cells = notes.reshape(n * (steps // steps_per_bar), -1).sum(axis=1)
    if (cells > 0).mean() <= GATE_OVER * playing_share:
        return 0
    ordered = np.sort(cells)[::-1]
    allowed = min(int(np.floor(playing_share * len(ordered))), len(ordered) - 1)  # bars that may play
    fewer = int(ordered[allowed]) + 1  # plays in no more bars than the songs (ties at the line left out)
    share = {gate: float((cells >= gate).mean()) for gate in (fewer - 1, fewer)}
    return min(share, key=lambda gate: (abs(share[gate] - playing_share), gate))  # a tie keeps the parts


def monophonic(notes: np.ndarray, probabilities: np.ndarray, shortest: int = 1) -> np.ndarray:
    """(..., steps, pitches) notes -> one note at a time: the line through the decoded notes
    that carries the most probability.

    A note sounds until its end or until the line's next note starts, which cuts it; a
    note may only be cut once it has sounded `shortest` steps, so cutting leaves no
    fragment shorter than that. A note whose start lies within that span of the note
    before is left out, as is one that the line gains more from skipping. A note's share
    of the line is the sum of its probabilities over the steps it sounds, so long, sure
    notes win over short blips. Cutting where the next note starts is a mono synth's
    last-note priority; choosing which notes to keep is weighted interval scheduling.
    """
    out = np.zeros_like(notes)
    for index in np.ndindex(notes.shape[:-2]):
        out[index] = _best_line(notes[index], probabilities[index], shortest)
    return out


def _best_line(notes: np.ndarray, probabilities: np.ndarray, shortest: int) -> np.ndarray:
    """`monophonic` for one (steps, pitches) roll."""
    edges = np.diff(np.pad(notes, ((1, 1), (0, 0))).astype(np.int8), axis=0)  # +1 at a start, -1 after an end
    by_pitch = lambda cells: cells[np.lexsort((cells[:, 0], cells[:, 1]))]  # noqa: E731
    starts, ends = by_pitch(np.argwhere(edges == 1)), by_pitch(np.argwhere(edges == -1))
    out = np.zeros_like(notes)
    if not len(starts):
        return out
    order = np.argsort(starts[:, 0], kind="stable")
    start, pitch, end = starts[order, 0], starts[order, 1], ends[order, 0]  # sounding over start..end-1
    mass = np.vstack([np.zeros((1, notes.shape[1])), np.cumsum(probabilities, axis=0)])
    # line[i]: the most a line that begins with note i can carry; then[i]: its next note (-1: none)
    n = len(start)
    line, then = np.zeros(n), np.full(n, -1)
    first_allowed = np.searchsorted(start, start + shortest, side="left")  # notes far enough after i
    for i in range(n - 1, -1, -1):
        line[i] = mass[end[i], pitch[i]] - mass[start[i], pitch[i]]
        nexts = np.arange(first_allowed[i], n)
        if len(nexts):
            cut = np.minimum(end[i], start[nexts])
            gains = mass[cut, pitch[i]] - mass[start[i], pitch[i]] + line[nexts]
            best = int(gains.argmax())
            if gains[best] > line[i]:
                line[i], then[i] = gains[best], nexts[best]
    i = int(line.argmax())
    while i >= 0:
        stop = end[i] if then[i] < 0 else min(end[i], start[then[i]])
        out[start[i] : stop, pitch[i]] = True
        i = then[i]
    return out


def median_pitches(cells: np.ndarray) -> np.ndarray:
    """(..., pitches) sounding cells per pitch -> (...) int: the pitch of the median cell (the
    lowest at which half the cells are reached)."""
    return (np.cumsum(cells, axis=-1) < cells.sum(axis=-1, keepdims=True) / 2).sum(axis=-1)


def keep_in_register(notes: np.ndarray, reach: int) -> np.ndarray:
    """(..., steps, pitches) notes of one track -> the same notes with each phrase's strays
    moved home: a note further than `reach` semitones from the phrase's median sounding pitch
    moves by whole octaves toward it until it lies within `reach`, as an arranger brings a
    line back into its instrument's register. Its pitch class, so its harmony, stays; a note
    that lands on one already sounding there joins it. `reach` is the genre's players' own
    (engine/calibrate.py: fitted_register), at least a tritone so that every pitch class has
    a place within it."""
    reach = max(int(reach), 6)
    shape = notes.shape
    rows = notes.reshape(-1, *shape[-2:])
    out = rows.copy()
    pitch = np.arange(shape[-1])
    sounding = rows.sum(axis=1)  # (rows, pitches): cells per pitch
    middles = median_pitches(sounding)
    for i, p in np.argwhere((sounding > 0) & (np.abs(pitch[None, :] - middles[:, None]) > reach)):
        middle = middles[i]
        home = p - OCTAVE * int(np.ceil((p - middle - reach) / OCTAVE)) if p > middle else \
            p + OCTAVE * int(np.ceil((middle - reach - p) / OCTAVE))
        # near the top or bottom of the range the register may reach past it: the octave inside
        home += OCTAVE * (int(home < 0) - int(home >= shape[-1]))
        out[i, :, home] |= rows[i, :, p]
        out[i, :, p] = False
    return out.reshape(shape)


def snap_offsets(steps_per_beat: int, prior: np.ndarray | None = None, spread: float = SNAP_SPREAD) -> np.ndarray:
    """(steps_per_beat,) int: how far a note starting at each position in the beat moves to
    reach the grid position it most likely meant, on the 16th or 8th-triplet grid
    (metrics.on_grid): the one with the highest prior(g) * exp(-d^2 / 2 spread^2), d the
    distance in steps and `spread` the timing error in steps at 12 a beat (scaled to the
    grid). `prior`: the share of onsets the data starts at each position (`onset_prior`);
    without one every grid position is as likely and the nearest wins. Equally likely: the
    nearer, then the 16th grid. A grid position that the data seldom uses (a 16th between
    8ths in rock) gives its notes to a well-used one a step further away (the 8th).
    """
    from .metrics import on_grid

    grid = np.flatnonzero(on_grid(steps_per_beat))
    candidates = np.concatenate([grid - steps_per_beat, grid, grid + steps_per_beat])  # last beat, this, next
    weight = np.ones(steps_per_beat) if prior is None else np.nan_to_num(np.asarray(prior, dtype=float))
    log_prior = np.log(weight[candidates % steps_per_beat] + 1e-4)
    sixteenth = (candidates * 4 % steps_per_beat == 0)
    sigma = max(spread * steps_per_beat / 12, 1e-6)
    offsets = np.zeros(steps_per_beat, dtype=int)
    for position in range(steps_per_beat):
        distance = candidates - position
        score = log_prior - distance**2 / (2 * sigma**2)
        best = np.lexsort((~sixteenth, np.abs(distance), -np.round(score, 9)))[0]
        offsets[position] = distance[best]
    return offsets


def quantize(notes: np.ndarray, steps_per_beat: int, strength: float = 1.0,
             prior: np.ndarray | None = None, spread: float = SNAP_SPREAD, keep_lengths: bool = False) -> np.ndarray:
    """(..., steps, pitches) notes -> the same notes moved toward the beat's grid, as a DAW's
    quantize does: each note's start and end go `strength` (0..1) of the way to the 16th or
    8th triplet it most likely meant (`snap_offsets`, with `prior` and `spread`), rounded to
    whole steps.

    At full strength a note is also at least one step of its start's grid long (a 16th from
    a 16th, an 8th triplet from a triplet), so a blip between two grid positions becomes a
    short note on the grid rather than a one-step fragment. With `keep_lengths` a note moves
    whole: a drum hit is its start, and its length only the MIDI note's (docs/model.md says
    why drums are not cut to single steps).

    Two notes of a pitch that land on one start become one; a note keeps a step of silence
    before the next of its pitch, so that the two stay two (a pianoroll has no other way to
    tell them apart), unless that would leave it a fragment, when the two join. A note that
    would move past the last step is dropped.
    """
    return move_onsets(notes, steps_per_beat, snap_offsets(steps_per_beat, prior, spread), strength, keep_lengths)


def note_edges(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, steps) bool -> each note's row, start and end (exclusive), in row-major order."""
    edges = np.diff(np.pad(rows, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    starts, ends = np.argwhere(edges == 1), np.argwhere(edges == -1)
    return starts[:, 0], starts[:, 1], ends[:, 1]


def move_onsets(notes: np.ndarray, steps_per_beat: int, offsets: np.ndarray, strength: float = 1.0,
                keep_lengths: bool = False) -> np.ndarray:
    """(..., steps, pitches) notes -> the same with each note starting at position k of the beat
    moved `strength` of `offsets[k]` steps (and its end as far, from its own position): the
    mechanics of `quantize`, whose docstring says how notes keep their lengths and stay apart.
    """
    strength = float(np.clip(strength, 0.0, 1.0))
    if strength == 0.0 or not notes.any():
        return notes.copy()
    shape = notes.shape
    steps = shape[-2]
    rows = np.moveaxis(notes, -2, -1).reshape(-1, steps)  # (rows, steps): one pitch of one track
    row, start, end = note_edges(rows)  # row-major: in order along each row; a note sounds over start..end-1

    move = lambda at: np.sign(offsets[at % steps_per_beat]) * np.floor(  # noqa: E731
        np.abs(offsets[at % steps_per_beat]) * strength + 0.5).astype(int)
    new_start = start + move(start)
    new_end = new_start + (end - start) if keep_lengths else end + move(end)
    if strength >= 1.0 and not keep_lengths:
        grid_step = np.where((new_start % steps_per_beat) * 4 % steps_per_beat == 0,
                             max(1, steps_per_beat // 4), max(1, steps_per_beat // 3))
        new_end = np.maximum(new_end, new_start + grid_step)
    new_end = np.maximum(new_end, new_start + 1)
    keep = new_start < steps
    row, new_start, new_end = row[keep], new_start[keep], np.minimum(new_end[keep], steps)

    # Notes of one row that now start together are one; then each ends a step before the next.
    first = np.ones(len(row), dtype=bool)
    first[1:] = (row[1:] != row[:-1]) | (new_start[1:] != new_start[:-1])
    row, new_start = row[first], new_start[first]
    new_end = np.maximum.reduceat(new_end, np.flatnonzero(first)) if len(first) else new_end
    has_next = np.zeros(len(row), dtype=bool)
    has_next[:-1] = row[1:] == row[:-1]
    next_start = np.append(new_start[1:], steps)
    # Too close to leave more than a fragment before the next: the two join. Two steps (a
    # 16th repeated at 12 steps a beat, as the data's own resampling leaves it) stay apart.
    shortest = max(1, steps_per_beat // 6)
    room = np.where(next_start - 1 - new_start >= shortest, next_start - 1, next_start)
    new_end = np.where(has_next, np.minimum(new_end, room), new_end)

    cells = rows.shape[0] * (steps + 1)
    paint = (np.bincount(row * (steps + 1) + new_start, minlength=cells)
             - np.bincount(row * (steps + 1) + new_end, minlength=cells)).reshape(-1, steps + 1)
    out = np.cumsum(paint[:, :steps], axis=1) > 0
    return np.moveaxis(out.reshape(shape[:-2] + (shape[-1], steps)), -1, -2)


def chord_lock(probabilities: np.ndarray, chords: list, steps_per_beat: int, lowest_pitch: int,
               strength: float) -> np.ndarray:
    """Pitched tracks' probabilities (..., steps, pitches) with every cell off the beat's
    chord scaled by (1 - strength): a DAW's chord lock, as a strength. At 0 the network's
    own notes; at 1 only chord tones can sound. `chords`: one engine.chords.Chord (or None:
    nothing locked) per beat; pitch index 0 is MIDI pitch `lowest_pitch`."""
    if strength <= 0 or not chords:
        return probabilities
    steps, pitches = probabilities.shape[-2:]
    beats = steps // steps_per_beat
    classes = (np.arange(pitches) + lowest_pitch) % 12
    scale = np.ones((steps, pitches), dtype=probabilities.dtype)
    for b in range(min(beats, len(chords))):
        chord = chords[b]
        if chord is not None:
            off = ~np.isin(classes, chord.pitch_classes)
            scale[b * steps_per_beat : (b + 1) * steps_per_beat, off] = 1.0 - strength
    return probabilities * scale


def repeat_bars(probabilities: np.ndarray, steps_per_bar: int, share: float, whole_bar: bool,
                playing: np.ndarray | None = None) -> np.ndarray:
    """(..., steps, pitches) probabilities of one track -> the same with each phrase's bars
    pulled `share` (0..1) of the way toward its mean bar, as a player keeps a groove or a riff
    bar after bar: rock's drums start their hits at the same steps from bar to bar (0.90 alike,
    bench/bar_repetition.py) and its bass 0.80, where the generator draws each bar nearly anew.

    `whole_bar` (drums): the bar itself is pulled, which drum plays at each step included.
    Otherwise (pitched tracks, whose notes follow the chords) only its rhythm is: at each
    step, the bar's loudest probability moves toward the bars' mean there; a step made louder
    takes the pitches the bar already plays most (its own chord), a step made quieter scales
    down whatever it holds.

    `playing` (..., bars) bool: the bars the track plays in (all when None; Composer.decode
    passes those its plain decoding plays in). Only they are pulled, toward their own mean: a
    bar the part rests in keeps its very probabilities and stays a rest, as the songs' bass
    rests in 8 % of its bars.

    Then each phrase's values are put back in the order the pulled bars give them
    (histogram matching): the track keeps the very probabilities it had, so a threshold makes
    as many notes of it as before, placed where the repeated bars place them.
    """
    share = float(np.clip(share, 0.0, 1.0))
    steps = probabilities.shape[-2]
    bars = steps // steps_per_bar
    if share == 0.0 or bars < 2:
        return probabilities.copy()
    lead, pitches = probabilities.shape[:-2], probabilities.shape[-1]
    whole = probabilities[..., : bars * steps_per_bar, :].astype(np.float32)
    x = whole.reshape(*lead, bars, steps_per_bar, pitches)
    playing = np.ones(x.shape[:-2], dtype=np.float32) if playing is None else \
        np.broadcast_to(np.asarray(playing, dtype=np.float32), x.shape[:-2])  # (..., bars)
    pull = share * playing[..., None]  # (..., bars, 1): rests are not pulled
    count = np.maximum(playing.sum(axis=-1, keepdims=True), 1.0)[..., None]  # (..., 1, 1)
    if whole_bar:
        mean = (x * playing[..., None, None]).sum(axis=-3, keepdims=True) / count[..., None]
        x = x + pull[..., None] * (mean - x)
    else:
        loudest = x.max(axis=-1)  # (..., bars, steps a bar)
        mean = (loudest * playing[..., None]).sum(axis=-2, keepdims=True) / count
        target = loudest + pull * (mean - loudest)
        chord = x.max(axis=-2, keepdims=True)  # (..., bars, 1, pitches): what each bar plays most
        chord = chord / np.maximum(chord.max(axis=-1, keepdims=True), 1e-6)
        down = np.minimum(target / np.maximum(loudest, 1e-6), 1.0)
        x = x * down[..., None] + np.maximum(target - loudest, 0.0)[..., None] * chord
    # Matched among the pulled cells alone: a rest keeps its very values, so it stays a rest.
    pulled = np.zeros(probabilities.shape, dtype=bool)
    pulled[..., : bars * steps_per_bar, :] = np.repeat(playing > 0, steps_per_bar, axis=-1)[..., None]
    below = -1.0  # under every probability: the unpulled cells sort first, among themselves
    before = np.where(pulled, probabilities, below).reshape(*lead, -1)
    after = np.where(pulled, 0.0, below).astype(np.float32)
    after[..., : bars * steps_per_bar, :] = np.where(pulled[..., : bars * steps_per_bar, :],
                                                     x.reshape(whole.shape), below)
    after = after.reshape(*lead, -1)
    matched = np.empty_like(before)  # the cell with the k-th lowest pulled value gets the k-th lowest value
    np.put_along_axis(matched, np.argsort(after, axis=-1), np.sort(before, axis=-1), axis=-1)
    matched = matched.reshape(probabilities.shape)
    return np.where(pulled, matched, probabilities).astype(probabilities.dtype, copy=False)


def between_eighths(steps_per_beat: int) -> np.ndarray:
    """(steps_per_beat,) bool: the 16ths between the 8ths ("e" and "a"; 3 and 9 at 12 a beat)."""
    position = np.arange(steps_per_beat)
    return (position * 4 % steps_per_beat == 0) & (position * 2 % steps_per_beat != 0)


def eighths(steps_per_beat: int) -> np.ndarray:
    """(steps_per_beat,) bool: the beat and its "and" (0 and 6 at 12 a beat)."""
    return np.arange(steps_per_beat) * 2 % steps_per_beat == 0


def sixteenths(steps_per_beat: int) -> np.ndarray:
    """(steps_per_beat,) bool: the straight 16th grid (0, 3, 6 and 9 at 12 a beat)."""
    return np.arange(steps_per_beat) * 4 % steps_per_beat == 0


def triplets(steps_per_beat: int) -> np.ndarray:
    """(steps_per_beat,) bool: the 8th triplets that are not also 16ths (4 and 8 at 12 a beat;
    none at a resolution without triplets)."""
    position = np.arange(steps_per_beat)
    return (position * 3 % steps_per_beat == 0) & ~sixteenths(steps_per_beat)


def onset_share(notes: np.ndarray, steps_per_beat: int, positions: np.ndarray) -> np.ndarray:
    """(..., steps, pitches) notes of one track -> (...): the share of each phrase's note starts
    that fall on `positions` of the beat ((steps_per_beat,) bool; NaN where it starts none)."""
    starts = notes & ~np.concatenate([np.zeros_like(notes[..., :1, :]), notes[..., :-1, :]], axis=-2)
    per_step = starts.sum(axis=-1)  # (..., steps)
    chosen = positions[np.arange(notes.shape[-2]) % steps_per_beat]
    total = per_step.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, per_step[..., chosen].sum(axis=-1) / total, np.nan)


def sixteenths_share(notes: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """The share of each phrase's note starts on the 16ths between the 8ths (`onset_share`)."""
    return onset_share(notes, steps_per_beat, between_eighths(steps_per_beat))


def triplets_share(notes: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """The share of each phrase's note starts on the 8th triplets (`onset_share`)."""
    return onset_share(notes, steps_per_beat, triplets(steps_per_beat))


def played_straight(notes: np.ndarray, steps_per_beat: int, cutoff: float, moved: np.ndarray, onto: np.ndarray,
                    prior: np.ndarray | None = None, keep_lengths: bool = False) -> np.ndarray:
    """(..., steps, pitches) notes of one track, on the grid -> the same, with each phrase that
    starts fewer than `cutoff` of its notes on the `moved` positions of the beat having those
    notes moved onto the `onto` position before or after, whichever `prior` (the share of the
    songs' onsets at each step of the beat) says is played more; the one before when none is
    given. `moved`, `onto`: (steps_per_beat,) bool. The mechanics of `straight_eighths` and
    `straight_sixteenths`."""
    if cutoff <= 0 or not moved.any() or not onto.any() or not notes.any():
        return notes.copy()
    weight = np.ones(steps_per_beat) if prior is None else np.nan_to_num(np.asarray(prior, dtype=float))
    targets = np.flatnonzero(onto)
    targets = np.concatenate([targets - steps_per_beat, targets, targets + steps_per_beat])
    offsets = np.zeros(steps_per_beat, dtype=int)
    for k in np.flatnonzero(moved):
        before, after = targets[targets < k].max(), targets[targets > k].min()
        offsets[k] = (after if weight[after % steps_per_beat] > weight[before % steps_per_beat] else before) - k
    out = notes.copy()
    lead = notes.shape[:-2]
    rows = out.reshape(-1, *notes.shape[-2:])
    share = onset_share(rows, steps_per_beat, moved)
    straight = np.flatnonzero(share < cutoff)
    if len(straight):
        rows[straight] = move_onsets(rows[straight], steps_per_beat, offsets, 1.0, keep_lengths)
    return rows.reshape(*lead, *notes.shape[-2:])


def straight_eighths(notes: np.ndarray, steps_per_beat: int, cutoff: float, prior: np.ndarray | None = None,
                     keep_lengths: bool = False) -> np.ndarray:
    """(..., steps, pitches) notes of one track, on the grid -> the same, with each phrase that
    starts fewer than `cutoff` of its notes on the 16ths between the 8ths played straight: those
    notes moved to the 8th before or after, whichever `prior` (the share of the songs' onsets at
    each step of the beat) says is played more; the beat when none is given.

    A rock part either plays 16ths or it does not: three guitar phrases in four of the songs
    start no note on an "e" or an "a", where the generator scatters a few over nearly every
    phrase (bench/straight_eighths.py). A few such notes in a phrase of 8ths are heard as a
    slip, as a DAW user hears them before choosing an 8th grid for the part.
    """
    return played_straight(notes, steps_per_beat, cutoff, between_eighths(steps_per_beat), eighths(steps_per_beat),
                           prior, keep_lengths)


def straight_sixteenths(notes: np.ndarray, steps_per_beat: int, cutoff: float, prior: np.ndarray | None = None,
                        keep_lengths: bool = False) -> np.ndarray:
    """(..., steps, pitches) notes of one track, on the grid -> the same, with each phrase that
    starts fewer than `cutoff` of its notes on the 8th triplets played on the straight 16ths:
    those notes moved to the 16th before or after, whichever `prior` says is played more.

    The same choice as `straight_eighths`, one grid finer: two of three rock piano, guitar and
    strings phrases start no note on a triplet (a shuffle or a triplet fill does, throughout),
    where the quantizer keeps the few the generator scatters over most phrases (24-38 % of its
    phrases start none); a DAW user hears them as a slip and quantizes the part to 1/16.
    """
    return played_straight(notes, steps_per_beat, cutoff, triplets(steps_per_beat), sixteenths(steps_per_beat),
                           prior, keep_lengths)


# The phrase-wide straightenings, in the order the decoding applies them: each model-file entry
# (per genre, a cutoff a track), its step, and the share of a phrase's onsets its cutoff reads.
STRAIGHTENINGS = (("straight_sixteenths", straight_sixteenths, triplets_share),
                  ("straight_eighths", straight_eighths, sixteenths_share))


KIT_RANKS = 6  # the hits at once a kit's fit judges: a step's surest hit, then its 2nd..6th (a 7th and on as the 6th)


def hit_sureness(probabilities: np.ndarray, threshold, steps_per_beat: int) -> np.ndarray:
    """(..., steps, pitches) one drum track's probabilities -> each cell's sureness as
    `kit_hits` reads it: the highest probability of its pitch within the steps the quantizer
    moves a hit (short of the next 16th), in units of the track's `threshold`."""
    return surest_nearby(probabilities, max(0, steps_per_beat // 4 - 1)) / threshold


def surest_nearby(probabilities: np.ndarray, reach: int) -> np.ndarray:
    """(..., steps, pitches) -> the highest probability of each pitch within `reach` steps
    either side: how sure the network was of a hit the quantizer or the feel moved that far."""
    steps = probabilities.shape[-2]
    out = probabilities.copy()
    for shift in range(1, min(reach, steps - 1) + 1):
        np.maximum(out[..., shift:, :], probabilities[..., :-shift, :], out=out[..., shift:, :])
        np.maximum(out[..., :-shift, :], probabilities[..., shift:, :], out=out[..., :-shift, :])
    return out


def kit_hits(notes: np.ndarray, sureness: np.ndarray, rank_scales, certain: float = np.inf) -> np.ndarray:
    """(..., steps, pitches) drum notes -> hits, as a kit is played: each note its first step
    alone (a drum sounds as struck; its length is only the MIDI note's), and at each step the
    hits after the surest kept only where the network was as sure of them as a player's four
    limbs allow: the r-th surest hit of a step (r = 2, 3, ...) needs `sureness` (the
    probability, in units of the track's threshold) of at least rank_scales[r - 2], the last
    entry for any further; 0 keeps every hit of that rank.

    The scales rise with the rank (engine/calibrate.py: fitted_kits; any that fall are taken
    as the one before), so the hits kept at a step are always its surest few. `certain`: the
    sureness of a hit the network is certain of (probability 1: 1 / the threshold), kept at any
    rank whatever the scales, so that a raised Threshold knob thins the network's doubtful
    stacks but never a song's own hits decoded like for like. The shipped generator stacks
    drums on a hit more than the songs' drummers do (rock: 13.3 % of its hit steps with four
    or more pieces at once, against the songs' 5.6 %), which its held notes had hidden
    (docs/model.md, "The kit").
    """
    hits = onsets(notes)
    scales = np.asarray(rank_scales, dtype=float)
    if not scales.any() or not hits.any():
        return hits
    pitches = hits.shape[-1]
    needed = np.concatenate([[-np.inf], scales[: pitches - 1],
                             np.full(max(0, pitches - 1 - len(scales)), scales[-1])])  # (pitches,): by rank
    needed = np.minimum(np.maximum.accumulate(needed), certain)  # never a hit kept where a surer one of its step is not
    sure = np.where(hits, np.nan_to_num(sureness, nan=0.0), -np.inf)
    order = np.argsort(-sure, axis=-1, kind="stable")  # per step, its hits surest first
    kept = np.zeros_like(hits)
    np.put_along_axis(kept, order, np.take_along_axis(sure, order, axis=-1) >= needed, axis=-1)
    return hits & kept


def fitted_kit(sureness: list[np.ndarray], songs_at_once: np.ndarray) -> list[float]:
    """The rank scales of `kit_hits` at which a drum track's steps hold as many hits at once
    as the songs' do: `sureness`, for each step with a hit of the decoded notes, its hits'
    sureness, surest first (one array a step); `songs_at_once[k]`, the songs' share of hit
    steps with k hits (k = 0, 1, 2, ...; [0] is 0). Rank r's scale cuts the generated steps
    with r or more hits to the songs' share, where they have more (a kit is never made to play
    more than the network did); each scale at least the one before it. With the scales rising, a step keeps k hits
    exactly when its k-th surest reaches its scale, so each rank is fitted on its own."""
    # [r]: share of the songs' hit steps with r or more (clipped: a cumulative sum of shares may pass 1 by a rounding)
    songs_at_least = np.clip(1 - np.concatenate([[0], np.cumsum(songs_at_once)]), 0.0, 1.0)
    scales, floor = [], 0.0
    for rank in range(2, KIT_RANKS + 1):
        values = np.array([s[rank - 1] if len(s) >= rank else -np.inf for s in sureness])
        wanted = float(songs_at_least[rank]) if rank < len(songs_at_least) else 0.0
        if len(values) and np.mean(values >= floor) > wanted:
            finite = values[np.isfinite(values)]
            level = float(np.clip(1 - wanted / np.mean(np.isfinite(values)), 0.0, 1.0))
            cut = float(np.quantile(finite, level, method="higher"))
            if wanted <= 0:  # the songs never stack this many: past the surest such hit, which `>=` would keep
                cut = float(np.nextafter(finite.max(), np.inf))
            floor = max(floor, cut)
        scales.append(round(floor, 4))
    return scales
