"""Play from the window to a real JACK receiver in another process; mute mid-play silences a track."""

from __future__ import annotations

import time

import pytest
from bytes2beats.engine.live.monitor import MonitorProcess
from test_desktop_window import generate, model_path, window  # noqa: F401  (shared fixtures)

pytestmark = [pytest.mark.jack, pytest.mark.slow]

DRUM_CHANNEL = 9


def note_ons(arrivals, channel=None, after=0, before=None):
    return [
        (t, m) for t, m in arrivals
        if len(m) == 3 and m[0] & 0xF0 == 0x90 and m[2] > 0
        and (channel is None or m[0] & 0x0F == channel) and t >= after and (before is None or t < before)
    ]


@pytest.fixture
def monitor(jack_server):
    receiver = MonitorProcess("b2b-gui-monitor", api="jack")
    yield receiver
    receiver.close()


def test_play_reaches_jack_and_mute_silences_the_drums(qtbot, window, monitor):  # noqa: F811
    generate(qtbot, window, seed=2)
    assert window.document.multitrack.notes(0), "the clip needs drum hits for this test"
    window.player.api = "jack"
    window.player.connect_to = monitor.port
    window.commands["play"].trigger()
    assert window.player.playing, window.last_error
    assert window.commands["play"].text() == "Stop"
    assert window.port_label.text().startswith("MIDI: ")
    qtbot.waitUntil(lambda: window.canvas.playhead.isVisible(), timeout=5000)
    qtbot.wait(2000)
    first = window.canvas.playhead.value()
    qtbot.wait(300)
    assert window.canvas.playhead.value() != first  # the playhead moves while playing

    muted_at = time.monotonic_ns()
    window.document.toggle_mute(0)  # as the M button does
    qtbot.wait(2500)
    window.commands["play"].trigger()
    assert not window.player.playing and window.commands["play"].text() == "Play"
    assert not window.canvas.playhead.isVisible()
    arrivals = monitor.close()

    assert note_ons(arrivals, DRUM_CHANNEL, before=muted_at), "no drums before the mute"
    late = note_ons(arrivals, DRUM_CHANNEL, after=muted_at + 5_000_000)
    assert late == [], f"{len(late)} drum hits after the mute"
    others = [(t, m) for t, m in note_ons(arrivals, after=muted_at + 5_000_000) if m[0] & 0x0F != DRUM_CHANNEL]
    assert others, "the other tracks went silent too"
    # stop sends all-notes-off (CC 123) on the channels used
    assert any(len(m) == 3 and m[0] & 0xF0 == 0xB0 and m[1] == 123 for _, m in arrivals)


def test_play_without_a_midi_system_is_a_message(qtbot, window, monkeypatch):  # noqa: F811
    generate(qtbot, window, seed=2)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-server-here")
    window.player.api = "jack"
    window.commands["play"].trigger()
    assert not window.player.playing
    assert window.last_error and window.last_error.startswith("Cannot play")
    assert window.commands["play"].text() == "Play"


def test_send_to_menu_offers_the_receivers_input(qtbot, window, monitor):  # noqa: F811
    window.player.api = "jack"
    window.playback_menu.fill_port_menu()
    actions = window.playback_menu.port_menu.actions()
    assert actions[0].text().startswith("Virtual port") and actions[0].isChecked()
    ours = [a for a in actions if monitor.port in a.text()]
    assert ours, [a.text() for a in actions]
    ours[0].trigger()
    assert window.player.connect_to == monitor.port


def test_play_with_midi_clock_out(qtbot, window, monitor):  # noqa: F811
    generate(qtbot, window, seed=2)
    window.player.api = "jack"
    window.player.connect_to = monitor.port
    window.player.sync_mode = "clock-out"
    window.commands["play"].trigger()
    assert window.player.playing, window.last_error
    qtbot.wait(1500)
    window.commands["play"].trigger()
    arrivals = monitor.close()
    statuses = [m[0] for _, m in arrivals if m]
    assert 0xFA in statuses and 0xFC in statuses  # Start, then Stop
    assert statuses.count(0xF8) >= 24  # at least a beat of clock pulses


def test_a_new_clip_while_playing_sounds_from_the_next_bar(qtbot, window, monitor):  # noqa: F811
    generate(qtbot, window, seed=2)
    window.player.api = "jack"
    window.player.connect_to = monitor.port
    events = []
    window.player.event.connect(events.append)
    window.commands["play"].trigger()
    assert window.player.playing, window.last_error
    qtbot.waitUntil(lambda: any(e.kind == "bar" and e.bar == 1 for e in events), timeout=10000)
    asked_at = time.monotonic_ns()
    generate(qtbot, window, seed=3)  # Generate while it plays: a new clip in the loop
    qtbot.waitUntil(lambda: any(e.kind == "change" for e in events), timeout=10000)
    change = next(e for e in events if e.kind == "change")
    bars_before = [e for e in events if e.kind == "bar" and e.time_ns <= asked_at]
    window.commands["play"].trigger()
    monitor.close()
    assert change.detail == "new clip"
    # the bar after the one playing when the clip came (the next but one, if it came in the last 32nd)
    assert change.bar in (bars_before[-1].bar + 1, bars_before[-1].bar + 2)
    assert change.time_ns - asked_at < 2 * 4 * 60e9 / window.document.multitrack.tempo
