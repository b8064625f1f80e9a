"""`bytes2beats stream` and `bytes2beats ports` as a user meets them: real processes, real
JACK ports, one-line errors, and Ctrl-C that leaves nothing sounding."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from bytes2beats.engine.families import family_tracks
from bytes2beats.engine.generate import Composer
from bytes2beats.engine.live.monitor import MonitorProcess
from bytes2beats.engine.model import Generator, ModelConfig, save_model
from bytes2beats.engine.music_io import write_midi
from bytes2beats.engine.pianoroll import Multitrack
from jack_servers import dumped, start_dummy_server, start_named_server, stop_server

_names = itertools.count()


def cli(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "bytes2beats", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def loop_file(tmp_path):
    rolls = np.zeros((5, 16, 128), np.uint8)
    for step in range(0, 16, 4):
        rolls[0, step, 36] = 100
    rolls[1, :, 60] = 80  # held piano: sounding whenever Ctrl-C comes
    return write_midi(Multitrack(family_tracks(5), rolls, steps_per_beat=4), tmp_path / "loop.mid")


@pytest.fixture
def monitor(jack_server):
    receiver = MonitorProcess(f"mon-cli{next(_names)}", api="jack")
    yield receiver
    receiver.close()


def panicked(arrivals, channel) -> bool:
    tail = [m for _, m in arrivals]
    return [0xB0 | channel, 123, 0] in tail and [0xB0 | channel, 120, 0] in tail


def test_ports_lists_each_api_and_what_it_sees(monitor):
    run = cli("ports")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    if not os.path.exists("/dev/snd/seq"):
        assert any(line.startswith("alsa: not available: no ALSA sequencer") for line in lines)
    assert any(line.startswith("jack") for line in lines)
    assert f"    {monitor.port}" in lines


def test_no_midi_system_is_one_clear_line(loop_file):
    env = dict(os.environ, JACK_DEFAULT_SERVER="b2b-nobody-runs-this")
    run = cli("stream", "--clip", str(loop_file), env=env)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("bytes2beats stream: no MIDI system works")
    assert "JACK server not running" in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--api", "alsa"], "alsa"),
    (["--variation", "2"], "--variation must be between 0 and 1"),
    (["--clock-out", "--sync", "external"], "--clock-out"),
    (["--connect", "no such port", "--api", "jack"], "no MIDI input port 'no such port'"),
    (["--mute", "Kazoo", "--api", "jack"], "no track 'Kazoo'"),
])
def test_user_errors_are_one_line(args, message, loop_file, jack_server):
    run = cli("stream", "--clip", str(loop_file), *args)
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and message in run.stderr


@pytest.mark.jack
def test_stream_a_clip_for_two_bars(loop_file, monitor):
    run = cli("stream", "--clip", str(loop_file), "--bars", "2", "--bpm", "240", "--api", "jack",
              "--connect", monitor.port)
    assert run.returncode == 0, run.stderr
    arrivals = monitor.close()
    assert "bar 0" in run.stdout and "bar 1" in run.stdout and "stopped: finished (2 bars)" in run.stdout
    kicks = [m for _, m in arrivals if m[0] == 0x99 and m[2] > 0]
    assert len(kicks) == 8
    assert panicked(arrivals, 9) and panicked(arrivals, 0)


@pytest.mark.jack
def test_ctrl_c_stops_with_note_offs_and_panic(loop_file, monitor):
    process = subprocess.Popen(
        [sys.executable, "-m", "bytes2beats", "stream", "--clip", str(loop_file), "--forever", "--bpm", "240",
         "--api", "jack", "--connect", monitor.port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a terminal: a test run started in the background (`pytest &`) ignores SIGINT,
        # and a child inherits that, so Ctrl-C would never reach it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in process.stdout:
        if line.startswith("bar 1"):
            break
    time.sleep(0.3)  # in the middle of the held piano note
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    arrivals = monitor.close()
    assert process.returncode == 130, err
    piano = [m for _, m in arrivals if m[0] & 0x0F == 0 and m[0] & 0xF0 in (0x80, 0x90)]
    assert piano[-1][0] == 0x80  # the held note got its note-off
    assert panicked(arrivals, 9) and panicked(arrivals, 0)


@pytest.mark.jack
def test_stream_a_genre_of_the_shipped_model(monitor):
    run = cli("stream", "--genre", "jazz", "--bars", "2", "--bpm", "400", "--api", "jack", "--connect", monitor.port,
              "--quantize", "50", "--feel", "40")  # half way onto the grid, some of the songs' feel back
    assert run.returncode == 0, run.stderr
    notes = [m for _, m in monitor.close() if m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert notes and "stopped: finished (2 bars)" in run.stdout
    assert re.search(r"streaming to .*; genres on (CPU|CUDA: )", run.stderr), run.stderr  # what plays, and where
    bad = cli("stream", "--genre", "polka", "--bars", "1", "--api", "jack")
    assert bad.returncode == 1 and "no genre 'polka'" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_stream_from_a_model_with_mute_and_variation(tmp_path, monitor):
    torch.manual_seed(0)
    generator = Generator(ModelConfig(g_width=8, d_width=8))
    composer = Composer(generator)
    probs = composer.probabilities([composer.new_idea(0)])[0]
    threshold = float(np.quantile(probs[probs > 0], 0.999))
    model = save_model(generator, tmp_path / "tiny.safetensors", {"threshold": threshold})
    run = cli("stream", "--model", str(model), "--bars", "4", "--bpm", "400", "--api", "jack",
              "--connect", monitor.port, "--mute", "Drums", "--variation", "1", "--seed", "3")
    assert run.returncode == 0, run.stderr
    arrivals = monitor.close()
    notes = [m for _, m in arrivals if m[0] & 0xF0 == 0x90 and m[2] > 0]
    assert notes and not [m for m in notes if m[0] & 0x0F == 9]  # drums muted


# -- the MIDI server dies under a stream --------------------------------------------------------

def _own_jack_server(name):
    process = start_named_server(name)
    assert process is not None, f"the JACK server {name} did not start"
    return process


def _stream_until(process, prefix, lines):
    for line in process.stdout:
        lines.append(line.strip())
        if line.startswith(prefix):
            return True
    return False


@pytest.mark.jack
def test_a_jack_server_that_dies_is_a_lost_port_the_clock_goes_on_and_it_comes_back(loop_file, jack_server,
                                                                                      monkeypatch):
    name, server = start_dummy_server("dies")
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)  # this test's own server, for the stream and the monitor
    stream = subprocess.Popen(
        # 24 bars of a second: a server restarted and a monitor started (seconds on a loaded machine) still
        # leave bars to hear after "port back"
        [sys.executable, "-m", "bytes2beats", "stream", "--clip", str(loop_file), "--bars", "24", "--bpm", "240",
         "--api", "jack", "--port-name", "b2b dies"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, monitor = [], None
    try:
        assert _stream_until(stream, "bar 2", lines), lines
        server.kill()
        server.wait()
        assert _stream_until(stream, "port lost", lines), lines
        assert _stream_until(stream, "bar ", lines), lines  # the clock goes on without a server
        server = _own_jack_server(name)  # the user starts it again
        assert _stream_until(stream, "port back", lines), lines
        monitor = MonitorProcess("mon-after", connect="b2b dies", api="jack")
        heard_from = len(lines)
        _stream_until(stream, "\0", lines)  # every line to the end (`communicate` would miss those read ahead)
        err = stream.stderr.read()
        stream.wait(10)
        arrivals = monitor.close()
    finally:
        stream.kill()
        stop_server(server)
    bars = [int(line.split()[1]) for line in lines if line.startswith("bar ")]
    assert bars == sorted(bars) and len(set(bars)) == len(bars)  # no bar twice, none backwards
    assert stream.returncode == 1
    assert re.search(r"not all of the stream reached its receiver: 'b2b dies' lost in bar 2, back in bar \d+$",
                     err.strip()), err
    assert len(err.strip().splitlines()) == 2, err  # "streaming to ..." and the one line of what was lost
    kicks = [m for _, m in arrivals if m[0] == 0x99 and m[2] > 0]
    assert kicks, f"nothing reached a receiver on the server that came back; after it listened: {lines[heard_from:]}"


@pytest.mark.jack
def test_a_jack_server_that_never_comes_back_ends_the_stream_non_zero(loop_file, jack_server, monkeypatch):
    name, server = start_dummy_server("gone")  # killed and left: the next run's "gone" reclaims its slot
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    stream = subprocess.Popen(
        [sys.executable, "-m", "bytes2beats", "stream", "--clip", str(loop_file), "--bars", "6", "--bpm", "400",
         "--api", "jack"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        assert _stream_until(stream, "bar 1", lines), lines
        server.kill()
        server.wait()
        out, err = stream.communicate(timeout=30)
    finally:
        stream.kill()
    lines += out.splitlines()
    assert "port lost: Bytes to Beats" in lines and "stopped: finished (6 bars)" in lines
    assert stream.returncode == 1 and "'Bytes to Beats' lost in bar 1, never back" in err


def _stuck(messages) -> set[tuple[int, int]]:
    """(channel, pitch) left sounding: a note-on with no note-off or all-notes-off after it."""
    sounding = set()
    for m in messages:
        kind, channel = m[0] & 0xF0, m[0] & 0x0F
        if kind == 0x90 and len(m) == 3 and m[2] > 0:
            sounding.add((channel, m[1]))
        elif kind == 0x80 or (kind == 0x90 and len(m) == 3):
            sounding.discard((channel, m[1]))
        elif kind == 0xB0 and m[1] == 123:
            sounding = {s for s in sounding if s[0] != channel}
    return sounding


@pytest.mark.jack
@pytest.mark.parametrize("signum, status, said", [
    (signal.SIGINT, 130, "interrupted"),
    (signal.SIGTERM, 143, "stopped by SIGTERM"),
    (signal.SIGHUP, 129, "stopped by SIGHUP"),  # the terminal closed
])
def test_every_signal_that_ends_a_stream_leaves_no_note_sounding_at_jacks_own_receiver(
        signum, status, said, loop_file, jack_server, monkeypatch):
    # realtime, JACK's default and what users run: no message is lost in transit (ENVIRONMENT.md)
    name, server = start_dummy_server("rt", realtime=True)
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    dump = None
    try:
        dump = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        for _ in range(50):  # its input port appears
            if "midi-monitor:input" in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout:
                break
            time.sleep(0.1)
        stream = subprocess.Popen(
            [sys.executable, "-m", "bytes2beats", "stream", "--clip", str(loop_file), "--forever", "--bpm", "240",
             "--api", "jack", "--connect", "midi-monitor"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a terminal
        for line in stream.stdout:
            if line.startswith("bar 1"):
                break
        time.sleep(0.3)  # in the middle of the held piano note
        stream.send_signal(signum)
        _, err = stream.communicate(timeout=20)
        time.sleep(0.3)
        dump.terminate()
        dump_text, _ = dump.communicate(timeout=10)
    finally:
        if dump is not None and dump.poll() is None:
            dump.kill()
        stop_server(server)
    assert stream.returncode == status, err
    assert err.strip().splitlines()[-1].endswith(said) and "Traceback" not in err
    messages = [m for _, m in dumped(dump_text)]
    assert [0x90, 60, 80] in messages  # the held piano note was heard ...
    assert _stuck(messages) == set()  # ... and ended, as every other note
