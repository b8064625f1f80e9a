"""A MIDI input connected to another program's port: the sender goes and comes back."""

from __future__ import annotations

import time

import pytest
import rtmidi
from bytes2beats.engine.live import StampedInput


def _wait_for(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _daw() -> rtmidi.MidiOut:
    """A DAW's output port on JACK, as a track or a clock sender offers it."""
    daw = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="b2b restarting daw")
    daw.open_virtual_port("out")
    return daw


@pytest.mark.jack
def test_an_input_whose_sender_goes_says_so_and_connects_again_when_it_is_back(jack_server):
    # the jam's --listen and --sync-port: a producer who restarts the DAW (or deletes and
    # makes the track again) finds the app listening again, with nothing to reconnect by hand
    daw = _daw()
    said, heard = [], []
    listen = StampedInput("jack", "b2b sender test", connect="b2b restarting daw:out",
                          on_sender=lambda kind, port: said.append((kind, port)))
    listen.attach(lambda message, t_ns: heard.append(message))
    try:
        time.sleep(0.2)
        daw.send_message([0x90, 60, 100])
        assert _wait_for(lambda: [0x90, 60, 100] in heard)

        daw.close_port()
        daw.delete()  # the DAW quits
        assert _wait_for(lambda: said == [("input lost", "b2b restarting daw:out")])
        assert listen.sender_lost

        daw = _daw()  # and starts again: a new client, a new port of the same name
        assert _wait_for(lambda: len(said) == 2), said
        assert said[1][0] == "input back" and "b2b restarting daw" in said[1][1]
        time.sleep(0.2)
        daw.send_message([0x90, 64, 100])
        assert _wait_for(lambda: [0x90, 64, 100] in heard), heard  # connected again
    finally:
        listen.close()
        daw.delete()
