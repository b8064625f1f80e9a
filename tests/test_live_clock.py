"""Live streaming without ports: the tempo map, the clock follower, phrases and sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.live import ClipLoop, ModelStream, to_phrase
from bytes2beats.engine.live.clock import TICKS_PER_BEAT, BeatClock, ClockFollower, ns_per_tick
from bytes2beats.engine.live.ports import PortError, api_order, find_port
from bytes2beats.engine.model import Generator, ModelConfig
from bytes2beats.engine.pianoroll import Multitrack

BEAT_120 = 500_000_000  # ns


def test_clock_maps_ticks_to_time_and_back():
    clock = BeatClock(120)
    assert clock.time_of(0) is None  # not running yet
    clock.start(1_000)
    assert clock.time_of(TICKS_PER_BEAT) == 1_000 + BEAT_120
    assert clock.tick_at(1_000 + 2 * BEAT_120) == pytest.approx(2 * TICKS_PER_BEAT)


def test_tempo_change_starts_at_the_next_beat():
    clock = BeatClock(120)
    clock.start(0)
    tick = clock.set_tempo(60, now_ns=int(1.2 * BEAT_120))  # during beat 1
    assert tick == 2 * TICKS_PER_BEAT
    assert clock.time_of(2 * TICKS_PER_BEAT) == 2 * BEAT_120  # beat 2 stays where it was
    assert clock.time_of(3 * TICKS_PER_BEAT) == 2 * BEAT_120 + 2 * BEAT_120  # then 60 BPM


def test_a_second_change_before_the_first_takes_effect_replaces_it():
    clock = BeatClock(120)
    clock.start(0)
    clock.set_tempo(60, now_ns=100)
    clock.set_tempo(240, now_ns=200)
    assert clock.time_of(2 * TICKS_PER_BEAT) == BEAT_120 + BEAT_120 // 2


def test_external_anchor_knows_nothing_past_its_horizon():
    clock = BeatClock(120)
    clock.anchor(tick=100, t_ns=5_000, bpm=120, horizon=120)
    assert clock.time_of(110) == 5_000 + int(10 * ns_per_tick(120))
    assert clock.time_of(121) is None


def test_clock_follower_finds_the_tempo_and_smooths_jitter():
    follower = ClockFollower()
    rng = np.random.default_rng(0)
    step = BEAT_120 * 120 / 100 / 24  # 100 BPM
    raw_errors, smoothed_errors = [], []
    for k in range(200):
        jitter = rng.normal(0, 300_000)  # 0.3 ms
        smoothed, bpm = follower.pulse(int(k * step + jitter))
        if k >= 24:
            raw_errors.append(abs(jitter))
            smoothed_errors.append(abs(smoothed - k * step))
    assert bpm == pytest.approx(100, abs=0.5)
    assert np.mean(smoothed_errors) < 0.6 * np.mean(raw_errors)


def test_clock_follower_follows_a_tempo_jump_at_once():
    follower = ClockFollower()
    t = 0.0
    for _ in range(30):
        t += BEAT_120 / 24
        follower.pulse(int(t))
    for _ in range(3):
        t += BEAT_120 / 2 / 24  # 240 BPM now
        smoothed, bpm = follower.pulse(int(t))
    assert bpm == pytest.approx(240, rel=0.01)
    assert smoothed == pytest.approx(t, abs=1000)


def test_clock_follower_keeps_its_tempo_through_one_late_pulse():
    follower = ClockFollower()
    step = BEAT_120 / 24
    for k in range(30):
        follower.pulse(int(k * step))
    smoothed, bpm = follower.pulse(int(30 * step + 0.6 * step))  # a stalled sender or receiver
    assert bpm == pytest.approx(120, rel=0.001)
    assert smoothed == pytest.approx(30 * step, abs=1000)  # placed where it belonged
    for k in range(31, 34):
        smoothed, bpm = follower.pulse(int(k * step))  # then on time again
    assert bpm == pytest.approx(120, rel=0.001) and smoothed == pytest.approx(33 * step, abs=1000)


def test_clock_follower_takes_pulses_arriving_together_as_late_not_as_a_tempo():
    # a DAW (or this machine) that stalled sends the pulses it owes at once: the same time
    # stamp twice or more. Once this divided by zero and killed the MIDI input's thread.
    follower = ClockFollower()
    step = BEAT_120 / 24
    for k in range(30):
        follower.pulse(int(k * step))
    burst = int(33 * step)  # the pulses owed, sent when the last of them is due
    for k in range(30, 34):
        smoothed, bpm = follower.pulse(burst)
        assert bpm == pytest.approx(120, rel=0.001)
        assert smoothed == pytest.approx(k * step, abs=1000)  # each where it belonged
    for k in range(34, 37):
        smoothed, bpm = follower.pulse(int(k * step))  # on time again
    assert bpm == pytest.approx(120, rel=0.001) and smoothed == pytest.approx(36 * step, abs=1000)


def clip_with(notes, steps=16, drum_track=None):
    tracks = family_tracks(5)
    rolls = np.zeros((5, steps, 128), np.uint8)
    for track, start, end, pitch in notes:
        rolls[track, start:end, pitch] = 90
    return Multitrack(tracks, rolls, steps_per_beat=4)


def test_phrase_ticks_and_drum_hits():
    clip = clip_with([(0, 0, 2, 36), (1, 4, 12, 60)])  # two drum hits, one held piano note
    phrase = to_phrase(clip)
    assert phrase.n_ticks == 4 * TICKS_PER_BEAT and phrase.n_bars == 1
    assert phrase.notes == [(0, 120, 0, 36, 90), (120, 240, 0, 36, 90), (480, 1440, 1, 60, 90)]


def test_binary_clips_play_at_the_default_velocity():
    clip = clip_with([(1, 0, 4, 60)])
    clip.rolls[clip.rolls > 0] = 1
    assert to_phrase(clip, velocity=77).notes[0][-1] == 77


def test_clip_loop_repeats_the_clip():
    loop = ClipLoop(clip_with([(1, 0, 4, 60)]))
    assert loop.next_phrase() is loop.next_phrase()
    assert [t.name for t in loop.tracks][0] == "Drums"


@pytest.fixture(scope="module")
def composer():
    """An untrained model: real, if not musical. Its threshold is set to keep few notes."""
    torch.manual_seed(0)
    composer = Composer(Generator(ModelConfig(g_width=8, d_width=8)), name="random")
    probs = composer.probabilities([composer.new_idea(0)])[0]
    composer.meta["threshold"] = float(np.quantile(probs[probs > 0], 0.998))
    return composer


def test_variation_zero_loops_one_and_fresh(composer):
    looped = ModelStream(composer, seed=3, variation=0.0)
    first = looped.next_phrase()
    assert looped.next_phrase() is first
    fresh = ModelStream(composer, seed=3, variation=1.0)
    a = fresh.next_phrase()
    assert a.notes == first.notes  # the same seed starts the same
    b = fresh.next_phrase()
    assert b.notes != a.notes


def test_small_variation_walks_close(composer):
    stream = ModelStream(composer, seed=3, variation=0.1)
    stream.next_phrase()
    z0 = stream._idea.z_shared.copy()
    stream.next_phrase()
    small = np.linalg.norm(stream._idea.z_shared - z0)
    stream.variation = 1.0
    stream.next_phrase()
    z1 = stream._idea.z_shared.copy()
    stream.next_phrase()
    assert small < 0.3 * np.linalg.norm(stream._idea.z_shared - z1)


def test_variation_out_of_range_is_refused(composer):
    with pytest.raises(ValueError):
        ModelStream(composer, variation=1.5)


def test_unknown_genre_is_refused_before_streaming(composer):
    with pytest.raises(ValueError, match="genre"):
        ModelStream(composer, genre="polka")


def test_api_order_and_names():
    assert api_order("jack") == ["jack"]
    with pytest.raises(PortError, match="unknown MIDI API"):
        api_order("oss")
    assert find_port(["fsynth:midi_00", "other:in"], "fsynth") == 0
    assert find_port(["recv-01:in"], "recv") == 0
    assert find_port(["a:in"], "zzz") is None
