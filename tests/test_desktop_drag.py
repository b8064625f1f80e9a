"""A real drag and drop between two processes under Xvfb, driven by xdotool.

The app (the real window, the real model) runs in one process on an Xvfb display; a tiny
PySide6 drop target runs in another. xdotool presses on the app's drag grip, moves onto
the target and lets go: the target receives `text/uri-list`, opens the .mid with mido
and reports what it read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_desktop_window import model_path  # noqa: F401  (the shared model fixture)

pytestmark = [pytest.mark.external, pytest.mark.slow]

SOURCE = r'''
import json, sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from bytes2beats.desktop.main_window import MainWindow
window = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat), model=sys.argv[1], device="cpu")
window.setGeometry(0, 0, 1400, 760)
window.show()
def report():
    mt = window.document.multitrack
    def centre(widget):
        point = widget.mapToGlobal(widget.rect().center())
        return [point.x(), point.y()]
    print(json.dumps({"clip": centre(window.clip_handle), "bass": centre(window.tracks.row(3).handle),
                      "tracks": [t.name for t in mt.tracks if mt.rolls[mt.track_index(t.name)].any()],
                      "notes": sum(len(mt.notes(i)) for i in range(len(mt.tracks))),
                      "bass_notes": len(mt.notes(3)), "seed": window.document.state.seed,
                      "muted": sorted(window.document.muted)}), flush=True)
window.document.clipChanged.connect(lambda: QTimer.singleShot(800, report))
window.document.mixChanged.connect(report)
app.exec()
'''

TARGET = r'''
import json, sys
import mido
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
class Target(QLabel):
    def __init__(self):
        super().__init__("drop a .mid here")
        self.setAcceptDrops(True)
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
    def dragMoveEvent(self, event):
        event.acceptProposedAction()
    def dropEvent(self, event):
        mime = event.mimeData()
        for url in mime.urls():
            midi = mido.MidiFile(url.toLocalFile())
            print(json.dumps({"formats": list(mime.formats()), "path": url.toLocalFile(), "type": midi.type,
                              "tracks": [t.name for t in midi.tracks[1:]],
                              "notes": sum(m.type == "note_on" and m.velocity > 0 for t in midi.tracks for m in t)}),
                  flush=True)
        event.acceptProposedAction()
target = Target()
target.setGeometry(1500, 150, 400, 400)
target.show()
print("ready", flush=True)
app.exec()
'''


def _free_display() -> int:
    for number in range(97, 140):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            return number
    pytest.skip("no free X display number")


@pytest.fixture
def xvfb():
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install xvfb xdotool)")
    display = f":{_free_display()}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "2000x900x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    deadline = time.monotonic() + 10
    while subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            server.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.1)
    yield env
    server.terminate()
    server.wait(10)


def _line(process: subprocess.Popen, timeout: float) -> str:
    """The next line a helper prints (a JSON report or "ready"), within `timeout` seconds."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.2):
            line = process.stdout.readline()
            if line.strip().startswith(("{", "ready")):
                return line.strip()
            if not line and process.poll() is not None:
                break
    raise AssertionError(f"no report within {timeout} s")


def _until(process: subprocess.Popen, wanted, timeout: float) -> dict:
    """Read the app's reports until one is `wanted`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = json.loads(_line(process, max(0.1, deadline - time.monotonic())))
        if wanted(report):
            return report
    raise AssertionError("the app never reported what was wanted")


def drag(env, start, end) -> None:
    def xdo(*args):
        subprocess.run(["xdotool", *map(str, args)], env=env, check=True)

    xdo("mousemove", *start)
    time.sleep(0.3)
    xdo("mousedown", 1)
    for k in range(1, 13):  # past the drag distance, then across to the target in steps
        xdo("mousemove", start[0] + (end[0] - start[0]) * k // 12, start[1] + (end[1] - start[1]) * k // 12)
        time.sleep(0.08)
    time.sleep(0.4)
    xdo("mouseup", 1)


def test_drag_the_clip_and_one_track_into_another_process(xvfb, tmp_path, model_path):  # noqa: F811
    (tmp_path / "source.py").write_text(SOURCE)
    (tmp_path / "target.py").write_text(TARGET)
    env = {**xvfb, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    target = subprocess.Popen([sys.executable, str(tmp_path / "target.py")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    source = subprocess.Popen([sys.executable, str(tmp_path / "source.py"), str(model_path),
                               str(tmp_path / "settings.ini")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert _line(target, 30) == "ready"
        app = json.loads(_line(source, 120))
        assert app["notes"] > 0

        drag(env, app["clip"], (1700, 350))
        dropped = json.loads(_line(target, 30))
        assert "text/uri-list" in dropped["formats"] and "audio/midi" in dropped["formats"]
        assert Path(dropped["path"]).suffix == ".mid" and Path(dropped["path"]).is_file()
        assert dropped["type"] == 1
        assert dropped["tracks"] == app["tracks"]
        assert dropped["notes"] == app["notes"]

        drag(env, app["bass"], (1700, 350))
        bass = json.loads(_line(target, 30))
        assert bass["type"] == 1 and bass["tracks"] == ["Bass"]
        assert bass["notes"] == app["bass_notes"]

        # the keyboard, through the X server: G generates a new clip, M mutes the focused track
        subprocess.run(["xdotool", "search", "--name", "Bytes to Beats", "windowfocus", "--sync"],
                       env=env, check=True, timeout=10)
        subprocess.run(["xdotool", "key", "g"], env=env, check=True)
        _until(source, lambda r: r["seed"] != app["seed"], 60)
        subprocess.run(["xdotool", "key", "m"], env=env, check=True)
        _until(source, lambda r: r["muted"] == [3], 10)  # the focused track: the bass, whose grip was pressed
    finally:
        for process in (source, target):
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
