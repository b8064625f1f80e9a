"""Shared test set-up: offscreen Qt, the real data, and a real JACK server for MIDI ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the tests' user models out of the real user's folder.
os.environ.setdefault("BYTES2BEATS_USER_MODELS", str(Path(__file__).parent / ".user-models"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BYTES2BEATS_SHARED_DATA", ROOT.parent / "shared" / "data"))
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data folder {SHARED_DATA} is not here")
    return SHARED_DATA


@pytest.fixture(scope="session")
def jack_server():
    """A real JACK server with the dummy driver (period 64 at 48 kHz), for the whole session.

    Yields the server's name; JACK_DEFAULT_SERVER is set so that clients find it.
    """
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    from jack_servers import start_dummy_server, stop_server

    os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
    try:
        name, process = start_dummy_server("test")
    except RuntimeError as error:
        pytest.fail(f"JACK server did not start: {error}")
    os.environ["JACK_DEFAULT_SERVER"] = name
    yield name
    stop_server(process)
    time.sleep(0.2)


def musescore_musicxml(midi: Path, folder: Path) -> str:
    """MuseScore 3's MusicXML of a MIDI file: a real notation program reading our file
    (skips the test where MuseScore is not installed)."""
    if shutil.which("mscore3") is None:
        pytest.skip("MuseScore 3 is not installed (apt-get install musescore3)")
    xml = folder / f"{midi.stem}.musicxml"
    run = subprocess.run(
        ["mscore3", "-o", str(xml), str(midi)], capture_output=True, text=True, timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(folder)},
    )
    assert run.returncode == 0, run.stderr[-500:]
    return xml.read_text()


@pytest.fixture
def cli_in_process(capsys):
    """`bytes2beats ARGS` run in the test's own process: (exit status, stdout, stderr). For
    the error cases, which fail before any real work: a subprocess would spend seconds
    importing torch to print one line."""
    from bytes2beats.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def pytest_collection_modifyitems(config, items):
    """Tests marked `timing` get a second and a third try.

    They measure real-time delivery in milliseconds between processes on a shared machine
    (2 cores on CI, no realtime scheduling for an ordinary user): now and then a client misses
    a JACK cycle or few and one run's arrivals come 10-25 ms late. A scheduler that is wrong
    fails every try; a machine that was busy for a moment does not fail the suite.
    """
    if not config.pluginmanager.hasplugin("rerunfailures"):  # `-p no:rerunfailures`: one try each
        return
    for item in items:
        if item.get_closest_marker("timing") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=1))
