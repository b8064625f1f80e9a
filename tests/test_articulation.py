"""Articulation (engine/articulation.py): a phrase's pitched tracks played as decoded, held or
pulsed, whichever is nearer the manner asked for. Made-up parts a producer would recognise (8ths
re-struck, stabs before a rest, a pad asked for, a held bass asked to drive), then the shipped
manner model: a clip asked for the songs' most held strings holds more of them than one asked
for their shortest."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from bytes2beats.engine.articulation import (
    fit_articulation,
    hold_to_next_onset,
    pulse,
    tie_restrikes,
)
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.manner import MANNERS, N_MANNERS, phrase_manners
from bytes2beats.engine.model import ModelConfig

CFG = ModelConfig(steps_per_beat=4, n_bars=4)  # 16 steps a bar, 64 a phrase
HELD = MANNERS.index("notes of a beat or more")


def _roll(*notes: tuple[int, int, int], steps: int = 64, pitches: int = 84) -> np.ndarray:
    """(steps, pitches) from (start, length, pitch) notes."""
    x = np.zeros((steps, pitches), bool)
    for start, length, pitch in notes:
        x[start : start + length, pitch] = True
    return x


def test_a_re_strike_a_16th_apart_is_tied_and_a_longer_rest_is_kept():
    eighths = _roll((0, 1, 40), (2, 1, 40), (4, 1, 40))  # one step on, one off (a 16th here is 1 step)
    assert tie_restrikes(eighths, 1)[:5, 40].all()
    apart = _roll((0, 1, 40), (3, 1, 40))  # two steps of rest
    assert np.array_equal(tie_restrikes(apart, 1), apart)
    other = _roll((0, 1, 40), (2, 1, 43))  # another pitch after the rest: nothing to tie
    assert np.array_equal(tie_restrikes(other, 1), other)


def test_notes_are_held_to_the_next_onset_within_the_reach():
    stab = _roll((0, 1, 40), (0, 1, 44), (4, 1, 47))  # a chord stabbed, the next note a beat later
    held = hold_to_next_onset(stab, 4)
    assert held[:4, [40, 44]].all() and held[:4].sum() == 8  # both notes ring up to the next onset
    assert held[4:, 47].sum() == 1  # the last note of the phrase is left as it is
    assert np.array_equal(hold_to_next_onset(stab, 2), stab)  # the rest is longer than the reach
    again = _roll((0, 1, 40), (4, 1, 40))  # the same pitch struck again: one step of air before it
    assert np.array_equal(np.flatnonzero(hold_to_next_onset(again, 4)[:, 40]), [0, 1, 2, 4])


def test_a_long_note_is_struck_again_on_each_pulse_inside_it():
    quarters = pulse(_roll((0, 16, 28)), 4)  # a bar-long bass note struck on each beat (4 steps here)
    assert np.array_equal(np.flatnonzero(quarters[:, 28]), [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15])
    eighths = pulse(_roll((0, 24, 40), steps=48), 6)  # at 12 steps a beat: a chord tone chugged in 8ths
    assert np.array_equal(np.flatnonzero(np.diff(eighths[:, 40].astype(int)) == 1) + 1, [6, 12, 18])
    assert np.array_equal(pulse(_roll((0, 16, 28)), 2), _roll((0, 16, 28)))  # under 3 steps: left whole
    short = _roll((0, 4, 28), (5, 1, 31))  # notes no longer than the pulse: as they are
    assert np.array_equal(pulse(short, 4), short)
    late = _roll((3, 6, 28))  # steps 3-8: a step before the line at 4, and one past the line at 8
    assert np.array_equal(pulse(late, 4), late)


def _phrase(strings: np.ndarray, bass: np.ndarray | None = None) -> np.ndarray:
    """(T, 64, 84) with a drum beat and the strings (and bass) given."""
    notes = np.zeros((CFG.n_tracks, 64, 84), bool)
    notes[0] = _roll(*[(s, 1, 10) for s in range(0, 64, 4)])
    notes[4] = strings
    if bass is not None:
        notes[3] = bass
    return notes


def test_a_pad_asked_for_is_held_and_a_line_asked_for_is_played_as_decoded():
    chords = _phrase(_roll(*[(bar * 16, 2, p) for bar in range(4) for p in (40, 44, 47)]))  # a chord a bar, short
    measured = phrase_manners(torch.as_tensor(chords[None], dtype=torch.float32), CFG)[0].numpy()
    mean, scale = np.zeros((CFG.n_tracks, N_MANNERS)), np.ones((CFG.n_tracks, N_MANNERS))
    pad = measured.copy()
    pad[4, 1], pad[4, HELD] = np.log1p(16), 1.0  # notes of a bar, every one held a beat or more
    held = fit_articulation(chords, pad[None], CFG, mean, scale)
    assert held[4, :15, [40, 44, 47]].all()  # each chord rings up to the next (one step of air)
    assert np.array_equal(held[0], chords[0])  # the drums are never touched
    assert np.array_equal(fit_articulation(chords, measured[None], CFG, mean, scale), chords)
    two_bars = fit_articulation(chords[:, :32], pad[None], CFG, mean, scale)  # a clip cut short
    assert two_bars[4, :15, [40, 44, 47]].all()


def test_a_held_bass_asked_to_drive_is_pulsed():
    bass = _roll(*[(bar * 16, 15, 28 + bar) for bar in range(4)])  # a whole note a bar
    notes = _phrase(np.zeros((64, 84), bool), bass)
    measured = phrase_manners(torch.as_tensor(notes[None], dtype=torch.float32), CFG)[0].numpy()
    mean, scale = np.zeros((CFG.n_tracks, N_MANNERS)), np.ones((CFG.n_tracks, N_MANNERS))
    driving = measured.copy()
    driving[3, :3] = np.log1p(4), np.log1p(3), 1.0  # a note a beat, three steps long
    played = fit_articulation(notes, driving[None], CFG, mean, scale)[3, :, 28]
    assert np.array_equal(np.flatnonzero(played[:16]), [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14])
    assert np.array_equal(fit_articulation(notes, measured[None], CFG, mean, scale), notes)
    # A clip cut to 2 bars counts its onsets over its own 2 bars: asked for 1.5 notes a bar (and
    # nothing else: the other manners' spread made huge), the whole notes are nearer than 4 a bar.
    by_onsets = scale.copy()
    by_onsets[3, 1:] = 1e6
    asked = measured.copy()
    asked[3, 0] = np.log1p(1.5)
    assert np.array_equal(fit_articulation(notes, asked[None], CFG, mean, by_onsets), notes)
    assert np.array_equal(fit_articulation(notes[:, :32], asked[None], CFG, mean, by_onsets), notes[:, :32])


def test_the_shipped_model_holds_the_strings_a_pad_manner_asks_for():
    composer = Composer.load("genres", "cpu")
    assert composer.config.manners
    g, strings, cfg = composer.generator, 4, composer.config
    table = g.manner_table[composer.genre_index("rock")].numpy()  # (rows, T, manners), standardized
    raw = table[:, strings] * g.manner_scale[strings].numpy() + g.manner_mean[strings].numpy()
    playing = np.flatnonzero(raw[:, 0] > 0.3)  # rows of songs whose strings play
    pad, line = (playing[np.argmax(raw[playing, HELD])], playing[np.argmin(raw[playing, HELD])])
    low, n = cfg.lowest_pitch, cfg.n_pitches
    held = {}
    for name, row in (("pad", pad), ("line", line)):
        ideas = [replace(composer.new_idea(100 + k, genre="rock"), manners=table[row][None].copy()) for k in range(12)]
        probabilities = composer.probabilities(ideas)
        for articulated in (False, True):
            notes = np.stack([composer.decode(p[:, :, low : low + n], genre="rock",
                                              manners=idea.manners if articulated else None)
                              for idea, p in zip(ideas, probabilities)])
            manners = phrase_manners(torch.as_tensor(notes, dtype=torch.float32), cfg)[:, strings].numpy()
            held[name, articulated] = manners[:, HELD].mean()
    assert held["pad", True] > held["pad", False] + 0.2  # asked for a pad, the strings hold their chords
    assert held["line", True] < held["line", False] + 0.05  # asked for short notes, they stay short
