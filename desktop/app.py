"""Starting the desktop app: the QApplication, the window, and `--screenshot`.

Only Qt and the window's own modules load before the window shows; torch loads with the
first model, on the worker thread.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

SCREENSHOT_TIMEOUT_MS = 120_000
SCREENSHOT_SIZE = (1400, 860)


def _headless() -> bool:
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and sys.platform.startswith("linux")


def run(args) -> int:
    """Open the window and run until it closes; with `args.screenshot`, save a picture and quit."""
    started = time.perf_counter()
    screenshot = getattr(args, "screenshot", None)
    model = getattr(args, "model", None)
    if model:
        from bytes2beats.engine.model_store import resolve_model

        try:
            model = str(resolve_model(model))
        except FileNotFoundError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if screenshot and _headless():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif _headless() and not os.environ.get("QT_QPA_PLATFORM"):
        print("error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set); "
              "`bytes2beats gui --screenshot FILE.png` works without one", file=sys.stderr)
        return 1
    from PySide6.QtCore import QTimer, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_quiet_offscreen_notes)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("Bytes to Beats")
    app.setApplicationName("Bytes to Beats")
    app.setDesktopFileName("bytes2beats")
    _set_icon(app)

    from .main_window import MainWindow

    window = MainWindow(model=model, device=getattr(args, "device", None) or "auto")
    if screenshot:  # the same picture whatever the user's saved window
        window.keep_settings = False
        window.resize(SCREENSHOT_SIZE[0], SCREENSHOT_SIZE[1])
    window.show()
    timing = os.environ.get("BYTES2BEATS_STARTUP_TIMING")
    if timing:  # a probe for the start-up time: "exit" quits as soon as the window is shown
        QTimer.singleShot(0, lambda: _report_startup(started, timing == "exit"))
    if not screenshot:
        return app.exec()

    outcome = {"status": 1}

    def save() -> None:
        app.processEvents()
        path = Path(screenshot)
        if window.grab().save(str(path)):
            print(f"screenshot saved to {path}")
            outcome["status"] = 0
        else:
            print(f"error: could not save a picture to {path}", file=sys.stderr)
        window.close()

    def failed(message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        window.close()

    window.document.clipChanged.connect(lambda: QTimer.singleShot(300, save))
    window.worker.failed.connect(failed)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: failed("no clip after two minutes"))
    if window.toolbar.model.count() == 0:
        QTimer.singleShot(0, lambda: failed("no model found to generate with"))
    app.exec()
    return outcome["status"]


def _quiet_offscreen_notes(kind, context, message: str) -> None:
    """Qt's messages on stderr, less the offscreen platform's note that it has no window manager."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def _report_startup(started: float, leave: bool) -> None:
    print(f"window shown {time.perf_counter() - started:.2f} s after the GUI started", flush=True)
    if leave:
        os._exit(0)  # the model may be loading on the worker: no waiting for it


def _set_icon(app) -> None:
    from bytes2beats import resources
    from PySide6.QtGui import QIcon

    icon = Path(resources.__file__).parent / "bytes2beats.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
