"""The engine's limits are the ones every place uses: the command line, the scheduler, the
window's toolbar and the MIDI API menu."""

from __future__ import annotations

import math

import pytest
from bytes2beats.engine.limits import BPM, CLIP_BARS, MIDI_APIS, SEED, THRESHOLD, Limit
from bytes2beats.engine.live.ports import API_IDS


def test_a_closed_range_holds_its_ends_an_open_one_does_not():
    assert 20 in BPM and 400 in BPM and 19.9 not in BPM and 400.1 not in BPM
    assert 0.5 in THRESHOLD and 0.0 not in THRESHOLD and 1.0 not in THRESHOLD
    assert math.nan not in Limit(0, 1) and math.nan not in THRESHOLD
    assert BPM.describe() == "between 20 and 400"


def test_every_named_midi_api_has_an_rtmidi_api():
    assert MIDI_APIS[0] == "auto" and list(API_IDS) == list(MIDI_APIS[1:])


def test_the_scheduler_takes_the_tempo_range():
    from bytes2beats.engine.live.scheduler import BarScheduler

    scheduler = BarScheduler.__new__(BarScheduler)  # set_bpm checks before it touches anything
    with pytest.raises(ValueError, match="between 20 and 400 BPM"):
        scheduler.set_bpm(BPM.high + 1)


def test_the_toolbar_offers_the_limits(qtbot):
    from bytes2beats.desktop.drag_export import DragHandle
    from bytes2beats.desktop.generate_toolbar import SLIDER_STEPS, GenerateToolbar
    from PySide6.QtGui import QAction

    actions = {name: QAction(name) for name in ("generate", "variation", "play", "export")}
    bar = GenerateToolbar(actions, DragHandle(lambda: None))
    qtbot.addWidget(bar)
    assert (bar.bpm.minimum(), bar.bpm.maximum()) == (BPM.low, BPM.high)
    assert (bar.bars.minimum(), bar.bars.maximum()) == (CLIP_BARS.low, CLIP_BARS.high)
    assert (bar.seed.minimum(), bar.seed.maximum()) == (SEED.low, SEED.high)
    lowest, highest = bar.threshold.minimum() / SLIDER_STEPS, bar.threshold.maximum() / SLIDER_STEPS
    assert lowest in THRESHOLD and highest in THRESHOLD
